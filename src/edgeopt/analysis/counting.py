"""Per-operation cost rules: multiply-adds (MACs) and other element-wise work.

One rule per kind of operation, shared by the torch.fx path (``call_module`` / ``call_function`` /
``call_method`` nodes) and the torch.export path (ATen nodes), so both count alike.

Convention (see ``docs/profiling.md``):

* A MAC is one multiplication plus one accumulation inside a convolution, a linear layer or a
  matrix product. Conv MACs = Cout × Hout × Wout × (Cin / groups) × kH × kW per image; linear
  MACs = in_features × out_features per row; a matmul ``[..., n, k] @ [..., k, m]`` costs
  ``k`` MACs per output element. Bias adds are not MACs.
* Everything else (batch norm, activations, pooling, residual adds, softmax) is not a MAC; it is
  reported as ``flops_other``: one per output element for element-wise arithmetic and
  activations, two for normalisation (scale and shift), the window size per output element for
  windowed pooling, one per input element for global/adaptive pooling and reductions, and zero
  for pure data movement (view, cat, transpose, pad). Bias adds land here too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn


@dataclass(frozen=True)
class TensorInfo:
    """Shape and element size of a tensor seen while tracing (the tensor itself is not kept)."""

    shape: tuple[int, ...]
    itemsize: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class OpCost:
    """What one operation costs: its display type, MACs and other element-wise work."""

    op_type: str
    macs: int = 0
    flops_other: int = 0


# Work per output element of element-wise operations (activations, arithmetic, normalisation).
_ELEMENTWISE: dict[str, int] = {
    **dict.fromkeys(
        [
            "add", "sub", "rsub", "mul", "div", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "pow", "square",
            "reciprocal", "clamp", "clip", "maximum", "minimum", "where", "relu", "relu6", "hardtanh", "sigmoid",
            "tanh", "hardswish", "hardsigmoid", "silu", "gelu", "elu", "selu", "celu", "leaky_relu", "mish",
            "softplus", "prelu", "threshold", "erf", "sign",
        ],
        1,
    ),
    **dict.fromkeys(["batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm"], 2),
    **dict.fromkeys(["softmax", "log_softmax"], 3),  # exp, sum, divide
}
_REDUCTIONS = frozenset([
    "mean", "sum", "amax", "amin", "max", "min",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
])
_WINDOW_POOLS = frozenset([
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
])
# Python operator names (operator.iadd, Tensor.__truediv__) mapped to their torch names.
_ALIASES = {"iadd": "add", "isub": "sub", "imul": "mul", "itruediv": "div", "truediv": "div",
            "radd": "add", "rmul": "mul", "rtruediv": "div", "floordiv": "floor_divide",
            "native_batch_norm_legit_no_training": "batch_norm", "convolution": "conv",
            "sym_size": "size"}


def normalize_op_name(name: str) -> str:
    """Map a function, method or ATen name to one canonical op name.

    Trailing underscores (in-place variants) and dunder wrappers are dropped, so ``relu_``,
    ``operator.iadd`` and ``Tensor.__add__`` read as ``relu``, ``add`` and ``add``.

    Example:
        >>> normalize_op_name("__iadd__"), normalize_op_name("relu_")
        ('add', 'relu')
    """
    base = name.split("::")[-1].split(".")[0].strip("_")
    return _ALIASES.get(base, base)


def conv_op_type(dims: int, transposed: bool, groups: int, in_channels: int) -> str:
    """Display type of a convolution: ``Conv2d``, ``Conv2d(dw)`` or ``Conv2d(grouped)``."""
    kind = f"ConvTranspose{dims}d" if transposed else f"Conv{dims}d"
    if groups <= 1:
        return kind
    return f"{kind}(dw)" if groups == in_channels else f"{kind}(grouped)"


def conv_macs(weight_shape: Sequence[int], in_numel: int, out_numel: int, transposed: bool) -> int:
    """MACs of a convolution from its weight shape and input/output sizes (batch included).

    A conv weight is ``[Cout, Cin/groups, *kernel]``: every output element takes
    ``Cin/groups × prod(kernel)`` MACs. A transposed conv weight is ``[Cin, Cout/groups, *kernel]``
    and every *input* element is scattered over ``Cout/groups × prod(kernel)`` outputs.

    Example:
        >>> conv_macs((64, 1, 3, 3), in_numel=64 * 56 * 56, out_numel=64 * 56 * 56,
        ...           transposed=False)  # depthwise 3x3 on 64 x 56 x 56
        1806336
    """
    per_element = math.prod(weight_shape[1:])
    return (in_numel if transposed else out_numel) * per_element


def module_cost(module: nn.Module, args: Sequence[Any], outputs: Sequence[TensorInfo]) -> OpCost:
    """Cost of calling a standard ``torch.nn`` leaf module on ``args`` (tensors as TensorInfo)."""
    name = type(module).__name__
    x = next((a for a in args if isinstance(a, TensorInfo)), None)
    out_numel = sum(o.numel for o in outputs)
    if isinstance(module, nn.modules.conv._ConvNd) and x is not None:
        weight = tuple(module.weight.shape)
        macs = conv_macs(weight, x.numel, outputs[0].numel, module.transposed)
        op_type = conv_op_type(len(weight) - 2, module.transposed, module.groups,
                               module.in_channels)
        return OpCost(op_type, macs, outputs[0].numel if module.bias is not None else 0)
    if isinstance(module, nn.Linear):
        bias = outputs[0].numel if module.bias is not None else 0
        return OpCost(name, outputs[0].numel * module.in_features, bias)
    if isinstance(module, nn.Bilinear):
        return OpCost(name, outputs[0].numel * module.in1_features * module.in2_features)
    if isinstance(module, nn.RNNBase) and x is not None:
        return OpCost(name, rnn_macs(module, x))
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        # torch declares kernel_size on AvgPool1d/2d/3d but not on their base _AvgPoolNd
        window = _window(module.kernel_size, _dims_of(name))  # type: ignore[arg-type]  # _AvgPoolNd.kernel_size
        return OpCost(name, 0, out_numel * window)
    return OpCost(name, 0, _other_work(_module_kind(module), x, out_numel))


def _module_kind(module: nn.Module) -> str:
    """The functional op name a module's work matches (``BatchNorm2d`` -> ``batch_norm``)."""
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return "instance_norm" if isinstance(module, nn.modules.instancenorm._InstanceNorm) \
            else "batch_norm"
    if isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
        return "layer_norm"
    if isinstance(module, (nn.modules.pooling._AdaptiveAvgPoolNd,
                           nn.modules.pooling._AdaptiveMaxPoolNd)):
        return "adaptive_avg_pool2d"
    simple = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardtanh: "hardtanh", nn.Sigmoid: "sigmoid",
              nn.Tanh: "tanh", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
              nn.SiLU: "silu", nn.GELU: "gelu", nn.ELU: "elu", nn.SELU: "selu", nn.CELU: "celu",
              nn.LeakyReLU: "leaky_relu", nn.Mish: "mish", nn.Softplus: "softplus",
              nn.PReLU: "prelu", nn.Threshold: "threshold", nn.Softmax: "softmax",
              nn.LogSoftmax: "log_softmax"}
    for cls, kind in simple.items():
        if isinstance(module, cls):
            return kind
    return type(module).__name__


