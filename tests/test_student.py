"""The in-process backend: several submission trees, all with a package named ``src``, share
one process (the reference as ``ref`` beside a submission; kit tests grading many)."""
from autograder.student import InProcessStudent


def _tree(root, value):
    (root / "src").mkdir(parents=True)
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "helper.py").write_text(f"VALUE = {value}\n")
    (root / "src" / "mod.py").write_text(
        "from src.helper import VALUE\n"
        "from helper import VALUE as SIBLING\n"          # the handouts' sibling import
        "def which():\n    return VALUE, SIBLING\n")
    return root


def test_two_trees_named_src_each_see_their_own_modules(tmp_path):
    a = InProcessStudent(_tree(tmp_path / "a", 1))
    assert a.mod.which() == (1, 1)
    b = InProcessStudent(_tree(tmp_path / "b", 2))
    assert b.mod.which() == (2, 2)
    assert a.mod.which() == (1, 1)          # switching back restores a's modules
    assert b.attr("helper.VALUE") == 2
    assert a.attr("helper.VALUE") == 1
