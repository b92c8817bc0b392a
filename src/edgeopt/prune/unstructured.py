"""Unstructured magnitude pruning: zero the smallest-magnitude weights of Conv2d/Linear layers.

:func:`magnitude` returns a masked copy of the model (see :mod:`edgeopt.prune.masks` for why a
mask, and why it persists through fine-tuning); :func:`finalize` bakes the masks into plain
weights for export. Zeroed weights make the saved file compress (see
:func:`edgeopt.prune.sparsity_report`), but a dense runtime still multiplies by every zero: the
model is not faster in ONNX Runtime or ExecuTorch. Structured pruning is what makes it faster.

Example:
    >>> sparse = magnitude(model, sparsity=0.8)          # global; first conv + classifier dense
    >>> sparse = magnitude(model, sparsity=0.5, scope="layer", exclude=[])   # every layer at 50%
    >>> sparse = magnitude(model, threshold=1e-2)        # keep |w| > 0.01
    >>> export.onnx(finalize(sparse), torch.zeros(1, 1, 28, 28), "sparse.onnx")
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterable
from typing import Literal, TypeAlias, TypeGuard

import torch
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.prune.masks import PRUNABLE_TYPES, apply_mask, remove_masks

__all__ = ["SCOPES", "default_exclude", "depthwise_layers", "finalize", "magnitude",
           "prunable_layers"]

SCOPES = ("global", "layer")
Scope = Literal["global", "layer"]
Layer: TypeAlias = nn.Conv2d | nn.Linear  # what unstructured pruning masks


def magnitude(
    model: nn.Module,
    sparsity: float | None = None,
    *,
    threshold: float | None = None,
    scope: Scope = "global",
    exclude: Iterable[str] | str | None = None,
) -> nn.Module:
    """A copy of ``model`` whose smallest-magnitude Conv2d/Linear weights are masked to zero.

    Give exactly one of ``sparsity`` or ``threshold``. With ``sparsity`` the fraction of pruned
    weights is exact: ``round(sparsity * n)`` of the ``n`` weights of all pruned layers together
    (``scope="global"``: one ranking across layers, so layers with many small weights lose more)
    or of each layer (``scope="layer"``). With ``threshold`` every weight with ``|w| <= threshold``
    is pruned (the scope does not matter). A masked model can be pruned again: weights already
    zero rank lowest, so a higher sparsity keeps what was pruned pruned.

    The masks persist through training with :func:`edgeopt.train.fit` (or any loop); call
    :func:`finalize` before export. Pruning alone makes nothing faster on a dense runtime.

    Args:
        model: The model; it is not modified.
        sparsity: Fraction of weights to zero, in [0, 1).
        threshold: Absolute magnitude; weights with ``|w| > threshold`` are kept.
        scope: ``"global"`` (rank all pruned layers together) or ``"layer"`` (each on its own).
        exclude: Names of layers (or of modules containing them) to keep dense. Default: the
            first conv, the classifier (last Linear) and depthwise convs, see
            :func:`default_exclude`; ``[]`` prunes every Conv2d/Linear.

    Returns:
        The masked copy.

    Raises:
        EdgeoptError: both or neither of sparsity/threshold, sparsity outside [0, 1), a
            negative threshold, an unknown scope or layer name (with close names), nothing left
            to prune, or a setting that would zero every weight of a layer (named).

    Example:
        >>> sparse = magnitude(model, sparsity=0.8, scope="layer")
        >>> sparsity_report(sparse).masked_sparsity
        0.8
    """
    _check_model(model)
    _check_amount(sparsity, threshold)
    if scope not in SCOPES:
        raise EdgeoptError(f"unknown pruning scope {scope!r}", hint=suggest(str(scope), SCOPES)
                           or f"use one of {', '.join(SCOPES)}")
    pruned = copy.deepcopy(model)
    layers = _layers_to_prune(pruned, exclude)
    masks = _masks([module.weight.detach() for _, module in layers], sparsity, threshold, scope)
    _check_no_empty_layer(layers, masks, sparsity, threshold, scope)
    for (_, module), mask in zip(layers, masks, strict=True):
        apply_mask(module, mask)
    return pruned


def finalize(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every pruning mask baked into a plain weight.

    The copy has no parametrizations or hooks left; its pruned weights are plain zeros, so it
    exports (ONNX, ExecuTorch) and loads into a freshly built model like any other.

    Example:
        >>> plain = finalize(magnitude(model, sparsity=0.8))
        >>> type(plain.features[1].pointwise[0]) is nn.Conv2d
        True
    """
    _check_model(model)
    return remove_masks(copy.deepcopy(model))


