"""Structured pruning: edgeopt against torch-pruning (DepGraph), in MACs, accuracy and latency.

1. MobileNetV2 1.0 at 3×224×224, ratio 0.5, L1 importance: edgeopt (plain, round_to=8,
   round_to=16) and torch-pruning's ``MetaPruner`` with ``MagnitudeImportance(p=1)`` at the same
   ratio (classifier ignored, as its outputs are the classes). MACs ratio against the unpruned
   model (target ≤ 0.3×) and ONNX Runtime fp32 latency. Weights are random, BN statistics
   recalibrated on Gaussian noise (see onnx_vs_torch.py: raw init makes denormals).
2. The trained mnist5k MobileNetV1 (α=0.5), ratio 0.5, L1, then 2 fine-tuning epochs with
   ``edgeopt.fit`` (same config for both tools): test accuracy (target within 0.3 points of the
   unpruned model) and ONNX Runtime latency.

Latency protocol (DESIGN.md): every artifact of a part is timed in ONNX Runtime, 2 threads,
batch 1, interleaved in rounds with speed probes (``edgeopt.runtime.interleaved_latency``), in
``--passes`` passes ``--pause`` s apart; the headline is the minimum of the pass medians.

Usage:
    python benchmarks/pruning.py            # full run (~15-25 min on a quiet 2-core machine)
    python benchmarks/pruning.py --quick    # smoke run: small input, few steps, 1 short pass
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import onnxruntime
import torch
import torch_pruning as tp
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from onnx_vs_torch import calibrate_batchnorm

from edgeopt import export
from edgeopt.analysis import profile
from edgeopt.checkpoint import load_checkpoint
from edgeopt.data import load_dataset
from edgeopt.models import create_model
from edgeopt.prune import structured
from edgeopt.prune.bn_recalibration import recalibrate_batchnorm
from edgeopt.runtime import OnnxRuntimeRunner, interleaved_latency
from edgeopt.train import TrainConfig, evaluate, fit
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "pruning.json"
MNIST_MODEL = Path("/tmp/edgeopt_models/mnist5k_mobilenet.pt")
THREADS = 2
RATIO = 0.5


def torch_pruning_l1(model: nn.Module, example: torch.Tensor, ratio: float) -> nn.Module:
    """torch-pruning's documented DepGraph flow: MetaPruner + L1 magnitude, classifier ignored."""
    model = copy.deepcopy(model).eval()
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    pruner = tp.pruner.MetaPruner(model, example, importance=tp.importance.MagnitudeImportance(p=1),
                                  pruning_ratio=ratio, ignored_layers=[head])
    pruner.step()
    return model


def costs(model: nn.Module, size: tuple[int, ...]) -> dict[str, int]:
    p = profile(model, input_size=size)
    return {"macs": p.macs, "params": p.params}


def time_variants(paths: dict[str, Path], x: torch.Tensor, passes: int, pause: float,
                  rounds: int, runs: int) -> dict[str, Any]:
    """Interleaved ORT latency of every artifact, ``passes`` times; min of pass medians."""
    runners = {name: OnnxRuntimeRunner(path, THREADS) for name, path in paths.items()}
    per_pass = []
    for p in range(passes):
        if p:
            time.sleep(pause)
        load = os.getloadavg()[0]
        stats = interleaved_latency(runners, x.numpy(), rounds=rounds, runs_per_round=runs, warmup=10)
        per_pass.append({"load_average_1min": load, **{
            name: {"median_ms": s.median_ms, "p90_ms": s.p90_ms, "spread_ms": list(s.spread_ms),
                   "retries": s.retries, "slow_blocks": s.slow_blocks} for name, s in stats.items()}})
        print(f"  latency pass {p + 1}/{passes} done (load {load:.1f})")
    best = {name: min(pp[name]["median_ms"] for pp in per_pass) for name in paths}
    return {"passes": per_pass, "min_of_medians_ms": best}


