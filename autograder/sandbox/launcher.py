"""How the worker process is started: the isolation layers this machine supports.

Strategies, strongest first.  A :class:`~autograder.sandbox.client.Worker` starts with the
strongest of :func:`candidates` that comes up (and, for the strategies that drop the uid,
reports the worker uid), and :func:`confirm` keeps it for the rest of the process: later
workers and restarts use only that one.  :func:`detect` answers the same question without
starting a worker, with a probe of its own (cached per process):

``bwrap-root``  grader is root and bubblewrap works.  New mount, pid, net, ipc and uts
                namespaces; the root filesystem read-only; the kit root, ``/autograder``,
                home folders and temp folders hidden under empty tmpfs; only the worker's
                own folder and the Python installation bound back in; then ``setpriv``
                drops to the dedicated worker uid with no capabilities and no_new_privs.
``bwrap-user``  grader is not root; bubblewrap with an unprivileged user namespace: the same
                mounts and namespaces, but the same uid as the grader (warned).
``setpriv``     grader is root without bubblewrap (e.g. inside the grading container, where
                only SETUID/SETGID are kept): drop to the worker uid, then ``unshare --user
                --net`` for a private network namespace.  Secrets are protected by file
                permissions (the grading image makes them root-only) and the container.
``plain``       none of the above: resource limits only, with a warning.

Every strategy applies the same rlimits (address space, open files, file size, processes,
no core dumps) and an environment without the grader's variables.

Device nodes (``LaunchSpec.devices``, chosen by :mod:`.devices` for the model-scoring worker
only): the bubblewrap strategies start from bwrap's minimal ``/dev`` (null, zero, full,
random, urandom, tty, ptmx, pts, shm, fd, stdin/stdout/stderr) and ``--dev-bind`` exactly the
listed nodes into it, nothing else of the host's ``/dev``.  ``setpriv``, ``setpriv-nonet`` and
``plain`` have no mount namespace: the worker sees the host's whole ``/dev`` (what its uid may
open there is what the nodes' modes allow), so the list cannot narrow it; the GPU selection
is then ``CUDA_VISIBLE_DEVICES`` alone (:attr:`Strategy.private_dev`).
"""
from __future__ import annotations

import dataclasses
import functools
import os
import pwd
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

DEFAULT_WORKER_UID = 65534


@dataclasses.dataclass
class LaunchSpec:
    """Everything needed to start one worker."""

    workdir: Path                      # the worker's own folder (owned by the worker uid)
    hide: list[Path]                   # secret folders/files to make invisible
    ro_binds: list[Path]               # host paths made visible read-only at the same path
    env: dict[str, str]
    memory_mb: int
    max_processes: int
    max_file_mb: int
    max_open_files: int
    uid: int = DEFAULT_WORKER_UID
    gid: int = DEFAULT_WORKER_UID
    #: device nodes to expose: name under the sandbox's /dev -> host node (bound with
    #: --dev-bind by the bubblewrap strategies; the others see the host's /dev anyway)
    devices: dict[str, Path] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Strategy:
    name: str
    sweep: str          # how the zygote removes stray processes: pidns | uid | none
    drops_uid: bool
    hides_files: bool
    isolates_network: bool

    @property
    def private_dev(self) -> bool:
        """True when the worker gets its own minimal ``/dev`` holding only ``spec.devices``
        (bubblewrap); False when it sees the host's ``/dev``."""
        return self.hides_files

    def warnings(self) -> list[str]:
        out = []
        if not self.hides_files:
            out.append("the worker can read any file its uid can read: secrets (hidden tests, "
                       "reference, labels, results) are protected only by their permissions — "
                       "install bubblewrap, or grade inside the grading container")
        if not self.drops_uid:
            out.append("the worker runs under the grader's own uid (it could signal or inspect "
                       "the grader's processes): run the grader as root in the container, or "
                       "install bubblewrap")
        if not self.isolates_network:
            out.append("the worker has network access: no network namespace could be created")
        return out


STRATEGIES = {
    "bwrap-root": Strategy("bwrap-root", "pidns", True, True, True),
    "bwrap-user": Strategy("bwrap-user", "pidns", False, True, True),
    "setpriv": Strategy("setpriv", "uid", True, False, True),
    "setpriv-nonet": Strategy("setpriv-nonet", "uid", True, False, False),
    "plain": Strategy("plain", "none", False, False, False),
}


