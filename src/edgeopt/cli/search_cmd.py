"""``edgeopt search``: hardware-aware architecture search, and ``edgeopt search worker`` to join one.

Registered in the app as a command group whose callback is the search itself (``edgeopt search
--space mnist --data mnist5k -o runs/search``); ``worker`` is its one subcommand. The API is
:func:`edgeopt.search.search` and :func:`edgeopt.search.join`; options come from ``--config``
(a YAML/JSON file of :class:`~edgeopt.search.SearchConfig` fields) and the flags, flags winning.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from edgeopt.cli.common import console, make_config, print_json, progress_echo
from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from edgeopt.search.run import SearchOutcome

search_app = typer.Typer(
    name="search",
    help="Hardware-aware architecture search: a weight-sharing supernet, Optuna on measured latency and "
         "device memory, resumable; `edgeopt search worker` adds processes to a study (docs/search.md).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@search_app.callback()
def search(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", "-o",
                             help="Run directory (search.db, supernet.pt, front.json, finalists/)."),
    config_file: Path | None = typer.Option(None, "--config", "-c",
                                     help="A YAML/JSON file of search options; flags override it."),
    space: str | None = typer.Option(None, "--space", "-s",
                                     help="mnist, mobilenet_v2, mobilenet_v3, a space file, or module:function "
                                          "(a space written as code, taking an Optuna trial) (default: mnist)."),
    data: str | None = typer.Option(None, "--data", "-d", help="Dataset name or path (default: mnist5k)."),
    limit: int | None = typer.Option(None, "--limit", help="Keep at most this many samples (quick runs)."),
    trials: int | None = typer.Option(None, "--trials", "-n",
                                      help="Complete trials the study should hold (default: 200)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Wall-clock seconds for this process's trials."),
    supernet_epochs: int | None = typer.Option(None, "--supernet-epochs",
                                               help="Epochs of supernet training (default: 10)."),
    accuracy: str | None = typer.Option(None, "--accuracy",
                                        help="supernet (inherited weights) or proxy (short training)."),
    latency: str | None = typer.Option(None, "--latency",
                                       help="measure (ONNX Runtime here), predict (a table) or macs."),
    latency_table: str | None = typer.Option(None, "--latency-table", help="Table file for --latency predict."),
    precision: str | None = typer.Option(None, "--precision", "-p", help="fp32 or int8: what candidates are timed at."),
    objective: list[str] | None = typer.Option(None, "--objective",
                                        help="accuracy, latency, memory (repeat) (default: accuracy latency)."),
    device: str | None = typer.Option(None, "--device",
                               help="Catalog device whose RAM/SRAM and storage/flash bound int8 memory."),
    max_sram: int | None = typer.Option(None, "--max-sram", help="Bound on int8 peak activation bytes."),
    max_flash: int | None = typer.Option(None, "--max-flash", help="Bound on int8 weight bytes."),
    latency_budget: float | None = typer.Option(None, "--latency-budget", help="Bound on latency (ms)."),
    sampler: str | None = typer.Option(None, "--sampler", help="tpe (default), nsga2 or random."),
    top_k: int | None = typer.Option(None, "--top-k",
                                     help="Front members fine-tuned, exported, quantized and measured (default: 3)."),
    baseline: list[str] | None = typer.Option(None, "--baseline",
                                              help="A trained model (checkpoint) measured beside the finalists "
                                                   "(repeat)."),
    seed: int | None = typer.Option(None, "--seed",
                                    help="Seed of the split, the supernet and the sampler (default: 0)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the search in -o; finished trials are kept."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna storage URL (default sqlite:///OUT/search.db); "
                                "postgresql+psycopg2://... lets workers on other machines join."),
    study: str = typer.Option("search", "--study", help="Study name in the storage."),
    as_json: bool = typer.Option(False, "--json", help="Print front.json instead of tables."),
) -> None:
    """Search a space for the architectures that trade accuracy for latency and memory best."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        if config_file is None and space is None:
            console.print(ctx.get_help())
            raise typer.Exit(0)
        raise EdgeoptError("no run directory given", hint="add -o RUN_DIR")
    from edgeopt.search.config import SearchConfig
    from edgeopt.search.run import search as run_search

    options = _file_options(config_file) if config_file else {}
    flags = {"space": space, "data": data, "limit": limit, "trials": trials, "timeout_s": timeout,
             "supernet_epochs": supernet_epochs, "accuracy": accuracy, "latency": latency,
             "latency_table": latency_table, "precision": precision,
             "objectives": tuple(objective) if objective else None,
             "device": device, "max_sram_bytes": max_sram, "max_flash_bytes": max_flash,
             "latency_budget_ms": latency_budget, "sampler": sampler, "top_k": top_k, "seed": seed,
             "baselines": tuple(baseline) if baseline else None}
    options.update({k: v for k, v in flags.items() if v is not None})
    config = make_config(SearchConfig, **options)
    echo = progress_echo(as_json)
    outcome = run_search(config, out, resume=resume, storage=storage, study_name=study, echo=echo)
    if as_json:
        print_json(outcome.to_dict())
    else:
        show(outcome)
    if outcome.interrupted:
        raise typer.Exit(130)  # Ctrl-C: the shell's convention; every finished trial is kept


