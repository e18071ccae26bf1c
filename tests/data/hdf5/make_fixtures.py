#!/usr/bin/env python3
"""Writes the HDF5 / NetCDF4 fixtures read by `tests/hdf5_io.rs`.

Run from anywhere (paths are relative to this file):

    python3 -m venv /tmp/hvenv && /tmp/hvenv/bin/pip install h5py netCDF4 numpy
    /tmp/hvenv/bin/python tests/data/hdf5/make_fixtures.py

Outputs, next to this script:
  - fixtures.h5       plain HDF5 (h5py): chunked gzip+shuffle, contiguous, fill values,
                      nested groups, several dtypes, attributes, a string dataset, a compound one
  - packed.nc         NetCDF4 (netCDF4-python): int16 `t(time, lat, lon)` packed with
                      scale_factor / add_offset and a _FillValue
  - not_hdf5.h5       a text file with an .h5 name (for the "not an HDF5 file" test)
  - expected.json     the values every test compares against, so Rust tests need no Python

The data are deterministic (no random generator), so re-running gives identical JSON.
"""

import json
import os

import h5py
import netCDF4
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def ramp(shape, dtype, scale=1.0, offset=0.0):
    n = int(np.prod(shape))
    a = (np.arange(n, dtype=np.float64) * scale + offset).reshape(shape)
    return a.astype(dtype)


def record(arr):
    """A dataset's values for the JSON: dtype, shape and flat C-order data (NaN -> null)."""
    flat = arr.reshape(-1)
    if arr.dtype.kind == "f":
        data = [None if np.isnan(v) else float(v) for v in flat]
    else:
        data = [int(v) for v in flat]
    return {"dtype": str(arr.dtype), "shape": list(arr.shape), "data": data}


def make_h5(expected):
    fn = path("fixtures.h5")
    if os.path.exists(fn):
        os.remove(fn)
    ds_meta = {}
    with h5py.File(fn, "w", libver="earliest") as f:
        f.attrs["title"] = "chunkwise hdf5 fixtures"
        f.attrs["version"] = np.int32(3)

        # Chunked, gzip + shuffle, f4, with attributes and edge chunks (shape not a multiple).
        a = ramp((37, 23), np.float32, scale=0.25, offset=-10.0)
        d = f.create_dataset(
            "chunked_f4", data=a, chunks=(10, 8), compression="gzip",
            compression_opts=4, shuffle=True,
        )
        d.attrs["units"] = "K"
        d.attrs["scale"] = np.float64(0.5)
        d.attrs["count"] = np.int16(7)
        d.attrs["valid_range"] = np.array([-10.0, 300.0], dtype=np.float32)
        d.attrs["flags"] = np.array([1, 2, 4], dtype=np.uint8)
        expected["chunked_f4"] = record(a)
        ds_meta["chunked_f4"] = {"chunks": [10, 8], "filters": ["shuffle", "deflate"]}

        # Contiguous f8, 3-d.
        b = ramp((4, 5, 6), np.float64, scale=1.5, offset=0.125)
        f.create_dataset("contiguous_f8", data=b)
        expected["contiguous_f8"] = record(b)
        ds_meta["contiguous_f8"] = {"chunks": None, "filters": []}

        # i2, chunked, no compression.
        c = ramp((9, 7), np.int16, scale=-3.0, offset=100.0)
        f.create_dataset("ints/i2", data=c, chunks=(4, 4))
        expected["ints/i2"] = record(c)

        # u1 gzip only (no shuffle), 1-d.
        u = (np.arange(50) % 256).astype(np.uint8)
        f.create_dataset("ints/u1", data=u, chunks=(16,), compression="gzip")
        expected["ints/u1"] = record(u)

        # i8 shuffle + gzip, large values.
        i8 = (np.arange(30, dtype=np.int64) * 123456789012 - 5).reshape(5, 6)
        f.create_dataset("ints/i8", data=i8, chunks=(2, 3), compression="gzip", shuffle=True)
        expected["ints/i8"] = record(i8)

        # Fill value: a chunked dataset only partly written; unwritten chunks read as fill.
        fv = f.create_dataset("fill_f4", shape=(6, 6), dtype="f4", chunks=(3, 3),
                              fillvalue=-999.0, compression="gzip")
        fv[0:3, 0:3] = np.arange(9, dtype=np.float32).reshape(3, 3)
        filled = np.full((6, 6), -999.0, dtype=np.float32)
        filled[0:3, 0:3] = np.arange(9, dtype=np.float32).reshape(3, 3)
        expected["fill_f4"] = record(filled)
        ds_meta["fill_f4"] = {"fill_value": -999.0}

        # Nested groups.
        g = f.create_group("group").create_group("sub")
        v = ramp((3, 4, 5), np.float32, scale=0.5)
        dv = g.create_dataset("var", data=v, chunks=(2, 2, 5), compression="gzip", shuffle=True)
        dv.attrs["long_name"] = "nested variable"
        expected["group/sub/var"] = record(v)

        # Big-endian storage (library conversion, no raw-chunk path).
        be = ramp((12, 10), ">f4", scale=0.75, offset=-3.0)
        f.create_dataset("be_f4", data=be, chunks=(5, 5), compression="gzip", shuffle=True)
        expected["be_f4"] = record(be.astype("<f4"))

        # A filter the raw path does not decode (fletcher32 checksum): library path.
        fl = ramp((8, 9), np.int32, scale=7.0, offset=-20.0)
        f.create_dataset("fletcher_i4", data=fl, chunks=(4, 3), compression="gzip",
                         shuffle=True, fletcher32=True)
        expected["fletcher_i4"] = record(fl)

        # Booleans (h5py stores them as an enum of int8 FALSE/TRUE).
        mask = (np.arange(20).reshape(4, 5) % 3) == 0
        f.create_dataset("mask", data=mask, chunks=(2, 5))
        expected["mask"] = {"dtype": "bool", "shape": [4, 5],
                            "data": [int(v) for v in mask.reshape(-1)]}

        # Unsupported types.
        f.create_dataset("strings", data=np.array([b"alpha", b"beta"], dtype="S8"))
        comp = np.zeros(3, dtype=[("x", "<f4"), ("y", "<i4")])
        f.create_dataset("compound", data=comp)
    expected["_meta"] = ds_meta


