"""ONNX Runtime vs eager PyTorch: latency of the same model, measured interleaved.

Models (built from code; no downloads):

- MobileNetV2 1.0 at 3×224×224 (1000 classes), the usual reference point;
- the demo's MobileNetV1 α=0.5 with a stride-1 stem at 1×28×28 (10 classes).

Weights are random, but BatchNorm statistics are recalibrated on inputs of the right kind
(MNIST images for the demo model, unit Gaussian noise for ImageNet-size input): with the raw
initialisation activations shrink layer by layer into subnormal floats, which CPUs process
many times slower and would make the comparison about denormals, not runtimes.

Protocol (DESIGN.md, "Machine facts"): both runners, 2 threads, batch 1, are timed interleaved
in rounds with speed probes (``edgeopt.runtime.interleaved_latency``); the whole measurement is
repeated in ``--passes`` passes ``--pause`` seconds apart; the steadiest figure per runtime is the
minimum of its pass medians, and the speed-up is also given per pass (the two runtimes of one
pass saw the same machine).

Usage:
    python benchmarks/onnx_vs_torch.py                 # 3 passes, 60 s apart
    python benchmarks/onnx_vs_torch.py --passes 1      # quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import onnxruntime
import torch
from torch import nn

from edgeopt import export
from edgeopt.data import load_dataset
from edgeopt.models import create_model
from edgeopt.runtime import OnnxRuntimeRunner, TorchRunner, interleaved_latency, scoped_threads
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "onnx_vs_torch.json"
THREADS = 2


def calibrate_batchnorm(model: nn.Module, batches: list[torch.Tensor]) -> nn.Module:
    """Replace BN running statistics with those of ``batches`` (cumulative average); eval mode."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad(), scoped_threads(THREADS):
        for batch in batches:
            model(batch)
    return model.eval()


def build_models() -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """Name -> (calibrated model, batch-1 input)."""
    torch.manual_seed(0)
    mnist = load_dataset("mnist5k").test.tensors[0]
    mv1 = create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.5, stem_stride=1)
    calibrate_batchnorm(mv1, list(mnist[:512].split(128)))
    mv2 = create_model("mobilenet_v2", num_classes=1000, in_chans=3, width_mult=1.0)
    calibrate_batchnorm(mv2, [torch.randn(16, 3, 224, 224) for _ in range(4)])
    return {
        "mobilenet_v2_1.0_224": (mv2, torch.randn(1, 3, 224, 224)),
        "mobilenet_v1_0.5_28 (demo)": (mv1, mnist[:1].clone()),
    }


def run_pass(runners: dict[str, dict[str, Any]], inputs: dict[str, Any], rounds: int, runs: int) -> dict:
    """One interleaved pass over every model's two runners; returns name -> runtime -> stats."""
    flat = {f"{model}|{rt}": r for model, pair in runners.items() for rt, r in pair.items()}
    flat_inputs = {key: inputs[key.split("|")[0]] for key in flat}
    stats = interleaved_latency(flat, flat_inputs, rounds=rounds, runs_per_round=runs, warmup=10)
    out: dict[str, dict[str, Any]] = {}
    for key, s in stats.items():
        model, rt = key.split("|")
        out.setdefault(model, {})[rt] = {
            "median_ms": s.median_ms, "p90_ms": s.p90_ms, "min_ms": s.min_ms, "runs": s.runs,
            "spread_ms": list(s.spread_ms), "retries": s.retries, "slow_blocks": s.slow_blocks,
        }
    return out


def summarise(passes: list[dict], models: list[str]) -> dict[str, Any]:
    """Per model: min of pass medians per runtime, and the per-pass speed-ups (torch / ORT)."""
    summary = {}
    for model in models:
        medians = {rt: [p[model][rt]["median_ms"] for p in passes] for rt in ("torch", "onnxruntime")}
        # one median per pass and runtime: the two lists always pair up
        speedups = [t / o for t, o in zip(medians["torch"], medians["onnxruntime"], strict=True)]
        summary[model] = {
            "torch_ms_min_of_medians": min(medians["torch"]),
            "onnxruntime_ms_min_of_medians": min(medians["onnxruntime"]),
            "speedup_min_of_medians": min(medians["torch"]) / min(medians["onnxruntime"]),
            "speedup_per_pass": speedups,
        }
    return summary


def print_table(passes: list[dict], summary: dict[str, Any]) -> None:
    print(f"\n{'model':28} {'pass':>4} {'torch ms (spread)':>24} {'ORT ms (spread)':>24} {'speed-up':>9} {'load':>5}")
    for model, figures in summary.items():
        for i, p in enumerate(passes, 1):
            t, o = p[model]["torch"], p[model]["onnxruntime"]
            cells = [f"{s['median_ms']:.3f} ({s['spread_ms'][0]:.2f}–{s['spread_ms'][1]:.2f})" for s in (t, o)]
            speedup = t["median_ms"] / o["median_ms"]
            print(f"{model:28} {i:>4} {cells[0]:>24} {cells[1]:>24} {speedup:>8.2f}× {p['load_average_1min']:>5.1f}")
        print(f"{model:28} {'min':>4} {figures['torch_ms_min_of_medians']:>24.3f} "
              f"{figures['onnxruntime_ms_min_of_medians']:>24.3f} {figures['speedup_min_of_medians']:>8.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=3, help="Independent passes (default 3).")
    parser.add_argument("--pause", type=float, default=60.0, help="Seconds between passes.")
    parser.add_argument("--rounds", type=int, default=7, help="Interleaved rounds per pass.")
    parser.add_argument("--runs", type=int, default=20, help="Timed runs per block.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    models = build_models()
    runners: dict[str, dict[str, Any]] = {}
    parity: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (model, x)) in enumerate(models.items()):
            art = export.onnx(model, x, Path(tmp) / f"model{i}.onnx")
            parity[name] = {"onnx_size_bytes": art.size_bytes, **art.parity.to_dict()}
            runners[name] = {"torch": TorchRunner(model, THREADS),
                             "onnxruntime": OnnxRuntimeRunner(art.path, THREADS)}
            print(f"{name}: exported {art.size_bytes / 2**20:.2f} MiB, parity {art.parity.summary()}")
        inputs = {name: x.numpy() for name, (_, x) in models.items()}
        passes = []
        for p in range(args.passes):
            if p:
                time.sleep(args.pause)
            load = os.getloadavg()[0]  # other processes' load: explains a noisy pass
            passes.append({"load_average_1min": load, **run_pass(runners, inputs, args.rounds, args.runs)})
            print(f"pass {p + 1}/{args.passes} done")
    summary = summarise(passes, list(models))
    print_table(passes, summary)
    write_json_atomic(args.out, {
        "benchmark": "onnx_vs_torch",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "protocol": {"threads": THREADS, "batch_size": 1, "passes": args.passes, "pause_s": args.pause,
                     "rounds": args.rounds, "runs_per_block": args.runs,
                     "note": "interleaved rounds with speed probes; headline = min of pass medians"},
        "parity": parity,
        "passes": passes,
        "summary": summary,
    })
    print(f"\nsaved {args.out}")


if __name__ == "__main__":
    main()
