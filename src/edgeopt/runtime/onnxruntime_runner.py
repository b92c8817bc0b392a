"""Run an ONNX artifact in ONNX Runtime (CPU), with explicit, reproducible thread settings.

Session settings, each chosen so a latency figure means the same thing on every run:

- ``intra_op_num_threads = threads``: threads inside one operator (a conv); the knob that
  matters for a CNN, and the one a device deployment fixes. ORT's default (0) means "all
  physical cores", which would make figures depend on the machine.
- ``inter_op_num_threads = 1`` with sequential execution: CNNs are chains with few parallel
  branches, and a second pool would compete with the first for the same cores.
- ``ORT_ENABLE_ALL`` graph optimizations: constant folding and fusions (conv+bn, conv+relu),
  which is what a deployed session runs.

Example:
    >>> runner = OnnxRuntimeRunner("model.onnx", threads=2)
    >>> runner.run(np.zeros((7, 1, 28, 28), np.float32)).shape
    (7, 10)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edgeopt.errors import EdgeoptError
from edgeopt.runtime.base import BaseRunner, check_threads

if TYPE_CHECKING:  # no torch at run time: this runner works where only ONNX Runtime is installed
    from torch.utils.data import Dataset

    from edgeopt.runtime.arrays import ArrayData

_QUIET = 3  # ORT log severity "error": its warnings (e.g. unused initializers) are not the user's


def session_options(threads: int, *, spinning: bool = True) -> ort.SessionOptions:
    """The :class:`onnxruntime.SessionOptions` edgeopt runs every ONNX artifact with.

    ``spinning=False`` makes idle intra-op threads sleep instead of spin: what
    :mod:`edgeopt.latency.relative` times in, so one session's idle threads do not compete with
    the next session's run.

    Example:
        >>> session_options(2).intra_op_num_threads
        2
    """
    check_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = _QUIET
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxRuntimeRunner(BaseRunner):
    """Runs an ``.onnx`` file in ONNX Runtime's CPU execution provider.

    Args:
        path: The ONNX file.
        threads: Intra-op threads (see the module docstring).
        spinning: Whether idle intra-op threads spin (ONNX Runtime's default) or sleep.

    Raises:
        EdgeoptError: the file is missing or ONNX Runtime cannot load it.
    """

    runtime = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], threads: int = 2, *, spinning: bool = True) -> None:
        self.path = Path(path)
        self.threads = threads
        if not self.path.is_file():
            raise EdgeoptError(f"ONNX file {str(self.path)!r} does not exist", hint="check the path")
        try:
            self.session = ort.InferenceSession(
                str(self.path), session_options(threads, spinning=spinning), providers=["CPUExecutionProvider"]
            )
        except EdgeoptError:
            raise
        except Exception as exc:  # ORT's pybind errors (InvalidProtobuf, Fail...) derive from Exception
            raise EdgeoptError(
                f"ONNX Runtime cannot load {str(self.path)!r}: {str(exc).splitlines()[0][:300]}",
                hint="check that the file is a valid ONNX model (e.g. re-export it)",
            ) from exc
        model_input = self.session.get_inputs()[0]
        self.input_name: str = model_input.name
        self.output_name: str = self.session.get_outputs()[0].name
        # A symbolic dimension ("batch") is None; a fixed batch forces batch-by-batch evaluation.
        self.input_shape: tuple[int | None, ...] = tuple(
            d if isinstance(d, int) else None for d in model_input.shape
        )
        first = self.input_shape[0] if self.input_shape else None
        self.fixed_batch: int | None = first if isinstance(first, int) and first > 0 else None

    def example_shape(self, batch_size: int = 1) -> tuple[int, ...] | None:
        """The input shape with the batch set to ``batch_size``; None if other dims are symbolic."""
        rest = tuple(d for d in self.input_shape[1:] if d is not None)
        if len(rest) < len(self.input_shape[1:]):
            return None
        return (self.fixed_batch or batch_size, *rest)

    def _infer(self, batch: npt.NDArray[np.float32]) -> np.ndarray:
        outputs: list[np.ndarray]  # ONNX Runtime returns one array per requested output
        n = batch.shape[0]
        if self.fixed_batch is not None and n < self.fixed_batch:
            # A model exported with a fixed batch: pad the last, short batch and drop the padding.
            padded = np.zeros((self.fixed_batch, *batch.shape[1:]), dtype=batch.dtype)
            padded[:n] = batch
            outputs = self.session.run([self.output_name], {self.input_name: padded})
            return outputs[0][:n]
        outputs = self.session.run([self.output_name], {self.input_name: batch})
        return outputs[0]

    def logits(
        self, dataset: Dataset[Any] | ArrayData, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Like :meth:`BaseRunner.logits`; a fixed-batch model is fed its own batch size."""
        return super().logits(dataset, self.fixed_batch or batch_size)

    def close(self) -> None:
        """Release the session (and the file handle it may hold)."""
        self.session = None