def rnn_macs(module: nn.RNNBase, x: TensorInfo) -> int:
    """MACs of an RNN/LSTM/GRU over the whole sequence: input and hidden projections per step."""
    gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
    dirs = 2 if module.bidirectional else 1
    hidden = module.hidden_size
    out_hidden = module.proj_size or hidden
    # Every position of every sequence passes through each gate once per layer and direction.
    steps = x.numel // x.shape[-1]
    total, in_size = 0, module.input_size
    projection = hidden * module.proj_size  # LSTM with proj_size: hidden -> proj per step
    for _ in range(module.num_layers):
        per_step = gates * hidden * (in_size + out_hidden) + projection
        total += dirs * steps * per_step
        in_size = out_hidden * dirs
    return total


def _dims_of(name: str) -> int:
    """Spatial dims from a name ending in ``1d``/``2d``/``3d`` (``MaxPool2d``, ``avg_pool3d``)."""
    match = re.search(r"([123])d", name)
    return int(match.group(1)) if match else 2


def _window(kernel: int | Sequence[int], dims: int) -> int:
    """Elements in a pooling window; an int kernel repeats over the spatial dims."""
    if isinstance(kernel, int):
        elements: int = kernel**dims  # typeshed types int ** int as Any (a negative power is a float)
        return elements
    return math.prod(kernel)


def _other_work(op: str, x: TensorInfo | None, out_numel: int) -> int:
    """Non-MAC work of an element-wise op, reduction or global pool (0 for data movement)."""
    if op in _ELEMENTWISE:
        return _ELEMENTWISE[op] * out_numel
    if op in _REDUCTIONS and x is not None:
        return x.numel
    return 0


