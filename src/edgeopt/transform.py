"""``Transform``: one typed, serialisable config per technique, applied the same way everywhere.

A transform is a frozen pydantic config (``StructuredPrune(ratio=0.5)``, ``Fuse()``,
``Ptq(backend="executorch")``...) with two methods:

- :meth:`Transform.apply` turns a model into a :class:`Result`: the new model, the files it
  wrote (typed :class:`~edgeopt.artifact.Artifact`), figures, a report, and the small ``record``
  that :meth:`Transform.replay` needs;
- :meth:`Transform.replay` turns the *architecture* of the input into the architecture of the
  output, without data or weights (resize layers to the recorded shapes, fold the recorded
  BatchNorms). Loading a checkpoint replays its lineage on the root model, then loads weights.

The CLI parses options into a config and calls :func:`apply`; a recipe step *is* a config; the
checkpoint lineage stores ``{type, config, record}``. So one config gives one model, whichever
way it was invoked. Each technique defines its transforms beside its code and registers them
with :func:`register_transform`; this module imports none of them (they are found through
:data:`BUILTIN_TRANSFORMS` on first lookup), so it sits low in the stack.

Example:
    >>> from edgeopt.prune import StructuredPrune
    >>> result = apply(StructuredPrune(ratio=0.5), model, Inputs(example=torch.zeros(1, 1, 28, 28)))
    >>> result.record["shapes"]["features.0.0.weight"]
    [16, 1, 3, 3]
"""

from __future__ import annotations

import copy
import importlib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.utils.tensors import flat_tensors

if TYPE_CHECKING:
    from edgeopt.artifact import Artifact
    from edgeopt.data import DatasetSplits

# type -> module that registers it; imported on first lookup so nothing heavy loads early.
BUILTIN_TRANSFORMS: dict[str, str] = {
    "train": "edgeopt.train.transform",
    "prune.structured": "edgeopt.prune.transforms",
    "prune.magnitude": "edgeopt.prune.transforms",
    "fuse": "edgeopt.fuse.transform",
    "distill": "edgeopt.distill.transform",
    "quantize.ptq": "edgeopt.quantize.transforms",
    "quantize.qat": "edgeopt.quantize.transforms",
    "quantize.dynamic": "edgeopt.quantize.transforms",
    "export": "edgeopt.export.transform",
    "bench": "edgeopt.runtime.transform",
    "search": "edgeopt.search.transform",
}
_REGISTRY: dict[str, type[Transform]] = {}


class Transform(BaseModel):
    """Base of every transform config. Subclasses set ``type`` to a one-value ``Literal``.

    Class traits (not options):
        makes_candidate: False for transforms that only add files or figures to their input
            (export, bench): a pipeline keeps the input candidate and annotates it.
        measures: True for transforms whose input is files (``Inputs.artifacts``), not a model.
        trains: True for transforms that train (they draw their own progress bar).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    makes_candidate: ClassVar[bool] = True
    measures: ClassVar[bool] = False
    trains: ClassVar[bool] = False

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        """Transform ``model`` (which the caller has copied: change it freely)."""
        raise NotImplementedError(f"transform {self.type!r} has no apply()")

    def replay(self, model: nn.Module, record: Mapping[str, Any], example: Tensor) -> nn.Module:
        """The output architecture from the input's, weights aside (default: unchanged).

        Args:
            model: The input architecture, freshly built (its weights do not matter).
            record: What :meth:`apply` recorded.
            example: A batch-1 input of the model's input size, for transforms that trace
                (empty when the size was not recorded: see :func:`traced_input`).
        """
        return model

    def references(self) -> dict[str, str]:
        """Options that name other models (a distillation teacher): ``{field: name}``."""
        return {}

    def config(self) -> dict[str, Any]:
        """The options as plain JSON data (what a lineage entry and a recipe store)."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Inputs:
    """What a transform may use besides the model.

    Attributes:
        example: One input batch of the model's input size (batch 1), for tracing and export.
        data: The dataset splits: ``train`` to fit or calibrate, ``val`` to decide, ``test``
            to report. None for transforms that need no data (fuse, export, l1 pruning).
        out_dir: Where the transform writes its files (artifacts); None when it writes none.
        name: Stem of those files (``<name>.onnx``).
        resolve: Loads a model another option names (``teacher: teacher`` or a file).
        artifacts: Files to measure (bench).
        measure_elsewhere: Measures ``artifacts`` on another machine instead of here (a recipe
            whose target is an edgeopt agent sets it): called as ``f(artifacts, data=…, threads=…,
            runs=…, warmup=…, rounds=…, batch_size=…, memory=…)``, it returns them, each with one
            more measurement. None: measure here.
    """

    example: Tensor
    data: DatasetSplits | None = None
    out_dir: Path | None = None
    name: str = "model"
    resolve: Callable[[str], nn.Module] | None = None
    artifacts: Sequence[Artifact] = ()
    measure_elsewhere: Callable[..., Sequence[Artifact]] | None = None

    def need_data(self, what: str) -> DatasetSplits:
        """The data, or an error saying that ``what`` needs it."""
        if self.data is None:
            raise EdgeoptError(f"{what} needs data", hint="pass a dataset (--data NAME_OR_PATH)")
        return self.data

    def path(self, suffix: str) -> Path:
        """``out_dir/<name><suffix>`` (the directory is created)."""
        if self.out_dir is None:
            raise EdgeoptError("this transform writes files but no output directory was given",
                               hint="pass one (-o DIR)")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return self.out_dir / f"{self.name}{suffix}"

    def model_named(self, name: str) -> nn.Module:
        """A copy of the model ``name`` refers to (a candidate, or a model file)."""
        if self.resolve is None:
            raise EdgeoptError(f"cannot look up the model {name!r} here", hint="pass a model file instead")
        return copy.deepcopy(self.resolve(name))


