"""The ``batch`` verb: find the submissions, skip those already graded, run the rest in
parallel (threads here, or a Dask cluster), write each record as it finishes, then the
gradebook, feedback, summary plot and leaderboard.

Output folder::

    records/<id>.json    one record per submission (status, exit code, wall time, where it ran,
                         Gradescope's results document); written atomically: a batch that is
                         interrupted resumes with the submissions that have none
    logs/<id>.log        the grader's output (container logs, or run_autograder's output)
    batch.log            one line per graded submission: status, exit code, wall time, image
    gradebook.csv  leaderboard.csv  feedback/<id>.md  summary.png      (outputs.py)
    report/index.html    the class report, one page per submission (autograder/classreport)
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import config, paths
from . import jobs, outputs, submissions
from .jobs import JobSpec


class BatchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------- records
def record_path(out: Path, sid: str) -> Path:
    return Path(out) / "records" / f"{sid}.json"


def load_record(path: Path) -> dict[str, Any] | None:
    try:
        rec = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and "results" in rec and "status" in rec else None


def save_record(out: Path, rec: dict[str, Any]) -> None:
    out = Path(out)
    log = rec.pop("log_tail", "")
    outputs.atomic_write(out / "logs" / f"{rec['id']}.log", log or "")
    outputs.atomic_write(record_path(out, rec["id"]), json.dumps(rec, indent=1, default=str))
    line = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} {rec['id']} status={rec['status']} "
            f"exit={rec.get('exit_code')} wall={rec.get('wall_s')}s score={rec['results'].get('score')} "
            f"backend={rec.get('backend')} host={rec.get('host')} pid={rec.get('pid')} slot={rec.get('slot')}")
    if rec.get("image_id"):
        line += f" image={rec.get('image')} image_id={str(rec['image_id'])[:19]}"
    if rec.get("container"):
        line += f" container={rec['container']} container_exit={rec.get('container_exit_code')}"
    with open(out / "batch.log", "a", encoding="utf-8") as f:
        f.write(line + "\n")


# ---------------------------------------------------------------------------- choosing
def choose_backend(requested: str, scheduler: str | None, docker_url: str | None,
                   image: str) -> tuple[str, str | None, str]:
    """(backend, docker url, why)."""
    if requested == "process":
        return "process", None, "process backend (asked for)"
    if scheduler and requested == "auto":
        return "process", None, "process backend on the Dask workers (pass --backend container for containers)"
    from . import container
    if scheduler:          # the workers find their own API unless one is given
        return "container", docker_url, "container backend on the Dask workers"
    url, how = container.find_api(docker_url)
    if url is None:
        if requested == "container":
            raise BatchError(f"--backend container: {how}")
        return "process", None, f"process backend ({how})"
    image_id = container.image_id(url, image)
    if image_id is None:
        if requested == "container":
            raise BatchError(f"--backend container: image {image} not found at {url}; build it "
                             f"with `make image` (or pass --image)")
        return "process", None, f"process backend (image {image} not found at {url}; `make image` builds it)"
    return "container", url, f"container backend: {how}; image {image} ({image_id[:19]})"


# ---------------------------------------------------------------------------- running
def make_spec(sub: submissions.Submission, base: dict[str, Any]) -> JobSpec:
    return JobSpec(id=sub.id, submitters=[dict(p) for p in sub.submitters],
                   payload=submissions.pack(sub.path), **base)


def _error_record(sub: submissions.Submission, backend: str, exc: BaseException) -> dict[str, Any]:
    from ..grading import results as gs_results
    reason = f"{type(exc).__name__}: {exc}"
    return {"id": sub.id, "submitters": [dict(p) for p in sub.submitters], "backend": backend,
            "status": "rejected" if isinstance(exc, (ValueError, OSError)) else "error",
            "reason": reason, "exit_code": None, "timed_out": False, "wall_s": 0.0,
            "results": gs_results.failure_results(f"The submission could not be prepared: {reason}"),
            "log_tail": reason}


def _pack_and_run(sub: submissions.Submission, base: dict[str, Any]) -> dict[str, Any]:
    try:
        spec = make_spec(sub, base)
    except Exception as exc:   # a bad zip: intake's message
        return _error_record(sub, base["backend"], exc)
    return jobs.run_job(spec)


def run_local(todo: list[submissions.Submission], base: dict[str, Any], n_jobs: int,
              on_done: Callable[[dict[str, Any]], None]) -> None:
    ex = cf.ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="dlkit-batch")
    futures = {ex.submit(_pack_and_run, sub, base): sub for sub in todo}
    try:
        for fut in cf.as_completed(futures):
            on_done(fut.result())
    except BaseException:
        for fut in futures:
            fut.cancel()
        jobs.kill_active()
        ex.shutdown(wait=True, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


def run_dask(todo: list[submissions.Submission], base: dict[str, Any], scheduler: str,
             on_done: Callable[[dict[str, Any]], None], window: int) -> None:
    from distributed import Client, as_completed
    client = Client(scheduler, timeout="30s")
    try:
        pending = iter(todo)
        ac = as_completed()
        owners: dict[str, submissions.Submission] = {}

        def submit_next() -> bool:
            sub = next(pending, None)
            if sub is None:
                return False
            try:
                spec = make_spec(sub, base)
            except Exception as exc:
                on_done(_error_record(sub, base["backend"], exc))
                return True
            fut = client.submit(jobs.run_job, spec, key=f"dlkit-grade-{sub.id}-{uuid.uuid4().hex[:8]}",
                                pure=False, retries=0)
            owners[fut.key] = sub
            ac.add(fut)
            return True

        for _ in range(window):
            if not submit_next():
                break
        if not owners and not ac.count():
            return
        try:
            for fut in ac:
                sub = owners.pop(fut.key)
                try:
                    rec = fut.result()
                except Exception as exc:    # the worker died, or the task failed to run
                    rec = _error_record(sub, base["backend"], exc)
                    rec["status"] = "error"
                on_done(rec)
                submit_next()
        except BaseException:
            client.cancel(list(ac.futures) if hasattr(ac, "futures") else [])
            raise
    finally:
        client.close()


def run_batch(subs_dir: Path, out: Path, *, assignment: config.Assignment,
              assignment_text: str | None, backend: str = "auto", n_jobs: int = 1,
              image: str | None = None, docker_url: str | None = None, gpus: int = 0,
              scheduler: str | None = None, timeout_s: float | None = None, force: bool = False,
              progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Grade every submission of ``subs_dir`` into ``out``; returns a summary."""
    from . import container
    subs, warnings = submissions.discover(Path(subs_dir))
    for w in warnings:
        log(f"batch: warning: {w}")
    if not subs:
        raise BatchError(f"{subs_dir}: no submissions found (folders, .zip files, or "
                         f"Gradescope's export with {submissions.METADATA})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    image = image or container.default_image()
    chosen, url, why = choose_backend(backend, scheduler, docker_url, image)
    limits = jobs.container_limits(assignment.raw)
    timeout = float(timeout_s or limits["timeout_s"])
    done: dict[str, dict[str, Any]] = {}
    if not force:
        for sub in subs:
            rec = load_record(record_path(out, sub.id))
            if rec is not None and rec["status"] != "error":
                done[sub.id] = rec
    todo = [s for s in subs if s.id not in done]
    log(f"batch: {len(subs)} submission(s): {len(done)} already graded"
        f"{' (resuming; --force regrades them)' if done else ''}, {len(todo)} to grade; {why}; "
        f"{n_jobs} in parallel" + (f" on the Dask cluster {scheduler}" if scheduler else "")
        + f"; {timeout:g} s each at most")
    base = dict(backend=chosen, limits=limits, timeout_s=timeout, kit=str(paths.kit_root()),
                python=sys.executable, assignment_text=assignment_text, image=image,
                docker_url=url, gpus=gpus, jobs=n_jobs)
    counts: Counter[str] = Counter()
    bar = None
    if progress and todo:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="submission", dynamic_ncols=True, file=sys.stderr)

    def on_done(rec: dict[str, Any]) -> None:
        save_record(out, rec)
        counts[rec["status"]] += 1
        if bar is not None:
            bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in sorted(counts.items())), refresh=False)
            bar.update(1)
        else:
            log(f"batch: {rec['id']}: {rec['status']} (exit {rec.get('exit_code')}), "
                f"score {rec['results'].get('score')}, {rec.get('wall_s')} s")

    interrupted = False
    t0 = time.monotonic()
    try:
        if todo:
            if scheduler:
                run_dask(todo, base, scheduler, on_done, window=max(2 * n_jobs, 4))
            else:
                run_local(todo, base, max(1, n_jobs), on_done)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.monotonic() - t0
    records = [r for r in (load_record(record_path(out, s.id)) for s in subs) if r is not None]
    written = outputs.write_all(out, records, assignment) if records else {}
    if records:    # the class report (autograder/classreport); a failure there loses nothing else
        try:
            from ..classreport import write_report
            written["report"] = write_report(out, assignment, records=records)
        except Exception as exc:
            log(f"batch: warning: no class report ({type(exc).__name__}: {exc}); retry with "
                f"`python -m autograder report {out}`")
    status = Counter(r["status"] for r in records)
    summary = {"submissions": len(subs), "graded_now": sum(counts.values()), "resumed": len(done),
               "status": dict(status), "backend": chosen, "seconds": round(elapsed, 3),
               "interrupted": interrupted, "outputs": {k: str(v) for k, v in written.items()}}
    if interrupted:
        log(f"batch: interrupted after {sum(counts.values())} submission(s); rerun the same "
            f"command to resume")
    else:
        log(f"batch: done in {elapsed:.1f} s: " + ", ".join(f"{v} {k}" for k, v in sorted(status.items())))
    for name, path in written.items():
        log(f"  {name:<12} {path}")
    return summary


def main(args: argparse.Namespace) -> int:
    try:
        assignment = config.load(args.assignment)
    except config.ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    assignment_text = Path(args.assignment).read_text("utf-8") if args.assignment else None
    subs_dir = Path(args.submissions)
    out = Path(args.out) if args.out else subs_dir.resolve().parent / (subs_dir.resolve().name + "-graded")
    try:
        summary = run_batch(subs_dir, out, assignment=assignment, assignment_text=assignment_text,
                            backend=args.backend, n_jobs=args.jobs, image=args.image,
                            docker_url=args.docker_url, gpus=args.gpus, scheduler=args.scheduler,
                            timeout_s=args.timeout, force=args.force, progress=not args.no_progress,
                            log=lambda m: print(m, file=sys.stderr))
    except (BatchError, FileNotFoundError) as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 2
    if summary["interrupted"]:
        return 130
    return 1 if summary["status"].get("error") else 0
