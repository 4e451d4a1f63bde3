"""The host's process tree, read from /proc: one home for walking it.

Used by batch slots (killing what a killed job left, :func:`descendants`) and by the sandbox
client (finding its zygote below the launcher, :func:`first_below`, and whether it is
stopped, :func:`state`).  Every function reads /proc afresh and tolerates processes that
end while it reads.
"""
from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first); [] when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def children_map() -> dict[int, list[int]]:
    """parent pid -> its children's pids, in ascending pid order."""
    kids: dict[int, list[int]] = {}
    for entry in sorted(os.listdir("/proc"), key=lambda e: (len(e), e)):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if len(fields) > 1:
            kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` in the process tree (children in new sessions included)."""
    kids = children_map()
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def first_below(pid: int, argv0: bytes) -> int | None:
    """The shallowest process of ``pid``'s tree (``pid`` itself included) whose command line
    starts with ``argv0`` (give it with its terminating NUL to match the whole first
    argument); None when there is none."""
    kids = children_map()
    level = [pid]
    while level:
        for p in level:
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if f.read().startswith(argv0):
                        return p
            except OSError:
                continue
        level = [c for p in level for c in kids.get(p, [])]
    return None


def state(pid: int) -> str:
    """The process's state letter from /proc/PID/stat (``T`` stopped, ``t`` traced, ``Z``
    zombie, ...); ``""`` when it is gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else ""
