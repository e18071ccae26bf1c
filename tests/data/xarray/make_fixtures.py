"""Fixtures written by xarray itself, and the values xarray computes from them.

Run from this directory: /work/pyenv/bin/python make_fixtures.py
Writes packed.zarr2 / packed.zarr3 (Zarr v2 / v3 stores), packed.nc (NetCDF4) and
expected.json (xarray's decoded statistics and reduce results); and, with h5py / netCDF4 where
xarray cannot write them: empty.h5 (a NULL dataspace, h5py's Empty, and an LZF-compressed dataset:
the filter libhdf5 lacks), classic.nc (NetCDF3 classic) and bad_attr.nc (scale_factor = "abc").
"""
import json
import shutil

import h5py
import netCDF4
import numpy as np
import xarray as xr

rng = np.random.default_rng(14)
nt, ny, nx = 4, 6, 5

# tp: int16 packed, _FillValue -32767 (the ERA5 style), scale_factor/add_offset float64.
tp_true = rng.uniform(0.0, 0.02, size=(nt, ny, nx))
tp_true[0, 0, :] = np.nan  # missing: packed as the fill value
sst = rng.uniform(270.0, 300.0, size=(nt, ny, nx)).astype("float32")
sst[:, 0, 0] = np.nan  # land: written as -999
t2m = rng.uniform(250.0, 310.0, size=(nt, ny, nx)).astype("float32")

ds = xr.Dataset(
    {
        "tp": (("time", "lat", "lon"), tp_true, {"units": "m", "long_name": "total precipitation"}),
        "sst": (("time", "lat", "lon"), sst, {"units": "K"}),
        "t2m": (("time", "lat", "lon"), t2m, {"units": "K"}),
        # Unsigned bytes stored signed with _Unsigned = "true": raw int8 -56, -67.
        "flag": (("n",), np.array([200, 189], dtype="uint8").view("int8"), {"_Unsigned": "true"}),
    }
)
scale = 0.02 / 65000.0
offset = 0.01
enc = {
    "tp": {"dtype": "int16", "scale_factor": scale, "add_offset": offset, "_FillValue": -32767,
           "chunks": (2, 3, 5)},
    "sst": {"_FillValue": np.float32(-999.0), "chunks": (2, 3, 5)},
    "t2m": {"chunks": (2, 3, 5)},
    "flag": {"chunks": (2,)},
}
enc_nc = {k: {kk: vv for kk, vv in v.items() if kk != "chunks"} | {"chunksizes": v["chunks"]}
          for k, v in enc.items()}

for name, fmt in [("packed.zarr2", 2), ("packed.zarr3", 3)]:
    shutil.rmtree(name, ignore_errors=True)
    ds.to_zarr(name, zarr_format=fmt, encoding=enc, consolidated=False)
ds.to_netcdf("packed.nc", encoding=enc_nc, engine="netcdf4")

def stats(a):
    v = np.asarray(a, dtype="float64")
    ok = ~np.isnan(v)
    return {
        "count": int(ok.sum()),
        "sum": float(np.nansum(v)),
        "min": float(np.nanmin(v)),
        "max": float(np.nanmax(v)),
        "mean": float(np.nanmean(v)),
        "std": float(np.nanstd(v)),
    }

expected = {}
for store in ["packed.zarr2", "packed.zarr3", "packed.nc"]:
    if store.endswith(".nc"):
        back = xr.open_dataset(store)
    else:
        back = xr.open_zarr(store, consolidated=False)
    expected[store] = {}
    for var in ["tp", "sst", "t2m", "flag"]:
        da = back[var]
        mean0 = da.mean(da.dims[0])
        expected[store][var] = {
            "dtype": str(da.dtype),
            "stats": stats(da.values),
            "mean_time_dtype": str(mean0.dtype),
            "mean_time_dims": list(mean0.dims),
            "mean_time": [None if np.isnan(x) else float(x)
                          for x in np.asarray(mean0.values, "float64").ravel()],
        }

# Files xarray cannot write.
with h5py.File("empty.h5", "w") as f:
    f.create_dataset("nothing", data=h5py.Empty("f8"))
    # Compressible (repeated rows), so LZF shrinks every chunk and the optional filter is
    # really applied: a reader without the plugin cannot decode it.
    f.create_dataset("lzf", data=np.tile(np.arange(32, dtype="f4"), (32, 1)), chunks=(8, 32),
                     compression="lzf")
xr.Dataset({"x": (("n",), np.arange(5, dtype="f4"))}).to_netcdf("classic.nc",
                                                                 format="NETCDF3_CLASSIC")
with netCDF4.Dataset("bad_attr.nc", "w") as nc:
    nc.createDimension("n", 3)
    v = nc.createVariable("x", "i2", ("n",))
    v.set_auto_maskandscale(False)
    v[:] = np.array([1, 2, 3], dtype="i2")
    v.setncattr_string("scale_factor", "abc")
expected["bad_attr.nc"] = {"x": {"xarray_error": None}}
try:
    xr.open_dataset("bad_attr.nc")["x"].values
except Exception as e:  # xarray fails too: record how
    expected["bad_attr.nc"]["x"]["xarray_error"] = type(e).__name__

with open("expected.json", "w") as f:
    json.dump(expected, f, indent=1, allow_nan=False)
    f.write("\n")
