"""What the bad-input campaign shares: the in-process CLI, the one-line error check, file snapshots.

Imported by the campaign's test modules (``from campaign_support import ...``); ``run_cli`` is a
fixture, the rest plain helpers.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeopt.cli import main

RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run the real entry point in-process; return (exit code, stdout, stderr).

    The same pattern as tests/cli/conftest.py.
    """

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["edgeopt", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_user_error(code: int, out: str, err: str, match: str = "") -> str:
    """Exit code 2, exactly one ``error:`` line and at most one ``  hint:`` line, no traceback.

    Returns the error line; ``match`` is a regex the whole of stderr must contain.
    """
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = err.rstrip("\n").split("\n")
    assert code == 2, f"exit code {code}: {err}"
    assert lines[0].startswith("error: "), err
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("  hint: ")), err
    assert sum(line.startswith("error:") for line in lines) == 1, err
    if match:
        assert re.search(match, err, re.DOTALL), f"{match!r} not in {err!r}"
    return lines[0]


Snapshot = dict[str, tuple[int, int, str]]


def snapshot(root: Path) -> Snapshot:
    """Every file and directory under ``root``: size, mtime (ns) and SHA-256 of its bytes."""
    found: Snapshot = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir():
            found[rel + "/"] = (0, path.stat().st_mtime_ns, "")
        else:
            found[rel] = (path.stat().st_size, path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def assert_untouched(before: Snapshot, root: Path) -> None:
    """Nothing under ``root`` was added, removed, changed or even rewritten with the same bytes."""
    after = snapshot(root)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k] and not k.endswith("/"))
    assert not added, f"files written: {added}"
    assert not removed, f"files removed: {removed}"
    assert not changed, f"files changed: {changed}"


def leftovers(root: Path) -> list[str]:
    """Temporary files of interrupted atomic writes (``.NAME.XXXX.tmp``) under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp"))
