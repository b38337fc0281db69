//! Failures: every injected fault recovers to the fault-free output, refused keys stop the
//! run, lost requests are rejected with the reason, and the key never leaks.

use super::*;

fn faulty(faults: Faults) -> Config {
    Config {
        faults,
        retry_after_secs: 0,
        hang_secs: 2,
        ..Config::default()
    }
}

#[test]
fn every_fault_kind_recovers_to_the_fault_free_output() {
    let input = records(0, 12);
    let args = ["-n", "2", "--timeout", "0.3", "--concurrency", "12"];
    let clean = clean_run(&args, &input);
    assert_eq!(lines(&clean).len(), 24);
    let kinds: [(&str, Faults); 8] = [
        (
            "429",
            Faults {
                rate_429: 0.5,
                ..Faults::default()
            },
        ),
        (
            "500",
            Faults {
                rate_500: 0.5,
                ..Faults::default()
            },
        ),
        (
            "503",
            Faults {
                rate_503: 0.5,
                ..Faults::default()
            },
        ),
        (
            "drop",
            Faults {
                rate_drop: 0.5,
                ..Faults::default()
            },
        ),
        (
            "hang",
            Faults {
                rate_hang: 0.3,
                ..Faults::default()
            },
        ),
        (
            "malformed",
            Faults {
                rate_malformed: 0.5,
                ..Faults::default()
            },
        ),
        (
            "empty",
            Faults {
                rate_empty: 0.5,
                ..Faults::default()
            },
        ),
        (
            "length",
            Faults {
                rate_length: 0.5,
                ..Faults::default()
            },
        ),
    ];
    // Whole replies (the default) and streamed ones fail in their own ways.
    for transport in ["--no-stream", "--stream"] {
        for (name, faults) in kinds.clone() {
            let server = mock(faulty(faults));
            let dir = tmp();
            let out = run(
                llm(dir.path(), &server.base_url())
                    .args(args)
                    .arg(transport)
                    .args(FAST),
                &input,
            );
            assert!(
                out.status.success(),
                "{name} {transport}: {}",
                text(&out.stderr)
            );
            assert_eq!(
                text(&out.stdout),
                text(&clean.stdout),
                "{name} {transport}: output differs from the fault-free run"
            );
            assert!(
                server.stats()["faults"][name].as_u64().unwrap_or(0) > 0,
                "{name} {transport}: no fault was served"
            );
        }
    }
}

#[test]
fn n_is_topped_up_when_the_server_ignores_it() {
    let server = mock(Config {
        ignore_n: true,
        ..Config::default()
    });
    let dir = tmp();
    let out = run(
        llm(dir.path(), &server.base_url()).args(["-n", "4", "--seed", "7"]),
        records(0, 5),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = lines(&out);
    assert_eq!(lines.len(), 20);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            (line["id"].as_u64(), line["response_index"].as_u64()),
            (Some(i as u64 / 4), Some(i as u64 % 4))
        );
    }
    let replies: std::collections::HashSet<&str> = lines
        .iter()
        .map(|l| l["response"].as_str().expect("text"))
        .collect();
    assert_eq!(
        replies.len(),
        20,
        "top-ups carry distinct seeds, so replies differ"
    );
    assert_eq!(stat(&server, "requests"), 20);
}

#[test]
fn a_refused_key_stops_the_run_at_once() {
    let server = mock(Config {
        require_key: Some("right-key".into()),
        latency_base_ms: 20.0,
        ..Config::default()
    });
    let dir = tmp();
    let out = run(
        llm(dir.path(), &server.base_url()).args(["--api-key", "wrong-key-123"]),
        records(0, 100),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "llm-call: the teacher refused the API key (HTTP 401): check TEACHER_MODEL_API_KEY"
        ),
        "{err}"
    );
    assert!(!err.contains("wrong-key-123"));
    assert!(out.stdout.is_empty());
    assert!(
        stat(&server, "requests") <= 16,
        "requests kept coming after the refusal"
    );
    let ok = run(
        llm(dir.path(), &server.base_url()).args(["--api-key", "right-key"]),
        records(0, 3),
    );
    assert!(ok.status.success());
}

#[test]
fn client_errors_reject_the_record_without_retrying() {
    let server = mock(Config::default());
    let dir = tmp();
    let base = format!("{}/nowhere", server.base_url());
    let out = run(
        llm(dir.path(), &base).args(["--rejects", "rej.jsonl"]),
        records(0, 3),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "teacher failures fail the run even with a rejects file"
    );
    assert!(text(&out.stderr).contains("<stdin>:1: teacher refused the request: HTTP 404"));
    let rejects = std::fs::read_to_string(dir.path().join("rej.jsonl")).expect("rejects");
    assert_eq!(rejects.lines().count(), 3);
    let first: Value = serde_json::from_str(rejects.lines().next().expect("line")).expect("json");
    assert!(
        first["messages"].is_array(),
        "the rejected record is the original"
    );
}

