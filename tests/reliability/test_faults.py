"""Faults from outside the input (issue 11): kill -9, two runs at once, a full disk, a read-only folder.

- ``edgeopt run`` killed with SIGKILL during the baseline, in the middle of a step (with a partial
  file written) and after a finished step, resumed each time with ``--resume``: nothing finished
  is redone or touched, what the kill left is cleared, and the run completes.
- Two runs on one run directory: the second is refused (with or without ``--force``/``--resume``)
  in one line and changes nothing; the first finishes.
- A full disk (a 1 MiB tmpfs) and a read-only folder (a read-only bind mount): every writing
  command fails with one line, exit 2, and leaves no half-written file. Mounting needs root; where
  it is not allowed (CI containers) the full-disk tests are skipped, and the read-only tests fall
  back to refusing writes at the OS-call boundary (``os.open``/``os.mkdir``, patched in-process).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import reliability_steps  # noqa: F401 (registers reliability.wait in this process)
from campaign_support import RunCli, assert_untouched, assert_user_error, leftovers, run_cli, snapshot

from edgeopt.checkpoint import save_checkpoint
from edgeopt.data import load_dataset
from edgeopt.loading import open_model

__all__ = ["run_cli"]  # the fixture, imported for pytest

HERE = Path(__file__).parent
SCRIPT = (f"import sys, torch; sys.path.insert(0, {str(HERE)!r}); torch.set_num_threads(1)\n"
          "import reliability_steps\nfrom edgeopt.cli import main\nsys.argv = ['edgeopt', *sys.argv[1:]]\nmain()\n")


def start(log: Path, *args: str | Path) -> subprocess.Popen[bytes]:
    """``edgeopt ARGS`` in a new process (stderr to ``log``), knowing the reliability.wait step."""
    with open(log, "ab") as err:
        return subprocess.Popen([sys.executable, "-c", SCRIPT, *map(str, args)], stdout=subprocess.DEVNULL,
                                stderr=err)


def wait_for(path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"edgeopt ended (exit {proc.returncode}) before {path}: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL our own child, by its handle (nothing runs its cleanup), and reap it."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def json_files_parse(run_dir: Path) -> None:
    """Every JSON file edgeopt wrote is whole (written to a temporary and renamed)."""
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained simple_cnn checkpoint for digits (every command accepts it)."""
    data = load_dataset("digits")
    opened = open_model("simple_cnn", data=data)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pt", opened.model, opened.lineage,
                           input_size=data.input_shape(1), metadata={"dataset": "digits"})


def write_recipe(path: Path, steps: str = "", train: bool = True) -> Path:
    head = "model: simple_cnn\n" + ("train: {epochs: 1, lr: 5.0e-3, progress: false}\n" if train else "")
    path.write_text(head + "data: digits\nsteps:\n" + textwrap.indent(textwrap.dedent(steps), "  "),
                    encoding="utf-8")
    return path


# --- kill -9 and resume ---------------------------------------------------------------------------


