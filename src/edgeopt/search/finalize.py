"""The end of a search: the front's best members fine-tuned, saved, exported, quantized and measured.

Nothing is reported as the search's result before it is measured on its artifact: each finalist
is fine-tuned from its inherited weights, saved as an ordinary ``space_net`` checkpoint (every
command takes it), exported to ONNX, quantized to int8 (ONNX Runtime, static, per-channel) and
both files are timed in one interleaved bench run, with accuracy on the test split. The winner
is the most accurate int8 artifact that meets every bound (latency bounds on the measured figure).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from edgeopt.models.space_net import build_model
from edgeopt.models.spaces import Arch, SearchSpace
from edgeopt.search.config import SearchConfig
from edgeopt.search.objectives import Limits, arch_cost

if TYPE_CHECKING:
    from edgeopt.data import DatasetSplits
    from edgeopt.search.run import SearchOutcome
    from edgeopt.search.supernet import Supernet


def pick_finalists(front: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """``k`` members spread along the front: the most accurate, the fastest, and evenly between.

    Example:
        >>> [f["n"] for f in pick_finalists([{"n": i, "latency": 5 - i} for i in range(5)], 3)]
        [0, 2, 4]
    """
    if k >= len(front):
        return list(front)
    by_latency = sorted(front, key=lambda r: float(r["latency"]), reverse=True)
    if k == 1:
        return [by_latency[0]]
    step = (len(by_latency) - 1) / (k - 1)
    chosen = sorted({round(i * step) for i in range(k)})
    return [by_latency[i] for i in chosen]


def finalize_front(outcome: SearchOutcome, config: SearchConfig, space: SearchSpace, splits: DatasetSplits,
                   supernet: Supernet | None, root: Path, say: Callable[[str], None]) -> None:
    """Fine-tune, save, export, quantize and measure the finalists; set ``outcome.finalists`` and ``winner``."""
    limits = Limits.of(config)
    for row in pick_finalists(outcome.front, config.top_k):
        arch = Arch.model_validate_json(row["arch"])
        say(f"finalist: trial {row['number']} {arch.label()} (fine-tuning {config.finetune_epochs} epochs)")
        outcome.finalists.append(finalize_one(arch, row, config, space, splits, supernet,
                                              root / "finalists" / f"trial-{row['number']}", limits))
    meeting = [f for f in outcome.finalists if f["meets_bounds"]]
    if meeting:
        outcome.winner = max(meeting, key=lambda f: (f["int8"]["accuracy"], -f["int8"]["latency_ms"]))
        say(f"winner: trial {outcome.winner['number']} — int8 accuracy {outcome.winner['int8']['accuracy']:.2f}%, "
            f"{outcome.winner['int8']['latency_ms']:.3f} ms ({outcome.winner['checkpoint']})")


def finalize_one(arch: Arch, row: dict[str, Any], config: SearchConfig, space: SearchSpace, splits: DatasetSplits,
                 supernet: Supernet | None, out: Path, limits: Limits) -> dict[str, Any]:
    """One finalist, measured on its files (the row of ``front.json``'s ``finalists``)."""
    from edgeopt.checkpoint import save_checkpoint
    from edgeopt.search.evaluator import splits_at

    data = splits_at(splits, arch.resolution)
    model = _fine_tuned(arch, config, space, data, supernet)
    out.mkdir(parents=True, exist_ok=True)
    input_size = data.input_shape(1)
    checkpoint = save_checkpoint(out / "model.pt", model, model_name="space_net",
                                 model_kwargs=space_net_kwargs(arch, space), input_size=input_size,
                                 metadata={"search_trial": row["number"]})
    measured = _measure(model, data, out, config)
    cost = arch_cost(model, input_size)
    violations = limits.violations(cost, measured["int8"]["latency_ms"])
    return {"number": row["number"], "arch": row["arch"], "label": arch.label(), "search_accuracy": row["accuracy"],
            "search_latency": row["latency"], "cost": cost.to_dict(), "checkpoint": str(checkpoint),
            "meets_bounds": all(v <= 0 for v in violations), "constraints": violations, **measured}


def space_net_kwargs(arch: Arch, space: SearchSpace) -> dict[str, Any]:
    """The ``space_net`` registry options that rebuild ``arch`` (the whole space travels with it)."""
    return {"arch": arch.to_json(), "space": space.model_dump_json()}


def _fine_tuned(arch: Arch, config: SearchConfig, space: SearchSpace, data: DatasetSplits,
                supernet: Supernet | None) -> nn.Module:
    from edgeopt.train.config import TrainConfig
    from edgeopt.train.loop import fit

    if supernet is not None:
        model = supernet.extract(arch)
    else:
        torch.manual_seed(config.seed)
        model = build_model(arch, space)
    if config.finetune_epochs > 0:
        # Inherited weights are close: a lower rate than training from scratch keeps them.
        lr = 1e-3 if supernet is not None else 3e-3
        fit(model, data.train, data.val, TrainConfig(epochs=config.finetune_epochs, lr=lr, seed=config.seed,
                                                     progress=False))
    return model.eval()


def _measure(model: nn.Module, data: DatasetSplits, out: Path, config: SearchConfig) -> dict[str, Any]:
    from edgeopt.export.onnx_export import export_onnx
    from edgeopt.quantize.api import ptq
    from edgeopt.runtime.benchmark import bench

    example = torch.zeros(data.input_shape(1))
    fp32 = export_onnx(model, example, out / "model.onnx")
    from edgeopt.data.sampling import calibration_subset

    calibration = calibration_subset(data.train, 256, seed=config.seed)
    int8 = ptq(model, calibration, backend="onnxruntime", path=out / "model.int8.onnx",
               example_input=example, check=False).artifact
    measured = bench([fp32, int8], data, threads=config.threads, memory=False)
    return {name: {"path": str(m.artifact), "latency_ms": m.latency_ms_median,
                   "latency_ms_spread": list(m.latency_ms_spread or []),
                   "accuracy": None if m.accuracy is None else 100.0 * m.accuracy,
                   "size_bytes": m.size_bytes}
            for name, m in zip(("fp32", "int8"), measured, strict=True)}
