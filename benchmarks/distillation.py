"""Does distillation help? A MobileNetV1 α=0.25 student with and without a teacher on mnist5k.

Teacher (selectable): the trained MobileNetV1 α=0.5 checkpoint (stride-1 stem, 1×28×28; 98.5 %
test accuracy; the default), or ``--teacher-width 1.0``: an α=1.0 MobileNetV1 (≈15× the student's
params) trained here once with the same recipe as the baseline (seed 0) and cached at
``/tmp/edgeopt_models/mnist5k_mobilenet_a1.pt``, so reruns skip its training. ``--teacher CKPT``
uses any existing checkpoint. A missing default checkpoint is trained first (the JSON says so).

Both arms use one fixed budget, chosen before any result and not tuned: the teacher's own
training recipe (20 epochs, batch 64, AdamW, lr 5e-3 cosine, weight decay 1e-4, 1-px random
shifts), best-validation-epoch restore, and distillation's defaults (T = 4, α = 0.7). ``--epochs``
shortens it for BOTH arms alike (the teacher keeps the full recipe). For each seed both arms start
from the same initial weights and see the same batches and shifts (the seed fixes all three), so
the per-seed difference is a paired comparison. Accuracy is top-1 on the 1,000-image test split
(split seed 0). With augmentation on, the teacher runs on every batch (no output cache).

Results for each (teacher, epochs) pair are kept side by side under ``experiments`` in the JSON;
a run merges its rows into its own experiment (under a file lock, so the two arms may run as two
processes) and leaves the others alone.

Usage:
    python benchmarks/distillation.py                       # α=0.5 teacher, seeds 0 1 2
    python benchmarks/distillation.py --teacher-width 1.0   # α=1.0 teacher (trained once, cached)
    python benchmarks/distillation.py --teacher-width 1.0 --arms baseline --seeds 0 1 2
    python benchmarks/distillation.py --seeds 0 --epochs 2 --out /tmp/d.json   # a quick look
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from edgeopt.analysis import profile
from edgeopt.checkpoint import load_checkpoint, save_checkpoint
from edgeopt.data import load_dataset
from edgeopt.distill import distill
from edgeopt.loading import open_model
from edgeopt.models import create_model
from edgeopt.train import Train, TrainConfig, evaluate, fit, seed_everything
from edgeopt.transform import Result
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "distillation.json"
MODELS = Path("/tmp/edgeopt_models")
TEACHER_PATHS = {0.5: MODELS / "mnist5k_mobilenet.pt", 1.0: MODELS / "mnist5k_mobilenet_a1.pt"}
STUDENT_KWARGS = {"num_classes": 10, "in_chans": 1, "width_mult": 0.25, "stem_stride": 1}
# The teacher's own recipe (the demo baseline's), for both arms.
CONFIG = TrainConfig(epochs=20, batch_size=64, lr=5e-3, augment_shift=1, progress=False)
TEMPERATURE, ALPHA = 4.0, 0.7
ARMS = ("baseline", "distilled")


def teacher_kwargs(width: float) -> dict[str, Any]:
    return {**STUDENT_KWARGS, "width_mult": width}


def load_or_train_teacher(path: Path, width: float, data: Any) -> tuple[torch.nn.Module, str, dict[str, Any]]:
    """The teacher checkpoint at ``path``, trained with :data:`CONFIG` (seed 0) if it is missing."""
    if path.is_file():
        ckpt = load_checkpoint(path)
        return ckpt.model, f"loaded {path}", dict(ckpt.lineage.root.kwargs if ckpt.lineage else {})
    start = time.perf_counter()
    seed_everything(CONFIG.seed)  # the initial weights too, as `edgeopt train` does
    opened = open_model("mobilenet_v1", kwargs=teacher_kwargs(width), data=data)
    fit(opened.model, data.train, data.val, CONFIG)
    assert opened.lineage is not None
    save_checkpoint(path, opened.model, opened.lineage.then(Train(train=CONFIG), Result()),
                    metadata={"dataset": data.name})
    minutes = (time.perf_counter() - start) / 60
    return opened.model, (f"trained here with the recipe above ({CONFIG.epochs} epochs), seed 0, "
                          f"in {minutes:.1f} min; cached at {path}"), dict(opened.lineage.root.kwargs)


def new_student(seed: int) -> torch.nn.Module:
    seed_everything(seed)  # the same initial weights in both arms
    return create_model("mobilenet_v1", **STUDENT_KWARGS)


def run_arm(arm: str, seed: int, teacher: torch.nn.Module | None, data: Any, epochs: int) -> dict[str, Any]:
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
        "seconds": round(time.perf_counter() - start, 1), "torch_threads": torch.get_num_threads(),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, sample std and min–max per arm, and the paired (same seed) differences."""
    summary: dict[str, Any] = {}
    for arm in ARMS:
        accs = [r["test_accuracy"] for r in runs if r["arm"] == arm]
        if accs:
            summary[arm] = _stats(accs)
    by_seed = {(r["arm"], r["seed"]): r["test_accuracy"] for r in runs}
    diffs = [by_seed[("distilled", s)] - by_seed[("baseline", s)]
             for (arm, s) in sorted(by_seed) if arm == "baseline" and ("distilled", s) in by_seed]
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


