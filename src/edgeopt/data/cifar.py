"""CIFAR-10 "python version" batch folders.

```
cifar-10-batches-py/
  data_batch_1 .. data_batch_5   training images (pickled dicts)
  test_batch                     the test split, used as-is
  batches.meta                   class names (optional here)
```

Each batch is a pickled dict with ``data`` (uint8, N x 3072: 1024 red, then green, then blue
values, row-major 32 x 32) and ``labels`` (N ints).

Batches are pickles, and unpickling can run arbitrary code. They are read with a restricted
unpickler that resolves only the few globals a numpy array needs (DESIGN.md, principle 5), so
a tampered batch fails with an error instead of executing anything.
"""

from __future__ import annotations

import codecs
import importlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgeopt.data.raw import RawData, as_labels, default_class_names
from edgeopt.errors import EdgeoptError

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
MARKERS = (*TRAIN_FILES, TEST_FILE, META_FILE)


def _array_internals(core: str) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """numpy's private pickle helpers ``_reconstruct``, ``scalar`` and ``_frombuffer`` in ``core``.

    Looked up by name: they are not part of numpy's typed API.
    """
    multiarray = importlib.import_module(f"{core}.multiarray")
    numeric = importlib.import_module(f"{core}.numeric")
    try:
        return multiarray._reconstruct, multiarray.scalar, numeric._frombuffer
    except AttributeError as e:
        raise ImportError(f"{core} lacks an array pickle helper: {e}") from e


def _allowed_globals() -> dict[tuple[str, str], Any]:
    try:  # numpy >= 2 moved the array internals to numpy._core
        _reconstruct, scalar, _frombuffer = _array_internals("numpy._core")
    except ImportError:  # pragma: no cover - numpy 1.x
        _reconstruct, scalar, _frombuffer = _array_internals("numpy.core")
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Python 3 pickles of bytes under protocols 0-2 go through _codecs.encode.
        ("_codecs", "encode"): codecs.encode,
    }
    # Pickles name numpy.core (numpy 1.x, the original CIFAR files) or numpy._core (2.x).
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _frombuffer  # pickle protocol 5
    return allowed


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array reconstruction, never arbitrary globals."""

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="bytes")  # CIFAR batches were pickled by Python 2
        self._path = path
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise EdgeoptError(
                f"'{self._path}' is not a plain CIFAR batch: it refers to {_printable(f'{module}.{name}')!r}, "
                "which edgeopt will not load",
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise EdgeoptError(f"'{self._path}' is not a plain CIFAR batch: it refers to an external object, "
                           "which edgeopt will not load")


def _printable(text: str, limit: int = 120) -> str:
    """``text`` from a file, safe for a one-line error: no escape codes or line breaks."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:limit]


def _unpickle(path: Path) -> dict[Any, Any]:
    try:
        with path.open("rb") as f:
            obj = _ArrayOnlyUnpickler(f, path).load()
    except EdgeoptError:
        raise
    except OSError as e:
        raise EdgeoptError(f"cannot read CIFAR batch '{path}': {e.strerror or e}") from None
    except Exception as e:  # a malformed pickle fails in many ways (UnpicklingError, EOFError, KeyError...)
        detail = (str(e).strip().splitlines() or [""])[0]
        raise EdgeoptError(f"cannot read CIFAR batch '{path}': {type(e).__name__}: {_printable(detail)}") from None
    if not isinstance(obj, dict):
        raise EdgeoptError(f"CIFAR batch '{path}' holds a {type(obj).__name__}, not a dict")
    return obj


def _get(batch: dict[Any, Any], key: str, path: Path) -> Any:
    # Python 2 pickles read with encoding="bytes" have bytes keys; Python 3 ones have str keys.
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    found = ", ".join(repr(k.decode() if isinstance(k, bytes) else k) for k in batch)
    raise EdgeoptError(f"CIFAR batch '{path}' has no '{key}' entry (it has: {found})")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    data = np.asarray(_get(batch, "data", path))
    labels = as_labels(np.asarray(_get(batch, "labels", path)), f"'{path}'")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8:
        raise EdgeoptError(
            f"CIFAR batch '{path}' has data of shape {tuple(data.shape)} and dtype {data.dtype}",
            hint="expected uint8 N x 3072 (3 x 32 x 32 images, channel-major)",
        )
    if len(data) != len(labels):
        raise EdgeoptError(f"CIFAR batch '{path}' has {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


def _class_names(root: Path, labels: np.ndarray) -> list[str]:
    meta = root / META_FILE
    if not meta.is_file():
        return default_class_names(labels)
    names = _get(_unpickle(meta), "label_names", meta)
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _scaled(x: np.ndarray) -> np.ndarray:
    out = x.astype(np.float32)
    out /= 255.0  # in place: the full training set is 600 MB as float32
    return out


def is_cifar_folder(root: Path) -> bool:
    """True if ``root`` holds any CIFAR batch file (then it is read as CIFAR, not image folder)."""
    return any((root / name).is_file() for name in MARKERS)


def read_cifar(root: Path) -> RawData:
    """Read a CIFAR-10 python batch folder; ``test_batch`` becomes the shipped test split.

    Raises:
        EdgeoptError: Missing batch files, a batch of the wrong size, or a batch that is not
            a plain pickled dict of arrays.
    """
    missing = [n for n in (*TRAIN_FILES, TEST_FILE) if not (root / n).is_file()]
    if missing:
        raise EdgeoptError(
            f"CIFAR folder '{root}' is missing batch files: {', '.join(missing)}",
            hint="the folder needs data_batch_1 .. data_batch_5 and test_batch",
        )
    parts = [_read_batch(root / n) for n in TRAIN_FILES]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    x_test, y_test = _read_batch(root / TEST_FILE)
    names = _class_names(root, np.concatenate([y, y_test]))
    top = int(max(y.max(initial=0), y_test.max(initial=0)))
    if top >= len(names):
        raise EdgeoptError(
            f"CIFAR label {top} in '{root}' has no name in its {len(names)} label_names"
        )
    return RawData(root.name, _scaled(x), y, names, test=(_scaled(x_test), y_test))
