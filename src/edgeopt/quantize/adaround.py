"""AdaRound: choose, per weight, whether to round up or down, so a layer's output stays close.

Round-to-nearest minimises each weight's own error, but what matters is the layer's output: the
errors of the weights that meet in one output add up. AdaRound (Nagel et al., ICML 2020, "Up or
Down? Adaptive Rounding for Post-Training Quantization") learns, per weight, an offset
``h(V) ∈ [0, 1]`` added to ``floor(w / s)`` that minimises the layer's output error on real
inputs, with a regulariser that pushes every ``h`` to 0 or 1; the final rounding is ``h ≥ ½``.

As in the paper: the rectified sigmoid ``h(V) = clip(σ(V)·(ζ - γ) + γ, 0, 1)`` with ζ = 1.1,
γ = -0.1, initialised so that ``h`` equals the fractional part (the start is round-to-nearest's
soft version); the loss ``‖f(W x) - f(W̃ x̃)‖²`` with ``f`` the layer's activation and ``x̃`` the
layer's input in the network whose earlier layers already have their rounded weights (the
"asymmetric" reconstruction, which lets a layer absorb its predecessors' errors) and ``x`` the
float network's; the regulariser ``λ Σ (1 - |2h - 1|^β)`` with λ = 0.01 and β annealed from
20 to 2 after a 20 % warm-up without it; Adam at 10⁻³ on batches of 32. The scales ``s`` are
fixed beforehand (:mod:`edgeopt.quantize.weights`); AdaRound only decides the rounding.

Example:
    >>> codes = adaround_layer(layer, weight, scale, qmin=-7, qmax=7, x_float=x, x_quant=xq)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from edgeopt.quantize.layer_ops import WeightedLayer

ZETA, GAMMA = 1.1, -0.1
LAMBDA = 0.01
BETA_START, BETA_END = 20.0, 2.0
WARMUP = 0.2
ITERATIONS = 1000
BATCH = 32
LEARNING_RATE = 1e-3


def _h(v: Tensor) -> Tensor:
    return torch.clamp(torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def adaround_layer(
    layer: WeightedLayer,
    scale: np.ndarray,
    *,
    qmin: int,
    qmax: int,
    x_float: np.ndarray,
    x_quant: np.ndarray,
    iterations: int = ITERATIONS,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, float]]:
    """Integer codes for ``layer.weight`` on the grid ``scale · [qmin, qmax]``, chosen by AdaRound.

    Args:
        layer: The layer (its float weight and bias, its activation).
        scale: Weight scales, broadcastable to the weight (one per output channel, or one).
        qmin, qmax: The code range.
        x_float: The layer's inputs in the float network (the targets are computed from these).
        x_quant: The same inputs in the network with the earlier layers' weights rounded.
        iterations: Optimisation steps.
        seed: Seed of the batch sampling.

    Returns:
        The codes (same shape as the weight) and figures: the output MSE of round-to-nearest and
        of AdaRound on the given inputs, and the share of weights rounded the other way.
    """
    generator = torch.Generator().manual_seed(seed)
    weight = torch.from_numpy(layer.weight.astype(np.float32))
    s = torch.from_numpy(np.asarray(scale, np.float32))
    xf, xq = torch.from_numpy(x_float.astype(np.float32)), torch.from_numpy(x_quant.astype(np.float32))
    with torch.no_grad():
        target = layer.forward(xf, weight)
    scaled = weight / s
    floor = torch.floor(scaled)
    rest = torch.clamp(scaled - floor, 0.01, 0.99)
    v = (-torch.log((ZETA - GAMMA) / (rest - GAMMA) - 1.0)).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([v], lr=LEARNING_RATE)
    warm = int(WARMUP * iterations)
    n = len(xf)
    for step in range(iterations):
        index = torch.randint(0, n, (min(BATCH, n),), generator=generator)
        soft = s * torch.clamp(floor + _h(v), qmin, qmax)
        out = layer.forward(xq[index], soft)
        reconstruction = (out - target[index]).pow(2).sum(1).mean()
        if step < warm:
            regulariser = torch.zeros(())
        else:
            progress = (step - warm) / max(1, iterations - warm)
            beta = BETA_END + (BETA_START - BETA_END) * (1 - progress)
            regulariser = LAMBDA * (1 - (2 * _h(v) - 1).abs().pow(beta)).sum()
        loss = reconstruction + regulariser
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        optimizer.step()
    with torch.no_grad():
        codes = torch.clamp(floor + (_h(v) >= 0.5).float(), qmin, qmax)
        nearest = torch.clamp(torch.round(scaled), qmin, qmax)
        mse_nearest = float((layer.forward(xq, s * nearest) - target).pow(2).sum(1).mean())
        mse_ada = float((layer.forward(xq, s * codes) - target).pow(2).sum(1).mean())
        flipped = float((codes != nearest).float().mean())
    return codes.numpy(), {"mse_nearest": mse_nearest, "mse_adaround": mse_ada, "flipped": flipped}
