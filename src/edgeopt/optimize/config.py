"""What an optimization is: :class:`OptimizeConfig`, the options the CLI and Python share.

The study records its config, so ``--resume`` with other options that make trials incomparable
(the model, the data, the target, the search space) is refused with the fields named, while
budgets (trials, time) may change.

Example:
    >>> config = OptimizeConfig(model="runs/demo/baseline/model.pt", data="mnist5k", max_drop=0.5)
    >>> config.prune_ratios
    (0.0, 0.25, 0.5, 0.75)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgeopt.utils.validation import options_differences, options_identity

Runtime = Literal["onnxruntime", "openvino", "executorch"]
RUNTIMES: tuple[Runtime, ...] = ("onnxruntime", "openvino", "executorch")
# Options a resumed process may change: they do not make finished trials incomparable.
_BUDGET_FIELDS = ("trials", "time_budget_s", "gate_rounds", "confirm_top")
# Calibration methods ONNX Runtime's int8 path takes (edgeopt.quantize.calibration).
CALIBRATIONS = ("minmax", "percentile", "entropy", "mse")


class OptimizeConfig(BaseModel):
    """Options of ``edgeopt optimize`` (docs/optimize.md has the long version).

    Attributes:
        model: The trained model: an edgeopt checkpoint, a registry name, ``module:factory``.
        data: The dataset (built-in name or path) the model was trained on.
        limit: Keep at most this many samples (stratified), for quick runs.
        target: ``host`` (this machine, the default) or a catalog device with CPU facts: it
            decides 7-bit weights, whether bf16 is tried, and the thread counts.
        max_drop: Accuracy points the chosen artifact may lose against the baseline, measured on
            the artifact in its runtime on the test split (the validation split chose the
            baseline's best epoch, so its figure there is biased upwards; it is reported too).
        latency_budget_ms: The artifact must run within this many milliseconds.
        size_budget_bytes: The artifact file must be at most this large.
        runtimes: Runtimes tried (those not installed are skipped with a note).
        prune_ratios: Structured pruning ratios tried; 0 (not pruned) is always added: the
            baseline is the first trial and the reference every step is gated against.
        importance: Channel importance criteria tried when pruning.
        scopes: How a ratio spreads over the layers, tried when pruning: ``uniform`` (every
            layer loses that share of its channels) and ``global`` (the least important channels
            of the whole model, so layers lose different shares).
        round_to: Channel counts rounded to a multiple of these (None: not rounded) when pruning.
        distill: Also try fine-tuning pruned models by distillation from the unpruned one.
        finetune_epochs: Fine-tuning lengths (epochs) tried after pruning; the opening trials
            use the longest. Longer fine-tuning recovers more accuracy after heavy pruning
            and costs proportionally more time per trial.
        quantize: Also try int8 (post-training, static, per-channel).
        calibrations: int8 calibration methods tried.
        trials: Trials the study holds when done (the first is the baseline itself).
        time_budget_s: Wall-clock seconds for the whole run; the best found so far is returned.
        gate_rounds: Interleaved rounds of each keep-or-roll-back comparison (≥ 5).
        confirm_top: Fastest candidates timed again side by side before the gated chain.
        seed: Seeds the split, fine-tuning and the sampler.
        trust_code: A checkpoint whose root is the user's ``module:factory`` may import it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1)
    data: str = Field(default="mnist5k", min_length=1)
    limit: int | None = Field(default=None, ge=20)
    target: str = "host"
    max_drop: float = Field(default=0.5, ge=0, le=100)
    latency_budget_ms: float | None = Field(default=None, gt=0)
    size_budget_bytes: int | None = Field(default=None, gt=0)
    runtimes: tuple[Runtime, ...] = RUNTIMES
    prune_ratios: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    importance: tuple[Literal["l1", "l2", "bn_scale", "taylor"], ...] = ("l1", "taylor")
    scopes: tuple[Literal["uniform", "global"], ...] = ("uniform", "global")
    round_to: tuple[int | None, ...] = (None, 8)
    distill: bool = True
    finetune_epochs: tuple[int, ...] = (3, 10)
    quantize: bool = True
    calibrations: tuple[str, ...] = ("minmax", "percentile", "entropy")
    trials: int = Field(default=24, ge=1, le=10_000)
    time_budget_s: float | None = Field(default=None, gt=0)
    gate_rounds: int = Field(default=9, ge=5, le=99)
    confirm_top: int = Field(default=3, ge=1, le=20)
    seed: int = 0
    trust_code: bool = False

    @field_validator("prune_ratios")
    @classmethod
    def _ratios(cls, ratios: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 <= r < 1.0 for r in ratios):
            raise ValueError(f"prune ratios lie in [0, 1) (0: not pruned), got {list(ratios)}")
        # 0 is always among them: the unpruned baseline is the first trial, the reference of every gate.
        return tuple(sorted({0.0, *ratios}))

    @field_validator("finetune_epochs", mode="before")
    @classmethod
    def _epochs(cls, epochs: Any) -> Any:
        epochs = (epochs,) if isinstance(epochs, int) else epochs
        if not epochs or any(isinstance(e, bool) or not isinstance(e, int) or not 0 <= e <= 1000 for e in epochs):
            raise ValueError(f"fine-tuning epochs are whole numbers in [0, 1000], got {epochs!r}")
        return tuple(dict.fromkeys(epochs))

    @field_validator("calibrations")
    @classmethod
    def _calibrations(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in methods if m not in CALIBRATIONS]
        if unknown or not methods:
            raise ValueError(f"calibration methods are {', '.join(CALIBRATIONS)}; got {list(methods)}")
        return methods

    @field_validator("runtimes", "importance", "scopes", "round_to")
    @classmethod
    def _not_empty(cls, values: tuple[Any, ...]) -> tuple[Any, ...]:
        if not values:
            raise ValueError("give at least one choice")
        return tuple(dict.fromkeys(values))

    @model_validator(mode="after")
    def _something_to_try(self) -> OptimizeConfig:
        if self.round_to and any(r is not None and r < 1 for r in self.round_to):
            raise ValueError("round_to values are channel multiples ≥ 1 (or null)")
        return self

    def identity(self) -> str:
        """A hash of what makes trials comparable; a resumed study refuses another one."""
        return options_identity(self, _BUDGET_FIELDS)

    def differences(self, other: OptimizeConfig) -> list[str]:
        """The fields of :meth:`identity` in which ``other`` differs (for the error message)."""
        return options_differences(self, other, _BUDGET_FIELDS)

    def to_attr(self) -> dict[str, Any]:
        """The config as JSON (the study's user attribute, ``optimize.json``)."""
        return self.model_dump(mode="json")
