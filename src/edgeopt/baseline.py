"""Train a baseline model on a dataset and save it: the first step of every optimisation run.

Shared by ``edgeopt train``, ``edgeopt demo`` and (later) the pipeline, so there is one way to
turn a model source and a data source into a trained, evaluated checkpoint.

Example:
    >>> result = train_baseline("simple_cnn", "digits", "runs/cnn", config=TrainConfig(epochs=5))
    >>> result.test_accuracy
    0.97...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from edgeopt.checkpoint import save_checkpoint
from edgeopt.data import DatasetSplits, load_dataset
from edgeopt.models import create_model, list_models, load_model
from edgeopt.models.registry import get_entry
from edgeopt.train import TrainConfig, TrainResult, evaluate, fit, seed_everything
from edgeopt.utils import write_json_atomic


@dataclass
class BaselineResult:
    """A trained baseline: the model, how it was built, its data and its scores."""

    model: nn.Module
    model_name: str
    model_kwargs: dict[str, Any]
    data: DatasetSplits
    train: TrainResult
    test_accuracy: float
    checkpoint: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_size(self) -> tuple[int, int, int, int]:
        """Batch-1 input shape of the data the model was trained on."""
        return (1, self.data.in_chans, *self.data.image_size)


def infer_model_kwargs(model_name: str, data: DatasetSplits, given: dict[str, Any]) -> dict[str, Any]:
    """Fill ``num_classes`` and ``in_chans`` from the data where the registry model takes them."""
    kwargs = dict(given)
    if model_name in list_models():
        accepted = get_entry(model_name).accepted_kwargs()
        if "num_classes" in accepted:
            kwargs.setdefault("num_classes", data.num_classes)
        if "in_chans" in accepted:
            kwargs.setdefault("in_chans", data.in_chans)
    return kwargs


def train_baseline(
    model_source: str,
    data_source: str | DatasetSplits,
    out_dir: str | Path,
    *,
    config: TrainConfig | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> BaselineResult:
    """Build ``model_source``, train it on ``data_source``, evaluate on the test split, save it.

    Writes ``out_dir/model.pt`` (an edgeopt checkpoint) and ``out_dir/train.json``.

    Raises:
        EdgeoptError: unknown model or data, or a model that does not fit the data.
    """
    data = data_source if isinstance(data_source, DatasetSplits) else load_dataset(data_source)
    kwargs = infer_model_kwargs(model_source, data, model_kwargs or {})
    config = config or TrainConfig()
    seed_everything(config.seed)  # the initial weights too, so a run is repeatable
    model = load_model(model_source, **kwargs)
    data.check_model_input(kwargs.get("in_chans", data.in_chans), kwargs.get("num_classes"))
    history = fit(model, data.train, data.val, config)
    test = evaluate(model, data.test)
    out = Path(out_dir)
    input_size = [1, data.in_chans, *data.image_size]
    checkpoint = save_checkpoint(
        out / "model.pt",
        model,
        model_name=model_source,
        model_kwargs=kwargs,
        metadata={"dataset": data.name, "input_size": input_size, "test_accuracy": test.accuracy},
    )
    write_json_atomic(
        out / "train.json",
        {"model": model_source, "model_kwargs": kwargs, "dataset": data.summary(),
         "config": config.model_dump(), "train": history.to_dict(), "test": test.to_dict()},
    )
    return BaselineResult(model, model_source, kwargs, data, history, test.accuracy, checkpoint)
