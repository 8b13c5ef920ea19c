//! Takes resolved secret values out of the report's texts. Every occurrence of every value is
//! found first (overlapping ones too), and the union of those spans is replaced: replacing one
//! value after another would leave pieces of a value behind when two overlap (`pass` inside
//! `password123` would leave `word123`).

/// Values shorter than this are left alone, as the redactor does (they would shred ordinary text).
pub const MIN_LEN: usize = 4;
pub const MARK: &str = "[REDACTED]";

/// `text` with every span covered by an occurrence of a value replaced by [`MARK`] (adjacent or
/// overlapping spans become one mark).
pub fn scrub(text: &str, values: &[String]) -> String {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for value in values.iter().filter(|v| v.len() >= MIN_LEN) {
        let mut from = 0;
        while let Some(found) = text.get(from..).and_then(|rest| rest.find(value.as_str())) {
            let start = from + found;
            spans.push((start, start + value.len()));
            // The next search starts one character on: occurrences may overlap.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut kept_to = 0;
    let mut current: Option<(usize, usize)> = None;
    for (start, end) in spans {
        match current {
            Some((_, open_end)) if start <= open_end => {
                current = current.map(|(s, e)| (s, e.max(end)));
            }
            _ => {
                if let Some((s, e)) = current {
                    out.push_str(&text[kept_to..s]);
                    out.push_str(MARK);
                    kept_to = e;
                }
                current = Some((start, end));
            }
        }
    }
    if let Some((s, e)) = current {
        out.push_str(&text[kept_to..s]);
        out.push_str(MARK);
        kept_to = e;
    }
    out.push_str(&text[kept_to..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn overlapping_values_leave_no_piece_behind() {
        let values = ["pass".to_string(), "password123".to_string()];
        assert_eq!(scrub("pw=password123!", &values), "pw=[REDACTED]!");
        assert_eq!(scrub("aaaaa", &["aaaa".to_string()]), "[REDACTED]");
        assert_eq!(scrub("short abc", &["abc".to_string()]), "short abc");
        assert_eq!(
            scrub("é-secret-é", &["-secret-".to_string()]),
            "é[REDACTED]é"
        );
    }

    proptest! {
        /// A text made of secret values (from one alphabet) and filler (from another): after
        /// scrubbing, not one character of the secrets' alphabet is left.
        #[test]
        fn no_character_of_any_value_survives(
            values in proptest::collection::vec("[a-e]{4,9}", 1..5),
            picks in proptest::collection::vec((0usize..5, "[ XYZé]{0,3}"), 0..12),
        ) {
            let mut text = String::new();
            for (index, filler) in &picks {
                text.push_str(filler);
                text.push_str(&values[index % values.len()]);
            }
            let out = scrub(&text, &values);
            prop_assert!(!out.chars().any(|c| ('a'..='e').contains(&c)), "{text:?} -> {out:?}");
        }
    }
}
