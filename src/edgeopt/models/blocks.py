"""Building blocks shared by the MobileNet family."""

from __future__ import annotations

from torch import Tensor, nn


class ConvBNReLU(nn.Sequential):
    """A k×k convolution without bias, then BatchNorm and a ReLU (or ReLU6).

    Kept as a named Sequential so fusion passes and structured pruning see the
    conv → bn → relu pattern directly.

    Example:
        >>> block = ConvBNReLU(3, 32, stride=2)
        >>> block(torch.zeros(1, 3, 224, 224)).shape
        torch.Size([1, 32, 112, 112])
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        relu6: bool = False,
    ) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU6(inplace=True) if relu6 else nn.ReLU(inplace=True),
        )


class DepthwiseSeparableConv(nn.Module):
    """The MobileNet block: a 3×3 depthwise conv then a 1×1 pointwise conv, each with BN + ReLU.

    The depthwise conv filters each input channel on its own (``groups=in_ch``); the pointwise
    conv mixes channels. Against a standard 3×3 conv this costs ``1/out_ch + 1/9`` of the
    multiply-adds (Howard et al. 2017, eq. 5).

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        stride: Stride of the depthwise conv (1 or 2).
        relu6: Use ReLU6 instead of ReLU.

    Example:
        >>> DepthwiseSeparableConv(32, 64, stride=2)(torch.zeros(1, 32, 112, 112)).shape
        torch.Size([1, 64, 56, 56])
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, relu6: bool = False) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.depthwise = ConvBNReLU(in_ch, in_ch, 3, stride, groups=in_ch, relu6=relu6)
        self.pointwise = ConvBNReLU(in_ch, out_ch, 1, 1, relu6=relu6)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.pointwise(self.depthwise(x))
        return out


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never below 90% of it.

    The rule MobileNetV2 uses so every layer width suits vectorised kernels.

    Example:
        >>> make_divisible(32 * 0.35)
        16
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:  # rounding down must not remove more than 10%
        rounded += divisor
    return rounded


def init_weights(model: nn.Module) -> None:
    """Kaiming init for convs, unit BN, small normal for linears: the usual for ReLU nets."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
