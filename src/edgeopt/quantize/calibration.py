"""Activation calibration for static int8: the data, and the range of every tensor.

Ranges come from ONNX Runtime's calibrators (``onnxruntime.quantization.calibrate``) run on the
fp32 ONNX model: ``"minmax"`` (observed extremes), ``"percentile"`` (the 99.999th percentile of
|x| over a 2048-bin histogram, ORT's defaults, stated explicitly), ``"entropy"`` (the KL-divergence
threshold search of TensorRT, over ORT's 2048-bin histogram, computed in
:mod:`edgeopt.quantize.onnx_entropy` with as many quantized bins as the type has levels).
``"mse"`` has no ORT calibrator: the values are histogrammed by ORT's collector and the range
minimising the expected quantization error is computed in :mod:`edgeopt.quantize.onnx_mse`.
``"auto"`` (:mod:`edgeopt.quantize.auto_calibration`) tries them all and keeps the best.

Entropy's bins: ORT's default histogram has 128 bins, as many as the quantized bins its search
folds them into, so when the calibration data arrives as one batch (the histogram never grows)
the search has exactly one candidate, the full range: the file was byte-identical to min-max.
With 2048 bins the search has hundreds of candidates whatever the batching (see onnx_entropy for
why the search itself is edgeopt's).

Percentile on too little data: the 99.999th percentile of a tensor with fewer than 100,000 values
is its maximum. When that holds for every tensor the result *is* min-max; rather than write that
file under another name, :func:`compute_ranges` refuses it, saying how many samples it needs.

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
AUTO = "auto"  # try every method on held-out calibration data, keep the best (auto_calibration.py)
MIN_CALIBRATION_SAMPLES = 16  # fewer and a single odd image sets a layer's range
RECOMMENDED_CALIBRATION_SAMPLES = 256
MSE_BINS = 2048  # histogram resolution for the MSE search (ORT's entropy default is 128)
ENTROPY_BINS = 2048  # histogram bins for entropy (ORT's default 128 leaves one candidate on one batch)
PERCENTILE = 99.999  # ORT's default percentile of |x|
PERCENTILE_BINS = 2048  # ORT's default histogram bins for the percentile

_ORT_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
}


def check_method(method: str, allow_auto: bool = True) -> str:
    """Return ``method`` if it is a known calibration method (or ``"auto"``), else raise with a suggestion."""
    known = (*CALIBRATION_METHODS, AUTO) if allow_auto else CALIBRATION_METHODS
    if method not in known:
        hint = suggest(str(method), known) or f"use one of {', '.join(known)}"
        raise EdgeoptError(f"unknown calibration method {method!r}", hint=hint)
    return method


def method_details(method: str) -> dict[str, Any]:
    """The settings a method ran with, for the artifact's metadata.

    Example:
        >>> method_details("entropy")
        {'method': 'entropy', 'bins': 2048, 'quantized_bins': 128}
    """
    details: dict[str, Any] = {"method": method}
    if method == "entropy":
        details.update(bins=ENTROPY_BINS, quantized_levels="256 on [0, t] (uint8, no negatives), else 256 on [-t, t]",
                       candidates="every 2nd bin")
    elif method == "percentile":
        details.update(bins=PERCENTILE_BINS, percentile=PERCENTILE, of="|x|")
    elif method == "mse":
        details.update(bins=MSE_BINS, search="[a*min, a*max], a in 200 steps of (0, 1]")
    return details


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
    activation_type: str = "uint8",
) -> TensorsData:
    """The calibrated range of every float tensor of an fp32 ONNX model.

    Args:
        onnx_path: The fp32 model (after ``quant_pre_process``).
        samples: Real inputs, from :func:`calibration_array`.
        method: One of :data:`CALIBRATION_METHODS`.
        input_name: The model's input name.
        batch_size: Samples per calibration call.
        activation_type: ``"uint8"`` or ``"int8"``: the levels entropy folds each candidate into.

    Returns:
        ORT's ``TensorsData`` (tensor name -> range), labelled ``MinMax`` for ``"mse"`` so that
        ``quantize_static`` reads it from a cache as a plain range.

    Example:
        >>> compute_ranges("m.onnx", samples, "mse")["input"].range_value[1] > 0
        True
    """
    check_method(method, allow_auto=False)
    with tempfile.TemporaryDirectory(prefix="edgeopt-calib-") as tmp:
        calibrator = _calibrator(Path(onnx_path), Path(tmp) / "augmented.onnx", method)
        with contextlib.redirect_stdout(io.StringIO()):  # ORT prints progress lines
            for start in range(0, len(samples), batch_size):
                calibrator.collect_data(BatchReader(samples[start : start + batch_size], input_name, batch_size))
            if method == "mse":
                return _mse_ranges(calibrator)
            if method == "entropy":
                return _entropy_ranges(calibrator, activation_type)
            ranges = calibrator.compute_data()
        if method == "percentile":
            _check_percentile_cut(calibrator, ranges, len(samples))
        return ranges


def _check_percentile_cut(calibrator: Any, ranges: TensorsData, samples: int) -> None:
    """Refuse a percentile calibration that clipped no tensor at all: it is min-max under another name."""
    histograms = calibrator.collector.histogram_dict
    clipped = 0
    for name, (_hist, _edges, lowest, highest) in histograms.items():
        lo, hi = (float(np.asarray(v).reshape(-1)[0]) for v in ranges[name].range_value)
        if hi < float(highest) - 1e-12 or lo > float(lowest) + 1e-12:
            clipped += 1
    if clipped or not histograms:
        return
    largest = max(int(np.sum(h[0])) for h in histograms.values())
    per_sample = max(1, largest // max(1, samples))
    needed = int(np.ceil(100.0 / (100.0 - PERCENTILE) / per_sample))
    raise EdgeoptError(
        f"calibration data too small for percentile calibration: the {PERCENTILE}th percentile of |x| needs "
        f"{100.0 / (100.0 - PERCENTILE):,.0f} values per tensor to clip anything, and {samples} samples give at "
        f"most {largest:,}: every range would be min-max",
        hint=f"pass at least {needed} calibration samples, or use calibration minmax, mse or auto",
    )


def _calibrator(model: Path, augmented: Path, method: str) -> Any:
    if method in ("mse", "entropy"):
        # ORT's entropy collector histograms the real values (not |x|) over [-t, t]; finer bins
        # than its default 128 resolve the clipping point.
        calibrator = HistogramCalibrater(
            model, None, augmented_model_path=str(augmented), method="entropy",
            num_bins=MSE_BINS if method == "mse" else ENTROPY_BINS,
        )
        calibrator.augment_graph()
        calibrator.create_inference_session()
        return calibrator
    extra: dict[str, Any] = {}
    if method == "percentile":
        extra = {"num_bins": PERCENTILE_BINS, "percentile": PERCENTILE, "symmetric": True}
    return create_calibrator(model, None, augmented_model_path=str(augmented),
                             calibrate_method=_ORT_METHODS[method], extra_options=extra)


def _mse_ranges(calibrator: HistogramCalibrater) -> TensorsData:
    ranges: dict[str, TensorData] = {}
    for name, (hist, edges, minimum, maximum, _threshold) in calibrator.collector.histogram_dict.items():
        lo, hi = mse_range(hist, edges, float(minimum), float(maximum))
        ranges[name] = TensorData(lowest=np.array(lo, np.float32), highest=np.array(hi, np.float32))
    return TensorsData(CalibrationMethod.MinMax, ranges)


def _entropy_ranges(calibrator: HistogramCalibrater, activation_type: str) -> TensorsData:
    from edgeopt.quantize.onnx_entropy import entropy_range

    levels = 256 if activation_type == "uint8" else 128
    ranges: dict[str, TensorData] = {}
    for name, (hist, edges, minimum, maximum, _threshold) in calibrator.collector.histogram_dict.items():
        lo, hi = entropy_range(hist, edges, float(minimum), float(maximum), levels=levels)
        ranges[name] = TensorData(lowest=np.array(lo, np.float32), highest=np.array(hi, np.float32))
    return TensorsData(CalibrationMethod.MinMax, ranges)


def range_table(ranges: TensorsData) -> dict[str, tuple[float, float]]:
    """Plain ``{tensor: (lo, hi)}`` floats, e.g. to compare methods or save to JSON."""
    return {name: (_scalar(data.range_value[0]), _scalar(data.range_value[1])) for name, data in ranges.items()}


def _scalar(value: Any) -> float:
    return float(np.asarray(value).reshape(-1)[0])
