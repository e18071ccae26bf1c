//! `chunkwise plot` and the report's pictures (issue 10): the PNG's size and pixels, NaN
//! cells in the NaN colour and only there, north up on a descending latitude, clear errors
//! for slices that are not 2-D, downsampling within the memory limit.

use chunkwise::dataset::{Coordinate, DataArray, DatasetWriteOptions};
use chunkwise::{ChunkedArray, Runtime};
use ndarray::{Array2, Array3};
use std::path::{Path, PathBuf};

mod common;
use common::{chunkwise, report_data};

/// The NaN colour `chunkwise plot` documents (light blue-grey, #c8c8d0).
const NAN_RGB: [u8; 3] = [200, 200, 208];

/// Time, lat and lon of the test field.
const NT: usize = 3;
const NLAT: usize = 40;
const NLON: usize = 60;

/// A decoded RGB picture.
struct Picture {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Picture {
    /// Reads a picture and keeps a copy in the target's test directory, to look at.
    fn read(path: &Path) -> Picture {
        let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plot");
        let _ = std::fs::create_dir_all(&keep);
        let name = format!(
            "{}-{}",
            path.parent()
                .and_then(|p| p.file_name())
                .unwrap()
                .to_string_lossy(),
            path.file_name().unwrap().to_string_lossy()
        );
        let _ = std::fs::copy(path, keep.join(name));
        Picture::decode(&std::fs::read(path).unwrap())
    }

    fn decode(bytes: &[u8]) -> Picture {
        let decoder = png::Decoder::new(bytes);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        Picture {
            width: info.width as usize,
            height: info.height as usize,
            rgb: buf,
        }
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// The cells' area: the widest run of columns holding coloured (not grey, so neither
    /// background, text nor axes) or NaN-coloured pixels (the narrower run is the colour bar),
    /// and the rows holding them in those columns. Half-open ranges.
    fn map_area(&self) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let cell = |c: [u8; 3]| !(c[0] == c[1] && c[1] == c[2]) || c == NAN_RGB;
        let has = |x: usize| (0..self.height).any(|y| cell(self.at(x, y)));
        let mut best = 0..0;
        let mut x = 0;
        while x < self.width {
            if has(x) {
                let start = x;
                while x < self.width && has(x) {
                    x += 1;
                }
                if x - start > best.len() {
                    best = start..x;
                }
            }
            x += 1;
        }
        let rows: Vec<usize> = (0..self.height)
            .filter(|&y| best.clone().any(|x| cell(self.at(x, y))))
            .collect();
        (best, rows[0]..rows[rows.len() - 1] + 1)
    }

    /// The pixels of `area` in the NaN colour: their count and bounding box.
    fn nan_pixels(
        &self,
        area: &(std::ops::Range<usize>, std::ops::Range<usize>),
    ) -> (usize, Option<[usize; 4]>) {
        let mut n = 0;
        let mut bbox: Option<[usize; 4]> = None;
        for y in area.1.clone() {
            for x in area.0.clone() {
                if self.at(x, y) == NAN_RGB {
                    n += 1;
                    let b = bbox.get_or_insert([x, y, x, y]);
                    *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
                }
            }
        }
        (n, bbox)
    }

