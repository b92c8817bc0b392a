"""Image folders: one sub-folder per class, the sorted folder names being the class names.

```
root/
  cat/  001.png 002.jpg ...
  dog/  001.png ...
```

Images are read with Pillow. If every image is greyscale the dataset has 1 channel, otherwise
all images are converted to RGB. Files with other extensions and hidden entries are skipped.

Pillow picks a decoder by a file's content, not its name, and some of its formats run programs
(an EPS "image" is a PostScript program Pillow hands to Ghostscript): only the raster formats
below are tried, so a ``cat/1.png`` that is anything else is an error, not a program.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from edgeopt.data.raw import RawData
from edgeopt.errors import EdgeoptError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Pillow format names tried, whatever the extension says (JPEG also opens phones' MPO files).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"})


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _class_dirs(root: Path) -> list[Path]:
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    if not dirs:
        raise EdgeoptError(
            f"image folder '{root}' has no class sub-folders",
            hint="put the images of each class in their own sub-folder, e.g. root/cat/1.png",
        )
    return dirs


def _image_files(class_dir: Path) -> list[Path]:
    files = sorted(
        p
        for p in class_dir.iterdir()
        if p.is_file() and _visible(p) and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise EdgeoptError(
            f"class folder '{class_dir}' contains no images",
            hint=f"add images ({', '.join(sorted(IMAGE_EXTENSIONS))}) or remove the folder",
        )
    return files


def _open(path: Path) -> Image.Image:
    try:
        # Not "with Image.open(path) as im": Pillow's __enter__ returns typing.Self, which is not
        # in Python 3.10's typing (mypy's target here), so im would be Any.
        image = Image.open(path, formats=IMAGE_FORMATS)
        with image:
            image.load()  # decode now, so a corrupt file fails here with its name
            return image.copy()
    except UnidentifiedImageError:
        raise EdgeoptError(
            f"cannot read image '{path}': it is not a PNG, JPEG, BMP, GIF, WebP or TIFF image",
            hint="remove or replace the file",
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise EdgeoptError(
            f"cannot read image '{path}': {e}", hint="remove or replace the broken file"
        ) from e


def _hw(im: Image.Image) -> tuple[int, int]:
    return im.height, im.width


def _check_same_size(images: list[Image.Image], files: list[Path], root: Path) -> None:
    first = _hw(images[0])
    for im, f in zip(images, files, strict=True):
        if _hw(im) != first:
            raise EdgeoptError(
                f"images in '{root}' have different sizes: '{files[0]}' is "
                f"{first[0]}x{first[1]} (HxW) but '{f}' is {im.height}x{im.width}",
                hint="pass image_size=(H, W) to resize every image to one size",
            )


def _pixels(im: Image.Image, mode: str) -> np.ndarray:
    """float32 H x W x C pixels in [0, 1]."""
    if mode == "L" and im.mode.startswith("I"):
        # Pillow opens 16-bit greyscale PNG/TIFF as "I;16" or "I"; convert("L") would clip
        # every value above 255 to white, so scale the 16-bit range instead.
        a = np.asarray(im, dtype=np.float32) / 65535.0
    elif mode == "L" and im.mode == "F":
        a = np.asarray(im, dtype=np.float32)  # float images are taken as already in [0, 1]
    else:
        a = np.asarray(im.convert(mode), dtype=np.float32) / 255.0
    return a.reshape(a.shape[0], a.shape[1], -1)


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    # Resize each channel as a float ("F") image: works for every source bit depth and
    # does not round to 8 bits in between.
    planes = [
        np.asarray(Image.fromarray(a[..., c]).resize((size[1], size[0]), Image.Resampling.BILINEAR))
        for c in range(a.shape[-1])
    ]
    return np.stack(planes, axis=-1)


def _to_array(
    images: list[Image.Image], mode: str, image_size: tuple[int, int] | None
) -> np.ndarray:
    out = []
    for im in images:
        a = _pixels(im, mode)
        if image_size is not None and a.shape[:2] != tuple(image_size):
            a = _resize(a, image_size)
        out.append(a)
    nchw: np.ndarray = np.stack(out).transpose(0, 3, 1, 2)  # N x H x W x C -> N x C x H x W
    return nchw


def read_image_folder(root: Path, image_size: tuple[int, int] | None = None) -> RawData:
    """Read an image folder into :class:`RawData` with values in [0, 1].

    Args:
        root: Folder with one sub-folder per class.
        image_size: ``(H, W)`` to resize every image to (bilinear, with Pillow). Required when
            the images differ in size.

    Raises:
        EdgeoptError: No class sub-folders, an empty class folder, an unreadable image, or
            mixed image sizes without ``image_size``.
    """
    class_dirs = _class_dirs(root)
    files: list[Path] = []
    labels: list[int] = []
    for label, d in enumerate(class_dirs):
        found = _image_files(d)
        files += found
        labels += [label] * len(found)
    images = [_open(f) for f in files]
    if image_size is None:
        _check_same_size(images, files, root)
    mode = "L" if all(im.mode in _GREY_MODES for im in images) else "RGB"
    x = _to_array(images, mode, image_size)
    return RawData(root.name, x, np.asarray(labels, dtype=np.int64), [d.name for d in class_dirs])
