"""Post-training methods of issue 12, measured: per-tensor fixes, 4-bit + AdaRound, calibration "auto",
the ExecuTorch self-check on MobileNetV2.

Run:  flock /tmp/edgeopt-heavy.lock python benchmarks/quantization_methods.py [--quick] [--parts abcd]
Saves benchmarks/results/quantization_methods.json (not with --quick or a subset of --parts).

Model (a-c): the mnist5k MobileNetV1 α=0.5 of ``benchmarks/quantization.py:mnist_model()``
(/tmp/edgeopt_models/mnist5k_mobilenet.pt; trained here with seed 0 and saved there if absent).
Every accuracy is top-1 of the int8 ``.onnx`` run in ONNX Runtime on the 1,000-image test split,
beside the fp32 ``.onnx``'s on the same split; 256 stratified training images calibrate (seed 0).

a. Per-tensor int8 (one weight scale per tensor): plain, equalize, bias_correction, both.
   Target: both within 1.0 point of fp32.
b. 4-bit weights / 8-bit activations (per channel): round-to-nearest vs AdaRound.
   Target: AdaRound within 1.5 points of fp32.
c. Each calibration method and ``"auto"`` (which records the method it chose), with per-channel
   8-bit weights (the default) and with per-tensor weights (where ranges matter more).
   Target: auto never more than 0.1 point below the best single method.
d. ExecuTorch int8 (``ptq(backend="executorch")``, ``check=True``, the default) of a random-weight
   MobileNetV2 whose BatchNorm statistics are re-estimated on Gaussian noise images, beside
   ExecuTorch's documented flow (``edgeopt.quantize.pt2e_peer``) on the same calibration images;
   both ``.pte`` files run in the ExecuTorch runtime on other noise images and are compared with
   the eager float model (SQNR, RMS error, top-1 agreement). Target: edgeopt's check passes and
   its error is no larger than the documented flow's.

``--quick``: an untrained model, few AdaRound steps, a small MobileNetV2: plumbing only.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import sys
import tempfile
import time
import traceback
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).parent))
from onnx_vs_torch import calibrate_batchnorm
from quantization import MNIST_MODEL, mnist_model

from edgeopt.data import calibration_subset, load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.quantize import CALIBRATION_METHODS, ptq
from edgeopt.quantize.onnx_graph import sqnr_db
from edgeopt.quantize.onnx_static import host_needs_reduce_range
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "quantization_methods.json"
MNIST_KWARGS = {"num_classes": 10, "in_chans": 1, "width_mult": 0.5, "stem_stride": 1}
SEED = 0


def seed_everything(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def trained_model(quick: bool) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The mnist5k MobileNet (loaded, or trained with seed 0 and saved); untrained with ``quick``."""
    if quick:
        seed_everything()
        return create_model("mobilenet_v1", **MNIST_KWARGS).eval(), {"source": "untrained (--quick)"}
    if MNIST_MODEL.is_file():
        return mnist_model(), {"source": f"loaded {MNIST_MODEL}"}
    from edgeopt.checkpoint import save_checkpoint

    seed_everything()
    start = time.perf_counter()
    model = mnist_model()  # trains: 20 epochs, lr 5e-3, shift augmentation
    seconds = time.perf_counter() - start
    MNIST_MODEL.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(MNIST_MODEL, model, model_name="mobilenet_v1", model_kwargs=MNIST_KWARGS,
                    input_size=(1, 1, 28, 28), metadata={"trained_by": "benchmarks/quantization_methods.py",
                                                         "seed": SEED})
    return model, {"source": f"trained here (seed {SEED}, {seconds:.0f} s) and saved to {MNIST_MODEL}"}


