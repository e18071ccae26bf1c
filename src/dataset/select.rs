//! Selection by position (`isel`) and by label (`sel`), both lowered to one slice of the
//! data, so that only the chunks the selection needs are read.

use super::coord::{CoordValues, Coordinate};
use super::dataarray::DataArray;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::time::{CfDateTime, parse_time_range};
use ndarray::SliceInfoElem;
use std::ops::Range;

/// A selection by label on one dimension, for [`DataArray::sel`].
///
/// ```
/// use chunkwise::dataset::Label;
/// let exact = Label::from(45.0);              // one label, the dimension is dropped
/// let near = Label::nearest(44.2);            // the closest label, dropped too
/// let band = Label::range(60.0, 30.0);        // both ends included, in the coordinate's order
/// let spring = Label::time_range("2001-03", "2001-05"); // March 1st to May 31st
/// let march = Label::time("2001-03");         // every time in March 2001
/// # let _ = (exact, near, band, spring, march);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Label {
    /// The position whose label equals the value (the dimension is dropped).
    Value(f64),
    /// The position whose label is closest to the value (the first on a tie; the dimension
    /// is dropped).
    Nearest(f64),
    /// The labels from the first value to the second, both included, as xarray's
    /// `sel(lat=slice(60, 30))`: on a descending coordinate the first value is the larger.
    /// The coordinate must be monotonic.
    Range(f64, f64),
    /// The times a date string covers (`"2001"`, `"2001-03"`, `"2001-03-15T06"`): from its
    /// start to the start of the next year, month, day, ... (the dimension is kept).
    Time(String),
    /// The times from the start of the first date string's period to the end of the second's:
    /// `("2001-03", "2001-05")` is March 1st to May 31st included, as xarray's
    /// `sel(time=slice("2001-03", "2001-05"))`.
    TimeRange(String, String),
}

impl Label {
    /// [`Label::Nearest`].
    pub fn nearest(x: f64) -> Label {
        Label::Nearest(x)
    }
    /// [`Label::Range`].
    pub fn range(from: f64, to: f64) -> Label {
        Label::Range(from, to)
    }
    /// [`Label::Time`].
    pub fn time(s: &str) -> Label {
        Label::Time(s.to_string())
    }
    /// [`Label::TimeRange`].
    pub fn time_range(from: &str, to: &str) -> Label {
        Label::TimeRange(from.to_string(), to.to_string())
    }

    fn describe(&self) -> String {
        match self {
            Label::Value(x) => format!("{x}"),
            Label::Nearest(x) => format!("nearest {x}"),
            Label::Range(a, b) => format!("{a}..={b}"),
            Label::Time(s) => format!("{s:?}"),
            Label::TimeRange(a, b) => format!("{a:?}..{b:?}"),
        }
    }
}

impl From<f64> for Label {
    fn from(x: f64) -> Label {
        Label::Value(x)
    }
}

impl From<&str> for Label {
    fn from(s: &str) -> Label {
        Label::Time(s.to_string())
    }
}

/// What a label selects: one position, or a range of positions.
enum Picked {
    Index(usize),
    Range(Range<usize>),
}

fn not_found(dim: &str, label: &Label, coord: &Coordinate, why: &str) -> Error {
    let n = coord.len();
    let span = if n == 0 {
        "the coordinate is empty".to_string()
    } else {
        format!(
            "the coordinate runs from {} to {}",
            coord.label(0),
            coord.label(n - 1)
        )
    };
    Error::SelectionNotFound {
        op: "sel",
        dim: dim.to_string(),
        value: label.describe(),
        detail: format!("{span}; {why}"),
    }
}

/// +1 for ascending, -1 for descending (strictly or not), `None` for neither; one label
/// counts as ascending.
fn direction<L: PartialOrd>(v: &[L]) -> Option<i8> {
    if v.windows(2).all(|w| w[0] <= w[1]) {
        Some(1)
    } else if v.windows(2).all(|w| w[0] >= w[1]) {
        Some(-1)
    } else {
        None
    }
}

/// The positions of `v` from `lo` to `hi` (`lo` included, `hi` included or not), on a
/// monotonic `v` whose direction is `dir`: for a descending one, `lo` is the larger end.
fn span<L: PartialOrd + Copy>(v: &[L], dir: i8, lo: L, hi: L, hi_included: bool) -> Range<usize> {
    let inside = |x: L| {
        if dir > 0 {
            x >= lo && (if hi_included { x <= hi } else { x < hi })
        } else {
            x <= lo && (if hi_included { x >= hi } else { x > hi })
        }
    };
    let start = v.iter().position(|&x| inside(x)).unwrap_or(v.len());
    let end = v.iter().rposition(|&x| inside(x)).map_or(start, |e| e + 1);
    start..end.max(start)
}

