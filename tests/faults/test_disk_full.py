"""The output folder's disk fills while a batch grades (a real, small tmpfs): the batch stops
with "no space left in …" (exit 74), stops its running jobs, leaves no truncated record, no
temporary file and no process; once space is freed the same command grades the rest."""
from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from .faultkit import Run


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", f"faults-{uuid.uuid4().hex[:8]}",
                           str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder) -> int:
    """Fill the filesystem of ``folder`` to the last byte; returns the bytes written."""
    written = 0
    with open(folder / "filler", "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                written += f.write(chunk)
            except OSError:
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    return written


def test_a_full_disk_stops_the_batch_without_losing_anything(tmp_path, q1, sources, small_disk):
    subs = tmp_path / "subs"
    shutil.copytree(sources["ref"], subs / "a")
    out = small_disk / "out"
    out.mkdir()
    (out / ".batch.lock").write_text(" " * 4000)    # one page the lock reuses (tmpfs counts pages)
    filled = _fill(small_disk)
    assert filled > 0
    run = Run(tmp_path)
    args = ["--assignment", str(q1), "batch", str(subs), "--out", str(out), "--backend", "process",
            "--jobs", "1", "--no-progress"]
    proc = run.start(*args)
    text, _ = proc.communicate(timeout=300)
    assert proc.returncode == 74, text
    assert f"no space left in {out.resolve()}" in text, text
    assert not run.wait_no_leftovers(), run.leftovers()
    left = sorted(p.name for p in (out / "records").iterdir()) if (out / "records").exists() else []
    for name in left:                               # anything there is whole
        assert name.endswith(".json") and json.loads((out / "records" / name).read_text())["id"], left
    assert not [p for p in out.rglob(".*") if p.name != ".batch.lock"], "a temporary file was left"
    assert not (out / "gradebook.csv").exists()

    # space is freed: the same command grades the rest
    (small_disk / "filler").unlink()
    proc = run.start(*args)
    text2, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, text2
    recs = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    assert {k: r["status"] for k, r in recs.items()} == {"a": "ok"}, text2
    assert (out / "gradebook.csv").exists()
    assert not run.leftovers()
    print("disk full:", [line for line in text.splitlines() if "no space" in line][0][:200])
