"""One writer per run directory: an OS file lock held for the whole run.

``RUN_DIR/.edgeopt.lock`` is locked with ``flock`` (exclusive, non-blocking) and holds the
holder's PID, host and start time, so a second ``edgeopt run`` (even with ``--force`` or
``--resume``) gets an error naming who holds it. The kernel drops the lock when its process
ends, ``kill -9`` included, so a lock is never stale on the machine that took it; the recorded
PID and host only say who had it. The file itself stays (removing it would let two processes
lock two different files).

Example:
    >>> with RunLock(Path("runs/tiny")):
    ...     ...                                  # write the run
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from edgeopt.errors import EdgeoptError

LOCK_FILE = ".edgeopt.lock"


class RunLock:
    """An exclusive lock on a run directory (created if missing)."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock or raise, naming the process that holds it.

        Raises:
            EdgeoptError: Another process holds it, or the directory cannot be written.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise EdgeoptError(f"cannot use run directory {str(self.path.parent)!r}: {exc.strerror or exc}",
                               hint="pick a directory you can write (-o)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(fd)
            os.close(fd)
            raise EdgeoptError(f"run directory {str(self.path.parent)!r} is in use by {holder}",
                               hint="wait for that run to finish (or stop it), or pick another -o") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode())
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (the file stays)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _describe(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"process {holder['pid']} on {holder['host']} (since {holder['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
