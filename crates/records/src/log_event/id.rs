//! The event id: deterministic from the event's bytes, so the same event posted twice has
//! the same id (and a replay of a dead letter keeps it).

/// [`fnv1a_64`] of `bytes`, as 16 lower-case hex digits: the `record-id` header of an event
/// and its `event_id`.
pub fn event_id(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a_64(bytes))
}

/// The 64-bit FNV-1a hash: fast, stable across versions and platforms (unlike std's
/// hasher), good enough for ids and feature hashing, not for anything adversarial.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_the_published_fnv1a_vectors() {
        assert_eq!(event_id(b""), "cbf29ce484222325");
        assert_eq!(event_id(b"a"), "af63dc4c8601ec8c");
        assert_eq!(event_id(b"foobar"), "85944171f73967e8");
    }

    proptest! {
        #[test]
        fn is_deterministic_and_sixteen_hex_digits(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let id = event_id(&bytes);
            prop_assert_eq!(id.len(), 16);
            prop_assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            prop_assert_eq!(id, event_id(&bytes));
        }
    }
}
