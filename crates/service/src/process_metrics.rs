//! The process's own metrics (Linux): CPU seconds, resident and virtual memory, open and
//! maximum file descriptors, threads, start time.
//!
//! The Prometheus client's `ProcessCollector` exports them all, but counts
//! `process_cpu_seconds_total` in whole seconds (user + system, truncated): a service
//! using a tenth of a core shows a rate of 0 for seconds at a time, then a jump. This
//! collector passes the others through and exports the CPU time from `/proc/self/stat` in
//! clock ticks, to the hundredth of a second.

use prometheus::core::{Collector, Desc};
use prometheus::process_collector::ProcessCollector;
use prometheus::{proto, Counter, Opts};

const CPU_SECONDS: &str = "process_cpu_seconds_total";

/// `/proc` counts CPU time in USER_HZ ticks, which the kernel's ABI fixes at 100 per
/// second on the architectures this builds for (x86_64, aarch64), whatever CONFIG_HZ is.
const TICKS_PER_SECOND: f64 = 100.0;

/// The process collector of this process, with a finer `process_cpu_seconds_total`.
pub(crate) struct ProcessMetrics {
    inner: ProcessCollector,
    cpu: Counter,
    /// Held while the counter is brought up to `/proc`'s figure, so that two scrapes at
    /// once do not both add the same delta.
    catching_up: std::sync::Mutex<()>,
}

impl ProcessMetrics {
    pub(crate) fn for_self() -> ProcessMetrics {
        let cpu = Counter::with_opts(Opts::new(
            CPU_SECONDS,
            "Total user and system CPU time spent in seconds.",
        ))
        .unwrap_or_else(|_| unreachable!("valid counter definition"));
        ProcessMetrics {
            inner: ProcessCollector::for_self(),
            cpu,
            catching_up: std::sync::Mutex::new(()),
        }
    }
}

impl Collector for ProcessMetrics {
    fn desc(&self) -> Vec<&Desc> {
        let mut descs: Vec<&Desc> = self
            .inner
            .desc()
            .into_iter()
            .filter(|d| d.fq_name != CPU_SECONDS)
            .collect();
        descs.extend(self.cpu.desc());
        descs
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let mut families: Vec<proto::MetricFamily> = self
            .inner
            .collect()
            .into_iter()
            .filter(|f| f.name() != CPU_SECONDS)
            .collect();
        if let Some(seconds) = cpu_seconds() {
            let _one_at_a_time = self
                .catching_up
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let delta = seconds - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
            families.extend(self.cpu.collect());
        }
        families
    }
}

/// User + system CPU time of the whole process (every thread, dead ones included).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / TICKS_PER_SECOND)
}

/// utime + stime, fields 14 and 15 of `/proc/<pid>/stat`. The command (field 2) is in
/// parentheses and may hold spaces and parentheses itself: count from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_command = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_command.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Registry;

    #[test]
    fn parses_utime_and_stime_after_a_command_with_spaces_and_parentheses() {
        let stat =
            "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 2201 0 0 0 137 29 0 0 20 0 9 0 1234 0";
        assert_eq!(parse_cpu_ticks(stat), Some(166));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    fn gathered(registry: &Registry) -> Vec<proto::MetricFamily> {
        registry.gather()
    }

    fn value(families: &[proto::MetricFamily], name: &str) -> Option<f64> {
        let family = families.iter().find(|f| f.name() == name)?;
        let metric = family.get_metric().first()?;
        Some(if name == CPU_SECONDS {
            metric.get_counter().get_value()
        } else {
            metric.get_gauge().get_value()
        })
    }

    /// Every process metric the dashboards and docs name is exported, once; the CPU time
    /// moves below a second (the client's own collector would still say 0 here).
    #[test]
    fn exports_the_process_metrics_with_cpu_below_a_second() {
        let registry = Registry::new();
        registry
            .register(Box::new(ProcessMetrics::for_self()))
            .expect("no name registered twice");
        let before = value(&gathered(&registry), CPU_SECONDS).expect("cpu exported");
        // Burn about 50 ms of CPU on this thread.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let families = gathered(&registry);
        let after = value(&families, CPU_SECONDS).expect("cpu exported");
        assert!(after > before, "cpu seconds moved: {before} -> {after}");
        for name in [
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_threads",
            "process_start_time_seconds",
        ] {
            let v = value(&families, name).unwrap_or_else(|| panic!("{name} exported"));
            assert!(v > 0.0, "{name} = {v}");
        }
        let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
        assert_eq!(
            names.iter().filter(|n| **n == CPU_SECONDS).count(),
            1,
            "{names:?}"
        );
    }
}
