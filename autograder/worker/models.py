"""Trusted model loading and inference inside the sandbox (worker side of model scoring).

The grader sends IMAGES only, in batches; these functions return scores or predictions.
Labels never reach the worker, and metrics are computed on the trusted side.

Interfaces (``assignment.toml`` ``[questions.Qn.model] interface``):

``torch``    ``cnn.Net()`` (no arguments) with a ``state_dict`` from ``model.safetensors``
             (``safetensors.torch.load_file``: a header that lies about sizes is refused) or
             ``model.pt`` / ``model.pth`` (``torch.load(..., weights_only=True)``: a pickle
             payload is refused without being executed).  Keys and shapes are checked against
             ``Net().state_dict()`` first, naming the first mismatch.  ``eval()`` mode, no
             gradients, float32 ``(N, C, H, W)`` input in [0, 1].
``test.py``  the submission's ``src/test.py``: ``load_model()`` + ``predict(model, X)`` when
             both exist (scores), else ``test_fer_model(img_folder)`` on a folder of PNG files
             written here (predictions).

Errors are raised as :class:`ModelError` with a message for the student.
"""
from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np

TORCH_FILES = ("model.safetensors", "model.pt", "model.pth")


class ModelError(Exception):
    """The saved model cannot be used; the message says what was found and expected."""


#: Files that are models of other frameworks (the 2018 handout allowed TensorFlow/Keras).
FOREIGN_MODELS = (".h5", ".keras", ".pb", ".onnx", ".tflite")


def _find(root: str, candidates: tuple[str, ...] | list[str]) -> str:
    for name in candidates:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    foreign = sorted(n for n in os.listdir(root) if n.lower().endswith(FOREIGN_MODELS))
    if foreign:
        raise ModelError(f"unsupported model format: found {', '.join(foreign)} (TensorFlow/Keras or "
                         f"another framework); only PyTorch models are graded — save cnn.Net's "
                         f"state_dict as model.safetensors or model.pt")
    raise ModelError(f"no saved model found: expected one of {', '.join(candidates)} next to "
                     f"src/ in the submission")


def _check_size(path: str, max_mb: float) -> None:
    size = os.path.getsize(path)
    if size > max_mb * 2**20:
        raise ModelError(f"{os.path.basename(path)} is {size / 2**20:.0f} MB; the limit is "
                         f"{max_mb:g} MB")


class NoUsableGPU(ModelError):
    """``--device cuda`` was asked for and CUDA cannot be used here; the message starts with
    the fallback code (``code: detail``) that the grader turns into its own sentence."""


def scoring_numerics() -> dict[str, Any]:
    """Full float32 precision and deterministic kernels while scoring (the same numbers on a
    GPU as on the CPU): no TF32 in matmuls or cuDNN convolutions, ``highest`` float32 matmul
    precision, deterministic cuDNN without autotuning.  Returns the settings now in force."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return {"cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark)}


def _nvidia_nodes() -> list[str]:
    try:
        return sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
    except OSError:
        return []


def cuda_unusable() -> tuple[str, str] | None:
    """Why CUDA cannot be used in this process, as (fallback code, detail), or None."""
    import torch
    if torch.version.cuda is None:
        return "torch-without-cuda", f"torch {torch.__version__}"
    if torch.cuda.is_available():
        return None
    nodes = [n for n in _nvidia_nodes() if n[6:].isdigit()]
    if not nodes:
        return "not-bound", "no /dev/nvidia<N> in the sandbox"
    try:
        torch.cuda.init()
        detail = f"torch.cuda.is_available() is False with {', '.join(nodes)} present"
    except Exception as exc:  # noqa: BLE001 - the driver's own error, for the instructor
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
    return "driver-not-loadable", detail


def _device(requested: str) -> tuple[Any, dict[str, Any]]:
    """The torch device for ``requested`` (auto | cpu | cuda) and what to record: ``device``
    (``cuda:0 (NAME)`` or ``cpu``) and, when ``auto`` fell back to the CPU, ``fallback``
    (a code of the grader's list) with ``fallback_detail``."""
    import torch
    numerics = scoring_numerics()
    if requested == "cpu":
        return torch.device("cpu"), {"device": "cpu", "numerics": numerics}
    problem = cuda_unusable()
    if problem is None:
        dev = torch.device("cuda", 0)
        return dev, {"device": f"cuda:0 ({torch.cuda.get_device_name(0)})", "numerics": numerics}
    if requested == "cuda":
        raise NoUsableGPU(f"{problem[0]}: {problem[1]}")
    return torch.device("cpu"), {"device": "cpu", "fallback": problem[0],
                                 "fallback_detail": problem[1], "numerics": numerics}


def _read_state_dict(path: str) -> dict[str, Any]:
    import torch
    name = os.path.basename(path)
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(path)
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{name} is not a valid safetensors file ({exc}); save it with "
                             f"safetensors.torch.save_file(model.state_dict(), ...)") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError, zip errors
        raise ModelError(f"{name} could not be loaded with torch.load(weights_only=True): "
                         f"{type(exc).__name__}: {str(exc)[:300]} — save only the state_dict "
                         f"(torch.save(model.state_dict(), ...)); pickled objects are refused") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{name} does not hold a state_dict (a dict of tensors); found "
                         f"{type(state).__name__}")
    return state


