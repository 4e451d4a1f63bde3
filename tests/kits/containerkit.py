"""The grading image for the podman-marked tests, built once per session (tests/conftest.py's
``image`` fixture): tests/batch/test_container.py and the container faults of tests/faults/ share
it.  It is tagged $AUTOGRADER_TEST_IMAGE (default localhost/dlkit-grader:latest, the tag
`make image` builds, so its layers are reused)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from types import SimpleNamespace

import pytest

from tests.kits.batchkit import KIT

PODMAN = shutil.which("podman")
PODMAN_CMD = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
TAG = os.environ.get("AUTOGRADER_TEST_IMAGE", "localhost/dlkit-grader:latest")
REPORT_DIR = KIT / "reports" / "container"


def cannot_run() -> str | None:
    if PODMAN is None:
        return ("podman is not installed (scripts/install-system-deps.sh installs podman, runc "
                "and debootstrap as root on Debian/Ubuntu); the process backend is tested in "
                "tests/batch/test_batch.py")
    if os.geteuid() != 0:
        return ("not root: the grading image's base is made with debootstrap, which needs root; "
                "the process backend is tested in tests/batch/test_batch.py")
    return None


def report(name: str, data: dict) -> None:
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / name).write_text(json.dumps(data, indent=1))
    print(f"\n[{name}] " + json.dumps(data, indent=1))


def build_image() -> SimpleNamespace:
    """Build (or bring up to date) the image with scripts/build-image.sh; skips where podman
    cannot run.  Returns its tag, ID and a Docker API url that serves it."""
    from autograder.batch import container as ctr
    reason = cannot_run()
    if reason:
        pytest.skip(reason)
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(KIT / "scripts" / "build-image.sh"), "--tag", TAG], cwd=KIT,
                          capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, f"image build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-4000:]}"
    built = re.search(r"^  id\s+(\S+)", proc.stdout, re.M).group(1)
    size_mb = int(re.search(r"^  size\s+(\d+) MB", proc.stdout, re.M).group(1))
    times = re.search(r"^  time\s+(.*)$", proc.stdout, re.M).group(1)
    report("image.json", {"image": TAG, "id": built, "size_mb": size_mb,
                          "build_seconds": round(seconds, 1), "steps": times})
    assert size_mb > 1000, "an image WITH torch is several GB"
    url, how = ctr.find_api()
    assert url is not None, how
    image_id = ctr.image_id(url, TAG)
    assert image_id is not None and image_id.split(":")[-1] == built
    return SimpleNamespace(tag=TAG, id=image_id, url=url)


def batch_containers(batch_id: str) -> list[str]:
    """``ID status`` (``Up …`` while it runs) of every container (running or not) labelled with ``batch_id``."""
    from autograder.batch.container import BATCH_LABEL
    proc = subprocess.run([*PODMAN_CMD, "ps", "-a", "--filter", f"label={BATCH_LABEL}={batch_id}",
                           "--format", "{{.ID}} {{.State}}"], capture_output=True, text=True, timeout=60)
    return [line for line in proc.stdout.splitlines() if line.strip()]