def prunable_layers(model: nn.Module) -> list[str]:
    """Names of ``model``'s Conv2d/Linear layers, in registration order (each layer once).

    Example:
        >>> prunable_layers(create_model("simple_cnn", in_chans=1))[:2]
        ['features.0.0', 'features.2.0']
    """
    seen: set[int] = set()
    names = []
    for name, module in model.named_modules():
        if isinstance(module, PRUNABLE_TYPES) and id(module) not in seen:
            seen.add(id(module))
            names.append(name)
    return names


def default_exclude(model: nn.Module) -> list[str]:
    """The layers kept dense by default: the first Conv2d, the last Linear, and depthwise convs.

    The stem and the classifier are small and the most sensitive to pruning (the stem sees raw
    pixels, the classifier decides). Depthwise convs hold ~3% of a MobileNet's weights, but their
    weights are much smaller than the pointwise ones, so a global ranking strips them to 94–96%
    sparsity and whole channels die (see :func:`depthwise_layers`). "First" and "last" follow
    registration order, which is the execution order of sequential models like edgeopt's.

    Example:
        >>> default_exclude(simple_cnn)
        ['features.0', 'classifier']
    """
    modules = dict(model.named_modules())
    names = prunable_layers(model)
    convs = [n for n in names if isinstance(modules[n], nn.Conv2d)]
    linears = [n for n in names if isinstance(modules[n], nn.Linear)]
    return list(dict.fromkeys(convs[:1] + linears[-1:] + depthwise_layers(model)))


def depthwise_layers(model: nn.Module) -> list[str]:
    """Names of ``model``'s depthwise convs (``groups == in_channels > 1``), to keep dense.

    Excluded by default (:func:`default_exclude`). In MobileNets they hold ~3% of the weights
    but, with BatchNorm after them, their weights are much smaller than the pointwise ones, so
    global magnitude pruning removes nearly all of them and whole channels die (on the mnist5k
    MobileNetV1, global 50% pruning keeps 98.2% validation accuracy without fine-tuning when
    they are excluded, 14% when not).

    Example:
        >>> depthwise_layers(mobilenet)[:2]
        ['features.1.depthwise.0', 'features.2.depthwise.0']
    """
    modules = dict(model.named_modules())
    return [n for n in prunable_layers(model) if _is_depthwise(modules[n])]


