//! `time.date`, `time.clock` and `time.weekday`, as OPA defines them, for UTC: pure functions of
//! the nanoseconds given (`input.now * 1000000000`), so a guardrail can say "weekdays only" or
//! "office hours" without a clock. OPA's `[ns, tz]` form is accepted for `"UTC"` and `""`; any
//! other zone is an error (a deny with `policy.error`), never a guess. Civil dates by Howard
//! Hinnant's `civil_from_days` (proleptic Gregorian).

use alloc::vec::Vec;

const NS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i128 = 86_400;
const WEEKDAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

/// The nanoseconds of `time.*(x)`: a number, or `[ns, "UTC"]`.
fn nanoseconds(name: &str, args: &[regorus::Value]) -> anyhow::Result<i128> {
    let arg = args
        .first()
        .ok_or_else(|| anyhow::anyhow!("{name}: expects one argument"))?;
    let (ns, zone) = match arg {
        regorus::Value::Array(pair) => match pair.as_slice() {
            [ns, regorus::Value::String(zone)] => (ns, Some(zone)),
            _ => anyhow::bail!("{name}: expects ns or [ns, tz]"),
        },
        ns => (ns, None),
    };
    if let Some(zone) = zone
        && !(zone.is_empty() || zone.as_ref() == "UTC")
    {
        anyhow::bail!("{name}: only UTC is supported, not {zone}");
    }
    ns.as_i128()
        .map_err(|_| anyhow::anyhow!("{name}: expects an integer number of nanoseconds"))
}

/// Seconds since the epoch of `time.*(x)`, and the day they fall on.
fn seconds_and_day(name: &str, args: &[regorus::Value]) -> anyhow::Result<(i128, i128)> {
    let seconds = nanoseconds(name, args)?.div_euclid(NS_PER_SECOND);
    Ok((seconds, seconds.div_euclid(SECONDS_PER_DAY)))
}

/// The (year, month, day) of day `z` since 1970-01-01.
fn civil_from_days(z: i128) -> (i128, i128, i128) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    (y, m, d)
}

fn numbers(values: [i128; 3]) -> regorus::Value {
    regorus::Value::from(
        values
            .into_iter()
            .map(regorus::Value::from)
            .collect::<Vec<_>>(),
    )
}

/// `time.date(ns)`: `[year, month, day]` in UTC.
pub(super) fn date(args: Vec<regorus::Value>) -> anyhow::Result<regorus::Value> {
    let (_, day) = seconds_and_day("time.date", &args)?;
    let (y, m, d) = civil_from_days(day);
    Ok(numbers([y, m, d]))
}

/// `time.clock(ns)`: `[hour, minute, second]` in UTC.
pub(super) fn clock(args: Vec<regorus::Value>) -> anyhow::Result<regorus::Value> {
    let (seconds, _) = seconds_and_day("time.clock", &args)?;
    let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    Ok(numbers([of_day / 3600, of_day % 3600 / 60, of_day % 60]))
}

/// `time.weekday(ns)`: `"Monday"` … `"Sunday"` in UTC.
pub(super) fn weekday(args: Vec<regorus::Value>) -> anyhow::Result<regorus::Value> {
    let (_, day) = seconds_and_day("time.weekday", &args)?;
    let index = usize::try_from(day.rem_euclid(7)).unwrap_or(0);
    Ok(regorus::Value::from(
        WEEKDAYS.get(index).copied().unwrap_or("Thursday"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(seconds: i64) -> Vec<regorus::Value> {
        alloc::vec![regorus::Value::from(i128::from(seconds) * NS_PER_SECOND)]
    }

    #[test]
    fn dates_clocks_and_weekdays_in_utc() {
        // 2027-01-15T09:30:05Z, a Friday.
        let t = 1_800_005_405;
        assert_eq!(date(ns(t)).unwrap(), numbers([2027, 1, 15]));
        assert_eq!(clock(ns(t)).unwrap(), numbers([9, 30, 5]));
        assert_eq!(weekday(ns(t)).unwrap(), regorus::Value::from("Friday"));
        assert_eq!(date(ns(0)).unwrap(), numbers([1970, 1, 1]));
        assert_eq!(weekday(ns(0)).unwrap(), regorus::Value::from("Thursday"));
        // Leap day, and before the epoch.
        assert_eq!(date(ns(951_782_400)).unwrap(), numbers([2000, 2, 29]));
        assert_eq!(date(ns(-1)).unwrap(), numbers([1969, 12, 31]));
        assert_eq!(clock(ns(-1)).unwrap(), numbers([23, 59, 59]));
        assert_eq!(
            weekday(ns(-86_400)).unwrap(),
            regorus::Value::from("Wednesday")
        );
    }

    #[test]
    fn only_utc_and_integers() {
        let utc = regorus::Value::from(alloc::vec![
            regorus::Value::from(0i64),
            regorus::Value::from("UTC")
        ]);
        assert_eq!(date(alloc::vec![utc]).unwrap(), numbers([1970, 1, 1]));
        let paris = regorus::Value::from(alloc::vec![
            regorus::Value::from(0i64),
            regorus::Value::from("Europe/Paris")
        ]);
        assert!(date(alloc::vec![paris]).is_err());
        assert!(weekday(alloc::vec![regorus::Value::from("monday")]).is_err());
        assert!(clock(alloc::vec![regorus::Value::from(1.5f64)]).is_err());
    }
}
