"""How long the class report takes to build for a class, and whether the page stays responsive.

    .venv/bin/python bench/bench_classreport.py [--n 300] [--small 30] [--repeats 2] [--no-browser]
                                                [--out JSON]

Writes a synthetic batch folder of ``--n`` records (tests/kits/classreportkit.py: Q1-Q3 with 4
public and 8 hidden tests each, a saved model with per-class F1 and a 10x10 confusion matrix,
per-test timings, a few timeouts and rejections) and one of ``--small`` records, then builds
each report ``--repeats`` times in ABBA order (small, large, large, small, ...) with the kit's
assignment, as ``python -m autograder report DIR`` does.  Reports the median seconds of each,
the large/small ratio (the cost per record, so it holds across machines) and the sizes of
``index.html``.  With Chromium available it also opens the large ``index.html`` headless and
measures, in the page itself, the load time and the time to sort the per-test and the student
tables and to filter the per-test table (the page stays responsive: each well under a second).
Records the load average, which the wall times depend on, and the CPU seconds of the
building process (what the build costs on a quiet machine: it is single-threaded).  Goal (issue #22): under 10 s for a
class of 300.  Writes ``bench/results/classreport.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import config  # noqa: E402
from autograder.classreport import write_report  # noqa: E402

from tests.kits.classreportkit import synthetic_class, write_batch  # noqa: E402

GOAL_S = 10.0


def _build(folder: Path, assignment, cpu: list[float]) -> float:
    """Wall seconds of one build; its CPU seconds (this process) are appended to ``cpu``."""
    shutil.rmtree(folder / "report", ignore_errors=True)
    t0, c0 = time.monotonic(), time.process_time()
    write_report(folder, assignment)
    cpu.append(time.process_time() - c0)
    return time.monotonic() - t0


def _browser(index: Path) -> dict:
    from tests.kits.browserkit import browser_unavailable
    why = browser_unavailable()
    if why:
        return {"skipped": why}
    from tests.kits.browserkit import open_page
    with open_page(index, name="bench-classreport") as page:
        nav = page.run_js("const t = performance.getEntriesByType('navigation')[0];"
                          "return {dom: t.domContentLoadedEventEnd, load: t.loadEventEnd};")
        sort_ms = page.run_js("""
            const out = {};
            for (const id of ['tests-table', 'students-table']) {
              const table = document.getElementById(id);
              const ths = table.tHead.rows[0].cells;
              const t0 = performance.now();
              ths[1].click(); ths[1].click(); ths[ths.length - 2].click();
              out[id] = (performance.now() - t0) / 3;
              out[id + ' rows'] = table.tBodies[0].rows.length;
            }
            const box = document.querySelector('input[type="search"].filter[data-table="tests"]');
            const t0 = performance.now();
            box.value = 'hidden test 3'; window.dlkitReport.applyFilters('tests');
            box.value = ''; window.dlkitReport.applyFilters('tests');
            out['filter tests'] = (performance.now() - t0) / 2;
            const sbox = document.querySelector('input[type="search"].filter[data-table="students"]');
            const t1 = performance.now();
            sbox.value = 'status:timeout'; window.dlkitReport.applyFilters('students');
            sbox.value = ''; window.dlkitReport.applyFilters('students');
            out['filter students'] = (performance.now() - t1) / 2;
            return out;""")
        errors = page.console_errors()
    return {"dom_content_loaded_ms": round(nav["dom"], 1), "load_ms": round(nav["load"], 1),
                "interaction_ms": {k: round(v, 2) for k, v in sort_ms.items()}, "console_errors": errors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--small", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "classreport.json"))
    args = ap.parse_args()
    assignment = config.load(None)
    work = Path(tempfile.mkdtemp(prefix="dlkit-bench-report-"))
    try:
        big = write_batch(work / "big", synthetic_class(args.n, seed=7))
        small = write_batch(work / "small", synthetic_class(args.small, seed=7))
        times: dict[str, list[float]] = {"big": [], "small": []}
        cpu: dict[str, list[float]] = {"big": [], "small": []}
        for _ in range(args.repeats):                       # ABBA: small, big, big, small
            for which, folder in (("small", small), ("big", big), ("big", big), ("small", small)):
                times[which].append(_build(folder, assignment, cpu[which]))
        index = big / "report" / "index.html"
        med = {k: statistics.median(v) for k, v in times.items()}
        result = {
            "records": args.n, "small_records": args.small,
            "seconds": round(med["big"], 3), "small_seconds": round(med["small"], 3),
            "cpu_seconds": round(statistics.median(cpu["big"]), 3),
            "small_cpu_seconds": round(statistics.median(cpu["small"]), 3),
            "all_seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
            "ms_per_record_marginal": round(1000 * (med["big"] - med["small"]) / (args.n - args.small), 2),
            "ratio_big_over_small": round(med["big"] / med["small"], 2),
            "index_html_bytes": index.stat().st_size,
            "student_pages": len(list((big / "report" / "students").glob("*.html"))),
            "goal_s": GOAL_S, "meets_goal_wall": med["big"] < GOAL_S,
            "meets_goal_cpu": statistics.median(cpu["big"]) < GOAL_S,
            "loadavg": os.getloadavg(), "cpus": os.cpu_count(), "python": platform.python_version(),
        }
        if not args.no_browser:
            result["browser"] = _browser(index)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"class report of {args.n} records: {result['seconds']:.2f} s wall, {result['cpu_seconds']:.2f} s CPU "
          f"(goal < {GOAL_S:g} s), "
          f"{result['ms_per_record_marginal']} ms per extra record; load average {result['loadavg'][0]:.1f}")
    # a loaded machine stretches the wall time; the CPU time is what the build itself costs
    return 0 if result["meets_goal_cpu"] else 1


if __name__ == "__main__":
    sys.exit(main())
