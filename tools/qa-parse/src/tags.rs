//! Extraction between literal tags, with the reference parser's rules for empty tags.

/// Every value between `start` and `end` in `text`, left to right, non-overlapping, each
/// running to the nearest end tag, trimmed.
///
/// Empty tags follow the reference parser: both empty take the whole text (one value); an
/// empty end tag runs from the first start tag to the end of the text; an empty start tag
/// cuts the text at every end tag (the text after the last end tag is not a value). An
/// empty text yields nothing.
pub fn extract(text: &str, start: &str, end: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    match (start.is_empty(), end.is_empty()) {
        (true, true) => vec![text.trim().to_string()],
        (false, true) => text
            .find(start)
            .map(|at| vec![text[at + start.len()..].trim().to_string()])
            .unwrap_or_default(),
        (start_empty, false) => between(text, start, end, start_empty),
    }
}

fn between(text: &str, start: &str, end: &str, start_empty: bool) -> Vec<String> {
    let mut values = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        let body = if start_empty {
            pos
        } else {
            match text[pos..].find(start) {
                Some(at) => pos + at + start.len(),
                None => break,
            }
        };
        let Some(len) = text[body..].find(end) else {
            break;
        };
        values.push(text[body..body + len].trim().to_string());
        pos = body + len + end.len();
    }
    values
}

#[cfg(test)]
mod tests {
    use super::extract;

    #[test]
    fn pairs_are_lazy_non_overlapping_and_trimmed() {
        let text = "A [Q] one [E] x [Q]\n two\n[E] [Q] three";
        assert_eq!(extract(text, "[Q]", "[E]"), ["one", "two"]);
        assert_eq!(extract("S1 S2 in E2 E1", "S1", "E1"), ["S2 in E2"]);
        assert_eq!(extract("[Q][E]", "[Q]", "[E]"), [""]);
        assert!(extract("no tags", "[Q]", "[E]").is_empty());
    }

    #[test]
    fn empty_tags_follow_the_reference() {
        assert_eq!(extract("  all  ", "", ""), ["all"]);
        assert!(extract("", "", "").is_empty());
        assert_eq!(extract("x ### Facts\n1. a\n", "### Facts", ""), ["1. a"]);
        assert_eq!(extract("a END b END c", "", "END"), ["a", "b"]);
        assert!(extract("no start", "S", "").is_empty());
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        assert_eq!(extract("«é» ü «ß»", "«", "»"), ["é", "ß"]);
    }
}
