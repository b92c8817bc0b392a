"""Do session options beyond threads change latency? ONNX Runtime's graph optimization levels.

``edgeopt optimize`` searches runtimes, precisions and thread counts but runs every ONNX Runtime
session with ``ORT_ENABLE_ALL`` (``edgeopt.runtime.onnxruntime_runner.session_options``). This
script checks that choice instead of assuming it: each file given is opened at the levels
``basic``, ``extended`` and ``all`` at 1 and 2 threads, and timed interleaved (one round = 100
runs of each session in turn, after 20 warm-up runs; ``--rounds`` rounds); a figure is the
lowest round median. Saved to ``benchmarks/results/session_options.json``.

Usage:
    flock /tmp/edgeopt-heavy.lock python benchmarks/session_options.py FILE.onnx [FILE.onnx ...]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from edgeopt.latency.key import cpu_info
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "session_options.json"
LEVELS = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
          "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
          "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}


def session(path: Path, level: str, threads: int) -> ort.InferenceSession:
    """A session as edgeopt opens one, but at graph optimization ``level``."""
    from edgeopt.runtime.onnxruntime_runner import session_options

    options = session_options(threads)
    options.graph_optimization_level = LEVELS[level]
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def time_levels(path: Path, threads: int, rounds: int) -> dict[str, float]:
    """Lowest round median (ms) of each level, the sessions timed in turn within every round."""
    sessions = {level: session(path, level, threads) for level in LEVELS}
    first = sessions["all"].get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in first.shape]
    feed = {first.name: np.random.default_rng(0).random(shape, dtype=np.float32)}
    medians: dict[str, list[float]] = {level: [] for level in LEVELS}
    for _ in range(rounds):
        for level, s in sessions.items():
            for _ in range(20):
                s.run(None, feed)
            times = []
            for _ in range(100):
                start = time.perf_counter()
                s.run(None, feed)
                times.append(time.perf_counter() - start)
            medians[level].append(float(np.median(times)) * 1e3)
    return {level: min(values) for level, values in medians.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for path in args.files:
        for threads in (1, 2):
            figures = time_levels(path, threads, args.rounds)
            rows.append({"file": str(path), "threads": threads, "ms": figures,
                         "all_vs_best_other": figures["all"] / min(figures["basic"], figures["extended"])})
            print(f"{path.name} ×{threads}: " + ", ".join(f"{k} {v:.4f} ms" for k, v in figures.items())
                  + f"; all / best other {rows[-1]['all_vs_best_other']:.2f}", flush=True)
    write_json_atomic(args.out, {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                                 "cpu": cpu_info()[0], "onnxruntime": ort.__version__, "rounds": args.rounds,
                                 "rows": rows})
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
