"""The end of a search: the front's best members fine-tuned, saved, exported, quantized and measured.

A data space's finalist starts from its inherited weights and is fine-tuned ``finetune_epochs``;
a code space's is trained from scratch for ``proxy_epochs + finetune_epochs``.

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

from edgeopt.search.candidates import Candidate, Proposer, candidate_of
from edgeopt.search.config import SearchConfig
from edgeopt.search.objectives import Limits, arch_cost

if TYPE_CHECKING:
    from edgeopt.data import DatasetSplits
    from edgeopt.search.run import SearchOutcome


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


def finalize_front(outcome: SearchOutcome, config: SearchConfig, proposer: Proposer, splits: DatasetSplits,
                   root: Path, say: Callable[[str], None]) -> None:
    """Fine-tune, save, export, quantize and measure the finalists; set ``outcome.finalists`` and ``winner``."""
    limits = Limits.of(config)
    for row in pick_finalists(outcome.front, config.top_k):
        candidate = candidate_of(row)
        say(f"finalist: trial {row['number']} {candidate.label} (fine-tuning {config.finetune_epochs} epochs)")
        outcome.finalists.append(finalize_one(candidate, row, config, proposer, splits,
                                              root / "finalists" / f"trial-{row['number']}", limits))
    meeting = [f for f in outcome.finalists if f["meets_bounds"]]
    if meeting:
        outcome.winner = max(meeting, key=lambda f: (f["int8"]["accuracy"], -f["int8"]["latency_ms"]))
        say(f"winner: trial {outcome.winner['number']} — int8 accuracy {outcome.winner['int8']['accuracy']:.2f}%, "
            f"{outcome.winner['int8']['latency_ms']:.3f} ms ({outcome.winner['checkpoint']})")


def finalize_one(candidate: Candidate, row: dict[str, Any], config: SearchConfig, proposer: Proposer,
                 splits: DatasetSplits, out: Path, limits: Limits) -> dict[str, Any]:
    """One finalist, measured on its files (the row of ``front.json``'s ``finalists``)."""
    from edgeopt.checkpoint import save_checkpoint
    from edgeopt.lineage import Lineage
    from edgeopt.search.evaluator import splits_at

    data = splits_at(splits, candidate.resolution)
    model = _fine_tuned(candidate, config, proposer, data)
    out.mkdir(parents=True, exist_ok=True)
    input_size = data.input_shape(1)
    checkpoint = save_checkpoint(out / "model.pt", model, Lineage(root=proposer.root(candidate)),
                                 input_size=input_size, metadata={"search_trial": row["number"]})
    measured = _measure(model, data, out, config)
    cost = arch_cost(model, input_size)
    violations = limits.violations(cost, measured["int8"]["latency_ms"])
    return {"number": row["number"], "arch": row["arch"], "params": row.get("params"), "label": candidate.label,
            "search_accuracy": row["accuracy"], "search_latency": row["latency"], "cost": cost.to_dict(),
            "checkpoint": str(checkpoint), "meets_bounds": all(v <= 0 for v in violations),
            "constraints": violations, **measured}


def measure_baselines(outcome: SearchOutcome, config: SearchConfig, splits: DatasetSplits, root: Path,
                      say: Callable[[str], None]) -> None:
    """Export, quantize and measure each baseline like a finalist; set ``outcome.baselines``.

    Raises:
        EdgeoptError: a baseline that does not open (its own message) or does not take the data.
    """
    from edgeopt.loading import open_model

    for index, source in enumerate(config.baselines):
        say(f"baseline: {source}")
        opened = open_model(source)
        model = opened.model.eval()
        _check_takes(model, splits, source)
        measured = _measure(model, splits, root / "baselines" / f"{index}-{Path(source).stem}", config)
        cost = arch_cost(model, splits.input_shape(1))
        outcome.baselines.append({"source": source, "label": Path(source).stem, "cost": cost.to_dict(),
                                  "meets_bounds": all(v <= 0 for v in Limits.of(config).violations(
                                      cost, measured["int8"]["latency_ms"])), **measured})


def _check_takes(model: nn.Module, splits: DatasetSplits, source: str) -> None:
    """Refuse a baseline that cannot run on the search's data or predicts other classes."""
    from edgeopt.errors import EdgeoptError

    shape = splits.input_shape(1)
    try:
        with torch.no_grad():
            out = model(torch.zeros(shape))
    except RuntimeError as exc:
        raise EdgeoptError(f"baseline {source!r} does not take the search's {tuple(shape[1:])} images: "
                           f"{str(exc).splitlines()[0]}", hint="give models trained on the same data") from None
    splits.check_model_input(splits.in_chans, int(out.shape[-1]))


def _fine_tuned(candidate: Candidate, config: SearchConfig, proposer: Proposer, data: DatasetSplits) -> nn.Module:
    from edgeopt.train.config import TrainConfig
    from edgeopt.train.loop import fit

    inherited = getattr(proposer, "supernet", None) is not None
    torch.manual_seed(config.seed)
    model = proposer.network(candidate)
    epochs = config.finetune_epochs if inherited else config.finetune_epochs + config.proxy_epochs
    if epochs > 0:
        # Inherited weights are close: a lower rate than training from scratch keeps them.
        fit(model, data.train, data.val, TrainConfig(epochs=epochs, lr=1e-3 if inherited else 3e-3,
                                                     seed=config.seed, progress=False))
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
