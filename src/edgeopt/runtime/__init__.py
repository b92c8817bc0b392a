"""Runtimes: run an artifact, and measure it (latency, accuracy, peak memory) where it runs.

Example:
    >>> from edgeopt.runtime import OnnxRuntimeRunner, bench
    >>> OnnxRuntimeRunner("model.onnx", threads=2).time(batch).median_ms
    0.41
    >>> [m.to_dict() for m in bench(["model.onnx", "model.pt"], data="mnist5k")]
"""

from edgeopt.runtime.base import BaseRunner, Measurement, Runner
from edgeopt.runtime.bench import bench, open_runner
from edgeopt.runtime.executorch_runner import ExecuTorchRunner, set_threadpool_size, threadpool_size
from edgeopt.runtime.memory import baseline_peak_memory, peak_memory_of_fresh_process
from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner, session_options
from edgeopt.runtime.timing import LatencyStats, interleaved_latency, measure_latency, speed_probe
from edgeopt.runtime.torch_runner import TorchRunner, scoped_threads

__all__ = [
    "BaseRunner",
    "ExecuTorchRunner",
    "LatencyStats",
    "Measurement",
    "OnnxRuntimeRunner",
    "Runner",
    "TorchRunner",
    "baseline_peak_memory",
    "bench",
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
