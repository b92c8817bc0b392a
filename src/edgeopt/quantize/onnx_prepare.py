"""Prepare a PyTorch model for ONNX Runtime quantization: check, fold BN, export fp32, pre-process.

One :class:`PreparedOnnx` serves every quantization of the same model (each calibration method,
the sensitivity sweep, the float-fallback loop), so the model is exported and calibrated once.

BatchNorm folding: :func:`edgeopt.fuse.fuse` when that package is importable; the ONNX exporter
folds BN into the preceding conv anyway (onnxscript's ``FuseBatchNormIntoConv`` rewrite), and
``quant_pre_process`` (ORT's recommended pre-processing: graph optimisation and shape inference)
folds any Conv+BatchNormalization left. ``bn_nodes_left`` records what reached the quantizer.

Layers are named as in the PyTorch model: a Conv/Gemm/MatMul node is named after its weight
(``features.3.pointwise.0.weight`` -> ``features.3.pointwise.0``), so a user can exclude
``features.0.0`` without reading the ONNX graph.

Example:
    >>> prepared = prepare_onnx(model, torch.zeros(1, 1, 28, 28), workdir)
    >>> list(prepared.layers.items())[:1]
    [('node_Conv_390', 'features.0.0')]
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization.shape_inference import quant_pre_process
from torch import Tensor, nn

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError, suggest
from edgeopt.export.onnx_export import export_onnx

WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


@dataclass
class PreparedOnnx:
    """An fp32 ONNX model ready for ``quantize_static``, and how its nodes map to layers.

    Attributes:
        path: The pre-processed fp32 model (inside the caller's work folder).
        fp32: The exported fp32 artifact (before pre-processing), with its parity report.
        layers: Quantizable node name -> PyTorch layer name, in graph order.
        op_types: Node name -> ONNX op type, for those nodes.
        input_name: The model input's name.
        bn_folding: What folded BatchNorm (``"edgeopt.fuse"`` or the exporter's rewrite).
        bn_nodes_left: BatchNormalization nodes that reached the quantizer (normally 0).
    """

    path: Path
    fp32: Artifact
    layers: dict[str, str]
    op_types: dict[str, str]
    input_name: str
    bn_folding: str
    bn_nodes_left: int = 0
    metadata: dict[str, object] = field(default_factory=dict)

    def node_names(self, names: Iterable[str]) -> list[str]:
        """ONNX node names for layer or node names; unknown names raise with a suggestion.

        Example:
            >>> prepared.node_names(["features.0.0"])
            ['node_Conv_390']
        """
        by_layer = {layer: node for node, layer in self.layers.items()}
        nodes = []
        for name in names:
            node = name if name in self.layers else by_layer.get(name)
            if node is None:
                choices = [*by_layer, *self.layers]
                raise EdgeoptError(
                    f"no quantizable layer named {name!r}",
                    hint=suggest(name, choices) or f"layers: {', '.join(list(by_layer)[:8])}, ...",
                )
            nodes.append(node)
        return nodes


def check_finite_model(model: nn.Module) -> None:
    """Raise :class:`EdgeoptError` if any parameter or float buffer holds NaN/Inf."""
    tensors = list(model.named_parameters()) + list(model.named_buffers())
    for name, tensor in tensors:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise EdgeoptError(
                f"the model's {name!r} holds NaN/Inf values; it cannot be quantized",
                hint="check the training run or the checkpoint that produced these weights",
            )


def check_model(model: object) -> nn.Module:
    """The model, if it is a :class:`torch.nn.Module` with finite weights."""
    if not isinstance(model, nn.Module):
        raise EdgeoptError(f"expected a torch.nn.Module to quantize, got {type(model).__name__}")
    check_finite_model(model)
    return model


def prepare_onnx(
    model: nn.Module, example_input: Tensor, workdir: Path, parity_data: Tensor | None = None
) -> PreparedOnnx:
    """Fold BN, export fp32 ONNX (parity-checked) and run ORT's pre-processing, in ``workdir``.

    The caller's model is not modified (a copy is folded and exported).
    """
    check_model(model)
    folded, bn_folding = _fold_batchnorm(model)
    fp32 = export_onnx(folded, example_input, workdir / "model.fp32.onnx", parity_data=parity_data)
    pre = workdir / "model.fp32.pre.onnx"
    with quiet_ort():
        quant_pre_process(str(fp32.path), str(pre))
    proto = onnx.load(str(pre))
    layers, op_types = _layer_map(proto)
    if not layers:
        raise EdgeoptError(
            f"{type(model).__name__} has no Conv, Gemm or MatMul layer to quantize",
            hint="static int8 quantizes weighted layers; this model has none",
        )
    bn_left = sum(node.op_type == "BatchNormalization" for node in proto.graph.node)
    return PreparedOnnx(pre, fp32, layers, op_types, proto.graph.input[0].name, bn_folding, bn_left)


def _fold_batchnorm(model: nn.Module) -> tuple[nn.Module, str]:
    """A BN-folded copy via edgeopt.fuse when available; else a plain copy (the exporter folds)."""
    copied = copy.deepcopy(model).eval()
    try:
        from edgeopt.fuse import fuse
    except ImportError:
        return copied, "onnx exporter (onnxscript FuseBatchNormIntoConv)"
    try:
        return fuse(copied), "edgeopt.fuse"
    except EdgeoptError:
        # A model fuse cannot trace (e.g. data-dependent control flow) still exports; the
        # exporter's own rewrite folds its BN.
        return copied, "onnx exporter (edgeopt.fuse could not trace the model)"


def _layer_map(proto: onnx.ModelProto) -> tuple[dict[str, str], dict[str, str]]:
    initializers = {init.name for init in proto.graph.initializer}
    layers: dict[str, str] = {}
    op_types: dict[str, str] = {}
    for node in proto.graph.node:
        if node.op_type not in WEIGHTED_OPS:
            continue
        weight = next((name for name in node.input[1:2] if name in initializers), None)
        if weight is None:  # e.g. a MatMul of two activations: nothing to quantize statically
            continue
        layers[node.name] = _layer_name(weight)
        op_types[node.name] = node.op_type
    return layers, op_types


def _layer_name(weight: str) -> str:
    for suffix in (".weight", "_weight"):
        if weight.endswith(suffix):
            return weight[: -len(suffix)]
    return weight


@contextlib.contextmanager
def quiet_ort() -> Iterator[None]:
    """ORT's quantization tools log warnings and print progress that say nothing to the user."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)

