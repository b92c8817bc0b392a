"""Option parsing and output helpers shared by the CLI commands."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from edgeopt.errors import EdgeoptError
from edgeopt.utils.yaml_limits import load_yaml

if TYPE_CHECKING:
    from torch import Tensor

    from edgeopt.checkpoint import Checkpoint
    from edgeopt.data import DatasetSplits

ConfigT = TypeVar("ConfigT", bound=BaseModel)

# Piped output (CI logs, files) gets a wide fixed width so layer names are not cut at 80 columns;
# errors never wrap, so each stays the one line the CLI promises.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)


def progress_echo(as_json: bool) -> Callable[[str], None]:
    """Where a long command's progress lines go: stderr when stdout carries ``--json``, else stdout."""
    target = err_console if as_json else console
    return lambda text: target.print(text, highlight=False)


def parse_input_size(text: str) -> tuple[int, ...]:
    """Parse ``C,H,W`` (batch 1 is prepended) or ``N,C,H,W`` into a shape tuple.

    An input that alone exceeds the memory available is refused here, before any model is built
    (:func:`edgeopt.utils.memory.check_input_memory`).

    Example:
        >>> parse_input_size("3,224,224")
        (1, 3, 224, 224)
    """
    from edgeopt.utils.memory import check_input_memory

    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        dims = ()
    if len(dims) not in (3, 4) or any(d <= 0 for d in dims):
        raise EdgeoptError(
            f"input size {text!r} is not C,H,W or N,C,H,W with positive integers",
            hint="e.g. --input-size 3,224,224",
        )
    shape = dims if len(dims) == 4 else (1, *dims)
    check_input_memory(shape)
    return shape


# YAML 1.1 (PyYAML) reads 1e-3 and 1e6 as strings (it wants a dot and a signed exponent); a user
# typing -a num_classes=1e3 means the number, as YAML 1.2 reads it.
_EXPONENT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def parse_model_args(pairs: list[str] | None) -> dict[str, Any]:
    """Parse repeated ``KEY=VALUE`` options; values are read as YAML scalars (0.5, true, 10, 1e-3).

    Example:
        >>> parse_model_args(["width_mult=0.5", "stem_stride=1"])
        {'width_mult': 0.5, 'stem_stride': 1}
    """
    parsed: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise EdgeoptError(f"model option {pair!r} is not KEY=VALUE", hint="e.g. -a width_mult=0.5")
        loaded = load_yaml(value, f"model option {key.strip()!r}")
        if isinstance(loaded, str) and _EXPONENT_NUMBER.match(loaded.strip()):
            loaded = float(loaded)
        parsed[key.strip()] = loaded
    return parsed


