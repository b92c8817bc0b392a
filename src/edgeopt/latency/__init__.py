"""Latency of the user's own runtime: measured per layer, tabulated per unit, predicted with an error.

* :func:`layer_breakdown` — where a deployed file's time goes, per layer, beside MACs, bytes
  and the device roofline (measured by :func:`edgeopt.runtime.profile_layers`);
* :func:`build_table` — a latency table of a search space on this machine (runtime, CPU,
  threads, precision), de-noised and resumable, cached on disk;
* :func:`predict` / :class:`Predictor` — a model's or an architecture's latency from a table,
  with an interval, labelled an estimate;
* spaces (:func:`get_space`, :class:`SearchSpace`, :class:`Arch`) and :func:`build_model`, which
  architecture search uses.

Example:
    >>> from edgeopt.latency import build_table, get_space, Predictor
    >>> table = build_table("mobilenet_v2", runtime="onnxruntime", precision="int8", resolutions=[160])
    >>> arch = get_space("mobilenet_v2").sample(random.Random(0), resolution=160)
    >>> print(Predictor(table).predict(arch))
    estimate: 1.84 ms (1.78–1.91 ms) · onnxruntime 1.32.0, int8, 2 threads · table covers 100% of it
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "BlockConfig": "edgeopt.models.spaces",
    "Arch": "edgeopt.models.spaces",
    "SearchSpace": "edgeopt.models.spaces",
    "StageSpec": "edgeopt.models.spaces",
    "get_space": "edgeopt.models.spaces",
    "BUILTIN_SPACES": "edgeopt.models.spaces",
    "build_model": "edgeopt.models.space_net",
    "Unit": "edgeopt.latency.units",
    "arch_units": "edgeopt.latency.units",
    "profile_units": "edgeopt.latency.units",
    "TableKey": "edgeopt.latency.key",
    "current_key": "edgeopt.latency.key",
    "LatencyTable": "edgeopt.latency.table",
    "cache_path": "edgeopt.latency.table",
    "BuildProgress": "edgeopt.latency.build",
    "build_table": "edgeopt.latency.build",
    "export_arch": "edgeopt.latency.build",
    "measure_files": "edgeopt.latency.build",
    "Prediction": "edgeopt.latency.predictor",
    "Predictor": "edgeopt.latency.predictor",
    "fit_correction": "edgeopt.latency.predictor",
    "predict": "edgeopt.latency.predictor",
    "layer_breakdown": "edgeopt.latency.breakdown",
    "breakdown_rows": "edgeopt.latency.breakdown",
    # measured per layer by the runtime layer; named here for API users
    "LayerProfile": "edgeopt.runtime.layer_profile",
    "profile_layers": "edgeopt.runtime.layer_profile",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "BUILTIN_SPACES",
    "Arch",
    "BlockConfig",
    "BuildProgress",
    "LatencyTable",
    "LayerProfile",
    "Prediction",
    "Predictor",
    "SearchSpace",
    "StageSpec",
    "TableKey",
    "Unit",
    "arch_units",
    "breakdown_rows",
    "build_model",
    "build_table",
    "cache_path",
    "current_key",
    "export_arch",
    "fit_correction",
    "get_space",
    "layer_breakdown",
    "measure_files",
    "predict",
    "profile_layers",
    "profile_units",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.latency.breakdown import breakdown_rows as breakdown_rows, layer_breakdown as layer_breakdown
    from edgeopt.latency.build import (
        BuildProgress as BuildProgress,
        build_table as build_table,
        export_arch as export_arch,
        measure_files as measure_files,
    )
    from edgeopt.latency.key import TableKey as TableKey, current_key as current_key
    from edgeopt.latency.predictor import (
        Prediction as Prediction,
        Predictor as Predictor,
        fit_correction as fit_correction,
        predict as predict,
    )
    from edgeopt.latency.table import LatencyTable as LatencyTable, cache_path as cache_path
    from edgeopt.latency.units import Unit as Unit, arch_units as arch_units, profile_units as profile_units
    from edgeopt.models.space_net import build_model as build_model
    from edgeopt.models.spaces import (
        BUILTIN_SPACES as BUILTIN_SPACES,
        Arch as Arch,
        BlockConfig as BlockConfig,
        SearchSpace as SearchSpace,
        StageSpec as StageSpec,
        get_space as get_space,
    )
    from edgeopt.runtime.layer_profile import LayerProfile as LayerProfile, profile_layers as profile_layers
