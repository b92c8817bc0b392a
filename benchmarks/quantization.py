"""int8 quantization benchmark: accuracy (mnist5k MobileNet), size, speed (MobileNetV2 1.0 @ 224).

Run:  python benchmarks/quantization.py [--quick]
Saves benchmarks/results/quantization.json.

1. Accuracy: the trained mnist5k MobileNetV1 (/tmp/edgeopt_models/mnist5k_mobilenet.pt, or one
   trained here if absent), PTQ with each calibration method, int8 accuracy measured on the
   artifact in ONNX Runtime; beside it, ``onnxruntime.quantization.quantize_static`` with its
   defaults on the same fp32 ONNX file and the same 256 calibration images (the peer).
2. Speed: MobileNetV2 1.0 at 224×224 (random weights: latency does not depend on them), fp32 vs
   edgeopt int8 vs ORT-defaults int8, batch 1, 2 threads, interleaved rounds with speed probes
   (edgeopt.runtime.interleaved_latency). Passes minutes apart; the figure per artifact is the
   minimum of its pass medians (DESIGN.md: noise only ever slows a run). Also, from ORT's
   optimised graph, what each int8 file runs as: fused QLinearConv vs float Conv between Q/DQ.
3. ExecuTorch rows (.pte fp32 / int8) join in the marked section when the other backend exists.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from edgeopt.data import calibration_subset, load_dataset
from edgeopt.export import export_onnx
from edgeopt.quantize import CALIBRATION_METHODS, ptq
from edgeopt.quantize.calibration import BatchReader, calibration_array
from edgeopt.quantize.onnx_static import host_needs_reduce_range, quantize_onnx_static
from edgeopt.runtime import OnnxRuntimeRunner, interleaved_latency, open_runner
from edgeopt.utils.atomic import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "quantization.json"
MNIST_MODEL = Path("/tmp/edgeopt_models/mnist5k_mobilenet.pt")


def mnist_model() -> torch.nn.Module:
    from edgeopt.checkpoint import load_checkpoint

    if MNIST_MODEL.is_file():
        return load_checkpoint(MNIST_MODEL).model.eval()
    from edgeopt.models import create_model
    from edgeopt.train import TrainConfig, fit

    splits = load_dataset("mnist5k")
    model = create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.5, stem_stride=1)
    fit(model, splits.train, splits.val, TrainConfig(epochs=20, lr=5e-3, augment_shift=1, progress=False))
    return model.eval()


def ort_defaults(fp32: Path, samples: np.ndarray, out: Path) -> Path:
    """The peer: quantize_static with every option at its default (QDQ, per-tensor, int8, MinMax)."""
    from onnxruntime.quantization import quantize_static

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(str(fp32), str(out), BatchReader(samples, "input"))
    finally:
        root.setLevel(level)
    return out


def accuracy_section(work: Path) -> dict[str, Any]:
    splits = load_dataset("mnist5k")
    model = mnist_model()
    calib = calibration_subset(splits.train, 256)
    rows = []
    for method in CALIBRATION_METHODS:
        start = time.perf_counter()
        result = ptq(model, calib, path=work / f"mnist.{method}.int8.onnx", calibration=method,
                     eval_data=splits.test)
        fp32_size = result.artifact.metadata["fp32_size_bytes"]
        rows.append({"who": "edgeopt", "calibration": method, "float_accuracy": result.float_accuracy,
                     "int8_accuracy": result.int8_accuracy, "drop_points": result.accuracy_drop,
                     "fp32_bytes": fp32_size, "int8_bytes": result.artifact.size_bytes,
                     "size_ratio": fp32_size / result.artifact.size_bytes,
                     "seconds": time.perf_counter() - start})
        print(f"  edgeopt {method:10s} fp32 {result.float_accuracy:.4f} int8 {result.int8_accuracy:.4f} "
              f"drop {result.accuracy_drop:+.2f} pts  size {rows[-1]['size_ratio']:.2f}x smaller")
    fp32 = export_onnx(model, torch.zeros(1, 1, 28, 28), work / "mnist.fp32.onnx")
    peer = ort_defaults(fp32.path, calibration_array(calib), work / "mnist.ort_default.int8.onnx")
    fp32_acc = OnnxRuntimeRunner(fp32.path, 1).accuracy(splits.test)
    peer_acc = OnnxRuntimeRunner(peer, 1).accuracy(splits.test)
    rows.append({"who": "onnxruntime quantize_static defaults", "calibration": "minmax",
                 "float_accuracy": fp32_acc, "int8_accuracy": peer_acc,
                 "drop_points": 100 * (fp32_acc - peer_acc), "fp32_bytes": fp32.size_bytes,
                 "int8_bytes": peer.stat().st_size, "size_ratio": fp32.size_bytes / peer.stat().st_size})
    print(f"  ORT defaults       fp32 {fp32_acc:.4f} int8 {peer_acc:.4f} drop {rows[-1]['drop_points']:+.2f} pts "
          f" size {rows[-1]['size_ratio']:.2f}x smaller")
    return {"model": str(MNIST_MODEL), "test_samples": len(splits.test), "rows": rows}


def graph_anatomy(path: Path) -> dict[str, int]:
    """Op counts of the graph ORT actually runs (after its optimisations)."""
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        proto = onnx.load(options.optimized_model_filepath)
    return dict(collections.Counter(n.op_type for n in proto.graph.node))


def speed_section(work: Path, passes: int, rounds: int, pause_s: float) -> dict[str, Any]:
    from edgeopt.models import create_model

    torch.manual_seed(0)
    model = create_model("mobilenet_v2", num_classes=1000, in_chans=3).eval()
    example = torch.zeros(1, 3, 224, 224)
    calib = torch.randn(32, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    fp32 = export_onnx(model, example, work / "v2.fp32.onnx")
    ours = quantize_onnx_static(model, calib, work / "v2.edgeopt.int8.onnx", example_input=example)
    peer = ort_defaults(fp32.path, calib.numpy(), work / "v2.ort_default.int8.onnx")
    files = {"fp32": fp32.path, "edgeopt int8": ours.path, "ort-defaults int8": peer}
    # --- ExecuTorch rows join here (the ExecuTorch helper's exporters); skipped when absent ---
    files.update(executorch_files(model, example, calib, work))
    runners = {name: open_runner_for(path) for name, path in files.items()}
    batch = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    medians: dict[str, list[float]] = {name: [] for name in runners}
    for index in range(passes):
        if index:
            time.sleep(pause_s)
        stats = interleaved_latency(runners, batch, rounds=rounds, runs_per_round=20)
        for name, s in stats.items():
            medians[name].append(s.median_ms)
        print("  pass", index + 1, " ".join(f"{n}: {s.median_ms:.2f} ms ({s.spread_ms[0]:.2f}–{s.spread_ms[1]:.2f},"
                                             f" {s.slow_blocks} slow)" for n, s in stats.items()))
    best = {name: min(values) for name, values in medians.items()}
    rows = [{"artifact": name, "file": str(files[name]), "size_bytes": Path(files[name]).stat().st_size,
             "pass_medians_ms": medians[name], "best_ms": best[name],
             "speedup_vs_fp32": best.get("fp32", np.nan) / best[name],
             "graph": graph_anatomy(Path(files[name])) if str(files[name]).endswith(".onnx") else None}
            for name in runners]
    for row in rows:
        print(f"  {row['artifact']:18s} best {row['best_ms']:.2f} ms  {row['speedup_vs_fp32']:.2f}x vs fp32  "
              f"{row['size_bytes'] / 1e6:.2f} MB  graph {row['graph']}")
    return {"model": "mobilenet_v2 width 1.0, 224x224, batch 1", "threads": 2, "passes": passes,
            "rounds": rounds, "rows": rows}


def open_runner_for(path: Path) -> Any:
    from edgeopt.artifact import Artifact

    return OnnxRuntimeRunner(path, 2) if path.suffix == ".onnx" else open_runner(Artifact.from_file(path), 2)


def executorch_files(model: torch.nn.Module, example: torch.Tensor, calib: torch.Tensor, work: Path) -> dict[str, Path]:
    """fp32 and int8 .pte files from the ExecuTorch half of edgeopt, if it is importable."""
    try:
        from edgeopt.export import executorch as export_executorch  # type: ignore[attr-defined]
    except ImportError:
        print("  (ExecuTorch exporter not available: no .pte rows)")
        return {}
    try:
        fp32 = export_executorch(model, example, work / "v2.fp32.pte")
        int8 = ptq(model, calib, backend="executorch", path=work / "v2.int8.pte", example_input=example)
        return {"executorch fp32": Path(fp32.path), "executorch int8": Path(int8.artifact.path)}
    except Exception as exc:  # the other backend's failure must not lose the ONNX figures
        print(f"  (ExecuTorch rows skipped: {type(exc).__name__}: {exc})")
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one speed pass of 3 rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    passes, rounds, pause = (1, 3, 0.0) if args.quick else (3, 5, 60.0)
    with tempfile.TemporaryDirectory(prefix="edgeopt-bench-quant-") as tmp:
        work = Path(tmp)
        print("Accuracy: mnist5k MobileNetV1 α=0.5, int8 measured in ONNX Runtime on 1,000 test images")
        accuracy = accuracy_section(work)
        print(f"Speed: MobileNetV2 1.0 @224, batch 1, 2 threads ({passes} passes x {rounds} rounds)")
        speed = speed_section(work, passes, rounds, pause)
    results = {"host": {"machine": platform.machine(), "python": sys.version.split()[0],
                        "onnxruntime": ort.__version__, "torch": torch.__version__,
                        "reduce_range_auto": host_needs_reduce_range()},
               "quick": args.quick, "accuracy": accuracy, "speed": speed,
               "note": "shared 2-core machine: timings are noisy; best = minimum of pass medians"}
    write_json_atomic(RESULTS, results)
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
