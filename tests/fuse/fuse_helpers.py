"""Helpers shared by the fusion tests: BatchNorms with non-trivial statistics, relative error."""

from __future__ import annotations

import torch
from torch import nn


def randomize_batchnorms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm random running stats and affine parameters (in place); return model.

    Default stats (mean 0, var 1, weight 1, bias 0) would make a fold that ignores them pass.
    """
    generator = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                if m.running_mean is not None:
                    m.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
                    m.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.25)
                if m.affine:
                    m.weight.copy_(torch.randn(n, generator=generator) * 0.5 + 1.0)
                    m.bias.copy_(torch.randn(n, generator=generator) * 0.3)
    return model


def relative_error(reference: torch.Tensor, candidate: torch.Tensor) -> float:
    """``max|a - b| / max|reference|``: the error measure the fusion self-check bounds."""
    return float((candidate - reference).abs().max() / reference.abs().max())