class Mnist:
    """Runs ``ptq`` on the mnist5k model with fixed calibration data; one row per call."""

    def __init__(self, model: torch.nn.Module, work: Path, adaround_iterations: int) -> None:
        self.model, self.work, self.adaround_iterations = model, work, adaround_iterations
        self.splits = load_dataset("mnist5k")
        self.calib = calibration_subset(self.splits.train, 256, seed=SEED)
        self.count = 0

    def row(self, label: str, **options: Any) -> dict[str, Any]:
        self.count += 1
        seed_everything()
        if options.get("rounding") == "adaround":
            options["adaround_iterations"] = self.adaround_iterations
        start = time.perf_counter()
        result = ptq(self.model, self.calib, path=self.work / f"m{self.count}.int8.onnx", eval_data=self.splits.test,
                     **options)
        meta = result.metadata
        row: dict[str, Any] = {
            "label": label, "options": options, "calibration": result.calibration,
            "fp32_accuracy": result.float_accuracy, "int8_accuracy": result.int8_accuracy,
            "drop_points": result.accuracy_drop, "int8_bytes": result.artifact.size_bytes,
            "fp32_bytes": meta["fp32_artifact"]["size_bytes"],
            "self_check_passed": (meta.get("self_check") or {}).get("passed"),
            "seconds": round(time.perf_counter() - start, 1),
        }
        for key in ("calibration_auto", "equalization", "weights"):
            if key in meta:
                row[key] = meta[key]
        Path(result.artifact.path).unlink(missing_ok=True)
        print(f"  {label:34s} fp32 {row['fp32_accuracy']:.4f}  int8 {row['int8_accuracy']:.4f}  "
              f"drop {row['drop_points']:+.2f} pts  {row['int8_bytes'] / 1e3:7.1f} kB  "
              f"calib {row['calibration']:10s} {row['seconds']:6.1f} s", flush=True)
        return row


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def part_a(m: Mnist) -> dict[str, Any]:
    print("a. per-tensor int8 (8-bit weights, one scale per tensor; calibration minmax)")
    rows = [m.row("per-tensor plain", per_channel=False),
            m.row("per-tensor + equalize", per_channel=False, equalize=True),
            m.row("per-tensor + bias_correction", per_channel=False, bias_correction=True),
            m.row("per-tensor + equalize + bias_corr.", per_channel=False, equalize=True, bias_correction=True)]
    both = rows[-1]["drop_points"]
    target = {"rule": "equalize + bias_correction within 1.0 point of fp32", "drop_points": both,
              "plain_drop_points": rows[0]["drop_points"], "met": bool(both <= 1.0)}
    print(f"   target: {_verdict(target['met'])} (with both: {both:+.2f} pts; plain: {rows[0]['drop_points']:+.2f})")
    return {"rows": rows, "target": target}


def part_b(m: Mnist) -> dict[str, Any]:
    print(f"b. 4-bit weights / 8-bit activations, per channel (AdaRound: {m.adaround_iterations} steps per layer)")
    rows = [m.row("w4a8 round-to-nearest", weight_bits=4),
            m.row("w4a8 AdaRound", weight_bits=4, rounding="adaround")]
    ada = rows[1]["drop_points"]
    target = {"rule": "AdaRound within 1.5 points of fp32", "drop_points": ada,
              "nearest_drop_points": rows[0]["drop_points"], "met": bool(ada <= 1.5)}
    print(f"   target: {_verdict(target['met'])} (AdaRound {ada:+.2f} pts; nearest {rows[0]['drop_points']:+.2f})")
    return {"rows": rows, "target": target}


def part_c(m: Mnist) -> dict[str, Any]:
    settings = {"per-channel": {}, "per-tensor": {"per_channel": False}}
    out: dict[str, Any] = {"settings": {}, "met": True}
    for name, options in settings.items():
        print(f"c. calibration methods vs auto ({name} 8-bit weights)")
        rows = [m.row(f"{name} {method}", calibration=method, **options) for method in CALIBRATION_METHODS]
        auto = m.row(f"{name} auto", calibration="auto", **options)
        best = max(rows, key=lambda r: r["int8_accuracy"])
        behind = 100.0 * (best["int8_accuracy"] - auto["int8_accuracy"])
        chosen = auto["calibration"]
        target = {"rule": "auto no more than 0.1 point below the best single method",
                  "best_single": best["calibration"], "best_single_accuracy": best["int8_accuracy"],
                  "auto_accuracy": auto["int8_accuracy"], "auto_chose": chosen,
                  "auto_points_behind_best": behind, "met": bool(behind <= 0.1 + 1e-9)}
        out["settings"][name] = {"rows": [*rows, auto], "target": target}
        out["met"] = out["met"] and target["met"]
        print(f"   target: {_verdict(target['met'])} (auto chose {chosen}: {auto['int8_accuracy']:.4f}; best single "
              f"{best['calibration']}: {best['int8_accuracy']:.4f}; behind by {behind:+.2f} pts)")
    return out


