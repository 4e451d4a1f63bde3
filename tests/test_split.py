"""The `split` verb: public train/val and private test files, reproducible, disjoint, stratified,
and the checked-in datasets/digits split reproduced byte for byte."""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from autograder import datasets as ds
from autograder import split
from autograder.datasets import Dataset, fixtures

KIT = Path(__file__).resolve().parents[1]
FILES = ["public/train_images.npy", "public/train_labels.npy", "public/val_images.npy",
         "public/val_labels.npy", "private/test_images.npy", "private/test_labels.npy"]


def run_split(*argv: str, assignment: Path | None = None) -> int:
    """Parse like `python -m autograder [--assignment F] split ...` and run the verb."""
    parser = argparse.ArgumentParser(prog="python -m autograder")
    parser.add_argument("--assignment")
    split.add_parser(parser.add_subparsers(dest="verb", required=True))
    pre = ["--assignment", str(assignment)] if assignment else []
    args = parser.parse_args(pre + ["split", *argv])
    return args.func(args)


def read(out: Path) -> dict[str, np.ndarray]:
    return {f: np.load(out / f, allow_pickle=False) for f in FILES}


def unique_dataset(n_per_class: int = 20, classes: int = 5) -> Dataset:
    """Every image encodes its own index (so overlaps are detectable)."""
    n = n_per_class * classes
    idx = np.arange(n)
    images = np.stack([idx // 256, idx % 256], axis=1).astype(np.uint8).reshape(n, 1, 2)
    labels = (idx % classes).astype(np.int64)
    return Dataset("digits", images, labels, tuple(str(c) for c in range(classes)), 255)


def decode(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), 2).astype(np.int64) @ np.array([256, 1])


# --------------------------------------------------------------------------- digits

def test_verb_reproduces_the_checked_in_digits_split_byte_for_byte(tmp_path, capsys):
    assert run_split("--dataset", "digits", "--out", str(tmp_path)) == 0
    for f in FILES:
        assert (tmp_path / f).read_bytes() == (KIT / "datasets" / "digits" / f).read_bytes(), f
    manifest = json.loads((tmp_path / "split.json").read_text())
    assert manifest["counts"] == {"train": 1077, "val": 360, "test": 360}
    assert "1077" in capsys.readouterr().out


def test_split_json_records_seed_fractions_counts_and_hashes(tmp_path):
    assert run_split("--dataset", "digits", "--out", str(tmp_path), "--seed", "3") == 0
    m = json.loads((tmp_path / "split.json").read_text())
    assert (m["dataset"], m["seed"], m["val_fraction"], m["test_fraction"]) == ("digits", 3, 0.2, 0.2)
    assert (m["image_dtype"], m["image_shape"], m["value_max"]) == ("uint8", [8, 8], 16)
    arrays = read(tmp_path)
    for s in ("train", "val", "test"):
        sub = "private" if s == "test" else "public"
        labels = arrays[f"{sub}/{s}_labels.npy"]
        assert m["class_counts"][s] == np.bincount(labels, minlength=10).tolist()
        assert m["counts"][s] == len(labels)
    for f in FILES:
        data = (tmp_path / f).read_bytes()
        assert m["files"][f]["sha256"] == hashlib.sha256(data).hexdigest()
        assert m["files"][f]["private"] == f.startswith("private/")


def test_images_and_labels_are_separate_plain_arrays(tmp_path):
    assert run_split("--dataset", "digits", "--out", str(tmp_path)) == 0
    arrays = read(tmp_path)  # allow_pickle=False: no object arrays anywhere
    for s, sub in (("train", "public"), ("val", "public"), ("test", "private")):
        images, labels = arrays[f"{sub}/{s}_images.npy"], arrays[f"{sub}/{s}_labels.npy"]
        assert images.dtype == np.uint8 and images.shape[1:] == (8, 8)
        assert labels.dtype == np.int64 and labels.shape == (len(images),)
    assert not list((tmp_path / "public").glob("test_*"))
    assert sorted(p.name for p in (tmp_path / "private").iterdir()) == [
        "test_images.npy", "test_labels.npy"]


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert run_split("--dataset", "digits", "--out", str(tmp_path / name), "--seed", seed) == 0
    for f in FILES + ["split.json"]:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / FILES[4]).read_bytes() != (tmp_path / "c" / FILES[4]).read_bytes()
    assert (tmp_path / "a" / FILES[0]).read_bytes() != (tmp_path / "c" / FILES[0]).read_bytes()