@pytest.mark.slow
def test_run_killed_at_several_points_resumes_to_the_same_end(tmp_path: Path, run_cli: RunCli) -> None:
    f1, f2, m1, m2 = (tmp_path / n for n in ("w1.flag", "w2.flag", "w1.started", "w2.started"))
    f1.touch()
    f2.touch()
    recipe = write_recipe(tmp_path / "recipe.yaml", f"""\
        - type: reliability.wait
          name: w1
          flag: {f1}
          marker: {m1}
        - type: prune.structured
          ratio: 0.5
        - type: reliability.wait
          name: w2
          flag: {f2}
          marker: {m2}
        - type: fuse
        """)
    run, log = tmp_path / "run", tmp_path / "stderr.txt"
    steps = run / "steps"

    # 1. During the baseline (its step directory exists, its step.json not yet).
    proc = start(log, "run", recipe, "-o", run, "--no-report")
    wait_for(steps / "00_baseline", proc, log)
    kill(proc)
    json_files_parse(run)

    # 2. In the middle of step 1, which has written half a file.
    proc = start(log, "run", recipe, "-o", run, "--no-report", "--resume")
    wait_for(m1, proc, log)
    kill(proc)
    assert (steps / "00_baseline" / "step.json").is_file()
    assert (steps / "01_reliability.wait" / "partial.bin").is_file()
    assert not (steps / "01_reliability.wait" / "step.json").exists()
    baseline = mtimes(steps / "00_baseline")
    json_files_parse(run)

    # 3. After step 2 finished, in the middle of step 3.
    f1.unlink()
    proc = start(log, "run", recipe, "-o", run, "--no-report", "--resume")
    wait_for(m2, proc, log)
    kill(proc)
    assert (steps / "02_prune.structured" / "step.json").is_file()
    assert not (steps / "01_reliability.wait" / "partial.bin").exists()  # step 1 was redone from scratch
    assert mtimes(steps / "00_baseline") == baseline  # finished: not redone, not touched
    finished = {**mtimes(steps / "01_reliability.wait"), **mtimes(steps / "02_prune.structured")}
    # 4. What a kill during an atomic write leaves: the temporary of results.json.
    (run / ".results.json.k1ll3d.tmp").write_text('{"half": ', encoding="utf-8")

    f2.unlink()
    code, _, err = run_cli("run", str(recipe), "-o", str(run), "--no-report", "--resume")
    assert code == 0, err
    state = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert state["status"] == "done"
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in results["candidates"]] == ["baseline", "w1", "prune.structured", "w2", "fuse"]
    assert mtimes(steps / "00_baseline") == baseline
    assert {**mtimes(steps / "01_reliability.wait"), **mtimes(steps / "02_prune.structured")} == finished
    assert not (steps / "03_reliability.wait" / "partial.bin").exists()
    assert leftovers(run) == []
    json_files_parse(run)
    code, _, err = run_cli("profile", str(steps / "04_fuse" / "model.pt"), "--json")  # the end reloads
    assert code == 0, err


# --- two runs at once -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_second_run_on_a_run_directory_in_use_is_refused_and_changes_nothing(tmp_path: Path,
                                                                              run_cli: RunCli) -> None:
    flag, marker = tmp_path / "hold.flag", tmp_path / "started"
    flag.touch()
    recipe = write_recipe(tmp_path / "recipe.yaml", f"- type: reliability.wait\n  flag: {flag}\n  marker: {marker}\n",
                          train=False)
    run, log = tmp_path / "run", tmp_path / "stderr.txt"
    first = start(log, "run", recipe, "-o", run, "--no-report")
    try:
        wait_for(marker, first, log)
        before = snapshot(run)
        code, out, err = run_cli("run", str(recipe), "-o", str(run), "--no-report")
        assert_user_error(code, out, err, r"run directory .* already exists")
        for option in ("--force", "--resume"):
            code, out, err = run_cli("run", str(recipe), "-o", str(run), "--no-report", option)
            assert_user_error(code, out, err, rf"run directory .* is in use by process {first.pid} on ")
        other_log = tmp_path / "other.txt"
        other = start(other_log, "run", recipe, "-o", run, "--no-report", "--force")  # a second process too
        assert other.wait(timeout=120) == 2
        assert_user_error(2, "", other_log.read_text(encoding="utf-8"), r"is in use by process")
        assert_untouched(before, run)
        flag.unlink()
        assert first.wait(timeout=120) == 0, log.read_text()[-2000:]
    finally:
        if first.poll() is None:
            kill(first)
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["status"] == "done"


# --- a full disk ----------------------------------------------------------------------------------


def _mount(args: list[str], target: Path) -> str | None:
    """Run ``mount``; the reason it failed, or None."""
    try:
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip() or f"mount exited {done.returncode}")


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30, check=False)


def _small_disk(folder: Path, size: str, free: int) -> Path:
    """Mount a tmpfs of ``size`` on ``folder`` and fill it (a filler file) until ``free`` bytes are left."""
    folder.mkdir()
    failed = _mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs"], folder)
    if failed:
        pytest.skip(f"cannot mount a small tmpfs here ({failed}); a full disk needs root and mount rights")
    stats = os.statvfs(folder)
    (folder / "filler").write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - free))
    return folder


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs with its last 16 KiB free."""
    try:
        yield _small_disk(tmp_path / "full", "1m", 16 * 1024)
    finally:
        _umount(tmp_path / "full")


@pytest.fixture
def filling_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs with 1.5 MiB free: enough to start writing, too little for a 6 MiB checkpoint."""
    try:
        yield _small_disk(tmp_path / "filling", "8m", 3 * 512 * 1024)
    finally:
        _umount(tmp_path / "filling")


