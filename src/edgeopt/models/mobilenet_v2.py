"""MobileNetV2 (Sandler et al., 2018): inverted residuals with linear bottlenecks."""

from __future__ import annotations

from torch import Tensor, nn

from edgeopt.models.blocks import ConvBNReLU, init_weights, make_divisible

# (expansion t, output channels c, repeats n, first stride s), paper Table 2.
MOBILENET_V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


class InvertedResidual(nn.Module):
    """Expand with a 1×1 conv, filter with a 3×3 depthwise conv, project back linearly.

    The residual connection is used when the block keeps both stride 1 and the channel count.

    Example:
        >>> InvertedResidual(24, 24, stride=1, expand_ratio=6)(torch.zeros(1, 24, 56, 56)).shape
        torch.Size([1, 24, 56, 56])
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = round(in_ch * expand_ratio)
        self.use_residual = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(in_ch, hidden, 1, relu6=True))
        layers += [
            ConvBNReLU(hidden, hidden, 3, stride, groups=hidden, relu6=True),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),  # linear bottleneck: no activation after the projection
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 with width multiplier and divisible-by-8 channel rounding.

    Args:
        num_classes: Size of the classifier output.
        width_mult: Width multiplier; every layer width is rounded to a multiple of 8. The last
            1×1 conv keeps 1280 channels for multipliers below 1, as in the paper.
        in_chans: Input image channels.
        stem_stride: Stride of the first conv (2 in the paper; 1 suits 28×28 inputs).
        dropout: Dropout before the classifier.

    Example:
        >>> MobileNetV2(num_classes=10, width_mult=0.5, in_chans=1)(torch.zeros(1, 1, 64, 64)).shape
        torch.Size([1, 10])
    """

    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        in_chans: int = 3,
        stem_stride: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        self.width_mult = width_mult
        channels = make_divisible(32 * width_mult)
        last_channels = make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [ConvBNReLU(in_chans, channels, 3, stem_stride, relu6=True)]
        for t, c, n, s in MOBILENET_V2_SETTINGS:
            out = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(channels, out, s if i == 0 else 1, t))
                channels = out
        layers.append(ConvBNReLU(channels, last_channels, 1, relu6=True))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(last_channels, num_classes)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.features(x)).flatten(1)
        logits: Tensor = self.classifier(self.dropout(x))
        return logits
