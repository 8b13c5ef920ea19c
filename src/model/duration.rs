//! Durations written as `500ms`, `10s`, `2m` in presets, config and flags.
use super::NumberOrText;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, str::FromStr, time::Duration};

/// A duration parsed with humantime (`10s`, `1m30s`); a bare integer means seconds.
/// Every duration casefile reads (a step timeout, a repeat interval, a link's expiry) must be
/// more than zero and at most [`MAX_DURATION`]: zero would end or spin at once, and a huge
/// value overflows deadline arithmetic. The check lives here so flags, casefile.toml and
/// presets all get it (files report it with their file:line:col).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// The longest duration accepted: one year.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Why a text is not a usable duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{text}` is not a duration ({reason}); write e.g. 500ms, 10s or 2m")]
    Unreadable { text: String, reason: String },
    #[error("a duration of `{text}` is zero; write e.g. 500ms, 10s or 2m")]
    Zero { text: String },
    #[error("`{text}` is longer than a year; write e.g. 10s, 2m or 1h")]
    TooLong { text: String },
}

impl HumanDuration {
    /// `duration` if it is more than zero and at most [`MAX_DURATION`].
    pub fn checked(duration: Duration, text: &str) -> Result<HumanDuration, DurationError> {
        if duration.is_zero() {
            Err(DurationError::Zero { text: text.into() })
        } else if duration > MAX_DURATION {
            Err(DurationError::TooLong { text: text.into() })
        } else {
            Ok(HumanDuration(duration))
        }
    }
}

impl FromStr for HumanDuration {
    type Err = DurationError;
    fn from_str(text: &str) -> Result<Self, DurationError> {
        let trimmed = text.trim();
        let duration = match trimmed.parse::<u64>() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(DurationError::TooLong { text: text.into() });
            }
            Err(_) => match humantime::parse_duration(trimmed) {
                Ok(d) => d,
                Err(humantime::DurationError::NumberOverflow) => {
                    return Err(DurationError::TooLong { text: text.into() });
                }
                Err(e) => {
                    return Err(DurationError::Unreadable {
                        text: text.into(),
                        reason: e.to_string(),
                    });
                }
            },
        };
        HumanDuration::checked(duration, text)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(n) => {
                HumanDuration::checked(Duration::from_secs(n), &n.to_string())
                    .map_err(serde::de::Error::custom)
            }
            NumberOrText::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_and_absurd_durations_are_refused() {
        assert_eq!("10s".parse(), Ok(HumanDuration(Duration::from_secs(10))));
        assert_eq!("45".parse(), Ok(HumanDuration(Duration::from_secs(45))));
        assert_eq!(
            "365d".parse::<HumanDuration>().map(|d| d.0),
            Ok(MAX_DURATION)
        );
        for zero in ["0", "0s", "0ms", " 0 "] {
            let e = zero.parse::<HumanDuration>().expect_err(zero);
            assert!(matches!(e, DurationError::Zero { .. }), "{zero}: {e}");
        }
        for huge in [
            "366d",
            "31536001",
            "18446744073709551615",
            "99999999999999999999999",
            "18446744073709551615s",
            "99999999999999999999999999h",
        ] {
            let e = huge.parse::<HumanDuration>().expect_err(huge);
            assert!(matches!(e, DurationError::TooLong { .. }), "{huge}: {e}");
        }
        let e = "5 fortnights".parse::<HumanDuration>().expect_err("unit");
        assert!(e.to_string().contains("is not a duration"), "{e}");
    }

    #[test]
    fn toml_numbers_are_checked_too() {
        #[derive(Deserialize)]
        struct T {
            #[allow(dead_code)]
            timeout: HumanDuration,
        }
        assert!(toml::from_str::<T>("timeout = 0").is_err());
        assert!(toml::from_str::<T>("timeout = 99999999999").is_err());
        assert!(toml::from_str::<T>("timeout = 30").is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever the text, parsing does not panic, and what it accepts is usable as a
        /// deadline from now.
        #[test]
        fn accepted_durations_are_bounded(text in "[0-9]{0,25}(ns|us|ms|s|m|h|d|w|y|)|\\PC{0,12}") {
            if let Ok(d) = text.parse::<HumanDuration>() {
                prop_assert!(!d.0.is_zero() && d.0 <= MAX_DURATION);
                prop_assert!(std::time::Instant::now().checked_add(d.0).is_some());
            }
        }
    }
}
