"""Run an ExecuTorch program (``.pte``) in the ExecuTorch runtime's Python bindings, on CPU.

Threads. The XNNPACK delegate parallelises over ExecuTorch's one process-wide threadpool
(``executorch.extension.threadpool``), whose size the bindings set with
``_unsafe_reset_threadpool(n)``. "Unsafe" is meant literally: XNNPACK captures the pool's pointer
when a method is *loaded* (``xnn_create_runtime_v4(..., get_pthreadpool(), ...)``), and a reset
destroys that pool, so a method loaded before a reset would run on a freed pool. So the runner
sets the pool size *before* it loads its method, and every runner remembers the pool generation
its method was loaded under: after another runner resized the pool, it reloads its method
(milliseconds for an edge model) before running again. Two runners with the same thread count
never trigger a reset, so interleaved timing of variants costs nothing extra.

Batch. An ExecuTorch program has the static input shape it was exported with (edgeopt exports
batch 1, what an edge device runs). Larger batches are run as consecutive fixed-size chunks, the
last one padded, so accuracy over a dataset works unchanged.

Example:
    >>> runner = ExecuTorchRunner("model.pte", threads=2)
    >>> runner.run(np.zeros((7, 1, 28, 28), np.float32)).shape
    (7, 10)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import torch

from edgeopt.errors import EdgeoptError
from edgeopt.runtime.base import BaseRunner, check_threads

# Bytes 4..8 of a .pte file: the flatbuffer file identifier, "ET" plus a schema version ("ET12").
PTE_MAGIC = b"ET"
_MAGIC_OFFSET = 4

# The pool size this process last set and how many times it was reset (see the module docstring).
_POOL: dict[str, int] = {"threads": 0, "generation": 0}


class ExecuTorchRunner(BaseRunner):
    """Runs a ``.pte`` file's ``forward`` method in the ExecuTorch runtime.

    Args:
        path: The ExecuTorch program.
        threads: Size of ExecuTorch's threadpool (used by the XNNPACK delegate) while this runner
            runs; see the module docstring for why the method is reloaded after a resize.

    Raises:
        EdgeoptError: the file is missing, is not an ExecuTorch program, is truncated or corrupt,
            or needs an operator or backend this runtime build lacks.
    """

    runtime = "executorch"
    # The bindings' Program and its loaded "forward" Method (untyped); set by _load.
    _program: Any
    _method: Any

    def __init__(self, path: str | os.PathLike[str], threads: int = 2) -> None:
        check_threads(threads)
        self.path = Path(path)
        self.threads = threads
        _check_file(self.path)
        self._generation = -1
        self._load()
        meta = self._method.metadata
        if meta.num_inputs() != 1 or meta.num_outputs() < 1:
            raise EdgeoptError(
                f"{str(self.path)!r} takes {meta.num_inputs()} inputs; edgeopt runs single-input models",
                hint="export a model whose forward takes one image batch",
            )
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in meta.input_tensor_meta(0).sizes())
        self.fixed_batch: int = self.input_shape[0] if self.input_shape else 1

    def example_shape(self, batch_size: int = 1) -> tuple[int, ...]:
        """The program's input shape (its batch is fixed at export, so ``batch_size`` is ignored)."""
        return self.input_shape

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        self._ensure_loaded()
        yield

    def _infer(self, batch: npt.NDArray[np.float32]) -> np.ndarray:
        if tuple(batch.shape[1:]) != self.input_shape[1:]:
            raise EdgeoptError(
                f"{str(self.path)!r} takes inputs of shape {self.input_shape[1:]}, got {tuple(batch.shape[1:])}",
                hint="feed data of the shape the model was exported with",
            )
        n, step = batch.shape[0], self.fixed_batch
        if n == step:  # the common, timed case: no copies
            return self._execute(batch)
        outputs = []
        for start in range(0, n, step):
            chunk = batch[start : start + step]
            if len(chunk) < step:  # pad the last, short chunk and drop the padding
                padded = np.zeros((step, *batch.shape[1:]), dtype=batch.dtype)
                padded[: len(chunk)] = chunk
                outputs.append(self._execute(padded)[: len(chunk)])
            else:
                outputs.append(self._execute(chunk))
        return np.concatenate(outputs)

    def _execute(self, batch: npt.NDArray[np.float32]) -> np.ndarray:
        try:
            output = self._method.execute([torch.from_numpy(batch)])[0]
        except RuntimeError as exc:  # e.g. a delegate kernel refusing a shape at run time
            raise EdgeoptError(
                f"ExecuTorch failed to run {str(self.path)!r}: {exc}",
                hint="the runtime's own log line above names the failing kernel; the program "
                "loaded but a kernel rejected its input",
            ) from exc
        return output.detach().numpy() if isinstance(output, torch.Tensor) else np.asarray(output)

    def _ensure_loaded(self) -> None:
        if _POOL["threads"] != self.threads or self._generation != _POOL["generation"]:
            self._load()

    def _load(self) -> None:
        """Size the threadpool for this runner, then (re)load the method under that pool."""
        self._method = None  # never keep a method bound to a pool that is about to be destroyed
        runtime, portable = _runtime()
        with _native_log() as log:
            set_threadpool_size(self.threads, portable)
            try:
                program = runtime.load_program(self.path)
                self._method = program.load_method("forward")
            except Exception as exc:  # the bindings raise RuntimeError/KeyError with an error code
                raise _load_error(self.path, exc, log()) from exc
        self._program = program  # the method needs its program alive
        self._generation = _POOL["generation"]

    def close(self) -> None:
        """Release the program and its method."""
        self._method = None
        self._program = None


