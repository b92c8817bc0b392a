"""What a trial proposes: a network of a space written as data, or of a space written as code.

* A **data space** (:class:`~edgeopt.models.spaces.SearchSpace`, built-in or a file) proposes an
  :class:`~edgeopt.models.spaces.Arch`; its network is the supernet's subnet (or a fresh
  ``space_net``) and its checkpoint root the ``space_net`` registry model.
* A **code space** is a function ``module:function`` that takes an Optuna trial and returns an
  ``nn.Module`` (define-by-run: it calls ``trial.suggest_*`` as it builds). It has no supernet, so
  its candidates are trained briefly (``accuracy: proxy``); its checkpoint root is the function
  with the trial's parameters (:meth:`edgeopt.models.root.ModelRoot.build` calls it with
  ``optuna.trial.FixedTrial``), imported only with ``--trust-code`` when loaded later.

Example:
    >>> def space(trial):
    ...     width = trial.suggest_categorical("width", [8, 16])
    ...     return nn.Sequential(nn.Conv2d(1, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    ...                          nn.Linear(width, 10))
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from edgeopt.models.root import FACTORY_RE, ModelRoot, built_by_user_code, call_space, import_factory
from edgeopt.models.space_net import build_model
from edgeopt.models.spaces import BUILTIN_SPACES, Arch, SearchSpace
from edgeopt.search.params import arch_key, suggest_arch

if TYPE_CHECKING:
    import optuna

    from edgeopt.search.supernet import Supernet


def is_code_space(name: str) -> bool:
    """Whether ``name`` is ``module:function`` (not a built-in space or an existing file)."""
    if name in BUILTIN_SPACES or not FACTORY_RE.match(name):  # first: JSON text is no path to stat
        return False
    try:
        return not Path(name).exists()
    except OSError:  # a name the file system cannot hold is no file
        return True


@dataclass
class Candidate:
    """One proposed network.

    Attributes:
        key: Equal for equal networks (trials that build the same network are measured once).
        label: A short description for tables.
        resolution: Its input resolution.
        arch: The architecture (data spaces), or None.
        params: The trial's parameters (code spaces), or None.
        model: The network, when proposing it already built it (code spaces).
    """

    key: str
    label: str
    resolution: int
    arch: Arch | None = None
    params: dict[str, Any] | None = None
    model: nn.Module | None = field(default=None, repr=False)

    def attrs(self) -> dict[str, Any]:
        """What a trial records to rebuild it (:func:`candidate_of`)."""
        return {"arch": self.arch.to_json() if self.arch else None, "params": self.params, "label": self.label,
                "resolution": self.resolution}


def candidate_of(attrs: dict[str, Any]) -> Candidate:
    """The candidate a finished trial's user attributes (or a front row) describe."""
    arch = Arch.model_validate_json(attrs["arch"]) if attrs.get("arch") else None
    return Candidate(key=str(attrs.get("key", "")), label=str(attrs.get("label", "")),
                     resolution=int(attrs.get("resolution") or (arch.resolution if arch else 0)),
                     arch=arch, params=attrs.get("params"))


class DataSpace:
    """Candidates of a :class:`SearchSpace`, their networks and checkpoint roots."""

    def __init__(self, space: SearchSpace, supernet: Supernet | None) -> None:
        self.space = space
        self.supernet = supernet

    def propose(self, trial: optuna.Trial, data_resolution: int) -> Candidate:
        """The trial's architecture (not built yet: a duplicate is not built at all)."""
        arch = suggest_arch(trial, self.space)
        return Candidate(arch_key(arch), arch.label(), arch.resolution, arch=arch)

    def network(self, candidate: Candidate) -> nn.Module:
        """The supernet's subnet with its inherited weights, or a freshly initialised network."""
        assert candidate.arch is not None
        if self.supernet is not None:
            return self.supernet.extract(candidate.arch)
        return build_model(candidate.arch, self.space)

    def root(self, candidate: Candidate) -> ModelRoot:
        """The ``space_net`` registry root (the whole space travels with it)."""
        assert candidate.arch is not None
        return ModelRoot.named("space_net", {"arch": candidate.arch.to_json(), "space": self.space.model_dump_json()})


class CodeSpace:
    """Candidates of a define-by-run space ``module:function`` (see the module docstring)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.function = import_factory(source)

    def propose(self, trial: optuna.Trial, data_resolution: int) -> Candidate:
        """Build the trial's network by calling the function with the trial.

        Raises:
            EdgeoptError: the function fails or returns something other than a module.
        """
        model = built_by_user_code(lambda: self.function(trial), f"search space {self.source!r}", "",
                                   "run the function with an optuna trial on its own to debug it",
                                   "the function takes an Optuna trial and returns the network it suggests")
        params = dict(trial.params)
        text = json.dumps(params, sort_keys=True, default=str)
        label = " ".join(f"{k}={v}" for k, v in sorted(params.items()))[:60]
        return Candidate(hashlib.sha256(text.encode()).hexdigest()[:16], label, data_resolution, params=params,
                         model=model)

    def network(self, candidate: Candidate) -> nn.Module:
        """The proposed network (or, from recorded parameters, the function's again)."""
        if candidate.model is not None:
            return candidate.model
        assert candidate.params is not None
        return call_space(self.source, candidate.params)

    def root(self, candidate: Candidate) -> ModelRoot:
        """A ``space`` root: the function and the trial's parameters."""
        assert candidate.params is not None
        return ModelRoot(kind="space", source=self.source, kwargs=dict(candidate.params))


Proposer = DataSpace | CodeSpace