def make_nc(expected):
    fn = path("packed.nc")
    if os.path.exists(fn):
        os.remove(fn)
    nt, ny, nx = 4, 5, 6
    scale, offset, fill = 0.01, 273.15, -32767
    physical = ramp((nt, ny, nx), np.float64, scale=0.37, offset=250.0)
    packed = np.round((physical - offset) / scale).astype(np.int16)
    packed[1, 2, 3] = fill
    packed[3, 0, 0] = fill
    with netCDF4.Dataset(fn, "w", format="NETCDF4") as ds:
        ds.createDimension("time", nt)
        ds.createDimension("lat", ny)
        ds.createDimension("lon", nx)
        tv = ds.createVariable("time", "f8", ("time",))
        tv[:] = np.arange(nt, dtype=np.float64)
        tv.units = "days since 2000-01-01"
        la = ds.createVariable("lat", "f4", ("lat",))
        la[:] = np.linspace(-10, 10, ny).astype(np.float32)
        lo = ds.createVariable("lon", "f4", ("lon",))
        lo[:] = np.linspace(0, 50, nx).astype(np.float32)
        t = ds.createVariable("t", "i2", ("time", "lat", "lon"), zlib=True, complevel=4,
                              shuffle=True, chunksizes=(2, 5, 3), fill_value=fill)
        t.set_auto_maskandscale(False)
        t.scale_factor = np.float32(scale)
        t.add_offset = np.float32(offset)
        t.units = "K"
        t.long_name = "air temperature"
        t[:] = packed
    decoded = packed.astype(np.float64) * np.float64(np.float32(scale)) + np.float64(np.float32(offset))
    decoded[packed == fill] = np.nan
    expected["nc:t"] = record(packed)
    expected["nc:t_decoded"] = record(decoded)
    expected["nc:t_attrs"] = {
        "scale_factor": float(np.float32(scale)),
        "add_offset": float(np.float32(offset)),
        "_FillValue": fill,
        "units": "K",
        "long_name": "air temperature",
    }
    expected["nc:t_dims"] = ["time", "lat", "lon"]
    expected["nc:lat"] = record(np.linspace(-10, 10, ny).astype(np.float32))


def main():
    expected = {}
    make_h5(expected)
    make_nc(expected)
    with open(path("not_hdf5.h5"), "w") as f:
        f.write("this is not an HDF5 file\n")
    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(path(n)) for n in
                ("fixtures.h5", "packed.nc", "not_hdf5.h5", "expected.json"))
    print(f"wrote fixtures, {total} bytes in all")


if __name__ == "__main__":
    main()
