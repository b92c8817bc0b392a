"""Benchmark artifacts: latency (interleaved, probe-gated), accuracy and peak memory of each.

Every figure is taken on the artifact in the runtime that executes it: accuracy from the
runtime's own outputs on the test split, latency from timed runs of that runtime, memory from a
fresh process that loads the file (DESIGN.md, "Measured, not claimed").

Several artifacts are timed interleaved in rounds with speed probes (see
:func:`~edgeopt.runtime.timing.interleaved_latency`), so their figures are comparable within one
run; a single artifact goes through the same gated rounds.

Torch is imported only for what needs it (a dataset name or ``DatasetSplits``, a ``.pte``, a
checkpoint): ``.onnx`` files measured on :class:`~edgeopt.runtime.arrays.ArrayData` run where
only ONNX Runtime is installed, which is how :mod:`edgeopt.agent` measures on a device.

Example:
    >>> rows = bench(["out/model.onnx", "runs/demo/model.pt"], data="mnist5k", threads=2)
    >>> [(m.format, round(m.latency_ms_median, 2), m.accuracy) for m in rows]
    [('onnx', 0.41, 0.962), ('torch', 1.12, 0.962)]
    >>> bench(["out/model.xml"], threads=2, precision="bf16")[0].execution_precision
    'bf16'
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from edgeopt.artifact import Artifact, Measurement
from edgeopt.errors import EdgeoptError
from edgeopt.runtime.arrays import ArrayData
from edgeopt.runtime.base import BaseRunner, check_threads
from edgeopt.runtime.memory import baseline_peak_memory, peak_memory_of_fresh_process
from edgeopt.runtime.timing import LatencyStats, interleaved_latency

if TYPE_CHECKING:
    from edgeopt.data import DatasetSplits
    from edgeopt.runtime.executorch_runner import ExecuTorchRunner
    from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner
    from edgeopt.runtime.openvino_runner import OpenVINORunner
    from edgeopt.runtime.torch_runner import TorchRunner

DEFAULT_ROUNDS = 5
DEFAULT_GATE_RETRIES = 5  # redos of a block timed in a slow phase (interleaved_latency's max_retries)


def bench(
    artifacts: Sequence[Artifact | str | os.PathLike[str]],
    data: DatasetSplits | ArrayData | str | None = None,
    threads: int = 2,
    runs: int = 50,
    warmup: int = 10,
    memory: bool = True,
    *,
    batch_size: int = 1,
    input_shape: Sequence[int] | None = None,
    rounds: int = DEFAULT_ROUNDS,
    trust_code: bool = False,
    gate_retries: int = DEFAULT_GATE_RETRIES,
    runtime: str | None = None,
    precision: str = "fp32",
) -> list[Measurement]:
    """Measure each artifact: latency, accuracy (with data) and peak memory (optional).

    Args:
        artifacts: :class:`Artifact` s or paths (``.onnx`` runs in ONNX Runtime, ``.pte`` in
            ExecuTorch, ``.xml`` in OpenVINO; ``.pt``,
            ``.safetensors`` checkpoints and ``.pt2`` programs in eager torch).
        data: A dataset name or :class:`DatasetSplits` (accuracy on its test split), or
            :class:`ArrayData` (accuracy on those arrays); the timed input is the first samples.
            None: no accuracy, seeded random input.
        threads: Intra-op threads for every runtime.
        runs: Timed runs per artifact (spread over ``rounds`` rounds, so rounded up to a multiple).
        warmup: Untimed calls per artifact before timing.
        memory: Measure peak memory in fresh processes (a few seconds per artifact).
        batch_size: Batch size of the timed input.
        input_shape: Input shape (batch first) for artifacts that do not record one.
        rounds: Interleaved rounds.
        trust_code: Checkpoints whose root is the user's ``module:factory`` may import it.
        gate_retries: How often a block timed in a slow phase is redone (after a pause).
        runtime: ``"openvino"`` runs ``.onnx`` files in OpenVINO; None: each format's own runtime.
        precision: OpenVINO's execution precision, ``"fp32"`` or ``"bf16"`` (other runtimes: fp32 only).

    Returns:
        One :class:`Measurement` per artifact, in the order given.

    Raises:
        EdgeoptError: a missing or unknown file, an unknown input shape, data that does not fit.
    """
    check_threads(threads)
    if not artifacts:
        raise EdgeoptError("no artifacts to benchmark", hint="pass one or more .onnx / .pt files")
    arrays = _eval_data(data)
    arts = [a if isinstance(a, Artifact) else Artifact.from_file(a) for a in artifacts]
    runners = {f"{i}:{art.path}": open_runner(art, threads, trust_code, runtime=runtime, precision=precision)
               for i, art in enumerate(arts)}
    shapes = {name: _input_shape(art, runners[name], arrays, batch_size, input_shape)
              for name, art in zip(runners, arts, strict=True)}
    inputs = {name: _timing_input(shape, arrays) for name, shape in shapes.items()}
    accuracies = {name: _accuracy(runner, shapes[name], arrays) for name, runner in runners.items()}
    per_round = max(1, math.ceil(runs / rounds))
    latencies = interleaved_latency(runners, inputs, rounds=rounds, runs_per_round=per_round, warmup=warmup,
                                    max_retries=gate_retries)
    return [
        _measurement(art, runners[name], latencies[name], shapes[name], accuracies[name], warmup, memory)
        for name, art in zip(runners, arts, strict=True)
    ]


def open_runner(
    artifact: Artifact, threads: int = 2, trust_code: bool = False, *, runtime: str | None = None,
    precision: str = "fp32",
) -> OnnxRuntimeRunner | ExecuTorchRunner | TorchRunner | OpenVINORunner:
    """The runner for an artifact's format, or for ``runtime`` where the format runs in several.

    Args:
        artifact: The file to run.
        threads: Intra-op threads.
        trust_code: Checkpoints whose root is the user's ``module:factory`` may import it.
        runtime: ``"openvino"`` runs an ``.onnx`` file in OpenVINO; None (or the format's own
            runtime): the format's runtime.
        precision: Execution precision; ``"bf16"`` only in OpenVINO.

    Raises:
        EdgeoptError: no runner for the format, or a runtime / precision it cannot run in.

    Example:
        >>> open_runner(Artifact.from_file("model.onnx")).runtime
        'onnxruntime'
        >>> open_runner(Artifact.from_file("model.onnx"), runtime="openvino", precision="bf16").runtime
        'openvino'
    """
    chosen = _runtime_for(artifact, runtime, precision)
    # Imported here: each runtime (and torch, for two of them) loads only when a file needs it.
    if chosen == "openvino":
        from edgeopt.runtime.openvino_runner import OpenVINORunner

        return OpenVINORunner(artifact.path, threads, precision)
    if artifact.format == "onnx":
        from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

        return OnnxRuntimeRunner(artifact.path, threads)
    if artifact.format == "executorch":
        from edgeopt.runtime.executorch_runner import ExecuTorchRunner

        return ExecuTorchRunner(artifact.path, threads)
    if artifact.format == "torch":
        from edgeopt.runtime.torch_runner import TorchRunner

        return TorchRunner.from_path(artifact.path, threads, trust_code=trust_code)
    raise EdgeoptError(f"no runner for format {artifact.format!r} ({artifact.path})",
                       hint="benchmark .onnx or .pte files, or edgeopt checkpoints (.pt)")


def _runtime_for(artifact: Artifact, runtime: str | None, precision: str) -> str:
    """The runtime ``artifact`` runs in; refuses pairs no runner executes."""
    from edgeopt.artifact import FORMATS

    own = FORMATS[artifact.format].runtime if artifact.format in FORMATS else None
    chosen = runtime or own or ""
    if chosen not in (own, "openvino") or (chosen == "openvino" and artifact.format not in ("onnx", "openvino")):
        raise EdgeoptError(f"{str(artifact.path)!r} ({artifact.format}) does not run in {runtime!r}",
                           hint="--runtime openvino takes .onnx files; other files run in their own runtime")
    if precision != "fp32" and chosen != "openvino":
        raise EdgeoptError(f"{chosen} runs {str(artifact.path)!r} in fp32 only, not {precision!r}",
                           hint="bf16 execution is OpenVINO's: add --runtime openvino (or bench an .xml)")
    return chosen


def _eval_data(data: DatasetSplits | ArrayData | str | os.PathLike[str] | None) -> ArrayData | None:
    """The evaluation arrays: a dataset's test split (loaded by name), or the arrays given."""
    if data is None or isinstance(data, ArrayData):
        return data
    if isinstance(data, (str, os.PathLike)):
        from edgeopt.data import load_dataset

        data = load_dataset(data)
    return ArrayData.from_splits(data)


