"""The fetch scripts ``datasets/get_*.sh``.  The real downloads cannot run here (no network):
each script is pointed at a file:// URL of a tiny archive made in the exact layout, so argument
handling, checksum verification, extraction and the final layout are exercised for real."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from autograder import datasets as ds
from autograder.datasets import cifar10, fixtures

KIT = Path(__file__).resolve().parents[2]

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
