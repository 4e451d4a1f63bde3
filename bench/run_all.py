"""Every benchmark, one after the other, each writing its figures to ``bench/results/``.

    .venv/bin/python bench/run_all.py [--skip batch]      (what ``make bench`` runs)

Benchmarks measure ratios within one run (sandbox vs in-process, vectorised vs loops, two
jobs vs one), so they hold on any machine; run them on a quiet machine, since another load
on the two cores skews the absolute seconds.  The container half of ``bench_batch`` needs the
grading image (``make image``) and is skipped by that script when podman cannot run.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["conv", "grading", "zygotes", "scoring", "batch", "classreport"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip", nargs="*", default=[], choices=BENCHES)
    args = ap.parse_args()
    failed = []
    for name in BENCHES:
        if name in args.skip:
            continue
        t0 = time.monotonic()
        print(f"== bench_{name}.py", flush=True)
        code = subprocess.call([sys.executable, str(HERE / f"bench_{name}.py")])
        print(f"== bench_{name}.py: exit {code} after {time.monotonic() - t0:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
