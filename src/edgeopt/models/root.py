"""``ModelRoot``: how the architecture a lineage starts from is built, and building it safely.

A root is one of:

- ``registry``: a name from edgeopt's registry (``mobilenet_v1``) and its keyword arguments;
- ``factory``: a ``package.module:factory`` of the user's and its keyword arguments. Building it
  imports user code, so it happens only when the user names the factory or allows the module
  (``trust_code``; DESIGN.md, principle 5): a checkpoint never makes edgeopt import a module;
- ``program``: a ``torch.export`` program (``.pt2``); its bytes travel with the root (and are
  stored inside checkpoints), so a checkpoint made from a program reloads without the file.
  Building it checks the bytes first: a program that holds pickles, compiled code, or strings
  torch would evaluate is refused (:mod:`edgeopt.models.program_check`).

Example:
    >>> root = ModelRoot.named("mobilenet_v1", {"width_mult": 0.5})
    >>> root.build().__class__.__name__
    'MobileNetV1'
    >>> ModelRoot.named("mymodels:tinyres").build()            # raises: not trusted
    >>> ModelRoot.named("mymodels:tinyres").build(trust_code=True)
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.models.registry import create_model, get_entry, is_registered
from edgeopt.models.weights import shown

FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# Trust: True (any module), False (none), or the modules / sources the user allowed.
Trust = bool | Collection[str]


class ModelRoot(BaseModel):
    """The model a lineage starts from (see the module docstring for the kinds).

    Attributes:
        kind: ``registry``, ``factory``, ``program``, or ``space``: a search space written as
            code (``module:function`` taking an Optuna trial), rebuilt from a trial's parameters.
        source: The registry name, the ``module:factory`` or ``module:function``, or the
            program's file name.
        kwargs: Keyword arguments of the registry model or factory; a space's trial parameters.
        program_sha256: SHA-256 of a program's bytes.
        program: A program's bytes (not serialised with the root: a checkpoint stores them as
            a tensor beside the weights).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["registry", "factory", "program", "space"]
    source: str = Field(min_length=1)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    program_sha256: str | None = None
    program: bytes | None = Field(default=None, exclude=True, repr=False)

    @classmethod
    def named(cls, source: str, kwargs: dict[str, Any] | None = None) -> ModelRoot:
        """A registry name or ``module:factory`` with its arguments.

        Raises:
            EdgeoptError: ``source`` is neither (close registry names are suggested).
        """
        if is_registered(source):
            return cls(kind="registry", source=source, kwargs=dict(kwargs or {}))
        if FACTORY_RE.match(source):
            return cls(kind="factory", source=source, kwargs=dict(kwargs or {}))
        get_entry(source)  # raises "unknown model" with close names
        raise AssertionError("unreachable")

    @classmethod
    def from_program(cls, path: str | Path) -> ModelRoot:
        """A ``.pt2`` file's program (its bytes are read now and kept with the root)."""
        data = Path(path).read_bytes()
        return cls(kind="program", source=Path(path).name, program=data,
                   program_sha256=hashlib.sha256(data).hexdigest())

    @property
    def module_name(self) -> str | None:
        """The module a factory root imports (None for other kinds)."""
        return self.source.split(":", 1)[0] if self.kind in ("factory", "space") else None

    def build(self, *, trust_code: Trust = False) -> nn.Module:
        """A fresh model of this architecture (initial weights).

        Args:
            trust_code: Allows a factory root to import its module: True, or a collection of
                allowed module names or ``module:factory`` sources.

        Raises:
            EdgeoptError: A factory root that is not trusted, an unknown registry name, a
                factory that fails, a program whose bytes are missing or corrupt.
        """
        if self.kind == "registry":
            return create_model(self.source, **self.kwargs)
        if self.kind == "factory":
            check_trusted(self, trust_code)
            return call_factory(self.source, self.kwargs)
        if self.kind == "space":
            check_trusted(self, trust_code)
            return call_space(self.source, self.kwargs)
        return self._build_program()

    def _build_program(self) -> nn.Module:
        if self.program is None:
            raise EdgeoptError(f"the program {shown(self.source)!r} this model starts from is missing",
                               hint="load the model from the checkpoint that embeds it")
        if self.program_sha256 and hashlib.sha256(self.program).hexdigest() != self.program_sha256:
            raise EdgeoptError(f"the embedded program {shown(self.source)!r} does not match its recorded hash",
                               hint="the file is corrupt; save it again")
        return load_program(io.BytesIO(self.program), self.source)


def check_trusted(root: ModelRoot, trust_code: Trust) -> None:
    """Raise unless the user allowed ``root``'s module to be imported."""
    if trust_code is True or (not isinstance(trust_code, bool)
                              and (root.module_name in trust_code or root.source in trust_code)):
        return
    raise EdgeoptError(
        f"this model is built by your code {root.source!r}; edgeopt imports a module only when you allow it",
        hint=f"if you trust the module {root.module_name!r}, pass --trust-code (trust_code=True in Python)",
    )


