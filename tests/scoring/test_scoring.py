"""Scoring saved models through the sandbox (issue: model scoring).

Every failure case fails the model question alone with a clear message; the labels never
reach the worker (a sentinel label sequence is searched for in every byte given to it); the
metrics equal an in-process evaluation of the same model.
"""
import dataclasses
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from autograder import config, paths, refmodels
from autograder.config import Limits
from autograder.grading import grade as grading
from autograder.grading import results
from autograder.sandbox.client import Worker
from autograder.scoring import score as scoring
from autograder.student import InProcessStudent

torch = pytest.importorskip("torch")

KIT = paths.kit_root()
ASSIGNMENT = config.load()
Q5 = ASSIGNMENT.question("Q5")
Q6 = ASSIGNMENT.question("Q6")


@pytest.fixture(scope="module")
def models() -> Path:
    return refmodels.reference_models("digits", KIT)


@pytest.fixture(scope="module")
def evalset():
    return scoring.load_eval_set(KIT / "datasets", "digits", private=True)


def make_submission(root: Path, models: Path | None, edits: dict[str, tuple[str, str]] | None = None) -> Path:
    shutil.copytree(paths.reference_dir(KIT) / "src", root / "src",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if models is not None:
        for f in refmodels.FILES:
            shutil.copy2(models / f, root / f)
    for rel, (find, replace) in (edits or {}).items():
        path = root / rel
        text = path.read_text()
        assert text.count(find) == 1, f"{rel}: {find!r}"
        path.write_text(text.replace(find, replace))
    return root


def score(sub: Path, question, evalset, model_overrides=None, wire_tap=None, device="cpu"):
    if model_overrides:
        question = dataclasses.replace(question, model={**question.model, **model_overrides})
    worker = Worker(sub, limits=question.limits, hide=[KIT])
    worker.wire_tap = wire_tap
    with worker:
        return scoring.score_question(worker, question, evalset, device=device)


def test_reference_cnn_scores_the_same_through_the_sandbox_as_in_process(tmp_path, models, evalset):
    sub = make_submission(tmp_path / "sub", models)
    result = score(sub, Q6, evalset)
    assert result.ok, result.message
    local = InProcessStudent(sub).cnn_tools
    x = np.ascontiguousarray(evalset.images[:, None, :, :], dtype=np.float32)
    preds = local.predict_numpy(x, path=str(sub / "model.safetensors")).argmax(axis=1)
    expected = float(np.mean(preds == evalset.labels))
    assert result.metrics.accuracy == expected
    assert result.metrics.accuracy >= 0.97
    assert result.fraction == 1.0
    assert result.info["n_params"] > 0 and result.info["file"] == "model.safetensors"
    print(f"CNN accuracy {result.metrics.accuracy:.4f} in {result.seconds:.2f} s "
          f"(inference {result.inference_seconds:.3f} s, peak {result.peak_memory_mb:.0f} MB)")


def test_reference_fc_model_scores_through_test_py(tmp_path, models, evalset):
    sub = make_submission(tmp_path / "sub", models)
    result = score(sub, Q5, evalset)
    assert result.ok, result.message
    assert result.info["interface"] == "load_model/predict"
    assert result.metrics.accuracy >= 0.93 and result.fraction == 1.0


def test_handout_interface_test_fer_model_is_graded(tmp_path, models, evalset):
    """Without load_model/predict, the handout's test_fer_model(img_folder) is used."""
    sub = make_submission(tmp_path / "sub", models, {
        "src/test.py": ("def load_model(path=MODEL_PATH):", "def _load_model(path=MODEL_PATH):")})
    (sub / "src" / "test.py").write_text((sub / "src" / "test.py").read_text()
                                         .replace("predict(load_model(model)", "predict(_load_model(model)"))
    result = score(sub, Q5, evalset)
    assert result.ok, result.message
    assert result.info["interface"] == "test_fer_model"
    assert "test_fer_model" in result.message
    assert result.metrics.accuracy >= 0.93


def test_pickle_payload_in_model_pt_is_refused_without_running(tmp_path, evalset):
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    sub = make_submission(tmp_path / "sub", None)
    torch.save({"features.0.weight": Payload()}, sub / "model.pt")
    # positive control: a full unpickle runs the payload
    subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(sub / 'model.pt')!r}, weights_only=False)"],
                   capture_output=True)
    assert marker.exists()
    marker.unlink()
    result = score(sub, Q6, evalset)
    assert not result.ok and result.fraction == 0.0
    assert "weights_only=True" in result.message and "pickled objects are refused" in result.message
    assert not marker.exists()


