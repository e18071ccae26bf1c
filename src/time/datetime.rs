//! [`CfDateTime`], a calendar-free date and time of day, and [`Season`].

use super::Calendar;
use crate::error::{Error, Result};

/// Nanoseconds in a day.
pub(crate) const NS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// A date and time of day in some CF calendar, to the nanosecond, in UTC.
///
/// The fields are plain numbers: which dates exist depends on the calendar (2001-02-30 is a
/// date of `360_day` only), so the calendar is passed to what needs it
/// ([`CfDateTime::dayofyear`], [`CfDateTime::validate`], [`TimeCoder`](super::TimeCoder)).
/// Comparison is lexicographic on (year, month, day, hour, minute, second, nanosecond),
/// which is chronological in every calendar.
///
/// It prints (`Display`, `to_string`) in ISO 8601 form, `2001-03-01T00:00:00`, with the
/// fraction of a second when there is one (`.5`-second steps print as `.500`), and parses
/// back with [`FromStr`](std::str::FromStr) (see [`parse_datetime`](super::parse_datetime)).
///
/// ```
/// use chunkwise::time::{Calendar, CfDateTime, Season};
///
/// let t = CfDateTime::ymd(2001, 3, 1);
/// assert_eq!(t.to_string(), "2001-03-01T00:00:00");
/// assert_eq!(t.dayofyear(Calendar::NoLeap), 60);
/// assert_eq!(t.dayofyear(Calendar::Day360), 61);
/// assert_eq!(t.season(), Season::MAM);
/// assert_eq!("2001-03-01T06:30:00.25".parse::<CfDateTime>()?.nanosecond, 250_000_000);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CfDateTime {
    /// The year; negative years are before year 1 (see [`Calendar::has_year_zero`]).
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, from 1.
    pub day: u8,
    /// The hour, 0 to 23.
    pub hour: u8,
    /// The minute, 0 to 59.
    pub minute: u8,
    /// The second, 0 to 59 (CF time has no leap seconds).
    pub second: u8,
    /// The nanosecond within the second, below 1 000 000 000.
    pub nanosecond: u32,
}

impl CfDateTime {
    /// Midnight at the start of a date.
    pub const fn ymd(year: i32, month: u8, day: u8) -> CfDateTime {
        CfDateTime::new(year, month, day, 0, 0, 0, 0)
    }

