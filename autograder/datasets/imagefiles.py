"""Reading and writing single image files (Pillow), for FER2013's Imperial layout and for the
folder of private test images that ``test_fer_model(img_folder, ...)`` receives.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".pgm", ".ppm")
# Pillow modes holding 8-bit samples; anything else (16-bit "I;16", float "F", ...) is refused.
_EIGHT_BIT_MODES = ("L", "LA", "P", "RGB", "RGBA", "1", "CMYK", "YCbCr")


def read_grey(path: Path, shape: tuple[int, int], what: str | None = None) -> np.ndarray:
    """One image file as ``uint8`` ``(H, W)`` greyscale.

    Colour files are converted with Pillow's ``convert("L")`` (ITU-R 601-2 luma; a file whose
    three channels are equal, as FER2013's JPEGs are, gives exactly that channel back).
    ``what`` names the file in messages (default: the path).  Raises ``DatasetError`` when the
    file is missing, not an image, not 8-bit, or not ``shape`` (rows, columns).
    """
    from PIL import Image, UnidentifiedImageError

    label = what or str(path)
    if not path.is_file():
        raise DatasetError(f"{label}: image file not found ({path})")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in _EIGHT_BIT_MODES:
                raise DatasetError(f"{label}: expected an 8-bit greyscale or colour image; "
                                   f"found Pillow mode {img.mode!r}")
            grey = img if img.mode == "L" else img.convert("L")
            arr = np.asarray(grey, dtype=np.uint8).copy()
    except DatasetError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"{label}: not a readable image file ({type(exc).__name__}: "
                           f"{exc})") from None
    if arr.shape != tuple(shape):
        raise DatasetError(f"{label}: expected a {shape[1]}x{shape[0]} image (width x height); "
                           f"found {arr.shape[1]}x{arr.shape[0]}")
    return arr


def save_image_folder(images: np.ndarray, folder: Path | str, suffix: str = ".png") -> list[Path]:
    """Write ``uint8`` images ``(N, H, W)`` or ``(N, H, W, 3)`` as ``00000.png``, ``00001.png``, ...

    Names are zero-padded so that a sorted directory listing (what the handout's
    ``test_fer_model`` does with ``os.listdir``) gives the images in array order.  PNG is
    lossless, so reading a file back gives the array exactly.  The folder is created; files
    already there are left alone.  Returns the paths written, in order.
    """
    from PIL import Image

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DatasetError(f"save_image_folder: expected uint8 images (N, H, W) or "
                           f"(N, H, W, 3); found {images.dtype} {images.shape}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(max(len(images) - 1, 0))))
    paths = []
    for i, img in enumerate(images):
        p = folder / f"{i:0{width}d}{suffix}"
        Image.fromarray(np.ascontiguousarray(img)).save(p)
        paths.append(p)
    return paths
