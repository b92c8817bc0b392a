"""How sparse a model's Conv2d/Linear weights are, and how small they get when stored sparsely.

Two sizes are given, both measured on real bytes rather than estimated from the sparsity:

- the **bitmask encoding** of each weight tensor: one presence bit per weight (packed, 8 per byte)
  followed by the nonzero values at their own precision (fp32: 4 bytes each). A tensor for which
  this is larger than its dense bytes (a dense layer) is counted dense;
- the **zlib** (level 9) size of the whole model's state dict as ``torch.save`` writes it (masks
  baked in, so it holds what an exported model holds: BatchNorm and biases included).

Sparsity is not speed: a dense runtime (ONNX Runtime, ExecuTorch) multiplies by every zero, so an
unstructured-sparse model runs exactly as fast as the dense one. It saves storage and download
size only. Structured pruning is what makes a model faster.

Example:
    >>> report = sparsity_report(magnitude(model, sparsity=0.8))
    >>> round(report.masked_sparsity, 3), report.compressed_bytes < 0.35 * report.dense_bytes
    (0.8, True)
    >>> print(report.summary())
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from edgeopt.analysis.tables import format_bytes
from edgeopt.prune.masks import is_masked
from edgeopt.prune.unstructured import finalize, prunable_layers

__all__ = ["ENCODING", "SPEED_NOTE", "LayerSparsity", "SparsityReport", "decode_bitmask",
           "encode_bitmask", "sparsity_report"]

ENCODING = (
    "per weight tensor: 1 presence bit per weight (packed) + the nonzero values at their own "
    "precision, or the dense tensor where that is smaller (the flag saying which is not counted)"
)
SPEED_NOTE = (
    "unstructured sparsity shrinks storage only: a dense runtime (ONNX Runtime, ExecuTorch) "
    "multiplies by every zero and runs no faster"
)
ZLIB_LEVEL = 9


@dataclass
class LayerSparsity:
    """One Conv2d/Linear weight: its zeros and its dense and encoded sizes in bytes."""

    name: str
    kind: str  # "Conv2d" or "Linear"
    shape: tuple[int, ...]
    numel: int
    zeros: int
    masked: bool  # carries a pruning mask
    dense_bytes: int
    compressed_bytes: int  # under ENCODING

    @property
    def sparsity(self) -> float:
        """Fraction of this weight's entries that are zero."""
        return self.zeros / self.numel if self.numel else 0.0


@dataclass
class SparsityReport:
    """Per-layer and total sparsity of a model's Conv2d/Linear weights, and their stored size.

    ``dense_bytes`` and ``compressed_bytes`` cover the Conv2d/Linear weights (the tensors pruning
    acts on); ``state_dict_bytes`` and ``state_dict_zlib_bytes`` cover the whole saved state dict
    (None when the report was made with ``compress=False``). See the module docstring for the
    encoding, and note that none of this makes the model faster on a dense runtime.

    Example:
        >>> report.total_sparsity, report.compression_ratio
        (0.79, 0.23)
    """

    layers: list[LayerSparsity]
    state_dict_bytes: int | None = None
    state_dict_zlib_bytes: int | None = None
    encoding: str = field(default=ENCODING)
    note: str = field(default=SPEED_NOTE)

    @property
    def total_sparsity(self) -> float:
        """Zeros over all Conv2d/Linear weights, dense (excluded) layers included."""
        return _fraction(self.layers)

    @property
    def masked_sparsity(self) -> float | None:
        """Zeros over the weights of masked layers only (None if no layer is masked).

        This is the figure :func:`edgeopt.prune.magnitude`'s ``sparsity`` targets.
        """
        masked = [layer for layer in self.layers if layer.masked]
        return _fraction(masked) if masked else None

    @property
    def dense_bytes(self) -> int:
        """Bytes of the Conv2d/Linear weights stored densely."""
        return sum(layer.dense_bytes for layer in self.layers)

    @property
    def compressed_bytes(self) -> int:
        """Bytes of the Conv2d/Linear weights under the bitmask encoding."""
        return sum(layer.compressed_bytes for layer in self.layers)

    @property
    def compression_ratio(self) -> float:
        """``compressed_bytes / dense_bytes`` (1.0 for a model without weights)."""
        return self.compressed_bytes / self.dense_bytes if self.dense_bytes else 1.0

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per layer, for tables and CSV.

        Example:
            >>> report.rows()[0]["layer"], report.rows()[0]["sparsity"]
            ('features.1.depthwise.0', 0.5)
        """
        return [
            {"layer": layer.name, "type": layer.kind, "shape": list(layer.shape),
             "weights": layer.numel, "zeros": layer.zeros, "sparsity": layer.sparsity,
             "masked": layer.masked, "dense_bytes": layer.dense_bytes,
             "compressed_bytes": layer.compressed_bytes}
            for layer in self.layers
        ]

    def summary(self) -> str:
        """A few plain lines: sparsity, the sizes under both encodings, and the speed caveat."""
        masked = [layer for layer in self.layers if layer.masked]
        numel = sum(layer.numel for layer in self.layers)
        lines = [f"{self.total_sparsity:.1%} of {numel:,} Conv2d/Linear weights are zero"]
        if masked:
            lines[0] += (f"; {self.masked_sparsity:.1%} of the {len(masked)} masked layers' "
                         f"{sum(layer.numel for layer in masked):,}")
        lines.append(f"weights dense: {format_bytes(self.dense_bytes)}; bitmask + nonzero values: "
                     f"{format_bytes(self.compressed_bytes)} ({self.compression_ratio:.1%})")
        if self.state_dict_bytes is not None and self.state_dict_zlib_bytes is not None:
            lines.append(f"state dict saved: {format_bytes(self.state_dict_bytes)}; zlib -9: "
                         f"{format_bytes(self.state_dict_zlib_bytes)} "
                         f"({self.state_dict_zlib_bytes / self.state_dict_bytes:.1%})")
        lines.append(f"note: {self.note}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (for results.json), totals first."""
        data = {
            "total_sparsity": self.total_sparsity,
            "masked_sparsity": self.masked_sparsity,
            "dense_bytes": self.dense_bytes,
            "compressed_bytes": self.compressed_bytes,
            "compression_ratio": self.compression_ratio,
            "state_dict_bytes": self.state_dict_bytes,
            "state_dict_zlib_bytes": self.state_dict_zlib_bytes,
            "encoding": self.encoding,
            "note": self.note,
            "layers": self.rows(),
        }
        return data


