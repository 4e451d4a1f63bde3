"""The data-only wire format: round trips, and refusal of everything that is not data."""
import collections
import io
import pickle
import socket
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.worker import protocol


def roundtrip(value, on_other=None, on_special=None):
    blobs: list[bytes] = []
    node = protocol.encode_value(value, blobs, on_other)
    doc, out_blobs = _through_socket({"v": node}, blobs)
    return protocol.decode_value(doc["v"], out_blobs, on_special)


def _through_socket(doc, blobs, max_bytes=1 << 30):
    a, b = socket.socketpair()
    with a, b:
        data = protocol.pack(doc, blobs)
        a.sendall(data)
        return protocol.recv_frame(b, max_bytes)


def test_plain_values_round_trip_exactly():
    value = {"a": [1, 2.5, None, True, "x"], "t": (1, (2, 3)), 3: -4,
             "nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"),
             "arr": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.float64(1.5),
             "b": b"\x00\x01", "dt": np.float32, "py": float}
    out = roundtrip(value)
    assert out["a"] == [1, 2.5, None, True, "x"] and out["t"] == (1, (2, 3)) and out[3] == -4
    assert np.isnan(out["nan"]) and out["inf"] == float("inf") and out["ninf"] == float("-inf")
    assert out["arr"].dtype == np.float32 and np.array_equal(out["arr"], value["arr"])
    assert type(out["s"]) is np.float64 and out["s"] == 1.5
    assert out["b"] == b"\x00\x01" and out["dt"] is np.float32 and out["py"] is float


def test_counter_and_ordered_dicts_keep_their_type():
    c = collections.Counter({"W1": np.ones(2)})
    o = collections.OrderedDict([("b", 1), ("a", 2)])
    assert type(roundtrip(c)) is collections.Counter
    out = roundtrip(o)
    assert type(out) is collections.OrderedDict and list(out) == ["b", "a"]


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(dtype=st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes(),
                                  hnp.complex_number_dtypes()),
                  shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5)))
def test_any_numeric_array_round_trips_bit_exactly(arr):
    out = roundtrip(arr)
    assert out.dtype == arr.dtype and out.shape == arr.shape
    assert out.tobytes() == arr.tobytes()


def test_subclasses_of_data_types_arrive_as_the_plain_type():
    class Sneaky(float):
        def __eq__(self, other):
            return True
    class MyArr(np.ndarray):
        pass
    out = roundtrip([Sneaky(2.0), np.arange(3).view(MyArr)])
    assert type(out[0]) is float and out[0] == 2.0
    assert type(out[1]) is np.ndarray


def test_object_arrays_and_other_objects_are_refused_when_sending():
    with pytest.raises(protocol.ProtocolError, match="object or structured"):
        roundtrip(np.array([object()], dtype=object))
    with pytest.raises(protocol.ProtocolError, match="cannot send a value of type"):
        roundtrip(object())


def test_a_pickle_hidden_in_npy_bytes_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    buf = io.BytesIO()
    np.save(buf, np.array([Evil()], dtype=object), allow_pickle=True)
    node = {"$a": 0}
    with pytest.raises(protocol.ProtocolError, match="refused an array"):
        protocol.decode_value(node, [buf.getvalue()])
    assert not marker.exists()
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_value(node, [pickle.dumps(Evil())])
    assert not marker.exists()


def test_oversized_frames_are_refused_before_reading_the_body():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(protocol.HEADER.pack(protocol.MAGIC, 10 * 2**30))   # claims 10 GB
        with pytest.raises(protocol.ProtocolError, match="exceeds the limit of 1 MB"):
            protocol.recv_frame(b, 2**20)


@pytest.mark.parametrize("raw, message", [
    (b"XXXX" + struct.pack("<Q", 4) + b"abcd", "bad frame header"),
    (protocol.HEADER.pack(protocol.MAGIC, 8) + struct.pack("<I", 100) + b"{}..", "runs past its end"),
    (protocol.HEADER.pack(protocol.MAGIC, 6) + struct.pack("<I", 2) + b"[]", "not an object"),
    (protocol.HEADER.pack(protocol.MAGIC, 7) + struct.pack("<I", 3) + b"{x}", "not valid JSON"),
])
def test_malformed_frames_say_what_is_wrong(raw, message):
    a, b = socket.socketpair()
    with a, b:
        a.sendall(raw)
        with pytest.raises(protocol.ProtocolError, match=message):
            protocol.recv_frame(b, 2**20)


