"""Stopping on SIGTERM, SIGINT and SIGHUP: one home for how the kit's long-running verbs
(``grade``, ``batch``) turn a stop signal into an orderly stop.

A shell's ``kill``, systemd, a Slurm time limit, a closed SSH session and Gradescope's time
limit all end a process with one of these signals.  Python's default for SIGTERM and SIGHUP is
to die on the spot (no ``finally``, no ``atexit``): child process groups, containers and a
half-graded submission would be left behind.  :func:`handling` installs handlers that, on the
first signal, remember it and raise :class:`KeyboardInterrupt` in the main thread (the
exception pytest, ``concurrent.futures`` and the kit already treat as "stop now"); further
signals are only counted, so the clean-up that follows is not itself interrupted.  The caller
asks :func:`received` which signal it was and exits with :func:`exit_code` (128 + the signal:
143 for SIGTERM, 130 for SIGINT, 129 for SIGHUP, as a shell reports them).
"""
from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from typing import Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclasses.dataclass
class _State:
    signum: int | None = None
    at: float = 0.0            # time.monotonic() of the first signal
    count: int = 0


_STATE = _State()


def received() -> int | None:
    """The first stop signal received while :func:`handling` was active (None: none)."""
    return _STATE.signum


def seconds_since() -> float:
    """Seconds since the first stop signal (0 when none was received)."""
    return time.monotonic() - _STATE.at if _STATE.signum is not None else 0.0


def name(signum: int | None) -> str:
    if signum is None:
        return "no signal"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code(signum: int) -> int:
    """What a shell reports for a process ended by ``signum`` (128 + its number)."""
    return 128 + int(signum)


def _handler(signum: int, frame: object) -> None:
    _STATE.count += 1
    if _STATE.signum is not None:
        return                          # already stopping: let the clean-up finish
    _STATE.signum = signum
    _STATE.at = time.monotonic()
    raise KeyboardInterrupt(name(signum))


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """Within the block, a stop signal raises :class:`KeyboardInterrupt` once in the main
    thread (see the module docstring); outside the main thread this does nothing.  The
    previous handlers are restored afterwards and :func:`received` is reset: ask it inside the
    block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _STATE.signum, _STATE.at, _STATE.count = None, 0.0, 0
    previous = {s: signal.signal(s, _handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _STATE.signum, _STATE.at, _STATE.count = None, 0.0, 0
