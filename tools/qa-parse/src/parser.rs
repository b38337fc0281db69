//! One configured parser: tag pairs or a pattern, the cleanup strings, and how parsed
//! columns become rows (zipped by position, up to the shortest column).

use crate::{Pattern, habits, tags};

/// A `--start`/`--end` pair; either may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPair {
    /// The start tag.
    pub start: String,
    /// The end tag.
    pub end: String,
}

/// How values are found in the text.
#[derive(Debug, Clone)]
pub enum Method {
    /// One column per tag pair.
    Tags(Vec<TagPair>),
    /// One column per capture group (or the whole match).
    Regex(Pattern),
}

/// A parser ready to apply to any number of texts.
#[derive(Debug, Clone)]
pub struct Parser {
    method: Method,
    cleanup: Vec<String>,
    fallbacks: Vec<Pattern>,
    habits: bool,
}

impl Parser {
    /// A parser with the given method and cleanup strings (removed from every value).
    pub fn new(method: Method, cleanup: Vec<String>) -> Self {
        Parser {
            method,
            cleanup,
            fallbacks: Vec::new(),
            habits: false,
        }
    }

    /// The same parser, reading through a teacher's habits: tags in any case, a missing
    /// end tag, and each value cleaned of preambles, closing remarks, labels and markdown
    /// (see `habits`). Values left empty are no values.
    pub fn with_habits(mut self, habits: bool) -> Self {
        self.habits = habits;
        self
    }

    /// The same parser, trying `patterns` in order on a text where the method finds
    /// nothing: a teacher that forgets the tags (a numbered list of questions, a bare YES)
    /// still gives its values. Their capture groups fill the same columns.
    pub fn with_fallbacks(mut self, patterns: Vec<Pattern>) -> Self {
        self.fallbacks = patterns;
        self
    }

    /// How many columns (target fields) this parser fills.
    pub fn width(&self) -> usize {
        match &self.method {
            Method::Tags(pairs) => pairs.len(),
            Method::Regex(pattern) => pattern.groups().max(1),
        }
    }

    /// Every value found, one column per target. Values are trimmed, the cleanup strings
    /// removed, and trimmed again (the reference leaves a space where a trailing cleanup
    /// string was; we do not).
    pub fn columns(&self, text: &str) -> Result<Vec<Vec<String>>, String> {
        Ok(self
            .cleaned(self.extracted(text)?)
            .into_iter()
            .map(|column| column.into_iter().map(Option::unwrap_or_default).collect())
            .collect())
    }

    /// Every value the method finds, as found.
    fn extracted(&self, text: &str) -> Result<Vec<Vec<String>>, String> {
        Ok(match &self.method {
            Method::Tags(pairs) if self.habits => {
                let starts: Vec<String> = pairs.iter().map(|p| p.start.clone()).collect();
                pairs
                    .iter()
                    .map(|pair| tags::extract_loose(text, &pair.start, &pair.end, &starts))
                    .collect()
            }
            Method::Tags(pairs) => pairs
                .iter()
                .map(|pair| tags::extract(text, &pair.start, &pair.end))
                .collect(),
            Method::Regex(pattern) => pattern.columns(text)?,
        })
    }

    /// The values cleaned; `None` where a value held nothing but a teacher's habits (an
    /// empty value stays an empty value, as the reference parser gives it).
    fn cleaned(&self, raw: Vec<Vec<String>>) -> Vec<Vec<Option<String>>> {
        raw.into_iter()
            .map(|column| {
                column
                    .iter()
                    .map(|v| {
                        let clean = self.clean(v);
                        (!(self.habits && clean.is_empty() && !v.trim().is_empty()))
                            .then_some(clean)
                    })
                    .collect()
            })
            .collect()
    }

    fn clean(&self, value: &str) -> String {
        let mut value = value.trim().to_string();
        if !self.cleanup.is_empty() {
            for tag in self.cleanup.iter().filter(|t| !t.is_empty()) {
                value = if self.habits {
                    tags::remove_ci(&value, tag)
                } else {
                    value.replace(tag.as_str(), "")
                };
            }
            value = value.trim().to_string();
        }
        if self.habits {
            value = habits::clean(&value);
        }
        value
    }

