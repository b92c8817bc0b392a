"""``join()``: add trials to a running optimization from another process (``edgeopt optimize --join``).

A worker reads the run's options from the study (the storage URL and study name, or the run
directory's ``optimize.json``), makes its models and files in its directory and measures each
trial's deployments on its machine. It never decides: the run's own process confirms and gates
the candidates on its machine at the end, making again there any file a worker made where it
cannot read it (:func:`edgeopt.optimize.decide.local_row`).

Where a worker can see the run's directory (the same machine, or a shared file system), give it
that directory: models and files are then made once for both (every file is written atomically,
so two processes making the same file lose time, never the file). Elsewhere give it a directory
of its own and the storage URL.

Latency belongs to a CPU: the useful worker runs on another machine with the run's CPU, one per
machine (two processes timing on the same cores slow each other's figures down). Each trial
records its host and CPU; a worker on another CPU is told so, and the answer notes such trials.

Example:
    >>> join("runs/opt")                      # the run's directory, seen from here
    5
    >>> join("/scratch/opt", storage="postgresql+psycopg2://edgeopt@db:5432/opt")
    7
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from edgeopt.errors import EdgeoptError
from edgeopt.optimize.config import OptimizeConfig
from edgeopt.optimize.run import DEFAULT_STUDY, MARKER, context_for, objective_for, run_trials
from edgeopt.optimize.study import MEASURED_ON_ATTR, join_study
from edgeopt.optimize.trial import measured_on
from edgeopt.search.study import GRACE_S, read_marker, redacted


def join(run_dir: str | os.PathLike[str], *, storage: str | None = None, study_name: str | None = None,
         trials: int | None = None, time_budget_s: float | None = None, grace_s: int = GRACE_S,
         trust_code: bool = False, echo: Callable[[str], None] | None = None) -> tuple[int, bool]:
    """Run trials of the optimization's study from this process until it holds its trials.

    Args:
        run_dir: The run's directory when this process sees it, else a directory of this worker's own.
        storage: The study's storage URL (default: the one ``run_dir/optimize.json`` records).
        study_name: The study's name (default: the recorded one, else ``optimize``).
        trials: Distinct choices the study should hold (default: the run's ``trials``).
        time_budget_s: Stop starting trials after this many seconds (default: no limit).
        grace_s: Seconds without a heartbeat before a trial counts as dead and is retried.
        trust_code: Allow the run's model when it is a ``module:factory`` (imported here).
        echo: Where progress lines go.

    Returns:
        The trials completed here, and whether Ctrl-C stopped them.

    Raises:
        EdgeoptError: no storage named or recorded, an unreachable storage, no such study, a
            study edgeopt optimize did not make, a model this process cannot read, a model
            written as code without ``trust_code``.
    """
    say = echo or (lambda _text: None)
    started = time.monotonic()
    root = Path(run_dir)
    url, name = _storage_of(root, storage, study_name)
    study, config = join_study(url, name, grace_s=grace_s)
    if config.trust_code and not trust_code:
        raise EdgeoptError(f"study {name!r} optimizes a model written as code ({config.model!r}); a worker imports it "
                           "only when you allow it", hint="if you trust that module, pass --trust-code")
    config = config.model_copy(update={"trials": trials or config.trials, "time_budget_s": time_budget_s})
    _check_model(config)
    root.mkdir(parents=True, exist_ok=True)
    say(f"worker: joining study {name!r} in {redacted(url)}; files in {root}")
    run_cpu = (study.user_attrs.get(MEASURED_ON_ATTR) or {}).get("cpu")
    here_cpu = measured_on()["cpu"]
    if run_cpu and run_cpu != here_cpu:
        say(f"note: this CPU ({here_cpu}) is not the run's ({run_cpu}): this worker's latencies steer "
            "the search; the run times its candidates again on its own machine")
    context, runtimes, _notes, bf16, threads = context_for(config, root, say)
    objective = objective_for(study, context, runtimes, bf16, threads)
    interrupted, _budget_hit, here = run_trials(study, objective, config, started, say, reserve=False)
    return here, interrupted


def _storage_of(root: Path, storage: str | None, study_name: str | None) -> tuple[str, str]:
    """The storage URL and study name: given, or recorded in the run directory's options file."""
    marker = root / MARKER
    recorded = read_marker(marker) if marker.is_file() else {}
    url = storage or recorded.get("storage")
    if url is None:
        if recorded.get("storage_shown"):
            raise EdgeoptError(f"the run in {root} uses {recorded['storage_shown']}, whose password is not stored",
                               hint="give the storage URL with --storage")
        raise EdgeoptError(f"{root} holds no optimization ({MARKER} is missing) and no --storage was given",
                           hint="give the run's directory, or --storage URL (and --study NAME) with a directory of "
                                "this worker's own")
    return str(url), study_name or str(recorded.get("study") or DEFAULT_STUDY)


def _check_model(config: OptimizeConfig) -> None:
    from edgeopt.loading import is_model_file

    if is_model_file(config.model) and not Path(config.model).is_file():
        raise EdgeoptError(f"the run's model {config.model!r} is not readable from this process",
                           hint="a worker needs the model file at the path the run was given (a shared directory, "
                                "or a copy at the same path)")
