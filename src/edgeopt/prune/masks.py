"""Pruning masks on ``Conv2d``/``Linear`` weights that survive training, copying and saving.

Mechanism: a :mod:`torch.nn.utils.parametrize` parametrization, :class:`WeightMask`, which makes
``module.weight`` compute ``original * mask`` on every access. Why this one:

- Persistence needs no cooperation from the training loop. The forward pass only ever sees
  masked weights and the gradient of a masked entry is exactly zero, so any optimizer (SGD with
  momentum, AdamW with weight decay) run by any loop keeps pruned weights at zero. Re-zeroing in
  an ``on_step_end`` callback would work only where the caller remembers to pass the callback.
- The model stays an ordinary module: the layer is still an ``nn.Conv2d``/``nn.Linear``
  (a subclass made by ``parametrize``), it deep-copies, and ``state_dict()`` holds the mask as
  a buffer (``<layer>.parametrizations.weight.0.mask``) beside the weight, so it saves and loads.
- Removing it (:func:`remove_masks`) bakes the masked weight into a plain ``Parameter`` and
  restores the plain class: nothing remains for an exporter to trip over. The older
  ``torch.nn.utils.prune`` forward-pre-hooks do the same job with a hook and two extra
  attributes per layer; parametrizations are what torch's own sparsity tools build on now.

Masked entries of the stored original are zeroed too, when a mask is set, so weight decay and
momentum have nothing to move there and a layer's magnitude ranking sees pruned weights as 0.

Example:
    >>> conv = nn.Conv2d(1, 4, 3)
    >>> apply_mask(conv, conv.weight.abs() > 0.1)
    >>> bool((conv.weight[~mask_of(conv)] == 0).all())
    True
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from edgeopt.errors import EdgeoptError

__all__ = [
    "PRUNABLE_TYPES", "WeightMask", "apply_mask", "is_masked", "mask_of", "remove_masks",
    "restore_masks",
]

PRUNABLE_TYPES = (nn.Conv2d, nn.Linear)
_MASK_KEY = ".parametrizations.weight.0.mask"  # state-dict key suffix of a layer's mask


class WeightMask(nn.Module):
    """The parametrization ``weight = original * mask``; ``mask`` is a bool buffer.

    Example:
        >>> WeightMask(torch.tensor([True, False]))(torch.tensor([2.0, 3.0]))
        tensor([2., 0.])
    """

    mask: Tensor  # a registered buffer

    def __init__(self, mask: Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.detach().to(torch.bool).clone())

    def forward(self, weight: Tensor) -> Tensor:
        return weight * self.mask


def is_masked(module: nn.Module) -> bool:
    """Whether ``module``'s weight carries a :class:`WeightMask`.

    Example:
        >>> is_masked(nn.Linear(2, 2))
        False
    """
    return _mask_parametrization(module) is not None


def mask_of(module: nn.Module) -> Tensor | None:
    """The bool mask of ``module``'s weight (True = kept), or None if it has none.

    Example:
        >>> mask_of(nn.Linear(2, 2)) is None
        True
    """
    found = _mask_parametrization(module)
    return None if found is None else found.mask


def apply_mask(module: nn.Module, mask: Tensor) -> None:
    """Mask ``module``'s weight in place with ``mask`` (True = kept), replacing any earlier mask.

    The stored original weight is zeroed where the mask is False (see the module docstring).

    Raises:
        EdgeoptError: ``module`` is not a Conv2d/Linear, or the mask's shape is not the weight's.

    Example:
        >>> lin = nn.Linear(3, 2)
        >>> apply_mask(lin, torch.tensor([[True, False, True], [False, True, True]]))
        >>> int((lin.weight == 0).sum())
        2
    """
    if not isinstance(module, PRUNABLE_TYPES):
        raise EdgeoptError(f"cannot mask a {type(module).__name__}: only Conv2d and Linear weights")
    weight = module.weight
    if tuple(mask.shape) != tuple(weight.shape):
        raise EdgeoptError(
            f"mask shape {tuple(mask.shape)} does not match the weight's {tuple(weight.shape)}"
        )
    mask = mask.to(device=weight.device, dtype=torch.bool)
    existing = _mask_parametrization(module)
    if existing is None:
        parametrize.register_parametrization(module, "weight", WeightMask(mask))
    else:
        existing.mask.copy_(mask)
    with torch.no_grad():
        _weight_parametrizations(module).original.mul_(mask)


def remove_masks(model: nn.Module) -> nn.Module:
    """Bake every mask of ``model`` into its plain weight, in place; return ``model``.

    Afterwards no parametrization remains and each layer is a plain ``Conv2d``/``Linear`` again.
    :func:`edgeopt.prune.finalize` does this on a copy.

    Example:
        >>> plain = remove_masks(masked)
        >>> any(is_masked(m) for m in plain.modules())
        False
    """
    for module in list(model.modules()):
        if is_masked(module):
            _unshare_class(module)
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return model


def restore_masks(model: nn.Module, state_dict: dict[str, Tensor]) -> nn.Module:
    """Add to ``model`` (in place) the masks that ``state_dict`` holds, so it can be loaded.

    A state dict saved from a masked model has ``<layer>.parametrizations.weight.original`` and
    ``<layer>.parametrizations.weight.0.mask`` keys, which a freshly built (unmasked) model
    rejects. Call this first, then ``model.load_state_dict(state_dict)``.

    Raises:
        EdgeoptError: the state dict names a layer the model does not have.

    Example:
        >>> state = torch.load("sparse.pt", weights_only=True)  # saved from a masked model
        >>> fresh = create_model("simple_cnn", in_chans=1)
        >>> restore_masks(fresh, state).load_state_dict(state)
        <All keys matched successfully>
    """
    modules = dict(model.named_modules())
    for key, mask in state_dict.items():
        if not key.endswith(_MASK_KEY):
            continue
        name = key[: -len(_MASK_KEY)]
        if name not in modules:
            raise EdgeoptError(
                f"the state dict has a pruning mask for layer {name!r}, which the model lacks",
                hint="build the same architecture the state dict was saved from",
            )
        apply_mask(modules[name], mask)
    return model


def _mask_parametrization(module: nn.Module) -> WeightMask | None:
    if not parametrize.is_parametrized(module, "weight"):
        return None
    found = [p for p in _weight_parametrizations(module) if isinstance(p, WeightMask)]
    return found[0] if found else None


def _weight_parametrizations(module: nn.Module) -> parametrize.ParametrizationList:
    """``module.parametrizations.weight``, which ``parametrize`` attaches at run time."""
    found = getattr(module.parametrizations, "weight", None)
    if not isinstance(found, parametrize.ParametrizationList):
        raise TypeError(f"the weight of {type(module).__name__} is not parametrized")
    return found


def _unshare_class(module: nn.Module) -> None:
    """Give ``module`` its own copy of its parametrized class.

    ``parametrize`` keeps the ``weight`` property on a class made per module, but a deep copy
    shares that class with the module it was copied from, and ``remove_parametrizations``
    deletes the property from the class: finalizing a copy would break the original
    (``'ParametrizedConv2d' object has no attribute 'weight'``). A private class for the module
    being unmasked keeps every other instance intact.
    """
    cls = type(module)
    namespace = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, namespace)
