"""``load_dataset``: one entry point for every data source.

The source is read into :class:`~edgeopt.data.raw.RawData` by the matching reader, then every
source goes through the same steps: optional stratified ``limit``, stratified train/val/test
split, optional resize, and normalisation with the train split's per-channel mean and std.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from edgeopt.data.builtin import BUILTINS, list_datasets, load_builtin
from edgeopt.data.cifar import is_cifar_folder, read_cifar
from edgeopt.data.image_folder import read_image_folder
from edgeopt.data.npz import read_npz
from edgeopt.data.raw import RawData
from edgeopt.data.splits import (
    DatasetSplits,
    allocate,
    channel_stats,
    check_fractions,
    normalise_,
    stratified_split,
    stratified_subset,
)
from edgeopt.errors import EdgeoptError, suggest

_ARCHIVES = (".gz", ".tgz", ".tar", ".zip", ".bz2", ".xz")


def _check_options(image_size: tuple[int, int] | None, limit: int | None) -> None:
    if image_size is not None:
        ok = (
            isinstance(image_size, (tuple, list))
            and len(image_size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in image_size)
        )
        if not ok:
            raise EdgeoptError(
                f"image_size must be two positive integers (H, W), got {image_size!r}",
                hint="e.g. image_size=(32, 32)",
            )
        from edgeopt.utils.memory import check_memory, tensor_bytes

        # One RGB image at that size is a lower bound of what resizing needs (DataSource checks the
        # whole dataset when it knows the count).
        check_memory(tensor_bytes((1, 3, *image_size)), f"one image resized to {image_size[0]}×{image_size[1]}",
                     hint="use a smaller image_size")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise EdgeoptError(f"limit must be a positive integer or None, got {limit!r}")


def _looks_like_path(source: str) -> bool:
    has_separator = any(c in source for c in "/\\")
    return has_separator or source.startswith((".", "~")) or bool(Path(source).suffix)


def _read_path(path: Path, image_size: tuple[int, int] | None) -> RawData:
    if path.is_dir():
        return read_cifar(path) if is_cifar_folder(path) else read_image_folder(path, image_size)
    if path.suffix.lower() == ".npz":
        return read_npz(path)
    archive = path.suffix.lower() in _ARCHIVES
    hint = "extract the archive first and pass the folder" if archive else None
    raise EdgeoptError(
        f"unsupported dataset file '{path}': expected an .npz file, an image folder "
        "or a CIFAR-10 batch folder",
        hint=hint,
    )


def read_source(
    source: str | os.PathLike[str], image_size: tuple[int, int] | None = None
) -> RawData:
    """Read a builtin name or a path into :class:`RawData`, dispatching on what it is.

    Builtin names take precedence over a folder of the same name in the working directory;
    write ``./digits`` to mean the folder.
    """
    text = os.fspath(source)
    if text in BUILTINS:
        return load_builtin(text)
    path = Path(text).expanduser()
    if path.exists():
        return _read_path(path, image_size)
    if not text or _looks_like_path(text):
        raise EdgeoptError(f"dataset path '{text}' does not exist", hint="check the path")
    names = ", ".join(list_datasets())
    raise EdgeoptError(
        f"unknown dataset '{text}': not a builtin ({names}) and no such file or folder",
        hint=suggest(text, BUILTINS) or "pass a builtin name or a path to an image folder, "
        ".npz file or CIFAR-10 batch folder",
    )


def _limit_indices(
    raw: RawData, limit: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Indices to keep from the pool and from a shipped test split (at most ``limit`` overall)."""
    n_pool = len(raw.y)
    n_test = 0 if raw.test is None else len(raw.test[1])
    if limit is None or limit >= n_pool + n_test:
        return np.arange(n_pool), None if raw.test is None else np.arange(n_test)
    if raw.test is None:
        return stratified_subset(raw.y, limit, seed), None
    # Keep the shipped train:test ratio within the limit.
    keep_pool, keep_test = allocate(np.array([n_pool, n_test]), limit)
    return stratified_subset(raw.y, max(int(keep_pool), 1), seed), stratified_subset(
        raw.test[1], max(int(keep_test), 1), seed
    )


def _part(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    # Fancy indexing copies, so the tensors own writable memory (the builtin cache stays intact).
    return torch.from_numpy(np.ascontiguousarray(x[idx], dtype=np.float32)), torch.from_numpy(
        y[idx].astype(np.int64)
    )


def _resize(x: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    if size is None or tuple(x.shape[2:]) == tuple(size):
        return x
    if x.shape[0] == 0:
        return x.new_empty((0, x.shape[1], *size))
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)


def _split_parts(
    raw: RawData, val_fraction: float, test_fraction: float, seed: int, limit: int | None
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    keep, keep_test = _limit_indices(raw, limit, seed)
    if raw.test is None:
        tr, va, te = stratified_split(raw.y[keep], val_fraction, test_fraction, seed)
        return [_part(raw.x, raw.y, keep[i]) for i in (tr, va, te)]
    # The source ships its own test split: use it, and take val from the training pool only.
    tr, va, _ = stratified_split(raw.y[keep], val_fraction, 0.0, seed)
    assert keep_test is not None
    test = _part(*raw.test, keep_test)
    return [_part(raw.x, raw.y, keep[tr]), _part(raw.x, raw.y, keep[va]), test]


def load_dataset(
    source: str | os.PathLike[str],
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    limit: int | None = None,
) -> DatasetSplits:
    """Load a dataset, split it (stratified, deterministic) and normalise it.

    Args:
        source: A builtin name (see :func:`list_datasets`) or a path: a folder with one
            sub-folder per class, an ``.npz`` file with arrays ``x`` and ``y``, or a CIFAR-10
            python batch folder.
        val_fraction: Share of samples for validation.
        test_fraction: Share of samples for test. Ignored when the source ships its own test
            split (CIFAR's ``test_batch``), which is then used as the test split.
        seed: Seed for the split and for ``limit``; torch's global RNG is not used.
        image_size: ``(H, W)`` to resize every image to (bilinear). Needed for image folders
            whose images differ in size.
        limit: Keep a stratified subset of at most this many samples (for quick runs).

    Returns:
        :class:`DatasetSplits` normalised with the train split's per-channel mean and std.

    Raises:
        EdgeoptError: Unknown builtin name, missing path, bad options, or unreadable data.

    Example:
        >>> splits = load_dataset("mnist5k", limit=1000, seed=0)
        >>> splits.input_shape(), len(splits.train)
        ((1, 1, 28, 28), 700)
    """
    check_fractions(val_fraction, test_fraction)
    _check_options(image_size, limit)
    raw = read_source(source, image_size)
    parts = _split_parts(raw, val_fraction, test_fraction, seed, limit)
    parts = [(_resize(x, image_size), y) for x, y in parts]
    mean, std = channel_stats(parts[0][0])
    train, val, test = (TensorDataset(normalise_(x, mean, std), y) for x, y in parts)
    x0 = parts[0][0]
    return DatasetSplits(
        name=raw.name,
        train=train,
        val=val,
        test=test,
        num_classes=len(raw.class_names),
        in_chans=int(x0.shape[1]),
        image_size=(int(x0.shape[2]), int(x0.shape[3])),
        class_names=list(raw.class_names),
        mean=mean,
        std=std,
    )
