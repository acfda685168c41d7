//! Times as every output shows them: RFC 3339, UTC, to the second.

/// RFC 3339 (UTC) for a unix timestamp.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// Parses RFC 3339 into a unix timestamp.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Seconds in a day (UTC, no leap seconds, as unix time counts them): the
/// one conversion between days and seconds.
pub const SECS_PER_DAY: i64 = 86_400;

/// Whole days from `now` until `t` (unix seconds), rounded down: negative once
/// `t` has passed. The one definition of every `days_left` pushca prints.
pub fn days_left(t: i64, now: i64) -> i64 {
    (t - now).div_euclid(SECS_PER_DAY)
}

/// A unix timestamp serialized as RFC 3339 (for `#[serde(serialize_with)]`).
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn serialize_rfc3339<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// An optional unix timestamp serialized as RFC 3339 or null.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn serialize_rfc3339_opt<S: serde::Serializer>(
    t: &Option<i64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        assert_eq!(super::days_left(86_400 * 2, 0), 2);
        assert_eq!(super::days_left(86_400 * 2 - 1, 0), 1);
        assert_eq!(super::days_left(0, 0), 0);
        assert_eq!(super::days_left(-1, 0), -1);
    }
}