DISK_COMMANDS = {
    "fuse": (["fuse", "{ckpt}", "-o", "{dir}/fused.pt"], "fused.pt"),
    "export": (["export", "{ckpt}", "-o", "{dir}/model.onnx"], "model.onnx"),
    "train": (["train", "simple_cnn", "--data", "digits", "--epochs", "1", "-o", "{dir}/trained"], "trained"),
    "devices": (["devices", "--plot", "{dir}/devices.png"], "devices.png"),
    "report": (["report", "{run}", "-o", "{dir}/report.html"], "report.html"),
    "run": (["run", "{recipe}", "-o", "{dir}/run", "--no-report"], "run"),
}


def _args(template: list[str], **values: Path) -> list[str]:
    return [part.format(**{k: str(v) for k, v in values.items()}) for part in template]


@pytest.mark.parametrize("command", sorted(DISK_COMMANDS))
def test_a_full_disk_is_refused_before_any_work(command: str, full_disk: Path, checkpoint: Path, tmp_path: Path,
                                                run_cli: RunCli) -> None:
    template, target = DISK_COMMANDS[command]
    recipe = write_recipe(tmp_path / "recipe.yaml", train=False)
    before = snapshot(full_disk)
    code, out, err = run_cli(*_args(template, ckpt=checkpoint, dir=full_disk, recipe=recipe, run=tmp_path))
    assert_user_error(code, out, err, r"the disk holding .* is full \(16\.00 KiB free\)")
    assert not (full_disk / target).exists()
    assert_untouched(before, full_disk)


FILLING_COMMANDS = {  # a 6 MiB checkpoint each
    "fuse": ["fuse", "simple_cnn", "-a", "width=128", "--input-size", "1,8,8", "-o", "{dir}/fused.pt"],
    "run": ["run", "{recipe}", "-o", "{dir}/run", "--no-report"],
}


@pytest.mark.parametrize("command", sorted(FILLING_COMMANDS))
def test_a_disk_filling_up_mid_write_is_one_line_and_leaves_no_half_written_file(
        command: str, filling_disk: Path, tmp_path: Path, run_cli: RunCli) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model: {source: simple_cnn, kwargs: {width: 128}}\ndata: digits\n", encoding="utf-8")
    filler = (filling_disk / "filler").stat().st_mtime_ns
    code, out, err = run_cli(*_args(FILLING_COMMANDS[command], dir=filling_disk, recipe=recipe))
    assert_user_error(code, out, err, r"No space left on device|disk may be full")
    assert leftovers(filling_disk) == []
    assert not (filling_disk / "fused.pt").exists()
    assert not (filling_disk / "run" / "steps" / "00_baseline" / "model.pt").exists()
    assert (filling_disk / "filler").stat().st_mtime_ns == filler
    if command == "run":  # what was written is whole, and the run resumes once there is room
        json_files_parse(filling_disk / "run")
        (filling_disk / "filler").unlink()
        code, _, err = run_cli(*_args(FILLING_COMMANDS[command], dir=filling_disk, recipe=recipe), "--resume")
        assert code == 0, err
        assert (filling_disk / "run" / "steps" / "00_baseline" / "step.json").is_file()


# --- a read-only folder ---------------------------------------------------------------------------


