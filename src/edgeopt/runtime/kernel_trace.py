"""Per-kernel timings from the runtime itself: ONNX Runtime's session profiler, ExecuTorch's ETDump.

Both runtimes can record how long each kernel of a run took:

* **ONNX Runtime** (``SessionOptions.enable_profiling``) writes a Chrome-trace JSON on
  ``end_profiling()``: per run a ``model_run`` event, and per executed node of the *optimized*
  graph a ``<node>_kernel_time`` event (``dur`` in µs, ``args.op_name``). The optimized graph is
  not the file's: fused nodes are named after the node or value they grew from
  (``getitem_6_nchwc``, ``node_Conv_10_token_1``), layout conversions are added
  (``ReorderOutput``, ``Transpose``), and unnamed nodes are reported as ``<op>_<index>``. The
  tracer saves the optimized graph (``optimized_model_filepath``) and resolves every kernel to
  the node of the file it runs (:meth:`OrtTracer.finish`).
* **ExecuTorch** loads a program with ``enable_etdump=True`` (the pip build of the bindings has
  the event tracer) and writes an ETDump that :class:`executorch.devtools.Inspector` reads: per
  run a ``Method::execute`` event, a ``DELEGATE_CALL`` per delegate call and, where the XNNPACK
  delegate profiles its operators, one event per XNNPACK operator (``Convolution (NHWC, F32)
  IGEMM #3``), in execution order and without a link to the graph (they are mapped by order in
  :mod:`edgeopt.runtime.layer_map`). A delegate that reports no operators is one kernel, named
  for what it is.

Timestamps of both have microsecond resolution, so short kernels are averaged over many runs.

Example:
    >>> tracer = open_tracer(Artifact.from_file("model.onnx"), threads=2)
    >>> for _ in range(20): tracer.run(x)
    >>> trace = tracer.finish()
    >>> trace.kernels[0].name, trace.times_ms.shape
    ('getitem_nchwc', (20, 31))
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeopt.errors import EdgeoptError
from edgeopt.runtime.base import check_threads
from edgeopt.runtime.layer_map import OnnxGraph, op_class


class TraceUnavailable(Exception):
    """This runtime build cannot record per-kernel events; ``str()`` says why."""


@dataclass(frozen=True)
class TracedKernel:
    """One kernel a runtime ran.

    Attributes:
        name: The runtime's name for it (unique within the trace).
        op: Its operator (``Conv``, ``QLinearConv``, ``Convolution (NHWC, QS8) IGEMM``...).
        kind: ``compute``, ``layout`` (a conversion the runtime inserted) or ``qdq``
            (quantize/dequantize), or ``delegate`` (a whole delegate call, operators unknown).
        node: The graph node it runs, where the runtime says (ONNX node key), else ``""``.
        tensors: Inputs and outputs its event lists (ONNX Runtime: what the profiler formats
            while the kernel's clock runs, see :mod:`edgeopt.runtime.tracer_cost`), else 0.
    """

    name: str
    op: str
    kind: str
    node: str = ""
    tensors: int = 0


@dataclass
class KernelTrace:
    """What a tracer recorded.

    Attributes:
        runtime: ``onnxruntime`` or ``executorch``.
        kernels: Kernels in the order of their first execution.
        times_ms: Per run (rows) and kernel (columns), milliseconds.
        run_ms: The runtime's own time for each run (``model_run``, ``Method::execute``).
        graph: The ONNX graph of the file (ONNX Runtime only).
        note: What the trace lacks ("" when it has every kernel).
    """

    runtime: str
    kernels: list[TracedKernel]
    times_ms: npt.NDArray[np.float64]
    run_ms: npt.NDArray[np.float64]
    graph: OnnxGraph | None = None
    note: str = ""


def open_tracer(path: str | os.PathLike[str], fmt: str, threads: int = 2) -> OrtTracer | EtTracer:
    """The tracer for a file's format (``onnx`` or ``executorch``).

    Raises:
        TraceUnavailable: the runtime build cannot record kernel events.
        EdgeoptError: a missing or unreadable file, an unknown format.
    """
    check_threads(threads)
    if fmt == "onnx":
        return OrtTracer(path, threads)
    if fmt == "executorch":
        return EtTracer(path, threads)
    raise EdgeoptError(f"per-layer profiles are made for .onnx and .pte files, not {fmt!r} ({path})",
                       hint="export the model first (edgeopt export)")


# ---------------------------------------------------------------------------------------------
# ONNX Runtime

_SUFFIX = re.compile(r"_token_\d+$")
_ORT_LAYOUT = frozenset({"ReorderInput", "ReorderOutput", "Transpose"})


class OrtTracer:
    """An ONNX Runtime session with profiling on, and the optimized graph it runs saved aside.

    The session uses edgeopt's :func:`~edgeopt.runtime.onnxruntime_runner.session_options`
    (same threads, same graph optimizations as every measurement), plus profiling.
    """

    runtime = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], threads: int = 2) -> None:
        import onnx
        import onnxruntime as ort

        from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner, session_options

        self.path = Path(path)
        self.threads = threads
        OnnxRuntimeRunner(self.path, threads).close()  # the runner's checks and one-line errors
        self._dir = tempfile.mkdtemp(prefix="edgeopt-trace-")
        options = session_options(threads)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(self._dir) / "ort")
        options.optimized_model_filepath = str(Path(self._dir) / "optimized.onnx")
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name: str = self.session.get_inputs()[0].name
        self.graph = OnnxGraph(onnx.load(str(self.path), load_external_data=False))
        self._optimized = onnx.load(options.optimized_model_filepath, load_external_data=False).graph
        self.count = 0

    def run(self, batch: npt.NDArray[np.float32]) -> None:
        """One profiled run."""
        self.session.run(None, {self.input_name: batch})
        self.count += 1

    def finish(self) -> KernelTrace:
        """Stop profiling, read the trace and resolve each kernel to the file's node it runs."""
        try:
            events = json.loads(Path(self.session.end_profiling()).read_text())
        finally:
            self.session = None
            shutil.rmtree(self._dir, ignore_errors=True)
        runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                      if e.get("cat") == "Session" and e.get("name") == "model_run")
        nodes = [e for e in events if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time")]
        order: dict[str, int] = {}
        ops: dict[str, str] = {}
        tensors: dict[str, int] = {}
        for event in sorted(nodes, key=lambda e: e["ts"]):
            name = event["name"][: -len("_kernel_time")]
            order.setdefault(name, len(order))
            args = event.get("args", {})
            ops.setdefault(name, str(args.get("op_name", "")))
            tensors.setdefault(name, _listed(args.get("input_type_shape")) + _listed(args.get("output_type_shape")))
        times = np.zeros((len(runs), len(order)))
        starts = np.array([start for start, _ in runs])
        for event in nodes:
            run = int(np.searchsorted(starts, event["ts"], side="right")) - 1
            if 0 <= run < len(runs) and event["ts"] <= runs[run][1]:
                times[run, order[event["name"][: -len("_kernel_time")]]] += event["dur"] / 1000.0
        names = sorted(order, key=order.__getitem__)
        kernels = self._resolve(names, ops, tensors)
        run_ms = np.array([(end - start) / 1000.0 for start, end in runs])
        return KernelTrace("onnxruntime", kernels, times, run_ms, self.graph)

    def _resolve(self, names: list[str], ops: dict[str, str], tensors: dict[str, int]) -> list[TracedKernel]:
        optimized = {node.name: node for node in self._optimized.node if node.name}
        resolved: list[TracedKernel] = []
        for name in names:
            op = ops.get(name, "")
            node = self._original_node(name, optimized.get(name))
            if node and op_class(op) in ("mac", "dwmac") and not self.graph.is_mac(node):
                # A fused conv named after its last node (the activation, the add): it runs the conv.
                node = self.graph.owner.get(node, node)
            kind = "layout" if op in _ORT_LAYOUT else "qdq" if op_class(op) == "qdq" else "compute"
            resolved.append(TracedKernel(name, op, kind, node, tensors.get(name, 0)))
        # What the names do not tell: a layout kernel before a node (ReorderInput, Transpose)
        # converts that node's input; any other kernel (a fused node ORT named <op>_<index>)
        # belongs with the kernel that ran before it.
        out = list(resolved)
        for index, kernel in enumerate(resolved):
            if kernel.node:
                continue
            later = next((k.node for k in resolved[index + 1:] if k.node), "")
            earlier = next((k.node for k in reversed(out[:index]) if k.node), "")
            node = (later or earlier) if kernel.kind == "layout" else (earlier or later)
            out[index] = TracedKernel(kernel.name, kernel.op, kernel.kind, node, kernel.tensors)
        return out

    def _original_node(self, name: str, optimized: Any) -> str:
        graph = self.graph
        candidates = [name]
        stem = name[: -len("_nchwc")] if name.endswith("_nchwc") else name
        candidates += [stem, _SUFFIX.sub("", stem)]
        for candidate in candidates:
            if candidate in graph.by_key:
                return candidate
            if candidate in graph.producer:
                return graph.producer[candidate]
        if optimized is not None:  # a renamed fused node whose output kept its original name
            produced = [graph.producer[o] for o in optimized.output if o in graph.producer]
            if produced:
                return max(produced, key=graph.position.__getitem__)
        return ""

    def close(self) -> None:
        """Drop the session and the temporary files (when :meth:`finish` was not called)."""
        if self.session is not None:
            with contextlib.suppress(Exception):
                Path(self.session.end_profiling()).unlink(missing_ok=True)
            self.session = None
        shutil.rmtree(self._dir, ignore_errors=True)


def _listed(value: Any) -> int:
    """How many tensors an event argument lists (a JSON list, or its text in older builds)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return 0
    return len(value) if isinstance(value, list) else 0


# ---------------------------------------------------------------------------------------------
# ExecuTorch

_FRAMEWORK = frozenset({"Method::execute", "Method::init", "Program::load_method", "DELEGATE_CALL"})


class EtTracer:
    """An ExecuTorch program loaded with its event tracer (ETDump) on.

    The threadpool is sized before the method is loaded (see
    :mod:`edgeopt.runtime.executorch_runner` for why); a run after another runner resized the
    pool is refused rather than run on a freed pool.
    """

    runtime = "executorch"

    def __init__(self, path: str | os.PathLike[str], threads: int = 2) -> None:
        from edgeopt.runtime.executorch_runner import ExecuTorchRunner

        self.path = Path(path)
        self.threads = threads
        ExecuTorchRunner(self.path, threads).close()  # the runner's file checks and one-line errors
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from executorch.devtools import Inspector  # noqa: F401 - needed by finish()
                from executorch.runtime import Runtime
        except ImportError as exc:
            raise TraceUnavailable(f"this ExecuTorch install has no devtools to read event traces ({exc})") from exc
        import torch

        from edgeopt.runtime.executorch_runner import set_threadpool_size

        self._torch = torch
        self._dir = tempfile.mkdtemp(prefix="edgeopt-etdump-")
        set_threadpool_size(threads)
        try:
            self._program: Any = Runtime.get().load_program(self.path, enable_etdump=True, debug_buffer_size=0)
            self._method: Any = self._program.load_method("forward")
        except Exception as exc:  # a build without the event tracer refuses enable_etdump
            shutil.rmtree(self._dir, ignore_errors=True)
            raise TraceUnavailable(f"ExecuTorch could not load the program with its event tracer: {exc}") from exc
        if not hasattr(self._program, "write_etdump_result_to_file"):
            raise TraceUnavailable("this ExecuTorch build cannot write ETDump files")
        self.count = 0

    def run(self, batch: npt.NDArray[np.float32]) -> None:
        """One traced run."""
        from edgeopt.runtime.executorch_runner import threadpool_size

        if threadpool_size() != self.threads:  # the method holds a pointer to the old pool
            raise TraceUnavailable("the ExecuTorch threadpool was resized during tracing")
        self._method.execute([self._torch.from_numpy(batch)])
        self.count += 1

    def finish(self) -> KernelTrace:
        """Write the ETDump, read it with the Inspector, one column per kernel."""
        try:
            dump = Path(self._dir) / "trace.etdp"
            self._program.write_etdump_result_to_file(str(dump), str(Path(self._dir) / "debug.bin"))
            if not dump.is_file() or dump.stat().st_size == 0:
                raise TraceUnavailable("this ExecuTorch build wrote no ETDump (its event tracer is off)")
            return _read_etdump(dump, self.count)
        finally:
            self.close()

    def close(self) -> None:
        """Drop the program and the temporary files."""
        self._method = None
        self._program = None
        shutil.rmtree(self._dir, ignore_errors=True)


def _read_etdump(dump: Path, runs: int) -> KernelTrace:
    with warnings.catch_warnings(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")
        from executorch.devtools import Inspector

        inspector = Inspector(etdump_path=str(dump))
    blocks = [b for b in inspector.event_blocks if any(e.name == "Method::execute" for e in b.events)]
    if not blocks:
        raise TraceUnavailable("the ETDump holds no executed runs")
    events = blocks[0].events
    total = next(e for e in events if e.name == "Method::execute")
    run_ms = np.array(_raw(total, runs))
    kernels: list[TracedKernel] = []
    columns: list[list[float]] = []
    delegate_ops = [e for e in events if e.name not in _FRAMEWORK and e.is_delegated_op]
    taken: set[str] = set()
    for event in events:
        if event.name in ("Method::execute", "Method::init", "Program::load_method"):
            continue
        if event.name == "DELEGATE_CALL" and delegate_ops:
            continue  # its operators are listed; the call's own overhead is in the run total
        name = event.name if event.name not in taken else f"{event.name} [{len(taken)}]"
        taken.add(name)
        op = re.sub(r"\s+#\d+$", "", event.name)
        if event.name == "DELEGATE_CALL":
            op, kind = f"{event.delegate_backend_name or 'delegate'} delegate (operators not reported)", "delegate"
        else:
            kind = "layout" if op_class(op) == "layout" else "qdq" if op_class(op) == "qdq" else "compute"
        kernels.append(TracedKernel(name, op, kind))
        columns.append(_raw(event, runs))
    times = np.array(columns, dtype=np.float64).T if columns else np.zeros((len(run_ms), 0))
    note = "" if delegate_ops else "the delegate reported no per-operator events: each call is one kernel"
    return KernelTrace("executorch", kernels, times, run_ms, None, note)


def _raw(event: Any, runs: int) -> list[float]:
    raw = list(event.perf_data.raw) if event.perf_data is not None else []
    if len(raw) < runs:  # an event missing from early runs: count those as 0
        raw = [0.0] * (runs - len(raw)) + raw
    return [float(v) for v in raw[-runs:]]