def _python_roots() -> list[Path]:
    """Folders the worker needs to run this Python (venv, base install, real executable)."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent.parent}
    for entry in sys.path:
        if entry and ("site-packages" in entry or "dist-packages" in entry) and os.path.isdir(entry):
            roots.add(Path(entry))
    return sorted(roots)


def _is_inside(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def _bwrap_args(spec: LaunchSpec, as_root: bool) -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    args = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if not as_root:
        args += ["--unshare-user"]
    args += ["--ro-bind", "/", "/", "--dev", "/dev"]
    for name, host in sorted(spec.devices.items()):
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"device name {name!r}: expected a plain name under /dev")
        # --dev-bind, not --bind: bwrap's /dev is mounted nodev, a plain bind of a device node
        # onto it cannot be opened
        args += ["--dev-bind", str(host), f"/dev/{name}"]
    args += ["--proc", "/proc"]
    hidden = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/root"), Path("/home"),
              Path("/autograder"), *spec.hide]
    seen: list[Path] = []
    for path in hidden:
        if path.exists() and not any(_is_inside(path, s) for s in seen):
            real = path.resolve()
            args += ["--tmpfs", str(real)] if real.is_dir() else ["--ro-bind", "/dev/null", str(real)]
            seen.append(real)
    made: set[Path] = set()
    for path in [*_python_roots(), *spec.ro_binds]:
        hidden_root = next((s for s in seen if _is_inside(path, s)), None)
        if not path.exists() or hidden_root is None:
            continue
        real = path.resolve()
        # bwrap would create the mount point's parents as 0700 root folders, which the
        # dropped uid cannot traverse: create them world-traversable first.
        for parent in reversed(real.relative_to(hidden_root).parents[:-1]):
            folder = hidden_root / parent
            if folder not in made:
                args += ["--perms", "0755", "--dir", str(folder)]
                made.add(folder)
        args += ["--ro-bind", str(real), str(real)]
    args += ["--bind", str(spec.workdir), str(spec.workdir), "--chdir", str(spec.workdir)]
    return args


def _setpriv_args(spec: LaunchSpec) -> list[str]:
    return [shutil.which("setpriv") or "setpriv", f"--reuid={spec.uid}", f"--regid={spec.gid}",
            "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]


def command(strategy: Strategy, spec: LaunchSpec, python_argv: list[str]) -> list[str]:
    """The argv that starts ``python_argv`` under ``strategy``."""
    if strategy.name == "bwrap-root":
        return _bwrap_args(spec, as_root=True) + _setpriv_args(spec) + python_argv
    if strategy.name == "bwrap-user":
        return _bwrap_args(spec, as_root=False) + python_argv
    if strategy.name == "setpriv":
        return _setpriv_args(spec) + [shutil.which("unshare") or "unshare", "--user", "--net"] + python_argv
    if strategy.name == "setpriv-nonet":
        return _setpriv_args(spec) + python_argv
    return python_argv


def preexec(spec: LaunchSpec) -> Callable[[], None]:
    """rlimits applied in the child before exec (inherited through bwrap and setpriv)."""
    limits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, spec.max_open_files),
        (resource.RLIMIT_FSIZE, spec.max_file_mb * 2**20),
        (resource.RLIMIT_NPROC, spec.max_processes),
        (resource.RLIMIT_AS, spec.memory_mb * 2**20),
    ]

    def apply() -> None:
        for which, value in limits:
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                resource.setrlimit(which, (min(value, hard) if hard != resource.RLIM_INFINITY else value, hard))
    return apply


def _probe_strategy(strategy: Strategy, workdir: Path) -> bool:
    spec = LaunchSpec(workdir=workdir, hide=[], ro_binds=[], env={"PATH": "/usr/bin:/bin"},
                      memory_mb=4096, max_processes=256, max_file_mb=16, max_open_files=256)
    argv = command(strategy, spec, [sys.executable, "-s", "-E", "-c",
                                    "import os, socket, numpy; print(os.getuid())"])
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=spec.env,
                              cwd=workdir, preexec_fn=preexec(spec))
    except (OSError, subprocess.SubprocessError):
        return False
    if proc.returncode != 0:
        return False
    if strategy.drops_uid and proc.stdout.strip() != str(spec.uid):
        return False
    return True


def worker_uid() -> int:
    """The uid workers run as unless the caller gives one: $AUTOGRADER_WORKER_UID, else nobody
    (65534).  ``grade`` run as root gives a job slot's uid instead (``batch.slots.own_worker_uid``)."""
    env = os.environ.get("AUTOGRADER_WORKER_UID")
    if env:
        return int(env)
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return DEFAULT_WORKER_UID


_confirmed: dict[str, Strategy] = {}


def _forced(prefer: str | None) -> Strategy | None:
    forced = prefer or os.environ.get("AUTOGRADER_SANDBOX")
    if not forced:
        return None
    if forced not in STRATEGIES:
        raise ValueError(f"AUTOGRADER_SANDBOX={forced!r}: expected one of {sorted(STRATEGIES)}")
    return STRATEGIES[forced]


def _order() -> list[str]:
    return (["bwrap-root", "setpriv", "setpriv-nonet", "plain"] if os.geteuid() == 0
            else ["bwrap-user", "plain"])


def candidates(prefer: str | None = None) -> list[Strategy]:
    """The strategies a worker may try, strongest first: the forced one
    (``$AUTOGRADER_SANDBOX`` or ``prefer``), else the one already confirmed in this process,
    else all that apply to this user (root or not)."""
    forced = _forced(prefer)
    if forced is not None:
        return [forced]
    key = "root" if os.geteuid() == 0 else "user"
    if key in _confirmed:
        return [_confirmed[key]]
    return [STRATEGIES[name] for name in _order()]


def confirm(strategy: Strategy) -> None:
    """Record that a worker came up with ``strategy``: the rest of the process keeps it."""
    _confirmed.setdefault("root" if os.geteuid() == 0 else "user", strategy)


@functools.lru_cache(maxsize=None)
def detect(prefer: str | None = None) -> Strategy:
    """The strongest strategy that works here (``$AUTOGRADER_SANDBOX`` or ``prefer`` forces one;
    one a worker already came up with is taken as it is)."""
    import tempfile
    forced = _forced(prefer)
    if forced is not None:
        return forced
    confirmed = candidates()
    if len(confirmed) == 1:
        return confirmed[0]
    root = os.geteuid() == 0
    order = _order()
    with tempfile.TemporaryDirectory(prefix="dlkit-probe-") as tmp:
        workdir = Path(tmp)
        if root:
            os.chmod(workdir, 0o777)
        for name in order:
            if name == "plain" or _probe_strategy(STRATEGIES[name], workdir):
                return STRATEGIES[name]
    return STRATEGIES["plain"]