@search_app.command("worker")
def worker(
    storage: str = typer.Option(..., "--storage", help="The study's storage URL (as the first process was given)."),
    study: str = typer.Option("search", "--study", help="The study's name."),
    timeout: float | None = typer.Option(None, "--timeout",
                                  help="Stop after this many seconds (default: until the study is done)."),
    trials: int | None = typer.Option(None, "--trials", "-n",
                               help="Complete trials the study should hold (default: its own)."),
    trust_code: bool = typer.Option(False, "--trust-code",
                                    help="Allow importing the study's space when it is written as code."),
    grace: int = typer.Option(20, "--grace",
                              help="Seconds without a heartbeat before a trial counts as dead and is retried."),
) -> None:
    """Join a running search: evaluate trials of the study until it holds its trials (or --timeout)."""
    from edgeopt.search.run import join

    done = join(storage, study, timeout_s=timeout, trials=trials, grace_s=grace, trust_code=trust_code,
                echo=lambda text: console.print(text, highlight=False))
    console.print(f"worker: {done} trials completed here")


def _file_options(path: Path) -> dict[str, Any]:
    from edgeopt.utils.yaml_limits import load_yaml, read_yaml_text

    if not path.is_file():
        raise EdgeoptError(f"search options file {str(path)!r} does not exist", hint="check the path")
    data = load_yaml(read_yaml_text(path, "search options"), str(path))
    if not isinstance(data, dict):
        raise EdgeoptError(f"{path}: search options are a mapping (space: mnist, trials: 200, ...)",
                           hint="see docs/search.md")
    return dict(data)


def show(outcome: SearchOutcome) -> None:
    """The front and the finalists as tables."""
    unit = outcome.front[0]["latency_unit"] if outcome.front else "ms"
    table = Table(title=f"Pareto front ({len(outcome.front)} of {outcome.trials_total} trials; study "
                        f"{outcome.study!r} in {outcome.storage})")
    for column in ("trial", "architecture", "val acc %", f"latency {unit}", "SRAM int8", "weights int8"):
        table.add_column(column, justify="left" if column == "architecture" else "right")
    from edgeopt.utils.units import format_bytes

    for row in outcome.front[:15]:
        table.add_row(str(row["number"]), row["label"], f"{row['accuracy']:.2f}",
                      f"{row['latency']:.3f}", format_bytes(row["cost"]["peak_sram_int8"]),
                      format_bytes(row["cost"]["weight_bytes_int8"]))
    console.print(table)
    if outcome.finalists:
        measured = Table(title="Finalists, measured on their files (test split)")
        for column in ("trial", "architecture", "fp32 acc %", "fp32 ms", "int8 acc %", "int8 ms", "bounds"):
            measured.add_column(column)
        for f in outcome.finalists:
            measured.add_row(str(f["number"]), f["label"], f"{f['fp32']['accuracy']:.2f}",
                             f"{f['fp32']['latency_ms']:.3f}", f"{f['int8']['accuracy']:.2f}",
                             f"{f['int8']['latency_ms']:.3f}", "met" if f["meets_bounds"] else "missed")
        console.print(measured)
    if outcome.baselines:
        base = Table(title="Baselines, measured the same way")
        for column in ("model", "fp32 acc %", "fp32 ms", "int8 acc %", "int8 ms", "bounds"):
            base.add_column(column)
        for b in outcome.baselines:
            base.add_row(b["label"], f"{b['fp32']['accuracy']:.2f}", f"{b['fp32']['latency_ms']:.3f}",
                         f"{b['int8']['accuracy']:.2f}", f"{b['int8']['latency_ms']:.3f}",
                         "met" if b["meets_bounds"] else "missed")
        console.print(base)
    if outcome.winner is not None:
        console.print(f"winner: {outcome.winner['checkpoint']} (any edgeopt command takes it)")
    console.print(f"front.json: {Path(outcome.run_dir) / 'front.json'}")
