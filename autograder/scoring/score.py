"""Score one question's saved model: load it in the sandbox, send the evaluation IMAGES in
batches, and compute every metric here from what comes back.

The labels never leave this process.  What crosses to the worker is the images (float32 in
[0, 1]: ``(N, C, H, W)`` for ``torch`` models, the native ``(N, H, W[, C])`` for ``test.py``);
what comes back is checked — shape, finiteness, integer labels in range — before any metric.
Students see aggregates only (accuracy, macro-F1, counts); the confusion matrix and per-class
F1 go to the instructor's report folder.
"""
from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..config import Limits, Question
from ..sandbox import devices
from ..sandbox.client import SandboxFailure, Worker
from ..sandbox.remote import RemoteCall
from ..student import StudentError
from ..worker import protocol
from . import metrics as metrics_mod
from .spec import ModelSpec, parse


@dataclasses.dataclass
class EvalSet:
    """Images (float32 in [0, 1], native layout) and labels of the evaluation split."""

    dataset: str
    split: str                       # "private test" | "public validation"
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else int(self.labels.max()) + 1


def load_eval_set(data_root: Path, dataset: str, private: bool) -> EvalSet:
    """The private test split (grading) or the public validation split (selftest)."""
    part = "test" if private else "val"
    ds = datasets.load_split(dataset, part, Path(data_root) / dataset)
    return EvalSet(dataset, "private test" if private else "public validation",
                   ds.to_unit_float(), np.asarray(ds.labels, dtype=np.int64), tuple(ds.class_names))


@dataclasses.dataclass
class ModelScore:
    question: str
    spec: ModelSpec
    split: str
    fraction: float = 0.0
    ok: bool = False
    message: str = ""
    metrics: metrics_mod.Metrics | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    inference_seconds: float = 0.0
    #: the scoring child's share of ``seconds`` (``SessionReport.timings()``)
    sandbox_timings: dict[str, float] = dataclasses.field(default_factory=dict)
    peak_memory_mb: float | None = None
    plots: list[str] = dataclasses.field(default_factory=list)
    #: where the model ran: ``cuda:0 (NVIDIA ...)`` or ``cpu`` ("" when it was never loaded)
    device: str = ""
    #: why ``--device auto`` scored on the CPU ("" when it did not fall back)
    fallback_reason: str = ""
    #: per image, the predicted class and the margin between the two highest scores (NaN for
    #: labels from test_fer_model): what :mod:`.agreement` compares between devices
    predictions: np.ndarray | None = None
    margins: np.ndarray | None = None

    def record(self) -> dict[str, str]:
        """The device fields of this score as results and reports carry them."""
        out = {"device": self.device}
        if self.fallback_reason:
            out["fallback_reason"] = self.fallback_reason
        return out

    def device_sentence(self) -> str:
        if not self.device:
            return ""
        text = f"Scored on: {self.device}."
        if self.fallback_reason:
            text += f" (Not on a GPU: {self.fallback_reason}.)"
        return text

    def leaderboard(self) -> list[dict[str, Any]]:
        if not (self.spec.leaderboard and self.metrics is not None):
            return []
        return [{"name": f"{self.spec.label} accuracy", "value": round(self.metrics.accuracy, 6), "order": "desc"},
                {"name": f"{self.spec.label} macro-F1", "value": round(self.metrics.macro_f1, 6), "order": "desc"}]


def _model_limits(question: Question, spec: ModelSpec) -> Limits:
    return dataclasses.replace(question.limits, test_timeout_s=spec.total_timeout_s,
                               cpu_s=max(question.limits.cpu_s, spec.total_timeout_s * 2),
                               memory_mb=spec.memory_mb or question.limits.memory_mb)


def _as_torch_input(images: np.ndarray) -> np.ndarray:
    return datasets.to_nchw(images).astype(np.float32, copy=False)


