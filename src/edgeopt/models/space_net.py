"""The modules a space's architectures are built from, and :func:`build_model`.

Every conv is a ``ConvBNAct`` (conv, BatchNorm, activation as one ``nn.Sequential``, the pattern
every exporter folds and every runtime fuses); an inverted-residual block is expand (1×1, unless
the expansion is 1) → depthwise k×k → optional squeeze-and-excitation → project (1×1, linear) →
residual add when the shape allows. :mod:`edgeopt.latency.units` computes the latency-table keys
of these modules without building them; ``tests/latency`` checks both agree.

Example:
    >>> model = build_model(get_space("mobilenet_v2").sample(random.Random(0)))
    >>> model(torch.zeros(1, 3, model.resolution, model.resolution)).shape
    torch.Size([1, 1000])
"""

from __future__ import annotations

from torch import Tensor, nn

from edgeopt.models.blocks import init_weights, make_divisible
from edgeopt.models.spaces import Arch, BlockConfig, SearchSpace, get_space


def activation(name: str) -> nn.Module:
    """``relu`` → ReLU, ``hswish`` → Hardswish."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "hswish":
        return nn.Hardswish(inplace=True)
    raise ValueError(f"unknown activation {name!r}")


class ConvBNAct(nn.Sequential):
    """k×k conv (no bias), BatchNorm, and an activation unless ``act`` is None."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: str | None = "relu") -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                                   nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(activation(act))
        super().__init__(*layers)


def se_channels(hidden: int) -> int:
    """Squeeze width of an SE module on ``hidden`` channels (a quarter, multiple of 8)."""
    return make_divisible(hidden * 0.25)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation as MobileNetV3 has it: pool, 1×1 reduce + ReLU, 1×1 expand,
    hard sigmoid, and the input scaled by it."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        reduced = se_channels(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Hardsigmoid(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        scale: Tensor = self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))
        return x * scale


class MBConv(nn.Module):
    """An inverted-residual block with the choices of :class:`BlockConfig`."""

    def __init__(self, cin: int, cout: int, stride: int, config: BlockConfig) -> None:
        super().__init__()
        hidden = cin * config.expansion
        self.expand = ConvBNAct(cin, hidden, 1, act=config.act) if config.expansion != 1 else None
        self.dw = ConvBNAct(hidden, hidden, config.kernel, stride, groups=hidden, act=config.act)
        self.se = SqueezeExcite(hidden) if config.se else None
        self.project = ConvBNAct(hidden, cout, 1, act=None)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.expand(x) if self.expand is not None else x
        out = self.dw(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return x + out if self.residual else out


class SpaceNet(nn.Module):
    """A network of a search space: stem, stages of :class:`MBConv`, head, pool, classifier.

    Attributes:
        arch: The architecture it was built from.
        resolution: Its input resolution.
    """

    def __init__(self, arch: Arch, space: SearchSpace) -> None:
        super().__init__()
        self.arch = arch
        self.resolution = arch.resolution
        channels = space.channels(space.stem_channels, arch.width)
        self.stem = ConvBNAct(space.in_chans, channels, 3, 2, act=space.stem_act)
        blocks: list[nn.Module] = []
        for stage, configs in zip(space.stages, arch.stages, strict=True):
            out = space.channels(stage.channels, arch.width)
            for index, config in enumerate(configs):
                blocks.append(MBConv(channels, out, stage.stride if index == 0 else 1, config))
                channels = out
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBNAct(channels, space.head(arch.width), 1, act=space.head_act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(space.head(arch.width), space.num_classes)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.head(self.blocks(self.stem(x)))).flatten(1)
        logits: Tensor = self.classifier(x)
        return logits


def space_net(arch: str = "", space: str = "mobilenet_v2", num_classes: int | None = None,
              in_chans: int | None = None) -> SpaceNet:
    """A network of a search space, by the registry (``edgeopt train space_net -a space=mnist``).

    What architecture search returns is this registry model, so checkpoints record it as an
    ordinary root and every command takes it.

    Args:
        arch: The architecture as JSON (:meth:`Arch.to_json`); empty: the space's largest.
        space: A built-in space's name, or a whole space as JSON (what search records, so a
            checkpoint does not depend on a built-in space staying the same).
        num_classes: Classifier outputs (default: the space's).
        in_chans: Input channels (default: the space's).

    Raises:
        EdgeoptError: the space or the architecture does not parse, or lies outside the space.

    Example:
        >>> space_net(space="mnist", num_classes=10, in_chans=1).resolution
        28
    """
    from edgeopt.models.spaces import parse_arch, parse_space

    searched = parse_space(space)
    overrides = {k: v for k, v in (("num_classes", num_classes), ("in_chans", in_chans)) if v is not None}
    if overrides:
        searched = searched.model_copy(update=overrides)
    chosen = parse_arch(arch, searched) if arch else searched.largest()
    return SpaceNet(chosen, searched)


def build_model(arch: Arch, space: SearchSpace | None = None) -> SpaceNet:
    """The ``nn.Module`` of an architecture (random weights; eval mode is the caller's).

    Raises:
        EdgeoptError: the architecture does not fit the space's skeleton (stage count).
    """
    space = space or get_space(arch.space)
    if len(arch.stages) != len(space.stages):
        from edgeopt.errors import EdgeoptError

        raise EdgeoptError(f"architecture has {len(arch.stages)} stages; space {space.name!r} has "
                           f"{len(space.stages)}", hint="sample architectures from the same space")
    return SpaceNet(arch, space)
