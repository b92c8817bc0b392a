"""Where and how a trial's files run, and their measurement: latency, accuracy and size on the file.

A deployment is a file in a runtime at an execution precision and a thread count. All
deployments of one trial are timed in one interleaved run (same input, alternating order, speed
probes), and accuracy is measured on each file in each runtime and precision that can change it
(threads cannot), on the test split (which decides the accuracy bound) and the validation split
(reported beside it).

Example:
    >>> [d.label for d in deployments_for(Choice(calibration="minmax"), ("onnxruntime",), bf16=False, threads=(1,))]
    ['onnxruntime fp32 ×1', 'onnxruntime int8 ×1']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeopt.errors import EdgeoptError
from edgeopt.optimize.choices import Choice

if TYPE_CHECKING:
    from edgeopt.optimize.variants import RunContext, Variant
    from edgeopt.runtime.base import BaseRunner

TIMING_ROUNDS = 5
RUNS_PER_ROUND = 20


@dataclass(frozen=True)
class Deployment:
    """A file in a runtime.

    Attributes:
        runtime: ``onnxruntime``, ``openvino`` or ``executorch``.
        precision: What the file computes in: ``fp32``, ``bf16`` (OpenVINO running the fp32
            file in bf16) or ``int8``.
        threads: Intra-op threads.
        calibration: The int8 file's calibration (``pt2e`` for ExecuTorch's own observers).
    """

    runtime: str
    precision: str
    threads: int
    calibration: str | None = None

    @property
    def label(self) -> str:
        """``onnxruntime int8 ×2`` (runtime, precision, threads)."""
        return f"{self.runtime} {self.precision} ×{self.threads}"

    @property
    def execution_precision(self) -> str:
        """The runner's precision option (``bf16`` only for OpenVINO's bf16 execution)."""
        return "bf16" if self.precision == "bf16" else "fp32"

    @property
    def file_precision(self) -> str:
        """The file it runs: ``int8`` or ``fp32`` (bf16 runs the fp32 file)."""
        return "int8" if self.precision == "int8" else "fp32"

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


def deployments_for(choice: Choice, runtimes: tuple[str, ...], *, bf16: bool, threads: tuple[int, ...],
                    first_calibration: str = "minmax") -> list[Deployment]:
    """Every deployment of ``choice``'s model in ``runtimes`` at each thread count.

    The fp32 file in every runtime (and in bf16 in OpenVINO with ``bf16``); with a calibration,
    the int8 files too. ExecuTorch's int8 file is made by PT2E with its own observers, so it is
    tried in the trials with ``first_calibration`` only (the baseline's first trial among them).
    """
    out: list[Deployment] = []
    for runtime in runtimes:
        precisions = ["fp32", "bf16"] if runtime == "openvino" and bf16 else ["fp32"]
        out += [Deployment(runtime, p, t) for p in precisions for t in threads]
        if choice.calibration is None:
            continue
        if runtime != "executorch":
            out += [Deployment(runtime, "int8", t, choice.calibration) for t in threads]
        elif choice.calibration == first_calibration:
            out += [Deployment(runtime, "int8", t, "pt2e") for t in threads]
    return out


def measure(variant: Variant, choice: Choice, deployments: list[Deployment], context: RunContext,
            rounds: int = TIMING_ROUNDS) -> list[dict[str, Any]]:
    """Make the files, then time every deployment in one interleaved run and measure accuracy.

    A runtime that cannot take a file (an operator it lacks) costs that deployment only: its row
    carries ``error`` and no latency.

    Returns:
        One row per deployment: its fields, ``file``, ``size_bytes``, ``latency_ms``, ``p90_ms``,
        ``spread_ms``, ``accuracy_val``, ``accuracy_test`` (percent) or ``error``.
    """
    from edgeopt.runtime.timing import interleaved_latency

    rows: dict[str, dict[str, Any]] = {}
    runners: dict[str, BaseRunner] = {}
    accuracy: dict[tuple[str, str, str], tuple[float, float]] = {}
    for d in deployments:
        row: dict[str, Any] = {**d.to_dict(), "label": d.label}
        rows[d.label] = row
        try:
            path = variant.file(d.file_precision, d.runtime, context, d.calibration)
            row.update(file=str(path), size_bytes=path.stat().st_size)
            runners[d.label] = _runner(path, d)
            key = (str(path), d.runtime, d.execution_precision)
            if key not in accuracy:
                accuracy[key] = accuracies(runners[d.label], context)
            row["accuracy_val"], row["accuracy_test"] = accuracy[key]
        except EdgeoptError as exc:
            row["error"] = str(exc).splitlines()[0]
            runners.pop(d.label, None)
    if runners:
        sample = timing_input(context)
        timed = interleaved_latency(runners, sample, rounds=rounds, runs_per_round=RUNS_PER_ROUND, max_retries=2)
        for label, stats in timed.items():
            rows[label].update(latency_ms=stats.median_ms, p90_ms=stats.p90_ms,
                               spread_ms=list(stats.spread_ms))
    for runner in runners.values():
        close = getattr(runner, "close", None)
        if callable(close):
            close()
    return list(rows.values())


def open_deployment(path: str, deployment: Deployment) -> BaseRunner:
    """The runner of ``path`` as ``deployment`` says (runtime, execution precision, threads)."""
    return _runner(path, deployment)


def timing_input(context: RunContext) -> np.ndarray:
    """One real test image, batch 1: every deployment is timed on the same input."""
    first = context.splits.test[0][0]
    return np.asarray(first, dtype=np.float32)[None]


def _runner(path: Any, deployment: Deployment) -> BaseRunner:
    from edgeopt.artifact import Artifact
    from edgeopt.runtime.benchmark import open_runner

    runtime = "openvino" if deployment.runtime == "openvino" else None
    return open_runner(Artifact.from_file(path), deployment.threads, runtime=runtime,
                       precision=deployment.execution_precision)


def accuracies(runner: BaseRunner, context: RunContext) -> tuple[float, float]:
    """Validation and test accuracy (percent) of the file in its runtime."""
    return 100.0 * runner.accuracy(context.splits.val), 100.0 * runner.accuracy(context.splits.test)