def _check_outputs(out: Any, n: int, num_classes: int, predictions: bool) -> np.ndarray:
    """Validate what the worker returned for ``n`` images; returns integer predictions."""
    if not isinstance(out, np.ndarray) or out.dtype.kind not in "biuf":
        raise ValueError(f"the model returned {type(out).__name__}"
                         + (f" of dtype {out.dtype}" if isinstance(out, np.ndarray) else "")
                         + "; expected a numeric array")
    if predictions:
        if out.shape != (n,):
            raise ValueError(f"test_fer_model returned shape {out.shape}; expected ({n},): one "
                             f"label per image")
        if not np.all(np.isfinite(out)) or np.any(out != np.round(out)):
            raise ValueError("test_fer_model returned non-integer labels; expected class indices")
        preds = out.astype(np.int64)
        if preds.min(initial=0) < 0 or preds.max(initial=0) >= num_classes:
            raise ValueError(f"test_fer_model returned labels outside 0..{num_classes - 1}")
        return preds
    if out.shape != (n, num_classes):
        raise ValueError(f"the model returned scores of shape {out.shape}; expected ({n}, "
                         f"{num_classes}): one score per class for each image")
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        raise ValueError(f"the model's scores contain NaN or infinity for {int(bad.sum())} of "
                         f"{n} images")
    return np.argmax(out, axis=1).astype(np.int64)