def test_digits_splits_are_disjoint_and_cover_every_image_once(tmp_path):
    """Digits has duplicate images, so match rows of the full data set by index instead."""
    assert run_split("--dataset", "digits", "--out", str(tmp_path), "--seed", "5") == 0
    full = ds.load("digits")["all"]
    arrays = read(tmp_path)
    # recover each stored example's index: image bytes + label identify a multiset entry
    keys = [x.tobytes() + bytes([y]) for x, y in zip(full.images, full.labels)]
    pool: dict[bytes, int] = {}
    for k in keys:
        pool[k] = pool.get(k, 0) + 1
    total = 0
    for s, sub in (("train", "public"), ("val", "public"), ("test", "private")):
        for x, y in zip(arrays[f"{sub}/{s}_images.npy"], arrays[f"{sub}/{s}_labels.npy"]):
            k = x.tobytes() + bytes([int(y)])
            assert pool.get(k, 0) > 0, f"{s} holds an example not in (or used up from) digits"
            pool[k] -= 1
            total += 1
    assert total == len(full) and not any(pool.values())


# --------------------------------------------------------------------------- make_split rules

def test_make_split_is_disjoint_complete_and_stratified():
    data = unique_dataset(n_per_class=40, classes=5)
    splits, _ = split.make_split({"all": data}, seed=1)
    ids = {s: decode(d.images) for s, d in splits.items()}
    assert not set(ids["train"]) & set(ids["val"])
    assert not set(ids["train"]) & set(ids["test"]) and not set(ids["val"]) & set(ids["test"])
    assert sorted(np.concatenate(list(ids.values()))) == list(range(200))
    assert (len(splits["train"]), len(splits["val"]), len(splits["test"])) == (120, 40, 40)
    for s, d in splits.items():
        assert np.array_equal(d.labels, data.labels[ids[s]])  # labels travel with their image
        assert d.class_counts() == [len(d) // 5] * 5           # exactly proportional here


def test_make_split_keeps_class_proportions_roughly_on_unbalanced_data():
    labels = np.repeat(np.arange(3), [150, 60, 30]).astype(np.int64)
    data = Dataset("digits", np.zeros((240, 2, 2), np.uint8), labels, ("a", "b", "c"), 16)
    splits, _ = split.make_split({"all": data}, seed=0, val_fraction=0.25, test_fraction=0.25)
    for s in ("train", "val", "test"):
        share = np.bincount(splits[s].labels, minlength=3) / len(splits[s])
        np.testing.assert_allclose(share, [150 / 240, 60 / 240, 30 / 240], atol=0.02)


def test_make_split_does_not_modify_its_input():
    data = unique_dataset()
    before = (data.images.copy(), data.labels.copy())
    split.make_split({"all": data}, seed=0)
    assert np.array_equal(data.images, before[0]) and np.array_equal(data.labels, before[1])


@pytest.mark.parametrize("argv, expected", [
    (["--val-fraction", "0"], "--val-fraction must lie strictly between 0 and 1; found 0"),
    (["--test-fraction", "1.5"], "--test-fraction must lie strictly between 0 and 1; found 1.5"),
    (["--val-fraction", "0.5", "--test-fraction", "0.5"],
     "--val-fraction + --test-fraction must be below 1; found 0.5 + 0.5"),
    (["--test-fraction", "0.001"], "cannot split digits into rest/test"),
])
def test_impossible_splits_exit_2_with_a_message(tmp_path, capsys, argv, expected):
    assert run_split("--dataset", "digits", "--out", str(tmp_path), *argv) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "split.json").exists()


def test_dataset_defaults_to_the_assignment_file(tmp_path):
    toml = tmp_path / "a.toml"
    toml.write_text('[assignment]\nname = "x"\nsalt = "12345678"\ndataset = "nist36"\n')
    fixtures.write_nist36(tmp_path / "raw")
    assert run_split("--source", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
                     assignment=toml) == 0
    assert json.loads((tmp_path / "out" / "split.json").read_text())["dataset"] == "nist36"


# --------------------------------------------------------------------------- official splits

def test_cifar10_private_test_is_test_batch_and_val_is_carved_from_training(tmp_path):
    raw = fixtures.write_cifar10(tmp_path / "raw", n_per_batch=10, num_train_batches=5)
    assert run_split("--dataset", "cifar10", "--source", str(tmp_path / "raw"),
                     "--out", str(tmp_path / "out")) == 0
    out = read(tmp_path / "out")
    test_rows = out["private/test_images.npy"].transpose(0, 3, 1, 2).reshape(-1, 3072)
    assert np.array_equal(test_rows, raw["test_data"])
    assert np.array_equal(out["private/test_labels.npy"], raw["test_labels"])
    assert len(out["public/val_labels.npy"]) == 10 and len(out["public/train_labels.npy"]) == 40
    assert np.bincount(out["public/val_labels.npy"], minlength=10).tolist() == [1] * 10
    train_rows = {r.tobytes() for r in raw["train_data"]}
    public = np.concatenate([out["public/train_images.npy"], out["public/val_images.npy"]])
    public_rows = [r.tobytes() for r in public.transpose(0, 3, 1, 2).reshape(-1, 3072)]
    assert len(set(public_rows)) == 50 and set(public_rows) == train_rows
    m = json.loads((tmp_path / "out" / "split.json").read_text())
    assert m["test_fraction"] is None and m["val_fraction"] == 0.2
    assert m["official_parts"] == {"train": 50, "test": 10}
    assert m["method"]["test"] == "official test part, unchanged"


