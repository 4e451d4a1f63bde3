"""A sandbox strategy that comes up wrong is cleared at once, even where the grader may not
signal its worker.

In the grading image the grader is root without CAP_KILL (the container keeps only SETUID and
SETGID), so it cannot kill a worker that runs under the worker uid.  The ``setpriv`` strategy
comes up there under an unmapped uid and is refused.  Its zygote then has to leave on its own
when the control socket closes; while the grader waited for the zygote's output to end before
closing that socket, every grading in the image lost 10 s (``_kill_proc``'s timeout) before its
first test.
"""
from __future__ import annotations

import subprocess

import pytest

from autograder import paths
from autograder.config import Limits
from autograder.sandbox import client, launcher
from autograder.sandbox.client import SandboxFailure, Worker

KIT = paths.kit_root()


@pytest.mark.skipif(not launcher.detect().drops_uid, reason="no strategy here drops the uid")
def test_a_refused_worker_that_cannot_be_signalled_leaves_at_once(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text("")
    strategy = launcher.detect()
    w = Worker(tmp_path, limits=Limits.merged({}), hide=[KIT], strategy=strategy.name)

    def no_kill(*args):                        # root without CAP_KILL
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(client.os, "killpg", no_kill)
    real_launch = Worker._launch

    def launch_then_expect_another_uid(self, strat):
        real_launch(self, strat)
        self.uid += 1                          # the probe's uid will not be the expected one

    monkeypatch.setattr(Worker, "_launch", launch_then_expect_another_uid)
    timed_out = []
    real_communicate = subprocess.Popen.communicate

    def communicate(self, *args, **kwargs):
        try:
            return real_communicate(self, *args, **kwargs)
        except subprocess.TimeoutExpired:
            timed_out.append(self.pid)
            raise

    monkeypatch.setattr(subprocess.Popen, "communicate", communicate)
    try:
        with pytest.raises(SandboxFailure, match="not the worker uid"):
            w.start()
    finally:
        monkeypatch.undo()
        w.close()
    # the refused zygote left by itself when its control socket closed: its output ended
    # without the 10 s wait (the old order waited for it, then closed the socket)
    assert timed_out == []
