#!/usr/bin/env python3
"""Writes a small, realistic climate sample in two formats, and its expected statistics.

    python3 -m venv /tmp/zvenv && /tmp/zvenv/bin/pip install zarr numcodecs numpy netCDF4 xarray cftime
    /tmp/zvenv/bin/python data/make_sample.py

Produces (next to this script)
  sample.zarr/          Zarr v3 group: `t2m` float32 (time, lat, lon) = (60, 73, 144), chunks
                        (10, 73, 144), zstd; CF attributes (units, long_name, standard_name),
                        dimension_names, plus coordinate arrays `time`, `lat`, `lon`.
  sample.nc             NetCDF4 with the same `t2m` (gzip level 4 + shuffle, chunks (10, 73, 144))
                        and the same coordinates.
  sample_expected.json  shapes, global mean/std/min/max, the time mean at a few grid points, the
                        mean over lat/lon of the first time steps, a few sampled values, and the
                        main job's answers (examples/climatology.rs): the monthly climatology
                        `t2m.groupby("time.month").mean()` and the monthly anomaly standard
                        deviation `(t2m.groupby("time.month") - clim).std("time")`, computed by
                        xarray from the written sample.zarr with its CF time decoded by cftime.

The field: 5 years of monthly 2 m temperature on a 2.5° grid, in kelvin. A zonal-mean profile
(warm tropics, cold poles), a seasonal cycle whose amplitude grows with latitude and flips sign
between hemispheres, a land-sea-like zonal wave, a small warming trend, and seeded noise.
"""

import json
import os
import shutil

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

HERE = os.path.dirname(os.path.abspath(__file__))
NT, NLAT, NLON = 60, 73, 144


def make_field():
    rng = np.random.default_rng(1979)
    time = np.arange(NT, dtype="f8")  # months since 2000-01-01
    lat = np.linspace(90.0, -90.0, NLAT)
    lon = np.arange(NLON) * 2.5
    t = time[:, None, None]
    la = np.deg2rad(lat)[None, :, None]
    lo = np.deg2rad(lon)[None, None, :]
    zonal = 300.0 - 45.0 * np.sin(la) ** 2  # K
    season_amp = 12.0 * np.sin(la)  # NH summer warm, SH opposite
    season = -season_amp * np.cos(2 * np.pi * (t - 0.5) / 12.0)
    wave = 3.0 * np.cos(2 * lo) * np.cos(la) ** 2
    trend = 0.02 * t / 12.0
    noise = rng.normal(0.0, 1.5, size=(NT, NLAT, NLON))
    t2m = (zonal + season + wave + trend + noise).astype("f4")
    return time, lat, lon, t2m


ATTRS = {
    "units": "K",
    "long_name": "2 metre temperature",
    "standard_name": "air_temperature",
}


def write_zarr(time, lat, lon, t2m):
    path = os.path.join(HERE, "sample.zarr")
    shutil.rmtree(path, ignore_errors=True)
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.attrs.update({"title": "chunkwise sample: synthetic monthly 2 m temperature",
                       "Conventions": "CF-1.8"})
    a = root.create_array("t2m", shape=t2m.shape, chunks=(10, NLAT, NLON), dtype="f4",
                          compressors=ZstdCodec(level=3), fill_value=float("nan"),
                          dimension_names=("time", "lat", "lon"))
    a[...] = t2m
    a.attrs.update({**ATTRS, "_ARRAY_DIMENSIONS": ["time", "lat", "lon"]})
    for name, values, attrs in [
        ("time", time, {"units": "months since 2000-01-01", "calendar": "360_day",
                        "standard_name": "time"}),
        ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
        ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
    ]:
        c = root.create_array(name, shape=values.shape, chunks=values.shape, dtype="f8",
                              compressors=ZstdCodec(level=3), fill_value=float("nan"),
                              dimension_names=(name,))
        c[...] = values
        c.attrs.update({**attrs, "_ARRAY_DIMENSIONS": [name]})


