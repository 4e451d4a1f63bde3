"""GPU scoring without a GPU (issue #16): device nodes bound into the sandbox, the fallback
and its reason, the agreement rule, the numerics settings, container GPU arguments.

Stand-in device nodes: character devices made with ``os.mknod`` under a temp folder, with
the major/minor of ``/dev/null`` (1, 3), named like the NVIDIA driver's nodes.  They are given
to the launcher as its device list, exactly as the real ``/dev/nvidia*`` would be.
"""
import dataclasses
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder import config, paths, refmodels
from autograder.config import Limits
from autograder.grading import grade as grading
from autograder.sandbox import devices, launcher
from autograder.sandbox.client import Worker
from autograder.sandbox.remote import RemoteStudent
from autograder.scoring import agreement

KIT = paths.kit_root()
NAMES = ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")

PROBE = '''
import os, stat

def listing():
    out = {}
    for name in sorted(os.listdir("/dev")):
        try:
            st = os.lstat("/dev/" + name)
        except OSError:
            continue
        out[name] = "chr" if stat.S_ISCHR(st.st_mode) else "other"
    return out

def usable(name):
    """Open the node for reading and writing, and write to it (a /dev/null stand-in)."""
    try:
        with open("/dev/" + name, "r+b", buffering=0) as f:
            f.write(b"x")
        return "ok"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror}"
'''


def make_nodes(folder: Path, names=NAMES, mode=0o666) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for name in names:
            os.mknod(folder / name, mode | stat.S_IFCHR, os.makedev(1, 3))
            os.chmod(folder / name, mode)
    except PermissionError:
        pytest.skip("mknod of a character device needs CAP_MKNOD (the kit's CI runs as root)")
    return folder


@pytest.fixture(scope="module")
def nodes(tmp_path_factory) -> Path:
    return make_nodes(tmp_path_factory.mktemp("standin-dev"))


@pytest.fixture(scope="module")
def probe_submission(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("devprobe-sub")
    (root / "src").mkdir()
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "devprobe.py").write_text(PROBE)
    return root


def _inside(submission: Path, strategy: str, gpus):
    limits = Limits.merged({"test_timeout_s": 20, "cpu_s": 20, "memory_mb": 2048})
    with Worker(submission, limits=limits, hide=[KIT], strategy=strategy, gpus=gpus) as w:
        session = w.session()
        try:
            probe = RemoteStudent(session).devprobe
            listing = probe.listing()
            usable = {n: probe.usable(n) for n in listing if n.startswith("nvidia")}
        finally:
            session.close()
        return dict(listing), usable, w.gpu_problem()


def _bwrap_strategies() -> list[str]:
    if shutil.which("bwrap") is None:
        return []
    # as root both run here (bwrap-user: a user namespace without the uid drop)
    return ["bwrap-root", "bwrap-user"] if os.geteuid() == 0 else ["bwrap-user"]


# --------------------------------------------------------------------------- selection


def test_selection_follows_cuda_visible_devices(nodes):
    everything = devices.select_gpus(None, dev_root=nodes, use_env=False)
    assert everything.gpu_names == ["nvidia0", "nvidia1"]
    assert set(everything.nodes) == set(NAMES)
    only1 = devices.select_gpus("1", dev_root=nodes)
    assert set(only1.nodes) == set(NAMES) - {"nvidia0"}
    # inside, CUDA numbers the bound GPUs itself: the variable is removed there
    assert only1.env == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": None}
    none = devices.select_gpus("", dev_root=nodes)
    assert none.nodes == {} and none.reason == "none-selected"
    assert devices.select_gpus("-1", dev_root=nodes).reason == "none-selected"
    assert devices.select_gpus("7", dev_root=nodes).reason == "none-selected"
    uuids = devices.select_gpus("GPU-1234", dev_root=nodes)
    assert uuids.gpu_names == ["nvidia0", "nvidia1"] and uuids.env["CUDA_VISIBLE_DEVICES"] == "GPU-1234"


