"""Name → factory registry for models built from code.

Example:
    >>> import edgeopt
    >>> model = edgeopt.create_model("mobilenet_v1", num_classes=10, width_mult=0.25)
    >>> edgeopt.list_models("mobilenet*")
    ['mobilenet_v1', 'mobilenet_v1_conv', 'mobilenet_v2']
"""

from __future__ import annotations

import fnmatch
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


def register_model(name: str, description: str = "") -> Callable[[ModelFactory], ModelFactory]:
    """Register a model factory (a class or function) under ``name``.

    Example:
        >>> @register_model("tiny", "a one-layer test model")
        ... def tiny(num_classes: int = 10) -> nn.Module:
        ...     return nn.Linear(4, num_classes)
    """

    def decorator(factory: ModelFactory) -> ModelFactory:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        doc = description or (inspect.getdoc(factory) or "").split("\n")[0]
        _REGISTRY[name] = ModelEntry(name, factory, doc)
        return factory

    return decorator


def get_entry(name: str) -> ModelEntry:
    """Return the registry entry for ``name`` or raise an error suggesting close names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        hint = suggest(name, _REGISTRY) or f"known models: {', '.join(sorted(_REGISTRY))}"
        raise EdgeoptError(f"unknown model {name!r}", hint=hint) from None


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with ``kwargs``.

    Raises:
        EdgeoptError: ``name`` is not registered, or a keyword is not accepted.
    """
    entry = get_entry(name)
    accepted = entry.accepted_kwargs()
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise EdgeoptError(
            f"model {name!r} does not take {', '.join(map(repr, unknown))}",
            hint=f"it accepts: {', '.join(accepted)}",
        )
    return entry.factory(**kwargs)


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of registered models matching a shell-style ``pattern``."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def model_entries() -> list[ModelEntry]:
    """All registry entries, sorted by name."""
    return [_REGISTRY[n] for n in list_models()]
