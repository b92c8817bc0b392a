"""Latency as a ratio to a reference network timed beside it: figures that repeat on a noisy host.

On a shared 2-core host the same ONNX file's latency drifts by tens of percent within a minute
(``benchmarks/latency_noise.py``): the hypervisor gives and takes CPU, and a minimum over passes
minutes apart still lands in different phases. A *ratio* to a fixed reference network, timed in
blocks alternating with the file's, moves far less: both see the same phase. This module times
files that way, in ONNX Runtime sessions that do not spin (``session.intra_op.allow_spinning``
0): a spinning session's idle threads compete with the next session's run and its figure then
depends on which session ran before (measured: ratios of spinning sessions varied ±10% between
back-to-back measurements, those of non-spinning ones ±3%).

A figure is the median over passes of the median over rounds of ``file block / reference block``
(each block the median of ``runs`` runs after 2 untimed ones), returned in milliseconds as
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
    from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

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


def quiet_runner(path: Path, threads: int) -> OnnxRuntimeRunner:
    """An ONNX Runtime runner with edgeopt's options whose idle threads sleep instead of spinning."""
    from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

    return OnnxRuntimeRunner(path, threads, spinning=False)


def reference_file(directory: Path) -> Path:
    """Write the reference network (a fixed MobileNetV2-space architecture at width 1.0,
    resolution 128, ~1 ms on 2 cores) as ONNX into ``directory`` and return its path."""
    import random

    import torch

    from edgeopt.fuse.fuser import fuse
    from edgeopt.latency.onnx_writer import write_onnx
    from edgeopt.models.space_net import build_model
    from edgeopt.models.spaces import get_space

    space = get_space("mobilenet_v2")
    arch = space.sample(random.Random(12345), width=1.0, resolution=128)
    shape = (1, space.in_chans, 128, 128)
    torch.manual_seed(0)
    model = build_model(arch, space).eval()
    path = directory / "reference.onnx"
    write_onnx(fuse(model, torch.zeros(shape)), shape, path)
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
    progress: Callable[[int, int], None] | None = None,
) -> RelativeResult:
    """Time each ONNX file against the reference network (see the module docstring).

    Args:
        paths: The ONNX files (any input shape; each is fed seeded noise of its own shape).
        threads: Intra-op threads of every session.
        passes: Passes over all files (a file's passes lie a whole pass apart).
        rounds: Alternating file / reference blocks per file and pass.
        runs: Timed runs per block.
        reference: The reference file (default: :func:`reference_file`, written to a temp dir).
        reference_ms: Pin the scale (e.g. a table's) instead of this run's fastest reference block.
        progress: ``progress(done, total)`` after each file measurement.

    Raises:
        EdgeoptError: a file ONNX Runtime cannot load, or a non-positive count.
    """
    for name, value in (("passes", passes), ("rounds", rounds), ("runs", runs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EdgeoptError(f"{name} must be a positive integer, got {value!r}")
    with tempfile.TemporaryDirectory(prefix="edgeopt-reference-") as tmp:
        ref_runner = quiet_runner(reference or reference_file(Path(tmp)), threads)
    ref_input = _input(ref_runner)
    _block(ref_runner, ref_input, runs)
    fastest_ref = float("inf")
    pass_ratios: list[list[float]] = [[] for _ in paths]
    for pass_index in range(passes):
        for index, path in enumerate(paths):
            runner = quiet_runner(path, threads)
            batch = _input(runner)
            _block(runner, batch, runs)
            ratios = []
            for round_index in range(rounds):
                if round_index % 2:
                    ref, own = _block(ref_runner, ref_input, runs), _block(runner, batch, runs)
                else:
                    own, ref = _block(runner, batch, runs), _block(ref_runner, ref_input, runs)
                ratios.append(own / ref)
                fastest_ref = min(fastest_ref, ref)
            pass_ratios[index].append(float(statistics.median(ratios)))
            del runner
            if progress is not None:
                progress(pass_index * len(paths) + index + 1, passes * len(paths))
    return RelativeResult([float(statistics.median(r)) for r in pass_ratios], pass_ratios,
                          reference_ms if reference_ms is not None else fastest_ref)


def _input(runner: OnnxRuntimeRunner) -> np.ndarray:
    """Seeded noise of the file's input shape (symbolic dimensions as 1)."""
    shape = [d if d is not None and d > 0 else 1 for d in runner.input_shape]
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def _block(runner: OnnxRuntimeRunner, batch: np.ndarray, runs: int) -> float:
    """Median ms of ``runs`` runs after :data:`BLOCK_WARMUP` untimed ones."""
    return runner.time(batch, warmup=BLOCK_WARMUP, runs=runs).median_ms