def test_selection_maps_cuda_indices_to_minors_in_pci_order(nodes, tmp_path):
    # the driver numbered the GPU on the lower bus 1: CUDA index 0 (PCI order) is /dev/nvidia1
    for bus, minor in (("0000:3b:00.0", 1), ("0000:af:00.0", 0)):
        folder = tmp_path / "driver" / "nvidia" / "gpus" / bus
        folder.mkdir(parents=True)
        (folder / "information").write_text(f"Model: Stand-in\nDevice Minor: {minor}\n")
    assert devices.select_gpus("0", dev_root=nodes, proc_root=tmp_path).gpu_names == ["nvidia1"]
    assert devices.select_gpus("1", dev_root=nodes, proc_root=tmp_path).gpu_names == ["nvidia0"]


def test_no_nodes_on_the_host_is_the_reason(tmp_path):
    sel = devices.select_gpus(None, dev_root=tmp_path, use_env=False)
    assert sel.nodes == {} and sel.reason == "no-device-nodes"
    # a regular file named like a node is not a device
    (tmp_path / "nvidia0").write_text("")
    assert devices.select_gpus(None, dev_root=tmp_path, use_env=False).reason == "no-device-nodes"


def test_nodes_the_dropped_uid_cannot_open_are_reported(tmp_path):
    folder = make_nodes(tmp_path / "dev", ("nvidia0", "nvidiactl"), mode=0o660)
    sel = devices.select_gpus(None, dev_root=folder, use_env=False)
    blocked = devices.inaccessible(sel.nodes, 65534, 65534)
    assert len(blocked) == 2 and "mode 0660" in blocked[0]
    os.chmod(folder / "nvidia0", 0o666)
    os.chmod(folder / "nvidiactl", 0o666)
    assert devices.inaccessible(sel.nodes, 65534, 65534) == []


def test_bwrap_device_arguments_are_dev_binds_after_the_fresh_dev(nodes):
    spec = launcher.LaunchSpec(workdir=nodes, hide=[], ro_binds=[], env={}, memory_mb=1, max_processes=1,
                               max_file_mb=1, max_open_files=1,
                               devices={"nvidia0": nodes / "nvidia0", "nvidiactl": nodes / "nvidiactl"})
    args = launcher.command(launcher.STRATEGIES["bwrap-root"], spec, ["python"])
    dev = args.index("--dev")
    binds = [i for i, a in enumerate(args) if a == "--dev-bind"]
    assert len(binds) == 2 and all(i > dev for i in binds)
    assert args[binds[0] + 1: binds[0] + 3] == [str(nodes / "nvidia0"), "/dev/nvidia0"]
    # setpriv and plain have no mount namespace: nothing to bind, the host's /dev is seen
    for name in ("setpriv", "plain"):
        assert "--dev-bind" not in launcher.command(launcher.STRATEGIES[name], spec, ["python"])
        assert not launcher.STRATEGIES[name].private_dev
    with pytest.raises(ValueError):
        launcher.command(launcher.STRATEGIES["bwrap-root"],
                         dataclasses.replace(spec, devices={"../etc": nodes / "nvidia0"}), ["python"])


# --------------------------------------------------------------------------- in the sandbox


@pytest.mark.parametrize("strategy", _bwrap_strategies() or
                         [pytest.param("bwrap", marks=pytest.mark.skip(reason="no bubblewrap"))])
def test_listed_nodes_appear_in_the_sandbox_and_nothing_else_of_dev(strategy, nodes, probe_submission):
    sel = devices.select_gpus("1", dev_root=nodes)
    with_gpus, usable, problem = _inside(probe_submission, strategy, sel)
    without, _, no_gpu = _inside(probe_submission, strategy, None)
    bound = set(sel.nodes)
    assert bound == set(NAMES) - {"nvidia0"}
    # exactly bwrap's minimal /dev plus the bound nodes, as character devices, usable by
    # the dropped uid; the unselected GPU is not there
    assert set(with_gpus) == set(without) | bound
    assert all(with_gpus[n] == "chr" for n in bound)
    assert usable == {n: "ok" for n in bound}, usable
    assert problem is None
    # nothing else of the host's /dev: the host has entries the sandbox shows in neither run
    # (positive control: the comparison can see a difference)
    host = set(os.listdir("/dev"))
    host_only = host - set(without)
    assert host_only, "the host's /dev should hold more than bwrap's minimal one"
    assert not (host_only & set(with_gpus))
    # a worker given no devices (the NumPy questions' worker) sees no NVIDIA node at all
    assert not [n for n in without if n.startswith("nvidia")]
    assert no_gpu == ("not-bound", "this worker is not given device nodes")


