//! Host sets written the way clush and pdsh write them: `web01 … web06, web08 … web50` →
//! `web[01-06,08-50]`, `127.0.0.1 … 127.0.0.50` → `127.0.0.[1-50]`.
//!
//! A name is split into text and numbers. Names with the same text parts fold on one numeric
//! position: the one that leaves the fewest items (for `ssh://u@127.0.0.17:2201`, the address
//! digit rather than the port). Zero-padding is kept: `08` only ever stands for `08`, and a
//! range's width is that of its first number, as in ClusterShell (`[08-10]` is 08, 09, 10).
//! A name holding `[`, `]` or `,` is never folded (it is listed as it is).
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// Most names [`expand`] produces: a pattern is data, and `[0-99999999999]` must not fill memory.
pub const MAX_EXPANDED: usize = 1_000_000;

/// A pattern [`expand`] cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostListError {
    #[error("`{0}`: unbalanced `[` or `]`")]
    Unbalanced(String),
    #[error("`{item}`: `{range}` is not a number or a range FROM-TO with FROM <= TO")]
    BadRange { item: String, range: String },
    #[error("the pattern expands to more than {MAX_EXPANDED} names")]
    TooMany,
}

/// One piece of a name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Piece {
    Text(String),
    /// A run of digits, as written.
    Number(String),
}

fn pieces(name: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        // Numbers too long for u64 stay text (they cannot be ranges).
        if digits > 0 && digits <= 18 {
            out.push(Piece::Number(rest[..digits].to_string()));
            rest = &rest[digits..];
            continue;
        }
        let text = digits
            + rest[digits..]
                .bytes()
                .take_while(|b| !b.is_ascii_digit())
                .count();
        match out.last_mut() {
            Some(Piece::Text(previous)) => previous.push_str(&rest[..text]),
            _ => out.push(Piece::Text(rest[..text].to_string())),
        }
        rest = &rest[text..];
    }
    out
}

/// The width a number's text fixes: `Some(len)` for `08` (padded), `None` for `8` or `10`.
fn fixed_width(number: &str) -> Option<usize> {
    (number.len() > 1 && number.starts_with('0')).then_some(number.len())
}

fn value(number: &str) -> u64 {
    number.parse().unwrap_or(0)
}

/// Compresses a set of names (duplicates ignored) into folded items, sorted naturally.
pub fn compress<S: AsRef<str>>(names: &[S]) -> Vec<String> {
    let unique: BTreeSet<&str> = names.iter().map(AsRef::as_ref).collect();
    let mut out: Vec<String> = Vec::new();
    // Names with the same text parts (and count of numbers), keyed by those texts.
    let mut families: BTreeMap<Vec<Option<String>>, Vec<Vec<Piece>>> = BTreeMap::new();
    for name in unique {
        if name.contains(['[', ']', ',']) {
            out.push(name.to_string());
            continue;
        }
        let split = pieces(name);
        let skeleton = split
            .iter()
            .map(|p| match p {
                Piece::Text(t) => Some(t.clone()),
                Piece::Number(_) => None,
            })
            .collect();
        families.entry(skeleton).or_default().push(split);
    }
    for members in families.into_values() {
        out.extend(fold_family(&members));
    }
    out.sort_by(|a, b| natural_cmp(a, b));
    out
}

/// [`compress`], joined with `,` (the form clush prints).
pub fn compress_to_string<S: AsRef<str>>(names: &[S]) -> String {
    compress(names).join(",")
}

/// Folds names that share their text parts on the numeric position that leaves fewest items.
fn fold_family(members: &[Vec<Piece>]) -> Vec<String> {
    let numeric: Vec<usize> = members[0]
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p, Piece::Number(_)))
        .map(|(i, _)| i)
        .collect();
    let rest_key = |member: &Vec<Piece>, skip: usize| -> Vec<Piece> {
        member
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, p)| p.clone())
            .collect()
    };
    // Rightmost position among those leaving the fewest items.
    let best = numeric
        .iter()
        .map(|&d| {
            let keys: BTreeSet<Vec<Piece>> = members.iter().map(|m| rest_key(m, d)).collect();
            (keys.len(), d)
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let Some((_, d)) = best else {
        return members.iter().map(|m| join(m, None)).collect();
    };
    let mut by_rest: HashMap<Vec<Piece>, Vec<&Vec<Piece>>> = HashMap::new();
    for member in members {
        by_rest.entry(rest_key(member, d)).or_default().push(member);
    }
    by_rest
        .into_values()
        .map(|group| {
            if group.len() == 1 {
                return join(group[0], None);
            }
            let numbers: Vec<&str> = group
                .iter()
                .filter_map(|m| match &m[d] {
                    Piece::Number(n) => Some(n.as_str()),
                    Piece::Text(_) => None,
                })
                .collect();
            join(group[0], Some((d, ranges(&numbers))))
        })
        .collect()
}

fn join(pieces: &[Piece], replace: Option<(usize, String)>) -> String {
    let mut out = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        match (&replace, piece) {
            (Some((at, bracket)), _) if *at == i => {
                let _ = write!(out, "[{bracket}]");
            }
            (_, Piece::Text(t) | Piece::Number(t)) => out.push_str(t),
        }
    }
    out
}

