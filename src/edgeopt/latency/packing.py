"""Probe networks: every unit a space needs at one width and resolution, in one exportable model.

Exporting costs seconds per file (ExecuTorch's lowering most), so a table is not measured one
block per file. A probe network holds, for each *position* of the skeleton (a stage's first
block, and its repeated block), the units of every block choice there, sharing what blocks share:

* one expand conv per (expansion, activation), feeding every depthwise conv of that pair;
* one depthwise conv per (expansion, activation, kernel);
* per expansion, one more depthwise conv followed by a full SE module: its pooling makes the
  depthwise unit a block with SE has (the pool's cost, this unit minus its plain twin, is added to
  the other depthwise units of that expansion), and its two 1×1 convs and gate multiply are the SE
  units (they do not depend on the kernel or the activation);
* one project conv per expansion, with the residual add where the position has one.

The convs carry a bias and no BatchNorm: every exporter folds BatchNorm into the conv, so the
deployed kernels are the same and the probe is a third smaller to export.

Each position reads its input from the network input through an *adapter* (1×1 conv, average
pooling to the position's resolution, 1×1 conv to its channels); the stem, the head and the
classifier are there too. All unit outputs are flattened and concatenated after a last *sink*
conv, so every unit stays in the graph and no unit's tail is polluted (see
:mod:`edgeopt.latency.units`: a unit is a MAC row and the rows after it). Adapters and the sink
are measured but never enter the table.

A probe run is then profiled per layer (:func:`edgeopt.runtime.profile_layers`), and each unit's
time is the time of its layer: nn-Meter's idea of measuring kernels in context rather than whole
blocks, with the blocks' shared kernels measured once.

Example:
    >>> probe = ProbeNet(get_space("mobilenet_v2"), width=0.5, resolution=160)
    >>> probe(torch.zeros(1, 3, 160, 160)).shape[0]
    1
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from edgeopt.latency.units import _out_hw
from edgeopt.models.space_net import SqueezeExcite, activation
from edgeopt.models.spaces import SearchSpace

ADAPTER = "adapters"
SINK = "sink"


@dataclass(frozen=True)
class Position:
    """A place in the skeleton where blocks differ only by their choices.

    Attributes:
        stage: Stage index.
        first: The stage's first block (else a repeated block).
        cin: Input channels; cout: output channels; stride: the block's stride.
        size: Input resolution of the block.
    """

    stage: int
    first: bool
    cin: int
    cout: int
    stride: int
    size: int

    @property
    def name(self) -> str:
        """``s3first`` / ``s3rep``."""
        return f"s{self.stage}{'first' if self.first else 'rep'}"


def positions(space: SearchSpace, width: float, resolution: int) -> list[Position]:
    """Every position of the skeleton at this width and resolution."""
    out = []
    size = _out_hw(resolution, 3, 2)
    channels = space.channels(space.stem_channels, width)
    for index, stage in enumerate(space.stages):
        cout = space.channels(stage.channels, width)
        out.append(Position(index, True, channels, cout, stage.stride, size))
        size = _out_hw(size, 3, stage.stride)
        if max(stage.depths) > 1:
            out.append(Position(index, False, cout, cout, 1, size))
        channels = cout
    return out


def final_size(space: SearchSpace, resolution: int) -> int:
    """Resolution at the head."""
    size = _out_hw(resolution, 3, 2)
    for stage in space.stages:
        size = _out_hw(size, 3, stage.stride)
    return size


class Adapter(nn.Sequential):
    """Network input → a position's input shape (measured, never in the table)."""

    def __init__(self, in_chans: int, channels: int, resolution: int, size: int) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_chans, in_chans, 1, bias=False)]
        if size != resolution:
            if resolution % size:
                raise ValueError(f"resolution {resolution} is not a multiple of {size}")
            layers.append(nn.AvgPool2d(resolution // size))
        layers.append(nn.Conv2d(in_chans, channels, 1, bias=False))
        super().__init__(*layers)


class ConvAct(nn.Sequential):
    """A conv with bias and an optional activation: a ConvBNAct after BatchNorm folding, which is
    what every exporter writes (the probes skip the BatchNorm the exporters would fold)."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: str | None = "relu") -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups)]
        if act is not None:
            layers.append(activation(act))
        super().__init__(*layers)


def pool_pair(position: Position, expansion: int, space: SearchSpace) -> tuple[str, str]:
    """Module names of the depthwise conv measured both plain and followed by the SE pool, for one
    expansion: their difference is the pool's cost, added to every other depthwise unit of that
    expansion that a block with SE has (see :func:`edgeopt.latency.build.derived_entries`)."""
    name = f"e{expansion}_{space.acts[0]}_k{space.stage_kernels(position.stage)[0]}"
    return f"dw.{name}", f"dwse.e{expansion}"


class PositionProbe(nn.Module):
    """The units of every block choice at one :class:`Position` (see the module docstring)."""

    def __init__(self, space: SearchSpace, position: Position) -> None:
        super().__init__()
        self.expansions = space.stage_expansions(position.stage)
        self.kernels = space.stage_kernels(position.stage)
        self.acts = space.acts
        self.with_se = True in space.se
        self.residual = position.stride == 1 and position.cin == position.cout
        cin, stride = position.cin, position.stride
        self.expand = nn.ModuleDict()
        self.dw = nn.ModuleDict()
        self.dwse = nn.ModuleDict()
        self.se = nn.ModuleDict()
        self.project = nn.ModuleDict()
        for e in self.expansions:
            hidden = cin * e
            for act in self.acts:
                if e != 1:
                    self.expand[f"e{e}_{act}"] = ConvAct(cin, hidden, 1, act=act)
                for k in self.kernels:
                    self.dw[f"e{e}_{act}_k{k}"] = ConvAct(hidden, hidden, k, stride, groups=hidden, act=act)
            if self.with_se:  # one SE chain per expansion, on the first activation and kernel
                self.dwse[f"e{e}"] = ConvAct(hidden, hidden, self.kernels[0], stride, groups=hidden, act=self.acts[0])
                self.se[f"e{e}"] = SqueezeExcite(hidden)
            self.project[f"e{e}"] = ConvAct(hidden, position.cout, 1, act=None)

    def forward(self, x: Tensor) -> list[Tensor]:
        outs: list[Tensor] = []
        for e in self.expansions:
            feature = x  # the last full-size hidden tensor: what the project conv reads
            expanded: list[Tensor] = []
            for act in self.acts:
                t = self.expand[f"e{e}_{act}"](x) if e != 1 else x
                expanded.append(t)
                for k in self.kernels:
                    feature = self.dw[f"e{e}_{act}_k{k}"](t)
                    outs.append(feature)
            if self.with_se:  # the SE's pool ends the dwse unit
                feature = self.se[f"e{e}"](self.dwse[f"e{e}"](expanded[0]))
                outs.append(feature)
            y = self.project[f"e{e}"](feature)
            outs.append(x + y if self.residual else y)
        return outs


class ProbeNet(nn.Module):
    """All units of a space at one width and resolution (see the module docstring)."""

    def __init__(self, space: SearchSpace, width: float, resolution: int,
                 only: list[Position] | None = None, stem_and_head: bool = True) -> None:
        super().__init__()
        self.resolution = resolution
        self.positions = only if only is not None else positions(space, width, resolution)
        in_chans = space.in_chans
        self.stem = ConvAct(in_chans, space.channels(space.stem_channels, width), 3, 2,
                            act=space.stem_act) if stem_and_head else None
        self.adapters = nn.ModuleList(Adapter(in_chans, p.cin, resolution, p.size) for p in self.positions)
        self.probes = nn.ModuleList(PositionProbe(space, p) for p in self.positions)
        self.stem_and_head = stem_and_head
        if stem_and_head:
            last = space.channels(space.stages[-1].channels, width)
            size = final_size(space, resolution)
            self.head_adapter = Adapter(in_chans, last, resolution, size)
            self.head = ConvAct(last, space.head(width), 1, act=space.head_act)
            self.head_pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(space.head(width), space.num_classes)
        self.sink = nn.Conv2d(in_chans, 1, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        outs: list[Tensor] = []
        if self.stem is not None:
            outs.append(self.stem(x))
        for adapter, probe in zip(self.adapters, self.probes, strict=True):
            outs += probe(adapter(x))
        if self.stem_and_head:
            h = self.head_pool(self.head(self.head_adapter(x))).flatten(1)
            outs.append(self.classifier(h))
        sink = self.sink(x)  # the last MAC: every flatten and the concat below join its unit
        return torch.cat([o.flatten(1) for o in outs] + [sink.flatten(1)], 1)


def is_probe_scaffolding(name: str) -> bool:
    """Whether a unit of a probe network is an adapter or the sink (never in a table)."""
    return name.startswith((ADAPTER + ".", SINK, "head_adapter"))
