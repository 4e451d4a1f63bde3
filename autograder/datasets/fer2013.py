"""FER2013 (48x48 greyscale faces, 7 emotions) from either of its two distributions.

1. Kaggle's ``fer2013.csv`` (challenges-in-representation-learning-facial-expression-
   recognition-challenge, inside ``fer2013.tar.gz``): a header ``emotion,pixels,Usage`` then
   one row per image: ``emotion`` an integer 0..6, ``pixels`` 2304 space-separated integers
   0..255 (48 rows of 48, row-major), ``Usage`` one of ``Training`` (28709 rows),
   ``PublicTest`` (3589) and ``PrivateTest`` (3589).  Column order and spaces around header
   names are tolerated (Kaggle's later ``icml_face_data.csv`` writes ``emotion, Usage,
   pixels``); a file without a ``Usage`` column is read as one part ``"all"``.
   Parts: ``Training`` -> ``"train"``, ``PublicTest`` -> ``"val"``, ``PrivateTest`` -> ``"test"``.

2. The Imperial handout's ``Fer2013pu.zip`` (it extracts to ``public/``; the handout's script
   renames that to ``FER2013``): ``Train/`` and ``Test/`` folders of 48x48 JPEGs (grey faces,
   saved with three equal channels) and ``labels_public.txt``, a CSV whose first line is the
   header ``img,emotion`` and whose other lines are ``Train/1.jpg,0``, ``Test/...,3``: the image
   path relative to the folder holding the file, then the emotion.  Confirmed from students'
   loaders of the 2018 course (``line.split(',')`` after skipping one line; ``pd.read_csv`` with
   columns ``img``/``emotion``; ``Image.open(train_dir + str(i+1) + '.jpg')``); the counts
   (Train 28709, Test 3589) are those of Kaggle's Training and PublicTest.  Tolerated: a
   missing header, spaces, ``\\r\\n``, backslashes, a leading ``./`` or extra leading folders
   (``public/Train/1.jpg``), the ``Train``/``Test`` folder names in any case, and bare file
   names (``1.jpg``) when exactly one of the folders holds that file.  Images not listed in
   ``labels_public.txt`` are ignored.  Parts: ``Train/`` -> ``"train"``, ``Test/`` -> ``"test"``.

Images are ``uint8`` ``(N, 48, 48)``, values 0..255; labels ``int64`` 0..6.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .base import Dataset, DatasetError, require_file
from .imagefiles import IMAGE_SUFFIXES, read_grey

NAME = "fer2013"
IMAGE_SHAPE = (48, 48)
NUM_PIXELS = 48 * 48
VALUE_MAX = 255
CLASS_NAMES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
CSV_NAME = "fer2013.csv"
LABELS_NAME = "labels_public.txt"
USAGE_TO_PART = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FOLDER_TO_PART = {"train": "train", "test": "test"}


def _emotion(text: str, where: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise DatasetError(f"{where}: emotion {text.strip()!r} is not an integer; expected "
                           f"0..{len(CLASS_NAMES) - 1}") from None
    if not 0 <= value < len(CLASS_NAMES):
        raise DatasetError(f"{where}: emotion {value} out of range; expected "
                           f"0..{len(CLASS_NAMES) - 1}")
    return value


def _parts(images: dict[str, list], labels: dict[str, list], source: str) -> dict[str, Dataset]:
    out = {}
    for part in ("all", "train", "val", "test"):
        if labels.get(part):
            out[part] = Dataset(NAME, np.stack(images[part]).astype(np.uint8),
                                np.asarray(labels[part], dtype=np.int64), CLASS_NAMES,
                                VALUE_MAX, part, source)
    return out


def load_csv(path: Path | str) -> dict[str, Dataset]:
    """Kaggle's ``fer2013.csv``; returns ``{"train", "val", "test"}`` by ``Usage`` (module doc).

    Raises ``DatasetError`` naming the file and line for a missing column, a wrong field
    count, a non-integer or out-of-range emotion, a pixel row that is not 2304 integers in
    0..255, an unknown ``Usage``, or a file with no rows.
    """
    path = require_file(Path(path), "Kaggle's fer2013.csv (columns emotion,pixels,Usage)")
    images: dict[str, list] = {}
    labels: dict[str, list] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{path}: empty file; expected the header emotion,pixels,Usage")
        cols = [h.strip().lower() for h in header]
        for needed in ("emotion", "pixels"):
            if needed not in cols:
                raise DatasetError(f"{path} line 1: no {needed!r} column; expected the header "
                                   f"emotion,pixels,Usage (found {','.join(header)})")
        i_emo, i_pix = cols.index("emotion"), cols.index("pixels")
        i_use = cols.index("usage") if "usage" in cols else None
        for row in reader:
            where = f"{path} line {reader.line_num}"
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise DatasetError(f"{where}: expected {len(header)} fields "
                                   f"({','.join(h.strip() for h in header)}), found {len(row)}")
            label = _emotion(row[i_emo], where)
            tokens = row[i_pix].split()
            if len(tokens) != NUM_PIXELS:
                raise DatasetError(f"{where}: expected {NUM_PIXELS} pixel values, found "
                                   f"{len(tokens)}")
            try:
                pixels = np.array(tokens, dtype=np.int64)
            except ValueError:
                bad = next(t for t in tokens if not t.lstrip("+-").isdigit())
                raise DatasetError(f"{where}: pixel value {bad!r} is not an integer; expected "
                                   "integers 0..255") from None
            if pixels.min() < 0 or pixels.max() > 255:
                raise DatasetError(f"{where}: pixel values must lie in 0..255; found "
                                   f"{pixels.min()}..{pixels.max()}")
            if i_use is None:
                part = "all"
            else:
                usage = row[i_use].strip()
                if usage not in USAGE_TO_PART:
                    raise DatasetError(f"{where}: Usage {usage!r} unknown; expected one of "
                                       f"{', '.join(USAGE_TO_PART)}")
                part = USAGE_TO_PART[usage]
            images.setdefault(part, []).append(pixels.reshape(IMAGE_SHAPE))
            labels.setdefault(part, []).append(label)
    if not labels:
        raise DatasetError(f"{path}: no data rows after the header; expected one row per image")
    return _parts(images, labels, str(path))


def _split_fields(line: str) -> list[str]:
    if "," in line:
        return [s.strip() for s in line.rsplit(",", 1)]
    return line.strip().rsplit(None, 1)


def _looks_like_entry(fields: list[str]) -> bool:
    return (len(fields) == 2 and fields[1].strip().isdigit()
            and fields[0].lower().endswith(IMAGE_SUFFIXES))


def _resolve(root: Path, folders: dict[str, str], name: str, where: str) -> tuple[str, Path]:
    """(part, file) for a name from labels_public.txt (tolerances in the module doc)."""
    comps = [c for c in name.strip().replace("\\", "/").split("/") if c not in ("", ".")]
    if not comps:
        raise DatasetError(f"{where}: empty image name; expected e.g. Train/1.jpg")
    for i, comp in enumerate(comps[:-1]):
        if comp.lower() in folders:
            path = root.joinpath(folders[comp.lower()], *comps[i + 1:])
            if not path.is_file():
                raise DatasetError(f"{where}: image {name!r} not found (expected {path})")
            return FOLDER_TO_PART[comp.lower()], path
    hits = [(key, root.joinpath(folders[key], *comps)) for key in sorted(folders)]
    hits = [(key, p) for key, p in hits if p.is_file()]
    if len(hits) == 1:
        return FOLDER_TO_PART[hits[0][0]], hits[0][1]
    looked = ", ".join(f"{folders[k]}/" for k in sorted(folders))
    if not hits:
        raise DatasetError(f"{where}: image {name!r} not found in {looked} of {root}")
    raise DatasetError(f"{where}: image {name!r} is ambiguous: both {looked} hold it; "
                       f"expected a name with its folder, e.g. Train/{comps[-1]}")


def load_imperial(root: Path | str) -> dict[str, Dataset]:
    """The Imperial layout in ``root`` (``Train/``, ``Test/``, ``labels_public.txt``).

    Returns ``{"train", "test"}`` (only the parts that ``labels_public.txt`` lists), images in
    the order of that file.  Raises ``DatasetError`` naming the file (and line) for a missing
    labels file or ``Train/`` folder, a malformed line, a non-integer or out-of-range emotion,
    a duplicate or missing image, or an image that is not 48x48 8-bit.
    """
    root = Path(root)
    labels_path = require_file(root / LABELS_NAME,
                               "the Imperial FER2013 labels (header img,emotion, then lines "
                               "like Train/1.jpg,0)")
    folders = {p.name.lower(): p.name for p in root.iterdir()
               if p.is_dir() and p.name.lower() in FOLDER_TO_PART}
    if "train" not in folders:
        raise DatasetError(f"{root / 'Train'}: folder not found; expected the Imperial FER2013 "
                           "layout (Train/, Test/, labels_public.txt)")
    images: dict[str, list] = {}
    labels: dict[str, list] = {}
    seen: dict[Path, int] = {}
    lines = labels_path.read_text(encoding="utf-8-sig").splitlines()
    first = True
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = _split_fields(line)
        if first:
            first = False
            if not _looks_like_entry(fields):
                continue  # the header (img,emotion)
        where = f"{labels_path} line {number}"
        if len(fields) != 2:
            raise DatasetError(f"{where}: expected 'image,emotion' (e.g. Train/1.jpg,0); "
                               f"found {line.strip()!r}")
        label = _emotion(fields[1], where)
        part, path = _resolve(root, folders, fields[0], where)
        if path in seen:
            raise DatasetError(f"{where}: image {fields[0]!r} already listed on line "
                               f"{seen[path]}; expected each image once")
        seen[path] = number
        rel = path.relative_to(root).as_posix()
        images.setdefault(part, []).append(read_grey(path, IMAGE_SHAPE, f"{root}/{rel}"))
        labels.setdefault(part, []).append(label)
    if not labels:
        raise DatasetError(f"{labels_path}: no image lines after the header; expected lines "
                           "like Train/1.jpg,0")
    return _parts(images, labels, str(root))


def find_source(folder: Path) -> Path:
    """The CSV file or Imperial folder inside ``folder`` (or ``folder`` itself).

    Looks for ``fer2013.csv`` in ``folder`` and ``folder/fer2013/``, and for
    ``labels_public.txt`` in ``folder``, ``folder/public/`` and ``folder/FER2013/``.  Raises
    ``DatasetError`` when none or both kinds are found.
    """
    csvs = [p for p in (folder / CSV_NAME, folder / "fer2013" / CSV_NAME) if p.is_file()]
    imperial = [d for d in (folder, folder / "public", folder / "FER2013")
                if (d / LABELS_NAME).is_file()]
    if csvs and imperial:
        raise DatasetError(f"{folder}: holds both {csvs[0]} and {imperial[0] / LABELS_NAME}; "
                           "pass --source with the one to use")
    if csvs:
        return csvs[0]
    if imperial:
        return imperial[0]
    raise DatasetError(f"{folder}: no FER2013 data found; expected {CSV_NAME} (Kaggle) or "
                       f"{LABELS_NAME} with Train/ and Test/ (Imperial's Fer2013pu.zip); "
                       "run datasets/get_fer2013.sh")


def load(source: Path | str) -> dict[str, Dataset]:
    """FER2013 from a ``.csv`` file, an Imperial folder (or its ``labels_public.txt``), or a
    folder holding either (:func:`find_source`).

    See :func:`load_csv` and :func:`load_imperial` for the parts each returns.
    """
    source = Path(source)
    if source.name == LABELS_NAME and source.is_file():
        return load_imperial(source.parent)
    if source.is_file() or source.suffix.lower() == ".csv":
        return load_csv(source)
    if not source.is_dir():
        raise DatasetError(f"{source}: not found; expected {CSV_NAME} or a folder with "
                           f"{LABELS_NAME}, Train/ and Test/; run datasets/get_fer2013.sh")
    found = find_source(source)
    return load_csv(found) if found.is_file() else load_imperial(found)
