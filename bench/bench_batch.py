"""Batch grading throughput: ``--jobs 1`` vs ``--jobs 2``, and the container backend's
overhead per submission over the process backend.

    .venv/bin/python bench/bench_batch.py [--n 6] [--questions Q1,Q3,Q11]
                                          [--backends process,container] [--image TAG]
                                          [--container-cpus C] [--out JSON]

Grades ``--n`` copies of the reference (each a distinct submission: a comment line makes its
digest, hence its hidden cases, its own) on a subset assignment, with each backend at
``--jobs 1`` and ``--jobs 2``, through ``autograder.batch.runner.run_batch`` (fresh output
folders, so nothing is resumed).  Reports submissions per minute, the jobs-2/jobs-1 ratio
(goal >= 1.6x on 2 cores) and, per backend, the mean wall time of one submission at
``--jobs 1``; the container overhead is the difference, and the bare cost of a container
(create, start, ``true``, wait, remove through the Docker API) is measured on its own.
Records the machine's load average, which these figures depend on.  Writes
``bench/results/batch.json``.  The container backend needs the grading image (``make image``)
and podman or a Docker engine; without them it is reported as skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import config  # noqa: E402
from autograder.batch import container as ctr  # noqa: E402
from autograder.batch import runner  # noqa: E402

from tests.kits.batchkit import reference_submission, subset_toml  # noqa: E402


def _bare_container_seconds(url: str, image: str, runs: int = 5) -> float:
    import docker
    client = ctr.connect(url)
    ulimits = [docker.types.Ulimit(name="nofile", soft=1024, hard=1024),
               docker.types.Ulimit(name="nproc", soft=4096, hard=4096)]
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        c = client.containers.create(image, ["true"], network_mode="none", ulimits=ulimits,
                                     mem_limit="256m", cap_drop=["ALL"],
                                     security_opt=["no-new-privileges"], labels={"dlkit.batch": "1"})
        try:
            c.start()
            c.wait(timeout=60)
        finally:
            c.remove(force=True)
        times.append(time.monotonic() - t0)
    client.close()
    return sorted(times)[len(times) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6, help="submissions per run (default 6)")
    ap.add_argument("--questions", default="Q1,Q3,Q11", help="the subset graded (default Q1,Q3,Q11)")
    ap.add_argument("--backends", default="process,container")
    ap.add_argument("--image", default=ctr.default_image())
    ap.add_argument("--container-cpus", default=None,
                    help="[container] cpus for the run (default: assignment.toml's)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "batch.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        toml = subset_toml(work / "subset.toml", args.questions.split(","),
                           container={"cpus": args.container_cpus} if args.container_cpus else None)
        assignment = config.load(toml)
        subs = work / "subs"
        reference_submission(subs / "s00", models=False)
        for i in range(1, args.n):
            shutil.copytree(subs / "s00", subs / f"s{i:02d}")
        for i in range(args.n):
            layers = subs / f"s{i:02d}" / "src" / "layers.py"
            layers.write_text(layers.read_text() + f"\n# submission {i}\n")
        results: dict = {"submissions": args.n, "questions": args.questions.split(","),
                         "container_cpus": float(config.load(toml).raw["container"]["cpus"]),
                         "machine": f"{platform.machine()}  {os.cpu_count()} cpus",
                         "load_average_before": [round(x, 2) for x in os.getloadavg()],
                         "backends": {}}
        for backend in args.backends.split(","):
            entry: dict = {}
            url = None
            if backend == "container":
                url, how = ctr.find_api()
                if url is None or ctr.image_id(url, args.image) is None:
                    results["backends"][backend] = {"skipped": how if url is None else
                                                    f"image {args.image} not found (make image)"}
                    continue
                entry["image"] = args.image
                entry["image_id"] = ctr.image_id(url, args.image)
                entry["bare_container_s"] = round(_bare_container_seconds(url, args.image), 3)
            for jobs in (1, 2):
                out = work / f"out-{backend}-{jobs}"
                load0 = os.getloadavg()[0]
                t0 = time.monotonic()
                summary = runner.run_batch(subs, out, assignment=assignment,
                                           assignment_text=toml.read_text(), backend=backend,
                                           n_jobs=jobs, image=args.image, docker_url=url,
                                           progress=False, log=lambda m: None)
                seconds = time.monotonic() - t0
                if summary["status"] != {"ok": args.n}:
                    raise SystemExit(f"{backend} --jobs {jobs}: {summary['status']}")
                walls = [json.loads(p.read_text())["wall_s"] for p in (out / "records").glob("*.json")]
                entry[f"jobs{jobs}"] = {"seconds": round(seconds, 2),
                                        "submissions_per_minute": round(60 * args.n / seconds, 2),
                                        "mean_wall_per_submission_s": round(sum(walls) / len(walls), 2),
                                        "load_average_at_start": round(load0, 2)}
                print(f"{backend:>9} --jobs {jobs}: {seconds:7.1f} s for {args.n} "
                      f"({60 * args.n / seconds:.2f}/min), {sum(walls) / len(walls):.1f} s each")
            entry["speedup_jobs2_over_jobs1"] = round(entry["jobs1"]["seconds"] / entry["jobs2"]["seconds"], 3)
            results["backends"][backend] = entry
        b = results["backends"]
        if "jobs1" in b.get("container", {}) and "jobs1" in b.get("process", {}):
            results["container_overhead_per_submission_s"] = round(
                b["container"]["jobs1"]["mean_wall_per_submission_s"]
                - b["process"]["jobs1"]["mean_wall_per_submission_s"], 2)
            results["container_over_process_ratio"] = round(
                b["container"]["jobs1"]["mean_wall_per_submission_s"]
                / b["process"]["jobs1"]["mean_wall_per_submission_s"], 3)
        results["goal"] = "jobs 2 >= 1.6x jobs 1 (2 cores, otherwise idle)"
        results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        results["command"] = "bench/bench_batch.py " + " ".join(sys.argv[1:])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
