//! The near-duplicate measure of `--dedup`: the Jaccard similarity of two texts' sets of
//! content words. Words are lowercased, Unicode letter-and-digit runs with a plural 's'
//! dropped; runs of CJK characters, which have no spaces, become overlapping character
//! pairs. Function words, words that only point at the source ("document", "passage",
//! "according") and filler ("exactly", "really") are left out, so "What does the document
//! say about tides?" and "what exactly does the passage say about the tides, as the text
//! says" are one question (similarity 1), while "capital of France" and "capital of
//! Germany" share only half their words.

use std::collections::BTreeSet;

/// The default threshold: with four content words, one word added still counts as a
/// repeat (4/5 = 0.8), one word changed does not (3/5 = 0.6).
pub const DEFAULT_THRESHOLD: f64 = 0.7;

/// Words that carry no content in a question about a given text.
const IGNORED: &[&str] = &[
    // articles, auxiliaries, pronouns, prepositions, conjunctions
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "am",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "can",
    "could",
    "would",
    "should",
    "will",
    "shall",
    "may",
    "might",
    "must",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "they",
    "them",
    "their",
    "there",
    "he",
    "she",
    "his",
    "her",
    "we",
    "our",
    "you",
    "your",
    "i",
    "me",
    "my",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "from",
    "by",
    "with",
    "about",
    "as",
    "into",
    "onto",
    "upon",
    "within",
    "per",
    "and",
    "or",
    "but",
    "so",
    "than",
    "then",
    "also",
    "too",
    // words that point at the source rather than at its content
    "document",
    "text",
    "passage",
    "article",
    "excerpt",
    "source",
    "according",
    "say",
    "said",
    "state",
    "stated",
    "given",
    "provided",
    "mentioned",
    "described",
    // filler a sampling teacher adds or drops
    "exactly",
    "actually",
    "really",
    "just",
    "please",
    "briefly",
    "specifically",
    "precisely",
    "basically",
    "particular",
    "particularly",
    "indeed",
];

/// The content words of `text`, as a set.
pub fn words(text: &str) -> BTreeSet<String> {
    let lower = text.to_lowercase();
    let mut out = BTreeSet::new();
    let mut run = String::new();
    let mut cjk = String::new();
    for c in lower.chars() {
        if is_cjk(c) {
            push_word(&mut out, &mut run);
            cjk.push(c);
        } else if c.is_alphanumeric() {
            push_cjk(&mut out, &mut cjk);
            run.push(c);
        } else if c == '\'' || c == '’' {
            // "what's" and "France's" keep their stem: the suffix is dropped.
            push_word(&mut out, &mut run);
            push_cjk(&mut out, &mut cjk);
            run.push('\'');
        } else {
            push_word(&mut out, &mut run);
            push_cjk(&mut out, &mut cjk);
        }
    }
    push_word(&mut out, &mut run);
    push_cjk(&mut out, &mut cjk);
    out
}

fn push_word(out: &mut BTreeSet<String>, run: &mut String) {
    let word = std::mem::take(run);
    if word.starts_with('\'') {
        return;
    }
    let stem = match word.strip_suffix('s') {
        Some(stem) if stem.chars().count() >= 3 && !stem.ends_with('s') => stem,
        _ => word.as_str(),
    };
    if !stem.is_empty() && !IGNORED.contains(&stem) && !IGNORED.contains(&word.as_str()) {
        out.insert(stem.to_string());
    }
}

fn push_cjk(out: &mut BTreeSet<String>, run: &mut String) {
    let chars: Vec<char> = std::mem::take(run).chars().collect();
    match chars.len() {
        0 => {}
        1 => {
            out.insert(chars[0].to_string());
        }
        _ => {
            for pair in chars.windows(2) {
                out.insert(pair.iter().collect());
            }
        }
    }
}

/// Han, kana and Hangul: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // hiragana, katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0x20000..=0x2FFFF)
}

/// The Jaccard similarity of two word sets, 0 to 1. Two empty sets (texts of nothing but
/// ignored words) are compared by the caller on their normalised text instead.
pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(b).count();
    shared as f64 / (a.len() + b.len() - shared) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(a: &str, b: &str) -> f64 {
        jaccard(&words(a), &words(b))
    }

    #[test]
    fn a_teachers_rewordings_are_one_question() {
        let base = "What does the document say about the river delta?";
        for variant in [
            "what does the text say about the river delta",
            "What exactly does the passage say about the river delta??",
            "What does the document say about the river delta, as the passage says?",
            "What does the document say about the river deltas according to the text?",
            "WHAT DOES THE DOCUMENT SAY ABOUT THE RIVER DELTA ?",
        ] {
            assert_eq!(sim(base, variant), 1.0, "{variant}");
        }
        // One content word added: still a repeat at the default threshold.
        assert!(
            sim(
                "What did Newton explain about tides?",
                "What did Newton explain about tides and the Moon?"
            ) >= DEFAULT_THRESHOLD
        );
    }

    #[test]
    fn different_questions_stay_apart() {
        for (a, b) in [
            (
                "What is the capital of France?",
                "What is the capital of Germany?",
            ),
            (
                "When did Pytheas sail to the Atlantic?",
                "Why did Pytheas sail to the Atlantic?",
            ),
            (
                "How large is the tidal range in the Mediterranean?",
                "How large is the tidal range on the Atlantic coast?",
            ),
            (
                "Who built the first tide table?",
                "Where was the first tide table kept?",
            ),
        ] {
            assert!(sim(a, b) < DEFAULT_THRESHOLD, "{a} / {b}: {}", sim(a, b));
        }
    }

    #[test]
    fn cjk_text_is_compared_by_character_pairs() {
        assert_eq!(
            words("東京は首都"),
            ["京は", "は首", "東京", "首都"].map(String::from).into()
        );
        let a = "潮の満ち引きは月の引力によって起こりますか？";
        assert_eq!(sim(a, "潮の満ち引きは月の引力によって起こりますか"), 1.0);
        assert!(sim(a, "江戸時代の人口はどれくらいでしたか？") < 0.2);
    }

    #[test]
    fn stems_and_apostrophes() {
        assert_eq!(
            words("What's France's tides?"),
            ["france", "tide", "what"].map(String::from).into()
        );
        assert_eq!(
            words("glass gas"),
            ["gas", "glass"].map(String::from).into()
        );
        assert!(words("the of").is_empty());
        assert_eq!(jaccard(&words("the"), &words("of")), 0.0);
    }
}
