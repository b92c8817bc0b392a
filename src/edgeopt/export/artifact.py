"""``Artifact``: a model file on disk that a runtime executes (an ONNX file, a torch checkpoint...).

An artifact is what edgeopt ships and measures (DESIGN.md, "Measured, not claimed"): its size
and hash are read from the file itself, never computed from the model it came from.

Example:
    >>> art = Artifact.from_file("out/model.onnx", "onnx", input_shape=(1, 1, 28, 28))
    >>> art.size_bytes, art.sha256[:12]
    (857642, '3f0c5b1e9a2d')
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from edgeopt.export.parity import ParityReport

# File suffix -> format, for artifacts given as bare paths (e.g. on the ``bench`` command line).
SUFFIX_FORMATS = {
    ".onnx": "onnx",
    ".pt": "torch",
    ".pth": "torch",
    ".safetensors": "torch",
    ".pt2": "torch",
    ".pte": "executorch",
}

_CHUNK = 1 << 20  # hash in 1 MiB chunks so large files never sit in memory whole


@dataclass(frozen=True)
class Artifact:
    """A model file plus what is known about it.

    Attributes:
        format: ``"onnx"``, ``"executorch"`` (a ``.pte`` program), ``"torch"`` (an edgeopt
            checkpoint or ``.pt2`` program), ...
        path: Where the file is.
        size_bytes: Size of the file on disk.
        sha256: Hex SHA-256 of the file's bytes.
        precision: Numeric precision of the weights (``"fp32"``, later ``"int8"``).
        input_shape: The example input shape it was exported with (batch first), if known.
        parity: How closely its outputs match the eager model's (set by exporters).
        metadata: Format details, e.g. ``{"opset": 18, "exporter": "torch.onnx (dynamo)"}``.
    """

    format: str
    path: Path
    size_bytes: int
    sha256: str
    precision: str = "fp32"
    input_shape: tuple[int, ...] | None = None
    parity: ParityReport | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        format: str | None = None,
        precision: str = "fp32",
        input_shape: tuple[int, ...] | list[int] | None = None,
        **extra: Any,
    ) -> Artifact:
        """Describe an existing file: its size and SHA-256 are read from disk.

        Args:
            path: The artifact file.
            format: Its format; inferred from the suffix (``.onnx``, ``.pt``, ``.pt2``...) if None.
            precision: Weight precision, ``"fp32"`` unless the caller knows better.
            input_shape: Example input shape, batch first.
            **extra: ``parity`` and ``metadata``.

        Raises:
            EdgeoptError: the file does not exist or its format cannot be inferred.

        Example:
            >>> Artifact.from_file("model.onnx").format
            'onnx'
        """
        file = Path(path)
        if not file.is_file():
            raise EdgeoptError(f"artifact {str(file)!r} does not exist", hint="check the path")
        fmt = format or infer_format(file)
        shape = tuple(int(d) for d in input_shape) if input_shape is not None else None
        return cls(fmt, file, file.stat().st_size, sha256_of(file), precision, shape, **extra)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (for results.json and ``--json`` output)."""
        return {
            "format": self.format,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "precision": self.precision,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "parity": self.parity.to_dict() if self.parity else None,
            "metadata": dict(self.metadata),
        }


def infer_format(path: Path) -> str:
    """The format a file's suffix implies.

    Raises:
        EdgeoptError: the suffix is not a known artifact suffix.

    Example:
        >>> infer_format(Path("net.onnx"))
        'onnx'
    """
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(SUFFIX_FORMATS))
        raise EdgeoptError(f"cannot tell the format of {str(path)!r}", hint=f"known suffixes: {known}")
    return fmt


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
