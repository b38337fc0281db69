//! Property tests of qa-parse's matching over arbitrary text and tags: nothing panics,
//! tag extraction finds exactly the values placed between the tags, and values never
//! contain the end tag. `scripts/fuzz` runs these with many more cases.

use proptest::prelude::*;
use qa_parse::normalize::verdict;
use qa_parse::parser::{Method, Parser, TagPair};
use qa_parse::pattern::Pattern;
use qa_parse::tags::extract;

/// Text mixing arbitrary characters with pieces of the tags the recipes use.
fn texty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        ".{0,8}",
        Just("[QUESTION]".to_string()),
        Just("[END]".to_string()),
        Just("[ANSWER]".to_string()),
        Just("\n1. ".to_string()),
        Just("[".to_string()),
        Just("é".to_string()),
    ];
    prop::collection::vec(piece, 0..32).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn extraction_never_panics(text in texty(), start in ".{0,6}", end in ".{0,6}") {
        let values = extract(&text, &start, &end);
        for value in &values {
            prop_assert_eq!(value.trim(), value.as_str());
        }
    }

    #[test]
    fn values_placed_between_tags_come_back_in_order(
        values in prop::collection::vec("[a-z ]{1,12}", 0..6),
        noise in "[a-z\n ]{0,10}",
    ) {
        let mut text = noise.clone();
        for v in &values {
            text.push_str(&format!("[QUESTION]{v}[END]{noise}"));
        }
        let found = extract(&text, "[QUESTION]", "[END]");
        let expected: Vec<String> = values.iter().map(|v| v.trim().to_string()).collect();
        prop_assert_eq!(found, expected);
    }

    #[test]
    fn values_never_contain_the_end_tag(text in texty()) {
        for value in extract(&text, "[QUESTION]", "[END]") {
            prop_assert!(!value.contains("[END]"), "{}", value);
        }
    }

    #[test]
    fn zipped_rows_never_exceed_the_shortest_column(text in texty()) {
        let pairs = vec![
            TagPair { start: "[QUESTION]".into(), end: "[END]".into() },
            TagPair { start: "[ANSWER]".into(), end: "[END]".into() },
        ];
        let parser = Parser::new(Method::Tags(pairs), Vec::new());
        if let Ok(columns) = parser.columns(&text) {
            let shortest = columns.iter().map(Vec::len).min().unwrap_or(0);
            if let Ok(rows) = parser.rows(&text, "question") {
                prop_assert!(rows.len() <= shortest);
                prop_assert!(rows.iter().all(|r| r.len() == 2));
            }
        }
    }

    #[test]
    fn the_key_facts_regex_never_panics(text in texty()) {
        let pattern = Pattern::compile(r"(?:^|\n)\s*\d+\.\s+(.*?)(?=\n\s*\d+\.\s+|\Z)").unwrap();
        let _ = pattern.columns(&text);
    }

    #[test]
    fn arbitrary_patterns_compile_or_explain(pattern in ".{0,12}", text in ".{0,40}") {
        if let Ok(p) = Pattern::compile(&pattern) {
            let _ = p.columns(&text);
        }
    }

    #[test]
    fn verdicts_are_idempotent_and_uppercase(value in ".{0,20}") {
        let once = verdict(&value);
        prop_assert_eq!(verdict(&once), once.clone());
        prop_assert_eq!(once.to_uppercase(), once);
    }
}
