"""One trial: sample an architecture, count its memory, estimate its accuracy, time it.

The evaluator is the Optuna objective every process runs (the first one and every worker): it
holds the data, the supernet (or, for ``accuracy: proxy``, trains each candidate briefly) and the
latency meter, and writes what it found into the trial's user attributes, so the front, the
report and a resumed run read everything back from the study alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from edgeopt.search.candidates import Candidate, Proposer
from edgeopt.search.config import SearchConfig
from edgeopt.search.objectives import ArchCost, LatencyMeter, Limits, arch_cost

if TYPE_CHECKING:
    import optuna

    from edgeopt.data import DatasetSplits


def splits_at(splits: DatasetSplits, resolution: int) -> DatasetSplits:
    """``splits`` with every image resized to ``resolution`` × ``resolution`` (bilinear)."""
    if tuple(splits.image_size) == (resolution, resolution):
        return splits

    def resized(part: TensorDataset) -> TensorDataset:
        images, labels = part.tensors
        if len(images) == 0:
            return TensorDataset(images.new_zeros((0, images.shape[1], resolution, resolution)), labels)
        return TensorDataset(F.interpolate(images, size=(resolution, resolution), mode="bilinear",
                                           align_corners=False), labels)

    return dataclasses.replace(splits, train=resized(splits.train), val=resized(splits.val), test=resized(splits.test),
                               image_size=(resolution, resolution))


@dataclasses.dataclass
class Evaluation:
    """What one candidate scored."""

    candidate: Candidate
    accuracy: float
    latency: float
    cost: ArchCost
    constraints: list[float]

    def objective(self, name: str) -> float:
        """The value of objective ``name`` (accuracy %, latency, int8 peak SRAM bytes)."""
        return {"accuracy": self.accuracy, "latency": self.latency, "memory": float(self.cost.peak_sram_int8)}[name]


class TrialEvaluator:
    """The objective of the study (see the module docstring).

    Args:
        config: The search's options.
        proposer: The space's candidates (a data space, with or without a supernet, or code).
        splits: The data, at its own resolution.
        on_trial: Called with each finished evaluation (progress lines).
    """

    def __init__(self, config: SearchConfig, proposer: Proposer, splits: DatasetSplits,
                 on_trial: Callable[[int, Evaluation], None] | None = None) -> None:
        self.config = config
        self.proposer = proposer
        self.splits = splits
        self.limits = Limits.of(config)
        self.on_trial = on_trial
        self._at: dict[int, DatasetSplits] = {}
        calibration = None
        if config.precision == "int8":
            from edgeopt.data.sampling import calibration_subset

            calibration = calibration_subset(splits.train, 64, seed=config.seed).tensors[0]
        self.meter = LatencyMeter(config, calibration)

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        candidate = self.proposer.propose(trial, self.splits.image_size[0])
        for name, value in {**candidate.attrs(), "key": candidate.key}.items():
            trial.set_user_attr(name, value)
        earlier = self._earlier(trial, candidate.key)
        if earlier is not None:  # the same network (blocks beyond the depth differ): no second measurement
            for name, value in earlier.user_attrs.items():
                trial.set_user_attr(name, value)
            for name, value in zip(self.limits.names(), earlier.user_attrs.get("constraints", []), strict=False):
                trial.set_constraint(name, value)
            trial.set_user_attr("duplicate_of", earlier.number)
            return tuple(earlier.values)
        found = self.evaluate(candidate)
        trial.set_user_attr("accuracy", found.accuracy)
        trial.set_user_attr("latency", found.latency)
        trial.set_user_attr("latency_unit", self.meter.unit)
        trial.set_user_attr("cost", found.cost.to_dict())
        trial.set_user_attr("constraints", found.constraints)
        for name, value in zip(self.limits.names(), found.constraints, strict=True):
            trial.set_constraint(name, value)
        if self.on_trial is not None:
            self.on_trial(trial.number, found)
        return tuple(found.objective(name) for name in self.config.objectives)

    def evaluate(self, candidate: Candidate) -> Evaluation:
        """Accuracy (%), latency and counted costs of ``candidate``."""
        data = self.data_at(candidate.resolution)
        model = self.model_of(candidate, data)
        input_size = data.input_shape(1)
        cost = arch_cost(model, input_size)
        accuracy = self.accuracy(model, candidate, data)
        latency = self.meter.latency(model, candidate.arch, input_size, cost)
        if not math.isfinite(latency) or not math.isfinite(accuracy):
            raise FloatingPointError(f"{candidate.label}: accuracy {accuracy}, latency {latency}")
        return Evaluation(candidate, accuracy, latency, cost, self.limits.violations(cost, latency))

    def data_at(self, resolution: int) -> DatasetSplits:
        """The data at ``resolution`` (resized once, then kept)."""
        if resolution not in self._at:
            self._at[resolution] = splits_at(self.splits, resolution)
        return self._at[resolution]

    def model_of(self, candidate: Candidate, data: DatasetSplits) -> nn.Module:
        """The candidate: the supernet's subnet with its weights, or a freshly trained network."""
        model = self.proposer.network(candidate)
        if self.config.accuracy == "proxy":
            proxy_train(model, data, self.config.proxy_epochs, self.config.seed)
        return model

    def accuracy(self, model: nn.Module, candidate: Candidate, data: DatasetSplits) -> float:
        """Validation accuracy (%): inherited weights after BatchNorm re-estimation, or the proxy's."""
        supernet = getattr(self.proposer, "supernet", None)
        if supernet is not None and candidate.arch is not None:
            from edgeopt.search.subnet_eval import subnet_accuracy

            return float(subnet_accuracy(supernet, candidate.arch, data,
                                         calibration_samples=self.config.calibration_samples))
        from edgeopt.train.evaluation import evaluate

        return 100.0 * float(evaluate(model, data.val).accuracy)

    def _earlier(self, trial: optuna.Trial, key: str) -> optuna.trial.FrozenTrial | None:
        import optuna

        for done in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if done.user_attrs.get("key") == key and done.values is not None:
                return done
        return None


def proxy_train(model: nn.Module, data: DatasetSplits, epochs: int, seed: int) -> nn.Module:
    """Train a candidate briefly on its own (``accuracy: proxy``), in place; returns it in eval mode."""
    from edgeopt.train.config import TrainConfig
    from edgeopt.train.loop import fit

    torch.manual_seed(seed)
    fit(model, data.train, data.val, TrainConfig(epochs=epochs, seed=seed, progress=False))
    return model.eval()


def evaluation_of(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """A finished trial as plain data (front tables, JSON, the report)."""
    attrs = trial.user_attrs
    return {"number": trial.number, "arch": attrs.get("arch"), "params": attrs.get("params"),
            "label": attrs.get("label", ""), "resolution": attrs.get("resolution"), "key": attrs.get("key"),
            "accuracy": attrs.get("accuracy"), "latency": attrs.get("latency"),
            "latency_unit": attrs.get("latency_unit", "ms"), "cost": attrs.get("cost", {}),
            "constraints": attrs.get("constraints", []),
            "feasible": all(v <= 0 for v in attrs.get("constraints", []))}
