"""Write the class report of a batch folder: ``report/index.html``, one page per submission
(``report/students/<id>.html``) and the shipped assets (``report/assets/``).

The site is static and self-contained: Jinja2 templates rendered here, inline SVG charts, one
small stylesheet and one small script copied from this package (sorting and filtering of the
tables); no server, no network, works from ``file://``.  Links go to the batch's own files
(``logs/<id>.log``, ``feedback/<id>.md``, ``records/<id>.json``) only where they exist.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from ..batch.outputs import atomic_write
from . import analysis, charts

HERE = Path(__file__).resolve().parent
LOG_TAIL_CHARS = 20000
REPORT_DIR = "report"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["pct"] = lambda x: "–" if x is None else f"{100 * x:.0f}%"
    env.filters["num"] = lambda x, d=2: "–" if x is None else f"{x:.{d}f}"
    env.filters["q"] = lambda s: quote(str(s), safe="")
    # plain text (escaped by autoescape): much cheaper than |tojson on every test of every page
    env.filters["pretty"] = lambda x: json.dumps(x, indent=1, default=str, ensure_ascii=False)
    env.globals.update(rate_bar=charts.rate_bar, status_text=analysis.STATUS_TEXT)
    return env


def scan_records(batch_dir: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The readable records of ``batch_dir/records`` and (file name, why) of the others: not
    JSON, not an object, no ``status``/``results`` (what a batch writes), or unreadable."""
    records, problems = [], []
    for path in sorted((Path(batch_dir) / "records").glob("*.json")):
        try:
            rec = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append((path.name, f"cannot be read ({type(exc).__name__})"))
            continue
        except ValueError as exc:
            problems.append((path.name, f"not JSON ({str(exc)[:120]})"))
            continue
        if not isinstance(rec, dict) or "status" not in rec or "results" not in rec:
            problems.append((path.name, "not a batch record (a JSON object with 'id', 'status' and 'results')"))
            continue
        records.append(rec)
    return records, problems


def read_records(batch_dir: Path) -> list[dict[str, Any]]:
    """Every readable record of ``batch_dir/records`` (the others: :func:`scan_records`)."""
    return scan_records(batch_dir)[0]


def _links(batch: Path, sid: str) -> dict[str, str]:
    """The batch files of submission ``sid`` that exist, relative to the batch folder."""
    out = {}
    for key, rel in (("log", f"logs/{sid}.log"), ("feedback", f"feedback/{sid}.md"),
                     ("record", f"records/{sid}.json")):
        if (batch / rel).is_file():
            out[key] = "/".join(quote(p) for p in rel.split("/"))
    return out


