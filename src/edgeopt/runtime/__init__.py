"""Runtimes: run an artifact, and measure it (latency, accuracy, peak memory) where it runs.

Names are imported lazily (PEP 562): ``edgeopt.runtime.timing`` alone does not load ONNX Runtime
or ExecuTorch (or OpenVINO). Measuring ``.onnx`` files needs no torch (``bench`` on paths with ``ArrayData`` or
no data; the ONNX Runtime runner, timing and fresh-process memory import without it).

Example:
    >>> from edgeopt.runtime import OnnxRuntimeRunner, bench
    >>> OnnxRuntimeRunner("model.onnx", threads=2).time(batch).median_ms
    0.41
    >>> [m.to_dict() for m in bench(["model.onnx", "model.pt"], data="mnist5k")]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it (bench lives in benchmark.py: a submodule named bench
# would replace the function on the package once imported)
_EXPORTS: dict[str, str] = {
    "ArrayData": "edgeopt.runtime.arrays",
    "BaseRunner": "edgeopt.runtime.base",
    "Runner": "edgeopt.runtime.base",
    "bench": "edgeopt.runtime.benchmark",
    "open_runner": "edgeopt.runtime.benchmark",
    "ExecuTorchRunner": "edgeopt.runtime.executorch_runner",
    "LatencyGate": "edgeopt.runtime.gate",
    "compare_files": "edgeopt.runtime.gate",
    "set_threadpool_size": "edgeopt.runtime.executorch_runner",
    "threadpool_size": "edgeopt.runtime.executorch_runner",
    "baseline_peak_memory": "edgeopt.runtime.memory",
    "peak_memory_of_fresh_process": "edgeopt.runtime.memory",
    "OnnxRuntimeRunner": "edgeopt.runtime.onnxruntime_runner",
    "session_options": "edgeopt.runtime.onnxruntime_runner",
    "OpenVINORunner": "edgeopt.runtime.openvino_runner",
    "LatencyStats": "edgeopt.runtime.timing",
    "interleaved_latency": "edgeopt.runtime.timing",
    "measure_latency": "edgeopt.runtime.timing",
    "speed_probe": "edgeopt.runtime.timing",
    "TorchRunner": "edgeopt.runtime.torch_runner",
    "scoped_threads": "edgeopt.runtime.torch_runner",
    # the type lives below every package that uses it; named here for API users
    "Measurement": "edgeopt.artifact",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "ArrayData",
    "BaseRunner",
    "ExecuTorchRunner",
    "LatencyGate",
    "LatencyStats",
    "Measurement",
    "OnnxRuntimeRunner",
    "OpenVINORunner",
    "Runner",
    "TorchRunner",
    "baseline_peak_memory",
    "bench",
    "compare_files",
    "interleaved_latency",
    "measure_latency",
    "open_runner",
    "peak_memory_of_fresh_process",
    "scoped_threads",
    "session_options",
    "set_threadpool_size",
    "speed_probe",
    "threadpool_size",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.artifact import Measurement as Measurement
    from edgeopt.runtime.arrays import ArrayData as ArrayData
    from edgeopt.runtime.base import BaseRunner as BaseRunner, Runner as Runner
    from edgeopt.runtime.benchmark import bench as bench, open_runner as open_runner
    from edgeopt.runtime.executorch_runner import (
        ExecuTorchRunner as ExecuTorchRunner,
        set_threadpool_size as set_threadpool_size,
        threadpool_size as threadpool_size,
    )
    from edgeopt.runtime.gate import LatencyGate as LatencyGate, compare_files as compare_files
    from edgeopt.runtime.memory import (
        baseline_peak_memory as baseline_peak_memory,
        peak_memory_of_fresh_process as peak_memory_of_fresh_process,
    )
    from edgeopt.runtime.onnxruntime_runner import (
        OnnxRuntimeRunner as OnnxRuntimeRunner,
        session_options as session_options,
    )
    from edgeopt.runtime.openvino_runner import OpenVINORunner as OpenVINORunner
    from edgeopt.runtime.timing import (
        LatencyStats as LatencyStats,
        interleaved_latency as interleaved_latency,
        measure_latency as measure_latency,
        speed_probe as speed_probe,
    )
    from edgeopt.runtime.torch_runner import TorchRunner as TorchRunner, scoped_threads as scoped_threads
