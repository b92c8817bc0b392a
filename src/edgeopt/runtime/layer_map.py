"""Map the kernels a runtime ran back to the layers of the model they came from.

A runtime does not run the model's layers one by one: it fuses them (conv + BatchNorm + ReLU is
one kernel in every CPU runtime; ONNX Runtime also folds a residual add into the conv before it),
inserts layout conversions of its own (NCHWc reorders, NHWC transposes, int8 converts) and names
its kernels its own way. This module maps each kernel to a row of the model's profile
(:mod:`edgeopt.analysis`) in two steps, using only what the runtime exposes:

1. **Anchors.** A kernel that runs a multiply-accumulate layer (conv, linear, matmul) is tied to
   its layer exactly where the runtime says which: an ONNX node reads a weight initializer
   named after the module (``features.3.conv.0.weight`` → ``features.3.conv.0``). Where the
   runtime says nothing (XNNPACK inside an ExecuTorch program names its operators
   ``Convolution (NHWC, F32) IGEMM #3``), the k-th MAC kernel is the k-th MAC layer, checked
   kind by kind (depthwise or not) and count by count; a mismatch maps nothing and says so.
2. **Tails.** Every other kernel or graph node belongs to the MAC layer whose output it consumes
   (in an ONNX graph: the latest producer among its inputs; in an ordered trace: the last MAC
   kernel before it), and within that layer's *tail* — the rows the profile lists after the MAC
   row and before the next one (BatchNorm, activation, residual add, pooling, the SE gate) — it is
   matched by kind in order (an activation kernel to the activation row, a pooling kernel to the
   pooling row). What matches no row (a quantize node, a layout conversion, half of an
   inlined hardswish) goes to the row of the node that fed it, else to the MAC row.

The rows a kernel lands on are then grouped into *layers*: a MAC row with its tail, the unit
every runtime fuses and the unit :mod:`edgeopt.latency` keys its table by.

Example:
    >>> mapping = map_onnx_nodes(graph, rows_from_profile(profile(model, (1, 3, 32, 32))))
    >>> mapping.node_rows["node_Conv_811"], mapping.segments["features.0.2"]
    ('features.0.0', 'features.0.0')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

    from edgeopt.analysis.results import ModelProfile

# Kinds of operation, shared by profile rows (torch names), ONNX nodes and runtime kernels.
_CLASS_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("qdq", ("quantizelinear", "dequantizelinear", "convert (")),
    ("layout", ("reorder", "transpose", "copy", "dim_order", "permute", "static reshape", "to_copy")),
    ("norm", ("batchnorm", "layernorm", "groupnorm", "instancenorm", "normalization")),
    ("pool", ("pool", "mean", "reduce")),
    ("act", ("relu", "clip", "clamp", "hardtanh", "hardswish", "hardsigmoid", "sigmoid", "silu", "gelu",
             "tanh", "elu", "mish", "softplus", "swish")),
    ("add", ("add", "sum", "sub")),
    ("mul", ("mul", "div")),
    ("concat", ("concat", "cat")),
    ("shape", ("flatten", "reshape", "view", "squeeze", "unsqueeze", "getitem", "identity", "dropout")),
    ("softmax", ("softmax",)),
)
# ONNX / runtime operators that multiply-accumulate (the anchors).
MAC_OPS = frozenset({
    "Conv", "ConvTranspose", "Gemm", "MatMul", "QLinearConv", "ConvInteger", "MatMulInteger",
    "QLinearMatMul", "QGemm", "FusedConv", "FusedGemm", "FusedMatMul", "NhwcFusedConv", "DynamicQuantizeMatMul",
    "MatMulIntegerToFloat",
})
_XNN_MAC = ("convolution", "fully connected", "gemm", "dwconv", "deconvolution", "batch matrix multiply")
_WEIGHT_WRAPPERS = frozenset({"DequantizeLinear", "Transpose", "Reshape", "Identity", "Cast", "Unsqueeze"})


def op_class(op: str) -> str:
    """The kind of an operation: ``mac``, ``dwmac``, ``act``, ``add``, ``pool``, ``qdq``, ``layout``...

    Example:
        >>> op_class("Conv2d(dw)"), op_class("Clip"), op_class("Convolution (NHWC, F32) IGEMM #2")
        ('dwmac', 'act', 'mac')
    """
    low = op.lower()
    if "dwconv" in low or "(dw)" in low:
        return "dwmac"
    if op in MAC_OPS or low.startswith(_XNN_MAC) or low in ("conv2d", "conv1d", "conv3d", "linear", "matmul"):
        return "mac"
    for name, words in _CLASS_WORDS:
        if any(word in low for word in words):
            return name
    return "other"


@dataclass(frozen=True)
class LayerRow:
    """One layer of the model as the profile lists it, in execution order.

    Attributes:
        name: The profile row name (a module path such as ``features.3.conv.0``, or an ONNX node
            name when the model itself is not at hand).
        op_type: Its operation (``Conv2d(dw)``, ``ReLU6``, ``add``; or an ONNX op type).
        is_mac: Whether it multiply-accumulates (starts a layer).
        depthwise: A depthwise conv (XNNPACK runs those with a kernel of their own).
    """

    name: str
    op_type: str
    is_mac: bool = False
    depthwise: bool = False


def rows_from_profile(profile: ModelProfile) -> list[LayerRow]:
    """The profile's rows as :class:`LayerRow` s (a MAC row is one with MACs)."""
    return [LayerRow(r.name, r.op_type, r.macs > 0, "(dw)" in r.op_type) for r in profile.layers]


