"""Workers (``join`` / ``edgeopt optimize --join``): trials added to a run's study, files a decider makes again.

A run of two trials is made first; a worker then adds a third, and the run resumed chooses among all
three. A worker's file the deciding process cannot read (another machine's directory) is made again
in the run directory with its accuracy measured on it. Refusals name what is wrong. The concurrent
case (a resumed run and a worker at once, on one SQLite study and one run directory) is slow.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from optimize_helpers import small_config

from edgeopt.errors import EdgeoptError
from edgeopt.optimize import optimize
from edgeopt.optimize.choices import Choice
from edgeopt.optimize.decide import local_row
from edgeopt.optimize.run import context_for
from edgeopt.optimize.study import open_study
from edgeopt.optimize.worker import join

EDGEOPT = [sys.executable, "-c", "from edgeopt.cli import main; main()"]


def _study(run: Path) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="optimize", storage=f"sqlite:///{run / 'optimize.db'}")


def _two_calibrations(checkpoint: Path, **options: Any) -> Any:
    # one model, two calibrations: two distinct choices, the baseline in minmax then percentile
    chosen = {"prune_ratios": (0.0,), "calibrations": ("minmax", "percentile", "entropy"), **options}
    return small_config(checkpoint, **chosen)


def test_a_worker_adds_trials_the_resumed_run_chooses_among(trained_checkpoint, tmp_path, steady_machine):
    run = tmp_path / "run"
    config = _two_calibrations(trained_checkpoint, trials=2)
    optimize(config, run)
    done, interrupted = join(run, trials=3)
    assert (done, interrupted) == (1, False)
    trials = [t for t in _study(run).trials  # a choice the sampler repeated is not measured again
              if t.state == optuna.trial.TrialState.COMPLETE and "duplicate_of" not in t.user_attrs]
    assert len(trials) == 3
    assert {"host", "cpu"} <= set(trials[-1].user_attrs["measured_on"])
    again = optimize(config.model_copy(update={"trials": 3}), run, resume=True)
    assert again.here == 0 and again.trials == 3
    assert {row["trial"] for row in again.rows} == {t.number for t in trials}
    assert not any("another CPU" in note for note in again.notes)  # every trial was measured on this CPU


def test_a_file_made_elsewhere_is_made_again_here_and_measured(trained_checkpoint, tmp_path, digits):
    config = _two_calibrations(trained_checkpoint)
    context, *_ = context_for(config, tmp_path / "decider", lambda _text: None)
    elsewhere = {"file": str(tmp_path / "other-machine" / "variants" / "baseline" / "model.int8-minmax.onnx"),
                 "runtime": "onnxruntime", "precision": "int8", "threads": 1, "calibration": "minmax",
                 "latency_ms": 0.5, "accuracy_test": 0.0, "choice": Choice(calibration="minmax").to_dict(),
                 "pipeline": "int8 (minmax)", "trial": 4, "measured_on": {"host": "elsewhere", "cpu": "Other CPU"}}
    here = local_row(elsewhere, context)
    path = Path(here["file"])
    assert path.is_file() and path.is_relative_to(tmp_path / "decider") and path.name == "model.int8-minmax.onnx"
    assert here["made_here"] and here["size_bytes"] == path.stat().st_size
    assert here["accuracy_test"] > 50.0  # measured on the new file, not the worker's figure (0.0)
    assert here["latency_ms"] == 0.5  # until the side-by-side runs time it here
    assert local_row(here, context) is here  # a readable file is used as it is


def test_join_without_a_run_or_storage_says_what_to_give(tmp_path):
    with pytest.raises(EdgeoptError, match="holds no optimization"):
        join(tmp_path / "empty")


def test_join_names_the_studies_there_when_the_name_is_wrong(trained_checkpoint, tmp_path):
    url = f"sqlite:///{tmp_path / 'opt.db'}"
    open_study(_two_calibrations(trained_checkpoint), url, "mine", resume=False)
    with pytest.raises(EdgeoptError, match=r"no study 'other' in the storage \(studies there: mine\)"):
        join(tmp_path / "w", storage=url, study_name="other")


def test_join_refuses_a_model_it_cannot_read(trained_checkpoint, tmp_path):
    url = f"sqlite:///{tmp_path / 'opt.db'}"
    open_study(_two_calibrations(trained_checkpoint, model=str(tmp_path / "gone" / "model.pt")), url, "optimize",
               resume=False)
    with pytest.raises(EdgeoptError, match="is not readable from this process"):
        join(tmp_path / "w", storage=url)


def test_join_imports_a_code_model_only_when_allowed(trained_checkpoint, tmp_path):
    url = f"sqlite:///{tmp_path / 'opt.db'}"
    open_study(_two_calibrations(trained_checkpoint, model="somepkg.models:build", trust_code=True), url, "optimize",
               resume=False)
    with pytest.raises(EdgeoptError, match="pass --trust-code"):
        join(tmp_path / "w", storage=url)


def test_cli_join_refuses_a_model_argument_and_a_missing_one_is_named(tmp_path):
    with_model = subprocess.run([*EDGEOPT, "optimize", "m.pt", "--join", "-o", str(tmp_path)], capture_output=True,
                                text=True)
    assert with_model.returncode == 2 and "drop MODEL" in with_model.stderr + with_model.stdout
    with_options = subprocess.run([*EDGEOPT, "optimize", "--join", "-o", str(tmp_path), "--data", "digits",
                                   "--max-drop", "1"], capture_output=True, text=True)
    assert with_options.returncode == 2 and "drop --data, --max-drop" in with_options.stderr + with_options.stdout
    without = subprocess.run([*EDGEOPT, "optimize", "-o", str(tmp_path)], capture_output=True, text=True)
    assert without.returncode == 2 and "MODEL is missing" in without.stderr + without.stdout


# The resumed run in a process of its own, through the API: its options (calibrations, importance...)
# are not all flags.
RESUME = """
import json, sys
from edgeopt.optimize import OptimizeConfig, optimize
config = OptimizeConfig.model_validate_json(sys.argv[1])
outcome = optimize(config, sys.argv[2], resume=True)
print(json.dumps({"trials_here": outcome.here}))
"""


@pytest.mark.slow
def test_a_resumed_run_and_a_worker_at_once_share_the_study_and_the_directory(trained_checkpoint, tmp_path):
    run = tmp_path / "run"
    config = _two_calibrations(trained_checkpoint, trials=1, prune_ratios=(0.0, 0.5))
    optimize(config, run)
    more = config.model_copy(update={"trials": 4}).model_dump_json()
    main = subprocess.Popen([sys.executable, "-c", RESUME, more, str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    worker = subprocess.run([*EDGEOPT, "optimize", "--join", "-o", str(run), "--trials", "4", "--json"],
                            capture_output=True, text=True, timeout=600)
    out, err = main.communicate(timeout=600)
    assert worker.returncode == 0, worker.stderr[-1500:]
    assert main.returncode == 0, err.decode()[-1500:]
    answer = json.loads((run / "answer.json").read_text())
    assert answer["trials"] >= 4 and answer["chosen"] is not None
    here = json.loads(out.decode().splitlines()[-1])["trials_here"]
    assert here + json.loads(worker.stdout)["trials_here"] >= 3


@pytest.mark.postgres
def test_a_worker_elsewhere_on_postgres_its_files_remade_by_the_deciding_run(trained_checkpoint, tmp_path,
                                                                                postgres_storage_url, steady_machine):
    # confirm_top covers every row, so the worker's rows are candidates and their files must be made here
    config = _two_calibrations(trained_checkpoint, trials=2, confirm_top=20)
    run, elsewhere = tmp_path / "run", tmp_path / "other-machine"
    optimize(config, run, storage=postgres_storage_url)
    assert join(elsewhere, storage=postgres_storage_url, trials=3) == (1, False)
    shutil.rmtree(elsewhere)  # the deciding process cannot read the worker's directory
    said: list[str] = []
    outcome = optimize(config.model_copy(update={"trials": 3}), run, resume=True, storage=postgres_storage_url,
                       echo=said.append)
    assert outcome.trials == 3 and outcome.chosen is not None
    assert any("made by a worker on" in line for line in said), said
    assert Path(outcome.chosen["file"]).is_relative_to(run)  # the answer's file is one this process made


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\xff\xfe"])
def test_join_with_a_damaged_run_record_says_so(tmp_path, content):
    (tmp_path / "optimize.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(EdgeoptError, match="optimize.json (cannot be read as|is not) a run's record"):
        join(tmp_path)
