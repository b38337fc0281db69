//! Reading through a teacher's habits (`--habits`). Instruction-tuned teachers wrap what a
//! prompt asks for: a preamble ("Sure! Here are the questions:"), a closing remark ("I hope
//! this helps!"), numbering and labels ("2)", "Q1 -", "Question 3.", "A:"), markdown bold,
//! and verdicts phrased many ways ("**Yes**, the answer is supported"). These functions
//! take a parsed value back to what was asked for; a value of nothing but habits becomes
//! empty, and the caller rejects it.

use std::sync::LazyLock;

use fancy_regex::Regex;

use crate::normalize;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the habit patterns are valid")
}

/// A first line that only introduces what follows.
static PREAMBLE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\W*(?:sure|certainly|of course|absolutely|great question|good question|okay|ok|alright|here(?:'s| is| are)|below (?:is|are)|the following|i'd be happy|i would be happy|happy to help)\b[^\n]*$",
    )
});

/// An interjection or "Here is the answer:" opening the value's first line.
static PREAMBLE_LEAD: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\W*(?:(?:sure|certainly|of course|absolutely|great question|good question|okay|alright)\s*[!.,]+\s*)+(?:here(?:'s| is| are)[^:\n]{0,60}:\s*)?|^\W*here(?:'s| is| are)[^:\n]{0,60}:\s*",
    )
});

/// A last paragraph or line that only closes the conversation.
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\W*(?:i hope|hope (?:this|that|these|it)|let me know|please let me know|feel free|if you (?:have|need) any|is there anything|happy to help|glad to help|good luck)\b",
    )
});

/// Labels before the value: "Q1 -", "Question 3.", "A:".
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\s*(?:(?:q|question|a|answer|fact|key fact|sentence|response)\s*\d{0,3}\s*[-.:)–—]|(?:q|a)\d{1,3}\b)(?:\s+|$)|^\s*(?:q|question|a|answer|fact|key fact|sentence|response)\s*\d{0,3}\s*:",
    )
});

/// Numbering or a bullet before the value ("2)", "1.", "-").
static NUMBERING: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^\s*(?:\(?\d{1,3}[.):]|#\d{1,3}[.):]?|[-•])(?:\s+|$)"));

/// A value whose lines are a numbered or bulleted list keeps its numbering.
static LIST_ITEM: LazyLock<Regex> = LazyLock::new(|| regex(r"(?m)^\s*(?:\d{1,3}[.)]|[-*•])\s"));

/// A conversational turn addressed to the user, not a value about the document.
static CHAT_TURN: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\W*(?:i'?m ready|i am ready|how can i (?:help|assist)|what(?:'s| is) your next|what would you like|would you like me|do you want me|please (?:provide|share|give))\b",
    )
});

/// A label before a verdict.
static VERDICT_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^\s*(?:final\s+)?(?:verdict|answer|judge?ment|decision|faithful(?:ness)?)\s*[:\-–—]\s*",
    )
});

static YES_NO: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\b(yes|no)\b"));

/// The value with its preamble, closing remarks, markdown and leading labels removed.
pub fn clean(value: &str) -> String {
    let value = strip_emphasis(value);
    let value = drop_closing(drop_preamble(&value));
    let mut value = value.trim().to_string();
    let list = LIST_ITEM.find_iter(&value).count() > 1;
    // "**Q1:** 1) What…" carries more than one label.
    for _ in 0..3 {
        let mut next = replace_first(&LABEL, &value);
        if !list {
            next = replace_first(&NUMBERING, &next);
        }
        if next.len() == value.len() {
            break;
        }
        value = next.trim().to_string();
    }
    // A chat turn, or marks without a letter or digit ("*"), hold no value.
    if CHAT_TURN.is_match(&value).unwrap_or(false) || !value.chars().any(char::is_alphanumeric) {
        return String::new();
    }
    // A quote opened before the value whose closing quote a pattern left outside it.
    if let Some(rest) = value.strip_prefix(['"', '“'])
        && !rest.contains(['"', '”'])
    {
        value = rest.trim().to_string();
    }
    unwrap_edges(&value).to_string()
}

/// A verdict read through its habits: labels and markdown go, and a leading or lone yes or
/// no is the verdict ("Yes, the document says so" → "YES"). Anything else is normalised
/// as without habits, so the filter sees it is neither.
pub fn verdict(value: &str) -> String {
    let value = strip_emphasis(value);
    let value = replace_first(&VERDICT_LABEL, value.trim());
    let normalized = normalize::verdict(&value);
    for word in ["YES", "NO"] {
        if let Some(rest) = normalized.strip_prefix(word)
            && !rest.trim_start().starts_with(|c: char| c.is_alphanumeric())
        {
            return word.to_string();
        }
    }
    let found: Vec<String> = YES_NO
        .captures_iter(&normalized)
        .filter_map(|c| Some(c.ok()?.get(1)?.as_str().to_uppercase()))
        .collect();
    match found.first() {
        Some(first) if found.iter().all(|w| w == first) => first.clone(),
        _ => normalized,
    }
}

