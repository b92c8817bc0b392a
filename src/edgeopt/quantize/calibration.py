"""Activation calibration for static int8: the data, and the range of every tensor.

Ranges come from ONNX Runtime's calibrators (``onnxruntime.quantization.calibrate``) run on the
fp32 ONNX model: ``"minmax"`` (observed extremes), ``"percentile"`` (ORT's default 99.999th
percentile of |x|), ``"entropy"`` (ORT's KL-divergence threshold search). ``"mse"`` has no ORT
calibrator: the values are histogrammed by ORT's collector and the range minimising the expected
quantization error is computed in :mod:`edgeopt.quantize.onnx_mse`.

Each calibrator runs one batch at a time (``collect_data`` per batch): ORT keeps every
intermediate output of a call in memory until it is reduced, which for MobileNetV2 at 224×224 is
~27 MB per sample.

Example:
    >>> samples = calibration_array(calibration_subset(splits.train, 256))
    >>> ranges = compute_ranges("model.fp32.onnx", samples, "entropy")
    >>> ranges["input"].range_value
    (array(-0.42, dtype=float32), array(2.82, dtype=float32))
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod
from onnxruntime.quantization.calibrate import (
    HistogramCalibrater,
    TensorData,
    TensorsData,
    create_calibrator,
)
from torch.utils.data import Dataset, TensorDataset

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.quantize.onnx_mse import mse_range

CALIBRATION_METHODS = ("minmax", "percentile", "entropy", "mse")
MIN_CALIBRATION_SAMPLES = 16  # fewer and a single odd image sets a layer's range
RECOMMENDED_CALIBRATION_SAMPLES = 256
MSE_BINS = 2048  # histogram resolution for the MSE search (ORT's entropy default is 128)

_ORT_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
    "entropy": CalibrationMethod.Entropy,
}


def check_method(method: str) -> str:
    """Return ``method`` if it is a known calibration method, else raise with a suggestion."""
    if method not in CALIBRATION_METHODS:
        hint = suggest(str(method), CALIBRATION_METHODS) or f"use one of {', '.join(CALIBRATION_METHODS)}"
        raise EdgeoptError(f"unknown calibration method {method!r}", hint=hint)
    return method


def calibration_array(data: Any, minimum: int = MIN_CALIBRATION_SAMPLES) -> np.ndarray:
    """Calibration inputs as one float32 ``N x ...`` array, checked for size and finiteness.

    Args:
        data: A dataset of ``(input, label)`` pairs (e.g. ``calibration_subset(splits.train,
            256)``), a tensor or an array of inputs.
        minimum: Fewest samples accepted.

    Raises:
        EdgeoptError: the data is empty, smaller than ``minimum``, or holds NaN/Inf.

    Example:
        >>> calibration_array(torch.zeros(32, 1, 8, 8)).shape
        (32, 1, 8, 8)
    """
    array = _as_array(data)
    if array.ndim < 2 or len(array) == 0:
        raise EdgeoptError(
            "the calibration set is empty",
            hint=f"pass at least {minimum} real input samples ({RECOMMENDED_CALIBRATION_SAMPLES} recommended)",
        )
    if len(array) < minimum:
        raise EdgeoptError(
            f"the calibration set has {len(array)} samples; static int8 needs at least {minimum}",
            hint=f"pass more real inputs ({RECOMMENDED_CALIBRATION_SAMPLES} recommended), e.g. "
            "calibration_subset(splits.train, 256)",
        )
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise EdgeoptError(
            f"the calibration inputs hold {bad} NaN/Inf values",
            hint="clean or re-normalise the data before calibrating",
        )
    return array


def _as_array(data: Any) -> np.ndarray:
    if isinstance(data, TensorDataset):
        data = data.tensors[0]
    elif isinstance(data, Dataset):
        items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]  # Dataset declares no __len__
        firsts = [item[0] if isinstance(item, (tuple, list)) else item for item in items]
        data = torch.stack([torch.as_tensor(x) for x in firsts]) if firsts else np.zeros((0,))
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    if not isinstance(data, np.ndarray):
        raise EdgeoptError(
            f"calibration data must be a dataset, tensor or array, got {type(data).__name__}",
            hint="e.g. calibration_subset(splits.train, 256)",
        )
    return np.ascontiguousarray(data, dtype=np.float32)


class BatchReader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type information
    """Feeds ``samples`` to ORT's calibrators in batches under the model's input name."""

    def __init__(self, samples: np.ndarray, input_name: str, batch_size: int = 32) -> None:
        self.batches = [samples[i : i + batch_size] for i in range(0, len(samples), batch_size)]
        self.input_name = input_name
        self.index = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.index >= len(self.batches):
            return None
        self.index += 1
        return {self.input_name: self.batches[self.index - 1]}

    def __len__(self) -> int:
        return len(self.batches)


def compute_ranges(
    onnx_path: str | os.PathLike[str],
    samples: np.ndarray,
    method: str = "minmax",
    *,
    input_name: str = "input",
    batch_size: int = 32,
) -> TensorsData:
    """The calibrated range of every float tensor of an fp32 ONNX model.

    Args:
        onnx_path: The fp32 model (after ``quant_pre_process``).
        samples: Real inputs, from :func:`calibration_array`.
        method: One of :data:`CALIBRATION_METHODS`.
        input_name: The model's input name.
        batch_size: Samples per calibration call.

    Returns:
        ORT's ``TensorsData`` (tensor name -> range), labelled ``MinMax`` for ``"mse"`` so that
        ``quantize_static`` reads it from a cache as a plain range.

    Example:
        >>> compute_ranges("m.onnx", samples, "mse")["input"].range_value[1] > 0
        True
    """
    check_method(method)
    with tempfile.TemporaryDirectory(prefix="edgeopt-calib-") as tmp:
        calibrator = _calibrator(Path(onnx_path), Path(tmp) / "augmented.onnx", method)
        with contextlib.redirect_stdout(io.StringIO()):  # ORT prints progress lines
            for start in range(0, len(samples), batch_size):
                calibrator.collect_data(BatchReader(samples[start : start + batch_size], input_name, batch_size))
            if method == "mse":
                return _mse_ranges(calibrator)
            return calibrator.compute_data()


def _calibrator(model: Path, augmented: Path, method: str) -> Any:
    if method == "mse":
        # ORT's entropy collector histograms the real values (not |x|) over [-t, t]; finer bins
        # than its default 128 resolve the clipping point.
        calibrator = HistogramCalibrater(
            model, None, augmented_model_path=str(augmented), method="entropy", num_bins=MSE_BINS
        )
        calibrator.augment_graph()
        calibrator.create_inference_session()
        return calibrator
    return create_calibrator(model, None, augmented_model_path=str(augmented),
                             calibrate_method=_ORT_METHODS[method])


def _mse_ranges(calibrator: HistogramCalibrater) -> TensorsData:
    ranges: dict[str, TensorData] = {}
    for name, (hist, edges, minimum, maximum, _threshold) in calibrator.collector.histogram_dict.items():
        lo, hi = mse_range(hist, edges, float(minimum), float(maximum))
        ranges[name] = TensorData(lowest=np.array(lo, np.float32), highest=np.array(hi, np.float32))
    return TensorsData(CalibrationMethod.MinMax, ranges)


def range_table(ranges: TensorsData) -> dict[str, tuple[float, float]]:
    """Plain ``{tensor: (lo, hi)}`` floats, e.g. to compare methods or save to JSON."""
    return {name: (_scalar(data.range_value[0]), _scalar(data.range_value[1])) for name, data in ranges.items()}


def _scalar(value: Any) -> float:
    return float(np.asarray(value).reshape(-1)[0])