def top2_margins(scores: np.ndarray) -> np.ndarray:
    """Per row, the highest score minus the second highest (inf with a single class)."""
    if scores.shape[1] < 2:
        return np.full(len(scores), np.inf)
    top = np.partition(np.asarray(scores, dtype=np.float64), -2, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


_DEVICE_TEXT = re.compile(r"^(cpu|cuda:\d{1,2}( \([ -~]{1,80}\))?)$")


def _reported_device(info: dict[str, Any]) -> tuple[str, str]:
    """(device, fallback reason) from the worker's model_load reply (untrusted text: a
    device string of the expected form, a fallback code of the grader's list)."""
    device = info.get("device")
    device = device if isinstance(device, str) and _DEVICE_TEXT.match(device) else "unknown"
    code = info.get("fallback")
    if not isinstance(code, str) or not code:
        return device, ""
    detail = info.get("fallback_detail")
    detail = detail[:240] if isinstance(detail, str) and detail.isprintable() else ""
    return device, devices.reason_text(code if code in devices.REASONS else "driver-not-loadable", detail)


class NoUsableGPU(Exception):
    """``--device cuda`` without a GPU the sandbox can use (a problem of the grading machine)."""


def score_question(worker: Worker, question: Question, evalset: EvalSet, *, device: str = "auto",
                   report_dir: Path | None = None) -> ModelScore:
    """Score ``question``'s saved model on ``evalset``; never raises for student problems."""
    spec = parse(question.model)
    result = ModelScore(question.id, spec, evalset.split)
    t0 = time.monotonic()
    session = None
    fallback = ""
    try:
        baseline, target = spec.curve_for(evalset.dataset)
        if device != "cpu":
            problem = worker.gpu_problem()
            if problem is not None and device == "cuda":
                raise NoUsableGPU(devices.reason_text(*problem))
            if problem is not None:       # auto: the grader already knows CUDA cannot work
                fallback, device = devices.reason_text(*problem), "cpu"
        session = worker.session(_model_limits(question, spec), f"{question.id} model")
        call = RemoteCall(session)
        blobs: list[bytes] = []
        load_spec = {"interface": spec.interface, "files": list(spec.files),
                     "max_model_mb": spec.max_model_mb, "device": device}
        reply, rblobs = call._send({"op": "model_load", "spec": protocol.encode_value(load_spec, blobs)},
                                   blobs, f"loading the saved model ({question.id})")
        info = call.decode(reply.get("value"), rblobs, "model_load")
        result.info = dict(info) if isinstance(info, dict) else {}
        result.device, result.fallback_reason = _reported_device(result.info)
        result.fallback_reason = result.fallback_reason or fallback
        n_params = result.info.get("n_params")
        if spec.max_params is not None and isinstance(n_params, (int, np.integer)) and n_params > spec.max_params:
            raise ValueError(f"the model has {int(n_params):,} parameters; the limit is {spec.max_params:,}")
        by_folder = result.info.get("interface") == "test_fer_model"
        n = len(evalset.labels)
        preds = np.empty(n, dtype=np.int64)
        margins = np.full(n, np.nan)
        t_inf = time.monotonic()
        batch = n if by_folder else max(1, spec.batch_size)
        for start in range(0, n, batch):
            images = evalset.images[start:start + batch]
            if spec.interface == "torch":
                images = _as_torch_input(images)
            blobs = []
            doc = {"op": "model_scores", "images": protocol.encode_value(images, blobs), "folder": by_folder}
            what = "test_fer_model" if by_folder else f"inference on images {start}..{start + len(images) - 1}"
            reply, rblobs = call._send(doc, blobs, what,
                                       timeout=spec.total_timeout_s if by_folder else spec.batch_timeout_s)
            out = call.decode(reply.get("value"), rblobs, what)
            preds[start:start + len(images)] = _check_outputs(out, len(images), evalset.num_classes, by_folder)
            if not by_folder:
                margins[start:start + len(images)] = top2_margins(out)
        result.inference_seconds = time.monotonic() - t_inf
        report = session.close(wait=True)          # its exit status gives the peak memory
        session = None
        result.sandbox_timings = report.timings()
        status = report.exit_status or {}
        result.peak_memory_mb = status.get("maxrss_mb")
        if (spec.max_memory_mb is not None and result.peak_memory_mb is not None
                and result.peak_memory_mb > spec.max_memory_mb):
            raise ValueError(f"scoring the model used {result.peak_memory_mb:.0f} MB of memory at its "
                             f"peak; the limit is {spec.max_memory_mb:g} MB")
        m = metrics_mod.compute(evalset.labels, preds, evalset.num_classes)
        result.metrics = m
        result.predictions, result.margins = preds, margins
        result.fraction = metrics_mod.points_fraction(m.get(spec.metric), baseline, target)
        result.ok = True
        metric_name = "accuracy" if spec.metric == "accuracy" else "macro-F1"
        result.message = (
            f"Your saved model on the {evalset.split} set ({n} images): accuracy {m.accuracy:.4f} "
            f"({m.correct}/{n} correct), macro-F1 {m.macro_f1:.4f}. Points follow the {metric_name}: "
            f"{baseline:g} or less gives 0, {target:g} or more gives full points, linear in between "
            f"-> {result.fraction:.0%}.")
        if result.info.get("interface") == "test_fer_model":
            result.message += " (Graded through test_fer_model: define load_model and predict too for scores.)"
        result.message += " " + result.device_sentence()
        if report_dir is not None:
            from . import plots      # matplotlib: imported only when a report is asked for
            Path(report_dir).mkdir(parents=True, exist_ok=True)
            np.savez(Path(report_dir) / f"{question.id}_model_predictions.npz",
                     predictions=preds, margins=margins)
            result.plots = [str(p) for p in plots.save_plots(
                m, evalset.class_names, Path(report_dir), f"{question.id}_model",
                f"{question.id} {spec.label} ({evalset.split})")]
    except NoUsableGPU as exc:
        result.device = "none"
        result.message = (f"The saved model was not scored: --device cuda was requested but there "
                          f"is no usable GPU: {exc}. This is a problem of the grading machine, "
                          f"not of your submission.")
    except StudentError as exc:
        if exc.type_name == "NoUsableGPU":
            code, _, detail = exc.message.partition(": ")
            result.device = "none"
            result.message = (f"The saved model was not scored: --device cuda was requested but "
                              f"there is no usable GPU: "
                              f"{devices.reason_text(code if code in devices.REASONS else 'driver-not-loadable', detail[:240])}. "
                              f"This is a problem of the grading machine, not of your submission.")
            return result
        result.message = f"The saved model could not be scored: {exc.type_name}: {exc.message}"
        if exc.trace:
            result.message += "\n" + exc.trace
    except SandboxFailure as exc:
        result.message = f"The saved model could not be scored: it {exc.message}" if not exc.message.startswith(
            ("timed", "the ", "not run")) else f"The saved model could not be scored: {exc.message}"
    except (datasets.DatasetError, KeyError):
        raise                      # the kit's configuration or data: not the student's problem
    except ValueError as exc:
        result.message = f"The saved model could not be scored: {exc}"
    finally:
        if session is not None:
            result.sandbox_timings = session.close().timings()
        result.seconds = time.monotonic() - t0
    return result
