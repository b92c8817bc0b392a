"""The recipe: the model, the data, the target and the ordered steps of a pipeline run.

A recipe is YAML (see ``docs/recipes.md``). :func:`load_recipe` validates it and turns any
mistake into one :class:`~edgeopt.errors.EdgeoptError` naming the file, the line, the step
(number and type) and the field: unknown keys, wrong types, unknown step types (with close
names), names of candidates that do not exist yet, malformed YAML.

Example:
    >>> recipe = load_recipe("recipes/tiny.yaml")
    >>> [step.type for step in recipe.steps]
    ['train', 'prune.structured', 'export', 'bench']
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializeAsAny, ValidationError, field_validator, model_validator

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.pipeline.registry import StepConfig, get_step_class
from edgeopt.pipeline.sources import DataSource, ModelSource
from edgeopt.pipeline.yaml_lines import Path as KeyPath
from edgeopt.pipeline.yaml_lines import line_of, load_yaml_with_lines
from edgeopt.train import TrainConfig

BASELINE = "baseline"


class Recipe(BaseModel):
    """A validated recipe. ``steps`` hold the registered step classes (``FuseStep``, ...)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str | None = None
    description: str | None = None
    model: ModelSource
    train: TrainConfig | None = None
    data: DataSource
    target: str | None = None
    steps: list[SerializeAsAny[StepConfig]] = []

    @field_validator("steps", mode="before")
    @classmethod
    def _typed_steps(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [parse_step(item, i + 1) if isinstance(item, Mapping) else item for i, item in enumerate(value)]

    @model_validator(mode="after")
    def _names_and_references(self) -> Recipe:
        if self.train is not None and self.model.weights:
            raise ValueError("model.weights with train: training starts from scratch; drop one")
        self.steps = with_default_names(self.steps)
        problems = reference_problems(self.steps)
        if problems:
            raise ValueError(problems[0][2])
        return self

    def resolved(self, base_dir: Path) -> Recipe:
        """A copy whose relative paths are absolute against ``base_dir`` (the recipe's folder)."""
        return self.model_copy(update={"model": self.model.resolved(base_dir), "data": self.data.resolved(base_dir)})

    def header(self) -> dict[str, Any]:
        """What the baseline depends on (model, training, data): a change here changes every step."""
        return self.model_dump(mode="json", include={"model", "train", "data"})


def load_recipe(path: str | Path) -> Recipe:
    """Read, validate and resolve a recipe file.

    Relative file paths in ``model`` and ``data`` are taken relative to the recipe's folder.

    Raises:
        EdgeoptError: The file is missing or malformed, or an entry is invalid; the message
            names the line, the step and the field.
    """
    file = Path(path)
    if not file.is_file():
        raise EdgeoptError(f"recipe {str(file)!r} does not exist", hint="see recipes/ for examples")
    text = file.read_text(encoding="utf-8")
    return parse_recipe(text, source=str(file)).resolved(file.resolve().parent)


def parse_recipe(text: str, source: str = "<recipe>") -> Recipe:
    """Validate recipe YAML ``text``; errors name ``source``, the line, the step and the field."""
    data, lines = load_yaml_with_lines(text, source)
    if not isinstance(data, Mapping):
        raise EdgeoptError(f"{source}: a recipe is a mapping with model, data and steps; got "
                           f"{type(data).__name__ if data is not None else 'an empty file'}",
                           hint="start from recipes/tiny.yaml")
    raw_steps = data.get("steps") or []  # `steps:` left empty is no steps
    if not isinstance(raw_steps, list):
        raise _error(source, lines, ("steps",), "steps must be a list of '- type: ...' entries")
    steps = [_parse_yaml_step(item, i, source, lines) for i, item in enumerate(raw_steps)]
    named = with_default_names(steps)
    for index, key, message in reference_problems(named):
        raise _error(source, lines, ("steps", index - 1, key), message)
    try:
        return Recipe.model_validate({**data, "steps": named})
    except ValidationError as exc:
        err = first_error(exc)
        path = field_loc(tuple(err["loc"]))
        raise _error(source, lines, path, describe_error(err, Recipe, path)) from None


class StepError(EdgeoptError):
    """An invalid step; ``loc`` is where in the step mapping (``("ratio",)``), for the line."""

    def __init__(self, message: str, hint: str | None = None, loc: tuple[Any, ...] = ()) -> None:
        super().__init__(message, hint)
        self.loc = loc


def parse_step(item: Mapping[str, Any], number: int) -> StepConfig:
    """Validate one step mapping with the class registered for its ``type``.

    Raises:
        StepError: missing or unknown type, or invalid options (naming step ``number``).
    """
    step_type = item.get("type")
    if not isinstance(step_type, str):
        raise StepError(f"step {number} has no 'type'", hint="e.g. '- type: fuse'")
    try:
        cls = get_step_class(step_type)
    except EdgeoptError as exc:
        raise StepError(f"step {number}: {exc.message}", hint=exc.hint, loc=("type",)) from None
    try:
        return cls.model_validate(dict(item))
    except ValidationError as exc:
        err = first_error(exc)
        loc = field_loc(tuple(err["loc"]))
        sep = ", " if loc else ": "
        raise StepError(f"step {number} ({step_type}){sep}{describe_error(err, cls, loc)}", loc=loc) from None


def with_default_names(steps: list[StepConfig]) -> list[StepConfig]:
    """Steps with ``name`` filled: the type, then ``type-2``, ``type-3`` for repeats."""
    counts: dict[str, int] = {}
    named = []
    for step in steps:
        counts[step.type] = counts.get(step.type, 0) + 1
        if step.name is None:
            default = step.type if counts[step.type] == 1 else f"{step.type}-{counts[step.type]}"
            step = step.model_copy(update={"name": default})
        named.append(step)
    return named


def reference_problems(steps: list[StepConfig]) -> list[tuple[int, str, str]]:
    """``(step number, field, message)`` for duplicate names and names of unknown candidates."""
    problems: list[tuple[int, str, str]] = []
    known = [BASELINE]
    seen_names: set[str] = {BASELINE}
    for number, step in enumerate(steps, start=1):
        where = f"step {number} ({step.type})"
        if step.name in seen_names:
            problems.append((number, "name", f"{where}: the name {step.name!r} is already taken"))
        for key, ref in step.references().items():
            if ref not in known:
                hint = suggest(ref, known)
                problems.append((number, key, f"{where}, field {key!r}: no earlier candidate named {ref!r}"
                                 + (f" ({hint})" if hint else f"; earlier candidates: {', '.join(known)}")))
        seen_names.add(step.name or step.type)
        if step.makes_candidate:
            known.append(step.name or step.type)
    return problems


def first_error(exc: ValidationError) -> Any:
    """The error to report: an unknown key first (a misspelt key also makes a field missing)."""
    errors = exc.errors()
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def describe_error(err: Mapping[str, Any], model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """One pydantic error as ``field 'x.y': what is wrong``, with close names for unknown keys."""
    loc = field_loc(loc)
    field = ".".join(str(part) for part in loc)
    if err["type"] == "extra_forbidden":
        known = _field_names(model, loc[:-1])
        hint = suggest(str(loc[-1]), known) or (f"known keys: {', '.join(known)}" if known else None)
        return f"unknown key {field!r}" + (f" ({hint})" if hint else "")
    if err["type"] == "missing":
        return f"missing required field {field!r}"
    message = str(err["msg"]).removeprefix("Value error, ")
    got = err.get("input")
    shown = f" (got {got!r})" if field and not isinstance(got, (dict, list)) else ""
    where = f"field {field!r}: " if field else ""
    return f"{where}{message[0].lower()}{message[1:]}{shown}"


def field_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without pydantic's union-member tags (``literal['all','current']``, ``list[str]``)."""
    return tuple(part for part in loc if isinstance(part, int) or not any(c in str(part) for c in "[(-"))


def _parse_yaml_step(item: Any, index: int, source: str, lines: dict[KeyPath, int]) -> StepConfig:
    path: KeyPath = ("steps", index)
    if not isinstance(item, Mapping):
        raise _error(source, lines, path, f"step {index + 1} is not a mapping (got {item!r})",
                     hint="each step is '- type: NAME' followed by its options")
    try:
        return parse_step(item, index + 1)
    except StepError as exc:
        raise _error(source, lines, (*path, *exc.loc), exc.message, hint=exc.hint) from None


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) pydantic model at ``loc`` (empty if it cannot be followed)."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = _model_in(fields[part].annotation)
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _error(source: str, lines: dict[KeyPath, int], path: KeyPath, message: str,
           hint: str | None = None) -> EdgeoptError:
    line = line_of(lines, path)
    where = f"{source} line {line}" if line else source
    return EdgeoptError(f"{where}: {message}", hint=hint)
