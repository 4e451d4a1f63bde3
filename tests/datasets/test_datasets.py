"""The data-set layer: each loader on tiny files in the exact raw formats, and every corrupt or
missing-file variant failing with a message that names the file and what was expected."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder import datasets as ds
from autograder.datasets import DatasetError, cifar10, fer2013, fixtures, nist36

KIT = Path(__file__).resolve().parents[2]


def _reference_data_utils():
    """The given student-side loader, imported from its file (never from src/ on sys.path)."""
    spec = importlib.util.spec_from_file_location(
        "ref_data_utils", KIT / "reference" / "src" / "utils" / "data_utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png(path: Path, array: np.ndarray) -> None:
    from PIL import Image
    Image.fromarray(array).save(path)


# --------------------------------------------------------------------------- digits

def test_digits_loads_uint8_8x8_with_values_up_to_16():
    parts = ds.load("digits")
    assert list(parts) == ["all"]
    d = parts["all"]
    assert d.images.shape == (1797, 8, 8) and d.images.dtype == np.uint8
    assert d.labels.dtype == np.int64 and d.labels.shape == (1797,)
    assert d.images.max() == 16 and d.value_max == 16
    assert d.class_names == tuple("0123456789")
    assert d.class_counts() == np.bincount(d.labels).tolist()


def test_digits_refuses_a_source():
    with pytest.raises(DatasetError, match="takes no --source"):
        ds.load("digits", "/some/where")


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DatasetError, match="unknown data set 'mnist'.*digits, cifar10, fer2013, nist36"):
        ds.load("mnist")


def test_missing_default_source_names_the_folder_and_the_fetch_script(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_KIT_ROOT", str(tmp_path))
    with pytest.raises(DatasetError) as exc:
        ds.load("nist36")
    assert str(tmp_path / "datasets" / "nist36" / "raw") in str(exc.value)
    assert "get_nist36.sh" in str(exc.value)


# --------------------------------------------------------------------------- CIFAR-10

@pytest.mark.parametrize("py2_keys", [True, False], ids=["python2-str-keys", "python3-str-keys"])
def test_cifar10_batches_load_as_hwc_uint8(tmp_path, py2_keys):
    raw = fixtures.write_cifar10(tmp_path, n_per_batch=10, num_train_batches=1, py2_keys=py2_keys)
    parts = cifar10.load(tmp_path, num_train_batches=1)
    assert sorted(parts) == ["test", "train"]
    train, test = parts["train"], parts["test"]
    assert train.images.shape == (10, 32, 32, 3) and train.images.dtype == np.uint8
    assert test.images.shape == (10, 32, 32, 3)
    # data rows are 1024 red, 1024 green, 1024 blue values, each plane row-major
    r, c, ch = 5, 7, 2
    assert train.images[3, r, c, ch] == raw["train_data"][3, ch * 1024 + r * 32 + c]
    assert np.array_equal(train.images.transpose(0, 3, 1, 2).reshape(10, 3072), raw["train_data"])
    assert np.array_equal(train.labels, raw["train_labels"]) and train.labels.dtype == np.int64
    assert np.array_equal(test.labels, raw["test_labels"])
    assert train.class_names[0] == "airplane" and len(train.class_names) == 10
    assert train.value_max == 255


def test_cifar10_default_reads_five_training_batches(tmp_path):
    fixtures.write_cifar10(tmp_path, n_per_batch=4, num_train_batches=5)
    parts = cifar10.load(tmp_path)
    assert len(parts["train"]) == 20 and len(parts["test"]) == 4


def test_cifar10_layout_matches_the_given_student_loader(tmp_path):
    """The instructor-side images equal what reference/src/utils/data_utils.py reads."""
    fixtures.write_cifar10(tmp_path, n_per_batch=10, num_train_batches=1, py2_keys=True)
    X, y = _reference_data_utils().load_CIFAR_batch(str(tmp_path / "data_batch_1"))
    train = cifar10.load(tmp_path, num_train_batches=1)["train"]
    assert np.array_equal(X, train.images) and np.array_equal(y, train.labels)


def test_cifar10_truncated_pickle_names_the_batch(tmp_path):
    fixtures.write_cifar10(tmp_path, n_per_batch=10, num_train_batches=1)
    path = tmp_path / "data_batch_1"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetError) as exc:
        cifar10.load(tmp_path, num_train_batches=1)
    assert "data_batch_1" in str(exc.value) and "truncated or corrupt" in str(exc.value)


def test_cifar10_batch_without_data_key(tmp_path):
    fixtures.write_cifar10(tmp_path, n_per_batch=10, num_train_batches=3)
    (tmp_path / "data_batch_3").write_bytes(fixtures.cifar_pickle_bytes(
        {"batch_label": "x", "labels": [0] * 10, "pixels": np.zeros((10, 3072), np.uint8)}))
    with pytest.raises(DatasetError, match=r"data_batch_3: not a CIFAR-10 batch \(no 'data' key"):
        cifar10.load(tmp_path, num_train_batches=3)


def test_cifar10_batch_that_is_not_a_dict(tmp_path):
    fixtures.write_cifar10(tmp_path, n_per_batch=10, num_train_batches=1)
    (tmp_path / "test_batch").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DatasetError, match="test_batch: not a CIFAR-10 batch .*found list"):
        cifar10.load(tmp_path, num_train_batches=1)


@pytest.mark.parametrize("data, labels, expected", [
    (np.zeros((10, 3000), np.uint8), [0] * 10, r"'data' must be a uint8 array of shape \(n, 3072\)"),
    (np.zeros((10, 3072), np.float32), [0] * 10, r"'data' must be a uint8 array"),
    (np.zeros((10, 3072), np.uint8), [0] * 9, r"'labels' must be 10 integers"),
    (np.zeros((10, 3072), np.uint8), ["a"] * 10, r"'labels' must be 10 integers"),
    (np.zeros((10, 3072), np.uint8), [10] * 10, r"labels must lie in 0..9; found 10..10"),
], ids=["short-rows", "float-data", "label-count", "text-labels", "label-range"])
def test_cifar10_malformed_batch_contents(tmp_path, data, labels, expected):
    fixtures.write_cifar10(tmp_path, n_per_batch=10, num_train_batches=2)
    (tmp_path / "data_batch_2").write_bytes(fixtures.cifar_pickle_bytes(
        {"batch_label": "x", "labels": labels, "data": data}))
    with pytest.raises(DatasetError, match="data_batch_2: " + expected):
        cifar10.load(tmp_path, num_train_batches=2)


@pytest.mark.parametrize("missing", ["data_batch_2", "test_batch", "batches.meta"])
def test_cifar10_missing_file_is_named(tmp_path, missing):
    fixtures.write_cifar10(tmp_path, n_per_batch=10, num_train_batches=2)
    (tmp_path / missing).unlink()
    with pytest.raises(DatasetError) as exc:
        cifar10.load(tmp_path, num_train_batches=2)
    assert f"{missing}: file not found" in str(exc.value)
    assert "CIFAR-10" in str(exc.value)


def test_cifar10_meta_without_label_names(tmp_path):
    fixtures.write_cifar10(tmp_path, n_per_batch=10, num_train_batches=1)
    (tmp_path / "batches.meta").write_bytes(fixtures.cifar_pickle_bytes({"num_vis": 3072}))
    with pytest.raises(DatasetError, match="batches.meta: not a CIFAR-10 batches.meta .*label_names"):
        cifar10.load(tmp_path, num_train_batches=1)


def test_cifar10_missing_folder_points_to_the_fetch_script(tmp_path):
    with pytest.raises(DatasetError, match="folder not found.*get_cifar10.sh"):
        cifar10.load(tmp_path / "cifar-10-batches-py")


# --------------------------------------------------------------------------- FER2013 CSV

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


# --------------------------------------------------------------------------- FER2013 Imperial

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


# --------------------------------------------------------------------------- NIST36

def test_nist36_rows_reshape_without_transpose_and_labels_from_one_hot(tmp_path):
    raw = fixtures.write_nist36(tmp_path, {"train": 2})
    parts = nist36.load(tmp_path)
    assert sorted(parts) == ["test", "train", "val"]
    train = parts["train"]
    assert train.images.shape == (72, 32, 32) and train.images.dtype == np.float64
    # images[i] is row.reshape(32, 32): flattening gives the file's rows back exactly
    assert np.array_equal(train.images.reshape(72, 1024), raw["train"]["data"])
    assert train.images[5, 2, 3] == raw["train"]["data"][5, 2 * 32 + 3]
    assert np.array_equal(train.labels, raw["train"]["labels"]) and train.labels.dtype == np.int64
    assert len(parts["val"]) == 36 and len(parts["test"]) == 36
    assert train.class_names[0] == "A" and train.class_names[25] == "Z"
    assert train.class_names[26] == "0" and train.class_names[35] == "9"
    assert train.value_max == 1.0


def _savemat(path: Path, **arrays) -> None:
    from scipy.io import savemat
    savemat(str(path), arrays)


def test_nist36_missing_key(tmp_path):
    fixtures.write_nist36(tmp_path)
    _savemat(tmp_path / "nist36_train.mat", train_data=np.zeros((36, 1024)))
    with pytest.raises(DatasetError, match=r"nist36_train.mat: missing key 'train_labels' "
                                           r"\(found: train_data\)"):
        nist36.load(tmp_path)


def test_nist36_missing_file(tmp_path):
    fixtures.write_nist36(tmp_path)
    (tmp_path / "nist36_valid.mat").unlink()
    with pytest.raises(DatasetError, match="nist36_valid.mat: file not found; expected a MATLAB "
                                           "file with keys valid_data"):
        nist36.load(tmp_path)


def test_nist36_corrupt_file(tmp_path):
    fixtures.write_nist36(tmp_path)
    (tmp_path / "nist36_test.mat").write_bytes(b"\x00garbage" * 40)
    with pytest.raises(DatasetError, match="nist36_test.mat: not a readable MATLAB .mat file"):
        nist36.load(tmp_path)


@pytest.mark.parametrize("data, labels, expected", [
    (np.zeros((36, 1000)), np.eye(36), r"train_data must be a numeric array \(N, 1024\)"),
    (np.full((36, 1024), 2.0), np.eye(36), r"train_data values must lie in \[0, 1\]; found 2..2"),
    (np.zeros((36, 1024)), np.eye(36)[:, :10], r"train_labels must be one-hot of shape \(36, 36\)"),
    (np.zeros((36, 1024)), np.eye(36) * 2, r"train_labels row 0 is not one-hot"),
    (np.zeros((36, 1024)), np.vstack([np.eye(36)[:35], np.zeros((1, 36))]),
     r"train_labels row 35 is not one-hot \(expected exactly one 1 among 36 columns"),
], ids=["row-length", "value-range", "label-columns", "not-binary", "empty-row"])
def test_nist36_malformed_arrays(tmp_path, data, labels, expected):
    fixtures.write_nist36(tmp_path)
    _savemat(tmp_path / "nist36_train.mat", train_data=data, train_labels=labels)
    with pytest.raises(DatasetError, match="nist36_train.mat: " + expected):
        nist36.load(tmp_path)


# --------------------------------------------------------------------------- records, scaling

def test_dataset_rejects_inconsistent_arrays():
    with pytest.raises(DatasetError, match="3 images but 2 labels"):
        ds.Dataset("digits", np.zeros((3, 8, 8), np.uint8), np.zeros(2, np.int64),
                   tuple("0123456789"), 16)
    with pytest.raises(DatasetError, match="labels must be a 1-D int64 array"):
        ds.Dataset("digits", np.zeros((2, 8, 8), np.uint8), np.zeros(2, np.int32),
                   tuple("0123456789"), 16)
    with pytest.raises(DatasetError, match="labels must lie in 0..9; found 0..10"):
        ds.Dataset("digits", np.zeros((2, 8, 8), np.uint8), np.array([0, 10]),
                   tuple("0123456789"), 16)


@pytest.mark.parametrize("images, value_max", [
    (np.array([[[0, 8], [16, 4]]], np.uint8), 16),
    (np.array([[[0, 255], [128, 1]]], np.uint8), 255),
    (np.array([[[0.0, 1.0], [0.5, 0.25]]]), 1.0),
])
def test_to_unit_float_scales_to_float32_in_0_1_without_modifying_input(images, value_max):
    before = images.copy()
    x = ds.to_unit_float(images, value_max)
    assert x.dtype == np.float32 and x.shape == images.shape
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x, images / value_max, rtol=1e-7)
    assert np.array_equal(images, before)


def test_to_unit_float_refuses_values_above_value_max():
    with pytest.raises(DatasetError, match=r"pixel values must lie in \[0, 16\]; found 0..255"):
        ds.to_unit_float(np.array([[[0, 255]]], np.uint8), 16)


def test_to_nchw_adds_or_moves_the_channel_axis():
    assert ds.to_nchw(np.zeros((2, 48, 48), np.float32)).shape == (2, 1, 48, 48)
    x = np.arange(2 * 4 * 5 * 3).reshape(2, 4, 5, 3)
    y = ds.to_nchw(x)
    assert y.shape == (2, 3, 4, 5) and y[1, 2, 3, 4] == x[1, 3, 4, 2]


def test_load_split_reads_the_checked_in_digits_split():
    train = ds.load_split("digits", "train", KIT / "datasets" / "digits")
    val = ds.load_split("digits", "val", KIT / "datasets" / "digits")
    assert (len(train), len(val)) == (1077, 360)
    assert train.images.dtype == np.uint8 and train.images.shape[1:] == (8, 8)
    assert train.value_max == 16 and train.to_unit_float().max() == 1.0


def test_load_split_checks_dtype_and_names_missing_files(tmp_path):
    (tmp_path / "public").mkdir()
    np.save(tmp_path / "public" / "train_images.npy", np.zeros((2, 8, 8), np.float64))
    np.save(tmp_path / "public" / "train_labels.npy", np.zeros(2, np.int64))
    with pytest.raises(DatasetError, match=r"train_images.npy: expected uint8 images \(N, 8, 8\); "
                                           r"found float64"):
        ds.load_split("digits", "train", tmp_path)
    with pytest.raises(DatasetError, match=r"private/test_images.npy: file not found"):
        ds.load_split("digits", "test", tmp_path)


def test_save_image_folder_round_trips_in_sorted_order(tmp_path):
    images = np.random.RandomState(0).randint(0, 256, size=(12, 48, 48)).astype(np.uint8)
    paths = ds.save_image_folder(images, tmp_path / "imgs")
    names = sorted(p.name for p in (tmp_path / "imgs").iterdir())
    assert names == [p.name for p in paths] and names[0] == "00000.png"
    back = np.stack([ds.read_grey(tmp_path / "imgs" / n, (48, 48)) for n in names])
    assert np.array_equal(back, images)


# --------------------------------------------------------------------------- fetch scripts
# The real downloads cannot run here (no network): each script is pointed at a file:// URL of
# a tiny archive made in the exact layout, so argument handling, checksum verification,
# extraction and the final layout are exercised for real.

SCRIPTS = ["get_cifar10.sh", "get_fer2013.sh", "get_nist36.sh"]
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def run_script(name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(KIT / "datasets" / name), *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_bash
@pytest.mark.parametrize("script", SCRIPTS)
def test_fetch_script_help_and_bad_arguments(script):
    done = run_script(script, "--help")
    assert done.returncode == 0 and "--dest DIR" in done.stdout and script in done.stdout
    done = run_script(script, "--no-such-option")
    assert done.returncode == 2 and "unknown argument '--no-such-option'" in done.stderr
    done = run_script(script, "--dest")
    assert done.returncode == 2 and "--dest needs a folder" in done.stderr


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")
def test_fetch_script_runs_under_plain_sh_as_the_handout_says():
    done = subprocess.run(["sh", str(KIT / "datasets" / "get_cifar10.sh"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "CIFAR10_MD5" in done.stdout


def _cifar_tarball(tmp_path: Path, drop: str | None = None) -> Path:
    src = tmp_path / "src"
    fixtures.write_cifar10(src / "cifar-10-batches-py", n_per_batch=2)
    (src / "cifar-10-batches-py" / "readme.html").write_text("<html></html>")
    if drop:
        (src / "cifar-10-batches-py" / drop).unlink()
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive


@needs_bash
def test_get_cifar10_refuses_an_archive_whose_md5_is_not_the_pinned_one(tmp_path):
    archive = _cifar_tarball(tmp_path)
    dest = tmp_path / "datasets"
    done = run_script("get_cifar10.sh", "--dest", str(dest), CIFAR10_URL=archive.as_uri())
    assert done.returncode == 1
    assert (f"checksum mismatch for cifar-10-python.tar.gz: md5 {md5(archive)}, expected "
            "c58f30108f718f92721af3b95e74349a") in done.stderr
    assert not (dest / "cifar-10-batches-py").exists()
    assert (dest / "cifar-10-python.tar.gz.bad").is_file()


@needs_bash
def test_get_cifar10_verifies_extracts_and_the_loader_reads_the_result(tmp_path):
    archive = _cifar_tarball(tmp_path)
    dest = tmp_path / "datasets"
    done = run_script("get_cifar10.sh", "--dest", str(dest), CIFAR10_URL=archive.as_uri(),
                      CIFAR10_MD5=md5(archive))
    assert done.returncode == 0, done.stderr
    assert f"md5 verified: {md5(archive)}" in done.stdout
    parts = cifar10.load(dest / "cifar-10-batches-py")
    assert len(parts["train"]) == 10 and len(parts["test"]) == 2
    assert not (dest / "cifar-10-python.tar.gz").exists()  # archive removed after extraction
    assert not list(dest.glob(".cifar10-extract.*"))        # no temporary folder left behind
    again = run_script("get_cifar10.sh", "--dest", str(dest), CIFAR10_URL="file:///nonexistent")
    assert again.returncode == 0 and "already in" in again.stdout


@needs_bash
def test_get_cifar10_fails_on_an_incomplete_archive_and_a_failed_download(tmp_path):
    archive = _cifar_tarball(tmp_path, drop="test_batch")
    dest = tmp_path / "datasets"
    done = run_script("get_cifar10.sh", "--dest", str(dest), CIFAR10_URL=archive.as_uri(),
                      CIFAR10_MD5=md5(archive))
    assert done.returncode == 1 and "does not hold cifar-10-batches-py/" in done.stderr
    assert not (dest / "cifar-10-batches-py").exists()
    done = run_script("get_cifar10.sh", "--dest", str(dest),
                      CIFAR10_URL=(tmp_path / "missing.tar.gz").as_uri())
    assert done.returncode == 1 and "download failed" in done.stderr


def _imperial_zip(tmp_path: Path) -> Path:
    fixtures.write_fer2013_imperial(tmp_path / "src" / "public", [0, 1, 2], [3])
    archive = tmp_path / "Fer2013pu.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted((tmp_path / "src").rglob("*")):
            z.write(p, p.relative_to(tmp_path / "src").as_posix())
    return archive


@needs_bash
def test_get_fer2013_imperial_zip_prints_unpinned_sha256_and_lands_in_raw(tmp_path):
    archive = _imperial_zip(tmp_path)
    dest = tmp_path / "datasets"
    done = run_script("get_fer2013.sh", "--dest", str(dest), FER2013_URL=archive.as_uri())
    assert done.returncode == 0, done.stderr
    assert f"sha256 of Fer2013pu.zip: {sha256(archive)} (not pinned" in done.stdout
    raw = dest / "fer2013" / "raw"
    assert (raw / "labels_public.txt").is_file() and (raw / "Train").is_dir()
    parts = ds.load("fer2013", raw)
    assert len(parts["train"]) == 3 and len(parts["test"]) == 1


@needs_bash
def test_get_fer2013_checks_a_given_sha256(tmp_path):
    archive = _imperial_zip(tmp_path)
    dest = tmp_path / "datasets"
    done = run_script("get_fer2013.sh", "--dest", str(dest), FER2013_URL=archive.as_uri(),
                      FER2013_SHA256="0" * 64)
    assert done.returncode == 1
    assert f"checksum mismatch for Fer2013pu.zip: sha256 {sha256(archive)}" in done.stderr
    assert not (dest / "fer2013" / "raw").exists()
    done = run_script("get_fer2013.sh", "--dest", str(dest), FER2013_URL=archive.as_uri(),
                      FER2013_SHA256=sha256(archive))
    assert done.returncode == 0 and "sha256 verified" in done.stdout


@needs_bash
def test_get_fer2013_from_a_kaggle_zip_with_nested_tarball(tmp_path):
    fixtures.write_fer2013_csv(tmp_path / "fer2013.csv", ["Training", "PublicTest", "PrivateTest"])
    inner = tmp_path / "fer2013.tar.gz"
    with tarfile.open(inner, "w:gz") as tar:
        tar.add(tmp_path / "fer2013.csv", arcname="fer2013/fer2013.csv")
    archive = tmp_path / "challenge.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(inner, "fer2013.tar.gz")
        z.writestr("example_submission.csv", "id\n")
    dest = tmp_path / "datasets"
    done = run_script("get_fer2013.sh", "--dest", str(dest), "--from", str(archive))
    assert done.returncode == 0, done.stderr
    assert archive.is_file()  # a --from file is never deleted
    parts = ds.load("fer2013", dest / "fer2013" / "raw")
    assert sorted(parts) == ["test", "train", "val"]
    done = run_script("get_fer2013.sh", "--dest", str(tmp_path / "d2"), "--from",
                      str(tmp_path / "example.rar"))
    assert done.returncode == 1 and "file not found" in done.stderr


def _nist_zip(tmp_path: Path, drop: str | None = None) -> Path:
    fixtures.write_nist36(tmp_path / "src" / "data")
    if drop:
        (tmp_path / "src" / "data" / drop).unlink()
    (tmp_path / "src" / "data" / "other.txt").write_text("not needed")
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted((tmp_path / "src").rglob("*")):
            z.write(p, p.relative_to(tmp_path / "src").as_posix())
    return archive


@needs_bash
def test_get_nist36_keeps_the_three_mat_files(tmp_path):
    archive = _nist_zip(tmp_path)
    dest = tmp_path / "datasets"
    done = run_script("get_nist36.sh", "--dest", str(dest), NIST36_URL=archive.as_uri(),
                      NIST36_SHA256=sha256(archive))
    assert done.returncode == 0, done.stderr
    assert f"sha256 verified: {sha256(archive)}" in done.stdout
    raw = dest / "nist36" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == [
        "nist36_test.mat", "nist36_train.mat", "nist36_valid.mat"]
    assert len(ds.load("nist36", raw)["train"]) == 36


@needs_bash
def test_get_nist36_fails_clearly(tmp_path):
    archive = _nist_zip(tmp_path, drop="nist36_test.mat")
    dest = tmp_path / "datasets"
    done = run_script("get_nist36.sh", "--dest", str(dest), NIST36_URL=archive.as_uri())
    assert done.returncode == 1 and "does not hold nist36_test.mat" in done.stderr
    assert "not pinned" in done.stdout and not (dest / "nist36" / "raw").exists()
    done = run_script("get_nist36.sh", "--dest", str(dest), NIST36_URL=archive.as_uri(),
                      NIST36_SHA256="f" * 64)
    assert done.returncode == 1 and "checksum mismatch for data.zip" in done.stderr
