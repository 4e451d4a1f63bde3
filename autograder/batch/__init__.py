"""``python -m autograder batch SUBMISSIONS_DIR``: grade a whole class.

    python -m autograder batch SUBMISSIONS_DIR [--out DIR] [--backend auto|container|process]
                               [--jobs N] [--image TAG] [--gpus N] [--scheduler tcp://HOST:8786]
                               [--force] [--timeout S] [--no-progress]

Submissions are folders or ``.zip`` files in ``SUBMISSIONS_DIR``, or Gradescope's bulk export
(a folder with ``submission_metadata.yml`` and one folder per submission; ids are mapped to the
students' names and emails).  Every submission is graded exactly as Gradescope would grade it
(``run_autograder``), on its own:

``container``  one container of the grading image per submission (the Docker API: a Docker
               engine, or podman's service, started here when podman is installed), no
               network, the ``[container]`` limits of ``assignment.toml``; the submission goes in
               with ``put_archive``, ``results.json`` comes out with ``get_archive`` and is read
               as JSON.
``process``    no engine: ``run_autograder`` in a subprocess with its own ``AUTOGRADER_ROOT`` and
               worker uid per job slot (the kit's sandbox isolates the student code).

One record per submission is written atomically to ``DIR/records/<id>.json`` as soon as it is
graded, so an interrupted batch resumes where it stopped (``--force`` regrades).  When all are
done: ``gradebook.csv``, ``feedback/<id>.md``, ``summary.png`` and ``leaderboard.csv``.
``--scheduler`` sends the same jobs to a Dask distributed cluster.
"""
from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``batch`` verb on ``subparsers`` (from ``add_subparsers``); returns it."""
    p = subparsers.add_parser(
        "batch", help="grade a whole class (containers or processes, in parallel, resumable)",
        description="Grade every submission of SUBMISSIONS_DIR (folders, zips, or Gradescope's "
                    "export with submission_metadata.yml) the way Gradescope would, each on its "
                    "own; write a gradebook, per-student feedback, a summary plot and the "
                    "leaderboard.  An interrupted batch resumes where it stopped.")
    p.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    p.add_argument("--out", metavar="DIR", help="output folder (default: SUBMISSIONS_DIR-graded)")
    p.add_argument("--backend", choices=["auto", "container", "process"], default="auto",
                   help="container when a Docker API is reachable and the image exists (auto), "
                        "else process")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel gradings (default 1)")
    p.add_argument("--image", metavar="TAG", default=None,
                   help="grading image (default localhost/dlkit-grader:latest, or $AUTOGRADER_IMAGE)")
    p.add_argument("--docker-url", metavar="URL",
                   help="Docker API (default $DOCKER_HOST, /var/run/docker.sock, else a podman "
                        "service started for the batch)")
    p.add_argument("--gpus", type=int, default=0, metavar="N",
                   help="GPUs to use, split across the parallel jobs with CUDA_VISIBLE_DEVICES")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask distributed scheduler (tcp://HOST:8786): its workers run the jobs")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="wall-clock limit per submission (default: [container] timeout_s)")
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from . import runner
    return runner.main(args)
