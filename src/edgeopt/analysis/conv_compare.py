"""Standard k×k convolution against its depthwise separable replacement (MobileNetV1, §3.1).

A standard conv costs ``N·M·k²·H'·W'`` MACs (M inputs, N outputs); a depthwise k×k conv plus a
1×1 pointwise conv costs ``M·k²·H'·W' + M·N·H'·W'``. Both produce the same ``H'×W'`` (the
depthwise conv carries the stride), so the ratio is exactly ``1/N + 1/k²``, the paper's
reduction, for bias-free convs with 'same' padding, at any input size and stride.

Example:
    >>> c = compare_conv(512, 512, kernel=3, height=14, width=14)
    >>> round(c.ratio, 4), round(c.paper_ratio, 4)
    (0.1131, 0.1131)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from edgeopt.analysis.counting import conv_macs
from edgeopt.errors import EdgeoptError


@dataclass(frozen=True)
class ConvComparison:
    """MACs and params of a standard conv and its depthwise separable replacement (no biases).

    Attributes:
        in_ch, out_ch, kernel, height, width, stride: The layer compared (input size H × W).
        out_height, out_width: Output size with 'same' padding (``kernel // 2``).
        standard_macs, standard_params: The k×k standard conv.
        depthwise_macs, pointwise_macs: The two halves of the separable conv.
        separable_macs, separable_params: Depthwise k×k plus pointwise 1×1.
        ratio: separable_macs / standard_macs.
        paper_ratio: 1/N + 1/k² with N = out_ch.
        exact_match: Whether ratio equals paper_ratio exactly (compared as fractions).
    """

    in_ch: int
    out_ch: int
    kernel: int
    height: int
    width: int
    stride: int
    out_height: int
    out_width: int
    standard_macs: int
    standard_params: int
    depthwise_macs: int
    pointwise_macs: int
    separable_macs: int
    separable_params: int
    ratio: float
    paper_ratio: float
    exact_match: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return asdict(self)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value <= 0:
            raise EdgeoptError(f"{name} must be a positive integer, got {value!r}")


def compare_conv(in_ch: int, out_ch: int, kernel: int = 3, height: int = 112, width: int = 112,
                 stride: int = 1) -> ConvComparison:
    """Compare a standard conv with a depthwise separable conv of the same shape.

    Args:
        in_ch: Input channels M.
        out_ch: Output channels N.
        kernel: Kernel size k (square, odd for exact 'same' padding).
        height: Input height.
        width: Input width.
        stride: Stride of the standard conv and of the depthwise conv.

    Returns:
        The :class:`ConvComparison`.

    Raises:
        EdgeoptError: A size is not a positive integer.
    """
    _check_positive(in_ch=in_ch, out_ch=out_ch, kernel=kernel, height=height, width=width,
                    stride=stride)
    pad = kernel // 2
    out_h = (height + 2 * pad - kernel) // stride + 1
    out_w = (width + 2 * pad - kernel) // stride + 1  # >= 1 always, thanks to the padding
    in_numel, out_pixels = in_ch * height * width, out_h * out_w
    standard = conv_macs((out_ch, in_ch, kernel, kernel), in_numel, out_ch * out_pixels, False)
    depthwise = conv_macs((in_ch, 1, kernel, kernel), in_numel, in_ch * out_pixels, False)
    pointwise = conv_macs((out_ch, in_ch, 1, 1), in_ch * out_pixels, out_ch * out_pixels, False)
    exact = Fraction(depthwise + pointwise, standard)
    paper = Fraction(1, out_ch) + Fraction(1, kernel * kernel)
    return ConvComparison(
        in_ch=in_ch, out_ch=out_ch, kernel=kernel, height=height, width=width, stride=stride,
        out_height=out_h, out_width=out_w,
        standard_macs=standard, standard_params=out_ch * in_ch * kernel * kernel,
        depthwise_macs=depthwise, pointwise_macs=pointwise,
        separable_macs=depthwise + pointwise,
        separable_params=in_ch * kernel * kernel + in_ch * out_ch,
        ratio=float(exact), paper_ratio=float(paper), exact_match=exact == paper)
