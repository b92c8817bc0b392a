"""Run an OpenVINO IR (``.xml`` + ``.bin``) or an ONNX file in OpenVINO (CPU), with explicit settings.

OpenVINO reads ONNX directly, int8 QDQ files included (it folds each QuantizeLinear/
DequantizeLinear pair into int8 kernels), so the files edgeopt writes run here unchanged.

Compile settings, each chosen so a latency figure means the same thing on every run:

- ``INFERENCE_NUM_THREADS = threads``: threads for one inference; OpenVINO's default is every
  core, which would make figures depend on the machine (as ``intra_op_num_threads`` in ORT).
- ``NUM_STREAMS = 1``: one inference at a time with all of those threads, i.e. latency, not the
  throughput of several concurrent requests (what a device answering one camera frame runs).
- ``PERFORMANCE_HINT = LATENCY``: says the same to the plugin, so its other heuristics (e.g.
  how it splits threads) do not pick a throughput layout; the two explicit values above win.
- ``INFERENCE_PRECISION_HINT = f32`` or ``bf16``: OpenVINO's CPU plugin may run fp32 models in
  bf16 on its own where the CPU has it; pinning f32 keeps "fp32" meaning fp32, and bf16 runs only
  when asked for, and only where the CPU lists ``BF16`` in ``OPTIMIZATION_CAPABILITIES`` (never
  emulated or silently dropped back to fp32).

Static shapes compile to the fastest kernels, so the model is reshaped to each input shape it
sees and compiled once per shape (cached): the first call on a new batch size pays a compile.

Example:
    >>> runner = OpenVINORunner("model.xml", threads=2)
    >>> runner.run(np.zeros((7, 1, 28, 28), np.float32)).shape
    (7, 10)
    >>> OpenVINORunner("model.int8.onnx", precision="fp32").runtime
    'openvino'
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeopt.errors import EdgeoptError
from edgeopt.runtime.base import BaseRunner, check_threads

PRECISIONS = ("fp32", "bf16")
_OV_PRECISION = {"fp32": "f32", "bf16": "bf16"}  # OpenVINO's names for INFERENCE_PRECISION_HINT
DEVICE = "CPU"
INSTALL_HINT = "pip install 'edgeopt[openvino]'"


def import_openvino() -> Any:
    """The ``openvino`` module, imported on first use.

    Raises:
        EdgeoptError: OpenVINO is not installed (the message names the extra).
    """
    try:  # import_module: openvino ships no type information, and every use here goes through Any
        return importlib.import_module("openvino")
    except ImportError as exc:
        raise EdgeoptError("OpenVINO is not installed", hint=INSTALL_HINT) from exc


def cpu_capabilities(core: Any) -> tuple[str, ...]:
    """The CPU plugin's ``OPTIMIZATION_CAPABILITIES`` (e.g. ``('FP32', 'BF16', 'INT8', ...)``)."""
    return tuple(str(c) for c in core.get_property(DEVICE, "OPTIMIZATION_CAPABILITIES"))


def compile_config(threads: int, precision: str) -> dict[str, Any]:
    """The compile properties edgeopt runs every model with (see the module docstring).

    Example:
        >>> compile_config(2, "fp32")["INFERENCE_NUM_THREADS"]
        2
    """
    check_threads(threads)
    return {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": _OV_PRECISION[precision],
    }


