"""Run a model in eager PyTorch: the reference every exported artifact is compared against.

Around every public call the runner puts the model in eval mode and sets torch's intra-op
thread count, under ``torch.inference_mode``; on exit both are restored, so measuring never
changes the caller's model or process settings. (Inter-op threads are left alone: torch allows
setting them only once per process, and eager CNN inference runs one operator at a time.)

Example:
    >>> runner = TorchRunner(model, threads=2)
    >>> runner.run(np.zeros((1, 1, 28, 28), np.float32)).shape
    (1, 10)
    >>> runner = TorchRunner.from_path("runs/demo/model.pt")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from edgeopt.runtime.base import BaseRunner, check_threads
from edgeopt.utils.modes import preserve_modes


class TorchRunner(BaseRunner):
    """Runs an ``nn.Module`` eagerly on CPU.

    Args:
        model: The model; its train/eval modes are restored after each call.
        threads: Torch intra-op threads while running (restored afterwards).
        path: The file it was loaded from, if any (reported in measurements).
        input_shape: Its input shape (batch first), if known (e.g. from checkpoint metadata).
        trust_code: The file it was loaded from may import the user's module (for a fresh
            process that loads it again to measure memory).
    """

    runtime = "torch"

    def __init__(
        self,
        model: nn.Module,
        threads: int = 2,
        *,
        path: str | os.PathLike[str] | None = None,
        input_shape: tuple[int, ...] | None = None,
        trust_code: bool = False,
    ) -> None:
        check_threads(threads)
        self.trust_code = trust_code
        self.model = model
        self.threads = threads
        self.path = Path(path) if path is not None else None
        self.input_shape = input_shape

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], threads: int = 2, trust_code: bool = False) -> TorchRunner:
        """Load an edgeopt checkpoint (``.pt``/``.safetensors``) or a ``.pt2`` program.

        The checkpoint's ``input_size`` metadata, when present, becomes :attr:`input_shape`.
        """
        from edgeopt.loading import open_model

        opened = open_model(str(path), trust_code=trust_code)
        return cls(opened.model, threads, path=path, input_shape=opened.input_size, trust_code=trust_code)

    def example_shape(self, batch_size: int = 1) -> tuple[int, ...] | None:
        """The known input shape with the batch set to ``batch_size``, or None."""
        return (batch_size, *self.input_shape[1:]) if self.input_shape else None

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        with scoped_threads(self.threads), preserve_modes(self.model), torch.inference_mode():
            self.model.eval()
            yield

    def _infer(self, batch: npt.NDArray[np.float32]) -> np.ndarray:
        return _to_numpy(self.model(torch.from_numpy(batch)))

    def close(self) -> None:
        """Nothing to release: the model belongs to the caller (like the other runners' ``close``)."""


@contextlib.contextmanager
def scoped_threads(threads: int) -> Iterator[None]:
    """Set torch's intra-op thread count for the block, then restore it.

    Example:
        >>> with scoped_threads(1):
        ...     torch.get_num_threads()
        1
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _to_numpy(output: Any) -> np.ndarray:
    # Classifiers return a tensor; some models return (logits, extras): the first is the logits.
    logits: torch.Tensor = output[0] if isinstance(output, (tuple, list)) else output
    return logits.detach().cpu().numpy()
