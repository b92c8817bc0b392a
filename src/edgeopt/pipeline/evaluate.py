"""Figures of a candidate's eager model after a step: accuracy, parameters, MACs, memory, size.

Example:
    >>> metrics, cost = model_metrics(model, splits, splits.test.tensors[0][:1])
    >>> metrics["test_accuracy"], metrics["macs"]
    (0.97, 1234560)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from edgeopt.data import DatasetSplits


def model_metrics(
    model: nn.Module, data: DatasetSplits, example_input: Tensor
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Test accuracy and exact costs of ``model``; returns ``(metrics, profile dict)``.

    ``nonzero_params`` counts parameters that are not exactly zero, so unstructured sparsity
    shows beside ``params`` (which counts every stored weight).
    """
    from edgeopt.analysis import profile
    from edgeopt.train import evaluate

    accuracy = evaluate(model, data.test).accuracy
    cost = profile(model, example_input=example_input)
    metrics = {
        "test_accuracy": accuracy,
        "params": cost.params,
        "macs": cost.macs,
        "param_bytes": cost.param_bytes,
        "peak_activation_bytes": cost.peak_activation_bytes,
        "nonzero_params": nonzero_params(model),
    }
    return metrics, cost.to_dict()


def nonzero_params(model: nn.Module) -> int:
    """Parameters that are not exactly zero (shared tensors once)."""
    seen: set[int] = set()
    count = 0
    with torch.no_grad():
        for param in model.parameters():
            if id(param) not in seen:
                seen.add(id(param))
                count += int(torch.count_nonzero(param))
    return count
