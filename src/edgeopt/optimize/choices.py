"""One trial's pipeline: which model to make (pruned or not, how fine-tuned) and how int8 calibrates.

Optuna samples these (define-by-run: importance and rounding exist only when pruning). Where
and how the files run — runtime, execution precision (fp32, bf16, int8), threads — is not
sampled: every such deployment of the trial's model is measured, since timing one costs a
fraction of a second and an int8 file a few seconds, while making a model costs a fine-tuning.

Example:
    >>> Choice(0.5, "l1", 8, True, "entropy", epochs=10).row_label("int8")
    'prune 50% (l1, round 8, distilled 10 ep) + int8 (entropy)'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from edgeopt.optimize.config import OptimizeConfig


@dataclass(frozen=True)
class Choice:
    """A trial's pipeline options.

    Attributes:
        prune_ratio: Structured pruning ratio (0: the baseline's architecture).
        importance: Channel importance criterion (None when not pruned).
        round_to: Channel counts rounded to this multiple (None: not rounded).
        distill: Fine-tuned by distillation from the unpruned baseline (else plain training).
        calibration: Calibration of the trial's int8 files (None: int8 not tried).
        epochs: Fine-tuning epochs of a pruned model (0: not fine-tuned, or not pruned).
        scope: How the ratio spreads over layers: ``uniform`` (each layer loses that share) or
            ``global`` (the least important channels of the whole model); None when not pruned.
    """

    prune_ratio: float = 0.0
    importance: str | None = None
    round_to: int | None = None
    distill: bool = False
    calibration: str | None = None
    epochs: int = 0
    scope: str | None = None

    @property
    def pruned(self) -> bool:
        """Whether the model is pruned (and so fine-tuned)."""
        return self.prune_ratio > 0

    @property
    def variant_key(self) -> str:
        """The model this choice needs (files of one model are shared by every trial using it)."""
        if not self.pruned:
            return "baseline"
        shape = [self.prune_ratio, self.importance, self.round_to, self.distill, self.epochs]
        # A uniform scope (the only one before scopes were a choice) keeps the keys variants had then.
        text = json.dumps(shape if self.scope in (None, "uniform") else [*shape, self.scope])
        return f"prune{round(self.prune_ratio * 100)}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"

    @property
    def model_label(self) -> str:
        """The model part, for tables (``baseline`` or ``prune 50% (l1, distilled)``)."""
        if not self.pruned:
            return "baseline"
        details = [self.importance or "l1"] + (["global"] if self.scope == "global" else [])
        if self.round_to:
            details.append(f"round {self.round_to}")
        tuning = "distilled" if self.distill else "tuned"
        details.append(f"{tuning} {self.epochs} ep" if self.epochs else "not tuned")
        return f"prune {self.prune_ratio:.0%} ({', '.join(details)})"

    @property
    def label(self) -> str:
        """The trial, for progress lines (the model and the int8 calibration it tries)."""
        return self.model_label + (f"; int8 {self.calibration}" if self.calibration else "")

    def row_label(self, precision: str, calibration: str | None = None) -> str:
        """The pipeline of one deployment: the model, plus int8 and its calibration for int8 files."""
        if precision != "int8":
            return self.model_label
        return f"{self.model_label} + int8 ({calibration or self.calibration})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (a trial's user attribute)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Choice:
        """The inverse of :meth:`to_dict`."""
        round_to = data.get("round_to")
        return cls(float(data.get("prune_ratio") or 0.0), data.get("importance"),
                   None if round_to is None else int(round_to), bool(data.get("distill")), data.get("calibration"),
                   int(data.get("epochs") or 0), data.get("scope"))


def suggest(trial: optuna.Trial, config: OptimizeConfig) -> Choice:
    """Sample a :class:`Choice` from ``config``'s space (the same parameter names in every trial)."""
    ratio = float(trial.suggest_categorical("prune_ratio", list(config.prune_ratios)))
    importance: str | None = None
    round_to: int | None = None
    distill = False
    epochs = 0
    scope: str | None = None
    if ratio > 0:
        importance = str(trial.suggest_categorical("importance", list(config.importance)))
        scope = str(trial.suggest_categorical("scope", list(config.scopes)))
        rounded = trial.suggest_categorical("round_to", list(config.round_to))
        round_to = None if rounded is None else int(rounded)
        epochs = int(trial.suggest_categorical("epochs", list(config.finetune_epochs)))
        if config.distill and epochs > 0:
            distill = bool(trial.suggest_categorical("distill", [False, True]))
    calibration = str(trial.suggest_categorical("calibration", list(config.calibrations))) if config.quantize else None
    return Choice(ratio, importance, round_to, distill, calibration, epochs, scope)


def space_size(config: OptimizeConfig) -> int:
    """How many distinct choices ``config`` allows (a run stops early when it has tried them all)."""
    tunings = sum(2 if config.distill and e > 0 else 1 for e in config.finetune_epochs)
    pruned_models = len([r for r in config.prune_ratios if r > 0]) * len(config.importance) * len(config.round_to)
    pruned_models *= len(config.scopes)
    pruned_models *= tunings
    models = pruned_models + (1 if 0.0 in config.prune_ratios else 0)
    return models * (len(config.calibrations) if config.quantize else 1)


def distinct_choices(trials: list[optuna.trial.FrozenTrial]) -> int:
    """Distinct choices among finished trials (a sampler may repeat one; the repeat is not measured)."""
    return len({json.dumps(t.user_attrs.get("choice"), sort_keys=True) for t in trials if "choice" in t.user_attrs})


def first_trials(config: OptimizeConfig) -> list[dict[str, Any]]:
    """Parameters queued before sampling: the baseline, then one model per pruning ratio, mildest first.

    The baseline's fp32 files are the reference every candidate must beat; measuring it first
    also finds its fastest runtime. The ladder of ratios (first importance and rounding, the
    longest fine-tuning, distilled where allowed) maps how accuracy and latency fall with
    pruning before the sampler takes over, so a short budget still sees the whole range rather
    than a random corner.
    """
    calibration = {"calibration": config.calibrations[0]} if config.quantize else {}
    trials: list[dict[str, Any]] = [{"prune_ratio": 0.0, **calibration}]
    for ratio in (r for r in config.prune_ratios if r > 0):
        epochs = max(config.finetune_epochs)  # the ladder shows what each ratio can win back at best
        rung: dict[str, Any] = {"prune_ratio": ratio, "importance": config.importance[0], "scope": config.scopes[0],
                                "round_to": config.round_to[0], "epochs": epochs, **calibration}
        if config.distill and epochs > 0:
            rung["distill"] = True
        trials.append(rung)
    return trials
