//! The pool of repeats behind `--repeats`: a sampling teacher asked again and again about
//! one document keeps coming back to the same few questions, worded a little differently
//! each time. Each document has a pool of canonical questions keyed on its title, since the
//! question prompt carries a different summary of the document on every request; a repeat
//! is one of them, reworded. Pure: a function of the prompt and the seeds.

use crate::content::{lowercase_first_letter, questions_about};
use crate::faults::mix;
use crate::words::longest_paragraph;
use fastrand::Rng;
use ktpipe_common::hash::hash_u64;

/// Canonical questions per document.
pub const POOL_SIZE: usize = 6;

/// Salt of the per-choice repeat draws, apart from the reply text and the habits.
const SALT: u64 = 0x0072_6570_6561_7473;

/// How ktpipe's prompts introduce the document's title, each on a line ending in `":`:
/// `titled "…":` in prompts/questions.yaml and `Fact from "…":` in prompts/qa_pairs.yaml.
const TITLE_OPENERS: [&str; 2] = ["titled \"", "Fact from \""];

/// Fillers a teacher slips into a question it asks again.
const FILLERS: [&str; 4] = ["exactly", "actually", "really", "in fact"];

/// The verbs of the question forms, before which a filler goes.
const VERBS: [&str; 4] = [" say ", " describe ", " mention ", " given "];

/// Names for the source that a reworded question swaps for one another.
const SOURCE_NAMES: [&str; 3] = ["document", "text", "passage"];

/// Endings a reworded question may take instead of its `?`.
const TAILS: [&str; 3] = [
    ", as the passage says?",
    " according to the text?",
    " in this document?",
];

/// The repeats of one choice: its document's pool and the draws that decide which
/// questions come from it.
pub struct Repeats {
    pool: Vec<String>,
    rate: f64,
    rng: Rng,
    count: u64,
}

impl Repeats {
    /// Repeats at `rate` for a prompt whose last user message is `source`; `seed` is the
    /// choice's own, so each choice repeats different questions.
    pub fn new(source: &str, rate: f64, seed: u64) -> Repeats {
        Repeats {
            pool: pool(source),
            rate,
            rng: Rng::with_seed(mix(seed ^ SALT)),
            count: 0,
        }
    }

    /// `fresh`, or with probability `rate` a question of the pool, reworded.
    pub fn next(&mut self, fresh: String) -> String {
        if self.rng.f64() >= self.rate {
            return fresh;
        }
        self.count += 1;
        let canonical = &self.pool[self.rng.usize(..self.pool.len())];
        reword(canonical, &mut self.rng)
    }

