"""Does distillation help? A MobileNetV1 α=0.25 student with and without a teacher on mnist5k.

Teacher: the trained MobileNetV1 α=0.5 checkpoint (stride-1 stem, 1×28×28; 98.5% test accuracy),
trained with the demo's baseline recipe. It is used as is because it is the project's trained
model and is already 2× wider (≈3.6× the MACs) than the student; an α=1.0 teacher would need its
own training run on this shared 2-core machine for a gap the issue does not require. If the
checkpoint is missing it is trained first with the same recipe (and the JSON says so).

Both arms use one fixed budget, chosen before any result and not tuned: the teacher's own
training recipe (20 epochs, batch 64, AdamW, lr 5e-3 cosine, weight decay 1e-4, 1-px random
shifts), best-validation-epoch restore, and distillation's defaults (T = 4, α = 0.7). For each
seed both arms start from the same initial weights and see the same batches and shifts (the seed
fixes all three), so the per-seed difference is a paired comparison. Accuracy is top-1 on the
1,000-image test split (split seed 0). With augmentation on, the teacher runs on every batch (its
outputs cannot be cached).

Usage:
    python benchmarks/distillation.py                  # seeds 0 1 2, ~15-30 min on 2 shared cores
    python benchmarks/distillation.py --seeds 0 --epochs 2    # a quick look (not saved over results)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from edgeopt.analysis import profile
from edgeopt.baseline import train_baseline
from edgeopt.checkpoint import load_checkpoint
from edgeopt.data import load_dataset
from edgeopt.distill import distill
from edgeopt.models import create_model
from edgeopt.train import TrainConfig, evaluate, fit, seed_everything
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "distillation.json"
TEACHER = Path("/tmp/edgeopt_models/mnist5k_mobilenet.pt")
STUDENT_KWARGS = {"num_classes": 10, "in_chans": 1, "width_mult": 0.25, "stem_stride": 1}
TEACHER_KWARGS = {**STUDENT_KWARGS, "width_mult": 0.5}
# The teacher's own recipe (the demo baseline's), for both arms.
CONFIG = TrainConfig(epochs=20, batch_size=64, lr=5e-3, augment_shift=1, progress=False)
TEMPERATURE, ALPHA = 4.0, 0.7


def load_or_train_teacher(path: Path, data: Any) -> tuple[torch.nn.Module, str]:
    """The α=0.5 teacher checkpoint, trained with :data:`CONFIG` (seed 0) if it is missing."""
    if path.is_file():
        return load_checkpoint(path).model, f"loaded {path}"
    result = train_baseline("mobilenet_v1", data, path.parent, config=CONFIG, model_kwargs=TEACHER_KWARGS)
    return result.model, f"trained here with the recipe above, seed 0 ({result.checkpoint})"


def new_student(seed: int) -> torch.nn.Module:
    seed_everything(seed)  # the same initial weights in both arms
    return create_model("mobilenet_v1", **STUDENT_KWARGS)


def run_arm(arm: str, seed: int, teacher: torch.nn.Module, data: Any, epochs: int) -> dict[str, Any]:
    config = CONFIG.model_copy(update={"seed": seed, "epochs": epochs})
    start = time.perf_counter()
    if arm == "baseline":
        model = new_student(seed)
        train = fit(model, data.train, data.val, config)
    else:
        result = distill(new_student(seed), teacher, data.train, data.val, config,
                         temperature=TEMPERATURE, alpha=ALPHA)
        model, train = result.model, result.train_result
    return {
        "arm": arm, "seed": seed, "test_accuracy": evaluate(model, data.test).accuracy,
        "best_val_acc": train.best_val_acc, "best_epoch": train.best_epoch,
        "seconds": round(time.perf_counter() - start, 1),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, sample std and min–max per arm, and the paired (same seed) differences."""
    summary: dict[str, Any] = {}
    for arm in ("baseline", "distilled"):
        accs = [r["test_accuracy"] for r in runs if r["arm"] == arm]
        if accs:
            summary[arm] = _stats(accs)
    by_seed = {(r["arm"], r["seed"]): r["test_accuracy"] for r in runs}
    diffs = [by_seed[("distilled", s)] - by_seed[("baseline", s)]
             for (arm, s) in by_seed if arm == "baseline" and ("distilled", s) in by_seed]
    if diffs:
        summary["paired_difference_points"] = {
            **{k: (None if v is None else round(100 * v, 2)) for k, v in _stats(diffs).items() if k != "n"},
            "n": len(diffs), "distilled_wins": sum(d > 0 for d in diffs),
            "ties": sum(d == 0 for d in diffs),
        }
    return summary


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else None,
        "min": min(values), "max": max(values), "n": len(values),
    }


