#!/usr/bin/env python
"""The shapes and codecs of issue 13, beside make_data.py's (run that first for packed.nc):

  climate4d_v2.zarr/t     Zarr v2 group, float32 (T, 8, 361, 720) = time x level x lat x lon,
                          chunks (1, 8, 361, 720) (8.3 MB), Blosc(lz4, clevel 5, SHUFFLE),
                          `_ARRAY_DIMENSIONS`; T = 200 by default (1.66 GB raw); with `lat`.
  packed.nc               NetCDF4 written by xarray: t2m_nan of climate_v3.zarr as int16 with
                          scale_factor 0.01, add_offset 273.15, _FillValue -32767, zlib level 1,
                          chunks (1, 361, 720), an unlimited time dimension; coords lat, lon.

Values: level l of step t is make_data.field(t) - 6.5 * l + 0.1 * field(t + 1000 + l) so that
levels differ and blosc sees realistic entropy.
Usage: python make_data_4d.py --dir /tmp/peerdata [--nt 200] [--only 4d,nc]
"""
import argparse
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_data as md  # noqa: E402

NL = 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/peerdata")
    ap.add_argument("--nt", type=int, default=200)
    ap.add_argument("--only", default="4d,nc")
    a = ap.parse_args()
    only = set(a.only.split(","))
    t0 = time.perf_counter()
    if "4d" in only:
        import zarr
        from numcodecs import Blosc
        p = os.path.join(a.dir, "climate4d_v2.zarr")
        shutil.rmtree(p, ignore_errors=True)
        g = zarr.open_group(p, mode="w", zarr_format=2)
        z = g.create_array("t", shape=(a.nt, NL, md.NY, md.NX), chunks=(1, NL, md.NY, md.NX),
                           dtype="float32",
                           compressors=Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE),
                           fill_value=np.nan, order="C")
        z.attrs.update({"units": "K", "_ARRAY_DIMENSIONS": ["time", "level", "lat", "lon"]})
        lat = g.create_array("lat", data=md.LAT, chunks=(md.NY,))
        lat.attrs.update({"_ARRAY_DIMENSIONS": ["lat"], "units": "degrees_north"})
        for t in range(a.nt):
            f = md.field(t)
            z[t] = np.stack([f - np.float32(6.5 * l) + np.float32(0.1) * md.field(t + 1000 + l)
                             for l in range(NL)])
            if t % 50 == 0:
                print(f"  4d t={t} {time.perf_counter()-t0:.1f}s", file=sys.stderr, flush=True)
    if "nc" in only:
        import dask.array as da
        import xarray as xr
        src = da.from_zarr(os.path.join(a.dir, "climate_v3.zarr", "t2m_nan"))
        x = xr.DataArray(src, dims=("time", "lat", "lon"),
                         coords={"time": np.arange(src.shape[0], dtype="f8"),
                                 "lat": md.LAT, "lon": md.LON}, name="t2m")
        x.time.attrs.update({"units": "days since 2001-01-01", "calendar": "noleap"})
        x.attrs.update({"units": "K"})
        enc = {"t2m": {"dtype": "int16", "scale_factor": 0.01, "add_offset": 273.15,
                       "_FillValue": np.int16(-32767), "zlib": True, "complevel": 1,
                       "chunksizes": (1, md.NY, md.NX)}}
        p = os.path.join(a.dir, "packed.nc")
        if os.path.exists(p):
            os.remove(p)
        x.to_dataset().to_netcdf(p, encoding=enc, unlimited_dims=["time"], engine="netcdf4")
        print(f"  packed.nc {time.perf_counter()-t0:.1f}s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
