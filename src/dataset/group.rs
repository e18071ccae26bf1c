//! Grouped reductions by label: `groupby("time.month")`, `groupby("time.season")`,
//! `resample("time", "1MS")`, on top of [`ChunkedArray::groupby`] / [`ChunkedArray::resample`].

use super::coord::{CoordValues, Coordinate};
use super::dataarray::DataArray;
use crate::array::{Bins, ChunkedArray, GroupBy};
use crate::element::{Element, Numeric};
use crate::error::{Error, Result};
use crate::time::{CfDateTime, Season};
use std::collections::BTreeMap;

/// A [`DataArray`] grouped along one dimension, by [`DataArray::groupby`] or
/// [`DataArray::resample`]. Its reductions replace the dimension by the groups: a dimension
/// named like the grouping key (`"month"`, `"season"`, ...) whose coordinate is the group
/// labels in sorted order, as xarray; for a resampling, the dimension keeps its name and its
/// coordinate is each bin's start.
///
/// ```
/// use chunkwise::dataset::{Coordinate, DataArray};
/// use chunkwise::prelude::*;
/// use chunkwise::time::{Calendar, TimeCoder};
///
/// let rt = Runtime::builder().threads(1).build()?;
/// let coder = TimeCoder::new("days since 2001-01-01", Some("360_day"))?;
/// let times = coder.decode(&(0..720).map(f64::from).collect::<Vec<_>>())?;
/// let x = ChunkedArray::<f64>::arange(0.0, 720.0, 1.0, 90)?;
/// let da = DataArray::new(x, &["time"])?
///     .with_coord("time", Coordinate::times(times, Calendar::Day360))?;
/// let clim = da.groupby("time.month")?.mean()?;      // dims (month), 12 labels
/// assert_eq!(clim.coord("month").unwrap().as_numbers().unwrap()[0], 1.0);
/// assert_eq!(clim.data().compute(&rt)?[[0]], (14.5 + 374.5) / 2.0);
/// let anom = da.groupby("time.month")?.anomaly(&clim)?;
/// assert!(anom.data().sum().compute_scalar(&rt)?.abs() < 1e-9);
/// let monthly = da.resample("time", "1MS")?.mean()?; // 24 month starts
/// assert_eq!(monthly.shape(), &[24]);
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub struct DataGroupBy<T: Element> {
    da: DataArray<T>,
    dim: String,
    gb: GroupBy<T>,
    /// The dimension of the results, and its coordinate.
    group_dim: String,
    group_coord: Coordinate,
    /// For a resampling with bins that hold no time: for each bin of the results, its group
    /// among `gb`'s (`None` for an empty bin, which gets NaN whatever the reduction, sums
    /// included, as xarray).
    slots: Option<Vec<Option<usize>>>,
}

/// The season codes in xarray's (sorted) label order.
fn season_code(s: Season) -> i64 {
    match s {
        Season::DJF => 0,
        Season::JJA => 1,
        Season::MAM => 2,
        Season::SON => 3,
    }
}

const SEASONS: [&str; 4] = ["DJF", "JJA", "MAM", "SON"];

