"""Read state dicts safely and load them strictly, with errors that name what does not fit.

Weights are read from ``.safetensors`` (no code at all) or from torch's zip format, whose one
pickle (``data.pkl``) is first unpickled *without building anything*: every global it names must
be a tensor rebuild function, a dtype, a storage type or a plain container, or the file is
refused, naming the global; then ``torch.load(weights_only=True)`` reads it (DESIGN.md,
principle 5). So nothing pickled is executed, whatever safe globals other libraries registered
with torch. Files of torch's pre-1.6 format (a bare pickle stream) and TorchScript archives
are refused.

Example:
    >>> load_weights(model, "net.safetensors")
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeopt.errors import EdgeoptError

_MAX_LISTED = 5  # keys named per kind in a mismatch error
_ZIP_MAGIC = b"PK\x03\x04"

# Globals a pickle of tensors and plain data may name (torch's own weights_only list, less the
# subclass, nested/sparse-by-numpy and device-mesh machinery; dtypes, qschemes and storage types
# are added below).
_TENSOR_GLOBALS = frozenset({
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._tensor._rebuild_from_type_v2",
    "torch.nn.parameter.Parameter",
    "torch.Tensor",
    "torch.Size",
    "torch.device",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.serialization._get_layout",
    "builtins.set",
    "builtins.complex",
    "builtins.bytearray",
    "__builtin__.set",  # protocol-2 pickles name builtins as Python 2 did
    "__builtin__.complex",
    "__builtin__.bytearray",
    "_codecs.encode",  # how protocol-2 pickles write bytes
})


def _torch_type_globals() -> frozenset[str]:
    names = set()
    for name in dir(torch):
        value = getattr(torch, name, None)
        if isinstance(value, (torch.dtype, torch.qscheme, torch.layout)) or (
                name.endswith("Storage") and isinstance(value, type)):
            names.add(f"torch.{name}")
    return frozenset(names)


_ALLOWED_GLOBALS = _TENSOR_GLOBALS | _torch_type_globals()


def shown(text: str, limit: int = 120) -> str:
    """``text`` safe to print in a one-line error: printable characters only, at most ``limit`` long.

    Names read from a file (a pickle's globals, an archive's members) could hold terminal
    escape codes, line breaks or bidirectional overrides; those become ``?``.

    Example:
        >>> shown("posix.system\\x1b[2J")
        'posix.system?[2J'
    """
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


class RefusedGlobal(Exception):
    """A pickle names a global outside the allowed set (``name`` is ``module.qualname``)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Inert:
    """Stands in for every object a checked pickle would build: building it runs nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass


class _GlobalsCheck(pickle.Unpickler):
    """Unpickles with every global replaced by :class:`_Inert`, refusing any not allowed.

    ``find_class`` is the only way a pickle reaches a callable (GLOBAL, STACK_GLOBAL, INST and
    the EXT opcodes all go through it), and here it returns nothing real: the walk checks the
    names and builds inert stand-ins, so no function of the file's choice is ever called.
    """

    def find_class(self, module: str, name: str) -> Any:
        if f"{module}.{name}" not in _ALLOWED_GLOBALS:
            raise RefusedGlobal(f"{module}.{name}")
        return _Inert

    def persistent_load(self, pid: Any) -> Any:
        return _Inert()


def check_pickle(data: bytes) -> None:
    """Walk the pickle ``data`` without building anything; raise if it names a disallowed global.

    Raises:
        RefusedGlobal: The first global outside tensors, dtypes, storages and plain containers.
        pickle.UnpicklingError, EOFError, ValueError, TypeError...: A malformed pickle.
    """
    _GlobalsCheck(io.BytesIO(data)).load()


def load_torch_bytes(data: bytes, what: str) -> Any:
    """The object a ``torch.save`` file holds, read without executing anything from it.

    Args:
        data: The file's bytes (read once, so what is checked is what is loaded).
        what: How errors name the file, e.g. ``"checkpoint m.pt"``.

    Raises:
        EdgeoptError: Not torch's zip format (a pre-1.6 pickle stream or garbage), a TorchScript
            archive, a pickle naming anything but tensors and plain data (the message names the
            global and says edgeopt will not load it), or a corrupt file.
    """
    if not data.startswith(_ZIP_MAGIC):
        if data.startswith(b"\x80"):
            raise EdgeoptError(f"{what} is in torch's pre-1.6 format (a bare pickle); edgeopt reads only "
                               "torch's zip format", hint="save it again with a current torch.save")
        raise corrupt_file(what, f"unknown file signature {shown(repr(data[:4]))}")
    try:  # torch's own zip reader: the records checked are the ones torch.load will read
        reader = torch._C.PyTorchFileReader(io.BytesIO(data))
        records = [str(r) for r in reader.get_all_records()]
    except Exception as err:  # a zip torch cannot open
        raise corrupt_file(what, f"{type(err).__name__}: {_first_line(err)}") from None
    lowered = [r.lower() for r in records]
    if "constants.pkl" in lowered:
        raise EdgeoptError(f"{what} is a TorchScript archive, which runs code; edgeopt will not load it")
    if len(set(lowered)) != len(lowered):
        raise EdgeoptError(f"{what} has two members with the same name; edgeopt will not load it")
    if "data.pkl" not in records:
        raise corrupt_file(what, "it has no data.pkl")
    for record in (r for r, low in zip(records, lowered, strict=True) if low.endswith(".pkl")):
        try:
            check_pickle(bytes(reader.get_record(record)))
        except RefusedGlobal as refused:
            raise EdgeoptError(f"{what} holds objects that are not plain data (it refers to "
                               f"{shown(refused.name)!r}); edgeopt will not load it") from None
        except Exception as err:  # a malformed pickle
            raise corrupt_file(what, f"{type(err).__name__}: {_first_line(err)}") from None
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # torch's safe loader refused it: say why, not how to load it unsafely
        raise EdgeoptError(f"{what} cannot be read as tensors and plain data ({_torch_refusal(err)}); "
                           "edgeopt will not load it") from None
    except Exception as err:  # any parse failure of a user's file is bad input, not a bug
        raise corrupt_file(what, f"{type(err).__name__}: {_first_line(err)}") from None


def corrupt_file(what: str, detail: str) -> EdgeoptError:
    """The error for a file that is not a readable torch file (``detail`` says why)."""
    return EdgeoptError(f"{what} is corrupt or not a torch file ({detail})",
                        hint="it may be truncated or of another format; save it again")


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    # torch's messages about refused pickles explain how to load the file unsafely: never relay that.
    return "" if "weights_only" in text else shown(text, 160)


def _torch_refusal(err: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, without torch's advice on loading it anyway."""
    text = str(err)
    _, found, reason = text.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in (reason if found else text).splitlines() if line.strip()]
    first = lines[0].split(" was not an allowed global")[0] if lines else ""
    return shown(first, 160) if first and "weights_only" not in first else "refused by torch's safe loader"


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch file, never executing pickled code.

    An edgeopt checkpoint is accepted too: its ``state_dict`` entry is returned.

    Raises:
        EdgeoptError: A missing or unreadable file, one whose pickle names anything but tensors
            and plain data (refused, naming the global), or one that holds no state dict.
    """
    path = Path(path)
    what = f"weights file {str(path)!r}"
    if not path.is_file():
        raise EdgeoptError(f"{what} does not exist", hint="check the path")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file

            data: Any = load_file(str(path))
        except Exception as exc:
            raise EdgeoptError(
                f"cannot read weights from {str(path)!r}: {type(exc).__name__}: {_first_line(exc)}",
                hint="expected a state dict saved with safetensors.torch.save_file",
            ) from None
    else:
        data = load_torch_bytes(path.read_bytes(), what)
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise EdgeoptError(f"{str(path)!r} does not hold a state dict of tensors")
    return data


def load_weights(model: nn.Module, weights: str | Path | dict[str, torch.Tensor]) -> nn.Module:
    """Load a state dict (a file or a dict) into ``model`` strictly, with a readable mismatch error."""
    if isinstance(weights, dict):
        load_state_checked(model, weights, source="the state dict")
    else:
        load_state_checked(model, read_state_dict(weights), source=f"weights {str(weights)!r}")
    return model


def load_state_checked(model: nn.Module, state: dict[str, Any], source: str) -> None:
    """Load ``state`` strictly, naming missing, unexpected and mis-shaped keys if it doesn't fit.

    Raises:
        EdgeoptError: naming ``source`` and up to five keys of each kind of mismatch.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: {tuple(state[k].shape)} given vs {tuple(v.shape)} in the model"
        for k, v in expected.items()
        if k in state and isinstance(v, torch.Tensor) and isinstance(state[k], torch.Tensor)
        and state[k].shape != v.shape
    ]
    problems = [
        f"{label} {_some(items)}"
        for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                             ("shape mismatches", shapes))
        if items
    ]
    if not problems:
        try:
            model.load_state_dict(state, strict=True)
            return
        except RuntimeError as err:  # e.g. a custom module's own _load_from_state_dict check
            problems = [shown(str(err).splitlines()[0], 300)]
    raise EdgeoptError(
        f"{source} does not fit {type(model).__name__}: " + "; ".join(problems),
        hint="build the model with the same name and arguments it was saved with",
    )


def _some(items: list[str]) -> str:
    listed = ", ".join(shown(str(item)) for item in items[:_MAX_LISTED])  # keys come from the file
    more = len(items) - _MAX_LISTED
    return f"{listed} (and {more} more)" if more > 0 else listed