@pytest.fixture
def read_only(tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A read-only folder holding a checkpoint: a read-only bind mount, else writes refused in-process."""
    source, folder = tmp_path / "source", tmp_path / "ro"
    source.mkdir()
    folder.mkdir()
    (source / "model.pt").write_bytes(checkpoint.read_bytes())
    failed = _mount(["--bind", "-o", "ro", str(source)], folder)
    if not failed:
        try:
            (folder / "probe").write_bytes(b"")
        except OSError as exc:
            assert exc.errno == errno.EROFS
        else:
            _umount(folder)
            failed = "the bind mount is writable"
    if not failed:
        try:
            yield folder
        finally:
            _umount(folder)
        return
    # No mount here: refuse writes under the folder where Python asks the OS for them.
    folder.rmdir()
    folder.symlink_to(source)
    real_open, real_mkdir = os.open, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def refuse(path: object) -> None:
        if str(os.path.abspath(str(path))).startswith(str(folder)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def fake_open(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if flags & writing:
            refuse(path)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    def fake_mkdir(path: str, *args: object, **kwargs: object) -> None:
        refuse(path)
        real_mkdir(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    yield folder


READ_ONLY_COMMANDS = {
    "fuse": ["fuse", "{dir}/model.pt", "-o", "{dir}/fused.pt"],
    "export": ["export", "{dir}/model.pt", "-o", "{dir}/model.onnx"],
    "train": ["train", "simple_cnn", "--data", "digits", "--epochs", "1", "-o", "{dir}/trained"],
    "prune": ["prune", "{dir}/model.pt", "--data", "digits", "-e", "0", "--no-latency", "-o", "{dir}/pruned"],
    "devices": ["devices", "--plot", "{dir}/devices.png"],
    "run": ["run", "{recipe}", "-o", "{dir}/run", "--no-report"],
}


@pytest.mark.parametrize("command", sorted(READ_ONLY_COMMANDS))
def test_a_read_only_folder_is_one_line_and_stays_as_it_was(command: str, read_only: Path, tmp_path: Path,
                                                           run_cli: RunCli) -> None:
    recipe = write_recipe(tmp_path / "recipe.yaml", train=False)
    before = snapshot(read_only)
    code, out, err = run_cli(*_args(READ_ONLY_COMMANDS[command], dir=read_only, recipe=recipe))
    assert_user_error(code, out, err, r"[Rr]ead-only file system")
    assert_untouched(before, read_only)


# --- Ctrl-C ---------------------------------------------------------------------------------------


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_in_a_command_is_exit_130_and_one_word(tmp_path: Path, run_cli: RunCli,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edgeopt.cli.transform_run.run_transform", _interrupt)
    code, _, err = run_cli("train", "simple_cnn", "--data", "digits", "-o", str(tmp_path / "t"))
    assert code == 130 and err == "interrupted\n"
    assert not (tmp_path / "t").exists()


def test_ctrl_c_before_a_run_has_written_anything_offers_no_resume(tmp_path: Path, run_cli: RunCli,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edgeopt.pipeline.sources.DataSource.load", _interrupt)
    recipe = write_recipe(tmp_path / "recipe.yaml", train=False)
    code, _, err = run_cli("run", str(recipe), "-o", str(tmp_path / "run"))
    assert code == 130 and err == "interrupted; nothing was written\n"
    assert not (tmp_path / "run").exists()


def test_ctrl_c_during_a_run_says_the_command_that_resumes_it(tmp_path: Path, run_cli: RunCli,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edgeopt.pipeline.runner._Run._baseline", _interrupt)
    recipe = write_recipe(tmp_path / "recipe.yaml", train=False)
    run = tmp_path / "run"
    code, _, err = run_cli("run", str(recipe), "-o", str(run), "--no-report")
    assert code == 130
    assert err == f"interrupted; finished steps are kept: continue with `edgeopt run {recipe} -o {run} " \
                  "--no-report --resume`\n"
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["status"] == "interrupted"
    monkeypatch.undo()
    code, _, err = run_cli("run", str(recipe), "-o", str(run), "--no-report", "--resume")
    assert code == 0, err


@pytest.mark.parametrize(("message", "is_write"), [
    ("[enforce fail at inline_container.cc:672] . unexpected pos 24448 vs 24344", True),
    ("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file data/0", True),
    ("PytorchStreamReader failed reading zip archive: failed finding central directory", False),
    ("[enforce fail at inline_container.cc:237] . file not found: archive/data.pkl", False),
])
def test_only_torch_write_failures_are_reported_as_a_full_disk(message: str, is_write: bool) -> None:
    from edgeopt.cli.entry import _is_torch_write_failure

    assert _is_torch_write_failure(RuntimeError(message)) is is_write
