//! CF time units: `"<unit> since <reference date>"`.

use super::datetime::NS_PER_DAY;
use super::parse::{Resolution, parse_parts};
use super::{Calendar, CfDateTime};
use crate::error::{Error, Result};

/// The unit of a CF time variable's values.
///
/// Every unit is a fixed number of nanoseconds: [`TimeUnit::Months`] only in the `360_day`
/// calendar (30 days) and [`TimeUnit::CommonYears`] only in `noleap` (365 days), as cftime
/// and xarray allow them. CF's `months` and `years` of the other calendars (1/12 of
/// 365.242198781 days and that many days) are refused, as by cftime and xarray: they are
/// not a whole number of days and no data set means them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `nanoseconds` (`nanosecond`, `nsec`, `nsecs`, `ns`): xarray's, not cftime's.
    Nanoseconds,
    /// `microseconds` (`microsecond`, `microsec`, `microsecs`, `usec`, `usecs`, `us`).
    Microseconds,
    /// `milliseconds` (`millisecond`, `millisec`, `millisecs`, `msec`, `msecs`, `ms`).
    Milliseconds,
    /// `seconds` (`second`, `sec`, `secs`, `s`).
    Seconds,
    /// `minutes` (`minute`, `min`, `mins`).
    Minutes,
    /// `hours` (`hour`, `hr`, `hrs`, `h`).
    Hours,
    /// `days` (`day`, `d`).
    Days,
    /// `weeks` (`week`): 7 days, as udunits defines them. cftime and xarray refuse them;
    /// chunkwise reads them but never writes them.
    Weeks,
    /// `months` (`month`): 30 days, in the `360_day` calendar only.
    Months,
    /// `common_years` (`common_year`): 365 days, in the `noleap` calendar only.
    CommonYears,
}

impl TimeUnit {
    /// The unit named `name` (case-insensitive), or `None`.
    pub fn parse(name: &str) -> Option<TimeUnit> {
        Some(match name.to_ascii_lowercase().as_str() {
            "nanoseconds" | "nanosecond" | "nsec" | "nsecs" | "ns" => TimeUnit::Nanoseconds,
            "microseconds" | "microsecond" | "microsec" | "microsecs" | "usec" | "usecs" | "us" => {
                TimeUnit::Microseconds
            }
            "milliseconds" | "millisecond" | "millisec" | "millisecs" | "msec" | "msecs" | "ms" => {
                TimeUnit::Milliseconds
            }
            "seconds" | "second" | "sec" | "secs" | "s" => TimeUnit::Seconds,
            "minutes" | "minute" | "min" | "mins" => TimeUnit::Minutes,
            "hours" | "hour" | "hr" | "hrs" | "h" => TimeUnit::Hours,
            "days" | "day" | "d" => TimeUnit::Days,
            "weeks" | "week" => TimeUnit::Weeks,
            "months" | "month" => TimeUnit::Months,
            "common_years" | "common_year" => TimeUnit::CommonYears,
            _ => return None,
        })
    }

    /// The unit's CF name (plural): `"days"`, `"hours"`, `"common_years"`, ...
    pub fn cf_name(&self) -> &'static str {
        match self {
            TimeUnit::Nanoseconds => "nanoseconds",
            TimeUnit::Microseconds => "microseconds",
            TimeUnit::Milliseconds => "milliseconds",
            TimeUnit::Seconds => "seconds",
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
            TimeUnit::Weeks => "weeks",
            TimeUnit::Months => "months",
            TimeUnit::CommonYears => "common_years",
        }
    }

    /// The length of the unit in nanoseconds in `cal`; `None` for [`TimeUnit::Months`]
    /// outside `360_day` and [`TimeUnit::CommonYears`] outside `noleap`.
    pub fn nanos(&self, cal: Calendar) -> Option<i128> {
        Some(match self {
            TimeUnit::Nanoseconds => 1,
            TimeUnit::Microseconds => 1_000,
            TimeUnit::Milliseconds => 1_000_000,
            TimeUnit::Seconds => 1_000_000_000,
            TimeUnit::Minutes => 60_000_000_000,
            TimeUnit::Hours => 3_600_000_000_000,
            TimeUnit::Days => NS_PER_DAY,
            TimeUnit::Weeks => 7 * NS_PER_DAY,
            TimeUnit::Months if cal == Calendar::Day360 => 30 * NS_PER_DAY,
            TimeUnit::CommonYears if cal == Calendar::NoLeap => 365 * NS_PER_DAY,
            TimeUnit::Months | TimeUnit::CommonYears => return None,
        })
    }
}

impl std::fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cf_name())
    }
}