def _is_depthwise(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and 1 < module.groups == module.in_channels


# --- argument checks ----------------------------------------------------------------------------


def _check_model(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise EdgeoptError(f"expected a torch.nn.Module to prune, got {type(model).__name__}")


def _check_amount(sparsity: object, threshold: object) -> None:
    if (sparsity is None) == (threshold is None):
        raise EdgeoptError(
            "give exactly one of sparsity and threshold",
            hint="e.g. magnitude(model, sparsity=0.8) or magnitude(model, threshold=1e-2)",
        )
    if sparsity is not None:
        if not _is_real(sparsity) or not 0.0 <= float(sparsity) < 1.0:
            raise EdgeoptError(
                f"sparsity {sparsity!r} is outside [0, 1)",
                hint="give the fraction of weights to zero, e.g. 0.8 for 80%",
            )
    elif not _is_real(threshold) or not 0.0 <= float(threshold) < math.inf:
        raise EdgeoptError(
            f"threshold {threshold!r} must be a finite number >= 0",
            hint="weights with |w| > threshold are kept, e.g. threshold=1e-2",
        )


def _is_real(value: object) -> TypeGuard[numbers.Real]:
    """A real number (numpy scalars too), not a bool, not NaN."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and value == value


# --- layer selection ----------------------------------------------------------------------------


def _layers_to_prune(
    model: nn.Module, exclude: Iterable[str] | str | None
) -> list[tuple[str, Layer]]:
    """The (name, module) pairs to prune: every Conv2d/Linear not under an excluded name."""
    modules = dict(model.named_modules())
    names = prunable_layers(model)
    if exclude is None:
        excluded = default_exclude(model)
    elif isinstance(exclude, str):
        excluded = [exclude]
    else:
        excluded = list(exclude)
    for name in excluded:
        _check_excluded_name(name, names, modules)
    chosen = [n for n in names if not any(_is_under(n, e) for e in excluded)]
    if not chosen:
        raise EdgeoptError(
            f"no Conv2d/Linear layer is left to prune ({len(names)} found, all excluded)",
            hint="exclude fewer layers (exclude=[] prunes every layer)",
        )
    return [(n, m) for n in chosen if isinstance(m := modules[n], PRUNABLE_TYPES)]  # (each one is)


def _check_excluded_name(name: object, layers: list[str], modules: dict[str, nn.Module]) -> None:
    if not isinstance(name, str):
        raise EdgeoptError(f"exclude holds {name!r}; expected layer names (strings)")
    if name in modules and any(_is_under(layer, name) for layer in layers):
        return
    what = "has no Conv2d/Linear layer" if name in modules else "has no layer"
    # Internal names of masks (".parametrizations.") are no use as suggestions.
    choices = [n for n in modules if n and ".parametrizations" not in n]
    raise EdgeoptError(
        f"cannot exclude {name!r}: the model {what} of that name",
        hint=suggest(name, choices) or f"prunable layers: {', '.join(layers[:6])}"
        + (", ..." if len(layers) > 6 else ""),
    )


def _is_under(layer: str, name: str) -> bool:
    return name == "" or layer == name or layer.startswith(name + ".")


# --- masks --------------------------------------------------------------------------------------


def _keep_all_but_smallest(scores: Tensor, count: int) -> Tensor:
    """A flat bool mask that is False at the ``count`` smallest scores (ties broken by index)."""
    keep = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
    if count > 0:
        # A stable sort makes the choice among equal magnitudes (e.g. weights already zero)
        # deterministic, and the pruned count exact even with ties.
        keep[torch.argsort(scores, stable=True)[:count]] = False
    return keep


def _masks(weights: list[Tensor], sparsity: float | None, threshold: float | None, scope: str) -> list[Tensor]:
    """The masks of ``weights`` for the given threshold, or else for the sparsity and scope."""
    if threshold is not None:
        return [w.abs() > threshold for w in weights]
    if sparsity is None:
        raise AssertionError("_check_amount lets neither sparsity nor threshold through")
    if scope == "global":
        return _global_masks(weights, sparsity)
    return [_layer_mask(w, sparsity) for w in weights]


def _layer_mask(weight: Tensor, sparsity: float) -> Tensor:
    count = round(sparsity * weight.numel())
    return _keep_all_but_smallest(weight.abs().flatten(), count).view_as(weight)


def _global_masks(weights: list[Tensor], sparsity: float) -> list[Tensor]:
    scores = torch.cat([w.abs().flatten() for w in weights])
    flat = _keep_all_but_smallest(scores, round(sparsity * scores.numel()))
    parts = torch.split(flat, [w.numel() for w in weights])
    return [m.view_as(w) for m, w in zip(parts, weights, strict=True)]


def _check_no_empty_layer(
    layers: list[tuple[str, Layer]],
    masks: list[Tensor],
    sparsity: float | None,
    threshold: float | None,
    scope: str,
) -> None:
    empty = [(name, module) for (name, module), mask in zip(layers, masks, strict=True) if not mask.any()]
    if not empty:
        return
    names = ", ".join(repr(name) for name, _ in empty[:3])
    names = ("layer " if len(empty) == 1 else "layers ") + names
    if len(empty) > 3:
        names += f" and {len(empty) - 3} more"
    if threshold is not None:
        # Below the smallest of the emptied layers' largest |w|, every one of them keeps a weight.
        limit = min(float(m.weight.detach().abs().max()) for _, m in empty)
        raise EdgeoptError(
            f"threshold {threshold:g} would prune every weight of {names}",
            hint=f"use a threshold below {limit:.4g} or exclude the layer",
        )
    hint = "lower the sparsity or exclude the layer"
    if scope == "global":
        hint = "lower the sparsity, use scope='layer', or exclude the layer"
    raise EdgeoptError(
        f"sparsity {sparsity:g} (scope={scope!r}) would prune every weight of {names}",
        hint=hint,
    )
