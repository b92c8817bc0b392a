"""Pydantic validation errors as one line that names the field, with close names for typos."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from edgeopt.errors import suggest


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


def options_identity(options: BaseModel, budget_fields: tuple[str, ...]) -> str:
    """A short hash of ``options`` without ``budget_fields``: what makes two runs' trials comparable.

    Example:
        >>> len(options_identity(SearchConfig(space="mnist"), ("trials",)))
        16
    """
    import hashlib
    import json

    keep = options.model_dump(mode="json", exclude=set(budget_fields))
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def options_differences(recorded: BaseModel, given: BaseModel, budget_fields: tuple[str, ...]) -> list[str]:
    """``field: given (study: recorded)`` for each field outside ``budget_fields`` that differs."""
    mine, theirs = recorded.model_dump(mode="json"), given.model_dump(mode="json")
    return [f"{k}: {theirs.get(k)!r} (study: {mine[k]!r})" for k in mine
            if k not in budget_fields and mine[k] != theirs.get(k)]