def test_grading_gives_the_nodes_to_the_model_worker_only(tmp_path, nodes, monkeypatch):
    """A whole grading (Q6 only: its public tests and its saved model) with stand-in GPU
    nodes on the "host": every worker start is recorded; the test worker gets no device, the
    model worker gets the stand-ins; torch finds no driver behind them, so ``auto`` scores on
    the CPU and says why, in results.json, the report and the test's output."""
    pytest.importorskip("torch")
    starts: list[dict] = []
    real = launcher.command

    def record(strategy, spec, argv):
        starts.append({"strategy": strategy.name, "devices": sorted(spec.devices),
                       "argv": real(strategy, spec, argv)})
        return real(strategy, spec, argv)

    monkeypatch.setattr(launcher, "command", record)
    monkeypatch.setattr(devices, "select_gpus", lambda *a, **k: devices.GpuSelection(
        {n: nodes / n for n in ("nvidia0", "nvidiactl", "nvidia-uvm")}, {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}))
    full = config.load()
    assignment = dataclasses.replace(full, questions=(full.question("Q6"),))
    sub = tmp_path / "sub"
    shutil.copytree(paths.reference_dir(KIT) / "src", sub / "src", ignore=shutil.ignore_patterns("__pycache__"))
    refmodels.add_reference_models(sub)
    out, report = tmp_path / "results" / "results.json", tmp_path / "report"
    result = grading.grade(sub, assignment=assignment, out=out, device="auto", report_dir=report,
                           fixed_seed=True)
    assert len(starts) >= 2, starts
    test_worker, model_worker = starts[0], starts[-1]
    assert test_worker["devices"] == [] and model_worker["devices"] == ["nvidia-uvm", "nvidia0", "nvidiactl"]
    assert all(s["devices"] == [] for s in starts[:-1])
    if launcher.STRATEGIES[model_worker["strategy"]].private_dev:
        assert "--dev-bind" in model_worker["argv"] and "--dev-bind" not in test_worker["argv"]
    doc = json.loads(out.read_text())
    model_test = next(t for t in doc["tests"] if "saved model" in t["name"])
    extra = model_test["extra_data"]
    assert extra["device"] == "cpu"
    assert extra["fallback_reason"].startswith(devices.REASONS["driver-not-loadable"]), extra
    assert "Scored on: cpu." in model_test["output"] and "Not on a GPU" in model_test["output"]
    assert model_test["score"] == model_test["max_score"]          # the fallback costs nothing
    rep = json.loads((report / "report.json").read_text())
    assert rep["worker"]["models"][0]["device"] == "cpu"
    assert rep["worker"]["models"][0]["fallback_reason"] == extra["fallback_reason"]
    saved = np.load(report / "Q6_model_predictions.npz")
    assert saved["predictions"].shape == saved["margins"].shape == (len(np.load(
        KIT / "datasets" / "digits" / "private" / "test_labels.npy")),)
    assert result.worker["model_worker"]["devices"] or result.worker["model_worker"]["strategy"]


# --------------------------------------------------------------------------- fallback / cuda


