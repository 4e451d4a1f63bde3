"""Prove the GPU path of model scoring on a machine with an NVIDIA GPU; one JSON summary.

    python3 scripts/gpu_check.py [--out bench/results/gpu.json] [--skip-batch] [--skip-bench]

(``scripts/gpu-check.sh`` runs this after unpacking what ``scripts/gpu-pack.sh`` prepared.)

(a) grades the reference solution with its trained models (the assignment's saved-model
    questions, on the private test set) three times: ``--device cuda`` in the bubblewrap
    sandbox (``bwrap-root``, or ``bwrap-user`` when not root), ``--device cuda`` under
    ``setpriv``, and ``--device cpu``; each CUDA run's predictions are compared with the CPU
    run's by the agreement rule (:mod:`autograder.scoring.agreement`);
(b) runs ``bench/bench_scoring.py --device cuda`` (sandbox vs in-process images/s);
(c) grades 4 submissions with ``batch --backend process --gpus 1 --jobs 2``;
(d) writes the summary (every step records its error instead of stopping the others).

Exit status 0 when every step ran and agreed, 1 otherwise.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import config, paths, refmodels  # noqa: E402
from autograder.grading import grade as grading  # noqa: E402
from autograder.sandbox import devices  # noqa: E402
from autograder.scoring import agreement  # noqa: E402
from autograder.scoring import score as scoring  # noqa: E402


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {"python": sys.version.split()[0], "machine": platform.machine(),
                            "cpus": os.cpu_count(), "euid": os.geteuid(),
                            "bwrap": shutil.which("bwrap"), "setpriv": shutil.which("setpriv"),
                            "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}
    try:
        info["dev_nvidia"] = sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
    except OSError as exc:
        info["dev_nvidia"] = f"unreadable: {exc}"
    sel = devices.select_gpus()
    info["selected_nodes"] = sorted(sel.nodes)
    info["selection_reason"] = devices.reason_text(sel.reason, sel.detail) if sel.reason else ""
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
        info["cuda_available_here"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception as exc:  # noqa: BLE001 - recorded, the rest still runs
        info["torch_error"] = repr(exc)
    try:
        info["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        info["nvidia_smi"] = f"not run: {exc}"
    return info


def reference_submission(folder: Path, models: Path) -> Path:
    shutil.copytree(paths.reference_dir(ROOT) / "src", folder / "src",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for f in refmodels.FILES:
        shutil.copy2(models / f, folder / f)
    return folder


def grade_models(sub: Path, work: Path, label: str, device: str, strategy: str | None) -> dict[str, Any]:
    """Grade the saved-model questions of ``sub`` (their hidden tests and models)."""
    full = config.load()
    assignment = dataclasses.replace(full, questions=tuple(q for q in full.questions if q.model))
    report = work / f"report-{label}"
    t0 = time.monotonic()
    result = grading.grade(sub, assignment=assignment, out=work / f"results-{label}.json",
                           public=False, hidden=True, models=True, device=device,
                           report_dir=report, fixed_seed=True, strategy=strategy)
    models = result.worker.get("models", [])
    return {"device_requested": device, "strategy": strategy,
            "seconds": round(time.monotonic() - t0, 2), "score": result.doc.get("score"),
            "model_worker": result.worker.get("model_worker"),
            "models": [{k: m.get(k) for k in ("question", "ok", "fraction", "device",
                                              "fallback_reason", "inference_seconds", "metrics")}
                       for m in models],
            "report_dir": str(report),
            **({} if models else {"output": str(result.doc.get("output", ""))[:800]})}


def compare_runs(gpu: dict[str, Any], cpu: dict[str, Any], labels: np.ndarray, k: int) -> dict[str, Any]:
    out = {}
    for m in cpu["models"]:
        q = m["question"]
        a = np.load(Path(cpu["report_dir"]) / f"{q}_model_predictions.npz")
        try:
            b = np.load(Path(gpu["report_dir"]) / f"{q}_model_predictions.npz")
        except OSError as exc:
            out[q] = {"ok": False, "reason": f"no predictions from the GPU run: {exc}"}
            continue
        out[q] = agreement.compare(labels, k, a["predictions"], a["margins"],
                                   b["predictions"], b["margins"]).to_dict()
    return out


def step(summary: dict[str, Any], name: str, fn: Any) -> Any:
    t0 = time.monotonic()
    try:
        value = fn()
        summary[name] = value
        return value
    except Exception as exc:  # noqa: BLE001 - one failed step must not hide the others
        summary[name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
        return None
    finally:
        print(f"[gpu-check] {name}: {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)


def run_batch(models: Path, work: Path, timeout: float) -> dict[str, Any]:
    subs = work / "batch-submissions"
    subs.mkdir()
    for i in range(4):
        reference_submission(subs / f"student{i + 1}", models)
    out = work / "batch-out"
    cmd = [sys.executable, "-m", "autograder", "batch", str(subs), "--out", str(out), "--backend",
           "process", "--gpus", "1", "--jobs", "2", "--no-progress"]
    t0 = time.monotonic()
    log = work / "batch.log"
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, text=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGINT (Ctrl-C): the batch kills its running jobs itself (their graders run in
            # sessions of their own, out of reach of a kill of this process)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    wall = time.monotonic() - t0
    stderr = log.read_text(errors="replace")
    rows = []
    book = out / "gradebook.csv"
    if book.is_file():
        with book.open() as f:
            rows = list(csv.DictReader(f))
    return {"command": " ".join(cmd[1:]), "exit_code": proc.returncode, "wall_s": round(wall, 1),
            "submissions_per_minute": round(4 * 60 / wall, 2),
            "gradebook": [{k: r.get(k) for k in r if k in ("submission", "status", "total", "possible")
                           or k.endswith("model device")} for r in rows],
            "timed_out": wall >= timeout, "output_tail": stderr[-1500:]}


def run_bench(work: Path, timeout: float) -> dict[str, Any]:
    out = work / "bench-scoring-cuda.json"
    cmd = [sys.executable, "bench/bench_scoring.py", "--device", "cuda", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not out.is_file():
        return {"exit_code": proc.returncode, "stderr_tail": proc.stderr[-2000:]}
    return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gpu.json")
    ap.add_argument("--models", type=Path, help="the reference's trained models (default: the "
                    "packed .gpu-pack/models, else trained here)")
    ap.add_argument("--skip-bench", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    args = ap.parse_args()
    started = time.monotonic()
    summary: dict[str, Any] = {"command": "scripts/gpu_check.py " + " ".join(sys.argv[1:]),
                               "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    summary["environment"] = environment()
    work = Path(tempfile.mkdtemp(prefix="dlkit-gpu-check-"))
    packed = ROOT / ".gpu-pack" / "models"
    models = args.models or (packed if (packed / refmodels.FILES[0]).is_file() else None)
    models = models or step(summary, "train_reference_models", lambda: refmodels.reference_models("digits"))
    sandbox = "bwrap-root" if os.geteuid() == 0 else "bwrap-user"
    runs: dict[str, Any] = {}
    if models is not None:
        sub = reference_submission(work / "reference", Path(models))
        for label, device, strategy in (("cuda-" + sandbox, "cuda", sandbox),
                                        ("cuda-setpriv", "cuda", "setpriv" if os.geteuid() == 0 else None),
                                        ("cpu", "cpu", sandbox)):
            if strategy is None:
                summary.setdefault("grades", {})[label] = {"skipped": "setpriv needs root"}
                continue
            runs[label] = step(summary.setdefault("grades", {}), label,
                               lambda d=device, s=strategy, lb=label: grade_models(sub, work, lb, d, s))
        evalset = scoring.load_eval_set(ROOT / "datasets", config.load().dataset, private=True)
        if runs.get("cpu"):
            for label, run in runs.items():
                if label != "cpu" and run:
                    step(summary.setdefault("agreement", {}), f"{label}_vs_cpu",
                         lambda r=run: compare_runs(r, runs["cpu"], evalset.labels, evalset.num_classes))
    if not args.skip_bench:
        step(summary, "bench_scoring", lambda: run_bench(work, 150))
    if not args.skip_batch and models is not None:
        step(summary, "batch", lambda: run_batch(Path(models), work, 300))
    summary["seconds"] = round(time.monotonic() - started, 1)
    ok = _verdict(summary)
    summary["ok"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps({k: summary[k] for k in ("ok", "verdict", "seconds")}, indent=2))
    print(f"summary: {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def _verdict(summary: dict[str, Any]) -> bool:
    problems = []
    for label, run in (summary.get("grades") or {}).items():
        if not isinstance(run, dict) or "error" in run:
            problems.append(f"grade {label} failed")
            continue
        if "skipped" in run:
            continue
        if not run["models"]:
            problems.append(f"grade {label}: no model was scored: {run.get('output', '')[:200]}")
        for m in run["models"]:
            want_gpu = run["device_requested"] == "cuda"
            if not m["ok"] or (want_gpu and not str(m.get("device", "")).startswith("cuda")):
                problems.append(f"{label} {m['question']}: ok={m['ok']} device={m.get('device')}")
    for label, per_q in (summary.get("agreement") or {}).items():
        for q, a in (per_q or {}).items() if isinstance(per_q, dict) and "error" not in per_q else []:
            if not a.get("ok"):
                problems.append(f"{label} {q}: {a.get('reason')}")
        if isinstance(per_q, dict) and "error" in per_q:
            problems.append(f"{label}: {per_q['error']}")
    bench = summary.get("bench_scoring")
    if isinstance(bench, dict) and ("error" in bench or "exit_code" in bench):
        problems.append("bench_scoring failed")
    batch = summary.get("batch")
    if isinstance(batch, dict) and (batch.get("error") or batch.get("exit_code")):
        problems.append("batch failed")
    summary["verdict"] = problems or ["all steps ran; GPU and CPU metrics agree"]
    return not problems


if __name__ == "__main__":
    sys.exit(main())
