"""Terminal rendering of a grading run (the ``grade`` and ``selftest`` verbs)."""
from __future__ import annotations

from .grade import GradeResult


def table(result: GradeResult) -> str:
    """A per-question table, the failing tests with their messages, and the total."""
    rows = [("Q", "score", "public", "hidden", "title")]
    for q in result.questions:
        rows.append((q.id, f"{q.score:.2f}/{q.max_score:g}",
                     f"{q.public_passed}/{q.public_total}", f"{q.hidden_passed}/{q.hidden_total}",
                     q.title + (" (bonus)" if q.bonus else "")))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].rjust(widths[i]) if i else r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4]
             for r in rows]
    lines.insert(1, "-" * (sum(widths) + 8 + max(len(r[4]) for r in rows)))
    failing = [o for o in result.outcomes if not o.passed]
    if failing:
        lines.append("")
        lines.append("Failing tests:")
        for o in failing:
            first = (o.message or "failed").strip().splitlines()[0][:160]
            lines.append(f"  {o.question} {o.kind:<6} {o.name}: {first}")
    if not result.questions:
        lines.append(result.doc.get("output", ""))
    else:
        lines.append("")
        lines.append(result.doc["output"].splitlines()[0] + f"   ({result.seconds:.1f} s)")
    return "\n".join(lines)
