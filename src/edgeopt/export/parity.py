"""Parity check: does an exported artifact compute what the eager model computes?

Every exporter runs the eager model and the artifact's runtime on the same inputs (the export
example, a few seeded random batches of other batch sizes, and real samples when given) and
compares the outputs. A mismatch beyond tolerance is an error: an artifact that is fast but wrong
must never be shipped or benchmarked as if it were the model.

Tolerance is relative to the scale of the output (``|a - b| <= atol + rtol * max|reference|``
per batch), not element by element: fp32 rounding differences from reordered sums grow with the
size of the activations, so a logit that happens to sit near zero would otherwise fail a check
its neighbours pass with room to spare.

Example:
    >>> report = check_parity(model, OnnxRuntimeRunner("m.onnx"), parity_inputs(example))
    >>> report.max_abs_error < 1e-5, report.passed
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from edgeopt.artifact import ParityReport
from edgeopt.errors import EdgeoptError
from edgeopt.utils.modes import preserve_modes

if TYPE_CHECKING:
    from edgeopt.runtime.base import Runner

# Batch sizes of the seeded random inputs: 3 exercises a dynamic batch beyond the usual example 1.
RANDOM_BATCHES = (1, 3, 2)
_MAX_REAL_BATCH = 64

# ParityReport lives in edgeopt.artifact (an Artifact carries one); named here for callers of
# compare_outputs, which returns it.
__all__ = ["ParityReport", "check_parity", "compare_outputs", "parity_inputs"]


def parity_inputs(example: Tensor, real: Tensor | None = None, seed: int = 0) -> list[Tensor]:
    """The batches a parity check compares on: the example, seeded random batches, real samples.

    Example:
        >>> [tuple(b.shape) for b in parity_inputs(torch.zeros(1, 1, 8, 8))]
        [(1, 1, 8, 8), (1, 1, 8, 8), (3, 1, 8, 8), (2, 1, 8, 8)]
    """
    generator = torch.Generator().manual_seed(seed)
    sample_shape = tuple(example.shape[1:])
    batches = [example.detach().float()]
    batches += [torch.randn((n, *sample_shape), generator=generator) for n in RANDOM_BATCHES]
    if real is not None and len(real):
        batches += list(torch.split(real.detach().float(), _MAX_REAL_BATCH))
    return batches


def compare_outputs(
    references: Sequence[np.ndarray], candidates: Sequence[np.ndarray], rtol: float, atol: float
) -> ParityReport:
    """Compare matching lists of output batches (reference = eager model).

    Example:
        >>> a = [np.array([[1.0, 2.0]])]
        >>> compare_outputs(a, [a[0] + 1e-7], rtol=1e-4, atol=1e-5).passed
        True
    """
    max_abs = max_rel = 0.0
    agree = total = 0
    passed = True
    for ref, out in zip(references, candidates, strict=True):
        if ref.shape != out.shape:
            raise EdgeoptError(f"the artifact returned shape {out.shape}, the eager model {ref.shape}")
        err = float(np.max(np.abs(out.astype(np.float64) - ref))) if ref.size else 0.0
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        passed &= bool(np.isfinite(err)) and err <= atol + rtol * scale
        max_abs = max(max_abs, err)
        max_rel = max(max_rel, err / scale if scale > 0 else (0.0 if err == 0 else float("inf")))
        if ref.ndim >= 2:
            agree += int(np.sum(ref.argmax(axis=-1) == out.argmax(axis=-1)))
            total += ref.shape[0]
    return ParityReport(max_abs_error=max_abs, max_rel_error=max_rel,
                        top1_agreement=agree / total if total else 1.0, n_samples=total,
                        rtol=rtol, atol=atol, passed=passed)


def check_parity(
    model: nn.Module,
    runner: Runner,
    inputs: Sequence[Tensor],
    *,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    what: str = "the artifact",
) -> ParityReport:
    """Run ``model`` (eager, eval mode) and ``runner`` on ``inputs`` and compare the outputs.

    Args:
        model: The eager model the artifact was made from; its train/eval modes are restored.
        runner: Runs the artifact (any :class:`~edgeopt.runtime.base.Runner`).
        inputs: Batches to compare on, e.g. from :func:`parity_inputs`.
        rtol, atol: Tolerance (see the module docstring).
        what: How to name the artifact in the error message.

    Raises:
        EdgeoptError: the outputs differ beyond tolerance; the message carries the figures.
    """
    with preserve_modes(model), torch.inference_mode():
        model.eval()
        references = [model(x).detach().cpu().numpy() for x in inputs]
    candidates = [runner.run(x.numpy()) for x in inputs]
    report = compare_outputs(references, candidates, rtol, atol)
    if not report.passed:
        raise EdgeoptError(
            f"{what} does not match the eager model: {report.summary()}",
            hint="the exporter or runtime computes something different; loosen rtol/atol only "
            "if the difference is expected (e.g. reduced precision)",
        )
    return report
