"""Polling another process's progress in tests (a study it writes, a file it creates)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import sqlalchemy.exc


def wait_for(condition: Callable[[], bool], seconds: float, what: str,
             process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``condition`` every 0.2 s until it holds; fail naming ``what`` after ``seconds``.

    A study the other process is still creating (KeyError, database errors) counts as not yet.
    With ``process``, its ending first fails at once with the end of its stderr (not a timeout).
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = (process.stderr.read() if process.stderr else b"").decode(errors="replace")[-1500:]
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}:\n{tail}")
        try:
            if condition():
                return
        except (KeyError, sqlalchemy.exc.SQLAlchemyError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
