//! Regular expressions written for Python's `re` (as the reference parser's patterns are),
//! compiled with fancy-regex so look-around and back-references work.

use fancy_regex::Regex;

/// A compiled `--regex` pattern: dot matches newline, Python's `$` and `\Z` meanings.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
    groups: usize,
}

impl Pattern {
    /// Compiles a Python-style pattern; the error is the compiler's message.
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let translated = format!("(?s){}", translate(pattern));
        let regex = Regex::new(&translated).map_err(|err| err.to_string())?;
        let groups = regex.captures_len().saturating_sub(1);
        Ok(Pattern { regex, groups })
    }

    /// How many capture groups the pattern has.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The values of every match, untrimmed, as one column per capture group (or a single
    /// column of whole matches when the pattern has no group), like Python's `findall`.
    pub fn columns(&self, text: &str) -> Result<Vec<Vec<String>>, String> {
        let width = self.groups.max(1);
        let mut columns = vec![Vec::new(); width];
        for caps in self.regex.captures_iter(text) {
            let caps = caps.map_err(|err| format!("regex failed: {err}"))?;
            let first = usize::from(self.groups > 0);
            for (column, group) in columns.iter_mut().zip(first..) {
                column.push(caps.get(group).map_or("", |m| m.as_str()).to_string());
            }
        }
        Ok(columns)
    }
}

/// Rewrites the parts of a Python pattern whose meaning differs in fancy-regex: `\Z` (end
/// of text) becomes `\z`, and `$` outside a character class becomes "end of text, or
/// before a final newline", unless the pattern turns on multi-line mode itself.
pub fn translate(pattern: &str) -> String {
    let multiline = sets_multiline(pattern);
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') if !in_class => out.push_str("\\z"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                // A `]` first in a class is a literal, not its end.
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class && !multiline => out.push_str("(?=\\n?\\z)"),
            _ => out.push(c),
        }
    }
    out
}

/// True when an inline flag group such as `(?m)` or `(?im:` appears in the pattern.
fn sets_multiline(pattern: &str) -> bool {
    pattern.match_indices("(?").any(|(at, _)| {
        let flags: String = pattern[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
            .collect();
        // Flags after '-' are turned off: `(?i-m)` leaves multi-line mode off.
        flags.split('-').next().is_some_and(|on| on.contains('m'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_FACTS: &str = r"(?:^|\n)\s*\d+\.\s+(.*?)(?=\n\s*\d+\.\s+|\Z)";

    #[test]
    fn translation_handles_escapes_and_classes() {
        assert_eq!(translate(r"a\Z"), r"a\z");
        assert_eq!(translate(r"a\\Z"), r"a\\Z");
        assert_eq!(translate(r"[\Z$]$"), r"[\Z$](?=\n?\z)");
        assert_eq!(translate(r"[]$]x"), r"[]$]x");
        assert_eq!(translate(r"(?m)a$"), r"(?m)a$");
    }

    #[test]
    fn key_facts_splitter_splits_a_numbered_list() {
        let p = Pattern::compile(KEY_FACTS).unwrap();
        let text = "1. Water boils at 100 C.\n2. It freezes\n   at 0 C.\n10. Ice floats.";
        let cols = p.columns(text).unwrap();
        let got: Vec<&str> = cols[0].iter().map(|s| s.trim()).collect();
        assert_eq!(
            got,
            [
                "Water boils at 100 C.",
                "It freezes\n   at 0 C.",
                "Ice floats."
            ]
        );
    }

    #[test]
    fn dollar_matches_before_a_final_newline_like_python() {
        let p = Pattern::compile("x(.*?)$").unwrap();
        assert_eq!(p.columns("x ab\n").unwrap(), [[" ab"]]);
        let p = Pattern::compile(r"b\Z").unwrap();
        assert!(p.columns("ab\n").unwrap()[0].is_empty());
    }

    #[test]
    fn groups_become_columns_and_no_group_means_whole_match() {
        let p = Pattern::compile(r"(\w)=(\d)?").unwrap();
        assert_eq!(p.groups(), 2);
        assert_eq!(p.columns("a=1 b=").unwrap(), [["a", "b"], ["1", ""]]);
        let p = Pattern::compile(r"\d+").unwrap();
        assert_eq!(p.columns("1 22").unwrap(), [["1", "22"]]);
        assert!(Pattern::compile("(unclosed").is_err());
    }
}
