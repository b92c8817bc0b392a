"""What the agent accepts, judged by content (never by a name): ONNX, ExecuTorch, and data arrays.

- **ONNX**: a protobuf ``ModelProto``. Its framing is walked field by field (no ``onnx``
  package needed): only ``ModelProto`` fields, every length inside the file (a truncated file
  fails), an ``ir_version``, a ``graph`` and its ``opset_import``. Tensors whose data lives in *external* files are
  refused: their ``location`` is a path the model chooses, which could point anywhere on the
  device.
- **ExecuTorch** ``.pte``: a flatbuffer whose file identifier (bytes 4-8) is ``ET`` plus two
  digits; when the extended header (``eh00``) is there, the program and its segments must fit in
  the file.
- **Data** for accuracy: an ``.npz`` of ``x`` (float32, batch first) and optionally ``y``
  (integer labels), read with ``allow_pickle=False``.
- **Never a pickle**: a pickle (or a ``torch.save`` zip, which holds one) is named as such and
  refused; so is OpenVINO IR, which the agent cannot run yet.

Each check raises :class:`Refused` with a message for the client.

Example:
    >>> detect_format(Path("upload.bin"))
    'onnx'
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

from edgeopt.errors import EdgeoptError
from edgeopt.runtime.arrays import ArrayData


class Refused(Exception):
    """A file the agent will not take; ``str()`` is the message for the client."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


# --- ONNX: protobuf framing ---------------------------------------------------------------------

