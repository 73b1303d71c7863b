//! The first answer to each idempotent request, to give a retry instead of doing the work
//! again: keyed by the client's `Idempotency-Key` (scoped by who sent it), checked against
//! a fingerprint of the request so that a key reused for another request is refused, and
//! bounded in entries, bytes and age. A key whose request is still running is in flight:
//! a duplicate then is told so rather than waiting.

use std::collections::{HashMap, VecDeque};

/// How many answers are kept, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswersConfig {
    pub max_entries: usize,
    /// Bytes of the answers kept (their `size`, as the caller measures them).
    pub max_bytes: usize,
    pub ttl_ms: i64,
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim<A> {
    /// First seen: do it, then [`Answers::complete`] (or [`Answers::abandon`]) with this
    /// ticket.
    New(Ticket),
    /// Done already: answer this.
    Replay(A),
    /// The same request is running now.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// Names one claim, so that a late completion never fills a slot claimed again since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    key: String,
    generation: u64,
}

enum State<A> {
    InFlight,
    Done { answer: A, size: usize },
}

struct Slot<A> {
    fingerprint: [u8; 32],
    generation: u64,
    claimed_ms: i64,
    state: State<A>,
}

/// The answers kept; see the module's documentation.
pub struct Answers<A> {
    config: AnswersConfig,
    slots: HashMap<String, Slot<A>>,
    /// Claims, oldest first: the order of expiry and eviction.
    order: VecDeque<(String, u64)>,
    next_generation: u64,
    bytes: usize,
}

impl<A: Clone> Answers<A> {
    pub fn new(config: AnswersConfig) -> Self {
        Answers {
            config,
            slots: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
            bytes: 0,
        }
    }

    /// What to do with the request `fingerprint` sent under `key` at `now_ms`.
    pub fn claim(&mut self, key: &str, fingerprint: [u8; 32], now_ms: i64) -> Claim<A> {
        self.expire(now_ms);
        if let Some(slot) = self.slots.get(key) {
            return if slot.fingerprint != fingerprint {
                Claim::Mismatch
            } else {
                match &slot.state {
                    State::InFlight => Claim::InFlight,
                    State::Done { answer, .. } => Claim::Replay(answer.clone()),
                }
            };
        }
        while self.slots.len() >= self.config.max_entries.max(1) {
            if !self.evict_oldest() {
                break;
            }
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.slots.insert(
            key.to_owned(),
            Slot {
                fingerprint,
                generation,
                claimed_ms: now_ms,
                state: State::InFlight,
            },
        );
        self.order.push_back((key.to_owned(), generation));
        Claim::New(Ticket {
            key: key.to_owned(),
            generation,
        })
    }

    /// Keeps `answer` (of `size` bytes) for the claim's retries; an answer larger than
    /// all the bytes kept is not kept (its retries are done again).
    pub fn complete(&mut self, ticket: &Ticket, answer: A, size: usize) {
        if size > self.config.max_bytes {
            self.abandon(ticket);
            return;
        }
        let Some(slot) = self.slots.get_mut(&ticket.key) else {
            return;
        };
        if slot.generation != ticket.generation {
            return;
        }
        slot.state = State::Done { answer, size };
        self.bytes += size;
        while self.bytes > self.config.max_bytes {
            if !self.evict_oldest() {
                break;
            }
        }
    }

    /// Forgets the claim (its request ended without an answer worth repeating): a retry
    /// is done again.
    pub fn abandon(&mut self, ticket: &Ticket) {
        if self
            .slots
            .get(&ticket.key)
            .is_some_and(|slot| slot.generation == ticket.generation)
        {
            self.remove(&ticket.key);
        }
    }

    /// Keys held (answered or in flight).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes of the answers held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn expire(&mut self, now_ms: i64) {
        while let Some((key, generation)) = self.order.front() {
            let expired = match self.slots.get(key) {
                Some(slot) if slot.generation == *generation => {
                    slot.claimed_ms.saturating_add(self.config.ttl_ms) <= now_ms
                }
                // Gone or claimed again since: a stale entry of the order.
                _ => true,
            };
            if !expired {
                break;
            }
            if let Some((key, generation)) = self.order.pop_front() {
                if self
                    .slots
                    .get(&key)
                    .is_some_and(|slot| slot.generation == generation)
                {
                    self.remove(&key);
                }
            }
        }
    }