/// `1,2,3,5,08,09,10` → `1-3,5,08-10`: consecutive values of the same width form a range.
fn ranges(numbers: &[&str]) -> String {
    let widths: BTreeSet<usize> = numbers.iter().filter_map(|n| fixed_width(n)).collect();
    // Width 0 is "as written, no padding". An unpadded number joins the widest padded class it
    // can be written in (10 is also `10` at width 2), so 08, 09, 10 make one range.
    let class = |n: &str| {
        fixed_width(n).unwrap_or_else(|| {
            widths
                .iter()
                .rev()
                .find(|&&w| w <= n.len())
                .copied()
                .unwrap_or(0)
        })
    };
    let mut by_class: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for n in numbers {
        by_class.entry(class(n)).or_default().push(value(n));
    }
    let mut runs: Vec<(u64, u64, usize)> = Vec::new();
    for (width, mut values) in by_class {
        values.sort_unstable();
        values.dedup();
        let mut iter = values.into_iter();
        let Some(first) = iter.next() else { continue };
        let (mut start, mut end) = (first, first);
        for v in iter {
            if v == end + 1 {
                end = v;
            } else {
                runs.push((start, end, width));
                (start, end) = (v, v);
            }
        }
        runs.push((start, end, width));
    }
    runs.sort_unstable();
    runs.iter()
        .map(|&(a, b, w)| {
            if a == b {
                format!("{a:0w$}")
            } else {
                format!("{a:0w$}-{b:0w$}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Expands a pattern (`web[01-06,08-50],db1`) into its names, in the order written.
pub fn expand(pattern: &str) -> Result<Vec<String>, HostListError> {
    let mut out = Vec::new();
    for item in split_top(pattern)? {
        if item.is_empty() {
            continue;
        }
        let mut names = vec![String::new()];
        let mut rest = item;
        while let Some(open) = rest.find('[') {
            let close = rest[open..]
                .find(']')
                .map(|c| open + c)
                .ok_or_else(|| HostListError::Unbalanced(item.to_string()))?;
            let prefix = &rest[..open];
            if prefix.contains(']') {
                return Err(HostListError::Unbalanced(item.to_string()));
            }
            let numbers = expand_bracket(item, &rest[open + 1..close])?;
            if names.len().saturating_mul(numbers.len()) > MAX_EXPANDED {
                return Err(HostListError::TooMany);
            }
            names = names
                .iter()
                .flat_map(|n| numbers.iter().map(move |x| format!("{n}{prefix}{x}")))
                .collect();
            rest = &rest[close + 1..];
        }
        if rest.contains(']') {
            return Err(HostListError::Unbalanced(item.to_string()));
        }
        for name in &mut names {
            name.push_str(rest);
        }
        if out.len() + names.len() > MAX_EXPANDED {
            return Err(HostListError::TooMany);
        }
        out.extend(names);
    }
    Ok(out)
}

/// Splits on the commas outside brackets.
fn split_top(pattern: &str) -> Result<Vec<&str>, HostListError> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in pattern.char_indices() {
        match c {
            '[' if depth == 0 => depth = 1,
            '[' => return Err(HostListError::Unbalanced(pattern.to_string())),
            ']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| HostListError::Unbalanced(pattern.to_string()))?
            }
            ',' if depth == 0 => {
                items.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(HostListError::Unbalanced(pattern.to_string()));
    }
    items.push(&pattern[start..]);
    Ok(items)
}

/// `01-03,7` → `01 02 03 7`; the width of a range is that of its first number when padded.
fn expand_bracket(item: &str, inside: &str) -> Result<Vec<String>, HostListError> {
    let bad = |range: &str| HostListError::BadRange {
        item: item.to_string(),
        range: range.to_string(),
    };
    let mut out = Vec::new();
    for range in inside.split(',') {
        let (from, to) = range.split_once('-').unwrap_or((range, range));
        let numeric =
            |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
        if !numeric(from) || !numeric(to) {
            return Err(bad(range));
        }
        let (a, b) = (value(from), value(to));
        if a > b {
            return Err(bad(range));
        }
        if out.len() as u64 + (b - a) >= MAX_EXPANDED as u64 {
            return Err(HostListError::TooMany);
        }
        let width = fixed_width(from).unwrap_or(0);
        out.extend((a..=b).map(|v| format!("{v:0width$}")));
    }
    Ok(out)
}

/// Orders names as people do: `web2` before `web10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (pieces(a), pieces(b));
    for (x, y) in pa.iter().zip(&pb) {
        let order = match (x, y) {
            (Piece::Number(m), Piece::Number(n)) => value(m).cmp(&value(n)).then(m.cmp(n)),
            (Piece::Text(s), Piece::Text(t)) => s.cmp(t),
            (Piece::Number(_), Piece::Text(_)) => Ordering::Less,
            (Piece::Text(_), Piece::Number(_)) => Ordering::Greater,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    pa.len().cmp(&pb.len()).then(a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(spec: &str) -> Vec<String> {
        expand(spec).expect("pattern")
    }

    #[test]
    fn folds_like_clush() {
        let mut hosts: Vec<String> = (1..=50)
            .filter(|i| *i != 7)
            .map(|i| format!("web{i:02}"))
            .collect();
        hosts.push("db1".into());
        hosts.push("db2".into());
        assert_eq!(compress_to_string(&hosts), "db[1-2],web[01-06,08-50]");
        let ips: Vec<String> = (1..=50).map(|i| format!("127.0.0.{i}")).collect();
        assert_eq!(compress_to_string(&ips), "127.0.0.[1-50]");
        assert_eq!(
            compress_to_string(&["web08", "web09", "web10", "web100"]),
            "web[08-10,100]"
        );
        assert_eq!(compress_to_string(&["n1", "n01", "n2"]), "n[01,1-2]");
        assert_eq!(compress_to_string(&["local"]), "local");
        assert_eq!(compress_to_string(&["a", "b"]), "a,b");
        let urls: Vec<String> = (1..=32)
            .map(|i| format!("ssh://u@127.0.0.{i}:{}", if i <= 16 { 2201 } else { 2202 }))
            .collect();
        assert_eq!(
            compress(&urls),
            vec![
                "ssh://u@127.0.0.[1-16]:2201",
                "ssh://u@127.0.0.[17-32]:2202"
            ]
        );
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(matches!(
            expand("web[1-"),
            Err(HostListError::Unbalanced(_))
        ));
        assert!(matches!(
            expand("web]1["),
            Err(HostListError::Unbalanced(_))
        ));
        assert!(matches!(
            expand("web[3-1]"),
            Err(HostListError::BadRange { .. })
        ));
        assert!(matches!(
            expand("web[a-b]"),
            Err(HostListError::BadRange { .. })
        ));
        assert!(matches!(
            expand("web[0-99999999999]"),
            Err(HostListError::TooMany)
        ));
        assert_eq!(names("web[08-10]"), vec!["web08", "web09", "web10"]);
        assert_eq!(names("r[1-2]n[1-2]"), vec!["r1n1", "r1n2", "r2n1", "r2n2"]);
    }

    proptest! {
        /// Expanding the compressed form gives back the set, whatever the names.
        #[test]
        fn expansion_of_the_compressed_form_is_the_set(
            set in prop::collection::btree_set("[a-c]{0,2}[0-9]{1,3}(\\.[0-9]{1,2}){0,2}(-[a-z0-9]{0,2})?", 0..80),
        ) {
            let names: Vec<&str> = set.iter().map(String::as_str).collect();
            let folded = compress_to_string(&names);
            let back: BTreeSet<String> = expand(&folded).expect("own output parses").into_iter().collect();
            prop_assert_eq!(back, set.clone(), "{}", folded);
        }

        /// Consecutive hosts fold into one item.
        #[test]
        fn a_run_folds_to_one_item(start in 0u32..500, len in 2u32..300, width in 1usize..5) {
            let names: Vec<String> = (start..start + len).map(|i| format!("node{i:0width$}")).collect();
            prop_assert_eq!(compress(&names).len(), 1);
        }
    }
}
