"""The container engine dies while a container grades (the podman service killed): the job
ends ``error`` with a message that says so — not ``timeout`` — so the next run grades it
again, and the container is removed.  The engine here is a stand-in whose wait() drops the
connection and whose ping() fails, as a killed podman service does; the real podman case
needs the grading image (tests/batch/test_container.py builds it) and is left to that suite."""
from __future__ import annotations


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
    def __init__(self, engine: _Engine):
        self.client = engine
        self.id = "c" * 64
        self.removed = False

    def put_archive(self, path, data):
        return True

    def start(self):
        pass

    def wait(self, timeout=None):
        raise requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")

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
    def __init__(self, engine: _Engine):
        from types import SimpleNamespace
        self.container = _Container(engine)
        self.images = SimpleNamespace(get=lambda name: SimpleNamespace(id="sha256:" + "a" * 64))
        self.containers = SimpleNamespace(create=lambda **kw: self.container)


def _run(alive: bool):
    spec = jobs.JobSpec(id="s", backend="container", submitters=[], payload=submissions.tar_bytes("a", b"1"),
                        limits=jobs.container_limits({}), timeout_s=60, image="img")
    client = _Client(_Engine(alive))
    outcome = container.run(spec, 0, [], client=client)
    doc, problem = jobs.parse_results(outcome.results)
    return jobs.classify(outcome, doc, problem, 60), client


def test_an_engine_that_died_mid_job_is_an_error_retried_next_run():
    (status, reason), client = _run(alive=False)
    assert status == "error", reason
    assert "container engine stopped answering" in reason and "next run grades it again" in reason
    # positive control: the same dropped wait with the engine still answering is a timeout
    (status2, reason2), _ = _run(alive=True)
    assert status2 == "timeout", reason2
