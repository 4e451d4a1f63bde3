"""The container backend: one container of the grading image per submission, through the
Docker API (the ``docker`` Python SDK) — a Docker engine, or podman's API service.

Per submission (CONTAINERS.md): ``create`` with no network, the ``[container]`` memory
(swap = memory), pids and CPU limits, explicit ``nofile``/``nproc`` ulimits, all capabilities
dropped but :data:`CAP_ADD` (the root grader drops the worker to another uid) and
``no-new-privileges``; ``put_archive`` the submission into ``/autograder/submission``;
``start``; ``wait`` up to ``timeout_s`` (past it: ``kill``, status timeout); ``get_archive``
``/autograder/results/results.json`` and read it as JSON; log the exit code and the
container's output; remove the container (also one left in ``Created`` by a failed start).

Finding the API: ``--docker-url``, else ``$DOCKER_HOST``, else ``/var/run/docker.sock``, else a
podman service started here (:class:`PodmanService`: ``podman system service --time=0`` on a
private socket, with the runtime flags and default ulimits this kind of machine needs).
"""
from __future__ import annotations

import atexit
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from . import container_gpus, jobs, submissions
from .jobs import JobSpec, RunOutcome

DEFAULT_IMAGE = "localhost/dlkit-grader:latest"
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
RESULTS_PATH = "/autograder/results/results.json"
#: Capabilities the root grader keeps (all others dropped; no-new-privileges; the worker it
#: starts drops every capability and its uid): exactly SETUID/SETGID, to drop the worker to
#: its uid (CONTAINERS.md).  Without CHOWN the grader hands the worker its folder by mode
#: (``sandbox.client``); the worker's own uid kills its test processes (the zygote does).
CAP_ADD = ["SETUID", "SETGID"]
ASSIGNMENT_IN_IMAGE = "/autograder/source/batch-assignment.toml"
LOG_KEEP_BYTES = 256 * 1024
API_TIMEOUT_S = 120
#: Every container of a batch carries its output folder's batch id (lock.batch_id): the next
#: run on that folder removes what a killed run or a dead engine left (:func:`remove_left`).
BATCH_LABEL = "dlkit.batch.id"


def default_image() -> str:
    return os.environ.get("AUTOGRADER_IMAGE", DEFAULT_IMAGE)


