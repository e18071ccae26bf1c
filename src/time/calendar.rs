//! The CF calendars and their day arithmetic: integers only.
//!
//! Every calendar numbers its days with an `i64` *day number*, 0 on its 1970-01-01; the
//! Julian, Gregorian and mixed calendars share one numbering (the Julian Day Number less
//! 2 440 588, 0 on the Gregorian 1970-01-01, which is the Julian 1969-12-19), so the mixed
//! calendar's Julian 1582-10-04 is followed by the Gregorian 1582-10-15.

use crate::error::{Error, Result};

/// A CF calendar (the `calendar` attribute of a time variable; CF conventions §4.4.1).
///
/// ```
/// use chunkwise::time::Calendar;
///
/// let cal = Calendar::parse("365_day")?;
/// assert_eq!(cal, Calendar::NoLeap);
/// assert_eq!(cal.cf_name(), "noleap");
/// assert_eq!(cal.days_in_month(2000, 2), 28);
/// assert_eq!(Calendar::Day360.days_in_year(2001), 360);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Calendar {
    /// `standard` (or `gregorian`), the CF default: the Julian calendar up to 1582-10-04,
    /// followed by the Gregorian from 1582-10-15; the ten days between do not exist. No
    /// year 0: year -1 (1 BC) is followed by year 1, as in cftime.
    #[default]
    Standard,
    /// `proleptic_gregorian`: the Gregorian calendar extended back in time, with a year 0
    /// (ISO 8601, cftime's default for it).
    ProlepticGregorian,
    /// `noleap` (or `365_day`): every year has 365 days. Has a year 0.
    NoLeap,
    /// `all_leap` (or `366_day`): every year has 366 days. Has a year 0.
    AllLeap,
    /// `360_day`: twelve months of 30 days. Has a year 0.
    Day360,
    /// `julian`: a leap year every four years. No year 0, as in cftime.
    Julian,
}

/// Cumulative days before each month in a common and in a leap year (index 0 = January).
const CUM_COMMON: [u16; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
const CUM_LEAP: [u16; 13] = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366];

/// The day number of the first Gregorian day of the mixed calendar, 1582-10-15.
const GREGORIAN_START: i64 = -141_427;
/// The Julian Day Number of 1970-01-01 (proleptic Gregorian).
const JDN_UNIX: i64 = 2_440_588;

impl Calendar {
    /// Every calendar, in the order of the enum.
    pub const ALL: [Calendar; 6] = [
        Calendar::Standard,
        Calendar::ProlepticGregorian,
        Calendar::NoLeap,
        Calendar::AllLeap,
        Calendar::Day360,
        Calendar::Julian,
    ];