def set_threadpool_size(threads: int, portable: Any = None) -> None:
    """Resize ExecuTorch's process-wide threadpool (no-op if it already has ``threads``).

    Methods loaded before a resize must be reloaded; :class:`ExecuTorchRunner` does so itself.

    Example:
        >>> set_threadpool_size(2); threadpool_size()
        2
    """
    check_threads(threads)
    portable = portable or _runtime()[1]
    if portable._threadpool_get_thread_count() != threads:
        portable._unsafe_reset_threadpool(threads)
        _POOL["generation"] += 1
    _POOL["threads"] = threads


def threadpool_size() -> int:
    """The current size of ExecuTorch's threadpool."""
    return int(_runtime()[1]._threadpool_get_thread_count())


def _runtime() -> tuple[Any, Any]:
    """ExecuTorch's ``Runtime`` singleton and its bindings module (imported on first use)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental API" warnings on import
            import executorch.extension.pybindings.portable_lib as portable
            from executorch.runtime import Runtime
    except ImportError as exc:
        raise EdgeoptError(
            "the ExecuTorch runtime is not installed",
            hint="pip install 'edgeopt[executorch]' (executorch==1.5.1)",
        ) from exc
    return Runtime.get(), portable


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise EdgeoptError(f"ExecuTorch program {str(path)!r} does not exist", hint="check the path")
    with open(path, "rb") as fh:
        head = fh.read(_MAGIC_OFFSET + len(PTE_MAGIC))
    if head[_MAGIC_OFFSET:] != PTE_MAGIC:
        raise EdgeoptError(
            f"{str(path)!r} is not an ExecuTorch program (no 'ET' identifier in its header)",
            hint="bench .pte files made by edgeopt export --format executorch",
        )


def _load_error(path: Path, exc: BaseException, native: str) -> EdgeoptError:
    """Name the problem: the runtime's own log line says more than its error code."""
    lines = [line.split("] ", 1)[-1] for line in native.splitlines() if "] " in line]
    lines = [line for line in lines if "cpuinfo" not in line and "threadpool" not in line.lower()]
    reason = lines[-1] if lines else str(exc).splitlines()[0]
    truncated = "too small" in reason or "truncat" in reason.lower()
    return EdgeoptError(
        f"ExecuTorch cannot load {str(path)!r}: {reason[:300]}",
        hint="the file is truncated; export it again" if truncated
        else "check that the file is a complete .pte made for this runtime (executorch 1.5)",
    )


@contextlib.contextmanager
def _native_log() -> Iterator[Callable[[], str]]:
    """Capture what the C++ runtime prints on stderr (fd 2) inside the block.

    Yields a function returning the captured text. Used around loading only: the runtime logs
    CPU probing lines there on every load, and the reason for a failed load.
    """
    captured = ""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreters): nothing to capture
        yield lambda: captured
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lambda: _read(sink)
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _read(sink: IO[bytes]) -> str:
    sink.flush()
    sink.seek(0)
    return sink.read().decode("utf-8", "replace")
