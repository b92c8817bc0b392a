"""``edgeopt optimize``: a model, data and a budget in; the fastest artifact that keeps the accuracy out.

The API is :func:`edgeopt.optimize.optimize` with :class:`~edgeopt.optimize.OptimizeConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from edgeopt.cli.common import console, make_config, print_json, progress_echo
from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from edgeopt.optimize.outcome import OptimizeOutcome


# What a worker (--join) may be given; every other option is the run's, recorded in its study.
_WORKER_OPTIONS = frozenset({"model", "out", "storage", "study", "trials", "time_budget", "trust_code", "as_json",
                             "join"})


def optimize(
    ctx: typer.Context,
    model: str | None = typer.Argument(None, help="The trained model: an edgeopt checkpoint, registry name or "
                                                   "module:factory (not with --join)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (optimize.db, variants/, answer.json, best/)."),
    data: str = typer.Option("mnist5k", "--data", "-d", help="Dataset the model was trained on (name or path)."),
    limit: int | None = typer.Option(None, "--limit", help="Keep at most this many samples (quick runs)."),
    target: str = typer.Option("host", "--target", "-t",
                               help="host, or a catalog device (edgeopt devices): it decides 7-bit weights, "
                                    "bf16 and thread counts."),
    max_drop: float = typer.Option(0.5, "--max-drop", help="Accuracy points the artifact may lose, measured on it "
                                                           "(test split)."),
    latency_budget: float | None = typer.Option(None, "--latency-budget", help="The artifact must run within "
                                                                               "this many ms."),
    size_budget: int | None = typer.Option(None, "--size-budget", help="The artifact file must be at most this "
                                                                       "many bytes."),
    runtime: list[str] | None = typer.Option(None, "--runtime", "-r",
                                             help="onnxruntime, openvino, executorch (repeat; default: every "
                                                  "installed one)."),
    prune_ratio: list[float] | None = typer.Option(None, "--prune-ratio",
                                                   help="Structured pruning ratios tried (repeat; 0 = not pruned; "
                                                        "default: 0 0.25 0.5 0.75)."),
    finetune_epochs: list[int] | None = typer.Option(None, "--finetune-epochs",
                                                     help="Fine-tuning lengths tried after pruning, in epochs "
                                                          "(repeat; the longest opens the search; default: 3 10)."),
    no_distill: bool = typer.Option(False, "--no-distill", help="Fine-tune pruned models without distillation."),
    no_int8: bool = typer.Option(False, "--no-int8", help="Do not try int8."),
    trials: int | None = typer.Option(None, "--trials", "-n",
                                      help="Trials the study holds when done; the first is the baseline "
                                           "(default: 24; with --join: the run's)."),
    time_budget: float | None = typer.Option(None, "--time-budget", help="Minutes for the whole run; the best "
                                                                         "found so far is returned."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, fine-tuning and the sampler."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in -o; finished trials are kept."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna storage URL (default sqlite:///OUT/"
                                                               "optimize.db)."),
    study: str | None = typer.Option(None, "--study", help="Study name in the storage (default: optimize; with "
                                                           "--join: the run's)."),
    join: bool = typer.Option(False, "--join", help="Be a worker: add trials to the run in -o (or, with --storage, "
                                                    "to its study, files in -o); options come from the study."),
    trust_code: bool = typer.Option(False, "--trust-code", help="Allow a checkpoint's module:factory to be "
                                                                "imported."),
    as_json: bool = typer.Option(False, "--json", help="Print answer.json instead of tables."),
) -> None:
    """Find the fastest artifact of MODEL that keeps its accuracy: prune, distill, int8, runtime, threads.

    Each step is kept only if its file is measurably faster: never a slower answer (docs/optimize.md).
    """
    from edgeopt.optimize.config import OptimizeConfig
    from edgeopt.optimize.run import DEFAULT_STUDY, optimize as run_optimize

    if join:
        _refuse_run_options(ctx, model)
        _join(out, storage, study, trials, time_budget, trust_code, as_json)
        return
    if model is None:
        raise EdgeoptError("MODEL is missing", hint="edgeopt optimize MODEL -o RUN_DIR, or --join -o RUN_DIR to add "
                                                    "a worker to a run")
    options = {"model": model, "data": data, "limit": limit, "target": target, "max_drop": max_drop,
               "latency_budget_ms": latency_budget, "size_budget_bytes": size_budget,
               "runtimes": tuple(runtime) if runtime else None,
               "prune_ratios": tuple(prune_ratio) if prune_ratio else None,
               "finetune_epochs": tuple(finetune_epochs) if finetune_epochs else None,
               "distill": not no_distill, "quantize": not no_int8, "trials": trials,
               "time_budget_s": None if time_budget is None else time_budget * 60.0, "seed": seed,
               "trust_code": trust_code}
    config = make_config(OptimizeConfig, **{k: v for k, v in options.items() if v is not None})
    echo = progress_echo(as_json)
    outcome = run_optimize(config, out, resume=resume, storage=storage, study_name=study or DEFAULT_STUDY, echo=echo)
    if as_json:
        print_json(outcome.to_dict())
    else:
        show(outcome, out)
    if outcome.interrupted:
        raise typer.Exit(130)  # Ctrl-C: the shell's convention; every finished trial is kept


def _refuse_run_options(ctx: typer.Context, model: str | None) -> None:
    """A worker's options come from the study: MODEL or a run option given with --join is refused."""
    given = [param.opts[0] for param in ctx.command.params
             if param.name is not None and param.name not in _WORKER_OPTIONS
             and getattr(ctx.get_parameter_source(param.name), "name", None) == "COMMANDLINE"]
    if model is not None or given:
        extra = ", ".join((["MODEL"] if model is not None else []) + given)
        raise EdgeoptError(f"--join takes the run's model and options from its study; drop {extra}",
                           hint="a worker takes -o, --storage, --study, --trials, --time-budget, --trust-code, --json")


