"""One writer per run directory: a second run, --force or --resume is refused while one runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline import run_recipe
from edgeopt.utils.run_lock import LOCK_FILE, RunLock

HOLD = """
import sys, time
from pathlib import Path
from edgeopt.utils.run_lock import RunLock
lock = RunLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_a_held_lock_names_its_holder(tmp_path):
    expected = rf"is in use by process {os.getpid()} on .* \(since "
    with RunLock(tmp_path), pytest.raises(EdgeoptError, match=expected):
        RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released: free again
        pass


def test_lock_of_a_killed_process_is_free_again(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(EdgeoptError, match=f"in use by process {holder.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    deadline = time.time() + 10
    while True:  # the kernel releases a dead process's locks
        try:
            RunLock(tmp_path).acquire()
            break
        except EdgeoptError:
            assert time.time() < deadline
            time.sleep(0.1)


def test_force_and_resume_do_not_touch_a_run_in_progress(write_recipe, tmp_path):
    recipe = write_recipe("- type: fuse\n")
    run_dir = tmp_path / "run"
    run_recipe(recipe, run_dir, report=False)
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    with RunLock(run_dir):  # as if another `edgeopt run` were writing it
        for options in ({"force": True}, {"resume": True}):
            with pytest.raises(EdgeoptError, match="is in use by process"):
                run_recipe(recipe, run_dir, report=False, **options)
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before
    assert (run_dir / LOCK_FILE).is_file()
    results = run_recipe(recipe, run_dir, force=True, report=False)  # free again
    assert [c.name for c in results.candidates] == ["baseline", "fuse"]


def test_force_keeps_refusing_a_folder_that_is_not_a_run(write_recipe, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(EdgeoptError, match="not an edgeopt run directory"):
        run_recipe(write_recipe("- type: fuse\n"), folder, force=True, report=False)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # not even a lock file left
