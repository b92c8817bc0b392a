"""Hand-built deployment rows and a fake run context for the ``edgeopt optimize`` unit tests.

The rows carry the keys :mod:`edgeopt.optimize.decide` reads (file, runtime, precision, threads,
calibration, latency_ms, choice, pipeline, trial), as :func:`edgeopt.optimize.trial.trial_rows` tags them.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from edgeopt.optimize.choices import Choice
from edgeopt.optimize.config import OptimizeConfig


def make_row(trial: int, choice: Choice, *, runtime: str = "onnxruntime", precision: str = "fp32", threads: int = 1,
             latency_ms: float = 1.0, file: str | None = None) -> dict[str, Any]:
    """A measured deployment row as :func:`edgeopt.optimize.trial.trial_rows` tags it."""
    default = f"variants/{choice.variant_key}/" + (f"model.int8-{choice.calibration}.onnx"
                                                   if precision == "int8" else "model.onnx")
    return {"file": file or default, "runtime": runtime, "precision": precision, "threads": threads,
            "calibration": choice.calibration if precision == "int8" else None, "latency_ms": latency_ms,
            "choice": choice.to_dict(), "pipeline": choice.label, "trial": trial,
            "label": f"{runtime} {precision} ×{threads}"}


def fake_context(gate_rounds: int = 5, **config: Any) -> Any:
    """What :mod:`edgeopt.optimize.decide` reads from a RunContext: the config and one test image."""
    options: dict[str, Any] = {"model": "unused.pt", "gate_rounds": gate_rounds, **config}
    image = [[[0.0] * 8] * 8]
    return SimpleNamespace(config=OptimizeConfig(**options), splits=SimpleNamespace(test=[(image, 0)]),
                           say=lambda _text: None)


def small_config(checkpoint: Path, **options: Any) -> OptimizeConfig:
    base: dict[str, Any] = {
        "model": str(checkpoint), "data": "digits", "runtimes": ("onnxruntime",), "prune_ratios": (0.0, 0.5),
        "importance": ("l1",), "scopes": ("uniform",), "round_to": (None,), "distill": False, "finetune_epochs": 1,
        "calibrations": ("minmax",), "trials": 3, "gate_rounds": 5, "confirm_top": 2,
        # a loose accuracy bound: the one-epoch pruned model is a candidate too, so steps are gated
        "max_drop": 100.0}
    return OptimizeConfig(**{**base, **options})
