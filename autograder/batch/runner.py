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
import errno
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from .. import config, paths, stopsignals
from . import jobs, lock, outputs, slots, submissions
from .jobs import JobSpec


class BatchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------- records
def record_path(out: Path, sid: str) -> Path:
    return Path(out) / "records" / f"{sid}.json"


def load_record(path: Path) -> dict[str, Any] | None:
    return check_record(path)[0]


def check_record(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(record, problem): the record at ``path``, or None with what is wrong with it ("" when
    there is no record).  A record must be a JSON object with the submission's id, a status
    and a results document valid against Gradescope's schema."""
    from ..grading import results as gs_results
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None, ""
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable ({type(exc).__name__}: {exc})"
    try:
        rec = json.loads(text)
    except ValueError as exc:
        return None, (f"not valid JSON ({exc}; {len(text)} bytes"
                      + (", empty" if not text.strip() else ", truncated?") + ")")
    if not isinstance(rec, dict) or not {"id", "status", "results"} <= set(rec):
        return None, "not a record (no id, status or results)"
    if rec["id"] != path.stem:
        return None, f"the record of {rec['id']!r}, not of {path.stem!r}"
    try:
        gs_results.validate(rec["results"])
    except Exception as exc:  # jsonschema.ValidationError
        return None, f"its results document is invalid ({getattr(exc, 'message', exc)})"
    return rec, ""


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
    if isinstance(exc, FileNotFoundError) and not Path(sub.path).exists():
        reason = (f"{sub.path} vanished after the batch started (moved or deleted); put it back "
                  f"and run again with --force, or leave it out ({reason})")
    elif isinstance(exc, PermissionError):
        reason = f"{sub.path} could not be read: {exc.strerror} ({reason})"
    return {"id": sub.id, "submitters": [dict(p) for p in sub.submitters], "backend": backend,
            "status": "rejected" if isinstance(exc, (ValueError, OSError)) else "error",
            "reason": reason, "exit_code": None, "timed_out": False, "wall_s": 0.0,
            "results": gs_results.failure_results(
                reason if isinstance(exc, (ValueError, OSError)) else f"the submission could not be "
                f"prepared: {reason}",
                status=gs_results.REJECTED if isinstance(exc, (ValueError, OSError)) else gs_results.FAILED),
            "log_tail": reason}


def _pack_and_run(sub: submissions.Submission, base: dict[str, Any]) -> dict[str, Any]:
    try:
        spec = make_spec(sub, base)
    except Exception as exc:   # a bad zip: intake's message
        return _error_record(sub, base["backend"], exc)
    return jobs.run_job(spec)


def run_local(todo: list[submissions.Submission], base: dict[str, Any], n_jobs: int,
              on_done: Callable[[dict[str, Any]], None], stopped: list[str] | None = None) -> None:
    """Run the jobs in threads here.  On any exception (a stop signal, a full disk) every
    running job is killed — its process group and worker uid, or its container — and waited
    for before the exception goes on; what was stopped is appended to ``stopped``."""
    ex = cf.ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="dlkit-batch")
    futures = {ex.submit(_pack_and_run, sub, base): sub for sub in todo}
    try:
        for fut in cf.as_completed(futures):
            on_done(fut.result())
    except BaseException:
        for fut in futures:
            fut.cancel()
        labels = jobs.kill_active(base["run_id"])
        if stopped is not None:
            stopped += labels
        ex.shutdown(wait=True, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


def run_dask(todo: list[submissions.Submission], base: dict[str, Any], scheduler: str,
             on_done: Callable[[dict[str, Any]], None], window: int,
             stopped: list[str] | None = None) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise BatchError(f"--scheduler needs Dask's distributed package, which is not installed "
                         f"({exc}); install the kit's 'scale' extra: pip install "
                         f"'dl-autograder-kit[scale]' (make setup does)") from None
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
            # a cancelled task keeps running on its worker: stop the jobs there
            try:
                per_worker = client.run(jobs.kill_active, base["run_id"])
            except Exception as exc:  # a worker that is gone has nothing left running
                per_worker = {"?": [f"(could not reach every Dask worker: {exc})"]}
            if stopped is not None:
                stopped += [f"{label} on {w}" for w, labels in per_worker.items() for label in labels]
            raise
    finally:
        client.close()


def run_batch(subs_dir: Path, out: Path, *, assignment: config.Assignment,
              assignment_text: str | None, backend: str = "auto", n_jobs: int = 1,
              image: str | None = None, docker_url: str | None = None, gpus: int = 0,
              scheduler: str | None = None, timeout_s: float | None = None, force: bool = False,
              progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Grade every submission of ``subs_dir`` into ``out``; returns a summary.

    Holds ``out``'s lock (:mod:`.lock`) throughout: a second batch on the same folder raises
    :class:`BatchError`.  A stop signal (see :func:`main`), Ctrl-C or a full disk stops every
    running job and keeps every finished record; the summary says why it stopped
    (``interrupted``, ``signal``, ``no_space``) and what was stopped."""
    subs, warnings = submissions.discover(Path(subs_dir))
    for w in warnings:
        log(f"batch: warning: {w}")
    if not subs:
        raise BatchError(f"{subs_dir}: no submissions found (folders, .zip files, or "
                         f"Gradescope's export with {submissions.METADATA})")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        held = lock.OutputLock(out).acquire()
    except lock.LockBusy as exc:
        raise BatchError(str(exc)) from None
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise BatchError(no_space_message(out, exc)) from None
        raise
    try:
        return _run_locked(subs, out, held, assignment=assignment, assignment_text=assignment_text,
                           backend=backend, n_jobs=n_jobs, image=image, docker_url=docker_url,
                           gpus=gpus, scheduler=scheduler, timeout_s=timeout_s, force=force,
                           progress=progress, log=log)
    finally:
        held.release()


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def no_space_message(out: Path, exc: OSError) -> str:
    where = exc.filename or out
    return (f"no space left in {Path(out).resolve()} (writing {where}: {exc.strerror}); the "
            f"records written so far are intact (each is written whole or not at all); free "
            f"some space and run the same command again to grade the rest")


def clean_up_left(out: Path, held: lock.OutputLock, chosen: str, url: str | None,
                  scheduler: str | None, log: Callable[[str], None]) -> list[str]:
    """What a killed batch left behind: its lock (taken over), its podman service, stale job
    slots of this host (their graders, worker-uid processes, folders), and containers labelled
    with this folder's batch id.  Logs and returns one message each."""
    from . import container
    found: list[str] = []
    if held.stale is not None:
        found.append(held.describe_stale())
        service = lock.stop_left_service(held.stale)
        if service:
            found.append(service)
    found += slots.sweep()
    if chosen == "container" and not scheduler:
        found += container.remove_left(url, lock.batch_id(out))
    for message in found:
        log(f"batch: cleaned up after a killed batch: {message}")
    return found


def _run_locked(subs: list[submissions.Submission], out: Path, held: lock.OutputLock, *,
                assignment: config.Assignment, assignment_text: str | None, backend: str,
                n_jobs: int, image: str | None, docker_url: str | None, gpus: int,
                scheduler: str | None, timeout_s: float | None, force: bool, progress: bool,
                log: Callable[[str], None]) -> dict[str, Any]:
    from . import container
    image = image or container.default_image()
    chosen, url, why = choose_backend(backend, scheduler, docker_url, image)
    if container._SERVICE is not None and container._SERVICE.proc is not None:
        held.note(podman_service_pid=container._SERVICE.proc.pid,
                  podman_service_dir=str(container._SERVICE.dir))
    cleaned = clean_up_left(out, held, chosen, url, scheduler, log)
    limits = jobs.container_limits(assignment.raw)
    timeout = float(timeout_s or limits["timeout_s"])
    done: dict[str, dict[str, Any]] = {}
    if not force:
        for sub in subs:
            path = record_path(out, sub.id)
            rec, problem = check_record(path)
            if problem:
                kept = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
                os.replace(path, kept)
                log(f"batch: {path} is damaged: {problem}; {sub.id} is graded again "
                    f"(the damaged file is kept as {kept.name})")
            if rec is not None and rec["status"] != "error":
                done[sub.id] = rec
    todo = [s for s in subs if s.id not in done]
    log(f"batch: {len(subs)} submission(s): {len(done)} already graded"
        f"{' (resuming; --force regrades them)' if done else ''}, {len(todo)} to grade; {why}; "
        f"{n_jobs} in parallel" + (f" on the Dask cluster {scheduler}" if scheduler else "")
        + f"; {timeout:g} s each at most")
    base = dict(backend=chosen, limits=limits, timeout_s=timeout, kit=str(paths.kit_root()),
                python=sys.executable, assignment_text=assignment_text, image=image,
                docker_url=url, gpus=gpus, jobs=n_jobs, batch_id=lock.batch_id(out),
                run_id=f"{lock.batch_id(out)}-{uuid.uuid4().hex[:12]}")
    counts: Counter[str] = Counter()
    bar = None
    if progress and todo:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="submission", dynamic_ncols=True, file=sys.stderr)

    def on_done(rec: dict[str, Any]) -> None:
        if rec["status"] == "stopped":
            return                            # never a record: the next run grades it
        save_record(out, rec)
        counts[rec["status"]] += 1
        if bar is not None:
            bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in sorted(counts.items())), refresh=False)
            bar.update(1)
        else:
            log(f"batch: {rec['id']}: {rec['status']} (exit {rec.get('exit_code')}), "
                f"score {rec['results'].get('score')}, {rec.get('wall_s')} s")
        for message in rec.get("cleaned", []):
            log(f"batch: cleaned up after a killed batch: {message}")

    interrupted = False
    no_space: OSError | None = None
    stopped: list[str] = []
    t0 = time.monotonic()
    try:
        if todo:
            if scheduler:
                run_dask(todo, base, scheduler, on_done, window=max(2 * n_jobs, 4), stopped=stopped)
            else:
                run_local(todo, base, max(1, n_jobs), on_done, stopped=stopped)
    except KeyboardInterrupt:
        interrupted = True
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        no_space = exc
    finally:
        if bar is not None:
            bar.close()
        if chosen == "container" and not scheduler:   # e.g. the engine died mid-job
            for message in container.remove_left(url, lock.batch_id(out)):
                log(f"batch: {message}")
    elapsed = time.monotonic() - t0
    signum = stopsignals.received() or (2 if interrupted else None)   # Ctrl-C outside handling()
    if interrupted or no_space:
        why_stopped = (f"stopped by {stopsignals.name(signum)}" if interrupted
                       else no_space_message(out, no_space))
        log(f"batch: {why_stopped}; {len(stopped)} running job(s) stopped"
            + (": " + "; ".join(stopped) if stopped else "")
            + f"; {sum(counts.values())} graded in this run are kept; rerun the same command "
              f"to grade the rest")
    records = [r for r in (load_record(record_path(out, s.id)) for s in subs) if r is not None]
    written: dict[str, Path] = {}
    try:
        written = outputs.write_all(out, records, assignment) if records else {}
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        no_space = no_space or exc
        log(f"batch: the gradebook, feedback and plots could not be written: "
            f"{no_space_message(out, exc)} (any previous gradebook is intact)")
    if records and not no_space:   # the class report; a failure there loses nothing else
        try:
            from ..classreport import write_report
            written["report"] = write_report(out, assignment, records=records)
        except Exception as exc:
            log(f"batch: warning: no class report ({type(exc).__name__}: {exc}); retry with "
                f"`python -m autograder report {out}`")
    status = Counter(r["status"] for r in records)
    summary = {"submissions": len(subs), "graded_now": sum(counts.values()), "resumed": len(done),
               "status": dict(status), "backend": chosen, "seconds": round(elapsed, 3),
               "interrupted": interrupted, "signal": signum if interrupted else None,
               "no_space": str(no_space) if no_space else None, "stopped": stopped,
               "cleaned": cleaned, "outputs": {k: str(v) for k, v in written.items()}}
    if not interrupted and not no_space:
        log(f"batch: done in {elapsed:.1f} s: " + ", ".join(f"{v} {k}" for k, v in sorted(status.items())))
    for name, path in written.items():
        log(f"  {name:<12} {path}")
    return summary


