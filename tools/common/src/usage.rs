//! The process's own resource use, read from `/proc/self` at the end of a run: CPU seconds
//! (user + system, every thread) and peak resident memory. They go into each stage's
//! summary so a recipe run shows which stage costs what, and the benchmark can add them
//! up. Where `/proc` is missing (not Linux) the figures are simply absent.

/// CPU time and peak memory of this process so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// User plus system CPU seconds of every thread.
    pub cpu_s: f64,
    /// Peak resident set size in bytes (`VmHWM`).
    pub peak_rss_bytes: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat`: USER_HZ, fixed at 100 in Linux's ABI.
const TICKS_PER_SECOND: f64 = 100.0;

impl Usage {
    /// Reads this process's usage; None where `/proc/self` cannot be read.
    pub fn current() -> Option<Usage> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        Some(Usage {
            cpu_s: cpu_ticks(&stat)? as f64 / TICKS_PER_SECOND,
            peak_rss_bytes: peak_rss_kib(&status)? * 1024,
        })
    }

    /// Peak resident set size in MiB, to one decimal.
    pub fn peak_rss_mib(&self) -> f64 {
        (self.peak_rss_bytes as f64 * 10.0 / (1 << 20) as f64).round() / 10.0
    }
}

/// utime + stime from the text of `/proc/<pid>/stat`. The command name in parentheses may
/// hold spaces and parentheses itself, so fields are counted from the last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` in KiB from the text of `/proc/<pid>/status`.
fn peak_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_count_fields_after_the_command_name() {
        let stat = "4242 (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 3 0 100";
        assert_eq!(cpu_ticks(stat), Some(281));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn peak_rss_is_read_from_vmhwm() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(peak_rss_kib(status), Some(1234));
        assert_eq!(peak_rss_kib("Name:\tx\n"), None);
        let usage = Usage {
            cpu_s: 0.0,
            peak_rss_bytes: 1234 * 1024,
        };
        assert_eq!(usage.peak_rss_mib(), 1.2);
    }

    #[test]
    fn this_process_has_usage_on_linux() {
        if cfg!(target_os = "linux") {
            let usage = Usage::current().expect("readable /proc/self");
            assert!(usage.peak_rss_bytes > 0);
            assert!(usage.cpu_s >= 0.0);
        }
    }
}
