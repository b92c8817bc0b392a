"""Latency as a ratio to a reference network timed beside it: figures that repeat on a noisy host.

On a shared 2-core host the same ONNX file's latency drifts by tens of percent within a minute
(``benchmarks/latency_noise.py``): the hypervisor gives and takes CPU, and a minimum over passes
minutes apart still lands in different phases. A *ratio* to a fixed reference network, timed in
blocks alternating with the file's, moves far less: both see the same phase. This module times
files that way, in ONNX Runtime sessions that do not spin (``session.intra_op.allow_spinning``
0): a spinning session's idle threads compete with the next session's run and its figure then
depends on which session ran before (measured: ratios of spinning sessions varied ±10% between
back-to-back measurements, those of non-spinning ones ±3%).

Files are timed in groups: a round is one block of each file of the group between two blocks of
the reference, and a file's round ratio is its block over the mean of those two (each block the
median of ``runs`` runs after 2 untimed ones). Grouping shares the reference's time among the
files: a table's parts mostly take a tenth of the reference's time, and one reference block per
file made a build four times slower with no better repeatability (40 MobileNetV2 parts:
17 s vs 4 s, median repeat gap 5.5% vs 3.5%). A figure is the median over passes of the
median over rounds of those ratios, returned in milliseconds as
``ratio × scale``; ``scale`` is the reference's fastest block seen, or one the caller pins so
figures measured at different times share a unit.

Example:
    >>> result = measure_relative([Path("a.onnx"), Path("b.onnx")], threads=2, passes=2)
    >>> result.ratios, result.reference_ms
    ([0.82, 1.37], 2.41)
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from edgeopt.runtime.base import BaseRunner

BLOCK_WARMUP = 2


@dataclass(frozen=True)
class RelativeResult:
    """Ratios of each file's latency to the reference's, and the reference's figure.

    Attributes:
        ratios: Per file, the median over passes of its pass ratio.
        pass_ratios: Per file, each pass's ratio (median over rounds).
        reference_ms: The scale: the reference's fastest block median, or the one pinned.
        ms: ``ratio × reference_ms`` per file.
    """

    ratios: list[float]
    pass_ratios: list[list[float]]
    reference_ms: float

    @property
    def ms(self) -> list[float]:
        """Each file's figure in milliseconds."""
        return [r * self.reference_ms for r in self.ratios]


def timing_runner(path: Path, threads: int) -> BaseRunner:
    """The runner a file is timed with here: ONNX Runtime with edgeopt's options but idle threads
    that sleep instead of spinning; ExecuTorch (``.pte``) as edgeopt runs it (its runners share
    one threadpool of ``threads``, so alternating between them reloads nothing)."""
    if path.suffix == ".pte":
        from edgeopt.runtime.executorch_runner import ExecuTorchRunner

        return ExecuTorchRunner(path, threads)
    from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

    return OnnxRuntimeRunner(path, threads, spinning=False)


def reference_file(directory: Path, runtime: str = "onnxruntime") -> Path:
    """Write the reference network (a fixed MobileNetV2-space architecture at width 1.0,
    resolution 128, ~1–2 ms on 2 cores; BatchNorm folded) as the runtime's fp32 file into
    ``directory`` and return its path."""
    import random

    import torch

    from edgeopt.fuse.fuser import fuse
    from edgeopt.latency.probes import make_probe_file
    from edgeopt.models.space_net import build_model
    from edgeopt.models.spaces import get_space

    space = get_space("mobilenet_v2")
    arch = space.sample(random.Random(12345), width=1.0, resolution=128)
    shape = (1, space.in_chans, 128, 128)
    torch.manual_seed(0)
    model = build_model(arch, space).eval()
    path = directory / ("reference.pte" if runtime == "executorch" else "reference.onnx")
    if not path.is_file():
        make_probe_file(fuse(model, torch.zeros(shape)), shape, runtime, "fp32", path)
    return path


