"""Which host device nodes the model-scoring worker gets, and why none when none.

Saved models run on CUDA only if the worker can open the NVIDIA driver's device nodes.  The
bubblewrap strategies give the worker a fresh, minimal ``/dev`` (``bwrap --dev``): exactly the
nodes chosen here are bound into it (``--dev-bind HOST /dev/NAME``), nothing else of the host's
``/dev``.  Only the worker that scores saved models gets them; the workers that run the NumPy
questions never do (:mod:`autograder.grading.grade`).

Chosen nodes (:func:`select_gpus`):

* ``/dev/nvidiaN`` for each GPU selected by ``CUDA_VISIBLE_DEVICES`` (a batch slot sets it to
  its share of ``--gpus``; unset: every GPU).  CUDA numbers GPUs here in PCI bus order
  (``CUDA_DEVICE_ORDER=PCI_BUS_ID`` is set for the worker); the driver's minor number of each
  bus id is read from ``/proc/driver/nvidia/gpus/<bus id>/information`` (``Device Minor``),
  and where that cannot be read index *i* is taken to be ``/dev/nvidia<i>``.  Entries that are
  not integers (GPU UUIDs, MIG instances) select every GPU node and keep the variable as given;
* ``/dev/nvidiactl``, ``/dev/nvidia-uvm``, ``/dev/nvidia-uvm-tools``, ``/dev/nvidia-modeset``
  where present.

Fallback reasons (the ``fallback_reason`` of a model score scored on the CPU under
``--device auto``; :data:`REASONS` holds the grader's text for each code, the only text shown):

``no-device-nodes``     the host has no ``/dev/nvidia<N>`` (no NVIDIA GPU or driver)
``none-selected``       ``CUDA_VISIBLE_DEVICES`` selects no GPU (empty, ``-1``, or no such GPU)
``not-accessible``      the nodes exist but the worker's uid cannot open them (their mode)
``not-bound``           the worker's sandbox has no ``/dev/nvidia*`` (nothing was bound)
``driver-not-loadable`` the nodes are there but CUDA did not initialise in the sandbox
``torch-without-cuda``  the worker's torch is a CPU-only build
"""
from __future__ import annotations

import dataclasses
import os
import re
import stat
from pathlib import Path

#: The driver's shared nodes, bound wherever present (the GPU nodes are chosen per slot).
NVIDIA_SHARED = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
_GPU_NODE = re.compile(r"^nvidia(\d+)$")

#: Fallback reason code -> what the results and the reports say.
REASONS = {
    "no-device-nodes": "no NVIDIA device nodes on the host (/dev/nvidia0, ... missing: no GPU or no driver)",
    "none-selected": "CUDA_VISIBLE_DEVICES selects no GPU of this host",
    "not-accessible": "the NVIDIA device nodes are not accessible to the sandbox's worker uid",
    "not-bound": "no NVIDIA device nodes are bound in the sandbox",
    "driver-not-loadable": "the NVIDIA driver could not be loaded in the sandbox (CUDA did not initialise)",
    "torch-without-cuda": "the worker's torch is a build without CUDA",
}


def reason_text(code: str, detail: str = "") -> str:
    """The grader's sentence for a fallback ``code`` (an unknown code is named as such)."""
    text = REASONS.get(code, f"unknown reason {code!r}")
    return f"{text} ({detail})" if detail else text


@dataclasses.dataclass(frozen=True)
class GpuSelection:
    """What the model worker gets: ``nodes`` maps a name under the sandbox's ``/dev`` to the
    host node bound there; ``env`` is set in the worker's environment (``None``: removed)."""

    nodes: dict[str, Path]
    env: dict[str, str | None]
    reason: str = ""          # a fallback code when no GPU node is given
    detail: str = ""

    @property
    def gpu_names(self) -> list[str]:
        return sorted((n for n in self.nodes if _GPU_NODE.match(n)), key=lambda n: int(n[6:]))