@pytest.fixture(scope="module")
def q6_submission(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("q6-sub")
    shutil.copytree(paths.reference_dir(KIT) / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    refmodels.add_reference_models(root)
    return root


def _score(sub: Path, device: str, gpus):
    from autograder.scoring import score as scoring
    q6 = config.load().question("Q6")
    evalset = scoring.load_eval_set(KIT / "datasets", "digits", private=True)
    with Worker(sub, limits=q6.limits, hide=[KIT], gpus=gpus) as w:
        return scoring.score_question(w, q6, evalset, device=device)


def test_auto_without_device_nodes_reports_the_fallback_and_its_reason(tmp_path, q6_submission):
    empty = devices.select_gpus(None, dev_root=tmp_path, use_env=False)
    ms = _score(q6_submission, "auto", empty)
    assert ms.ok and ms.fraction == 1.0, ms.message
    assert ms.device == "cpu"
    assert ms.fallback_reason.startswith(devices.REASONS["no-device-nodes"])
    assert ms.record() == {"device": "cpu", "fallback_reason": ms.fallback_reason}
    assert "Scored on: cpu." in ms.message and "no NVIDIA device nodes on the host" in ms.message


def test_cpu_requested_records_the_cpu_without_a_fallback(q6_submission):
    ms = _score(q6_submission, "cpu", None)
    assert ms.ok and ms.device == "cpu" and ms.fallback_reason == ""
    assert ms.info["numerics"]["float32_matmul_precision"] == "highest"
    assert ms.info["numerics"]["cuda_matmul_allow_tf32"] is False


def test_cuda_without_a_usable_gpu_fails_that_model_clearly(tmp_path, q6_submission):
    empty = devices.select_gpus(None, dev_root=tmp_path, use_env=False)
    ms = _score(q6_submission, "cuda", empty)
    assert not ms.ok and ms.fraction == 0.0
    assert "no usable GPU" in ms.message and "not of your submission" in ms.message
    assert devices.REASONS["no-device-nodes"] in ms.message


def test_scoring_numerics_turn_reduced_precision_off():
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(KIT / "autograder"))
    from autograder.worker import models
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.set_float32_matmul_precision("medium")
    try:
        got = models.scoring_numerics()
        assert got == {"cuda_matmul_allow_tf32": False, "cudnn_allow_tf32": False,
                       "float32_matmul_precision": "highest", "cudnn_deterministic": True,
                       "cudnn_benchmark": False}
    finally:
        torch.set_float32_matmul_precision("highest")


# --------------------------------------------------------------------------- agreement rule


def _runs(n=20_000, k=10, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    preds = np.where(rng.random(n) < 0.9, labels, rng.integers(0, k, n))
    margins = rng.uniform(0.01, 5.0, n)
    return labels, preds, margins


def test_agreement_identical_runs_agree():
    labels, preds, margins = _runs()
    a = agreement.compare(labels, 10, preds, margins, preds.copy(), margins.copy())
    assert a.ok and a.differing == 0 and a.reason == "identical predictions"


def test_agreement_accepts_differences_explained_by_tied_logits():
    labels, preds, margins = _runs()
    other = preds.copy()
    wrong = np.flatnonzero(preds != labels)[:2]          # two images flip to the right class
    other[wrong] = labels[wrong]
    tied = margins.copy()
    tied[wrong] = 4e-7                                   # top-2 scores within 1e-6 on run a
    a = agreement.compare(labels, 10, preds, tied, other, margins)
    assert agreement.allowed_differences(len(labels)) == 2
    assert a.ok and a.differing == 2 and a.ties == 2, a
    assert a.metrics_a != a.metrics_b


def test_agreement_refuses_a_real_disagreement():
    labels, preds, margins = _runs()
    other = preds.copy()
    i = int(np.flatnonzero(preds != labels)[0])
    other[i] = labels[i]                                 # one flip, but no tie behind it
    a = agreement.compare(labels, 10, preds, margins, other, margins)
    assert not a.ok and f"image {i}" in a.reason and "do not tie" in a.reason
    # ties, but more images than one per 10 000 differ
    flips = np.flatnonzero(preds != labels)[:3]
    other = preds.copy()
    other[flips] = labels[flips]
    tied = margins.copy()
    tied[flips] = 0.0
    b = agreement.compare(labels, 10, preds, tied, other, tied)
    assert not b.ok and "at most 2" in b.reason
    # a NaN margin (labels from test_fer_model) is never a tie
    nan = np.full(len(labels), np.nan)
    assert not agreement.compare(labels, 10, preds, nan, np.where(np.arange(len(labels)) == i,
                                                                   labels, preds), nan).ok


def test_agreement_needs_one_entry_per_image():
    labels, preds, margins = _runs(100)
    with pytest.raises(ValueError, match="one per image"):
        agreement.compare(labels, 10, preds[:-1], margins[:-1], preds, margins)


# --------------------------------------------------------------------------- container backend

CDI_SPEC = """\
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: "1"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
- name: all
  containerEdits: {}
"""


def test_container_engine_is_read_from_the_version_answer():
    from autograder.batch import container_gpus as cg
    podman = {"Version": "4.3.1", "Components": [{"Name": "Podman Engine", "Version": "5.4.2"}]}
    assert cg.engine_of(podman) == cg.Engine("podman", (5, 4))
    docker_v = {"Version": "27.3.1", "Components": [{"Name": "Engine", "Version": "27.3.1"}]}
    assert cg.engine_of(docker_v) == cg.Engine("docker", (27, 3))


def test_container_cdi_spec_names_are_read(tmp_path):
    from autograder.batch import container_gpus as cg
    (tmp_path / "nvidia.yaml").write_text(CDI_SPEC)
    (tmp_path / "other.json").write_text(json.dumps({"kind": "vendor.com/fpga", "devices": [{"name": "0"}]}))
    (tmp_path / "broken.yaml").write_text("kind: [unclosed")
    assert cg.cdi_gpu_names((tmp_path, tmp_path / "absent")) == {"0", "1", "all"}
    assert cg.cdi_gpu_names((tmp_path / "absent",)) == set()


def test_container_gpu_arguments_for_docker_and_podman(tmp_path):
    from autograder.batch import container, container_gpus as cg, jobs, slots
    # Docker: the toolkit's device request for the batch's first N GPUs
    dock = cg.attach(None, 2)
    (req,) = dock.kwargs["device_requests"]
    assert req["DeviceIDs"] == ["0", "1"] and req["Capabilities"] == [["gpu"]] and not req["Driver"]
    # podman with a CDI spec, new enough: CDI device requests nvidia.com/gpu=N
    new = cg.Engine("podman", (5, 4))
    cdi = cg.attach(new, 2, cdi_names={"0", "1", "all"})
    (req,) = cdi.kwargs["device_requests"]
    assert req["Driver"] == "cdi" and req["DeviceIDs"] == ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    assert "devices" not in cdi.kwargs
    # podman without a spec (or too old for CDI requests): explicit --device mappings of
    # exactly the GPU nodes and the driver's shared nodes present
    nodes = make_nodes(tmp_path / "dev")
    for engine, names in ((new, set()), (cg.Engine("podman", (4, 3)), {"0", "1"}), (new, {"0"})):
        ex = cg.attach(engine, 2, cdi_names=names, dev_root=nodes)
        assert "device_requests" not in ex.kwargs
        assert ex.kwargs["devices"] == [f"{nodes}/{n}:/dev/{n}:rwm" for n in
                                        ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm",
                                         "nvidia-uvm-tools", "nvidia-modeset")], ex
        assert "libcuda.so.1" in ex.how
    # ... and a clear error when the host has no such GPU node
    with pytest.raises(RuntimeError, match="nvidia2 not found on the host"):
        cg.attach(new, 3, cdi_names=set(), dev_root=nodes)
    # wired into the job's create arguments: the slot's share through CUDA_VISIBLE_DEVICES
    spec = jobs.JobSpec(id="s1", backend="container", submitters=[], payload=b"",
                        limits=jobs.container_limits({}), timeout_s=10, image="img", gpus=2, jobs=2)
    env: dict[str, str] = {}
    kw = container.create_kwargs(spec, slots.gpus_for_slot(1, 2, 2), env, cg.Engine("docker", (27, 3)))
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and kw["device_requests"][0]["DeviceIDs"] == ["0", "1"]


def test_gradebook_names_the_device_of_each_model_score():
    from autograder.batch import outputs

    def rec(sid, extra):
        tests = [{"name": "Q1 Linear · public test 1", "score": 1.0, "max_score": 1.0}]
        if extra is not None:
            tests.append({"name": "Q6 CNN · saved model on the private test set", "score": 12.0,
                          "max_score": 12.0, "extra_data": extra})
        return {"id": sid, "status": "ok", "results": {"score": 13.0, "tests": tests},
                "submitters": [{"name": sid}]}

    records = [rec("a", {"device": "cuda:0 (NVIDIA H100 80GB HBM3)"}),
               rec("b", {"device": "cpu", "fallback_reason": devices.REASONS["no-device-nodes"]}),
               rec("c", None)]
    header, rows = outputs.gradebook_rows(records)
    col = header.index("Q6 model device")
    assert [r[col] for r in rows] == ["cuda:0 (NVIDIA H100 80GB HBM3)",
                                      f"cpu (fallback: {devices.REASONS['no-device-nodes']})", ""]
