"""Finite-difference probes (autograder/worker/probes.py): numerical gradients whose
evaluations run next to the student code in one request.

The probe must give exactly the numbers of the one-call-at-a-time checks
(:func:`testkit.numerical_gradient`, :func:`testkit.numerical_gradient_array`) in both
backends, leave the model's parameters as they were, survive functions that modify their
inputs in place, name what is wrong with an unusable output, and stop a hang with the per-test
timeout.
"""
import textwrap
from pathlib import Path

import numpy as np
import pytest

from autograder import paths
from autograder.config import Limits
from autograder.sandbox.client import SandboxFailure, Worker
from autograder.sandbox.remote import RemoteStudent
from autograder.student import InProcessStudent
from autograder.testkit import (CheckFailed, assert_param_gradients, numerical_gradient,
                                numerical_gradient_array, numerical_gradient_of,
                                numerical_param_gradients, to_array, to_scalar)

KIT = paths.kit_root()

CODE = textwrap.dedent('''
    import time
    import numpy as np

    def affine(x, w, b):
        return np.tanh(x.reshape(x.shape[0], -1) @ w + b)

    def loss_and_grad(x, y):
        shifted = x - x.max(axis=1, keepdims=True)
        p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y]).mean(), p

    def scribbles(x):
        out = np.sin(x)
        x[...] = 1e6                      # modifies its input in place
        return out

    def not_a_scalar(x):
        return np.ones(3), None

    def not_a_tuple(x):
        return 1.0

    def wrong_shape(x):
        return np.ones((2, 2))

    def spin(x):
        while True:
            pass

    class Net:
        def __init__(self):
            rs = np.random.RandomState(0)
            self.params = {"W": rs.randn(4, 3), "b": rs.randn(3)}

        def loss(self, X, y):
            scores = np.tanh(X @ self.params["W"] + self.params["b"])
            self.params["W"] += 0.0 * scores.sum()   # harmless in-place touch
            return float(np.sum((scores - y) ** 2)), {"W": None, "b": None}

    CALLS = [0]

    class Layer:
        """tanh(X W + b) summed against y, with its analytic gradient; ``bug`` breaks it."""

        def __init__(self, bug=""):
            rs = np.random.RandomState(5)
            self.params = {"W": rs.randn(6, 20) * 0.3, "b": rs.randn(20) * 0.3}
            self.bug = bug

        def loss(self, X, y):
            CALLS[0] += 1
            out = np.tanh(X @ self.params["W"] + self.params["b"])
            dpre = (1 - out ** 2) * y
            grads = {"W": X.T @ dpre, "b": dpre.sum(axis=0)}
            if self.bug == "one-entry":
                grads["W"][3, 7] *= 1.5
            elif self.bug == "slightly-off":     # 3e-5 relative: within tol 1e-4 entry by entry
                grads["W"] = grads["W"] * (1 + 3e-5)
            elif self.bug == "shape":
                grads["b"] = grads["b"][None, :]
            elif self.bug == "nan":
                grads["b"][4] = np.nan
            return float(np.sum(out * y)), grads

    class Forgetful:
        def __init__(self):
            self.params = [1.0, 2.0]

        def loss(self, X, y):
            return 0.0, {}
''')


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe-sub")
    (root / "src").mkdir()
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "code.py").write_text(CODE)
    return root


@pytest.fixture(scope="module")
def worker(submission):
    w = Worker(submission, limits=Limits.merged({"test_timeout_s": 3, "cpu_s": 10}),
               hide=[KIT, Path("/autograder")])
    w.start()
    yield w
    w.close()


@pytest.fixture(params=["in-process", "sandbox"])
def student(request, submission, worker):
    if request.param == "in-process":
        yield InProcessStudent(submission)
        return
    session = worker.session()
    yield RemoteStudent(session)
    session.close()


def _inputs():
    rs = np.random.RandomState(7)
    return rs.randn(5, 2, 3), rs.randn(6, 4), rs.randn(4), rs.randn(5, 4)


def test_array_output_gradients_equal_the_one_call_at_a_time_check(student):
    x, w, b, dout = _inputs()
    f = student.code.affine
    for i, arg in enumerate((x, w, b)):
        def one_at_a_time(v, i=i):
            args = [x, w, b]
            args[i] = v
            return f(*args)
        expected = numerical_gradient_array(one_at_a_time, arg.copy(), dout)
        got = numerical_gradient_of(f, (x, w, b), i, dout)
        assert got.shape == arg.shape
        np.testing.assert_array_equal(got, expected)    # bit for bit: same order of operations


def test_scalar_output_with_index_equals_numerical_gradient(student):
    rs = np.random.RandomState(3)
    X, y = rs.randn(6, 5), rs.randint(5, size=6)
    f = student.code.loss_and_grad
    expected = numerical_gradient(lambda v: to_scalar(f(v, y)[0], "loss"), X.copy())
    np.testing.assert_array_equal(numerical_gradient_of(f, (X, y), 0, index=0), expected)
    # a keyword argument can be the one perturbed
    np.testing.assert_array_equal(
        numerical_gradient_of(f, (), "x", index=0, kwargs={"x": X, "y": y}), expected)