def segments_of(rows: Sequence[LayerRow]) -> dict[str, str]:
    """Row name → the layer it belongs to: the last MAC row at or before it (the first MAC row
    for rows before any; the row itself in a model without MAC rows).

    Example:
        >>> segments_of([LayerRow("c", "Conv2d", True), LayerRow("r", "ReLU")])
        {'c': 'c', 'r': 'c'}
    """
    first = next((r.name for r in rows if r.is_mac), None)
    owner: str | None = first
    out: dict[str, str] = {}
    for row in rows:
        if row.is_mac:
            owner = row.name
        out[row.name] = owner if owner is not None else row.name
    return out


@dataclass
class KernelMapping:
    """Where each kernel (or graph node) landed: row names, and the layer of every row.

    Attributes:
        rows: The rows mapped onto (the model's profile, or rows made from the graph).
        kernel_rows: Kernel name → row name (``""``: not mapped).
        node_rows: Graph node → row name (ONNX files; empty for traces without a graph).
        segments: Row name → layer name (see :func:`segments_of`).
        method: How: ``"weights+tails"`` (ONNX names), ``"order"`` (XNNPACK order), ``"graph"``
            (ONNX nodes as rows, no model), ``"kernels"`` (kernels as rows, no model) or ``"none"``.
        note: Why a mapping is partial or missing ("" when complete).
    """

    rows: list[LayerRow]
    kernel_rows: dict[str, str] = field(default_factory=dict)
    node_rows: dict[str, str] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)
    method: str = "none"
    note: str = ""




# ---------------------------------------------------------------------------------------------
# ONNX graphs


@dataclass(frozen=True)
class GraphNode:
    """One node of an ONNX graph as the file holds it (names only; no weights).

    ``key`` is the node's name, or ``{op_type}_{index}`` for an unnamed node (the name
    :func:`edgeopt.devices.onnx_cost.onnx_profile` gives the same node).
    """

    key: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