def experiment_key(width: float | None, epochs: int) -> str:
    return f"teacher_a{width}_epochs{epochs}" if width is not None else f"teacher_custom_epochs{epochs}"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the results file between concurrent runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The lock file lives in the temp dir, so it never litters the results folder.
    with open(Path(tempfile.gettempdir()) / f"edgeopt_{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_experiments(path: Path) -> dict[str, Any]:
    """The file's experiments; a file in the first (single-experiment) layout becomes one entry."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if "experiments" in data:
        return data["experiments"]
    width = data["teacher"]["kwargs"]["width_mult"]
    return {experiment_key(width, data["config"]["epochs"]): data}


def merge_rows(path: Path, key: str, header: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge ``rows`` (replacing same arm and seed) and ``header`` into experiment ``key``; save."""
    with locked(path):
        experiments = read_experiments(path)
        record = experiments.get(key, {})
        kept = [r for r in record.get("runs", []) if (r["arm"], r["seed"]) not in {(n["arm"], n["seed"]) for n in rows}]
        teacher = header["teacher"]
        if "test_accuracy" not in teacher:  # a run without the teacher keeps the one recorded
            teacher = record.get("teacher", teacher)
        record = {**record, **header, "teacher": teacher,
                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "runs": sorted(kept + rows, key=lambda r: (r["seed"], ARMS.index(r["arm"])))}
        record["summary"] = summarise(record["runs"])
        experiments[key] = record
        write_json_atomic(path, {
            "what": "MobileNetV1 α=0.25 student on mnist5k: trained alone vs distilled, per teacher and budget",
            "experiments": experiments,
        })
        return record


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=CONFIG.epochs, help="for both arms alike")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--teacher-width", type=float, choices=sorted(TEACHER_PATHS), default=0.5,
                       help="MobileNetV1 teacher width; trained once and cached if missing")
    group.add_argument("--teacher", type=Path, default=None, help="an existing teacher checkpoint")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: 2, or 1 when the 1-min load average exceeds 3)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # The machine is shared: two threads only when it is quiet.
    threads = args.threads or (1 if os.getloadavg()[0] > 3 else 2)
    torch.set_num_threads(threads)
    data = load_dataset("mnist5k", seed=0)
    width = None if args.teacher else args.teacher_width
    path = args.teacher or TEACHER_PATHS[args.teacher_width]
    header: dict[str, Any] = {
        "what": f"MobileNetV1 α=0.25 student on mnist5k: trained alone vs distilled from "
                f"{'an α=' + str(width) if width is not None else path.name} teacher",
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "teacher": {"path": str(path)},
        "student": {"kwargs": STUDENT_KWARGS, **cost(new_student(0))},
        "config": {**CONFIG.model_dump(), "epochs": args.epochs, "temperature": TEMPERATURE, "alpha": ALPHA},
        "protocol": "per seed: same init, batches and shifts in both arms; best-val-epoch restore; "
                    "top-1 on the 1,000-image test split; std is the sample std over seeds",
    }
    if args.teacher is not None and not args.teacher.is_file():
        raise SystemExit(f"no teacher checkpoint at {args.teacher}")
    teacher = None
    if "distilled" in args.arms or path.is_file():  # a baseline-only run never trains a teacher
        teacher, source, kwargs = load_or_train_teacher(path, width or 0.0, data)
        header["teacher"] = {"source": source, "path": str(path), "kwargs": kwargs, **cost(teacher),
                             "test_accuracy": evaluate(teacher, data.test).accuracy}
        print(f"teacher: {header['teacher']}", flush=True)
    key = experiment_key(width, args.epochs)
    for seed in args.seeds:  # arms interleaved per seed, so machine load hits both alike
        for arm in args.arms:
            row = run_arm(arm, seed, teacher, data, args.epochs)
            record = merge_rows(args.out, key, header, [row])  # partial results survive a stop
            print(f"seed {seed} {arm:9s} test {row['test_accuracy']:.2%} (best val "
                  f"{row['best_val_acc']:.2%} @ {row['best_epoch']}) {row['seconds']:.0f} s", flush=True)
    print_summary(record)
    print(f"saved {args.out} [{key}]")


def print_summary(record: dict[str, Any]) -> None:
    t, s = record["teacher"], record["student"]
    if "params" in t:
        print(f"teacher {t['kwargs']}: {t['params']:,} params, {t['macs']:,} MACs, test {t['test_accuracy']:.2%}")
    print(f"student α=0.25: {s['params']:,} params, {s['macs']:,} MACs")
    for arm in ARMS:
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
