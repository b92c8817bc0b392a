"""Issue 13 evidence: do the per-layer profile's layer times add up to the whole-model latency?

For ``--archs`` architectures of the MobileNetV2 space (widths and resolutions cycled over
``--pairs``), each exported with edgeopt's own flow (:func:`edgeopt.latency.export_arch`) for every
``--configs`` runtime and precision, :func:`edgeopt.latency.layer_breakdown` measures the file per
layer — traced blocks and plain blocks interleaved in one run — and reports the layer sum beside
the untraced whole-model latency of the same run. Printed per configuration: the coverage
(layer sum ÷ whole model) median, min and max, the share of files within ±10%, the rest
(whole − layer sum, ms: time outside every kernel when positive; tracer slow-down of the kernels
when negative), and the coverage before ONNX Runtime's profiler cost was taken off the kernels
(:mod:`edgeopt.runtime.tracer_cost`). Saved to ``benchmarks/results/layer_profile_sum.json``.

Usage:
    flock /tmp/edgeopt-heavy.lock python benchmarks/layer_profile_sum.py --archs 6
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from latency_predictor import SUFFIX, run_header, sample_archs, width_at_resolution

from edgeopt.latency import build_model, export_arch, get_space, layer_breakdown
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "layer_profile_sum.json"
THREADS = 2


def measure_config(runtime: str, precision: str, archs: list[Any], space: Any, work: Path) -> dict[str, Any]:
    rows = []
    for index, arch in enumerate(archs):
        path = export_arch(arch, space, runtime, precision, work / f"{runtime}-{precision}-{index}"
                                                                  f"{SUFFIX[runtime, precision]}")
        model = build_model(arch, space).eval()
        size = (1, space.in_chans, arch.resolution, arch.resolution)
        profile = layer_breakdown(path, model, input_size=size, threads=THREADS)
        rows.append({"arch": index, "width": arch.width, "resolution": arch.resolution,
                     "traced": profile.traced, "layers": len(profile.layers),
                     "layer_sum_ms": profile.layer_sum_ms, "whole_model_ms": profile.whole_model_ms,
                     "rest_ms": profile.rest_ms, "coverage": profile.coverage, "note": profile.note,
                     "tracer_cost_ms": profile.tracer_cost_ms,
                     "raw_coverage": (profile.layer_sum_ms + (profile.tracer_cost_ms or 0.0)) / profile.whole_model_ms
                     if profile.whole_model_ms else None})
        path.unlink(missing_ok=True)
    coverage = [r["coverage"] for r in rows if r["coverage"] is not None]
    summary = {"coverage_median": float(np.median(coverage)), "coverage_min": min(coverage),
               "coverage_max": max(coverage),
               "within_10": float(np.mean([abs(c - 1) <= 0.10 for c in coverage])),
               "rest_ms_median": float(np.median([r["rest_ms"] for r in rows if r["rest_ms"] is not None])),
               "raw_coverage_min": min(r["raw_coverage"] for r in rows if r["raw_coverage"] is not None),
               "raw_coverage_max": max(r["raw_coverage"] for r in rows if r["raw_coverage"] is not None)}
    print(f"{runtime:12s} {precision}: coverage median {summary['coverage_median']:.3f} "
          f"({summary['coverage_min']:.3f}–{summary['coverage_max']:.3f}), within ±10% {summary['within_10']:.0%}, "
          f"rest median {summary['rest_ms_median']:+.3f} ms"
          + (f"; before taking off the profiler's cost "
             f"{summary['raw_coverage_min']:.3f}–{summary['raw_coverage_max']:.3f}"
             if any(r["tracer_cost_ms"] for r in rows) else ""), flush=True)
    return {"files": rows, **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=6)
    parser.add_argument("--pairs", nargs="+", type=width_at_resolution, default=[(0.35, 224), (1.0, 160), (1.3, 128)],
                        metavar="WIDTH@RES")
    parser.add_argument("--configs", nargs="+",
                        default=["onnxruntime:fp32", "onnxruntime:int8", "executorch:fp32", "executorch:int8"])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = get_space("mobilenet_v2")
    archs = sample_archs(space, args.archs, args.pairs, args.seed)
    result: dict[str, Any] = {**run_header("layer_profile_sum.py"), "threads": THREADS, "archs": len(archs),
                              "pairs": args.pairs, "configs": {}}
    with tempfile.TemporaryDirectory(prefix="edgeopt-layer-sum-") as tmp:
        for config in args.configs:
            runtime, precision = config.split(":")
            start = time.monotonic()
            result["configs"][config] = measure_config(runtime, precision, archs, space, Path(tmp))
            result["configs"][config]["seconds"] = round(time.monotonic() - start, 1)
            write_json_atomic(args.out, result)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