def write_netcdf(time, lat, lon, t2m):
    import netCDF4

    path = os.path.join(HERE, "sample.nc")
    if os.path.exists(path):
        os.remove(path)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.title = "chunkwise sample: synthetic monthly 2 m temperature"
        ds.Conventions = "CF-1.8"
        ds.createDimension("time", NT)
        ds.createDimension("lat", NLAT)
        ds.createDimension("lon", NLON)
        vt = ds.createVariable("time", "f8", ("time",))
        vt.units = "months since 2000-01-01"
        vt.calendar = "360_day"
        vt[:] = time
        vla = ds.createVariable("lat", "f8", ("lat",))
        vla.units = "degrees_north"
        vla[:] = lat
        vlo = ds.createVariable("lon", "f8", ("lon",))
        vlo.units = "degrees_east"
        vlo[:] = lon
        v = ds.createVariable("t2m", "f4", ("time", "lat", "lon"), zlib=True, complevel=4,
                              shuffle=True, chunksizes=(10, NLAT, NLON),
                              fill_value=np.float32(np.nan))
        v.units = ATTRS["units"]
        v.long_name = ATTRS["long_name"]
        v.standard_name = ATTRS["standard_name"]
        v[:] = t2m


def expected(time, lat, lon, t2m):
    x = t2m.astype("f8")
    points = [(0, 0), (36, 72), (10, 100), (60, 10), (72, 143)]
    return {
        "shape": list(t2m.shape),
        "dtype": "float32",
        "chunks": [10, NLAT, NLON],
        "dimension_names": ["time", "lat", "lon"],
        "attributes": ATTRS,
        "global_mean": float(x.mean()),
        "global_std": float(x.std()),
        "global_min": float(x.min()),
        "global_max": float(x.max()),
        "time_mean_at": [
            {"lat_index": i, "lon_index": j, "mean": float(x[:, i, j].mean())}
            for i, j in points
        ],
        "spatial_mean_first_12": [float(v) for v in x[:12].mean(axis=(1, 2))],
        "samples": [
            {"index": [t, i, j], "value": float(t2m[t, i, j])}
            for t, i, j in [(0, 0, 0), (5, 36, 72), (59, 72, 143), (17, 20, 33), (42, 50, 99)]
        ],
        "lat_first_last": [float(lat[0]), float(lat[-1])],
        "lon_first_last": [float(lon[0]), float(lon[-1])],
        "time_first_last": [float(time[0]), float(time[-1])],
    }


MONTHLY_POINTS = [(0, 0), (36, 72), (10, 100), (60, 10), (72, 143)]


def expected_monthly():
    """The main job's answers, by xarray on the store as written (time decoded by cftime)."""
    import xarray as xr

    ds = xr.open_zarr(os.path.join(HERE, "sample.zarr"), consolidated=False,
                      decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    # float64 sums of the float32 values, as chunkwise accumulates them.
    t2m = ds.t2m.astype("f8")
    by_month = t2m.groupby("time.month")
    clim = by_month.mean()
    anom_std = (by_month - clim).std("time")
    return {
        "months": [int(m) for m in clim.month.values],
        "at": [
            {"lat_index": i, "lon_index": j,
             "clim": [float(v) for v in clim.values[:, i, j]],
             "anomaly_std": float(anom_std.values[i, j])}
            for i, j in MONTHLY_POINTS
        ],
        "clim_spatial_mean": [float(v) for v in clim.mean(("lat", "lon")).values],
        "anomaly_std_spatial_mean": float(anom_std.mean().values),
    }


def main():
    time, lat, lon, t2m = make_field()
    write_zarr(time, lat, lon, t2m)
    write_netcdf(time, lat, lon, t2m)
    e = expected(time, lat, lon, t2m)
    e["monthly"] = expected_monthly()
    with open(os.path.join(HERE, "sample_expected.json"), "w") as f:
        json.dump(e, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