impl<T: Element> DataArray<T> {
    /// Groups along time dimension `dim` by a time field: `key` is `"dim.field"` with field
    /// `year`, `month`, `day`, `hour`, `dayofyear` or `season` (as xarray's
    /// `da.groupby("time.month")`). Seasons are ordered as xarray sorts them: DJF, JJA, MAM,
    /// SON, and their coordinate holds those names.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a key without a dot or an unknown field, or a dimension
    /// without a time coordinate; [`Error::UnknownDimension`].
    pub fn groupby(&self, key: &str) -> Result<DataGroupBy<T>> {
        let (dim, field) = key.split_once('.').ok_or_else(|| Error::InvalidArgument {
            op: "groupby",
            detail: format!(
                "group key {key:?}: expected \"<time dim>.<field>\", as \"time.month\" or \
                 \"time.season\""
            ),
        })?;
        let axis = self.axis_of("groupby", dim)?;
        let (labels, group_coord) = if field == "season" {
            let times = self.times(dim)?;
            let codes: Vec<i64> = times.iter().map(|t| season_code(t.season())).collect();
            let mut present: Vec<i64> = codes.clone();
            present.sort_unstable();
            present.dedup();
            let names = present
                .iter()
                .map(|&c| SEASONS[c as usize].to_string())
                .collect();
            (
                codes,
                Coordinate {
                    values: CoordValues::Labels(names),
                    attrs: Default::default(),
                },
            )
        } else {
            let codes = self.time_field(dim, field)?;
            let mut present = codes.clone();
            present.sort_unstable();
            present.dedup();
            (
                codes,
                Coordinate::numbers(present.iter().map(|&c| c as f64).collect()),
            )
        };
        let gb = self.data.groupby(axis, labels)?;
        Ok(DataGroupBy {
            da: self.clone(),
            dim: dim.to_string(),
            gb,
            group_dim: field.to_string(),
            group_coord,
            slots: None,
        })
    }

    /// Resamples time dimension `dim` to bins of frequency `freq`, as xarray's
    /// `da.resample(time="1MS")`: `"<n>MS"` (month starts), `"<n>YS"` (year starts, also
    /// `"AS"`), `"<n>D"` (days) or `"<n>h"` (hours; `n` defaults to 1). Bins start at the
    /// period start of the first time and are labelled by their start. The times must be
    /// ascending.
    ///
    /// Bins holding no time are kept, as xarray: their results are NaN, sums included
    /// (xarray's resample reindexes to every bin with NaN); the reductions of integers that
    /// stay integers (`sum`, `min`, `max`), which cannot hold NaN, refuse such bins.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for another frequency, times that are not ascending or a
    /// dimension without a time coordinate; [`Error::UnknownDimension`].
    pub fn resample(&self, dim: &str, freq: &str) -> Result<DataGroupBy<T>> {
        let axis = self.axis_of("resample", dim)?;
        let times = self.times(dim)?.to_vec();
        let (_, cal) = self
            .coord(dim)
            .and_then(Coordinate::as_times)
            .ok_or_else(|| Error::internal("resample", "time coordinate vanished"))?;
        let bad = |detail: String| Error::InvalidArgument {
            op: "resample",
            detail,
        };
        if times.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad(format!("the times of {dim:?} are not ascending")));
        }
        let split = freq
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(freq.len());
        let (n, unit) = freq.split_at(split);
        let n: i64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| bad(format!("frequency {freq:?}")))?
        };
        if n < 1 {
            return Err(bad(format!(
                "frequency {freq:?}: the count must be at least 1"
            )));
        }
        let start_of: Box<dyn Fn(&CfDateTime) -> CfDateTime> = match unit {
            "MS" => Box::new(|t: &CfDateTime| t.month_start_after(0, cal)),
            "YS" | "AS" => Box::new(|t: &CfDateTime| CfDateTime::ymd(t.year, 1, 1)),
            "D" => Box::new(|t: &CfDateTime| t.date()),
            "h" | "H" => Box::new(|t: &CfDateTime| t.date().with_hms(t.hour, 0, 0)),
            _ => {
                return Err(bad(format!(
                    "frequency {freq:?}: chunkwise resamples to \"<n>MS\", \"<n>YS\", \
                     \"<n>D\" or \"<n>h\""
                )));
            }
        };
        let step = |t: CfDateTime| -> Result<CfDateTime> {
            match unit {
                "MS" => Ok(t.month_start_after(n, cal)),
                "YS" | "AS" => Ok(t.month_start_after(12 * n, cal)),
                "D" => t.add_days(n, cal),
                _ => t.add_nanos(i128::from(n) * 3_600_000_000_000, cal),
            }
        };
        let mut edges = Vec::new();
        let mut starts = Vec::new();
        let mut slots = Vec::new();
        if let Some(first) = times.first() {
            let mut bin = start_of(first);
            let mut i = 0;
            while i < times.len() {
                let next = step(bin)?;
                if times[i] < next {
                    slots.push(Some(edges.len()));
                    edges.push(i);
                    while i < times.len() && times[i] < next {
                        i += 1;
                    }
                } else {
                    slots.push(None);
                }
                starts.push(bin);
                bin = next;
            }
            edges.push(times.len());
        }
        let gb = self.data.resample(axis, Bins::Edges(edges))?;
        Ok(DataGroupBy {
            da: self.clone(),
            dim: dim.to_string(),
            gb,
            group_dim: dim.to_string(),
            group_coord: Coordinate::times(starts, cal),
            slots: slots.contains(&None).then_some(slots),
        })
    }
}