    /// Questions replaced by a repeat so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// The document's title as the prompt gives it, else its longest paragraph: the same text
/// for every request about one document.
pub fn pool_key(source: &str) -> &str {
    TITLE_OPENERS
        .iter()
        .flat_map(|opener| source.match_indices(opener).map(|(at, o)| at + o.len()))
        .filter_map(|start| {
            let line = source[start..].lines().next()?;
            line.trim_end()
                .strip_suffix("\":")
                .filter(|title| !title.trim().is_empty())
        })
        .next()
        .unwrap_or_else(|| longest_paragraph(source))
}

/// The document's canonical questions: distinct while its key has words enough for them.
pub fn pool(source: &str) -> Vec<String> {
    let key = pool_key(source);
    let drafts = questions_about(key, hash_u64(key.as_bytes()), POOL_SIZE * 8);
    let mut pool: Vec<String> = Vec::with_capacity(POOL_SIZE);
    for draft in &drafts {
        if pool.len() == POOL_SIZE {
            break;
        }
        if !pool.contains(draft) {
            pool.push(draft.clone());
        }
    }
    // A one-word title allows only a few distinct questions: repeat some of them.
    pool.extend(drafts.into_iter().take(POOL_SIZE - pool.len()));
    pool
}

/// `question` (one of the pool's, ending in `?`) worded a little differently, as a
/// sampling teacher repeats itself.
pub fn reword(question: &str, rng: &mut Rng) -> String {
    let bare = question.strip_suffix('?').unwrap_or(question);
    match rng.u8(..4) {
        0 => match rng.u8(..4) {
            0 => lowercase_first_letter(question),
            1 => format!("{bare} ?"),
            2 => format!("{bare}??"),
            _ => bare.to_string(),
        },
        1 => {
            let filler = FILLERS[rng.usize(..FILLERS.len())];
            match VERBS.iter().filter_map(|verb| question.find(verb)).min() {
                Some(at) => format!("{} {filler}{}", &question[..at], &question[at..]),
                None => format!("{filler}, {}", lowercase_first_letter(question)),
            }
        }
        2 => match swappable(question) {
            Some((at, name)) => {
                let others: Vec<&str> = SOURCE_NAMES.into_iter().filter(|n| *n != name).collect();
                let other = others[rng.usize(..others.len())];
                format!("{}{other}{}", &question[..at], &question[at + name.len()..])
            }
            None => with_tail(bare, rng),
        },
        _ => with_tail(bare, rng),
    }
}

fn with_tail(bare: &str, rng: &mut Rng) -> String {
    format!("{bare}{}", TAILS[rng.usize(..TAILS.len())])
}

/// Where the form's name for the source (its fourth word) is, and which name it is.
fn swappable(question: &str) -> Option<(usize, &'static str)> {
    let mut words = question.splitn(5, ' ');
    let before: Vec<&str> = words.by_ref().take(3).collect();
    let fourth = words.next()?;
    let name = SOURCE_NAMES.into_iter().find(|n| *n == fourth)?;
    Some((before.iter().map(|w| w.len() + 1).sum(), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question_prompt(title: &str, summary: &str) -> String {
        format!(
            "Here is a sample passage and three good questions about it.\n\nSample passage:\n\
             Bees dance to show where flowers are.\n\n[QUESTION]\nWhy do bees dance?\n[END]\n\n\
             Here is the document, titled \"{title}\":\n\n{summary}\n\n\
             Now write between 3 and 10 questions about this document."
        )
    }

    const SUMMARY_A: &str = "The Danube flows through ten countries and empties into the Black \
        Sea after about 2,850 kilometres, passing Vienna, Budapest and Belgrade.";
    const SUMMARY_B: &str = "Its delta is a protected wetland rich in birds, and the river rises \
        in the Black Forest of southern Germany before it turns east.";

    #[test]
    fn the_pool_follows_the_title_not_the_summary() {
        let a = question_prompt("The Danube River Through Central Europe", SUMMARY_A);
        let b = question_prompt("The Danube River Through Central Europe", SUMMARY_B);
        assert_eq!(pool_key(&a), "The Danube River Through Central Europe");
        assert_eq!(pool(&a), pool(&b));
        assert_eq!(pool(&a).len(), POOL_SIZE);
        let mut distinct = pool(&a);
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), POOL_SIZE, "{distinct:?}");
        for q in pool(&a) {
            assert!(q.ends_with('?') && !q.contains("Black"), "{q}");
        }
        let other = question_prompt("Rivers of the Iberian Peninsula", SUMMARY_A);
        assert_ne!(pool(&a), pool(&other));
        // The key-fact prompt names the title too.
        let fact = "Fact from \"The Danube River Through Central Europe\":\nIt has a delta.";
        assert_eq!(pool(fact), pool(&a));
    }

    #[test]
    fn without_a_title_the_longest_paragraph_is_the_key() {
        let source = format!("Write questions.\n\n{SUMMARY_A}");
        assert_eq!(pool_key(&source), SUMMARY_A);
        assert_eq!(pool_key(&question_prompt("", SUMMARY_B)), SUMMARY_B);
        // A quoted "titled" inside a sentence is no title line.
        let quoted = format!("A book titled \"Rivers\" is cited.\n\n{SUMMARY_A}");
        assert_eq!(pool_key(&quoted), SUMMARY_A);
        assert_eq!(pool("titled \"Danube\":").len(), POOL_SIZE);
    }

    #[test]
    fn rewordings_differ_but_keep_the_question() {
        let question = "What does the document say about the delta?";
        let mut rng = Rng::with_seed(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..400 {
            let r = reword(question, &mut rng);
            assert_ne!(r, question);
            assert!(r.contains("say") && r.contains("the delta"), "{r}");
            seen.insert(r);
        }
        for expected in [
            "what does the document say about the delta?",
            "What does the document say about the delta ?",
            "What does the document say about the delta??",
            "What does the document say about the delta",
            "What does the document exactly say about the delta?",
            "What does the document in fact say about the delta?",
            "What does the passage say about the delta?",
            "What does the text say about the delta?",
            "What does the document say about the delta, as the passage says?",
            "What does the document say about the delta according to the text?",
            "What does the document say about the delta in this document?",
        ] {
            assert!(seen.contains(expected), "never saw {expected}");
        }
        let swapped = (0..40)
            .map(|seed| reword("How does the text describe it?", &mut Rng::with_seed(seed)))
            .any(|r| r.starts_with("How does the passage describe it"));
        assert!(swapped);
        let which = reword(
            "Which details are given about the delta?",
            &mut Rng::with_seed(5),
        );
        assert!(which.contains("the delta"), "{which}");
    }

    #[test]
    fn repeats_come_at_their_rate_and_from_the_pool() {
        let source = question_prompt("The Danube River Through Central Europe", SUMMARY_A);
        let pool = pool(&source);
        let (mut drawn, mut repeated) = (0, 0);
        for seed in 0..400 {
            let mut repeats = Repeats::new(&source, 0.3, seed);
            let q = repeats.next("fresh?".to_string());
            drawn += 1;
            if repeats.count() == 1 {
                repeated += 1;
                // The topic (at least the last two words) survives every rewording.
                let topic = |p: &String| {
                    let words: Vec<&str> = p.trim_end_matches('?').split(' ').collect();
                    words[words.len() - 2..].join(" ")
                };
                assert!(pool.iter().any(|p| q.contains(&topic(p))), "{q}");
            } else {
                assert_eq!(q, "fresh?");
            }
        }
        assert!((80..=160).contains(&repeated), "{repeated} of {drawn}");
        let mut never = Repeats::new(&source, 0.0, 3);
        assert_eq!(never.next("q?".into()), "q?");
        assert_eq!(never.count(), 0);
    }
}