fn replace_first(re: &Regex, text: &str) -> String {
    match re.find(text) {
        Ok(Some(m)) => format!("{}{}", &text[..m.start()], &text[m.end()..]),
        _ => text.to_string(),
    }
}

/// Bold and underline markers anywhere, heading marks at the start of a line.
fn strip_emphasis(value: &str) -> String {
    let value = value.replace("**", "").replace("__", "");
    value
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            match trimmed.strip_prefix('#') {
                Some(_) => trimmed.trim_start_matches('#').trim_start(),
                None => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A first line of preamble, or a preamble leading the first line, when text follows.
fn drop_preamble(value: &str) -> String {
    let value = value.trim();
    if let Some((first, rest)) = value.split_once('\n')
        && !rest.trim().is_empty()
        && PREAMBLE_LINE.is_match(first.trim()).unwrap_or(false)
        && first.split_whitespace().count() <= 16
    {
        return rest.trim().to_string();
    }
    match PREAMBLE_LEAD.find(value) {
        Ok(Some(m)) if m.start() == 0 && !value[m.end()..].trim().is_empty() => {
            value[m.end()..].trim().to_string()
        }
        _ => value.to_string(),
    }
}

/// Closing remarks at the end, paragraph by paragraph (or line by line), when text
/// precedes them.
fn drop_closing(value: String) -> String {
    let mut value = value.trim_end().to_string();
    loop {
        let cut = value.rfind("\n\n").or_else(|| value.rfind('\n'));
        let Some(at) = cut else {
            return value;
        };
        let last = value[at..].trim();
        if !CLOSING.is_match(last).unwrap_or(false) || value[..at].trim().is_empty() {
            return value;
        }
        value.truncate(at);
        value = value.trim_end().to_string();
    }
}

/// Italic stars, underscores, backticks or quotes around the whole value.
fn unwrap_edges(value: &str) -> &str {
    for (open, close) in [('*', '*'), ('_', '_'), ('`', '`'), ('"', '"'), ('“', '”')] {
        if let Some(inner) = value
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
            && !inner.is_empty()
        {
            return inner.trim();
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_numbering_and_bold_go() {
        for (raw, want) in [
            ("2) What causes tides?", "What causes tides?"),
            ("Q1 - What causes tides?", "What causes tides?"),
            ("Question 3. What causes tides?", "What causes tides?"),
            ("Question: What causes tides?", "What causes tides?"),
            ("**What causes tides?**", "What causes tides?"),
            ("**Q2:** What causes tides?", "What causes tides?"),
            ("A: The Moon's pull.", "The Moon's pull."),
            ("**Answer:** The **Moon's** pull.", "The Moon's pull."),
            (
                "Sentence: The Moon pulls the sea.",
                "The Moon pulls the sea.",
            ),
            ("*What causes tides?*", "What causes tides?"),
            ("- What causes tides?", "What causes tides?"),
            (
                "1. **Fact:** The Moon pulls the sea.",
                "The Moon pulls the sea.",
            ),
        ] {
            assert_eq!(clean(raw), want, "{raw}");
        }
    }

    #[test]
    fn preambles_and_closing_remarks_go() {
        assert_eq!(
            clean("Certainly! Here is the answer:\n\nThe Moon's pull.\n\nI hope this helps!"),
            "The Moon's pull."
        );
        assert_eq!(clean("Sure! The Moon's pull."), "The Moon's pull.");
        assert_eq!(clean("Here's the answer: the Moon."), "the Moon.");
        assert_eq!(
            clean("The Moon's pull.\nLet me know if you have any other questions."),
            "The Moon's pull."
        );
    }

    #[test]
    fn content_that_looks_like_a_habit_is_kept() {
        for text in [
            "1865 was the year the war ended.",
            "A large share of the tide comes from the Moon.",
            "Answer the call, the sailors said.",
            "Sure-footed goats live on the cliffs.",
            "The sea rises twice a day.\n\nIt falls twice as well.",
            "1. The Moon pulls.\n2. The Sun pulls less.",
            "- The Moon pulls.\n- The Sun pulls less.",
        ] {
            assert_eq!(clean(text), text);
        }
        assert_eq!(clean("I hope this helps!"), "I hope this helps!");
        assert_eq!(clean("I'm ready to help. What's your next question?"), "");
        assert_eq!(
            clean("\"Where is the strongest current?\""),
            "Where is the strongest current?"
        );
        assert_eq!(clean("**"), "");
        assert_eq!(clean("*"), "");
        assert_eq!(clean("1) -"), "");
    }

    #[test]
    fn verdicts_in_their_usual_phrasings() {
        for (raw, want) in [
            ("**YES**", "YES"),
            ("yes", "YES"),
            ("Yes, the response is supported by the document.", "YES"),
            ("No - the document does not say this.", "NO"),
            ("Verdict: **No**", "NO"),
            ("Final answer: yes.", "YES"),
            ("The answer is faithful: YES", "YES"),
            ("[NO]", "NO"),
        ] {
            assert_eq!(verdict(raw), want, "{raw}");
        }
        assert_eq!(verdict("Yes and no"), "YES AND NO");
        assert_eq!(verdict("maybe"), "MAYBE");
    }
}