def timing_input_for(art: Artifact, runner: BaseRunner, batch: int = 1) -> npt.NDArray[np.float32]:
    """Seeded noise of the file's own input shape (a CNN's latency does not depend on the values).

    Raises:
        EdgeoptError: the file does not tell its input shape.
    """
    return _timing_input(_input_shape(art, runner, None, batch, None), None)


def _input_shape(
    art: Artifact, runner: BaseRunner, arrays: ArrayData | None, batch: int,
    given: Sequence[int] | None,
) -> tuple[int, ...]:
    """Batch-``batch`` input shape: given, else the artifact's own, else the data's."""
    if given is not None:
        return (batch, *tuple(given)[1:])
    known = runner.example_shape(batch)
    if known is None and art.input_shape:
        known = (batch, *art.input_shape[1:])
    if known is None and arrays is not None:
        known = arrays.input_shape(batch)
    if known is None:
        raise EdgeoptError(f"cannot tell the input shape of {str(art.path)!r}",
                           hint="pass data (--data) or the input size (--input-size)")
    return tuple(int(d) for d in known)


def _timing_input(shape: tuple[int, ...], arrays: ArrayData | None) -> npt.NDArray[np.float32]:
    """Real test samples when the data fits, else seeded noise (a CNN's latency ignores values)."""
    if arrays is not None:
        x = arrays.x
        if tuple(x.shape[1:]) == shape[1:] and len(x) >= shape[0]:
            real: npt.NDArray[np.float32] = x[: shape[0]].copy()
            return real
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def _accuracy(runner: BaseRunner, shape: tuple[int, ...], arrays: ArrayData | None) -> float | None:
    if arrays is None:
        return None
    sample = tuple(arrays.x.shape[1:])
    if sample != shape[1:]:
        path = getattr(runner, "path", None)
        raise EdgeoptError(
            f"{str(path)!r} takes inputs of shape {shape[1:]} but dataset '{arrays.name}' has {sample}",
            hint="benchmark it on the data it was trained for",
        )
    return None if arrays.y is None else runner.accuracy(arrays)


def _measurement(
    art: Artifact, runner: BaseRunner, latency: LatencyStats, shape: tuple[int, ...],
    accuracy: float | None, warmup: int, memory: bool,
) -> Measurement:
    peak = baseline = None
    if memory:
        trust = bool(getattr(runner, "trust_code", False))
        precision = getattr(runner, "execution_precision", None) or "fp32"
        peak = peak_memory_of_fresh_process(art.path, runner.runtime, shape, runner.threads, trust_code=trust,
                                            precision=precision)
        baseline = baseline_peak_memory(runner.runtime, shape, runner.threads)
    return Measurement(
        runtime=runner.runtime,
        artifact=str(art.path),
        threads=runner.threads,
        batch_size=shape[0],
        latency_ms_median=latency.median_ms,
        latency_ms_p90=latency.p90_ms,
        latency_ms_min=latency.min_ms,
        runs=latency.runs,
        warmup=warmup,
        accuracy=accuracy,
        peak_memory_bytes=peak,
        size_bytes=art.size_bytes,
        format=art.format,
        latency_ms_spread=latency.spread_ms,
        baseline_memory_bytes=baseline,
        execution_precision=getattr(runner, "execution_precision", None),
    )
