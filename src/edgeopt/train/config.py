"""The hyper-parameters of :func:`edgeopt.train.fit`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TrainConfig"]


MAX_EPOCHS = 100_000


class TrainConfig(BaseModel):
    """How :func:`fit` trains. Validated; unknown fields are an error (typos in recipes).

    ``momentum`` is used by SGD only. Weight decay applies to weights with two or more dimensions
    (conv / linear kernels), not to biases and norm scales. The cosine schedule spans all steps
    (capped by ``max_steps``) after a linear warm-up of ``warmup_epochs``.

    Example:
        >>> TrainConfig(epochs=3, optimizer="sgd", lr=0.05).batch_size
        64
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # A bound a typo (1e11) trips and no real run reaches: 100,000 epochs of one image take days.
    epochs: int = Field(default=10, ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(default=64, ge=1)
    optimizer: Literal["sgd", "adamw"] = "adamw"
    lr: float = Field(default=3e-3, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    weight_decay: float = Field(default=1e-4, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = Field(default=0.0, ge=0)
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    augment_shift: int = Field(default=0, ge=0)
    seed: int = 0
    eval_batch_size: int = Field(default=512, ge=1)
    restore_best: bool = True
    progress: bool = True
    max_steps: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _warmup_within_training(self) -> TrainConfig:
        if self.warmup_epochs > self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) is longer than epochs ({self.epochs})"
            )
        return self
