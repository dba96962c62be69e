"""safetensors files for the bench scripts: 8-byte LE header length, JSON header, raw data."""
import json

import numpy as np

DTYPES = {"F32": np.float32, "I64": np.int64}


def load_safetensors(path):
    """Tensors by name (read-only numpy views of the file's data)."""
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in DTYPES:
            raise ValueError(f"{path}: {name} is {info['dtype']}; these scripts read {', '.join(DTYPES)}")
        dtype = np.dtype(DTYPES[info["dtype"]])
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=begin)
        tensors[name] = arr.reshape(info["shape"])
    return tensors


def save_safetensors(path, tensors):
    """Writes float32 tensors, sorted by name, the header padded to 8 bytes."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name], dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        blobs.append(array.tobytes())
        offset += array.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))