fn pick(dim: &str, coord: &Coordinate, label: &Label) -> Result<Picked> {
    let nf = |why: &str| not_found(dim, label, coord, why);
    match (&coord.values, label) {
        (CoordValues::Numbers(v), Label::Value(x)) => v
            .iter()
            .position(|c| c == x)
            .map(Picked::Index)
            .ok_or_else(|| nf("no label equals it (use Label::nearest for the closest)")),
        (CoordValues::Numbers(v), Label::Nearest(x)) => {
            if x.is_nan() {
                return Err(nf("NaN is nearest to nothing"));
            }
            let mut best: Option<(usize, f64)> = None;
            for (i, c) in v.iter().enumerate() {
                let d = (c - x).abs();
                if !d.is_nan() && best.is_none_or(|(_, b)| d < b) {
                    best = Some((i, d));
                }
            }
            best.map(|(i, _)| Picked::Index(i))
                .ok_or_else(|| nf("the coordinate has no label that is a number"))
        }
        (CoordValues::Numbers(v), Label::Range(a, b)) => {
            let dir = direction(v)
                .ok_or_else(|| nf("a range needs a monotonic coordinate, and it is not"))?;
            let r = span(v, dir, *a, *b, true);
            if r.is_empty() {
                let hint = if (dir > 0) == (a > b) {
                    " (the range is in the reverse of the coordinate's order)"
                } else {
                    ""
                };
                return Err(nf(&format!("no label lies in the range{hint}")));
            }
            Ok(Picked::Range(r))
        }
        (
            CoordValues::Times {
                times, calendar, ..
            },
            Label::Time(s),
        ) => {
            let (lo, hi) = parse_time_range(s, *calendar)?;
            time_span(times, lo, hi).map_err(|why| nf(&why))
        }
        (
            CoordValues::Times {
                times, calendar, ..
            },
            Label::TimeRange(a, b),
        ) => {
            let (lo, _) = parse_time_range(a, *calendar)?;
            let (_, hi) = parse_time_range(b, *calendar)?;
            time_span(times, lo, hi).map_err(|why| nf(&why))
        }
        (CoordValues::Labels(v), Label::Time(s)) => v
            .iter()
            .position(|x| x == s)
            .map(Picked::Index)
            .ok_or_else(|| nf("no label is that name")),
        (CoordValues::Labels(_), _) => Err(nf(
            "the coordinate holds names: select with a name (Label::from(\"DJF\"))",
        )),
        (CoordValues::Times { .. }, _) => Err(nf(
            "the coordinate holds times: select with Label::time or Label::time_range",
        )),
        (CoordValues::Numbers(_), _) => Err(nf(
            "the coordinate holds numbers, not times: select with a number or Label::range",
        )),
    }
}

fn time_span(
    times: &[CfDateTime],
    lo: CfDateTime,
    hi: CfDateTime,
) -> std::result::Result<Picked, String> {
    let dir = direction(times).ok_or("a time range needs monotonic times, and they are not")?;
    let r = if dir > 0 {
        span(times, 1, lo, hi, false)
    } else {
        // Descending times: from the latest before `hi` down to `lo`.
        let start = times
            .iter()
            .position(|t| *t < hi && *t >= lo)
            .unwrap_or(times.len());
        let end = times
            .iter()
            .rposition(|t| *t < hi && *t >= lo)
            .map_or(start, |e| e + 1);
        start..end
    };
    if r.is_empty() {
        return Err(format!("no time lies in [{lo}, {hi})"));
    }
    Ok(Picked::Range(r))
}

