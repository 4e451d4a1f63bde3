"""Access to a submission's code from tests: ``student.layers.linear_forward(X, W, b)``.

Tests (public and hidden) never import student modules themselves; they use the ``student``
fixture, whose attribute paths name modules under the submission's ``src/``:

    out = student.layers.linear_forward(X, W, b)
    model = student.fcnet.FullyConnectedNet([20, 30], input_dim=15, dtype=np.float64)
    model.params = {...}                  # set whole attributes (a read returns a copy)
    loss, grads = model.loss(X, y)
    student.nn.forward(X, params, "layer1", activation=student.nn.sigmoid)

Two backends implement this interface:

* :class:`InProcessStudent` — imports the code into the test process.  This is what a
  student's own ``pytest`` in the template uses: their code, their machine.
* the sandboxed backend (:mod:`autograder.sandbox.remote`) — every call crosses into an
  isolated worker process as data; return values come back as plain arrays, numbers,
  strings, lists and dicts, objects stay in the worker behind handles, and the post-call
  state of dict and array arguments is copied back into the caller's objects so in-place
  contracts (``nn.py``'s ``params``, an optimiser's ``w``) behave the same in both backends.

Exceptions raised by student code arrive in the sandbox as :class:`StudentError`; use
:func:`autograder.testkit.raises` to expect one in either backend.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


class StudentError(Exception):
    """Student code raised an exception (sandboxed backend).

    ``type_name`` is the exception class name, ``type_mro`` the names of its bases,
    ``message`` its text, ``where`` the function called, ``trace`` the student-side
    traceback (frames of student files only).
    """

    def __init__(self, type_name: str, message: str, where: str = "", trace: str = "",
                 type_mro: tuple[str, ...] = ()):
        self.type_name = type_name
        self.message = message
        self.where = where
        self.trace = trace
        self.type_mro = tuple(type_mro)
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{type_name}: {message}")


class TrustedFunction:
    """A function from :mod:`autograder.worker.trusted_functions`, named by data.

    Callable on the trusted side; the sandboxed backend sends it as ``(name, params)`` and the
    worker builds the identical function.
    """

    def __init__(self, name: str, params: dict[str, Any]):
        from .worker import trusted_functions
        self.name = name
        self.params = dict(params)
        self._fn = trusted_functions.build(name, self.params)

    def __call__(self, x: Any) -> float:
        return self._fn(x)

    def __repr__(self) -> str:
        return f"trusted_function({self.name!r})"


#: Modules of submission trees that were set aside because another tree was activated,
#: by tree root: several trees (the reference as ``ref`` and a submission, or two kit-test
#: submissions) all name their package ``src`` and may share one process.
_SET_ASIDE: dict[Path, dict[str, ModuleType]] = {}
_TREES: set[Path] = set()
_ACTIVE: list[Path | None] = [None]


def _tree_of(module: ModuleType) -> Path | None:
    """The registered tree a module was loaded from, or None (NumPy, the kit, ...)."""
    where = getattr(module, "__file__", None)
    if where is None:
        paths = list(getattr(module, "__path__", []) or [])
        where = paths[0] if paths else None
    if where is None:
        return None
    path = Path(where).resolve()
    for root in _TREES:
        if root == path or root in path.parents:
            return root
    return None


def _activate(root: Path) -> None:
    """Make ``root``'s modules the ones ``import`` finds: set the other trees' modules aside
    (to be restored when theirs is activated again) and put ``root`` first on ``sys.path``."""
    if _ACTIVE[0] == root:
        return
    for name, module in list(sys.modules.items()):
        tree = _tree_of(module) if module is not None else None
        if tree is not None and tree != root:
            _SET_ASIDE.setdefault(tree, {})[name] = sys.modules.pop(name)
    sys.modules.update(_SET_ASIDE.pop(root, {}))
    for entry in (str(root / "src"), str(root)):
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    importlib.invalidate_caches()
    _ACTIVE[0] = root


class _InProcessNamespace:
    """A module or package of the submission, resolved lazily (``utils`` → ``utils.optim``)."""

    def __init__(self, dotted: str, root: Path | None = None):
        self._dotted = dotted
        self._root = root

    def _module(self) -> ModuleType:
        if self._root is not None:
            _activate(self._root)
        return importlib.import_module(self._dotted)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        module = self._module()
        if hasattr(module, name) and not isinstance(getattr(module, name), ModuleType):
            return getattr(module, name)
        sub = f"{self._dotted}.{name}"
        if importlib.util.find_spec(sub) is not None:
            return _InProcessNamespace(sub, self._root)
        return getattr(module, name)

    def __repr__(self) -> str:
        return f"<student module {self._dotted}>"


class InProcessStudent:
    """The submission at ``root`` (holding ``src/``), imported into this process."""

    def __init__(self, root: Path | str, package: str = "src"):
        self.root = Path(root).resolve()
        self.package = package
        _TREES.add(self.root)
        _activate(self.root)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("root", "package"):
            raise AttributeError(name)
        return getattr(_InProcessNamespace(self.package, self.root), name)

    def attr(self, path: str) -> Any:
        """A module-level value by dotted path, e.g. ``student.attr("train_fcnet.solver")``
        (importing the module runs its top-level code, as for old scripts without main())."""
        module, _, name = path.rpartition(".")
        _activate(self.root)
        return getattr(importlib.import_module(f"{self.package}.{module}"), name)

    def seed(self, seed_or_state: Any) -> None:
        """Seed the student side's global RNGs: an int seeds ``np.random`` and ``random``;
        a ``np.random.get_state()`` tuple restores NumPy's global state exactly (so a test can
        draw its inputs on the trusted side and let the student's code continue the stream).
        """
        import random

        import numpy as np
        if isinstance(seed_or_state, (tuple, list)):
            np.random.set_state(tuple(seed_or_state))
        else:
            np.random.seed(int(seed_or_state))
            random.seed(int(seed_or_state))

    def __repr__(self) -> str:
        return f"<student code in {self.root} (in-process)>"