class OnnxGraph:
    """The structure of an ONNX graph: nodes in file (topological) order, producers, weights.

    Args:
        proto: A model loaded with ``onnx.load(..., load_external_data=False)`` (weights unused).
    """

    def __init__(self, proto: onnx.ModelProto) -> None:
        graph = proto.graph
        self.initializers = {init.name for init in graph.initializer}
        self.nodes: list[GraphNode] = []
        taken: set[str] = set()
        for index, node in enumerate(graph.node):
            key = node.name or f"{node.op_type}_{index}"
            while key in taken:  # duplicate names are legal in ONNX; keys must not be
                key += "_"
            taken.add(key)
            self.nodes.append(GraphNode(key, node.op_type, tuple(node.input), tuple(node.output)))
        self.constants = {o for n in self.nodes if n.op_type == "Constant" for o in n.outputs}
        self.by_key = {n.key: n for n in self.nodes}
        self.position = {n.key: i for i, n in enumerate(self.nodes)}
        self.producer = {o: n.key for n in self.nodes for o in n.outputs if o}
        self.consumers: dict[str, list[str]] = {}
        for n in self.nodes:
            for i in n.inputs:
                self.consumers.setdefault(i, []).append(n.key)
        self.graph_inputs = {v.name for v in graph.input} - self.initializers
        self._paths = {n.key: self._weight_path(n) for n in self.nodes if n.op_type in MAC_OPS}
        self.owner = self._owners()

    def is_static(self, tensor: str) -> bool:
        """A weight or constant (or computed only from them, e.g. a weight's DequantizeLinear)."""
        if not tensor or tensor in self.initializers or tensor in self.constants:
            return True
        producer = self.producer.get(tensor)
        if producer is None:
            return False
        node = self.by_key[producer]
        return node.op_type in _WEIGHT_WRAPPERS and all(self.is_static(i) for i in node.inputs)

    def activation_inputs(self, key: str) -> list[str]:
        """Producers (node keys) of the node's non-static inputs."""
        node = self.by_key[key]
        return [self.producer[i] for i in node.inputs if not self.is_static(i) and i in self.producer]

    def mac_path(self, key: str) -> str | None:
        """The module path of a MAC node's weight (``features.0.0``), or None if it reads none."""
        return self._paths.get(key)

    def _weight_path(self, node: GraphNode) -> str | None:
        for tensor in node.inputs[1:3] if node.op_type in ("QLinearConv", "QLinearMatMul") else node.inputs[1:2]:
            name = self._initializer_behind(tensor)
            if name is not None:
                return module_path(name)
        if node.op_type in ("QLinearConv", "QLinearMatMul") and len(node.inputs) > 3:
            name = self._initializer_behind(node.inputs[3])
            return module_path(name) if name else None
        return None

    def _initializer_behind(self, tensor: str) -> str | None:
        for _ in range(8):  # weight → DequantizeLinear → Transpose ... a short chain at most
            if tensor in self.initializers:
                return tensor
            producer = self.producer.get(tensor)
            if producer is None:
                return None
            node = self.by_key[producer]
            if node.op_type not in _WEIGHT_WRAPPERS or not node.inputs:
                return None
            tensor = node.inputs[0]
        return None

    def is_mac(self, key: str) -> bool:
        """Whether the node multiply-accumulates on an activation (a conv, a linear...)."""
        node = self.by_key[key]
        return node.op_type in MAC_OPS and bool(self.activation_inputs(key) or node.inputs[0] in self.graph_inputs)

    def _owners(self) -> dict[str, str]:
        """Node key → the MAC node whose layer it belongs to (see the module docstring)."""
        owner: dict[str, str] = {}
        pending: list[str] = []
        for node in self.nodes:
            if node.op_type == "Constant":
                continue
            if self.is_mac(node.key):
                owner[node.key] = node.key
                continue
            sources = [p for p in self.activation_inputs(node.key) if p in owner]
            if sources:
                owner[node.key] = owner[max(sources, key=self.position.__getitem__)]
            else:
                pending.append(node.key)  # weight DQs, the input's quantize: the layer that reads them
        for key in reversed(pending):
            owner[key] = self._first_consumer_owner(key, owner) or key
        return owner

    def _first_consumer_owner(self, key: str, owner: dict[str, str]) -> str | None:
        frontier = list(self.by_key[key].outputs)
        seen: set[str] = set()
        while frontier:
            tensor = frontier.pop(0)
            for consumer in self.consumers.get(tensor, []):
                if consumer in owner:
                    return owner[consumer]
                if consumer not in seen:
                    seen.add(consumer)
                    frontier.extend(self.by_key[consumer].outputs)
        return None

    def rows(self) -> list[LayerRow]:
        """Rows made from the graph itself (no model at hand): one per node, MAC nodes named by
        their weight's module path."""
        out = []
        for node in self.nodes:
            if node.op_type == "Constant":
                continue
            mac = self.is_mac(node.key)
            out.append(LayerRow(self.row_name(node.key), node.op_type, mac))
        return out

    def row_name(self, key: str) -> str:
        """The name a node's row has in :meth:`rows`."""
        return self.mac_path(key) or key


