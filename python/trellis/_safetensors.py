"""safetensors files (SPEC section 4) in pure Python.

Written as libtrellis writes them: the header is compact JSON with the keys
in the dict's order ("__metadata__" first), padded with spaces to a multiple
of 8 bytes, and the file is written to a temporary name and renamed, so a
file written here from the same arrays has the same bytes as the library's.
"""
import json
import os
import struct
import tempfile

import numpy as np

from ._lib import Error

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
           "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
           "BOOL": "?"}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def load_safetensors(path):
    """{name: ndarray} of a safetensors file, in the file's order and dtypes
    (F32, F64 and the integer and bool types). The arrays are writable views
    of one buffer read from the file."""
    with open(path, "rb") as f:
        blob = bytearray(os.fstat(f.fileno()).st_size)  # writable arrays, one read
        blob = blob[:f.readinto(blob)]
    if len(blob) < 8:
        raise Error("%s: not a safetensors file: %d bytes, the 8-byte header length is "
                    "missing" % (path, len(blob)), "invalid input", 1, path)
    n = struct.unpack("<Q", blob[:8])[0]
    if n > len(blob) - 8:
        raise Error("%s: header length %d runs past the end of the file (%d bytes)"
                    % (path, n, len(blob)), "invalid input", 1, path)
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Error("%s: the header is not JSON: %s" % (path, e), "invalid input", 1, path)
    if not isinstance(header, dict):
        raise Error("%s: the header is not a JSON object" % path, "invalid input", 1, path)
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(_DTYPES[e["dtype"]])
            shape = tuple(int(s) for s in e["shape"])
            begin, end = (int(o) for o in e["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise Error("%s: %s: expected {\"dtype\": one of %s, \"shape\", \"data_offsets\"}"
                        % (path, name, ", ".join(_DTYPES)), "invalid input", 1, path)
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise Error("%s: %s: data_offsets [%d, %d] do not hold %d values of %s inside the "
                        "data (%d bytes)" % (path, name, begin, end, count, e["dtype"],
                                             len(data)), "invalid input", 1, path)
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
    return out


def _common_dtype(tensors):
    kinds = {np.asarray(v).dtype for v in tensors.values() if isinstance(v, np.ndarray)}
    return kinds.pop() if len(kinds) == 1 else np.dtype(np.float64)


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: array} atomically. Arrays keep their dtype; a Python
    number (a gradient's "loss") takes the dtype the arrays share (float64
    if they differ). metadata: an optional {str: str}."""
    scalar_dtype = _common_dtype(tensors)
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, value in tensors.items():
        a = np.asarray(value) if isinstance(value, (np.ndarray, np.generic)) \
            else np.asarray(value, dtype=scalar_dtype)
        key = _NAMES.get(a.dtype.newbyteorder("<"))
        if key is None or name == "__metadata__" or not name:
            raise Error("%s: %s: cannot store %s (names must be non-empty and not __metadata__; "
                        "dtypes %s)" % (path, name or "''", a.dtype, ", ".join(_DTYPES)))
        raw = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": key, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
