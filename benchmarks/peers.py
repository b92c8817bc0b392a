"""The peers ``edgeopt optimize`` must beat (issue 15): three int8 flows, each as its own docs show it.

Issue 15's target: on the demo's MNIST-5k MobileNet baseline and on MobileNetV2 1.0 @224, edgeopt's
chosen artifact is ≥ 2× faster than the fastest of these, same run, same inputs:

- ``ort_quantize_static``: ONNX Runtime's static quantization (:func:`ort_quantize_static_peer`),
  run in ONNX Runtime.
- ``nncf_openvino``: NNCF's post-training quantization of an OpenVINO model
  (:func:`nncf_openvino_peer`), saved as IR and run in OpenVINO.
- ``executorch_xnnpack_int8``: ExecuTorch's XNNPACK PT2E flow
  (:func:`edgeopt.quantize.pt2e_peer.executorch_peer_ptq`), run in ExecuTorch.

Each starts from the same baseline (the fp32 ONNX file, or the eager model for ExecuTorch) and the
same calibration samples. :func:`peer_artifacts` builds all three (a peer that fails is reported,
not raised), :func:`time_peers` times them in one interleaved run on the same input and measures
their accuracy in their own runtimes.

Usage (the benchmark's main script imports this module):
    python benchmarks/peers.py --smoke     # tiny MobileNetV1 for 1×28×28, 64 calibration samples
    python benchmarks/peers.py --mv2       # MobileNetV2 1.0 @224, random weights, 32 samples

Example:
    >>> entries = peer_artifacts(model, Path("base.onnx"), calib, example, Path("/tmp/peers"))
    >>> time_peers(entries, threads=2, data=load_dataset("mnist5k"))["nncf_openvino"]["latency_ms"]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))

from edgeopt.artifact import Artifact
from edgeopt.runtime.benchmark import _accuracy, _eval_data, _input_shape, _timing_input, open_runner
from edgeopt.runtime.timing import interleaved_latency

if TYPE_CHECKING:
    from edgeopt.data import DatasetSplits
    from edgeopt.runtime.arrays import ArrayData

PEERS = ("ort_quantize_static", "nncf_openvino", "executorch_xnnpack_int8")
RUNTIMES = {"ort_quantize_static": "onnxruntime", "nncf_openvino": "openvino",
            "executorch_xnnpack_int8": "executorch"}


def _samples(calibration: np.ndarray) -> list[np.ndarray]:
    """The calibration set as batch-1 float32 arrays, the unit every peer's docs feed."""
    x = np.ascontiguousarray(calibration, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"calibration must be a batch of samples (N x C x H x W), got shape {x.shape}")
    return [x[i : i + 1] for i in range(len(x))]


