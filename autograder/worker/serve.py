"""The per-test worker process: imports student modules and serves calls as data.

Requests (JSON documents, see :mod:`.protocol`):

``{"op": "call", "path": "layers.linear_forward", "args": [...], "kwargs": {...}}``
    call a function or class of the submission (path relative to ``src``);
``{"op": "call", "handle": 3, "attr": "loss", ...}``
    call a method of (or, without ``attr``, the object itself) a worker-side object;
``{"op": "getattr", "handle": 3, "attr": "params"}`` / ``{"op": "getattr", "path": "..."}``
``{"op": "setattr", "handle": 3, "attr": "params", "value": ...}``
``{"op": "seed", "value": 231 | numpy state}``
``{"op": "probe", <a call's target, args, kwargs>, "wrt": {...}, "h": 1e-5, "index": 0, "df": ...}``
    the call's values at ``x ± h`` for every entry of one input (:mod:`.probes`): the raw
    values of a numerical gradient check, made here in one request instead of two per entry;
``{"op": "ping"}``

Replies: ``{"ok": true, "value": ..., "after": {"args": [...], "kwargs": {...}},
"notes": [...]}`` or ``{"ok": false, "error": {"type", "mro", "message", "trace"}}``; every
reply also carries ``"seconds"``: how long the op took in this process.

``after`` carries the post-call state of array, dict and list arguments (unchanged arrays are
sent as ``null``), so in-place contracts can be checked on the trusted side.  Values that
are not data (class instances, functions) stay here behind integer handles.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import inspect
import os
import random
import socket
import sys
import time
import traceback
from typing import Any

import numpy as np

from . import compat, probes, protocol, trusted_functions

MAX_REQUEST = 1 << 31
MESSAGE_CAP = 2000
TRACE_CAP = 4000


def _safe_str(value: Any, cap: int = MESSAGE_CAP) -> str:
    try:
        text = str(value)
    except BaseException:  # noqa: BLE001 - hostile __str__
        text = "<unprintable>"
    return text if len(text) <= cap else text[:cap] + f"... [{len(text) - cap} more characters]"


_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality (NaNs and signed zeros included) without copying the data."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.size == 0:
        return True
    a, b = np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
    as_int = _UINT.get(a.dtype.itemsize, np.uint8)
    return bool(np.array_equal(a.view(as_int), b.view(as_int)))


class _HandoutAliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import assignment2_advanced.src.layers`` (the Imperial handout's package path) resolves
    to the submission's own ``src.layers`` module object."""

    PREFIX = "assignment2_advanced"

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name == self.PREFIX or name.startswith(self.PREFIX + "."):
            return importlib.util.spec_from_loader(name, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> Any:
        if spec.name == self.PREFIX:
            import types
            module = types.ModuleType(spec.name)
            module.__path__ = []
            return module
        return importlib.import_module(spec.name[len(self.PREFIX) + 1:])

    def exec_module(self, module: Any) -> None:
        pass


def install_handout_aliases() -> None:
    if not any(isinstance(f, _HandoutAliases) for f in sys.meta_path):
        sys.meta_path.append(_HandoutAliases())


class Server:
    """Serves one grader connection for one test."""

    def __init__(self, sock: socket.socket, submission_root: str, package: str = "src"):
        self.sock = sock
        self.root = os.path.realpath(submission_root)
        self.package = package
        self.handles: dict[int, Any] = {}
        self.handle_of: dict[int, int] = {}

    # ------------------------------------------------------------------ handles
    def _handle(self, obj: Any) -> dict[str, Any]:
        key = id(obj)
        if key not in self.handle_of:
            hid = len(self.handles) + 1
            self.handles[hid] = obj
            self.handle_of[key] = hid
        return {"$h": self.handle_of[key], "type": _safe_str(type(obj).__name__, 80)}

    def _special(self, tag: str, node: dict[str, Any]) -> Any:
        if tag == "$h":
            try:
                return self.handles[node["$h"]]
            except (KeyError, TypeError):
                raise protocol.ProtocolError(f"unknown handle {node.get('$h')!r}") from None
        if tag == "$ref":
            return self.resolve(str(node["$ref"]))
        if tag == "$fn":
            params = protocol.decode_value(node.get("params", {}), self._blobs)
            return trusted_functions.build(str(node["$fn"]), params)
        raise protocol.ProtocolError(f"unexpected {tag} in a request")

    # ------------------------------------------------------------------ resolution
    def resolve(self, path: str) -> Any:
        """The object at ``path`` (``module[.sub].attr``) of the submission's package."""
        parts = path.split(".")
        for cut in range(len(parts), 0, -1):
            modname = ".".join([self.package, *parts[:cut]])
            try:
                spec = importlib.util.find_spec(modname)
            except (ImportError, ValueError):
                spec = None
            if spec is None:
                continue
            obj: Any = importlib.import_module(modname)
            for i, attr in enumerate(parts[cut:]):
                try:
                    obj = getattr(obj, attr)
                except AttributeError:
                    where = ".".join(parts[:cut + i])
                    raise AttributeError(
                        f"{self.package}/{'/'.join(parts[:cut])}.py has no {attr!r}"
                        + (f" in {where}" if i else "")
                        + f" (expected {path} as ASSIGNMENT.md §Q4 \"Scripts\" specifies)") from None
            return obj
        raise ModuleNotFoundError(f"no module {self.package}/{parts[0]}.py in the submission "
                                  f"(needed for {path})")

    # ------------------------------------------------------------------ errors
    def _error(self, exc: BaseException) -> dict[str, Any]:
        frames = []
        try:
            for fr in traceback.extract_tb(exc.__traceback__):
                filename = os.path.realpath(fr.filename)
                if filename.startswith(self.root + os.sep):
                    rel = os.path.relpath(filename, self.root)
                    frames.append(f"  {rel}:{fr.lineno} in {fr.name}: {(fr.line or '').strip()}")
        except BaseException:  # noqa: BLE001
            frames = []
        if isinstance(exc, SyntaxError) and exc.filename:
            rel = os.path.relpath(os.path.realpath(exc.filename), self.root)
            frames.append(f"  {rel}:{exc.lineno}: {(exc.text or '').strip()}")
        trace = "\n".join(frames[-12:])
        return {"type": _safe_str(type(exc).__name__, 80),
                "mro": [_safe_str(c.__name__, 80) for c in type(exc).__mro__[1:6]],
                "message": _safe_str(exc),
                "trace": trace[-TRACE_CAP:]}

    # ------------------------------------------------------------------ ops
    def _after(self, originals: list[Any], snapshots: list[Any], blobs: list[bytes]) -> list[Any]:
        out = []
        for value, snap in zip(originals, snapshots):
            if isinstance(value, np.ndarray):
                same = snap is not None and _same_bits(value, snap)
                out.append(None if same else protocol.encode_value(value, blobs, self._handle))
            elif isinstance(value, (dict, list)):
                out.append(protocol.encode_value(value, blobs, self._handle))
            else:
                out.append(None)
        return out

    def _target(self, doc: dict[str, Any]) -> tuple[Any, Any]:
        """What a ``call``/``probe`` request names (:func:`protocol.call_target`): the callable,
        and the kept object it belongs to (None for a submission function)."""
        if "handle" in doc:
            owner = self.handles[doc["handle"]]
            return (getattr(owner, doc["attr"]) if doc.get("attr") else owner), owner
        return self.resolve(doc["path"]), None

    def op_call(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        args = protocol.decode_value(doc.get("args", []), blobs, self._special)
        kwargs = protocol.decode_value(doc.get("kwargs", {"$d": [], "k": "dict"}), blobs, self._special)
        fn, _ = self._target(doc)
        arg_list = list(args)
        kw_names = list(kwargs)
        originals = arg_list + [kwargs[k] for k in kw_names]
        snapshots = [v.copy() if isinstance(v, np.ndarray) else None for v in originals]
        result = fn(*arg_list, **kwargs)
        out_blobs: list[bytes] = []
        value = protocol.encode_value(result, out_blobs, self._handle)
        after = self._after(originals, snapshots, out_blobs)
        return ({"ok": True, "value": value,
                 "after": {"args": after[:len(arg_list)],
                           "kwargs": dict(zip(kw_names, after[len(arg_list):]))}}, out_blobs)

    def op_probe(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        args = protocol.decode_value(doc.get("args", []), blobs, self._special)
        kwargs = protocol.decode_value(doc.get("kwargs", {"$d": [], "k": "dict"}), blobs, self._special)
        fn, owner = self._target(doc)
        wrt = protocol.decode_value(doc["wrt"], blobs)
        df = protocol.decode_value(doc["df"], blobs) if doc.get("df") is not None else None
        index = doc.get("index")
        values = probes.probe(fn, list(args), dict(kwargs), dict(wrt), h=float(doc.get("h", 1e-5)),
                              index=int(index) if index is not None else None, df=df,
                              owner=owner, what=str(doc.get("where", "the function"))[:200])
        out_blobs: list[bytes] = []
        return {"ok": True, "value": protocol.encode_value(values, out_blobs)}, out_blobs

    def op_getattr(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        if "handle" in doc:
            value = getattr(self.handles[doc["handle"]], doc["attr"])
        else:
            value = self.resolve(doc["path"])
        if inspect.ismethod(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
            return {"ok": True, "value": {"$m": doc.get("attr", doc.get("path"))}}, []
        out_blobs: list[bytes] = []
        return {"ok": True, "value": protocol.encode_value(value, out_blobs, self._handle)}, out_blobs

    def op_setattr(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        value = protocol.decode_value(doc["value"], blobs, self._special)
        setattr(self.handles[doc["handle"]], doc["attr"], value)
        return {"ok": True, "value": None}, []

    def op_seed(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        value = protocol.decode_value(doc["value"], blobs)
        if isinstance(value, (tuple, list)):
            np.random.set_state(tuple(value))
        else:
            np.random.seed(int(value))
            random.seed(int(value))
        return {"ok": True, "value": None}, []

    # ------------------------------------------------------------------ saved models
    def op_model_load(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """Load the submission's saved model with the trusted loaders of :mod:`.models`."""
        from . import models
        spec = protocol.decode_value(doc["spec"], blobs)
        files = list(spec.get("files", []))
        max_mb = float(spec.get("max_model_mb", 512))
        if spec.get("interface") == "torch":
            self.model = models.load_torch(self.resolve, self.root, files, max_mb, spec.get("device", "auto"))
        else:
            self.model = models.load_testpy(self.resolve, self.root, files, max_mb)
        out: list[bytes] = []
        return {"ok": True, "value": protocol.encode_value(self.model.info, out)}, out

    def op_model_scores(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """Scores (or, with ``"folder": true``, predicted labels via test_fer_model) for one
        batch of images."""
        images = protocol.decode_value(doc["images"], blobs)
        if doc.get("folder"):
            result = self.model.predictions_from_folder(images)
        else:
            result = self.model.scores(images)
        out: list[bytes] = []
        return {"ok": True, "value": protocol.encode_value(np.asarray(result), out)}, out

    def op_ping(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        return {"ok": True, "value": "pong"}, []

    # ------------------------------------------------------------------ loop
    def handle_one(self, doc: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        self._blobs = blobs
        op = getattr(self, f"op_{doc.get('op')}", None)
        if op is None:
            return {"ok": False, "error": {"type": "ProtocolError", "mro": [], "trace": "",
                                           "message": f"unknown op {doc.get('op')!r}"}}, []
        began = time.perf_counter()
        try:
            reply, out_blobs = op(doc, blobs)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            reply, out_blobs = {"ok": False, "error": self._error(exc)}, []
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except BaseException:  # noqa: BLE001
                    pass
        # what the op took here, student code included: the grader splits a test's wall time
        # into this and transport (it trusts the figure only within its own measured wait)
        reply["seconds"] = round(time.perf_counter() - began, 6)
        notes = compat.notes()
        if notes:
            reply["notes"] = notes
        return reply, out_blobs

    def run(self) -> None:
        while True:
            try:
                doc, blobs = protocol.recv_frame(self.sock, MAX_REQUEST)
            except (EOFError, OSError):
                return
            reply, out_blobs = self.handle_one(doc, blobs)
            try:
                parts = protocol.frame_parts(reply, out_blobs)
            except BaseException as exc:  # noqa: BLE001 - e.g. MemoryError while packing
                parts = protocol.frame_parts({"ok": False, "error": self._error(exc)}, [])
            protocol.send_parts(self.sock, parts)
