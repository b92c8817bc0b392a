"""Issue 13 evidence: how well does a latency figure repeat on this host, by measurement method?

A predictor can only be held to the band its truth repeats within. This script exports
``--archs`` architectures of the MobileNetV2 space (edgeopt's ``export_onnx``) and measures every
file twice with each method, the two measurements a whole pass of all files apart:

* ``gated``: :func:`edgeopt.latency.measure_files` — ONNX Runtime sessions as edgeopt runs them
  (idle threads spin), gated rounds between speed probes, the minimum over passes of medians;
* ``relative``: :func:`edgeopt.latency.relative.measure_relative` — sessions that do not spin,
  each file's ratio to a reference network timed in alternating blocks, the median over passes
  (reported both as the ratio and in ms on the first measurement's scale).

Per method: the median and worst difference between the two measurements (``|a − b| / min``),
and the share of files within 5% and 10%; and per file the relative figure over the gated one
(how much slower sessions that do not spin run than the spinning sessions edgeopt deploys).
Saved to ``benchmarks/results/latency_noise.json``.

Usage:
    flock /tmp/edgeopt-heavy.lock python benchmarks/latency_noise.py --archs 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from latency_predictor import run_header, sample_archs, width_at_resolution

from edgeopt.latency import export_arch, get_space, measure_files
from edgeopt.latency.relative import measure_relative
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "latency_noise.json"
THREADS = 2


def repeatability(first: list[float], second: list[float]) -> dict[str, float]:
    """How far two measurements of the same files lie apart."""
    gaps = [abs(a - b) / min(a, b) for a, b in zip(first, second, strict=True)]
    return {"median": float(np.median(gaps)), "worst": float(max(gaps)),
            "within_5": float(np.mean([g <= 0.05 for g in gaps])),
            "within_10": float(np.mean([g <= 0.10 for g in gaps]))}


def not_spinning_over_spinning(result: dict[str, Any]) -> dict[str, float]:
    """Per file, the relative figure (sessions that do not spin, the mean of its two measurements)
    over the gated one (sessions that spin, as deployed; the faster of its two): how far a
    standalone table's unit lies from the deployed latency on this host."""
    gated = np.minimum(result["gated"]["first_ms"], result["gated"]["second_ms"])
    relative = (np.array(result["relative"]["first_ms"]) + np.array(result["relative"]["second_ms"])) / 2
    ratios = relative / gated
    return {"median": float(np.median(ratios)), "min": float(ratios.min()), "max": float(ratios.max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=8)
    parser.add_argument("--pairs", nargs="+", type=width_at_resolution, default=[(0.35, 224), (1.3, 128), (1.0, 160)],
                        metavar="WIDTH@RES")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    space = get_space("mobilenet_v2")
    archs = sample_archs(space, args.archs, args.pairs, args.seed)
    result: dict[str, Any] = {**run_header("latency_noise.py"), "threads": THREADS, "archs": len(archs),
                              "pairs": args.pairs}
    with tempfile.TemporaryDirectory(prefix="edgeopt-noise-") as tmp:
        files = [export_arch(a, space, "onnxruntime", "fp32", Path(tmp) / f"a{i}.onnx") for i, a in enumerate(archs)]
        print(f"{len(files)} files exported", flush=True)
        for method in ("gated", "relative"):
            start = time.monotonic()
            if method == "gated":
                first = measure_files(files, THREADS, 3, 5)
                second = measure_files(files, THREADS, 3, 5)
                extra: dict[str, Any] = {}
            else:
                a = measure_relative(files, threads=THREADS, passes=2)
                b = measure_relative(files, threads=THREADS, passes=2)
                first, second = a.ms, [r * a.reference_ms for r in b.ratios]
                extra = {"reference_ms": [a.reference_ms, b.reference_ms],
                         "ratio_repeatability": repeatability(a.ratios, b.ratios)}
            seconds = time.monotonic() - start
            result[method] = {"first_ms": first, "second_ms": second, "seconds": round(seconds, 1),
                              "repeatability": repeatability(first, second), **extra}
            r = result[method]["repeatability"]
            print(f"{method:9s} median gap {r['median']:5.1%}  worst {r['worst']:5.1%}  "
                  f"within 5% {r['within_5']:4.0%}  within 10% {r['within_10']:4.0%}  ({seconds:.0f} s)", flush=True)
    result["not_spinning_over_spinning"] = units = not_spinning_over_spinning(result)
    print(f"relative (not spinning) / gated (spinning): median {units['median']:.2f} "
          f"({units['min']:.2f}–{units['max']:.2f})", flush=True)
    write_json_atomic(args.out, result)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
