//! Gives the C allocator's free memory back to the system once a burst of work is over.
//!
//! glibc keeps what a thread frees in that thread's arena for reuse and only returns
//! memory from the top of an arena. librdkafka's fetch and decompression buffers, hundreds
//! of kilobytes each and freed by other threads than the ones that allocated them, leave
//! arenas full of free holes: after a burst of a million records the processing service,
//! when it ran on glibc, still held some 50 MB of free heap in RAM (glibc's `malloc_info`;
//! it runs on jemalloc now, see [`crate::Heap`]). `malloc_trim(0)`
//! gives the free pages of every arena back. It locks each arena while it walks it, and
//! pages given back are faulted in again when reused, so it runs when a burst is over
//! (the process has gone quiet after being busy), not on a timer under load.

use std::time::Duration;

/// How often the process's CPU time is looked at.
const TICK: Duration = Duration::from_secs(1);
/// CPU time over a [`TICK`] in clock ticks (`USER_HZ`, 100 per second on Linux) at or
/// under which the process is idle...
const IDLE_TICKS: u64 = 1;
/// ...and at or over which it is busy (10 % of a core).
const BUSY_TICKS: u64 = 10;

/// Starts the thread that trims the heap after each burst of work (glibc only; elsewhere
/// nothing happens).
pub fn spawn_idle_trimmer() {
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let spawned = std::thread::Builder::new()
            .name("heap-trim".into())
            .spawn(trim_after_bursts);
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the heap trimmer");
        }
    }
}

fn trim_after_bursts() {
    let Some(mut last) = cpu_ticks() else {
        tracing::warn!("no /proc/self/stat: the heap is not trimmed after bursts");
        return;
    };
    let mut trigger = Trigger::default();
    loop {
        std::thread::sleep(TICK);
        let Some(now) = cpu_ticks() else { return };
        last = if trigger.observe(now.saturating_sub(last)) {
            let before = resident_bytes();
            let released = release_free_heap();
            tracing::debug!(
                released,
                before,
                after = resident_bytes(),
                "heap trimmed after a burst"
            );
            // The trim's own CPU time is not counted in the next tick.
            cpu_ticks().unwrap_or(now)
        } else {
            now
        };
    }
}

/// Decides, tick after tick, when a burst is over: the first idle tick after a busy one.
#[derive(Debug, Default)]
struct Trigger {
    busy_since_trim: bool,
}

impl Trigger {
    /// Whether to trim after a tick in which the process used `ticks` of CPU time.
    fn observe(&mut self, ticks: u64) -> bool {
        if ticks >= BUSY_TICKS {
            self.busy_since_trim = true;
        } else if ticks <= IDLE_TICKS && self.busy_since_trim {
            self.busy_since_trim = false;
            return true;
        }
        false
    }
}

/// User and system CPU time of the process so far, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size in bytes (for the log line).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// `malloc_trim(0)`: whether glibc gave memory back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_free_heap() -> bool {
    // SAFETY: malloc_trim takes no pointer and has no precondition; glibc locks each arena
    // while it walks it, so it is safe to call while other threads allocate.
    unsafe { libc::malloc_trim(0) != 0 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_heap() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_when_a_busy_process_goes_quiet() {
        let mut trigger = Trigger::default();
        let decisions: Vec<bool> = [0, 0, 50, 200, 5, 0, 0, 30, 1, 0]
            .into_iter()
            .map(|ticks| trigger.observe(ticks))
            .collect();
        assert_eq!(
            decisions,
            [false, false, false, false, false, true, false, false, true, false],
            "never while idle from the start, nor between busy and idle; once per burst"
        );
    }

    #[test]
    fn reads_the_process_cpu_time_and_resident_size() {
        let before = cpu_ticks().expect("/proc/self/stat");
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_ticks().expect("/proc/self/stat") >= before);
        assert!(resident_bytes().expect("/proc/self/statm") > 1 << 20);
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn gives_freed_memory_back() {
        // Blocks under glibc's 128 KiB mmap threshold (they live in the arena), all freed
        // under a small one allocated after them: a free hole only a trim gives back.
        let blocks: Vec<Vec<u8>> = (0..1024).map(|_| vec![1u8; 64 * 1024]).collect();
        let pin = vec![1u8; 64];
        drop(blocks);
        assert!(release_free_heap(), "64 MB freed, some of it given back");
        drop(pin);
    }
}
