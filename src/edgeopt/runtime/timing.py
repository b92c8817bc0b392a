"""Latency measurement: warm-up then timed runs, and interleaved comparisons gated by speed probes.

Timing on a shared or throttling machine is noisy, and noise only ever slows a run (DESIGN.md,
"Machine facts"). So a comparison of several variants:

1. interleaves them in rounds (A B, then B A, ...) so a slow phase hits all of them alike;
2. brackets each timed block with a :func:`speed_probe` (a fixed small matmul) and, when a probe
   ran more than ``slow_factor`` x slower than the fastest probe seen (a slow phase), pauses and
   redoes the block — pausing, because slow phases last seconds and an immediate redo would land
   in the same one;
3. reports, per variant, the median of its round medians, the p90 of all its samples and the
   spread (min and max of the round medians), so the reader sees how steady the figure is.

"Slow" is relative to the fastest probe seen, so a measurement that sits in a slow phase from
start to end cannot tell; that is why a published figure is the minimum of the medians of several
passes made minutes apart (see ``benchmarks/``).

Example:
    >>> stats = measure_latency(lambda: session.run(None, feed), warmup=10, runs=50)
    >>> stats.median_ms <= stats.p90_ms
    True
    >>> results = interleaved_latency({"torch": torch_runner, "onnx": ort_runner}, batch)
    >>> results["onnx"].spread_ms
    (1.91, 2.07)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edgeopt.errors import EdgeoptError

# The probe: 4 products of 192x192 matrices on 2 threads, ~0.4 ms on a quiet machine. Each
# product is a parallel region whose threads must all finish, so the probe feels what 2-thread
# CNN kernels feel (seen here: 60 ms in a phase of contention, when eager torch ran 40x slower).
# The median of 3 tries: one preemption does not pass for a slow phase; a phase slows them all.
_PROBE_SIZE, _PROBE_MATMULS, _PROBE_TRIES, _PROBE_THREADS = 192, 4, 3, 2
_PROBE_SEEDING = 3  # probes taken before the first block, so "fastest seen" starts sensible


class Timeable(Protocol):
    """What :func:`interleaved_latency` times: anything with a ``time`` method, e.g. every runner.

    Declared here rather than using :class:`~edgeopt.runtime.base.Runner`: the runners time
    themselves with this module, so importing theirs here would make the two modules import each other.
    """

    def time(self, input: np.ndarray, warmup: int = 10, runs: int = 50) -> LatencyStats:
        """Latency of one call on ``input``."""
        ...


@dataclass(frozen=True)
class LatencyStats:
    """Latency figures of one variant, in milliseconds.

    Attributes:
        median_ms: Median latency; for an interleaved measurement, the median of round medians.
        p90_ms: 90th percentile of all samples.
        min_ms: Fastest sample.
        samples_ms: Every timed run, in order.
        round_medians_ms: Median of each round (interleaved measurements only).
        retries: Blocks redone because a speed probe showed a slow phase.
        slow_blocks: Blocks kept although still slow after the last retry.
    """

    median_ms: float
    p90_ms: float
    min_ms: float
    samples_ms: tuple[float, ...]
    round_medians_ms: tuple[float, ...] = ()
    retries: int = 0
    slow_blocks: int = 0

    @classmethod
    def from_samples(cls, samples_ms: list[float], round_medians_ms: list[float] | None = None,
                     retries: int = 0, slow_blocks: int = 0) -> LatencyStats:
        """Summarise samples (and round medians, whose median then is the headline figure)."""
        if not samples_ms:
            raise EdgeoptError("no latency samples to summarise", hint="use runs >= 1")
        rounds = tuple(round_medians_ms or ())
        median = statistics.median(rounds) if rounds else statistics.median(samples_ms)
        return cls(float(median), float(np.percentile(samples_ms, 90)), float(min(samples_ms)),
                   tuple(samples_ms), rounds, retries, slow_blocks)

    @property
    def runs(self) -> int:
        """Number of timed runs."""
        return len(self.samples_ms)

    @property
    def spread_ms(self) -> tuple[float, float]:
        """Min and max of the round medians (the median twice for a single block)."""
        values = self.round_medians_ms or (self.median_ms,)
        return (min(values), max(values))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (samples included, rounded to microseconds)."""
        return {
            "median_ms": self.median_ms, "p90_ms": self.p90_ms, "min_ms": self.min_ms,
            "runs": self.runs, "spread_ms": list(self.spread_ms),
            "round_medians_ms": list(self.round_medians_ms),
            "retries": self.retries, "slow_blocks": self.slow_blocks,
            "samples_ms": [round(s, 3) for s in self.samples_ms],
        }


