"""The template generator: markers, stubs, errors, idempotence, freshness of the checked-in
template, and the public tests' behaviour on reference (pass) and template (NotImplementedError)."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import paths, template

KIT = paths.kit_root()

SOURCE = textwrap.dedent('''\
    """Module docstring."""
    import numpy as np


    def f(x):
        """Doubles x."""
        y = None
        # BEGIN SOLUTION: return two times x
        y = 2 * x
        # END SOLUTION
        return y


    class C:
        def g(self):
            # BEGIN SOLUTION
            return 1
            # END SOLUTION
''')


def test_regions_become_stubs_and_everything_else_is_kept():
    out = template.strip_solutions(SOURCE, "src/m.py")
    assert "y = 2 * x" not in out and "return 1" not in out
    assert "    # TODO: return two times x\n" in out           # at the marker's indentation
    assert "raise NotImplementedError('TODO in src/m.py, f(): return two times x')" in out
    assert "TODO in src/m.py, g(): implement g() as its docstring describes" in out
    # byte-for-byte outside regions: removing the stubs and the regions gives the same lines
    kept_src = [l for l in SOURCE.splitlines() if l.strip() not in ("y = 2 * x", "return 1")
                and "SOLUTION" not in l]
    kept_out = [l for l in out.splitlines() if "TODO" not in l and "NotImplementedError" not in l]
    assert kept_src == kept_out


def test_stubbed_module_imports_and_raises_not_implemented(tmp_path):
    (tmp_path / "m.py").write_text(template.strip_solutions(SOURCE, "src/m.py"))
    sys.path.insert(0, str(tmp_path))
    try:
        import m  # noqa: PLC0415
        with pytest.raises(NotImplementedError, match="return two times x"):
            m.f(3)
        with pytest.raises(NotImplementedError):
            m.C().g()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("m", None)


def test_crlf_files_keep_their_line_endings():
    src = SOURCE.replace("\n", "\r\n")
    out = template.strip_solutions(src, "src/m.py")
    assert "\r\n" in out and out.count("\n") == out.count("\r\n")


@pytest.mark.parametrize("text, message", [
    ("x = 1\n# END SOLUTION\n", "src/bad.py:2: '# END SOLUTION' without a matching"),
    ("# BEGIN SOLUTION\nx = 1\n", "src/bad.py:1: '# BEGIN SOLUTION' is never closed"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n",
     "src/bad.py:2: '# BEGIN SOLUTION' inside the region opened at line 1"),
    ("def f():\n    # BEGIN SOLUTION\n    x = 1\n# END SOLUTION\n", "src/bad.py:4: '# END SOLUTION' is indented 0"),
    ("# BEGIN SOLUTION oops\nx = 1\n# END SOLUTION\n", "src/bad.py:1: expected '# BEGIN SOLUTION'"),
])
def test_marker_errors_name_file_and_line(text, message):
    with pytest.raises(template.TemplateError) as err:
        template.strip_solutions(text, "src/bad.py")
    assert message in str(err.value)


def test_markers_outside_python_files_are_refused(tmp_path):
    (tmp_path / "notes.md").write_text("# BEGIN SOLUTION\nsecret\n# END SOLUTION\n")
    with pytest.raises(template.TemplateError, match="only allowed in .py files"):
        template.render_tree(tmp_path)


def test_generate_is_idempotent_and_mirrors_the_tree(tmp_path):
    ref = tmp_path / "ref"
    (ref / "src").mkdir(parents=True)
    (ref / "src" / "m.py").write_text(SOURCE)
    (ref / "src" / "given.py").write_text("X = 1\n")
    (ref / "model.safetensors").write_bytes(b"weights")      # excluded: trained model
    out = tmp_path / "tpl"
    first = template.generate(ref, out)
    assert sorted(first) == ["missing in template: src/given.py", "missing in template: src/m.py"]
    assert not (out / "model.safetensors").exists()
    assert template.generate(ref, out) == []                  # second run changes nothing
    assert template.generate(ref, out, check=True) == []
    (out / "src" / "stale.py").write_text("")                 # a file reference no longer has
    assert template.generate(ref, out, check=True) == [
        "not generated from reference (stale or hand-added): src/stale.py"]
    template.generate(ref, out)
    assert not (out / "src" / "stale.py").exists()
    assert (out / "src" / "given.py").read_text() == "X = 1\n"
    assert template.given_files(ref) == ["src/given.py"]


def test_checked_in_template_is_fresh():
    problems = template.generate(paths.reference_dir(KIT), paths.template_dir(KIT), check=True)
    assert problems == [], ("student_template/ is stale; run `python -m autograder template`:\n"
                            + "\n".join(problems))


def test_template_check_verb_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "autograder", "template", "--check"],
                        capture_output=True, text=True, cwd=KIT)
    assert ok.returncode == 0, ok.stderr


def _run_public_tests(folder: Path, tmp_path: Path) -> dict:
    """Run the public tests in ``folder`` in-process (as a student would) and return
    {nodeid: exception type name or 'passed'} using a tiny reporting plugin."""
    report = tmp_path / "report.json"
    plugin = tmp_path / "record_plugin.py"
    plugin.write_text(textwrap.dedent(f'''
        import json
        results = {{}}
        def pytest_runtest_makereport(item, call):
            if call.when == "call":
                results[item.nodeid] = "passed" if call.excinfo is None else call.excinfo.typename
            elif call.excinfo is not None and item.nodeid not in results:
                results[item.nodeid] = "setup:" + call.excinfo.typename
        def pytest_sessionfinish(session):
            with open({str(report)!r}, "w") as f:
                json.dump(results, f)
    '''))
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "record_plugin", "-o", "timeout=300"],
                          cwd=folder, capture_output=True, text=True, env=env)
    assert report.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(report.read_text())


@pytest.mark.slow
def test_reference_passes_every_public_test_and_template_fails_each_with_not_implemented(tmp_path):
    (tmp_path / "r").mkdir()
    ref = _run_public_tests(paths.reference_dir(KIT), tmp_path / "r")
    failing = {k: v for k, v in ref.items() if v != "passed"}
    assert ref and not failing, f"reference fails public tests: {failing}"
    (tmp_path / "t").mkdir()
    tpl = _run_public_tests(paths.template_dir(KIT), tmp_path / "t")
    assert set(tpl) == set(ref), "the template must have exactly the reference's public tests"
    wrong = {k: v for k, v in tpl.items() if v != "NotImplementedError"}
    assert not wrong, f"template public tests must fail with NotImplementedError: {wrong}"