#[test]
fn a_request_failing_every_attempt_is_rejected_with_the_reason() {
    let failing = scripted(|_| (503, "{\"error\":\"busy\"}".into()));
    let dir = tmp();
    let out = run(
        llm(dir.path(), &failing.base_url)
            .args(["--max-attempts", "3", "--rejects", "rej.jsonl"])
            .args(FAST),
        records(0, 2),
    );
    assert_eq!(out.status.code(), Some(1));
    let rejects = std::fs::read_to_string(dir.path().join("rej.jsonl")).expect("rejects");
    let first: Value = serde_json::from_str(rejects.lines().next().expect("line")).expect("json");
    assert_eq!(
        first["_reject"]["reason"],
        "teacher request failed after 3 attempts: HTTP 503"
    );
    assert_eq!(
        failing.requests.load(std::sync::atomic::Ordering::Relaxed),
        6
    );
}

#[test]
fn replies_cut_at_max_tokens_are_retried_then_rejected_unless_allowed() {
    let cut = scripted(|_| (200, completion(json!({"content": "half a rep"}), "length")));
    let dir = tmp();
    let out = run(
        llm(dir.path(), &cut.base_url)
            .args(["--max-attempts", "2", "--rejects", "rej.jsonl"])
            .args(FAST),
        records(0, 1),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a cut reply is a data reject, kept in the rejects file"
    );
    let rejects = std::fs::read_to_string(dir.path().join("rej.jsonl")).expect("rejects");
    assert!(rejects.contains("teacher request failed after 2 attempts: reply cut at max tokens"));
    let out = run(
        llm(dir.path(), &cut.base_url).arg("--allow-truncated"),
        records(0, 1),
    );
    assert!(out.status.success());
    assert_eq!(lines(&out)[0]["response_finish_reason"], "length");
}

#[test]
fn reasoning_traces_are_split_off_in_every_form() {
    let cases = [
        (
            json!({"content": "<think>plan</think>\n\nThe answer."}),
            "The answer.",
            Some("plan"),
        ),
        (
            json!({"content": "The answer.", "reasoning_content": "plan"}),
            "The answer.",
            Some("plan"),
        ),
        (
            json!({"content": "The answer.", "reasoning": "plan"}),
            "The answer.",
            Some("plan"),
        ),
        (json!({"content": "The answer."}), "The answer.", None),
    ];
    for (message, content, reasoning) in cases {
        let body = completion(message, "stop");
        let server = scripted(move |_| (200, body.clone()));
        let dir = tmp();
        let out = run(
            llm(dir.path(), &server.base_url).args(["--to", "answer"]),
            records(0, 1),
        );
        assert!(out.status.success());
        let line = &lines(&out)[0];
        assert_eq!(line["answer"], content);
        assert_eq!(
            line.get("answer_reasoning").and_then(Value::as_str),
            reasoning
        );
    }
}

#[test]
fn the_key_never_leaks_even_when_the_server_echoes_it() {
    let key = "sk-very-secret-0123456789";
    let echo = scripted(|request| {
        let status = if request.contains("item 0") { 400 } else { 500 };
        (status, json!({"error": {"message": request}}).to_string())
    });
    let dir = tmp();
    let out = run(
        llm(dir.path(), &echo.base_url)
            .args([
                "--api-key",
                key,
                "--max-attempts",
                "2",
                "--rejects",
                "rej.jsonl",
                "--stats",
                "s.json",
            ])
            .args(FAST),
        records(0, 2),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("HTTP 400: {\"error\":{\"message\":\"POST /v1/chat/completions")
    );
    assert!(
        text(&out.stderr).contains("[api key]"),
        "the echoed header shows where the key was"
    );
    let mut seen = out.stdout.clone();
    seen.extend_from_slice(&out.stderr);
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        seen.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    let leaked = seen.windows(key.len()).any(|w| w == key.as_bytes());
    assert!(
        !leaked,
        "the API key appears in the output, the logs or the cache"
    );
    let store = file_contains(&dir.path().join("ktpipe-cache.sqlite"), b"HTTP 500");
    assert!(store, "the call log holds the failures");
}

/// True when `needle` occurs in the file's bytes (the call log is plain text in SQLite).
fn file_contains(path: &std::path::Path, needle: &[u8]) -> bool {
    let bytes = std::fs::read(path).expect("cache file");
    bytes.windows(needle.len()).any(|w| w == needle)
}
