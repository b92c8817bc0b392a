"""The ``edgeopt`` command line: a thin Typer layer over the Python API.

Every command calls the public API; user errors (:class:`edgeopt.errors.EdgeoptError`) are
printed as one line and exit with code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "app": "edgeopt.cli.entry",
    "main": "edgeopt.cli.entry",
}

__all__ = [
    "app",
    "main",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.cli.entry import app as app, main as main
