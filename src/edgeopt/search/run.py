"""``search()``: an architecture search in a run directory, resumable; ``join()``: a worker.

A run directory holds ``search.json`` (the options, the storage URL and the study's name),
``search.db`` (the default SQLite storage), ``supernet.pt`` and, when the search ends,
``front.json`` and the finalists (:mod:`edgeopt.search.finalize`). Everything a trial found is in
the study, so ``--resume`` redoes nothing and any process may write the front.

Example:
    >>> outcome = search(SearchConfig(space="mnist", data="digits", trials=20), "runs/search")
    >>> outcome.front[0]["accuracy"] > 0
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeopt.errors import EdgeoptError
from edgeopt.models.space_net import build_model
from edgeopt.models.spaces import SearchSpace, parse_space
from edgeopt.search.candidates import CodeSpace, DataSpace, Proposer
from edgeopt.search.config import SearchConfig
from edgeopt.search.evaluator import Evaluation, TrialEvaluator, evaluation_of
from edgeopt.search.front import hypervolume_2d, pareto_indices
from edgeopt.search.objectives import Limits, arch_cost
from edgeopt.search.study import (
    GRACE_S,
    create_study,
    finished,
    load_study,
    open_storage,
    record_run,
    redacted,
    run_storage,
    run_trials,
    study_config,
)
from edgeopt.utils.atomic import write_json_atomic
from edgeopt.utils.run_lock import RunLock

if TYPE_CHECKING:
    import optuna

    from edgeopt.data import DatasetSplits
    from edgeopt.search.supernet import Supernet

SEARCH_FILE = "search.json"
FRONT_FILE = "front.json"
SUPERNET_FILE = "supernet.pt"
DEFAULT_STUDY = "search"
Echo = Callable[[str], None]


@dataclass
class SearchOutcome:
    """What a search found.

    Attributes:
        run_dir: The run directory.
        study: The study's name; storage: its URL (password hidden).
        trials_here: Trials this process completed; trials_total: complete trials in the study.
        front: The feasible Pareto front (one dict per network, most accurate first).
        hypervolume: Of the accuracy–latency front, against (0 %, the slowest trial's latency).
        finalists: The fine-tuned, exported and measured front members (:mod:`.finalize`).
        winner: The finalist chosen (most accurate int8 artifact that meets every bound).
        interrupted: Whether Ctrl-C or the time budget stopped the trials early.
        all_trials: Every finished trial's point (number, accuracy, latency, feasible, int8 peak
            SRAM and weight bytes), for plots.
        baselines: The config's baselines, measured on their files like the finalists.
    """

    run_dir: str
    study: str
    storage: str
    trials_here: int
    trials_total: int
    front: list[dict[str, Any]]
    hypervolume: float | None
    finalists: list[dict[str, Any]] = field(default_factory=list)
    winner: dict[str, Any] | None = None
    interrupted: bool = False
    all_trials: list[dict[str, Any]] = field(default_factory=list)
    baselines: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``front.json``)."""
        return asdict(self)


