"""A weight-sharing supernet of a search space (Once-for-All / BigNAS style).

The supernet holds the weights of the space's largest network; every architecture of the space
is a subnet that uses a slice of them:

* channels: the first ``k`` output (and input) channels of every conv, BatchNorm and the
  classifier, ``k`` being the subnet's count (``space.channels``, ``space.head``, hidden =
  input channels × expansion, SE = ``se_channels(hidden)``);
* kernels: the centre ``k × k`` crop of the largest depthwise kernel (padding ``k // 2``);
* depth: the first ``d`` blocks of each stage;
* activation and SE on/off: chosen per block (activations have no parameters).

:meth:`Supernet.extract` copies a subnet's slices into an ordinary
:class:`~edgeopt.models.space_net.SpaceNet`, which gives the same outputs as the supernet running
that subnet, so what search picks is an ordinary registry model.

Example:
    >>> supernet = Supernet(get_space("mnist"))
    >>> supernet.set_active(get_space("mnist").smallest())
    >>> supernet(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> net = supernet.extract(get_space("mnist").smallest())   # a SpaceNet, in eval mode
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError
from edgeopt.models.blocks import init_weights
from edgeopt.models.space_net import ConvBNAct, MBConv, SpaceNet, SqueezeExcite, se_channels
from edgeopt.models.spaces import Arch, BlockConfig, SearchSpace
from edgeopt.utils.modes import device_of

__all__ = ["Supernet"]


def _act(x: Tensor, name: str) -> Tensor:
    # Functional twins of space_net.activation (not in place: the input may be needed by autograd).
    if name == "relu":
        return F.relu(x)
    if name == "hswish":
        return F.hardswish(x)
    raise ValueError(f"unknown activation {name!r}")


def _buffer(bn: nn.BatchNorm2d, name: str) -> Tensor:
    value = getattr(bn, name)
    assert isinstance(value, Tensor)  # BatchNorm2d built with track_running_stats=True has them
    return value


class _ElasticConvBN(nn.Module):
    """A conv (no bias) + BatchNorm at the largest size, run on its first channels.

    Attributes:
        depthwise: One filter per channel (``groups`` = channels), as the depthwise conv.
        max_kernel: The stored kernel size; smaller kernels are its centre crop.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 1, *, depthwise: bool = False) -> None:
        super().__init__()
        self.depthwise = depthwise
        self.max_kernel = kernel
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=cout if depthwise else 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def weight(self, cout: int, cin: int, kernel: int) -> Tensor:
        """The first ``cout`` × ``cin`` filters, centre-cropped to ``kernel``."""
        weight = self.conv.weight[:cout] if self.depthwise else self.conv.weight[:cout, :cin]
        crop = (self.max_kernel - kernel) // 2
        if crop:
            weight = weight[:, :, crop:crop + kernel, crop:crop + kernel]
        return weight

    def forward(self, x: Tensor, cout: int, kernel: int = 1, stride: int = 1) -> Tensor:
        weight = self.weight(cout, x.shape[1], kernel)
        x = F.conv2d(x, weight, None, stride, kernel // 2, groups=cout if self.depthwise else 1)
        return self._norm(x, cout)

    def _norm(self, x: Tensor, channels: int) -> Tensor:
        bn = self.bn
        factor = 0.0
        if self.training:
            # As nn.BatchNorm2d does: count the batch, and a momentum of None means a running average.
            tracked = _buffer(bn, "num_batches_tracked")
            tracked.add_(1)
            factor = 1.0 / float(tracked) if bn.momentum is None else bn.momentum
        # Basic slices of the buffers are views: batch_norm's in-place update reaches the full buffers.
        return F.batch_norm(x, _buffer(bn, "running_mean")[:channels], _buffer(bn, "running_var")[:channels],
                            bn.weight[:channels], bn.bias[:channels], self.training, factor, bn.eps)

    @torch.no_grad()
    def copy_to(self, target: ConvBNAct, cin: int, cout: int, kernel: int = 1) -> None:
        """Copy the slice for ``cin`` → ``cout`` at ``kernel`` into a same-shaped ``ConvBNAct``."""
        conv, bn = target[0], target[1]
        assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
        conv.weight.copy_(self.weight(cout, cin, kernel))
        bn.weight.copy_(self.bn.weight[:cout])
        bn.bias.copy_(self.bn.bias[:cout])
        for name in ("running_mean", "running_var"):
            _buffer(bn, name).copy_(_buffer(self.bn, name)[:cout])
        _buffer(bn, "num_batches_tracked").copy_(_buffer(self.bn, "num_batches_tracked"))


class _ElasticSE(nn.Module):
    """Squeeze-and-excitation sized for the largest hidden width, run on the first channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, se_channels(channels), 1)
        self.fc2 = nn.Conv2d(se_channels(channels), channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        hidden = x.shape[1]
        reduced = se_channels(hidden)
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.relu(F.conv2d(scale, self.fc1.weight[:reduced, :hidden], _bias(self.fc1)[:reduced]))
        scale = F.conv2d(scale, self.fc2.weight[:hidden, :reduced], _bias(self.fc2)[:hidden])
        return x * F.hardsigmoid(scale)

    @torch.no_grad()
    def copy_to(self, target: SqueezeExcite, hidden: int) -> None:
        """Copy the slice for ``hidden`` channels into a ``SqueezeExcite`` of that width."""
        reduced = se_channels(hidden)
        target.fc1.weight.copy_(self.fc1.weight[:reduced, :hidden])
        _bias(target.fc1).copy_(_bias(self.fc1)[:reduced])
        target.fc2.weight.copy_(self.fc2.weight[:hidden, :reduced])
        _bias(target.fc2).copy_(_bias(self.fc2)[:hidden])


def _block(blocks: nn.Module, position: int) -> _ElasticBlock:
    assert isinstance(blocks, nn.ModuleList)
    block = blocks[position]
    assert isinstance(block, _ElasticBlock)
    return block


def _bias(conv: nn.Conv2d) -> Tensor:
    assert conv.bias is not None  # the SE convs are built with biases
    return conv.bias


class _ElasticBlock(nn.Module):
    """An inverted-residual block at its stage's largest choices (see :class:`MBConv`)."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, se: bool) -> None:
        super().__init__()
        hidden = cin * expansion
        # A stage whose expansions are all 1 has no expand conv in any subnet.
        self.expand = _ElasticConvBN(cin, hidden) if expansion > 1 else None
        self.dw = _ElasticConvBN(hidden, hidden, kernel, depthwise=True)
        self.se = _ElasticSE(hidden) if se else None
        self.project = _ElasticConvBN(hidden, cout)

    def forward(self, x: Tensor, cout: int, stride: int, config: BlockConfig) -> Tensor:
        cin = x.shape[1]
        hidden = cin * config.expansion
        out = x
        if config.expansion != 1:
            out = _act(self._expand()(x, hidden), config.act)
        out = _act(self.dw(out, hidden, config.kernel, stride), config.act)
        if config.se:
            out = self._se()(out)
        out = self.project.forward(out, cout)
        # Exactly when MBConv adds the residual.
        return x + out if stride == 1 and cin == cout else out

    def copy_to(self, target: MBConv, cin: int, cout: int, config: BlockConfig) -> None:
        """Copy this block's slices for ``config`` into ``target`` (built with the same choices)."""
        hidden = cin * config.expansion
        if target.expand is not None:
            self._expand().copy_to(target.expand, cin, hidden)
        self.dw.copy_to(target.dw, hidden, hidden, config.kernel)
        if target.se is not None:
            assert isinstance(target.se, SqueezeExcite)
            self._se().copy_to(target.se, hidden)
        self.project.copy_to(target.project, hidden, cout)

    def _expand(self) -> _ElasticConvBN:
        assert self.expand is not None  # set_active checked the expansion is one of the stage's
        return self.expand

    def _se(self) -> _ElasticSE:
        assert self.se is not None  # set_active checked SE is one of the space's choices
        return self.se


class Supernet(nn.Module):
    """All architectures of ``space`` in one network sharing the largest one's weights.

    ``forward`` runs the active subnet (:meth:`set_active`; the largest at first). The network is
    fully convolutional: the input size is the caller's, whatever the arch's resolution says.

    Attributes:
        space: The search space.
        active: The architecture ``forward`` runs.
    """

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space
        width = max(space.widths)  # make_divisible is monotone: the widest width has the most channels
        channels = space.channels(space.stem_channels, width)
        self.stem = _ElasticConvBN(space.in_chans, channels, 3)
        stages = []
        for index, stage in enumerate(space.stages):
            out = space.channels(stage.channels, width)
            blocks = []
            for position in range(max(stage.depths)):
                blocks.append(_ElasticBlock(channels if position == 0 else out, out,
                                            max(space.stage_expansions(index)), max(space.stage_kernels(index)),
                                            any(space.se)))
            stages.append(nn.ModuleList(blocks))
            channels = out
        self.stages = nn.ModuleList(stages)
        self.head = _ElasticConvBN(channels, space.head(width))
        self.classifier = nn.Linear(space.head(width), space.num_classes)
        init_weights(self)
        self.active = space.largest()

    def set_active(self, arch: Arch) -> None:
        """Make ``forward`` run ``arch``.

        Raises:
            EdgeoptError: ``arch`` lies outside the space (what lies outside is named).
        """
        self._check(arch)
        self.active = arch

    def forward(self, x: Tensor) -> Tensor:
        arch, space = self.active, self.space
        x = _act(self.stem(x, space.channels(space.stem_channels, arch.width), 3, 2), space.stem_act)
        for blocks, stage, configs in zip(self.stages, space.stages, arch.stages, strict=True):
            out = space.channels(stage.channels, arch.width)
            for position, config in enumerate(configs):
                x = _block(blocks, position)(x, out, stage.stride if position == 0 else 1, config)
        x = _act(self.head(x, space.head(arch.width)), space.head_act)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return F.linear(x, self.classifier.weight[:, :x.shape[1]], self.classifier.bias)

    def extract(self, arch: Arch) -> SpaceNet:
        """``arch`` as a standalone :class:`SpaceNet` holding copies of its weights and BN statistics.

        The supernet is not changed (nor its active architecture). The result is in eval mode, on
        the supernet's device, and gives the outputs the supernet gives running ``arch`` in eval mode.

        Raises:
            EdgeoptError: ``arch`` lies outside the space.
        """
        self._check(arch)
        space = self.space
        net = SpaceNet(arch, space).to(device_of(self))
        channels = space.channels(space.stem_channels, arch.width)
        self.stem.copy_to(net.stem, space.in_chans, channels, 3)
        targets = iter(net.blocks)
        for blocks, stage, configs in zip(self.stages, space.stages, arch.stages, strict=True):
            out = space.channels(stage.channels, arch.width)
            for position, config in enumerate(configs):
                target = next(targets)
                assert isinstance(target, MBConv)
                _block(blocks, position).copy_to(target, channels, out, config)
                channels = out
        head = space.head(arch.width)
        self.head.copy_to(net.head, channels, head)
        with torch.no_grad():
            net.classifier.weight.copy_(self.classifier.weight[:, :head])
            net.classifier.bias.copy_(self.classifier.bias)
        return net.eval()

    def _check(self, arch: Arch) -> None:
        outside = self.space.problems(arch)
        if outside:
            raise EdgeoptError(f"architecture lies outside space {self.space.name!r}: {'; '.join(outside[:4])}",
                               hint="sample architectures from the supernet's space")
