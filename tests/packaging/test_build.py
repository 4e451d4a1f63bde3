"""``python -m autograder build``: the handout holds no secret, autograder.zip grades a
submission through its own run_autograder, and the unzipped handout runs ``selftest``.

The leak checks here are written independently of ``autograder.leaks.handout_leaks`` (which
the build runs itself): they read the handout zip back and compare it with the kit's
secrets byte for byte and line for line.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder import build, config, paths
from autograder.packaging import leaks, trees
from autograder.grading import results

from tests.kits.batchkit import KIT, patched_submission, reference_submission, subset_toml

ASSIGNMENT = config.load(KIT / "assignment.toml")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    written = build.build(KIT, ASSIGNMENT, out)
    return written


def _members(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}


def _string_or_comment_lines(source: str) -> set[int]:
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.STRING, tokenize.COMMENT):
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def _reference_only_solution_lines() -> set[str]:
    """Lines inside # BEGIN SOLUTION ... # END SOLUTION in reference/, minus lines that are
    public anyway: in the checked-in student template, or CODE (not docstrings or comments)
    of the kit package; ignoring very short ones ("return out")."""
    inside: set[str] = set()
    for path in (KIT / "reference").rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        in_region = False
        for line in path.read_text().splitlines():
            s = line.strip()
            if s.startswith("# BEGIN SOLUTION"):
                in_region = True
            elif s.startswith("# END SOLUTION"):
                in_region = False
            elif in_region:
                inside.add(s)
    public: set[str] = set()
    for path in (KIT / "student_template").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ini", ".md", ".txt"):
            public.update(l.strip() for l in path.read_text().splitlines())
    for path in (KIT / "autograder").rglob("*.py"):
        text = path.read_text()
        skip = _string_or_comment_lines(text)
        public.update(l.strip() for i, l in enumerate(text.splitlines(), 1) if i not in skip)
    return {l for l in inside - public if len(l) >= 12 and not l.startswith("#")}


def test_handout_holds_no_hidden_test_solution_or_private_label(built):
    members = _members(built["handout.zip"])
    names = set(members)
    # what a student needs is there
    for required in ("src/layers.py", "tests/test_q1_linear_relu.py", "pytest.ini", "README.md",
                     "requirements.txt", "assignment.toml", "autograder/cli.py",
                     "autograder/worker/main.py", "datasets/digits/public/train_images.npy"):
        assert required in names, f"handout lacks {required}"
    # no instructor path at all
    for name in names:
        parts = Path(name).parts
        assert parts[0] not in ("hidden_tests", "reference", "mutants", "examples"), name
        assert "private" not in parts, name
        assert not name.endswith(("split.json", ".safetensors", "model.npz")), name
    blobs = list(members.values())
    # no hidden test file, whole or in part
    hidden_lines: set[str] = set()
    public_text = "\n".join((KIT / "student_template" / "tests" / p.name).read_text()
                            for p in (KIT / "student_template" / "tests").glob("*.py"))
    for path in sorted((KIT / "hidden_tests").glob("*.py")):
        data = path.read_bytes()
        assert all(hashlib.sha256(b).digest() != hashlib.sha256(data).digest() for b in blobs), path.name
        for line in data.decode().splitlines():
            s = line.strip()
            if len(s) >= 40 and s not in public_text and not s.startswith(("#", "import", "from")):
                hidden_lines.add(s)
    assert len(hidden_lines) > 50           # the scan has something to look for
    # no reference-only solution line
    solution = _reference_only_solution_lines()
    assert len(solution) > 50
    assert "out = X.reshape(X.shape[0], -1) @ W + b" in solution
    for name, data in members.items():
        if name.endswith((".py", ".md", ".txt", ".toml", ".ini", ".json")):
            lines = {l.strip() for l in data.decode("utf-8", "replace").splitlines()}
            leaked = sorted(lines & solution)
            assert not leaked, f"{name} holds reference solution lines: {leaked[:3]}"
            leaked = sorted(lines & hidden_lines)
            assert not leaked, f"{name} holds hidden test lines: {leaked[:3]}"
    # no private data file, and not the private labels' bytes anywhere
    private = KIT / "datasets" / "digits" / "private"
    labels = np.load(private / "test_labels.npy", allow_pickle=False)
    for path in sorted(private.glob("*.npy")):
        data = path.read_bytes()
        assert all(data not in b for b in blobs), f"{path.name} is inside the handout"
    for payload in (labels.tobytes(), labels.astype(np.int32).tobytes(), labels.astype(np.uint8).tobytes()):
        assert all(payload not in b for b in blobs), "the private labels' bytes are in the handout"
    # the grading salt is not; the handout's assignment file has another one
    assert all(ASSIGNMENT.salt.encode() not in b for b in blobs)
    handout_toml = members["assignment.toml"].decode()
    assert re.search(r'^salt = "(.+)"', handout_toml, re.M).group(1) != ASSIGNMENT.salt


def test_the_leak_check_finds_planted_secrets(built):
    members = _members(built["handout.zip"])
    tree = dict(members)
    assert leaks.handout_leaks(tree, KIT, ASSIGNMENT) == []
    hidden = next((KIT / "hidden_tests").glob("test_q1*.py"))
    tree["tests/extra.py"] = hidden.read_bytes()
    tree["src/notes.py"] = b"# my notes\n    out = X.reshape(X.shape[0], -1) @ W + b\n"
    tree["data/y.npy"] = (KIT / "datasets/digits/private/test_labels.npy").read_bytes()
    tree["salt.txt"] = ASSIGNMENT.salt.encode()
    problems = "\n".join(leaks.handout_leaks(tree, KIT, ASSIGNMENT))
    assert "tests/extra.py: identical to hidden_tests/" in problems
    assert "src/notes.py: holds 1 reference solution line" in problems
    assert "data/y.npy" in problems and "salt.txt: holds the grading salt" in problems
    # a solution quoted in a kit docstring is redacted, code is not touched
    sol = leaks.solution_lines(KIT / "reference")
    src = b'def f():\n    """Example:\n\n    out = X.reshape(X.shape[0], -1) @ W + b\n    """\n    return 1\n'
    redacted, count = leaks.redact_solution_text(src, sol)
    assert count == 1 and b"@ W + b" not in redacted and b"return 1" in redacted


def test_autograder_zip_layout(built):
    with zipfile.ZipFile(built["autograder.zip"]) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    for required in ("setup.sh", "run_autograder", "assignment.toml", "pyproject.toml",
                     "autograder/cli.py", "hidden_tests/test_q1_linear_relu.py",
                     "reference/src/layers.py", "student_template/tests/test_q1_linear_relu.py",
                     "student_template/pytest.ini", "datasets/digits/private/test_labels.npy",
                     "datasets/digits/public/val_labels.npy"):
        assert required in infos, f"autograder.zip lacks {required}"
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755, script
    assert not any("__pycache__" in n for n in infos)


def test_autograder_zip_grades_through_its_run_autograder(built, tmp_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(built["autograder.zip"]) as zf:
        for info in zf.infolist():
            zf.extract(info, root / "source")
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(root / "source" / info.filename, mode)
    patched_submission(root / "submission", "src/classifiers.py",
                       "    shifted = logits - np.max(logits, axis=1, keepdims=True)\n",
                       "    shifted = logits\n")
    toml = subset_toml(tmp_path / "q1q3.toml", ["Q1", "Q3"],
                       limits={"test_timeout_s": "5", "cpu_s": "10", "memory_mb": "1024"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADER_", "DLKIT_"))}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable,
               AUTOGRADER_ASSIGNMENT=str(toml))
    which = subprocess.run([sys.executable, "-c", "import autograder; print(autograder.__file__)"],
                           cwd=root / "source", env=env, capture_output=True, text=True, check=True)
    assert Path(which.stdout.strip()).is_relative_to(root / "source"), "not the zip's kit"
    proc = subprocess.run([str(root / "source" / "run_autograder")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((root / "results" / "results.json").read_text())
    results.validate(doc)
    assert doc["tests"][0]["name"] != "Autograder failed", doc["output"]
    per_q: dict[str, float] = {}
    for t in doc["tests"]:
        per_q[t["name"].split()[0]] = per_q.get(t["name"].split()[0], 0.0) + t["score"]
    assert per_q["Q1"] == pytest.approx(5.0)
    assert per_q["Q3"] < 5.0 - 1e-6                      # softmax without the max shift
    assert "the worker could see" not in proc.stderr, proc.stderr


def test_unzipped_handout_runs_selftest(built, tmp_path):
    folder = tmp_path / "handout"
    with zipfile.ZipFile(built["handout.zip"]) as zf:
        zf.extractall(folder)
    # a student who finished Q1 and Q3 (the reference's files) and selftests a Q1+Q3 subset
    for rel in ("src/layers.py", "src/classifiers.py"):
        (folder / rel).write_bytes((KIT / "reference" / rel).read_bytes())
    subset_toml(folder / "assignment.toml", ["Q1", "Q3"], limits={"test_timeout_s": "5", "cpu_s": "10"},
                text=(folder / "assignment.toml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADER_", "DLKIT_"))}
    which = subprocess.run([sys.executable, "-c", "import autograder; print(autograder.__file__)"],
                           cwd=folder, env=env, capture_output=True, text=True, check=True)
    assert Path(which.stdout.strip()).is_relative_to(folder), "not the handout's kit"
    proc = subprocess.run([sys.executable, "-m", "autograder", "selftest"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert re.search(r"^\s*Q1\s+5\.00/5\b", proc.stdout, re.M), proc.stdout
    assert re.search(r"^\s*Q3\s+5\.00/5\b", proc.stdout, re.M), proc.stdout
    assert "public tests only" in proc.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="lock_secrets.sh changes owners: needs root (the image build and Gradescope's setup.sh run it as root)")
def test_lock_secrets_leaves_only_the_public_split_readable(tmp_path):
    """build_assets/lock_secrets.sh, the one home of the grading files' permissions (setup.sh
    and the Dockerfile run it), on a Gradescope-shaped tree: a uid other than root can reach the
    public split and nothing else."""
    root = tmp_path / "autograder"
    source = root / "source"
    files = {"hidden_tests/test_q1.py": "x", "reference/src/layers.py": "x", "assignment.toml": "salt",
             "datasets/digits/private/test_labels.npy": "y", "datasets/digits/public/val_x.npy": "v",
             "datasets/notsplit/data.npy": "d", "run_autograder": "#!/bin/sh\n"}
    for rel, text in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text)
        os.chmod(source / rel, 0o666)
    (root / "run_autograder").write_text("#!/bin/sh\n")
    script = tmp_path / "lock_secrets.sh"
    script.write_bytes(trees.lock_secrets_sh())
    subprocess.run(["sh", str(script), str(root)], check=True,
                   env={"PATH": os.environ["PATH"], "AUTOGRADER_SOURCE": str(source)})

    def others(path):                 # what a uid that is neither owner nor group may do
        return stat.S_IMODE(path.stat().st_mode) & 0o007
    for secret in ("hidden_tests/test_q1.py", "reference/src/layers.py", "assignment.toml",
                   "datasets/digits/private/test_labels.npy"):
        assert others(source / secret) == 0, secret
    assert others(source / "datasets/digits/private") == 0
    assert others(source / "datasets/digits/public/val_x.npy") & 0o4          # readable
    assert others(source / "datasets/notsplit/data.npy") & 0o4                # no private split
    for folder in (root, source, source / "datasets", source / "datasets/digits"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o711, folder            # traverse, no list
    for exe in (root / "run_autograder", source / "run_autograder"):
        assert stat.S_IMODE(exe.stat().st_mode) == 0o755, exe
    assert all((source / rel).stat().st_uid == 0 for rel in files)
