//! [`TimeCoder`]: numbers ↔ dates, exactly, in integer arithmetic.

use super::datetime::NS_PER_DAY;
use super::{Calendar, CfDateTime, TimeUnit, TimeUnits};
use crate::error::{Error, Result};

/// Decodes a CF time variable's numbers to dates and encodes dates back, given its `units`
/// and `calendar` attributes: what `cftime.num2date` / `date2num` and xarray's
/// `decode_cf` do.
///
/// All arithmetic is on integers (nanoseconds in `i128`): a float value is taken at its
/// exact binary value, and the decoded instant is, of the instants whose encoding is that
/// same float, the roundest (a whole day, else hour, minute, second, millisecond, ... down to
/// the nanosecond). So `0.5` days is 12:00 exactly, `1/24.` days is 01:00:00 exactly, and
/// [`decode`](TimeCoder::decode) of [`encode`](TimeCoder::encode) gives back every time a
/// float can tell from its neighbours. Encoding rounds to the nearest float.
///
/// ```
/// use chunkwise::time::{CfDateTime, TimeCoder};
///
/// // data/sample.zarr's time axis: months of the 360_day calendar are 30 days.
/// let coder = TimeCoder::new("months since 2000-01-01", Some("360_day"))?;
/// let t = coder.decode(&[0.0, 1.0, 13.0, 0.5])?;
/// assert_eq!(t[1], CfDateTime::ymd(2000, 2, 1));
/// assert_eq!(t[2], CfDateTime::ymd(2001, 2, 1));
/// assert_eq!(t[3], CfDateTime::ymd(2000, 1, 16));
/// assert_eq!(coder.encode(&t)?, vec![0.0, 1.0, 13.0, 0.5]);
///
/// let coder = TimeCoder::new("hours since 1900-01-01", None)?; // standard calendar
/// let t = coder.decode(&[876_576.0, 876_577.5])?;
/// assert_eq!(t[0].to_string(), "2000-01-01T00:00:00");
/// assert_eq!(t[1].to_string(), "2000-01-01T01:30:00");
/// assert!(coder.encode_i64(&t).is_err()); // 1:30 is not a whole hour
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeCoder {
    /// The units.
    pub units: TimeUnits,
    /// The calendar.
    pub calendar: Calendar,
}