def test_official_test_split_refuses_test_fraction(tmp_path, capsys):
    fixtures.write_cifar10(tmp_path / "raw", n_per_batch=10, num_train_batches=5)
    assert run_split("--dataset", "cifar10", "--source", str(tmp_path / "raw"), "--out",
                     str(tmp_path / "out"), "--test-fraction", "0.3") == 2
    assert "official test split" in capsys.readouterr().err


def test_pool_official_resplits_everything(tmp_path):
    fixtures.write_cifar10(tmp_path / "raw", n_per_batch=10, num_train_batches=5)
    assert run_split("--dataset", "cifar10", "--source", str(tmp_path / "raw"), "--out",
                     str(tmp_path / "out"), "--pool-official", "--test-fraction", "0.5",
                     "--val-fraction", "0.25") == 0
    m = json.loads((tmp_path / "out" / "split.json").read_text())
    assert m["counts"] == {"train": 15, "val": 15, "test": 30} and m["pool_official"] is True


def test_fer2013_csv_uses_public_test_as_val_and_private_test_as_test(tmp_path, capsys):
    usages = ["Training"] * 7 + ["PublicTest"] * 3 + ["PrivateTest"] * 4
    raw = fixtures.write_fer2013_csv(tmp_path / "fer2013.csv", usages)
    assert run_split("--dataset", "fer2013", "--source", str(tmp_path / "fer2013.csv"),
                     "--out", str(tmp_path / "out")) == 0
    out = read(tmp_path / "out")
    assert np.array_equal(out["public/train_images.npy"], raw["images"][:7])
    assert np.array_equal(out["public/val_labels.npy"], raw["labels"][7:10])
    assert np.array_equal(out["private/test_images.npy"], raw["images"][10:])
    assert out["private/test_images.npy"].dtype == np.uint8
    assert run_split("--dataset", "fer2013", "--source", str(tmp_path / "fer2013.csv"),
                     "--out", str(tmp_path / "out2"), "--val-fraction", "0.1") == 2
    assert "official validation part" in capsys.readouterr().err


def test_fer2013_imperial_test_folder_is_private_and_val_is_carved(tmp_path):
    raw = fixtures.write_fer2013_imperial(tmp_path / "raw", train_labels=[0, 1] * 5,
                                          test_labels=[2, 3, 4])
    assert run_split("--dataset", "fer2013", "--source", str(tmp_path / "raw"),
                     "--out", str(tmp_path / "out")) == 0
    out = read(tmp_path / "out")
    assert np.array_equal(out["private/test_images.npy"], raw["test_images"])
    assert np.array_equal(out["private/test_labels.npy"], [2, 3, 4])
    assert sorted(out["public/val_labels.npy"].tolist()) == [0, 1]
    assert len(out["public/train_labels.npy"]) == 8


def test_nist36_keeps_its_three_official_files(tmp_path):
    raw = fixtures.write_nist36(tmp_path / "raw", {"train": 3, "valid": 2, "test": 1})
    assert run_split("--dataset", "nist36", "--source", str(tmp_path / "raw"),
                     "--out", str(tmp_path / "out")) == 0
    out = read(tmp_path / "out")
    assert out["public/train_images.npy"].dtype == np.float64
    assert np.array_equal(out["public/train_images.npy"].reshape(-1, 1024), raw["train"]["data"])
    assert np.array_equal(out["public/val_labels.npy"], raw["valid"]["labels"])
    assert np.array_equal(out["private/test_labels.npy"], raw["test"]["labels"])
    back = ds.load_split("nist36", "val", tmp_path / "out")
    assert back.class_names[26] == "0" and back.value_max == 1.0


def test_bad_source_exits_2_naming_the_file(tmp_path, capsys):
    fixtures.write_nist36(tmp_path / "raw")
    (tmp_path / "raw" / "nist36_test.mat").unlink()
    assert run_split("--dataset", "nist36", "--source", str(tmp_path / "raw"),
                     "--out", str(tmp_path / "out")) == 2
    assert "nist36_test.mat: file not found" in capsys.readouterr().err
