"""The container engine dies while a container grades (the podman service killed): the job
ends ``error`` with a message that says so — not ``timeout`` — so the next run grades it
again, and the container is removed.  The engine here is a stand-in whose wait() drops the
connection (refused, or its chunked answer cut short: what a really killed podman service
does, tests/faults/test_container_faults.py) and whose ping() fails."""
from __future__ import annotations

import pytest
import requests

from autograder.batch import container, jobs, submissions


class _Engine:
    def __init__(self, alive: bool):
        self.alive = alive

    def ping(self):
        if not self.alive:
            raise requests.exceptions.ConnectionError("connection refused")
        return True


class _Container:
    def __init__(self, engine: _Engine, dropped: type[Exception]):
        self.client = engine
        self.dropped = dropped
        self.id = "c" * 64
        self.removed = False

    def put_archive(self, path, data):
        return True

    def start(self):
        pass

    def wait(self, timeout=None):
        raise self.dropped("Connection aborted: RemoteDisconnected")

    def kill(self):
        pass

    def logs(self, stdout=True, stderr=True):
        return b""

    def get_archive(self, path):
        import docker
        raise docker.errors.NotFound("no results")

    def remove(self, force=False):
        self.removed = True


class _Client:
    def __init__(self, engine: _Engine, dropped: type[Exception]):
        from types import SimpleNamespace
        self.engine = engine
        self.container = _Container(engine, dropped)
        self.images = SimpleNamespace(get=lambda name: SimpleNamespace(id="sha256:" + "a" * 64))
        self.containers = SimpleNamespace(create=lambda **kw: self.container)

    def ping(self):
        return self.engine.ping()


def _run(alive: bool, dropped: type[Exception] = requests.exceptions.ConnectionError):
    spec = jobs.JobSpec(id="s", backend="container", submitters=[], payload=submissions.tar_bytes("a", b"1"),
                        limits=jobs.container_limits({}), timeout_s=60, image="img")
    client = _Client(_Engine(alive), dropped)
    outcome = container.run(spec, 0, [], client=client)
    doc, problem = jobs.parse_results(outcome.results)
    return jobs.classify(outcome, doc, problem, 60), client


@pytest.mark.parametrize("dropped", [requests.exceptions.ConnectionError,
                                     requests.exceptions.ChunkedEncodingError])
def test_an_engine_that_died_mid_job_is_an_error_retried_next_run(dropped):
    (status, reason), client = _run(alive=False, dropped=dropped)
    assert status == "error", reason
    assert "container engine stopped answering" in reason and "next run grades it again" in reason
    # positive control: the same dropped wait with the engine still answering is a timeout
    (status2, reason2), _ = _run(alive=True, dropped=dropped)
    assert status2 == "timeout", reason2
