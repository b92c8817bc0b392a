"""What a fusion did: each fold, each candidate left alone (and why), and the self-check.

Example:
    >>> fused, report = fuse_with_report(model, torch.randn(1, 1, 28, 28))
    >>> report.counts
    {'conv_bn_relu': 14, 'depthwise_conv_bn_relu': 13}
    >>> print(report.summary())
    folded 27 BatchNorm layers (conv_bn_relu ×14, depthwise_conv_bn_relu ×13); 0 left; ...
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fusion:
    """One BatchNorm folded into the conv or linear layer before it.

    Attributes:
        pattern: Pattern name, e.g. ``conv_bn_relu`` or ``depthwise_conv_bn``.
        modules: Qualified names of the matched modules in graph order (conv, bn[, activation]);
            a functional activation is named by its graph node.
        into: The module that now holds the folded weights (the conv's or linear's name).
    """

    pattern: str
    modules: tuple[str, ...]
    into: str


@dataclass(frozen=True)
class Skipped:
    """A BatchNorm that follows a conv/linear but was not folded, and the reason."""

    pattern: str
    modules: tuple[str, ...]
    reason: str


@dataclass
class FusionReport:
    """Result of :func:`edgeopt.fuse.fuse_with_report`.

    Attributes:
        fused: Every fold made, in graph order.
        skipped: Candidates that were left unfused because folding would not be exact.
        batchnorm_before: BatchNorm modules called in the traced model.
        batchnorm_after: BatchNorm modules still called in the fused model.
        max_abs_error: Largest absolute output difference of the self-check (fused vs original,
            eval mode).
        max_rel_error: Largest ``max|a - b| / max|reference|`` over the batches checked.
        rtol: Relative tolerance the self-check enforced.
        checked_samples: Samples the self-check compared.
        input_was_training: The input model was in training mode; its eval-mode behaviour was
            fused (BatchNorm folding is only defined for running statistics).
    """

    fused: list[Fusion] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    batchnorm_before: int = 0
    batchnorm_after: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    rtol: float = 0.0
    checked_samples: int = 0
    input_was_training: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Number of folds per pattern name, in order of first appearance."""
        return dict(Counter(f.pattern for f in self.fused))

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (module-name tuples become lists)."""
        data = asdict(self)
        data["fused"] = [{**asdict(f), "modules": list(f.modules)} for f in self.fused]
        data["skipped"] = [{**asdict(s), "modules": list(s.modules)} for s in self.skipped]
        data["counts"] = self.counts
        return data

    def summary(self) -> str:
        """One line: what was folded, what was left, and the self-check error."""
        counts = ", ".join(f"{name} ×{n}" for name, n in self.counts.items()) or "nothing to fold"
        parts = [
            f"folded {len(self.fused)} BatchNorm layers ({counts})",
            f"{self.batchnorm_after} BatchNorm left",
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (see .skipped)")
        parts.append(
            f"self-check max rel error {self.max_rel_error:.2g} (abs {self.max_abs_error:.2g}, "
            f"limit {self.rtol:g}) over {self.checked_samples} samples"
        )
        if self.input_was_training:
            parts.append("the model was in training mode: its eval-mode behaviour was fused")
        return "; ".join(parts)
