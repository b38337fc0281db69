//! A run killed part-way is resumed by running it again: `generate-all` is interrupted
//! several times at random points (kill -9 of one llm-call stage, kill -9 of the whole
//! recipe, Ctrl-C to the whole recipe), then rerun to the end. The final gen.jsonl files
//! equal an uninterrupted run's, and no request whose reply reached the cache is paid for
//! again (counted in the cache's call log and on the mock).

use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use super::harness::{
    Mock, Tools, assert_same_outputs, count, just_cmd, outputs, reference_outputs, sample_seed,
    small_vars, stderr,
};

/// How a run is interrupted.
#[derive(Debug, Clone, Copy)]
enum Interrupt {
    /// SIGKILL to one running llm-call stage.
    KillStage,
    /// SIGKILL to every process of the recipe.
    KillRecipe,
    /// SIGINT to every process of the recipe, as Ctrl-C in a terminal sends.
    CtrlC,
}

/// Interruptions per test; each at a fresh random point.
const ROUNDS: usize = 3;

/// A small deterministic generator (xorshift), seeded per test so a failure can be rerun:
/// `KTPIPE_CRASH_SEED=<n> cargo test -p ktpipe-tests crash`.
struct Draw(u64);

impl Draw {
    fn new(salt: u64) -> Draw {
        let seed = std::env::var("KTPIPE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed);
        eprintln!("crash seed {seed} (salt {salt})");
        Draw((seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn signal(target: &str, sig: &str) {
    let _ = Command::new("kill").args([sig, "--", target]).status();
}

fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for just") {
            return status;
        }
        if Instant::now() > deadline {
            signal(&format!("-{}", child.id()), "-KILL");
            let _ = child.wait();
            panic!("the recipe did not end within {limit:?}: a stage is stuck");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the teacher has received `target` requests in all, or the run has ended.
fn teacher_reaches(mock: &Mock, child: &mut Child, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if mock.requests() >= target || child.try_wait().expect("waiting for just").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True while process `pid` runs: not gone, and not a zombie waiting for its parent.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .map(|rest| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Requests whose reply reached the cache and that were sent again: every such request
/// is paid for twice. Replies cut or empty (status 200 with an error) do not count.
fn paid_twice(cache: &Path) -> i64 {
    let db = rusqlite::Connection::open(cache).expect("opening the cache");
    db.query_row(
        "SELECT count(*) FROM (SELECT key FROM calls WHERE status = '200' AND error IS NULL
         GROUP BY key HAVING count(*) > 1)",
        [],
        |row| row.get(0),
    )
    .expect("querying the call log")
}

/// Distinct requests answered and kept in the cache.
fn distinct_answered(cache: &Path) -> i64 {
    let db = rusqlite::Connection::open(cache).expect("opening the cache");
    db.query_row(
        "SELECT count(DISTINCT key) FROM calls WHERE status = '200' AND error IS NULL",
        [],
        |row| row.get(0),
    )
    .expect("querying the call log")
}

fn interrupted_runs_resume_to_the_same_output(how: Interrupt, salt: u64) {
    let reference = reference_outputs();
    // An uninterrupted run sends about 110 requests. Each interrupt comes once the teacher
    // has received 5 to 54 more requests in the round, so the first always lands mid-run
    // whatever the machine's speed (a delay in milliseconds did not: the stages of a debug
    // build beside other tests once took longer to start than it, and a faster build ran
    // past it). Later rounds resume from the cache and have fewer requests left; one that
    // ends before its interrupt does not count, and while none has landed the next round
    // starts from scratch.
    let mock = Mock::start(&["--latency-base-ms", "100"]);
    let tools = Tools::new(&["--retry-base-ms", "20", "--retry-max-ms", "200"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    let mut draw = Draw::new(salt);
    let mut hits = 0;
    for round in 0..ROUNDS {
        let mut child = just_cmd(&mock.base_url, tools.path(), &vars, "generate-all")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("just");
        let after = 5 + draw.below(50);
        teacher_reaches(&mock, &mut child, mock.requests() + after);
        match how {
            Interrupt::KillStage => {
                // The stages still running (a finished one cannot be killed mid-run).
                let pids: Vec<u32> = tools
                    .llm_pids()
                    .into_iter()
                    .filter(|pid| running(*pid))
                    .collect();
                if !pids.is_empty() {
                    let victim = pids[draw.below(pids.len() as u64) as usize];
                    signal(&victim.to_string(), "-KILL");
                }
            }
            Interrupt::KillRecipe => signal(&format!("-{}", child.id()), "-KILL"),
            Interrupt::CtrlC => signal(&format!("-{}", child.id()), "-INT"),
        }
        let status = wait_for(&mut child, Duration::from_secs(60));
        if !status.success() {
            hits += 1;
        } else if hits == 0 {
            // The round ran whole (its stage had just ended) and cached every reply, so a
            // next round would only replay the cache: start it from scratch instead.
            std::fs::remove_dir_all(&out).expect("removing the round's output");
        }
        eprintln!("{how:?} round {round}: after {after} more requests, exit {status:?}");
        let _ = std::fs::remove_file(tools.path().join("llm-call.pids"));
    }
    assert!(hits > 0, "{how:?}: no interruption landed mid-run");
    let mut rerun = just_cmd(&mock.base_url, tools.path(), &vars, "generate-all");
    let started = Instant::now();
    let done = rerun.output().expect("just");
    assert!(
        done.status.success(),
        "{how:?}: the rerun failed after {:?}: {}",
        started.elapsed(),
        stderr(&done)
    );
    assert_same_outputs(&reference, &outputs(&out), &format!("{how:?}"));
    let cache = out.join("cache.sqlite");
    assert_eq!(
        paid_twice(&cache),
        0,
        "{how:?}: a request whose reply was cached was sent again"
    );
    let stats = mock.stats();
    let lost = count(&stats, "/ok") as i64 - distinct_answered(&cache);
    eprintln!(
        "{how:?}: {hits}/{ROUNDS} interruptions landed; teacher answered {} requests, {} distinct kept; {lost} answered but lost to the kill",
        count(&stats, "/ok"),
        distinct_answered(&cache)
    );
}

#[test]
fn kill_9_of_one_stage_then_rerun_equals_an_uninterrupted_run() {
    interrupted_runs_resume_to_the_same_output(Interrupt::KillStage, 1);
}

#[test]
fn kill_9_of_the_whole_recipe_then_rerun_equals_an_uninterrupted_run() {
    interrupted_runs_resume_to_the_same_output(Interrupt::KillRecipe, 2);
}

#[test]
fn ctrl_c_then_rerun_equals_an_uninterrupted_run() {
    interrupted_runs_resume_to_the_same_output(Interrupt::CtrlC, 3);
}

/// After Ctrl-C, `just` returns while the stages of its run still finish what is in
/// flight; a rerun started at once must wait for that run instead of racing it for the
/// dataset folders (whose end would remove the rerun's files).
#[test]
fn a_rerun_waits_for_an_earlier_run_still_ending() {
    let reference = reference_outputs();
    let mock = Mock::start(&[]);
    let tools = Tools::new(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    // An earlier run still holding one dataset folder: its lock, as its stages hold it.
    let folder = out.join("key_facts_to_qa");
    std::fs::create_dir_all(&folder).expect("folder");
    let earlier = std::fs::File::create(folder.join(".lock")).expect("lock file");
    earlier.lock().expect("lock");
    let seed = sample_seed();
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    let mut rerun = just_cmd(&mock.base_url, tools.path(), &vars, "generate-all")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("just");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        rerun.try_wait().expect("waiting").is_none(),
        "the rerun ended while an earlier run held key_facts_to_qa"
    );
    assert!(
        !folder.join("gen.jsonl").exists(),
        "written under the earlier run"
    );
    drop(earlier);
    let status = wait_for(&mut rerun, Duration::from_secs(60));
    let mut messages = String::new();
    std::io::Read::read_to_string(&mut rerun.stderr.take().expect("stderr"), &mut messages)
        .expect("stderr");
    assert!(status.success(), "the rerun failed: {messages}");
    assert!(
        messages.contains("key_facts_to_qa: waiting for an earlier run still writing"),
        "{messages}"
    );
    assert_same_outputs(&reference, &outputs(&out), "after waiting");
}