def function_cost(op: str, args: Sequence[Any], kwargs: dict[str, Any],
                  outputs: Sequence[TensorInfo]) -> OpCost:
    """Cost of a functional call (``F.conv2d``, ``torch.matmul``, ``x + y``, ATen ops).

    ``op`` is the normalized name (:func:`normalize_op_name`); tensors in ``args`` and
    ``kwargs`` are TensorInfo.
    """
    tensors = [a for a in args if isinstance(a, TensorInfo)]
    out_numel = sum(o.numel for o in outputs)
    first_out = outputs[0].numel if outputs else 0
    if op in {"conv", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d"} and len(tensors) >= 2:
        return _conv_function_cost(op, args, kwargs, tensors, first_out)
    if op == "linear" and len(tensors) >= 2:
        bias = first_out if _arg(args, kwargs, 2, "bias") is not None else 0
        return OpCost("Linear", first_out * tensors[1].shape[-1], bias)
    if op in {"matmul", "mm", "bmm"} and tensors:
        return OpCost(op, first_out * tensors[0].shape[-1])
    if op in {"addmm", "baddbmm"} and len(tensors) >= 3:
        return OpCost(op, first_out * tensors[1].shape[-1], first_out)
    if op == "einsum":
        return OpCost(op, einsum_macs(args[0], _einsum_operands(args[1:])))
    if op == "scaled_dot_product_attention" and len(tensors) >= 3:
        q, k, v = tensors[:3]
        batch = math.prod(q.shape[:-2])
        return OpCost(op, batch * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1]))
    if op in _WINDOW_POOLS and tensors:
        kernel = _arg(args, kwargs, 1, "kernel_size")
        return OpCost(op, 0, first_out * _window(kernel, _dims_of(op)))
    return OpCost(op, 0, _other_work(op, tensors[0] if tensors else None, out_numel))


def _arg(args: Sequence[Any], kwargs: dict[str, Any], index: int, name: str) -> Any:
    """An argument given by position or keyword (None if absent)."""
    return args[index] if len(args) > index else kwargs.get(name)


def _conv_function_cost(op: str, args: Sequence[Any], kwargs: dict[str, Any],
                        tensors: list[TensorInfo], out_numel: int) -> OpCost:
    """F.conv*/F.conv_transpose*/aten.convolution: MACs from the weight shape alone."""
    x, weight = tensors[0], tensors[1]
    if op == "conv":  # aten.convolution(input, weight, bias, stride, pad, dil, transposed, ...)
        transposed = bool(_arg(args, kwargs, 6, "transposed"))
        groups = int(_arg(args, kwargs, 8, "groups") or 1)
    else:
        transposed = op.startswith("conv_transpose")
        # groups sits in slot 6 of both F.conv2d and F.conv_transpose2d.
        groups = int(_arg(args, kwargs, 6, "groups") or 1)
    in_channels = x.shape[1] if len(x.shape) == len(weight.shape) else x.shape[0]
    macs = conv_macs(weight.shape, x.numel, out_numel, transposed)
    bias = out_numel if _arg(args, kwargs, 2, "bias") is not None else 0
    return OpCost(conv_op_type(len(weight.shape) - 2, transposed, groups, in_channels), macs, bias)


def _einsum_operands(rest: Sequence[Any]) -> list[TensorInfo]:
    """einsum operands may be passed as varargs or as one list."""
    if len(rest) == 1 and isinstance(rest[0], (list, tuple)):
        rest = rest[0]
    return [r for r in rest if isinstance(r, TensorInfo)]


def einsum_macs(equation: str, operands: Sequence[TensorInfo]) -> int:
    """MACs of an einsum evaluated left to right, one pairwise contraction at a time.

    Each pairwise step costs the product of the sizes of every index either operand carries.

    Example:
        >>> a, b = TensorInfo((2, 3), 4), TensorInfo((3, 5), 4)
        >>> einsum_macs("ij,jk->ik", [a, b])
        30
    """
    lhs, arrow, out = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if not arrow:  # implicit output: the indices that appear exactly once, sorted
        out = "".join(sorted(c for c in set(lhs) - {","} if lhs.count(c) == 1))
    if len(operands) < 2 or "." in lhs:
        return 0  # a single-operand einsum (trace, transpose) multiplies nothing
    sizes: dict[str, int] = {}
    # Without "...", an einsum has one term per operand and one index per dimension.
    for term, t in zip(terms, operands, strict=True):
        sizes.update(zip(term, t.shape, strict=True))
    total, current = 0, terms[0]
    for i, term in enumerate(terms[1:], start=1):
        both = set(current) | set(term)
        total += math.prod(sizes[c] for c in both)
        later = set(out).union(*terms[i + 1:])
        current = "".join(c for c in both if c in later)
    return total
