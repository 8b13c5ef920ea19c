//! Folding: per step, the streams whose results are alike ([`FoldKey`]) form one group, and
//! groups are kept largest first.
//!
//! [`Folder`] is incremental so that a live view can feed it streams as they finish: each
//! [`Folder::add`] costs one hash look-up plus a few swaps to keep the order (a group grows by
//! one, so it moves up past groups of its old size only), never a re-sort. It is plain data
//! (`Send + Sync`, no I/O): computing an item's key may read files ([`FoldItem::from_record`]),
//! so a UI does that off its loop and hands the finished item to the folder.
use super::key::{FoldError, FoldItem, FoldKey, FoldMode};
use crate::snapshot::Manifest;
use std::collections::HashMap;
use std::path::Path;

/// Streams of one step whose results are alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Stable id within its step (creation order); [`StepGroups::group`] takes it.
    pub id: usize,
    pub key: FoldKey,
    /// Manifest indexes of the streams, in the order they were added.
    pub streams: Vec<usize>,
    /// Their target names, in the same order.
    pub targets: Vec<String>,
    /// Stdout bytes of the representative (the first stream added).
    pub bytes: u64,
    /// Stdout SHA-256 (hex) of the representative, when known.
    pub sha256: Option<String>,
}

impl Group {
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// The stream shown for the whole group (the first one added).
    pub fn representative(&self) -> Option<usize> {
        self.streams.first().copied()
    }
}

/// Which groups are the odd ones out. A group is an outlier when it is smaller than its
/// step's largest group and holds at most `max_streams` streams or at most `max_share` of the
/// step's streams. A step where every group is the same size (all alike, or all different) has
/// no outliers: there is no majority to stand out from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlierRule {
    /// Groups this small or smaller are outliers (1: singletons only).
    pub max_streams: usize,
    /// Groups holding this fraction of the step's streams or less are outliers (0.0: off).
    pub max_share: f64,
}

impl Default for OutlierRule {
    fn default() -> OutlierRule {
        OutlierRule {
            max_streams: 1,
            max_share: 0.0,
        }
    }
}

impl OutlierRule {
    /// Whether a group of `len` streams is an outlier in a step of `total` streams whose
    /// largest group holds `largest`.
    pub fn applies(&self, len: usize, total: usize, largest: usize) -> bool {
        len > 0
            && len < largest
            && (len <= self.max_streams || (len as f64) <= self.max_share * total as f64)
    }
}

/// The groups of one step (preset + step), largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepGroups {
    pub preset: String,
    pub step: String,
    /// By id.
    groups: Vec<Group>,
    /// Group ids, largest first, ties by id (first seen first).
    order: Vec<usize>,
    /// Group id → its index in `order`.
    position: Vec<usize>,
    by_key: HashMap<FoldKey, usize>,
    total: usize,
}

impl StepGroups {
    fn new(preset: String, step: String) -> StepGroups {
        StepGroups {
            preset,
            step,
            groups: Vec::new(),
            order: Vec::new(),
            position: Vec::new(),
            by_key: HashMap::new(),
            total: 0,
        }
    }

    /// Non-empty groups, largest first (ties: the group seen first comes first).
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.order
            .iter()
            .map(|&id| &self.groups[id])
            .filter(|g| !g.is_empty())
    }

    /// A group by its id.
    pub fn group(&self, id: usize) -> Option<&Group> {
        self.groups.get(id)
    }

    pub fn largest(&self) -> Option<&Group> {
        self.groups().next()
    }

    /// Streams folded in this step.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Groups that stand out under `rule`, largest first.
    pub fn outliers(&self, rule: OutlierRule) -> impl Iterator<Item = &Group> {
        let largest = self.largest().map_or(0, Group::len);
        self.groups()
            .filter(move |g| rule.applies(g.len(), self.total, largest))
    }

    /// Whether group `id` stands out under `rule`.
    pub fn is_outlier(&self, id: usize, rule: OutlierRule) -> bool {
        let largest = self.largest().map_or(0, Group::len);
        self.groups
            .get(id)
            .is_some_and(|g| rule.applies(g.len(), self.total, largest))
    }

    /// True when group `a` goes before group `b`.
    fn before(&self, a: usize, b: usize) -> bool {
        let (la, lb) = (self.groups[a].len(), self.groups[b].len());
        la > lb || (la == lb && a < b)
    }

    fn swap(&mut self, p: usize, q: usize) {
        self.order.swap(p, q);
        self.position[self.order[p]] = p;
        self.position[self.order[q]] = q;
    }

    /// Restores the order after group `id` grew.
    fn moved_up(&mut self, id: usize) {
        let mut p = self.position[id];
        while p > 0 && self.before(id, self.order[p - 1]) {
            self.swap(p - 1, p);
            p -= 1;
        }
    }

    /// Restores the order after group `id` shrank.
    fn moved_down(&mut self, id: usize) {
        let mut p = self.position[id];
        while p + 1 < self.order.len() && self.before(self.order[p + 1], id) {
            self.swap(p, p + 1);
            p += 1;
        }
    }

    fn insert(&mut self, item: FoldItem) -> (usize, bool) {
        self.total += 1;
        if let Some(&id) = self.by_key.get(&item.key) {
            let group = &mut self.groups[id];
            if group.is_empty() {
                group.bytes = item.bytes;
                group.sha256 = item.sha256;
            }
            group.streams.push(item.stream);
            group.targets.push(item.target);
            self.moved_up(id);
            return (id, false);
        }
        let id = self.groups.len();
        self.by_key.insert(item.key, id);
        self.groups.push(Group {
            id,
            key: item.key,
            streams: vec![item.stream],
            targets: vec![item.target],
            bytes: item.bytes,
            sha256: item.sha256,
        });
        self.order.push(id);
        self.position.push(self.order.len() - 1);
        self.moved_up(id);
        (id, true)
    }

    fn remove(&mut self, id: usize, stream: usize) {
        let group = &mut self.groups[id];
        if let Some(at) = group.streams.iter().position(|&s| s == stream) {
            group.streams.remove(at);
            group.targets.remove(at);
            self.total -= 1;
            self.moved_down(id);
        }
    }
}

