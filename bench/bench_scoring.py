"""Images per second when scoring a saved model: through the sandbox vs in-process.

    .venv/bin/python bench/bench_scoring.py [--device auto|cpu|cuda] [--passes N] [--batch B]

Both sides run the reference ``cnn.Net`` with the reference weights on the private digits
test images, in eval mode without gradients, with the same batch size and torch thread count
(1, the worker's setting).  The sandboxed figure covers what grading pays per batch: encoding
the images, the round trip to the forked worker, inference there and decoding the scores
(model loading excluded on both sides).  Goal: sandbox >= 0.8x in-process.  Writes
``bench/results/scoring.json`` (``--out`` another file).  Runs unchanged on a GPU machine
(``--device cuda``): the sandboxed worker is then given the NVIDIA device nodes exactly as
grading gives them (:func:`autograder.sandbox.devices.select_gpus`), both sides score with
TF32 off, and the result names the device each side used.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import config, paths, refmodels  # noqa: E402
from autograder.sandbox import devices  # noqa: E402
from autograder.sandbox.client import Worker  # noqa: E402
from autograder.sandbox.remote import RemoteCall  # noqa: E402
from autograder.scoring import score as scoring  # noqa: E402
from autograder.student import InProcessStudent  # noqa: E402
from autograder.worker import protocol  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--passes", type=int, default=30, help="passes over the 360 test images")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scoring.json")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    kit = paths.kit_root()
    models = refmodels.reference_models("digits", kit)
    evalset = scoring.load_eval_set(kit / "datasets", "digits", private=True)
    images = np.ascontiguousarray(np.tile(evalset.images, (args.passes, 1, 1))[:, None], dtype=np.float32)
    n = len(images)
    sub = Path(__import__("tempfile").mkdtemp(prefix="bench-scoring-"))
    import shutil
    shutil.copytree(paths.reference_dir(kit) / "src", sub / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for f in refmodels.FILES:
        shutil.copy2(models / f, sub / f)

    # in-process: the same Net, weights, batch size and threads
    net = InProcessStudent(sub).cnn_tools.load_model(str(sub / "model.safetensors"))
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
    net.to(device).eval()
    x = torch.from_numpy(images)
    with torch.no_grad():
        net(x[: args.batch].to(device))                               # warm-up
        t0 = time.perf_counter()
        for s in range(0, n, args.batch):
            net(x[s:s + args.batch].to(device)).float().cpu().numpy()
        t_local = time.perf_counter() - t0

    # sandboxed: model loaded once in a forked worker; the timed loop is the batches
    q6 = config.load().question("Q6")
    gpus = devices.select_gpus() if args.device != "cpu" else None
    worker = Worker(sub, limits=q6.limits, hide=[kit], gpus=gpus)
    with worker:
        session = worker.session(q6.limits)
        call = RemoteCall(session)
        blobs: list[bytes] = []
        spec = {"interface": "torch", "files": ["model.safetensors"], "max_model_mb": 100, "device": args.device}
        reply, rblobs = call._send({"op": "model_load", "spec": protocol.encode_value(spec, blobs)},
                                   blobs, "load")
        loaded = call.decode(reply.get("value"), rblobs, "load")
        def batch(s: int) -> np.ndarray:
            b: list[bytes] = []
            reply, rb = call._send({"op": "model_scores", "images": protocol.encode_value(images[s:s + args.batch], b)},
                                   b, "scores", timeout=60)
            return call.decode(reply["value"], rb, "scores")
        batch(0)                                                      # warm-up
        t0 = time.perf_counter()
        for s in range(0, n, args.batch):
            batch(s)
        t_sandbox = time.perf_counter() - t0
        session.close()
    local_ips, sandbox_ips = n / t_local, n / t_sandbox
    sandbox_device = loaded.get("device") if isinstance(loaded, dict) else None
    result = {"images": n, "batch": args.batch, "device": str(device), "torch_threads": 1,
              "in_process_device": (f"cuda:0 ({torch.cuda.get_device_name(0)})"
                                    if device.type == "cuda" else "cpu"),
              "sandbox_device": sandbox_device, "sandbox_strategy": worker.strategy.name,
              "sandbox_fallback": loaded.get("fallback") if isinstance(loaded, dict) else None,
              "in_process_images_per_s": round(local_ips, 1), "sandbox_images_per_s": round(sandbox_ips, 1),
              "ratio_sandbox_over_in_process": round(sandbox_ips / local_ips, 3), "goal": ">= 0.8",
              "machine": f"{platform.machine()} {platform.processor()} {__import__('os').cpu_count()} cpus",
              "command": "bench/bench_scoring.py " + " ".join(sys.argv[1:])}
    out = args.out
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    shutil.rmtree(sub, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
