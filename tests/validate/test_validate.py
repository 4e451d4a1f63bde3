"""validate: the catalogue loads and every patch applies; a deterministic subset of mutants and
alternatives runs in CI (the full run is `python -m autograder validate`)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from autograder import config, paths
from autograder.validate import catalogue, run

KIT = paths.kit_root()
CI_SUBSET = 28


def test_every_patch_applies_and_ids_are_unique(tmp_path):
    cat = catalogue.load(KIT / "mutants")
    assert len(cat.mutants) >= 60
    for v in cat.mutants + cat.alternatives:
        catalogue.materialise(paths.reference_dir(KIT), tmp_path / v.id, v)   # raises if stale


def test_every_numerics_row_is_covered():
    cat = catalogue.load(KIT / "mutants")
    missing = [r for r, kind, _ in run._coverage(cat) if kind == "MISSING"]
    assert not missing, f"numerics.md §4 rows not in the catalogue: {missing}"


def test_public_misses_are_mutants():
    cat = catalogue.load(KIT / "mutants")
    ids = {m.id.split("-")[0] for m in cat.mutants}
    assert set(run.PUBLIC_MISSES) <= ids


def test_a_patch_that_no_longer_applies_is_an_error(tmp_path):
    (tmp_path / "q.toml").write_text(textwrap.dedent('''
        [[mutant]]
        id = "Z1"
        question = "Q1"
        description = "stale"
        file = "src/layers.py"
        find = "this text is not in the reference"
        replace = "x"
    '''))
    v = catalogue.load(tmp_path).mutants[0]
    with pytest.raises(catalogue.CatalogueError, match="occurs 0 times in src/layers.py; expected exactly once"):
        catalogue.materialise(paths.reference_dir(KIT), tmp_path / "out", v)


@pytest.mark.parametrize("text, message", [
    ('[[alternative]]\nid="X"\nquestion="Q1"\ndescription="d"\nfile="src/layers.py"\nfind="a"\nreplace="b"\n',
     "must quote what allows it"),
    ('[[mutant]]\nid="X"\nquestion="Q1"\nfile="src/layers.py"\nfind="a"\nreplace="b"\n', "missing description"),
    ('[[mutant]]\nid="X"\nquestion="Q1"\ndescription="d"\n', "no edit"),
    ('[[mutnt]]\nid="X"\n', "unknown tables"),
])
def test_malformed_entries_are_refused(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(catalogue.CatalogueError, match=message):
        catalogue.load(tmp_path)


def test_duplicate_ids_are_refused(tmp_path):
    entry = '[[mutant]]\nid="X"\nquestion="Q1"\ndescription="d"\nfile="src/layers.py"\nfind="a"\nreplace="b"\n'
    (tmp_path / "a.toml").write_text(entry)
    (tmp_path / "b.toml").write_text(entry)
    with pytest.raises(catalogue.CatalogueError, match="already used in a.toml"):
        catalogue.load(tmp_path)


def test_affected_questions_follow_imports():
    cat = catalogue.load(KIT / "mutants")
    a = config.load()
    a3 = run.affected_questions(a, paths.reference_dir(KIT), cat.by_id("A3"))
    assert {"Q1", "Q4", "Q14"} <= set(a3) and "Q10" not in a3 and "Q7" not in a3


@pytest.mark.slow
def test_validate_ci_subset(tmp_path):
    """The deterministic subset CI runs: reference (fixed + 1 extra seed), template, and
    CI_SUBSET variants round-robin over the questions."""
    proc = subprocess.run([sys.executable, "-m", "autograder", "validate", "--subset", str(CI_SUBSET),
                           "--seeds", "1", "--jobs", "2", "--no-progress", "--out", str(tmp_path)],
                          cwd=KIT, capture_output=True, text=True, timeout=2400)
    print(proc.stdout[-6000:])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert (tmp_path / "validate.md").is_file() and (tmp_path / "validate.csv").is_file()


def test_parallel_gradings_get_worker_uids_of_their_own(tmp_path, monkeypatch):
    """validate's gradings run side by side: each holds a job slot (batch/slots.py) and its own
    worker uid, so a worker's sweep by uid (setpriv) never reaches another grading's workers."""
    import os

    if os.geteuid() != 0:
        pytest.skip("worker uids are switched only as root")
    monkeypatch.setenv("AUTOGRADER_BATCH_SLOT_DIR", str(tmp_path / "slots"))
    monkeypatch.delenv("AUTOGRADER_WORKER_UID", raising=False)
    with run._own_worker_uid() as first, run._own_worker_uid() as second:
        uids = {first["AUTOGRADER_WORKER_UID"], second["AUTOGRADER_WORKER_UID"]}
        assert len(uids) == 2 and "65534" not in uids
    with run._own_worker_uid() as again:                  # released: the lowest slot again
        assert again["AUTOGRADER_WORKER_UID"] == first["AUTOGRADER_WORKER_UID"]
    monkeypatch.setenv("AUTOGRADER_WORKER_UID", "4242")     # the caller's choice stands
    with run._own_worker_uid() as chosen:
        assert chosen["AUTOGRADER_WORKER_UID"] == "4242"
