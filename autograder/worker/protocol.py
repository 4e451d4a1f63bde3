"""The data-only wire format between the grader and the worker (both sides import this).

A message is one frame::

    b"DLK1" | u64 payload length | u32 JSON length | JSON | blob | pad | blob | pad | ... | blob

The JSON document is the message; NumPy arrays inside it are replaced by references to
blobs, each a ``.npy`` byte string (``np.save`` format).  The JSON part is padded with spaces
and each blob but the last with zero bytes to the next multiple of :data:`ALIGN`
(``"_align"`` in the JSON), so a received array is an aligned view of the frame's buffer.  Nothing is ever pickled: blobs are
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


def call_target(path: str | None = None, handle: int | None = None,
                attr: str | None = None) -> dict[str, Any]:
    """The fields of a ``call`` or ``probe`` request naming what to call: a submission function
    by dotted ``path`` (``"layers.linear_forward"``), or an object the worker keeps by
    ``handle`` (itself, or its method ``attr``)."""
    if path is not None:
        return {"path": path}
    return {"handle": handle, **({"attr": attr} if attr else {})}


class ProtocolError(Exception):
    """A malformed, oversized or forbidden message; the text says which and why."""


# ----------------------------------------------------------------------------- framing
#: Blobs start at multiples of this many bytes from the payload's start (the JSON part is padded
#: with spaces, each blob but the last with zero bytes), so arrays decode as aligned views of the
#: received buffer instead of copies.
ALIGN = 64
#: Parts of a frame smaller than this are joined before sending (fewer system calls).
_SMALL = 1 << 16


def _padding(offset: int) -> int:
    return -offset % ALIGN


class NpyBlob:
    """An array's ``.npy`` bytes as two parts, the header and a view of the array's own memory,
    so that sending it copies nothing (:func:`encode_value` makes these)."""

    __slots__ = ("prefix", "data", "nbytes")

    def __init__(self, prefix: bytes, data: memoryview | None):
        self.prefix = prefix
        self.data = data
        self.nbytes = len(prefix) + (data.nbytes if data is not None else 0)

    def parts(self) -> list[Any]:
        return [self.prefix] if self.data is None else [self.prefix, self.data]


def _nbytes(blob: Any) -> int:
    return blob.nbytes if isinstance(blob, NpyBlob) else memoryview(blob).nbytes


def frame_parts(doc: dict[str, Any], blobs: list[Any]) -> list[Any]:
    """The byte strings (bytes, bytearray or memoryview) that make one frame of JSON ``doc``
    and ``blobs``, in order; :func:`pack` joins them, :func:`send_frame` sends them as they are."""
    doc = dict(doc)
    sizes = [_nbytes(b) for b in blobs]
    doc["_blobs"] = sizes
    doc["_align"] = ALIGN
    head = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode("utf-8")
    head += b" " * _padding(JSON_LEN.size + len(head))     # JSON allows trailing spaces
    parts: list[Any] = [JSON_LEN.pack(len(head)) + head]
    for i, blob in enumerate(blobs):
        parts.extend(blob.parts() if isinstance(blob, NpyBlob) else [blob])
        if i < len(blobs) - 1 and _padding(sizes[i]):
            parts.append(bytes(_padding(sizes[i])))
    payload_len = sum(memoryview(p).nbytes for p in parts)
    parts[0] = HEADER.pack(MAGIC, payload_len) + parts[0]
    return parts


def pack(doc: dict[str, Any], blobs: list[Any]) -> bytes:
    """One frame holding JSON ``doc`` and ``blobs``, as one byte string."""
    return b"".join(frame_parts(doc, blobs))


class FrameBlobs(list):
    """The blobs of one received frame (views of its buffer).  Decoding gives the first use of
    each blob a view and every further use a copy, so a frame that names one blob twice cannot
    make two decoded arrays share memory."""

    def __init__(self, blobs: list[memoryview]):
        super().__init__(blobs)
        self.viewed: set[int] = set()


def _recv_exact_into(sock: socket.socket, view: memoryview,
                     deadline_check: Callable[[], None] | None) -> None:
    pos, n = 0, view.nbytes
    while pos < n:
        if deadline_check is not None:
            deadline_check()
        got = sock.recv_into(view[pos:], min(n - pos, 1 << 22))
        if not got:
            raise EOFError("the other side closed the connection")
        pos += got


def recv_frame(sock: socket.socket, max_bytes: int,
               deadline_check: Callable[[], None] | None = None) -> tuple[dict[str, Any], list[memoryview]]:
    """Read one frame; refuse it (without reading the body) when larger than ``max_bytes``.

    The payload is read into one buffer; the blobs are views of it (no copies)."""
    header = bytearray(HEADER.size)
    _recv_exact_into(sock, memoryview(header), deadline_check)
    magic, length = HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f"bad frame header {bytes(magic)!r}; expected {MAGIC!r} (the stream was "
                            f"corrupted, e.g. by something else writing to the channel)")
    if length > max_bytes:
        raise ProtocolError(f"reply of {length / 2**20:.1f} MB exceeds the limit of "
                            f"{max_bytes / 2**20:.0f} MB")
    buffer = bytearray(length)
    payload = memoryview(buffer)
    _recv_exact_into(sock, payload, deadline_check)
    if length < JSON_LEN.size:
        raise ProtocolError("frame's JSON length runs past its end")
    (json_len,) = JSON_LEN.unpack_from(buffer)
    if JSON_LEN.size + json_len > length:
        raise ProtocolError("frame's JSON length runs past its end")
    try:
        doc = json.loads(bytes(payload[JSON_LEN.size:JSON_LEN.size + json_len]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame's JSON part is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ProtocolError("frame's JSON part is not an object")
    sizes = doc.pop("_blobs", [])
    align = doc.pop("_align", 1)
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
        raise ProtocolError("frame's blob table is malformed")
    if type(align) is not int or not 1 <= align <= 4096:
        raise ProtocolError("frame's blob alignment is malformed")
    blobs, offset = [], JSON_LEN.size + json_len
    for i, size in enumerate(sizes):
        if offset + size > length:
            break
        blobs.append(payload[offset:offset + size])
        offset += size
        if i < len(sizes) - 1:
            offset += -offset % align
    if len(blobs) != len(sizes) or offset != length:
        raise ProtocolError("frame's blob sizes do not add up to its length")
    return doc, FrameBlobs(blobs)


def send_parts(sock: socket.socket, parts: list[Any]) -> None:
    """Send the parts of one frame (:func:`frame_parts`); large ones go out from their own
    memory, without being joined."""
    pending: list[Any] = []
    for part in parts:
        if memoryview(part).nbytes < _SMALL:
            pending.append(part)
            continue
        if pending:
            sock.sendall(b"".join(pending))
            pending = []
        sock.sendall(part)
    if pending:
        sock.sendall(b"".join(pending))


def send_frame(sock: socket.socket, doc: dict[str, Any], blobs: list[Any] | None = None) -> None:
    send_parts(sock, frame_parts(doc, blobs or []))


# ----------------------------------------------------------------------------- arrays
_NPY_MAGIC = b"\x93NUMPY"


def npy_blob(arr: np.ndarray) -> NpyBlob:
    """``.npy`` bytes (format 1.0 or 2.0) of a plain (base-class) view of ``arr``, without
    copying a contiguous array's data; object and structured dtypes refused."""
    arr = np.asarray(arr)
    if type(arr) is not np.ndarray:  # a subclass: take a base-class view
        arr = arr.view(np.ndarray)
    if arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields is not None or arr.dtype.hasobject:
        raise ProtocolError(f"cannot send an array of dtype {arr.dtype} (object or structured "
                            f"arrays are refused; expected numbers, booleans or strings)")
    fortran = bool(arr.flags.f_contiguous and not arr.flags.c_contiguous)
    head = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(arr.dtype), "fortran_order": fortran,
              "shape": arr.shape}
    try:
        np.lib.format.write_array_header_1_0(head, header)
    except ValueError:  # a header longer than 64 KiB (very many dimensions)
        head = io.BytesIO()
        np.lib.format.write_array_header_2_0(head, header)
    if not arr.nbytes:
        return NpyBlob(head.getvalue(), None)
    data = np.ascontiguousarray(arr.T if fortran else arr).reshape(-1).view(np.uint8)
    return NpyBlob(head.getvalue(), memoryview(data))


