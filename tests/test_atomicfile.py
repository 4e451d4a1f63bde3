"""autograder/atomicfile.py: the one way the kit writes a file a reader may be reading."""
from __future__ import annotations

import os
import stat

import pytest

from autograder import atomicfile


def test_a_write_replaces_the_whole_file_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "deep" / "gradebook.csv"
    assert atomicfile.write(target, "old\n") == target
    atomicfile.write(target, b"new\n")
    assert target.read_text() == "new\n"
    assert sorted(os.listdir(target.parent)) == ["gradebook.csv"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600          # owner only unless asked
    atomicfile.write(target, "x", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failure_part_way_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    target.write_text('{"score": 1}')
    with pytest.raises(RuntimeError):
        with atomicfile.replacing(target) as tmp:
            tmp.write_text('{"sco')                              # half written, then a crash
            raise RuntimeError("disk full")
    assert target.read_text() == '{"score": 1}'
    assert sorted(os.listdir(tmp_path)) == ["results.json"]
    # control: the same steps without the failure do replace it
    with atomicfile.replacing(target) as tmp:
        tmp.write_text('{"score": 2}')
    assert target.read_text() == '{"score": 2}'
