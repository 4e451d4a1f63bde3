"""Trusted-side proxies that make a sandbox session look like the student's modules.

``RemoteStudent(session).layers.linear_forward(X, W, b)`` sends a ``call`` request and returns
the decoded reply: only plain data (arrays, numbers, strings, lists, tuples, dicts) or
:class:`RemoteObject` handles ever come back, so nothing the student wrote can execute here.
After each call the post-call state of the caller's array, dict and list arguments is copied
back into them, so in-place contracts look the same as in-process (see
:mod:`autograder.student`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..student import StudentError, TrustedFunction
from ..worker import protocol
from .client import SandboxFailure, Session


_METHOD = object()  # decoded form of a "$m" (callable attribute) reply


def _empty_kwargs() -> dict[str, Any]:
    return {"$d": [], "k": "dict"}


class RemoteCall:
    """Encodes requests and decodes replies for one session."""

    def __init__(self, session: Session):
        self.session = session
        self.origins: dict[int, str] = {}

    # ------------------------------------------------------------------ encoding
    def _encode_other(self, value: Any, blobs: list[bytes]) -> dict[str, Any]:
        if isinstance(value, RemotePath):
            return {"$ref": value._path}
        if isinstance(value, RemoteObject):
            if value._call is not self:
                raise ValueError(f"{value!r} belongs to another test's sandbox session")
            return {"$h": value._hid}
        if isinstance(value, TrustedFunction):
            return {"$fn": value.name, "params": protocol.encode_value(value.params, blobs)}
        raise protocol.ProtocolError(f"cannot send a {type(value).__name__} to student code")

    def encode(self, value: Any, blobs: list[bytes]) -> Any:
        return protocol.encode_value(value, blobs, lambda v: self._encode_other(v, blobs))

    # ------------------------------------------------------------------ decoding
    def _decode_special(self, tag: str, node: dict[str, Any], origin: str) -> Any:
        if tag == "$h":
            hid = node["$h"]
            if not isinstance(hid, int):
                raise protocol.ProtocolError("malformed handle")
            self.origins.setdefault(hid, origin)
            return RemoteObject(self, hid, str(node.get("type", "object"))[:80])
        if tag == "$m":
            return _METHOD
        raise protocol.ProtocolError(f"unexpected {tag} in a reply")

    def decode(self, node: Any, blobs: list[bytes], origin: str) -> Any:
        return protocol.decode_value(node, blobs, lambda t, n: self._decode_special(t, n, origin))

    # ------------------------------------------------------------------ requests
    def _send(self, doc: dict[str, Any], blobs: list[bytes], where: str,
              timeout: float | None = None) -> tuple[dict[str, Any], list[bytes]]:
        reply, reply_blobs = self.session.request(doc, blobs, where, timeout)
        if not reply.get("ok"):
            err = reply.get("error") or {}
            type_name = str(err.get("type", "Error"))[:80]
            message = str(err.get("message", ""))
            if type_name == "MemoryError":
                message = (f"{message} (ran out of the memory limit of "
                           f"{self.session.limits.memory_mb} MB)").strip()
            raise StudentError(type_name, message, where=where, trace=str(err.get("trace", "")),
                               type_mro=tuple(str(t) for t in err.get("mro", [])))
        return reply, reply_blobs

    def call(self, where: str, args: tuple[Any, ...], kwargs: dict[str, Any], *,
             path: str | None = None, handle: int | None = None, attr: str | None = None) -> Any:
        blobs: list[bytes] = []
        doc: dict[str, Any] = {"op": "call",
                               "args": [self.encode(a, blobs) for a in args],
                               "kwargs": self.encode(dict(kwargs), blobs) if kwargs else _empty_kwargs()}
        doc.update(protocol.call_target(path, handle, attr))
        reply, reply_blobs = self._send(doc, blobs, where)
        try:
            value = self.decode(reply.get("value"), reply_blobs, where)
            after = reply.get("after") or {}
            for arg, state in zip(args, after.get("args", [])):
                self._copy_back(arg, state, reply_blobs, where)
            for name, state in (after.get("kwargs") or {}).items():
                if name in kwargs:
                    self._copy_back(kwargs[name], state, reply_blobs, where)
        except protocol.ProtocolError as exc:
            raise SandboxFailure("protocol", f"{where}: {exc}") from None
        return value

    def probe(self, where: str, args: tuple[Any, ...], kwargs: dict[str, Any], wrt: dict[str, Any],
              h: float, index: int | None, df: Any, *, path: str | None = None,
              handle: int | None = None, attr: str | None = None) -> Any:
        """The worker's :func:`autograder.worker.probes.probe` of one call (raw values only:
        the caller checks and differences them)."""
        blobs: list[bytes] = []
        doc: dict[str, Any] = {"op": "probe", "where": where,
                               "args": [self.encode(a, blobs) for a in args],
                               "kwargs": self.encode(dict(kwargs), blobs) if kwargs else _empty_kwargs(),
                               "wrt": protocol.encode_value(wrt, blobs), "h": float(h),
                               "index": index,
                               "df": None if df is None else self.encode(df, blobs)}
        doc.update(protocol.call_target(path, handle, attr))
        reply, reply_blobs = self._send(doc, blobs, where)
        try:
            return self.decode(reply.get("value"), reply_blobs, where)
        except protocol.ProtocolError as exc:
            raise SandboxFailure("protocol", f"{where}: {exc}") from None

    def _copy_back(self, target: Any, state: Any, blobs: list[bytes], where: str) -> None:
        if state is None:
            return
        new = self.decode(state, blobs, where)
        if isinstance(target, np.ndarray):
            if not isinstance(new, np.ndarray) or new.shape != target.shape:
                raise StudentError("ValueError", "an array argument was resized in place", where)
            try:
                target[...] = new
            except (TypeError, ValueError):
                raise StudentError("TypeError", "an array argument's values were replaced with "
                                   "values of an incompatible type", where) from None
        elif isinstance(target, dict) and isinstance(new, dict):
            target.clear()
            target.update(new)
        elif isinstance(target, list) and isinstance(new, list):
            target[:] = new

    def getattr(self, where: str, *, handle: int | None = None, attr: str | None = None,
                path: str | None = None) -> Any:
        doc: dict[str, Any] = {"op": "getattr"}
        if path is not None:
            doc["path"] = path
        else:
            doc.update(handle=handle, attr=attr)
        reply, reply_blobs = self._send(doc, [], where)
        try:
            return self.decode(reply.get("value"), reply_blobs, where)
        except protocol.ProtocolError as exc:
            raise SandboxFailure("protocol", f"{where}: {exc}") from None

    def setattr(self, where: str, handle: int, attr: str, value: Any) -> None:
        blobs: list[bytes] = []
        doc = {"op": "setattr", "handle": handle, "attr": attr, "value": self.encode(value, blobs)}
        self._send(doc, blobs, where)


class RemotePath:
    """A module, function or class of the submission, by dotted path under ``src``."""

    __slots__ = ("_call", "_path")

    def __init__(self, call: RemoteCall, path: str):
        self._call = call
        self._path = path

    def __getattr__(self, name: str) -> "RemotePath":
        if name.startswith("__"):
            raise AttributeError(name)
        return RemotePath(self._call, f"{self._path}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call.call(self._path, args, kwargs, path=self._path)

    def __repr__(self) -> str:
        return f"<student {self._path} (sandboxed)>"


class RemoteObject:
    """An object that lives in the worker (a model, a solver); reached by handle."""

    __slots__ = ("_call", "_hid", "_type", "_methods")

    def __init__(self, call: RemoteCall, hid: int, type_name: str):
        object.__setattr__(self, "_call", call)
        object.__setattr__(self, "_hid", hid)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_methods", set())

    def _where(self, name: str | None = None) -> str:
        base = self._type
        return f"{base}.{name}" if name else base

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name in self._methods:
            return _RemoteMethod(self, name)
        value = self._call.getattr(self._where(name), handle=self._hid, attr=name)
        if value is _METHOD:
            self._methods.add(name)
            return _RemoteMethod(self, name)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._call.setattr(self._where(name), self._hid, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call.call(self._where(), args, kwargs, handle=self._hid)

    def __repr__(self) -> str:
        return f"<{self._type} object (kept in the sandbox)>"


class _RemoteMethod:
    __slots__ = ("_obj", "_name")

    def __init__(self, obj: RemoteObject, name: str):
        self._obj = obj
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        obj = self._obj
        return obj._call.call(obj._where(self._name), args, kwargs, handle=obj._hid, attr=self._name)


class RemoteStudent:
    """The ``student`` fixture's value when grading: the submission, through the sandbox."""

    def __init__(self, session: Session):
        self._call = RemoteCall(session)

    def __getattr__(self, name: str) -> RemotePath:
        if name.startswith("__"):
            raise AttributeError(name)
        return RemotePath(self._call, name)

    def attr(self, path: str) -> Any:
        """A module-level value by dotted path (see :meth:`InProcessStudent.attr`)."""
        return self._call.getattr(path, path=path)

    def seed(self, seed_or_state: Any) -> None:
        """Seed the worker's global RNGs (see :meth:`InProcessStudent.seed`)."""
        blobs: list[bytes] = []
        value = tuple(seed_or_state) if isinstance(seed_or_state, (tuple, list)) else int(seed_or_state)
        self._call._send({"op": "seed", "value": protocol.encode_value(value, blobs)}, blobs, "seed")

    def __repr__(self) -> str:
        return "<student code (sandboxed)>"

