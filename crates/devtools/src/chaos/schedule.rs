//! When each kill happens: a seeded draw, printed so a run can be repeated.

use std::fmt;

/// What a chaos event kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Standardization,
    Processing,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Standardization => "standardization",
            Target::Processing => "processing",
        }
    }
}

/// One blow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// SIGKILL of a stage's process, restarted at once.
    Kill(Target),
    /// The broker stopped with SIGTERM (a clean shutdown), started again on its data.
    BrokerTerm,
    /// The broker's JVM SIGKILLed, started again on its data.
    BrokerKill,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Kill(target) => write!(f, "SIGKILL {}", target.name()),
            Event::BrokerTerm => f.write_str("SIGTERM broker"),
            Event::BrokerKill => f.write_str("SIGKILL broker"),
        }
    }
}

/// An event and the share of the records processed when it fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    pub at_fraction: f64,
    pub event: Event,
}

/// The first and the last moment an event may fire, as shares of the records processed:
/// not before the stages have warmed up, not so late that nothing is left to recover.
const FIRST: f64 = 0.05;
const LAST: f64 = 0.9;

/// `kills_per_stage` SIGKILLs of each stage and the two broker restarts, in a random order
/// at random shares of the run drawn from `seed`, in firing order.
pub fn schedule(seed: u64, kills_per_stage: usize) -> Vec<Planned> {
    let mut rng = SplitMix64(seed);
    let mut events: Vec<Event> = [Target::Standardization, Target::Processing]
        .into_iter()
        .flat_map(|t| std::iter::repeat_n(Event::Kill(t), kills_per_stage))
        .chain([Event::BrokerTerm, Event::BrokerKill])
        .collect();
    // Fisher–Yates.
    for i in (1..events.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        events.swap(i, j);
    }
    let mut fractions: Vec<f64> = events
        .iter()
        .map(|_| FIRST + rng.unit() * (LAST - FIRST))
        .collect();
    fractions.sort_by(f64::total_cmp);
    fractions
        .into_iter()
        .zip(events)
        .map(|(at_fraction, event)| Planned { at_fraction, event })
        .collect()
}

/// A small seeded generator (SplitMix64): the schedule needs repeatability, not quality.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_schedule_with_every_event_in_order() {
        let plan = schedule(7, 3);
        assert_eq!(plan, schedule(7, 3), "repeatable");
        assert_ne!(plan, schedule(8, 3), "another seed, another run");
        assert_eq!(plan.len(), 8);
        let mut events: Vec<Event> = plan.iter().map(|p| p.event).collect();
        events.sort();
        assert_eq!(
            events,
            [
                Event::Kill(Target::Standardization),
                Event::Kill(Target::Standardization),
                Event::Kill(Target::Standardization),
                Event::Kill(Target::Processing),
                Event::Kill(Target::Processing),
                Event::Kill(Target::Processing),
                Event::BrokerTerm,
                Event::BrokerKill,
            ]
        );
        assert!(plan
            .windows(2)
            .all(|w| w[0].at_fraction <= w[1].at_fraction));
        assert!(plan.iter().all(|p| (FIRST..LAST).contains(&p.at_fraction)));
    }

    #[test]
    fn the_order_of_events_varies_with_the_seed() {
        let orders: std::collections::BTreeSet<Vec<Event>> = (0..20)
            .map(|seed| schedule(seed, 1).iter().map(|p| p.event).collect())
            .collect();
        assert!(orders.len() > 5, "{orders:?}");
    }
}
