"""Small models, one per channel-dependency pattern, for the structured pruning tests.

Every model takes a width ``w``: pruning the width-``w`` model by ratio 0.5 must give exactly
the parameter and MAC counts of the same model built at width ``w // 2`` (the independent
expectation the tests compare against).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def cbr(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class Residual(nn.Module):
    """Stem, two residual blocks (adds tie the stem's and both blocks' output channels), head."""

    def __init__(self, w: int = 16) -> None:
        super().__init__()
        self.stem = cbr(3, w)
        self.block1 = nn.Sequential(cbr(w, w), nn.Conv2d(w, w, 3, 1, 1), nn.BatchNorm2d(w))
        self.block2 = nn.Sequential(cbr(w, w), nn.Conv2d(w, w, 3, 1, 1), nn.BatchNorm2d(w))
        self.head = nn.Linear(w, 10)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(x + self.block1(x))
        x = x + self.block2(x)
        return self.head(x.mean((2, 3)))


class Depthwise(nn.Module):
    """Conv, depthwise conv (follows its producer), pointwise conv, a depthwise ×2 multiplier."""

    def __init__(self, w: int = 16) -> None:
        super().__init__()
        self.stem = cbr(3, w)
        self.dw = cbr(w, w, groups=w)
        self.pw = cbr(w, 2 * w, k=1)
        self.dw2 = nn.Conv2d(2 * w, 4 * w, 3, 1, 1, groups=2 * w)  # depth multiplier 2
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4 * w, 10)

    def forward(self, x):
        return self.head(torch.flatten(self.pool(self.dw2(self.pw(self.dw(self.stem(x))))), 1))


class Concat(nn.Module):
    """Two branches concatenated along channels, then a 1×1 conv and a head."""

    def __init__(self, w: int = 16) -> None:
        super().__init__()
        self.a = cbr(3, w)
        self.b = cbr(3, 2 * w)
        self.mix = cbr(3 * w, w, k=1)
        self.head = nn.Linear(w, 10)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        return self.head(F.adaptive_avg_pool2d(self.mix(y), 1).flatten(1))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(b, -1, h, w)


class Shuffle(nn.Module):
    """ShuffleNet unit: grouped 1×1 conv, channel shuffle, depthwise, grouped 1×1 conv."""

    def __init__(self, w: int = 16, groups: int = 2) -> None:
        super().__init__()
        self.groups = groups
        self.stem = cbr(3, w)
        self.g1 = cbr(w, 2 * w, k=1, groups=groups)
        self.dw = nn.Sequential(nn.Conv2d(2 * w, 2 * w, 3, 1, 1, groups=2 * w, bias=False), nn.BatchNorm2d(2 * w))
        self.g2 = cbr(2 * w, w, k=1, groups=groups)
        self.head = nn.Linear(w, 10)

    def forward(self, x):
        x = self.stem(x)
        y = self.g2(self.dw(channel_shuffle(self.g1(x), self.groups)))
        return self.head((x + y).mean((2, 3)))


class SqueezeExcite(nn.Module):
    """SE with 1×1 convs (pool → conv → relu → conv → sigmoid → mul) and one with Linears."""

    def __init__(self, w: int = 16) -> None:
        super().__init__()
        self.stem = cbr(3, w)
        self.se_reduce = nn.Conv2d(w, w // 2, 1)
        self.se_expand = nn.Conv2d(w // 2, w, 1)
        self.conv = cbr(w, 2 * w)
        self.fc1 = nn.Linear(2 * w, w // 2)
        self.fc2 = nn.Linear(w // 2, 2 * w)
        self.head = nn.Linear(2 * w, 10)

    def forward(self, x):
        x = self.stem(x)
        s = torch.sigmoid(self.se_expand(F.relu(self.se_reduce(F.adaptive_avg_pool2d(x, 1)))))
        x = self.conv(x * s)
        b, c, _, _ = x.shape
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3)))))).view(b, c, 1, 1)
        return self.head((x * s).mean((2, 3)))


class Grouped(nn.Module):
    """A 4-group 3×3 conv between plain convs."""

    def __init__(self, w: int = 16) -> None:
        super().__init__()
        self.stem = cbr(3, 2 * w)
        self.grouped = cbr(2 * w, 2 * w, groups=4)
        self.out = cbr(2 * w, w, k=1)
        self.head = nn.Linear(w, 10)

    def forward(self, x):
        return self.head(self.out(self.grouped(self.stem(x))).mean((2, 3)))


class DictOut(nn.Module):
    """Dict output: logits plus the backbone's feature map (which must keep its channels)."""

    def __init__(self, w: int = 16) -> None:
        super().__init__()
        self.body = cbr(3, w)
        self.neck = cbr(w, 2 * w)
        self.features = nn.Conv2d(2 * w, 8, 1)
        self.head = nn.Linear(2 * w, 10)

    def forward(self, x):
        y = self.neck(self.body(x))
        return {"logits": self.head(y.mean((2, 3))), "features": self.features(y)}


class FlattenHead(nn.Module):
    """Feature map flattened straight into a Linear (each channel owns H×W features)."""

    def __init__(self, w: int = 16) -> None:
        super().__init__()
        self.conv1 = cbr(3, w, stride=2)
        self.conv2 = cbr(w, w, stride=2)
        self.fc = nn.Linear(w * 4 * 4, 10)

    def forward(self, x):
        return self.fc(self.conv2(self.conv1(x)).view(x.size(0), -1))


ZOO = {
    "residual": Residual,
    "depthwise": Depthwise,
    "concat": Concat,
    "shuffle": Shuffle,
    "squeeze_excite": SqueezeExcite,
    "grouped": Grouped,
    "dict_out": DictOut,
    "flatten_head": FlattenHead,
}
INPUT = (2, 3, 16, 16)


def calibrated(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give BatchNorms non-trivial statistics and affine values, so outputs are far from zero."""
    generator = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features, generator=generator) + 0.5
            m.bias.data = torch.randn(m.num_features, generator=generator) * 0.1
    model.train()
    with torch.no_grad():
        model(torch.randn(8, *INPUT[1:], generator=generator))
    return model.eval()


def outputs(value) -> list[torch.Tensor]:
    """The output tensors of a model (dicts by key)."""
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return [value]
