"""``edgeopt optimize`` against the peers' int8 flows on the same baselines (issue 15's benchmark).

Two rows, each one run of :func:`edgeopt.optimize.optimize` and then one final timing:

- ``mnist``: the demo's baseline (MobileNetV1 α=0.5, stride-1 stem, trained 20 epochs on
  mnist5k: ``/tmp/edgeopt_models/mnist5k_mobilenet.pt``, trained here if missing), optimized
  with a time budget (``--budget-min``, default 10) and ``max_drop`` 0.5 points.
- ``mv2``: MobileNetV2 1.0 at 3×224×224 with random weights and BatchNorm statistics
  re-estimated on noise (ImageNet is not available here; latency does not depend on the values),
  on a dataset of noise images: accuracy means nothing there, so the bound on it is off and
  pruning is not tried (only int8, runtimes, precision and threads).

The peers (``benchmarks/peers.py``) are applied to the same baseline's fp32 ONNX file with the
same 256 calibration images: ONNX Runtime's ``quantize_static``, NNCF on OpenVINO, ExecuTorch's
XNNPACK int8 flow. The final timing puts in one interleaved run: the baseline's fp32 file in its
best runtime (the reference), edgeopt's chosen artifact, every peer at 1 and 2 threads, and the
candidates edgeopt confirmed or rolled back; it is done in ``--passes`` passes in alternating
order and each figure is the minimum of its pass medians (DESIGN.md, "Machine facts").

Usage:
    flock /tmp/edgeopt-heavy.lock python benchmarks/optimize.py                 # both rows
    flock /tmp/edgeopt-heavy.lock python benchmarks/optimize.py --parts mnist --budget-min 60 --suffix 1h
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from onnx_vs_torch import calibrate_batchnorm
from peers import peer_artifacts

from edgeopt.artifact import Artifact
from edgeopt.checkpoint import save_checkpoint
from edgeopt.data import calibration_subset, load_dataset
from edgeopt.optimize import OptimizeConfig, optimize
from edgeopt.optimize.decide import deployment_of, row_name
from edgeopt.optimize.deployments import open_deployment
from edgeopt.runtime.benchmark import open_runner
from edgeopt.runtime.timing import interleaved_latency
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "optimize.json"
WORK = Path("/tmp/edgeopt_bench/optimize")
MNIST_MODEL = Path("/tmp/edgeopt_models/mnist5k_mobilenet.pt")


def mnist_baseline() -> Path:
    """The demo's baseline checkpoint (trained here, 20 epochs, if missing: a few minutes)."""
    if MNIST_MODEL.exists():
        return MNIST_MODEL
    from edgeopt.loading import open_model
    from edgeopt.train.config import TrainConfig
    from edgeopt.train.transform import Train
    from edgeopt.transform import Inputs, apply

    splits = load_dataset("mnist5k")
    opened = open_model("mobilenet_v1", kwargs={"width_mult": 0.5, "stem_stride": 1}, data=splits)
    step = Train(train=TrainConfig(epochs=20, lr=5e-3, augment_shift=1, seed=0))
    result = apply(step, opened.model, Inputs(example=torch.zeros(splits.input_shape(1)), data=splits))
    assert result.model is not None and opened.lineage is not None
    MNIST_MODEL.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(MNIST_MODEL, result.model, opened.lineage.then(step, result), input_size=splits.input_shape(1))
    return MNIST_MODEL


def mv2_baseline() -> tuple[Path, Path]:
    """MobileNetV2 1.0 (10 classes) with BN statistics from noise, and a noise dataset (.npz) at 224."""
    from edgeopt.models import create_model

    WORK.mkdir(parents=True, exist_ok=True)
    data, model_path = WORK / "noise224.npz", WORK / "mv2_random.pt"
    if not data.exists():
        rng = np.random.default_rng(0)
        np.savez(data, x=rng.integers(0, 256, (300, 3, 224, 224), dtype=np.uint8), y=np.arange(300) % 10)
    if not model_path.exists():
        torch.manual_seed(0)
        model = create_model("mobilenet_v2", num_classes=10)
        calibrate_batchnorm(model, [torch.randn(8, 3, 224, 224) for _ in range(4)])
        save_checkpoint(model_path, model, model_name="mobilenet_v2", model_kwargs={"num_classes": 10},
                        input_size=(1, 3, 224, 224))
    return model_path, data


def run_part(name: str, config: OptimizeConfig, passes: int) -> dict[str, Any]:
    """Optimize, make the peers from the same baseline, and time everything together."""
    run_dir = WORK / f"run-{name}"
    shutil.rmtree(run_dir, ignore_errors=True)
    started = time.monotonic()
    outcome = optimize(config, run_dir, echo=print)
    optimize_s = time.monotonic() - started
    assert outcome.chosen is not None and outcome.reference is not None
    splits = load_dataset(config.data, seed=config.seed)
    calibration = calibration_subset(splits.train, 256, seed=config.seed).tensors[0].numpy()
    from edgeopt.loading import open_model

    baseline = open_model(config.model, data=splits).model.eval()
    fp32 = run_dir / "variants" / "baseline" / "model.onnx"
    peers = peer_artifacts(baseline, fp32, calibration, torch.zeros(splits.input_shape(1)), WORK / f"peers-{name}")
    entries = _entries(outcome, peers)
    timed = _final_timing(entries, splits, passes)
    return _summary(name, config, outcome, optimize_s, peers, timed)