/// What one [`Folder::add`] changed, so a view can redraw only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// Index of the step in [`Folder::steps`].
    pub step: usize,
    /// Id of the group the stream is now in ([`StepGroups::group`]).
    pub group: usize,
    /// The stream started a new group.
    pub new_group: bool,
    /// The stream was already folded, into this other group (a re-run whose result changed).
    pub moved_from: Option<usize>,
}

/// Folds streams into groups per step, incrementally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folder {
    steps: Vec<StepGroups>,
    by_step: HashMap<(String, String), usize>,
    /// Stream → (step, group id).
    placed: HashMap<usize, (usize, usize)>,
}

impl Folder {
    pub fn new() -> Folder {
        Folder::default()
    }

    /// Folds every stream of a snapshot, in manifest order (so steps come in the order they
    /// were planned). Streams still queued or running are left out.
    pub fn fold_snapshot(
        mode: FoldMode,
        dir: &Path,
        manifest: &Manifest,
    ) -> Result<Folder, FoldError> {
        let mut folder = Folder::new();
        for (index, stream) in manifest.streams.iter().enumerate() {
            if stream.result.status.is_final() {
                folder.add(FoldItem::from_record(mode, dir, index, stream)?);
            }
        }
        Ok(folder)
    }

    /// Adds a finished stream (or re-adds one whose result changed: it leaves its old group).
    /// Adding the same stream with the same key again changes nothing.
    pub fn add(&mut self, item: FoldItem) -> Update {
        let step_key = (item.preset.clone(), item.step.clone());
        let step = match self.by_step.get(&step_key) {
            Some(&step) => step,
            None => {
                self.steps
                    .push(StepGroups::new(step_key.0.clone(), step_key.1.clone()));
                self.by_step.insert(step_key, self.steps.len() - 1);
                self.steps.len() - 1
            }
        };
        let stream = item.stream;
        let mut moved_from = None;
        if let Some(&(old_step, old_group)) = self.placed.get(&stream) {
            let same = old_step == step && self.steps[step].groups[old_group].key == item.key;
            if same {
                return Update {
                    step,
                    group: old_group,
                    new_group: false,
                    moved_from: None,
                };
            }
            self.steps[old_step].remove(old_group, stream);
            moved_from = Some(old_group);
        }
        let (group, new_group) = self.steps[step].insert(item);
        self.placed.insert(stream, (step, group));
        Update {
            step,
            group,
            new_group,
            moved_from,
        }
    }

    /// Every step seen, in the order its first stream was added.
    pub fn steps(&self) -> &[StepGroups] {
        &self.steps
    }

    /// The groups of one step.
    pub fn step(&self, preset: &str, step: &str) -> Option<&StepGroups> {
        self.by_step
            .get(&(preset.to_string(), step.to_string()))
            .map(|&i| &self.steps[i])
    }

    /// Where a stream was folded: (step index, group id).
    pub fn place(&self, stream: usize) -> Option<(usize, usize)> {
        self.placed.get(&stream).copied()
    }

    /// Whether a stream is in an outlier group of its step.
    pub fn is_outlier(&self, stream: usize, rule: OutlierRule) -> bool {
        self.place(stream)
            .is_some_and(|(step, group)| self.steps[step].is_outlier(group, rule))
    }

