"""Lazy public names for a package (PEP 562), so importing it does not import every submodule.

Example:
    >>> __getattr__, __dir__ = lazy_exports(__name__, {"profile": "edgeopt.analysis"}, globals())
    >>> # a public name bound to an object of another name: "module:attribute"
    >>> lazy_exports(__name__, {"onnx": "edgeopt.export.onnx_export:export_onnx"}, globals())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` a package uses to import ``exports`` on first use.

    Args:
        package: The package's ``__name__`` (for error messages).
        exports: Public name → module that defines it, or ``"module:attribute"`` when the
            public name is an alias (``edgeopt.export.onnx`` is ``onnx_export:export_onnx``).
        namespace: The package's ``globals()``; each name is cached there once imported.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = exports[name].partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        namespace[name] = value  # cache: later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