def ort_quantize_static_peer(fp32_onnx: Path, calibration: np.ndarray, out: Path, *,
                             per_channel: bool = True) -> Path:
    """ONNX Runtime's documented static int8 flow; writes the QDQ ``.onnx`` at ``out``.

    Following onnxruntime.ai/docs/performance/model-optimizations/quantization.html:

    - "Pre-processing": ``quant_pre_process`` (symbolic shape inference, ORT graph optimization,
      ONNX shape inference; defaults), since the docs recommend optimizing there and not during
      quantization.
    - "Method selection": static quantization for CNNs, ``quantize_static`` with a
      ``CalibrationDataReader`` yielding one sample per ``get_next`` (as the end-to-end
      image-classification example does).
    - "Data type selection": QDQ with S8S8 ("the default setting ... should be the first
      choice"), i.e. ``quant_format=QDQ``, ``activation_type=weight_type=QInt8``; calibration
      MinMax (the default).
    - FAQ "When to use reduce-range and per-channel": per-channel "can improve the accuracy for
      models whose weight ranges are large" — MobileNets' depthwise weights are that case, so
      ``per_channel=True`` (pass False for every option at its default); reduce-range only where
      the FAQ asks for it with per-channel: x86 AVX2/AVX512 without VNNI
      (:func:`edgeopt.quantize.onnx_static.host_needs_reduce_range`).
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    from edgeopt.quantize.onnx_static import host_needs_reduce_range

    input_name = onnx.load(str(fp32_onnx), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self, samples: list[np.ndarray]) -> None:
            self._items = iter([{input_name: s} for s in samples])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._items, None)

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "preprocessed.onnx"
        quant_pre_process(str(fp32_onnx), str(pre))
        quantize_static(
            str(pre), str(out), Reader(_samples(calibration)),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=per_channel and host_needs_reduce_range(),
        )
    return out


def nncf_openvino_peer(fp32_onnx: Path, calibration: np.ndarray, out_xml: Path) -> Path:
    """NNCF's basic post-training quantization of an OpenVINO model; writes IR ``out_xml`` (+ ``.bin``).

    Following OpenVINO's "Basic Quantization Flow" (docs.openvino.ai, model-optimization-guide /
    quantizing-models-post-training / basic-quantization-flow) and NNCF's OpenVINO MobileNetV2
    example: ``ov.convert_model`` on the ONNX file, ``nncf.Dataset`` over the calibration samples
    (each a batch-1 array; the transform function is the identity, the samples already are model
    inputs), ``nncf.quantize(ov_model, dataset)`` with every option at its default (preset
    PERFORMANCE, i.e. symmetric; ``subset_size`` 300, so all of a smaller set; fast bias
    correction), and ``ov.save_model`` (its default fp16 compression of the remaining float
    constants, as the docs save it).

    Raises:
        ImportError: ``nncf not installed`` (``pip install 'edgeopt[peers]'``).
    """
    try:
        import nncf
    except ImportError as exc:
        raise ImportError("nncf not installed (pip install 'edgeopt[peers]')") from exc
    import openvino as ov

    ov_model = ov.convert_model(str(fp32_onnx))
    dataset = nncf.Dataset(_samples(calibration), lambda item: item)
    quantized = nncf.quantize(ov_model, dataset)
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out_xml))
    return out_xml


def executorch_peer(model: nn.Module, calibration: np.ndarray, example: torch.Tensor, out: Path) -> Path:
    """ExecuTorch's documented XNNPACK int8 flow (:func:`~edgeopt.quantize.pt2e_peer.executorch_peer_ptq`)."""
    from edgeopt.quantize.pt2e_peer import executorch_peer_ptq

    calib = torch.from_numpy(np.ascontiguousarray(calibration, dtype=np.float32))
    return executorch_peer_ptq(model, calib, out, example_input=example).artifact.path


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def peer_artifacts(model: nn.Module, fp32_onnx: Path, calibration: np.ndarray, example: torch.Tensor,
                   out_dir: Path) -> dict[str, dict[str, Any]]:
    """Build every peer's int8 artifact from the same baseline and calibration samples.

    Returns:
        Peer name -> ``{"path": Path, "runtime": ...}``, or ``{"error": "<one line>"}`` for a peer
        that failed (the others still run).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    builders = {
        "ort_quantize_static": lambda: ort_quantize_static_peer(fp32_onnx, calibration,
                                                                out_dir / "ort_quantize_static.int8.onnx"),
        "nncf_openvino": lambda: nncf_openvino_peer(fp32_onnx, calibration, out_dir / "nncf_openvino.int8.xml"),
        "executorch_xnnpack_int8": lambda: executorch_peer(model, calibration, example,
                                                           out_dir / "executorch_xnnpack.int8.pte"),
    }
    entries: dict[str, dict[str, Any]] = {}
    for name in PEERS:
        try:
            entries[name] = {"path": Path(builders[name]()), "runtime": RUNTIMES[name]}
        except Exception as exc:  # a failing peer is a result, not the end of the benchmark
            entries[name] = {"error": _one_line(exc)}
    return entries


def time_peers(entries: dict[str, dict[str, Any]], threads: int, data: ArrayData | DatasetSplits | None,
               *, rounds: int = 5, runs_per_round: int = 20, warmup: int = 10) -> dict[str, dict[str, Any]]:
    """Time every built peer in one interleaved run on the same input; accuracy on ``data``'s test split.

    Each artifact runs in its own runtime through :func:`edgeopt.runtime.open_runner`; the timed
    input is the first test sample (seeded noise without data), as in :func:`edgeopt.runtime.bench`.

    Returns:
        Name -> ``{"latency_ms", "p90_ms", "accuracy" (percent or None), "size_bytes", "runtime"}``,
        or the entry's ``{"error": ...}`` (also when the runtime cannot open the file).
    """
    arrays = _eval_data(data)
    results: dict[str, dict[str, Any]] = {}
    runners, arts = {}, {}
    for name, entry in entries.items():
        if "error" in entry:
            results[name] = dict(entry)
            continue
        try:
            arts[name] = Artifact.from_file(entry["path"])
            runners[name] = open_runner(arts[name], threads)
        except Exception as exc:
            arts.pop(name, None)
            results[name] = {"error": _one_line(exc)}
    shapes = {name: _input_shape(arts[name], runner, arrays, 1, None) for name, runner in runners.items()}
    inputs = {name: _timing_input(shape, arrays) for name, shape in shapes.items()}
    accuracies = {}
    for name, runner in list(runners.items()):
        try:
            acc = _accuracy(runner, shapes[name], arrays)
            accuracies[name] = None if acc is None else 100.0 * acc
        except Exception as exc:
            results[name] = {"error": _one_line(exc)}
            del runners[name]
    if runners:
        stats = interleaved_latency(runners, {n: inputs[n] for n in runners}, rounds=rounds,
                                    runs_per_round=runs_per_round, warmup=warmup)
        for name, s in stats.items():
            results[name] = {"latency_ms": s.median_ms, "p90_ms": s.p90_ms, "accuracy": accuracies[name],
                             "size_bytes": arts[name].size_bytes, "runtime": runners[name].runtime}
    return {name: results[name] for name in entries}


def _print_table(title: str, timed: dict[str, dict[str, Any]]) -> None:
    print(title)
    print(f"  {'peer':<26}{'runtime':<13}{'median ms':>10}{'p90 ms':>9}{'size KB':>10}  accuracy")
    for name, row in timed.items():
        if "error" in row:
            print(f"  {name:<26}error: {row['error']}")
            continue
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.2f}%"
        print(f"  {name:<26}{row['runtime']:<13}{row['latency_ms']:>10.3f}{row['p90_ms']:>9.3f}"
              f"{row['size_bytes'] / 1024:>10.1f}  {acc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--smoke", action="store_true", help="Tiny MobileNetV1 for 1×28×28, 64 calibration samples.")
    size.add_argument("--mv2", action="store_true", help="MobileNetV2 1.0 @224, random weights, 32 samples.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="Where the files go (default: a temp dir).")
    args = parser.parse_args()

    from edgeopt.export.onnx_export import export_onnx
    from edgeopt.models import create_model

    torch.set_num_threads(1)  # export and calibration; the runtimes get --threads explicitly
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if args.smoke:
        model = create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.5, stem_stride=1)
        shape, n_calib, title = (1, 28, 28), 64, "smoke: MobileNetV1 α=0.5, 1×28×28, 10 classes"
    else:
        from onnx_vs_torch import calibrate_batchnorm

        model = create_model("mobilenet_v2", num_classes=1000, in_chans=3, width_mult=1.0)
        calibrate_batchnorm(model, [torch.randn(16, 3, 224, 224) for _ in range(4)])
        shape, n_calib, title = (3, 224, 224), 32, "MobileNetV2 1.0 @224, random weights (BN re-estimated)"
    model.eval()
    calibration = rng.standard_normal((n_calib, *shape)).astype(np.float32)
    example = torch.from_numpy(calibration[:1].copy())
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        fp32 = export_onnx(model, example, work / "baseline.fp32.onnx").path
        entries = peer_artifacts(model, fp32, calibration, example, work)
        entries = {"fp32_onnx": {"path": fp32, "runtime": "onnxruntime"}, **entries}
        timed = time_peers(entries, args.threads, None)
    _print_table(f"{title}; {args.threads} threads, batch 1, one interleaved run", timed)


if __name__ == "__main__":
    main()
