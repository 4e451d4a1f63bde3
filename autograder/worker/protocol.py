"""The data-only wire format between the grader and the worker (both sides import this).

A message is one frame::

    b"DLK1" | u64 payload length | u32 JSON length | JSON | blob bytes...

The JSON document is the message; NumPy arrays inside it are replaced by references to
blobs, each a ``.npy`` byte string (``np.save`` format).  Nothing is ever pickled: blobs are
read with ``np.load(..., allow_pickle=False)``, so an object array — the only way to smuggle a
pickle through ``.npy`` — is refused, as is any dtype outside :data:`ALLOWED_KINDS`.

Value encoding (``encode_value`` / ``decode_value``), JSON-side:

==========================  ================================================================
Python value                JSON form
==========================  ================================================================
None, bool, int, str        themselves
float                       a number; NaN/±inf as ``{"$f": "nan"|"inf"|"-inf"}``
list                        a list
tuple                       ``{"$t": [...]}``
dict / Counter / OrderedDict ``{"$d": [[key, value], ...], "k": "dict"|"counter"|"ordered"}``
ndarray                     ``{"$a": blob index}``
NumPy scalar                ``{"$s": blob index}`` (a 0-d array, decoded to its scalar type)
bytes                       ``{"$b": blob index}``
object kept in the worker   ``{"$h": handle id, "type": class name}``
callable attribute          ``{"$m": name}`` (only in getattr replies)
NumPy dtype / scalar type   ``{"$dt": "float64", "as": "dtype"|"type"}``
Python float/int/bool type  ``{"$dt": "float"|"int"|"bool"|"complex", "as": "builtin"}``
student function reference  ``{"$ref": "nn.sigmoid"}`` (requests only)
trusted function            ``{"$fn": name, "params": value}`` (requests only)
==========================  ================================================================

Limits: nesting depth :data:`MAX_DEPTH`; frames larger than the reader's ``max_bytes`` are
refused before being read.  Every refusal raises :class:`ProtocolError` with a message that
says what was found and what was expected.
"""
from __future__ import annotations

import collections
import io
import json
import math
import socket
import struct
from typing import Any, Callable

import numpy as np

MAGIC = b"DLK1"
HEADER = struct.Struct("<4sQ")
JSON_LEN = struct.Struct("<I")
MAX_DEPTH = 48
#: dtype kinds allowed to cross: bool, signed/unsigned int, float, complex, str, bytes.
ALLOWED_KINDS = "biufcUS"


class ProtocolError(Exception):
    """A malformed, oversized or forbidden message; the text says which and why."""


# ----------------------------------------------------------------------------- framing
def pack(doc: dict[str, Any], blobs: list[bytes]) -> bytes:
    """One frame holding JSON ``doc`` and ``blobs``."""
    doc = dict(doc)
    doc["_blobs"] = [len(b) for b in blobs]
    head = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode("utf-8")
    payload_len = JSON_LEN.size + len(head) + sum(len(b) for b in blobs)
    return b"".join([HEADER.pack(MAGIC, payload_len), JSON_LEN.pack(len(head)), head, *blobs])


