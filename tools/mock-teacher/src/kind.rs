//! Prompt kinds: which of the seven ktpipe prompts a request carries, detected from the
//! markers each prompt asks the teacher to use. Pure and cheap (substring scans only).

/// The kind of reply a prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A faithfulness verdict with explanation and answer tags.
    Faithfulness,
    /// A numbered key-facts list plus the same facts with context.
    KeyFacts,
    /// Five question/answer pairs in tags.
    QaPairs,
    /// One to four questions in tags.
    Questions,
    /// An annotated extractive summary.
    ExtractiveSummary,
    /// An abstract, thematic summary.
    DetailedSummary,
    /// A plain answer paragraph (anything else).
    Answer,
}

impl Kind {
    /// Every kind, in the order the stats report them.
    pub const ALL: [Kind; 7] = [
        Kind::ExtractiveSummary,
        Kind::DetailedSummary,
        Kind::KeyFacts,
        Kind::Questions,
        Kind::QaPairs,
        Kind::Answer,
        Kind::Faithfulness,
    ];

    /// The name used for this kind in `/stats`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Faithfulness => "faithfulness",
            Kind::KeyFacts => "key_facts",
            Kind::QaPairs => "qa_pairs",
            Kind::Questions => "questions",
            Kind::ExtractiveSummary => "extractive_summary",
            Kind::DetailedSummary => "detailed_summary",
            Kind::Answer => "answer",
        }
    }

    /// Position of this kind in [`Kind::ALL`].
    pub fn slot(self) -> usize {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }

    /// Detects the kind from the concatenated text of all messages; the first rule that
    /// matches wins, so a faithfulness prompt that quotes a question is still a verdict.
    pub fn detect(text: &str) -> Kind {
        if text.contains("[Start of Explanation]") {
            Kind::Faithfulness
        } else if text.contains("### Key Facts With Context") {
            Kind::KeyFacts
        } else if text.contains("[ANSWER]") {
            Kind::QaPairs
        } else if text.contains("[QUESTION]") {
            Kind::Questions
        } else if contains_ignore_ascii_case(text, "extractive summary") {
            Kind::ExtractiveSummary
        } else if contains_ignore_ascii_case(text, "detailed summary") {
            Kind::DetailedSummary
        } else {
            Kind::Answer
        }
    }
}

/// True when `needle` (ASCII) occurs in `hay` ignoring ASCII case, without allocating.
fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    if needle.is_empty() {
        return true;
    }
    let first = needle[0].to_ascii_lowercase();
    hay.windows(needle.len())
        .any(|w| w[0].to_ascii_lowercase() == first && w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let all = "[Start of Explanation] ### Key Facts With Context [ANSWER] [QUESTION]";
        assert_eq!(Kind::detect(all), Kind::Faithfulness);
        assert_eq!(
            Kind::detect("### Key Facts With Context [ANSWER]"),
            Kind::KeyFacts
        );
        assert_eq!(Kind::detect("[QUESTION] q [END] [ANSWER] a"), Kind::QaPairs);
        assert_eq!(
            Kind::detect("use [QUESTION] tags; a detailed summary"),
            Kind::Questions
        );
        assert_eq!(
            Kind::detect("Write an Extractive Summary and a detailed summary"),
            Kind::ExtractiveSummary
        );
        assert_eq!(
            Kind::detect("write a DETAILED summary"),
            Kind::DetailedSummary
        );
        assert_eq!(Kind::detect("what is the capital of France?"), Kind::Answer);
        assert_eq!(Kind::detect(""), Kind::Answer);
    }

    #[test]
    fn case_insensitive_search_handles_edges() {
        assert!(contains_ignore_ascii_case(
            "xxEXTRACTIVE SUMMARY",
            "extractive summary"
        ));
        assert!(!contains_ignore_ascii_case(
            "extractive",
            "extractive summary"
        ));
        assert!(contains_ignore_ascii_case(
            "é detailed Summary é",
            "detailed summary"
        ));
    }

    #[test]
    fn names_and_slots_are_consistent() {
        for (i, kind) in Kind::ALL.iter().enumerate() {
            assert_eq!(kind.slot(), i);
            assert!(!kind.name().is_empty());
        }
    }
}
