"""Where the time goes: a de-noised, per-layer profile of a deployed file in its own runtime.

:func:`profile_layers` runs the file in its runtime with the runtime's own kernel tracer on
(:mod:`edgeopt.runtime.kernel_trace`), maps each kernel back to the model's layers
(:mod:`edgeopt.runtime.layer_map`) and, in the same run, times the whole file without tracing.
Both are timed the way every edgeopt latency is (DESIGN.md, "Machine facts"): the traced and the
plain session alternate in rounds (:func:`~edgeopt.runtime.timing.interleaved_latency`), each block
between two speed probes and redone when they show a slow phase; a kernel's figure is the median
over rounds of its mean time in the block (a mean, because the runtimes' timestamps have a
resolution of 1 µs, which a median of short kernels would round away), taken over the runs of
the block that were not outliers.

The layer times add up to the sum of the kernels; the difference to the whole-model latency is
what no kernel accounts for: the runtime's per-call overhead (input binding, the delegate call,
output copies) and, on the other side, what tracing left in the kernel times.
:attr:`LayerProfile.rest_ms` says how much that is. ONNX Runtime's profiler lengthens every
kernel event by a few µs of its own work; the share of the traced run's extra time that lies
inside the events is measured on this host and taken off (:mod:`edgeopt.runtime.tracer_cost`,
:attr:`LayerProfile.tracer_cost_ms`).

MACs, bytes and roofline estimates per layer are added by :mod:`edgeopt.latency` (which sits
above the device models); this module only measures and maps.

Example:
    >>> p = profile_layers("model.int8.onnx", rows=rows_from_profile(profile(model, (1, 3, 160, 160))))
    >>> [(layer.name, round(layer.ms, 3)) for layer in p.layers[:2]]
    [('features.1.conv.0.0', 0.041), ('features.2.conv.1.0', 0.038)]
    >>> p.layer_sum_ms / p.whole_model_ms
    0.97
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.runtime.benchmark import DEFAULT_GATE_RETRIES, open_runner
from edgeopt.runtime.kernel_trace import KernelTrace, TraceUnavailable, open_tracer
from edgeopt.runtime.layer_map import (
    KernelMapping,
    LayerRow,
    map_onnx_nodes,
    map_ordered_kernels,
)
from edgeopt.runtime.timing import LatencyStats, interleaved_latency
from edgeopt.runtime.tracer_cost import ort_tracer_cost

OUTLIER_FACTOR = 1.25  # runs slower than this x the block's median run are left out of the means
NOT_MAPPED = "(not mapped)"


@dataclass(frozen=True)
class KernelTime:
    """One kernel of the runtime: what it is, its measured time and where it maps.

    Attributes:
        name: The runtime's kernel name.
        op: Its operator.
        kind: ``compute``, ``layout``, ``qdq`` or ``delegate`` (see :class:`TracedKernel`).
        ms: De-noised time per run.
        row: The model row it maps to (``""``: not mapped).
        layer: The layer of that row.
        node: The graph node it runs (ONNX files), else ``""``.
    """

    name: str
    op: str
    kind: str
    ms: float
    row: str
    layer: str
    node: str = ""


@dataclass(frozen=True)
class LayerTime:
    """One layer: a MAC layer and the rows after it that the runtime fuses with it.

    Attributes:
        name: The layer's name (its MAC row: a module path, or a node or kernel name).
        rows: The model rows in it.
        op_types: Their operations.
        ms: Measured time per run: the sum of its kernels.
        spread_ms: Min and max over rounds of that sum.
        kernels: The runtime kernels that ran it.
        layout_ms: Of ``ms``, the time in layout conversions and int8 (de)quantization the
            runtime added around it.
        macs: Multiply-adds (filled by :func:`edgeopt.latency.layer_breakdown`).
        bytes: Weights + inputs + outputs at the precision (ditto).
        roofline_ms: The device roofline's estimate for the layer (ditto; an estimate).
    """

    name: str
    rows: tuple[str, ...]
    op_types: tuple[str, ...]
    ms: float
    spread_ms: tuple[float, float]
    kernels: tuple[str, ...]
    layout_ms: float = 0.0
    macs: int | None = None
    bytes: int | None = None
    roofline_ms: float | None = None


@dataclass
class LayerProfile:
    """The measured per-layer profile of one file (see the module docstring).

    Attributes:
        artifact: The file.
        format: ``onnx`` or ``executorch``.
        runtime: ``onnxruntime`` or ``executorch``.
        precision: ``fp32`` or ``int8``.
        threads: Threads the runtime used.
        traced: Whether the runtime recorded kernels (False: only the whole-model figure).
        layers: Layers, slowest first.
        kernels: Kernels in execution order.
        node_rows: Every node of the file's graph → the model row it belongs to (ONNX files).
        whole_model_ms: The file's latency without tracing, measured in the same run.
        whole_model_spread_ms: Min and max of its round medians.
        traced_run_ms: The runtime's own time per traced run (tracer cost included).
        tracer_cost_ms: Per run, the profiler's own cost taken off the kernel times (ONNX
            Runtime, see :mod:`edgeopt.runtime.tracer_cost`); None when nothing was taken off.
        tracer_share: The share of the traced run's extra time taken as lying inside kernel
            events (measured on probe chains); None with ``tracer_cost_ms``.
        mapping: How kernels were mapped (see :class:`KernelMapping`).
        note: What is missing or approximate ("" when nothing).
        rounds: Interleaved rounds; runs_per_round: traced runs per round; retries: blocks redone.
        device: The device the roofline estimates are for (set with them).
    """

    artifact: str
    format: str
    runtime: str
    precision: str
    threads: int
    traced: bool
    layers: list[LayerTime] = field(default_factory=list)
    kernels: list[KernelTime] = field(default_factory=list)
    node_rows: dict[str, str] = field(default_factory=dict)
    whole_model_ms: float | None = None
    whole_model_spread_ms: tuple[float, float] | None = None
    traced_run_ms: float | None = None
    tracer_cost_ms: float | None = None
    tracer_share: float | None = None
    mapping: str = "none"
    note: str = ""
    rounds: int = 0
    runs_per_round: int = 0
    retries: int = 0
    device: str | None = None

    @property
    def layer_sum_ms(self) -> float:
        """Sum of the layer times."""
        return float(sum(layer.ms for layer in self.layers))

    @property
    def rest_ms(self) -> float | None:
        """Whole-model latency minus the layer sum: time outside every kernel (runtime overhead).

        Negative when tracing slowed the kernels more than the overhead weighs.
        """
        return None if self.whole_model_ms is None else self.whole_model_ms - self.layer_sum_ms

    @property
    def coverage(self) -> float | None:
        """Layer sum ÷ whole-model latency (1.0: the layers account for all of it)."""
        if not self.whole_model_ms:
            return None
        return self.layer_sum_ms / self.whole_model_ms

    def share(self, layer: LayerTime) -> float:
        """A layer's share of the layer sum."""
        total = self.layer_sum_ms
        return layer.ms / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (what results.json and ``--json`` carry)."""
        data = asdict(self)
        data.update(layer_sum_ms=self.layer_sum_ms, rest_ms=self.rest_ms, coverage=self.coverage,
                    kind="measured")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerProfile:
        """Read back :meth:`to_dict`'s form (derived keys are ignored).

        Raises:
            EdgeoptError: a key is missing or has the wrong type.
        """
        try:
            fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            fields["layers"] = [LayerTime(**{**layer, "rows": tuple(layer["rows"]),
                                             "op_types": tuple(layer["op_types"]),
                                             "kernels": tuple(layer["kernels"]),
                                             "spread_ms": tuple(layer["spread_ms"])})
                                for layer in data.get("layers", [])]
            fields["kernels"] = [KernelTime(**kernel) for kernel in data.get("kernels", [])]
            if fields.get("whole_model_spread_ms") is not None:
                fields["whole_model_spread_ms"] = tuple(fields["whole_model_spread_ms"])
            return cls(**fields)
        except (TypeError, KeyError, AttributeError) as exc:
            raise EdgeoptError(f"not a per-layer profile: {exc}", hint="write it with LayerProfile.to_dict()") from None


def profile_layers(
    artifact: Artifact | str | os.PathLike[str],
    rows: Sequence[LayerRow] | None = None,
    *,
    threads: int = 2,
    input: npt.NDArray[np.float32] | None = None,
    input_shape: Sequence[int] | None = None,
    rounds: int = 5,
    runs_per_round: int = 20,
    warmup: int = 10,
    gate_retries: int = DEFAULT_GATE_RETRIES,
    whole_model: bool = True,
    net_of_tracer: bool = True,
) -> LayerProfile:
    """Measure where a deployed file spends its time, per layer, in its own runtime.

    Args:
        artifact: An ``.onnx`` or ``.pte`` file (or its :class:`Artifact`).
        rows: The model's profile rows (:func:`~edgeopt.runtime.layer_map.rows_from_profile`)
            to map kernels onto; None maps ONNX kernels onto the file's own nodes (MAC nodes
            named by their weight's module) and shows ExecuTorch kernels as they are.
        threads: Threads for the runtime.
        input: The input to run (batch first); default: seeded noise of the file's input shape.
        input_shape: The input shape, for files that do not record one.
        rounds: Interleaved rounds (traced and plain blocks alternate).
        runs_per_round: Runs per block.
        warmup: Untimed runs of each session before the first round.
        gate_retries: Redos allowed for a block timed in a slow phase.
        whole_model: Also time the file untraced, interleaved with the traced runs (the
            reference the layer sum is compared with); False halves the time taken.
        net_of_tracer: Take ONNX Runtime's profiler cost off the kernels (its events are
            several µs longer than the kernels): the traced run's extra time over the untraced
            one, times the share of it inside kernel events measured on this host before the
            rounds (:mod:`edgeopt.runtime.tracer_cost`). Needs ``whole_model``. ExecuTorch's
            kernels are not corrected (its layer sum stays below the untraced run).

    Returns:
        The :class:`LayerProfile`. If the runtime build cannot trace kernels, ``traced`` is
        False, ``note`` says why, and only the whole-model figure is filled in.

    Raises:
        EdgeoptError: a missing or unreadable file, an unknown format, an input of the wrong shape.
    """
    art = artifact if isinstance(artifact, Artifact) else Artifact.from_file(artifact)
    if art.format not in ("onnx", "executorch"):
        raise EdgeoptError(f"a per-layer profile is measured on .onnx or .pte files, not {art.format} "
                           f"({art.path})", hint="export the model first (edgeopt export)")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise EdgeoptError(f"rounds must be a positive integer, got {rounds!r}")
    plain = open_runner(art, threads)
    batch = _input(art, plain, input, input_shape)
    precision = guess_precision(art)
    base: dict[str, Any] = {"artifact": str(art.path), "format": art.format, "runtime": plain.runtime,
                            "precision": precision, "threads": threads}
    try:
        tracer = open_tracer(art.path, art.format, threads)
    except TraceUnavailable as why:
        alone = interleaved_latency({"plain": plain}, batch, rounds=rounds, runs_per_round=runs_per_round,
                                    warmup=warmup, max_retries=gate_retries)["plain"]
        return LayerProfile(**base, traced=False, whole_model_ms=alone.median_ms, whole_model_spread_ms=alone.spread_ms,
                            note=f"no per-layer figures: {why}; the whole-model latency is measured", rounds=rounds,
                            runs_per_round=runs_per_round, retries=alone.retries)
    cost = ort_tracer_cost(threads) if net_of_tracer and whole_model and tracer.runtime == "onnxruntime" else None
    timer = _TracedTimer(tracer)
    timed: dict[str, Any] = {"traced": timer, "plain": plain} if whole_model else {"traced": timer}
    try:
        stats = interleaved_latency(timed, batch, rounds=rounds, runs_per_round=runs_per_round, warmup=warmup,
                                    max_retries=gate_retries)
        trace = tracer.finish()
    except TraceUnavailable as why:
        tracer.close()
        raise EdgeoptError(f"tracing {str(art.path)!r} failed: {why}") from None
    blocks = timer.kept_blocks(stats["traced"])
    times, spread = _kernel_figures(trace, blocks)
    if cost is not None:  # measured only with whole_model, so the untraced figure is there
        tensors = [kernel.tensors for kernel in trace.kernels]
        extra = stats["traced"].median_ms - stats["plain"].median_ms
        net = cost.net(times, tensors, extra)
        base["tracer_cost_ms"] = float(times.sum() - net.sum())
        base["tracer_share"] = cost.in_event_share
        times, spread = net, cost.net(spread, tensors, extra)
    mapping = _map(trace, rows)
    return _assemble(base, trace, mapping, times, spread, stats, blocks, runs_per_round)


def guess_precision(art: Artifact) -> str:
    """``int8`` for a file named ``*.int8.*`` or an ONNX graph with quantized operators, else the
    artifact's own precision."""
    if ".int8." in art.path.name:
        return "int8"
    if art.precision == "fp32" and art.format == "onnx":
        import onnx

        ops = {n.op_type for n in onnx.load(str(art.path), load_external_data=False).graph.node}
        if ops & {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger", "MatMulInteger"}:
            return "int8"
    return art.precision


class _TracedTimer:
    """The tracer as a :class:`~edgeopt.runtime.timing.Timeable`, remembering which runs each
    block was, so the blocks the speed probes kept can be found afterwards."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer
        self.calls: list[tuple[int, tuple[float, ...]]] = []

    def time(self, input: np.ndarray, warmup: int = 10, runs: int = 50) -> LatencyStats:
        for _ in range(warmup):
            self.tracer.run(input)
        first, samples = self.tracer.count, []
        for _ in range(runs):
            start = time.perf_counter_ns()
            self.tracer.run(input)
            samples.append((time.perf_counter_ns() - start) / 1e6)
        self.calls.append((first, tuple(samples)))
        return LatencyStats.from_samples(samples)

    def kept_blocks(self, combined: LatencyStats) -> list[range]:
        """Run indices of each block the gate kept (its samples appear, in order, in ``combined``)."""
        kept: list[range] = []
        samples, at = combined.samples_ms, 0
        for first, block in self.calls:
            if len(block) and samples[at : at + len(block)] == block:
                kept.append(range(first, first + len(block)))
                at += len(block)
        return kept


def _kernel_figures(trace: KernelTrace, blocks: Sequence[range]) -> tuple[np.ndarray, np.ndarray]:
    """Per kernel: median over blocks of its mean over the block's non-outlier runs; and per block."""
    per_block = []
    for block in blocks:
        index = [i for i in block if i < len(trace.times_ms)]
        if not index:
            continue
        totals = trace.run_ms[index] if len(trace.run_ms) >= max(index) + 1 else trace.times_ms[index].sum(axis=1)
        keep = [i for i, total in zip(index, totals, strict=True) if total <= OUTLIER_FACTOR * float(np.median(totals))]
        per_block.append(trace.times_ms[keep or index].mean(axis=0))
    if not per_block:
        raise EdgeoptError("the trace holds none of the timed runs", hint="this is a bug; please report it")
    matrix = np.array(per_block)
    return np.median(matrix, axis=0), matrix


def _map(trace: KernelTrace, rows: Sequence[LayerRow] | None) -> KernelMapping:
    if trace.graph is not None:
        mapping = map_onnx_nodes(trace.graph, rows)
        for kernel in trace.kernels:
            mapping.kernel_rows[kernel.name] = mapping.node_rows.get(kernel.node, "") if kernel.node else ""
        return mapping
    listed = [(k.name, k.op) for k in trace.kernels]
    if any(k.kind == "delegate" for k in trace.kernels):
        mapping = map_ordered_kernels(listed, None)
        mapping.note = trace.note
        return mapping
    return map_ordered_kernels(listed, rows)


def _assemble(base: dict[str, Any], trace: KernelTrace, mapping: KernelMapping, times: np.ndarray,
              per_block: np.ndarray, stats: dict[str, LatencyStats], blocks: Sequence[range],
              runs_per_round: int) -> LayerProfile:
    kernels = []
    for index, kernel in enumerate(trace.kernels):
        row = mapping.kernel_rows.get(kernel.name, "")
        layer = mapping.segments.get(row, row) if row else NOT_MAPPED
        kernels.append(KernelTime(kernel.name, kernel.op, kernel.kind, float(times[index]), row, layer, kernel.node))
    layers = _layers(mapping, kernels, trace, per_block)
    plain = stats.get("plain")
    traced_runs = [i for block in blocks for i in block if i < len(trace.run_ms)]
    notes = [n for n in (mapping.note, trace.note) if n]
    return LayerProfile(
        **base, traced=True, layers=layers, kernels=kernels, node_rows=dict(mapping.node_rows),
        whole_model_ms=plain.median_ms if plain else None, whole_model_spread_ms=plain.spread_ms if plain else None,
        traced_run_ms=float(statistics.median(trace.run_ms[traced_runs])) if traced_runs else None,
        mapping=mapping.method, note="; ".join(dict.fromkeys(notes)), rounds=len(blocks),
        runs_per_round=runs_per_round, retries=(plain.retries if plain else 0) + stats["traced"].retries)


def _layers(mapping: KernelMapping, kernels: list[KernelTime], trace: KernelTrace,
            per_block: np.ndarray) -> list[LayerTime]:
    order = {row.name: i for i, row in enumerate(mapping.rows)}
    members: dict[str, list[str]] = {}
    for row in mapping.rows:
        members.setdefault(mapping.segments.get(row.name, row.name), []).append(row.name)
    op_of = {row.name: row.op_type for row in mapping.rows}
    index_of = {k.name: i for i, k in enumerate(trace.kernels)}
    by_layer: dict[str, list[KernelTime]] = {}
    for kernel in kernels:
        by_layer.setdefault(kernel.layer, []).append(kernel)
    out = []
    for name in sorted(set(members) | set(by_layer), key=lambda n: order.get(n, len(order))):
        ran = by_layer.get(name, [])
        columns = [index_of[k.name] for k in ran]
        sums = per_block[:, columns].sum(axis=1) if columns else np.zeros(1)
        rows = tuple(members.get(name, ()))
        out.append(LayerTime(
            name=name, rows=rows, op_types=tuple(op_of.get(r, "?") for r in rows),
            ms=float(sum(k.ms for k in ran)), spread_ms=(float(sums.min()), float(sums.max())),
            kernels=tuple(k.name for k in ran),
            layout_ms=float(sum(k.ms for k in ran if k.kind in ("layout", "qdq")))))
    return sorted(out, key=lambda layer: -layer.ms)


def _input(art: Artifact, runner: Any, given: npt.NDArray[np.float32] | None,
           shape: Sequence[int] | None) -> npt.NDArray[np.float32]:
    if given is not None:
        return np.ascontiguousarray(given, dtype=np.float32)
    known = tuple(shape) if shape is not None else runner.example_shape(1) or art.input_shape
    if not known:
        raise EdgeoptError(f"cannot tell the input shape of {str(art.path)!r}", hint="pass the input shape")
    return np.random.default_rng(0).standard_normal((1, *tuple(known)[1:])).astype(np.float32)


def with_layer_profile(artifact: Artifact, profile: LayerProfile) -> Artifact:
    """A copy of ``artifact`` carrying ``profile`` as its ``layer_profile`` field (what results.json
    keeps and the HTML report's per-layer section shows).

    Example:
        >>> with_layer_profile(art, profile_layers(art.path)).model_extra["layer_profile"]["runtime"]
        'onnxruntime'
    """
    return Artifact.model_validate({**artifact.model_dump(mode="json"), "layer_profile": profile.to_dict()})
