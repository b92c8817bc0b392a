"""Optuna studies in PostgreSQL: trials from separate OS processes meet in one study.

This is what distributed architecture search relies on: workers on any machine open the same study
by name in one RDB storage and add trials concurrently, each seeing the others' results.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.postgres

STUDY = "edgeopt-distributed"
TRIALS_PER_WORKER = 8

# One worker: open (or create) the study, wait for the start signal so that both workers run at the
# same time, then add its trials, each tagged with the worker's name.
WORKER = """
import sys, time
from pathlib import Path
import optuna

url, study_name, worker, n_trials, ready, go = sys.argv[1:]
optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=3)
study = optuna.create_study(storage=storage, study_name=study_name, load_if_exists=True)
Path(ready).touch()
deadline = time.monotonic() + 60
while not Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.05)

def objective(trial):
    trial.set_user_attr("worker", worker)
    x = trial.suggest_float("x", -10.0, 10.0)
    return (x - 2.0) ** 2

study.optimize(objective, n_trials=int(n_trials))
"""


def test_trials_from_two_processes_share_one_study(postgres_storage_url: str, tmp_path: Path) -> None:
    # The schema first, in this process: two workers creating the tables at once would race.
    optuna.storages.RDBStorage(postgres_storage_url).remove_session()
    workers = ("a", "b")
    go = tmp_path / "go"
    procs = {
        w: subprocess.Popen(
            [sys.executable, "-c", WORKER, postgres_storage_url, STUDY, w, str(TRIALS_PER_WORKER),
             str(tmp_path / f"ready-{w}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for w in workers
    }
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{w}").exists() for w in workers):
            if any(p.poll() is not None for p in procs.values()) or time.monotonic() > deadline:
                break  # a worker failed early: its output and exit code are reported below
            time.sleep(0.05)
        go.touch()
        outputs = {w: p.communicate(timeout=120)[0] for w, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    for w, p in procs.items():
        assert p.returncode == 0, f"worker {w} failed ({p.returncode}):\n{outputs[w]}"

    study = optuna.load_study(study_name=STUDY, storage=postgres_storage_url)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == len(workers) * TRIALS_PER_WORKER
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    per_worker = {w: sum(t.user_attrs.get("worker") == w for t in trials) for w in workers}
    assert per_worker == dict.fromkeys(workers, TRIALS_PER_WORKER)
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # one numbering across processes
    assert optuna.get_all_study_names(storage=postgres_storage_url) == [STUDY]  # both opened the same study
