"""FER2013 as Kaggle's CSV (autograder/datasets/fer2013.py): parts by ``Usage``, tolerated
header variants, and every bad row naming the file, line and what was expected."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.datasets import DatasetError, fer2013, fixtures


USAGES = ["Training", "Training", "PublicTest", "PrivateTest", "Training"]


def test_fer2013_csv_parts_follow_usage(tmp_path):
    raw = fixtures.write_fer2013_csv(tmp_path / "fer2013.csv", USAGES)
    parts = fer2013.load(tmp_path / "fer2013.csv")
    assert sorted(parts) == ["test", "train", "val"]
    train = parts["train"]
    assert train.images.shape == (3, 48, 48) and train.images.dtype == np.uint8
    assert np.array_equal(train.images, raw["images"][[0, 1, 4]])
    assert np.array_equal(train.labels, raw["labels"][[0, 1, 4]]) and train.labels.dtype == np.int64
    assert np.array_equal(parts["val"].images, raw["images"][[2]])
    assert np.array_equal(parts["test"].labels, raw["labels"][[3]])
    assert train.class_names[3] == "Happy" and train.value_max == 255


def test_fer2013_csv_tolerates_reordered_spaced_header_and_crlf(tmp_path):
    img = np.arange(2304).reshape(48, 48) % 256
    text = "emotion, Usage, pixels\r\n" + f"4,Training,{fixtures.fer_pixels_text(img)}\r\n"
    (tmp_path / "icml.csv").write_bytes(text.encode())
    parts = fer2013.load(tmp_path / "icml.csv")
    assert np.array_equal(parts["train"].images[0], img) and parts["train"].labels.tolist() == [4]


def test_fer2013_csv_without_usage_is_one_part(tmp_path):
    img = np.zeros((48, 48), np.uint8)
    (tmp_path / "train.csv").write_text(f"emotion,pixels\n2,{fixtures.fer_pixels_text(img)}\n")
    assert list(fer2013.load(tmp_path / "train.csv")) == ["all"]


def _fer_csv_with_row(tmp_path: Path, row: str, at: int = 3) -> Path:
    fixtures.write_fer2013_csv(tmp_path / "fer2013.csv", USAGES)
    lines = (tmp_path / "fer2013.csv").read_text().splitlines()
    lines[at - 1] = row
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "fer2013.csv"


GOOD = fixtures.fer_pixels_text(np.full((48, 48), 7, np.uint8))


@pytest.mark.parametrize("row, expected", [
    ("3," + " ".join(["1"] * 2303) + ",Training", "line 3: expected 2304 pixel values, found 2303"),
    ("x," + GOOD + ",Training", "line 3: emotion 'x' is not an integer; expected 0..6"),
    ("7," + GOOD + ",Training", "line 3: emotion 7 out of range; expected 0..6"),
    ("3," + GOOD.replace("7", "a", 1) + ",Training",
     "line 3: pixel value 'a' is not an integer; expected integers 0..255"),
    ("3," + GOOD.replace("7", "256", 1) + ",Training", "line 3: pixel values must lie in 0..255"),
    ("3," + GOOD + ",Validation", "line 3: Usage 'Validation' unknown; expected one of Training"),
    ("3," + GOOD, "line 3: expected 3 fields (emotion,pixels,Usage), found 2"),
], ids=["short-pixel-row", "non-integer-label", "label-range", "non-integer-pixel",
        "pixel-range", "unknown-usage", "missing-field"])
def test_fer2013_csv_bad_row_names_file_line_and_expectation(tmp_path, row, expected):
    path = _fer_csv_with_row(tmp_path, row)
    with pytest.raises(DatasetError) as exc:
        fer2013.load(path)
    assert "fer2013.csv " + expected in str(exc.value)


def test_fer2013_csv_missing_pixels_column(tmp_path):
    (tmp_path / "fer2013.csv").write_text("emotion,image,Usage\n0,1 2,Training\n")
    with pytest.raises(DatasetError, match=r"fer2013.csv line 1: no 'pixels' column; expected "
                                           "the header emotion,pixels,Usage"):
        fer2013.load(tmp_path / "fer2013.csv")


@pytest.mark.parametrize("text, expected", [
    ("", "empty file"), ("emotion,pixels,Usage\n", "no data rows after the header")])
def test_fer2013_csv_empty(tmp_path, text, expected):
    (tmp_path / "fer2013.csv").write_text(text)
    with pytest.raises(DatasetError, match="fer2013.csv: " + expected):
        fer2013.load(tmp_path / "fer2013.csv")


def test_fer2013_missing_csv_file(tmp_path):
    with pytest.raises(DatasetError, match="fer2013.csv: file not found; expected Kaggle's"):
        fer2013.load_csv(tmp_path / "fer2013.csv")
