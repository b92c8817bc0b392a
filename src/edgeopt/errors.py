"""User-facing errors.

Every problem caused by the user's input (an unknown model name, a missing file, a channel
mismatch) is raised as an :class:`EdgeoptError`. The CLI prints it as one line with its hint and
exits with code 2; a traceback is shown only with ``--debug``. Anything else is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EdgeoptError(Exception):
    """An error in the user's input, with a hint on how to fix it.

    Args:
        message: What is wrong, naming the offending value.
        hint: How to fix it (optional).

    Example:
        >>> raise EdgeoptError("unknown model 'mobilnet'", hint="did you mean 'mobilenet_v1'?")
        Traceback (most recent call last):
        ...
        edgeopt.errors.EdgeoptError: unknown model 'mobilnet' (did you mean 'mobilenet_v1'?)
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str | None:
    """Return a hint naming the closest of ``choices`` to ``name``, or ``None`` if none is close.

    Example:
        >>> suggest("mobilenetv2", ["mobilenet_v1", "mobilenet_v2"])
        "did you mean 'mobilenet_v2'?"
    """
    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"
