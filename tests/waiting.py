"""Polling another process's progress in tests (a study it writes, a file it creates)."""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy.exc


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` every 0.2 s until it holds; fail naming ``what`` after ``seconds``.

    A study the other process is still creating (KeyError, database errors) counts as not yet.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (KeyError, sqlalchemy.exc.SQLAlchemyError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
