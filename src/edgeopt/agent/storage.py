"""Uploads, stored by their SHA-256 in a private temporary directory.

A file is written to ``ROOT/incoming/`` as it arrives (never held in memory whole), hashed on the
way, and kept only if its hash is the one the request announced and its content is an accepted
format (:mod:`edgeopt.agent.formats`). It then moves to ``ROOT/<kind>/<sha256>/<fixed name>``:
no part of a stored path comes from the client. ``ROOT`` is made by :func:`tempfile.mkdtemp`
(mode 0700) and removed when the agent stops. When the store is over its size budget, the least
recently used files that no queued job needs are deleted.

Example:
    >>> store = Store(max_bytes=1 << 30)
    >>> stored = store.receive("artifact", sha, read, length)
    >>> stored.format, stored.path.name
    ('onnx', 'artifact.onnx')
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgeopt.agent.formats import Refused, detect_format, load_data

Kind = Literal["artifact", "data"]
_FILE_NAMES = {"onnx": "artifact.onnx", "executorch": "artifact.pte", "npz": "data.npz"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Stored:
    """One stored upload: its hash, what it is, where it is and the name the client gave it."""

    kind: Kind
    sha256: str
    format: str
    path: Path
    size: int
    name: str

    def to_dict(self) -> dict[str, object]:
        """What a client is told about it (never the path)."""
        return {"kind": self.kind, "sha256": self.sha256, "format": self.format, "size": self.size,
                "name": self.name}


class Store:
    """Content-addressed storage of uploads in a private temporary directory.

    Args:
        max_bytes: Budget for all stored files; least recently used unpinned files go first.
        max_data_bytes: Largest unpacked evaluation data accepted.
    """

    def __init__(self, max_bytes: int = 1 << 30, max_data_bytes: int = 256 << 20) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="edgeopt-agent-"))
        self.max_bytes, self.max_data_bytes = max_bytes, max_data_bytes
        (self.root / "incoming").mkdir(mode=0o700)
        self._items: OrderedDict[tuple[Kind, str], Stored] = OrderedDict()
        self._pins: Counter[tuple[Kind, str]] = Counter()
        self._lock = threading.Lock()

    def get(self, kind: Kind, sha256: str) -> Stored | None:
        """The stored file, or None (marks it recently used)."""
        with self._lock:
            item = self._items.get((kind, sha256))
            if item is not None:
                self._items.move_to_end((kind, sha256))
            return item

    def receive(self, kind: Kind, sha256: str, read: Callable[[int], bytes], length: int, name: str) -> Stored:
        """Read exactly ``length`` bytes with ``read``, check them, store them under ``sha256``.

        Raises:
            Refused: fewer bytes than announced, another hash, a format the agent does not take.
            OSError: the disk is full (the partial file is removed).
        """
        fd, tmp_name = tempfile.mkstemp(dir=self.root / "incoming")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            received = 0
            with os.fdopen(fd, "wb") as out:
                while received < length:
                    chunk = read(min(_CHUNK, length - received))
                    if not chunk:
                        raise Refused(f"the upload ended after {received} of {length} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
            if digest.hexdigest() != sha256:
                raise Refused(f"the bytes received hash to {digest.hexdigest()[:16]}…, not {sha256[:16]}… "
                              "(changed or damaged on the way)", hint="upload the file again")
            if kind == "artifact":
                fmt = detect_format(tmp)
            else:
                load_data(tmp, self.max_data_bytes)
                fmt = "npz"
            return self._keep(kind, sha256, fmt, tmp, length, name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _keep(self, kind: Kind, sha256: str, fmt: str, tmp: Path, size: int, name: str) -> Stored:
        with self._lock:
            key = (kind, sha256)
            if key in self._items:  # the same bytes again: keep the first copy
                self._items.move_to_end(key)
                return self._items[key]
            self._evict(size)
            folder = self.root / kind / sha256
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            final = folder / _FILE_NAMES[fmt]
            os.replace(tmp, final)
            item = Stored(kind, sha256, fmt, final, size, name)
            self._items[key] = item
            return item

    def _evict(self, incoming: int) -> None:
        used = sum(item.size for item in self._items.values())
        if incoming > self.max_bytes:
            raise Refused(f"the upload ({incoming} bytes) is larger than the agent's store ({self.max_bytes} bytes)",
                          hint="start the agent with a larger --store-mb")
        for key in list(self._items):
            if used + incoming <= self.max_bytes:
                break
            if self._pins[key]:
                continue
            item = self._items.pop(key)
            shutil.rmtree(item.path.parent, ignore_errors=True)
            used -= item.size
        if used + incoming > self.max_bytes:
            raise Refused("the agent's store is full of files that queued measurements need",
                          hint="wait for the queue to drain, or start the agent with a larger --store-mb")

    def pin(self, keys: Iterable[tuple[Kind, str]]) -> None:
        """Keep these files until :meth:`unpin` (a queued job needs them)."""
        with self._lock:
            self._pins.update(keys)

    def unpin(self, keys: Iterable[tuple[Kind, str]]) -> None:
        """Release a :meth:`pin`."""
        with self._lock:
            self._pins.subtract(keys)
            self._pins = +self._pins  # drop zero counts

    def close(self) -> None:
        """Delete the directory and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)