def _entries(outcome: Any, peers: dict[str, dict[str, Any]]) -> dict[str, tuple[str, Any]]:
    """Name -> (file, runner factory) of everything in the final timing."""
    entries: dict[str, tuple[str, Any]] = {}

    def add(label: str, row: dict[str, Any]) -> None:
        entries[label] = (row["file"], lambda r=row: open_deployment(r["file"], deployment_of(r)))

    add("reference", outcome.reference)
    add("edgeopt", outcome.chosen)
    rejected = {step["child"]: step["step"] for step in outcome.steps if not step["kept"]}
    for row in outcome.rows:
        if row.get("file") and row_name(row) in rejected:
            add(f"rejected: {rejected[row_name(row)]}", row)
    for peer, entry in peers.items():
        if "path" in entry:
            for threads in (1, 2):
                entries[f"{peer} ×{threads}"] = (str(entry["path"]), lambda p=entry["path"], t=threads: open_runner(
                    Artifact.from_file(p), t))
    return entries


def _final_timing(entries: dict[str, tuple[str, Any]], splits: Any, passes: int) -> dict[str, dict[str, Any]]:
    runners = {name: make() for name, (_path, make) in entries.items()}
    accuracy = {name: 100.0 * runner.accuracy(splits.test) for name, runner in runners.items()}
    sample = np.asarray(splits.test[0][0], dtype=np.float32)[None]
    medians: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for index in range(passes):
        order = names if index % 2 == 0 else names[::-1]
        stats = interleaved_latency({n: runners[n] for n in order}, sample, rounds=9, runs_per_round=20)
        for n, s in stats.items():
            medians[n].append(s.median_ms)
    return {n: {"latency_ms": min(medians[n]), "pass_medians_ms": medians[n], "accuracy_test": accuracy[n],
                "size_bytes": Artifact.from_file(entries[n][0]).size_bytes, "file": entries[n][0]} for n in names}


def _summary(name: str, config: OptimizeConfig, outcome: Any, optimize_s: float, peers: dict[str, Any],
             timed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ours = timed["edgeopt"]["latency_ms"]
    peer_rows = {n: r for n, r in timed.items() if n.split(" ×")[0] in peers}
    fastest_peer = min(peer_rows, key=lambda n: peer_rows[n]["latency_ms"]) if peer_rows else None
    rejected = {n: r["latency_ms"] for n, r in timed.items() if n.startswith("rejected")}
    return {
        "part": name, "config": config.to_attr(), "optimize_seconds": round(optimize_s, 1),
        "trials": outcome.trials, "budget_hit": outcome.budget_hit, "chosen": outcome.chosen["pipeline"],
        "chosen_deployment": outcome.chosen["label"], "steps": outcome.steps, "notes": outcome.notes,
        "timed": timed, "peer_errors": {n: e["error"] for n, e in peers.items() if "error" in e},
        "fastest_peer": fastest_peer,
        "speedup_vs_fastest_peer": None if fastest_peer is None else peer_rows[fastest_peer]["latency_ms"] / ours,
        "speedup_vs_reference": timed["reference"]["latency_ms"] / ours,
        "accuracy_drop_test": timed["reference"]["accuracy_test"] - timed["edgeopt"]["accuracy_test"],
        "never_slower_than_reference": ours <= timed["reference"]["latency_ms"],
        "never_slower_than_rejected": all(ours <= v for v in rejected.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["mnist", "mv2"], choices=["mnist", "mv2"])
    parser.add_argument("--budget-min", type=float, default=10.0, help="optimize's time budget per row")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--trials", type=int, default=40, help="the MNIST row's trial cap")
    parser.add_argument("--suffix", default="", help="saved as PART-SUFFIX (a 1-hour run beside the 10-minute one)")
    args = parser.parse_args()
    results: dict[str, Any] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "machine": platform.processor() or platform.machine(), "parts": {}}
    if RESULTS.exists():
        results["parts"] = __import__("json").loads(RESULTS.read_text()).get("parts", {})
    budget = args.budget_min * 60
    for part in args.parts:
        if part == "mnist":
            config = OptimizeConfig(model=str(mnist_baseline()), data="mnist5k", max_drop=0.5, time_budget_s=budget,
                                    trials=args.trials)
        else:
            model, data = mv2_baseline()
            config = OptimizeConfig(model=str(model), data=str(data), max_drop=100.0, prune_ratios=(0.0,),
                                    calibrations=("minmax", "percentile"), time_budget_s=budget, trials=3)
        key = f"{part}-{args.suffix}" if args.suffix else part
        results["parts"][key] = run_part(key, config, args.passes)
        write_json_atomic(RESULTS, results)
        row = results["parts"][key]
        print(f"{part}: edgeopt {row['chosen']} in {row['chosen_deployment']}: "
              f"{row['timed']['edgeopt']['latency_ms']:.4f} ms; reference {row['timed']['reference']['latency_ms']:.4f}"
              f" ms ({row['speedup_vs_reference']:.2f}x); fastest peer {row['fastest_peer']} "
              f"({row['speedup_vs_fastest_peer']:.2f}x); test accuracy drop {row['accuracy_drop_test']:.2f} points")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
