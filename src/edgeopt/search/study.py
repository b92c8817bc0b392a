"""The Optuna study a search lives in: storage, sampler, identity checks, heartbeats and the budget.

The study is the single source of truth: every finished trial is in its storage (``sqlite`` in
the run directory by default, any Optuna RDB URL such as PostgreSQL for many workers). A process
killed mid-trial stops sending heartbeats; the next process that starts a trial marks that trial
failed and :class:`optuna.storages.RetryFailedTrialCallback` queues its parameters again, so only
that trial's work is lost.

Sampler: multi-objective TPE with the constraints function (``tpe``, the default) models
categorical choices well from a few dozen trials, and suggests each trial from all finished ones,
so parallel workers never wait for a generation to fill. NSGA-II (``nsga2``) needs a population
of 50 per generation: a 200-trial search is four generations, too few for crossover to pay off,
but it is there for long runs. ``random`` is the baseline both should beat.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from edgeopt.errors import EdgeoptError
from edgeopt.search.config import SearchConfig

if TYPE_CHECKING:
    import optuna
    from pydantic import BaseModel

OptionsT = TypeVar("OptionsT", bound="BaseModel")
CONFIG_ATTR = "edgeopt.config"
IDENTITY_ATTR = "edgeopt.identity"
# A live worker beats every HEARTBEAT_S; a trial silent for GRACE_S is failed and retried.
HEARTBEAT_S = 5
GRACE_S = 20
MAX_RETRY = 2


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***`` (errors and logs never show it)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def run_storage(marker: Path, *, resume: bool, storage: str | None, study_name: str, what: str,
                default_db: Path) -> tuple[str, str]:
    """The storage URL and study name of the run whose options file is ``marker``.

    A new run uses ``storage`` or SQLite at ``default_db``; a resumed one what ``marker`` records
    (the URL given again wins; a URL with a password is never recorded, so it must be given).

    Raises:
        EdgeoptError: ``marker`` exists without ``resume`` (the directory holds ``what``), or the
            recorded storage had a password and none was given.
    """
    if marker.exists() and not resume:
        raise EdgeoptError(f"{marker.parent} already holds {what}",
                           hint="continue it with --resume, or give another -o")
    if resume and marker.exists():
        recorded = read_marker(marker)
        if storage is None and recorded.get("storage") is None and recorded.get("storage_shown"):
            raise EdgeoptError(f"the run in {marker.parent} uses {recorded['storage_shown']}, whose password is not "
                               "stored", hint="give the storage URL again with --storage")
        storage = storage or recorded.get("storage")
        study_name = recorded.get("study", study_name)
    return storage or f"sqlite:///{default_db.resolve()}", study_name


def read_marker(marker: Path) -> dict[str, Any]:
    """What :func:`record_run` wrote to ``marker``.

    Raises:
        EdgeoptError: the file cannot be read or is not such a record (damaged, or another file).
    """
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EdgeoptError(f"{marker} cannot be read as a run's record: {str(exc).splitlines()[0]}",
                           hint="give the storage URL and study name (--storage, --study) instead") from None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("study", ""), str):
        raise EdgeoptError(f"{marker} is not a run's record (no storage and study in it)",
                           hint="give the storage URL and study name (--storage, --study) instead")
    return recorded


def record_run(marker: Path, config: dict[str, Any], url: str, study_name: str) -> None:
    """Write ``marker``: the run's options, its storage (never a password) and study name."""
    from edgeopt.utils.atomic import write_json_atomic

    hidden = redacted(url) != url
    write_json_atomic(marker, {"config": config, "storage": None if hidden else url, "storage_shown": redacted(url),
                               "study": study_name})


