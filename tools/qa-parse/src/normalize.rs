//! Verdict normalisation: turns a judge's free-form "yes" or "no" into a value a filter can
//! compare exactly ("Yes." → "YES", " **no** " → "NO").

/// Pairs of opening and closing characters stripped when they surround the whole value.
const WRAPPERS: &[(char, char)] = &[
    ('*', '*'),
    ('_', '_'),
    ('`', '`'),
    ('"', '"'),
    ('\'', '\''),
    ('“', '”'),
    ('‘', '’'),
    ('(', ')'),
    ('[', ']'),
    ('{', '}'),
];

/// Trailing punctuation dropped from the end of the value.
const TRAILING: &[char] = &['.', '!', ',', ';', ':'];

/// Normalises a verdict: trims whitespace, strips markdown emphasis, quotes and brackets
/// that surround the whole value, drops trailing punctuation, repeats until nothing
/// changes, and uppercases. Only the edges change: "yes, because…" becomes
/// "YES, BECAUSE…", never "YES".
pub fn verdict(value: &str) -> String {
    let mut current = value;
    loop {
        let next = strip_once(current);
        if next.len() == current.len() {
            return next.to_uppercase();
        }
        current = next;
    }
}

fn strip_once(value: &str) -> &str {
    let value = value.trim().trim_end_matches(TRAILING).trim();
    for &(open, close) in WRAPPERS {
        if let Some(inner) = value
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn common_judge_replies_become_yes_or_no() {
        for (raw, want) in [
            ("YES", "YES"),
            ("Yes.", "YES"),
            (" **no** ", "NO"),
            ("**Yes**.", "YES"),
            ("*Yes.*", "YES"),
            ("\"yes\"", "YES"),
            ("[NO]", "NO"),
            ("`Yes`!", "YES"),
            ("“No”", "NO"),
            ("__yes__", "YES"),
            ("\n yes \n", "YES"),
        ] {
            assert_eq!(verdict(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn only_the_edges_change() {
        assert_eq!(verdict("yes, because"), "YES, BECAUSE");
        assert_eq!(verdict("*yes"), "*YES");
        assert_eq!(verdict(""), "");
        assert_eq!(verdict("**"), "");
        assert_eq!(verdict("n/a"), "N/A");
    }
}