    /// The calendar named by a CF `calendar` attribute, case-insensitively and with the CF
    /// aliases: `standard`/`gregorian`, `proleptic_gregorian`, `noleap`/`365_day`,
    /// `all_leap`/`366_day`, `360_day`, `julian`.
    ///
    /// # Errors
    /// [`Error::UnsupportedCalendar`] for any other name (including CF's `none` and the
    /// deprecated user-defined calendars).
    pub fn parse(name: &str) -> Result<Calendar> {
        let lower = name.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "standard" | "gregorian" => Calendar::Standard,
            "proleptic_gregorian" => Calendar::ProlepticGregorian,
            "noleap" | "no_leap" | "365_day" => Calendar::NoLeap,
            "all_leap" | "allleap" | "366_day" => Calendar::AllLeap,
            "360_day" => Calendar::Day360,
            "julian" => Calendar::Julian,
            _ => {
                return Err(Error::UnsupportedCalendar {
                    calendar: name.to_string(),
                });
            }
        })
    }

    /// The calendar's CF name, as chunkwise writes it: `standard`, `proleptic_gregorian`,
    /// `noleap`, `all_leap`, `360_day` or `julian`.
    pub fn cf_name(&self) -> &'static str {
        match self {
            Calendar::Standard => "standard",
            Calendar::ProlepticGregorian => "proleptic_gregorian",
            Calendar::NoLeap => "noleap",
            Calendar::AllLeap => "all_leap",
            Calendar::Day360 => "360_day",
            Calendar::Julian => "julian",
        }
    }

    /// Whether the calendar has a year 0. `standard` and `julian` do not (year -1 is followed
    /// by year 1); the others do. This is cftime's default `has_year_zero`.
    pub fn has_year_zero(&self) -> bool {
        !matches!(self, Calendar::Standard | Calendar::Julian)
    }

    /// Whether `year` is a leap year (has a February 29th; never in `360_day`). Year 0 of a
    /// calendar without one is not a year, so not a leap year.
    pub fn is_leap(&self, year: i32) -> bool {
        let Some(astro) = self.astronomical(year) else {
            return false;
        };
        match self {
            Calendar::ProlepticGregorian => gregorian_leap(astro),
            Calendar::Julian => astro.rem_euclid(4) == 0,
            Calendar::Standard if year > 1582 => gregorian_leap(astro),
            Calendar::Standard => astro.rem_euclid(4) == 0,
            Calendar::NoLeap | Calendar::Day360 => false,
            Calendar::AllLeap => true,
        }
    }

    /// The number of days of `month` (1 to 12) in `year`; 0 when the month or the year does
    /// not exist (month 13, year 0 of `standard` or `julian`).
    ///
    /// October 1582 of the `standard` calendar has 31 here although only 21 of its days
    /// exist: cftime's `daysinmonth` says 31, and so does [`Calendar::days_in_year`] (365).
    pub fn days_in_month(&self, year: i32, month: u8) -> u8 {
        if !(1..=12).contains(&month) || self.astronomical(year).is_none() {
            return 0;
        }
        if *self == Calendar::Day360 {
            return 30;
        }
        let cum = self.cumulative(year);
        let m = usize::from(month);
        // Month lengths are at most 31: the difference fits.
        (cum[m] - cum[m - 1]) as u8
    }

    /// The number of days in `year`: 360, 365 or 366 (0 for year 0 of `standard` or
    /// `julian`, which does not exist). 1582 of `standard` counts 365, as cftime does (see
    /// [`Calendar::days_in_month`]).
    pub fn days_in_year(&self, year: i32) -> u16 {
        if self.astronomical(year).is_none() {
            return 0;
        }
        match self {
            Calendar::Day360 => 360,
            _ if self.is_leap(year) => 366,
            _ => 365,
        }
    }

    /// The astronomical year number (with a year 0) of a year of this calendar; `None` for
    /// year 0 of a calendar that has none.
    fn astronomical(&self, year: i32) -> Option<i64> {
        let y = i64::from(year);
        if self.has_year_zero() {
            Some(y)
        } else if y == 0 {
            None
        } else if y < 0 {
            Some(y + 1)
        } else {
            Some(y)
        }
    }

    /// The calendar's year of an astronomical year number; `None` past `i32`.
    fn year_of_astronomical(&self, astro: i64) -> Option<i32> {
        let y = if !self.has_year_zero() && astro <= 0 {
            astro - 1
        } else {
            astro
        };
        i32::try_from(y).ok()
    }

    fn cumulative(&self, year: i32) -> &'static [u16; 13] {
        if self.is_leap(year) {
            &CUM_LEAP
        } else {
            &CUM_COMMON
        }
    }

    /// Why `(year, month, day)` is not a date of this calendar, or `None` when it is one.
    pub(crate) fn date_problem(&self, year: i32, month: u8, day: u8) -> Option<String> {
        if !(1..=12).contains(&month) {
            return Some(format!("month {month} is not in 1..=12"));
        }
        if self.astronomical(year).is_none() {
            return Some(format!(
                "the {} calendar has no year 0 (year -1 is followed by year 1)",
                self.cf_name()
            ));
        }
        let dim = self.days_in_month(year, month);
        if day == 0 || day > dim {
            return Some(format!(
                "day {day} is not in 1..={dim} (month {month} of {year} in the {} calendar)",
                self.cf_name()
            ));
        }
        if *self == Calendar::Standard && year == 1582 && month == 10 && (5..=14).contains(&day) {
            return Some(
                "1582-10-05 to 1582-10-14 do not exist in the standard (mixed Julian/Gregorian) \
                 calendar"
                    .to_string(),
            );
        }
        None
    }

    /// The day number (see the module's documentation) of a date; `None` when the date
    /// does not exist in the calendar.
    pub(crate) fn day_number(&self, year: i32, month: u8, day: u8) -> Option<i64> {
        if self.date_problem(year, month, day).is_some() {
            return None;
        }
        let astro = self.astronomical(year)?;
        let (m, d) = (i64::from(month), i64::from(day));
        let doy0 = |cum: &[u16; 13]| i64::from(cum[usize::from(month) - 1]) + d - 1;
        Some(match self {
            Calendar::ProlepticGregorian => gregorian_jdn(astro, m, d) - JDN_UNIX,
            Calendar::Julian => julian_jdn(astro, m, d) - JDN_UNIX,
            Calendar::Standard => {
                if (year, month, day) >= (1582, 10, 15) {
                    gregorian_jdn(astro, m, d) - JDN_UNIX
                } else {
                    julian_jdn(astro, m, d) - JDN_UNIX
                }
            }
            Calendar::NoLeap => (astro - 1970) * 365 + doy0(&CUM_COMMON),
            Calendar::AllLeap => (astro - 1970) * 366 + doy0(&CUM_LEAP),
            Calendar::Day360 => (astro - 1970) * 360 + (m - 1) * 30 + d - 1,
        })
    }

    /// The date `(year, month, day)` of a day number; `None` when its year is past `i32`.
    pub(crate) fn date_of_day(&self, n: i64) -> Option<(i32, u8, u8)> {
        // Beyond this the year cannot fit an i32 in any calendar (and the arithmetic below
        // stays far from i64 overflow).
        if n.unsigned_abs() > 367 * (1 << 31) {
            return None;
        }
        let (astro, m, d) = match self {
            Calendar::ProlepticGregorian => gregorian_from_jdn(n + JDN_UNIX),
            Calendar::Julian => julian_from_jdn(n + JDN_UNIX),
            Calendar::Standard if n >= GREGORIAN_START => gregorian_from_jdn(n + JDN_UNIX),
            Calendar::Standard => julian_from_jdn(n + JDN_UNIX),
            Calendar::NoLeap => fixed_year(n, 365, &CUM_COMMON),
            Calendar::AllLeap => fixed_year(n, 366, &CUM_LEAP),
            Calendar::Day360 => {
                let y = n.div_euclid(360);
                let r = n.rem_euclid(360);
                (y + 1970, r / 30 + 1, r % 30 + 1)
            }
        };
        let year = self.year_of_astronomical(astro)?;
        // Month and day are 1..=12 and 1..=31 by construction.
        Some((year, m as u8, d as u8))
    }
}