def is_char_device(path: Path) -> bool:
    """True when ``path`` is a character device node (following links)."""
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def gpu_minors(dev_root: Path) -> list[int]:
    """Minor numbers of the ``nvidia<N>`` character devices under ``dev_root``."""
    try:
        names = os.listdir(dev_root)
    except OSError:
        return []
    return sorted(int(m.group(1)) for n in names if (m := _GPU_NODE.match(n))
                  and is_char_device(dev_root / n))


def pci_order(proc_root: Path, minors: list[int]) -> list[int]:
    """The driver minor of each CUDA index in PCI bus order (``/proc/driver/nvidia/gpus``),
    falling back to ``minors`` sorted when that cannot be read or does not match."""
    folder = proc_root / "driver" / "nvidia" / "gpus"
    found: list[tuple[str, int]] = []
    try:
        for bus in sorted(os.listdir(folder)):
            text = (folder / bus / "information").read_text(errors="replace")
            m = re.search(r"^Device Minor:\s*(\d+)", text, re.M)
            if m:
                found.append((bus.lower(), int(m.group(1))))
    except OSError:
        return sorted(minors)
    order = [minor for _, minor in sorted(found)]
    return order if sorted(order) == sorted(minors) else sorted(minors)


def select_gpus(visible: str | None = None, *, dev_root: Path = Path("/dev"),
                proc_root: Path = Path("/proc"), use_env: bool = True) -> GpuSelection:
    """The nodes (and environment) for a worker that may score on CUDA.

    ``visible``: ``CUDA_VISIBLE_DEVICES`` (default: this process's, when ``use_env``).
    ``dev_root`` / ``proc_root``: where the host's nodes and driver information are (tests
    pass a folder of stand-in nodes)."""
    if visible is None and use_env:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    dev_root = Path(dev_root)
    minors = gpu_minors(dev_root)
    if not minors:
        return GpuSelection({}, {}, "no-device-nodes", f"none under {dev_root}")
    env: dict[str, str | None] = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    entries = [e.strip() for e in visible.split(",")] if visible is not None else None
    if entries is None:
        chosen = minors
        env["CUDA_VISIBLE_DEVICES"] = None
    elif all(re.fullmatch(r"-?\d+", e) for e in entries if e) and any(entries):
        order = pci_order(Path(proc_root), minors)
        chosen = []
        for e in entries:
            index = int(e)
            if index < 0:
                break                              # CUDA stops at the first invalid entry
            if index >= len(order):
                break
            chosen.append(order[index])
        if not chosen:
            return GpuSelection({}, {}, "none-selected", f"CUDA_VISIBLE_DEVICES={visible!r}")
        # the sandbox holds exactly the chosen nodes: CUDA numbers them 0..k-1 itself
        env["CUDA_VISIBLE_DEVICES"] = None
    elif entries is not None and not any(entries):
        return GpuSelection({}, {}, "none-selected", f"CUDA_VISIBLE_DEVICES={visible!r}")
    else:
        # UUIDs or MIG instances: which node is which needs NVML; bind every GPU node and let
        # CUDA apply the variable
        chosen = minors
        env["CUDA_VISIBLE_DEVICES"] = visible
    nodes = {f"nvidia{m}": dev_root / f"nvidia{m}" for m in chosen}
    for name in NVIDIA_SHARED:
        if is_char_device(dev_root / name):
            nodes[name] = dev_root / name
    return GpuSelection(nodes, env)


def inaccessible(nodes: dict[str, Path], uid: int, gid: int) -> list[str]:
    """``"PATH (mode 0660 uid:gid)"`` for each node the dropped worker (``uid``/``gid``, no
    supplementary groups: setpriv clears them) cannot open for reading and writing."""
    out = []
    for path in nodes.values():
        try:
            st = os.stat(path)
        except OSError as exc:
            out.append(f"{path} ({exc.strerror})")
            continue
        if uid == 0:
            continue
        if st.st_uid == uid:
            ok = st.st_mode & 0o600 == 0o600
        elif st.st_gid == gid:
            ok = st.st_mode & 0o060 == 0o060
        else:
            ok = st.st_mode & 0o006 == 0o006
        if not ok:
            out.append(f"{path} (mode {stat.S_IMODE(st.st_mode):04o} {st.st_uid}:{st.st_gid})")
    return out
