"""edgeopt: make trained PyTorch models small, fast and frugal for edge devices, and prove it.

The curated public API. Each name here has a CLI twin (``edgeopt --help``). Names are imported
lazily (PEP 562) so ``import edgeopt`` and ``edgeopt --help`` stay quick and a submodule can be
used without importing every other one.

Example:
    >>> import edgeopt
    >>> model = edgeopt.create_model("mobilenet_v1", num_classes=10, width_mult=0.25)
    >>> cost = edgeopt.profile(model, input_size=(1, 3, 224, 224))
    >>> cost.macs, cost.params
    (41030272, 470072)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports
from edgeopt.version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "EdgeoptError": "edgeopt.errors",
    "create_model": "edgeopt.models",
    "list_models": "edgeopt.models",
    "load_model": "edgeopt.loading",
    "open_model": "edgeopt.loading",
    "Transform": "edgeopt.transform",
    "Inputs": "edgeopt.transform",
    "apply": "edgeopt.transform",
    "Lineage": "edgeopt.lineage",
    "profile": "edgeopt.analysis",
    "compare_conv": "edgeopt.analysis",
    "ModelProfile": "edgeopt.analysis",
    "DatasetSplits": "edgeopt.data",
    "load_dataset": "edgeopt.data",
    "list_datasets": "edgeopt.data",
    "TrainConfig": "edgeopt.train",
    "fit": "edgeopt.train",
    "evaluate": "edgeopt.train",
    "save_checkpoint": "edgeopt.checkpoint",
    "load_checkpoint": "edgeopt.checkpoint",
    "get_device": "edgeopt.devices",
    "check_fit": "edgeopt.devices",
    "estimate_latency": "edgeopt.devices",
    "estimate_energy": "edgeopt.devices",
    "load_results": "edgeopt.report",
    "write_report": "edgeopt.report",
}

__all__ = [
    "DatasetSplits",
    "EdgeoptError",
    "Inputs",
    "Lineage",
    "ModelProfile",
    "TrainConfig",
    "Transform",
    "__version__",
    "apply",
    "check_fit",
    "compare_conv",
    "create_model",
    "estimate_energy",
    "estimate_latency",
    "evaluate",
    "fit",
    "get_device",
    "list_datasets",
    "list_models",
    "load_checkpoint",
    "load_dataset",
    "load_model",
    "load_results",
    "open_model",
    "profile",
    "save_checkpoint",
    "write_report",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.analysis import ModelProfile as ModelProfile, compare_conv as compare_conv, profile as profile
    from edgeopt.checkpoint import load_checkpoint as load_checkpoint, save_checkpoint as save_checkpoint
    from edgeopt.data import (
        DatasetSplits as DatasetSplits,
        list_datasets as list_datasets,
        load_dataset as load_dataset,
    )
    from edgeopt.devices import (
        check_fit as check_fit,
        estimate_energy as estimate_energy,
        estimate_latency as estimate_latency,
        get_device as get_device,
    )
    from edgeopt.errors import EdgeoptError as EdgeoptError
    from edgeopt.lineage import Lineage as Lineage
    from edgeopt.loading import load_model as load_model, open_model as open_model
    from edgeopt.models import create_model as create_model, list_models as list_models
    from edgeopt.report import load_results as load_results, write_report as write_report
    from edgeopt.train import TrainConfig as TrainConfig, evaluate as evaluate, fit as fit
    from edgeopt.transform import Inputs as Inputs, Transform as Transform, apply as apply
