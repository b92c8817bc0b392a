"""Name → factory registry for models built from code.

Example:
    >>> import edgeopt
    >>> model = edgeopt.create_model("mobilenet_v1", num_classes=10, width_mult=0.25)
    >>> edgeopt.list_models("mobilenet*")
    ['mobilenet_v1', 'mobilenet_v1_conv', 'mobilenet_v2']
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from edgeopt.errors import EdgeoptError, suggest

ModelFactory = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its name, factory and a one-line description."""

    name: str
    factory: ModelFactory
    description: str

    def accepted_kwargs(self) -> list[str]:
        """Names of the keyword arguments the factory takes."""
        return [p for p in inspect.signature(self.factory).parameters if p != "self"]


_REGISTRY: dict[str, ModelEntry] = {}
# edgeopt's own models: registered on the registry's first use (building them imports torch.nn
# layers, which ``import edgeopt`` and ``edgeopt --help`` should not wait for).
_BUILTINS = (
    ("mobilenet_v1", "edgeopt.models.mobilenet_v1", "MobileNetV1",
     "MobileNetV1 (Howard et al. 2017): depthwise separable convs, width α"),
    ("mobilenet_v1_conv", "edgeopt.models.mobilenet_v1", "ConvMobileNet",
     "MobileNetV1 with full 3×3 convs instead of separable ones"),
    ("mobilenet_v2", "edgeopt.models.mobilenet_v2", "MobileNetV2",
     "MobileNetV2 (Sandler et al. 2018): inverted residuals"),
    ("space_net", "edgeopt.models.space_net", "space_net",
     "A network of a search space (MobileNetV2/V3-style): what architecture search returns"),
    ("simple_cnn", "edgeopt.models.simple_cnn", "SimpleCNN", "A small plain CNN baseline (3 conv-BN-ReLU stages)"),
)
_builtins_registered = False


def _registry() -> dict[str, ModelEntry]:
    """The registry, edgeopt's own models included."""
    global _builtins_registered
    if not _builtins_registered:
        _builtins_registered = True
        for name, module, attr, description in _BUILTINS:
            _REGISTRY[name] = ModelEntry(name, getattr(importlib.import_module(module), attr), description)
    return _REGISTRY


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registry model (edgeopt's or one you registered)."""
    return name in _registry()


def register_model(name: str, description: str = "") -> Callable[[ModelFactory], ModelFactory]:
    """Register a model factory (a class or function) under ``name``.

    Example:
        >>> @register_model("tiny", "a one-layer test model")
        ... def tiny(num_classes: int = 10) -> nn.Module:
        ...     return nn.Linear(4, num_classes)
    """

    def decorator(factory: ModelFactory) -> ModelFactory:
        if name in _registry():
            raise ValueError(f"model name {name!r} is already registered")
        doc = description or (inspect.getdoc(factory) or "").split("\n")[0]
        _REGISTRY[name] = ModelEntry(name, factory, doc)
        return factory

    return decorator


def get_entry(name: str) -> ModelEntry:
    """Return the registry entry for ``name`` or raise an error suggesting close names."""
    registry = _registry()
    try:
        return registry[name]
    except KeyError:
        hint = suggest(name, registry) or f"known models: {', '.join(sorted(registry))}"
        raise EdgeoptError(f"unknown model {name!r}", hint=hint) from None


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with ``kwargs``.

    The options are checked first (:func:`edgeopt.models.validation.check_model_options`): names,
    types and ranges against the factory's signature, and the memory the weights would take.

    Raises:
        EdgeoptError: ``name`` is not registered, an option is unknown, of the wrong type or out
            of range, the weights would not fit in memory, or the factory refuses the options.
    """
    from edgeopt.models.validation import check_model_options

    entry = get_entry(name)
    checked = check_model_options(name, entry.factory, kwargs)
    try:
        return entry.factory(**checked)
    except (TypeError, ValueError, OverflowError) as exc:  # a registered factory refusing its options
        shown = ", ".join(f"{k}={v!r}" for k, v in checked.items()) or "no options"
        raise EdgeoptError(f"model {name!r} cannot be built with {shown}: {type(exc).__name__}: {exc}",
                           hint="check the model options (-a KEY=VALUE)") from exc


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of registered models matching a shell-style ``pattern``."""
    return sorted(n for n in _registry() if fnmatch.fnmatch(n, pattern))


def model_entries() -> list[ModelEntry]:
    """All registry entries, sorted by name."""
    return [_registry()[n] for n in list_models()]