def _compare(reference: np.ndarray, output: np.ndarray) -> dict[str, float]:
    ref = reference.astype(np.float64)
    out = output.astype(np.float64)
    return {"sqnr_db": sqnr_db(ref, out), "rms_error": float(np.sqrt(np.mean((ref - out) ** 2))),
            "max_abs_error": float(np.max(np.abs(ref - out))), "rms_float_output": float(np.sqrt(np.mean(ref**2))),
            "top1_agreement": float(np.mean(ref.argmax(1) == out.argmax(1)))}


def part_d(work: Path, width: float, resolution: int, calib_count: int, eval_count: int) -> dict[str, Any]:
    from edgeopt import export
    from edgeopt.quantize.pt2e_peer import executorch_peer_ptq
    from edgeopt.runtime import ExecuTorchRunner

    print(f"d. ExecuTorch int8: MobileNetV2 width {width} @ {resolution}x{resolution}, random weights, BatchNorm "
          f"re-estimated on 4x16 noise images; {calib_count} calibration / {eval_count} evaluation noise images")
    seed_everything()
    shape = (3, resolution, resolution)
    model = create_model("mobilenet_v2", num_classes=1000, in_chans=3, width_mult=width)
    gen = torch.Generator().manual_seed(SEED)
    calibrate_batchnorm(model, [torch.randn(16, *shape, generator=gen) for _ in range(4)])
    calib = torch.randn(calib_count, *shape, generator=gen)
    inputs = torch.randn(eval_count, *shape, generator=gen)
    example = inputs[:1]
    with torch.inference_mode():
        reference = model(inputs).numpy()
    fp32 = export.executorch(model, example, work / "mv2.fp32.pte")
    out: dict[str, Any] = {"model": f"mobilenet_v2 width {width}, {resolution}x{resolution}, 1000 classes, random "
                                    "weights (seed 0), BatchNorm statistics re-estimated on 64 N(0,1) images",
                           "calibration_images": calib_count, "evaluation_images": eval_count,
                           "fp32_pte_bytes": fp32.size_bytes}
    seed_everything()
    start = time.perf_counter()
    try:
        ours = ptq(model, calib, backend="executorch", path=work / "mv2.edgeopt.int8.pte", example_input=example)
        out["edgeopt_check"] = {"passed": True, "report": ours.artifact.metadata.get("self_check")}
    except EdgeoptError as exc:  # report the failure, then measure the file written unchecked
        out["edgeopt_check"] = {"passed": False, "error": str(exc)}
        print(f"   self-check FAILED: {exc}")
        ours = ptq(model, calib, backend="executorch", path=work / "mv2.edgeopt.int8.pte", example_input=example,
                   check=False)
    ours_seconds = time.perf_counter() - start
    seed_everything()
    start = time.perf_counter()
    peer = executorch_peer_ptq(model, calib, work / "mv2.peer.int8.pte", example_input=example)
    peer_seconds = time.perf_counter() - start
    for name, result, seconds in (("edgeopt", ours, ours_seconds), ("executorch_docs", peer, peer_seconds)):
        runner = ExecuTorchRunner(result.artifact.path, threads=2)
        try:
            got = runner.run(inputs.numpy())
        finally:
            runner.close()
        out[name] = {"pte_bytes": result.artifact.size_bytes, "seconds": round(seconds, 1),
                     "vs_float": _compare(reference, got)}
        v = out[name]["vs_float"]
        print(f"  {name:16s} {result.artifact.size_bytes / 1e6:6.2f} MB  SQNR {v['sqnr_db']:6.2f} dB  "
              f"RMS err {v['rms_error']:.4f} (float RMS {v['rms_float_output']:.4f})  "
              f"top-1 agreement {v['top1_agreement']:.3f}  {seconds:.0f} s", flush=True)
    report = out["edgeopt_check"].get("report") or {}
    if report:
        print(f"   self-check: deviation RMS {report['deviation_rms']:.4g} <= tolerance {report['tolerance_rms']:.4g}")
    no_worse = out["edgeopt"]["vs_float"]["rms_error"] <= out["executorch_docs"]["vs_float"]["rms_error"]
    out["target"] = {"rule": "passes check=True; output error vs float no larger than ExecuTorch's documented flow",
                     "check_passed": out["edgeopt_check"]["passed"], "error_no_larger": bool(no_worse),
                     "met": bool(out["edgeopt_check"]["passed"] and no_worse)}
    print(f"   target: {_verdict(out['target']['met'])} (check passed: {out['edgeopt_check']['passed']}; "
          f"RMS error edgeopt {out['edgeopt']['vs_float']['rms_error']:.4f} vs docs "
          f"{out['executorch_docs']['vs_float']['rms_error']:.4f})")
    return out


