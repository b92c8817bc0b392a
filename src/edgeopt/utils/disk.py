"""Refusing, before any work, an output location that cannot take a file (read-only, full, a file)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from edgeopt.errors import EdgeoptError
from edgeopt.utils.units import format_bytes

# Below this much free space a disk counts as full: every model file edgeopt writes goes through a
# temporary copy beside it, and even a small CNN's checkpoint with its lineage is ~100 KiB.
MIN_FREE_BYTES = 1024 * 1024


def check_writable(path: str | Path, what: str = "output") -> None:
    """Refuse, before any work, an output location that cannot take a file.

    ``path`` (a file or directory to be written, existing or not) is checked through its nearest
    existing folder: a read-only file system or missing permission (``os.access``, which even
    root's writes obey for read-only mounts), or less than :data:`MIN_FREE_BYTES` free.

    Raises:
        EdgeoptError: Naming the folder and the reason.
    """
    target = Path(path).absolute()
    folder = target if target.is_dir() else target.parent  # an existing file is replaced in its folder
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise EdgeoptError(f"cannot write the {what} {str(path)!r}: {str(folder)!r} is a file, not a folder",
                           hint="pick another -o")
    if not os.access(folder, os.W_OK | os.X_OK):
        try:
            read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        reason = os.strerror(errno.EROFS) if read_only else "no permission to write there"
        raise EdgeoptError(f"cannot write the {what} {str(path)!r}: {reason} ({str(folder)!r})",
                           hint="write elsewhere (-o)" + ("" if read_only else " or fix the permissions"))
    try:
        stats = os.statvfs(folder)
    except OSError:
        return
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE_BYTES:
        raise EdgeoptError(f"cannot write the {what} {str(path)!r}: the disk holding {str(folder)!r} is full "
                           f"({format_bytes(free)} free)", hint="free space or write elsewhere (-o)")