def _join(out: Path, storage: str | None, study: str | None, trials: int | None,
          time_budget: float | None, trust_code: bool, as_json: bool) -> None:
    """``--join``: run trials of an existing study from this process (a worker)."""
    from edgeopt.optimize.worker import join

    done, interrupted = join(out, storage=storage, study_name=study, trials=trials,
                             time_budget_s=None if time_budget is None else time_budget * 60.0, trust_code=trust_code,
                             echo=progress_echo(as_json))
    if as_json:
        print_json({"trials_here": done, "interrupted": interrupted})
    else:
        console.print(f"worker: {done} trials completed here; the run's own process chooses the answer")
    if interrupted:
        raise typer.Exit(130)


def show(outcome: OptimizeOutcome, out: Path) -> None:
    """The answer and the steps as tables."""
    from edgeopt.utils.units import format_bytes

    if outcome.chosen is None or outcome.reference is None:
        console.print(f"no answer yet ({outcome.trials} trials in the study); continue with --resume")
        return
    answer = Table(title=f"edgeopt optimize: {outcome.trials} trials, target {outcome.target.get('display_name')}")
    for column in ("", "pipeline", "runs in", "latency ms", "test acc %", "size"):
        answer.add_column(column, justify="left" if column in ("", "pipeline", "runs in") else "right")
    for name, row in (("baseline", outcome.reference), ("chosen", outcome.chosen)):
        latency = row.get("confirmed_ms") or row["latency_ms"]
        answer.add_row(name, row["pipeline"], row["label"], f"{latency:.4f}", f"{row['accuracy_test']:.2f}",
                       format_bytes(int(row["size_bytes"])))
    console.print(answer)
    if outcome.steps:
        steps = Table(title="Steps, each gated against the last kept artifact (latency ratio, 90% interval)")
        for column in ("step", "ratio", "interval", "verdict", ""):
            steps.add_column(column)
        for step in outcome.steps:
            gate = step["gate"]
            if gate is None:  # refused before timing (its accuracy broke a bound)
                steps.add_row(step["step"], "—", "—", step.get("reason", "—"), "rolled back")
                continue
            steps.add_row(step["step"], f"{gate['ratio']:.3f}", f"[{gate['low']:.3f}, {gate['high']:.3f}]",
                          gate["verdict"], "kept" if step["kept"] else "rolled back")
        console.print(steps)
    speedup = outcome.speedup
    console.print(f"speed-up over the baseline's best runtime: {speedup:.2f}×" if speedup else "")
    for note in outcome.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"answer: {out / 'answer.json'}; files: {outcome.files.get('artifact')} "
                  f"(how to run it: {outcome.files.get('deploy')})", highlight=False)