def open_storage(url: str, *, grace_s: int = GRACE_S) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage with heartbeats and retries of failed trials.

    A trial silent for ``grace_s`` seconds is failed (its process died) and queued again; this
    process beats every ``grace_s / 4`` seconds (at most every :data:`HEARTBEAT_S`).

    Raises:
        EdgeoptError: the URL is malformed, its driver is not installed, or the database does not answer.
    """
    import optuna
    from sqlalchemy.exc import ArgumentError, OperationalError

    from edgeopt.utils.quiet import no_warnings

    try:
        with no_warnings():  # heartbeats are "experimental" in Optuna since 2.8: a warning per process
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=max(1, min(HEARTBEAT_S, grace_s // 4)), grace_period=grace_s,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY))
    except ModuleNotFoundError as exc:
        raise EdgeoptError(f"storage {redacted(url)}: its database driver {exc.name!r} is not installed",
                           hint="pip install 'edgeopt[postgres]' for PostgreSQL") from None
    except (ArgumentError, ValueError) as exc:
        raise EdgeoptError(f"storage URL {redacted(url)} is not valid: {str(exc).splitlines()[0]}",
                           hint="e.g. sqlite:///run/search.db or postgresql+psycopg2://user@host:5432/db") from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        raise EdgeoptError(f"cannot reach storage {redacted(url)}: {reason}",
                           hint="check the host, port, database name and credentials") from None


def make_sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    """The sampler ``config`` names, seeded. Bounds reach TPE and NSGA-II as the constraint values
    each trial sets (``Trial.set_constraint``, read by both samplers)."""
    import optuna

    from edgeopt.utils.quiet import no_warnings

    with no_warnings():  # multivariate TPE is "experimental" since Optuna 2.2
        if config.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=config.seed)
        if config.sampler == "random":
            return optuna.samplers.RandomSampler(seed=config.seed)
        return optuna.samplers.TPESampler(seed=config.seed, multivariate=True,
                                          n_startup_trials=min(20, max(5, config.trials // 10)))


def create_study(config: SearchConfig, storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """Create the study ``name``, or refuse when it exists (resuming is :func:`load_study`).

    Raises:
        EdgeoptError: a study of that name exists in the storage.
    """
    import optuna

    from edgeopt.utils.quiet import no_warnings

    if name in _study_names(storage):
        raise EdgeoptError(f"study {name!r} already exists in the storage",
                           hint="resume it with --resume, join it with `edgeopt search worker`, or pick another name")
    study = optuna.create_study(storage=storage, study_name=name, directions=config.directions(),
                                sampler=make_sampler(config))
    with no_warnings():
        study.set_metric_names(list(config.objectives))
    study.set_user_attr(CONFIG_ATTR, config.to_attr())
    study.set_user_attr(IDENTITY_ATTR, config.identity())
    return study


def load_study(storage: optuna.storages.BaseStorage, name: str, expected: SearchConfig | None = None) -> optuna.Study:
    """Load the study ``name``; with ``expected``, refuse it when made with other options.

    Raises:
        EdgeoptError: no such study, a study edgeopt did not make, or one with another space,
            objectives or constraints (the differing fields are named).
    """
    import optuna

    if name not in _study_names(storage):
        known = ", ".join(sorted(_study_names(storage))[:5]) or "none"
        raise EdgeoptError(f"no study {name!r} in the storage (studies there: {known})",
                           hint="start the search first (`edgeopt search ... -o RUN_DIR --storage URL`)")
    found = study_config(optuna.load_study(study_name=name, storage=storage), name)
    if expected is not None and found.identity() != expected.identity():
        changed = "; ".join(found.differences(expected)[:4])
        raise EdgeoptError(f"study {name!r} was made with other options: {changed}",
                           hint="use the study's options, or start a new study (another name or run directory)")
    return optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(found))


def study_config(study: optuna.Study, name: str) -> SearchConfig:
    """The config a study records.

    Raises:
        EdgeoptError: the study has none (not an edgeopt search) or it does not parse.
    """
    return recorded_options(study, name, CONFIG_ATTR, SearchConfig, "`edgeopt search`")


def recorded_options(study: optuna.Study, name: str, attr: str, kind: type[OptionsT], command: str) -> OptionsT:
    """The options of type ``kind`` that ``study`` records under the user attribute ``attr``.

    Raises:
        EdgeoptError: none recorded (a study ``command`` did not make), or none this edgeopt reads.
    """
    from pydantic import ValidationError

    data: Any = study.user_attrs.get(attr)
    if not isinstance(data, dict):
        raise EdgeoptError(f"study {name!r} was not made by {command} (it records no options of it)",
                           hint=f"name a study that {command} created")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        raise EdgeoptError(f"study {name!r} records options this edgeopt does not read: "
                           f"{exc.errors()[0]['msg']}", hint="use the edgeopt version that made the study") from None


def _study_names(storage: optuna.storages.BaseStorage) -> set[str]:
    return {s.study_name for s in storage.get_all_studies()}


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's complete trials."""
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def run_trials(study: optuna.Study, objective: Any, config: SearchConfig, *, timeout_s: float | None,
               progress: bool = True) -> int:
    """Run trials until the study holds ``config.trials`` complete ones or ``timeout_s`` passes.

    Returns the number of trials this process completed. Ctrl-C stops after marking the running
    trial failed; every finished trial stays in the storage (KeyboardInterrupt propagates).
    """
    import optuna

    before = len(finished(study))
    if before >= config.trials:
        return 0
    stop = optuna.study.MaxTrialsCallback(config.trials, states=(optuna.trial.TrialState.COMPLETE,))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, timeout=timeout_s, callbacks=[stop], show_progress_bar=False, gc_after_trial=False)
    return len(finished(study)) - before