def guarded(run: Any, *args: Any) -> dict[str, Any]:
    """The part's figures, or its crash recorded (so one part's failure does not lose the others)."""
    try:
        result: dict[str, Any] = run(*args)
        return result
    except Exception as exc:
        print(f"   part crashed: {type(exc).__name__}: {exc}", flush=True)
        return {"crashed": traceback.format_exc(), "met": False}


def host() -> dict[str, Any]:
    facts: dict[str, Any] = {"machine": platform.machine(), "processor": platform.processor(),
                             "cpus": os.cpu_count(), "python": sys.version.split()[0],
                             "torch": torch.__version__, "onnxruntime": ort.__version__,
                             "reduce_range_auto": host_needs_reduce_range(), "torch_threads": torch.get_num_threads()}
    try:
        from importlib.metadata import version

        facts["executorch"] = version("executorch")
    except Exception:  # the optional extra
        facts["executorch"] = None
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="untrained model, tiny settings: plumbing only")
    parser.add_argument("--parts", default="abcd", help="which parts to run (default abcd)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch/executorch deprecation notices, per call
    seed_everything()
    started = time.perf_counter()
    adaround_iterations = 20 if args.quick else 1000
    width, resolution, calib_count, eval_count = (0.35, 64, 16, 8) if args.quick else (1.0, 224, 64, 64)
    results: dict[str, Any] = {
        "command": "flock /tmp/edgeopt-heavy.lock .venv/bin/python benchmarks/quantization_methods.py"
                   + ("".join(f" {shlex.quote(a)}" for a in sys.argv[1:])),
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "host": host(), "quick": args.quick,
        "seed": SEED}
    with tempfile.TemporaryDirectory(prefix="edgeopt-bench-qmethods-") as tmp:
        work = Path(tmp)
        if set(args.parts) & set("abc"):
            model, info = trained_model(args.quick)
            print(f"mnist5k MobileNetV1 α=0.5: {info['source']}; accuracy on the 1,000-image test split, in ONNX "
                  f"Runtime")
            m = Mnist(model, work, adaround_iterations)
            results["mnist"] = {"model": info["source"], "test_samples": len(m.splits.test),
                                "calibration_samples": len(m.calib), "adaround_iterations": adaround_iterations}
            for part, key, run in (("a", "per_tensor", part_a), ("b", "w4a8", part_b), ("c", "calibration", part_c)):
                if part in args.parts:
                    results[key] = guarded(run, m)
        if "d" in args.parts:
            results["executorch_mobilenet_v2"] = guarded(part_d, work, width, resolution, calib_count, eval_count)
    results["seconds"] = round(time.perf_counter() - started)
    targets = {name: results[key]["target"]["met"] if "target" in results[key] else results[key]["met"]
               for name, key in (("a_per_tensor", "per_tensor"), ("b_w4a8_adaround", "w4a8"),
                                 ("c_calibration_auto", "calibration"), ("d_executorch", "executorch_mobilenet_v2"))
               if key in results}
    results["targets_met"] = targets
    print("targets:", ", ".join(f"{k} {_verdict(v)}" for k, v in targets.items()), f"({results['seconds']} s)")
    if args.quick or set(args.parts) != set("abcd"):
        print("(--quick or a subset of parts: not saved)")
        return
    write_json_atomic(RESULTS, results)
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
