"""What a batch leaves behind, made from the per-submission records.

``gradebook.csv``     one row per student (a group submission gives each member a row):
                      submission id, name, email, sid, status, total, possible, points per
                      question, wall time, exit code, the model metrics of the
                      leaderboard entries ("FC net accuracy", ...), for each saved
                      model the device that scored it ("Q6 model device": ``cuda:0 (NVIDIA
                      …)`` or ``cpu``, with the reason when ``--device auto`` fell back),
                      then the seconds each question's tests took ("Q1 s", ...; empty
                      where results.json has no timings)
``leaderboard.csv``   the leaderboard metrics per submission, ranked by the first metric
``feedback/<id>.md``  per-student feedback from results.json (tests hidden from students
                      left out)
``summary.png``       score histogram and mean points per question (matplotlib, Agg)
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterable

from .. import atomicfile
from ..grading import results as gs_results


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write one output file atomically (:func:`..atomicfile.write`)."""
    return atomicfile.write(path, data)


def question_points(doc: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """question id -> (points, possible) from the tests of a results document."""
    out: dict[str, list[float]] = {}
    for test in doc.get("tests", []):
        qid = gs_results.test_question(test)
        if qid is None:
            continue
        acc = out.setdefault(qid, [0.0, 0.0])
        acc[0] += float(test.get("score") or 0.0)
        acc[1] += float(test.get("max_score") or 0.0)
    return {q: (round(v[0], 4), round(v[1], 4)) for q, v in out.items()}


def _qkey(qid: str) -> int:
    return int(qid[1:])


def question_ids(records: Iterable[dict[str, Any]], assignment: Any = None) -> list[str]:
    ids = set(assignment.ids) if assignment is not None else set()
    for rec in records:
        ids |= set(question_points(rec["results"]))
    return sorted(ids, key=_qkey)


def metric_names(records: Iterable[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for rec in records:
        for entry in rec["results"].get("leaderboard", []) or []:
            if entry.get("name") not in names:
                names.append(entry["name"])
    return names


def model_devices(doc: dict[str, Any]) -> dict[str, str]:
    """``{"Q6 model device": "cuda:0 (NVIDIA H100)"}`` from results.json's model tests
    (their ``extra_data``: ``device`` and, after a fallback, ``fallback_reason``)."""
    out: dict[str, str] = {}
    for test in doc.get("tests", []) or []:
        extra = test.get("extra_data") if isinstance(test, dict) else None
        qid = gs_results.test_question(test)
        if not (qid and isinstance(extra, dict) and extra.get("device")):
            continue
        text = str(extra["device"])
        if extra.get("fallback_reason"):
            text += f" (fallback: {extra['fallback_reason']})"
        out[f"{qid} model device"] = text
    return out


def _possible(assignment: Any, records: list[dict[str, Any]]) -> float:
    if assignment is not None:
        return sum(q.points for q in assignment.questions if not q.bonus)
    best = 0.0
    for rec in records:
        best = max(best, sum(p for _, p in question_points(rec["results"]).values()))
    return best


def question_seconds(doc: dict[str, Any]) -> dict[str, float]:
    """question id -> wall seconds of its tests, from results.json's ``extra_data.timings``."""
    timings = (doc.get("extra_data") or {}).get("timings") if isinstance(doc.get("extra_data"), dict) else None
    questions = timings.get("questions") if isinstance(timings, dict) else None
    if not isinstance(questions, dict):
        return {}
    return {q: float(t["wall"]) for q, t in questions.items()
            if isinstance(t, dict) and isinstance(t.get("wall"), (int, float))}


def gradebook_rows(records: list[dict[str, Any]], assignment: Any = None) -> tuple[list[str], list[list[Any]]]:
    qids = question_ids(records, assignment)
    metrics = metric_names(records)
    device_cols = sorted({c for rec in records for c in model_devices(rec["results"])},
                         key=lambda c: _qkey(c.split()[0]))
    possible = _possible(assignment, records)
    header = (["submission", "name", "email", "sid", "status", "total", "possible"] + qids
              + ["wall_s", "exit_code", "backend", "reason"] + metrics + device_cols
              + [f"{q} s" for q in qids])
    rows = []
    for rec in sorted(records, key=lambda r: r["id"]):
        doc = rec["results"]
        points = question_points(doc)
        lb = {e["name"]: e.get("value") for e in doc.get("leaderboard", []) or []}
        seconds = question_seconds(doc)
        used = model_devices(doc)
        people = rec.get("submitters") or [{}]
        for person in people:
            rows.append([rec["id"], person.get("name", ""), person.get("email", ""), person.get("sid", ""),
                         rec["status"], round(float(doc.get("score", 0.0)), 4), possible]
                        + [points.get(q, (0.0, 0.0))[0] for q in qids]
                        + [rec.get("wall_s", ""), rec.get("exit_code", ""), rec.get("backend", ""),
                           (rec.get("reason") or "").replace("\n", " ")[:300]]
                        + [lb.get(m, "") for m in metrics] + [used.get(c, "") for c in device_cols]
                        + [round(seconds[q], 3) if q in seconds else "" for q in qids])
    return header, rows


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_gradebook(out: Path, records: list[dict[str, Any]], assignment: Any = None) -> Path:
    return atomic_write(Path(out) / "gradebook.csv", _csv(*gradebook_rows(records, assignment)))


def write_leaderboard(out: Path, records: list[dict[str, Any]]) -> Path:
    metrics = metric_names(records)
    entries = []
    for rec in records:
        lb = {e["name"]: e for e in rec["results"].get("leaderboard", []) or []}
        if lb:
            entries.append((rec, lb))
    if metrics:
        first = metrics[0]

        def key(item):
            entry = item[1].get(first)
            if entry is None:
                return (1, 0.0)
            value = float(entry.get("value", 0.0))
            return (0, -value if entry.get("order", "desc") == "desc" else value)
        entries.sort(key=key)
    header = ["rank", "submission", "names"] + metrics
    rows = [[i + 1, rec["id"], "; ".join(p.get("name", "") for p in rec.get("submitters") or [])]
            + [lb[m]["value"] if m in lb else "" for m in metrics]
            for i, (rec, lb) in enumerate(entries)]
    return atomic_write(Path(out) / "leaderboard.csv", _csv(header, rows))


def feedback_markdown(rec: dict[str, Any]) -> str:
    doc = rec["results"]
    people = ", ".join(p.get("name") or p.get("email") or "" for p in rec.get("submitters") or []) or rec["id"]
    lines = [f"# Feedback: {people}", "", f"Submission `{rec['id']}` — score **{float(doc.get('score', 0)):.2f}**"
             + (f" (status: {rec['status']})" if rec["status"] != "ok" else ""), ""]
    if doc.get("output"):
        lines += ["```", doc["output"].rstrip(), "```", ""]
    shown = [t for t in doc.get("tests", []) if t.get("visibility", "visible") != "hidden"]
    if shown:
        lines += ["| test | points | status |", "|---|---|---|"]
        for t in shown:
            name = t.get("name", "").replace("|", "\\|")
            score = t.get("score")
            pts = (f"{float(score):.2f} / {float(t.get('max_score') or 0):.2f}"
                   if score is not None else "")
            lines.append(f"| {name} | {pts} | {t.get('status', '')} |")
        lines.append("")
        failed = [t for t in shown if t.get("status") == "failed"]
        for title, group in (("What failed", failed),
                             ("Other tests", [t for t in shown if t not in failed])):
            group = [t for t in group if t.get("output")]
            if group:
                lines += [f"## {title}", ""]
            for t in group:
                lines += [f"### {t.get('name', '')}", "", "```", t["output"].rstrip(), "```", ""]
    if doc.get("leaderboard"):
        lines += ["## Leaderboard", ""] + [f"* {e['name']}: {e['value']}" for e in doc["leaderboard"]] + [""]
    return "\n".join(lines)


def write_feedback(out: Path, records: list[dict[str, Any]]) -> Path:
    folder = Path(out) / "feedback"
    for rec in records:
        atomic_write(folder / f"{rec['id']}.md", feedback_markdown(rec))
    return folder


def write_summary_plot(out: Path, records: list[dict[str, Any]], assignment: Any = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    qids = question_ids(records, assignment)
    totals = [float(r["results"].get("score", 0.0)) for r in records]
    means = []
    for q in qids:
        got = [question_points(r["results"]).get(q, (0.0, 0.0)) for r in records]
        possible = max((p for _, p in got), default=0.0)
        means.append(100.0 * (sum(s for s, _ in got) / len(got)) / possible if possible and got else 0.0)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax1.hist(totals, bins=min(20, max(5, len(totals))), color="#4C72B0", edgecolor="white")
    ax1.set_xlabel("total score")
    ax1.set_ylabel("submissions")
    ax1.set_title(f"Scores ({len(totals)} submissions)")
    ax2.bar(qids, means, color="#55A868")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("mean points (% of the question)")
    ax2.set_title("Mean per question")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write(Path(out) / "summary.png", buf.getvalue())


def write_all(out: Path, records: list[dict[str, Any]], assignment: Any = None) -> dict[str, Path]:
    return {"gradebook": write_gradebook(out, records, assignment),
            "leaderboard": write_leaderboard(out, records),
            "feedback": write_feedback(out, records),
            "summary": write_summary_plot(out, records, assignment)}
