//! The overview's shape: one row per target, one column per step (preset/step), and which
//! stream sits in each cell. Built once per capture (or snapshot); drawing only indexes it.
use crate::model::Target;
use std::collections::HashMap;

/// No stream in this cell (the step does not run on this target).
pub const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    /// Indices into [`Matrix::tags`].
    pub tags: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub preset: String,
    pub step: String,
    /// What the column header shows: the step, or `preset/step` when two presets share it.
    pub label: String,
}

/// Targets × steps with the stream of each cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matrix {
    pub rows: Vec<Row>,
    pub cols: Vec<Column>,
    /// Every tag of every target, sorted.
    pub tags: Vec<String>,
    /// `rows × cols` stream indices, row-major; [`EMPTY`] where nothing runs.
    cells: Vec<u32>,
    /// Where each stream sits: (row, col).
    places: Vec<(u32, u32)>,
}

/// One stream as the matrix needs it: its target (index) and its step.
pub struct StreamKey<'a> {
    pub target: usize,
    pub preset: &'a str,
    pub step: &'a str,
}

impl Matrix {
    /// Rows follow `targets`' order, columns the order steps first appear in. A second stream of
    /// the same target and step (an ad-hoc step listed twice) gets a column of its own.
    pub fn build<'a>(
        targets: &[Target],
        streams: impl IntoIterator<Item = StreamKey<'a>>,
    ) -> Matrix {
        let mut tags: Vec<String> = targets.iter().flat_map(|t| t.tags.clone()).collect();
        tags.sort();
        tags.dedup();
        let rows: Vec<Row> = targets
            .iter()
            .map(|t| Row {
                name: t.name.clone(),
                tags: t
                    .tags
                    .iter()
                    .filter_map(|tag| tags.binary_search(tag).ok().map(|i| i as u16))
                    .collect(),
            })
            .collect();
        let mut cols: Vec<Column> = Vec::new();
        let mut col_of: HashMap<(String, String, usize), usize> = HashMap::new();
        let mut taken: HashMap<(usize, usize), ()> = HashMap::new();
        let mut placed: Vec<(usize, usize)> = Vec::new();
        for key in streams {
            // The first free column for this step on this target.
            let mut nth = 0;
            let col = loop {
                let id = (key.preset.to_string(), key.step.to_string(), nth);
                let col = *col_of.entry(id).or_insert_with(|| {
                    cols.push(Column {
                        preset: key.preset.to_string(),
                        step: key.step.to_string(),
                        label: String::new(),
                    });
                    cols.len() - 1
                });
                if taken.insert((key.target, col), ()).is_none() {
                    break col;
                }
                nth += 1;
            };
            placed.push((key.target, col));
        }
        for i in 0..cols.len() {
            let shared = cols
                .iter()
                .filter(|c| c.step == cols[i].step)
                .map(|c| &c.preset)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1;
            cols[i].label = if shared {
                format!("{}/{}", cols[i].preset, cols[i].step)
            } else {
                cols[i].step.clone()
            };
        }
        let width = cols.len();
        let mut cells = vec![EMPTY; rows.len() * width];
        let mut places = Vec::with_capacity(placed.len());
        for (stream, (row, col)) in placed.into_iter().enumerate() {
            if let Some(cell) = cells.get_mut(row * width + col) {
                *cell = stream as u32;
            }
            places.push((row as u32, col as u32));
        }
        Matrix {
            rows,
            cols,
            tags,
            cells,
            places,
        }
    }

    /// The stream in a cell.
    pub fn stream(&self, row: usize, col: usize) -> Option<usize> {
        if col >= self.cols.len() {
            return None;
        }
        self.cells
            .get(row * self.cols.len() + col)
            .filter(|s| **s != EMPTY)
            .map(|s| *s as usize)
    }

    /// Where a stream is drawn: (row, col).
    pub fn place(&self, stream: usize) -> Option<(usize, usize)> {
        self.places
            .get(stream)
            .map(|(r, c)| (*r as usize, *c as usize))
    }

    pub fn streams(&self) -> usize {
        self.places.len()
    }

    /// `preset/step` of a column.
    pub fn step_name(&self, col: usize) -> String {
        self.cols
            .get(col)
            .map(|c| format!("{}/{}", c.preset, c.step))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, tags: &[&str]) -> Target {
        let mut t = Target::local();
        t.name = name.into();
        t.tags = tags.iter().map(|s| s.to_string()).collect();
        t
    }

    #[test]
    fn rows_are_targets_columns_are_steps() {
        let targets = [target("web-1", &["web", "prod"]), target("db", &["db"])];
        let keys = [
            (0, "linux", "uptime"),
            (0, "linux", "df"),
            (1, "linux", "uptime"),
            (1, "mysql", "uptime"),
            (1, "adhoc", "run"),
            (1, "adhoc", "run"),
        ];
        let m = Matrix::build(
            &targets,
            keys.iter().map(|(t, p, s)| StreamKey {
                target: *t,
                preset: p,
                step: s,
            }),
        );
        assert_eq!(m.tags, ["db", "prod", "web"]);
        assert_eq!(m.rows[0].tags, [2, 1]);
        let labels: Vec<&str> = m.cols.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            ["linux/uptime", "df", "mysql/uptime", "run", "run"],
            "a shared step name shows its preset; a repeated step gets a second column"
        );
        assert_eq!(m.stream(0, 0), Some(0));
        assert_eq!(m.stream(1, 0), Some(2));
        assert_eq!(m.stream(0, 2), None);
        assert_eq!(m.stream(1, 4), Some(5));
        assert_eq!(m.place(3), Some((1, 2)));
        assert_eq!(m.stream(0, 9), None);
    }
}
