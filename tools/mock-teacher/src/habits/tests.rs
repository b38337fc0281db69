//! Tests of the mock's habits: every wrapped reply still yields its clean values.

use super::*;
use crate::content::build;

/// A prompt too short to give words of its own: replies use the filler text.
const SOURCE: &str = "Answer the question.";

/// The values of a clean reply: its questions, answers, facts, explanation or text.
fn values(kind: Kind, clean: &str) -> Vec<String> {
    let inner = |open: &str, close: &str| -> Vec<String> {
        clean
            .split(open)
            .skip(1)
            .filter_map(|rest| rest.split_once(close).map(|(v, _)| v.to_string()))
            .collect()
    };
    match kind {
        Kind::Questions | Kind::QaPairs => {
            let mut v = inner("[QUESTION]\n", "\n[END]");
            v.extend(inner("[ANSWER]\n", "\n[END]"));
            v
        }
        Kind::Faithfulness => inner("[Start of Explanation]\n", "\n[End of Explanation]"),
        Kind::KeyFacts => clean
            .lines()
            .filter_map(|l| l.split_once(". ").map(|(_, fact)| fact.to_string()))
            .collect(),
        _ => vec![clean.to_string()],
    }
}

/// A careful parser's reading of a verdict: the answer block, else the last line,
/// without bold, labels or case.
fn read_verdict(reply: &str) -> Option<bool> {
    let answer = match reply.split_once("[Start of Answer]\n") {
        Some((_, rest)) => rest.split_once("\n[End of Answer]")?.0,
        None => reply.lines().last()?,
    };
    let plain = answer.replace("**", "").to_lowercase();
    let plain = plain.trim_start_matches("verdict:").trim_start();
    if plain.starts_with("yes") {
        Some(true)
    } else if plain.starts_with("no") {
        Some(false)
    } else {
        None
    }
}

#[test]
fn every_value_is_still_there_the_same_every_time() {
    for kind in Kind::ALL {
        for seed in 0..300 {
            let clean = build(kind, SOURCE, seed);
            let wrapped = wrap(kind, &clean.content, clean.yes, seed);
            assert_eq!(wrapped, wrap(kind, &clean.content, clean.yes, seed));
            let plain = wrapped.replace("**", "");
            for value in values(kind, &clean.content) {
                assert!(
                    plain.contains(&value),
                    "{kind:?} lost {value:?}:\n{wrapped}"
                );
            }
            if kind == Kind::Faithfulness {
                assert_eq!(read_verdict(&wrapped), Some(clean.yes), "{wrapped}");
            } else {
                assert_ne!(wrapped, clean.content, "{kind:?} seed {seed}");
            }
            if matches!(kind, Kind::Questions | Kind::QaPairs) {
                let tags = wrapped.to_lowercase().matches("[question]").count() as u64;
                assert_eq!(tags, clean.items, "{wrapped}");
            }
        }
    }
}

#[test]
fn every_listed_habit_shows_up() {
    let labels = [
        "1) ",
        "Q2 - ",
        "Question 3. ",
        "Q: ",
        "2. ",
        "[question]\n",
        "**What",
    ];
    let verdicts = [
        "\n**YES**\n",
        "\n**Yes**\n",
        "\n**NO**\n",
        "\nno\n",
        "\nYes, the response is supported by the document.\n",
        "\nNo - the document does not say this.\n",
        "\n\nVerdict: **Yes**",
        "\n\nVerdict: **No**",
        "[End of Explanation]\n\nYES",
        "[End of Explanation]\n\nNO",
        "\nExplanation: The",
        "\n**Explanation:** The",
        "\n**The",
    ];
    let cases = [
        (
            Kind::Questions,
            [&QUESTION_PREAMBLES[..], &QUESTION_CLOSINGS, &labels].concat(),
        ),
        (
            Kind::QaPairs,
            [&PAIR_ANSWER_LABELS[..], &["[answer]"]].concat(),
        ),
        (
            Kind::Answer,
            [&ANSWER_PREAMBLES[..], &ANSWER_LABELS, &ANSWER_CLOSINGS].concat(),
        ),
        (Kind::KeyFacts, [&FACT_PREAMBLES[..], &["1. **"]].concat()),
        (
            Kind::DetailedSummary,
            [&SUMMARY_PREAMBLES[..], &SUMMARY_CLOSINGS].concat(),
        ),
        (Kind::Faithfulness, verdicts.to_vec()),
    ];
    for (kind, needles) in cases {
        let replies: Vec<(u64, String)> = (0..400)
            .map(|seed| {
                let clean = build(kind, SOURCE, seed);
                (clean.items, wrap(kind, &clean.content, clean.yes, seed))
            })
            .collect();
        for needle in needles {
            let shown = replies.iter().any(|(_, r)| r.contains(needle));
            assert!(shown, "{kind:?} never shows {needle:?}");
        }
        // The unclosed last block: one [END] fewer than questions.
        let unclosed = |(items, r): &(u64, String)| {
            r.to_lowercase().matches("[end]").count() as u64 + 1 == *items
        };
        assert!(kind != Kind::Questions || replies.iter().any(unclosed));
    }
}

#[test]
fn the_share_follows_the_rate() {
    for rate in [0.1, 0.5, 0.9] {
        let hits = (0..1000).filter(|key| chosen(rate, 7, *key)).count();
        let expected = rate * 1000.0;
        assert!((hits as f64 - expected).abs() < 60.0, "{hits} at {rate}");
    }
    assert!(!(0..1000).any(|key| chosen(0.0, 7, key)));
    assert!((0..1000).all(|key| chosen(1.0, 7, key)));
}

#[test]
fn bold_keeps_punctuation_outside() {
    let mut rng = Rng::with_seed(3);
    for _ in 0..50 {
        let bold = bold_span("It rises in the Black Forest.", &mut rng);
        assert_eq!(bold.matches("**").count(), 2, "{bold}");
        assert!(!bold.contains(".**"), "{bold}");
        assert_eq!(bold.replace("**", ""), "It rises in the Black Forest.");
    }
    assert_eq!(bold_span("Yes", &mut rng), "**Yes**");
}
