"""A small plain CNN: the baseline every optimisation is compared against on tiny data."""

from __future__ import annotations

from torch import Tensor, nn

from edgeopt.models.blocks import ConvBNReLU, init_weights


class SimpleCNN(nn.Module):
    """Three conv-BN-ReLU stages (the last two after 2×2 max pooling), global pool, linear head.

    Works at any input size of at least 4×4 (e.g. 8×8 digits, 28×28 MNIST).

    Args:
        num_classes: Size of the classifier output.
        in_chans: Input image channels.
        width: Channels of the first stage; later stages use 2× and 4×.

    Example:
        >>> SimpleCNN(num_classes=10, in_chans=1)(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 1, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            ConvBNReLU(in_chans, width),
            nn.MaxPool2d(2),
            ConvBNReLU(width, 2 * width),
            nn.MaxPool2d(2),
            ConvBNReLU(2 * width, 4 * width),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * width, num_classes)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        logits: Tensor = self.classifier(self.pool(self.features(x)).flatten(1))
        return logits
