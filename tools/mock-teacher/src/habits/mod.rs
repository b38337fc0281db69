//! The habits of real instruction-tuned teachers behind `--habits`: chatty preambles and
//! closing remarks, numbers and labels, Markdown bold, lower-case or unclosed tags, and
//! verdicts restated in prose. Each wraps a clean reply so that a careful parser can still
//! recover every value in it (drop the chatter, the labels and the `**`), which is what
//! the pipeline's parsers are measured against. Pure: a function of the clean text and a
//! seed.

use crate::faults::{mix, unit};
use crate::kind::Kind;
use fastrand::Rng;

/// Salt of the habits' draws, apart from off-format, jitter, faults and the reply text.
const SALT: u64 = 0x6861_6269_7473;

/// Opening lines of a reply of questions or question/answer pairs.
pub const QUESTION_PREAMBLES: [&str; 2] = [
    "Sure! Here are some questions about the document:",
    "Certainly! Below are the questions you asked for.",
];
/// Closing remarks of a reply of questions or question/answer pairs.
pub const QUESTION_CLOSINGS: [&str; 2] = [
    "I hope these questions help!",
    "Let me know if you need more.",
];
/// Labels inside an [ANSWER] block.
pub const PAIR_ANSWER_LABELS: [&str; 3] = ["A: ", "Answer: ", "**Answer:** "];
/// Opening paragraphs of a free answer.
pub const ANSWER_PREAMBLES: [&str; 3] =
    ["Certainly! Here is the answer:", "Sure!", "Great question!"];
/// Labels at the start of a free answer.
pub const ANSWER_LABELS: [&str; 2] = ["Answer: ", "**Answer:** "];
/// Closing paragraphs of a free answer.
pub const ANSWER_CLOSINGS: [&str; 2] = [
    "I hope this helps!",
    "Let me know if you have any other questions.",
];
/// Opening lines of a key-facts reply.
pub const FACT_PREAMBLES: [&str; 2] = [
    "Here are the key facts from the document:",
    "Sure! Below are the key facts, numbered.",
];
/// Opening lines of a summary.
pub const SUMMARY_PREAMBLES: [&str; 2] = [
    "Here is the summary:",
    "Sure! Here is a summary of the document:",
];
/// Closing remarks of a summary.
pub const SUMMARY_CLOSINGS: [&str; 2] = [
    "I hope this summary is helpful!",
    "Let me know if you would like it shorter or longer.",
];

/// Whether the choice drawn from (`seed`, `key`) shows habits at `rate`: its own draw, so
/// habits and off-format replies come independently.
pub fn chosen(rate: f64, seed: u64, key: u64) -> bool {
    rate > 0.0 && unit(seed, key, SALT) < rate
}

/// The clean reply `clean` of `kind` (whose verdict is `yes` for a faithfulness reply) in
/// habits drawn from `seed`; a reply not in the shape the mock writes is left as it is.
pub fn wrap(kind: Kind, clean: &str, yes: bool, seed: u64) -> String {
    let mut rng = Rng::with_seed(mix(seed ^ SALT));
    let rng = &mut rng;
    let wrapped = match kind {
        Kind::Questions => tagged(clean, false, rng),
        Kind::QaPairs => tagged(clean, true, rng),
        Kind::Answer => Some(answer(clean, rng)),
        Kind::Faithfulness => verdict(clean, yes, rng),
        Kind::KeyFacts => key_facts(clean, rng),
        Kind::ExtractiveSummary | Kind::DetailedSummary => Some(summary(clean, rng)),
    };
    wrapped.unwrap_or_else(|| clean.to_string())
}

/// Which of `n` habits a reply shows: each with odds of one in three, at least one.
fn some(n: usize, rng: &mut Rng) -> Vec<bool> {
    loop {
        let on: Vec<bool> = (0..n).map(|_| rng.u8(..3) == 0).collect();
        if on.contains(&true) {
            return on;
        }
    }
}

fn pick<'s>(options: &[&'s str], rng: &mut Rng) -> &'s str {
    options[rng.usize(..options.len())]
}

/// One of `options` when the habit is `on`, else nothing.
fn pick_if<'s>(on: bool, options: &[&'s str], rng: &mut Rng) -> &'s str {
    if on { pick(options, rng) } else { "" }
}

/// `parts` as paragraphs, leaving out the empty ones (habits not drawn).
fn paragraphs(parts: &[&str]) -> String {
    let kept: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    kept.join("\n\n")
}

/// The label before question `n` in style `style`, if any: `1) `, `Q2 - `, `Question 3. `,
/// `Q: ` or `2. `.
fn question_label(style: Option<usize>, n: usize) -> String {
    match style {
        None => String::new(),
        Some(0) => format!("{n}) "),
        Some(1) => format!("Q{n} - "),
        Some(2) => format!("Question {n}. "),
        Some(3) => "Q: ".to_string(),
        Some(_) => format!("{n}. "),
    }
}

/// `text` with a phrase in bold when the habit is `on`.
fn stress_if(on: bool, text: &str, rng: &mut Rng) -> String {
    if on {
        bold_span(text, rng)
    } else {
        text.to_string()
    }
}

/// `text` with a run of two to four of its words in bold, as teachers stress a phrase;
/// punctuation after the run stays outside the bold.
fn bold_span(text: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = text.split(' ').map(str::to_string).collect();
    if words.len() < 2 {
        return format!("**{text}**");
    }
    let len = rng.usize(2..=4.min(words.len()));
    let start = rng.usize(..=words.len() - len);
    let last = &words[start + len - 1];
    let stem = last.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
    words[start + len - 1] = format!("{}**{}", &last[..stem], &last[stem..]);
    words[start].insert_str(0, "**");
    words.join(" ")
}