def test_state_dict_saved_as_model_pt_works(tmp_path, models, evalset):
    from safetensors.torch import load_file
    sub = make_submission(tmp_path / "sub", None)
    torch.save(load_file(str(models / "model.safetensors")), sub / "model.pt")
    result = score(sub, Q6, evalset)
    assert result.ok and result.info["file"] == "model.pt" and result.metrics.accuracy >= 0.97


def test_wrong_keys_and_shapes_name_the_first_mismatch(tmp_path, models, evalset):
    from safetensors.torch import load_file, save_file
    state = load_file(str(models / "model.safetensors"))
    sub = make_submission(tmp_path / "keys", None)
    renamed = {("head." + k if k.startswith("classifier") else k): v for k, v in state.items()}
    save_file(renamed, str(sub / "model.safetensors"))
    result = score(sub, Q6, evalset)
    assert not result.ok and "has no entry 'classifier.2.weight'" in result.message
    sub = make_submission(tmp_path / "shapes", None)
    wrong = dict(state)
    wrong["classifier.2.weight"] = torch.zeros(7, wrong["classifier.2.weight"].shape[1])
    save_file(wrong, str(sub / "model.safetensors"))
    result = score(sub, Q6, evalset)
    assert not result.ok
    assert "'classifier.2.weight' has shape (7, 256), but Net() expects (10, 256)" in result.message