impl<T: Element> DataGroupBy<T> {
    /// The group labels' coordinate of the results.
    pub fn groups(&self) -> &Coordinate {
        &self.group_coord
    }

    /// The name of the results' group dimension.
    pub fn group_dim(&self) -> &str {
        &self.group_dim
    }

    /// The grouping of the data (strategy, groups), as [`ChunkedArray::groupby`] made it.
    pub fn inner(&self) -> &GroupBy<T> {
        &self.gb
    }

    /// The results of the non-empty bins `r` with the empty bins put back, holding NaN.
    fn fill_empty<O: Numeric>(
        &self,
        op: &'static str,
        r: ChunkedArray<O>,
    ) -> Result<ChunkedArray<O>> {
        let Some(slots) = &self.slots else {
            return Ok(r);
        };
        let axis = self.gb.axis();
        if !O::IS_FLOAT {
            let empty: Vec<String> = slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_none())
                .map(|(k, _)| self.group_coord.label(k))
                .collect();
            return Err(Error::InvalidArgument {
                op,
                detail: format!(
                    "the bins starting {} of {:?} hold no time: their {op} is NaN (as xarray \
                     gives it), which {} cannot hold; convert the data to floats first",
                    empty.join(", "),
                    self.dim,
                    O::DTYPE
                ),
            });
        }
        let fill = O::from_f64_(f64::NAN);
        let mut shape = r.shape().to_vec();
        shape[axis] = 1;
        let chunks: Vec<usize> = (0..shape.len())
            .map(|a| {
                if a == axis {
                    1
                } else {
                    r.chunks().axis(a).max_size().max(1)
                }
            })
            .collect();
        let present = r.shape()[axis];
        let row = ChunkedArray::full(&shape, fill, chunks)?;
        let both = crate::array::concatenate(axis, &[&r, &row])?;
        let take: Vec<usize> = slots.iter().map(|s| s.unwrap_or(present)).collect();
        both.take(axis, &take)
    }

    /// The array's dims with the grouped one replaced by the group dim.
    fn grouped_dims(&self) -> Vec<String> {
        let rename = |d: &String| if *d == self.dim { &self.group_dim } else { d }.clone();
        self.da.dims.iter().map(rename).collect()
    }

    fn wrap<O: Element>(&self, data: ChunkedArray<O>) -> Result<DataArray<O>> {
        let dims = self.grouped_dims();
        let mut coords: BTreeMap<String, Coordinate> = self
            .da
            .coords
            .iter()
            .filter(|(d, _)| **d != self.dim)
            .map(|(d, c)| (d.clone(), c.clone()))
            .collect();
        coords.insert(self.group_dim.clone(), self.group_coord.clone());
        DataArray::from_parts(self.da.name.clone(), data, dims, coords, Default::default())
    }
}