def module_path(initializer: str) -> str:
    """``features.3.conv.0.weight_quantized`` → ``features.3.conv.0``.

    Example:
        >>> module_path("classifier.weight"), module_path("b1.dw.0.weight_quantized")
        ('classifier', 'b1.dw.0')
    """
    for suffix in (".weight", ".bias"):
        if suffix in initializer:
            return initializer[: initializer.rindex(suffix)]
    return re.sub(r"(_quantized|_DequantizeLinear_Output)$", "", initializer)


def map_onnx_nodes(graph: OnnxGraph, rows: Sequence[LayerRow] | None) -> KernelMapping:
    """Map every node of an ONNX graph to a profile row (or, without rows, to rows of its own).

    Args:
        graph: The graph as written in the file.
        rows: The model's profile rows (:func:`rows_from_profile`), or None.

    Returns:
        A :class:`KernelMapping` with ``node_rows`` filled (``kernel_rows`` is the caller's).
    """
    if rows is None:
        own = graph.rows()
        own_rows = {n.key: graph.row_name(n.key) for n in graph.nodes if n.op_type != "Constant"}
        segments = {graph.row_name(k): graph.row_name(v) for k, v in graph.owner.items()}
        return KernelMapping(own, node_rows=own_rows, segments=segments, method="graph")
    rows = list(rows)
    names = {r.name for r in rows}
    macs = [k for k in (n.key for n in graph.nodes) if k in graph.owner and graph.is_mac(k)]
    anchor: dict[str, str] = {}
    for key in macs:
        path = graph.mac_path(key)
        if path in names:
            anchor[key] = path
    note = ""
    if len(anchor) < len(macs):  # weights not named after modules: fall back to order
        mac_rows = [r.name for r in rows if r.is_mac]
        if len(mac_rows) == len(macs):
            anchor = dict(zip(macs, mac_rows, strict=True))
        else:
            note = (f"{len(macs) - len(anchor)} of {len(macs)} MAC nodes have no layer of that name "
                    f"and the counts differ ({len(macs)} nodes, {len(mac_rows)} layers)")
    tails = _tails(rows)
    node_rows: dict[str, str] = {}
    matched: dict[str, list[str]] = {}  # owner → tail rows already taken
    for node in graph.nodes:
        if node.op_type == "Constant" or node.key not in graph.owner:
            continue
        owner = graph.owner[node.key]
        if node.key in anchor:
            node_rows[node.key] = anchor[node.key]
            continue
        owner_row = anchor.get(owner)
        if owner_row is None:
            node_rows[node.key] = ""
            continue
        row = _match_tail(op_class(node.op_type), tails.get(owner_row, []), matched.setdefault(owner, []))
        if row is None:  # no row of its kind: the row of what fed it, within the same layer
            fed = [node_rows.get(p, "") for p in graph.activation_inputs(node.key) if graph.owner.get(p) == owner]
            row = next((r for r in reversed(fed) if r), owner_row)
        node_rows[node.key] = row
    unmapped = sum(1 for v in node_rows.values() if not v)
    if unmapped and not note:
        note = f"{unmapped} graph nodes could not be tied to a layer"
    return KernelMapping(rows, node_rows=node_rows, segments=segments_of(rows),
                    method="weights+tails" if not note else "partial", note=note)