def test_safetensors_header_that_lies_about_sizes_is_refused(tmp_path, evalset):
    sub = make_submission(tmp_path / "sub", None)
    header = b'{"features.0.weight":{"dtype":"F32","shape":[32,1,3,3],"data_offsets":[0,99999999]}}'
    (sub / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
    result = score(sub, Q6, evalset)
    assert not result.ok and "not a valid safetensors file" in result.message


def test_nan_producing_model_fails_with_a_clear_message(tmp_path, models, evalset):
    sub = make_submission(tmp_path / "sub", models, {
        "src/cnn.py": ("return self.classifier(self.features(x))",
                       "return self.classifier(self.features(x)) * float('nan')")})
    result = score(sub, Q6, evalset)
    assert not result.ok and "contain NaN or infinity for 256 of 256 images" in result.message


def test_model_over_the_parameter_limit_fails(tmp_path, models, evalset):
    sub = make_submission(tmp_path / "sub", models)
    result = score(sub, Q6, evalset, {"max_params": 1000})
    assert not result.ok and "parameters; the limit is 1,000" in result.message


def test_model_that_sleeps_past_the_batch_limit_fails(tmp_path, models, evalset):
    sub = make_submission(tmp_path / "sub", models, {
        "src/cnn.py": ('        x = (x - 0.5) / 0.5\n', '        import time; time.sleep(600)\n        x = (x - 0.5) / 0.5\n')})
    result = score(sub, Q6, evalset, {"batch_timeout_s": 2})
    assert not result.ok
    assert "timed out after 2 s in inference on images 0..255 (the per-call limit)" in result.message
    assert result.seconds < 30


def test_missing_model_file_says_what_was_expected(tmp_path, evalset):
    sub = make_submission(tmp_path / "sub", None)
    result = score(sub, Q6, evalset)
    assert not result.ok and "expected one of model.safetensors, model.pt, model.pth" in result.message


def test_cuda_requested_without_a_gpu_is_a_clear_message(tmp_path, models, evalset):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the cuda path is exercised by bench/bench_scoring.py")
    sub = make_submission(tmp_path / "sub", models)
    result = score(sub, Q6, evalset, device="cuda")
    assert not result.ok and "--device cuda was requested but there is no usable GPU" in result.message
    assert result.device == "none" and "not of your submission" in result.message
    assert score(sub, Q6, evalset, device="auto").ok      # auto falls back to the CPU


def test_labels_never_reach_the_worker(tmp_path, models):
    """A distinctive label sequence (a 64-bit sentinel, one bit per image) is planted in the
    private labels; no encoding of it appears in any byte given to the worker."""
    rng = np.random.default_rng(0xD1CE)
    sentinel = int(rng.integers(1, 2**63))
    bits = np.array([(sentinel >> i) & 1 for i in range(64)], dtype=np.int64)
    labels = bits * 9                       # classes 0 and 9: the pattern is the sentinel's bits
    full = scoring.load_eval_set(KIT / "datasets", "digits", private=True)
    images = np.concatenate([full.images[full.labels == 0][:32], full.images[full.labels == 9][:32]])
    order = np.argsort(bits, kind="stable")
    planted = np.empty_like(images)
    planted[order] = images
    evalset = scoring.EvalSet("digits", "private test", planted, labels, full.class_names)
    forms = [labels.astype(t).tobytes() for t in (np.int64, np.int32, np.int16, np.uint8)]
    forms += [labels.astype(np.int64).byteswap().tobytes(), struct.pack("<Q", sentinel),
              struct.pack(">Q", sentinel), str(sentinel).encode(),
              ",".join(map(str, labels)).encode(), ", ".join(map(str, labels)).encode(),
              " ".join(map(str, labels)).encode(), bytes(bits.astype(np.uint8))]
    sent: list[bytes] = []
    sub = make_submission(tmp_path / "sub", models)
    result = score(sub, Q6, evalset, wire_tap=sent.append)
    assert result.ok and result.metrics.n == 64
    blob = b"".join(sent)
    # positive control: the tap saw the images that were sent
    assert np.ascontiguousarray(planted[:1, None], dtype=np.float32).tobytes() in blob
    for form in forms:
        assert form not in blob, "the labels crossed to the worker"
    # and the metrics were computed here, from what the worker returned
    assert 0.9 <= result.metrics.accuracy <= 1.0


def test_a_broken_model_fails_its_question_alone(tmp_path, models):
    sub = make_submission(tmp_path / "sub", models, {
        "src/cnn.py": ("return self.classifier(self.features(x))",
                       "return self.classifier(self.features(x)) * float('nan')")})
    cfg = config.parse({**ASSIGNMENT.raw, "assignment": {**ASSIGNMENT.raw["assignment"], "include": ["Q3", "Q6"]}},
                       ASSIGNMENT.path, paths.reference_dir(KIT))
    out = tmp_path / "results" / "results.json"
    res = grading.grade(sub, assignment=cfg, out=out, fixed_seed=True, report_dir=tmp_path / "report")
    by_q = {q.id: q for q in res.questions}
    assert by_q["Q3"].score == by_q["Q3"].max_score
    model_test = [t for t in res.doc["tests"] if "saved model" in t["name"]][0]
    assert model_test["score"] == 0 and "NaN" in model_test["output"]
    results.validate(res.doc)
    assert (tmp_path / "report" / "report.json").is_file()


def test_selftest_scores_on_the_public_validation_split(tmp_path, models):
    folder = tmp_path / "handout"
    shutil.copytree(paths.template_dir(KIT), folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(folder / "src")
    make_submission(folder, models)
    (folder / "datasets" / "digits").mkdir(parents=True)
    shutil.copytree(KIT / "datasets" / "digits" / "public", folder / "datasets" / "digits" / "public")
    cfg = config.parse({**ASSIGNMENT.raw, "assignment": {**ASSIGNMENT.raw["assignment"], "include": ["Q6"]}},
                       ASSIGNMENT.path, paths.reference_dir(KIT))
    res = grading.grade(folder, assignment=cfg, layout=grading.Layout.handout(folder), hidden=False,
                        models=True, fixed_seed=True)
    model_test = [t for t in res.doc["tests"] if "saved model" in t["name"]][0]
    assert "public validation set (360 images)" in model_test["output"]
    assert model_test["score"] == model_test["max_score"]
