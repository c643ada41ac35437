//! Event timestamps: one instant, two spellings (RFC 3339 text or epoch milliseconds).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// The largest instant a [`Timestamp`] holds: `9999-12-31T23:59:59.999Z`, the last one RFC 3339
/// can spell with a four-digit year.
pub const MAX_UNIX_MILLIS: u64 = 253_402_300_799_999;

/// How a [`Timestamp`] is written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TimestampStyle {
    /// RFC 3339 in UTC with milliseconds: `"2026-05-31T00:00:00.000Z"` (the default profile).
    #[default]
    Rfc3339,
    /// A JSON number of milliseconds since the Unix epoch: `1780185600000` (what Vapi sends).
    EpochMillis,
}

/// An event's instant, to the millisecond, with the style it is written in: a timestamp as it
/// appears on the wire. Its sibling [`outbox::Timestamp`](crate::outbox::Timestamp) is a clock
/// reading (no style); both use the same method names (`from_unix_millis`, `as_unix_millis`,
/// `from_unix_seconds`, `as_unix_seconds`, `to_system_time`) and convert into each other
/// (`From` one way, `TryFrom` the other: this one stops at year 9999).
///
/// Parsing accepts both styles (and RFC 3339 with any fraction or a numeric offset) and
/// remembers the style it saw, so an event parsed and serialized again keeps its spelling.
/// Two timestamps are equal when both the instant and the style are; compare
/// [`Timestamp::unix_millis`] for the instant alone.
///
/// ```
/// use agent_webhooks::Timestamp;
/// use agent_webhooks::event::TimestampStyle;
/// let t = Timestamp::from_unix_millis(1_780_185_600_000)?;
/// assert_eq!(t.to_string(), "2026-05-31T00:00:00.000Z");
/// let v = t.with_style(TimestampStyle::EpochMillis);
/// assert_eq!(serde_json::to_string(&v)?, "1780185600000");
/// assert_eq!("2026-05-31T02:00:00+02:00".parse::<Timestamp>()?.unix_millis(), 1_780_185_600_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    millis: u64,
    style: TimestampStyle,
}

/// A timestamp that could not be read or is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Before 1970-01-01 or after 9999-12-31T23:59:59.999Z.
    #[error("timestamp is out of range 1970-01-01T00:00:00.000Z..=9999-12-31T23:59:59.999Z")]
    OutOfRange,
    /// Text that is not RFC 3339 (`2026-05-31T00:00:00.000Z`).
    #[error("`{0}` is not an RFC 3339 timestamp like 2026-05-31T00:00:00.000Z")]
    Format(String),
}

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch, in the default (RFC 3339) style.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] above [`MAX_UNIX_MILLIS`].
    pub fn from_unix_millis(millis: u64) -> Result<Self, TimestampError> {
        if millis > MAX_UNIX_MILLIS {
            return Err(TimestampError::OutOfRange);
        }
        Ok(Timestamp {
            millis,
            style: TimestampStyle::Rfc3339,
        })
    }

    /// The instant of a `SystemTime` (truncated to the millisecond), in the default style.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] before 1970 or after year 9999.
    pub fn from_system_time(time: SystemTime) -> Result<Self, TimestampError> {
        let since = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TimestampError::OutOfRange)?;
        let millis = u64::try_from(since.as_millis()).map_err(|_| TimestampError::OutOfRange)?;
        Self::from_unix_millis(millis)
    }

    /// The same instant written in `style`.
    #[must_use]
    pub fn with_style(self, style: TimestampStyle) -> Self {
        Timestamp { style, ..self }
    }

    /// Milliseconds since the Unix epoch (the same as [`Timestamp::as_unix_millis`]).
    #[must_use]
    pub fn unix_millis(self) -> u64 {
        self.millis
    }

    /// Milliseconds since the Unix epoch: the name [`outbox::Timestamp`](crate::outbox::Timestamp)
    /// uses too.
    #[must_use]
    pub fn as_unix_millis(self) -> u64 {
        self.millis
    }

    /// Whole seconds since the Unix epoch.
    #[must_use]
    pub fn as_unix_seconds(self) -> u64 {
        self.millis / 1000
    }

    /// The instant `seconds` after the Unix epoch, in the default (RFC 3339) style.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] after year 9999.
    pub fn from_unix_seconds(seconds: u64) -> Result<Self, TimestampError> {
        Self::from_unix_millis(
            seconds
                .checked_mul(1000)
                .ok_or(TimestampError::OutOfRange)?,
        )
    }

    /// The style it is written in.
    #[must_use]
    pub fn style(self) -> TimestampStyle {
        self.style
    }

    /// The instant as a `SystemTime`.
    #[must_use]
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.millis)
    }

    fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        let bad = || TimestampError::Format(text.to_owned());
        // humantime reads UTC (`Z`, `+00:00`); other numeric offsets are applied here.
        let (base, offset_secs) = split_offset(text).ok_or_else(bad)?;
        let parsed = if offset_secs == 0 {
            humantime::parse_rfc3339(base)
        } else if base.as_bytes().get(10) == Some(&b'T') && !base.ends_with(['Z', 'z']) {
            humantime::parse_rfc3339_weak(base)
        } else {
            return Err(bad());
        };
        let time = parsed.map_err(|e| match e {
            humantime::TimestampError::OutOfRange => TimestampError::OutOfRange,
            _ => bad(),
        })?;
        let millis = Self::from_system_time(time)?.millis;
        let shifted = i128::from(millis) - i128::from(offset_secs) * 1000;
        let millis = u64::try_from(shifted).map_err(|_| TimestampError::OutOfRange)?;
        Self::from_unix_millis(millis)
    }
}

