"""Submissions as students really make them: five layouts of the same code stage identically;
ambiguity, missing files, zip-slip, symlinks and oversized archives give clear messages;
junk files, CRLF and BOM are handled."""
import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from autograder import config, paths
from autograder.grading import grade as grading
from autograder.grading import intake

KIT = paths.kit_root()
REF_SRC = paths.reference_dir(KIT) / "src"
EXPECTED = grading.expected_files(config.load(), paths.reference_dir(KIT))


def _copy_src(dest: Path) -> Path:
    shutil.copytree(REF_SRC, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _zip_folder(folder: Path, archive: Path, arcroot: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, str(Path(arcroot) / p.relative_to(folder)))
    return archive


@pytest.fixture
def layouts(tmp_path):
    """The same correct solution laid out five ways."""
    out = {}
    flat = tmp_path / "flat"                    # Gradescope: files flat, utils/ kept
    _copy_src(flat)
    out["flat"] = flat
    src = tmp_path / "src-layout"
    _copy_src(src / "src")
    out["src/"] = src
    py = tmp_path / "python-layout"             # the CMU/GIST handout's python/ folder
    _copy_src(py / "python")
    out["python/"] = py
    nested = tmp_path / "nested"                # zipped the whole working folder
    _copy_src(nested / "assignment2_advanced" / "src")
    (nested / "__MACOSX").mkdir()
    (nested / "__MACOSX" / "._layers.py").write_bytes(b"\0\0junk")
    out["nested folder"] = nested
    zipped_folder = tmp_path / "zipsrc"
    _copy_src(zipped_folder / "src")
    out["zip of a folder"] = _zip_folder(zipped_folder, tmp_path / "submission.zip", "my_assignment")
    return out


def test_five_layouts_stage_identically(layouts, tmp_path):
    staged = {name: intake.stage(sub, tmp_path / f"staged-{i}", EXPECTED)
              for i, (name, sub) in enumerate(layouts.items())}
    for name, s in staged.items():
        assert s.missing == [] and s.ambiguous == {}, (name, s.problems())
    contents = {name: {p.relative_to(s.root).as_posix(): p.read_bytes()
                       for p in sorted(s.root.rglob("*.py"))} for name, s in staged.items()}
    first = next(iter(contents.values()))
    for name, files in contents.items():
        assert files == first, f"{name} staged differently"
    digests = {s.digest for s in staged.values()}
    assert len(digests) == 1
    assert "found your code in my_assignment/src/" in staged["zip of a folder"].notes[0]
    assert "found your code in python/" in staged["python/"].notes[0]


def test_layouts_grade_identically(layouts, tmp_path):
    cfg = config.restrict(config.load(), ["Q1", "Q11"])
    scores = {}
    for name, sub in layouts.items():
        res = grading.grade(sub, assignment=cfg, fixed_seed=True)
        scores[name] = (res.score, tuple(t["score"] for t in res.doc["tests"]))
    assert len({v for v in scores.values()}) == 1, scores
    assert next(iter(scores.values()))[0] == 10


def test_ambiguous_file_is_named_and_only_its_questions_lose(tmp_path):
    sub = tmp_path / "sub"
    _copy_src(sub / "src")
    shutil.copy(REF_SRC / "layers.py", sub / "layers.py")       # a second layers.py at the top
    s = intake.stage(sub, tmp_path / "staged", EXPECTED)
    assert s.ambiguous == {"src/layers.py": ["layers.py", "src/layers.py"]}
    assert not (s.root / "src" / "layers.py").exists()
    msg = s.problems()[0]
    assert "src/layers.py: found 2 candidates (layers.py, src/layers.py)" in msg and "remove the extra" in msg
    cfg = config.restrict(config.load(), ["Q1", "Q3"])
    res = grading.grade(sub, assignment=cfg, fixed_seed=True)
    by_q = {q.id: q.score for q in res.questions}
    assert by_q["Q1"] == 0 and by_q["Q3"] == 5
    assert "found 2 candidates" in res.doc["output"]


def test_missing_file_is_named_and_only_its_questions_lose(tmp_path):
    sub = tmp_path / "sub"
    _copy_src(sub / "src")
    (sub / "src" / "classifiers.py").unlink()
    cfg = config.restrict(config.load(), ["Q1", "Q3"])
    res = grading.grade(sub, assignment=cfg, fixed_seed=True)
    by_q = {q.id: q.score for q in res.questions}
    assert by_q["Q1"] == 5 and by_q["Q3"] == 0
    assert "src/classifiers.py: not found in the submission" in res.doc["output"]
    failing = [t for t in res.doc["tests"] if t["name"].startswith("Q3")][0]
    assert "no module src/classifiers.py in the submission" in failing["output"]


def _raw_zip(archive: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return archive


@pytest.mark.parametrize("name, message", [
    ("../../escape.py", "contains '..'"),
    ("/etc/cron.d/evil", "has an absolute path"),
    ("src/../../x.py", "contains '..'"),
])
def test_zip_slip_entries_are_refused_before_anything_is_written(tmp_path, name, message):
    archive = _raw_zip(tmp_path / "evil.zip", [("src/layers.py", b"x = 1\n"), (name, b"pwned")])
    dest = tmp_path / "out" / "staged"
    with pytest.raises(intake.IntakeError, match=message):
        intake.stage(archive, dest, EXPECTED)
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "x.py").exists()
    assert not (dest / "src" / "layers.py").exists()


def test_symlink_entries_are_refused(tmp_path):
    info = zipfile.ZipInfo("src/layers.py")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _raw_zip(tmp_path / "link.zip", [(info, b"/work/main/reference/src/layers.py")])
    with pytest.raises(intake.IntakeError, match="is a symbolic link"):
        intake.stage(archive, tmp_path / "staged", EXPECTED)


def test_symlinks_in_a_folder_submission_are_not_followed(tmp_path):
    sub = tmp_path / "sub"
    (sub / "src").mkdir(parents=True)
    os.symlink(REF_SRC / "layers.py", sub / "src" / "layers.py")
    s = intake.stage(sub, tmp_path / "staged", EXPECTED)
    assert "src/layers.py" in s.missing


def test_archive_expanding_past_the_limit_is_refused_from_its_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_TOTAL_BYTES", 1_000_000)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("src/layers.py", b"x = 1\n")
        zf.writestr("data/zeros.bin", b"\0" * 5_000_000)          # 5 MB of zeros: a tiny zip
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(buf.getvalue())
    assert archive.stat().st_size < 100_000
    dest = tmp_path / "staged"
    with pytest.raises(intake.IntakeError, match="expands to more than 0 MB|expands to more than"):
        intake.stage(archive, dest, EXPECTED)
    assert not dest.exists() or not any(dest.rglob("zeros.bin"))


def test_not_a_zip_and_missing_submission_are_clear(tmp_path):
    bad = tmp_path / "sub.zip"
    bad.write_bytes(b"this is not a zip")
    with pytest.raises(intake.IntakeError, match="not a readable zip archive"):
        intake.stage(bad, tmp_path / "s1", EXPECTED)
    with pytest.raises(intake.IntakeError, match="no such file or folder"):
        intake.stage(tmp_path / "nothing", tmp_path / "s2", EXPECTED)


def test_junk_crlf_and_bom_are_handled(tmp_path):
    sub = tmp_path / "sub"
    _copy_src(sub / "src")
    layers = sub / "src" / "layers.py"
    layers.write_bytes(b"\xef\xbb\xbf" + layers.read_bytes().replace(b"\n", b"\r\n"))
    (sub / "src" / "__pycache__").mkdir(exist_ok=True)
    (sub / "src" / "__pycache__" / "layers.cpython-311.pyc").write_bytes(b"stale")
    (sub / ".DS_Store").write_bytes(b"\0")
    (sub / "src" / "layers.py~").write_text("backup")
    (sub / "src" / ".layers.py.swp").write_text("vim")
    s = intake.stage(sub, tmp_path / "staged", EXPECTED)
    staged_layers = (s.root / "src" / "layers.py").read_bytes()
    assert not staged_layers.startswith(b"\xef\xbb\xbf") and b"\r\n" not in staged_layers
    assert any("byte-order mark" in n and "CRLF" in n for n in s.notes)
    names = {p.name for p in s.root.rglob("*")}
    assert not names & {".DS_Store", "layers.py~", ".layers.py.swp", "layers.cpython-311.pyc"}


def test_an_unacceptable_submission_still_gets_valid_results(tmp_path):
    from autograder.grading import results
    archive = _raw_zip(tmp_path / "evil.zip", [("../x.py", b"")])
    out = tmp_path / "results" / "results.json"
    res = grading.grade(archive, assignment=config.load(), out=out)
    results.validate(res.doc)
    assert out.is_file() and res.score == 0
    assert "could not be accepted" in res.doc["output"] and "contains '..'" in res.doc["output"]