def _recv_exact(sock: socket.socket, n: int, deadline_check: Callable[[], None] | None) -> bytes:
    chunks = []
    remaining = n
    while remaining:
        if deadline_check is not None:
            deadline_check()
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, max_bytes: int,
               deadline_check: Callable[[], None] | None = None) -> tuple[dict[str, Any], list[bytes]]:
    """Read one frame; refuse it (without reading the body) when larger than ``max_bytes``."""
    magic, length = HEADER.unpack(_recv_exact(sock, HEADER.size, deadline_check))
    if magic != MAGIC:
        raise ProtocolError(f"bad frame header {magic!r}; expected {MAGIC!r} (the stream was "
                            f"corrupted, e.g. by something else writing to the channel)")
    if length > max_bytes:
        raise ProtocolError(f"reply of {length / 2**20:.1f} MB exceeds the limit of "
                            f"{max_bytes / 2**20:.0f} MB")
    payload = _recv_exact(sock, length, deadline_check)
    (json_len,) = JSON_LEN.unpack_from(payload)
    if JSON_LEN.size + json_len > len(payload):
        raise ProtocolError("frame's JSON length runs past its end")
    try:
        doc = json.loads(payload[JSON_LEN.size:JSON_LEN.size + json_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame's JSON part is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ProtocolError("frame's JSON part is not an object")
    sizes = doc.pop("_blobs", [])
    if not isinstance(sizes, list) or not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise ProtocolError("frame's blob table is malformed")
    blobs, offset = [], JSON_LEN.size + json_len
    for size in sizes:
        blobs.append(payload[offset:offset + size])
        offset += size
    if offset != len(payload):
        raise ProtocolError("frame's blob sizes do not add up to its length")
    return doc, blobs


def send_frame(sock: socket.socket, doc: dict[str, Any], blobs: list[bytes] | None = None) -> None:
    sock.sendall(pack(doc, blobs or []))


# ----------------------------------------------------------------------------- arrays
def array_to_blob(arr: np.ndarray) -> bytes:
    """``.npy`` bytes of a plain (base-class) copy of ``arr``; object dtypes refused."""
    arr = np.asarray(arr)
    if type(arr) is not np.ndarray:  # a subclass: take a base-class view
        arr = arr.view(np.ndarray)
    if arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields is not None:
        raise ProtocolError(f"cannot send an array of dtype {arr.dtype} (object or structured "
                            f"arrays are refused; expected numbers, booleans or strings)")
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def blob_to_array(blob: bytes) -> np.ndarray:
    """Parse ``.npy`` bytes without ever unpickling; refuse unsafe dtypes."""
    try:
        arr = np.load(io.BytesIO(blob), allow_pickle=False)
    except ValueError as exc:
        raise ProtocolError(f"refused an array: {exc} (object arrays and pickles never cross)") from None
    except Exception as exc:  # noqa: BLE001 - malformed bytes of any kind
        raise ProtocolError(f"malformed array bytes: {type(exc).__name__}: {exc}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields:
        raise ProtocolError(f"refused an array of dtype {getattr(arr, 'dtype', '?')}")
    return arr


# ----------------------------------------------------------------------------- values
_BUILTIN_TYPES = {float: "float", int: "int", bool: "bool", complex: "complex"}
_BUILTIN_BY_NAME = {v: k for k, v in _BUILTIN_TYPES.items()}
_DICT_KINDS = {dict: "dict", collections.Counter: "counter", collections.OrderedDict: "ordered"}
_DICT_TYPES = {"dict": dict, "counter": collections.Counter, "ordered": collections.OrderedDict}


def encode_value(value: Any, blobs: list[bytes],
                 on_other: Callable[[Any], dict[str, Any]] | None = None, depth: int = 0) -> Any:
    """JSON-able form of ``value``, appending array bytes to ``blobs``.

    ``on_other`` turns values that are not data (class instances, functions) into a JSON form
    (the worker makes handles); without it they are refused.
    """
    if depth > MAX_DEPTH:
        raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value
    if type(value) is float:
        if math.isfinite(value):
            return value
        return {"$f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, np.ndarray):
        blobs.append(array_to_blob(value))
        return {"$a": len(blobs) - 1}
    if isinstance(value, np.dtype):
        return {"$dt": _dtype_name(value), "as": "dtype"}
    if isinstance(value, type):
        if value in _BUILTIN_TYPES:
            return {"$dt": _BUILTIN_TYPES[value], "as": "builtin"}
        if issubclass(value, np.generic):
            return {"$dt": _dtype_name(np.dtype(value)), "as": "type"}
    if isinstance(value, np.generic):
        blobs.append(array_to_blob(np.asarray(value)))
        return {"$s": len(blobs) - 1}
    if type(value) is bytes:
        blobs.append(bytes(value))
        return {"$b": len(blobs) - 1}
    if type(value) is list:
        return [encode_value(v, blobs, on_other, depth + 1) for v in value]
    if type(value) is tuple:
        return {"$t": [encode_value(v, blobs, on_other, depth + 1) for v in value]}
    if type(value) in _DICT_KINDS:
        items = [[encode_value(k, blobs, on_other, depth + 1), encode_value(v, blobs, on_other, depth + 1)]
                 for k, v in dict.items(value)]
        return {"$d": items, "k": _DICT_KINDS[type(value)]}
    # Subclasses of plain types are data too, reduced to the base type's value.
    for base in (bool, int, float, str, bytes):
        if isinstance(value, base):
            return encode_value(base(value), blobs, on_other, depth)
    if isinstance(value, list):
        return encode_value(list(value), blobs, on_other, depth)
    if isinstance(value, tuple):
        return encode_value(tuple(value), blobs, on_other, depth)
    if isinstance(value, dict):
        return encode_value(dict(dict.items(value)), blobs, on_other, depth)
    if on_other is not None:
        return on_other(value)
    raise ProtocolError(f"cannot send a value of type {type(value).__name__}; expected arrays, "
                        f"numbers, strings, lists, tuples or dicts of those")


def _dtype_name(dt: np.dtype) -> str:
    if dt.kind not in ALLOWED_KINDS or dt.fields is not None:
        raise ProtocolError(f"cannot send dtype {dt}")
    return dt.str


def _decode_dtype(node: dict[str, Any]) -> Any:
    name, kind = node.get("$dt"), node.get("as")
    if kind == "builtin":
        if name not in _BUILTIN_BY_NAME:
            raise ProtocolError(f"unknown builtin type {name!r}")
        return _BUILTIN_BY_NAME[name]
    try:
        dt = np.dtype(str(name))
    except TypeError:
        raise ProtocolError(f"unknown dtype {name!r}") from None
    if dt.kind not in ALLOWED_KINDS or dt.fields is not None:
        raise ProtocolError(f"refused dtype {dt}")
    return dt if kind == "dtype" else dt.type


def decode_value(node: Any, blobs: list[bytes],
                 on_special: Callable[[str, dict[str, Any]], Any] | None = None, depth: int = 0) -> Any:
    """Inverse of :func:`encode_value`.  ``on_special(tag, node)`` handles ``$h``, ``$m``,
    ``$ref`` and ``$fn`` (the side that knows what they mean); without it they are refused."""
    if depth > MAX_DEPTH:
        raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [decode_value(v, blobs, on_special, depth + 1) for v in node]
    if not isinstance(node, dict) or len(node) == 0:
        raise ProtocolError("malformed value in message")
    if "$a" in node or "$s" in node or "$b" in node:
        index = node.get("$a", node.get("$s", node.get("$b")))
        if not isinstance(index, int) or not 0 <= index < len(blobs):
            raise ProtocolError("array reference out of range")
        if "$b" in node:
            return bytes(blobs[index])
        arr = blob_to_array(blobs[index])
        return arr[()] if "$s" in node else arr
    if "$dt" in node:
        return _decode_dtype(node)
    if "$f" in node:
        text = node["$f"]
        if text not in ("nan", "inf", "-inf"):
            raise ProtocolError("malformed special float")
        return float(text)
    if "$t" in node:
        return tuple(decode_value(v, blobs, on_special, depth + 1) for v in node["$t"])
    if "$d" in node:
        kind = _DICT_TYPES.get(node.get("k", "dict"))
        if kind is None or not isinstance(node["$d"], list):
            raise ProtocolError("malformed dict in message")
        out = kind()
        for pair in node["$d"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ProtocolError("malformed dict item in message")
            key = decode_value(pair[0], blobs, on_special, depth + 1)
            try:
                hash(key)
            except TypeError:
                raise ProtocolError(f"unhashable dict key of type {type(key).__name__}") from None
            out[key] = decode_value(pair[1], blobs, on_special, depth + 1)
        return out
    for tag in ("$h", "$m", "$ref", "$fn"):
        if tag in node:
            if on_special is None:
                raise ProtocolError(f"unexpected {tag} value in message")
            return on_special(tag, node)
    raise ProtocolError(f"unknown value form with keys {sorted(node)[:5]}")
