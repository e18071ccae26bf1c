//! Date and time strings: the reference date of CF units, full and partial ISO 8601 dates.

use super::datetime::NS_PER_DAY;
use super::{Calendar, CfDateTime};
use crate::error::{Error, Result};

/// How much of a date and time a string gave: the last field present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// A fraction of a second with this many digits (1 to 9).
    Fraction(u32),
}

/// A parsed date string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parsed {
    pub(crate) time: CfDateTime,
    pub(crate) resolution: Resolution,
    /// The UTC offset written after the time, in minutes (`+01:00` is 60).
    pub(crate) utc_offset_minutes: i16,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn digits(&mut self, max: usize) -> Option<&[u8]> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }
    fn spaces(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
        self.i - start
    }
    fn rest(&self) -> &str {
        std::str::from_utf8(&self.s[self.i..]).unwrap_or("")
    }
}

fn number(d: &[u8]) -> u64 {
    d.iter().fold(0u64, |acc, &b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    })
}

/// Parses `[-]YYYY[-MM[-DD[(T| +)hh[:mm[:ss[.fffffffff]]]]]][ ][Z|UTC|GMT|±hh[[:]mm]]`.
/// Time zones are read only when `allow_zone`. Fields are range-checked calendar-free
/// (month 1..=12, day 1..=31, hour < 24, ...); the calendar check is the caller's.
pub(crate) fn parse_parts(s: &str, allow_zone: bool) -> Result<Parsed> {
    let bad = |detail: String| Error::InvalidDate {
        date: s.to_string(),
        detail,
    };
    let trimmed = s.trim();
    let mut c = Cursor {
        s: trimmed.as_bytes(),
        i: 0,
    };
    let negative = c.eat(b'-');
    if !negative {
        c.eat(b'+');
    }
    let year_digits = c
        .digits(10)
        .ok_or_else(|| bad("expected a date such as 2001-03-05 (year first)".into()))?;
    let year_abs = i64::try_from(number(year_digits)).unwrap_or(i64::MAX);
    let year = i32::try_from(if negative { -year_abs } else { year_abs })
        .map_err(|_| bad("the year does not fit a 32-bit integer".into()))?;
    let mut t = CfDateTime::ymd(year, 1, 1);
    let mut resolution = Resolution::Year;
    let two = |c: &mut Cursor<'_>, what: &str| -> Result<u8> {
        c.digits(2)
            .map(|d| number(d) as u8)
            .ok_or_else(|| bad(format!("expected the {what} (one or two digits)")))
    };
    if c.eat(b'-') {
        t.month = two(&mut c, "month")?;
        resolution = Resolution::Month;
        if c.eat(b'-') {
            t.day = two(&mut c, "day")?;
            resolution = Resolution::Day;
        }
    }
    if resolution == Resolution::Day {
        // A time after `T`, or after spaces when a digit follows (`+01:00` is a zone).
        let save = c.i;
        let has_time = if c.eat(b'T') || c.eat(b't') {
            true
        } else {
            c.spaces() > 0 && c.peek().is_some_and(|b| b.is_ascii_digit())
        };
        if has_time {
            t.hour = two(&mut c, "hour")?;
            resolution = Resolution::Hour;
            if c.eat(b':') {
                t.minute = two(&mut c, "minute")?;
                resolution = Resolution::Minute;
                if c.eat(b':') {
                    t.second = two(&mut c, "second")?;
                    resolution = Resolution::Second;
                    if c.eat(b'.') || c.eat(b',') {
                        let frac = c
                            .digits(usize::MAX)
                            .ok_or_else(|| bad("expected digits after the decimal point".into()))?;
                        if frac.len() > 9 && frac[9..].iter().any(|&b| b != b'0') {
                            return Err(bad(
                                "more than 9 digits of a second (nanoseconds are the finest)"
                                    .into(),
                            ));
                        }
                        let digits = frac.len().min(9);
                        let ns = number(&frac[..digits]) * 10u64.pow((9 - digits) as u32);
                        t.nanosecond = ns as u32;
                        resolution = Resolution::Fraction(digits as u32);
                    }
                }
            }
        } else {
            c.i = save;
        }
    }
    let mut utc_offset_minutes = 0i16;
    let before_zone = c.i;
    c.spaces();
    if !c.rest().is_empty() && allow_zone && resolution != Resolution::Year {
        let rest = c.rest();
        let upper = rest.to_ascii_uppercase();
        if upper == "Z" || upper == "UTC" || upper == "GMT" {
            c.i = c.s.len();
        } else if let Some(sign) = c.peek().filter(|&b| b == b'+' || b == b'-') {
            c.i += 1;
            let hh = c
                .digits(2)
                .ok_or_else(|| bad("expected the hours of a UTC offset (+hh:mm)".into()))?;
            let hh = number(hh);
            c.eat(b':');
            let mm = c.digits(2).map_or(0, number);
            if hh > 23 || mm > 59 {
                return Err(bad(format!("UTC offset {hh:02}:{mm:02} is out of range")));
            }
            let minutes = (hh * 60 + mm) as i16;
            utc_offset_minutes = if sign == b'-' { -minutes } else { minutes };
        }
    } else if c.rest().is_empty() {
        // Trailing spaces only.
    } else {
        c.i = before_zone;
    }
    if !c.rest().trim().is_empty() {
        return Err(bad(format!(
            "unexpected {:?} after the date and time",
            c.rest().trim()
        )));
    }
    if !(1..=12).contains(&t.month) {
        return Err(bad(format!("month {} is not in 1..=12", t.month)));
    }
    if !(1..=31).contains(&t.day) {
        return Err(bad(format!("day {} is not in 1..=31", t.day)));
    }
    if let Some(p) = t.time_problem() {
        return Err(bad(p));
    }
    Ok(Parsed {
        time: t,
        resolution,
        utc_offset_minutes,
    })
}