def measure_latency(fn: Callable[[], Any], warmup: int = 10, runs: int = 50) -> LatencyStats:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times timed with ``perf_counter_ns``.

    Example:
        >>> measure_latency(lambda: sum(range(1000)), warmup=2, runs=50).runs
        50
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise EdgeoptError(f"runs must be a positive integer, got {runs!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise EdgeoptError(f"warmup must be a non-negative integer, got {warmup!r}")
    for _ in range(warmup):  # first calls allocate buffers, pick kernels, spin up thread pools
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return LatencyStats.from_samples(samples)


_probe_state: dict[str, tuple[Any, ...]] = {}


def speed_probe() -> float:
    """Time a fixed small matmul workload on 2 threads, in ms (lower = machine in a fast phase).

    The workload runs in torch when torch is installed (its thread count is restored
    afterwards), else in ONNX Runtime, so a process that measures ONNX files where torch is absent
    (an edge device, :mod:`edgeopt.agent`) gates its timing the same way. Either way the figure
    is only ever compared with other probes of the same process.

    Not numpy's matmul: its BLAS (OpenBLAS) keeps its worker threads busy-waiting for about a
    tenth of a second after each call, and a block timed right after such a probe competed with
    them (measured here: MobileNetV2 at 224 ran in 9.9 ms after a numpy probe, 5.1-5.2 ms after a
    torch probe or none). The ONNX Runtime probe's session does not spin (``allow_spinning`` 0).

    Example:
        >>> 0 < speed_probe() < 50
        True
    """
    try:
        import torch
    except ImportError:
        return _onnxruntime_probe()
    if "torch" not in _probe_state:
        generator = torch.Generator().manual_seed(0)
        _probe_state["torch"] = (
            torch.randn(_PROBE_SIZE, _PROBE_SIZE, generator=generator),
            torch.randn(_PROBE_SIZE, _PROBE_SIZE, generator=generator),
        )
    a, b = _probe_state["torch"]
    threads = torch.get_num_threads()
    torch.set_num_threads(_PROBE_THREADS)
    try:
        return _median_of_tries(lambda: torch.mm(a, b))
    finally:
        torch.set_num_threads(threads)


def _onnxruntime_probe() -> float:
    """The same workload as one MatMul in ONNX Runtime, on 2 threads that sleep when idle."""
    if "onnxruntime" not in _probe_state:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = _PROBE_THREADS
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(_matmul_model(_PROBE_SIZE), options, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        a = rng.standard_normal((_PROBE_SIZE, _PROBE_SIZE)).astype(np.float32)
        feeds = {"a": a, "b": rng.standard_normal((_PROBE_SIZE, _PROBE_SIZE)).astype(np.float32)}
        _probe_state["onnxruntime"] = (session, feeds)
    session, feeds = _probe_state["onnxruntime"]
    return _median_of_tries(lambda: session.run(None, feeds))


def _matmul_model(n: int) -> bytes:
    """An ONNX model ``c = a @ b`` of float32 n x n matrices, serialised by hand (no onnx package).

    ModelProto {ir_version 8, graph {node MatMul(a, b) -> c, inputs a, b, output c}, opset 13}.
    """

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            low, value = value & 0x7F, value >> 7
            out.append(low | (0x80 if value else 0))
            if not value:
                return bytes(out)

    def number(field: int, value: int) -> bytes:
        return varint(field << 3) + varint(value)

    def message(field: int, payload: bytes) -> bytes:
        return varint(field << 3 | 2) + varint(len(payload)) + payload

    square = message(1, number(1, n)) * 2  # TensorShapeProto: two dims of value n
    tensor_type = message(1, number(1, 1) + message(2, square))  # TypeProto.tensor_type: FLOAT, shape
    def value_info(name: bytes) -> bytes:
        return message(1, name) + message(2, tensor_type)

    node = message(1, b"a") + message(1, b"b") + message(2, b"c") + message(4, b"MatMul")
    graph = (message(1, node) + message(2, b"speed_probe") + message(11, value_info(b"a"))
             + message(11, value_info(b"b")) + message(12, value_info(b"c")))
    return number(1, 8) + message(7, graph) + message(8, number(2, 13))


def _median_of_tries(matmul: Callable[[], Any]) -> float:
    tries = []
    for _ in range(_PROBE_TRIES):
        start = time.perf_counter_ns()
        for _ in range(_PROBE_MATMULS):
            matmul()
        tries.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(tries)


def interleaved_latency(
    runners: Mapping[str, Timeable],
    input: np.ndarray | Mapping[str, np.ndarray],
    rounds: int = 5,
    runs_per_round: int = 20,
    warmup: int = 10,
    *,
    max_retries: int = 5,
    slow_factor: float = 1.3,
    block_warmup: int = 2,
    retry_pause_s: float = 2.0,
) -> dict[str, LatencyStats]:
    """Time several runners on the same input, interleaved in rounds and gated by speed probes.

    Each round times one block of ``runs_per_round`` runs per runner; the order alternates
    (A B, B A, ...) so no runner always follows the same one. A block whose bracketing probes
    show a slow phase (probe > ``slow_factor`` x the fastest probe so far) is redone after a
    ``retry_pause_s`` pause, at most ``max_retries`` times (by default up to ~10 s, the length of
    a slow phase here); if still slow it is kept and counted in ``slow_blocks``.

    Args:
        runners: Name -> runner (anything :class:`Timeable`: every runtime's runner).
        input: The batch every runner is timed on, or one batch per runner name (models with
            different input shapes).
        rounds: Blocks per runner.
        runs_per_round: Timed runs per block.
        warmup: Untimed calls per runner before the first round.
        max_retries: Redos allowed per block.
        slow_factor: Probe slowdown that marks a slow phase.
        block_warmup: Untimed calls at the start of each block (caches go cold between runners).
        retry_pause_s: Seconds to wait before redoing a slow block.

    Returns:
        Name -> :class:`LatencyStats` (median of round medians, p90 and min of all samples).

    Example:
        >>> res = interleaved_latency({"a": runner_a, "b": runner_b}, x, rounds=3, runs_per_round=10)
        >>> sorted(res), res["a"].runs
        (['a', 'b'], 30)
    """
    if not runners:
        raise EdgeoptError("no runners to time")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise EdgeoptError(f"rounds must be a positive integer, got {rounds!r}")
    inputs = dict(input) if isinstance(input, Mapping) else dict.fromkeys(runners, input)
    missing = [name for name in runners if name not in inputs]
    if missing:
        raise EdgeoptError(f"no input given for runners {missing}")
    for name, runner in runners.items():
        runner.time(inputs[name], warmup=warmup, runs=1)
    fastest = min(speed_probe() for _ in range(_PROBE_SEEDING))
    blocks: dict[str, list[LatencyStats]] = {name: [] for name in runners}
    retries = dict.fromkeys(runners, 0)
    slow = dict.fromkeys(runners, 0)
    names = list(runners)
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            block, redone, fastest, still_slow = _gated_block(
                runners[name], inputs[name], runs_per_round, block_warmup, fastest,
                max_retries, slow_factor, retry_pause_s,
            )
            blocks[name].append(block)
            retries[name] += redone
            slow[name] += still_slow
    return {name: _combine(blocks[name], retries[name], slow[name]) for name in names}


def _gated_block(
    runner: Timeable, input: np.ndarray, runs: int, warmup: int, fastest: float,
    max_retries: int, slow_factor: float, pause_s: float,
) -> tuple[LatencyStats, int, float, bool]:
    """One timed block between two probes, redone (after a pause) while they show a slow phase."""
    for attempt in range(max_retries + 1):
        if attempt:
            time.sleep(pause_s)
        before = speed_probe()
        block = runner.time(input, warmup=warmup, runs=runs)
        after = speed_probe()
        fastest = min(fastest, before, after)
        is_slow = max(before, after) > slow_factor * fastest
        if not is_slow:
            return block, attempt, fastest, False
    return block, max_retries, fastest, True


def _combine(blocks: list[LatencyStats], retries: int, slow_blocks: int) -> LatencyStats:
    samples = [s for block in blocks for s in block.samples_ms]
    medians = [block.median_ms for block in blocks]
    return LatencyStats.from_samples(samples, medians, retries, slow_blocks)
