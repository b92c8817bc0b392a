"""MobileNetV1 (Howard et al., 2017) and its "Conv MobileNet" twin.

The width multiplier α thins every layer; the resolution multiplier ρ is simply the input size
(the network is fully convolutional up to a global average pool). ``ConvMobileNet`` replaces each
depthwise separable block with a full 3×3 convolution, the comparison of the paper's Table 4.
"""

from __future__ import annotations

from torch import Tensor, nn

from edgeopt.models.blocks import ConvBNReLU, DepthwiseSeparableConv, init_weights

# (output channels, stride) of the 13 depthwise separable blocks, paper Table 1.
MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)


def _scaled(channels: int, width_mult: float) -> int:
    # The paper thins a layer of M channels to αM; at the published α values these are integers.
    return max(1, round(channels * width_mult))


class MobileNetV1(nn.Module):
    """MobileNetV1 with width multiplier α, at any input resolution.

    Args:
        num_classes: Size of the classifier output.
        width_mult: The width multiplier α (1.0, 0.75, 0.5, 0.25 in the paper).
        in_chans: Input image channels (3 for RGB, 1 for MNIST-like data).
        stem_stride: Stride of the first conv. The paper uses 2 for 224×224 ImageNet; 1 keeps
            enough resolution for 28×28 inputs such as MNIST.
        dropout: Dropout before the classifier (0 disables it).
        full_conv: Replace every depthwise separable block by a full 3×3 conv ("Conv MobileNet").

    Example:
        >>> model = MobileNetV1(num_classes=10, width_mult=0.25, in_chans=1, stem_stride=1)
        >>> model(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        in_chans: int = 3,
        stem_stride: int = 2,
        dropout: float = 0.0,
        full_conv: bool = False,
    ) -> None:
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        self.width_mult = width_mult
        channels = _scaled(32, width_mult)
        layers: list[nn.Module] = [ConvBNReLU(in_chans, channels, 3, stem_stride)]
        for out, stride in MOBILENET_V1_BLOCKS:
            out = _scaled(out, width_mult)
            if full_conv:
                layers.append(ConvBNReLU(channels, out, 3, stride))
            else:
                layers.append(DepthwiseSeparableConv(channels, out, stride))
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.features(x)).flatten(1)
        logits: Tensor = self.classifier(self.dropout(x))
        return logits


class ConvMobileNet(MobileNetV1):
    """MobileNetV1 with each depthwise separable block replaced by a full 3×3 conv + BN + ReLU.

    Takes the same arguments as :class:`MobileNetV1` (except ``full_conv``).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        in_chans: int = 3,
        stem_stride: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(num_classes, width_mult, in_chans, stem_stride, dropout, full_conv=True)

