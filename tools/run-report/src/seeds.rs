//! Rows kept and set aside per seed document, keyed by `seed_id`. Memory grows with the
//! number of seed documents, never with the number of rows.

use std::collections::HashMap;

/// One seed document's tally.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Its `document_outline` (the title), as first seen.
    pub outline: String,
    pub kept: u64,
    pub rejected: u64,
}

/// Every seed document seen in gen.jsonl or rejects.jsonl.
#[derive(Debug, Default)]
pub struct Seeds {
    by_id: HashMap<String, Tally>,
}

impl Seeds {
    /// Counts a kept row of `seed_id`.
    pub fn kept(&mut self, seed_id: &str, outline: Option<&str>) {
        self.entry(seed_id, outline).kept += 1;
    }

    /// Counts a rejected record of `seed_id`.
    pub fn rejected(&mut self, seed_id: &str, outline: Option<&str>) {
        self.entry(seed_id, outline).rejected += 1;
    }

    fn entry(&mut self, seed_id: &str, outline: Option<&str>) -> &mut Tally {
        let tally = self.by_id.entry(seed_id.to_string()).or_default();
        if tally.outline.is_empty()
            && let Some(outline) = outline
        {
            tally.outline = outline.to_string();
        }
        tally
    }

    /// All tallies, fewest kept rows first, then by seed_id: the same order every time.
    pub fn sorted(&self) -> Vec<(&str, &Tally)> {
        let mut all: Vec<(&str, &Tally)> =
            self.by_id.iter().map(|(id, t)| (id.as_str(), t)).collect();
        all.sort_by(|a, b| a.1.kept.cmp(&b.1.kept).then(a.0.cmp(b.0)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_are_ordered_by_kept_rows_then_id() {
        let mut seeds = Seeds::default();
        seeds.kept("b", Some("Tides"));
        seeds.kept("b", None);
        seeds.rejected("a", None);
        seeds.rejected("c", Some("Glaciers"));
        seeds.kept("c", None);
        let sorted = seeds.sorted();
        let ids: Vec<&str> = sorted.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, ["a", "c", "b"]);
        assert_eq!(sorted[1].1.outline, "Glaciers");
        assert_eq!((sorted[1].1.kept, sorted[1].1.rejected), (1, 1));
        assert_eq!(sorted[2].1.kept, 2);
    }
}
