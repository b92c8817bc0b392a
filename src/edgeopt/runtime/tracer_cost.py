"""What ONNX Runtime's profiler adds to the kernel times it reports, measured on this host, now.

ONNX Runtime starts a kernel's clock, formats every input's type and shape into the event's
arguments, runs the kernel, formats the outputs, the thread pool's statistics and memory figures,
and only then stops the clock (``KernelScope`` in ONNX Runtime's ``session_scope.cc``). Each
``_kernel_time`` event is therefore longer than the kernel: measured on MobileNetV2 files here,
the kernel sum exceeded the untraced run by 20–60% (~11 µs a layer in fp32, 16–30 µs in int8).

Two things are measured, both on chains of 64 ``Sum`` kernels that do next to no work (of one
and of nine 4-element tensors), each traced and untraced in alternating blocks:

* how the cost inside an event grows with the tensors it lists (``base_ms``, ``per_tensor_ms``:
  event length minus the untraced time per kernel);
* what share of the traced run's extra time lies inside kernel events (``in_event_share``; the
  rest is the fence events and bookkeeping between kernels). Measured here: 0.55–0.56 on these
  chains (three repeats); 0.60–0.63 on six MobileNetV2 files, fp32 and int8, in an ad-hoc check.

:func:`edgeopt.runtime.profile_layers` then takes ``in_event_share`` × (the traced run − the
untraced run of the same file, both measured in its rounds) off the kernels, spread by each
event's weight ``base_ms + per_tensor_ms × tensors`` (:meth:`TracerCost.net`): the file's own
tracer cost, split the way the probes say it falls.

Example:
    >>> cost = ort_tracer_cost(threads=2)
    >>> round(cost.in_event_share, 2), round(cost.per_tensor_ms * 1000, 2)  # share, µs a tensor
    (0.56, 0.15)
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

PROBE_SHAPE = (1, 1, 1, 4)  # rank 4 like a conv's tensors: their shape strings cost what a conv's do
PROBE_FANS = (1, 9)  # inputs per Sum: like an activation, like a QLinearConv


@dataclass(frozen=True)
class TracerCost:
    """The profiler's cost, as measured on the probe chains (see the module docstring).

    Attributes:
        base_ms: The cost inside an event that lists no tensors (extrapolated).
        per_tensor_ms: What each input or output tensor listed adds inside an event.
        in_event_share: The share of a traced run's extra time that lies inside kernel events.
    """

    base_ms: float
    per_tensor_ms: float
    in_event_share: float

    def net(self, times_ms: npt.NDArray[np.float64], tensors: Sequence[int],
            run_extra_ms: float) -> npt.NDArray[np.float64]:
        """Kernel times (last axis: one column per kernel, listing ``tensors``) less each kernel's
        part of ``in_event_share × run_extra_ms``, by its event's weight; never below zero.

        Args:
            times_ms: Kernel times, per kernel (or per block and kernel).
            tensors: Per kernel, the tensors its event lists.
            run_extra_ms: How much longer a traced run took than an untraced one.
        """
        weights = self.base_ms + self.per_tensor_ms * np.asarray(tensors, dtype=np.float64)
        if not len(weights) or weights.sum() <= 0:
            return times_ms
        cost = self.in_event_share * max(run_extra_ms, 0.0) * weights / weights.sum()
        net: npt.NDArray[np.float64] = np.clip(times_ms - cost, 0.0, None)
        return net


def ort_tracer_cost(threads: int, kernels: int = 64, rounds: int = 3, runs: int = 60) -> TracerCost:
    """Measure :class:`TracerCost` in sessions of ``threads`` intra-op threads.

    Each probe chain runs ``rounds`` × ``runs`` times traced and as often untraced, in
    alternating blocks; its figures are medians over the rounds.
    """
    from edgeopt.runtime.kernel_trace import OrtTracer
    from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

    excess: dict[int, float] = {}  # tensors per kernel → event length − untraced time, per kernel
    extra: dict[int, float] = {}  # tensors per kernel → traced − untraced run, per kernel
    batch = np.zeros(PROBE_SHAPE, dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="edgeopt-tracer-cost-") as tmp:
        for fan in PROBE_FANS:
            path = _write_sum_chain(Path(tmp) / f"sum{fan}.onnx", kernels, fan)
            tracer, plain = OrtTracer(path, threads), OnnxRuntimeRunner(path, threads)
            traced_ms, plain_ms, first = [], [], runs  # the first block is a warm-up, left out
            try:
                for _ in range(rounds + 1):
                    start = time.perf_counter()
                    for _ in range(runs):
                        tracer.run(batch)
                    traced_ms.append((time.perf_counter() - start) * 1000 / runs)
                    plain_ms.append(plain.time(batch, warmup=2, runs=runs).median_ms)
                trace = tracer.finish()
            finally:
                tracer.close()
                plain.close()
            if trace.times_ms.shape[1] == 0:  # a build that optimized the chain away: nothing to learn
                return TracerCost(base_ms=0.0, per_tensor_ms=0.0, in_event_share=0.0)
            untraced = statistics.median(plain_ms[1:]) / kernels
            event = float(np.median(trace.times_ms[first:].mean(axis=0)))
            excess[fan + 1] = event - untraced
            extra[fan + 1] = statistics.median(traced_ms[1:]) / kernels - untraced
    (few, low), (many, high) = sorted(excess.items())
    per_tensor = max(0.0, (high - low) / (many - few))
    share = sum(excess.values()) / sum(extra.values()) if sum(extra.values()) > 0 else 0.0
    return TracerCost(base_ms=max(0.0, low - per_tensor * few), per_tensor_ms=per_tensor,
                      in_event_share=min(max(share, 0.0), 1.0))


def _write_sum_chain(path: Path, kernels: int, fan: int) -> Path:
    """An ONNX chain of ``kernels`` ``Sum`` nodes, each adding ``fan - 1`` zero constants to the
    previous output (nothing for the optimizer to fold: the chain starts at the graph input)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    zero = np.zeros(PROBE_SHAPE, dtype=np.float32)
    nodes, constants, previous = [], [], "x"
    for index in range(kernels):
        names = [f"c{index}_{j}" for j in range(fan - 1)]
        constants += [numpy_helper.from_array(zero, name) for name in names]
        nodes.append(helper.make_node("Sum", [previous, *names], [f"t{index}"], name=f"sum{index}"))
        previous = f"t{index}"
    graph = helper.make_graph(
        nodes, "tracer_cost", [helper.make_tensor_value_info("x", TensorProto.FLOAT, PROBE_SHAPE)],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, PROBE_SHAPE)], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