    /// A date and time from all its fields (checked only where a calendar is given, by
    /// [`CfDateTime::validate`] and what encodes).
    pub const fn new(
        year: i32,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        nanosecond: u32,
    ) -> CfDateTime {
        CfDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanosecond,
        }
    }

    /// The same date at `hour:minute:second` (nanoseconds 0).
    pub const fn with_hms(self, hour: u8, minute: u8, second: u8) -> CfDateTime {
        CfDateTime::new(self.year, self.month, self.day, hour, minute, second, 0)
    }

    /// Midnight at the start of the same date.
    pub const fn date(self) -> CfDateTime {
        CfDateTime::ymd(self.year, self.month, self.day)
    }

    /// Checks that this is a date and time of `cal`: its month, its day in that month (and
    /// not one of the ten days the `standard` calendar skips in 1582), no year 0 where the
    /// calendar has none, and a time of day below 24:00:00.
    ///
    /// # Errors
    /// [`Error::InvalidDate`] naming the date, the calendar and the field that is wrong.
    pub fn validate(&self, cal: Calendar) -> Result<()> {
        let problem = cal
            .date_problem(self.year, self.month, self.day)
            .or_else(|| self.time_problem());
        match problem {
            None => Ok(()),
            Some(detail) => Err(Error::InvalidDate {
                date: self.to_string(),
                detail,
            }),
        }
    }

    /// Whether this is a date and time of `cal` (see [`CfDateTime::validate`]).
    pub fn is_valid(&self, cal: Calendar) -> bool {
        cal.day_number(self.year, self.month, self.day).is_some() && self.time_problem().is_none()
    }

    pub(crate) fn time_problem(&self) -> Option<String> {
        if self.hour > 23 || self.minute > 59 || self.second > 59 {
            Some(format!(
                "time of day {:02}:{:02}:{:02} is not below 24:00:00",
                self.hour, self.minute, self.second
            ))
        } else if self.nanosecond >= 1_000_000_000 {
            Some(format!("nanosecond {} is not below 10^9", self.nanosecond))
        } else {
            None
        }
    }

    /// The day of the year, from 1 (January 1st) to [`Calendar::days_in_year`]: the days of
    /// the months before this one in `cal`, plus the day. As cftime's `dayofyr`, this does
    /// not skip the ten missing days of October 1582 in the `standard` calendar.
    pub fn dayofyear(&self, cal: Calendar) -> u16 {
        let before: u16 = (1..self.month.min(13))
            .map(|m| u16::from(cal.days_in_month(self.year, m)))
            .sum();
        before + u16::from(self.day)
    }

    /// The number of days of this date's month in `cal` (xarray's `days_in_month`).
    pub fn days_in_month(&self, cal: Calendar) -> u8 {
        cal.days_in_month(self.year, self.month)
    }

    /// The meteorological season of the month (December, January and February are
    /// [`Season::DJF`]), as xarray's `time.season`.
    pub fn season(&self) -> Season {
        Season::from_month(self.month)
    }

    /// Nanoseconds since 1970-01-01T00:00:00 of `cal` (negative before): a number that
    /// orders and subtracts instants of one calendar. (`julian` counts from the same day as
    /// the Gregorian calendars, its 1969-12-19, so the three agree on every instant.)
    ///
    /// ```
    /// use chunkwise::time::{Calendar, CfDateTime};
    ///
    /// let day = 86_400_000_000_000;
    /// assert_eq!(CfDateTime::ymd(1971, 1, 1).to_nanos(Calendar::Day360)?, 360 * day);
    /// let t = CfDateTime::from_nanos(-day, Calendar::Day360)?;
    /// assert_eq!(t, CfDateTime::ymd(1969, 12, 30));
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidDate`] when the date is not one of `cal` ([`CfDateTime::validate`]).
    pub fn to_nanos(&self, cal: Calendar) -> Result<i128> {
        self.validate(cal)?;
        let days = cal
            .day_number(self.year, self.month, self.day)
            .ok_or_else(|| Error::Internal {
                op: "CfDateTime::to_nanos".into(),
                message: format!("validated date {self} has no day number"),
            })?;
        let secs =
            i128::from(self.hour) * 3600 + i128::from(self.minute) * 60 + i128::from(self.second);
        Ok(i128::from(days) * NS_PER_DAY + secs * 1_000_000_000 + i128::from(self.nanosecond))
    }

    /// The instant `ns` nanoseconds after the zero of [`CfDateTime::to_nanos`] (the inverse of
    /// [`CfDateTime::to_nanos`]).
    ///
    /// # Errors
    /// [`Error::InvalidDate`] when the year would not fit an `i32`.
    pub fn from_nanos(ns: i128, cal: Calendar) -> Result<CfDateTime> {
        let days = ns.div_euclid(NS_PER_DAY);
        let rem = ns.rem_euclid(NS_PER_DAY);
        let date = i64::try_from(days)
            .ok()
            .and_then(|d| cal.date_of_day(d))
            .ok_or_else(|| Error::InvalidDate {
                date: format!("{ns} ns after 1970-01-01"),
                detail: format!(
                    "its year is beyond the years chunkwise represents (-2^31 to 2^31-1) in the {} calendar",
                    cal.cf_name()
                ),
            })?;
        let secs = rem / 1_000_000_000;
        // All below 24 h, 60 min, 60 s and 10^9 ns by construction.
        Ok(CfDateTime::new(
            date.0,
            date.1,
            date.2,
            (secs / 3600) as u8,
            (secs / 60 % 60) as u8,
            (secs % 60) as u8,
            (rem % 1_000_000_000) as u32,
        ))
    }

    /// This instant moved by `ns` nanoseconds (negative: earlier) in `cal`.
    ///
    /// # Errors
    /// As [`CfDateTime::to_nanos`] and [`CfDateTime::from_nanos`].
    pub fn add_nanos(&self, ns: i128, cal: Calendar) -> Result<CfDateTime> {
        let t = self.to_nanos(cal)?;
        let sum = t.checked_add(ns).ok_or_else(|| Error::InvalidDate {
            date: self.to_string(),
            detail: format!("adding {ns} ns overflows"),
        })?;
        CfDateTime::from_nanos(sum, cal)
    }

    /// This instant moved by `days` days in `cal` (1582-10-04 + 1 day is 1582-10-15 in the
    /// `standard` calendar; 2001-02-30 + 1 day is 2001-03-01 in `360_day`).
    ///
    /// # Errors
    /// As [`CfDateTime::add_nanos`].
    pub fn add_days(&self, days: i64, cal: Calendar) -> Result<CfDateTime> {
        self.add_nanos(i128::from(days) * NS_PER_DAY, cal)
    }

    /// Midnight on the first day of the month `months` months after this one (negative:
    /// before), which exists in every calendar: the step of a monthly resampling (`"1MS"`).
    /// The year saturates at the bounds of `i32`.
    pub fn month_start_after(&self, months: i64, cal: Calendar) -> CfDateTime {
        let index = i128::from(self.year) * 12 + i128::from(self.month.clamp(1, 12)) - 1
            + i128::from(months);
        let mut year = index.div_euclid(12);
        let month = (index.rem_euclid(12) + 1) as u8;
        if !cal.has_year_zero() && year == 0 {
            // Stepping through the missing year 0: forward lands in year 1, back in -1.
            year = if months >= 0 { 1 } else { -1 };
        }
        let year = i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX });
        CfDateTime::ymd(year, month, 1)
    }
}

impl std::fmt::Display for CfDateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.year < 0 {
            write!(f, "-{:04}", self.year.unsigned_abs())?;
        } else {
            write!(f, "{:04}", self.year)?;
        }
        write!(
            f,
            "-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.month, self.day, self.hour, self.minute, self.second
        )?;
        let ns = self.nanosecond;
        if ns != 0 {
            if ns.is_multiple_of(1_000_000) {
                write!(f, ".{:03}", ns / 1_000_000)?;
            } else if ns.is_multiple_of(1000) {
                write!(f, ".{:06}", ns / 1000)?;
            } else {
                write!(f, ".{ns:09}")?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for CfDateTime {
    type Err = Error;
    /// As [`parse_datetime`](super::parse_datetime).
    fn from_str(s: &str) -> Result<CfDateTime> {
        super::parse_datetime(s)
    }
}

/// A meteorological season: three months, December to February first.
///
/// ```
/// use chunkwise::time::Season;
///
/// assert_eq!(Season::from_month(12), Season::DJF);
/// assert_eq!(Season::JJA.as_str(), "JJA");
/// assert_eq!(Season::SON.months(), [9, 10, 11]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Season {
    /// December, January, February.
    DJF,
    /// March, April, May.
    MAM,
    /// June, July, August.
    JJA,
    /// September, October, November.
    SON,
}

