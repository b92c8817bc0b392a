"""int8 for ExecuTorch: PT2E quantization with the XNNPACK quantizer, lowered to a ``.pte``.

The flow is PyTorch 2 Export quantization as ExecuTorch documents it for XNNPACK:
``torch.export`` → ``prepare_pt2e(XNNPACKQuantizer)`` → run real calibration data →
``convert_pt2e`` → ``torch.export`` again → ``to_edge_transform_and_lower(XnnpackPartitioner)``.
The quantizer's scheme is what XNNPACK's int8 kernels take: weights symmetric int8 per output
channel, activations asymmetric int8 per tensor, observed with a histogram (the quantizer's
default static observer).

BatchNorm. ``edgeopt.fuse`` folds every BatchNorm into the conv or linear before it first, so
the graph PT2E sees has no BN left. PT2E would fold conv+BN itself (``prepare_pt2e`` fuses the
pair, ``convert_pt2e`` leaves the folded weight), with the same numbers for a conv followed by a
BN; ``edgeopt.fuse`` also folds linear+BN and checks each fold. If fusion is not possible, PT2E's
own folding is used and the metadata says so.

What is measured: the int8 accuracy is the ``.pte``'s own, run in the ExecuTorch runtime; the
float accuracy is the eager fp32 model's on the same data.

Example:
    >>> result = ptq_executorch(model, calibration_subset(splits.train, 512), "out/model.int8.pte",
    ...                         eval_data=splits.test)
    >>> result.int8_accuracy, result.accuracy_drop, result.artifact.size_bytes
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.quantize.result import QuantizationResult
from edgeopt.utils.modes import preserve_modes
from edgeopt.utils.quiet import no_warnings

CALIBRATION_BATCH = 64
MIN_CALIBRATION_SAMPLES = 1
CHECK_SAMPLES = 64  # real inputs the self-check compares on
# The self-check (edgeopt.quantize.selfcheck) compares the .pte with the converted PT2E model it
# was lowered from (its int8 simulation), with a tolerance from the quantization steps:
# RMS(file - simulation) <= sqrt(12) * RMS(simulation - float) + the output's step. A fixed
# rtol of 10 % of the largest logit (the old check) failed a random-weight MobileNetV2 at 23-32 %:
# near-equal logits and 50 requantizations make one-step differences add up, legitimately.


def xnnpack_quantizer(per_channel: bool = True, qat: bool = False, weight_bits: int = 8) -> Any:
    """An ``XNNPACKQuantizer`` with ExecuTorch's symmetric config applied to the whole model.

    Args:
        per_channel: One weight scale per output channel (else one per tensor).
        qat: Fake-quantize modules for training instead of observers.
        weight_bits: 8, or 7 to keep weights in [-63, 63] (see :mod:`edgeopt.quantize.qat_training`).

    Example:
        >>> prepare_pt2e(graph, xnnpack_quantizer(per_channel=True))
    """
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    limit = 2 ** (weight_bits - 1) - 1
    config = get_symmetric_quantization_config(
        is_per_channel=per_channel, is_qat=qat, weight_qmin=-limit, weight_qmax=limit
    )
    return XNNPACKQuantizer().set_global(config)


def capture_for_quantization(model: nn.Module, example_input: Tensor) -> torch.fx.GraphModule:
    """``torch.export`` the model (batch dimension dynamic) and return its graph module.

    The batch is dynamic so calibration and training can use any batch size; a batch-1 example
    is repeated to 2, since export would otherwise specialise the batch to 1.
    """
    from edgeopt.export.executorch_export import executorch_error, standard_layout

    example = example_input if example_input.shape[0] > 1 else example_input.repeat(2, *[1] * (example_input.ndim - 1))
    example = standard_layout(example)

    try:
        return torch.export.export(
            model, (example,), dynamic_shapes=({0: torch.export.Dim.DYNAMIC},)
        ).module()
    except (EdgeoptError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise executorch_error(model, exc) from exc


def quantize_pt2e(
    model: nn.Module,
    calibration_data: Tensor | Dataset[Any],
    example_input: Tensor | None = None,
    *,
    per_channel: bool = True,
) -> torch.fx.GraphModule:
    """Post-training int8 quantization with PT2E and the XNNPACK quantizer; ``model`` is untouched.

    Args:
        model: The fp32 model.
        calibration_data: Real inputs (N x C x H x W tensor, or a dataset of ``(input, label)``).
        example_input: An input batch for export; default: the first calibration sample.
        per_channel: Per-output-channel weight scales (recommended; per-tensor loses accuracy on
            depthwise convs, whose channels differ widely in range).

    Returns:
        The converted graph module: int8 quantize/dequantize ops around float ops (a simulation
        of the int8 program, which ``torch.export`` + XNNPACK lowering turn into int8 kernels).
        Its ``train()``/``eval()`` switch dropout and BatchNorm only (PT2E's exported models).

    Raises:
        EdgeoptError: empty or non-finite calibration data, non-finite weights, a model that
            cannot be exported.

    Example:
        >>> q = quantize_pt2e(model, calib_images, torch.zeros(1, 1, 28, 28))
        >>> q(torch.zeros(1, 1, 28, 28)).shape
        torch.Size([1, 10])
    """
    _check_model(model)
    batches = calibration_batches(calibration_data)
    example = example_input if example_input is not None else batches[0][:1]
    return _quantize(model, batches, example, per_channel)[0]


def _quantize(
    model: nn.Module, batches: list[Tensor], example: Tensor, per_channel: bool
) -> tuple[torch.fx.GraphModule, str]:
    """Fold BN, capture, prepare, calibrate, convert; returns the model and who folded BN."""
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    float_model, folded_by = fold_batchnorm(model, example)
    graph = capture_for_quantization(float_model, example)
    with no_warnings():
        prepared = prepare_pt2e(graph, xnnpack_quantizer(per_channel=per_channel))
        calibrate(prepared, batches)
        converted = convert_pt2e(prepared)
    return allow_exported_model_train_eval(converted), folded_by


def ptq_executorch(
    model: nn.Module,
    calibration_data: Tensor | Dataset[Any],
    path: str | os.PathLike[str],
    *,
    example_input: Tensor | None = None,
    eval_data: Dataset[Any] | None = None,
    per_channel: bool = True,
    check: bool = True,
) -> QuantizationResult:
    """Quantize ``model`` to int8 with PT2E and write an XNNPACK-lowered ``.pte`` at ``path``.

    Args:
        model: The fp32 model (not modified).
        calibration_data: Real inputs for activation ranges (a few hundred samples suffice).
        path: The ``.pte`` to write (atomically, after the parity check).
        example_input: The program's input shape, batch included; default: one calibration
            sample (batch 1, what an edge device runs).
        eval_data: Labelled data (e.g. ``splits.test``): the int8 accuracy is measured on the
            ``.pte`` in the ExecuTorch runtime, the float accuracy on the eager model.
        per_channel: Per-output-channel weight scales.
        check: Check the ``.pte`` against its PT2E simulation, with a tolerance from the
            quantization steps (:mod:`edgeopt.quantize.selfcheck`); a failure raises, naming the
            option to write the file anyway (``check=False``).

    Returns:
        A :class:`QuantizationResult` (backend ``"executorch"``, method ``"ptq"``); its artifact's
        metadata holds the delegation counts and what folded BatchNorm.

    Raises:
        EdgeoptError: bad calibration data or model (see :func:`quantize_pt2e`), an operator
            ExecuTorch cannot run, or a program that does not match its PT2E reference.

    Example:
        >>> r = ptq_executorch(model, calib, "m.int8.pte", eval_data=splits.test)
        >>> r.artifact.precision, r.accuracy_drop
        ('int8', 0.0)
    """
    _check_model(model)
    batches = calibration_batches(calibration_data)
    example = example_input if example_input is not None else batches[0][:1]
    quantized, folded_by = _quantize(model, batches, example, per_channel)
    config = {"scheme": "XNNPACKQuantizer symmetric", "per_channel": per_channel,
              "activation_observer": "HistogramObserver", "bn_folding": folded_by}
    artifact = write_int8_program(quantized, example, path, model_name=type(model).__name__,
                                  parity_data=batches[0], metadata=config, check=check, float_model=model)
    return QuantizationResult(
        artifact=artifact,
        backend="executorch",
        method="ptq",
        calibration="histogram",
        float_accuracy=float_accuracy(model, eval_data),
        int8_accuracy=artifact_accuracy(artifact, eval_data),
        metadata={**config, "calibration_samples": sum(len(b) for b in batches)},
    )


def write_int8_program(
    quantized: torch.fx.GraphModule,
    example: Tensor,
    path: str | os.PathLike[str],
    *,
    model_name: str = "model",
    parity_data: Tensor | None = None,
    metadata: dict[str, Any] | None = None,
    check: bool = True,
    float_model: nn.Module | None = None,
) -> Artifact:
    """Export a converted PT2E model, lower it to XNNPACK and write it after its self-check.

    The program is written to a temporary file in the target's folder, run in the ExecuTorch
    runtime against ``quantized`` (its simulation) and ``float_model`` on ``parity_data``
    (:func:`edgeopt.quantize.selfcheck.pte_self_check`), and renamed onto ``path`` only when it
    passes (or ``check`` is off): a failing program never appears at ``path``.

    Raises:
        EdgeoptError: an operator ExecuTorch cannot lower, or a program off its simulation by more
            than its quantization steps allow (the message names the first diverging layer).
    """
    from edgeopt.export.executorch_export import capture, lower_to_executorch, write_program

    with no_warnings():
        program = capture(quantized, example)
    lowered = lower_to_executorch(program, quantized)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    info = {"quantization": metadata or {}, "model": model_name}
    with tempfile.TemporaryDirectory(prefix=".edgeopt-pte-", dir=target.parent) as tmp:
        staged = write_program(lowered, Path(tmp) / target.name, example, "int8", metadata=info)
        inputs = parity_data[:CHECK_SAMPLES] if parity_data is not None and len(parity_data) else example
        report, parity = _self_check(quantized, float_model, Path(staged.path), inputs, example)
        if check and not report["passed"]:
            layer = _first_diverging_layer(quantized, float_model, Path(staged.path), inputs, example)
            report["first_diverging"] = layer
            where = f"; first diverging layer: {layer}" if layer else ""
            raise EdgeoptError(
                f"the ExecuTorch program does not compute its own quantized model (its PT2E simulation): output "
                f"off by RMS {report['deviation_rms']:.3g}, more than the {report['tolerance_rms']:.3g} its "
                f"quantization steps allow{where}",
                hint="report the model to edgeopt; to write the program anyway pass check=False (recipe: check: false)",
            )
        os.replace(staged.path, target)
    return Artifact.from_file(target, "executorch", "int8", staged.input_shape, parity=parity,
                              metadata={**staged.metadata, "self_check": report})


def _self_check(quantized: torch.fx.GraphModule, float_model: nn.Module | None, pte: Path, inputs: Tensor,
                example: Tensor) -> tuple[dict[str, Any], Any]:
    """The step-derived comparison of the program with its simulation, and a parity record of it."""
    from edgeopt.export.parity import compare_outputs
    from edgeopt.quantize.selfcheck import pte_self_check
    from edgeopt.runtime.executorch_runner import ExecuTorchRunner

    batch = inputs.detach().float()
    with torch.no_grad():
        simulation = quantized(batch).detach().numpy().astype("float64")
    reference = _float_outputs(float_model, batch) if float_model is not None else simulation
    runner = ExecuTorchRunner(pte, threads=1)
    try:
        deployed = runner.run(batch.numpy())
    finally:
        runner.close()
    report = pte_self_check(simulation, reference, deployed, output_step(quantized))
    if float_model is None:
        report["note"] = "no float model given: the simulation's noise could not be measured"
    parity = compare_outputs([simulation], [deployed], rtol=0.0, atol=report["tolerance_rms"])
    parity = parity.model_copy(update={"passed": report["passed"], "rule": report["rule"],
                                       "reference": report["reference"]})
    del example
    return report, parity


def _float_outputs(model: nn.Module, batch: Tensor) -> Any:
    """The eager float model's outputs on ``batch`` (modes restored)."""
    with preserve_modes(model), torch.inference_mode():
        model.eval()
        return model(batch).detach().numpy().astype("float64")


def output_step(quantized: torch.fx.GraphModule) -> float:
    """The quantization step of the graph's output (0.0 when the output is not quantized)."""
    output = next(node for node in quantized.graph.nodes if node.op == "output")
    node = output.args[0]
    while isinstance(node, (tuple, list)):
        node = node[0]
    seen = 0
    while isinstance(node, torch.fx.Node) and seen < 8:
        target = str(node.target)
        if "dequantize_per_tensor" in target and len(node.args) > 1 and isinstance(node.args[1], float):
            return float(node.args[1])
        if not node.args:
            break
        node = node.args[0]
        seen += 1
    return 0.0


def _first_diverging_layer(quantized: torch.fx.GraphModule, float_model: nn.Module | None, pte: Path,
                           inputs: Tensor, example: Tensor) -> str | None:
    """Which layer's int8 output the program first gets wrong (see :mod:`edgeopt.quantize.pte_debug`)."""
    try:
        from edgeopt.quantize.pte_debug import first_diverging_layer
    except ImportError:
        return None
    return first_diverging_layer(quantized, inputs, example)


def fold_batchnorm(model: nn.Module, example: Tensor) -> tuple[nn.Module, str]:
    """A copy of ``model`` with BatchNorm folded by ``edgeopt.fuse`` (or the copy unfused).

    Returns the model and who folds BatchNorm: ``"edgeopt.fuse"``, or ``"pt2e"`` when fusion
    is unavailable or refused (PT2E then folds conv+BN during quantization).
    """
    copied = copy.deepcopy(model).eval()
    try:
        from edgeopt.fuse import fuse
    except ImportError:
        return copied, "pt2e"
    try:
        with preserve_modes(copied):
            return fuse(copied, example), "edgeopt.fuse"
    except EdgeoptError:
        return copied, "pt2e"


def calibrate(prepared: nn.Module, batches: Sequence[Tensor]) -> None:
    """Run calibration batches through a prepared (observed) model, without gradients."""
    with torch.no_grad():
        for batch in batches:
            prepared(batch)


def calibration_batches(
    data: Tensor | Dataset[Any] | Sequence[Tensor], batch_size: int = CALIBRATION_BATCH
) -> list[Tensor]:
    """Calibration inputs as float batches, checked: not empty, finite, N x C x H x W.

    Accepts a tensor, a ``TensorDataset`` / dataset of ``(input, label)`` pairs, or a list of
    batches (returned as they are, after the checks).

    Raises:
        EdgeoptError: no samples, NaN/Inf values, or inputs without a batch dimension.

    Example:
        >>> [b.shape[0] for b in calibration_batches(torch.zeros(130, 1, 8, 8))]
        [64, 64, 2]
    """
    if isinstance(data, (list, tuple)) and all(isinstance(b, Tensor) for b in data):
        batches = [b.detach().float() for b in data]
    else:
        images = _images_of(data)
        batches = list(torch.split(images.detach().float(), batch_size)) if len(images) else []
    if not batches or sum(len(b) for b in batches) < MIN_CALIBRATION_SAMPLES:
        raise EdgeoptError("the calibration data is empty",
                           hint="pass real input samples, e.g. calibration_subset(splits.train, 512)")
    for batch in batches:
        if batch.ndim < 2:
            raise EdgeoptError(f"calibration inputs need a batch dimension, got shape {tuple(batch.shape)}")
        if not torch.isfinite(batch).all():
            raise EdgeoptError("the calibration data contains NaN or Inf values",
                               hint="clean or re-normalise the inputs before quantizing")
    return batches


def float_accuracy(model: nn.Module, data: Dataset[Any] | None) -> float | None:
    """Top-1 of the eager float model on ``data`` (None without data)."""
    if data is None:
        return None
    from edgeopt.train import evaluate

    return evaluate(model, data).accuracy


def artifact_accuracy(artifact: Artifact, data: Dataset[Any] | None, threads: int = 2) -> float | None:
    """Top-1 of the artifact's own outputs in its runtime (None without data)."""
    if data is None:
        return None
    from edgeopt.runtime.benchmark import open_runner

    runner = open_runner(artifact, threads)
    try:
        return runner.accuracy(data)
    finally:
        runner.close()


def _check_model(model: Any) -> None:
    if not isinstance(model, nn.Module):
        raise EdgeoptError(f"expected a torch.nn.Module to quantize, got {type(model).__name__}")
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise EdgeoptError(f"the model's {name!r} contains NaN or Inf values",
                               hint="quantize a model whose training converged")


def _images_of(data: Any) -> Tensor:
    if isinstance(data, Tensor):
        return data
    tensors = getattr(data, "tensors", None)  # a TensorDataset, or anything shaped like one
    if tensors:
        images: Tensor = tensors[0]
        return images
    try:
        items = [data[i] for i in range(len(data))]
    except TypeError as exc:
        raise EdgeoptError(f"cannot read calibration samples from {type(data).__name__}",
                           hint="pass a tensor of inputs or a dataset of (input, label) pairs") from exc
    if not items:
        return torch.empty(0)
    return torch.stack([item[0] if isinstance(item, (list, tuple)) else item for item in items])