/// Questions in `[QUESTION]` blocks, with `[ANSWER]` blocks when `pairs`.
fn tagged(clean: &str, pairs: bool, rng: &mut Rng) -> Option<String> {
    let blocks: Vec<(&str, Option<&str>)> = clean
        .split("\n\n")
        .map(|block| {
            let (question, rest) = block.strip_prefix("[QUESTION]\n")?.split_once("\n[END]")?;
            let answer = match rest {
                "" => None,
                _ => Some(rest.strip_prefix("\n[ANSWER]\n")?.strip_suffix("\n[END]")?),
            };
            Some((question, answer))
        })
        .collect::<Option<_>>()?;
    let on = some(if pairs { 8 } else { 6 }, rng);
    let (preamble, closing, label, bold, lower, unclosed) =
        (on[0], on[1], on[2], on[3], on[4], on[5]);
    let answer_prefix = pick_if(on.get(6) == Some(&true), &PAIR_ANSWER_LABELS, rng);
    let answer_bold = on.get(7) == Some(&true);
    let style = label.then(|| rng.usize(..5));
    let stress = if bold { "**" } else { "" };
    let (open_q, open_a, end) = if lower {
        ("[question]", "[answer]", "[end]")
    } else {
        ("[QUESTION]", "[ANSWER]", "[END]")
    };
    let last = blocks.len() - 1;
    let mut out = vec![pick_if(preamble, &QUESTION_PREAMBLES, rng).to_string()];
    for (i, (question, answer)) in blocks.into_iter().enumerate() {
        let number = question_label(style, i + 1);
        let mut block = format!("{open_q}\n{number}{stress}{question}{stress}\n{end}");
        if let Some(answer) = answer {
            let answer = stress_if(answer_bold, answer, rng);
            block.push_str(&format!("\n{open_a}\n{answer_prefix}{answer}\n{end}"));
        }
        if unclosed && i == last {
            block.truncate(block.len() - end.len() - 1);
        }
        out.push(block);
    }
    out.push(pick_if(closing, &QUESTION_CLOSINGS, rng).to_string());
    out.retain(|part| !part.is_empty());
    Some(out.join("\n\n"))
}

/// A free answer: preamble, label, a bold phrase, closing remark.
fn answer(clean: &str, rng: &mut Rng) -> String {
    let on = some(4, rng);
    let preamble = pick_if(on[0], &ANSWER_PREAMBLES, rng);
    let label = pick_if(on[1], &ANSWER_LABELS, rng);
    let body = stress_if(on[2], clean, rng);
    let closing = pick_if(on[3], &ANSWER_CLOSINGS, rng);
    paragraphs(&[preamble, &format!("{label}{body}"), closing])
}

/// A verdict: always restated in one of four ways (bold, lower case, with a reason, or the
/// answer block dropped for a last line), the explanation sometimes bold or labelled.
fn verdict(clean: &str, yes: bool, rng: &mut Rng) -> Option<String> {
    let rest = clean.strip_prefix("[Start of Explanation]\n")?;
    let (explanation, _) = rest.split_once("\n[End of Explanation]\n")?;
    let explanation = match rng.u8(..4) {
        0 => format!("**{explanation}**"),
        1 => format!("Explanation: {explanation}"),
        2 => format!("**Explanation:** {explanation}"),
        _ => explanation.to_string(),
    };
    let head = format!("[Start of Explanation]\n{explanation}\n[End of Explanation]");
    let (word, upper) = if yes { ("Yes", "YES") } else { ("No", "NO") };
    let answer = match rng.u8(..4) {
        0 => format!("**{}**", pick(&[word, upper], rng)),
        1 => word.to_lowercase(),
        2 if yes => "Yes, the response is supported by the document.".to_string(),
        2 => "No - the document does not say this.".to_string(),
        _ => {
            let last = [format!("Verdict: **{word}**"), upper.to_string()];
            return Some(format!("{head}\n\n{}", last[rng.usize(..2)]));
        }
    };
    Some(format!(
        "{head}\n[Start of Answer]\n{answer}\n[End of Answer]"
    ))
}

/// Key facts: a preamble line, the facts in bold in both numbered lists.
fn key_facts(clean: &str, rng: &mut Rng) -> Option<String> {
    const CONTEXT: &str = "\n\n### Key Facts With Context\n";
    let (list, context) = clean.split_once(CONTEXT)?;
    let on = some(2, rng);
    let preamble = pick_if(on[0], &FACT_PREAMBLES, rng);
    if !on[1] {
        return Some(paragraphs(&[preamble, clean]));
    }
    let (mut facts, mut contexts) = (Vec::new(), Vec::new());
    for (line, with_context) in list.lines().zip(context.lines()) {
        let (number, fact) = line.split_once(". ")?;
        let after = with_context.strip_prefix(line)?;
        facts.push(format!("{number}. **{fact}**"));
        contexts.push(format!("{number}. **{fact}**{after}"));
    }
    let bolded = format!("{}{CONTEXT}{}", facts.join("\n"), contexts.join("\n"));
    Some(paragraphs(&[preamble, &bolded]))
}

/// A summary: a preamble line and a closing remark.
fn summary(clean: &str, rng: &mut Rng) -> String {
    let on = some(2, rng);
    let preamble = pick_if(on[0], &SUMMARY_PREAMBLES, rng);
    let closing = pick_if(on[1], &SUMMARY_CLOSINGS, rng);
    paragraphs(&[preamble, clean, closing])
}

#[cfg(test)]
mod tests;