def measure_relative(
    paths: Sequence[Path],
    *,
    threads: int = 2,
    passes: int = 2,
    rounds: int = 15,
    runs: int = 10,
    reference: Path | None = None,
    reference_ms: float | None = None,
    group: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> RelativeResult:
    """Time each ONNX or ExecuTorch file against the reference network (see the module docstring).

    Args:
        paths: ONNX or ExecuTorch files (any input shape; each is fed seeded noise of its own
            shape), timed with :func:`timing_runner`.
        threads: Intra-op threads of every session.
        passes: Passes over all files (a file's passes lie a whole pass apart).
        rounds: Rounds per group and pass (a block of each file of the group, then a reference block).
        runs: Timed runs per block.
        reference: The reference file (default: :func:`reference_file` in ONNX, written to a
            temp dir).
        reference_ms: Pin the scale (e.g. a table's) instead of this run's fastest reference block.
        group: Files loaded and timed together between two reference blocks (one reference
            block per round serves them all: building a table is dominated by the reference
            otherwise, as most parts take a tenth of its time).
        progress: ``progress(done, total)`` after each file measurement.

    Raises:
        EdgeoptError: a file its runtime cannot load, or a non-positive count.
    """
    for name, value in (("passes", passes), ("rounds", rounds), ("runs", runs), ("group", group)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EdgeoptError(f"{name} must be a positive integer, got {value!r}")
    with tempfile.TemporaryDirectory(prefix="edgeopt-reference-") as tmp:
        ref_runner = timing_runner(reference or reference_file(Path(tmp)), threads)
    reference_block = _Timed(ref_runner, runs)
    fastest_ref = float("inf")
    pass_ratios: list[list[float]] = [[] for _ in paths]
    done = 0
    for _ in range(passes):
        for start in range(0, len(paths), group):
            timed = [_Timed(timing_runner(path, threads), runs) for path in paths[start : start + group]]
            ratios, reference_fastest = _group_ratios(timed, reference_block, rounds)
            for index, ratio in enumerate(ratios):
                pass_ratios[start + index].append(ratio)
            fastest_ref = min(fastest_ref, reference_fastest)
            del timed
            done += min(group, len(paths) - start)
            if progress is not None:
                progress(done, passes * len(paths))
    return RelativeResult([float(statistics.median(r)) for r in pass_ratios], pass_ratios,
                          reference_ms if reference_ms is not None else fastest_ref)


class _Timed:
    """A runner, its seeded input and block timing."""

    def __init__(self, runner: BaseRunner, runs: int) -> None:
        self.runner, self.runs = runner, runs
        self.batch = _input(runner)
        self.block()  # untimed first block: allocations, first-run kernel choices

    def block(self) -> float:
        """Median ms of ``runs`` runs after :data:`BLOCK_WARMUP` untimed ones."""
        return self.runner.time(self.batch, warmup=BLOCK_WARMUP, runs=self.runs).median_ms


def _group_ratios(files: list[_Timed], reference: _Timed, rounds: int) -> tuple[list[float], float]:
    """Per file, the median over rounds of its block / the mean of the two reference blocks around
    it, and the reference's fastest block. A round is one block of every file, in an order that
    is reversed every other round, so no file always sits next to the same reference block."""
    ratios: list[list[float]] = [[] for _ in files]
    before = fastest = reference.block()
    for round_index in range(rounds):
        order = list(range(len(files)))[:: -1 if round_index % 2 else 1]
        own = {index: files[index].block() for index in order}
        after = reference.block()
        fastest = min(fastest, after)
        for index, ms in own.items():
            ratios[index].append(2 * ms / (before + after))
        before = after
    return [float(statistics.median(r)) for r in ratios], fastest


def _input(runner: BaseRunner) -> np.ndarray:
    """Seeded noise of the file's input shape at batch 1."""
    shape = runner.example_shape(1)
    if shape is None:
        raise EdgeoptError(f"{getattr(runner, 'path', 'a file')}: its input has symbolic dimensions other "
                           "than the batch", hint="time files with a fixed input size")
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)
