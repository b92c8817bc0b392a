"""Interrupted runs keep finished steps; --resume continues without redoing them."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pipeline_test_steps import counts

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline import run_recipe
from waiting import default_sigint

HERE = Path(__file__).parent


def steps_with(tmp_path, middle: str) -> str:
    """count → prune → count → MIDDLE → count: counters show which steps ran, and how often."""
    counter = tmp_path / "counter.txt"
    return textwrap.dedent(f"""\
        - type: test.count
          name: first
          counter: {counter}
        - type: prune.structured
          ratio: 0.5
        - type: test.count
          name: second
          counter: {counter}
        """) + textwrap.dedent(middle) + textwrap.dedent(f"""\
        - type: test.count
          name: last
          counter: {counter}
        """)


def mtimes(run_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(run_dir)): p.stat().st_mtime_ns for p in (run_dir / "steps").glob("*/*")}


def test_failed_step_keeps_finished_steps_and_resume_continues(write_recipe, tmp_path):
    flag = tmp_path / "fail.flag"
    flag.touch()
    recipe = write_recipe(steps_with(tmp_path, f"- type: test.fail\n  flag: {flag}\n"))
    run_dir = tmp_path / "run"
    with pytest.raises(EdgeoptError, match=r"step 4 \(test.fail\) failed: the test flag is set.*--resume"):
        run_recipe(recipe, run_dir, report=False)
    assert counts(tmp_path / "counter.txt") == ["first", "second"]
    state = json.loads((run_dir / "run.json").read_text())
    assert state["status"] == "failed" and state["failed_step"] == {"index": 4, "type": "test.fail"}
    results = json.loads((run_dir / "results.json").read_text())
    assert [c["name"] for c in results["candidates"]] == ["baseline", "first", "prune.structured", "second"]
    before = mtimes(run_dir)

    flag.unlink()
    results = run_recipe(recipe, run_dir, resume=True, report=False)
    assert counts(tmp_path / "counter.txt") == ["first", "second", "last"]  # nothing ran twice
    assert {k: v for k, v in mtimes(run_dir).items() if k in before and "04_" not in k} == \
        {k: v for k, v in before.items() if "04_" not in k}  # finished steps' files untouched
    assert [c.name for c in results.candidates][-2:] == ["test.fail", "last"]
    # The resumed steps start from models restored from checkpoints (pruned shapes included).
    pruned = next(c for c in results.candidates if c.name == "prune.structured")
    last = next(c for c in results.candidates if c.name == "last")
    assert last.metrics.params == pruned.metrics.params
    assert last.metrics.test_accuracy == pytest.approx(pruned.metrics.test_accuracy)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "done"


def test_ctrl_c_marks_the_run_interrupted_and_keeps_finished_steps(write_recipe, tmp_path):
    flag = tmp_path / "stop.flag"
    flag.touch()
    recipe = write_recipe(f"- type: test.fail\n  flag: {flag}\n  interrupt: true\n")
    with pytest.raises(KeyboardInterrupt):
        run_recipe(recipe, tmp_path / "run", report=False)
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    assert state["status"] == "interrupted" and state["failed_step"]["index"] == 1
    assert (tmp_path / "run" / "steps" / "00_baseline" / "step.json").exists()
    flag.unlink()
    results = run_recipe(recipe, tmp_path / "run", resume=True, report=False)
    assert [c.name for c in results.candidates] == ["baseline", "test.fail"]


@pytest.mark.slow
def test_run_killed_mid_step_resumes_without_redoing_finished_steps(write_recipe, tmp_path):
    flag, marker = tmp_path / "stall.flag", tmp_path / "started.txt"
    flag.touch()
    recipe = write_recipe(steps_with(tmp_path, f"- type: test.stall\n  flag: {flag}\n  marker: {marker}\n"))
    run_dir = tmp_path / "run"
    script = (f"import sys, torch; sys.path.insert(0, {str(HERE)!r}); torch.set_num_threads(1)\n"
              "import pipeline_test_steps\nfrom edgeopt.pipeline import run_recipe\n"
              f"run_recipe({recipe!r}, {str(run_dir)!r}, report=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the run never reached the stalling step"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert counts(tmp_path / "counter.txt") == ["first", "second"]
    assert (run_dir / "steps" / "04_test.stall" / "partial.bin").exists()  # what the kill left
    assert not (run_dir / "steps" / "04_test.stall" / "step.json").exists()
    before = mtimes(run_dir)

    flag.unlink()
    results = run_recipe(recipe, run_dir, resume=True, report=False)
    assert counts(tmp_path / "counter.txt") == ["first", "second", "last"]
    for path, mtime in before.items():
        if not path.startswith("steps/04_"):
            assert mtimes(run_dir)[path] == mtime, path
    assert not (run_dir / "steps" / "04_test.stall" / "partial.bin").exists()  # rerun from scratch
    assert [c.name for c in results.candidates][-2:] == ["test.stall", "last"]


@pytest.fixture
def done_run(write_recipe, tmp_path):
    steps = "- type: train\n  train: {epochs: 1, lr: 1.0e-3, progress: false}\n- type: fuse\n"
    recipe = write_recipe(steps)
    run_recipe(recipe, tmp_path / "run", report=False)
    return tmp_path / "run", steps


def test_resume_against_a_changed_step_names_the_step_and_the_change(done_run, write_recipe):
    run_dir, steps = done_run
    changed = write_recipe(steps.replace("lr: 1.0e-3", "lr: 2.0e-3"), name="changed.yaml")
    expected = r"step 1 \(train 'train'\) changed since it ran \(train.lr: 0.001 -> 0.002\)"
    with pytest.raises(EdgeoptError, match=expected):
        run_recipe(changed, run_dir, resume=True, report=False)
    swapped = write_recipe("- type: train\n  train: {epochs: 1, lr: 1.0e-3, progress: false}\n- type: export\n",
                           name="swapped.yaml")
    with pytest.raises(EdgeoptError, match=r"step 2 \(fuse 'fuse'\) changed.*type: fuse -> export"):
        run_recipe(swapped, run_dir, resume=True, report=False)


def test_resume_against_a_changed_model_or_data(done_run, write_recipe):
    run_dir, steps = done_run
    header = "model: simple_cnn\ntrain: {epochs: 2, lr: 5.0e-3, progress: false}\ndata: digits\n"
    with pytest.raises(EdgeoptError, match=r"model, train or data section changed.*train.epochs: 1 -> 2"):
        run_recipe(write_recipe(steps, name="h.yaml", header=header), run_dir, resume=True, report=False)


def test_resume_with_a_removed_step_or_only_cosmetic_changes(done_run, write_recipe):
    run_dir, steps = done_run
    shorter = write_recipe("- type: train\n  train: {epochs: 1, lr: 1.0e-3, progress: false}\n", name="s.yaml")
    with pytest.raises(EdgeoptError, match=r"step 2 \(fuse\) finished in this run but the recipe no longer has it"):
        run_recipe(shorter, run_dir, resume=True, report=False)
    quiet = write_recipe(steps.replace("progress: false", "progress: true") + "- type: fuse\n  name: again\n",
                         name="q.yaml")
    results = run_recipe(quiet, run_dir, resume=True, report=False)  # progress is cosmetic; a step is added
    assert [c.name for c in results.candidates] == ["baseline", "train", "fuse", "again"]
    # The recipe saved in the run directory resumes it as it is (nothing left to run).
    again = run_recipe(run_dir / "recipe.yaml", run_dir, resume=True, report=False)
    assert [c.name for c in again.candidates] == ["baseline", "train", "fuse", "again"]


def test_resume_without_a_run(write_recipe, tmp_path):
    with pytest.raises(EdgeoptError, match="nothing to resume"):
        run_recipe(write_recipe("- type: fuse\n"), tmp_path / "none", resume=True, report=False)


@pytest.mark.slow
def test_ctrl_c_on_the_command_line_says_how_to_resume(write_recipe, tmp_path):
    flag, marker = tmp_path / "stall.flag", tmp_path / "started.txt"
    flag.touch()
    recipe = write_recipe(f"- type: test.stall\n  flag: {flag}\n  marker: {marker}\n")
    run_dir = tmp_path / "run"
    script = (f"import sys; sys.path.insert(0, {str(HERE)!r})\nimport pipeline_test_steps\n"
              "from edgeopt.cli import main\nsys.argv = ['edgeopt', *sys.argv[1:]]\nmain()\n")
    proc = subprocess.Popen([sys.executable, "-c", script, "run", recipe, "-o", str(run_dir), "--no-report"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the run never reached the stalling step"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == (f"interrupted; finished steps are kept: continue with "
                                            f"`edgeopt run {recipe} -o {run_dir} --no-report --resume`")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
