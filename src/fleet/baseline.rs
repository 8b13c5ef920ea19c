//! A capture against an earlier one (a healthy day's run of the same runbook): per target and
//! step, changed, unchanged, new or missing.
//!
//! Streams are matched by target name, preset and step (the n-th such stream of one capture
//! with the n-th of the other, for a step planned twice). "Changed" uses the same key as
//! folding ([`FoldKey`]): outcome and outputs, exact or by shape.
use super::key::{FoldError, FoldItem, FoldKey, FoldMode};
use crate::snapshot::Snapshot;
use std::collections::{HashMap, VecDeque};

/// How a stream of the new capture compares with the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Changed,
    Unchanged,
    /// Only in the new capture.
    New,
    /// Only in the old capture.
    Missing,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
            Change::New => "new",
            Change::Missing => "missing",
        }
    }
}

/// One target's step in the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChange {
    pub target: String,
    pub preset: String,
    pub step: String,
    pub change: Change,
    /// Index of the stream in the old manifest, when it is there.
    pub old: Option<usize>,
    /// Index of the stream in the new manifest, when it is there.
    pub new: Option<usize>,
    /// For a changed stream, what differs (see [`FoldKey::differences`]).
    pub differs: Vec<&'static str>,
}

/// Two captures compared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Baseline {
    /// New capture's streams in its order, then those only the old one has.
    pub streams: Vec<StreamChange>,
}

type StepKey = (String, String, String);

impl Baseline {
    /// Compares `new` with `old`. Reads stream files only where the mode needs them (exact
    /// mode: streams without a recorded hash). Blocking.
    pub fn compare(old: &Snapshot, new: &Snapshot, mode: FoldMode) -> Result<Baseline, FoldError> {
        let items = |snapshot: &Snapshot| -> Result<Vec<FoldItem>, FoldError> {
            snapshot
                .manifest
                .streams
                .iter()
                .enumerate()
                .map(|(i, s)| FoldItem::from_record(mode, &snapshot.dir, i, s))
                .collect()
        };
        let (old_items, new_items) = (items(old)?, items(new)?);
        let key = |item: &FoldItem| -> StepKey {
            (item.target.clone(), item.preset.clone(), item.step.clone())
        };
        let mut unmatched: HashMap<StepKey, VecDeque<&FoldItem>> = HashMap::new();
        for item in &old_items {
            unmatched.entry(key(item)).or_default().push_back(item);
        }
        let mut streams = Vec::new();
        for item in &new_items {
            let earlier = unmatched.get_mut(&key(item)).and_then(VecDeque::pop_front);
            let (change, differs) = match earlier {
                None => (Change::New, Vec::new()),
                Some(before) => {
                    let differs = FoldKey::differences(&before.key, &item.key);
                    let change = if differs.is_empty() {
                        Change::Unchanged
                    } else {
                        Change::Changed
                    };
                    (change, differs)
                }
            };
            streams.push(StreamChange {
                target: item.target.clone(),
                preset: item.preset.clone(),
                step: item.step.clone(),
                change,
                old: earlier.map(|b| b.stream),
                new: Some(item.stream),
                differs,
            });
        }
        for item in &old_items {
            if unmatched
                .get(&key(item))
                .is_some_and(|left| left.iter().any(|l| l.stream == item.stream))
            {
                streams.push(StreamChange {
                    target: item.target.clone(),
                    preset: item.preset.clone(),
                    step: item.step.clone(),
                    change: Change::Missing,
                    old: Some(item.stream),
                    new: None,
                    differs: Vec::new(),
                });
            }
        }
        Ok(Baseline { streams })
    }

    /// How many streams have `change`.
    pub fn count(&self, change: Change) -> usize {
        self.streams.iter().filter(|s| s.change == change).count()
    }

    /// True when nothing changed, appeared or went missing.
    pub fn is_same(&self) -> bool {
        self.streams.iter().all(|s| s.change == Change::Unchanged)
    }
}
