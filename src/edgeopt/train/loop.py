"""The training loop: :func:`fit`, its per-step trainer, and the optimizer and lr schedule."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from edgeopt.errors import EdgeoptError
from edgeopt.train.checks import _check_labels, _diagnose, _is_class_labels, _require_nonempty
from edgeopt.train.config import TrainConfig
from edgeopt.train.evaluation import evaluate
from edgeopt.train.losses import LossFn, cross_entropy_loss
from edgeopt.train.progress import _format_row, _ProgressBar, _val_text
from edgeopt.train.seeding import seed_everything
from edgeopt.utils.modes import device_of, preserve_modes

__all__ = ["EpochRow", "StepCallback", "TrainResult", "fit"]

log = logging.getLogger(__name__)

StepCallback = Callable[[nn.Module, int], None]


class EpochStats(TypedDict):
    """The training side of one epoch: mean loss and accuracy, and the last learning rate."""

    train_loss: float
    train_acc: float
    lr: float


class EpochRow(TypedDict):
    """One row of :attr:`TrainResult.history`; ``val_*`` are None without val data."""

    epoch: int
    train_loss: float
    train_acc: float
    lr: float
    val_acc: float | None
    val_loss: float | None
    seconds: float


@dataclass
class TrainResult:
    """What :func:`fit` did. Epochs are numbered from 1; ``best_*`` are None without val data."""

    history: list[EpochRow]
    best_val_acc: float | None
    best_epoch: int | None
    seconds: float
    steps: int

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (for results.json)."""
        return asdict(self)