def test_deep_nesting_and_unknown_forms_are_refused():
    deep: list = []
    node = deep
    for _ in range(protocol.MAX_DEPTH + 5):
        node.append([])
        node = node[0]
    with pytest.raises(protocol.ProtocolError, match="nested deeper"):
        protocol.encode_value(deep, [])
    with pytest.raises(protocol.ProtocolError, match="unknown value form"):
        protocol.decode_value({"$zz": 1}, [])
    with pytest.raises(protocol.ProtocolError, match="unexpected \\$h"):
        protocol.decode_value({"$h": 1}, [])
    with pytest.raises(protocol.ProtocolError, match="out of range"):
        protocol.decode_value({"$a": 5}, [])


def test_received_arrays_are_writable_aligned_views_of_the_frame():
    arrays = [np.arange(7, dtype=np.int8), np.linspace(0, 1, 13), np.ones((3, 5), np.complex128)]
    blobs: list = []
    node = protocol.encode_value(arrays, blobs)
    doc, out_blobs = _through_socket({"v": node}, blobs)
    out = protocol.decode_value(doc["v"], out_blobs)
    for got, sent in zip(out, arrays):
        assert got.flags.writeable and got.flags.aligned
        assert got.base is not None                  # a view of the received buffer, no copy
        assert got.dtype == sent.dtype and np.array_equal(got, sent)
    out[0][:] = 0                                    # writing one array leaves the others alone
    assert np.array_equal(out[1], arrays[1]) and np.array_equal(out[2], arrays[2])


def test_a_frame_naming_one_blob_twice_decodes_to_independent_arrays():
    blobs = [protocol.array_to_blob(np.zeros(4))]
    doc, out_blobs = _through_socket({"v": [{"$a": 0}, {"$a": 0}]}, blobs)
    first, second = protocol.decode_value(doc["v"], out_blobs)
    first[0] = 1.0
    assert second[0] == 0.0 and not np.shares_memory(first, second)


@pytest.mark.parametrize("make", [
    lambda: np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    lambda: np.arange(24.0).reshape(4, 6)[::2, 1::2],            # neither C nor F contiguous
    lambda: np.array(["ab", "c"]), lambda: np.array(3.5), lambda: np.zeros((0, 3)),
    lambda: np.arange(6, dtype=">i4").reshape(2, 3),              # big-endian
])
def test_layouts_and_byte_orders_round_trip_exactly(make):
    arr = make()
    out = roundtrip(arr)
    assert out.dtype == arr.dtype and out.shape == arr.shape and np.array_equal(out, arr)


def test_array_bytes_that_disagree_with_their_header_are_refused():
    blob = bytes(protocol.array_to_blob(np.arange(10.0)))
    with pytest.raises(protocol.ProtocolError, match="the data has"):
        protocol.blob_to_array(blob[:-8])                          # one element short
    with pytest.raises(protocol.ProtocolError, match="the data has"):
        protocol.blob_to_array(blob + b"\0" * 8)                   # one element too many
    bad_version = blob[:6] + bytes([9, 0]) + blob[8:]
    with pytest.raises(protocol.ProtocolError, match="format version"):
        protocol.blob_to_array(bad_version)
    with pytest.raises(protocol.ProtocolError, match="not in .npy format"):
        protocol.blob_to_array(b"\x80\x04K\x01.")                   # a pickle


def test_send_frame_writes_the_same_bytes_as_pack():
    blobs = [protocol.array_to_blob(np.random.RandomState(0).rand(300, 300)), b"xyz"]
    doc = {"op": "call", "n": 1}
    a, b = socket.socketpair()
    with a, b:
        expected = protocol.pack(doc, blobs)
        import threading
        sender = threading.Thread(target=protocol.send_frame, args=(a, doc, blobs))
        sender.start()
        received = bytearray()
        while len(received) < len(expected):
            received += b.recv(1 << 20)
        sender.join()
    assert bytes(received) == expected