/// Parses a date and time: `2001`, `2001-03`, `2001-03-05`, `2001-03-05T06`,
/// `2001-03-05 06:00`, `2001-03-05T06:00:00`, `2001-03-05T06:00:00.25`; one-digit months,
/// days and times (`2001-3-5 6:0:0`) and negative years (`-0001-01-01`) too. The fields not
/// given are those of the start of the period (`2001` is 2001-01-01T00:00:00).
///
/// The date is not checked against a calendar (2001-02-30 parses: it is a date of
/// `360_day`); [`CfDateTime::validate`] does that.
///
/// ```
/// use chunkwise::time::{parse_datetime, CfDateTime};
///
/// assert_eq!(parse_datetime("2001-03")?, CfDateTime::ymd(2001, 3, 1));
/// assert_eq!(parse_datetime("2001-03-05 06:30")?, CfDateTime::ymd(2001, 3, 5).with_hms(6, 30, 0));
/// assert!(parse_datetime("2001-13").is_err());
/// # Ok::<(), chunkwise::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidDate`] naming the string and what is wrong in it: not a date, a field out
/// of range (month 13, hour 24), a time zone (these strings have none) or trailing text.
pub fn parse_datetime(s: &str) -> Result<CfDateTime> {
    Ok(parse_parts(s, false)?.time)
}

