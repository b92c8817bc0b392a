"""Iterative structured pruning: rounds of prune → fine-tune with the shared loop."""

import pytest
import torch
from torch.utils.data import TensorDataset

from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.prune import iterative_structured
from edgeopt.train import TrainConfig, evaluate

torch.set_num_threads(1)


def test_two_rounds_reach_the_total_ratio_and_fine_tune():
    splits = load_dataset("digits")
    model = create_model("simple_cnn", num_classes=10, in_chans=1)
    config = TrainConfig(epochs=1, max_steps=3, progress=False)
    small, history = iterative_structured(model, 0.75, splits.test.tensors[0][:1], splits.train,
                                          splits.val, config, rounds=2)
    assert [row["round"] for row in history] == [1, 2]
    assert history[0]["ratio"] == pytest.approx(0.5)  # (1 - 0.5)^2 = 1 - 0.75
    assert history[1]["params"] < history[0]["params"]
    assert all(row["val_acc_finetuned"] is not None for row in history)
    before = sum(m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    after = sum(m.out_channels for m in small.modules() if isinstance(m, torch.nn.Conv2d))
    assert after == pytest.approx(before / 4, abs=3)
    assert 0 <= evaluate(small, splits.test).accuracy <= 1


def test_bad_rounds():
    data = TensorDataset(torch.randn(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(EdgeoptError, match="rounds"):
        iterative_structured(create_model("simple_cnn", num_classes=10, in_chans=1), 0.5,
                             torch.randn(1, 1, 8, 8), data, None, TrainConfig(epochs=1), rounds=0)
