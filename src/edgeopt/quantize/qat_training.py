"""Quantization-aware training with PT2E, trained by the shared loop, exported for either runtime.

Flow: ``torch.export`` (batch dynamic) → ``prepare_qat_pt2e`` with the XNNPACK quantizer's QAT
config (fake-quantize on weights and activations; conv+BN kept as a QAT pattern that simulates
the fold, so BatchNorm still trains) → :func:`edgeopt.train.fit` → ``convert_pt2e`` (BN folded,
int8 weights) → the artifact.

Train/eval. An exported graph has no modules whose mode could flip: its BatchNorm and dropout are
ops that torchao rewrites with ``move_exported_model_to_train/eval``. ``fit`` switches modes by
``model.train()``/``eval()`` and restores them by setting ``.training`` flags (``preserve_modes``),
which never reaches the graph. So the graph is wrapped in :class:`ModeSyncedGraph`, which applies
the right rewrite at the first forward after its flag changed: ``fit`` needs no change.

The two artifacts, each keeping what QAT learned (its weights *and* its quantization parameters):

- ``executorch``: the converted model lowered to XNNPACK (as :func:`~edgeopt.quantize.pt2e.ptq_executorch`).
- ``onnxruntime``: the converted model exported by ``torch.onnx`` (dynamo), which translates
  PT2E's ``quantized_decomposed`` quantize/dequantize ops into ONNX QuantizeLinear/DequantizeLinear:
  a QDQ model with QAT's own scales, which ONNX Runtime fuses into int8 kernels. Re-quantizing the
  QAT weights with ONNX Runtime's calibration instead would discard the activation ranges QAT
  trained with. Weights are trained as 7-bit ([-63, 63]) for this backend: ONNX Runtime's x86
  int8 kernels without VNNI (AVX2, as on this machine) multiply u8×s8 pairs into 16 bits, which
  saturate with full-range weights — measured on the mnist5k MobileNet's QDQ export: logits off
  by 2.4 (of 13) and −0.5 points with 8-bit weights, 0.16 and −0.1 points with 7-bit ones. QAT
  trains with the 7-bit grid, so it recovers what the lost bit costs.

Example:
    >>> result = qat(model, splits.train, splits.val, TrainConfig(epochs=2), backend="executorch",
    ...              path="out/model.qat.pte", eval_data=splits.test)
    >>> result.int8_accuracy, result.accuracy_drop
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError, suggest
from edgeopt.quantize.pt2e import (
    _check_model,
    artifact_accuracy,
    calibrate,
    calibration_batches,
    capture_for_quantization,
    float_accuracy,
    write_int8_program,
    xnnpack_quantizer,
)
from edgeopt.quantize.result import QuantizationResult
from edgeopt.train import TrainConfig, fit
from edgeopt.utils.quiet import no_warnings

QAT_BACKENDS = ("executorch", "onnxruntime")
WEIGHT_BITS = {"executorch": 8, "onnxruntime": 7}
# Parity of the ONNX QDQ file in ONNX Runtime against the converted PT2E model (see pt2e.py).
ONNX_INT8_PARITY_RTOL = 0.1


class ModeSyncedGraph(nn.Module):
    """A PT2E graph module whose BatchNorm/dropout follow this wrapper's ``training`` flag.

    The rewrite (``move_exported_model_to_train/eval``) happens at the first forward after the
    flag changed, however it was changed (``train()``, ``eval()`` or setting ``.training``).

    Example:
        >>> net = ModeSyncedGraph(prepare_qat_pt2e(graph, quantizer))
        >>> fit(net, train, val, config)        # fit's train()/eval() now reach the graph
    """

    def __init__(self, graph: torch.fx.GraphModule) -> None:
        super().__init__()
        self.graph = graph
        self._applied: bool | None = None  # the mode last written into the graph

    def train(self, mode: bool = True) -> ModeSyncedGraph:
        # Never call the graph's own train()/eval(): exported graphs refuse them.
        self.training = mode
        self.graph.training = mode
        return self

    def forward(self, x: Tensor) -> Tensor:
        if self._applied is not self.training:
            sync_graph_mode(self.graph, self.training)
            self._applied = self.training
        logits: Tensor = self.graph(x)
        return logits


def sync_graph_mode(graph: torch.fx.GraphModule, training: bool) -> None:
    """Rewrite a PT2E graph's BatchNorm/dropout ops for training or for evaluation."""
    from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train

    # The rewrite traces small patterns, which inference mode (evaluate()) would forbid.
    with torch.inference_mode(False), no_warnings():
        (move_exported_model_to_train if training else move_exported_model_to_eval)(graph)


