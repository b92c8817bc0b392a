"""Open any model source the way every command does: a name, a factory, a program or a checkpoint.

- a registry name (``mobilenet_v2``) or ``package.module:factory`` (the user named the code, so it
  is imported) with keyword arguments; ``num_classes``/``in_chans`` come from the data where the
  model takes them;
- a ``.pt2`` program saved by ``torch.export.save``;
- an edgeopt checkpoint (``.pt``/``.safetensors``) from any command, recipe step or
  :func:`~edgeopt.checkpoint.save_checkpoint`: rebuilt from its lineage. A checkpoint whose root
  is the user's factory needs ``trust_code``.

Weights are read with ``weights_only=True`` or from ``.safetensors`` (DESIGN.md, principle 5).

Example:
    >>> ckpt = open_model("mobilenet_v1", kwargs={"width_mult": 0.5}, data=splits)
    >>> ckpt.lineage.root.kwargs
    {'width_mult': 0.5, 'num_classes': 10, 'in_chans': 1}
    >>> model = load_model("runs/pruned/model.pt")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from edgeopt.artifact import CHECKPOINT_SUFFIXES, MODEL_FILE_SUFFIXES, PROGRAM_SUFFIX
from edgeopt.checkpoint import Checkpoint, load_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.lineage import Lineage
from edgeopt.models.registry import is_registered
from edgeopt.models.root import ModelRoot, Trust, data_kwargs
from edgeopt.models.weights import load_weights

if TYPE_CHECKING:
    from edgeopt.data import DatasetSplits


def load_model(source: str | Path, *, weights: str | Path | None = None, trust_code: Trust = False,
               **kwargs: Any) -> nn.Module:
    """Build or load the model ``source`` names (see :func:`open_model`); return the model.

    Example:
        >>> load_model("mobilenet_v1", num_classes=10, width_mult=0.5)
    """
    return open_model(source, kwargs=kwargs, weights=weights, trust_code=trust_code).model


def open_model(source: str | Path, *, kwargs: dict[str, Any] | None = None, weights: str | Path | None = None,
               trust_code: Trust = False, data: DatasetSplits | None = None,
               input_size: tuple[int, ...] | None = None) -> Checkpoint:
    """The model ``source`` names, with its lineage (a fresh one for a name, a program).

    Args:
        source: Registry name, ``package.module:factory``, ``.pt2`` file or edgeopt checkpoint.
        kwargs: Model options (names and factories only).
        weights: A state dict file (``.pt``/``.safetensors``) to load into the model.
        trust_code: Allow a checkpoint's ``module:factory`` root to be imported.
        data: The data the model will see: fills ``num_classes``/``in_chans`` and the input
            size, and a checkpoint made for another input size is refused.
        input_size: The batch-1 input shape when there is no data (default: the checkpoint's).

    Raises:
        EdgeoptError: Unknown source, missing or corrupt file, options for a file, weights or
            data that do not fit.
    """
    text = str(source)
    if not is_model_file(text):  # a registry name or module:factory (unknown names get close ones)
        opened = _build_named(text, dict(kwargs or {}), data, input_size)
    else:
        if kwargs:
            raise EdgeoptError(f"model options {sorted(kwargs)} do not apply to the saved model {text!r}",
                               hint="a saved model keeps the architecture it was saved with")
        opened = _open_file(Path(text), trust_code)
        if data is not None:
            check_input_size(opened, data)
        size = input_size or (data.input_shape(1) if data is not None else None)
        if opened.lineage is not None and not opened.lineage.input_size and size:
            opened.lineage = opened.lineage.model_copy(update={"input_size": tuple(size)})
    if weights is not None:
        load_weights(opened.model, weights)
    return opened


def _build_named(source: str, kwargs: dict[str, Any], data: DatasetSplits | None,
                 input_size: tuple[int, ...] | None) -> Checkpoint:
    if data is not None:
        kwargs = data_kwargs(source, kwargs, data.num_classes, data.in_chans)
        data.check_model_input(kwargs.get("in_chans", data.in_chans), kwargs.get("num_classes"))
        input_size = data.input_shape(1)
    root = ModelRoot.named(source, kwargs)
    model = root.build(trust_code=True)  # the user named this code
    return Checkpoint(model=model, lineage=Lineage(root=root, input_size=input_size))


def is_model_file(text: str) -> bool:
    """True when ``text`` names a file (a checkpoint or ``.pt2`` program), not a model name."""
    if is_registered(text):
        return False
    return Path(text).suffix in MODEL_FILE_SUFFIXES or "/" in text or Path(text).exists()


def _open_file(path: Path, trust_code: Trust) -> Checkpoint:
    if not path.is_file():
        what = "is a directory, not a model file" if path.is_dir() else "does not exist"
        raise EdgeoptError(f"model file {str(path)!r} {what}", hint="check the path")
    if path.suffix == PROGRAM_SUFFIX:
        root = ModelRoot.from_program(path)
        return Checkpoint(model=root.build(), lineage=Lineage(root=root), path=path)
    if path.suffix in CHECKPOINT_SUFFIXES:
        return load_checkpoint(path, trust_code=trust_code)
    raise EdgeoptError(f"don't know how to load {str(path)!r}",
                       hint="use a registry name, package.module:factory, a .pt2 program or an edgeopt checkpoint")


def check_input_size(opened: Checkpoint, data: DatasetSplits) -> None:
    """A model made for one input size would run on another (global pooling) but mean nothing."""
    recorded, actual = opened.input_size, data.input_shape(1)
    if recorded is not None and tuple(recorded)[1:] != tuple(actual)[1:]:
        shown = "×".join(map(str, tuple(recorded)[1:]))
        raise EdgeoptError(f"{opened.path} was made for {shown} inputs but dataset {data.name!r} has "
                           f"{'×'.join(map(str, actual[1:]))}", hint="use the data the model was trained on")