/// Steps from the roundest down, in nanoseconds: see [`TimeCoder`].
const ROUND_STEPS: [i128; 13] = [
    NS_PER_DAY,
    3_600_000_000_000,
    60_000_000_000,
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

impl TimeCoder {
    /// A coder for a variable's `units` and `calendar` attributes (no calendar attribute is
    /// the CF default, `standard`).
    ///
    /// # Errors
    /// [`Error::TimeUnits`] when the units do not parse ([`TimeUnits::parse`]), use a unit
    /// the calendar lacks (`months` outside `360_day`, `common_years` outside `noleap`) or a
    /// reference date that does not exist in the calendar (1582-10-10 in `standard`,
    /// 2001-02-30 outside `360_day`); [`Error::UnsupportedCalendar`] for an unknown calendar.
    pub fn new(units: &str, calendar: Option<&str>) -> Result<TimeCoder> {
        let calendar = match calendar {
            Some(c) => Calendar::parse(c)?,
            None => Calendar::Standard,
        };
        let coder = TimeCoder {
            units: TimeUnits::parse(units)?,
            calendar,
        };
        coder.params().map_err(|e| match e {
            Error::TimeUnits { detail, .. } => Error::TimeUnits {
                units: units.to_string(),
                detail,
            },
            other => other,
        })?;
        Ok(coder)
    }

    /// A coder from parsed units, checked as [`TimeCoder::new`] checks them.
    ///
    /// # Errors
    /// As [`TimeCoder::new`].
    pub fn from_parts(units: TimeUnits, calendar: Calendar) -> Result<TimeCoder> {
        let coder = TimeCoder { units, calendar };
        coder.params()?;
        Ok(coder)
    }

    /// Units for encoding `times` as whole numbers, as xarray chooses them: the coarsest of
    /// days, hours, minutes, seconds, milliseconds, microseconds and nanoseconds in which
    /// every time is a whole number since the first time, which is the reference date
    /// (`1970-01-01` when there are none).
    ///
    /// ```
    /// use chunkwise::time::{Calendar, CfDateTime, TimeCoder};
    ///
    /// let t = [CfDateTime::ymd(2000, 1, 1), CfDateTime::ymd(2000, 1, 1).with_hms(6, 0, 0)];
    /// let coder = TimeCoder::infer(&t, Calendar::NoLeap)?;
    /// assert_eq!(coder.units.to_string(), "hours since 2000-01-01 00:00:00");
    /// assert_eq!(coder.encode_i64(&t)?, vec![0, 6]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidDate`] when a time is not one of `calendar`.
    pub fn infer(times: &[CfDateTime], calendar: Calendar) -> Result<TimeCoder> {
        let epoch = times
            .first()
            .copied()
            .unwrap_or(CfDateTime::ymd(1970, 1, 1));
        let e = epoch.to_nanos(calendar)?;
        let mut g: i128 = 0;
        for t in times {
            g = gcd(g, t.to_nanos(calendar)? - e);
        }
        let unit = [
            TimeUnit::Days,
            TimeUnit::Hours,
            TimeUnit::Minutes,
            TimeUnit::Seconds,
            TimeUnit::Milliseconds,
            TimeUnit::Microseconds,
        ]
        .into_iter()
        .find(|u| u.nanos(calendar).is_some_and(|n| g % n == 0))
        .unwrap_or(TimeUnit::Nanoseconds);
        TimeCoder::from_parts(TimeUnits::new(unit, epoch), calendar)
    }

    /// The reference instant (ns since the calendar's 1970-01-01) and the unit (ns).
    fn params(&self) -> Result<(i128, i128)> {
        let units = self.units;
        let err = |detail: String| Error::TimeUnits {
            units: units.to_string(),
            detail,
        };
        let unit = units.unit.nanos(self.calendar).ok_or_else(|| {
            err(match units.unit {
                TimeUnit::Months => format!(
                    "\"months\" are 30 days in the 360_day calendar only, not in {} (as cftime \
                     and xarray: CF months of 1/12 of 365.242198781 days match no date)",
                    self.calendar.cf_name()
                ),
                _ => format!(
                    "\"common_years\" are 365 days in the noleap calendar only, not in {} (as \
                     cftime and xarray)",
                    self.calendar.cf_name()
                ),
            })
        })?;
        units
            .epoch
            .validate(self.calendar)
            .map_err(|e| err(format!("reference date: {e}")))?;
        let epoch = units.epoch.to_nanos(self.calendar)?
            - i128::from(units.utc_offset_minutes) * 60_000_000_000;
        Ok((epoch, unit))
    }

    fn value_error(&self, op: &'static str, detail: String) -> Error {
        Error::TimeValue {
            op,
            units: self.units.to_string(),
            calendar: self.calendar.cf_name(),
            detail,
        }
    }

    fn instant(&self, op: &'static str, ns: i128, what: impl Fn() -> String) -> Result<CfDateTime> {
        CfDateTime::from_nanos(ns, self.calendar).map_err(|_| {
            self.value_error(
                op,
                format!(
                    "{} is beyond the years chunkwise represents (-2^31 to 2^31-1)",
                    what()
                ),
            )
        })
    }

    /// The dates of `values`.
    ///
    /// # Errors
    /// [`Error::TimeValue`] naming the value and its index when it is NaN or infinite (use
    /// [`TimeCoder::decode_opt`] for missing values) or gives a year beyond `i32`; the
    /// errors of [`TimeCoder::new`] when the fields were changed to invalid units.
    pub fn decode(&self, values: &[f64]) -> Result<Vec<CfDateTime>> {
        let (epoch, unit) = self.params()?;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| self.decode_with(epoch, unit, i, v))
            .collect()
    }

    /// The dates of `values`, with `None` for NaN (a missing time, xarray's `NaT`).
    ///
    /// # Errors
    /// As [`TimeCoder::decode`], but for NaN.
    pub fn decode_opt(&self, values: &[f64]) -> Result<Vec<Option<CfDateTime>>> {
        let (epoch, unit) = self.params()?;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v.is_nan() {
                    Ok(None)
                } else {
                    self.decode_with(epoch, unit, i, v).map(Some)
                }
            })
            .collect()
    }

    /// The date of one value (as [`TimeCoder::decode`]).
    ///
    /// # Errors
    /// As [`TimeCoder::decode`].
    pub fn decode_value(&self, value: f64) -> Result<CfDateTime> {
        let (epoch, unit) = self.params()?;
        self.decode_with(epoch, unit, 0, value)
    }

    fn decode_with(&self, epoch: i128, unit: i128, i: usize, v: f64) -> Result<CfDateTime> {
        if !v.is_finite() {
            return Err(self.value_error(
                "decode",
                format!("value {v} at index {i} is not a time (use decode_opt for NaN as missing)"),
            ));
        }
        let what = || format!("value {v} at index {i}");
        let offset = roundest_offset(v, unit)
            .ok_or_else(|| self.value_error("decode", format!("{} is out of range", what())))?;
        self.instant("decode", epoch + offset, what)
    }

    /// The dates of integer `values`, exactly.
    ///
    /// # Errors
    /// As [`TimeCoder::decode`] (only the range can be wrong).
    pub fn decode_i64(&self, values: &[i64]) -> Result<Vec<CfDateTime>> {
        let (epoch, unit) = self.params()?;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                self.instant("decode", epoch + i128::from(v) * unit, || {
                    format!("value {v} at index {i}")
                })
            })
            .collect()
    }

    fn offsets(&self, op: &'static str, times: &[CfDateTime]) -> Result<(Vec<i128>, i128)> {
        let (epoch, unit) = self.params()?;
        let ns = times
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.to_nanos(self.calendar)
                    .map(|n| n - epoch)
                    .map_err(|e| self.value_error(op, format!("time at index {i}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((ns, unit))
    }

    /// The numbers of `times` in these units: each the float nearest to the exact value.
    ///
    /// # Errors
    /// [`Error::TimeValue`] naming the index when a time is not a date of the calendar
    /// (2001-02-30 outside `360_day`); the errors of [`TimeCoder::new`] when the fields were
    /// changed to invalid units.
    pub fn encode(&self, times: &[CfDateTime]) -> Result<Vec<f64>> {
        let (ns, unit) = self.offsets("encode", times)?;
        Ok(ns.into_iter().map(|n| ratio_to_f64(n, unit)).collect())
    }

    /// The numbers of `times` as integers, when every one is a whole number of units (as
    /// `cftime.date2num` returns integers then).
    ///
    /// # Errors
    /// As [`TimeCoder::encode`], and [`Error::TimeValue`] naming the first time that is not
    /// a whole number of units after the reference date, or whose number does not fit an
    /// `i64`.
    pub fn encode_i64(&self, times: &[CfDateTime]) -> Result<Vec<i64>> {
        let (ns, unit) = self.offsets("encode_i64", times)?;
        ns.into_iter()
            .zip(times)
            .map(|(n, t)| {
                if n % unit != 0 {
                    return Err(self.value_error(
                        "encode_i64",
                        format!(
                            "{t} is not a whole number of {} after the reference date; encode \
                             as floats or use finer units",
                            self.units.unit
                        ),
                    ));
                }
                i64::try_from(n / unit).map_err(|_| {
                    self.value_error("encode_i64", format!("the number of {t} overflows i64"))
                })
            })
            .collect()
    }

    /// Whether every one of `times` is a whole number of units after the reference date
    /// (so [`TimeCoder::encode_i64`] succeeds when they also fit an `i64`).
    ///
    /// # Errors
    /// As [`TimeCoder::encode`].
    pub fn all_whole(&self, times: &[CfDateTime]) -> Result<bool> {
        let (ns, unit) = self.offsets("all_whole", times)?;
        Ok(ns.iter().all(|n| n % unit == 0))
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    // Offsets are far below i128::MAX.
    a as i128
}

fn bit_len(x: i128) -> u32 {
    128 - x.unsigned_abs().leading_zeros()
}

/// The offset in nanoseconds that float `v` (a number of units of `unit` ns) decodes to:
/// of the integers whose [`ratio_to_f64`] is `v`, the one on the coarsest of
/// [`ROUND_STEPS`], nearest to `v`'s exact value (the nearest nanosecond when the float
/// resolves finer than one). `None` when it is beyond any representable year.
fn roundest_offset(v: f64, unit: i128) -> Option<i128> {
    if v == 0.0 {
        return Some(0);
    }
    let bits = v.to_bits();
    let negative = bits >> 63 != 0;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    // |v| = m * 2^e. In units of 2^(e-2): the value is 4m, the floats either side are
    // 4(m±1) (4m-2 below a power of two), so v's preimage under round-to-nearest-even is
    // (4m-below, 4m+2), with its ends included when m is even.
    let below: i128 = if m == 1 << 52 && biased > 1 { 1 } else { 2 };
    let inclusive = m % 2 == 0;
    let m4 = i128::from(m) * 4;
    let (mut c, mut lo, mut hi) = (m4 * unit, (m4 - below) * unit, (m4 + 2) * unit);
    let k = e - 2;
    let den: i128 = if k >= 0 {
        if bit_len(hi) + k as u32 > 120 {
            return None;
        }
        c <<= k;
        lo <<= k;
        hi <<= k;
        1
    } else if -k >= 120 {
        // Below 2^-9 ns: nothing but 0 is near.
        return Some(0);
    } else {
        1i128 << -k
    };
    let inside = |x: i128| {
        if inclusive {
            lo <= x && x <= hi
        } else {
            lo < x && x < hi
        }
    };
    let mut found = None;
    for step in ROUND_STEPS {
        if step == 1 {
            found = Some((c + den / 2) / den);
            break;
        }
        let Some(sd) = step.checked_mul(den) else {
            continue;
        };
        let q = c / sd;
        let best = [q, q + 1]
            .into_iter()
            .filter_map(|cand| {
                cand.checked_mul(sd)
                    .filter(|&x| inside(x))
                    .map(|x| (cand, x))
            })
            .min_by_key(|&(_, x)| (x - c).abs());
        if let Some((cand, _)) = best {
            found = Some(cand * step);
            break;
        }
    }
    let n = found?;
    Some(if negative { -n } else { n })
}

/// `num / den` (den > 0) rounded to the nearest float, ties to even.
fn ratio_to_f64(num: i128, den: i128) -> f64 {
    if num == 0 {
        return 0.0;
    }
    let negative = num < 0;
    let n = num.unsigned_abs();
    let d = den.unsigned_abs();
    let nb = (128 - n.leading_zeros()) as i32;
    let db = (128 - d.leading_zeros()) as i32;
    // Scale so that the quotient has 55 or 56 bits: 2 or 3 below the 53 kept.
    let s = 55 + db - nb;
    let (nn, dd) = if s >= 0 { (n << s, d) } else { (n, d << -s) };
    let q = nn / dd;
    let sticky = nn % dd != 0;
    let extra = (128 - q.leading_zeros()) as i32 - 53;
    let mut mant = q >> extra;
    let rem = q & ((1u128 << extra) - 1);
    let half = 1u128 << (extra - 1);
    if rem > half || (rem == half && (sticky || mant & 1 == 1)) {
        mant += 1;
    }
    // mant <= 2^53 and the exponent is far inside the normal range: both exact.
    let value = mant as f64 * 2f64.powi(extra - s);
    if negative { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_rounds_to_nearest() {
        for (n, d) in [
            (1i128, 3i128),
            (2, 3),
            (-7, 86_400),
            (123_456_789_012_345, 1000),
        ] {
            assert_eq!(ratio_to_f64(n, d), n as f64 / d as f64, "{n}/{d}");
        }
        assert_eq!(ratio_to_f64(1 << 60, 1), (1u64 << 60) as f64);
        // 2^53 + 1 is a tie between 2^53 and 2^53 + 2: to even.
        assert_eq!(ratio_to_f64((1 << 53) + 1, 1), 9_007_199_254_740_992.0);
        assert_eq!(ratio_to_f64((1 << 53) + 3, 1), 9_007_199_254_740_996.0);
    }

    #[test]
    fn roundest_picks_round_instants() {
        let day = NS_PER_DAY;
        assert_eq!(roundest_offset(0.5, day), Some(day / 2));
        assert_eq!(roundest_offset(1.0 / 24.0, day), Some(3_600_000_000_000));
        assert_eq!(roundest_offset(1.0 / 86_400.0, day), Some(1_000_000_000));
        assert_eq!(roundest_offset(-0.1, day), Some(-8_640_000_000_000));
        assert_eq!(roundest_offset(1e-9, 1_000_000_000), Some(1));
        assert_eq!(roundest_offset(1e300, day), None);
        assert_eq!(roundest_offset(5e-324, day), Some(0));
        // Every encoded whole second decodes back.
        for s in (-10_000_000i128..10_000_000).step_by(7919) {
            let ns = s * 1_000_000_000 + 17 * day * 365;
            assert_eq!(roundest_offset(ratio_to_f64(ns, day), day), Some(ns));
        }
    }
}