def test_param_gradients_match_and_leave_the_params_as_they_were(student):
    model = student.code.Net()
    rs = np.random.RandomState(1)
    X, y = rs.randn(5, 4), rs.randn(5, 3)
    before = {k: to_array(v, k) for k, v in model.params.items()}

    def one_at_a_time(name):
        params = {k: v.copy() for k, v in before.items()}

        def f(value):
            trial = dict(params)
            trial[name] = value
            model.params = trial
            return to_scalar(model.loss(X, y)[0], "loss")
        return numerical_gradient(f, params[name].copy())

    expected = {name: one_at_a_time(name) for name in before}
    model.params = {k: v.copy() for k, v in before.items()}
    got = numerical_param_gradients(model.loss, X, y, index=0)
    assert sorted(got) == ["W", "b"]
    for name in before:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    after = model.params
    for name, value in before.items():
        np.testing.assert_array_equal(to_array(after[name], name), value)
    # only some entries
    assert sorted(numerical_param_gradients(model.loss, X, y, index=0, keys=["b"])) == ["b"]


def test_a_function_that_modifies_its_input_cannot_corrupt_the_probe(student):
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    got = numerical_gradient_of(student.code.scribbles, (x,), 0, np.ones((2, 3)))
    np.testing.assert_allclose(got, np.cos(np.linspace(-1.0, 1.0, 6)).reshape(2, 3), rtol=1e-8)
    np.testing.assert_array_equal(x, np.linspace(-1.0, 1.0, 6).reshape(2, 3))   # trusted copy


@pytest.mark.parametrize("name, kwargs, message", [
    ("not_a_scalar", {"index": 0}, r"not_a_scalar\[0\]: expected a scalar .* shape \(3,\)"),
    ("not_a_tuple", {"index": 0}, r"must return a tuple with at least 1 items, got a value of type float"),
    ("wrong_shape", {"df": np.ones(3)}, r"has shape \(2, 2\); expected \(3,\)"),
])
def test_unusable_outputs_fail_the_check_and_say_why(student, name, kwargs, message):
    fn = getattr(student.code, name)
    with pytest.raises(CheckFailed, match=message):
        numerical_gradient_of(fn, (np.zeros(3),), 0, kwargs.get("df"), index=kwargs.get("index"))


def test_params_that_are_not_a_dict_fail_the_check(student):
    model = student.code.Forgetful()
    with pytest.raises(CheckFailed, match="params must be a dict of arrays, got a value of type list"):
        numerical_param_gradients(model.loss, np.zeros(2), np.zeros(2), index=0)


def test_a_hang_inside_a_probe_times_out_naming_the_function(worker):
    session = worker.session()
    with pytest.raises(SandboxFailure, match=r"timed out after 3 s in code.spin"):
        numerical_gradient_of(RemoteStudent(session).code.spin, (np.zeros(2),), 0, index=None)
    session.close()


def _layer_case(student, bug=""):
    rs = np.random.RandomState(2)
    model = student.code.Layer(bug)
    X, y = rs.randn(4, 6), rs.randn(4, 20)
    return model, X, y


def _calls(student):
    return int(student.attr("code.CALLS")[0])


def test_correct_param_gradients_pass_along_directions_with_few_evaluations(student):
    model, X, y = _layer_case(student)
    _, grads = model.loss(X, y)
    before = _calls(student)
    errors = assert_param_gradients(model.loss, (X, y), grads, 1e-7, index=0)
    assert sorted(errors) == ["W", "b"] and max(errors.values()) < 1e-8
    # 2 parameters x 3 directions x 2 evaluations, not 2 per entry (2 x 140)
    assert _calls(student) - before == 12
    np.testing.assert_array_equal(to_array(model.params["W"], "W"),
                                  np.random.RandomState(5).randn(6, 20) * 0.3)


def test_a_wrong_entry_fails_with_the_entry_wise_check_and_its_index(student):
    model, X, y = _layer_case(student, "one-entry")
    _, grads = model.loss(X, y)
    with pytest.raises(CheckFailed, match=r"grads\['W'\]: max relative error .* at index \(3, 7\)"):
        assert_param_gradients(model.loss, (X, y), grads, 1e-7, index=0)


def test_a_near_miss_along_directions_is_decided_by_the_entry_wise_check(student):
    model, X, y = _layer_case(student, "slightly-off")
    _, grads = model.loss(X, y)
    before = _calls(student)
    errors = assert_param_gradients(model.loss, (X, y), grads, 1e-4, index=0)
    assert 1e-5 < errors["W"] <= 1e-4 and errors["b"] < 1e-8
    assert _calls(student) - before == 12 + 2 * 120     # W alone checked entry by entry
    with pytest.raises(CheckFailed, match=r"grads\['W'\]: max relative error"):
        assert_param_gradients(model.loss, (X, y), grads, 1e-5, index=0)


@pytest.mark.parametrize("bug, message", [
    ("shape", r"grads\['b'\] has shape \(1, 20\); expected \(20,\)"),
    ("nan", r"grads\['b'\] contains nan .* at index \(4,\)"),
])
def test_wrong_shapes_and_nans_in_the_gradients_are_named(student, bug, message):
    model, X, y = _layer_case(student, bug)
    _, grads = model.loss(X, y)
    with pytest.raises(CheckFailed, match=message):
        assert_param_gradients(model.loss, (X, y), grads, 1e-7, index=0)