class PodmanService:
    """``podman system service`` on a private unix socket (stopped by :meth:`stop`)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dlkit-podman-"))
        self.socket = self.dir / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait_s: float = 30.0) -> str:
        conf = self.dir / "containers.conf"
        conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n')
        env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.log = open(self.dir / "service.log", "wb")
        # cwd: the service's own folder (conmon drops an "oom" file into the current folder
        # when a container's process is OOM-killed)
        self.proc = subprocess.Popen([*PODMAN, "system", "service", "--time=0", self.url],
                                     env=env, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.socket.exists():
                try:
                    client = connect(self.url)
                    client.ping()
                    client.close()
                    return self.url
                except Exception:
                    pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"podman system service did not come up: "
                           f"{(self.dir / 'service.log').read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def connect(url: str | None = None):
    """A Docker SDK client for ``url`` (default: the environment's)."""
    import docker
    if url:
        return docker.DockerClient(base_url=url, timeout=API_TIMEOUT_S)
    return docker.from_env(timeout=API_TIMEOUT_S)


def candidate_urls(explicit: str | None = None) -> list[str]:
    if explicit:
        return [explicit]
    out = []
    if os.environ.get("DOCKER_HOST"):
        out.append(os.environ["DOCKER_HOST"])
    for sock in ("/var/run/docker.sock", "/run/podman/podman.sock"):
        if os.path.exists(sock):
            out.append(f"unix://{sock}")
    return out


_SERVICE_LOCK = threading.Lock()
_SERVICE: PodmanService | None = None


def _stop_service() -> None:
    global _SERVICE
    if _SERVICE is not None:
        _SERVICE.stop()
        _SERVICE = None


def find_api(explicit: str | None = None, start_podman: bool = True) -> tuple[str | None, str]:
    """(url, how) of a reachable Docker API, starting a podman service (once per process,
    stopped at exit) when none answers and podman is installed; (None, why) otherwise."""
    global _SERVICE
    tried = []
    for url in candidate_urls(explicit):
        try:
            client = connect(url)
            client.ping()
            client.close()
            return url, f"Docker API at {url}"
        except Exception as exc:
            tried.append(f"{url}: {type(exc).__name__}")
    if explicit:
        return None, f"no Docker API at {explicit} ({'; '.join(tried)})"
    if not start_podman or shutil.which("podman") is None:
        return None, ("no Docker API reachable" + (f" ({'; '.join(tried)})" if tried else "")
                      + " and podman is not installed")
    with _SERVICE_LOCK:
        if _SERVICE is None:
            service = PodmanService()
            try:
                service.start()
            except Exception as exc:
                return None, f"podman is installed but its API service did not start: {exc}"
            _SERVICE = service
            atexit.register(_stop_service)
        return _SERVICE.url, f"podman API service started at {_SERVICE.url}"


def image_id(url: str, image: str) -> str | None:
    """The image's ID, or None when it is not there."""
    import docker
    client = connect(url)
    try:
        return client.images.get(image).id
    except docker.errors.ImageNotFound:
        return None
    finally:
        client.close()


def create_kwargs(spec: JobSpec, gpus: list[int], env: dict[str, str],
                  engine: container_gpus.Engine | None = None) -> dict[str, Any]:
    """The ``containers.create`` arguments of one job (unit-tested without an engine).
    ``engine`` (None: Docker) decides how GPUs are attached (:mod:`.container_gpus`)."""
    import docker
    lim = spec.limits
    mem = f"{int(lim['memory_mb'])}m"
    kwargs: dict[str, Any] = dict(
        image=spec.image, detach=True, network_mode="none",
        mem_limit=mem, memswap_limit=mem, pids_limit=int(lim["pids"]),
        nano_cpus=int(float(lim["cpus"]) * 1e9),
        ulimits=[docker.types.Ulimit(name="nofile", soft=int(lim["nofile"]), hard=int(lim["nofile"])),
                 docker.types.Ulimit(name="nproc", soft=int(lim["nproc"]), hard=int(lim["nproc"]))],
        cap_drop=["ALL"], cap_add=list(CAP_ADD), security_opt=["no-new-privileges"],
        environment=env, labels={"dlkit.batch": "1", "dlkit.submission": spec.id,
                                 BATCH_LABEL: spec.batch_id or "none"},
        name=f"dlkit-{spec.id[:40]}-{uuid.uuid4().hex[:8]}")
    if spec.gpus > 0:
        # The container sees the batch's first N GPUs (in host order, so ids match inside);
        # CUDA_VISIBLE_DEVICES narrows each job to its share.
        kwargs.update(container_gpus.attach(engine, spec.gpus).kwargs)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
    return kwargs


def _client_answers(client: Any) -> bool:
    """Whether the engine behind ``client`` still answers (True when that cannot be asked: a
    stand-in without ``ping``)."""
    if client is None or not hasattr(client, "ping"):
        return True
    try:
        client.ping()
        return True
    except Exception:
        return False


def _engine_answers(container: Any) -> bool:
    """Whether the engine that runs ``container`` still answers (True when that cannot be
    asked: a container object without its client)."""
    return _client_answers(getattr(container, "client", None))


def engine_died(exc: BaseException) -> str:
    """The error of a job whose container engine stopped answering (``exc``: what the API
    call raised): the job is ``error``, so the next run grades it again."""
    return (f"the container engine stopped answering while the submission was graded "
            f"({type(exc).__name__}); the next run grades it again")


def remove_left(url: str | None, batch: str) -> list[str]:
    """Remove every container labelled with the batch id ``batch`` (left by a killed run, or
    by an engine that died mid-job), through the API at ``url`` or, when it does not answer,
    podman's command line.  Returns one message per container removed."""
    if not batch:
        return []
    found: list[str] = []
    try:
        if url is None:
            raise RuntimeError("no API")
        client = connect(url)
        try:
            for c in client.containers.list(all=True, filters={"label": f"{BATCH_LABEL}={batch}"}):
                c.remove(force=True)
                found.append(f"removed the container {c.id[:12]} ({c.labels.get('dlkit.submission', '?')}, "
                             f"{c.status})")
        finally:
            client.close()
        return found
    except Exception:  # the engine is gone: podman's command line reaches the same storage
        if shutil.which("podman") is None:
            return found
    try:
        ps = subprocess.run([*PODMAN, "ps", "-a", "--filter", f"label={BATCH_LABEL}={batch}",
                             "--format", "{{.ID}} {{.Labels}} {{.State}}"],
                            capture_output=True, text=True, timeout=60)
        ids = [line.split()[0] for line in ps.stdout.splitlines() if line.strip()]
        if ids:
            subprocess.run([*PODMAN, "rm", "-f", "-t", "0", *ids], capture_output=True, timeout=120)
            still = subprocess.run([*PODMAN, "ps", "-a", "-q", "--filter", f"label={BATCH_LABEL}={batch}"],
                                   capture_output=True, text=True, timeout=60).stdout.split()
            found += [f"removed the container {i[:12]} (podman command line)" for i in ids
                      if not any(s.startswith(i[:12]) for s in still)]
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def read_file_from_archive(stream: Any, limit: int) -> bytes:
    """The single file of a ``get_archive`` tar stream (at most ``limit`` bytes)."""
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                if member.size > limit:
                    raise ValueError(f"{member.name} is larger than {limit} bytes")
                f = tar.extractfile(member)
                return f.read() if f is not None else b""
    raise FileNotFoundError("the archive holds no file")


def run(spec: JobSpec, slot: int, gpus: list[int], client: Any = None) -> RunOutcome:
    """Grade one submission in its own container (``client``: for tests, a stand-in)."""
    import docker
    import requests
    own_client = client is None
    if own_client:
        url = spec.docker_url
        if not url:
            url, how = find_api()
            if url is None:
                return RunOutcome(None, False, None, "", error=how)
        client = connect(url)
    from . import slots
    env = {"AUTOGRADER_WORKER_UID": str(slots.worker_uid(slot))}
    if spec.assignment_text is not None:
        env["AUTOGRADER_ASSIGNMENT"] = ASSIGNMENT_IN_IMAGE
    log: list[str] = []
    info: dict[str, Any] = {"image": spec.image}
    container = None
    try:
        try:
            info["image_id"] = client.images.get(spec.image).id
        except docker.errors.ImageNotFound:
            return RunOutcome(None, False, None, "", error=f"image {spec.image} not found; build "
                              f"it (make image) or pass --image", info=info)
        engine = None
        if spec.gpus > 0:
            engine = container_gpus.engine_of(client.version())
            try:
                info["gpus"] = container_gpus.attach(engine, spec.gpus).how
            except RuntimeError as exc:
                return RunOutcome(None, False, None, "", error=str(exc), info=info)
        container = client.containers.create(**create_kwargs(spec, gpus, env, engine))
        info["container"] = container.id[:12]
        if not container.put_archive("/autograder/submission", spec.payload):
            return RunOutcome(None, False, None, "", error="put_archive of the submission failed", info=info)
        if spec.assignment_text is not None:
            container.put_archive(os.path.dirname(ASSIGNMENT_IN_IMAGE), submissions.tar_bytes(
                os.path.basename(ASSIGNMENT_IN_IMAGE), spec.assignment_text.encode(), 0o600))
        slots.note(slot, container=container.id[:12], submission=spec.id)
        token = jobs.register_active(container.kill, f"{spec.id} (slot {slot}: container "
                                     f"{container.id[:12]})", spec.run_id)
        try:
            return _start_and_collect(spec, container, info, log)
        finally:
            jobs.unregister_active(token)
    except (requests.exceptions.RequestException, docker.errors.APIError) as exc:
        # an API call failed: when the engine no longer answers, it died under the job (a
        # killed podman service drops the connection or cuts a streamed answer short)
        if not _client_answers(client):
            return RunOutcome(None, False, None, "\n".join(log), info=info, error=engine_died(exc))
        raise
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except Exception:  # already gone, or the engine went away: nothing left to do
                pass
        if own_client:
            client.close()


def _start_and_collect(spec: JobSpec, container: Any, info: dict[str, Any], log: list[str]) -> RunOutcome:
    import docker
    import requests
    from .jobs import MAX_RESULTS_BYTES
    try:
        container.start()
    except docker.errors.APIError as exc:
        return RunOutcome(None, False, None, "", error=f"the container did not start: {exc}", info=info)
    timed_out = False
    started = time.monotonic()
    try:
        code = int(container.wait(timeout=spec.timeout_s).get("StatusCode", -1))
    except requests.exceptions.RequestException as exc:
        # podman's API ends a wait that runs past its timeout with a ConnectionError too
        # (CONTAINERS.md): only an early one, with no engine answering, is the engine dying
        # (a killed podman service cuts the chunked answer short: ChunkedEncodingError)
        if time.monotonic() - started < spec.timeout_s - 1 and not _engine_answers(container):
            return RunOutcome(None, False, None, "\n".join(log), info=info, error=engine_died(exc))
        timed_out = True
        try:
            container.kill()
        except docker.errors.APIError:
            pass
        try:
            code = int(container.wait(timeout=60).get("StatusCode", -1))
        except Exception:
            code = None
    info["container_exit_code"] = code
    try:
        out = container.logs(stdout=True, stderr=True)
        log.append(out[-LOG_KEEP_BYTES:].decode("utf-8", "replace"))
    except docker.errors.APIError as exc:
        log.append(f"[logs unavailable: {exc}]")
    raw = None
    if not timed_out:
        try:
            stream, _stat = container.get_archive(RESULTS_PATH)
            raw = read_file_from_archive(stream, MAX_RESULTS_BYTES)
        except (docker.errors.NotFound, FileNotFoundError):
            raw = None
        except (docker.errors.APIError, ValueError, tarfile.TarError) as exc:
            log.append(f"[results.json unreadable: {exc}]")
    return RunOutcome(code, timed_out, raw, "\n".join(log), info=info)
