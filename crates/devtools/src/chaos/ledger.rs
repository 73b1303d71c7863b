//! Every record sent against every record read: lost and duplicated, by record id.

use std::collections::HashMap;

/// A record id as a 64-bit FNV-1a digest: the ledger holds digests, not ids. A collision
/// merges two ids' counts, which could only hide a loss of one paired with a duplicate of
/// the other (the odds are in docs/design.md).
pub fn record_key(id: &[u8]) -> u64 {
    id.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How often each record id was sent and how often it was read.
#[derive(Debug, Default)]
pub struct Ledger {
    counts: HashMap<u64, (u32, u32)>,
    read: u64,
    unexpected: u64,
}

/// What the ledger found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub sent: u64,
    pub read: u64,
    /// Sent, never read (one per missing copy).
    pub lost: u64,
    /// Read more often than sent (one per extra copy).
    pub duplicated: u64,
    /// Read, never sent.
    pub unexpected: u64,
}

impl Ledger {
    /// A record id was sent (acknowledged by the broker).
    pub fn sent(&mut self, id: &[u8]) {
        self.counts.entry(record_key(id)).or_default().0 += 1;
    }

    /// A record id was read; whether it was its first reading.
    pub fn read(&mut self, id: &[u8]) -> bool {
        self.read += 1;
        match self.counts.get_mut(&record_key(id)) {
            Some((_, read)) => {
                *read += 1;
                *read == 1
            }
            None => {
                self.unexpected += 1;
                false
            }
        }
    }

    /// Records read so far, copies included.
    pub fn read_total(&self) -> u64 {
        self.read
    }

    pub fn verdict(&self) -> Verdict {
        let (mut sent, mut lost, mut duplicated) = (0, 0, 0);
        for &(s, r) in self.counts.values() {
            sent += u64::from(s);
            lost += u64::from(s.saturating_sub(r));
            duplicated += u64::from(r.saturating_sub(s));
        }
        Verdict {
            sent,
            read: self.read,
            lost,
            duplicated,
            unexpected: self.unexpected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_duplicated_and_unexpected_records_are_told_apart() {
        let mut ledger = Ledger::default();
        for id in ["a:1:1", "a:2:1", "b:1:7", "b:1:7"] {
            ledger.sent(id.as_bytes());
        }
        assert!(ledger.read(b"a:1:1"));
        assert!(!ledger.read(b"a:1:1"), "a second copy");
        assert!(ledger.read(b"b:1:7"));
        assert!(
            !ledger.read(b"b:1:7"),
            "sent twice, read twice: no duplicate"
        );
        assert!(!ledger.read(b"zz:0:0"));
        assert_eq!(
            ledger.verdict(),
            Verdict {
                sent: 4,
                read: 5,
                lost: 1,
                duplicated: 1,
                unexpected: 1,
            }
        );
        assert_eq!(ledger.read_total(), 5);
    }

    #[test]
    fn every_record_once_is_a_clean_verdict() {
        let mut ledger = Ledger::default();
        let ids: Vec<String> = (0..1000).map(|i| format!("acme:{i}:42")).collect();
        ids.iter().for_each(|id| ledger.sent(id.as_bytes()));
        assert!(ids.iter().rev().all(|id| ledger.read(id.as_bytes())));
        let verdict = ledger.verdict();
        assert_eq!(
            (verdict.lost, verdict.duplicated, verdict.unexpected),
            (0, 0, 0)
        );
        assert_eq!(verdict.sent, 1000);
    }

    #[test]
    fn the_key_is_fnv1a() {
        assert_eq!(record_key(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(record_key(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