@dataclass(frozen=True)
class Result:
    """What a transform made.

    Attributes:
        model: The new model; None when the transform only wrote files or measured (export,
            bench, quantization keeps the float model: its int8 model is the artifact).
        record: What :meth:`Transform.replay` needs (plain JSON data): kept in the lineage.
        artifacts: Files written, or measured (with their measurements).
        metrics: Figures the transform measured itself (e.g. int8 accuracy on its artifact).
        report: Everything else worth showing or keeping (plain JSON data).
    """

    model: nn.Module | None = None
    record: dict[str, Any] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def apply(transform: Transform, model: nn.Module | None, inputs: Inputs) -> Result:
    """Apply ``transform`` to a copy of ``model`` and check that the output shape is kept.

    The one entry point for the CLI, the Python API and recipes. ``model`` is not changed; it
    may be None for a transform that measures files (``Inputs.artifacts``) instead.

    Raises:
        EdgeoptError: Bad input, or a new model whose output shape differs from the input's
            (a transform must never change what the model computes the shape of).
    """
    if transform.measures:
        return transform.apply(nn.Identity(), inputs)  # no model is involved
    if model is None:
        raise EdgeoptError(f"{transform.type} needs a model")
    result = transform.apply(copy.deepcopy(model), inputs)
    if result.model is not None:
        _check_same_output_shape(model, result.model, inputs.example, transform.type)
    return result


def traced_input(example: Tensor) -> Tensor:
    """``example`` for a replay that traces the model, or an error if no input size was recorded."""
    if example.numel() == 0:
        raise EdgeoptError("the model's input size is not recorded, so its graph cannot be traced again",
                           hint="save it with input_size=(1, C, H, W)")
    return example


def _check_same_output_shape(before: nn.Module, after: nn.Module, example: Tensor, what: str) -> None:
    shapes = []
    for net in (before, after):
        was_training = net.training
        net.eval()
        with torch.no_grad():
            shapes.append([tuple(t.shape) for t in flat_tensors(net(example))])
        net.train(was_training)
    if shapes[0] != shapes[1]:
        raise EdgeoptError(f"{what} changed the model's output shape from {shapes[0]} to {shapes[1]}",
                           hint="this is a bug in the transform; please report it with the model")


def register_transform(cls: type[Transform]) -> type[Transform]:
    """Class decorator: make ``cls`` the transform of its ``type``.

    Raises:
        TypeError: ``type`` is not a one-value ``Literal`` with that default.
    """
    _REGISTRY[type_of(cls)] = cls
    return cls


def type_of(cls: type[Transform]) -> str:
    """The ``type`` string a transform class handles."""
    annotation = cls.model_fields["type"].annotation
    values = typing.get_args(annotation)
    if typing.get_origin(annotation) is not typing.Literal or len(values) != 1:
        raise TypeError(f"{cls.__name__}.type must be a Literal of one string")
    return str(values[0])


def get_transform(transform_type: str) -> type[Transform]:
    """The class registered for ``transform_type``.

    Raises:
        EdgeoptError: Unknown type; the hint names close ones.
    """
    if transform_type not in _REGISTRY and transform_type in BUILTIN_TRANSFORMS:
        importlib.import_module(BUILTIN_TRANSFORMS[transform_type])
    if transform_type not in _REGISTRY:
        known = transform_types()
        raise EdgeoptError(f"unknown transform type {transform_type!r}",
                           hint=suggest(transform_type, known) or f"known types: {', '.join(known)}")
    return _REGISTRY[transform_type]


def transform_types() -> list[str]:
    """Every registered or built-in type, sorted."""
    return sorted(set(_REGISTRY) | set(BUILTIN_TRANSFORMS))


def parse_transform(config: Mapping[str, Any]) -> Transform:
    """Validate ``{"type": ..., **options}`` with the class registered for its type.

    Raises:
        EdgeoptError: Unknown type (pydantic's ``ValidationError`` for bad options).
    """
    kind = config.get("type")
    if not isinstance(kind, str):
        raise EdgeoptError(f"a transform config needs a 'type', got {dict(config)!r}")
    return get_transform(kind).model_validate(dict(config))