    fn distinct_colours(&self) -> usize {
        let mut c: Vec<[u8; 3]> = self.rgb.chunks(3).map(|p| [p[0], p[1], p[2]]).collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    }
}

/// A Zarr group with `t2m` (time, lat, lon) and its coordinates: latitude descending from
/// north to south, values rising northwards and eastwards; at time 0 the cells of lat rows
/// 10..20 and lon columns 15..30 are NaN, at time 1 none, at time 2 all. Also a 1-D
/// `profile` and a bool `mask`.
fn store(dir: &Path) -> PathBuf {
    let path = dir.join("field.zarr");
    let rt = Runtime::builder().threads(1).build().unwrap();
    let lat: Vec<f64> = (0..NLAT).map(|i| 58.5 - 3.0 * i as f64).collect();
    let lon: Vec<f64> = (0..NLON).map(|j| 3.0 * j as f64).collect();
    let values = Array3::from_shape_fn((NT, NLAT, NLON), |(t, i, j)| match t {
        0 if (10..20).contains(&i) && (15..30).contains(&j) => f64::NAN,
        2 => f64::NAN,
        _ => 250.0 + lat[i] * 0.5 + lon[j] * 0.1 + t as f64,
    });
    let data = ChunkedArray::from_ndarray(values, [1, 10, 15]).unwrap();
    let mut attrs = serde_json::Map::new();
    attrs.insert("units".into(), "K".into());
    attrs.insert("long_name".into(), "test temperature".into());
    let mut lat_attrs = serde_json::Map::new();
    lat_attrs.insert("units".into(), "degrees_north".into());
    DataArray::new(data, &["time", "lat", "lon"])
        .unwrap()
        .with_coord("lat", Coordinate::numbers(lat).with_attrs(lat_attrs))
        .unwrap()
        .with_coord("lon", Coordinate::numbers(lon))
        .unwrap()
        .with_name("t2m")
        .with_attrs(attrs)
        .to_zarr(&rt, &path, DatasetWriteOptions::default())
        .unwrap();
    let profile = ChunkedArray::from_ndarray(ndarray::Array1::<f64>::zeros(NLAT), [NLAT]).unwrap();
    DataArray::new(profile, &["lat"])
        .unwrap()
        .with_name("profile")
        .to_zarr(&rt, &path, DatasetWriteOptions::default())
        .unwrap();
    let mask =
        ChunkedArray::from_ndarray(Array2::from_elem((NLAT, NLON), true), [NLAT, NLON]).unwrap();
    mask.to_zarr(&rt, &path, "mask").unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Exit 2 with `needles` in the message, and no picture (nor a partial one) left in `dir`.
fn usage_error(args: &[&str], needles: &[&str], dir: &Path) {
    let o = chunkwise(args);
    assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
    for n in needles {
        assert!(o.stderr.contains(n), "{args:?}: {n:?} not in {}", o.stderr);
    }
    let pngs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| !e.path().is_dir())
        .collect();
    assert!(pngs.is_empty(), "{args:?} left {pngs:?}");
}

#[test]
fn map_has_its_size_and_draws_nan_cells_grey_north_up() {
    let d = tempfile::tempdir().unwrap();
    let st = store(d.path());
    let pics = d.path().join("pics");
    std::fs::create_dir(&pics).unwrap();
    let out = pics.join("t0.png");
    let o = chunkwise(&[
        "plot",
        s(&st),
        "--var",
        "t2m",
        "--isel",
        "time=0",
        "--size",
        "640x400",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let p = Picture::read(&out);
    assert_eq!((p.width, p.height), (640, 400));
    assert!(
        p.distinct_colours() > 100,
        "{} colours",
        p.distinct_colours()
    );

    // The NaN block fills its place, and nothing else in the map is NaN grey.
    let area = p.map_area();
    let (w, h) = (area.0.len() as f64, area.1.len() as f64);
    assert!(w > 300.0 && h > 200.0, "map area {area:?}");
    let (n, bbox) = p.nan_pixels(&area);
    let [x0, y0, x1, y1] = bbox.expect("NaN pixels in the map");
    assert_eq!(
        n,
        (x1 - x0 + 1) * (y1 - y0 + 1),
        "NaN grey outside the NaN block"
    );
    // Columns 15..30 of 60 from the west; rows 10..20 of 40 from the north (descending
    // latitude drawn north up: drawn south up, they would be 20..30 from the top).
    let frac_x = |x: usize| (x - area.0.start) as f64 / w;
    let frac_y = |y: usize| (y - area.1.start) as f64 / h;
    let near = |got: f64, want: f64, len: f64| (got - want).abs() * len <= 2.5;
    assert!(near(frac_x(x0), 15.0 / 60.0, w), "west edge {x0}, {area:?}");
    assert!(near(frac_x(x1 + 1), 30.0 / 60.0, w), "east edge {x1}");
    assert!(near(frac_y(y0), 10.0 / 40.0, h), "north edge {y0}");
    assert!(near(frac_y(y1 + 1), 20.0 / 40.0, h), "south edge {y1}");
    // Warmer to the north: the top row is brighter (viridis rises in lightness).
    let luma = |c: [u8; 3]| 299 * u32::from(c[0]) + 587 * u32::from(c[1]) + 114 * u32::from(c[2]);
    let x = area.0.start + 3;
    assert!(luma(p.at(x, area.1.start + 1)) > luma(p.at(x, area.1.end - 2)));

    // Without NaN, no NaN grey anywhere (not even the legend's swatch).
    let clean = pics.join("t1.png");
    let o = chunkwise(&[
        "plot",
        s(&st),
        "--var",
        "t2m",
        "--isel",
        "time=1",
        "--out",
        s(&clean),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let q = Picture::read(&clean);
    assert_eq!((q.width, q.height), (800, 500));
    let everywhere = (0..q.width, 0..q.height);
    assert_eq!(q.nan_pixels(&everywhere).0, 0);

    // All NaN: still drawn, all grey, and said so.
    let all = pics.join("t2.png");
    let o = chunkwise(&[
        "plot",
        s(&st),
        "--var",
        "t2m",
        "--isel",
        "time=2",
        "--out",
        s(&all),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("every value of the slice is NaN"),
        "{}",
        o.stderr
    );
    let r = Picture::read(&all);
    let (n, bbox) = r.nan_pixels(&(0..r.width, 0..r.height));
    let [x0, y0, x1, y1] = bbox.unwrap();
    assert!(x1 - x0 > r.width / 2 && y1 - y0 > r.height / 2 && n > r.width * r.height / 3);
}

#[test]
fn slices_that_are_not_2d_and_bad_outputs_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let st = store(d.path());
    let pics = d.path().join("pics");
    std::fs::create_dir(&pics).unwrap();
    let out = pics.join("m.png");
    let out_s = s(&out);
    usage_error(
        &["plot", s(&st), "--var", "t2m", "--out", out_s],
        &[
            "t2m has 3 dimensions (time, lat, lon)",
            "(3, 40, 60)",
            "--isel time=0",
        ],
        &pics,
    );
    usage_error(
        &[
            "plot",
            s(&st),
            "--var",
            "t2m",
            "--isel",
            "time=0,lat=4",
            "--out",
            out_s,
        ],
        &["1 dimension (lon)", "(60)", "2-D"],
        &pics,
    );
    usage_error(
        &["plot", s(&st), "--var", "profile", "--out", out_s],
        &["profile has 1 dimension (lat) of shape (40)", "2-D"],
        &pics,
    );
    usage_error(
        &["plot", s(&st), "--var", "mask", "--out", out_s],
        &["mask holds bool values", "numeric"],
        &pics,
    );
    usage_error(
        &["plot", s(&st), "--out", out_s],
        &["is a group", "--var", "t2m"],
        &pics,
    );
    let nowhere = d.path().join("no/such/dir/m.png");
    usage_error(
        &[
            "plot",
            s(&st),
            "--var",
            "t2m",
            "--isel",
            "time=0",
            "--out",
            s(&nowhere),
        ],
        &["--out", "does not exist"],
        &pics,
    );
    usage_error(
        &[
            "plot",
            s(&st),
            "--var",
            "t2m",
            "--isel",
            "time=0",
            "--out",
            s(&pics),
        ],
        &["is a directory"],
        &pics,
    );
    usage_error(
        &[
            "plot",
            s(&st),
            "--var",
            "t2m",
            "--isel",
            "time=0",
            "--size",
            "50x50",
            "--out",
            out_s,
        ],
        &["--size"],
        &pics,
    );
}

#[test]
fn the_sample_store_plots() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("t2m.png");
    let o = chunkwise(&[
        "plot",
        "data/sample.zarr",
        "--var",
        "t2m",
        "--isel",
        "time=0",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("2 metre temperature (t2m), 73 x 144 cells"),
        "{}",
        o.stdout
    );
    let p = Picture::read(&out);
    assert_eq!((p.width, p.height), (800, 500));
    assert_eq!(p.nan_pixels(&(0..800, 0..500)).0, 0);
    // By label too, and named as store:/array.
    let o = chunkwise(&[
        "plot",
        "data/sample.zarr:/t2m",
        "--sel",
        "time=2000-03-01",
        "--size",
        "400x250",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(Picture::read(&out).width, 400);
}

#[cfg(feature = "hdf5")]
#[test]
fn a_netcdf4_file_plots() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("t2m.png");
    let o = chunkwise(&[
        "plot",
        "data/sample.nc",
        "--var",
        "t2m",
        "--isel",
        "time=0",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let p = Picture::read(&out);
    assert_eq!((p.width, p.height), (800, 500));
    assert!(p.distinct_colours() > 100);
}

#[test]
fn a_large_field_is_downsampled_within_the_memory_limit() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("big.zarr");
    let rt = Runtime::builder().threads(1).build().unwrap();
    // 721 x 1440 f32 (4 MiB), chunks of 90 x 180 (63 KiB); a limit of 1 MiB.
    let a = Array2::from_shape_fn((721, 1440), |(i, j)| {
        let v = (i as f32 * 0.01).sin() + (j as f32 * 0.005).cos();
        if i < 90 && j < 180 { f32::NAN } else { v }
    });
    ChunkedArray::from_ndarray(a, [90, 180])
        .unwrap()
        .to_zarr(&rt, &path, "big")
        .unwrap();
    let out = d.path().join("big.png");
    let report = d.path().join("r.html");
    let o = chunkwise(&[
        "--memory-limit",
        "1MiB",
        "--threads",
        "2",
        "--report",
        s(&report),
        "plot",
        &format!("{}:/big", path.display()),
        "--out",
        s(&out),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("721 x 1440 cells, drawn as"),
        "{}",
        o.stdout
    );
    let data = report_data(&report);
    let peak = data["peak_tracked_bytes"].as_u64().unwrap();
    assert!(peak > 0 && peak <= 1 << 20, "peak {peak}");
    let p = Picture::read(&out);
    let area = p.map_area();
    let (n, bbox) = p.nan_pixels(&area);
    let [x0, y0, x1, y1] = bbox.unwrap();
    assert_eq!(n, (x1 - x0 + 1) * (y1 - y0 + 1));
    // The NaN chunk is the first rows and columns: without coordinates, rows are drawn as
    // an image's (row 0 at the top), so the chunk is in the top-left corner.
    assert!(
        x0 <= area.0.start + 1 && y0 <= area.1.start + 1,
        "{bbox:?} in {area:?}"
    );
    assert!(y1 < area.1.start + area.1.len() / 6, "{bbox:?} in {area:?}");
}

#[test]
fn the_report_of_a_2d_reduction_shows_its_picture() {
    use base64::Engine;
    let d = tempfile::tempdir().unwrap();
    let st = store(d.path());
    let out = format!("{}:/mean", d.path().join("out.zarr").display());
    let report = d.path().join("r.html");
    let o = chunkwise(&[
        "--report",
        s(&report),
        "reduce",
        "mean",
        "--axis",
        "time",
        &format!("{}:/t2m", st.display()),
        &out,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let html = std::fs::read_to_string(&report).unwrap();
    let key = "data:image/png;base64,";
    let at = html.find(key).expect("a picture in the report") + key.len();
    let end = at + html[at..].find('"').unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(&html[at..end])
        .unwrap();
    let p = Picture::decode(&png);
    assert_eq!((p.width, p.height), (360, 225));
    assert!(p.distinct_colours() > 50);
    // The report's run is the reduction's, not the picture's.
    let data = report_data(&report);
    assert!(
        data["labels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| !l.as_str().unwrap().contains("coarsen"))
    );
    // A 1-D result has no picture.
    let o = chunkwise(&[
        "--report",
        s(&report),
        "reduce",
        "mean",
        "--axis",
        "lat,lon",
        &format!("{}:/t2m", st.display()),
        &format!("{}:/series", d.path().join("out.zarr").display()),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!std::fs::read_to_string(&report).unwrap().contains(key));
}
