"""The latency predictor's error, measured: held-out architectures, both runtimes, fp32 and int8.

For each runtime and precision (ONNX Runtime, ExecuTorch with XNNPACK; fp32, int8), 2 threads:

1. **Table**: :func:`edgeopt.latency.build_table` on the MobileNetV2 space at the chosen widths
   and resolutions (``--passes`` passes; an entry is the minimum of its pass medians). Its build
   time is recorded per probe network (one per width and resolution).
2. **Truth**: ``--archs`` architectures sampled once (the same for every runtime) — SE on/off,
   ReLU/hardswish, kernel 3/5/7, expansion 3/4/6 per block, widths and resolutions cycled so
   every pair occurs — exported with edgeopt's own flow (:func:`edgeopt.latency.export_arch`:
   ``export_onnx``, ``quantize_onnx_static``, ``export_executorch``, ``ptq_executorch``) and
   measured with :func:`edgeopt.latency.measure_files`: per pass the files interleaved in gated
   rounds (:func:`edgeopt.runtime.bench`), the figure the minimum over ``--passes`` passes of
   each file's median (DESIGN.md, "Machine facts").
3. **Split before fitting**: the architectures are split train/test by the seed before anything
   is measured; the predictor's correction and the MAC baseline's constant are fitted on the
   train split only, and every figure below is on the test split.
4. **Figures**: MAPE, the share within ±5% and ±10%, the worst error, for the predictor and two
   baselines: MACs × a constant fitted on the train split, and the device roofline of this host
   measured as a device (:func:`edgeopt.devices.estimate_latency`; unfitted, as users get it).
   Also the time of one prediction (an architecture, from its choices).

Usage:
    python benchmarks/latency_predictor.py                            # 48 archs, every width and resolution
    python benchmarks/latency_predictor.py --widths 0.35 0.75 1.3 --resolutions 128 224 --archs 40
    python benchmarks/latency_predictor.py --archs 8 --widths 0.5 --resolutions 128 --passes 1 \\
        --configs onnxruntime:fp32 --out /tmp/l.json                 # a quick look
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgeopt.analysis import profile
from edgeopt.devices import estimate_latency
from edgeopt.devices.host import measure_host
from edgeopt.latency import (
    Arch,
    Predictor,
    SearchSpace,
    build_model,
    build_table,
    export_arch,
    fit_correction,
    get_space,
    measure_files,
)
from edgeopt.latency.key import runtime_version
from edgeopt.latency.probes import calibration_batch, quantize_onnx_file
from edgeopt.latency.standalone import measure_whole
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "latency_predictor.json"
CONFIGS = ("onnxruntime:fp32", "executorch:fp32", "onnxruntime:int8", "executorch:int8")
THREADS = 2
SUFFIX = {("onnxruntime", "fp32"): ".onnx", ("onnxruntime", "int8"): ".int8.onnx",
          ("executorch", "fp32"): ".pte", ("executorch", "int8"): ".int8.pte"}


def width_at_resolution(text: str) -> tuple[float, int]:
    """An argparse type: ``"0.35@224"`` → ``(0.35, 224)``."""
    width, _, resolution = text.partition("@")
    try:
        return float(width), int(resolution)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTH@RESOLUTION such as 0.35@224, got {text!r}") from None


def run_header(script: str) -> dict[str, Any]:
    """What every latency benchmark's JSON starts with: the command that reruns it, when, on
    which CPU."""
    from edgeopt.latency.key import cpu_info

    return {"command": " ".join(["python", f"benchmarks/{script}", *sys.argv[1:]]),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu_info()[0]}


def sample_archs(space: SearchSpace, count: int, pairs: list[tuple[float, int]], seed: int) -> list[Arch]:
    """``count`` distinct architectures; (width, resolution) pairs cycled, every block choice random."""
    rng = random.Random(seed)
    archs: list[Arch] = []
    seen: set[str] = set()
    while len(archs) < count:
        width, resolution = pairs[len(archs) % len(pairs)]
        arch = space.sample(rng, width=width, resolution=resolution)
        if arch.to_json() not in seen:
            seen.add(arch.to_json())
            archs.append(arch)
    return archs


def split(count: int, test_share: float, seed: int) -> tuple[list[int], list[int]]:
    """Train and test indices, decided before anything is measured."""
    order = list(range(count))
    random.Random(seed + 1).shuffle(order)
    cut = round(count * test_share)
    return sorted(order[cut:]), sorted(order[:cut])


def errors(predicted: list[float], truth: list[float]) -> dict[str, Any]:
    """MAPE, share within ±5% / ±10%, worst (signed) relative error."""
    rel = [(p - t) / t for p, t in zip(predicted, truth, strict=True)]
    worst = max(rel, key=abs)
    return {"n": len(rel), "mape": float(np.mean(np.abs(rel))),
            "within_5": float(np.mean([abs(r) <= 0.05 for r in rel])),
            "within_10": float(np.mean([abs(r) <= 0.10 for r in rel])),
            "worst": float(worst), "relative_errors": [round(float(r), 4) for r in rel]}


def mac_constant(macs: list[float], truth: list[float]) -> float:
    """c minimising Σ((c·MACs − t)/t)²."""
    x = np.asarray(macs) / np.asarray(truth)
    return float(x.sum() / (x * x).sum())


def calibration_sizes(table: Any, archs: list[Arch], truth: list[float], train: list[int], test: list[int],
                      subsets: int = 100) -> dict[int, dict[str, float]]:
    """How surely a correction fitted on n architectures holds: refit on random n-subsets of the
    train split (the product's ``fit_correction``) and score each on the whole test split."""
    result: dict[int, dict[str, float]] = {}
    for n in (4, 6, 8, 12):
        if n >= len(train):
            continue
        mapes, within = [], []
        for seed in range(subsets):
            chosen = random.Random(seed).sample(train, n)
            fit_correction(table, [(archs[i], truth[i]) for i in chosen])
            predictor = Predictor(table, threads=THREADS)
            row = errors([predictor.predict(archs[i]).ms for i in test], [truth[i] for i in test])
            mapes.append(row["mape"])
            within.append(row["within_10"])
        result[n] = {"subsets": subsets, "mape_median": float(np.median(mapes)),
                     "within_10_median": float(np.median(within)), "within_10_p5": float(np.percentile(within, 5))}
    return result


def export(arch: Arch, index: int, space: SearchSpace, runtime: str, precision: str, work: Path,
           reuse: Path | None) -> Path:
    """The architecture's file, from edgeopt's own flow (:func:`export_arch`). ONNX Runtime int8
    quantizes the fp32 ONNX file of the same architecture, if measured before, with the options
    of ``quantize_onnx_static`` (:func:`edgeopt.latency.probes.quantize_onnx_file`), which would
    otherwise export it again."""
    path = work / f"{runtime}-{precision}-{index}{SUFFIX[runtime, precision]}"
    if reuse is not None and (reuse / path.name).is_file():  # exported by an earlier run of the same archs
        shutil.copyfile(reuse / path.name, path)
        return path
    fp32 = work / f"onnxruntime-fp32-{index}.onnx"
    if runtime == "onnxruntime" and precision == "int8" and fp32.is_file():
        quantize_onnx_file(fp32, path, calibration_batch((1, 3, arch.resolution, arch.resolution), 16).numpy())
        return path
    return export_arch(arch, space, runtime, precision, path)


def run_config(runtime: str, precision: str, space: SearchSpace, archs: list[Arch], train: list[int],
               test: list[int], args: argparse.Namespace, work: Path, host: Any) -> dict[str, Any]:
    print(f"== {runtime} {precision}", flush=True)
    clock = time.monotonic()
    last = [0.0]

    def show(progress: Any) -> None:
        if time.monotonic() - last[0] > 20 or progress.phase == "done":
            last[0] = time.monotonic()
            print(f"  table {progress.done}/{progress.total} {progress.label} ({progress.seconds:.0f} s)", flush=True)

    path = work / f"{runtime}-{precision}.json"
    for resolution in args.resolutions:  # one build per resolution: only the pairs sampled, resumed into one file
        widths = [w for w, r in args.pairs if r == resolution]
        table = build_table(space, runtime=runtime, threads=THREADS, precision=precision, resolutions=[resolution],
                            widths=widths, passes=args.passes, rounds=args.table_rounds, method=args.method, path=path,
                            calibrate=0, progress=show)
    build = {"seconds": round(table.seconds, 1), "probes": {pid: {"seconds": round(p.seconds, 1),
                                                                 "passes": len(p.passes)}
                                                           for pid, p in table.probes.items()},
             "summary": table.summary()}
    print(f"  table: {table.seconds:.0f} s, {len(table.entries)} units", flush=True)
    start = time.monotonic()
    files = [export(a, i, space, runtime, precision, work, args.reuse) for i, a in enumerate(archs)]
    export_s = time.monotonic() - start
    print(f"  exported {len(files)} architectures in {export_s:.0f} s", flush=True)
    start = time.monotonic()
    if table.method == "standalone":  # the truth in the table's unit: ratios to its reference network
        truth = measure_whole(table, files, THREADS, passes=table.passes)
    else:
        truth = measure_files(files, THREADS, table.passes, args.rounds, runs=args.runs)
    measure_s = time.monotonic() - start
    print(f"  measured in {measure_s:.0f} s: {min(truth):.2f}–{max(truth):.2f} ms", flush=True)
    for file in files:
        if file.suffix != ".onnx" or precision == "int8":  # ONNX Runtime's int8 files are quantized from fp32's
            file.unlink(missing_ok=True)

    sizes = calibration_sizes(table, archs, truth, train, test)
    fit_correction(table, [(archs[i], truth[i]) for i in train])
    predictor = Predictor(table, threads=THREADS)
    predictor.predict(archs[0])  # warm
    predictions, sums, coverage, seconds = [], [], [], []
    for arch in archs:
        tick = time.perf_counter()
        estimate = predictor.predict(arch)
        seconds.append(time.perf_counter() - tick)
        predictions.append(estimate.ms)
        sums.append(estimate.units_ms)
        coverage.append(estimate.coverage)
    macs = [float(row["macs"]) for row in args.costs]
    constant = mac_constant([macs[i] for i in train], [truth[i] for i in train])
    roof_precision = precision if precision in host.supported_precisions() else "fp32"
    roofline = [estimate_latency(row["profile"], host, roof_precision).total_ms for row in args.costs]
    pick = lambda values: [values[i] for i in test]  # noqa: E731
    result = {
        "runtime": runtime, "runtime_version": runtime_version(runtime), "precision": precision,
        "table_build": build, "export_seconds": round(export_s, 1), "measure_seconds": round(measure_s, 1),
        "truth_ms": [round(t, 4) for t in truth], "predicted_ms": [round(p, 4) for p in predictions],
        "units_sum_ms": [round(u, 4) for u in sums], "table_coverage_min": min(coverage),
        "correction": table.correction.model_dump() if table.correction else None,
        "predictor": errors(pick(predictions), pick(truth)),
        "baseline_macs": {**errors([constant * m for m in pick(macs)], pick(truth)), "ms_per_gmac": constant * 1e9},
        "baseline_roofline": {**errors(pick(roofline), pick(truth)), "precision": roof_precision},
        "predict_ms": {"median": statistics.median(seconds) * 1e3, "max": max(seconds) * 1e3},
        "calibration_sizes": sizes,
        "seconds": round(time.monotonic() - clock, 1),
    }
    for name in ("predictor", "baseline_macs", "baseline_roofline"):
        r = result[name]
        print(f"  {name:18s} MAPE {r['mape']:6.1%}  ±5% {r['within_5']:5.0%}  ±10% {r['within_10']:5.0%}  "
              f"worst {r['worst']:+.1%}", flush=True)
    print(f"  one prediction: {result['predict_ms']['median']:.3f} ms median, {result['predict_ms']['max']:.3f} max",
          flush=True)
    for n, row in sizes.items():
        print(f"  correction fitted on {n:>2} train archs ({row['subsets']} subsets): "
              f"MAPE median {row['mape_median']:.1%}, within ±10% median {row['within_10_median']:.0%}, "
              f"5th percentile {row['within_10_p5']:.0%}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=48, help="architectures sampled (>= 40 for the figures)")
    parser.add_argument("--test-share", type=float, default=0.5, help="share of them held out")
    parser.add_argument("--widths", type=float, nargs="+", default=None, help="default: the space's")
    parser.add_argument("--resolutions", type=int, nargs="+", default=None, help="default: the space's")
    parser.add_argument("--pairs", nargs="+", type=width_at_resolution, default=None, metavar="WIDTH@RES",
                        help="only these (width, resolution) pairs, e.g. 0.35@224 1.3@128 (default: every "
                             "pair of --widths and --resolutions); the tables then cover just these")
    parser.add_argument("--passes", type=int, default=None,
                        help="passes for the table and the truth (default: the table method's, 2 standalone, 3 traced)")
    parser.add_argument("--rounds", type=int, default=5, help="gated rounds per pass (truth)")
    parser.add_argument("--table-rounds", type=int, default=None,
                        help="rounds per probe or part and pass (table; default: the method's)")
    parser.add_argument("--runs", type=int, default=40, help="timed runs per file and pass (truth)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), help="runtime:precision pairs")
    parser.add_argument("--method", choices=["standalone", "traced"], default=None,
                        help="the tables' method (default: each runtime's, as build_table chooses)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", type=Path, default=None,
                        help="a folder of files an earlier run exported for the same architectures "
                             "(RUNTIME-PRECISION-INDEX.onnx|.pte), used instead of exporting again")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = get_space("mobilenet_v2")
    args.widths = args.widths or list(space.widths)
    args.resolutions = args.resolutions or list(space.resolutions)
    if args.pairs:
        args.widths = sorted({w for w, _ in args.pairs})
        args.resolutions = sorted({r for _, r in args.pairs})
    else:
        args.pairs = [(w, r) for r in args.resolutions for w in args.widths]
    archs = sample_archs(space, args.archs, args.pairs, args.seed)
    train, test = split(len(archs), args.test_share, args.seed)
    args.costs = []
    for arch in archs:
        cost = profile(build_model(arch, space).eval(), (1, 3, arch.resolution, arch.resolution))
        args.costs.append({"macs": cost.macs, "profile": cost})
    host = measure_host()
    print(f"{len(archs)} architectures ({len(train)} train, {len(test)} test), widths {args.widths}, "
          f"resolutions {args.resolutions}, {args.passes} passes", flush=True)
    results: dict[str, Any] = {
        "host": {"machine": platform.machine(), "python": sys.version.split()[0], "torch": torch.__version__,
                 "cpu": __import__("edgeopt.latency.key", fromlist=["cpu_info"]).cpu_info()[0]},
        "command": " ".join(["python", "benchmarks/latency_predictor.py", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "space": "mobilenet_v2", "widths": args.widths, "resolutions": args.resolutions, "pairs": args.pairs,
        "archs": [a.model_dump(mode="json") for a in archs], "macs": [c["macs"] for c in args.costs],
        "train": train, "test": test, "threads": THREADS, "passes": args.passes, "rounds": args.rounds,
        "table_rounds": args.table_rounds, "runs": args.runs,
        "reused_files": str(args.reuse) if args.reuse else None,
        "configs": {},
    }
    with tempfile.TemporaryDirectory(prefix="edgeopt-bench-latency-") as tmp:
        for config in args.configs:
            runtime, precision = config.split(":")
            try:
                results["configs"][config] = run_config(runtime, precision, space, archs, train, test, args,
                                                        Path(tmp), host)
            except Exception as exc:  # one runtime's failure must not lose the others' figures
                print(f"  {config} failed: {type(exc).__name__}: {exc}", flush=True)
                results["configs"][config] = {"error": f"{type(exc).__name__}: {exc}"}
            write_json_atomic(args.out, results)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
