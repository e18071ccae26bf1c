//! CF time (`chunkwise::time`) against cftime and xarray: decoded dates, day of year, month
//! lengths, the encoding round trip and partial-string selection, from fixtures that
//! tests/fixtures/cftime/make_fixtures.py wrote with cftime and xarray; property tests of
//! decode ∘ encode and of the calendar arithmetic; and the errors for bad units, calendars,
//! dates and values.

use chunkwise::Error;
use chunkwise::time::{
    Calendar, CfDateTime, Season, TimeCoder, TimeUnit, TimeUnits, parse_datetime, parse_time_range,
};
use proptest::prelude::*;
use serde_json::Value;

fn fixtures() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cftime/cases.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn date_of(row: &[Value]) -> CfDateTime {
    let f: Vec<i64> = row[2..9].iter().map(int).collect();
    CfDateTime::new(
        f[0] as i32,
        f[1] as u8,
        f[2] as u8,
        f[3] as u8,
        f[4] as u8,
        f[5] as u8,
        f[6] as u32 * 1000,
    )
}

#[test]
fn decoding_matches_cftime_in_every_calendar() {
    let fx = fixtures();
    let mut checked = 0;
    let mut exact = 0;
    let mut rounder = 0;
    for case in fx["cases"].as_array().unwrap() {
        let units = case["units"].as_str().unwrap();
        let cal_name = case["calendar"].as_str().unwrap();
        let coder = TimeCoder::new(units, Some(cal_name)).unwrap();
        let cal = coder.calendar;
        let rows: Vec<&Vec<Value>> = case["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap())
            .collect();
        let values: Vec<f64> = rows.iter().map(|r| r[0].as_f64().unwrap()).collect();
        let got = coder.decode(&values).unwrap();
        for ((row, &v), &g) in rows.iter().zip(&values).zip(&got) {
            let want = date_of(row);
            let ctx = format!("{units} / {cal_name}: value {v:?}");
            // The float's spacing at v, in ns (an upper bound: |v| * 2^-52).
            let unit = coder.units.unit.nanos(cal).unwrap() as f64;
            let spacing = v.abs() * f64::EPSILON * unit;
            let diff = (g.to_nanos(cal).unwrap() - want.to_nanos(cal).unwrap()).abs() as f64;
            if int(&row[1]) == 1 {
                // A whole microsecond is as near as the float holds: cftime's. Or chunkwise
                // took a rounder instant the float cannot tell from it (-500000 days in
                // common_years is a whole day, not cftime's 2 µs past it).
                assert!(
                    g == want || diff <= spacing / 2.0,
                    "{ctx}: {g} vs cftime {want}"
                );
                if g == want {
                    exact += 1;
                } else {
                    rounder += 1;
                }
            } else {
                // cftime rounds to the microsecond, chunkwise keeps the nanosecond: they
                // differ by at most 0.5 µs plus half the float's spacing.
                assert!(diff <= 500.0 + spacing / 2.0, "{ctx}: {g} vs cftime {want}");
            }
            assert_eq!(
                i64::from(want.dayofyear(cal)),
                int(&row[9]),
                "{ctx}: dayofyear"
            );
            assert_eq!(
                i64::from(want.days_in_month(cal)),
                int(&row[10]),
                "{ctx}: days"
            );
            if v.fract() == 0.0 && v.abs() < 2f64.powi(53) {
                assert_eq!(
                    coder.decode_i64(&[v as i64]).unwrap()[0],
                    g,
                    "{ctx}: as i64"
                );
            }
            checked += 1;
        }
    }
    eprintln!("{checked} values, {exact} equal to cftime's, {rounder} rounder");
    assert!(
        checked > 4000 && exact > 4000 && rounder < checked / 100,
        "{checked} values, {exact} equal to cftime's, {rounder} rounder"
    );
}

#[test]
fn encoding_matches_cftime_date2num() {
    let fx = fixtures();
    let mut mismatches = Vec::new();
    let mut n = 0;
    for case in fx["cases"].as_array().unwrap() {
        let units = case["units"].as_str().unwrap();
        let coder = TimeCoder::new(units, case["calendar"].as_str()).unwrap();
        for row in case["rows"].as_array().unwrap() {
            let row = row.as_array().unwrap();
            let date = date_of(row);
            let want = row[11].as_f64().unwrap();
            let got = coder.encode(&[date]).unwrap()[0];
            n += 1;
            // The nearest float to the exact value: equal to cftime's, or (where cftime's
            // float arithmetic rounds twice) one spacing from it.
            if got != want {
                let ulp = (want.abs() * f64::EPSILON).max(f64::MIN_POSITIVE);
                if (got - want).abs() > ulp {
                    mismatches.push(format!("{units} {date}: {got:?} vs cftime {want:?}"));
                }
            }
            // And the round trip from the decoded date is exact, unless the float cannot tell
            // it from a rounder instant within half its spacing.
            let cal = coder.calendar;
            let back = coder.decode(&[got]).unwrap()[0];
            let diff = (back.to_nanos(cal).unwrap() - date.to_nanos(cal).unwrap()).abs() as f64;
            let unit = coder.units.unit.nanos(cal).unwrap() as f64;
            assert!(
                back == date || diff <= got.abs() * f64::EPSILON * unit,
                "{units} {date}: {got:?} decodes to {back}"
            );
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {n}: {:#?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(20)]
    );
}

#[test]
fn partial_string_selection_matches_xarray() {
    let fx = fixtures();
    for s in fx["selections"].as_array().unwrap() {
        let cal = Calendar::parse(s["calendar"].as_str().unwrap()).unwrap();
        let coder = TimeCoder::new(s["units"].as_str().unwrap(), Some(cal.cf_name())).unwrap();
        let n = int(&s["n"]);
        let hours: Vec<i64> = (0..n).map(|i| i * 6).collect();
        let times = coder.decode_i64(&hours).unwrap();
        let from = s["from"].as_str().unwrap();
        let to = s["to"].as_str().unwrap_or(from);
        let ctx = format!("{cal}: {from}..{to}");
        let ranges = parse_time_range(from, cal).and_then(|a| Ok((a, parse_time_range(to, cal)?)));
        if s.get("error").is_some() {
            assert!(ranges.is_err(), "{ctx}: xarray refused it");
            continue;
        }
        let ((start, _), (_, end)) = ranges.unwrap();
        let inside: Vec<usize> = (0..times.len())
            .filter(|&i| (start..end).contains(&times[i]))
            .collect();
        let want = int(&s["start"]) as usize..int(&s["stop"]) as usize;
        assert_eq!(inside, want.collect::<Vec<_>>(), "{ctx}");
    }
}

#[test]
fn seasons_are_xarrays() {
    let fx = fixtures();
    for (i, s) in fx["seasons_by_month"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let month = i as u8 + 1;
        assert_eq!(Season::from_month(month).as_str(), s.as_str().unwrap());
        assert!(Season::from_month(month).months().contains(&month));
        assert_eq!(
            Season::parse(s.as_str().unwrap()).unwrap(),
            Season::from_month(month)
        );
    }
}

#[test]
fn sample_zarr_months_are_30_days() {
    // data/sample.zarr's time coordinate: float64 0..60 with these attributes.
    let meta = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/sample.zarr/time/zarr.json"
    );
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(meta).unwrap()).unwrap();
    let attrs = &meta["attributes"];
    let coder =
        TimeCoder::new(attrs["units"].as_str().unwrap(), attrs["calendar"].as_str()).unwrap();
    assert_eq!(
        (coder.units.unit, coder.calendar),
        (TimeUnit::Months, Calendar::Day360)
    );
    let n = int(&meta["shape"][0]);
    let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let times = coder.decode(&values).unwrap();
    for (i, t) in times.iter().enumerate() {
        let want = CfDateTime::ymd(2000 + i as i32 / 12, (i % 12) as u8 + 1, 1);
        assert_eq!(*t, want);
    }
    assert_eq!(coder.encode(&times).unwrap(), values);
    assert_eq!(
        coder.encode_i64(&times).unwrap(),
        (0..n).collect::<Vec<_>>()
    );
}

#[test]
fn calendar_facts() {
    use Calendar::*;
    for (name, cal) in [
        ("standard", Standard),
        ("gregorian", Standard),
        ("GREGORIAN", Standard),
        ("proleptic_gregorian", ProlepticGregorian),
        ("noleap", NoLeap),
        ("365_day", NoLeap),
        ("all_leap", AllLeap),
        ("366_day", AllLeap),
        ("360_day", Day360),
        ("julian", Julian),
    ] {
        assert_eq!(Calendar::parse(name).unwrap(), cal, "{name}");
        assert_eq!(Calendar::parse(cal.cf_name()).unwrap(), cal);
    }
    // Leap years: julian every fourth, gregorian not on centuries but every fourth century.
    assert!(Julian.is_leap(1900) && !ProlepticGregorian.is_leap(1900));
    assert!(Standard.is_leap(1500) && !Standard.is_leap(1700));
    assert!(ProlepticGregorian.is_leap(2000) && ProlepticGregorian.is_leap(0));
    assert!(Julian.is_leap(-1) && !Julian.is_leap(-2)); // 1 BC is astronomical year 0
    assert_eq!(Julian.days_in_month(1900, 2), 29);
    assert_eq!(NoLeap.days_in_month(2000, 2), 28);
    assert_eq!(AllLeap.days_in_month(2001, 2), 29);
    assert_eq!(Day360.days_in_month(2001, 2), 30);
    assert_eq!(Standard.days_in_month(2001, 13), 0);
    assert_eq!(Standard.days_in_year(0), 0);
    assert_eq!(NoLeap.days_in_year(2000), 365);
    assert_eq!(AllLeap.days_in_year(2001), 366);
    // The mixed calendar's switch: the day after 1582-10-04 is 1582-10-15.
    let d = CfDateTime::ymd(1582, 10, 4);
    assert_eq!(
        d.add_days(1, Standard).unwrap(),
        CfDateTime::ymd(1582, 10, 15)
    );
    assert_eq!(
        d.add_days(1, ProlepticGregorian).unwrap(),
        CfDateTime::ymd(1582, 10, 5)
    );
    assert!(CfDateTime::ymd(1582, 10, 10).validate(Standard).is_err());
    // No year 0 in standard and julian: the day after 1 BC's last is AD 1's first.
    let d = CfDateTime::ymd(-1, 12, 31);
    assert_eq!(d.add_days(1, Julian).unwrap(), CfDateTime::ymd(1, 1, 1));
    assert_eq!(d.add_days(1, NoLeap).unwrap(), CfDateTime::ymd(0, 1, 1));
    assert_eq!(
        CfDateTime::ymd(-1, 12, 1).month_start_after(1, Standard),
        CfDateTime::ymd(1, 1, 1)
    );
    assert_eq!(
        CfDateTime::ymd(1, 1, 1).month_start_after(-1, Julian),
        CfDateTime::ymd(-1, 12, 1)
    );
    // Julian and Gregorian count the same days.
    let j = CfDateTime::ymd(2000, 1, 1).to_nanos(Julian).unwrap();
    let g = CfDateTime::ymd(2000, 1, 14)
        .to_nanos(ProlepticGregorian)
        .unwrap();
    assert_eq!(j, g);
}

#[test]
fn units_forms() {
    let e = |s: &str| TimeUnits::parse(s).unwrap();
    assert_eq!(
        e("hours since 1900-01-01 00:00:0.0").epoch,
        CfDateTime::ymd(1900, 1, 1)
    );
    assert_eq!(e("days since 1970-01-01T00:00:00Z").unit, TimeUnit::Days);
    assert_eq!(
        e("seconds since 1970-1-1").epoch,
        CfDateTime::ymd(1970, 1, 1)
    );
    assert_eq!(e("DAYS SINCE 2000-01-01").unit, TimeUnit::Days);
    assert_eq!(e("days  since  2000-01-01").unit, TimeUnit::Days);
    assert_eq!(e("msec since 2000-01-01").unit, TimeUnit::Milliseconds);
    assert_eq!(e("ns since 2000-01-01").unit, TimeUnit::Nanoseconds);
    assert_eq!(e("weeks since 2000-01-01").unit, TimeUnit::Weeks);
    // The printed form parses back to the same units.
    for s in [
        "days since 2000-01-01",
        "hours since 1900-01-01 06:30:00.5",
        "minutes since -0001-03-01 +05:30",
        "seconds since 1970-01-01 00:00:00 -06:00",
    ] {
        let u = e(s);
        assert_eq!(e(&u.to_string()), u, "{s} -> {u}");
    }
    // A UTC offset moves the reference instant to UTC (as cftime and pandas).
    let c = TimeCoder::new("days since 2000-01-01 00:00:00 +01:00", Some("noleap")).unwrap();
    assert_eq!(
        c.decode(&[0.0]).unwrap()[0],
        CfDateTime::ymd(1999, 12, 31).with_hms(23, 0, 0)
    );
    let c = TimeCoder::new("hours since 2000-01-01 06:00 -6", None).unwrap();
    assert_eq!(
        c.decode(&[0.0]).unwrap()[0],
        CfDateTime::ymd(2000, 1, 1).with_hms(12, 0, 0)
    );
}

#[test]
fn decoding_details() {
    let c = TimeCoder::new("days since 2000-01-01", None).unwrap();
    let t = c.decode(&[0.5, -0.25, 1.0 / 3.0, 0.1]).unwrap();
    assert_eq!(t[0], CfDateTime::ymd(2000, 1, 1).with_hms(12, 0, 0));
    assert_eq!(t[1], CfDateTime::ymd(1999, 12, 31).with_hms(18, 0, 0));
    assert_eq!(t[2], CfDateTime::ymd(2000, 1, 1).with_hms(8, 0, 0));
    assert_eq!(t[3], CfDateTime::ymd(2000, 1, 1).with_hms(2, 24, 0));
    let opt = c.decode_opt(&[f64::NAN, 1.0]).unwrap();
    assert_eq!(opt, vec![None, Some(CfDateTime::ymd(2000, 1, 2))]);
    // Nanoseconds, exactly, from integers.
    let c = TimeCoder::new("nanoseconds since 1970-01-01", Some("proleptic_gregorian")).unwrap();
    let t = c.decode_i64(&[i64::MAX, i64::MIN, 1]).unwrap();
    assert_eq!(t[0].to_string(), "2262-04-11T23:47:16.854775807");
    assert_eq!(t[1].to_string(), "1677-09-21T00:12:43.145224192");
    assert_eq!(c.encode_i64(&t).unwrap(), vec![i64::MAX, i64::MIN, 1]);
    // Epochs before the Gregorian switch count Julian days in the standard calendar.
    let c = TimeCoder::new("days since 1500-01-01", None).unwrap();
    assert_eq!(c.decode(&[59.0]).unwrap()[0], CfDateTime::ymd(1500, 2, 29));
    let c = TimeCoder::new("days since 1582-10-04", Some("standard")).unwrap();
    assert_eq!(c.decode(&[1.0]).unwrap()[0], CfDateTime::ymd(1582, 10, 15));
    // infer picks the coarsest whole unit.
    let t = [CfDateTime::ymd(2000, 1, 1), CfDateTime::ymd(2000, 1, 3)];
    let c = TimeCoder::infer(&t, Calendar::Day360).unwrap();
    assert_eq!(c.units.to_string(), "days since 2000-01-01 00:00:00");
    let t = [
        CfDateTime::ymd(2000, 1, 1),
        CfDateTime::new(2000, 1, 1, 0, 0, 1, 500_000_000),
    ];
    let c = TimeCoder::infer(&t, Calendar::Standard).unwrap();
    assert_eq!(
        (c.units.unit, c.encode_i64(&t).unwrap()),
        (TimeUnit::Milliseconds, vec![0, 1500])
    );
    assert!(c.all_whole(&t).unwrap());
}

#[test]
fn display_and_parse() {
    assert_eq!(
        CfDateTime::ymd(2001, 3, 1).to_string(),
        "2001-03-01T00:00:00"
    );
    assert_eq!(
        CfDateTime::ymd(-44, 3, 15).to_string(),
        "-0044-03-15T00:00:00"
    );
    assert_eq!(
        CfDateTime::new(1, 1, 1, 1, 2, 3, 4000).to_string(),
        "0001-01-01T01:02:03.000004"
    );
    for s in [
        "2001",
        "2001-03",
        "2001-03-05",
        "2001-03-05T06",
        "2001-03-05 06:00",
        "2001-3-5 6:0:0",
    ] {
        assert!(parse_datetime(s).is_ok(), "{s}");
    }
    assert_eq!(
        parse_datetime("2001-03-05T06").unwrap(),
        CfDateTime::ymd(2001, 3, 5).with_hms(6, 0, 0)
    );
    let (a, b) = parse_time_range("2001", Calendar::Standard).unwrap();
    assert_eq!(
        (a, b),
        (CfDateTime::ymd(2001, 1, 1), CfDateTime::ymd(2002, 1, 1))
    );
    let (_, b) = parse_time_range("-1", Calendar::Julian).unwrap();
    assert_eq!(b, CfDateTime::ymd(1, 1, 1));
    let (_, b) = parse_time_range("2001-12", Calendar::Day360).unwrap();
    assert_eq!(b, CfDateTime::ymd(2002, 1, 1));
    let (_, b) = parse_time_range("2001-03-05 06:00:00.5", Calendar::NoLeap).unwrap();
    assert_eq!(b, CfDateTime::new(2001, 3, 5, 6, 0, 0, 600_000_000));
}

fn assert_err(
    r: Result<impl std::fmt::Debug, Error>,
    check: impl Fn(&Error) -> bool,
    needle: &str,
) {
    let e = r.expect_err("expected an error");
    let msg = e.to_string();
    assert!(check(&e), "wrong variant: {e:?}");
    assert!(msg.contains(needle), "{msg:?} does not name {needle:?}");
}

#[test]
fn errors_name_what_is_wrong() {
    let units = |e: &Error| matches!(e, Error::TimeUnits { .. });
    let date = |e: &Error| matches!(e, Error::InvalidDate { .. });
    let value = |e: &Error| matches!(e, Error::TimeValue { .. });
    let cal = |e: &Error| matches!(e, Error::UnsupportedCalendar { .. });
    assert_err(
        TimeCoder::new("fortnights since 2000-01-01", None),
        units,
        "fortnights",
    );
    assert_err(
        TimeCoder::new("days after 2000-01-01", None),
        units,
        "since",
    );
    assert_err(TimeCoder::new("days", None), units, "\"days\"");
    assert_err(TimeCoder::new("days since2000-01-01", None), units, "since");
    assert_err(
        TimeCoder::new("days since yesterday", None),
        units,
        "yesterday",
    );
    assert_err(TimeCoder::new("days since 2000-01", None), units, "no day");
    assert_err(
        TimeCoder::new("days since 2000-13-01", None),
        units,
        "month 13",
    );
    assert_err(
        TimeCoder::new("days since 2000-01-01 25:00", None),
        units,
        "2000-01-01 25:00",
    );
    assert_err(
        TimeCoder::new("years since 2000-01-01", None),
        units,
        "365.242198781",
    );
    assert_err(
        TimeCoder::new("months since 2000-01-01", None),
        units,
        "360_day",
    );
    assert_err(
        TimeCoder::new("months since 2000-01-01", Some("noleap")),
        units,
        "noleap",
    );
    assert_err(
        TimeCoder::new("common_years since 2000-01-01", Some("360_day")),
        units,
        "noleap",
    );
    assert_err(
        TimeCoder::new("days since 1582-10-10", None),
        units,
        "1582-10-10",
    );
    assert_err(
        TimeCoder::new("days since 2001-02-29", Some("noleap")),
        units,
        "day 29",
    );
    assert_err(
        TimeCoder::new("days since 0000-01-01", Some("julian")),
        units,
        "year 0",
    );
    assert!(TimeCoder::new("days since 0000-01-01", Some("proleptic_gregorian")).is_ok());
    assert!(TimeCoder::new("days since 2001-02-30", Some("360_day")).is_ok());
    assert_err(
        TimeCoder::new("days since 2000-01-01", Some("lunar")),
        cal,
        "lunar",
    );
    assert_err(
        TimeCoder::new("days since 2000-01-01", Some("none")),
        cal,
        "\"none\"",
    );
    assert_err(Calendar::parse(""), cal, "\"\"");

    let c = TimeCoder::new("days since 2000-01-01", Some("noleap")).unwrap();
    assert_err(c.decode(&[1.0, f64::NAN]), value, "index 1");
    assert_err(c.decode(&[f64::INFINITY]), value, "inf");
    assert_err(c.decode(&[1e300]), value, "out of range");
    assert_err(c.decode(&[1e12]), value, "beyond the years");
    assert_err(c.decode_i64(&[i64::MAX]), value, "beyond the years");
    assert_err(
        c.encode(&[CfDateTime::ymd(2001, 2, 29)]),
        value,
        "2001-02-29",
    );
    assert_err(
        c.encode(&[CfDateTime::ymd(2001, 1, 1).with_hms(24, 0, 0)]),
        value,
        "24:00:00",
    );
    let half = CfDateTime::ymd(2000, 1, 1).with_hms(12, 0, 0);
    assert_err(c.encode_i64(&[half]), value, "whole number of days");
    assert_err(parse_datetime("2001-02-30x"), date, "2001-02-30x");
    assert_err(parse_datetime("2001-03-05 06:00 +01:00"), date, "+01:00");
    assert_err(
        parse_time_range("2001-02-29", Calendar::NoLeap),
        date,
        "2001-02-29",
    );
    assert_err(parse_time_range("0", Calendar::Standard), date, "year 0");
    assert_err(
        Season::parse("winter"),
        |e| matches!(e, Error::InvalidArgument { .. }),
        "winter",
    );
}

/// A valid date and time of `cal` with whole seconds, years about -3000 to 7000.
fn instant(cal: Calendar, secs_step: i64) -> impl Strategy<Value = CfDateTime> {
    (-365i64 * 5000..365 * 5000, 0i64..86_400 / secs_step).prop_map(move |(d, s)| {
        let ns = i128::from(d) * 86_400_000_000_000 + i128::from(s * secs_step) * 1_000_000_000;
        CfDateTime::from_nanos(ns, cal).unwrap()
    })
}

fn any_calendar() -> impl Strategy<Value = Calendar> {
    prop::sample::select(Calendar::ALL.to_vec())
}

fn units_for(cal: Calendar) -> Vec<TimeUnit> {
    let mut u = vec![
        TimeUnit::Nanoseconds,
        TimeUnit::Microseconds,
        TimeUnit::Milliseconds,
        TimeUnit::Seconds,
        TimeUnit::Minutes,
        TimeUnit::Hours,
        TimeUnit::Days,
        TimeUnit::Weeks,
    ];
    match cal {
        Calendar::Day360 => u.push(TimeUnit::Months),
        Calendar::NoLeap => u.push(TimeUnit::CommonYears),
        _ => {}
    }
    u
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_inverts_encode(
        (cal, t, epoch, unit) in any_calendar().prop_flat_map(|cal| {
            (Just(cal), instant(cal, 1), instant(cal, 3600), prop::sample::select(units_for(cal)))
        })
    ) {
        let coder = TimeCoder::from_parts(TimeUnits::new(unit, epoch.date()), cal).unwrap();
        let v = coder.encode(&[t]).unwrap();
        prop_assert_eq!(coder.decode(&v).unwrap()[0], t, "{} {} via {:?}", cal, coder.units, v);
        if let Ok(i) = coder.encode_i64(&[t]) {
            prop_assert_eq!(coder.decode_i64(&i).unwrap()[0], t);
            prop_assert_eq!(i[0] as f64, v[0]);
        }
    }

    #[test]
    fn milliseconds_round_trip_in_days_and_nanoseconds_in_integers(
        (cal, d, ms, ns) in (any_calendar(), -100_000i64..100_000, 0i64..86_400_000, 0i64..1_000_000)
    ) {
        let coder = TimeCoder::from_parts(TimeUnits::new(TimeUnit::Days, CfDateTime::ymd(1900, 1, 1)), cal).unwrap();
        let base = CfDateTime::ymd(1900, 1, 1).to_nanos(cal).unwrap();
        let t = CfDateTime::from_nanos(base + i128::from(d) * 86_400_000_000_000 + i128::from(ms) * 1_000_000, cal).unwrap();
        prop_assert_eq!(coder.decode(&coder.encode(&[t]).unwrap()).unwrap()[0], t);
        let coder = TimeCoder::from_parts(TimeUnits::new(TimeUnit::Nanoseconds, CfDateTime::ymd(2000, 1, 1)), cal).unwrap();
        let t = t.add_nanos(i128::from(ns), cal).unwrap();
        if let Ok(i) = coder.encode_i64(&[t]) {
            prop_assert_eq!(coder.decode_i64(&i).unwrap()[0], t);
        }
    }

    #[test]
    fn encode_is_monotonic(
        (cal, a, b, unit) in any_calendar().prop_flat_map(|cal| {
            (Just(cal), instant(cal, 1), instant(cal, 1), prop::sample::select(units_for(cal)))
        })
    ) {
        let coder = TimeCoder::from_parts(TimeUnits::new(unit, CfDateTime::ymd(1850, 1, 1)), cal).unwrap();
        let v = coder.encode(&[a, b]).unwrap();
        prop_assert_eq!(a.cmp(&b), v[0].partial_cmp(&v[1]).unwrap(), "{} {} {}", a, b, unit);
    }

    #[test]
    fn fields_nanos_and_strings_agree(
        (cal, y, m, d, h, mi, s, ns) in (any_calendar(), -3000i32..5000, 1u8..=12, 1u8..=31, 0u8..24, 0u8..60, 0u8..60, 0u32..1_000_000_000)
    ) {
        let t = CfDateTime::new(y, m, d, h, mi, s, ns);
        let valid = t.is_valid(cal);
        prop_assert_eq!(valid, t.validate(cal).is_ok());
        prop_assert_eq!(valid, d <= cal.days_in_month(y, m)
            && !(cal == Calendar::Standard && y == 1582 && m == 10 && (5..=14).contains(&d)));
        prop_assert_eq!(parse_datetime(&t.to_string()).unwrap(), t);
        if valid {
            let n = t.to_nanos(cal).unwrap();
            prop_assert_eq!(CfDateTime::from_nanos(n, cal).unwrap(), t);
            prop_assert!(t.dayofyear(cal) >= 1 && t.dayofyear(cal) <= cal.days_in_year(y));
            // The next day is one day later, and its range holds it.
            let next = t.add_days(1, cal).unwrap();
            prop_assert!(next > t);
            let (start, end) = parse_time_range(&format!("{y:04}-{m:02}-{d:02}"), cal).unwrap();
            prop_assert!((start..end).contains(&t));
            prop_assert_eq!(end, next.date());
            let (ms, me) = parse_time_range(&format!("{y:04}-{m:02}"), cal).unwrap();
            prop_assert!(ms <= start && end <= me);
        }
    }

    #[test]
    fn any_input_gives_a_value_or_an_error(
        v in any::<f64>(), i in any::<i64>(), s in "\\PC{0,24}", m in any::<i64>(),
        cal in any_calendar(), unit in prop::sample::select(units_for(Calendar::Standard)),
    ) {
        let coder = TimeCoder::from_parts(TimeUnits::new(unit, CfDateTime::ymd(1970, 1, 1)), cal).unwrap();
        if let Ok(t) = coder.decode(&[v]) {
            prop_assert!(t[0].is_valid(cal));
        }
        let _ = coder.decode_opt(&[v]);
        if let Ok(t) = coder.decode_i64(&[i]) {
            prop_assert_eq!(coder.encode_i64(&t).unwrap(), vec![i]);
        }
        let _ = parse_datetime(&s);
        let _ = parse_time_range(&s, cal);
        let _ = TimeUnits::parse(&s);
        let _ = TimeCoder::new(&format!("days since {s}"), Some(cal.cf_name()));
        let _ = CfDateTime::ymd(2000, 1, 1).month_start_after(m, cal);
    }
}
