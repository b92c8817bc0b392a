"""``edgeopt demo``: the main job on bundled data, end to end with no arguments.

Today: train a small MobileNetV1 on the bundled 5,000-image MNIST subset, evaluate it on the
held-out test split, profile it exactly and write ``results.json``. Later capabilities (pruning,
quantization, export, the HTML report) add their stages here.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edgeopt.analysis import ModelProfile, profile
from edgeopt.baseline import train_baseline
from edgeopt.train import TrainConfig
from edgeopt.utils import write_json_atomic

DEMO_DATA = "mnist5k"
DEMO_MODEL = "mobilenet_v1"
# α = 0.5 keeps the model small; stride-1 stem keeps 28×28 digits from shrinking to 1×1.
DEMO_MODEL_KWARGS: dict[str, Any] = {"width_mult": 0.5, "stem_stride": 1}
# Chosen on the validation split; the test accuracy holds across seeds (98.4/98.7/98.7% for 0/1/2).
DEMO_TRAIN = TrainConfig(epochs=20, batch_size=64, lr=5e-3, augment_shift=1, seed=0)


@dataclass
class DemoResult:
    """What the demo produced and where it wrote it."""

    model_name: str
    model_kwargs: dict[str, Any]
    test_accuracy: float
    test_size: int
    profile: ModelProfile
    train_seconds: float
    results_path: Path


def run_demo(out_dir: str | Path = "runs/demo", *, epochs: int | None = None, seed: int = 0) -> DemoResult:
    """Run the demo into ``out_dir`` and return its figures.

    Args:
        out_dir: Run directory (created; files in it are replaced atomically).
        epochs: Override the baseline's training epochs (fewer for a quick look).
        seed: Seed for the split-independent parts (initialisation, batching, augmentation).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    config = DEMO_TRAIN.model_copy(update={"seed": seed, **({"epochs": epochs} if epochs else {})})
    base = train_baseline(DEMO_MODEL, DEMO_DATA, out / "baseline", config=config, model_kwargs=DEMO_MODEL_KWARGS)
    cost = profile(base.model, input_size=base.input_size)
    results = {
        "edgeopt_version": _version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads()},
        "dataset": base.data.summary(),
        "candidates": [
            {
                "name": "baseline",
                "technique": "baseline",
                "lineage": [{"step": "train", "config": config.model_dump()}],
                "model": {"name": base.model_name, "kwargs": base.model_kwargs},
                "checkpoint": str(base.checkpoint.relative_to(out)),
                "metrics": {
                    "test_accuracy": base.test_accuracy,
                    "best_val_accuracy": base.train.best_val_acc,
                    "params": cost.params,
                    "macs": cost.macs,
                    "param_bytes": cost.param_bytes,
                    "peak_activation_bytes": cost.peak_activation_bytes,
                    "checkpoint_bytes": base.checkpoint.stat().st_size,
                },
                "profile": cost.to_dict(),
            }
        ],
        "seconds": round(time.perf_counter() - started, 1),
    }
    results_path = write_json_atomic(out / "results.json", results)
    return DemoResult(
        model_name=base.model_name,
        model_kwargs=base.model_kwargs,
        test_accuracy=base.test_accuracy,
        test_size=len(base.data.test),
        profile=cost,
        train_seconds=base.train.seconds,
        results_path=results_path,
    )


def _version() -> str:
    from edgeopt import __version__

    return __version__
