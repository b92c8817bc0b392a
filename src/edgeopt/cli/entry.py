"""The Typer application and the entry point that turns user errors into exit code 2."""

from __future__ import annotations

import errno
import re
import sys
from pathlib import Path

import typer
from rich.markup import escape

from edgeopt.cli import (
    agent_cmd,
    bench_cmd,
    demo_cmd,
    devices_cmd,
    diff_cmd,
    distill_cmd,
    fuse_cmd,
    latency_cmd,
    models_cmd,
    optimize_cmd,
    profile_cmd,
    prune_cmd,
    quantize_cmd,
    report_cmd,
    run_cmd,
    search_cmd,
    train_cmd,
)
from edgeopt.cli.common import err_console
from edgeopt.errors import EdgeoptError
from edgeopt.utils.units import format_bytes

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
app.command("diff")(diff_cmd.diff)
app.command("optimize")(optimize_cmd.optimize)
app.add_typer(agent_cmd.agent_app, name="agent")
app.add_typer(latency_cmd.latency_app, name="latency")
app.add_typer(search_cmd.search_app, name="search")


def main() -> None:
    """Run the CLI; print user errors as one line (exit 2) unless ``--debug`` is given.

    User errors are :class:`EdgeoptError`, bad command-line syntax (an unknown option, a value
    that is not a number: Click's usage errors, which Typer would draw as a box after the usage
    text), OS errors about a path, and running out of memory. Each prints ``error: ...`` and an
    optional ``  hint: ...`` line, nothing else.

    On Ctrl-C, Typer exits 130 without a word (it turns the interrupt into ``Exit(130)``); edgeopt
    says the command was interrupted and, for a run, how to resume.
    """
    debug = "--debug" in sys.argv[1:]
    if not debug:
        from edgeopt.utils.quiet import quiet_third_party

        quiet_third_party()
    try:
        code = app(standalone_mode=False, prog_name="edgeopt")
    except EdgeoptError as exc:
        if debug:
            raise
        _fail(exc.message, exc.hint)
    except typer.TyperException as exc:  # Click's usage errors: unknown option, bad value, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help was printed; no command was run
            sys.exit(2)
        if debug:
            raise
        ctx = getattr(exc, "ctx", None)
        command = getattr(ctx, "command_path", None) or "edgeopt"
        _fail(exc.format_message(), f"see '{command} --help'")
    except typer.Abort:
        err_console.print("aborted", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    except MemoryError as exc:  # numpy's allocation failures; the estimates missed this one
        if debug:
            raise
        _out_of_memory(str(exc))
    except RuntimeError as exc:
        if debug:
            raise
        if _is_allocation_failure(exc):
            _out_of_memory(str(exc))
        if not _is_torch_write_failure(exc):
            raise
        _fail(f"cannot write a model file (PyTorch's writer failed: {str(exc).split('] .', 1)[-1].strip()})",
              "the disk may be full or the file system read-only: free space or write elsewhere (-o)")
    except OSError as exc:  # read-only, full disk, not a directory...: the user's machine, not a bug
        if debug or not (exc.filename or exc.errno in _OS_ERRORS):
            raise
        where = f" {_shown_path(str(exc.filename))!r}" if exc.filename else ""
        _fail(f"cannot write or read{where}: {exc.strerror or exc}",
              _OS_ERRORS.get(exc.errno or 0, "check the path and its permissions"))
    if code == 130:  # Typer's Exit(130) for an interrupt, returned rather than raised
        _interrupted()
    if isinstance(code, int) and code:
        sys.exit(code)


def _fail(message: str, hint: str | None) -> None:
    """Print ``error: message`` (and ``  hint: ...``) as plain text, never markup, and exit 2."""
    err_console.print(f"[bold red]error:[/] {escape(_one_line(message))}", highlight=False)
    if hint:
        err_console.print(f"  hint: {escape(_one_line(hint))}", highlight=False)
    sys.exit(2)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_allocation_failure(exc: RuntimeError) -> bool:
    """PyTorch's CPU allocator failing ("DefaultCPUAllocator: can't allocate memory ...")."""
    return "can't allocate memory" in str(exc)


def _shown_path(path: str) -> str:
    """The file the user asked for, not the temporary ``.NAME.XXXX.tmp`` it is written through."""
    found = re.fullmatch(r"(.*/)?\.(.+)\.[^./]+\.tmp", path)
    return f"{found.group(1) or ''}{found.group(2)}" if found else path


def _is_torch_write_failure(exc: RuntimeError) -> bool:
    """``torch.save`` failing to write (a full disk surfaces as its zip writer's RuntimeError, not ENOSPC)."""
    text = str(exc)  # a reader's failure (a corrupt file) names PytorchStreamReader instead
    return "PytorchStreamWriter" in text or ("inline_container" in text and "unexpected pos" in text)


def _out_of_memory(detail: str) -> None:
    found = re.search(r"allocate (\d+) bytes", detail)
    size = f" ({format_bytes(int(found.group(1)))} at once)" if found else ""
    _fail(f"out of memory{size}: the input, the batch or the model is too large for this machine",
          "use a smaller --input-size, --batch-size or model options (add --debug for where it happened)")


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
    """``; finished steps are kept: continue with …--resume`` for a run or demo that has a run to resume.

    Interrupted before its run directory was written (while the data or the models were being
    checked), a run has nothing to resume: then nothing is said.
    """
    if not args or args[0] not in ("run", "demo"):
        return ""
    if "--resume" in args:
        return "; finished steps are kept: run the same command again"
    out = _option_value(args, ("-o", "--out")) or ("runs/demo" if args[0] == "demo" else None)
    if out is None or not (Path(out) / "run.json").is_file():
        return "; nothing was written"
    rest = [a for a in args if a != "--force"]
    return f"; finished steps are kept: continue with `edgeopt {' '.join(rest)} --resume`"


def _option_value(args: list[str], names: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(args):
        if arg in names and i + 1 < len(args):
            return args[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None