# Field numbers of onnx.proto (ONNX 1.x) whose values are messages that may hold tensors.
_MODEL_FIELDS = {1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26}
_MODEL_GRAPH, _MODEL_TRAINING, _MODEL_FUNCTIONS = 7, 20, 25
_MODEL_REQUIRED = {1, 7, 8}  # ir_version, graph, opset_import
_GRAPH = {1: "node", 5: "tensor", 15: "sparse"}  # node, initializer, sparse_initializer
_NODE = {5: "attribute"}
_ATTRIBUTE = {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"}
_SPARSE = {1: "tensor", 2: "tensor"}
_FUNCTION = {7: "node", 11: "attribute"}
_TRAINING = {1: "graph", 2: "graph"}
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION, _EXTERNAL = 13, 14, 1
_MAX_DEPTH = 64  # nested subgraphs (If/Loop bodies); deeper is not a model anyone exports

_PICKLE_HINT = "the agent never loads pickles; export the model: edgeopt export MODEL -o model.onnx"
_EXPORT_HINT = "send a model made by `edgeopt export` (.onnx or .pte)"


class _Truncated(ValueError):
    """The framing runs past the end of the bytes."""


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise _Truncated("the file ends inside a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: memoryview) -> list[tuple[int, int, int | memoryview]]:
    """``(field number, wire type, value)`` of one message; raises ValueError on bad framing."""
    out: list[tuple[int, int, int | memoryview]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise _Truncated("the file ends inside a fixed-size field")
            out.append((number, wire, data[pos : pos + size]))
            pos += size
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise _Truncated(f"field {number} claims {size} bytes, {len(data) - pos} are left")
            out.append((number, wire, data[pos : pos + size]))
            pos += size
        else:  # 3, 4: deprecated groups; 6, 7: invalid
            raise ValueError(f"its bytes are not protobuf (wire type {wire} at byte {pos})")
    return out


def _walk(kind: str, data: memoryview, depth: int) -> None:
    """Recurse into the messages that may hold tensors; refuse external tensor data."""
    if depth > _MAX_DEPTH:
        raise ValueError("subgraphs nested too deeply")
    fields = _fields(data)
    if kind == "tensor":
        for number, wire, value in fields:
            if number == _TENSOR_EXTERNAL_DATA or (
                number == _TENSOR_DATA_LOCATION and wire == 0 and value == _EXTERNAL
            ):
                raise Refused("the ONNX model keeps tensor data in external files, which the agent refuses "
                              "(their paths are the model's choice)",
                              hint="export the model with its weights inside the .onnx file")
        return
    children = {"graph": _GRAPH, "node": _NODE, "attribute": _ATTRIBUTE, "sparse": _SPARSE,
                "function": _FUNCTION, "training": _TRAINING}[kind]
    for number, wire, value in fields:
        child = children.get(number)
        if child and wire == 2 and isinstance(value, memoryview):
            _walk(child, value, depth + 1)


def check_onnx(data: bytes | memoryview) -> None:
    """Raise :class:`Refused` unless ``data`` is a complete ONNX ``ModelProto`` without external data."""
    view = memoryview(data)
    try:
        fields = _fields(view)
    except _Truncated as exc:
        raise Refused(f"not a complete ONNX model: {exc} (truncated)", hint=_EXPORT_HINT) from None
    except ValueError as exc:
        raise Refused(f"not an ONNX model: {exc}", hint=_EXPORT_HINT) from None
    numbers = {number for number, _, _ in fields}
    unknown = sorted(numbers - _MODEL_FIELDS)
    if unknown or not _MODEL_REQUIRED.issubset(numbers):
        raise Refused("not an ONNX model (its protobuf fields are not a ModelProto's: "
                      f"{'unknown fields ' + str(unknown[:5]) if unknown else 'no ir_version, graph or opsets'}; "
                      "truncated, or another kind of file)", hint=_EXPORT_HINT)
    try:
        for number, wire, value in fields:
            if wire != 2 or not isinstance(value, memoryview):
                continue
            if number == _MODEL_GRAPH:
                _walk("graph", value, 1)
            elif number == _MODEL_TRAINING:
                _walk("training", value, 1)
            elif number == _MODEL_FUNCTIONS:
                _walk("function", value, 1)
    except _Truncated as exc:
        raise Refused(f"not a complete ONNX model: {exc} inside its graph (truncated)", hint=_EXPORT_HINT) from None
    except ValueError as exc:
        raise Refused(f"not an ONNX model: {exc} inside its graph", hint=_EXPORT_HINT) from None


# --- ExecuTorch ---------------------------------------------------------------------------------

_PTE_ID_OFFSET = 4
_PTE_EXTENDED = b"eh00"


def check_pte(data: bytes | memoryview) -> None:
    """Raise :class:`Refused` unless ``data`` starts like a complete ExecuTorch program."""
    head = bytes(data[:40])
    ident = head[_PTE_ID_OFFSET : _PTE_ID_OFFSET + 4]
    if len(head) < 8 or ident[:2] != b"ET" or not ident[2:].isdigit():
        raise Refused("not an ExecuTorch program (no ET file identifier)", hint=_EXPORT_HINT)
    root = struct.unpack_from("<I", head, 0)[0]
    if root >= len(data):
        raise Refused("not a complete ExecuTorch program: its root table lies past the end (truncated)",
                      hint=_EXPORT_HINT)
    if head[8:12] == _PTE_EXTENDED and len(head) >= 32:
        length = struct.unpack_from("<I", head, 12)[0]
        program_size, segment_base = struct.unpack_from("<QQ", head, 16)
        segments = struct.unpack_from("<Q", head, 32)[0] if length >= 32 and len(head) >= 40 else 0
        if program_size > len(data) or (segments and segment_base + segments > len(data)):
            raise Refused(f"not a complete ExecuTorch program: its header promises "
                          f"{max(program_size, segment_base + segments)} bytes, the file has {len(data)} "
                          "(truncated)", hint=_EXPORT_HINT)


# --- what a file is -------------------------------------------------------------------------------


def _not_an_artifact(head: bytes) -> None:
    """Name the usual impostors before the format checks (clearer than a framing error)."""
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise Refused("the file is a Python pickle, not a model the agent runs", hint=_PICKLE_HINT)
    if head[:4] == b"PK\x03\x04":
        raise Refused("the file is a zip archive (a torch.save checkpoint holds a pickle), "
                      "not a model the agent runs", hint=_PICKLE_HINT)
    text = head.lstrip()[:512].lower()
    if text.startswith((b"<?xml", b"<net")):
        if b"<net" in text:
            raise Refused("OpenVINO IR is not supported by the agent yet",
                          hint="export to ONNX (edgeopt export -f onnx); OpenVINO runs ONNX files too")
        raise Refused("the file is XML, not a model the agent runs", hint=_EXPORT_HINT)


def detect_format(path: Path) -> str:
    """``"onnx"`` or ``"executorch"``, judged by the file's content.

    Raises:
        Refused: a pickle, a zip, OpenVINO IR, a truncated file, or none of the formats.
    """
    data = path.read_bytes()
    if not data:
        raise Refused("the file is empty", hint=_EXPORT_HINT)
    _not_an_artifact(data[:1024])
    ident = data[_PTE_ID_OFFSET : _PTE_ID_OFFSET + 4]
    if ident[:2] == b"ET" and ident[2:].isdigit():
        check_pte(data)
        return "executorch"
    check_onnx(data)
    return "onnx"


def load_data(path: Path, max_bytes: int) -> ArrayData:
    """The evaluation arrays of an uploaded ``.npz`` (``x`` float32, optional integer ``y``).

    Raises:
        Refused: not an npz of plain arrays, other members, object arrays, members over ``max_bytes``.
    """
    head = path.read_bytes()[:8]
    if head[:1] == b"\x80":
        raise Refused("the data file is a Python pickle", hint="send arrays as .npz (numpy.savez)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise Refused("the data file is not an .npz archive", hint="send arrays as .npz (numpy.savez)") from None
    names = sorted(m.filename for m in members)
    if names not in (["x.npy"], ["x.npy", "y.npy"]):
        raise Refused(f"the data file holds {names[:5]}; it must hold x.npy and optionally y.npy",
                      hint="numpy.savez(f, x=inputs, y=labels)")
    if sum(m.file_size for m in members) > max_bytes:
        raise Refused(f"the data unpacks to over {max_bytes} bytes", hint="send fewer samples")
    try:
        with np.load(path, allow_pickle=False) as npz:
            x, y = npz["x"], (npz["y"] if "y" in npz.files else None)
    except ValueError as exc:  # object arrays need pickle: refused by allow_pickle=False
        raise Refused(f"the data file cannot be read without pickle: {str(exc)[:200]}",
                      hint="send numeric arrays only") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise Refused(f"the data file is damaged: {str(exc)[:200]}") from None
    if x.dtype != np.float32 or x.ndim < 2:
        raise Refused(f"data x must be float32 with a batch dimension, got {x.dtype} {x.shape}")
    try:
        return ArrayData(x, y, name="client data")
    except EdgeoptError as exc:
        raise Refused(exc.message) from None
