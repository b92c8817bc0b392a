"""``calibration="auto"``: try every calibration method, keep the one whose int8 file is closest.

The calibration data is split: the first three quarters calibrate (each method computes its
ranges from them and the file is quantized with every other option as asked), the last quarter
is held out. Each candidate file and the float model run the held-out inputs in ONNX Runtime,
and the method whose file has the highest output SQNR (float vs file) wins; ties go to the
simpler method (the order of :data:`CALIBRATION_METHODS`). The winner is then calibrated on all
the calibration data, like a method named by hand. A method that cannot run on this data
(percentile on too few values: it would equal min-max) is skipped and the reason recorded.

Held-out inputs, not the calibration inputs: a range fitted to its own data looks better there
than on data it has not seen (min-max most of all), and not the validation or test split: those
decide and report accuracy, and choosing on them would leak.

Example:
    >>> method, report = choose_method(prepared_fp32, samples, quantize_with)
    >>> method, report["sqnr_db"]
    ('mse', {'minmax': 31.2, 'percentile': 31.9, 'entropy': 30.4, 'mse': 32.6})
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgeopt.errors import EdgeoptError
from edgeopt.quantize.calibration import CALIBRATION_METHODS, MIN_CALIBRATION_SAMPLES, compute_ranges
from edgeopt.quantize.onnx_graph import GraphIndex, run_with_outputs, sqnr_db

HOLDOUT_FRACTION = 0.25
MIN_HOLDOUT = 8
MIN_AUTO_SAMPLES = MIN_CALIBRATION_SAMPLES + max(MIN_HOLDOUT, math.ceil(MIN_CALIBRATION_SAMPLES / 3))


def check_auto_samples(count: int) -> None:
    """Refuse calibration data too small to both calibrate and hold out.

    Raises:
        EdgeoptError: fewer than :data:`MIN_AUTO_SAMPLES` samples.
    """
    if count < MIN_AUTO_SAMPLES:
        raise EdgeoptError(
            f"calibration data too small for calibration 'auto': it has {count} samples; auto holds out a quarter "
            f"to compare the methods and needs at least {MIN_AUTO_SAMPLES}",
            hint="pass more calibration samples (256 recommended), or name a method: minmax, percentile, "
            "entropy or mse",
        )


def split(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(calibration part, held-out part)."""
    held = max(MIN_HOLDOUT, round(len(samples) * HOLDOUT_FRACTION))
    return samples[:-held], samples[-held:]


def choose_method(
    fp32_path: Path,
    calibration_model: Path,
    samples: np.ndarray,
    quantize_with: Callable[[Any, str, Path], Path],
    workdir: Path,
    input_name: str = "input",
    activation_type: str = "uint8",
) -> tuple[str, dict[str, Any]]:
    """The best calibration method for this model and these options, and the comparison.

    Args:
        fp32_path: The float model's fp32 file (the reference the files are compared with).
        calibration_model: The fp32 file ranges are computed on (equalized, if asked).
        samples: All calibration inputs (split here).
        quantize_with: ``(ranges, method, path) -> path``: writes the int8 file for those ranges.
        workdir: Where the candidate files go.
        input_name: The model's input name.
        activation_type: ``"uint8"`` or ``"int8"`` (entropy's levels).

    Returns:
        ``(method, report)``; ``report["sqnr_db"]`` maps each method to its held-out output SQNR.
    """
    check_auto_samples(len(samples))
    calib, held = split(samples)
    output = GraphIndex.load(fp32_path).outputs[0]
    reference = run_with_outputs(fp32_path, held, [output])[output]
    scores: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for method in CALIBRATION_METHODS:
        try:
            ranges = compute_ranges(calibration_model, calib, method, input_name=input_name,
                                    activation_type=activation_type)
        except EdgeoptError as exc:
            skipped[method] = exc.message
            continue
        path = quantize_with(ranges, method, workdir / f"auto.{method}.int8.onnx")
        got = run_with_outputs(path, held, [output])[output]
        scores[method] = sqnr_db(reference, got)
        path.unlink(missing_ok=True)
    best = max(scores, key=lambda m: (scores[m], -CALIBRATION_METHODS.index(m)))
    report = {"chosen": best, "sqnr_db": {m: (v if math.isfinite(v) else 999.0) for m, v in scores.items()},
              "skipped": skipped, "calibration_samples": len(calib), "held_out_samples": len(held),
              "criterion": "output SQNR of the int8 file vs the float model on held-out calibration inputs"}
    return best, report
