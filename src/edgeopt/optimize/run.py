"""``optimize()``: a model, data and a budget in; the fastest artifact that keeps the accuracy out.

The run directory holds ``optimize.json`` (options, storage, study), ``optimize.db`` (the default
SQLite storage of the Optuna study: every finished trial, with every deployment it measured),
``variants/`` (each model tried and its files), and when the run ends ``answer.json`` and
``best/``. ``--resume`` continues the study (finished trials are not redone, made files are
reused); a time budget stops sampling early enough to confirm and gate the best so far.

Example:
    >>> outcome = optimize(OptimizeConfig(model="runs/demo/baseline/model.pt", data="mnist5k"), "runs/opt")
    >>> outcome.chosen["label"], round(outcome.speedup, 2)
    ('onnxruntime int8 ×1', 1.8)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeopt.errors import EdgeoptError
from edgeopt.optimize.choices import Choice, distinct_choices, space_size
from edgeopt.optimize.config import RUNTIMES, OptimizeConfig
from edgeopt.optimize.decide import confirm, fallback_step, gated_chain, local_row, reference_row, row_key, row_name
from edgeopt.optimize.outcome import OptimizeOutcome
from edgeopt.optimize.runtimes import available_runtimes, bf16_here
from edgeopt.optimize.study import open_study, reference_accuracy
from edgeopt.optimize.trial import Reference, TrialObjective, measured_on, trial_rows, violations
from edgeopt.optimize.variants import RunContext, make_variant
from edgeopt.search.study import finished, record_run, run_storage
from edgeopt.utils.atomic import write_json_atomic
from edgeopt.utils.run_lock import RunLock

if TYPE_CHECKING:
    import optuna

MARKER = "optimize.json"
ANSWER = "answer.json"
DEFAULT_STUDY = "optimize"
Echo = Callable[[str], None]
MAX_REPEATS = 30  # trials in a row the sampler may only repeat tried choices before the run stops sampling
MAX_FAILURES = 5  # trials in a row that may fail before this process stops sampling


def optimize(config: OptimizeConfig, run_dir: str | os.PathLike[str], *, resume: bool = False,
             storage: str | None = None, study_name: str = DEFAULT_STUDY, echo: Echo | None = None) -> OptimizeOutcome:
    """Run (or resume) an optimization in ``run_dir``; see the module docstring.

    Raises:
        EdgeoptError: bad options, an unknown target, a runtime asked for that is not installed,
            a model no exporter takes, a run directory holding another run (without ``resume``),
            a foreign study, or bounds nothing met (the best found and the failed bound named).
    """
    say = echo or (lambda _text: None)
    started = time.monotonic()
    root = Path(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    with RunLock(root):
        storage_url, study_name = run_storage(root / MARKER, resume=resume, storage=storage, study_name=study_name,
                                              what="an optimization", default_db=root / "optimize.db")
        context, runtimes, notes, bf16, threads = context_for(config, root, say)
        study = open_study(config, storage_url, study_name, resume=resume)
        # Recorded only now: a refused start or resume leaves the directory as it was.
        record_run(root / MARKER, config.to_attr(), storage_url, study_name)
        objective = objective_for(study, context, runtimes, bf16, threads)
        reference = objective.reference
        outcome = OptimizeOutcome(target=context.target.to_dict(), notes=notes,
                                  reference_accuracy=reference.to_dict())
        outcome.interrupted, outcome.budget_hit, outcome.here = run_trials(study, objective, config, started, say)
        rows = [row for t in finished(study) for row in trial_rows(t)]
        outcome.rows, outcome.trials = rows, distinct_choices(finished(study))
        if not outcome.interrupted:
            _decide(outcome, rows, context, reference, say)
            outcome.files = _publish(outcome, context)
        outcome.seconds = time.monotonic() - started
        if outcome.interrupted:  # no answer: the finished trials are in the study for --resume
            return outcome
        write_json_atomic(root / ANSWER, outcome.to_dict())
        if outcome.chosen is not None:  # the report reads answer.json; then the answer names the report
            from edgeopt.report.html import write_report

            outcome.files["report"] = str(write_report(root))
            write_json_atomic(root / ANSWER, outcome.to_dict())
        return outcome


def context_for(config: OptimizeConfig, root: Path,
                say: Echo) -> tuple[RunContext, tuple[str, ...], list[str], bool, tuple[int, ...]]:
    """What trials need in this process: the context, the runtimes installed, notes, bf16, thread counts.

    Raises:
        EdgeoptError: an unknown target, a runtime asked for that is not installed, a model that
            cannot be read here, data that cannot be loaded.
    """
    from edgeopt.data import load_dataset
    from edgeopt.devices.target import resolve_target
    from edgeopt.loading import open_model

    target = resolve_target(config.target)
    runtimes, notes = available_runtimes(config.runtimes, explicit=config.runtimes != RUNTIMES)
    bf16, note = bf16_here(runtimes, target.bf16, target.name)
    notes += [note] if note else []
    if not target.is_host:
        notes.append(f"latencies are measured on this machine; {target.name} decided reduce_range, bf16 and threads")
    threads = tuple(target.thread_counts(os.cpu_count() or 1))
    splits = load_dataset(config.data, seed=config.seed, limit=config.limit)
    splits.check_split_sizes(val=True)
    baseline = open_model(config.model, data=splits, trust_code=config.trust_code)
    baseline.model.eval()
    return RunContext(config, splits, baseline, target, root, say), runtimes, notes, bf16, threads


def objective_for(study: optuna.Study, context: RunContext, runtimes: tuple[str, ...], bf16: bool,
                  threads: tuple[int, ...]) -> TrialObjective:
    """The trial objective, after the baseline's accuracy is known (measured once per study)."""
    reference = reference_accuracy(study, context)
    context.say(f"target: {context.target.display_name}; runtimes {', '.join(runtimes)}; threads "
                f"{'/'.join(map(str, threads))}; bf16 {'tried' if bf16 else 'not tried'}; baseline accuracy "
                f"{reference.accuracy_val:.2f}% (val), {reference.accuracy_test:.2f}% (test)")
    return TrialObjective(context, reference, runtimes, bf16=bf16, threads=threads,
                          on_trial=_progress(context.say, reference, context.config))


