"""Small shared helpers (atomic file output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "atomic_path": "edgeopt.utils.atomic",
    "write_json_atomic": "edgeopt.utils.atomic",
}

__all__ = [
    "atomic_path",
    "write_json_atomic",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.utils.atomic import atomic_path as atomic_path, write_json_atomic as write_json_atomic