class OpenVINORunner(BaseRunner):
    """Runs an ``.xml`` IR (its ``.bin`` beside it) or an ``.onnx`` file on OpenVINO's CPU plugin.

    Args:
        path: The ``.xml`` or ``.onnx`` file.
        threads: Inference threads (see the module docstring).
        precision: Execution precision, ``"fp32"`` or ``"bf16"`` (bf16 needs a CPU with BF16).

    Raises:
        EdgeoptError: OpenVINO missing, a missing or unreadable file, an unknown precision, or
            bf16 on a CPU without BF16.

    Example:
        >>> OpenVINORunner("model.xml", precision="bf16").execution_precision
        'bf16'
    """

    runtime = "openvino"

    def __init__(self, path: str | os.PathLike[str], threads: int = 2, precision: str = "fp32") -> None:
        check_threads(threads)
        if precision not in PRECISIONS:
            raise EdgeoptError(f"unknown OpenVINO precision {precision!r}", hint=f"use one of {', '.join(PRECISIONS)}")
        self.path = Path(path)
        self.threads = threads
        self.execution_precision = precision
        _check_files(self.path)
        ov = import_openvino()
        self._core = ov.Core()
        if precision == "bf16":
            require_bf16(self._core)
        self._config = compile_config(threads, precision)
        self._model = _read_model(self.path)
        self._partial_shape = self._model.inputs[0].get_partial_shape()
        self._compiled: dict[tuple[int, ...], Any] = {}

    def example_shape(self, batch_size: int = 1) -> tuple[int, ...] | None:
        """The input shape with the batch set to ``batch_size``; None if other dims are dynamic."""
        dims = list(self._partial_shape)
        if not dims or any(d.is_dynamic for d in dims[1:]):
            return None
        first = dims[0]
        batch = first.get_length() if first.is_static else batch_size
        return (batch, *(d.get_length() for d in dims[1:]))

    def _infer(self, batch: npt.NDArray[np.float32]) -> np.ndarray:
        request = self._request(tuple(batch.shape))
        request.infer({0: batch}, share_inputs=True)
        return np.array(request.get_output_tensor(0).data, copy=True)  # the request reuses its buffer

    def _request(self, shape: tuple[int, ...]) -> Any:
        """An infer request of a model compiled for exactly ``shape`` (compiled on first use)."""
        if shape not in self._compiled:
            if not self._partial_shape.compatible(_ov().PartialShape(list(shape))):
                raise EdgeoptError(f"{str(self.path)!r} takes inputs of shape {self._partial_shape}, got {shape}",
                                   hint="pass inputs of the shape the model was exported with")
            model = self._model.clone()
            model.reshape({0: list(shape)})  # static: the CPU plugin picks shape-specialised kernels
            try:
                compiled = self._core.compile_model(model, DEVICE, self._config)
            except Exception as exc:  # OpenVINO raises RuntimeError subclasses with long traces
                raise EdgeoptError(f"OpenVINO cannot compile {str(self.path)!r}: {ov_error_reason(exc)}",
                                   hint="check that the file is a valid model (e.g. re-export it)") from exc
            self._compiled[shape] = compiled.create_infer_request()
        return self._compiled[shape]

    def close(self) -> None:
        """Release the compiled models (and the files they may map)."""
        self._compiled.clear()
        self._model = None


def require_bf16(core: Any) -> None:
    """Raise a one-line :class:`EdgeoptError` unless the CPU plugin lists ``BF16``."""
    if "BF16" not in cpu_capabilities(core):
        raise EdgeoptError("this CPU cannot run OpenVINO in bf16: OPTIMIZATION_CAPABILITIES has no BF16",
                           hint="use --precision fp32 (or a CPU with AVX512_BF16 / AMX)")


def _check_files(path: Path) -> None:
    if path.suffix.lower() not in (".xml", ".onnx"):
        raise EdgeoptError(f"OpenVINO runs .xml (IR) or .onnx files, got {str(path)!r}",
                           hint="pass model.xml or model.onnx")
    if not path.is_file():
        raise EdgeoptError(f"model file {str(path)!r} does not exist", hint="check the path")
    if path.suffix.lower() == ".xml" and not path.with_suffix(".bin").is_file():
        raise EdgeoptError(f"the weights of {str(path)!r} are missing: no {path.with_suffix('.bin').name} beside it",
                           hint="an OpenVINO IR is two files; copy the .bin with the .xml")


def _read_model(path: Path) -> Any:
    # The frontend named by the suffix, not Core.read_model: that one tries every frontend in turn
    # (TensorFlow's logs a parse error to stderr for a bad .onnx) and reports only the last failure.
    framework = "ir" if path.suffix.lower() == ".xml" else "onnx"
    try:
        frontend = _ov().frontend.FrontEndManager().load_by_framework(framework)
        model = frontend.convert(frontend.load(str(path)))
    except Exception as exc:  # corrupt XML/ONNX, a truncated .bin: RuntimeError with a trace
        raise EdgeoptError(f"OpenVINO cannot read {str(path)!r}: {ov_error_reason(exc)}",
                           hint="check that the file is a valid model (e.g. re-export it)") from exc
    if len(model.inputs) != 1:
        raise EdgeoptError(f"{str(path)!r} has {len(model.inputs)} inputs; edgeopt runs single-input models")
    return model


def _ov() -> Any:
    return import_openvino()


def ov_error_reason(exc: BaseException) -> str:
    """The line of an OpenVINO error that says what is wrong, cut to 300 characters.

    Its text is a stack of "Exception from src/...cpp:84:" and "Check '...' failed at ..." lines
    around the one sentence a user can act on.
    """
    noise = ("Exception from ", "Check '", "FrontEnd API failed")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(noise)]
    return (useful[-1] if useful else lines[-1] if lines else type(exc).__name__)[:300]