def _tails(rows: Sequence[LayerRow]) -> dict[str, list[LayerRow]]:
    """MAC row name → the rows after it, up to the next MAC row."""
    out: dict[str, list[LayerRow]] = {}
    current: str | None = None
    for row in rows:
        if row.is_mac:
            current = row.name
            out[current] = []
        elif current is not None:
            out[current].append(row)
    return out


def _match_tail(kind: str, tail: Sequence[LayerRow], taken: list[str]) -> str | None:
    """The first row of the tail of this kind not taken yet (and mark it taken)."""
    if kind in ("qdq", "layout", "other"):
        return None
    for row in tail:
        if row.name not in taken and op_class(row.op_type) == kind:
            taken.append(row.name)
            return row.name
    return None


# ---------------------------------------------------------------------------------------------
# Ordered traces without a graph (XNNPACK inside ExecuTorch)


def map_ordered_kernels(kernels: Sequence[tuple[str, str]], rows: Sequence[LayerRow] | None) -> KernelMapping:
    """Map kernels listed in execution order (name, op) to rows by MAC order and tail kinds.

    Without rows, or when the MAC kernels do not line up with the MAC layers (count or
    depthwise-ness differ), each kernel becomes a row of its own and ``note`` says why.

    Example:
        >>> m = map_ordered_kernels([("Convolution #1", "Convolution"), ("Clamp #1", "Clamp")],
        ...                         [LayerRow("c", "Conv2d", True), LayerRow("r", "ReLU")])
        >>> m.kernel_rows
        {'Convolution #1': 'c', 'Clamp #1': 'r'}
    """
    if rows is None:
        return _kernels_as_rows(kernels, "kernels", "")
    rows = list(rows)
    mac_rows = [r for r in rows if r.is_mac]
    mac_kernels = [(name, op) for name, op in kernels if op_class(op) in ("mac", "dwmac")]
    if len(mac_rows) != len(mac_kernels):
        return _kernels_as_rows(kernels, "kernels", (
            f"the runtime ran {len(mac_kernels)} MAC kernels for {len(mac_rows)} MAC layers, so its "
            "kernels are shown as they are, not mapped to layers"))
    mismatched = sum(1 for r, (_, op) in zip(mac_rows, mac_kernels, strict=True)
                     if r.depthwise != (op_class(op) == "dwmac"))
    if mismatched:
        return _kernels_as_rows(kernels, "kernels", (
            f"{mismatched} MAC kernels differ from their layer in kind (depthwise or not), so the "
            "kernels are shown as they are, not mapped to layers"))
    tails = _tails(rows)
    anchors = iter(r.name for r in mac_rows)
    kernel_rows: dict[str, str] = {}
    owner: str | None = None
    taken: dict[str, list[str]] = {}
    pending: list[str] = []  # kernels before the first MAC kernel: the first layer's input work
    previous: str | None = None
    for name, op in kernels:
        kind = op_class(op)
        if kind in ("mac", "dwmac"):
            owner = next(anchors)
            kernel_rows[name] = owner
            for early in pending:
                kernel_rows[early] = owner
            pending = []
        elif owner is None:
            pending.append(name)
        else:
            row = _match_tail(kind, tails.get(owner, []), taken.setdefault(owner, []))
            kernel_rows[name] = row or (previous if previous is not None else owner)
        previous = kernel_rows.get(name, previous)
    first = mac_rows[0].name if mac_rows else ""
    for early in pending:
        kernel_rows[early] = first
    return KernelMapping(rows, kernel_rows=kernel_rows, segments=segments_of(rows), method="order")


def _kernels_as_rows(kernels: Iterable[tuple[str, str]], method: str, note: str) -> KernelMapping:
    listed = list(kernels)
    rows = [LayerRow(name, op, op_class(op) in ("mac", "dwmac"), op_class(op) == "dwmac") for name, op in listed]
    return KernelMapping(rows, kernel_rows={name: name for name, _ in listed}, segments=segments_of(rows),
                    method=method, note=note)


def rows_by_name(rows: Iterable[LayerRow]) -> Mapping[str, LayerRow]:
    """Rows keyed by name."""
    return {r.name: r for r in rows}