    /// The rows parsed from `text`: column values zipped by position, up to the shortest
    /// column; with habits, a row with a value of nothing but habits is no row. No row at
    /// all is an error saying what found nothing in `field`.
    pub fn rows(&self, text: &str, field: &str) -> Result<Vec<Vec<String>>, String> {
        let columns = self.cleaned(self.extracted(text)?);
        let rows = kept_rows(&columns);
        if !rows.is_empty() {
            return Ok(rows);
        }
        let counts: Vec<Vec<String>> = columns
            .iter()
            .map(|c| c.iter().flatten().cloned().collect())
            .collect();
        let reason = self.nothing_found(&counts, field);
        for fallback in &self.fallbacks {
            let rows = kept_rows(&self.cleaned(fallback.columns(text)?));
            if !rows.is_empty() {
                return Ok(rows);
            }
        }
        if self.fallbacks.is_empty() {
            Err(reason)
        } else {
            Err(format!("{reason}, nor any --fallback-regex match"))
        }
    }

    fn nothing_found(&self, columns: &[Vec<String>], field: &str) -> String {
        match &self.method {
            Method::Regex(_) => format!("the pattern found no match in '{field}'"),
            Method::Tags(pairs) if pairs.len() == 1 => {
                format!("no {} match in '{field}'", describe(&pairs[0]))
            }
            Method::Tags(pairs) => {
                let counts: Vec<String> = pairs
                    .iter()
                    .zip(columns)
                    .map(|(pair, column)| format!("{} matched {}", describe(pair), column.len()))
                    .collect();
                format!("in '{field}': {}", counts.join(", "))
            }
        }
    }
}

/// Rows of values that are all there, zipped by position up to the shortest column.
fn kept_rows(columns: &[Vec<Option<String>>]) -> Vec<Vec<String>> {
    zip_shortest(columns)
        .into_iter()
        .filter_map(|row| row.into_iter().collect())
        .collect()
}

/// Rows from columns, by position, as many as the shortest column has values.
pub fn zip_shortest<T: Clone>(columns: &[Vec<T>]) -> Vec<Vec<T>> {
    let len = columns.iter().map(Vec::len).min().unwrap_or(0);
    (0..len)
        .map(|i| columns.iter().map(|column| column[i].clone()).collect())
        .collect()
}

fn describe(pair: &TagPair) -> String {
    let side = |tag: &str, empty: &str| {
        if tag.is_empty() {
            empty.to_string()
        } else {
            format!("'{tag}'")
        }
    };
    format!(
        "{}…{}",
        side(&pair.start, "start of text"),
        side(&pair.end, "end of text")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Parser {
        let pairs = list
            .iter()
            .map(|(s, e)| TagPair {
                start: s.to_string(),
                end: e.to_string(),
            })
            .collect();
        Parser::new(Method::Tags(pairs), Vec::new())
    }

    #[test]
    fn pairs_zip_to_the_shortest_column() {
        let text = "[Q] a [E] [A] 1 [E] [Q] b [E] [A] 2 [E] [Q] c [E]";
        let p = pairs(&[("[Q]", "[E]"), ("[A]", "[E]")]);
        assert_eq!(p.rows(text, "r").unwrap(), [["a", "1"], ["b", "2"]]);
    }

    #[test]
    fn nothing_found_says_which_tags_found_nothing() {
        let one = pairs(&[("[QUESTION]", "[END]")]);
        assert_eq!(
            one.rows("x", "raw").unwrap_err(),
            "no '[QUESTION]'…'[END]' match in 'raw'"
        );
        let two = pairs(&[("[Q]", ""), ("", "[A]")]);
        assert_eq!(
            two.rows("[Q] x", "r").unwrap_err(),
            "in 'r': '[Q]'…end of text matched 1, start of text…'[A]' matched 0"
        );
    }

    #[test]
    fn cleanup_strings_are_removed_and_the_value_retrimmed() {
        let pattern = Pattern::compile("A: (.*)").unwrap();
        let p = Parser::new(Method::Regex(pattern), vec!["<br>".into(), String::new()]);
        assert_eq!(p.rows("A: x <br>", "r").unwrap(), [["x"]]);
        assert_eq!(p.width(), 1);
    }
}