def cost(model: torch.nn.Module) -> dict[str, int]:
    p = profile(model, input_size=(1, 1, 28, 28))
    return {"params": p.params, "macs": p.macs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=CONFIG.epochs)
    parser.add_argument("--teacher", type=Path, default=TEACHER)
    parser.add_argument("--out", type=Path, default=None, help=f"JSON file (default {RESULTS}; "
                        "a run with other epochs than the recipe's goes to a temp file)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared; also makes runs comparable
    out = args.out or (RESULTS if args.epochs == CONFIG.epochs else Path("/tmp/distillation_quick.json"))
    data = load_dataset("mnist5k", seed=0)
    teacher, teacher_source = load_or_train_teacher(args.teacher, data)
    record: dict[str, Any] = {
        "what": "MobileNetV1 α=0.25 student on mnist5k: trained alone vs distilled from an α=0.5 teacher",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__,
                 "torch_threads": 1},
        "teacher": {"source": teacher_source, "kwargs": TEACHER_KWARGS, **cost(teacher),
                    "test_accuracy": evaluate(teacher, data.test).accuracy},
        "student": {"kwargs": STUDENT_KWARGS, **cost(new_student(0))},
        "config": {**CONFIG.model_dump(), "epochs": args.epochs, "temperature": TEMPERATURE, "alpha": ALPHA},
        "protocol": "per seed: same init, batches and shifts in both arms; best-val-epoch restore; "
                    "top-1 on the 1,000-image test split; std is the sample std over seeds",
        "runs": [],
    }
    for seed in args.seeds:  # arms interleaved per seed, so machine load hits both alike
        for arm in ("baseline", "distilled"):
            row = run_arm(arm, seed, teacher, data, args.epochs)
            record["runs"].append(row)
            record["summary"] = summarise(record["runs"])
            write_json_atomic(out, record)  # partial results survive an interruption
            print(f"seed {seed} {arm:9s} test {row['test_accuracy']:.2%} "
                  f"(best val {row['best_val_acc']:.2%} @ {row['best_epoch']}) {row['seconds']:.0f} s", flush=True)
    print_summary(record)
    print(f"saved {out}")


def print_summary(record: dict[str, Any]) -> None:
    t, s = record["teacher"], record["student"]
    print(f"teacher α=0.5: {t['params']:,} params, {t['macs']:,} MACs, test {t['test_accuracy']:.2%}")
    print(f"student α=0.25: {s['params']:,} params, {s['macs']:,} MACs")
    for arm in ("baseline", "distilled"):
        m = record["summary"].get(arm)
        if m:
            std = f" ± {100 * m['std']:.2f}" if m["std"] is not None else ""
            print(f"{arm:9s}: {100 * m['mean']:.2f}{std} % (min {100 * m['min']:.1f}, "
                  f"max {100 * m['max']:.1f}, n={m['n']})")
    d = record["summary"].get("paired_difference_points")
    if d:
        print(f"distilled − baseline, same seed: {d['mean']:+.2f} points (std {d['std']}, "
              f"min {d['min']:+.2f}, max {d['max']:+.2f}); distilled wins {d['distilled_wins']}/{d['n']}")


if __name__ == "__main__":
    main()