    /// The largest group of the stream's step, when the stream is not in it: what an outlier
    /// is compared with.
    pub fn majority_for(&self, stream: usize) -> Option<&Group> {
        let (step, group) = self.place(stream)?;
        self.steps[step].largest().filter(|g| g.id != group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An item whose key is made from `value` (same value, same key).
    fn item(stream: usize, target: &str, step: &str, value: u8) -> FoldItem {
        let snapshot_stream = crate::snapshot::StreamRecord {
            spec: crate::model::StreamSpec::new(
                format!("{stream}"),
                0,
                "p",
                step,
                crate::model::StepAction::Command("true".into()),
                std::time::Duration::from_secs(1),
            ),
            target_name: target.into(),
            result: crate::snapshot::manifest::StreamResult {
                status: crate::snapshot::StreamStatus::Exited,
                started_at: None,
                ended_at: None,
                duration_ms: None,
                exit_code: Some(0),
                signal: None,
                timed_out: false,
                truncated: false,
                reason: None,
                stdout: crate::snapshot::OutputRecord {
                    path: String::new(),
                    bytes: 1,
                    received_bytes: 1,
                    sha256: Some(hex::encode([value; 32])),
                },
                stderr: crate::snapshot::OutputRecord {
                    path: String::new(),
                    bytes: 0,
                    received_bytes: 0,
                    sha256: Some(hex::encode([0u8; 32])),
                },
                data: None,
                artifact: None,
                redactions: 0,
            },
        };
        FoldItem::from_record(
            FoldMode::Exact,
            Path::new("/nonexistent"),
            stream,
            &snapshot_stream,
        )
        .expect("recorded hashes need no file")
    }

    #[test]
    fn groups_are_largest_first_and_outliers_stand_out() {
        let mut folder = Folder::new();
        for i in 0..50 {
            let value = if i == 16 { 9 } else { 1 };
            folder.add(item(i, &format!("web{:02}", i + 1), "uptime", value));
        }
        let step = folder.step("p", "uptime").expect("step");
        let sizes: Vec<usize> = step.groups().map(Group::len).collect();
        assert_eq!(sizes, vec![49, 1]);
        let odd: Vec<&Group> = step.outliers(OutlierRule::default()).collect();
        assert_eq!(odd.len(), 1);
        assert_eq!(odd[0].targets, vec!["web17".to_string()]);
        assert!(folder.is_outlier(16, OutlierRule::default()));
        assert!(!folder.is_outlier(15, OutlierRule::default()));
        assert_eq!(folder.majority_for(16).map(Group::len), Some(49));
    }

    #[test]
    fn a_share_threshold_flags_small_groups_but_never_the_largest() {
        let rule = OutlierRule {
            max_streams: 0,
            max_share: 0.1,
        };
        assert!(rule.applies(5, 50, 45));
        assert!(!rule.applies(6, 50, 44));
        assert!(
            !rule.applies(5, 10, 5),
            "a tie with the largest is no outlier"
        );
        assert!(
            !OutlierRule::default().applies(1, 50, 1),
            "all different: no majority"
        );
    }

    #[test]
    fn a_rerun_moves_a_stream_and_a_repeat_changes_nothing() {
        let mut folder = Folder::new();
        folder.add(item(0, "a", "s", 1));
        folder.add(item(1, "b", "s", 2));
        let again = folder.add(item(1, "b", "s", 2));
        assert_eq!(again.moved_from, None);
        assert_eq!(folder.steps()[0].total(), 2);
        let moved = folder.add(item(1, "b", "s", 1));
        assert_eq!(moved.moved_from, Some(1));
        let sizes: Vec<usize> = folder.steps()[0].groups().map(Group::len).collect();
        assert_eq!(sizes, vec![2], "the emptied group is not listed");
    }

    /// A UI hands the folder to a worker thread and reads it back.
    #[test]
    fn the_folder_can_live_off_the_ui_thread() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Folder>();
        send_sync::<FoldItem>();
    }

    proptest! {
        /// Whatever the order streams finish in, the groups are those of a batch fold: same
        /// members, sorted by size, every stream in exactly one group.
        #[test]
        fn incremental_order_matches_a_batch_fold(
            values in prop::collection::vec(0u8..6, 1..200),
            steps in prop::collection::vec(0usize..3, 200),
        ) {
            let mut folder = Folder::new();
            for (i, v) in values.iter().enumerate() {
                folder.add(item(i, &format!("h{i}"), &format!("s{}", steps[i]), *v));
            }
            for step in folder.steps() {
                let sizes: Vec<usize> = step.groups().map(Group::len).collect();
                let mut sorted = sizes.clone();
                sorted.sort_by(|a, b| b.cmp(a));
                prop_assert_eq!(&sizes, &sorted);
                let mut expected: HashMap<u8, usize> = HashMap::new();
                for (i, v) in values.iter().enumerate() {
                    if format!("s{}", steps[i]) == step.step {
                        *expected.entry(*v).or_default() += 1;
                    }
                }
                let mut want: Vec<usize> = expected.into_values().collect();
                want.sort_by(|a, b| b.cmp(a));
                prop_assert_eq!(sizes, want);
            }
            let placed: usize = folder.steps().iter().map(StepGroups::total).sum();
            prop_assert_eq!(placed, values.len());
        }
    }
}
