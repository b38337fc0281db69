//! Reply text for each prompt kind: format-correct, plausible, and a pure function of the
//! prompt's last user message and a 64-bit seed. Words come from [`crate::words`], so
//! replies differ per document and never carry another kind's markers. Cheap: one pass
//! over the source, no regexes.

use crate::kind::Kind;
use crate::repeats::Repeats;
use crate::words::{source_words, words_or_filler};
use fastrand::Rng;

/// A reply's text and what `/stats` counts about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The assistant message content.
    pub content: String,
    /// Facts, questions or Q&A pairs in the reply (0 for other kinds).
    pub items: u64,
    /// True for a faithful (YES) verdict.
    pub yes: bool,
    /// Questions taken from the document's pool of repeats (`--repeats`).
    pub repeats: u64,
}

/// Builds the reply of `kind` for the prompt whose last user message is `source`.
pub fn build(kind: Kind, source: &str, seed: u64) -> Text {
    build_with(kind, source, seed, None)
}

/// [`build`], with some questions drawn from `repeats` instead of fresh ones; every other
/// word of the reply is as [`build`] writes it.
pub fn build_with(kind: Kind, source: &str, seed: u64, repeats: Option<Repeats>) -> Text {
    let mut g = Gen {
        words: source_words(source),
        rng: Rng::with_seed(seed),
        repeats,
    };
    let (content, items, yes) = match kind {
        Kind::Faithfulness => g.faithfulness(),
        Kind::KeyFacts => g.key_facts(),
        Kind::QaPairs => (g.qa_pairs(), 5, false),
        Kind::Questions => g.questions(),
        Kind::ExtractiveSummary => (g.extractive(), 0, false),
        Kind::DetailedSummary => (g.detailed(), 0, false),
        Kind::Answer => (g.answer(), 0, false),
    };
    Text {
        content,
        items,
        yes,
        repeats: g.repeats.map_or(0, |r| r.count()),
    }
}

/// `n` questions in the forms of every reply's questions, about the words of `text` (the
/// filler's when it has none): the canonical questions of a pool of repeats.
pub fn questions_about(text: &str, seed: u64, n: usize) -> Vec<String> {
    let mut g = Gen {
        words: words_or_filler(text),
        rng: Rng::with_seed(seed),
        repeats: None,
    };
    (0..n).map(|_| g.question()).collect()
}

struct Gen<'a> {
    words: Vec<&'a str>,
    rng: Rng,
    repeats: Option<Repeats>,
}

