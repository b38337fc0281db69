//! generate-sharded: the seed split by seed_id, generate-all on every shard with GNU
//! parallel (locally, and over ssh to this machine through an sshd of the test's own), and
//! the merged datasets equal a single run's after a canonical sort of their rows. Finished
//! shards are not run again; failed ones are named.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{
    DATASETS, Mock, bin_dir, just, just_cmd, read_jsonl, refused_base_url, sample_seed, stderr,
};

/// An sshd on a loopback port, with a throwaway host key and user key, killed when dropped.
struct Sshd {
    child: Child,
    /// The GNU parallel sshloginfile that logs in to it.
    loginfile: PathBuf,
    log: PathBuf,
}

impl Sshd {
    fn start(dir: &Path) -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "this test needs sshd, ssh, rsync and GNU parallel: run scripts/ensure-test-tools"
        );
        for key in ["host_key", "user_key"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(key))
                .status()
                .expect("running ssh-keygen");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).expect("keys");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nPermitRootLogin yes\n",
                d = dir.display()
            ),
        )
        .expect("sshd_config");
        // Run as root, sshd wants its privilege-separation folder; unprivileged, it does not.
        let _ = std::fs::create_dir_all("/run/sshd");
        let log = dir.join("sshd.log");
        let child = Command::new(sshd)
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start: {log:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let loginfile = dir.join("sshlogins");
        std::fs::write(
            &loginfile,
            format!(
                "ssh -p {port} -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                 -o BatchMode=yes -o LogLevel=ERROR 127.0.0.1\n",
                dir.join("user_key").display()
            ),
        )
        .expect("sshlogins");
        Sshd {
            child,
            loginfile,
            log,
        }
    }

    /// Logins the sshd accepted so far.
    fn logins(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("Accepted publickey")
            .count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A dataset file's rows in a canonical order, with `_reject.line` (the line in the stage's
/// input, which a shard numbers from its own first row) left out.
fn canonical(path: &Path) -> Vec<String> {
    let mut rows: Vec<String> = read_jsonl(path)
        .into_iter()
        .map(|mut row| {
            if let Some(reject) = row.get_mut("_reject").and_then(Value::as_object_mut) {
                reject.remove("line");
            }
            row.to_string()
        })
        .collect();
    rows.sort();
    rows
}

fn assert_same_rows(single: &Path, sharded: &Path) {
    for dataset in DATASETS.iter() {
        for file in ["gen.jsonl", "rejects.jsonl"] {
            let (a, b) = (
                canonical(&single.join(dataset).join(file)),
                canonical(&sharded.join(dataset).join(file)),
            );
            assert_eq!(a.len(), b.len(), "{dataset}/{file}: row counts differ");
            assert!(a == b, "{dataset}/{file}: the rows differ");
        }
    }
}

fn vars<'a>(seed: &'a str, out: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("seed", seed),
        ("out", out),
        ("n_summaries", "2"),
        ("concurrency", "8"),
        ("shards", "3"),
    ]
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn sharded_over_ssh_equals_a_single_run_and_a_rerun_is_free() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = Sshd::start(dir.path());
    let mock = Mock::start(&[]);
    let seed = sample_seed();
    let (single, sharded) = (dir.path().join("single"), dir.path().join("sharded"));
    let out = just(&mock, &vars(utf8(&seed), utf8(&single)), "generate-all");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut sharded_vars = vars(utf8(&seed), utf8(&sharded));
    sharded_vars.push(("hosts", utf8(&sshd.loginfile)));
    let before = mock.requests();
    let out = just(&mock, &sharded_vars, "generate-sharded");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        sshd.logins() >= 3,
        "every shard ran over ssh: {} logins",
        sshd.logins()
    );
    assert!(
        err.contains("shard 2\t"),
        "job output is tagged by shard: {err}"
    );
    assert!(mock.requests() > before, "the shards asked the teacher");
    assert_same_rows(&single, &sharded);

    let before = mock.requests();
    let again = just(&mock, &sharded_vars, "generate-sharded");
    let err = stderr(&again);
    assert!(again.status.success(), "{err}");
    for shard in 0..3 {
        assert!(
            err.contains(&format!("shard {shard} is finished, not run again")),
            "{err}"
        );
    }
    assert_eq!(mock.requests(), before, "a rerun asks nothing");
    assert_same_rows(&single, &sharded);
}

#[test]
fn local_shards_fail_by_name_and_a_rerun_runs_only_the_unfinished() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = sample_seed();
    let out_dir = dir.path().join("out");
    // A teacher that refuses every connection stops each shard's run (llm-call fails fast).
    let vars = vars(utf8(&seed), utf8(&out_dir));

    let dead_url = refused_base_url();
    let out = just_cmd(&dead_url, &bin_dir(), &vars, "generate-sharded")
        .output()
        .expect("running just");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("failed after 3 tries: shard 1, shard 2;"),
        "{err}"
    );
    assert!(!out_dir.join(&DATASETS[0]).join("gen.jsonl").exists());
    assert!(
        out_dir.join("shards/0/.done").exists(),
        "shard 0 has no seed rows, so it finished"
    );

    let mock = Mock::start(&[]);
    let out = just(&mock, &vars, "generate-sharded");
    assert!(out.status.success(), "{}", stderr(&out));
    let full = mock.requests();
    let merged: Vec<Vec<u8>> = DATASETS
        .iter()
        .map(|d| std::fs::read(out_dir.join(d).join("gen.jsonl")).expect("merged"))
        .collect();
    std::fs::remove_file(out_dir.join("shards/1/.done")).expect("shard 1 was finished");
    let out = just(&mock, &vars, "generate-sharded");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("shard 0 is finished") && err.contains("shard 2 is finished"));
    assert!(!err.contains("shard 1 is finished"), "{err}");
    assert_eq!(mock.requests(), full, "shard 1 ran again from its cache");
    for (dataset, before) in DATASETS.iter().zip(merged) {
        let after = std::fs::read(out_dir.join(dataset).join("gen.jsonl")).expect("merged");
        assert_eq!(after, before, "{dataset}: the merge is deterministic");
    }
}
