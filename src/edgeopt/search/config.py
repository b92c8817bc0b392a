"""What a search is: :class:`SearchConfig`, the one set of options the CLI, recipes and Python share.

A study records its config (``edgeopt.config`` in the study's user attributes), so a worker
joining it needs only the storage URL and the study name, and a process started with other
options cannot add trials to it (:meth:`SearchConfig.identity`).

Example:
    >>> config = SearchConfig(space="mnist", data="mnist5k", trials=50, max_sram_bytes=256 * 1024)
    >>> config.objectives
    ('accuracy', 'latency')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgeopt.utils.validation import options_differences, options_identity

Objective = Literal["accuracy", "latency", "memory"]
Direction = Literal["minimize", "maximize"]
# How each objective is optimised, in Optuna's words.
DIRECTIONS: dict[str, Direction] = {"accuracy": "maximize", "latency": "minimize", "memory": "minimize"}


# Options a resumed or joining process may change: they do not make trials incomparable.
_BUDGET_FIELDS = ("trials", "timeout_s", "top_k", "finetune_epochs", "supernet", "baselines")


class SearchConfig(BaseModel):
    """Options of an architecture search (docs/search.md has the long version).

    Attributes:
        space: A built-in space (``mnist``, ``mobilenet_v2``, ``mobilenet_v3``), a space file, or
            a space written as code: ``module:function`` taking an Optuna trial and returning the
            network (define-by-run; needs ``accuracy: proxy``).
        data: The dataset (a built-in name or a path, as every command takes).
        limit: Keep at most this many samples (stratified), for quick runs.
        seed: Seeds the data split, the supernet's training and the sampler.
        accuracy: ``supernet``: subnets inherit a weight-sharing supernet's weights (trained once);
            ``proxy``: each candidate is trained briefly on its own (any space, slower).
        supernet_epochs: Epochs of supernet training (sandwich rule, in-place distillation).
        supernet: The supernet file (default: ``RUN_DIR/supernet.pt``); all workers must see it.
        proxy_epochs: Epochs of a candidate's own training with ``accuracy: proxy``.
        calibration_samples: Training samples that re-estimate a subnet's BatchNorm statistics.
        latency: ``measure``: export each candidate and time it in ONNX Runtime here;
            ``predict``: the latency table of ``latency_table`` (docs/latency.md); ``macs``: a
            multiply-accumulate count (a proxy, for quick tests).
        latency_table: The table file for ``latency: predict``.
        precision: Precision candidates are timed at (``int8``: quantized, as deployed).
        threads: Intra-op threads candidates are timed with.
        objectives: What the Pareto front trades off.
        device: A catalog device whose RAM (SRAM on microcontrollers) and storage (flash) bound
            the int8 peak activations and int8 weights.
        max_sram_bytes: Bound on int8 peak activation memory (overrides the device's RAM).
        max_flash_bytes: Bound on int8 weight bytes (overrides the device's storage).
        latency_budget_ms: Bound on the candidate's latency.
        sampler: ``tpe`` (multi-objective TPE, default), ``nsga2`` or ``random``.
        trials: Trials the study should hold when done (finished ones count, across resumes).
        timeout_s: Wall-clock budget of one process's trials (the front so far is kept).
        top_k: Front members fine-tuned, exported, quantized and measured at the end.
        finetune_epochs: Epochs each of them is fine-tuned for.
        baselines: Trained models (checkpoints, any edgeopt command's output) exported, quantized
            and measured beside the finalists, on the same data: what the search has to beat.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    space: str = "mnist"
    data: str = "mnist5k"
    limit: int | None = Field(default=None, ge=20)
    seed: int = 0
    accuracy: Literal["supernet", "proxy"] = "supernet"
    supernet_epochs: int = Field(default=10, ge=1, le=1000)
    supernet: str | None = None
    proxy_epochs: int = Field(default=2, ge=1, le=1000)
    calibration_samples: int = Field(default=512, ge=1)
    latency: Literal["measure", "predict", "macs"] = "measure"
    latency_table: str | None = None
    precision: Literal["fp32", "int8"] = "fp32"
    threads: int = Field(default=2, ge=1, le=256)
    objectives: tuple[Objective, ...] = ("accuracy", "latency")
    device: str | None = None
    max_sram_bytes: int | None = Field(default=None, gt=0)
    max_flash_bytes: int | None = Field(default=None, gt=0)
    latency_budget_ms: float | None = Field(default=None, gt=0)
    sampler: Literal["tpe", "nsga2", "random"] = "tpe"
    trials: int = Field(default=200, ge=1, le=1_000_000)
    timeout_s: float | None = Field(default=None, gt=0)
    top_k: int = Field(default=3, ge=0, le=50)
    finetune_epochs: int = Field(default=5, ge=0, le=1000)
    baselines: tuple[str, ...] = Field(default=(), max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> SearchConfig:
        if len(set(self.objectives)) != len(self.objectives) or "accuracy" not in self.objectives:
            raise ValueError(f"objectives must include accuracy and name each once, got {list(self.objectives)}")
        if len(self.objectives) < 2:
            raise ValueError("give at least two objectives (accuracy and latency or memory)")
        if self.latency == "predict" and not self.latency_table:
            raise ValueError("latency: predict needs latency_table (a table built by `edgeopt latency build`)")
        if self.latency != "predict" and self.latency_table:
            raise ValueError(f"latency_table is used only with latency: predict, not {self.latency}")
        if _is_code(self.space) and self.accuracy == "supernet":
            raise ValueError(f"space {self.space!r} is code: it has no supernet, so set accuracy: proxy "
                             "(each candidate trained proxy_epochs)")
        if _is_code(self.space) and self.latency == "predict":
            raise ValueError("latency tables cover spaces written as data; a space written as code needs "
                             "latency: measure or macs")
        if self.latency != "measure" and self.precision == "int8":
            raise ValueError("precision int8 needs latency: measure (tables and MACs are per precision)")
        return self

    def directions(self) -> list[Direction]:
        """Optuna's direction of each objective, in order."""
        return [DIRECTIONS[o] for o in self.objectives]

    def identity(self) -> str:
        """A hash of what makes trials comparable: a study refuses processes with another one.

        Budgets (trials, timeout, top_k, fine-tuning), the baselines and the supernet's path are
        left out: a resumed or joining process may change those.
        """
        return options_identity(self, _BUDGET_FIELDS)

    def differences(self, other: SearchConfig) -> list[str]:
        """The fields of :meth:`identity` in which ``other`` differs (for the error message)."""
        return options_differences(self, other, _BUDGET_FIELDS)

    def is_code_space(self) -> bool:
        """Whether the space is a define-by-run function (``module:function``)."""
        return _is_code(self.space)

    def to_attr(self) -> dict[str, Any]:
        """The config as a study user attribute (JSON)."""
        return self.model_dump(mode="json")


def _is_code(space: str) -> bool:
    from edgeopt.search.candidates import is_code_space

    return is_code_space(space)
