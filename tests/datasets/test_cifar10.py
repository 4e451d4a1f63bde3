"""CIFAR-10's pickled batches (autograder/datasets/cifar10.py) on tiny files in the exact raw
format, the same images as the given student-side loader reads, and every corrupt or missing
file failing with a message that names it and what was expected."""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest

from autograder.datasets import DatasetError, cifar10, fixtures

KIT = Path(__file__).resolve().parents[2]


def _reference_data_utils():
    """The given student-side loader, imported from its file (never from src/ on sys.path)."""
    spec = importlib.util.spec_from_file_location(
        "ref_data_utils", KIT / "reference" / "src" / "utils" / "data_utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
