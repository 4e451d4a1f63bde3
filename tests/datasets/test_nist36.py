"""NIST36's MATLAB files (autograder/datasets/nist36.py): rows reshaped without a transpose,
labels from one-hot, and every missing key, missing or corrupt file and malformed array named."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.datasets import DatasetError, fixtures, nist36


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