impl Gen<'_> {
    /// A run of `min..=max` consecutive source words, as they appear.
    fn extract(&mut self, min: usize, max: usize) -> String {
        let take = self.rng.usize(min..=max).min(self.words.len());
        let start = self.rng.usize(0..=self.words.len() - take);
        self.words[start..start + take].join(" ")
    }

    /// A sentence: an extract with a capital letter and a full stop.
    fn sentence(&mut self, min: usize, max: usize) -> String {
        let mut s = capitalize(&self.extract(min, max));
        s.push('.');
        s
    }

    fn pick<'s>(&mut self, options: &[&'s str]) -> &'s str {
        options[self.rng.usize(0..options.len())]
    }

    /// Sentences appended to `out` until it holds at least `target` words.
    fn fill(&mut self, out: &mut String, target: usize, openers: &[&str]) {
        let mut count = out.split_whitespace().count();
        while count < target {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push(' ');
            }
            let opener = self.pick(openers);
            let body = self.extract(6, 14);
            let sentence = if opener.is_empty() {
                format!("{}.", capitalize(&body))
            } else {
                format!("{opener} {}.", lower_first(&body))
            };
            count += sentence.split_whitespace().count();
            out.push_str(&sentence);
        }
    }

    fn answer(&mut self) -> String {
        let target = self.rng.usize(30..=95);
        let mut out = String::from("Based on the document,");
        let openers = [
            "",
            "",
            "It also notes that",
            "In particular,",
            "This means that",
        ];
        self.fill(&mut out, target, &openers);
        out
    }

    fn detailed(&mut self) -> String {
        let target = self.rng.usize(60..=170);
        let openers = [
            "",
            "",
            "Overall,",
            "The text also explains that",
            "Taken together,",
            "A central theme is that",
        ];
        let mut out = String::from("The document centres on a few connected themes.");
        if target > 110 {
            self.fill(&mut out, target / 2, &openers);
            out.push_str("\n\n");
            out.push_str("Beyond these points,");
        }
        self.fill(&mut out, target, &openers);
        out
    }

    fn extractive(&mut self) -> String {
        let notes = [
            "this passage sets out the main point of the text.",
            "this detail supports the central claim made above.",
            "here the source gives a concrete example of the idea.",
            "this line states a fact that the later parts rely on.",
            "the author uses this to explain the underlying cause.",
        ];
        let lines = self.rng.usize(3..=5);
        let mut out = String::new();
        for _ in 0..lines {
            let quote = self.extract(7, 14);
            let note = self.pick(&notes);
            out.push_str(&format!("- \"{quote}\" (note: {note})\n"));
        }
        out.pop();
        out
    }

    fn question(&mut self) -> String {
        let topic = lower_first(&self.extract(2, 5));
        let form = self.pick(&[
            "What does the document say about",
            "How does the text describe",
            "Why does the passage mention",
            "Which details are given about",
        ]);
        let fresh = format!("{form} {topic}?");
        // The fresh question is drawn even when a repeat replaces it, so the rest of the
        // reply reads as it would without --repeats.
        match &mut self.repeats {
            Some(repeats) => repeats.next(fresh),
            None => fresh,
        }
    }

    fn questions(&mut self) -> (String, u64, bool) {
        let k = self.rng.usize(1..=4);
        let blocks: Vec<String> = (0..k)
            .map(|_| format!("[QUESTION]\n{}\n[END]", self.question()))
            .collect();
        (blocks.join("\n\n"), k as u64, false)
    }

    fn qa_pairs(&mut self) -> String {
        let pairs: Vec<String> = (0..5)
            .map(|_| {
                let q = self.question();
                let a = self.sentence(8, 16);
                format!("[QUESTION]\n{q}\n[END]\n[ANSWER]\n{a}\n[END]")
            })
            .collect();
        pairs.join("\n\n")
    }

    fn key_facts(&mut self) -> (String, u64, bool) {
        let k = self.rng.usize(2..=5);
        let facts: Vec<String> = (0..k).map(|_| self.sentence(6, 12)).collect();
        let mut out = String::new();
        for (i, fact) in facts.iter().enumerate() {
            out.push_str(&format!("{}. {fact}\n", i + 1));
        }
        out.push_str("\n### Key Facts With Context\n");
        for (i, fact) in facts.iter().enumerate() {
            let context = lower_first(&self.extract(4, 8));
            out.push_str(&format!(
                "{}. {fact} This is stated where the text discusses {context}.\n",
                i + 1
            ));
        }
        out.pop();
        (out, k as u64, false)
    }

    fn faithfulness(&mut self) -> (String, u64, bool) {
        let yes = self.rng.u32(0..6) != 0;
        let evidence = lower_first(&self.extract(6, 12));
        let (explanation, verdict) = if yes {
            let v = self.pick(&["YES", "Yes.", "yes"]);
            (
                format!("The response is supported by the document, which states that {evidence}."),
                v,
            )
        } else {
            let v = self.pick(&["NO", "No."]);
            (
                format!(
                    "The response makes claims the document does not support; the document only says that {evidence}."
                ),
                v,
            )
        };
        let content = format!(
            "[Start of Explanation]\n{explanation}\n[End of Explanation]\n[Start of Answer]\n{verdict}\n[End of Answer]"
        );
        (content, 0, yes)
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Lowercases a leading article or pronoun ("The river…" inside a sentence); other words
/// keep their case, since they may be names.
fn lower_first(s: &str) -> String {
    const LOWER: [&str; 10] = [
        "The", "A", "An", "This", "These", "That", "It", "Its", "In", "For",
    ];
    let first_word = s.split(' ').next().unwrap_or("");
    if !LOWER.contains(&first_word) {
        return s.to_string();
    }
    lowercase_first_letter(s)
}

/// `s` with its first letter lowercased.
pub(crate) fn lowercase_first_letter(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
