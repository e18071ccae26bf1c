#!/usr/bin/env python3
"""Writes the Zarr fixture stores under tests/data/zarr/ and their expected values.

Run from anywhere (paths are relative to this file):

    python3 -m venv /tmp/zvenv && /tmp/zvenv/bin/pip install zarr numcodecs numpy crc32c
    /tmp/zvenv/bin/python tests/data/zarr/make_fixtures.py

Produces
  v2.zarr/        a Zarr v2 hierarchy (blosc, zlib, gzip, zstd, missing chunks, nested group, ...)
  v3.zarr/        a Zarr v3 hierarchy (zstd, gzip, blosc, sharding, transpose+crc32c, ...)
  expected.json   for every readable array: format, shape, dtype, chunks, fill value, dimension
                  names, attributes and the full contents flattened in C order (NaN as null);
                  for every array chunkwise must refuse: the dtype it has.

Written with zarr-python 3.x (tested with 3.1.6). The values are seeded and deterministic, but
the encoded bytes may differ between codec versions; the Rust tests only compare decoded values.
"""

import json
import math
import os
import shutil

import numpy as np
import zarr
from zarr.codecs import (
    BloscCodec,
    BytesCodec,
    Crc32cCodec,
    GzipCodec,
    TransposeCodec,
    ZstdCodec,
)
from numcodecs import Blosc, GZip, Zlib, Zstd

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240611)

expected = {"arrays": [], "unsupported": []}


def data_for(dtype, shape):
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    if dtype == np.bool_:
        return (rng.random(shape) < 0.4)
    if dtype.kind == "f":
        # Values exactly representable in the type, with a sign mix and some magnitude.
        return (rng.standard_normal(shape) * 100).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo = max(int(info.min), -(2**40))
        hi = min(int(info.max), 2**40)
        return rng.integers(lo, hi, size=shape, endpoint=True, dtype=dtype)
    raise ValueError(dtype)