def fit(
    model: nn.Module,
    train_data: Dataset[Any],
    val_data: Dataset[Any] | None = None,
    config: TrainConfig | None = None,
    *,
    loss_fn: LossFn | None = None,
    on_step_end: Sequence[StepCallback] = (),
    params: Iterable[nn.Parameter] | None = None,
) -> TrainResult:
    """Train ``model`` in place and return its history.

    The model is trained in place: its weights change, and with ``restore_best`` (and val data)
    they end as those of the best validation epoch. Each module's train/eval mode is restored
    afterwards. Runs are deterministic on CPU for a given ``config.seed``.

    Args:
        model: The model to train; its parameters are updated in place.
        train_data: Dataset of ``(input, integer label)`` pairs.
        val_data: Optional dataset evaluated after every epoch.
        config: Hyper-parameters; defaults to ``TrainConfig()``.
        loss_fn: Computes ``(loss, logits)`` from ``(model, inputs, targets)``; defaults to
            cross-entropy with ``config.label_smoothing``.
        on_step_end: Callbacks ``f(model, step)`` run after each optimizer step, ``step`` being
            the number of steps taken so far (1 after the first).
        params: Parameters to optimise; defaults to all of the model's trainable parameters.

    Example:
        >>> result = fit(model, train, val, TrainConfig(epochs=5, progress=False))
        >>> result.best_val_acc, result.best_epoch
        (0.98, 4)
    """
    cfg = config or TrainConfig()
    _require_nonempty(train_data, "training")
    _check_shift(cfg.augment_shift, train_data)
    generator = seed_everything(cfg.seed)
    # num_workers=0 and a seeded generator: the shuffle order depends on the seed only.
    loader = DataLoader(train_data, batch_size=cfg.batch_size, shuffle=True, generator=generator)
    trainer = _make_trainer(model, cfg, len(loader), loss_fn, on_step_end, params)
    history: list[EpochRow] = []
    best: EpochRow | None = None  # the history row of the best validation epoch
    best_state: dict[str, Any] = {}
    start = time.perf_counter()
    with preserve_modes(model), _ProgressBar(cfg.progress, trainer.total) as bar:
        model.train()
        for epoch in range(1, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            bar.label = f"epoch {epoch}/{cfg.epochs}" + _val_text(history)
            stats = trainer.run_epoch(loader, bar.advance)
            row: EpochRow = {"epoch": epoch, **stats, "val_acc": None, "val_loss": None, "seconds": 0.0}
            if val_data is not None:
                val = evaluate(model, val_data, cfg.eval_batch_size)
                row["val_acc"], row["val_loss"] = val.accuracy, val.loss
                if _is_better(val.accuracy, val.loss, best):
                    best, best_state = row, (_snapshot(model) if cfg.restore_best else {})
            row["seconds"] = time.perf_counter() - epoch_start
            history.append(row)
            log.info("epoch %d/%d %s", epoch, cfg.epochs, _format_row(row))
            if trainer.steps >= trainer.total:
                break
    if best is not None and cfg.restore_best and best is not history[-1]:
        model.load_state_dict(best_state)
    return TrainResult(
        history=history,
        best_val_acc=best["val_acc"] if best else None,
        best_epoch=best["epoch"] if best else None,
        seconds=time.perf_counter() - start,
        steps=trainer.steps,
    )


# --- training internals -------------------------------------------------------------------------


@dataclass
class _Trainer:
    """The per-step state of one :func:`fit` call."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: LossFn
    callbacks: tuple[StepCallback, ...]
    lr_at: Callable[[int], float]
    augment: Callable[[Tensor], Tensor] | None
    total: int  # steps to take in all
    steps: int = 0
    num_classes: int | None = None  # known after the first forward pass

    def run_epoch(self, loader: DataLoader[Any], report: Callable[[float], None]) -> EpochStats:
        """Train over ``loader`` (or until ``total`` steps); return mean loss, accuracy, lr."""
        loss_sum, correct, seen, lr = 0.0, 0, 0, self.lr_at(self.steps)
        for inputs, targets in _batches(loader, device_of(self.model)):
            lr = self.lr_at(self.steps)
            loss, n_correct = self.step(inputs, targets, lr)
            loss_sum += loss * len(targets)
            correct += n_correct
            seen += len(targets)
            report(loss_sum / seen)
            if self.steps >= self.total:
                break
        return {"train_loss": loss_sum / seen, "train_acc": correct / seen, "lr": lr}

    def step(self, inputs: Tensor, targets: Tensor, lr: float) -> tuple[float, int]:
        """One optimizer step; returns the batch loss and the number of correct predictions."""
        if self.augment is not None:
            inputs = self.augment(inputs)
        if self.num_classes is not None:
            _check_labels(targets, self.num_classes, "training")
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss, logits = self._forward(inputs, targets)
        if not torch.isfinite(loss):
            raise EdgeoptError(
                f"the training loss became {loss.item()} at step {self.steps + 1}",
                hint=f"lower the learning rate (lr={lr:g})",
            )
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        self.optimizer.step()
        self.steps += 1
        for callback in self.callbacks:
            callback(self.model, self.steps)
        return loss.item(), _count_correct(logits.detach(), targets)

    def _forward(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        if self.num_classes is not None:
            loss, logits = self.loss_fn(self.model, inputs, targets)
            return loss, logits
        # First batch: a shape error here almost always means model and data don't match.
        try:
            loss, logits = self.loss_fn(self.model, inputs, targets)
        except (RuntimeError, IndexError) as err:
            raise _diagnose(self.model, inputs, targets, err) from err
        self.num_classes = logits.shape[-1]
        _check_labels(targets, self.num_classes, "training")
        return loss, logits


def _make_trainer(
    model: nn.Module,
    cfg: TrainConfig,
    steps_per_epoch: int,
    loss_fn: LossFn | None,
    on_step_end: Sequence[StepCallback],
    params: Iterable[nn.Parameter] | None,
) -> _Trainer:
    total = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)  # the schedule then completes within max_steps
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    return _Trainer(
        model=model,
        optimizer=_make_optimizer(model, cfg, params),
        loss_fn=loss_fn or cross_entropy_loss(cfg.label_smoothing),
        callbacks=tuple(on_step_end),
        lr_at=lambda step: cfg.lr * _lr_factor(step, total, warmup, cfg.schedule),
        augment=_make_augment(cfg.augment_shift, cfg.seed),
        total=total,
    )


def _is_better(val_acc: float, val_loss: float, best: EpochRow | None) -> bool:
    """Higher val accuracy wins; ties (common on small val sets) go to the lower val loss."""
    if best is None or best["val_acc"] is None or best["val_loss"] is None:
        return True
    return (val_acc, -val_loss) > (best["val_acc"], -best["val_loss"])


def _make_optimizer(
    model: nn.Module, cfg: TrainConfig, params: Iterable[nn.Parameter] | None
) -> torch.optim.Optimizer:
    chosen = [p for p in (model.parameters() if params is None else params) if p.requires_grad]
    chosen = list(dict.fromkeys(chosen))  # tied weights appear once
    if not chosen:
        raise EdgeoptError("there are no trainable parameters to optimise",
                           hint="pass params= or set requires_grad on some parameters")
    # Decaying biases and norm scales only hurts small models; decay kernels only.
    groups = [
        {"params": [p for p in chosen if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in chosen if p.ndim < 2], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def _lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of the base lr for 0-based ``step``: linear warm-up, then cosine or constant."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _check_shift(max_shift: int, data: Dataset[Any]) -> None:
    """Refuse a shift that can move an image entirely out of its frame (it would train on blanks)."""
    if max_shift <= 0:
        return
    sample = data[0]
    image = sample[0] if isinstance(sample, (tuple, list)) else sample
    if isinstance(image, Tensor) and image.ndim >= 2 and max_shift >= min(image.shape[-2:]):
        raise EdgeoptError(f"augment_shift {max_shift} can move a {image.shape[-2]}x{image.shape[-1]} image "
                           "entirely out of its frame",
                           hint=f"use a shift below {min(image.shape[-2:])} (1-4 pixels is usual)")


def _make_augment(max_shift: int, seed: int) -> Callable[[Tensor], Tensor] | None:
    if max_shift <= 0:
        return None
    from edgeopt.data import random_shift  # lazy: data/ is optional for plain training

    # Its own generator, so augmentation doesn't shift the shuffle order's random stream.
    generator = torch.Generator().manual_seed(seed + 1)
    return lambda x: random_shift(x, max_shift, generator=generator)


def _snapshot(model: nn.Module) -> dict[str, Any]:
    return copy.deepcopy(model.state_dict())


def _count_correct(logits: Tensor, targets: Tensor) -> int:
    if not _is_class_labels(targets) or logits.ndim != 2:
        return 0  # e.g. soft targets: accuracy isn't defined by argmax equality
    return int((logits.argmax(dim=-1) == targets).sum())


def _batches(loader: DataLoader[Any], device: torch.device) -> Iterator[tuple[Tensor, Tensor]]:
    for batch in loader:
        yield batch[0].to(device), batch[1].to(device)
