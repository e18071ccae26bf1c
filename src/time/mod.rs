//! CF time: decoding and encoding the time coordinates of climate data sets in every CF
//! calendar (CF conventions §4.4), as `cftime` and xarray do.
//!
//! A time variable stores numbers with a `units` attribute `"<unit> since <date>"` and a
//! `calendar` attribute. A [`TimeCoder`] turns the numbers into [`CfDateTime`]s and back;
//! [`Calendar`] knows each calendar's months and years; [`parse_datetime`] and
//! [`parse_time_range`] read the date strings a user selects with (`"2001-03"`).
//!
//! ```
//! use chunkwise::time::{parse_time_range, Calendar, CfDateTime, Season, TimeCoder};
//!
//! let coder = TimeCoder::new("days since 2000-01-01", Some("noleap"))?;
//! let t = coder.decode(&[0.0, 59.0, 365.25, -1.0])?;
//! assert_eq!(t[1], CfDateTime::ymd(2000, 3, 1)); // no February 29th
//! assert_eq!(t[2].to_string(), "2001-01-01T06:00:00");
//! assert_eq!(t[3], CfDateTime::ymd(1999, 12, 31));
//! assert_eq!(t[1].dayofyear(Calendar::NoLeap), 60);
//! assert_eq!(t[1].season(), Season::MAM);
//!
//! let (start, end) = parse_time_range("2000-02", Calendar::NoLeap)?;
//! assert_eq!((start, end), (CfDateTime::ymd(2000, 2, 1), CfDateTime::ymd(2000, 3, 1)));
//! assert!(!(start..end).contains(&t[1])); // the end is excluded
//! # Ok::<(), chunkwise::Error>(())
//! ```
//!
//! No crate fits: `chrono` and `hifitime` have neither `noleap` nor `360_day`, and
//! `cftime-rs`, which has them, is AGPL-3.0. This module is small and exact: integer day
//! numbers per calendar and `i128` nanoseconds, no floating point for dates.
//!
//! ## Where it follows cftime, xarray or neither
//! - Units: nanoseconds (xarray) to days, `months` only in `360_day` (30 days) and
//!   `common_years` only in `noleap` (365 days), as cftime; CF's `years` and the months of
//!   other calendars are refused, as cftime and xarray refuse them. `weeks` (7 days) are
//!   read, which cftime and xarray refuse.
//! - Year 0: `standard` and `julian` have none (year -1 is followed by 1), the other
//!   calendars have one: cftime's `has_year_zero` defaults.
//! - `standard` is Julian before 1582-10-15, Gregorian from then; 1582-10-05 to 1582-10-14
//!   are refused. `dayofyear` and `days_in_month` count October 1582 as 31 days, as cftime.
//! - Resolution: the nanosecond (as xarray on `standard` dates); cftime rounds to the
//!   microsecond, so values that are not whole microseconds differ from cftime's by less
//!   than 0.5 µs.
//! - A UTC offset in the units (`+01:00`, `-6`, `Z`, `UTC`) moves the reference date to UTC,
//!   as pandas does; cftime ignores `±h` offsets without minutes.

mod calendar;
mod coder;
mod datetime;
mod parse;
mod units;

pub use calendar::Calendar;
pub use coder::TimeCoder;
pub use datetime::{CfDateTime, Season};
pub use parse::{parse_datetime, parse_time_range};
pub use units::{TimeUnit, TimeUnits};