impl Season {
    /// The four seasons, in the order of the year (xarray sorts the labels alphabetically
    /// instead: DJF, JJA, MAM, SON).
    pub const ALL: [Season; 4] = [Season::DJF, Season::MAM, Season::JJA, Season::SON];

    /// The season of a month (1 to 12; any other number gives [`Season::DJF`]).
    pub fn from_month(month: u8) -> Season {
        match month {
            3..=5 => Season::MAM,
            6..=8 => Season::JJA,
            9..=11 => Season::SON,
            _ => Season::DJF,
        }
    }

    /// The label xarray gives it: `"DJF"`, `"MAM"`, `"JJA"` or `"SON"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Season::DJF => "DJF",
            Season::MAM => "MAM",
            Season::JJA => "JJA",
            Season::SON => "SON",
        }
    }

    /// Its months, in the order of the season (`[12, 1, 2]` for DJF).
    pub fn months(&self) -> [u8; 3] {
        match self {
            Season::DJF => [12, 1, 2],
            Season::MAM => [3, 4, 5],
            Season::JJA => [6, 7, 8],
            Season::SON => [9, 10, 11],
        }
    }

    /// The season named by its label (`"DJF"`, case-insensitive).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for any other string.
    pub fn parse(label: &str) -> Result<Season> {
        Season::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(label.trim()))
            .ok_or_else(|| Error::InvalidArgument {
                op: "Season::parse",
                detail: format!("{label:?} is not a season; seasons are DJF, MAM, JJA and SON"),
            })
    }
}

impl std::fmt::Display for Season {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
