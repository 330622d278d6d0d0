"""Caffe's ``.caffemodel`` files: a reader of its binary protobuf format, and the conversion
to a PyTorch state dict keyed by Caffe layer name (``"conv1/7x7_s2.weight"``).

Only what weights need is read: each layer's name and blobs (``NetParameter.layer``, field
100, or the older ``NetParameter.layers``, field 2; ``BlobProto`` with ``shape`` or the old
num/channels/height/width, float or double data). Everything else is skipped by wire type,
so no ``caffe.proto`` and no protobuf package are needed.

>>> blob = bytes([0x3A, 0x02, 0x08, 0x02]) + bytes([0x2A, 0x08]) + np.float32([1, 2]).tobytes()
>>> layer = bytes([0x0A, 0x02]) + b"fc" + bytes([0x3A, len(blob)]) + blob
>>> read_caffemodel(bytes([0xA2, 0x06, len(layer)]) + layer)["fc"][0].tolist()   # field 100
[1.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import torch

__all__ = ["CaffeFormatError", "read_caffemodel", "caffe_state_dict", "convert_caffemodel"]

# Field numbers (caffe.proto).
_NET_LAYER, _NET_LAYERS_V1 = 100, 2
_LAYER_NAME, _LAYER_BLOBS = 1, 7
_V1_NAME, _V1_BLOBS = 4, 6
_BLOB_NUM, _BLOB_CHANNELS, _BLOB_HEIGHT, _BLOB_WIDTH = 1, 2, 3, 4
_BLOB_DATA, _BLOB_SHAPE, _BLOB_DOUBLE = 5, 7, 8
_SHAPE_DIM = 1


class CaffeFormatError(ValueError):
    """The bytes are not a ``.caffemodel`` this reader understands."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise CaffeFormatError("truncated varint: the file ends inside a field")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of a message: an int, or bytes for wire type 2."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise CaffeFormatError(f"wire type {wire} (field {number}) is not protobuf's binary format")
        if pos > len(buf):
            raise CaffeFormatError("truncated field: the file ends inside a field")
        yield number, wire, value


def _blob(buf: memoryview) -> np.ndarray:
    dims: list[int] = []
    legacy = {}
    chunks: list[np.ndarray] = []
    for number, wire, value in _fields(buf):
        if number == _BLOB_SHAPE:
            for n, w, v in _fields(value):  # type: ignore[arg-type]
                if n == _SHAPE_DIM:
                    dims += _ints(w, v)
        elif number in (_BLOB_DATA, _BLOB_DOUBLE):
            dtype = "<f4" if number == _BLOB_DATA else "<f8"
            chunks.append(np.frombuffer(bytes(value), dtype=dtype).astype(np.float32))  # type: ignore[arg-type]
        elif number in (_BLOB_NUM, _BLOB_CHANNELS, _BLOB_HEIGHT, _BLOB_WIDTH) and wire == 0:
            legacy[number] = int(value)  # type: ignore[arg-type]
    data = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if not dims and legacy:
        dims = [legacy.get(k, 1) for k in (_BLOB_NUM, _BLOB_CHANNELS, _BLOB_HEIGHT, _BLOB_WIDTH)]
    if int(np.prod(dims)) != data.size:
        raise CaffeFormatError(f"a blob of shape {dims} holds {data.size} values")
    return data.reshape(dims)


def _ints(wire: int, value: object) -> list[int]:
    if wire == 0:
        return [int(value)]  # type: ignore[call-overload]
    out, pos, buf = [], 0, value  # packed
    while pos < len(buf):  # type: ignore[arg-type]
        v, pos = _varint(buf, pos)  # type: ignore[arg-type]
        out.append(v)
    return out


def read_caffemodel(data: bytes | Path) -> dict[str, list[np.ndarray]]:
    """Each layer's blobs (float32 arrays in Caffe's shapes), by layer name, in file order."""
    raw = Path(data).read_bytes() if isinstance(data, (str, Path)) else bytes(data)
    layers: dict[str, list[np.ndarray]] = {}
    for number, wire, value in _fields(memoryview(raw)):
        if wire != 2 or number not in (_NET_LAYER, _NET_LAYERS_V1):
            continue
        name_field, blobs_field = ((_LAYER_NAME, _LAYER_BLOBS) if number == _NET_LAYER
                                   else (_V1_NAME, _V1_BLOBS))
        name, blobs = None, []
        for n, w, v in _fields(value):  # type: ignore[arg-type]
            if n == name_field and w == 2:
                name = bytes(v).decode("utf-8")  # type: ignore[arg-type]
            elif n == blobs_field and w == 2:
                blobs.append(_blob(v))  # type: ignore[arg-type]
        if name is not None and blobs:
            layers[name] = blobs
    if not layers:
        raise CaffeFormatError("no layer with weights found: is this a .caffemodel file?")
    return layers


def caffe_state_dict(layers: Mapping[str, list[np.ndarray]]) -> dict[str, torch.Tensor]:
    """``{"<layer>.weight": ..., "<layer>.bias": ...}`` for layers with one or two blobs.

    An InnerProduct's weight is 2-D (out, in) whatever its old 4-D blob said.
    """
    state: dict[str, torch.Tensor] = {}
    for name, blobs in layers.items():
        if len(blobs) > 2:
            raise CaffeFormatError(f"layer {name!r} has {len(blobs)} blobs; only weight and bias are known")
        weight = blobs[0]
        if weight.ndim == 4 and weight.shape[0] == 1 and weight.shape[1] == 1:  # old InnerProduct
            weight = weight.reshape(weight.shape[2], weight.shape[3])
        state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
        if len(blobs) == 2:
            state[f"{name}.bias"] = torch.from_numpy(np.ascontiguousarray(blobs[1].reshape(-1)))
    return state


def convert_caffemodel(source: Path, target: Path) -> dict[str, torch.Tensor]:
    """Read ``source`` (.caffemodel), save its state dict to ``target`` (.pth), return it."""
    state = caffe_state_dict(read_caffemodel(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".partial")
    torch.save(state, partial)
    partial.replace(target)  # never a half-written file under the real name
    return state