    /// Forgets the oldest claim still held: `false` when none is.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, generation)) = self.order.pop_front() {
            if self
                .slots
                .get(&key)
                .is_some_and(|slot| slot.generation == generation)
            {
                self.remove(&key);
                return true;
            }
        }
        false
    }

    fn remove(&mut self, key: &str) {
        if let Some(slot) = self.slots.remove(key) {
            if let State::Done { size, .. } = slot.state {
                self.bytes -= size;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: [u8; 32] = [1; 32];
    const B: [u8; 32] = [2; 32];

    fn answers(max_entries: usize, max_bytes: usize) -> Answers<&'static str> {
        Answers::new(AnswersConfig {
            max_entries,
            max_bytes,
            ttl_ms: 1_000,
        })
    }

    fn ticket(claim: Claim<&'static str>) -> Ticket {
        match claim {
            Claim::New(ticket) => ticket,
            other => panic!("not new: {other:?}"),
        }
    }

    #[test]
    fn a_retry_gets_the_first_answer_and_another_body_is_refused() {
        let mut a = answers(10, 100);
        let t = ticket(a.claim("k", A, 0));
        assert_eq!(a.claim("k", A, 1), Claim::InFlight);
        assert_eq!(a.claim("k", B, 1), Claim::Mismatch);
        a.complete(&t, "202 first", 9);
        assert_eq!(a.claim("k", A, 2), Claim::Replay("202 first"));
        assert_eq!(a.claim("k", B, 2), Claim::Mismatch);
        assert!(matches!(a.claim("other", B, 2), Claim::New(_)));
    }

    #[test]
    fn answers_expire_and_abandoned_claims_are_done_again() {
        let mut a = answers(10, 100);
        let t = ticket(a.claim("k", A, 0));
        a.complete(&t, "x", 1);
        assert!(matches!(a.claim("k", A, 1_000), Claim::New(_)), "expired");
        let mut a = answers(10, 100);
        let t = ticket(a.claim("k", A, 0));
        a.abandon(&t);
        assert!(matches!(a.claim("k", A, 1), Claim::New(_)));
    }

    #[test]
    fn the_oldest_goes_first_past_the_bounds() {
        let mut a = answers(2, 10);
        for (key, at) in [("a", 0), ("b", 1), ("c", 2)] {
            let t = ticket(a.claim(key, A, at));
            a.complete(&t, "answer", 4);
        }
        assert_eq!(a.len(), 2);
        assert!(matches!(a.claim("a", A, 3), Claim::New(_)), "evicted");
        let mut a = answers(10, 10);
        for key in ["a", "b", "c"] {
            let t = ticket(a.claim(key, A, 0));
            a.complete(&t, "answer", 4);
        }
        assert_eq!(a.bytes(), 8, "two of four bytes each");
        let t = ticket(a.claim("big", A, 0));
        a.complete(&t, "too big", 11);
        assert!(matches!(a.claim("big", A, 0), Claim::New(_)), "not kept");
    }

    #[test]
    fn a_late_completion_does_not_fill_a_slot_claimed_again() {
        let mut a = answers(1, 100);
        let first = ticket(a.claim("k", A, 0));
        let _other = ticket(a.claim("j", A, 0)); // evicts k's claim
        let again = ticket(a.claim("k", A, 0));
        a.complete(&first, "stale", 1);
        assert_eq!(a.claim("k", A, 0), Claim::InFlight);
        a.complete(&again, "fresh", 1);
        assert_eq!(a.claim("k", A, 0), Claim::Replay("fresh"));
    }

    proptest! {
        #[test]
        fn bounds_hold_whatever_comes(
            steps in proptest::collection::vec((0u8..20, any::<bool>(), 0usize..8, any::<bool>()), 1..200),
        ) {
            let mut a = answers(5, 20);
            let mut now = 0;
            for (key, same, size, finish) in steps {
                now += 37;
                let fingerprint = if same { A } else { B };
                if let Claim::New(t) = a.claim(&key.to_string(), fingerprint, now) {
                    if finish {
                        a.complete(&t, "answer", size);
                    }
                }
                prop_assert!(a.len() <= 5);
                prop_assert!(a.bytes() <= 20);
            }
        }
    }
}
