"""Parts: the stem, one block and the tail of a space's network, each timed alone as its own file.

A *standalone* latency table (``build_table(..., method="standalone")``) holds one entry per
part configuration: the stem at a width and resolution; every block configuration (kernel,
expansion, SE, activation) at every position of the skeleton; the tail (head conv, pool,
classifier). Each part is written as its own ONNX file with the input shape it has in the network
and timed alone (:mod:`edgeopt.latency.relative`). An architecture's estimate is then the sum of
its parts plus a correction for the per-call cost each standalone file pays once
(``benchmarks/latency_blocks.py`` measured why: parts traced *inside* a probe network were noisy
and did not add up to the network; parts timed alone did, to 2% on held-out architectures).

Keys name everything a part's latency depends on::

    stem:3>16@224|relu
    block:k5/e6/s2/hswish/se:24>40@56
    tail:320>1280>1000@7|hswish

Example:
    >>> [u.key for u in arch_parts(arch, space)][:2]
    ['stem:3>16@224|relu', 'block:k3/e1/s1/relu:16>16@112']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from torch import Tensor, nn

from edgeopt.latency.units import Unit, _out_hw, block_units
from edgeopt.models.space_net import ConvBNAct, MBConv
from edgeopt.models.spaces import Arch, BlockConfig, SearchSpace

PART_KINDS = ("stem", "block", "tail")


class Tail(nn.Module):
    """The network after its last block: head conv, pool, classifier (as ``SpaceNet.forward``)."""

    def __init__(self, cin: int, head: int, classes: int, act: str) -> None:
        super().__init__()
        self.head = ConvBNAct(cin, head, 1, act=act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, classes)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.classifier(self.pool(self.head(x)).flatten(1))
        return out


@dataclass(frozen=True)
class PartSpec:
    """What a part is: enough to build its module and name its key.

    Attributes:
        kind: ``stem``, ``block`` or ``tail``.
        cin, cout: Channels in and out (the tail: head channels out).
        size: Input resolution.
        config: The block's choices (blocks only); stride: its stride.
        act: The stem's or tail's activation.
        classes: The tail's classifier outputs.
    """

    kind: str
    cin: int
    cout: int
    size: int
    config: BlockConfig | None = None
    stride: int = 1
    act: str = ""
    classes: int = 0

    @property
    def key(self) -> str:
        """The table key (see the module docstring)."""
        if self.kind == "stem":
            return f"stem:{self.cin}>{self.cout}@{self.size}|{self.act}"
        if self.kind == "tail":
            return f"tail:{self.cin}>{self.cout}>{self.classes}@{self.size}|{self.act}"
        c = self.config
        assert c is not None
        return f"block:k{c.kernel}/e{c.expansion}/s{self.stride}/{c.act}{'/se' if c.se else ''}:" \
               f"{self.cin}>{self.cout}@{self.size}"

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Batch-1 input shape."""
        return (1, self.cin, self.size, self.size)

    def module(self) -> nn.Module:
        """The part as the network builds it (random weights, eval mode)."""
        if self.kind == "stem":
            return ConvBNAct(self.cin, self.cout, 3, 2, act=self.act).eval()
        if self.kind == "tail":
            return Tail(self.cin, self.cout, self.classes, self.act).eval()
        assert self.config is not None
        return MBConv(self.cin, self.cout, self.stride, self.config).eval()

    def unit(self, name: str) -> Unit:
        """The part as a :class:`Unit` (MACs and bytes of the units it holds: fallback features)."""
        units = self._units()
        return Unit(self.key, name, self.kind, sum(u.macs for u in units), sum(u.bytes for u in units))

    def _units(self) -> list[Unit]:
        if self.kind == "block":
            c = self.config
            assert c is not None
            return block_units("b", self.cin, self.cout, self.stride, self.size, c.kernel, c.expansion, c.se, c.act)
        if self.kind == "stem":
            out = _out_hw(self.size, 3, 2)
            return [Unit("", "", "conv", out * out * self.cout * self.cin * 9,
                         4 * (self.cout * self.cin * 9 + self.cin * self.size ** 2 + self.cout * out * out))]
        macs = self.size ** 2 * self.cin * self.cout + self.cout * self.classes
        nbytes = 4 * (self.cin * self.cout + self.cout * self.classes + self.cin * self.size ** 2
                      + self.cout * self.size ** 2)
        return [Unit("", "", "conv", macs, nbytes)]


def arch_part_specs(arch: Arch, space: SearchSpace) -> list[PartSpec]:
    """The parts of an architecture, in execution order, computed from its choices."""
    channels = space.channels(space.stem_channels, arch.width)
    specs = [PartSpec("stem", space.in_chans, channels, arch.resolution, act=space.stem_act)]
    size = _out_hw(arch.resolution, 3, 2)
    for stage, configs in zip(space.stages, arch.stages, strict=True):
        out = space.channels(stage.channels, arch.width)
        for position, config in enumerate(configs):
            stride = stage.stride if position == 0 else 1
            specs.append(PartSpec("block", channels, out, size, config=config, stride=stride))
            size = _out_hw(size, config.kernel, stride)
            channels = out
    specs.append(PartSpec("tail", channels, space.head(arch.width), size, act=space.head_act,
                          classes=space.num_classes))
    return specs


def arch_parts(arch: Arch, space: SearchSpace) -> list[Unit]:
    """The parts of an architecture as units (keys of a standalone table), without building it."""
    return [spec.unit(f"part{i}") for i, spec in enumerate(arch_part_specs(arch, space))]


def space_part_specs(space: SearchSpace, width: float, resolution: int) -> Iterator[PartSpec]:
    """Every part the space has at this width and resolution (each once)."""
    from edgeopt.latency.packing import final_size, positions

    stem = space.channels(space.stem_channels, width)
    yield PartSpec("stem", space.in_chans, stem, resolution, act=space.stem_act)
    for position in positions(space, width, resolution):
        for kernel in space.stage_kernels(position.stage):
            for expansion in space.stage_expansions(position.stage):
                for se in space.se:
                    for act in space.acts:
                        config = BlockConfig(kernel=kernel, expansion=expansion, se=se, act=act)
                        yield PartSpec("block", position.cin, position.cout, position.size, config=config,
                                       stride=position.stride)
    last = space.channels(space.stages[-1].channels, width)
    yield PartSpec("tail", last, space.head(width), final_size(space, resolution), act=space.head_act,
                   classes=space.num_classes)
