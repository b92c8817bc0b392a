"""Step types: one pydantic config class per ``type``, registered by that type.

A step class validates its options (``extra="forbid"``: a typo is an error) and runs itself on a
:class:`~edgeopt.pipeline.context.StepContext`. Register your own with :func:`register_step`:

Example:
    >>> @register_step
    ... class Noop(StepConfig):
    ...     type: Literal["noop"] = "noop"
    ...     def run(self, ctx):
    ...         return StepOutput(ctx.input.evolve(name=ctx.name, technique="noop",
    ...                                            model=ctx.input_model(), parent=ctx.input.name))
"""

from __future__ import annotations

import importlib
import typing
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.pipeline.context import StepContext, StepOutput

# Steps that come with edgeopt; imported on first lookup (each imports its API lazily).
BUILTIN_STEP_MODULES = ("edgeopt.pipeline.steps",)
_STEPS: dict[str, type[StepConfig]] = {}


class StepConfig(BaseModel):
    """Options every step has; subclasses add their own and set ``type`` to a ``Literal``.

    Attributes:
        name: Name of the candidate the step makes (default: the type, numbered if repeated).
            Later steps refer to it (``input:``, a distillation ``teacher:``).
        input: The candidate to start from (default: the previous step's result).
    """

    model_config = ConfigDict(extra="forbid")

    type: str
    name: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    input: str | None = None

    # False for steps that only add files or figures to an existing candidate (export, bench).
    makes_candidate: ClassVar[bool] = True
    # True for steps that train (their own progress bar shows, so no spinner is drawn).
    trains: ClassVar[bool] = False

    def run(self, ctx: StepContext) -> StepOutput:
        """Apply the step to ``ctx.input`` and return what it made."""
        raise NotImplementedError(f"step type {self.type!r} has no run()")

    def rebuild(self, model: nn.Module, state: dict[str, Any], example_input: Tensor) -> nn.Module:
        """Turn the input's architecture into this step's output architecture (for a resume).

        Weights do not matter: ``state`` (this step's saved weights) is loaded afterwards;
        ``example_input`` is a batch-1 input of the run's shape, for steps that trace. The default resizes convs,
        norms and linears to the shapes in ``state``; steps that change the graph (fuse)
        replay their change first.
        """
        from edgeopt.pipeline.rebuild import conform_to_state

        return conform_to_state(model, state)

    def references(self) -> dict[str, str]:
        """Options that name earlier candidates (``{"input": "prune"}``), checked on load."""
        return {"input": self.input} if self.input else {}


def register_step(cls: type[StepConfig]) -> type[StepConfig]:
    """Class decorator: make ``cls`` the handler of its ``type`` (a ``Literal`` default).

    Raises:
        TypeError: ``cls`` does not define ``type`` as a one-value ``Literal`` with that default.
    """
    step_type = step_type_of(cls)
    _STEPS[step_type] = cls
    return cls


def step_type_of(cls: type[StepConfig]) -> str:
    """The ``type`` string a step class handles."""
    annotation = cls.model_fields["type"].annotation
    values = typing.get_args(annotation)
    if typing.get_origin(annotation) is not typing.Literal or len(values) != 1:
        raise TypeError(f"{cls.__name__}.type must be a Literal of one string")
    return str(values[0])


def step_types() -> list[str]:
    """Every registered step type, sorted."""
    _import_builtins()
    return sorted(_STEPS)


def get_step_class(step_type: str) -> type[StepConfig]:
    """The class registered for ``step_type``.

    Raises:
        EdgeoptError: unknown type; the hint names close ones.
    """
    _import_builtins()
    if step_type not in _STEPS:
        hint = suggest(step_type, _STEPS) or f"known step types: {', '.join(sorted(_STEPS))}"
        raise EdgeoptError(f"unknown step type {step_type!r}", hint=hint)
    return _STEPS[step_type]


def _import_builtins() -> None:
    for module in BUILTIN_STEP_MODULES:
        importlib.import_module(module)
