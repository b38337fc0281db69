//! The words replies are made of: those of the prompt's longest paragraph (usually the
//! document), else of the whole prompt, else of a filler text. Words carrying brackets,
//! hashes or the word "summary" are skipped, so a reply never contains another kind's
//! markers.

/// Words used when the prompt offers too few of its own.
const FILLER: &str = "The report describes how the regional cooperative grew from a handful \
of farms into a network of suppliers, how it financed new storage with member loans, why \
prices stayed stable through two dry seasons, and which rules members agreed on for sharing \
equipment, training new growers and settling disputes about quality.";

/// The longest paragraph of `source`: in a ktpipe prompt, usually the document.
pub fn longest_paragraph(source: &str) -> &str {
    source.split("\n\n").max_by_key(|p| p.len()).unwrap_or("")
}

/// The usable words of the longest paragraph of `source`, or of the filler text.
pub fn source_words(source: &str) -> Vec<&str> {
    let mut words = usable_words(longest_paragraph(source));
    if words.len() < 12 {
        words = usable_words(source);
    }
    if words.len() < 12 {
        words = usable_words(FILLER);
    }
    words
}

/// The usable words of `text`, or of the filler text when it has none (an empty title).
pub fn words_or_filler(text: &str) -> Vec<&str> {
    let words = usable_words(text);
    if words.is_empty() {
        usable_words(FILLER)
    } else {
        words
    }
}

fn usable_words(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| {
            !w.is_empty()
                && !w.contains(['[', ']', '#', '*', '`', '|', '<', '>', '{', '}', '_'])
                && !w
                    .as_bytes()
                    .get(..6)
                    .is_some_and(|p| p.eq_ignore_ascii_case(b"summar"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_skipped_and_short_sources_fall_back() {
        let words = usable_words("The a[1] x#y summary, Summaries: river's end.");
        assert_eq!(words, ["The", "river's", "end"]);
        assert_eq!(words_or_filler("** --")[0], "The");
        assert_eq!(words_or_filler("Danube")[0], "Danube");
        assert_eq!(source_words("hi there").len(), usable_words(FILLER).len());
        assert_eq!(longest_paragraph("a\n\nbbb\n\ncc"), "bbb");
    }
}