def call_factory(source: str, kwargs: dict[str, Any]) -> nn.Module:
    """Import ``module:factory`` and call it with ``kwargs`` (the caller checked trust).

    Raises:
        EdgeoptError: The module or name is missing, it is not callable, it raises, or it
            returns something other than an ``nn.Module``.
    """
    factory = import_factory(source)
    return built_by_user_code(lambda: factory(**kwargs), f"{source!r}", f"with {kwargs}",
                              "check the model options (-a KEY=VALUE)")


def call_space(source: str, params: dict[str, Any]) -> nn.Module:
    """Build the network a define-by-run space ``module:function`` makes for fixed trial parameters.

    The function is called with ``optuna.trial.FixedTrial(params)``, whose ``suggest_*`` calls
    return the recorded values: the same network the search trial built.

    Raises:
        EdgeoptError: as :func:`call_factory`, or the function asks for a parameter the trial lacks.
    """
    import optuna

    function = import_factory(source)
    return built_by_user_code(lambda: function(optuna.trial.FixedTrial(params)), f"search space {source!r}",
                              f"for parameters {params}",
                              "the space's code changed since the search, or it is not deterministic")


def built_by_user_code(build: Callable[[], Any], what: str, context: str, hint: str,
                       returned_hint: str | None = None) -> nn.Module:
    """Run the user's ``build`` and return the ``nn.Module`` it makes; any failure is one line.

    Raises:
        EdgeoptError: ``build`` raises (``what failed <context>: ...``, with ``hint``) or returns
            something other than an ``nn.Module``.
    """
    try:
        model = build()
    except Exception as exc:  # the user's code: any failure is bad input, reported in one line
        where = f" {context}" if context else ""
        raise EdgeoptError(f"{what} failed{where}: {type(exc).__name__}: {exc}", hint=hint) from exc
    if not isinstance(model, nn.Module):
        raise EdgeoptError(f"{what} returned {type(model).__name__}, not a torch.nn.Module", hint=returned_hint)
    return model


def import_factory(source: str) -> Any:
    """The callable ``module:factory`` names (importing the module)."""
    module_name, attr_path = source.split(":", 1)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise EdgeoptError(f"cannot import {module_name!r} for {source!r}: {exc}",
                           hint="make sure the package is installed or on PYTHONPATH") from exc
    for attr in attr_path.split("."):
        if not hasattr(obj, attr):
            raise EdgeoptError(f"{module_name!r} has no attribute {attr_path!r}", hint="check the name after ':'")
        obj = getattr(obj, attr)
    if not callable(obj):
        raise EdgeoptError(f"{source!r} is not callable", hint="name a class or a function that builds the model")
    return obj


def accepted_kwargs(root_source: str) -> list[str]:
    """Keyword arguments a registry model or factory takes (a factory the user named)."""
    if is_registered(root_source) or not FACTORY_RE.match(root_source):
        return get_entry(root_source).accepted_kwargs()  # an unknown name: the error names close ones
    factory = import_factory(root_source)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and some C types have no signature
        return []
    return [name for name, p in params.items() if p.kind is not p.VAR_POSITIONAL and name != "self"]


def data_kwargs(source: str, given: dict[str, Any], num_classes: int, in_chans: int) -> dict[str, Any]:
    """``given`` with ``num_classes`` and ``in_chans`` filled from the data where the model takes them.

    Example:
        >>> data_kwargs("mobilenet_v1", {"width_mult": 0.5}, 10, 1)
        {'width_mult': 0.5, 'num_classes': 10, 'in_chans': 1}
    """
    kwargs = dict(given)
    accepted = accepted_kwargs(source)
    for key, value in (("num_classes", num_classes), ("in_chans", in_chans)):
        if key in accepted:
            kwargs.setdefault(key, value)
    return kwargs


def load_program(file: str | Path | io.BytesIO, name: str) -> nn.Module:
    """The module of a ``torch.export`` program (a path or its bytes), loaded only if it is pure data.

    ``torch.export.load`` unpickles parts of the archive (falling back to full pickle), loads
    compiled libraries, and evaluates or executes strings of the program's JSON; so the bytes
    are checked first (:func:`~edgeopt.models.program_check.check_program`) and torch reads those
    same bytes.

    Raises:
        EdgeoptError: The file is missing or unreadable, or it holds anything that could run
            (the message names it and says edgeopt will not load it).
    """
    from edgeopt.models.program_check import check_program

    shown_name = shown(name)
    if isinstance(file, io.BytesIO):
        data = file.getvalue()
    else:
        try:
            data = Path(file).read_bytes()
        except FileNotFoundError:
            raise EdgeoptError(f"program {str(file)!r} does not exist", hint="check the path") from None
    check_program(data, name)
    try:
        program = torch.export.load(io.BytesIO(data))
    except Exception as exc:  # torch raises many types for a corrupt archive
        raise EdgeoptError(
            f"{shown_name!r} is not a readable torch.export program: {type(exc).__name__}",
            hint="save it with torch.export.save(torch.export.export(model, args), path)",
        ) from exc
    return program.module()