def array_to_blob(arr: np.ndarray) -> bytes:
    """:func:`npy_blob` as one byte string (``np.load`` reads it)."""
    return b"".join(npy_blob(arr).parts())


def blob_to_array(blob: Any) -> np.ndarray:
    """Parse ``.npy`` bytes without ever unpickling; refuse unsafe dtypes and sizes that do not
    match the header.  The array is a view of ``blob`` when that is writable memory and the
    data is aligned (the frames of :func:`recv_frame`), else a copy."""
    view = memoryview(blob).cast("B") if not isinstance(blob, memoryview) else blob
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    if bytes(view[:6]) != _NPY_MAGIC or view.nbytes < 10:
        raise ProtocolError("refused an array: its bytes are not in .npy format (object arrays and "
                            "pickles never cross)")
    version = (view[6], view[7])
    fp = io.BytesIO(bytes(view[8:8 + min(view.nbytes - 8, 70000)]))
    try:
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except Exception as exc:  # noqa: BLE001 - malformed bytes of any kind
        raise ProtocolError(f"malformed array bytes: {type(exc).__name__}: {exc}") from None
    if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.hasobject:
        raise ProtocolError(f"refused an array: dtype {dtype} is not allowed (object arrays and "
                            f"pickles never cross)")
    offset = 8 + fp.tell()
    count = math.prod(shape)
    if count * dtype.itemsize != view.nbytes - offset:
        raise ProtocolError(f"malformed array bytes: the header says shape {shape} of {dtype} "
                            f"({count * dtype.itemsize} bytes), the data has {view.nbytes - offset}")
    if count == 0 or dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype)
    arr = np.frombuffer(view, dtype=dtype, count=count, offset=offset)
    if view.readonly or not arr.flags.aligned:
        arr = arr.copy()
    return arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)


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
        blobs.append(npy_blob(value))
        return {"$a": len(blobs) - 1}
    if isinstance(value, np.dtype):
        return {"$dt": _dtype_name(value), "as": "dtype"}
    if isinstance(value, type):
        if value in _BUILTIN_TYPES:
            return {"$dt": _BUILTIN_TYPES[value], "as": "builtin"}
        if issubclass(value, np.generic):
            return {"$dt": _dtype_name(np.dtype(value)), "as": "type"}
    if isinstance(value, np.generic):
        blobs.append(npy_blob(np.asarray(value)))
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
        viewed = getattr(blobs, "viewed", None)
        if viewed is not None:
            if index in viewed:
                arr = arr.copy()
            viewed.add(index)
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
