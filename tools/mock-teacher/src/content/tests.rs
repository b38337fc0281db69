//! Tests of the mock's reply text: deterministic, format-correct, built from the prompt's words.

use super::*;

const SOURCE: &str = "Write an extractive summary using [QUESTION] tags and ### Key Facts With Context.\n\n\
The Danube flows through ten countries, more than any other river in the world. It rises in the \
Black Forest and empties into the Black Sea after about 2,850 kilometres. Vienna, Bratislava, \
Budapest and Belgrade all stand on its banks, and its delta is a protected wetland rich in birds.";

const MARKERS: [&str; 10] = [
    "[Start of Explanation]",
    "[End of Explanation]",
    "[Start of Answer]",
    "[End of Answer]",
    "### Key Facts With Context",
    "[ANSWER]",
    "[QUESTION]",
    "[END]",
    "extractive summary",
    "detailed summary",
];

fn allowed(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Faithfulness => &MARKERS[..4],
        Kind::KeyFacts => &MARKERS[4..5],
        Kind::QaPairs => &MARKERS[5..8],
        Kind::Questions => &MARKERS[6..8],
        _ => &[],
    }
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

#[test]
fn replies_carry_only_their_own_markers() {
    for kind in Kind::ALL {
        for seed in 0..200 {
            let text = build(kind, SOURCE, seed).content.to_lowercase();
            for marker in MARKERS {
                let present = text.contains(&marker.to_lowercase());
                assert!(
                    !present || allowed(kind).contains(&marker),
                    "{kind:?} seed {seed} has {marker}: {text}"
                );
            }
            assert!(!text.contains("summar"), "{kind:?}: {text}");
        }
    }
}

#[test]
fn prose_kinds_stay_within_their_word_ranges() {
    for seed in 0..300 {
        let n = words(&build(Kind::Answer, SOURCE, seed).content);
        assert!((30..=120).contains(&n), "answer {n}");
        let n = words(&build(Kind::DetailedSummary, SOURCE, seed).content);
        assert!((60..=200).contains(&n), "detailed {n}");
        let n = words(&build(Kind::ExtractiveSummary, SOURCE, seed).content);
        assert!((40..=150).contains(&n), "extractive {n}");
    }
}

#[test]
fn listed_kinds_match_their_item_counts() {
    for seed in 0..200 {
        let q = build(Kind::Questions, SOURCE, seed);
        assert!((1..=4).contains(&q.items));
        assert_eq!(q.content.matches("[QUESTION]\n").count() as u64, q.items);
        assert_eq!(q.content.matches("?\n[END]").count() as u64, q.items);

        let qa = build(Kind::QaPairs, SOURCE, seed);
        assert_eq!(qa.items, 5);
        assert_eq!(qa.content.matches("[QUESTION]\n").count(), 5);
        assert_eq!(qa.content.matches("[ANSWER]\n").count(), 5);
        assert_eq!(qa.content.matches("\n[END]").count(), 10);

        let kf = build(Kind::KeyFacts, SOURCE, seed);
        assert!((2..=5).contains(&kf.items));
        let (facts, context) = kf
            .content
            .split_once("\n\n### Key Facts With Context\n")
            .unwrap();
        for part in [facts, context] {
            let lines: Vec<&str> = part.lines().collect();
            assert_eq!(lines.len() as u64, kf.items);
            for (i, line) in lines.iter().enumerate() {
                assert!(line.starts_with(&format!("{}. ", i + 1)), "{line}");
            }
        }
    }
}

#[test]
fn verdicts_are_mostly_yes_in_varied_spellings() {
    let mut no = 0;
    for seed in 0..600 {
        let f = build(Kind::Faithfulness, SOURCE, seed);
        let (_, answer) = f.content.split_once("[Start of Answer]\n").unwrap();
        let verdict = answer.strip_suffix("\n[End of Answer]").unwrap();
        let expected: &[&str] = if f.yes {
            &["YES", "Yes.", "yes"]
        } else {
            &["NO", "No."]
        };
        assert!(expected.contains(&verdict), "{verdict}");
        assert!(f.content.starts_with("[Start of Explanation]\n"));
        assert!(
            f.content
                .contains("\n[End of Explanation]\n[Start of Answer]\n")
        );
        no += usize::from(!f.yes);
    }
    assert!((60..=140).contains(&no), "{no} of 600 unfaithful");
}

#[test]
fn replies_are_deterministic_and_follow_the_document() {
    assert_eq!(
        build(Kind::Answer, SOURCE, 9),
        build(Kind::Answer, SOURCE, 9)
    );
    assert_ne!(
        build(Kind::Answer, SOURCE, 9),
        build(Kind::Answer, SOURCE, 10)
    );
    assert!(
        build(Kind::Answer, SOURCE, 9).content.contains("Danube")
            || build(Kind::Answer, SOURCE, 9).content.contains("Black")
    );
    let short = build(Kind::Answer, "hi", 1).content;
    assert!(words(&short) >= 30, "{short}");
}
