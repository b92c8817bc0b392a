"""A search space written as code (define-by-run), for tests: the network the trial suggests."""

from __future__ import annotations

from typing import Any

from torch import nn


def space(trial: Any) -> nn.Module:
    """A small CNN for 1×8×8 digits: width and depth suggested by ``trial``."""
    width = trial.suggest_categorical("width", [4, 8, 16])
    depth = trial.suggest_int("depth", 1, 2)
    layers: list[nn.Module] = [nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))
