//! Human byte sizes (`64MiB`) as used in presets and on the command line.
use super::NumberOrText;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, str::FromStr};

/// A byte count written as `512`, `64KiB`, `8MiB`, `1GiB` (also `kB`/`MB`/`GB` as powers of ten).
/// Every size casefile reads (an output cap, an upload part) must be at least one byte: a cap
/// of zero would truncate everything before it starts. The check lives in the parser, so
/// flags, casefile.toml and presets all get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let size = parse_size(text)?;
        if size.0 == 0 {
            return Err(format!(
                "a size of `{}` is zero; write e.g. 4MiB, 512KiB or 1048576",
                text.trim()
            ));
        }
        Ok(size)
    }
}

/// `text` as a byte count, zero included.
fn parse_size(text: &str) -> Result<ByteSize, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. 4MiB, 512KiB or 1048576"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}`; use B, KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .map(ByteSize)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_bytes(self.0))
    }
}

/// `1536` → `1.5 KiB`: for progress lines and `casefile show`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(0) => Err(serde::de::Error::custom(
                "a size of 0 is zero; write e.g. 4MiB, 512KiB or 1048576",
            )),
            NumberOrText::Number(n) => Ok(ByteSize(n)),
            NumberOrText::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!("4MiB".parse::<ByteSize>(), Ok(ByteSize(4 << 20)));
        assert_eq!("512".parse::<ByteSize>(), Ok(ByteSize(512)));
        assert_eq!("2 GiB".parse::<ByteSize>(), Ok(ByteSize(2 << 30)));
        assert!("4 parsecs".parse::<ByteSize>().is_err());
        for zero in ["0", "0MiB", " 0 B"] {
            let e = zero.parse::<ByteSize>().expect_err(zero);
            assert!(e.contains("is zero"), "{zero}: {e}");
        }
        #[derive(Deserialize)]
        struct T {
            #[allow(dead_code)]
            max_bytes: ByteSize,
        }
        assert!(toml::from_str::<T>("max_bytes = 0").is_err());
        assert!(toml::from_str::<T>("max_bytes = \"0KiB\"").is_err());
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
