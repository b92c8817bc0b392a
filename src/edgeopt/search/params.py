"""Architectures of a space as Optuna parameters, and back.

Every block a stage *may* have is a parameter in every trial, the blocks beyond the sampled depth
included: the search space stays the same from trial to trial, which the samplers model best
(TPE's multivariate model and NSGA-II's crossover both need a fixed set of parameters; a
conditional space would give each depth its own sub-model and waste trials). Blocks beyond the
depth are unused, so two trials may build the same network; :func:`arch_key` tells them apart.

Example:
    >>> study = optuna.create_study()
    >>> arch = suggest_arch(study.ask(), get_space("mnist"))
    >>> arch.space
    'mnist'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edgeopt.models.spaces import Arch, BlockConfig, SearchSpace

if TYPE_CHECKING:
    import optuna


def suggest_arch(trial: optuna.Trial, space: SearchSpace) -> Arch:
    """An architecture of ``space``, chosen through ``trial``'s suggestions (define-by-run)."""
    return arch_from_params(space, _Suggester(trial, space).params())


def arch_from_params(space: SearchSpace, params: Mapping[str, Any]) -> Arch:
    """The architecture a trial's parameters describe (a finished trial's ``params``).

    Raises:
        KeyError: a parameter of the space is missing (the trial comes from another space).
    """
    stages = []
    for index in range(len(space.stages)):
        depth = int(params[f"s{index}.depth"])
        stages.append(tuple(
            BlockConfig(kernel=int(params[f"s{index}.b{b}.kernel"]), expansion=int(params[f"s{index}.b{b}.expansion"]),
                        se=bool(params[f"s{index}.b{b}.se"]), act=params[f"s{index}.b{b}.act"])
            for b in range(depth)))
    return Arch(space=space.name, width=float(params["width"]), resolution=int(params["resolution"]),
                stages=tuple(stages))


def arch_params(space: SearchSpace, arch: Arch) -> dict[str, Any]:
    """The parameters that give ``arch`` (unused blocks take the first choice): to enqueue it."""
    params: dict[str, Any] = {"width": arch.width, "resolution": arch.resolution}
    for index, stage in enumerate(space.stages):
        blocks = arch.stages[index]
        params[f"s{index}.depth"] = len(blocks)
        for b in range(max(stage.depths)):
            block = blocks[b] if b < len(blocks) else BlockConfig(
                kernel=space.stage_kernels(index)[0], expansion=space.stage_expansions(index)[0],
                se=space.se[0], act=space.acts[0])
            params.update({f"s{index}.b{b}.kernel": block.kernel, f"s{index}.b{b}.expansion": block.expansion,
                           f"s{index}.b{b}.se": block.se, f"s{index}.b{b}.act": block.act})
    return params


def arch_key(arch: Arch) -> str:
    """A short hash of the network an architecture builds (equal for equal networks)."""
    return hashlib.sha256(arch.to_json().encode()).hexdigest()[:16]


class _Suggester:
    def __init__(self, trial: optuna.Trial, space: SearchSpace) -> None:
        self.trial = trial
        self.space = space

    def params(self) -> dict[str, Any]:
        space = self.space
        params: dict[str, Any] = {"width": self._pick("width", space.widths),
                                  "resolution": self._pick("resolution", space.resolutions)}
        for index, stage in enumerate(space.stages):
            params[f"s{index}.depth"] = self._pick(f"s{index}.depth", stage.depths)
            for b in range(max(stage.depths)):
                prefix = f"s{index}.b{b}."
                params[prefix + "kernel"] = self._pick(prefix + "kernel", space.stage_kernels(index))
                params[prefix + "expansion"] = self._pick(prefix + "expansion", space.stage_expansions(index))
                params[prefix + "se"] = self._pick(prefix + "se", space.se)
                params[prefix + "act"] = self._pick(prefix + "act", space.acts)
        return params

    def _pick(self, name: str, choices: tuple[Any, ...]) -> Any:
        return self.trial.suggest_categorical(name, list(choices))
