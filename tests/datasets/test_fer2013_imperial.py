"""FER2013 in the Imperial layout (autograder/datasets/fer2013.py): ``labels_public.txt`` with
``Train/`` and ``Test/`` image folders, tolerated name variants, and every missing, corrupt or
ambiguous file failing with a message that names it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.datasets import DatasetError, fer2013, fixtures


def _png(path: Path, array: np.ndarray) -> None:
    from PIL import Image
    Image.fromarray(array).save(path)


def test_fer2013_imperial_layout_loads_train_and_test(tmp_path):
    raw = fixtures.write_fer2013_imperial(tmp_path, train_labels=[0, 5], test_labels=[6])
    parts = fer2013.load(tmp_path)
    assert sorted(parts) == ["test", "train"]
    assert parts["train"].images.shape == (2, 48, 48) and parts["train"].images.dtype == np.uint8
    assert np.array_equal(parts["train"].images, raw["train_images"])
    assert parts["train"].labels.tolist() == [0, 5] and parts["test"].labels.tolist() == [6]
    assert np.array_equal(parts["test"].images, raw["test_images"])


def test_fer2013_imperial_reads_colour_jpegs_as_grey(tmp_path):
    """The handout's JPEGs store the grey face in three equal channels."""
    from PIL import Image
    (tmp_path / "Train").mkdir()
    grey = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (48, 1))
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(tmp_path / "Train" / "1.jpg",
                                                                quality=95)
    (tmp_path / "labels_public.txt").write_text("img,emotion\nTrain/1.jpg,2\n")
    img = fer2013.load(tmp_path)["train"].images[0]
    assert img.shape == (48, 48) and np.abs(img.astype(int) - grey).max() <= 8


def test_fer2013_imperial_tolerates_name_variants(tmp_path):
    """No header, CRLF, spaces, backslashes, ./ and extra leading folders, folder case, bare
    names that only one folder holds."""
    (tmp_path / "train").mkdir()
    (tmp_path / "TEST").mkdir()
    imgs = [np.full((48, 48), v, np.uint8) for v in (10, 20, 30, 40, 50)]
    for name, img in zip(["1.png", "2.png", "3.png", "only_train.png"], imgs):
        _png(tmp_path / "train" / name, img)
    _png(tmp_path / "TEST" / "1.png", imgs[4])
    text = ("train/1.png, 1\r\n"
            "public\\Train\\2.png,2\r\n"
            " ./Train/3.png ,3\r\n"
            "only_train.png,4\r\n"
            "\r\n"
            "public/Test/1.png,5\r\n")
    (tmp_path / "labels_public.txt").write_bytes(text.encode())
    parts = fer2013.load(tmp_path / "labels_public.txt")
    assert parts["train"].labels.tolist() == [1, 2, 3, 4]
    assert [int(x[0, 0]) for x in parts["train"].images] == [10, 20, 30, 40]
    assert parts["test"].labels.tolist() == [5] and parts["test"].images[0, 0, 0] == 50


def test_fer2013_finds_the_imperial_public_folder_inside_the_source(tmp_path):
    fixtures.write_fer2013_imperial(tmp_path / "public", [0], [1])
    assert sorted(fer2013.load(tmp_path)) == ["test", "train"]


def _imperial(tmp_path: Path) -> Path:
    fixtures.write_fer2013_imperial(tmp_path, train_labels=[0, 1], test_labels=[2])
    return tmp_path


def test_fer2013_imperial_missing_labels_file(tmp_path):
    root = _imperial(tmp_path)
    (root / "labels_public.txt").unlink()
    with pytest.raises(DatasetError, match="no FER2013 data found; expected fer2013.csv .* or "
                                           "labels_public.txt with Train/ and Test/"):
        fer2013.load(root)
    with pytest.raises(DatasetError, match=r"labels_public.txt: file not found; expected the "
                                           r"Imperial FER2013 labels \(header img,emotion"):
        fer2013.load_imperial(root)


def test_fer2013_imperial_image_of_wrong_size(tmp_path):
    root = _imperial(tmp_path)
    _png(root / "Train" / "2.png", np.zeros((47, 48), np.uint8))
    with pytest.raises(DatasetError) as exc:
        fer2013.load(root)
    assert "Train/2.png: expected a 48x48 image (width x height); found 48x47" in str(exc.value)


def test_fer2013_imperial_non_integer_label(tmp_path):
    root = _imperial(tmp_path)
    (root / "labels_public.txt").write_text("img,emotion\nTrain/1.png,0\nTrain/2.png,happy\n")
    with pytest.raises(DatasetError, match="labels_public.txt line 3: emotion 'happy' is not an "
                                           "integer; expected 0..6"):
        fer2013.load(root)


@pytest.mark.parametrize("line, expected", [
    ("Train/9.png,0", r"line 2: image 'Train/9.png' not found \(expected .*Train/9.png\)"),
    ("9.png,0", r"line 2: image '9.png' not found in Test/, Train/"),
    ("1.png,0", r"line 2: image '1.png' is ambiguous: both Test/, Train/ hold it"),
    ("Train/1.png", r"line 2: expected 'image,emotion' \(e.g. Train/1.jpg,0\)"),
    ("Train/1.png,9", r"line 2: emotion 9 out of range"),
], ids=["missing-image", "bare-name-missing", "bare-name-ambiguous", "no-label", "label-range"])
def test_fer2013_imperial_bad_label_lines(tmp_path, line, expected):
    root = _imperial(tmp_path)
    (root / "labels_public.txt").write_text("img,emotion\n" + line + "\n")
    with pytest.raises(DatasetError, match="labels_public.txt " + expected):
        fer2013.load(root)


def test_fer2013_imperial_duplicate_line(tmp_path):
    root = _imperial(tmp_path)
    (root / "labels_public.txt").write_text("img,emotion\nTrain/1.png,0\nTrain/1.png,0\n")
    with pytest.raises(DatasetError, match="line 3: image 'Train/1.png' already listed on line 2"):
        fer2013.load(root)


def test_fer2013_imperial_corrupt_and_16_bit_images(tmp_path):
    from PIL import Image
    root = _imperial(tmp_path)
    (root / "Train" / "1.png").write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match="Train/1.png: not a readable image file"):
        fer2013.load(root)
    Image.fromarray(np.zeros((48, 48), np.uint16)).save(root / "Train" / "1.png")
    with pytest.raises(DatasetError, match="Train/1.png: expected an 8-bit greyscale or colour image"):
        fer2013.load(root)


def test_fer2013_imperial_without_train_folder(tmp_path):
    (tmp_path / "labels_public.txt").write_text("img,emotion\nTrain/1.png,0\n")
    with pytest.raises(DatasetError, match="Train: folder not found; expected the Imperial FER2013 layout"):
        fer2013.load(tmp_path)


def test_fer2013_folder_with_both_formats_asks_which(tmp_path):
    fixtures.write_fer2013_imperial(tmp_path, [0], [1])
    fixtures.write_fer2013_csv(tmp_path / "fer2013.csv", ["Training"])
    with pytest.raises(DatasetError, match="holds both .*fer2013.csv and .*labels_public.txt; "
                                           "pass --source"):
        fer2013.load(tmp_path)
