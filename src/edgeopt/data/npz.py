"""``.npz`` files holding an image array ``x`` and a label array ``y``.

Saved e.g. with ``np.savez("data.npz", x=images, y=labels)``. Accepted image layouts:

- ``N x H x W`` (greyscale, 1 channel);
- ``N x H x W x C`` (channels-last: the last dim is 1, 3 or 4 and the second is not);
- ``N x C x H x W``.

``uint8`` images are scaled by 1/255; float images are kept as they are (normalisation to the
train split's mean/std happens later anyway). An optional ``class_names`` array of strings
names the classes. Files are opened with ``allow_pickle=False``: an ``.npz`` never runs code.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from edgeopt.data.raw import RawData, as_labels, default_class_names
from edgeopt.errors import EdgeoptError

_CHANNELS = (1, 3, 4)


def _images_nchw(x: np.ndarray, path: Path) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        channels_last = x.shape[-1] in _CHANNELS and x.shape[1] not in _CHANNELS
        return x.transpose(0, 3, 1, 2) if channels_last else x
    raise EdgeoptError(
        f"array 'x' in '{path}' has {x.ndim} dimensions, shape {tuple(x.shape)}",
        hint="store images as N x H x W, N x H x W x C or N x C x H x W",
    )


def _as_float(x: np.ndarray, path: Path) -> np.ndarray:
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if x.dtype.kind not in "biuf":
        raise EdgeoptError(f"array 'x' in '{path}' has non-numeric dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise EdgeoptError(f"array 'x' in '{path}' contains NaN or infinite values")
    return x


def _class_names(arrays: np.lib.npyio.NpzFile, y: np.ndarray, path: Path) -> list[str]:
    if "class_names" not in arrays.files:
        return default_class_names(y)
    names = [str(n) for n in arrays["class_names"].tolist()]
    if y.size and int(y.max()) >= len(names):
        raise EdgeoptError(
            f"label {int(y.max())} in '{path}' has no entry in its {len(names)} class_names"
        )
    return names


def _reason(error: Exception) -> str:
    """Why numpy could not read the file, in one printable line (never numpy's advice on unpickling)."""
    text = str(error)
    if "pickle" in text.lower():  # object arrays: refused because reading them would unpickle
        return "it holds pickled (object) data, which edgeopt will not load"
    lines = text.strip().splitlines()
    line = lines[0] if lines else type(error).__name__
    return "".join(c if c.isprintable() and c.isascii() else "?" for c in line)[:200]


def read_npz(path: Path) -> RawData:
    """Read an ``.npz`` file of images ``x`` and integer labels ``y`` into :class:`RawData`.

    Raises:
        EdgeoptError: A missing key (naming the keys present), ``len(x) != len(y)``,
            non-integer labels, an unsupported number of dimensions, a file that is not a zip of
            ``.npy`` arrays, pickled (object) arrays (refused), or an unreadable file.
    """
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as e:
        raise EdgeoptError(f"cannot read '{path}': {e.strerror or e}") from None
    if not magic.startswith(b"PK"):  # np.load would read a bare .npy (or refuse a pickle) instead
        raise EdgeoptError(f"cannot read '{path}' as .npz: it is not a zip of .npy arrays",
                           hint="save it with np.savez(path, x=images, y=labels)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            for key in ("x", "y"):
                if key not in arrays.files:
                    found = ", ".join(repr(k) for k in arrays.files) or "none"
                    raise EdgeoptError(
                        f"'{path}' has no array '{key}' (its arrays: {found})",
                        hint="save it with np.savez(path, x=images, y=labels)",
                    )
            x, y = arrays["x"], arrays["y"]
            y = as_labels(y, f"'{path}'")
            names = _class_names(arrays, y, path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise EdgeoptError(f"cannot read '{path}' as .npz: {_reason(e)}") from None
    x = _images_nchw(x, path)
    if len(x) != len(y):
        raise EdgeoptError(
            f"'{path}' has {len(x)} images in 'x' but {len(y)} labels in 'y'",
            hint="store exactly one label per image",
        )
    if len(x) == 0:
        raise EdgeoptError(f"'{path}' holds no images")
    return RawData(path.stem, _as_float(x, path), y, names)
