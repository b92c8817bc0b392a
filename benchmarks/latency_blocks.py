"""Issue 13 evidence: how repeatable is the truth, and do blocks timed alone add up to the network?

The latency table (``edgeopt.latency.build_table``) times *units* traced inside probe networks;
``benchmarks/latency_predictor.py`` found those figures noisy (36% median spread between passes)
and their sum not proportional to the network (0.42–0.98 of it). This script measures, on
ONNX Runtime fp32 at 2 threads, for ``--archs`` architectures of the MobileNetV2 space:

1. **The truth's repeatability**: every architecture's file (``export_arch``: edgeopt's
   ``export_onnx``) measured twice, each time as :func:`edgeopt.latency.measure_files` does it
   (the minimum over ``--passes`` passes of the median of gated rounds), the two measurements
   a whole pass of all files apart. No predictor can be held to a tighter band than this.
2. **Blocks timed alone**: the stem, every block and the tail (head conv, pool, classifier) of
   every architecture, each written as its own ONNX file (``latency.onnx_writer``) with the
   input shape it has in the network, deduplicated, timed with the same ``measure_files``.
   The prediction is ``α·Σparts + β·parts + γ`` fitted on the train split (relative least
   squares): β absorbs the per-call cost each standalone file pays once.

Figures (MAPE, within ±5% / ±10%, worst) on the test split, beside MACs × a fitted constant.
Saved to ``benchmarks/results/latency_blocks.json``.

Usage:
    flock /tmp/edgeopt-heavy.lock python benchmarks/latency_blocks.py --archs 24 --pairs 0.35@224 1.3@128
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from latency_predictor import errors, mac_constant, run_header, sample_archs, split, width_at_resolution

from edgeopt.analysis import profile
from edgeopt.latency import build_model, export_arch, get_space, measure_files
from edgeopt.latency.parts import arch_part_specs
from edgeopt.latency.relative import measure_relative
from edgeopt.latency.standalone import part_file
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "latency_blocks.json"
THREADS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=24)
    parser.add_argument("--pairs", nargs="+", type=width_at_resolution, default=[(0.35, 224), (1.3, 128)],
                        metavar="WIDTH@RES")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=["gated", "relative"], default="relative",
                        help="gated: measure_files (spinning sessions, speed-probe gates, minimum over passes); "
                             "relative: measure_relative (ratio to a reference, sessions that do not spin)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, help="keep the written files here and reuse them (default: a temp dir)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = get_space("mobilenet_v2")
    pairs = args.pairs
    archs = sample_archs(space, args.archs, pairs, args.seed)
    train, test = split(len(archs), 0.5, args.seed)
    clock = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgeopt-blocks-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        whole, arch_parts, part_files, macs = [], [], {}, []
        for arch in archs:
            net = build_model(arch, space).eval()
            macs.append(float(profile(net, (1, 3, arch.resolution, arch.resolution)).macs))
            file = work / f"arch-{hashlib.sha1(repr(arch).encode()).hexdigest()[:16]}.onnx"
            whole.append(file if file.is_file() else export_arch(arch, space, "onnxruntime", "fp32", file))
            keys = []
            for spec in arch_part_specs(arch, space):  # the parts a standalone table times
                if spec.key not in part_files:
                    part_files[spec.key] = part_file(spec, "onnxruntime", "fp32", work)
                keys.append(spec.key)
            arch_parts.append(keys)
        print(f"{len(archs)} architectures, {len(part_files)} distinct parts written "
              f"({time.monotonic() - clock:.0f} s)", flush=True)
        start = time.monotonic()
        keys = list(part_files)
        if args.method == "relative":  # every figure a ratio to one reference, in its unit
            first_r = measure_relative(whole, threads=THREADS, passes=args.passes,
                                       progress=reporter("whole models, first", start))
            scale = first_r.reference_ms
            first = first_r.ms
            part_list = measure_relative([part_files[k] for k in keys], threads=THREADS, passes=args.passes,
                                         reference_ms=scale, progress=reporter("parts alone", start)).ms
            second = measure_relative(whole, threads=THREADS, passes=args.passes, reference_ms=scale,
                                      progress=reporter("whole models, second", start)).ms
        else:
            first = measure_files(whole, THREADS, args.passes, args.rounds, runs=args.runs,
                                  progress=reporter("whole models, first", start))
            part_list = measure_files([part_files[k] for k in keys], THREADS, args.passes, args.rounds,
                                      runs=args.runs, progress=reporter("parts alone", start))
            second = measure_files(whole, THREADS, args.passes, args.rounds, runs=args.runs,
                                   progress=reporter("whole models, second", start))
        part_ms = dict(zip(keys, part_list, strict=True))
        measure_s = time.monotonic() - start
    truth = [min(a, b) for a, b in zip(first, second, strict=True)]
    repeat = [abs(a - b) / min(a, b) for a, b in zip(first, second, strict=True)]
    sums = [sum(part_ms[k] for k in keys) for keys in arch_parts]
    counts = [len(keys) for keys in arch_parts]
    coef = fit(train, sums, counts, truth)
    predicted = [coef[0] * s + coef[1] * n + coef[2] for s, n in zip(sums, counts, strict=True)]
    constant = mac_constant([macs[i] for i in train], [truth[i] for i in train])
    pick = lambda values: [values[i] for i in test]  # noqa: E731
    result: dict[str, Any] = {
        **run_header("latency_blocks.py"),
        "threads": THREADS, "method": args.method, "pairs": pairs, "archs": len(archs), "train": train, "test": test,
        "distinct_parts": len(part_files), "measure_seconds": round(measure_s, 1),
        "truth_first_ms": first, "truth_second_ms": second,
        "truth_repeatability": {"median": float(np.median(repeat)), "max": float(max(repeat)),
                                "within_5": float(np.mean([r <= 0.05 for r in repeat])),
                                "within_10": float(np.mean([r <= 0.10 for r in repeat]))},
        "sum_over_truth": [round(s / t, 3) for s, t in zip(sums, truth, strict=True)],
        "fit": {"alpha": coef[0], "beta_ms_per_part": coef[1], "gamma_ms": coef[2]},
        "standalone_parts": errors(pick(predicted), pick(truth)),
        "baseline_macs": errors([constant * m for m in pick(macs)], pick(truth)),
    }
    r = result["truth_repeatability"]
    print(f"truth measured twice: median difference {r['median']:.1%}, max {r['max']:.1%}, "
          f"within 5% {r['within_5']:.0%}, within 10% {r['within_10']:.0%}")
    for pair in pairs:
        ratios = [s / t for a, s, t in zip(archs, sums, truth, strict=True) if (a.width, a.resolution) == pair]
        print(f"  {pair[0]:g}@{pair[1]}: Σparts / whole {min(ratios):.2f}–{max(ratios):.2f}")
    for name in ("standalone_parts", "baseline_macs"):
        e = result[name]
        print(f"{name:17s} MAPE {e['mape']:6.1%}  ±5% {e['within_5']:5.0%}  ±10% {e['within_10']:5.0%}  "
              f"worst {e['worst']:+.1%}")
    write_json_atomic(args.out, result)
    print(f"saved {args.out} ({time.monotonic() - clock:.0f} s)")


def reporter(stage: str, start: float) -> Callable[[int, int], None]:
    """A progress line every 10% of a stage (and at its end), with the time since ``start``."""
    def report(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            print(f"  {stage}: {done}/{total} file measurements ({time.monotonic() - start:.0f} s)", flush=True)
    return report


def fit(train: list[int], sums: list[float], counts: list[int], truth: list[float]) -> tuple[float, float, float]:
    """α, β, γ minimising Σ((α·s + β·n + γ − t)/t)² over the train split."""
    rows = np.array([[sums[i] / truth[i], counts[i] / truth[i], 1.0 / truth[i]] for i in train])
    solution, *_ = np.linalg.lstsq(rows, np.ones(len(train)), rcond=None)
    return float(solution[0]), float(solution[1]), float(solution[2])


if __name__ == "__main__":
    main()