def print_json(data: Any) -> None:
    """Print JSON to stdout without rich markup, so it pipes cleanly."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


# Options every command that takes a model shares, so they read the same everywhere.
MODEL_HELP = "Registry name, package.module:factory, a .pt2 program or an edgeopt checkpoint (any command's output)."
MODEL_ARG_OPTION = typer.Option(None, "--model-arg", "-a",
                                help="Model option KEY=VALUE (repeatable), e.g. -a width_mult=0.5.")
WEIGHTS_OPTION = typer.Option(None, "--weights", "-w", help="State dict (.pt/.safetensors) to load into the model.")
TRUST_OPTION = typer.Option(False, "--trust-code", help="Allow a checkpoint whose model is built by your own "
                            "module:factory to import that module (off: such files are refused).")
INPUT_SIZE_OPTION = typer.Option(None, "--input-size", "-i",
                                 help="C,H,W (or N,C,H,W). Default: the data's, the checkpoint's, else 3,224,224.")
DEFAULT_INPUT_SIZE = (1, 3, 224, 224)


def open_source(model: str, *, model_arg: list[str] | None = None, weights: Path | None = None,
                trust_code: bool = False, data: DatasetSplits | None = None,
                input_size: str | None = None) -> Checkpoint:
    """The model a command was given, with its lineage and an input size always set.

    The input size comes from ``--input-size``, else the data, else the checkpoint, else
    3×224×224 (ImageNet). Model options are checked before the model is built (types, ranges,
    the memory of its weights: :mod:`edgeopt.models.validation`), and an ``--input-size`` at
    which a layer alone would not fit in memory is refused before anything runs at that size.
    """
    from edgeopt.loading import is_model_file, open_model
    from edgeopt.models.validation import check_forward_memory

    _check_not_empty(model)
    size = parse_input_size(input_size) if input_size is not None else None
    kwargs = parse_model_args(model_arg)
    if not is_model_file(model):
        _check_named_options(model, kwargs)  # the user's options first, before they meet the data
    opened = open_model(model, kwargs=kwargs, weights=weights, trust_code=trust_code,
                        data=data, input_size=size)
    if size is not None:
        check_forward_memory(opened.model, size, f"model {model!r}")
    if opened.lineage is not None and (size or not opened.lineage.input_size):
        opened.lineage = opened.lineage.model_copy(update={"input_size": size or DEFAULT_INPUT_SIZE})
    return opened


def _check_not_empty(model: str) -> None:
    if not model.strip():  # Path("") is the current folder
        raise EdgeoptError("the model is empty", hint="a registry name (see 'edgeopt models'), "
                           "package.module:factory or a model file")


def _check_named_options(source: str, kwargs: dict[str, Any]) -> None:
    """An unknown name, or options a registry model or ``package.module:factory`` does not take.

    Importing a factory's module is what the user asked for by naming it (DESIGN.md, principle 5).
    """
    from edgeopt.models.registry import get_entry, is_registered
    from edgeopt.models.root import FACTORY_RE, import_factory
    from edgeopt.models.validation import check_model_options

    if is_registered(source):  # create_model counts the weights when it builds the model
        check_model_options(source, get_entry(source).factory, kwargs, memory=False)
    elif FACTORY_RE.match(source):
        if kwargs:
            check_model_options(source, import_factory(source), kwargs)
    else:
        get_entry(source)  # "unknown model", with close names (with data, the loader would fail on it)


def example_input(opened: Checkpoint, data: DatasetSplits | None = None) -> Tensor:
    """A batch-1 input for tracing and export: a real test image when there is data."""
    import torch

    if data is not None:
        return data.test.tensors[0][:1].clone()
    size = opened.input_size or DEFAULT_INPUT_SIZE
    return torch.randn(*size, generator=torch.Generator().manual_seed(0))


def load_data(data: str | None) -> DatasetSplits | None:
    """The dataset a ``--data`` option names (None when not given).

    Every split must hold samples (training validates on val, every command reports on test),
    so a dataset too small to split is refused here, naming it, before any work.
    """
    from edgeopt.data import load_dataset

    if data is None:
        return None
    if not data.strip():  # the loader would read the current folder as an image folder
        raise EdgeoptError("--data is empty", hint="name a bundled dataset (digits, mnist5k) or a path")
    splits = load_dataset(data)
    splits.check_split_sizes(val=True)
    return splits


def make_config(cls: type[ConfigT], **options: Any) -> ConfigT:
    """``cls(**options)``, with a validation error as one line naming the option."""
    from pydantic import ValidationError

    from edgeopt.utils.validation import describe_error, field_loc, first_error

    try:
        return cls(**options)
    except ValidationError as exc:
        err = first_error(exc)
        loc = field_loc(tuple(err["loc"]))
        raise EdgeoptError(f"{getattr(cls, '__name__', 'options')}: {describe_error(err, cls, loc)}",
                           hint="see --help for the allowed values") from None


def profile_source(model: str, *, input_size: str | None = None, model_arg: list[str] | None = None,
                   weights: Path | None = None, trust_code: bool = False) -> tuple[Any, int | None]:
    """The cost profile of any model a command takes, an exported ``.onnx`` file included.

    Returns the :class:`~edgeopt.analysis.ModelProfile` and, for an ``.onnx`` file, its size.
    """
    _check_not_empty(model)
    size = parse_input_size(input_size) if input_size is not None else None
    if model.lower().endswith(".onnx"):
        if model_arg or weights:
            raise EdgeoptError("-a/--weights do not apply to an .onnx file", hint="the file already holds its weights")
        from edgeopt.devices import onnx_profile

        return onnx_profile(model, size), Path(model).stat().st_size
    if model.lower().endswith(".pte"):
        raise EdgeoptError(f"{model!r} is an ExecuTorch program, whose graph edgeopt cannot read back",
                           hint="profile the model or .onnx file it was exported from")
    from edgeopt.analysis import profile

    opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, input_size=input_size)
    return profile(opened.model, input_size=opened.input_size or DEFAULT_INPUT_SIZE), None


FORCE_OPTION = typer.Option(False, "--force", help="Replace outputs an earlier command left at -o.")


def check_output(out: Path, *, force: bool, inputs: tuple[str | Path | None, ...], directory: bool) -> None:
    """Refuse, before any work, to write over an input, or over earlier outputs without ``--force``.

    One convention for every command: an output that exists is replaced only with ``--force``; an
    input is never written over; a read-only or full disk is refused before the work, not after.

    Args:
        out: The ``-o`` file, or directory (``directory=True``) whose ``model.pt`` and files are written.
        force: Whether ``--force`` was given.
        inputs: The command's input files (names that are not files are ignored).
        directory: Whether ``out`` is a directory.
    """
    written = out / "model.pt" if directory else out
    for source in inputs:
        if source is not None and Path(source).is_file() and Path(source).resolve() == written.resolve():
            raise EdgeoptError(f"refusing to write over the input {str(source)!r}", hint="pick another -o")
    if directory and out.exists() and not out.is_dir():
        raise EdgeoptError(f"output directory {str(out)!r} is a file", hint="pick a directory for -o")
    taken = out.is_dir() and any(out.iterdir()) if directory else out.exists()
    if taken and not force:
        what = "directory holds earlier outputs" if directory else "file exists"
        raise EdgeoptError(f"output {what}: {str(out)!r}", hint="replace with --force, or pick another -o")
    from edgeopt.utils.disk import check_writable

    check_writable(out)  # a read-only or full disk fails now, not after the work
