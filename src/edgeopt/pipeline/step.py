"""``RecipeStep``: one entry of a recipe's ``steps``: a transform, and where its model comes from.

A step is a transform config (``type`` and its options, see :mod:`edgeopt.transform`) plus a
few keys that belong to the run, not to the transform:

- ``name``: the candidate the step makes (default: the type, numbered if repeated);
- ``input``: the candidate to start from (default: the previous step's result);
- ``model``: start from a new model instead (a registry name, factory or file), e.g. a teacher;
- ``candidates``: for transforms that measure files (``bench``): whose files (``all``,
  ``current`` or a list of names).

.. code-block:: yaml

    - type: prune.structured       # the transform ...
      ratio: 0.5                   # ... and its options
      name: prune                  # the step's own keys
      input: baseline
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, model_validator

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline.sources import ModelSource
from edgeopt.transform import Transform, get_transform
from edgeopt.utils.validation import describe_error, field_loc, first_error

STEP_KEYS = ("name", "input", "model", "candidates")
ModelT = TypeVar("ModelT", bound=BaseModel)


class RecipeStep(BaseModel):
    """A transform with the run's keys (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transform: SerializeAsAny[Transform]
    name: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    input: str | None = None
    model: ModelSource | None = None
    candidates: Literal["all", "current"] | list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RecipeStep:
        if self.input is not None and self.model is not None:
            raise ValueError("give input (an earlier candidate) or model (a new one), not both")
        if self.candidates is not None and not self.transform.measures:
            raise ValueError("candidates: only steps that measure files (bench) take it")
        return self

    @property
    def type(self) -> str:
        """The transform's type."""
        return self.transform.type

    @property
    def makes_candidate(self) -> bool:
        """False for steps that add files or figures to existing candidates (export, bench)."""
        return self.transform.makes_candidate

    def references(self) -> dict[str, str]:
        """Keys that name earlier candidates (``{"input": "prune"}``), checked on load."""
        refs = {"input": self.input} if self.input else {}
        if isinstance(self.candidates, list):
            refs.update({f"candidates[{i}]": name for i, name in enumerate(self.candidates)})
        refs.update(self.transform.references())
        return refs

    def dump(self) -> dict[str, Any]:
        """The flat mapping a recipe file holds (every option written out)."""
        keys = self.model_dump(mode="json", include=set(STEP_KEYS), exclude_none=True)
        return {"type": self.type, **keys, **{k: v for k, v in self.transform.config().items() if k != "type"}}


class StepError(EdgeoptError):
    """An invalid step; ``loc`` is where in the step mapping (``("ratio",)``), for the line."""

    def __init__(self, message: str, hint: str | None = None, loc: tuple[Any, ...] = ()) -> None:
        super().__init__(message, hint)
        self.loc = loc


def parse_step(item: Mapping[str, Any], number: int) -> RecipeStep:
    """Validate one step mapping: its transform options, then its own keys.

    Raises:
        StepError: Missing or unknown type, or invalid options (naming step ``number``).
    """
    step_type = item.get("type")
    if not isinstance(step_type, str):
        raise StepError(f"step {number} has no 'type'", hint="e.g. '- type: fuse'")
    try:
        cls = get_transform(step_type)
    except EdgeoptError as exc:
        raise StepError(f"step {number}: unknown step type {step_type!r}", hint=exc.hint, loc=("type",)) from None
    own = {k: v for k, v in item.items() if k in STEP_KEYS}
    transform = _validated(cls, {k: v for k, v in item.items() if k not in STEP_KEYS}, number, step_type)
    return _validated(RecipeStep, {**own, "transform": transform}, number, step_type)


def _validated(model: type[ModelT], values: dict[str, Any], number: int, step_type: str) -> ModelT:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = first_error(exc)
        loc = field_loc(tuple(err["loc"]))
        sep = ", " if loc else ": "
        raise StepError(f"step {number} ({step_type}){sep}{describe_error(err, model, loc)}", loc=loc) from None