def _log_tail(batch: Path, sid: str) -> str:
    try:
        text = (batch / "logs" / f"{sid}.log").read_text("utf-8", "replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:]


def _question_charts(rep: analysis.ClassReport) -> dict[str, str]:
    return {q.id: charts.histogram(q.scores, 0.0, q.possible or 1.0, bins=10, width=200, height=90)
            for q in rep.questions}


def _time_rows(rep: analysis.ClassReport) -> list[dict[str, Any]]:
    rows = []
    for q in rep.questions:
        if not q.seconds:
            rows.append({"q": q, "median": None, "max": None, "over": 0, "n": 0, "chart": ""})
            continue
        top = max(max(q.seconds), q.budget_s or 0.0)
        rows.append({"q": q, "median": statistics.median(q.seconds), "max": max(q.seconds),
                     "over": sum(1 for s in q.seconds if q.budget_s and s > q.budget_s), "n": len(q.seconds),
                     "chart": charts.histogram(q.seconds, 0.0, top or 1.0, bins=12, width=220, height=90,
                                               marker=q.budget_s, marker_label="budget")})
    return rows


def _model_views(rep: analysis.ClassReport) -> list[dict[str, Any]]:
    views = []
    for m in rep.models:
        dists = []
        for name in m.metric_names:
            vals = [e.metrics[name] for e in m.entries if name in e.metrics]
            if vals:
                dists.append({"name": name, "n": len(vals), "median": statistics.median(vals),
                              "chart": charts.histogram(vals, min(vals + [0.0]), max(vals + [1.0]),
                                                        bins=20, width=320, height=120, label=name)})
        picks = []
        for role, e in m.top_and_median():
            picks.append({"role": role, "entry": e,
                          "f1": charts.class_bars(e.per_class_f1, [], label="per-class F1") if e.per_class_f1 else "",
                          "cm": charts.confusion(e.confusion) if e.confusion else ""})
        devices = sorted({e.device for e in m.entries if e.device})
        views.append({"m": m, "dists": dists, "picks": picks, "devices": devices})
    return views


def _student_view(batch: Path, rep: analysis.ClassReport, s: analysis.Student) -> dict[str, Any]:
    shown = [t for t in s.tests if t.get("visibility", "visible") != "hidden"]
    models = []
    for m in rep.models:
        e = next((e for e in m.entries if e.student == s.id), None)
        if e is not None:
            models.append({"m": m, "e": e,
                           "f1": charts.class_bars(e.per_class_f1, [], label="per-class F1") if e.per_class_f1 else "",
                           "cm": charts.confusion(e.confusion) if e.confusion else ""})
    return {"s": s, "shown": shown, "failed_shown": [t for t in shown if t.get("status") == "failed"],
            "hidden_only": [t for t in s.tests if t.get("visibility", "visible") == "hidden"],
            "links": _links(batch, s.id), "log": _log_tail(batch, s.id), "models": models,
            "possible": {q: p for q, (_, p) in s.questions.items()}}


def copy_assets(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("report.css", "report.js"):
        shutil.copyfile(HERE / "static" / name, dest / name)


def write_report(batch_dir: Path, assignment: Any = None, *, records: list[dict[str, Any]] | None = None,
                 out: Path | None = None) -> Path:
    """Write the class report of ``batch_dir`` (default ``batch_dir/report``); returns the
    path of ``index.html``.  ``records`` defaults to what ``batch_dir/records`` holds."""
    batch = Path(batch_dir).resolve()
    out = Path(out) if out else batch / REPORT_DIR
    unreadable: list[tuple[str, str]] = []
    if records is None:
        records, unreadable = scan_records(batch)
    timeout = None
    if assignment is not None:
        from ..batch.jobs import container_limits
        timeout = float(container_limits(assignment.raw)["timeout_s"])
    title = f"{assignment.name if assignment is not None else 'Class report'} — {batch.name}"
    rep = analysis.analyse(records, assignment, title=title, timeout_s=timeout, unreadable=unreadable)
    env = _env()
    # relative links: index.html is in out/, student pages in out/students/
    up = Path("..") if out.parent == batch else Path(_relpath(batch, out))
    common = {"rep": rep, "generated": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
              "batch_name": batch.name}
    extras = {name: (up / name).as_posix() for name in ("gradebook.csv", "leaderboard.csv", "summary.png",
                                                      "batch.log") if (batch / name).is_file()}
    students = []
    for s in rep.students:
        links = _links(batch, s.id)
        students.append({"s": s, "links": {k: (up / v).as_posix() for k, v in links.items()}})
    graded_scores = [s.score for s in rep.graded]
    index = env.get_template("index.html").render(
        **common, root=".", extras=extras, students=students,
        score_chart=charts.histogram(graded_scores, 0.0, rep.possible or 1.0, bins=20, width=520, height=170,
                                     label=f"total score of the {len(graded_scores)} graded submissions"),
        wall_chart=charts.histogram([s.wall_s for s in rep.students if s.wall_s is not None], 0.0,
                                    max([s.wall_s or 0.0 for s in rep.students] + [timeout or 0.0, 1.0]),
                                    bins=20, width=420, height=130, label="wall time per submission (s)",
                                    marker=timeout, marker_label="timeout"),
        q_charts=_question_charts(rep), time_rows=_time_rows(rep), models=_model_views(rep),
        tests_of_q={q.id: [t for t in rep.tests if t.question == q.id] for q in rep.questions})
    copy_assets(out / "assets")
    page = env.get_template("student.html")
    sup = Path("..") / up
    for s in rep.students:
        view = _student_view(batch, rep, s)
        view["links"] = {k: (sup / v).as_posix() for k, v in view["links"].items()}
        atomic_write(out / "students" / f"{s.id}.html", page.render(**common, root="..", **view))
    return atomic_write(out / "index.html", index)


def _relpath(target: Path, start: Path) -> str:
    return os.path.relpath(target, start)

