"""Another process in tests: polling its progress (a study it writes, a file it creates), and
starting it so that the Ctrl-C a test sends reaches it."""

from __future__ import annotations

import signal
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


def default_sigint() -> None:
    """A ``preexec_fn``: Ctrl-C's default action in the child, before exec. A shell without job
    control starts background jobs (e.g. `make test &`) with SIGINT ignored, the child inherits
    that, and Python then installs no KeyboardInterrupt handler: a SIGINT the test sends would do
    nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
