//! Output records: the input record without its messages, one copy per choice, with the
//! reply, its index, its reasoning and its finish reason in the fields llm-call owns.
//! Existing fields keep their place; new ones go at the end. Pure; no I/O.

use ktpipe_common::raw::RawRecord;
use serde_json::Value;

use crate::teacher::reply::Choice;

/// The fields llm-call reads and writes.
#[derive(Debug, Clone)]
pub struct Fields {
    /// Where the messages are read from.
    pub messages: String,
    /// Keep the messages in the output.
    pub keep_messages: bool,
    /// The reply.
    pub to: String,
    /// The choice index, unless left out (`--no-index`).
    pub index: Option<String>,
    /// The reasoning trace.
    pub reasoning: String,
    /// The finish reason, when not `stop`.
    pub finish_reason: String,
}

impl Fields {
    /// The field names for reply field `to`.
    pub fn new(messages: &str, keep_messages: bool, to: &str, reasoning: &str) -> Self {
        Fields {
            messages: messages.to_string(),
            keep_messages,
            to: to.to_string(),
            index: Some(format!("{to}_index")),
            reasoning: reasoning.to_string(),
            finish_reason: format!("{to}_finish_reason"),
        }
    }

    /// The same fields without the choice index, for stages that ask for one choice and
    /// would only add a column of zeros.
    pub fn without_index(mut self) -> Self {
        self.index = None;
        self
    }
}

/// One output record per choice, in the order given. A reasoning or finish-reason field
/// left over from an earlier stage writing the same field is removed when this choice has
/// none, so it cannot be mistaken for this reply's.
pub fn build(
    mut record: RawRecord,
    choices: Vec<(u32, Choice)>,
    fields: &Fields,
) -> Vec<RawRecord> {
    if !fields.keep_messages {
        record.remove(&fields.messages);
    }
    let mut out = Vec::with_capacity(choices.len());
    for (idx, choice) in choices {
        // Cheap: the copies share the text they were read from.
        let mut rec = record.clone();
        rec.insert(&fields.to, Value::String(choice.content));
        if let Some(index) = &fields.index {
            rec.insert(index, Value::from(idx));
        }
        match choice.reasoning {
            Some(trace) => rec.insert(&fields.reasoning, Value::String(trace)),
            None => rec.remove(&fields.reasoning),
        }
        match choice.finish_reason.filter(|r| r != "stop") {
            Some(reason) => rec.insert(&fields.finish_reason, Value::String(reason)),
            None => rec.remove(&fields.finish_reason),
        }
        out.push(rec);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> RawRecord {
        RawRecord::parse(value.to_string().as_bytes()).expect("an object")
    }

    fn lines(records: &[RawRecord]) -> String {
        let mut out = Vec::new();
        for record in records {
            record.write_line(&mut out);
        }
        String::from_utf8(out).expect("utf-8")
    }

    fn choice(content: &str, reasoning: Option<&str>, finish: Option<&str>) -> Choice {
        Choice {
            content: content.into(),
            reasoning: reasoning.map(str::to_string),
            finish_reason: finish.map(str::to_string),
        }
    }

    #[test]
    fn one_record_per_choice_without_messages() {
        let fields = Fields::new("messages", false, "response", "response_reasoning");
        let input = record(json!({"a": 1, "messages": [], "response": "old", "z": 2}));
        let out = build(
            input,
            vec![
                (0, choice("x", None, Some("stop"))),
                (1, choice("y", Some("r"), Some("length"))),
            ],
            &fields,
        );
        assert_eq!(
            lines(&out),
            concat!(
                r#"{"a":1,"response":"x","z":2,"response_index":0}"#,
                "\n",
                r#"{"a":1,"response":"y","z":2,"response_index":1,"response_reasoning":"r","response_finish_reason":"length"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn without_index_adds_no_index_field() {
        let fields = Fields::new("messages", false, "response", "r").without_index();
        let input = record(json!({"messages": [], "a": 1}));
        let out = build(input, vec![(0, choice("x", None, None))], &fields);
        assert_eq!(lines(&out), "{\"a\":1,\"response\":\"x\"}\n");
    }

    #[test]
    fn kept_messages_stay_and_stale_fields_go() {
        let fields = Fields::new("msgs", true, "answer", "why");
        let input = record(json!({"msgs": [1], "why": "stale", "answer_finish_reason": "length"}));
        let out = build(input, vec![(3, choice("x", None, None))], &fields);
        assert_eq!(
            lines(&out),
            "{\"msgs\":[1],\"answer\":\"x\",\"answer_index\":3}\n"
        );
    }
}
