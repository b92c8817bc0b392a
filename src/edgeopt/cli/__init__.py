"""The ``edgeopt`` command line: a thin Typer layer over the Python API.

Every command calls the public API; user errors (:class:`edgeopt.errors.EdgeoptError`) are
printed as one line and exit with code 2; ``--debug`` shows the traceback instead.
"""

from edgeopt.cli.app import app, main

__all__ = ["app", "main"]