def sparsity_report(model: nn.Module, *, compress: bool = True) -> SparsityReport:
    """Measure the sparsity of ``model``'s Conv2d/Linear weights and their stored sizes.

    Works on masked models (from :func:`edgeopt.prune.magnitude`), finalized ones, and any
    dense model (whose zeros are counted all the same). The model is not modified.

    Args:
        model: The model to measure.
        compress: Also save the (finalized) state dict and zlib it; False skips that cost.

    Example:
        >>> report = sparsity_report(sparse)
        >>> report.compressed_bytes < report.dense_bytes
        True
    """
    modules = dict(model.named_modules())
    layers = [_layer_sparsity(name, modules[name]) for name in prunable_layers(model)]
    report = SparsityReport(layers=layers)
    if compress:
        saved = _saved_state_dict(model)
        report.state_dict_bytes = len(saved)
        report.state_dict_zlib_bytes = len(zlib.compress(saved, ZLIB_LEVEL))
    return report


def encode_bitmask(weight: Tensor) -> bytes:
    """``weight`` as packed presence bits (row-major) followed by its nonzero values.

    Example:
        >>> len(encode_bitmask(torch.tensor([0.0, 1.5, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0])))
        10
    """
    flat = weight.detach().cpu().contiguous().flatten()
    present = flat != 0
    bits = np.packbits(present.numpy()).tobytes()
    return bits + flat[present].numpy().tobytes()


def decode_bitmask(
    data: bytes, shape: tuple[int, ...], dtype: torch.dtype = torch.float32
) -> Tensor:
    """The inverse of :func:`encode_bitmask`.

    Example:
        >>> w = torch.tensor([[0.0, 1.5], [0.0, 2.0]])
        >>> torch.equal(decode_bitmask(encode_bitmask(w), (2, 2)), w)
        True
    """
    numel = math.prod(shape)
    mask_bytes = (numel + 7) // 8
    bits = np.unpackbits(np.frombuffer(data[:mask_bytes], dtype=np.uint8), count=numel)
    present = torch.from_numpy(bits.astype(bool))
    values = torch.frombuffer(bytearray(data[mask_bytes:]), dtype=dtype)
    flat = torch.zeros(numel, dtype=dtype)
    flat[present] = values
    return flat.view(shape)


# --- helpers ------------------------------------------------------------------------------------


def _layer_sparsity(name: str, module: nn.Conv2d | nn.Linear) -> LayerSparsity:
    weight = module.weight.detach()  # through a mask this is the masked weight
    dense = weight.numel() * weight.element_size()
    kind = "Conv2d" if isinstance(module, nn.Conv2d) else "Linear"
    return LayerSparsity(
        name=name,
        kind=kind,
        shape=tuple(weight.shape),
        numel=weight.numel(),
        zeros=int((weight == 0).sum()),
        masked=is_masked(module),
        dense_bytes=dense,
        compressed_bytes=min(dense, len(encode_bitmask(weight))),
    )


def _fraction(layers: list[LayerSparsity]) -> float:
    numel = sum(layer.numel for layer in layers)
    return sum(layer.zeros for layer in layers) / numel if numel else 0.0


def _saved_state_dict(model: nn.Module) -> bytes:
    """The bytes ``torch.save`` writes for the finalized model's state dict."""
    buffer = io.BytesIO()
    torch.save(finalize(model).state_dict(), buffer)
    return buffer.getvalue()