def run_trials(study: optuna.Study, objective: TrialObjective, config: OptimizeConfig, started: float,
               say: Echo, *, reserve: bool = True) -> tuple[bool, bool, int]:
    """Run trials until the study holds ``config.trials`` distinct choices or the budget would be overrun.

    A new trial starts only if the longest trial so far still fits before the budget's end, less
    (with ``reserve``, the deciding process) a tenth, at least 20 s, for confirming and gating,
    so the answer comes within the budget unless a single trial is longer than it. A choice the
    sampler repeats is not measured again and does not count; the run stops when every choice
    has been tried or the sampler has only repeated itself for :data:`MAX_REPEATS` trials in a row,
    or :data:`MAX_FAILURES` trials in a row have failed (a choice that failed is not made again).
    """
    import optuna

    here, longest, repeats, failures = 0, 0.0, 0, 0
    ours: list[optuna.trial.FrozenTrial] = []  # this process's trials (workers add theirs meanwhile)
    budget = config.time_budget_s
    kept_back = max(20.0, 0.1 * budget) if budget and reserve else 0.0
    wanted = min(config.trials, space_size(config))
    say(f"trials: {distinct_choices(finished(study))} of {wanted} done"
        + (f"; time budget {budget / 60:.1f} min" if budget else ""))
    try:
        while distinct_choices(finished(study)) < wanted and repeats < MAX_REPEATS:
            if budget and time.monotonic() - started + longest > budget - kept_back:
                say(f"time budget: stopping after {here} trials here"
                    + ("; choosing among those done" if reserve else ""))
                return False, True, here
            began = time.monotonic()
            study.optimize(objective, n_trials=1, catch=(EdgeoptError,), gc_after_trial=False,
                           callbacks=[lambda _study, frozen: ours.append(frozen)])
            last = ours[-1]
            repeats = repeats + 1 if "duplicate_of" in last.user_attrs else 0
            if last.state == optuna.trial.TrialState.FAIL:
                failures += 1
                say(f"trial {last.number}: failed — {last.user_attrs.get('fail_reason', 'see the log above')}")
                if failures >= MAX_FAILURES:
                    say(f"{failures} trials in a row failed: no more trials here; choosing among those done")
                    return False, False, here
                continue
            failures = 0
            if repeats == 0:
                here += 1
                longest = max(longest, time.monotonic() - began)
    except KeyboardInterrupt:
        say(f"interrupted: {here} trials finished here; every finished trial is kept (--resume continues)")
        return True, False, here
    return False, False, here


