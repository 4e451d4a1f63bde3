"""assignment.toml: the kit's file is valid; structural and semantic errors are reported, all
at once, with where and what; subsets compose without code changes; limits merge."""
import tomllib

import pytest

from autograder import config, paths

KIT = paths.kit_root()


def _data() -> dict:
    return tomllib.loads((KIT / "assignment.toml").read_text())


def _write(tmp_path, data: dict):
    import json
    # tomllib has no writer: a tiny TOML emitter for the shapes used here
    lines = []

    def emit_table(prefix, table):
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {json.dumps(v)}")
        for k, v in table.items():
            if isinstance(v, dict):
                emit_table(f"{prefix}.{k}" if prefix else k, v)
    emit_table("", data)
    path = tmp_path / "a.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kit_assignment_is_valid_and_has_seed000_points():
    cfg = config.load()
    pts = {q.id: q.points for q in cfg.questions}
    assert {k: pts[k] for k in ("Q1", "Q2", "Q3", "Q4", "Q5", "Q6")} == {
        "Q1": 5, "Q2": 5, "Q3": 5, "Q4": 10, "Q5": 10, "Q6": 15}
    assert cfg.question("Q6").bonus
    assert [q.id for q in cfg.questions] == sorted(pts, key=lambda q: int(q[1:]))


def test_include_selects_a_subset_without_code_changes(tmp_path):
    data = _data()
    data["assignment"]["include"] = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
    cfg = config.load(_write(tmp_path, data), reference=paths.reference_dir(KIT))
    assert cfg.ids == ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]


def test_question_limits_override_the_defaults(tmp_path):
    cfg = config.load()
    assert cfg.question("Q4").limits.test_timeout_s == 180
    assert cfg.question("Q1").limits.test_timeout_s == _data()["limits"]["test_timeout_s"]
    assert cfg.question("Q4").limits.memory_mb == _data()["limits"]["memory_mb"]


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["questions"]["Q1"].__setitem__("points", "ten"), "questions.Q1.points: 'ten' is not of type 'number'"),
    (lambda d: d["questions"]["Q1"].__setitem__("pointz", 3), "questions.Q1: Additional properties are not allowed ('pointz'"),
    (lambda d: d["questions"]["Q1"].pop("files"), "questions.Q1: 'files' is a required property"),
    (lambda d: d["assignment"].__setitem__("dataset", "mnist"), "assignment.dataset: 'mnist' is not one of"),
    (lambda d: d["limits"].__setitem__("memory_mb", 1), "limits.memory_mb: 1 is less than the minimum of 64"),
    (lambda d: d["questions"].__setitem__("Question7", d["questions"]["Q1"]), "'Question7' does not match"),
])
def test_structural_errors_say_where_and_what(tmp_path, mutate, expected):
    data = _data()
    mutate(data)
    with pytest.raises(config.ConfigError) as err:
        config.load(_write(tmp_path, data), reference=paths.reference_dir(KIT))
    assert expected in str(err.value)


def test_semantic_errors_are_all_reported(tmp_path):
    data = _data()
    data["questions"]["Q1"]["files"] = ["src/lyers.py"]
    data["questions"]["Q1"]["functions"] = ["layers.linear_forwrd", "nosuch.f"]
    data["questions"]["Q4"]["calls"] = ["classifiers.softmaxx"]
    data["assignment"]["include"] = ["Q1", "Q99"]
    with pytest.raises(config.ConfigError) as err:
        config.load(_write(tmp_path, data), reference=paths.reference_dir(KIT))
    text = str(err.value)
    assert "assignment.include: 'Q99' is not a question of this file" in text
    # include is checked first; fix it and the rest is reported together
    data["assignment"]["include"] = ["Q1"]
    with pytest.raises(config.ConfigError) as err:
        config.load(_write(tmp_path, data), reference=paths.reference_dir(KIT))
    text = str(err.value)
    assert "questions.Q1.files.0: 'src/lyers.py' does not exist in reference/" in text
    assert "'layers.linear_forwrd': src/layers.py in reference/ has no top-level def or class 'linear_forwrd'" in text
    assert "'nosuch.f': no module src/nosuch.py in reference/" in text
    assert "questions.Q4.calls.0: 'classifiers.softmaxx'" in text


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(config.ConfigError, match="assignment file not found"):
        config.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[assignment\nname = 1\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(bad)


def test_check_config_verb(tmp_path):
    import subprocess
    import sys
    ok = subprocess.run([sys.executable, "-m", "autograder", "check-config"], capture_output=True, text=True, cwd=KIT)
    assert ok.returncode == 0 and "valid" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[assignment]\nname = "x"\nsalt = "short"\n[questions]\n')
    out = subprocess.run([sys.executable, "-m", "autograder", "check-config", str(bad)],
                         capture_output=True, text=True, cwd=KIT)
    assert out.returncode == 2 and "assignment.salt" in out.stderr


def test_an_assignment_restricted_to_some_questions_in_memory_and_as_a_file(tmp_path):
    full = config.load()
    part = config.restrict(full, ["Q5", "Q13"])
    assert part.ids == ["Q5", "Q13"] and full.ids[:2] == ["Q1", "Q2"]        # the original kept
    with pytest.raises(config.ConfigError, match="Q99"):
        config.restrict(full, ["Q1", "Q99"])
    first = config.write_restricted(full.path, ["Q5", "Q13"], tmp_path / "a.toml")
    assert config.load(first).ids == ["Q5", "Q13"]
    # restricting a restricted file replaces its include (one key, not two) and keeps comments
    second = config.write_restricted(first, ["Q2"], tmp_path / "b.toml")
    text = second.read_text()
    assert config.load(second).ids == ["Q2"]
    assert sum(line.startswith("include =") for line in text.splitlines()) == 1
    assert text.count("#") >= full.path.read_text().count("#")
    with pytest.raises(config.ConfigError, match="Q99"):
        config.write_restricted(full.path, ["Q99"], tmp_path / "c.toml")
