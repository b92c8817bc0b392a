"""Channel importance: each criterion's score computed independently on a small model."""

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from edgeopt.errors import EdgeoptError
from edgeopt.prune import IMPORTANCE_CRITERIA, channel_importance
from edgeopt.prune.graph import analyse

torch.set_num_threads(1)


class Chain(nn.Module):
    """conv1 → bn → relu → conv2 → pool → fc: conv1's 4 channels are the only prunable group."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 3, 1, bias=False)
        self.fc = nn.Linear(3, 5)

    def forward(self, x):
        y = self.conv2(torch.relu(self.bn(self.conv1(x))))
        return self.fc(y.mean((2, 3)))


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = Chain().eval()
    model.bn.weight.data = torch.tensor([0.5, -2.0, 1.0, 0.1])
    graph = analyse(model, torch.randn(1, 2, 8, 8))
    group = next(g for g in graph.groups if "conv1" in g.producers)
    return model, graph, group


def by_channel(scores, graph):
    return [scores[u] for u in graph.layers["conv1"].out_slots]


def test_l1_and_l2_sum_the_output_filter_and_the_consumer_column(setup):
    model, graph, _ = setup
    w1, w2 = model.conv1.weight.detach(), model.conv2.weight.detach()
    l1 = w1.abs().sum((1, 2, 3)) + w2.abs().sum((0, 2, 3))
    l2 = w1.pow(2).sum((1, 2, 3)).sqrt() + w2.pow(2).sum((0, 2, 3)).sqrt()
    assert by_channel(channel_importance(model, graph, "l1"), graph) == pytest.approx(l1.tolist())
    assert by_channel(channel_importance(model, graph, "l2"), graph) == pytest.approx(l2.tolist())


def test_bn_scale_is_abs_gamma(setup):
    model, graph, _ = setup
    assert by_channel(channel_importance(model, graph, "bn_scale"), graph) == pytest.approx([0.5, 2.0, 1.0, 0.1])


def test_taylor_is_abs_weight_times_gradient(setup):
    model, graph, _ = setup
    x, y = torch.randn(16, 2, 8, 8), torch.randint(0, 5, (16,))
    scores = channel_importance(model, graph, "taylor", data=TensorDataset(x, y))
    reference = Chain()
    reference.load_state_dict(model.state_dict())
    reference.eval()
    torch.nn.functional.cross_entropy(reference(x), y).backward()
    w1, w2 = reference.conv1.weight, reference.conv2.weight
    expected = (w1 * w1.grad).sum((1, 2, 3)).abs() + (w2 * w2.grad).sum((0, 2, 3)).abs()
    assert by_channel(scores, graph) == pytest.approx(expected.tolist(), rel=1e-4)
    assert model.conv1.weight.grad is None  # the user's model got no gradients


def test_unknown_criterion_and_missing_data(setup):
    model, graph, _ = setup
    assert IMPORTANCE_CRITERIA == ("l1", "l2", "bn_scale", "taylor")
    with pytest.raises(EdgeoptError, match="unknown importance"):
        channel_importance(model, graph, "bn")
    with pytest.raises(EdgeoptError, match="needs data"):
        channel_importance(model, graph, "taylor")
