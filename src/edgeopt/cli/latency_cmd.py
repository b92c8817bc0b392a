"""``edgeopt latency build|predict``: a latency table of a search space on this machine, and estimates from it.

Registered in the app as a command group (``app.add_typer(latency_app, name="latency")``). The
API is :mod:`edgeopt.latency`; these commands parse options into its calls and print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from edgeopt.cli.common import (
    INPUT_SIZE_OPTION,
    MODEL_ARG_OPTION,
    TRUST_OPTION,
    WEIGHTS_OPTION,
    console,
    err_console,
    print_json,
)
from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from edgeopt.latency import Arch, LatencyTable, Prediction

latency_app = typer.Typer(
    name="latency",
    help="Latency tables of a search space measured on this machine (build), and estimates from them (predict).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

RUNTIME_OPTION = typer.Option("onnxruntime", "--runtime", "-r", help="onnxruntime or executorch.")
THREADS_OPTION = typer.Option(2, "--threads", "-t", help="Intra-op threads the table is measured with.")
PRECISION_OPTION = typer.Option("fp32", "--precision", "-p", help="fp32 or int8.")
SPACE_OPTION = typer.Option("mobilenet_v2", "--space", "-s",
                            help="mobilenet_v2, mobilenet_v3, or a space file (.yaml/.json, see docs/latency.md).")
TABLE_OPTION = typer.Option(None, "--table", help="The table file (default: the cached table for --space, "
                            "--runtime, --threads, --precision and this machine).")


@latency_app.command("build")
def build(
    space: str = SPACE_OPTION,
    runtime: str = RUNTIME_OPTION,
    threads: int = THREADS_OPTION,
    precision: str = PRECISION_OPTION,
    resolution: list[int] = typer.Option(None, "--resolution",
                                         help="Resolutions to cover (repeat; default: the space's)."),
    width: list[float] = typer.Option(None, "--width",
                                      help="Width multipliers to cover (repeat; default: the space's)."),
    method: str = typer.Option(None, "--method",
                               help="standalone (default): every stem, block and tail timed alone as a ratio to a "
                                    "reference network; traced: probe networks traced per kernel (an ExecuTorch "
                                    "table builds faster, with a larger error). See docs/latency.md."),
    passes: int = typer.Option(None, "--passes",
                               help="Passes over every part or probe (default: 2 standalone, 3 traced)."),
    rounds: int = typer.Option(None, "--rounds",
                               help="Rounds per part or probe and pass (default: 15 standalone, 5 traced)."),
    runs: int = typer.Option(10, "--runs", help="Timed runs per round."),
    calibrate: int = typer.Option(12, "--calibrate",
                                  help="Architectures measured whole to fit the correction (0: none). Fewer fit "
                                       "it less surely: with 6, 1 fit in 20 left only 80% (int8) of held-out models "
                                       "within 10% (docs/latency.md)."),
    out: Path = typer.Option(None, "--out", "-o", help="Table file (default: the cache, see docs/latency.md)."),
    restart: bool = typer.Option(False, "--restart", help="Start over instead of resuming a table found at --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the table's summary as JSON."),
) -> None:
    """Measure every unit of a search space's blocks on this machine and save the latency table.

    The table is keyed by runtime and version, CPU model and flags, threads and precision, and
    cached; an interrupted build resumes where it stopped (run the same command again).
    """
    from edgeopt.latency import build_table
    from edgeopt.runtime.base import check_threads

    check_threads(threads)
    _check_positive(**{k: v for k, v in (("passes", passes), ("rounds", rounds), ("runs", runs))
                       if v is not None})
    if calibrate < 0:
        raise EdgeoptError(f"--calibrate must be 0 or more, got {calibrate}")
    if out is not None and out.is_dir():
        raise EdgeoptError(f"--out {str(out)!r} is a folder", hint="name the table file, e.g. -o table.json")
    with _progress() as show:
        table = build_table(space, runtime=runtime, threads=threads, precision=precision,
                            resolutions=resolution or None, widths=width or None, passes=passes, rounds=rounds,
                            runs_per_round=runs, method=method, path=out, resume=not restart, calibrate=calibrate,
                            progress=show)
    summary = table.summary()
    if as_json:
        print_json(summary)
        return
    console.print(_summary_table(table, summary))


@latency_app.command("predict")
def predict(
    model: str = typer.Argument(..., help="An architecture (a .json file or JSON text of edgeopt.latency.Arch), "
                                "or any model: registry name, package.module:factory, checkpoint."),
    space: str = SPACE_OPTION,
    runtime: str = RUNTIME_OPTION,
    threads: int = THREADS_OPTION,
    precision: str = PRECISION_OPTION,
    table: Path = TABLE_OPTION,
    input_size: str = INPUT_SIZE_OPTION,
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    trust_code: bool = TRUST_OPTION,
    allow_foreign: bool = typer.Option(False, "--allow-foreign", help="Use a table measured on another CPU, "
                                       "runtime version or thread count (every estimate then says so)."),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
) -> None:
    """Estimate a model's latency from a latency table (an estimate, with its interval).

    Layers the table lacks are estimated by its per-op fallback model; the answer says how much
    of the estimate that is.
    """
    from edgeopt.latency import Predictor

    loaded = _load_table(table, space, runtime, threads, precision)
    predictor = Predictor(loaded, threads=threads, allow_foreign=allow_foreign)
    arch = _arch(model)
    if arch is not None:
        prediction = predictor.predict(arch)
    else:
        from edgeopt.cli.common import DEFAULT_INPUT_SIZE, open_source

        opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, input_size=input_size)
        prediction = predictor.predict(opened.model, opened.input_size or DEFAULT_INPUT_SIZE)
    if as_json:
        print_json(prediction.to_dict())
        return
    _print_prediction(prediction)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise EdgeoptError(f"--{name} must be a positive integer, got {value}")


def _load_table(path: Path | None, space: str, runtime: str, threads: int, precision: str) -> LatencyTable:
    from edgeopt.latency import LatencyTable, cache_path, current_key, get_space
    from edgeopt.runtime.base import check_threads

    if path is not None:
        return LatencyTable.load(path)
    check_threads(threads)
    name = get_space(space).name
    cached = cache_path(name, current_key(runtime, threads, precision))
    if not cached.is_file():
        raise EdgeoptError(
            f"no latency table for space {name!r}, {runtime} {precision}, {threads} threads on this machine",
            hint=f"build it: edgeopt latency build --space {space} --runtime {runtime} --precision {precision} "
                 f"--threads {threads} (or pass --table FILE)")
    return LatencyTable.load(cached)


def _arch(text: str) -> Arch | None:
    """An architecture from JSON text or a .json file, or None for any other model source."""
    from pydantic import ValidationError

    from edgeopt.latency import Arch

    source = text.strip()
    if source.endswith(".json") and not source.startswith("{"):
        path = Path(source)
        if not path.is_file():
            raise EdgeoptError(f"architecture file {source!r} does not exist", hint="check the path")
        if path.stat().st_size > 1 << 20:
            raise EdgeoptError(f"{source} is too large for an architecture file", hint="is it the right file?")
        source = path.read_text(encoding="utf-8", errors="replace")
    elif not source.startswith("{"):
        return None
    try:
        data: Any = json.loads(source)
        return Arch.model_validate(data)
    except (ValueError, ValidationError) as exc:
        detail = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = ".".join(str(p) for p in detail["loc"]) if detail else ""
        message = detail["msg"].lower() if detail else str(exc).splitlines()[0][:160]
        raise EdgeoptError(f"not an architecture: {(where + ': ') if where else ''}{message}",
                           hint="write it as edgeopt.latency.Arch JSON (space, width, resolution, stages)") from None


def _print_prediction(prediction: Prediction) -> None:
    console.print(
        f"[bold]{prediction.ms:.3f} ms[/] estimate ({prediction.low_ms:.3f}–{prediction.high_ms:.3f} ms"
        f"{'' if prediction.corrected else ', uncorrected'}) · {prediction.table}", highlight=False)
    console.print(f"{prediction.units} units; the table covers {prediction.coverage:.0%} of the estimate"
                  + (f", the per-op fallback {1 - prediction.coverage:.0%}" if prediction.coverage < 1 else ""),
                  highlight=False)
    for warning in prediction.warnings:
        err_console.print(f"warning: {warning}", highlight=False)


def _summary_table(table: LatencyTable, summary: dict[str, Any]) -> Table:
    caption = ("Entries are the median over passes of each part's ratio to a reference network timed beside it, "
               "in sessions that do not spin, × the reference's figure." if table.method == "standalone" else
               "Entries are the minimum over passes of each pass's median (de-noised: gated rounds between "
               "speed probes).")
    out = Table(title=f"Latency table: {summary['space']} ({table.method})", show_header=False,
                caption=caption + " Estimates from it are labelled estimates.")
    out.add_column("", style="bold")
    out.add_column("")
    correction = table.correction
    rows = [
        ("conditions", summary["key"]),
        ("resolutions, widths", f"{summary['resolutions']}, {summary['widths']}"),
        ("units", f"{summary['units']} ({summary['measured']} measured, {summary['derived']} derived)"),
        ("block configurations", str(summary["block_configurations"])),
        ("passes", str(summary["passes"])),
        ("median pass spread",
         "—" if summary["pass_spread_median"] is None else f"{summary['pass_spread_median']:.1%}"),
        ("correction", "none (run with --calibrate N)" if correction is None
         else f"fitted on {correction.samples} models, LOO errors "
              f"{min(correction.residuals):+.1%} … {max(correction.residuals):+.1%}"),
        ("build time", f"{summary['build_seconds']:.0f} s"),
    ]
    for name, value in rows:
        out.add_row(name, value)
    return out


class _progress:
    """A rich progress bar fed by :class:`~edgeopt.latency.BuildProgress` callbacks."""

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                            TimeElapsedColumn(), console=err_console, transient=True)
        self.bar.__enter__()
        self.task = self.bar.add_task("starting", total=1)
        return self.update

    def update(self, progress: Any) -> None:
        self.bar.update(self.task, description=progress.label, completed=progress.done, total=progress.total)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)
