//! One reply choice: its text for the prompt kind, the quirks of real teachers it may carry
//! (`--habits`, `--repeats`), the off-format stand-in, and the cut to `max_tokens`. Pure:
//! a function of the request, the text index and the quirks.

use crate::chat::{ChatRequest, tokens};
use crate::content::{self, Text};
use crate::faults::mix;
use crate::habits;
use crate::kind::Kind;
use crate::repeats::Repeats;

/// One reply choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The assistant message content.
    pub content: String,
    /// `"stop"` or `"length"`.
    pub finish_reason: &'static str,
    /// Items counted in `/stats`.
    pub items: u64,
    /// True when this choice ignores the requested format (`--off-format`).
    pub off_format: bool,
    /// Faithful verdict.
    pub yes: bool,
    /// True when this choice is wrapped in a real teacher's habits (`--habits`).
    pub habits: bool,
    /// Questions of this choice taken from the document's pool of repeats (`--repeats`).
    pub repeats: u64,
}

/// How one choice strays from the clean reply, as real teachers do; the default strays
/// not at all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quirks {
    /// The server's seed, mixed into the quirks' own draws.
    pub seed: u64,
    /// Wrap the reply in a real teacher's habits.
    pub habits: bool,
    /// Share of questions taken from the document's pool of repeats.
    pub repeats: f64,
}

/// The clean choice with text index `index`, cut to `max_tokens` like a real server would.
pub fn choice(req: &ChatRequest, index: u64) -> Choice {
    with_quirks(req, index, Quirks::default())
}

/// The choice with text index `index` showing `quirks`, cut to `max_tokens`; a repeated
/// question takes the place of a fresh one, and every other word is as [`choice`] has it.
pub fn with_quirks(req: &ChatRequest, index: u64, quirks: Quirks) -> Choice {
    let seed = text_seed(req, index);
    let repeats = (quirks.repeats > 0.0 && matches!(req.kind, Kind::Questions | Kind::QaPairs))
        .then(|| Repeats::new(&req.last_user, quirks.repeats, quirks.seed ^ seed));
    let text = content::build_with(req.kind, &req.last_user, seed, repeats);
    let mut choice = finish(req.kind, text, quirks, seed);
    if let Some(max) = req.max_tokens
        && tokens(&choice.content) > max
    {
        let keep = usize::try_from(max.saturating_mul(4)).unwrap_or(usize::MAX);
        choice.content = choice.content.chars().take(keep).collect();
        choice.finish_reason = "length";
    }
    choice
}

/// The choice with text index `index` in plain prose that follows none of the formats the
/// prompt asked for: what a weak teacher often sends, in its habits when `quirks` has them.
pub fn off_format(req: &ChatRequest, index: u64, quirks: Quirks) -> Choice {
    let seed = text_seed(req, index);
    let text = content::build(Kind::Answer, &req.last_user, seed);
    Choice {
        items: 0,
        yes: false,
        off_format: true,
        ..finish(Kind::Answer, text, quirks, seed)
    }
}

/// Cuts a choice to half its characters with `finish_reason: "length"`.
pub fn halve(choice: &mut Choice) {
    let half = choice.content.chars().count() / 2;
    choice.content = choice.content.chars().take(half).collect();
    choice.finish_reason = "length";
}

/// The seed of text `index`'s words.
fn text_seed(req: &ChatRequest, index: u64) -> u64 {
    mix(req.content_key ^ mix(index))
}

/// The whole choice for `text` of `kind`, wrapped in habits when `quirks` asks.
fn finish(kind: Kind, text: Text, quirks: Quirks, seed: u64) -> Choice {
    let content = if quirks.habits {
        habits::wrap(kind, &text.content, text.yes, quirks.seed ^ seed)
    } else {
        text.content
    };
    Choice {
        content,
        finish_reason: "stop",
        items: text.items,
        off_format: false,
        yes: text.yes,
        habits: quirks.habits,
        repeats: text.repeats,
    }
}