/// Parsed CF time units, `"<unit> since <reference date>"` (CF conventions §4.4).
///
/// ```
/// use chunkwise::time::{CfDateTime, TimeUnit, TimeUnits};
///
/// let u = TimeUnits::parse("hours since 1900-01-01 00:00:0.0")?;
/// assert_eq!((u.unit, u.epoch), (TimeUnit::Hours, CfDateTime::ymd(1900, 1, 1)));
/// let u = TimeUnits::parse("seconds since 1970-1-1T00:00:00Z")?;
/// assert_eq!(u.to_string(), "seconds since 1970-01-01 00:00:00");
/// let u = TimeUnits::parse("days since 2000-01-01 00:00:00 +01:00")?;
/// assert_eq!(u.utc_offset_minutes, 60);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeUnits {
    /// The unit of the values.
    pub unit: TimeUnit,
    /// The reference date and time, as written (local to `utc_offset_minutes`).
    pub epoch: CfDateTime,
    /// The UTC offset written after the reference time (`+01:00` is 60; `Z`, `UTC` and
    /// none are 0). The reference instant is `epoch` less this offset, as cftime and pandas
    /// read it.
    pub utc_offset_minutes: i16,
}

impl TimeUnits {
    /// A unit since a reference date in UTC.
    pub fn new(unit: TimeUnit, epoch: CfDateTime) -> TimeUnits {
        TimeUnits {
            unit,
            epoch,
            utc_offset_minutes: 0,
        }
    }

    /// Parses `"<unit> since <date>[ <time>][ <zone>]"`: the unit case-insensitive with its
    /// usual abbreviations ([`TimeUnit`]), the date `YYYY-MM-DD` (one-digit fields and a
    /// negative year allowed), the time after a space or `T` (`hh`, `hh:mm`, `hh:mm:ss`,
    /// with a fraction of a second), the zone `Z`, `UTC`, `GMT` or `±hh[[:]mm]`.
    ///
    /// # Errors
    /// [`Error::TimeUnits`] naming the string: no `since`, an unknown unit (`years` and the
    /// other units CF allows but no calendar here supports, named as such), or a reference
    /// date that is not a date.
    pub fn parse(units: &str) -> Result<TimeUnits> {
        let err = |detail: String| Error::TimeUnits {
            units: units.to_string(),
            detail,
        };
        let trimmed = units.trim();
        let (unit_word, rest) = trimmed.split_once(char::is_whitespace).ok_or_else(|| {
            err("expected \"<unit> since <date>\", such as \"days since 2000-01-01\"".into())
        })?;
        let rest = rest.trim_start();
        let date = match rest.split_once(char::is_whitespace) {
            Some((since, date)) if since.eq_ignore_ascii_case("since") => date,
            _ => {
                return Err(err(
                    "expected \"<unit> since <date>\", such as \"days since 2000-01-01\" \
                     (no \"since\" after the unit)"
                        .into(),
                ));
            }
        };
        let unit = TimeUnit::parse(unit_word).ok_or_else(|| {
            let lower = unit_word.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "years" | "year" | "yr" | "yrs" | "a" | "common_year" | "leap_years"
            ) {
                err(format!(
                    "unit {unit_word:?} is not supported: CF years are 365.242198781 days, \
                     which no calendar date matches (cftime and xarray refuse them too); \
                     \"common_years\" (365 days) works with the noleap calendar"
                ))
            } else {
                err(format!(
                    "unknown unit {unit_word:?}; expected nanoseconds, microseconds, \
                     milliseconds, seconds, minutes, hours, days, weeks, months (360_day) or \
                     common_years (noleap)"
                ))
            }
        })?;
        let parsed = parse_parts(date, true).map_err(|e| match e {
            Error::InvalidDate { detail, .. } => {
                err(format!("reference date {:?}: {detail}", date.trim()))
            }
            other => other,
        })?;
        if matches!(parsed.resolution, Resolution::Year | Resolution::Month) {
            return Err(err(format!(
                "reference date {:?} has no day; expected YYYY-MM-DD",
                date.trim()
            )));
        }
        Ok(TimeUnits {
            unit,
            epoch: parsed.time,
            utc_offset_minutes: parsed.utc_offset_minutes,
        })
    }
}

impl std::fmt::Display for TimeUnits {
    /// `"days since 2000-01-01 00:00:00"`, with the fraction of a second and the UTC offset
    /// when they are not zero: what [`TimeUnits::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let iso = self.epoch.to_string();
        write!(f, "{} since {}", self.unit, iso.replacen('T', " ", 1))?;
        let off = self.utc_offset_minutes;
        if off != 0 {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            write!(f, " {sign}{:02}:{:02}", a / 60, a % 60)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for TimeUnits {
    type Err = Error;
    fn from_str(s: &str) -> Result<TimeUnits> {
        TimeUnits::parse(s)
    }
}
