#!/usr/bin/env python3
"""Cross-check with Python: safetensors files written by Python load in aulens and files written
by aulens load in Python, bit-exactly, metadata included. ctest runs it as
PyTorchExchange.SafetensorsBothWays when AULENS_PYTHON has torch (skipped otherwise; .ci/run does
not install torch).

  tools/check_safetensors_compat.py BUILD_DIR/test_safetensors

(a) writes python_written.safetensors from torch tensors (made from numpy arrays) with the
    `safetensors` package, or with a by-hand writer when the package is missing;
(b) runs the test binary's SafetensorsCompat test, which loads that file and writes
    aulens_written.safetensors; (c) reads that file back in Python and compares.
The tensors are the ones of compat_tensors() in tests/test_safetensors.cpp.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

try:
    import safetensors.numpy
    import safetensors.torch
    from safetensors import safe_open
    HAVE_PACKAGE = True
except ImportError:
    HAVE_PACKAGE = False

NUMPY_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def expected_arrays():
    return {
        "conv1.weight": (np.arange(24, dtype=np.float32) * np.float32(0.5) - np.float32(3)).reshape(2, 3, 4),
        "f64": np.arange(10, dtype=np.float64) * 0.1,
        "i32": (np.arange(10, dtype=np.int32) - 5).reshape(2, 5),
        "i64": np.array([1 << 40, -1, 7], dtype=np.int64),
        "u8": np.arange(256, dtype=np.uint8).reshape(16, 16),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "scalar": np.array(math.pi, dtype=np.float64),
    }


def write_by_hand(path, arrays, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    code = {v: k for k, v in NUMPY_DTYPES.items()}
    for name in sorted(arrays):
        raw = np.ascontiguousarray(arrays[name]).astype(arrays[name].dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code[arrays[name].dtype.type], "shape": list(arrays[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_by_hand(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    body = data[8 + n:]
    arrays = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(NUMPY_DTYPES[info["dtype"]]).newbyteorder("<")
        arrays[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"])
    return arrays, metadata


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    test_binary = os.path.abspath(sys.argv[1])
    expected = expected_arrays()
    metadata = {"written_by": "python", "note": "grüße"}
    with tempfile.TemporaryDirectory() as tmp:
        python_file = os.path.join(tmp, "python_written.safetensors")
        if HAVE_PACKAGE:
            tensors = {k: torch.from_numpy(v.copy()) for k, v in expected.items()}
            safetensors.torch.save_file(tensors, python_file, metadata=metadata)
            print("python side: safetensors", safetensors.__version__, "+ torch", torch.__version__)
        else:
            write_by_hand(python_file, expected, metadata)
            print("python side: safetensors package missing, wrote the format by hand")

        env = dict(os.environ, AULENS_COMPAT_DIR=tmp)
        run = subprocess.run([test_binary, "--gtest_filter=SafetensorsCompat.*"], env=env,
                             capture_output=True, text=True)
        print(run.stdout[-2000:], run.stderr[-2000:])
        if run.returncode != 0 or "[  PASSED  ] 1 test" not in run.stdout:
            sys.exit("FAIL: aulens could not read the Python-written file")

        aulens_file = os.path.join(tmp, "aulens_written.safetensors")
        if HAVE_PACKAGE:
            loaded = safetensors.numpy.load_file(aulens_file)
            with safe_open(aulens_file, framework="pt") as f:
                loaded_metadata = f.metadata()
                torch_loaded = {k: f.get_tensor(k) for k in f.keys()}
            assert set(torch_loaded) == set(expected), sorted(torch_loaded)
        else:
            loaded, loaded_metadata = read_by_hand(aulens_file)
        assert loaded_metadata == {"written_by": "aulens", "note": "grüße"}, loaded_metadata
        assert set(loaded) == set(expected), sorted(loaded)
        for name, want in expected.items():
            got = loaded[name]
            assert got.dtype == want.dtype and got.shape == want.shape, (name, got.dtype, got.shape)
            assert got.tobytes() == want.tobytes(), f"{name}: bytes differ"
    print("OK: both directions bit-exact, metadata preserved")


if __name__ == "__main__":
    main()
