"""The sandboxed worker's main process (the "zygote"): forks one fresh child per test.

Started by the grader inside the sandbox with a ``SOCK_SEQPACKET`` control socket on the fd
given as ``argv[1]``.  It imports NumPy once (and installs :mod:`.compat`), reports that it is
ready together with what it can see (the isolation probe), then serves commands, one JSON
packet each:

``{"op": "fork", "cpu_s": 30, "memory_mb": 2048, "blocked_imports": ["src/layers.py"]}`` + two fds
    (a stream socket, an output pipe): fork a child that applies the per-test limits, sends its
    stdout/stderr to the pipe, refuses to import the files named (:mod:`.imports`), and serves
    calls on the socket (:class:`.serve.Server`).  Reply ``{"pid": pid}``.
``{"op": "end", "pid": pid}``
    kill the child's process group with SIGKILL, sweep stray processes, reap it.  Reply: its
    exit code or signal, CPU seconds, peak memory, and ``importing``: the submission files
    whose import it was still running (:func:`.imports.read_page`; untrusted text).
``{"op": "exit"}``

The zygote never imports student code, so every test starts from the same clean state: module
globals, monkeypatches, threads and signal handlers of one test cannot reach the next.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sys
import time
from typing import Any


def _sweep(mode: str, keep: set[int]) -> int:
    """Kill stray processes: all others in our pid namespace ("pidns") or all of our uid
    ("uid"); "none" does nothing.  Returns how many were signalled."""
    if mode == "none":
        return 0
    me = os.getuid()
    count = 0
    for _ in range(5):
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid in keep or pid == 1:
                continue
            if mode == "uid":
                try:
                    with open(f"/proc/{pid}/status") as f:
                        uid_line = next(line for line in f if line.startswith("Uid:"))
                    if int(uid_line.split()[1]) != me:
                        continue
                except (OSError, StopIteration, ValueError):
                    continue
            try:
                os.kill(pid, signal.SIGKILL)
                found += 1
            except (ProcessLookupError, PermissionError):
                pass
        count += found
        if not found:
            break
        time.sleep(0.01)
    return count


def _probe(paths: list[str]) -> dict[str, Any]:
    visible = []
    for path in paths:
        try:
            if os.path.isdir(path):
                if os.listdir(path):  # an empty folder (e.g. a tmpfs over it) shows nothing
                    visible.append(path)
            elif os.path.exists(path):
                with open(path, "rb") as f:
                    f.read(1)
                visible.append(path)
        except OSError:
            pass
    return {"visible": visible, "uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(),
            "python": sys.version.split()[0]}


def _reseed() -> None:
    """Fresh OS entropy for the global RNGs a child inherits from the zygote, so tests that do
    not seed draw independent numbers, as if each child had imported NumPy itself."""
    import random

    import numpy as np
    np.random.seed()
    random.seed()


def _vm_bytes() -> int:
    """This process's address space (VmSize), 0 where /proc cannot tell."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _child(sock_fd: int, out_fd: int, cfg: dict[str, Any], cmd: dict[str, Any], page: Any) -> None:
    """Runs in the forked child; never returns."""
    code = 0
    try:
        os.setsid()
        from . import imports
        blocked = cmd.get("blocked_imports") or []
        imports.arm(page, [str(b) for b in blocked] if isinstance(blocked, list) else [])
        cpu = int(max(1, cmd.get("cpu_s", 30)))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        mem = int(cmd.get("memory_mb", 0)) * 2**20
        if mem:
            # the address space of what the zygote preloaded (torch: ~3 GB of mappings, shared
            # with every child) is the runtime's, not the test's: the limit is on top of it
            mem += int(cfg.get("preloaded_vm", 0))
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            if hard != resource.RLIM_INFINITY:
                mem = min(mem, hard)
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _reseed()
        from .serve import Server
        sock = socket.socket(fileno=sock_fd)
        Server(sock, cfg["submission"], cfg.get("package", "src")).run()
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


def main(ctrl_fd: int) -> None:
    ctrl = socket.socket(fileno=ctrl_fd)
    cfg = json.loads(ctrl.recv(1 << 20).decode("utf-8"))
    for key, value in cfg.get("env", {}).items():
        os.environ[key] = str(value)
    import numpy  # noqa: F401 - imported once here, inherited by every child
    # NumPy >= 2 loads numpy.random only on first use: imported in each child instead it cost
    # ~12 ms of every test.  The children reseed it (and ``random``) from fresh entropy.
    import numpy.random  # noqa: F401

    from . import compat, imports, protocol, serve, trusted_functions  # noqa: F401 - preload
    compat.install()
    imports.install(cfg["submission"])
    serve.install_handout_aliases()
    # Libraries every test of the assignment imports (torch: ~1.5 s per child otherwise) are
    # imported once here; importing runs none of their thread pools, so forking stays safe.
    vm_before = _vm_bytes()
    for name in cfg.get("preload", []):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - the test that needs it will report it
            pass
    cfg["preloaded_vm"] = max(_vm_bytes() - vm_before, 0)
    os.chdir(cfg["submission"])
    for entry in reversed(cfg.get("sys_path", [])):
        sys.path.insert(0, entry)
    sys.stdout.flush()
    sys.stderr.flush()
    ready = {"ready": True, "probe": _probe(cfg.get("probe", [])), "numpy": numpy.__version__,
             "restored": sorted(compat.restored)}
    ctrl.send(json.dumps(ready).encode())

    sweep_mode = cfg.get("sweep", "none")
    children: set[int] = set()
    pages: dict[int, Any] = {}          # pid -> the child's import page (imports.new_page)
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 16, 4)
        except OSError:
            break
        if not data:
            break
        cmd = json.loads(data.decode("utf-8"))
        op = cmd.get("op")
        if op == "fork":
            if len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                ctrl.send(json.dumps({"error": "fork needs a socket and a pipe"}).encode())
                continue
            sys.stdout.flush()
            page = imports.new_page()
            pid = os.fork()
            if pid == 0:
                ctrl.close()
                _child(fds[0], fds[1], cfg, cmd, page)
            for fd in fds:
                os.close(fd)
            children.add(pid)
            pages[pid] = page
            ctrl.send(json.dumps({"pid": pid}).encode())
        elif op == "end":
            pid = int(cmd["pid"])
            reply: dict[str, Any] = {"pid": pid}
            if pid in children:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status, usage = os.wait4(pid, 0)
                children.discard(pid)
                reply["signal"] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                reply["exit"] = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                reply["cpu_s"] = usage.ru_utime + usage.ru_stime
                reply["maxrss_mb"] = usage.ru_maxrss / 1024
            page = pages.pop(pid, None)
            if page is not None:
                reply["importing"] = imports.read_page(page)
                page.close()
            reply["swept"] = _sweep(sweep_mode, {os.getpid(), 1})
            while True:  # reap whatever the sweep killed
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        break
                except ChildProcessError:
                    break
            ctrl.send(json.dumps(reply).encode())
        elif op == "kill":  # signal only (the grader's output drain stops a flood)
            pid = int(cmd["pid"])
            if pid in children:
                for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                    try:
                        target()
                    except (ProcessLookupError, PermissionError):
                        pass
            ctrl.send(json.dumps({"pid": pid}).encode())
        elif op == "exit":
            break
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