def part_mobilenet_v2(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    size = (1, 3, args.resolution, args.resolution)
    torch.manual_seed(0)
    base = create_model("mobilenet_v2", num_classes=1000, width_mult=1.0)
    calibrate_batchnorm(base, [torch.randn(16, *size[1:]) for _ in range(4)])
    x = torch.randn(size)
    variants: dict[str, nn.Module] = {"unpruned": base}
    timings: dict[str, float] = {}
    for name, kwargs in (("edgeopt", {}), ("edgeopt_round8", {"round_to": 8}),
                         ("edgeopt_round16", {"round_to": 16})):
        start = time.perf_counter()
        variants[name] = structured(base, RATIO, x, "l1", **kwargs)
        timings[name] = time.perf_counter() - start
    start = time.perf_counter()
    variants["torch_pruning"] = torch_pruning_l1(base, x, RATIO)
    timings["torch_pruning"] = time.perf_counter() - start
    return _measure(variants, x, size, tmp / "mv2", args, {"prune_seconds": timings})


def part_mnist(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    splits = load_dataset("mnist5k", seed=0)
    base = load_checkpoint(MNIST_MODEL).model.eval()
    size = splits.input_shape(1)
    x = splits.test.tensors[0][:1].clone()
    config = TrainConfig(epochs=2, lr=1e-3, augment_shift=1, seed=0, progress=False,
                         max_steps=args.max_steps)
    variants: dict[str, nn.Module] = {"unpruned": base}
    accuracy = {"unpruned": evaluate(base, splits.test).accuracy}
    for name, prune in (("edgeopt", lambda m: structured(m, RATIO, x, "l1")),
                        ("torch_pruning", lambda m: torch_pruning_l1(m, x, RATIO))):
        pruned = prune(base)
        accuracy[f"{name}_before_recalibration"] = evaluate(pruned, splits.test).accuracy
        # Both arms get edgeopt's fine-tuning procedure: BN statistics re-estimated, then fit.
        recalibrate_batchnorm(pruned, splits.train)
        accuracy[f"{name}_before_finetune"] = evaluate(pruned, splits.test).accuracy
        fit(pruned, splits.train, splits.val, config)
        accuracy[name] = evaluate(pruned, splits.test).accuracy
        variants[name] = pruned.eval()
        print(f"  {name}: test accuracy {accuracy[name]:.2%} "
              f"(before fine-tuning {accuracy[f'{name}_before_finetune']:.2%})")
    extra = {"test_accuracy": accuracy, "finetune": config.model_dump(),
             "drop_points": {k: 100 * (accuracy["unpruned"] - accuracy[k]) for k in ("edgeopt", "torch_pruning")}}
    return _measure(variants, x, size, tmp / "mnist", args, extra)


def _measure(variants: dict[str, nn.Module], x: torch.Tensor, size: tuple[int, ...], tmp: Path,
             args: argparse.Namespace, extra: dict[str, Any]) -> dict[str, Any]:
    base_cost = costs(variants["unpruned"], size)
    table, paths = {}, {}
    for name, model in variants.items():
        art = export.onnx(model, x, tmp / f"{name}.onnx")
        paths[name] = art.path
        cost = costs(model, size)
        table[name] = {**cost, "macs_ratio": cost["macs"] / base_cost["macs"],
                       "params_ratio": cost["params"] / base_cost["params"],
                       "onnx_bytes": art.size_bytes, "parity": art.parity.summary() if art.parity else None}
        print(f"  {name:16} MACs {cost['macs'] / 1e6:8.1f}M ({table[name]['macs_ratio']:.3f}×) "
              f"params {cost['params'] / 1e6:6.3f}M  onnx {art.size_bytes / 2**20:6.2f} MiB")
    latency = time_variants(paths, x, args.passes, args.pause, args.rounds, args.runs)
    for name in variants:
        table[name]["ort_ms_min_of_medians"] = latency["min_of_medians_ms"][name]
        table[name]["speedup_vs_unpruned"] = (latency["min_of_medians_ms"]["unpruned"]
                                              / latency["min_of_medians_ms"][name])
    return {"input_size": list(size), "variants": table, "latency": latency, **extra}


def print_summary(results: dict[str, Any]) -> None:
    for part, res in results.items():
        print(f"\n{part} (input {'×'.join(map(str, res['input_size']))})")
        print(f"{'variant':18} {'MACs ratio':>10} {'params':>10} {'ORT ms':>9} {'speed-up':>9} {'accuracy':>9}")
        acc = res.get("test_accuracy", {})
        for name, v in res["variants"].items():
            a = f"{acc[name]:.2%}" if name in acc else "-"
            print(f"{name:18} {v['macs_ratio']:>10.3f} {v['params']:>10,} {v['ort_ms_min_of_medians']:>9.3f} "
                  f"{v['speedup_vs_unpruned']:>8.2f}× {a:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Smoke run: 96×96 input, 5 fine-tune steps, 1 short pass.")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--pause", type=float, default=30.0, help="Seconds between latency passes.")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.resolution, args.max_steps = 224, None
    if args.quick:
        args.resolution, args.max_steps, args.passes, args.rounds, args.runs, args.pause = 96, 5, 1, 2, 5, 0.0
    out = args.out or (RESULTS.with_name("pruning_quick.json") if args.quick else RESULTS)
    torch.set_num_threads(1)  # pruning and fine-tuning; ORT timing sets its own 2 threads

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        print("MobileNetV2 1.0, ratio 0.5, L1")
        results["mobilenet_v2"] = part_mobilenet_v2(Path(tmp), args)
        print("mnist5k MobileNetV1 0.5, ratio 0.5, L1, 2 fine-tuning epochs")
        results["mnist5k_mobilenet_v1"] = part_mnist(Path(tmp), args)
    print_summary(results)
    write_json_atomic(out, {
        "benchmark": "pruning_structured",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "note": "shared, loaded machine when run by the helper: latency figures are noisy; "
                            "MACs, params and accuracies are exact"},
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                     "torch_pruning": getattr(tp, "__version__", "?")},
        "protocol": {"threads": THREADS, "batch_size": 1, "passes": args.passes, "pause_s": args.pause,
                     "rounds": args.rounds, "runs_per_block": args.runs, "ratio": RATIO, "importance": "l1",
                     "note": "interleaved rounds with speed probes; headline = min of pass medians"},
        "results": results,
    })
    print(f"\nsaved {out}")


if __name__ == "__main__":
    main()
