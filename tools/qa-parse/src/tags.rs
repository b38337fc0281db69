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

/// `extract` for a teacher with habits: tags match in any ASCII case, and a value also
/// ends where any of `starts` (every pair's start tag) begins, or at the end of the text,
/// so a missing end tag loses no value.
pub fn extract_loose(text: &str, start: &str, end: &str, starts: &[String]) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    if start.is_empty() && end.is_empty() {
        return vec![text.trim().to_string()];
    }
    let mut values = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let body = if start.is_empty() {
            pos
        } else {
            match find_ci(&text[pos..], start) {
                Some(at) => pos + at + start.len(),
                None => break,
            }
        };
        let rest = &text[body..];
        let end_at = (!end.is_empty()).then(|| find_ci(rest, end)).flatten();
        let stop_at = starts
            .iter()
            .filter(|s| !s.is_empty() && !start.is_empty())
            .filter_map(|s| find_ci(rest, s))
            .min();
        let (len, next) = match (end_at, stop_at) {
            (Some(e), Some(s)) if s < e => (s, body + s),
            (Some(e), _) => (e, body + e + end.len()),
            (None, Some(s)) if !end.is_empty() => (s, body + s),
            // An empty start tag cuts only at end tags; the tail after the last is no value.
            (None, _) if start.is_empty() => break,
            (None, _) => (rest.len(), text.len()),
        };
        values.push(text[body..body + len].trim().to_string());
        pos = next.max(body);
        if end.is_empty() {
            break;
        }
    }
    values
}

/// Byte offset of the first match of `needle` in `hay`, ignoring ASCII case.
pub fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    if needle.is_empty() || needle.len() > hay.len() {
        return (needle.is_empty()).then_some(0);
    }
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// `text` without any occurrence of `tag`, ignoring ASCII case.
pub fn remove_ci(text: &str, tag: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_ci(rest, tag) {
        out.push_str(&rest[..at]);
        rest = &rest[at + tag.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{extract, extract_loose, remove_ci};

    fn loose(text: &str, start: &str, end: &str, starts: &[&str]) -> Vec<String> {
        let starts: Vec<String> = starts.iter().map(|s| s.to_string()).collect();
        extract_loose(text, start, end, &starts)
    }

    #[test]
    fn loose_tags_ignore_case_and_missing_end_tags() {
        let q = ["[QUESTION]"];
        assert_eq!(
            loose("[question] a [end] [QUESTION] b", "[QUESTION]", "[END]", &q),
            ["a", "b"]
        );
        assert_eq!(
            loose("[QUESTION] a [QUESTION] b [END]", "[QUESTION]", "[END]", &q),
            ["a", "b"]
        );
        let qa = ["[QUESTION]", "[ANSWER]"];
        let text = "[QUESTION] q1 [ANSWER] a1 [END] [QUESTION] q2 [END] [ANSWER] a2";
        assert_eq!(loose(text, "[QUESTION]", "[END]", &qa), ["q1", "q2"]);
        assert_eq!(loose(text, "[ANSWER]", "[END]", &qa), ["a1", "a2"]);
        assert_eq!(loose("x ### KEY FACTS y", "### Key Facts", "", &[]), ["y"]);
        assert_eq!(loose("a [E] b [e] c", "", "[E]", &[]), ["a", "b"]);
        assert!(loose("nothing here", "[QUESTION]", "[END]", &q).is_empty());
        assert_eq!(remove_ci("[x] A [X] b", "[X]"), " A  b");
    }

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
