"""The Optuna study of an optimization: made with its options, and opened again only with the same ones.

The study records the options (``edgeopt.optimize``, and a hash of what changes trials), the
baseline's accuracy on its file (``edgeopt.reference``, measured once) and the machine its first
process ran on (``edgeopt.measured_on``). A resumed run and every worker read them from there,
so a worker needs only the storage URL and the study's name.

Example:
    >>> study = open_study(config, "sqlite:///runs/opt/optimize.db", "optimize", resume=False)
    >>> study_options(study, "optimize").max_drop
    0.5
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.errors import EdgeoptError
from edgeopt.optimize.choices import Choice, first_trials
from edgeopt.optimize.config import OptimizeConfig
from edgeopt.optimize.trial import Reference, measured_on
from edgeopt.optimize.variants import RunContext, make_variant

if TYPE_CHECKING:
    import optuna

CONFIG_ATTR, IDENTITY_ATTR, REFERENCE_ATTR = "edgeopt.optimize", "edgeopt.identity", "edgeopt.reference"
MEASURED_ON_ATTR = "edgeopt.measured_on"


def make_sampler(config: OptimizeConfig) -> optuna.samplers.BaseSampler:
    """Multivariate TPE, seeded; a quarter of the trials (3–8) are sampled at random first."""
    import optuna

    from edgeopt.utils.quiet import no_warnings

    with no_warnings():  # multivariate TPE is "experimental" since Optuna 2.2
        return optuna.samplers.TPESampler(seed=config.seed, multivariate=True, group=True,
                                          n_startup_trials=min(8, max(3, config.trials // 4)))


def open_study(config: OptimizeConfig, url: str, name: str, *, resume: bool) -> optuna.Study:
    """Create the study ``name`` (queueing the first trials), or with ``resume`` load it.

    Raises:
        EdgeoptError: the study exists without ``resume``, is not an optimization, or was made
            with options that change trials (the differing fields are named).
    """
    import optuna

    from edgeopt.search.study import open_storage

    # ERROR: no "A new study created" line, and no traceback per failed trial (run_trials names its reason)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    db = open_storage(url)
    if name in {s.study_name for s in db.get_all_studies()}:
        if not resume:
            raise EdgeoptError(f"study {name!r} already exists in the storage", hint="add --resume, or --study NAME")
        study = optuna.load_study(study_name=name, storage=db, sampler=make_sampler(config))
        _check_identity(study, config, name)
        return study
    study = optuna.create_study(storage=db, study_name=name, direction="minimize", sampler=make_sampler(config))
    study.set_user_attr(CONFIG_ATTR, config.to_attr())
    study.set_user_attr(IDENTITY_ATTR, config.identity())
    study.set_user_attr(MEASURED_ON_ATTR, measured_on())
    for params in first_trials(config):
        study.enqueue_trial(params)
    return study


def join_study(url: str, name: str, *, grace_s: int) -> tuple[optuna.Study, OptimizeConfig]:
    """Load the study ``name`` for a worker, with the options it records.

    Raises:
        EdgeoptError: an unreachable storage, no such study, or one edgeopt optimize did not make.
    """
    import optuna

    from edgeopt.search.study import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # as open_study
    db = open_storage(url, grace_s=grace_s)
    names = sorted(s.study_name for s in db.get_all_studies())
    if name not in names:
        raise EdgeoptError(f"no study {name!r} in the storage (studies there: {', '.join(names[:5]) or 'none'})",
                           hint="start the run first (`edgeopt optimize MODEL -o RUN_DIR --storage URL`)")
    study = optuna.load_study(study_name=name, storage=db)
    config = study_options(study, name)
    study.sampler = make_sampler(config)  # the run's sampler options, known only once its options are read
    return study, config


def study_options(study: optuna.Study, name: str) -> OptimizeConfig:
    """The options the study records.

    Raises:
        EdgeoptError: it records none (not an optimization) or none this edgeopt reads.
    """
    from edgeopt.search.study import recorded_options

    return recorded_options(study, name, CONFIG_ATTR, OptimizeConfig, "`edgeopt optimize`")


def _check_identity(study: optuna.Study, config: OptimizeConfig, name: str) -> None:
    recorded = study_options(study, name)
    if study.user_attrs.get(IDENTITY_ATTR) != config.identity():
        changed = "; ".join(recorded.differences(config)[:4])
        raise EdgeoptError(f"study {name!r} was made with other options: {changed}",
                           hint="use the study's options, or start a new run directory")


def reference_accuracy(study: optuna.Study, context: RunContext) -> Reference:
    """The baseline's accuracy on its fp32 ONNX file in ONNX Runtime (measured once, kept in the study)."""
    from edgeopt.optimize.deployments import Deployment, accuracies, open_deployment

    saved = study.user_attrs.get(REFERENCE_ATTR)
    if isinstance(saved, dict):
        return Reference(float(saved["accuracy_val"]), float(saved["accuracy_test"]))
    context.say("baseline: exporting to ONNX and measuring its accuracy on the file")
    path = make_variant(Choice(), context).file("fp32", "onnxruntime", context)
    found = Reference(*accuracies(open_deployment(str(path), Deployment("onnxruntime", "fp32", 1)), context))
    study.set_user_attr(REFERENCE_ATTR, found.to_dict())
    return found
