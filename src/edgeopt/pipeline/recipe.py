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

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_serializer, field_validator, model_validator

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.pipeline.sources import DataSource, ModelSource
from edgeopt.pipeline.step import RecipeStep, StepError, parse_step
from edgeopt.pipeline.yaml_lines import Path as KeyPath, line_of, load_yaml_with_lines
from edgeopt.train import TrainConfig
from edgeopt.utils.validation import describe_error, field_loc, first_error

BASELINE = "baseline"


AGENT_SCHEME = "agent://"


class AgentTarget(BaseModel):
    """How to reach the agent a recipe's ``target: agent://HOST:PORT`` names (docs/agent.md).

    .. code-block:: yaml

        target: agent://raspberrypi.local:8765   # bench steps measure on that device
        agent:
          token_file: agent.token                # relative to the recipe's folder
          tls_pin: 3F:0A:...                     # optional: HTTPS, this certificate only
    """

    model_config = ConfigDict(extra="forbid")

    token_file: str
    tls_pin: str | None = None


class Recipe(BaseModel):
    """A validated recipe: the model, the data, the target and the ordered :class:`RecipeStep` s."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str | None = None
    description: str | None = None
    model: ModelSource
    train: TrainConfig | None = None
    data: DataSource
    target: str | None = None
    agent: AgentTarget | None = None
    steps: list[RecipeStep] = []

    @field_validator("steps", mode="before")
    @classmethod
    def _typed_steps(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [parse_step(item, i + 1) if isinstance(item, Mapping) else item for i, item in enumerate(value)]

    @model_validator(mode="after")
    def _agent_target(self) -> Recipe:
        on_agent = self.target is not None and self.target.startswith(AGENT_SCHEME)
        if on_agent:
            from edgeopt.agent.protocol import parse_agent_url

            try:
                parse_agent_url(str(self.target))
            except EdgeoptError as exc:
                raise ValueError(f"target: {exc}") from None
            if self.agent is None:
                raise ValueError("target names an agent: add 'agent: {token_file: FILE}' (the agent's token)")
        elif self.agent is not None:
            raise ValueError("'agent' goes with a target agent://HOST:PORT; drop it or name the agent as target")
        return self

    @model_validator(mode="after")
    def _names_and_references(self) -> Recipe:
        if self.train is not None and self.model.weights:
            raise ValueError("model.weights with train: training starts from scratch; drop one")
        self.steps = with_default_names(self.steps)
        problems = reference_problems(self.steps)
        if problems:
            raise ValueError(problems[0][2])
        return self

    @field_serializer("steps")
    def _flat_steps(self, steps: list[RecipeStep]) -> list[dict[str, Any]]:
        return [step.dump() for step in steps]

    def resolved(self, base_dir: Path) -> Recipe:
        """A copy whose relative paths are absolute against ``base_dir`` (the recipe's folder)."""
        steps = [step.model_copy(update={"model": step.model.resolved(base_dir)}) if step.model else step
                 for step in self.steps]
        agent = self.agent.model_copy(update={"token_file": str(base_dir / self.agent.token_file)}) \
            if self.agent is not None else None  # an absolute token_file stays as it is (base / abs == abs)
        return self.model_copy(update={"model": self.model.resolved(base_dir), "data": self.data.resolved(base_dir),
                                       "steps": steps, "agent": agent})

    @property
    def on_agent(self) -> bool:
        """Whether the bench steps measure on an edgeopt agent (``target: agent://HOST:PORT``)."""
        return self.agent is not None

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
    from edgeopt.utils.yaml_limits import read_yaml_text

    file = Path(path)
    if not file.is_file() and not file.is_dir():
        raise EdgeoptError(f"recipe {str(file)!r} does not exist", hint="see recipes/ for examples")
    text = read_yaml_text(file, "recipe")
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


def with_default_names(steps: list[RecipeStep]) -> list[RecipeStep]:
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


def reference_problems(steps: list[RecipeStep]) -> list[tuple[int, str, str]]:
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


def _parse_yaml_step(item: Any, index: int, source: str, lines: dict[KeyPath, int]) -> RecipeStep:
    path: KeyPath = ("steps", index)
    if not isinstance(item, Mapping):
        raise _error(source, lines, path, f"step {index + 1} is not a mapping (got {item!r})",
                     hint="each step is '- type: NAME' followed by its options")
    try:
        return parse_step(item, index + 1)
    except StepError as exc:
        raise _error(source, lines, (*path, *exc.loc), exc.message, hint=exc.hint) from None


def _error(source: str, lines: dict[KeyPath, int], path: KeyPath, message: str,
           hint: str | None = None) -> EdgeoptError:
    line = line_of(lines, path)
    where = f"{source} line {line}" if line else source
    return EdgeoptError(f"{where}: {message}", hint=hint)