impl std::fmt::Display for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cf_name())
    }
}

impl std::str::FromStr for Calendar {
    type Err = Error;
    fn from_str(s: &str) -> Result<Calendar> {
        Calendar::parse(s)
    }
}

fn gregorian_leap(y: i64) -> bool {
    y.rem_euclid(4) == 0 && (y.rem_euclid(100) != 0 || y.rem_euclid(400) == 0)
}

/// The Julian Day Number of a proleptic Gregorian date (astronomical year), for any year.
fn gregorian_jdn(y: i64, m: i64, d: i64) -> i64 {
    let a = (14 - m) / 12;
    let yy = y + 4800 - a;
    let mm = m + 12 * a - 3;
    d + (153 * mm + 2) / 5 + 365 * yy + yy.div_euclid(4) - yy.div_euclid(100) + yy.div_euclid(400)
        - 32045
}

/// The Julian Day Number of a Julian calendar date (astronomical year), for any year.
fn julian_jdn(y: i64, m: i64, d: i64) -> i64 {
    let a = (14 - m) / 12;
    let yy = y + 4800 - a;
    let mm = m + 12 * a - 3;
    d + (153 * mm + 2) / 5 + 365 * yy + yy.div_euclid(4) - 32083
}

/// The proleptic Gregorian date (astronomical year) of a Julian Day Number.
fn gregorian_from_jdn(j: i64) -> (i64, i64, i64) {
    // Days since 0000-03-01, split into 400-year eras (H. Hinnant's civil_from_days).
    let z = j - 1_721_120;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The Julian calendar date (astronomical year) of a Julian Day Number.
fn julian_from_jdn(j: i64) -> (i64, i64, i64) {
    // Days since 0000-03-01 (Julian), in 4-year cycles of 1461 days.
    let z = j - 1_721_118;
    let cycle = z.div_euclid(1461);
    let doc = z.rem_euclid(1461);
    let yoc = (doc - doc / 1460) / 365;
    let doy = doc - 365 * yoc;
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoc + cycle * 4 + i64::from(m <= 2);
    (y, m, d)
}

/// The date of day `n` in a calendar whose years all have `len` days.
fn fixed_year(n: i64, len: i64, cum: &[u16; 13]) -> (i64, i64, i64) {
    let y = n.div_euclid(len) + 1970;
    let r = n.rem_euclid(len);
    let m = cum
        .iter()
        .rposition(|&c| i64::from(c) <= r)
        .unwrap_or(0)
        .min(11);
    (y, m as i64 + 1, r - i64::from(cum[m]) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_and_the_gregorian_switch() {
        for cal in Calendar::ALL {
            let zero = if cal == Calendar::Julian {
                (1969, 12, 19)
            } else {
                (1970, 1, 1)
            };
            assert_eq!(cal.day_number(zero.0, zero.1, zero.2), Some(0), "{cal}");
        }
        let s = Calendar::Standard;
        assert_eq!(s.day_number(1582, 10, 15), Some(GREGORIAN_START));
        assert_eq!(s.day_number(1582, 10, 4), Some(GREGORIAN_START - 1));
        assert_eq!(s.day_number(1582, 10, 10), None);
        assert_eq!(s.date_of_day(GREGORIAN_START - 1), Some((1582, 10, 4)));
        assert_eq!(Calendar::Julian.day_number(1970, 1, 1), Some(13));
    }

    #[test]
    fn day_numbers_invert_over_a_wide_range() {
        for cal in Calendar::ALL {
            let mut prev = None;
            for n in (-3_000_000..3_000_000).step_by(97) {
                let (y, m, d) = cal.date_of_day(n).unwrap();
                assert_eq!(cal.day_number(y, m, d), Some(n), "{cal} {n} -> {y}-{m}-{d}");
                if let Some(p) = prev {
                    assert!((y, m, d) > p, "{cal}: order at {n}");
                }
                prev = Some((y, m, d));
            }
        }
    }

    #[test]
    fn consecutive_days_walk_the_months() {
        for (cal, y0) in Calendar::ALL.iter().flat_map(|&c| [(c, -3), (c, 1580)]) {
            let start = cal.day_number(y0, 1, 1).unwrap();
            let mut expect = (y0, 1u8, 1u8);
            for n in start..start + 366 * 8 {
                let got = cal.date_of_day(n).unwrap();
                assert_eq!(got, expect, "{cal} day {n}");
                let (y, m, d) = expect;
                expect = if cal == Calendar::Standard && (y, m, d) == (1582, 10, 4) {
                    (y, m, 15)
                } else if d < cal.days_in_month(y, m) {
                    (y, m, d + 1)
                } else if m < 12 {
                    (y, m + 1, 1)
                } else if y == -1 && !cal.has_year_zero() {
                    (1, 1, 1)
                } else {
                    (y + 1, 1, 1)
                };
            }
        }
    }
}
