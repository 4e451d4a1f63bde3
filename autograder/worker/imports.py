"""Which of the submission's files a test's child is importing, and refusing the ones whose
import already timed out.

Top-level code runs on every import, and every test's child imports the submission afresh
(the zygote never imports student code).  A module whose top-level code hangs would therefore
cost every test that imports it its whole time limit, and the tests of unrelated questions
would lose their share of the submission's time budget.  So:

* :class:`ImportWatch` sits on ``sys.meta_path`` just before ``PathFinder`` (the finder that
  would find the file anyway: lookup order and names are unchanged).  While a file under the
  submission root runs its top-level code, the child keeps the stack of such files in a small
  shared page (:func:`new_page`) that the zygote made before forking it.  After the child has
  ended, the zygote returns the page's text (:func:`read_page`) to the grader, which then
  knows that a timeout or a crash happened *while importing* ``src/layers.py``, even inside a
  nested import or a lazy one inside a function.
* The grader names, in each ``fork`` command, the files whose import did not finish in as much
  time as the new test allows.  Importing one of them raises :class:`ImportTimedOut` at once
  (a ``BaseException``: ``except Exception`` in student code does not swallow it); the grader
  turns it into the test's failure message.

Page format: UTF-8 lines ``"<monotonic start> <path relative to the submission root>"``,
outermost first, ended by a NUL byte.  Student code can overwrite the page; the grader parses
it defensively, and a forged page can only cost the submission its own points.
"""
from __future__ import annotations

import importlib.machinery
import mmap
import os
import sys
import time
from typing import Any

PAGE_SIZE = 4096


class ImportTimedOut(BaseException):
    """Importing a file whose import timed out in an earlier test; ``args[0]`` is its path
    relative to the submission root."""


def new_page() -> mmap.mmap:
    """A shared anonymous page, inherited by a forked child (the zygote makes one per fork)."""
    page = mmap.mmap(-1, PAGE_SIZE)
    page[0:1] = b"\0"
    return page


def read_page(page: mmap.mmap) -> str:
    """The page's text (untrusted: the child may have written anything)."""
    data = page[:PAGE_SIZE]
    return data.split(b"\0", 1)[0].decode("utf-8", "replace")


_SUBCLASSES: dict[type, type] = {}


def _watched_class(cls: type) -> type:
    """A subclass of the loader's class whose ``exec_module`` is watched (keeps
    ``isinstance`` checks, ``get_source`` and every other method of the real loader)."""
    sub = _SUBCLASSES.get(cls)
    if sub is None:
        def exec_module(self: Any, module: Any) -> None:
            watch = self._dlkit_watch
            watch.push(self._dlkit_rel)
            try:
                cls.exec_module(self, module)
            finally:
                watch.pop()
        sub = type(cls.__name__, (cls,), {"exec_module": exec_module, "__module__": cls.__module__,
                                          "__qualname__": cls.__qualname__})
        _SUBCLASSES[cls] = sub
    return sub


class ImportWatch:
    """The meta-path finder described in the module docstring (one per zygote)."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        # a module's origin is its sys.path entry + its name: a prefix test first, so that the
        # thousands of library modules (torch imports ~2300) cost no realpath
        self.prefixes = tuple({os.path.abspath(root) + os.sep, self.root + os.sep})
        self.page: mmap.mmap | None = None
        self.blocked: frozenset[str] = frozenset()
        self.stack: list[tuple[float, str]] = []

    # ------------------------------------------------------------------ child state
    def arm(self, page: mmap.mmap | None, blocked: list[str]) -> None:
        """In a freshly forked child: report into ``page``; refuse the files ``blocked``."""
        self.page = page
        self.blocked = frozenset(str(b) for b in blocked)
        self.stack = []

    def push(self, rel: str) -> None:
        self.stack.append((time.monotonic(), rel))
        self._write()

    def pop(self) -> None:
        if self.stack:
            self.stack.pop()
        self._write()

    def _write(self) -> None:
        page = self.page
        if page is None:
            return
        lines = [f"{start:.6f} {rel}" for start, rel in self.stack]
        data = "\n".join(lines).encode("utf-8", "replace")
        while len(data) >= PAGE_SIZE and lines:       # keep the innermost entries
            lines.pop(0)
            data = "\n".join(lines).encode("utf-8", "replace")
        try:
            page[:len(data) + 1] = data + b"\0"
        except (ValueError, IndexError):
            pass

    # ------------------------------------------------------------------ finder
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or not spec.origin or spec.loader is None:
            return spec
        if not spec.origin.startswith(self.prefixes):
            return spec
        origin = os.path.realpath(spec.origin)
        if not origin.startswith(self.root + os.sep):
            return spec
        rel = os.path.relpath(origin, self.root)
        if rel in self.blocked:
            raise ImportTimedOut(rel)
        loader = spec.loader
        if not hasattr(loader, "__dict__"):
            return spec
        try:
            watched = object.__new__(_watched_class(type(loader)))
            watched.__dict__.update(loader.__dict__)
            watched._dlkit_watch = self
            watched._dlkit_rel = rel
        except (TypeError, AttributeError):
            return spec
        spec.loader = watched
        return spec


_WATCH: list[ImportWatch] = []


def install(root: str) -> ImportWatch:
    """Put an :class:`ImportWatch` for the submission at ``root`` just before ``PathFinder``
    (in the zygote, before any student code is imported)."""
    watch = ImportWatch(root)
    index = next((i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder),
                 len(sys.meta_path))
    sys.meta_path.insert(index, watch)
    _WATCH[:] = [watch]
    return watch


def arm(page: mmap.mmap | None, blocked: list[str]) -> None:
    """Arm the installed watch in a forked child (no-op where none is installed)."""
    if _WATCH:
        _WATCH[0].arm(page, blocked)