#: Exit status of a batch stopped because the output folder's disk is full (EX_IOERR).
EXIT_NO_SPACE = 74


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
        # SIGTERM/SIGINT/SIGHUP stop the running jobs and keep the finished records (exit
        # 143/130/129, as a shell reports a process ended by the signal)
        with stopsignals.handling():
            try:
                summary = run_batch(subs_dir, out, assignment=assignment,
                                    assignment_text=assignment_text, backend=args.backend,
                                    n_jobs=args.jobs, image=args.image, docker_url=args.docker_url,
                                    gpus=args.gpus, scheduler=args.scheduler, timeout_s=args.timeout,
                                    force=args.force, progress=not args.no_progress,
                                    log=lambda m: print(m, file=sys.stderr))
            except KeyboardInterrupt:      # stopped before any job started
                signum = stopsignals.received() or 2
                print(f"batch: stopped by {stopsignals.name(signum)} before grading began; "
                      f"nothing was running", file=sys.stderr)
                return stopsignals.exit_code(signum)
    except (BatchError, FileNotFoundError, submissions.MetadataError) as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 2
    if summary["interrupted"]:
        return stopsignals.exit_code(summary["signal"] or 2)
    if summary["no_space"]:
        return EXIT_NO_SPACE
    return 1 if summary["status"].get("error") else 0