def _decide(outcome: OptimizeOutcome, rows: list[dict[str, Any]], context: RunContext, accuracy: Reference,
            say: Echo) -> None:
    reference = local_row(reference_row(rows), context)
    feasible = sorted((r for r in rows if r.get("feasible")), key=lambda r: float(r["latency_ms"]))
    if not feasible:
        raise _nothing_feasible(rows, context.config)
    _note_other_cpus(outcome, rows)

    def within_bounds(row: dict[str, Any]) -> bool:
        return all(v <= 0 for v in violations(row, accuracy, context))

    top: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str, int]] = set()
    for row in feasible:
        if row_key(row) in seen:  # before local_row: a worker's row would be made here again for nothing
            continue
        seen.add(row_key(row))
        row = local_row(row, context)
        if row.get("made_here") and not within_bounds(row):
            say(f"  {row_name(row)}: its file made here breaks a bound; not a candidate")
            continue
        if row_key(row) not in {row_key(t) for t in top}:  # two workers' rows of one choice share a file here
            top.append(row)
        if len(top) == context.config.confirm_top:
            break
    if not top:
        raise _nothing_feasible(rows, context.config)
    winner, figures = confirm(top, reference, context, say)
    outcome.confirmed = figures

    def refine(kept: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
        return fallback_step(kept, steps, context, within_bounds, say)

    chosen, outcome.steps = gated_chain(winner, reference, rows, context, say, refine=refine,
                                        localize=lambda row: local_row(row, context))
    final = next((s["gate"] for s in outcome.steps if s.get("final")), None)
    if final is not None and final["verdict"] == "faster":  # both figures from the final side-by-side run
        outcome.reference = {**reference, "confirmed_ms": final["parent_ms"]}
        outcome.chosen = {**chosen, "confirmed_ms": final["child_ms"]}
    else:  # the reference is the answer: its figure from the confirmation run
        confirmed = figures.get(row_name(reference), {}).get("latency_ms")
        outcome.reference = {**reference, "confirmed_ms": confirmed}
        outcome.chosen = {**reference, "confirmed_ms": confirmed}


def _note_other_cpus(outcome: OptimizeOutcome, rows: list[dict[str, Any]]) -> None:
    """Say so when workers on other CPUs measured trials: their figures only chose the candidates."""
    here = measured_on()["cpu"]
    others = sorted({str((r.get("measured_on") or {}).get("cpu")) for r in rows
                     if (r.get("measured_on") or {}).get("cpu") not in (None, here)})
    if others:
        outcome.notes.append(f"some trials were measured on another CPU ({'; '.join(others)}): their latencies "
                             "only chose the candidates; every figure in the answer was measured here")


def _nothing_feasible(rows: list[dict[str, Any]], config: OptimizeConfig) -> EdgeoptError:
    from edgeopt.optimize.trial import CONSTRAINT_NAMES

    timed = [r for r in rows if r.get("constraints")]
    if not timed:
        return EdgeoptError("no trial measured any artifact", hint="see the failed trials above; --resume retries")
    closest = min(timed, key=lambda r: max(r["constraints"]))
    failed = [f"{n} over by {v:.3g}" for n, v in zip(CONSTRAINT_NAMES, closest["constraints"], strict=True) if v > 0]
    return EdgeoptError(f"no artifact met the bounds; closest: {closest['pipeline']} in {closest['label']} "
                        f"({closest['latency_ms']:.3f} ms, {closest['accuracy_test']:.2f}% test; {', '.join(failed)})",
                        hint="loosen --max-drop / --latency-budget / --size-budget, or add trials (--resume)")


def _publish(outcome: OptimizeOutcome, context: RunContext) -> dict[str, str]:
    """Copy the chosen file and its model's checkpoint to ``best/`` with ``deploy.json``."""
    import shutil

    from edgeopt.checkpoint import save_checkpoint

    chosen = outcome.chosen
    assert chosen is not None
    best = context.root / "best"
    if best.exists():  # a resumed run may choose another file: no stale artifact beside the new one
        shutil.rmtree(best)
    best.mkdir()
    source = Path(chosen["file"])
    artifact = best / ("model.int8" + source.suffix if chosen["precision"] == "int8" else "model" + source.suffix)
    shutil.copyfile(source, artifact)
    variant = make_variant(Choice.from_dict(chosen["choice"]), context)
    checkpoint = save_checkpoint(best / "model.pt", variant.model, variant.lineage,
                                 input_size=context.splits.input_shape(1),
                                 metadata={"optimize": {"pipeline": chosen["pipeline"], "artifact": artifact.name}})
    extra: dict[str, Any] = {}
    if chosen["runtime"] == "openvino":  # the measured .onnx read by OpenVINO, also saved as the IR it builds
        from edgeopt.export.openvino_export import onnx_to_openvino
        from edgeopt.optimize.deployments import timing_input

        ir = onnx_to_openvino(artifact, best / "model.xml", precision="int8" if chosen["precision"] == "int8" else
                              "fp32", check_input=timing_input(context))
        extra["openvino_ir"] = ir.path.name
    deploy = {"artifact": artifact.name, **extra, "runtime": chosen["runtime"], "precision": chosen["precision"],
              "threads": chosen["threads"], "pipeline": chosen["pipeline"], "target": outcome.target,
              "latency_ms": chosen.get("confirmed_ms") or chosen["latency_ms"],
              "accuracy_test": chosen.get("accuracy_test"), "size_bytes": chosen.get("size_bytes")}
    write_json_atomic(best / "deploy.json", deploy)
    return {"artifact": str(artifact), "checkpoint": str(checkpoint), "deploy": str(best / "deploy.json")}


def _progress(say: Echo, reference: Reference, config: OptimizeConfig) -> Callable[[int, Choice, list[dict[str, Any]]],
                                                                                      None]:
    def line(number: int, choice: Choice, rows: list[dict[str, Any]]) -> None:
        timed = [r for r in rows if r.get("latency_ms") is not None]
        feasible = [r for r in timed if r.get("feasible")]
        best = min(feasible or timed, key=lambda r: float(r["latency_ms"]))
        drop = reference.accuracy_test - float(best["accuracy_test"])
        say(f"trial {number:>3}/{config.trials}: {choice.label:<46} best {best['label']:<24} "
            f"{best['latency_ms']:8.4f} ms  test acc {best['accuracy_test']:5.2f}% ({-drop:+.2f})  "
            f"{'ok' if feasible else 'over a bound'}")

    return line
