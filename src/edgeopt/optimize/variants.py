"""The models a run tries and their files, made once and kept in ``RUN_DIR/variants/<key>/``.

A variant is the baseline or a structurally pruned copy fine-tuned (plainly or by distillation
from the unpruned baseline), made with the same transforms every command uses and saved as an
ordinary checkpoint (``model.pt``, its lineage included). Its files are made on first need:
``model.onnx`` (fp32, parity-checked), ``model.int8-<calibration>.onnx`` (ONNX Runtime's static
int8, weights with the target's ``reduce_range``), ``model.pte`` and ``model.int8.pte``
(ExecuTorch, XNNPACK). Every file is written atomically and found again on ``--resume``, so a
killed run redoes at most the file it was writing.

Example:
    >>> variant = make_variant(Choice(0.5, "l1"), context)
    >>> variant.file("fp32", "onnxruntime", context)
    PosixPath('runs/opt/variants/prune50-1a2b3c4d/model.onnx')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from edgeopt.optimize.choices import Choice

if TYPE_CHECKING:
    from edgeopt.checkpoint import Checkpoint
    from edgeopt.data import DatasetSplits
    from edgeopt.devices.target import Target
    from edgeopt.lineage import Lineage
    from edgeopt.optimize.config import OptimizeConfig

VARIANTS_DIR = "variants"
CHECKPOINT = "model.pt"
CALIBRATION_SAMPLES = 256
PARITY_SAMPLES = 32


@dataclass
class RunContext:
    """What every trial of a run shares: options, data, the baseline, the target, the run directory."""

    config: OptimizeConfig
    splits: DatasetSplits
    baseline: Checkpoint
    target: Target
    root: Path
    say: Callable[[str], None] = field(default=lambda _text: None)

    @property
    def example(self) -> torch.Tensor:
        """A batch-1 input of the data's shape (export example)."""
        return torch.zeros(self.splits.input_shape(1))


@dataclass
class Variant:
    """One model of the run and the directory of its files."""

    key: str
    model: nn.Module
    lineage: Lineage | None
    directory: Path

    def file(self, precision: str, runtime: str, context: RunContext, calibration: str | None = None) -> Path:
        """The file ``runtime`` runs at ``precision`` (``fp32`` or ``int8``), made if missing.

        OpenVINO reads the ONNX files (fp32, and the int8 QDQ file: its low-precision
        transformations run the quantized operators in int8), so it needs no file of its own.
        """
        if runtime == "executorch":
            return self._pte(precision, context)
        if precision == "int8":
            return self._int8_onnx(calibration or "minmax", context)
        return self._fp32_onnx(context)

    def _fp32_onnx(self, context: RunContext) -> Path:
        from edgeopt.export.onnx_export import export_onnx

        path = self.directory / "model.onnx"
        if not path.exists():
            export_onnx(self.model, context.example, path, parity_data=_parity_inputs(context))
        return path

    def _int8_onnx(self, calibration: str, context: RunContext) -> Path:
        from edgeopt.quantize.api import ptq

        path = self.directory / f"model.int8-{calibration}.onnx"
        if not path.exists():
            ptq(self.model, calibration_samples(context), backend="onnxruntime", path=path, calibration=calibration,
                example_input=context.example, reduce_range=context.target.reduce_range)
        return path

    def _pte(self, precision: str, context: RunContext) -> Path:
        from edgeopt.export.executorch_export import export_executorch
        from edgeopt.quantize.api import ptq

        path = self.directory / ("model.int8.pte" if precision == "int8" else "model.pte")
        if path.exists():
            return path
        if precision == "int8":
            ptq(self.model, calibration_samples(context), backend="executorch", path=path,
                example_input=context.example)
        else:
            export_executorch(self.model, context.example, path, parity_data=_parity_inputs(context))
        return path


def make_variant(choice: Choice, context: RunContext) -> Variant:
    """The model ``choice`` needs: loaded from the run directory if made before, else made and saved."""
    from edgeopt.checkpoint import load_checkpoint, save_checkpoint

    directory = context.root / VARIANTS_DIR / choice.variant_key
    directory.mkdir(parents=True, exist_ok=True)
    if not choice.pruned:
        return Variant(choice.variant_key, context.baseline.model.eval(), context.baseline.lineage, directory)
    saved = directory / CHECKPOINT
    if saved.exists():
        loaded = load_checkpoint(saved, trust_code=context.config.trust_code)
        return Variant(choice.variant_key, loaded.model.eval(), loaded.lineage, directory)
    plural = "s" if choice.epochs != 1 else ""
    tuning = f"fine-tuning {choice.epochs} epoch{plural}" if choice.epochs else "no fine-tuning"
    context.say(f"  making {choice.model_label}: pruning, then {tuning}")
    model, lineage = _pruned_and_tuned(choice, context)
    save_checkpoint(saved, model, lineage, input_size=context.splits.input_shape(1),
                    metadata={"optimize_variant": choice.to_dict(), "dataset": context.config.data})
    return Variant(choice.variant_key, model.eval(), lineage, directory)


def _pruned_and_tuned(choice: Choice, context: RunContext) -> tuple[nn.Module, Lineage | None]:
    """Prune (BatchNorm re-estimated) then fine-tune, through the one transform entry point."""
    from edgeopt.distill.transform import Distill
    from edgeopt.prune.transforms import StructuredPrune
    from edgeopt.train.config import TrainConfig
    from edgeopt.train.transform import Train
    from edgeopt.transform import Inputs, Transform, apply

    config = context.config
    inputs = Inputs(example=context.example, data=context.splits, resolve=lambda _name: context.baseline.model)
    steps: list[Transform] = [StructuredPrune(ratio=choice.prune_ratio, importance=choice.importance or "l1",
                                              scope="global" if choice.scope == "global" else "uniform",
                                              round_to=choice.round_to)]
    if choice.epochs > 0:
        # Pruned weights are close to good ones: a lower rate than training from scratch keeps them.
        tune = TrainConfig(epochs=choice.epochs, lr=1e-3, seed=config.seed, progress=False)
        steps.append(Distill(teacher="baseline", train=tune) if choice.distill else Train(train=tune))
    torch.manual_seed(config.seed)
    model, lineage = context.baseline.model, context.baseline.lineage
    for step in steps:
        result = apply(step, model, inputs)
        model = result.model if result.model is not None else model
        lineage = lineage.then(step, result) if lineage is not None else None
    return model.eval(), lineage


def calibration_samples(context: RunContext) -> Any:
    """The class-balanced training samples every int8 file of the run is calibrated on."""
    from edgeopt.data.sampling import calibration_subset

    return calibration_subset(context.splits.train, CALIBRATION_SAMPLES, seed=context.config.seed)


def _parity_inputs(context: RunContext) -> torch.Tensor:
    from edgeopt.data.sampling import calibration_subset

    subset = calibration_subset(context.splits.test, PARITY_SAMPLES, seed=context.config.seed)
    return subset.tensors[0]