macro_rules! grouped {
    ($($(#[$doc:meta])* $name:ident => $out:ty;)*) => {
        impl<T: Numeric> DataGroupBy<T> {
            $(
                $(#[$doc])*
                ///
                /// # Errors
                /// As the [`GroupBy`] reduction of the same name.
                pub fn $name(&self) -> Result<DataArray<$out>> {
                    let r = self.gb.$name()?;
                    self.wrap(self.fill_empty(stringify!($name), r)?)
                }
            )*
        }
    };
}

grouped! {
    /// The sum of each group.
    sum => T::Sum;
    /// The sum of each group, NaN skipped.
    nansum => T::Sum;
    /// The mean of each group.
    mean => T::Mean;
    /// The mean of each group, NaN skipped.
    nanmean => T::Mean;
    /// The variance of each group (ddof = 0).
    var => T::Mean;
    /// The standard deviation of each group (ddof = 0).
    std => T::Mean;
    /// The variance of each group, NaN skipped.
    nanvar => T::Mean;
    /// The standard deviation of each group, NaN skipped.
    nanstd => T::Mean;
    /// The minimum of each group.
    min => T;
    /// The maximum of each group.
    max => T;
    /// The minimum of each group, NaN skipped.
    nanmin => T;
    /// The maximum of each group, NaN skipped.
    nanmax => T;
}

impl<T: Numeric> DataGroupBy<T> {
    /// The anomaly against a group result: `x - clim[group]` along the grouped dimension, as
    /// xarray's `da.groupby("time.month") - clim`. `clim` has the group dimension (as a
    /// reduction of this grouping gives it) with the same group labels, and otherwise any of
    /// the array's dimensions in any order; the result has the array's dims and coords.
    ///
    /// # Errors
    /// [`Error::UnknownDimension`] when `clim` lacks the group dimension or has one the array
    /// lacks; [`Error::CoordinateMismatch`] when its group labels differ;
    /// [`Error::DimensionLengthMismatch`] / [`Error::CoordinateMismatch`] on other dims.
    pub fn anomaly(&self, clim: &DataArray<T>) -> Result<DataArray<T>> {
        clim.axis_of("anomaly", &self.group_dim)?;
        if let Some(c) = clim.coord(&self.group_dim)
            && let Some(detail) = c.first_difference(&self.group_coord)
        {
            return Err(Error::CoordinateMismatch {
                op: "anomaly",
                dim: self.group_dim.clone(),
                detail,
            });
        }
        // `clim` in the array's dim order, the group dim where the grouped one is and
        // length-1 axes for dims it lacks.
        let want = self.grouped_dims();
        for d in clim.dims() {
            if !want.contains(d) {
                return Err(Error::UnknownDimension {
                    op: "anomaly",
                    what: self.da.what(),
                    dim: d.clone(),
                    available: want.clone(),
                });
            }
        }
        for (k, d) in want.iter().enumerate() {
            if *d == self.group_dim {
                continue;
            }
            if let Ok(j) = clim.axis_of("anomaly", d) {
                let (la, lb) = (self.da.shape()[k], clim.shape()[j]);
                if la != lb {
                    return Err(Error::DimensionLengthMismatch {
                        op: "anomaly",
                        dim: d.clone(),
                        what_a: self.da.what(),
                        len_a: la,
                        what_b: clim.what(),
                        len_b: lb,
                    });
                }
                if let (Some(a), Some(b)) = (self.da.coord(d), clim.coord(d))
                    && let Some(detail) = a.first_difference(b)
                {
                    return Err(Error::CoordinateMismatch {
                        op: "anomaly",
                        dim: d.clone(),
                        detail,
                    });
                }
            }
        }
        let mut c = super::dataarray::expand_to(&clim.data, &clim.dims, &want, true)?;
        if let Some(slots) = &self.slots {
            // The empty bins have no positions to subtract from.
            let present: Vec<usize> = (0..slots.len()).filter(|&k| slots[k].is_some()).collect();
            c = c.take(self.gb.axis(), &present)?;
        }
        let data = self.gb.anomaly(&c)?;
        let mut out = self.da.with_data(data)?;
        out.name = self.da.name.clone();
        Ok(out)
    }
}
