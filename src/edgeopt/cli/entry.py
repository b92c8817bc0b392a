"""The Typer application and the entry point that turns user errors into exit code 2."""

from __future__ import annotations

import errno
import sys

import typer

from edgeopt.cli import (
    bench_cmd,
    demo_cmd,
    devices_cmd,
    distill_cmd,
    fuse_cmd,
    models_cmd,
    profile_cmd,
    prune_cmd,
    quantize_cmd,
    report_cmd,
    run_cmd,
    train_cmd,
)
from edgeopt.cli.common import err_console
from edgeopt.errors import EdgeoptError

app = typer.Typer(
    name="edgeopt",
    help="Make trained PyTorch models small and fast for edge devices, and prove it with measurements.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    """edgeopt: profile, train and optimise models for edge devices."""


app.command("models")(models_cmd.models)
app.command("datasets")(models_cmd.datasets)
app.command("profile")(profile_cmd.profile)
app.command("train")(train_cmd.train)
app.command("export")(bench_cmd.export)
app.command("bench")(bench_cmd.bench)
app.command("devices")(devices_cmd.devices)
app.command("fit")(devices_cmd.fit)
app.command("report")(report_cmd.report)
app.command("demo")(demo_cmd.demo)
app.command("run")(run_cmd.run)
app.command("distill")(distill_cmd.distill)
app.command("fuse")(fuse_cmd.fuse)
app.command("quantize")(quantize_cmd.quantize)
app.command("prune")(prune_cmd.prune)


def main() -> None:
    """Run the CLI; print user errors as one line (exit 2) unless ``--debug`` is given.

    On Ctrl-C, Typer exits 130 without a word (it turns the interrupt into ``Exit(130)``); edgeopt
    says the command was interrupted and, for a run, how to resume.
    """
    debug = "--debug" in sys.argv[1:]
    if not debug:
        from edgeopt.utils.quiet import quiet_third_party

        quiet_third_party()
    try:
        app()
    except EdgeoptError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err_console.print(f"  hint: {exc.hint}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        _interrupted()
    except OSError as exc:  # read-only, full disk, not a directory...: the user's machine, not a bug
        if debug or not (exc.filename or exc.errno in _OS_ERRORS):
            raise
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        err_console.print(f"[bold red]error:[/] cannot write or read{where}: {exc.strerror or exc}", highlight=False)
        err_console.print(f"  hint: {_OS_ERRORS.get(exc.errno or 0, 'check the path and its permissions')}",
                          highlight=False)
        sys.exit(2)
    except SystemExit as exc:
        if exc.code == 130 and isinstance(exc.__context__, typer.Exit) \
                and isinstance(exc.__context__.__cause__, KeyboardInterrupt):
            _interrupted()
        raise


_OS_ERRORS = {
    errno.ENOSPC: "the disk is full: free space or write elsewhere (-o)",
    errno.EROFS: "the file system is read-only: write elsewhere (-o)",
    errno.EACCES: "no permission: write elsewhere (-o) or fix the permissions",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EDQUOT: "the disk quota is used up: free space or write elsewhere (-o)",
}


def _interrupted() -> None:
    err_console.print(f"interrupted{_resume_hint(sys.argv[1:])}", highlight=False)
    sys.exit(130)


def _resume_hint(args: list[str]) -> str:
    """``; finished steps are kept: continue with …--resume`` for the commands that resume."""
    if not args or args[0] not in ("run", "demo") or "--resume" in args:
        return "" if "--resume" not in args else "; finished steps are kept: run the same command again"
    rest = [a for a in args if a != "--force"]
    return f"; finished steps are kept: continue with `edgeopt {' '.join(rest)} --resume`"
