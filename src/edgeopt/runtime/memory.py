"""Peak memory of running an artifact, measured in a fresh process.

What is measured: a new Python process imports the runtime, loads the artifact, runs it once on
a batch of ``input_shape`` and reports its peak resident set size (the most memory it ever had
resident at once — interpreter, runtime libraries, weights, the runtime's graph and arena,
activations). A fresh process is used because the current one has already touched memory for
other models, and peak RSS never goes down.

On Linux the figure is ``VmHWM`` from ``/proc/self/status``, not ``getrusage().ru_maxrss``: the
kernel carries ``ru_maxrss`` over from the parent across fork/exec, so a child of a 500 MiB
process reports at least 500 MiB whatever it does (measured here: 519 MiB for a bare
interpreter whose own high-water mark was 10 MiB). ``VmHWM`` belongs to the new process image.
Elsewhere (macOS) ``ru_maxrss`` is used, which macOS reports in bytes.

Most of that figure is the runtime itself (torch alone is a few hundred MiB). So the same is
measured for a *baseline* process that imports the runtime and builds the input but loads
nothing; the artifact's own footprint is the difference. Both are real measurements of this
machine's process; a device with another build of the runtime will differ in the baseline far
more than in the difference.

Figures are returned in bytes. Windows has no ``resource`` module and is not supported.

Example:
    >>> total = peak_memory_of_fresh_process("model.onnx", "onnxruntime", (1, 1, 28, 28))
    >>> total - baseline_peak_memory("onnxruntime", (1, 1, 28, 28))   # the model's own bytes
    4718592
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Sequence

from edgeopt.errors import EdgeoptError, suggest

RUNTIMES = ("onnxruntime", "torch", "executorch", "openvino")
_TIMEOUT_S = 600

# The child process. Kept to the imports each runtime needs, so the baseline is the runtime and
# nothing else. argv: runtime, artifact path ("" for the baseline), shape "1,3,224,224", threads,
# trust ("1": a checkpoint whose root is the user's module:factory may import it), OpenVINO's
# execution precision ("f32" or "bf16").
_CHILD = r"""
import json, resource, sys
runtime, path, shape, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
trust = sys.argv[5] == "1"
import numpy as np
# Filled, not zeros: untouched zero pages are not resident, and the baseline must hold the
# input too for the difference to be the model alone.
x = np.full(tuple(int(d) for d in shape.split(",")), 0.5, dtype=np.float32)
if runtime == "onnxruntime":  # options as in onnxruntime_runner.session_options (no torch here)
    import onnxruntime as ort
    if path:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        session.run(None, {session.get_inputs()[0].name: x})
elif runtime == "openvino":  # settings as in openvino_runner.compile_config, static shape
    import openvino as ov
    core = ov.Core()
    if path:
        model = core.read_model(path)
        model.reshape({0: list(x.shape)})
        config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": sys.argv[6]}
        request = core.compile_model(model, "CPU", config).create_infer_request()
        request.infer({0: x})
elif runtime == "executorch":  # as in executorch_runner: size the pool, then load
    import warnings
    warnings.simplefilter("ignore")
    import torch
    import executorch.extension.pybindings.portable_lib as portable
    from executorch.runtime import Runtime
    if portable._threadpool_get_thread_count() != threads:
        portable._unsafe_reset_threadpool(threads)
    if path:
        method = Runtime.get().load_program(path).load_method("forward")
        method.execute([torch.from_numpy(x)])
else:
    import torch
    from edgeopt.loading import load_model
    torch.set_num_threads(threads)
    if path:
        model = load_model(path, trust_code=trust).eval()
        with torch.inference_mode():
            model(torch.from_numpy(x))
try:  # Linux: this process image's own high-water mark, in KiB
    status = open("/proc/self/status").read()
    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
except (OSError, IndexError, ValueError):  # macOS: ru_maxrss, in bytes there
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(json.dumps({"peak_rss_bytes": peak}))
"""


def peak_memory_of_fresh_process(
    artifact_path: str | os.PathLike[str],
    runtime: str,
    input_shape: Sequence[int],
    threads: int = 2,
    trust_code: bool = False,
    precision: str = "fp32",
) -> int:
    """Peak RSS (bytes) of a fresh process that loads ``artifact_path`` and runs it once.

    Args:
        artifact_path: An ``.onnx`` file (``onnxruntime``), a ``.pte`` (``executorch``) or a
            checkpoint / ``.pt2`` (``torch``).
        runtime: ``"onnxruntime"``, ``"executorch"`` or ``"torch"``.
        input_shape: Shape of the input batch, e.g. ``(1, 1, 28, 28)``.
        threads: Intra-op threads, as in the benchmark.
        trust_code: A checkpoint whose root is the user's ``module:factory`` may import it.
        precision: OpenVINO's execution precision, ``"fp32"`` or ``"bf16"``.

    Raises:
        EdgeoptError: unknown runtime, missing file, or the child process failed.

    Example:
        >>> peak_memory_of_fresh_process("model.onnx", "onnxruntime", (1, 1, 28, 28)) > 0
        True
    """
    path = os.fspath(artifact_path)
    if not os.path.isfile(path):
        raise EdgeoptError(f"artifact {path!r} does not exist", hint="check the path")
    return _measure(runtime, os.path.abspath(path), tuple(input_shape), threads, trust_code, precision)


def baseline_peak_memory(runtime: str, input_shape: Sequence[int], threads: int = 2) -> int:
    """Peak RSS (bytes) of a fresh process that imports ``runtime`` and builds the input only.

    Cached per process: the baseline does not depend on any artifact.

    Example:
        >>> baseline_peak_memory("onnxruntime", (1, 1, 28, 28)) > 10 * 2**20
        True
    """
    return _cached_baseline(runtime, tuple(int(d) for d in input_shape), threads)


@functools.cache
def _cached_baseline(runtime: str, shape: tuple[int, ...], threads: int) -> int:
    return _measure(runtime, "", shape, threads)


def _measure(runtime: str, path: str, shape: tuple[int, ...], threads: int, trust_code: bool = False,
             precision: str = "fp32") -> int:
    if runtime not in RUNTIMES:
        raise EdgeoptError(f"unknown runtime {runtime!r}", hint=suggest(runtime, RUNTIMES) or f"use one of {RUNTIMES}")
    if sys.platform == "win32":
        raise EdgeoptError("peak memory is measured with getrusage, which Windows lacks",
                           hint="benchmark with --no-memory")
    args = [sys.executable, "-c", _CHILD, runtime, path, ",".join(map(str, shape)), str(threads),
            "1" if trust_code else "0", "bf16" if precision == "bf16" else "f32"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EdgeoptError(f"measuring memory of {path or runtime!r} took over {_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EdgeoptError(f"the memory-measuring process failed for {path or runtime!r}: {last[:300]}")
    # The report is the last line; runtimes may print their own lines before it.
    return int(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_bytes"])