/// Splits a trailing `+HH:MM` / `-HH:MM` offset off an RFC 3339 text, returning the text in UTC
/// form (`...Z`) and the offset in seconds east of UTC.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    let b = text.as_bytes();
    if b.len() < 25 || !text.is_ascii() {
        return Some((text, 0));
    }
    let tail = &b[b.len() - 6..];
    let sign = match tail[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Some((text, 0)),
    };
    if tail[3] != b':' || !tail[1..3].iter().chain(&tail[4..]).all(u8::is_ascii_digit) {
        return None;
    }
    let hours = i64::from(tail[1] - b'0') * 10 + i64::from(tail[2] - b'0');
    let minutes = i64::from(tail[4] - b'0') * 10 + i64::from(tail[5] - b'0');
    if hours > 23 || minutes > 59 {
        return None;
    }
    // Keep `+00:00` for humantime; otherwise hand it the local time as if it were UTC.
    if hours == 0 && minutes == 0 && sign == 1 {
        return Some((text, 0));
    }
    Some((
        &text[..text.len() - 6],
        sign * (hours * 3600 + minutes * 60),
    ))
}

impl From<Timestamp> for crate::outbox::Timestamp {
    fn from(t: Timestamp) -> Self {
        crate::outbox::Timestamp::from_unix_millis(t.millis)
    }
}

impl TryFrom<crate::outbox::Timestamp> for Timestamp {
    type Error = TimestampError;

    /// The clock reading as an event timestamp in the default style.
    fn try_from(t: crate::outbox::Timestamp) -> Result<Self, TimestampError> {
        Timestamp::from_unix_millis(t.as_unix_millis())
    }
}

impl fmt::Display for Timestamp {
    /// Always RFC 3339 with milliseconds, whatever the style.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&humantime::format_rfc3339_millis(self.to_system_time()), f)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    /// Reads RFC 3339 text (`2026-05-31T00:00:00.000Z`, any fraction, `Z` or an offset) or a
    /// decimal count of epoch milliseconds.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let millis = s.parse::<u64>().map_err(|_| TimestampError::OutOfRange)?;
            return Ok(Self::from_unix_millis(millis)?.with_style(TimestampStyle::EpochMillis));
        }
        Self::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.style {
            TimestampStyle::Rfc3339 => serializer.collect_str(self),
            TimestampStyle::EpochMillis => serializer.serialize_u64(self.millis),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 string or a number of epoch milliseconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Timestamp::from_unix_millis(v)
                    .map(|t| t.with_style(TimestampStyle::EpochMillis))
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                let v = u64::try_from(v).map_err(|_| E::custom(TimestampError::OutOfRange))?;
                self.visit_u64(v)
            }
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "exact: `MAX_UNIX_MILLIS` < 2^53, and `v` is whole and in range"
            )]
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                // Whole-number floats (`1.7e12`) are accepted; a fraction of a millisecond is not.
                if v.fract() == 0.0 && (0.0..=MAX_UNIX_MILLIS as f64).contains(&v) {
                    return self.visit_u64(v as u64);
                }
                Err(E::custom(TimestampError::OutOfRange))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_both_styles() {
        let t = Timestamp::from_unix_millis(1_780_185_600_123).unwrap();
        assert_eq!(t.to_string(), "2026-05-31T00:00:00.123Z");
        let back: Timestamp = serde_json::from_str("\"2026-05-31T00:00:00.123Z\"").unwrap();
        assert_eq!(back, t);
        let n: Timestamp = serde_json::from_str("1780185600123").unwrap();
        assert_eq!(n, t.with_style(TimestampStyle::EpochMillis));
        assert_eq!(serde_json::to_string(&n).unwrap(), "1780185600123");
    }

    #[test]
    fn offsets_fractions_and_ranges() {
        let p = |s: &str| s.parse::<Timestamp>().map(Timestamp::unix_millis);
        assert_eq!(p("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(p("1970-01-01T01:00:00.5+01:00"), Ok(500));
        assert_eq!(p("2026-05-30T19:00:00.000-05:00"), Ok(1_780_185_600_000));
        assert_eq!(p("2026-05-31T00:00:00.000+00:00"), Ok(1_780_185_600_000));
        assert_eq!(p("9999-12-31T23:59:59.999Z"), Ok(MAX_UNIX_MILLIS));
        assert_eq!(
            p("1970-01-01T00:00:00.000+01:00"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(p("253402300800000"), Err(TimestampError::OutOfRange));
        assert!(matches!(p("2026-05-31"), Err(TimestampError::Format(_))));
        assert!(matches!(
            p("2026-05-31T00:00:00.000+24:00"),
            Err(TimestampError::Format(_))
        ));
        assert!(serde_json::from_str::<Timestamp>("-1").is_err());
        assert!(serde_json::from_str::<Timestamp>("1.5").is_err());
        assert!(serde_json::from_str::<Timestamp>("true").is_err());
    }
}