/// The half-open range `[start, end)` of instants a partial date string covers in `cal`, as
/// xarray and pandas index by partial strings: `"2001"` is all of 2001, `"2001-03"` all of
/// March 2001, `"2001-03-05T06"` that hour, `"2001-03-05 06:00:00"` that second.
///
/// A selection `"2001-03".."2001-05"` is `start` of the first to `end` of the second: March
/// to May, both included.
///
/// ```
/// use chunkwise::time::{parse_time_range, Calendar, CfDateTime};
///
/// let (start, end) = parse_time_range("2001-02", Calendar::Day360)?;
/// assert_eq!((start, end), (CfDateTime::ymd(2001, 2, 1), CfDateTime::ymd(2001, 3, 1)));
/// let (_, end) = parse_time_range("2001-02-28", Calendar::NoLeap)?;
/// assert_eq!(end, CfDateTime::ymd(2001, 3, 1));
/// let (_, end) = parse_time_range("2001-02-28", Calendar::Day360)?;
/// assert_eq!(end, CfDateTime::ymd(2001, 2, 29));
/// assert!(parse_time_range("2001-02-29", Calendar::NoLeap).is_err());
/// # Ok::<(), chunkwise::Error>(())
/// ```
///
/// # Errors
/// As [`parse_datetime`], and [`Error::InvalidDate`] when the date does not exist in `cal`
/// (or its end is past the years chunkwise represents).
pub fn parse_time_range(s: &str, cal: Calendar) -> Result<(CfDateTime, CfDateTime)> {
    let p = parse_parts(s, false)?;
    let start = p.time;
    if cal.has_year_zero() || start.year != 0 {
        start.validate(cal).map_err(|e| with_input(e, s))?;
    } else {
        return Err(Error::InvalidDate {
            date: s.to_string(),
            detail: format!(
                "the {} calendar has no year 0 (year -1 is followed by year 1)",
                cal.cf_name()
            ),
        });
    }
    let end = match p.resolution {
        Resolution::Year => start.month_start_after(12, cal),
        Resolution::Month => start.month_start_after(1, cal),
        Resolution::Day => start.add_nanos(NS_PER_DAY, cal)?,
        Resolution::Hour => start.add_nanos(3_600_000_000_000, cal)?,
        Resolution::Minute => start.add_nanos(60_000_000_000, cal)?,
        Resolution::Second => start.add_nanos(1_000_000_000, cal)?,
        Resolution::Fraction(d) => start.add_nanos(10i128.pow(9 - d), cal)?,
    };
    if end <= start {
        return Err(Error::InvalidDate {
            date: s.to_string(),
            detail: "the period ends past the years chunkwise represents".into(),
        });
    }
    Ok((start, end))
}

/// An [`Error::InvalidDate`] about a parsed date, renamed to the string the user gave.
fn with_input(e: Error, s: &str) -> Error {
    match e {
        Error::InvalidDate { detail, .. } => Error::InvalidDate {
            date: s.to_string(),
            detail,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = |s: &str| parse_parts(s, true).unwrap();
        assert_eq!(p("2001").resolution, Resolution::Year);
        assert_eq!(p("2001-3").time, CfDateTime::ymd(2001, 3, 1));
        assert_eq!(p("2001-03-05T06").resolution, Resolution::Hour);
        assert_eq!(
            p("2001-03-05 06").time,
            CfDateTime::ymd(2001, 3, 5).with_hms(6, 0, 0)
        );
        assert_eq!(
            p("1900-01-01 00:00:0.0").resolution,
            Resolution::Fraction(1)
        );
        assert_eq!(p("1970-01-01T00:00:00Z").utc_offset_minutes, 0);
        assert_eq!(p("2000-01-01 00:00:00 +01:00").utc_offset_minutes, 60);
        assert_eq!(p("2000-01-01 +0130").utc_offset_minutes, 90);
        assert_eq!(p("2000-01-01 06:00 -6").utc_offset_minutes, -360);
        assert_eq!(p("2000-01-01 06:00:00-06:00").utc_offset_minutes, -360);
        assert_eq!(
            p("2000-01-01 00:00:00 UTC").time,
            CfDateTime::ymd(2000, 1, 1)
        );
        assert_eq!(p("-0001-12-31").time, CfDateTime::ymd(-1, 12, 31));
        assert_eq!(p(" 2000-01-01 ").time, CfDateTime::ymd(2000, 1, 1));
        assert_eq!(
            p("2000-01-01T00:00:00.123456789").time.nanosecond,
            123_456_789
        );
        for bad in [
            "",
            "x",
            "2000-",
            "2000-13-01",
            "2000-01-32",
            "2000-01-01 24:00",
            "2000-01-01T",
            "2000-01-01 00:60",
            "2000-01-01 nonsense",
            "2000-01-01 00:00:00.",
            "2000-01-01 +25",
        ] {
            assert!(parse_parts(bad, true).is_err(), "{bad:?} parsed");
        }
        assert!(parse_parts("2000-01-01Z", false).is_err());
    }
}
