"""How a grading container gets its GPUs (``batch --gpus N --backend container``).

The container backend speaks the Docker API to a Docker engine or to podman's API service;
the two attach GPUs differently:

* **Docker** (the NVIDIA container toolkit registered as a runtime/hook): a device request
  ``DeviceRequest(device_ids=[...], capabilities=[["gpu"]])`` (what ``docker run --gpus``
  sends).  The toolkit binds the device nodes and the driver's user-space libraries.
* **podman**: its Docker-compatible API ignores that kind of device request.  Where the
  toolkit's CDI spec exists (``nvidia-ctk cdi generate`` writes ``/etc/cdi/nvidia.yaml``;
  :func:`cdi_gpu_names` reads ``/etc/cdi`` and ``/var/run/cdi``) and podman is 5.4 or newer
  (its compatible API honours ``Driver: "cdi"`` device requests from that release on), the
  request names the CDI devices ``nvidia.com/gpu=<index>``: the spec brings the nodes, the
  libraries and the hooks.  Otherwise the GPUs are mapped explicitly as ``--device
  /dev/nvidia<N>`` (plus ``nvidiactl``, ``nvidia-uvm``, ``nvidia-uvm-tools``,
  ``nvidia-modeset`` where present): the nodes only, so the image (or the instructor's
  mounts) must then hold the driver's ``libcuda.so.1`` of the host's driver version.

Each container sees the batch's first ``N`` GPUs (host indices, as ``nvidia-smi`` numbers
them) and ``CUDA_VISIBLE_DEVICES`` narrows the job to its slot's share; inside, the grader
binds exactly those nodes into the model worker's sandbox (:mod:`autograder.sandbox.devices`).
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from ..sandbox import devices

#: Where CDI specs live (the CDI specification's default directories).
CDI_DIRS = (Path("/etc/cdi"), Path("/var/run/cdi"))
CDI_KIND = "nvidia.com/gpu"
#: The first podman release whose Docker-compatible API honours CDI device requests
#: (containers/podman#25171).
PODMAN_CDI_REQUESTS = (5, 4)


@dataclasses.dataclass(frozen=True)
class Engine:
    """The API's engine: ``docker`` or ``podman``, and its version (major, minor)."""

    name: str
    version: tuple[int, int] = (0, 0)


def engine_of(version_info: dict[str, Any]) -> Engine:
    """The engine from the API's ``/version`` answer (``client.version()``): podman lists a
    component named ``Podman Engine``; anything else is taken for Docker."""
    for comp in version_info.get("Components") or []:
        if isinstance(comp, dict) and "podman" in str(comp.get("Name", "")).lower():
            return Engine("podman", _version(str(comp.get("Version", ""))))
    return Engine("docker", _version(str(version_info.get("Version", ""))))


def _version(text: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def cdi_gpu_names(dirs: tuple[Path, ...] = CDI_DIRS) -> set[str]:
    """The device names of the ``nvidia.com/gpu`` kind in the CDI specs under ``dirs``
    (``{"0", "1", "all", "GPU-…"}``); empty when there is no such spec."""
    names: set[str] = set()
    for folder in dirs:
        try:
            files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        except OSError:
            continue
        for path in files:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            spec = _load_spec(text, path.suffix == ".json")
            if isinstance(spec, dict) and spec.get("kind") == CDI_KIND:
                for dev in spec.get("devices") or []:
                    if isinstance(dev, dict) and isinstance(dev.get("name"), (str, int)):
                        names.add(str(dev["name"]))
    return names


def _load_spec(text: str, is_json: bool) -> Any:
    try:
        if is_json:
            return json.loads(text)
        import yaml
        return yaml.safe_load(text)
    except ImportError:
        # without PyYAML: the two fields this needs, read line by line
        kind = re.search(r"^kind:\s*[\"']?([^\"'\s]+)", text, re.M)
        names = re.findall(r"^\s*-\s*name:\s*[\"']?([^\"'\s]+)", text, re.M)
        return {"kind": kind.group(1) if kind else None, "devices": [{"name": n} for n in names]}
    except Exception:  # noqa: BLE001 - a malformed spec is no spec
        return None


@dataclasses.dataclass(frozen=True)
class GpuAttach:
    """What :func:`attach` adds to ``containers.create``: ``kwargs`` and ``how`` (one line
    for the job's log saying which mechanism was used)."""

    kwargs: dict[str, Any]
    how: str


def attach(engine: Engine | None, n_gpus: int, *, cdi_names: set[str] | None = None,
           dev_root: Path = Path("/dev")) -> GpuAttach:
    """The create arguments that give a container the host's GPUs ``0..n_gpus-1``.

    ``engine`` None is Docker.  ``cdi_names`` (default: read from :data:`CDI_DIRS`) and
    ``dev_root`` are for tests."""
    import docker
    ids = [str(i) for i in range(n_gpus)]
    if n_gpus <= 0:
        return GpuAttach({}, "no GPUs")
    if engine is None or engine.name != "podman":
        return GpuAttach({"device_requests": [docker.types.DeviceRequest(
            device_ids=ids, capabilities=[["gpu"]])]},
            f"Docker device request for GPUs {','.join(ids)} (NVIDIA container toolkit)")
    names = cdi_gpu_names() if cdi_names is None else cdi_names
    missing = [i for i in ids if i not in names]
    if names and not missing and engine.version >= PODMAN_CDI_REQUESTS:
        cdi = [f"{CDI_KIND}={i}" for i in ids]
        return GpuAttach({"device_requests": [docker.types.DeviceRequest(
            driver="cdi", device_ids=cdi)]}, f"podman CDI devices {', '.join(cdi)}")
    if names and missing:
        why = f"the CDI spec has no {CDI_KIND}={','.join(missing)}"
    elif names:
        why = (f"podman {engine.version[0]}.{engine.version[1]} predates CDI device requests "
               f"through its Docker API ({PODMAN_CDI_REQUESTS[0]}.{PODMAN_CDI_REQUESTS[1]})")
    else:
        why = f"no CDI spec of {CDI_KIND} under {', '.join(map(str, CDI_DIRS))}"
    nodes = [f"nvidia{i}" for i in ids]
    absent = [n for n in nodes if not devices.is_char_device(dev_root / n)]
    if absent:
        raise RuntimeError(f"--gpus {n_gpus}: {', '.join(str(dev_root / n) for n in absent)} "
                           f"not found on the host ({why}); expected an NVIDIA driver's device "
                           f"nodes, or run with fewer --gpus")
    nodes += [n for n in devices.NVIDIA_SHARED if devices.is_char_device(dev_root / n)]
    mapped = [f"{dev_root / n}:/dev/{n}:rwm" for n in nodes]
    return GpuAttach({"devices": mapped},
                     f"podman explicit device mappings {', '.join(f'/dev/{n}' for n in nodes)} "
                     f"({why}; the image must hold the host driver's libcuda.so.1)")
