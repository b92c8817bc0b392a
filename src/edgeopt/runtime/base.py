"""The runner interface every runtime implements.

A runner executes one artifact in one runtime. Accuracy and latency are always computed from the
runner's own outputs, so the figures belong to the artifact as that runtime executes it, never
to the eager model it came from (DESIGN.md, "Measured, not claimed"). What a benchmark reports
is an :class:`edgeopt.artifact.Measurement` (see :func:`edgeopt.runtime.bench`).

Example:
    >>> runner = OnnxRuntimeRunner("model.onnx", threads=2)
    >>> runner.run(np.zeros((1, 1, 28, 28), np.float32)).shape
    (1, 10)
    >>> runner.accuracy(splits.test), runner.time(batch).median_ms
    (0.97, 0.41)
"""

from __future__ import annotations

import contextlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from edgeopt.errors import EdgeoptError
from edgeopt.runtime.arrays import ArrayData
from edgeopt.runtime.timing import LatencyStats, measure_latency

if TYPE_CHECKING:
    from torch.utils.data import Dataset

# torch is imported only for a torch ``Dataset`` (a DataLoader batches it): with ArrayData and
# numpy inputs, the runners of torch-free runtimes (ONNX Runtime) run where torch is absent.


@runtime_checkable
class Runner(Protocol):
    """What every runtime runner offers (see :class:`BaseRunner` for the shared implementation)."""

    runtime: str
    threads: int

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits for a float32 N x C x H x W batch."""
        ...

    def accuracy(self, dataset: Dataset[Any] | ArrayData, batch_size: int = 256) -> float:
        """Top-1 accuracy on a labelled dataset, from this runner's outputs."""
        ...

    def time(self, input: np.ndarray, warmup: int = 10, runs: int = 50) -> LatencyStats:
        """Latency of :meth:`run` on ``input``."""
        ...


class BaseRunner(ABC):
    """Shared :meth:`run`, :meth:`logits`, :meth:`accuracy` and :meth:`time` on top of ``_infer``.

    Subclasses implement ``_infer`` (one bare call, nothing set up around it) and, if the runtime
    needs settings applied around calls (thread counts, eval mode), ``_session``: it is entered
    once per public call, so its cost never lands inside a timed run.
    """

    runtime: str = ""
    threads: int = 1

    @abstractmethod
    def _infer(self, batch: npt.NDArray[np.float32]) -> np.ndarray:
        """Run one batch; called inside :meth:`_session`."""

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        yield

    def example_shape(self, batch_size: int = 1) -> tuple[int, ...] | None:
        """The input shape (batch set to ``batch_size``) if the artifact records it, else None."""
        return None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits for one batch (float32, N x C x H x W).

        Example:
            >>> runner.run(np.zeros((2, 1, 28, 28), np.float32)).shape
            (2, 10)
        """
        with self._session():
            return self._infer(_as_input(batch))

    def logits(
        self, dataset: Dataset[Any] | ArrayData, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits for every sample of ``dataset`` in order, and its labels (None if it has none).

        ``dataset`` is a torch ``Dataset`` (batched by a ``DataLoader``) or an :class:`ArrayData`
        (sliced in order; no torch needed).
        """
        outputs: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        with self._session():
            for inputs, targets in _batches(dataset, batch_size):
                outputs.append(self._infer(_as_input(inputs)))
                if targets is not None:
                    labels.append(np.asarray(targets))
        if not outputs:
            name = getattr(dataset, "name", None)
            raise EdgeoptError(f"the evaluation data{f' of dataset {name!r}' if name else ''} is empty (0 samples), "
                               f"so {self.runtime or 'the runtime'} has nothing to measure accuracy on",
                               hint="use a dataset with more images: its test split needs samples "
                               "(e.g. 10 or more per class)")
        return np.concatenate(outputs), (np.concatenate(labels) if labels else None)

    def accuracy(self, dataset: Dataset[Any] | ArrayData, batch_size: int = 256) -> float:
        """Top-1 accuracy of this runner's outputs on a labelled dataset.

        Example:
            >>> OnnxRuntimeRunner("model.onnx").accuracy(load_dataset("digits").test)
            0.97
        """
        outputs, labels = self.logits(dataset, batch_size)
        if labels is None:
            raise EdgeoptError("the evaluation data has no labels", hint="use logits() for outputs")
        return float(np.mean(outputs.argmax(axis=-1) == labels))

    def time(self, input: np.ndarray, warmup: int = 10, runs: int = 50) -> LatencyStats:
        """Latency of one call on ``input``: ``warmup`` untimed calls, then ``runs`` timed ones.

        Example:
            >>> runner.time(np.zeros((1, 1, 28, 28), np.float32), runs=50).runs
            50
        """
        batch = _as_input(input)
        with self._session():
            return measure_latency(lambda: self._infer(batch), warmup=warmup, runs=runs)


def check_threads(threads: object) -> None:
    """Raise :class:`EdgeoptError` unless ``threads`` is a positive integer."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise EdgeoptError(f"threads must be a positive integer, got {threads!r}", hint="e.g. --threads 2")


def _batches(dataset: Dataset[Any] | ArrayData, batch_size: int) -> Iterator[tuple[Any, Any]]:
    """``(inputs, labels or None)`` in dataset order."""
    if isinstance(dataset, ArrayData):
        yield from dataset.batches(batch_size)
        return
    from torch.utils.data import DataLoader

    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        if isinstance(batch, (list, tuple)):
            yield batch[0], (batch[1] if len(batch) > 1 else None)
        else:
            yield batch, None


def _as_input(batch: Any) -> npt.NDArray[np.float32]:
    """A contiguous float32 array (converted once, outside any timed loop)."""
    torch = sys.modules.get("torch")  # a torch tensor exists only where torch is imported already
    if torch is not None and isinstance(batch, torch.Tensor):
        batch = batch.detach().cpu().numpy()
    return np.ascontiguousarray(batch, dtype=np.float32)