def qat(
    model: nn.Module,
    train: Dataset[Any],
    val: Dataset[Any] | None,
    config: TrainConfig,
    *,
    backend: str = "executorch",
    path: str | os.PathLike[str],
    eval_data: Dataset[Any] | None = None,
    calibration_data: Tensor | Dataset[Any] | None = None,
    per_channel: bool = True,
) -> QuantizationResult:
    """Fine-tune ``model`` with fake quantization, convert it to int8 and write the artifact.

    Args:
        model: The trained fp32 model (not modified; a copy is trained).
        train, val: Data for :func:`edgeopt.train.fit` (``val`` may be None).
        config: Training hyper-parameters (a short, low-lr fine-tune; ``max_steps`` caps it).
        backend: ``"executorch"`` (a ``.pte``) or ``"onnxruntime"`` (a QDQ ``.onnx``).
        path: The artifact to write (atomically, after its parity check).
        eval_data: Labelled data: int8 accuracy is measured on the artifact in its runtime,
            float accuracy on the fp32 ``model``.
        calibration_data: Optional real inputs run through the fake-quant model before training,
            so the first steps start from calibrated activation ranges (else the first training
            batch sets them).
        per_channel: Per-output-channel weight scales.

    Returns:
        A :class:`QuantizationResult` (method ``"qat"``); ``metadata["train"]`` holds the history.

    Raises:
        EdgeoptError: an unknown backend, bad data or model, or an artifact that does not match
            the converted model.

    Example:
        >>> r = qat(model, splits.train, splits.val, TrainConfig(epochs=1, lr=1e-4), path="m.qat.pte")
        >>> r.artifact.precision
        'int8'
    """
    if backend not in QAT_BACKENDS:
        raise EdgeoptError(f"unknown QAT backend {backend!r}",
                           hint=suggest(backend, QAT_BACKENDS) or f"use one of {QAT_BACKENDS}")
    _check_model(model)
    example = _first_input(train)
    prepared = prepare_qat(model, example, per_channel=per_channel, weight_bits=WEIGHT_BITS[backend])
    trainee = ModeSyncedGraph(prepared)
    if calibration_data is not None:
        trainee.eval()
        calibrate(trainee, calibration_batches(calibration_data))
    history = fit(trainee, train, val, config)
    converted = convert_qat(prepared)
    config_info = {"scheme": "XNNPACKQuantizer symmetric (QAT)", "per_channel": per_channel,
                   "weight_bits": WEIGHT_BITS[backend], "bn_folding": "pt2e (QAT conv-bn pattern)"}
    if backend == "executorch":
        artifact = write_int8_program(converted, example, path, model_name=type(model).__name__,
                                      parity_data=_real_inputs(train), metadata=config_info, float_model=model)
    else:
        artifact = _write_onnx_qdq(converted, example, path, config_info)
    return QuantizationResult(
        artifact=artifact,
        backend=backend,
        method="qat",
        calibration="qat (moving-average min/max)",
        float_accuracy=float_accuracy(model, eval_data),
        int8_accuracy=artifact_accuracy(artifact, eval_data),
        metadata={**config_info, "train": history.to_dict()},
    )


def prepare_qat(
    model: nn.Module, example_input: Tensor, *, per_channel: bool = True, weight_bits: int = 8
) -> torch.fx.GraphModule:
    """A fake-quantized copy of ``model`` (PT2E ``prepare_qat_pt2e``), ready for training."""
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    copied = copy.deepcopy(model).train()
    graph = capture_for_quantization(copied, example_input)
    with no_warnings():
        prepared: torch.fx.GraphModule = prepare_qat_pt2e(
            graph, xnnpack_quantizer(per_channel, qat=True, weight_bits=weight_bits)
        )
    return prepared


def convert_qat(prepared: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Convert a trained QAT graph to its int8 form (BN folded); eval-only, like PTQ's output."""
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    sync_graph_mode(prepared, training=False)
    with no_warnings():
        converted = convert_pt2e(prepared)
    with_modes: torch.fx.GraphModule = allow_exported_model_train_eval(converted)
    return with_modes


def _write_onnx_qdq(
    converted: torch.fx.GraphModule, example: Tensor, path: str | os.PathLike[str], info: dict[str, Any]
) -> Artifact:
    """Export the converted model to a QDQ ONNX file, parity-checked in ONNX Runtime."""
    from edgeopt.export.onnx_export import export_onnx

    artifact = export_onnx(converted, example, path, rtol=ONNX_INT8_PARITY_RTOL, atol=1e-3)
    metadata = {**artifact.metadata, "quantization": info, "format_detail": "QDQ from PT2E via torch.onnx"}
    return artifact.model_copy(update={"precision": "int8", "metadata": metadata})


def _real_inputs(data: Dataset[Any], n: int = 64) -> Tensor:
    count = min(n, len(data))  # type: ignore[arg-type]  # Dataset declares no __len__; map-style ones have it
    return torch.stack([_first_input(torch.utils.data.Subset(data, [i]))[0] for i in range(count)])


def _first_input(data: Dataset[Any]) -> Tensor:
    if len(data) == 0:  # type: ignore[arg-type]  # Dataset declares no __len__; map-style ones have it
        raise EdgeoptError("the training data is empty", hint="QAT fine-tunes on real labelled data")
    item = data[0]
    sample: Tensor = item[0] if isinstance(item, (list, tuple)) else item
    return sample.unsqueeze(0).float()