def to_json_value(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if math.isnan(f) else f
    return v


def record(store, path, arr, fmt, chunks, fill_value, dimension_names=None, attributes=None,
           note=""):
    """Records the expected contents of `arr` as stored at store/path."""
    a = zarr.open_array(os.path.join(HERE, store), path=path, mode="r")
    data = a[...]
    expected["arrays"].append({
        "store": store,
        "path": path,
        "zarr_format": fmt,
        "shape": list(data.shape),
        "dtype": str(np.dtype(data.dtype).name),
        "chunks": list(chunks),
        "fill_value": to_json_value(fill_value),
        "dimension_names": dimension_names,
        "attributes": attributes or {},
        "note": note,
        "data": [to_json_value(x) for x in data.reshape(-1)],
    })


def make_v3():
    store = "v3.zarr"
    root_path = os.path.join(HERE, store)
    shutil.rmtree(root_path, ignore_errors=True)
    root = zarr.open_group(root_path, mode="w", zarr_format=3)
    root.attrs["title"] = "chunkwise v3 fixtures"

    # float32, zstd, uneven chunks, dimension names and attributes.
    d = data_for("f4", (37, 23))
    a = root.create_array("f4_zstd", shape=d.shape, chunks=(10, 8), dtype="f4",
                          compressors=ZstdCodec(level=3), fill_value=0.0,
                          dimension_names=("y", "x"))
    a[...] = d
    a.attrs.update({"units": "K", "long_name": "test field", "scale_factor": 1.0})
    record(store, "f4_zstd", a, 3, (10, 8), 0.0, ["y", "x"],
           {"units": "K", "long_name": "test field", "scale_factor": 1.0})

    # float64, gzip, 3-d, uneven.
    d = data_for("f8", (20, 15, 7))
    a = root.create_array("f8_gzip", shape=d.shape, chunks=(6, 4, 3), dtype="f8",
                          compressors=GzipCodec(level=5), fill_value=0.0)
    a[...] = d
    record(store, "f8_gzip", a, 3, (6, 4, 3), 0.0)

    # int16, blosc (lz4, shuffle), 1-d.
    d = data_for("i2", (50,))
    a = root.create_array("i2_blosc", shape=d.shape, chunks=(16,), dtype="i2",
                          compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
                          fill_value=0)
    a[...] = d
    record(store, "i2_blosc", a, 3, (16,), 0)

    # uint8 with a fill value and chunks never written (missing).
    a = root.create_array("u1_missing", shape=(30, 30), chunks=(8, 8), dtype="u1",
                          compressors=ZstdCodec(level=1), fill_value=7)
    a[0:8, 0:16] = data_for("u1", (8, 16))
    a[20:30, 25:30] = data_for("u1", (10, 5))
    record(store, "u1_missing", a, 3, (8, 8), 7, note="only some chunks written")

    # float32 NaN fill, half the chunks missing.
    a = root.create_array("f4_nan_missing", shape=(12, 10), chunks=(4, 5), dtype="f4",
                          compressors=None, fill_value=float("nan"))
    a[0:4, :] = data_for("f4", (4, 10))
    a[8:12, 5:10] = data_for("f4", (4, 5))
    record(store, "f4_nan_missing", a, 3, (4, 5), float("nan"),
           note="NaN fill value, some chunks missing")

    # bool.
    d = data_for("bool", (13, 9))
    a = root.create_array("b1", shape=d.shape, chunks=(5, 4), dtype="bool",
                          compressors=ZstdCodec(level=3), fill_value=False)
    a[...] = d
    record(store, "b1", a, 3, (5, 4), False)

    # int64, sharded: shards (20, 18) of inner chunks (10, 9); some shards partly missing.
    a = root.create_array("i8_sharded", shape=(40, 36), shards=(20, 18), chunks=(10, 9),
                          dtype="i8", compressors=ZstdCodec(level=3), fill_value=-1)
    a[0:40, 0:18] = data_for("i8", (40, 18))
    a[20:30, 18:27] = data_for("i8", (10, 9))
    record(store, "i8_sharded", a, 3, (10, 9), -1,
           note="sharded; chunks are the inner chunks; some inner chunks and a shard missing")

    # uint32 with transpose + crc32c (every zarrs default codec).
    d = data_for("u4", (9, 11))
    a = root.create_array("u4_transpose_crc", shape=d.shape, chunks=(4, 4), dtype="u4",
                          filters=TransposeCodec(order=(1, 0)),
                          compressors=[GzipCodec(level=1), Crc32cCodec()], fill_value=0)
    a[...] = d
    record(store, "u4_transpose_crc", a, 3, (4, 4), 0)

    # Nested groups.
    g = root.create_group("nested").create_group("inner")
    g.attrs["level"] = 2
    d = data_for("f8", (5, 6))
    a = g.create_array("deep", shape=d.shape, chunks=(2, 3), dtype="f8",
                       compressors=None, fill_value=0.0, dimension_names=("a", None))
    a[...] = d
    record(store, "nested/inner/deep", a, 3, (2, 3), 0.0, ["a", None])

    # Unsupported element types.
    a = root.create_array("c8_unsupported", shape=(4,), chunks=(2,), dtype="c8", fill_value=0)
    a[...] = np.arange(4).astype("c8") * (1 + 1j)
    expected["unsupported"].append({"store": store, "path": "c8_unsupported",
                                    "dtype": "complex64"})
    a = root.create_array("f2_unsupported", shape=(4,), chunks=(2,), dtype="f2", fill_value=0)
    a[...] = np.arange(4)
    expected["unsupported"].append({"store": store, "path": "f2_unsupported",
                                    "dtype": "float16"})
    a = root.create_array("str_unsupported", shape=(3,), chunks=(3,), dtype=str)
    a[...] = np.array(["a", "bc", "def"])
    expected["unsupported"].append({"store": store, "path": "str_unsupported",
                                    "dtype": "string"})


def make_v2():
    store = "v2.zarr"
    root_path = os.path.join(HERE, store)
    shutil.rmtree(root_path, ignore_errors=True)
    root = zarr.open_group(root_path, mode="w", zarr_format=2)
    root.attrs["title"] = "chunkwise v2 fixtures"

    # float32, blosc, uneven, xarray-style dimension names.
    d = data_for("f4", (37, 23))
    a = root.create_array("f4_blosc", shape=d.shape, chunks=(10, 8), dtype="<f4",
                          compressors=Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE),
                          fill_value=0.0)
    a[...] = d
    a.attrs.update({"_ARRAY_DIMENSIONS": ["lat", "lon"], "units": "m"})
    record(store, "f4_blosc", a, 2, (10, 8), 0.0, ["lat", "lon"],
           {"_ARRAY_DIMENSIONS": ["lat", "lon"], "units": "m"})

    # float64, zlib, 3-d.
    d = data_for("f8", (20, 15, 7))
    a = root.create_array("f8_zlib", shape=d.shape, chunks=(6, 4, 3), dtype="<f8",
                          compressors=Zlib(level=4), fill_value=0.0)
    a[...] = d
    record(store, "f8_zlib", a, 2, (6, 4, 3), 0.0)

    # big-endian float64, gzip.
    d = data_for("f8", (11, 5))
    a = root.create_array("f8_be_gzip", shape=d.shape, chunks=(4, 5), dtype=">f8",
                          compressors=GZip(level=6), fill_value=0.0)
    a[...] = d
    record(store, "f8_be_gzip", a, 2, (4, 5), 0.0, note="big-endian")

    # int16, zstd.
    d = data_for("i2", (50,))
    a = root.create_array("i2_zstd", shape=d.shape, chunks=(16,), dtype="<i2",
                          compressors=Zstd(level=3), fill_value=0)
    a[...] = d
    record(store, "i2_zstd", a, 2, (16,), 0)

    # uint8, fill value, missing chunks, no compression.
    a = root.create_array("u1_missing", shape=(30, 30), chunks=(8, 8), dtype="|u1",
                          compressors=None, fill_value=7)
    a[8:16, 8:24] = data_for("u1", (8, 16))
    record(store, "u1_missing", a, 2, (8, 8), 7, note="only some chunks written")

    # bool.
    d = data_for("bool", (13, 9))
    a = root.create_array("b1", shape=d.shape, chunks=(5, 4), dtype="|b1",
                          compressors=Zlib(level=1), fill_value=False)
    a[...] = d
    record(store, "b1", a, 2, (5, 4), False)

    # int64, blosc lz4.
    d = data_for("i8", (25, 4))
    a = root.create_array("i8_blosc", shape=d.shape, chunks=(7, 3), dtype="<i8",
                          compressors=Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE),
                          fill_value=0)
    a[...] = d
    record(store, "i8_blosc", a, 2, (7, 3), 0)

    # Nested group.
    g = root.create_group("grp").create_group("sub")
    d = data_for("i4", (6, 7))
    a = g.create_array("arr", shape=d.shape, chunks=(4, 4), dtype="<i4",
                       compressors=Zstd(level=1), fill_value=0)
    a[...] = d
    record(store, "grp/sub/arr", a, 2, (4, 4), 0)

    # Unsupported: complex.
    a = root.create_array("c16_unsupported", shape=(4,), chunks=(2,), dtype="<c16", fill_value=0)
    a[...] = np.arange(4) * (1 - 1j)
    expected["unsupported"].append({"store": store, "path": "c16_unsupported",
                                    "dtype": "complex128"})


def main():
    make_v3()
    make_v2()
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(expected['arrays'])} arrays, {len(expected['unsupported'])} unsupported")


if __name__ == "__main__":
    main()
