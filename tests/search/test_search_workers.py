"""Many processes on one study: a worker killed mid-trial loses that trial only; Ctrl-C keeps trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from edgeopt.search.config import SearchConfig
from edgeopt.search.run import join, search
from edgeopt.search.study import open_storage
from waiting import default_sigint, wait_for

EDGEOPT = [sys.executable, "-c", "from edgeopt.cli import main; main()"]
State = optuna.trial.TrialState
COMPLETE, RUNNING, FAIL = State.COMPLETE, State.RUNNING, State.FAIL


def _trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="search", storage=open_storage(url)).get_trials()


@pytest.mark.postgres
@pytest.mark.slow
def test_worker_killed_mid_trial_loses_only_that_trial(postgres_storage_url: str, tiny_config: SearchConfig,
                                                        tmp_path: Path) -> None:
    url = postgres_storage_url
    config = tiny_config.model_copy(update={"trials": 2, "latency": "measure"})
    search(config, tmp_path / "run", storage=url, finalize=False, grace_s=2)
    worker = subprocess.Popen([*EDGEOPT, "search", "worker", "--storage", url, "--trials", "40", "--grace", "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: sum(t.state == COMPLETE for t in _trials(url)) >= 3
                  and any(t.state == RUNNING for t in _trials(url)), 300, "the worker to be mid-trial", worker)
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    before = _trials(url)
    done_before = {t.number for t in before if t.state == COMPLETE}
    killed = [t for t in before if t.state == RUNNING]
    assert len(killed) == 1
    time.sleep(3)  # past the grace period: the next process to start a trial fails the silent one
    join(url, "search", trials=len(done_before) + 2, grace_s=2)
    after = _trials(url)
    failed = [t for t in after if t.state == FAIL]
    assert [t.number for t in failed] == [killed[0].number]
    retried = [t for t in after if t.system_attrs.get("failed_trial") == killed[0].number]
    assert len(retried) == 1 and retried[0].state == COMPLETE
    # The retry keeps what the killed trial had chosen (all of it, unless it was killed while choosing).
    assert killed[0].params.items() <= retried[0].params.items()
    assert done_before <= {t.number for t in after if t.state == COMPLETE}


@pytest.mark.slow
def test_ctrl_c_keeps_finished_trials_and_resume_continues(tiny_space_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*EDGEOPT, "search", "--space", str(tiny_space_file), "--data", "digits", "--limit", "400",
            "--supernet-epochs", "1", "--latency", "measure", "--top-k", "0", "-o", str(run)]
    url = f"sqlite:///{run / 'search.db'}"
    process = subprocess.Popen([*args, "--trials", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=default_sigint)
    try:
        wait_for(lambda: (run / "search.db").exists() and sum(t.state == COMPLETE for t in _trials(url)) >= 2,
                  300, "two finished trials", process)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130
    finally:
        if process.poll() is None:
            process.kill()
    kept = [t for t in _trials(url) if t.state == COMPLETE]
    assert len(kept) >= 2
    resumed = subprocess.run([*args, "--trials", str(len(kept) + 1), "--resume"], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert sum(t.state == COMPLETE for t in _trials(url)) == len(kept) + 1