def search(config: SearchConfig, run_dir: str | os.PathLike[str], *, resume: bool = False,
           storage: str | None = None, study_name: str = DEFAULT_STUDY, echo: Echo | None = None,
           finalize: bool = True, grace_s: int = GRACE_S, splits: DatasetSplits | None = None) -> SearchOutcome:
    """Run (or resume) an architecture search in ``run_dir``; see the module docstring.

    ``grace_s``: seconds without a heartbeat after which another process fails a trial and
    queues it again (a killed worker's trial). ``splits``: data already loaded (a recipe's), used
    instead of loading ``config.data``; workers cannot join such a search (they load by name).

    Raises:
        EdgeoptError: bad options, a run directory that holds another search (without ``resume``),
            constraints no architecture meets, an unreachable storage, a foreign study or supernet.
    """
    say = echo or (lambda _text: None)
    root = Path(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    with RunLock(root):
        config, storage_url = _prepare_run(config, root, resume=resume, storage=storage, study_name=study_name)
        splits = load_search_data(config, splits)
        proposer = _proposer(config, splits, say, train=True)
        db = open_storage(storage_url, grace_s=grace_s)
        if resume and _has_study(db, study_name):
            study = load_study(db, study_name, expected=config)
        else:
            study = create_study(config, db, study_name)
        evaluator = TrialEvaluator(config, proposer, splits, on_trial=_progress(say, config))
        interrupted, here = _trials(study, evaluator, config, say)
        outcome = summarize(study, config, root, storage_url, study_name, here, interrupted)
        if finalize and not interrupted and config.top_k > 0:
            from edgeopt.search.finalize import finalize_front

            finalize_front(outcome, config, proposer, splits, root, say)
        if finalize and not interrupted and config.baselines:
            from edgeopt.search.finalize import measure_baselines

            measure_baselines(outcome, config, splits, root, say)
        write_json_atomic(root / FRONT_FILE, outcome.to_dict())
        return outcome


def join(storage: str, study_name: str, *, timeout_s: float | None = None, trials: int | None = None,
         echo: Echo | None = None, grace_s: int = GRACE_S, trust_code: bool = False) -> int:
    """Add trials to a running study from this process (``edgeopt search worker``); returns how many.

    The study records the options; the supernet file it names must be readable here. ``trials``
    raises the number of complete trials the study should hold (default: the study's own). A study
    whose space is code imports that code only with ``trust_code``: the module's name comes from
    the database, which is not necessarily yours alone.

    Raises:
        EdgeoptError: an unreachable storage, no such study, a study edgeopt did not make, a
            supernet file this process cannot read, or a code space without ``trust_code``.
    """
    say = echo or (lambda _text: None)
    db = open_storage(storage, grace_s=grace_s)
    study = load_study(db, study_name)
    config = study_config(study, study_name)
    if config.is_code_space() and not trust_code:
        raise EdgeoptError(f"study {study_name!r} searches the space written as code {config.space!r}; "
                           "a worker imports it only when you allow it",
                           hint="if you trust that module, pass --trust-code")
    splits = load_search_data(config)
    proposer = _proposer(config, splits, say, train=False)
    evaluator = TrialEvaluator(config, proposer, splits, on_trial=_progress(say, config))
    budget = config.model_copy(update={"timeout_s": timeout_s, "trials": trials or config.trials})
    _interrupted, here = _trials(study, evaluator, budget, say)
    return here


def load_search_data(config: SearchConfig, splits: DatasetSplits | None = None) -> DatasetSplits:
    """The search's data, split the same way in every process (seeded); ``splits`` if given."""
    from edgeopt.data import load_dataset

    if splits is None:
        splits = load_dataset(config.data, seed=config.seed, limit=config.limit)
    splits.check_split_sizes()
    return splits


def sized_space(name: str, splits: DatasetSplits) -> SearchSpace:
    """The space ``name`` with the data's input channels and classes."""
    space = parse_space(name)
    return space.model_copy(update={"in_chans": splits.in_chans, "num_classes": splits.num_classes})


def check_reachable(space: SearchSpace, limits: Limits, splits: DatasetSplits) -> None:
    """Refuse bounds that even the space's smallest network breaks (naming the bound and its figure).

    Raises:
        EdgeoptError: the smallest architecture needs more SRAM or flash than allowed.
    """
    if limits.sram_bytes is None and limits.flash_bytes is None:
        return
    smallest = space.smallest()
    cost = arch_cost(build_model(smallest, space), (1, splits.in_chans, smallest.resolution, smallest.resolution))
    for name, need, have in (("peak SRAM (int8)", cost.peak_sram_int8, limits.sram_bytes),
                             ("weights (int8)", cost.weight_bytes_int8, limits.flash_bytes)):
        if have is not None and need > have:
            raise EdgeoptError(f"no architecture of space {space.name!r} meets the {name} bound of {have:,} B: "
                               f"the smallest ({smallest.label()}) needs {need:,} B",
                               hint="raise the bound, or search a space with narrower or shallower networks")


def summarize(study: optuna.Study, config: SearchConfig, root: Path, storage_url: str, study_name: str,
              here: int, interrupted: bool) -> SearchOutcome:
    """The study's feasible front as plain data.

    Raises:
        EdgeoptError: trials finished but none meets the bounds (naming the closest one).
    """
    trials = finished(study)
    rows, points, seen, every = [], [], set(), []
    for trial in trials:
        row = evaluation_of(trial)
        every.append({**{k: row.get(k) for k in ("number", "accuracy", "latency", "feasible")},
                      **{k: row["cost"].get(k) for k in ("peak_sram_int8", "weight_bytes_int8")}})
        key = trial.user_attrs.get("key")
        if not row["feasible"] or key in seen or trial.values is None:
            continue
        seen.add(key)
        rows.append(row)
        points.append(list(trial.values))
    if trials and not rows:
        raise _nothing_feasible(trials, config)
    front = [rows[i] for i in pareto_indices(points, config.directions())]
    front.sort(key=lambda r: -float(r["accuracy"]))
    hypervolume = None
    if config.objectives == ("accuracy", "latency") and points:
        worst = max(p[1] for p in points)
        hypervolume = hypervolume_2d(points, (0.0, worst), config.directions())
    return SearchOutcome(str(root), study_name, redacted(storage_url), here, len(trials), front, hypervolume,
                         interrupted=interrupted, all_trials=every)


def _nothing_feasible(trials: list[optuna.trial.FrozenTrial], config: SearchConfig) -> EdgeoptError:
    names = Limits.of(config).names()
    closest = min(trials, key=lambda t: max(t.user_attrs.get("constraints", [0.0]) or [0.0]))
    values = closest.user_attrs.get("constraints", [])
    worst = max(range(len(values)), key=lambda i: values[i]) if values else 0
    what = names[worst] if worst < len(names) else "a bound"
    over = f"{values[worst] * 100:.0f}% over" if values else "over"
    return EdgeoptError(f"none of {len(trials)} trials meets every bound; the closest (trial {closest.number}) is "
                        f"{over} the {what} bound",
                        hint="loosen that bound, or search longer; the study keeps every trial")


def _prepare_run(config: SearchConfig, root: Path, *, resume: bool, storage: str | None,
                 study_name: str) -> tuple[SearchConfig, str]:
    marker = root / SEARCH_FILE
    url, study_name = run_storage(marker, resume=resume, storage=storage, study_name=study_name, what="a search",
                                  default_db=root / "search.db")
    if config.accuracy == "supernet" and config.supernet is None:
        config = config.model_copy(update={"supernet": str((root / SUPERNET_FILE).resolve())})
    record_run(marker, config.to_attr(), url, study_name)
    return config, url


def _has_study(storage: optuna.storages.BaseStorage, name: str) -> bool:
    return any(s.study_name == name for s in storage.get_all_studies())


def _proposer(config: SearchConfig, splits: DatasetSplits, say: Echo, *, train: bool) -> Proposer:
    """The space's candidates; the supernet is trained when missing (``train``) or must exist."""
    if config.is_code_space():
        return CodeSpace(config.space)
    space = sized_space(config.space, splits)
    if train:
        check_reachable(space, Limits.of(config), splits)
        return DataSpace(space, _supernet_for(config, space, splits, say))
    if config.accuracy != "supernet":
        return DataSpace(space, None)
    from edgeopt.search.supernet_train import load_supernet

    assert config.supernet is not None  # the first process records the path it wrote
    return DataSpace(space, load_supernet(config.supernet, space))


def _supernet_for(config: SearchConfig, space: SearchSpace, splits: DatasetSplits, say: Echo) -> Supernet | None:
    if config.accuracy != "supernet":
        return None
    from edgeopt.search.supernet import Supernet
    from edgeopt.search.supernet_train import load_supernet, save_supernet, train_supernet

    assert config.supernet is not None  # _prepare_run sets it
    path = Path(config.supernet)
    if path.exists():
        say(f"supernet: {path} (already trained)")
        return load_supernet(path, space)
    say(f"supernet: training {config.supernet_epochs} epochs (sandwich rule, in-place distillation)")
    supernet = Supernet(space)
    train_supernet(supernet, splits, epochs=config.supernet_epochs, seed=config.seed)
    save_supernet(path, supernet)
    return supernet


def _trials(study: optuna.Study, evaluator: TrialEvaluator, config: SearchConfig, say: Echo) -> tuple[bool, int]:
    before = len(finished(study))
    say(f"search: {before} of {config.trials} trials done; sampler {config.sampler}, objectives "
        f"{' / '.join(config.objectives)}")
    try:
        here = run_trials(study, evaluator, config, timeout_s=config.timeout_s)
    except KeyboardInterrupt:
        here = len(finished(study)) - before
        say(f"interrupted: {here} trials finished here; every finished trial is kept (--resume continues)")
        return True, here
    if len(finished(study)) < config.trials:
        say(f"time budget reached after {here} trials here; the front so far is kept (--resume continues)")
    return False, here


def _progress(say: Echo, config: SearchConfig) -> Callable[[int, Evaluation], None]:
    unit = "MMAC" if config.latency == "macs" else "ms"

    def line(number: int, found: Evaluation) -> None:
        ok = "ok" if all(v <= 0 for v in found.constraints) else "over a bound"
        say(f"trial {number:>4}: {found.candidate.label:<26} acc {found.accuracy:5.1f}%  "
            f"{found.latency:8.3f} {unit}  sram {found.cost.peak_sram_int8 / 1024:7.1f} KiB  "
            f"weights {found.cost.weight_bytes_int8 / 1024:7.1f} KiB  {ok}")

    return line
