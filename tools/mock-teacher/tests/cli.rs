//! The mock teacher over real HTTP: the library server in-process, and the binary.

#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is a failed case

use mock_teacher::{Config, Faults, MockServer};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOC: &str = "The Danube flows through ten countries, more than any other river in the world. \
It rises in the Black Forest and empties into the Black Sea after about 2,850 kilometres. Vienna, \
Budapest and Belgrade stand on its banks, and its delta is a protected wetland rich in birds.";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn request(prompt: &str) -> Value {
    json!({
        "model": "teacher",
        "messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": format!("{prompt}\n\n{DOC}")}],
        "temperature": 0.7,
        "max_tokens": 4096,
    })
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

async fn post(server: &MockServer, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", server.base_url()))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap()
}

async fn completion(server: &MockServer, body: &Value) -> Value {
    let response = post(server, body).await;
    assert_eq!(response.status(), 200);
    json_of(response).await
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

async fn get(url: String) -> Value {
    json_of(client().get(url).send().await.unwrap()).await
}

fn contents(reply: &Value) -> Vec<String> {
    reply["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["message"]["content"].as_str().unwrap().to_string())
        .collect()
}

fn root(server: &MockServer) -> String {
    server.base_url().trim_end_matches("/v1").to_string()
}

fn faulty(faults: Faults) -> MockServer {
    MockServer::start(Config {
        faults,
        max_faults_per_request: 1,
        hang_secs: 30,
        retry_after_secs: 2,
        ..Config::default()
    })
    .unwrap()
}

#[tokio::test]
async fn models_lists_the_configured_name() {
    let server = MockServer::start(Config {
        model: "big-teacher".into(),
        ..Config::default()
    })
    .unwrap();
    assert!(
        server.base_url().starts_with("http://127.0.0.1:") && server.base_url().ends_with("/v1")
    );
    let models: Value = get(format!("{}/models", server.base_url())).await;
    assert_eq!(
        models,
        json!({"object": "list", "data": [{"id": "big-teacher", "object": "model"}]})
    );
}

#[tokio::test]
async fn replies_are_deterministic_across_servers_and_differ_per_choice() {
    let body = with(
        request("Write questions inside [QUESTION] and [END] tags."),
        "n",
        json!(3),
    );
    let first = MockServer::start(Config::default()).unwrap();
    let a = post(&first, &body).await.bytes().await.unwrap();
    let b = post(&first, &body).await.bytes().await.unwrap();
    let again = MockServer::start(Config {
        seed: 99,
        ..Config::default()
    })
    .unwrap();
    let c = post(&again, &body).await.bytes().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    let reply: Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["created"], 0);
    assert_eq!(reply["model"], "teacher");
    let texts = contents(&reply);
    assert_eq!(texts.len(), 3);
    assert!(texts[0] != texts[1] && texts[1] != texts[2], "{texts:?}");
    assert!(
        texts
            .iter()
            .all(|t| t.contains("[QUESTION]") && !t.contains("[ANSWER]"))
    );
    // n and the model name do not change the text of a choice; the temperature does.
    let single = completion(
        &first,
        &with(with(body.clone(), "n", json!(1)), "model", json!("other")),
    )
    .await;
    assert_eq!(contents(&single)[0], texts[0]);
    let hotter = completion(&first, &with(body.clone(), "temperature", json!(1.0))).await;
    assert_ne!(contents(&hotter)[0], texts[0]);
    let stats = first.stats();
    assert_eq!(stats["requests"], 4);
    assert_eq!(stats["repeated_ok"], 1);
    assert_eq!(stats["choices"], 10);
}

#[tokio::test]
async fn ignore_n_answers_one_choice_and_varies_on_repeats() {
    let server = MockServer::start(Config {
        ignore_n: true,
        ..Config::default()
    })
    .unwrap();
    let body = with(request("Answer the question."), "n", json!(4));
    let first = completion(&server, &body).await;
    assert_eq!(first["choices"].as_array().unwrap().len(), 1);
    assert_eq!(first["choices"][0]["index"], 0);
    let second = completion(&server, &with(body.clone(), "n", json!(3))).await;
    assert_ne!(contents(&first), contents(&second));

    // A fault does not use up a text: the retry gets the one the fault was cut from.
    let flaky = MockServer::start(Config {
        ignore_n: true,
        faults: Faults {
            rate_length: 1.0,
            ..Faults::default()
        },
        max_faults_per_request: 1,
        ..Config::default()
    })
    .unwrap();
    let cut = completion(&flaky, &body).await;
    let retried = completion(&flaky, &body).await;
    assert_eq!(contents(&retried), contents(&first));
    assert!(contents(&first)[0].starts_with(&contents(&cut)[0]));
}

#[tokio::test]
async fn stats_count_kinds_items_and_reset() {
    let server = MockServer::start(Config::default()).unwrap();
    let prompts = [
        (
            "Judge it. Reply with [Start of Explanation] and [Start of Answer].",
            "faithfulness",
        ),
        ("List facts, then ### Key Facts With Context.", "key_facts"),
        (
            "Write five pairs with [QUESTION] and [ANSWER] tags.",
            "qa_pairs",
        ),
        ("Write questions in [QUESTION] tags.", "questions"),
        (
            "Write an Extractive Summary of the text.",
            "extractive_summary",
        ),
        ("Write a detailed summary of the text.", "detailed_summary"),
        ("What does the text say?", "answer"),
    ];
    for (prompt, _) in prompts {
        completion(&server, &with(request(prompt), "n", json!(2))).await;
    }
    let stats: Value = get(format!("{}/stats", root(&server))).await;
    assert_eq!(stats["requests"], 7);
    assert_eq!(stats["ok"], 7);
    assert_eq!(stats["choices"], 14);
    assert_eq!(stats["in_flight"], 0);
    assert!(stats["prompt_tokens"].as_u64().unwrap() > 7 * 60);
    for (_, kind) in prompts {
        assert_eq!(stats["kinds"][kind]["replies"], 2, "{kind}");
    }
    assert_eq!(stats["kinds"]["qa_pairs"]["items"], 10);
    let facts = stats["kinds"]["key_facts"]["items"].as_u64().unwrap();
    assert!((4..=10).contains(&facts));
    assert!(stats["kinds"]["faithfulness"]["yes"].as_u64().unwrap() <= 2);
    let reset = client()
        .post(format!("{}/stats/reset", root(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    let stats = server.stats();
    assert_eq!(stats["requests"], 0);
    assert_eq!(stats["kinds"]["qa_pairs"]["items"], 0);
    assert_eq!(
        stats,
        json!({
            "requests": 0, "ok": 0, "in_flight": 0, "peak_in_flight": 0, "choices": 0, "repeated_ok": 0,
            "prompt_tokens": 0, "completion_tokens": 0,
            "faults": {"429": 0, "500": 0, "503": 0, "drop": 0, "hang": 0, "malformed": 0, "empty": 0, "length": 0, "401": 0, "off_format": 0},
            "kinds": {
                "extractive_summary": {"replies": 0, "requests": 0, "latency_ms": 0.0},
                "detailed_summary": {"replies": 0, "requests": 0, "latency_ms": 0.0},
                "key_facts": {"replies": 0, "requests": 0, "latency_ms": 0.0, "items": 0},
                "questions": {"replies": 0, "requests": 0, "latency_ms": 0.0, "items": 0},
                "qa_pairs": {"replies": 0, "requests": 0, "latency_ms": 0.0, "items": 0},
                "answer": {"replies": 0, "requests": 0, "latency_ms": 0.0},
                "faithfulness": {"replies": 0, "requests": 0, "latency_ms": 0.0, "yes": 0}
            }
        })
    );
}

#[tokio::test]
async fn max_tokens_cuts_the_reply_with_length() {
    let server = MockServer::start(Config::default()).unwrap();
    let reply = completion(
        &server,
        &with(
            request("Write a detailed summary."),
            "max_tokens",
            json!(10),
        ),
    )
    .await;
    assert_eq!(reply["choices"][0]["finish_reason"], "length");
    assert_eq!(contents(&reply)[0].chars().count(), 40);
    assert_eq!(reply["usage"]["completion_tokens"], 10);
}

/// The reply a server without faults gives for `body`.
async fn clean_reply(body: &Value) -> bytes::Bytes {
    let server = MockServer::start(Config::default()).unwrap();
    post(&server, body).await.bytes().await.unwrap()
}

#[tokio::test]
async fn status_faults_then_the_same_reply_as_without_faults() {
    let body = request("Answer the question.");
    let expected = clean_reply(&body).await;
    for (faults, status, name) in [
        (
            Faults {
                rate_429: 1.0,
                ..Faults::default()
            },
            429,
            "429",
        ),
        (
            Faults {
                rate_500: 1.0,
                ..Faults::default()
            },
            500,
            "500",
        ),
        (
            Faults {
                rate_503: 1.0,
                ..Faults::default()
            },
            503,
            "503",
        ),
    ] {
        let server = faulty(faults);
        let response = post(&server, &body).await;
        assert_eq!(response.status(), status);
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(retry_after.as_deref(), (status == 429).then_some("2"));
        let error = json_of(response).await;
        assert!(error["error"]["message"].is_string());
        assert_eq!(post(&server, &body).await.bytes().await.unwrap(), expected);
        let stats = server.stats();
        assert_eq!(stats["faults"][name], 1);
        assert_eq!(
            (
                stats["requests"].as_u64(),
                stats["ok"].as_u64(),
                stats["repeated_ok"].as_u64()
            ),
            (Some(2), Some(1), Some(0))
        );
    }
}

#[tokio::test]
async fn a_request_succeeds_after_max_faults() {
    let server = MockServer::start(Config {
        faults: Faults {
            rate_500: 1.0,
            ..Faults::default()
        },
        ..Config::default()
    })
    .unwrap();
    let body = request("Answer the question.");
    for _ in 0..3 {
        assert_eq!(post(&server, &body).await.status(), 500);
    }
    assert_eq!(post(&server, &body).await.status(), 200);
    assert_eq!(post(&server, &body).await.status(), 200);
    assert_eq!(server.stats()["faults"]["500"], 3);
    assert_eq!(server.stats()["repeated_ok"], 1);
}

#[tokio::test]
async fn seeded_fault_rates_are_reproducible() {
    let run = || async {
        let server = MockServer::start(Config {
            seed: 5,
            faults: Faults {
                rate_429: 0.3,
                rate_503: 0.2,
                ..Faults::default()
            },
            ..Config::default()
        })
        .unwrap();
        let mut statuses = Vec::new();
        for i in 0..40 {
            statuses.push(
                post(&server, &request(&format!("Question {i}?")))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        statuses
    };
    let first = run().await;
    assert_eq!(first, run().await);
    let faults = first.iter().filter(|s| **s != 200).count();
    assert!((8..=32).contains(&faults), "{first:?}");
}

#[tokio::test]
async fn dropped_connection_is_a_client_error() {
    let server = faulty(Faults {
        rate_drop: 1.0,
        ..Faults::default()
    });
    let body = request("Answer the question.");
    let sent = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await;
    assert!(sent.is_err(), "{sent:?}");
    assert_eq!(server.stats()["faults"]["drop"], 1);
    assert_eq!(
        post(&server, &body).await.bytes().await.unwrap(),
        clean_reply(&body).await
    );
}

#[tokio::test]
async fn hung_request_times_out_and_shutdown_releases_it() {
    let server = faulty(Faults {
        rate_hang: 1.0,
        ..Faults::default()
    });
    let url = format!("{}/chat/completions", server.base_url());
    let sent = client()
        .post(&url)
        .timeout(Duration::from_millis(300))
        .body(serde_json::to_vec(&request("Answer.")).unwrap())
        .send()
        .await;
    assert!(sent.unwrap_err().is_timeout());
    let stats = server.stats();
    assert_eq!(stats["faults"]["hang"], 1);
    assert_eq!(stats["ok"], 0);
    // A hung request still on the wire must not keep shutdown waiting.
    let hung = tokio::spawn(
        client()
            .post(&url)
            .body(serde_json::to_vec(&request("Other.")).unwrap())
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.stats()["in_flight"], 1);
    server.shutdown();
    assert!(
        tokio::time::timeout(Duration::from_secs(2), hung)
            .await
            .unwrap()
            .unwrap()
            .is_err()
    );
}

#[tokio::test]
async fn streamed_hang_sends_the_first_chunk_then_goes_silent() {
    let server = faulty(Faults {
        rate_hang: 1.0,
        ..Faults::default()
    });
    let body = with(request("Write a detailed summary."), "stream", json!(true));
    let mut response = post(&server, &body).await;
    assert_eq!(response.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(2), response.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.starts_with(b"data: {"));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), response.chunk())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn malformed_empty_and_length_faults_answer_200() {
    let body = request("Write an extractive summary.");
    let expected: Value = serde_json::from_slice(&clean_reply(&body).await).unwrap();
    let server = faulty(Faults {
        rate_malformed: 1.0,
        ..Faults::default()
    });
    let response = post(&server, &body).await;
    assert_eq!(response.status(), 200);
    assert!(serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).is_err());

    let server = faulty(Faults {
        rate_empty: 1.0,
        ..Faults::default()
    });
    let reply = completion(&server, &body).await;
    assert_eq!(contents(&reply), vec![String::new()]);
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert_eq!(server.stats()["faults"]["empty"], 1);

    let server = faulty(Faults {
        rate_length: 1.0,
        ..Faults::default()
    });
    let reply = completion(&server, &body).await;
    assert_eq!(reply["choices"][0]["finish_reason"], "length");
    let full = &contents(&expected)[0];
    let half: String = full.chars().take(full.chars().count() / 2).collect();
    assert_eq!(contents(&reply)[0], half);
    assert_eq!(server.stats()["kinds"]["extractive_summary"]["replies"], 0);
    assert_eq!(completion(&server, &body).await, expected);
}

#[tokio::test]
async fn wrong_or_missing_key_gets_401() {
    let server = MockServer::start(Config {
        require_key: Some("sekret".into()),
        ..Config::default()
    })
    .unwrap();
    let url = format!("{}/chat/completions", server.base_url());
    let body = serde_json::to_vec(&request("Answer.")).unwrap();
    for auth in [None, Some("Bearer nope"), Some("sekret")] {
        let mut builder = client().post(&url).body(body.clone());
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        let response = builder.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            json_of(response).await,
            json!({"error": {"message": "invalid api key", "type": "authentication_error"}})
        );
    }
    let ok = client()
        .post(&url)
        .header("authorization", "Bearer sekret")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(server.stats()["faults"]["401"], 3);
}

#[tokio::test]
async fn bad_requests_get_400() {
    let server = MockServer::start(Config::default()).unwrap();
    let response = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_of(response).await["error"]["type"],
        "invalid_request_error"
    );
    let missing = client()
        .get(format!("{}/nothing", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn streaming_reassembles_to_the_plain_reply() {
    let server = MockServer::start(Config {
        latency_base_ms: 40.0,
        ..Config::default()
    })
    .unwrap();
    let body = with(
        request("Write five pairs with [QUESTION] and [ANSWER] tags."),
        "n",
        json!(2),
    );
    let plain = completion(&server, &body).await;
    let response = post(&server, &with(body, "stream", json!(true))).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    let mut streamed = vec![String::new(); 2];
    let mut finish = vec![Value::Null; 2];
    for event in &events[..events.len() - 1] {
        let chunk: Value = serde_json::from_str(event.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        let choice = &chunk["choices"][0];
        let i = choice["index"].as_u64().unwrap() as usize;
        streamed[i].push_str(choice["delta"]["content"].as_str().unwrap_or(""));
        if !choice["finish_reason"].is_null() {
            finish[i] = choice["finish_reason"].clone();
        }
    }
    assert_eq!(streamed, contents(&plain));
    assert_eq!(finish, vec![json!("stop"), json!("stop")]);
    assert_eq!(server.stats()["ok"], 2);
}

#[tokio::test]
async fn streams_end_with_usage_when_asked_unless_the_server_sends_none() {
    let body = with(
        with(request("Answer the question."), "stream", json!(true)),
        "stream_options",
        json!({"include_usage": true}),
    );
    for (no_stream_usage, expected) in [(false, 1), (true, 0)] {
        let server = MockServer::start(Config {
            no_stream_usage,
            ..Config::default()
        })
        .unwrap();
        let response = post(&server, &body).await;
        let text = String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        let usage = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .filter(|chunk| chunk["usage"]["completion_tokens"].as_u64() > Some(0))
            .count();
        assert_eq!(usage, expected, "no_stream_usage {no_stream_usage}: {text}");
    }
}

#[tokio::test]
async fn latency_holds_requests_in_flight_concurrently() {
    let server = MockServer::start(Config {
        latency_base_ms: 300.0,
        latency_per_token_ms: 0.5,
        ..Config::default()
    })
    .unwrap();
    let started = Instant::now();
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let url = format!("{}/chat/completions", server.base_url());
            let body = serde_json::to_vec(&request(&format!("Question {i}?"))).unwrap();
            tokio::spawn(
                async move { client().post(url).body(body).send().await.unwrap().status() },
            )
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    // The latency is a floor every reply waits out; that the eight waited it out together
    // is the peak of requests in flight, not a clock.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    let stats = server.stats();
    assert_eq!(stats["peak_in_flight"], 8);
    assert_eq!(stats["in_flight"], 0);
}

fn binary() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("mock-teacher"))
}

#[tokio::test]
async fn binary_prints_its_url_serves_and_stops_on_sigterm() {
    let mut child = binary()
        .args(["--model", "cli-teacher", "--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim_end().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"),
        "{line}"
    );
    let models = get(format!("{url}/models")).await;
    assert_eq!(models["data"][0]["id"], "cli-teacher");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(
        stderr.lines().all(|l| l.starts_with("mock-teacher: ")),
        "{stderr}"
    );
}

#[test]
fn binary_usage_errors_exit_2() {
    let out = binary().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = binary()
        .args(["--fault-429", "0.8", "--fault-500", "0.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("mock-teacher: fault rates add up to"),
        "{stderr}"
    );
    let out = binary()
        .args(["--addr", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_has_summary_and_examples() {
    let out = assert_cmd::Command::cargo_bin("mock-teacher")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("A deterministic OpenAI-compatible teacher"));
    assert!(help.contains("Examples:") && help.contains("mock-teacher --seed 7"));
    assert!(help.contains("--fault-429") && help.contains("--require-key"));
    assert!(help.contains("--habits <P>") && help.contains("--repeats <P>"));
}

#[tokio::test]
async fn content_faults_also_apply_to_streams() {
    let body = with(request("Answer the question."), "stream", json!(true));
    let server = faulty(Faults {
        rate_length: 1.0,
        ..Faults::default()
    });
    let text =
        String::from_utf8(post(&server, &body).await.bytes().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(r#""finish_reason":"length""#) && text.ends_with("data: [DONE]\n\n"),
        "{text}"
    );
    assert_eq!(server.stats()["faults"]["length"], 1);
    let server = faulty(Faults {
        rate_malformed: 1.0,
        ..Faults::default()
    });
    let text =
        String::from_utf8(post(&server, &body).await.bytes().await.unwrap().to_vec()).unwrap();
    let first = text
        .split("\n\n")
        .next()
        .unwrap()
        .strip_prefix("data: ")
        .unwrap();
    assert!(serde_json::from_str::<Value>(first).is_err(), "{text}");
}

#[tokio::test]
async fn off_format_replies_ignore_the_format_the_same_way_every_time() {
    let config = || Config {
        off_format: 0.5,
        seed: 3,
        ..Config::default()
    };
    let server = MockServer::start(config()).unwrap();
    let body = with(
        request("Write questions in [QUESTION] tags."),
        "n",
        json!(40),
    );
    let first = contents(&completion(&server, &body).await);
    let off = first.iter().filter(|c| !c.contains("[QUESTION]")).count();
    assert!(
        (5..35).contains(&off),
        "about half off-format, got {off} of 40"
    );
    let stats: Value = get(format!("{}/stats", root(&server))).await;
    assert_eq!(stats["faults"]["off_format"], off);
    // Items count only the replies that kept the format.
    let items = stats["kinds"]["questions"]["items"].as_u64().unwrap();
    let tagged: usize = first.iter().map(|c| c.matches("[QUESTION]").count()).sum();
    assert_eq!(items, tagged as u64);
    assert_eq!(stats["kinds"]["questions"]["requests"], 1);
    let again = MockServer::start(config()).unwrap();
    assert_eq!(contents(&completion(&again, &body).await), first);
}

#[tokio::test]
async fn habits_and_repeats_are_counted_and_the_same_every_time() {
    let config = || Config {
        habits: 0.5,
        repeats: 0.5,
        seed: 5,
        ..Config::default()
    };
    let server = MockServer::start(config()).unwrap();
    let plain = MockServer::start(Config {
        seed: 5,
        ..Config::default()
    })
    .unwrap();
    let body = with(
        request("Write questions in [QUESTION] tags."),
        "n",
        json!(40),
    );
    let quirky = contents(&completion(&server, &body).await);
    let clean = contents(&completion(&plain, &body).await);
    let stats = server.stats();
    let habits = stats["kinds"]["questions"]["habits"].as_u64().unwrap();
    let repeats = stats["kinds"]["questions"]["repeats"].as_u64().unwrap();
    let items = stats["kinds"]["questions"]["items"].as_u64().unwrap();
    assert!(
        (8..=32).contains(&habits),
        "about half in habits, got {habits} of 40"
    );
    assert!(
        repeats * 4 > items && repeats * 4 < items * 3,
        "about half of {items} questions repeated, got {repeats}"
    );
    let changed = quirky.iter().zip(&clean).filter(|(q, c)| q != c).count();
    assert!(changed as u64 >= habits, "{changed} changed");
    // Every question is still in its block, whatever the habits around it.
    let tagged: usize = quirky
        .iter()
        .map(|c| c.to_lowercase().matches("[question]").count())
        .sum();
    assert_eq!(tagged as u64, items);
    let again = MockServer::start(config()).unwrap();
    assert_eq!(contents(&completion(&again, &body).await), quirky);
    assert!(plain.stats()["kinds"]["questions"].get("habits").is_none());
    assert!(plain.stats()["kinds"]["questions"].get("repeats").is_none());
}
