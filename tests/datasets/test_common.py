"""What every data set shares (autograder/datasets/__init__.py, base.py, imagefiles.py): ``load``
by name, the ``Dataset`` record's checks, scaling to unit floats and NCHW, the stored splits
(``load_split``) and image folders."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder import datasets as ds
from autograder.datasets import DatasetError

KIT = Path(__file__).resolve().parents[2]


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DatasetError, match="unknown data set 'mnist'.*digits, cifar10, fer2013, nist36"):
        ds.load("mnist")


def test_missing_default_source_names_the_folder_and_the_fetch_script(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_KIT_ROOT", str(tmp_path))
    with pytest.raises(DatasetError) as exc:
        ds.load("nist36")
    assert str(tmp_path / "datasets" / "nist36" / "raw") in str(exc.value)
    assert "get_nist36.sh" in str(exc.value)


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