def check_state_dict(expected: dict[str, tuple[int, ...]], got: dict[str, tuple[int, ...]], name: str) -> None:
    """Raise :class:`ModelError` naming the first key or shape mismatch."""
    for key, shape in expected.items():
        if key not in got:
            raise ModelError(f"{name} has no entry {key!r}; Net() expects it with shape {shape}")
        if tuple(got[key]) != tuple(shape):
            raise ModelError(f"{name}: {key!r} has shape {tuple(got[key])}, but Net() expects {shape}")
    extra = [k for k in got if k not in expected]
    if extra:
        raise ModelError(f"{name} has an entry {extra[0]!r} that Net() does not have")


class TorchModel:
    """A loaded ``Net`` ready for inference."""

    def __init__(self, net: Any, device: Any, info: dict[str, Any]):
        self.net = net
        self.device = device
        self.info = info

    def scores(self, images: np.ndarray) -> np.ndarray:
        import torch
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(self.device)
        with torch.no_grad():
            out = self.net(x)
        if not isinstance(out, torch.Tensor):
            raise ModelError(f"Net.forward returned {type(out).__name__}; expected a tensor of scores")
        return out.detach().float().cpu().numpy()


def load_torch(resolve: Any, root: str, files: list[str], max_model_mb: float, device: str) -> TorchModel:
    # the file first: a submission without a saved model is told so without importing torch
    path = _find(root, tuple(files) or TORCH_FILES)
    _check_size(path, max_model_mb)
    import torch
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    t0 = time.monotonic()
    state = _read_state_dict(path)
    Net = resolve("cnn.Net")
    torch.manual_seed(0)
    net = Net()
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    check_state_dict(expected, {k: tuple(v.shape) for k, v in state.items()}, os.path.basename(path))
    net.load_state_dict(state, strict=True)
    dev, placed = _device(device)
    net.to(dev)
    net.eval()
    n_params = int(sum(p.numel() for p in net.parameters()))
    return TorchModel(net, dev, {"file": os.path.basename(path), "n_params": n_params,
                                 **placed, "load_s": time.monotonic() - t0})


class TestPyModel:
    """``src/test.py``'s ``load_model`` + ``predict`` (scores) or ``test_fer_model`` (labels)."""

    def __init__(self, resolve: Any, info: dict[str, Any], model: Any = None):
        self.resolve = resolve
        self.model = model
        self.info = info

    def scores(self, images: np.ndarray) -> np.ndarray:
        out = self.resolve("test.predict")(self.model, np.array(images, dtype=np.float32))
        return np.asarray(out, dtype=np.float64)

    def predictions_from_folder(self, images: np.ndarray) -> np.ndarray:
        from PIL import Image
        folder = tempfile.mkdtemp(prefix="private-images-", dir=os.environ.get("TMPDIR"))
        for i, img in enumerate(images):
            arr = np.clip(np.rint(np.asarray(img, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(os.path.join(folder, f"{i:05d}.png"))
        preds = self.resolve("test.test_fer_model")(folder)
        return np.asarray(preds)


def load_testpy(resolve: Any, root: str, files: list[str], max_model_mb: float) -> TestPyModel:
    for name in files:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            _check_size(path, max_model_mb)
    t0 = time.monotonic()
    try:
        resolve("test.load_model")
        resolve("test.predict")
        has_scores = True
    except AttributeError:
        has_scores = False
    if has_scores:
        model = resolve("test.load_model")()
        n_params = None
        params = getattr(model, "params", None)
        if isinstance(params, dict):
            n_params = int(sum(np.asarray(v).size for v in params.values()))
        return TestPyModel(resolve, {"interface": "load_model/predict", "n_params": n_params,
                                     "device": _testpy_device(),
                                     "load_s": time.monotonic() - t0}, model)
    resolve("test.test_fer_model")  # raises a clear AttributeError when missing too
    return TestPyModel(resolve, {"interface": "test_fer_model", "n_params": None,
                                 "device": _testpy_device(), "load_s": time.monotonic() - t0})


def _testpy_device() -> str:
    """``src/test.py`` places its model itself: ``cpu`` unless its code initialised CUDA."""
    import sys
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
    except Exception:  # noqa: BLE001 - a half-initialised CUDA: report the CPU
        pass
    return "cpu"
