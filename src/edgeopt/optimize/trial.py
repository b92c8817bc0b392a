"""One Optuna trial of ``edgeopt optimize``: make the chosen model and files, measure every deployment.

The trial's value is the latency of its fastest deployment within every bound (accuracy drop
against the baseline on the test split, file size, latency budget); a trial with none
reports its fastest deployment and a positive constraint, so the sampler learns what fails.
Every row measured is kept in the trial (``deployments``), for the final choice and the report.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeopt.errors import EdgeoptError
from edgeopt.optimize.choices import Choice, suggest
from edgeopt.optimize.deployments import deployments_for, measure
from edgeopt.optimize.variants import RunContext, make_variant

if TYPE_CHECKING:
    import optuna

CHOICE_ATTR = "choice"
ROWS_ATTR = "deployments"
CONSTRAINT_NAMES = ("accuracy_drop", "size", "latency")
MEASURED_ON_ATTR = "measured_on"


def measured_on() -> dict[str, str]:
    """This machine as trials record it: host name and CPU model (latencies compare only within one CPU)."""
    from edgeopt.latency.key import cpu_info

    return {"host": socket.gethostname(), "cpu": cpu_info()[0]}


@dataclass(frozen=True)
class Reference:
    """The baseline's accuracy (percent) on its fp32 file in ONNX Runtime: what drops are measured from."""

    accuracy_val: float
    accuracy_test: float

    def to_dict(self) -> dict[str, float]:
        """Plain data."""
        return {"accuracy_val": self.accuracy_val, "accuracy_test": self.accuracy_test}


def violations(row: dict[str, Any], reference: Reference, context: RunContext) -> list[float]:
    """How far ``row`` is over each bound (≤ 0: within), in the order of :data:`CONSTRAINT_NAMES`."""
    config = context.config
    if row.get("latency_ms") is None:
        return [float("inf")] * len(CONSTRAINT_NAMES)
    # The test split decides: the validation split picked the baseline's best epoch during its
    # training, so the baseline's validation accuracy is biased upwards against every variant's.
    drop = reference.accuracy_test - float(row["accuracy_test"])
    size = float(row["size_bytes"]) - config.size_budget_bytes if config.size_budget_bytes else -1.0
    late = float(row["latency_ms"]) - config.latency_budget_ms if config.latency_budget_ms else -1.0
    return [drop - config.max_drop, size, late]


class TrialObjective:
    """The objective Optuna calls: returns the trial's best latency (ms)."""

    def __init__(self, context: RunContext, reference: Reference, runtimes: tuple[str, ...], *, bf16: bool,
                 threads: tuple[int, ...], on_trial: Callable[[int, Choice, list[dict[str, Any]]], None] | None = None):
        self.context, self.reference, self.runtimes = context, reference, runtimes
        self.bf16, self.threads, self.on_trial = bf16, threads, on_trial

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            return self._evaluate(trial)
        except EdgeoptError as exc:  # the trial fails, the run goes on; its reason stays in the study
            trial.set_user_attr("fail_reason", str(exc).splitlines()[0])
            raise
        except Exception as exc:
            # Another architecture's surprise in pruning, fine-tuning or a runtime costs this
            # trial, not the hour of trials before it; the reason names the exception.
            reason = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
            trial.set_user_attr("fail_reason", reason)
            raise EdgeoptError(f"trial {trial.number} failed: {reason}") from exc

    def _evaluate(self, trial: optuna.Trial) -> float:
        choice = suggest(trial, self.context.config)
        trial.set_user_attr(CHOICE_ATTR, choice.to_dict())
        trial.set_user_attr(MEASURED_ON_ATTR, measured_on())
        earlier = _earlier(trial, choice)
        if earlier is not None:  # the sampler repeated itself: the same files, measured already
            trial.set_user_attr(ROWS_ATTR, earlier.user_attrs.get(ROWS_ATTR, []))
            trial.set_user_attr("duplicate_of", earlier.number)
            for name, value in zip(CONSTRAINT_NAMES, earlier.user_attrs.get("constraints", []), strict=False):
                trial.set_constraint(name, value)
            return float(earlier.values[0])
        failed = _failed_before(trial, choice)
        if failed is not None:  # the same model and files would fail the same way: no fine-tuning spent on it
            raise EdgeoptError(f"as trial {failed.number}: {failed.user_attrs['fail_reason']}")
        variant = make_variant(choice, self.context)
        planned = deployments_for(choice, self.runtimes, bf16=self.bf16, threads=self.threads,
                                  first_calibration=self.context.config.calibrations[0])
        rows = measure(variant, choice, planned, self.context)
        for row in rows:
            if row.get("latency_ms") is not None:
                row["constraints"] = violations(row, self.reference, self.context)
                row["feasible"] = all(v <= 0 for v in row["constraints"])
        trial.set_user_attr(ROWS_ATTR, rows)
        timed = [r for r in rows if r.get("latency_ms") is not None]
        if not timed:
            reasons = "; ".join(sorted({r.get("error", "?") for r in rows}))
            raise EdgeoptError(f"no runtime ran {choice.label}: {reasons}")
        feasible = [r for r in timed if r["feasible"]]
        best = min(feasible or timed, key=lambda r: float(r["latency_ms"]))
        trial.set_user_attr("constraints", best["constraints"])
        for name, value in zip(CONSTRAINT_NAMES, best["constraints"], strict=True):
            trial.set_constraint(name, value)
        if self.on_trial is not None:
            self.on_trial(trial.number, choice, rows)
        return float(best["latency_ms"])


def _earlier(trial: optuna.Trial, choice: Choice) -> optuna.trial.FrozenTrial | None:
    """A complete trial of the same study that made the same choice, if any."""
    from edgeopt.search.study import finished

    done = finished(trial.study)
    same = [t for t in done if t.user_attrs.get(CHOICE_ATTR) == choice.to_dict() and "duplicate_of" not in t.user_attrs]
    return same[0] if same else None


def _failed_before(trial: optuna.Trial, choice: Choice) -> optuna.trial.FrozenTrial | None:
    """A trial of the same study that made the same choice and failed with a reason (not a dead worker's)."""
    import optuna

    failed = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
    same = [t for t in failed if t.user_attrs.get(CHOICE_ATTR) == choice.to_dict() and "fail_reason" in t.user_attrs]
    return same[0] if same else None


def trial_rows(trial: optuna.trial.FrozenTrial) -> list[dict[str, Any]]:
    """The deployment rows a finished trial measured, each tagged with the trial and its choice."""
    choice = Choice.from_dict(trial.user_attrs.get(CHOICE_ATTR, {}))
    if "duplicate_of" in trial.user_attrs:
        return []  # its rows are the earlier trial's
    rows = trial.user_attrs.get(ROWS_ATTR, [])
    where = trial.user_attrs.get(MEASURED_ON_ATTR)
    return [{**row, "trial": trial.number, "choice": choice.to_dict(), "measured_on": where,
             "pipeline": choice.row_label(str(row.get("precision")), row.get("calibration"))}
            for row in rows if isinstance(row, dict)]