impl<T: Element> DataArray<T> {
    /// A selection by position on some dimensions, as xarray's `isel`: for each, a range
    /// (`SliceInfoElem::from(0..31)`, with a step and negative bounds as ndarray's `s![]`) or
    /// an index (`SliceInfoElem::Index(0)`, which drops the dimension and its coordinate).
    /// The data are sliced once, lazily: only the chunks the selection covers are read.
    ///
    /// # Errors
    /// [`Error::UnknownDimension`]; [`Error::InvalidArgument`] for a dimension given twice,
    /// `NewAxis`, an index or bound out of range, or a zero step.
    ///
    /// ```
    /// use chunkwise::dataset::DataArray;
    /// use chunkwise::prelude::*;
    /// use ndarray::SliceInfoElem;
    /// let x = ChunkedArray::<f64>::zeros(&[365, 10], [31, 10])?;
    /// let da = DataArray::new(x, &["time", "lon"])?;
    /// let jan = da.isel(&[("time", SliceInfoElem::from(0..31)), ("lon", SliceInfoElem::Index(3))])?;
    /// assert_eq!((jan.dims(), jan.shape()), (&["time".to_string()][..], &[31][..]));
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn isel(&self, selection: &[(&str, SliceInfoElem)]) -> Result<DataArray<T>> {
        let mut elems: Vec<SliceInfoElem> = vec![SliceInfoElem::from(..); self.dims.len()];
        let mut seen = vec![false; self.dims.len()];
        for (dim, e) in selection {
            let axis = self.axis_of("isel", dim)?;
            if seen[axis] {
                return Err(Error::InvalidArgument {
                    op: "isel",
                    detail: format!("dimension {dim:?} is selected twice"),
                });
            }
            if matches!(e, SliceInfoElem::NewAxis) {
                return Err(Error::InvalidArgument {
                    op: "isel",
                    detail: format!("NewAxis selects nothing on dimension {dim:?}"),
                });
            }
            seen[axis] = true;
            elems[axis] = *e;
        }
        // The data's slice checks every bound; the coordinates then follow ndarray's rules.
        let data = self.data.slice(&elems)?;
        let mut dims = Vec::new();
        let mut coords = std::collections::BTreeMap::new();
        for (axis, d) in self.dims.iter().enumerate() {
            if matches!(elems[axis], SliceInfoElem::Index(_)) {
                continue;
            }
            dims.push(d.clone());
            if let Some(c) = self.coords.get(d) {
                let positions = ndarray::Array1::from_iter(0..self.shape()[axis]).into_dyn();
                let picked: Vec<usize> = positions
                    .slice(&[elems[axis]][..])
                    .iter()
                    .copied()
                    .collect();
                coords.insert(d.clone(), c.take(&picked));
            }
        }
        Ok(DataArray {
            name: self.name.clone(),
            data,
            dims,
            coords,
            attrs: self.attrs.clone(),
        })
    }

    /// A selection by label on some dimensions, as xarray's `sel` (see [`Label`]): lowered to
    /// [`DataArray::isel`], so only the chunks the selection covers are read.
    ///
    /// # Errors
    /// [`Error::UnknownDimension`]; [`Error::InvalidArgument`] for a dimension without a
    /// coordinate; [`Error::SelectionNotFound`] naming the dimension, the value and the
    /// coordinate's range when nothing matches (a value that is no label, a range outside
    /// the coordinate or in the reverse of its order, a non-monotonic coordinate for a
    /// range); [`Error::InvalidDate`] for a date string that does not parse.
    ///
    /// ```
    /// use chunkwise::dataset::{Coordinate, DataArray, Label};
    /// use chunkwise::prelude::*;
    /// let x = ChunkedArray::<f64>::zeros(&[4, 5], [2, 5])?;
    /// let da = DataArray::new(x, &["lat", "lon"])?
    ///     .with_coord("lat", Coordinate::numbers(vec![60.0, 45.0, 30.0, 15.0]))?
    ///     .with_coord("lon", Coordinate::numbers(vec![0.0, 10.0, 20.0, 30.0, 40.0]))?;
    /// let box_ = da.sel(&[("lat", Label::range(50.0, 20.0)), ("lon", Label::nearest(12.0))])?;
    /// assert_eq!(box_.coord("lat").unwrap().as_numbers(), Some(&[45.0, 30.0][..]));
    /// assert_eq!(box_.dims(), &["lat"]);
    /// assert!(da.sel(&[("lat", Label::from(50.0))]).is_err()); // no such label
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn sel(&self, selection: &[(&str, Label)]) -> Result<DataArray<T>> {
        let mut by_pos = Vec::with_capacity(selection.len());
        for (dim, label) in selection {
            self.axis_of("sel", dim)?;
            let coord = self
                .coords
                .get(*dim)
                .ok_or_else(|| Error::InvalidArgument {
                    op: "sel",
                    detail: format!(
                        "dimension {dim:?} of {} has no coordinate to select by label; use isel",
                        self.what()
                    ),
                })?;
            let e = match pick(dim, coord, label)? {
                Picked::Index(i) => SliceInfoElem::Index(i as isize),
                Picked::Range(r) => SliceInfoElem::from(r),
            };
            by_pos.push((*dim, e));
        }
        self.isel(&by_pos)
    }
}
