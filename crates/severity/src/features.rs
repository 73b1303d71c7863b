//! A message's features: its words, hashed into a fixed number of buckets (the hashing
//! trick), so the model needs no vocabulary and its size is fixed. Pairs of adjacent words
//! were tried too and did worse on the held-out part: this corpus is too small for them.
//!
//! Words are lower-cased runs of letters and digits. Numbers and identifiers vary from one
//! event to the next and say nothing of severity, so a word with a digit becomes one
//! placeholder, except three-digit numbers, which are mostly HTTP statuses (`404`, `503`).

use obs_records::log_event::fnv1a_64;

/// Buckets: enough that the corpus's words rarely collide, few enough that the
/// dense training matrix (examples × buckets, one byte each) stays small.
pub const DIMENSION: usize = 1 << 13;

/// Stands for any other word with a digit in it.
const NUMBER: &str = "#";

/// Appends the bucket of every word of `message` to `buckets` (a bucket appears once per
/// occurrence).
pub fn hashed_features(message: &str, buckets: &mut Vec<usize>) {
    let mut word = String::new();
    for raw in message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        word.clear();
        let is_status = raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_digit());
        if !is_status && raw.chars().any(|c| c.is_numeric()) {
            word.push_str(NUMBER);
        } else {
            word.extend(raw.chars().flat_map(char::to_lowercase));
        }
        buckets.push(bucket(fnv1a_64(word.as_bytes())));
    }
}

fn bucket(hash: u64) -> usize {
    // Fold the high bits in: FNV's low bits alone mix less well.
    ((hash ^ (hash >> 29)) as usize) & (DIMENSION - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(message: &str) -> Vec<usize> {
        let mut buckets = Vec::new();
        hashed_features(message, &mut buckets);
        buckets
    }

    #[test]
    fn words_are_counted() {
        assert_eq!(features("Disk is full").len(), 3);
        assert_eq!(features("full full").len(), 2);
        assert!(features("").is_empty());
        assert!(features(" -- !! ").is_empty());
        assert_eq!(features("timeout").len(), 1);
    }

    #[test]
    fn case_punctuation_and_identifiers_do_not_matter() {
        assert_eq!(features("Disk FULL!"), features("disk full"));
        assert_eq!(
            features("object 1204 failed"),
            features("object 88 failed"),
            "numbers other than three digits are one placeholder"
        );
        assert_ne!(features("HTTP 503"), features("HTTP 200"));
    }

    #[test]
    fn buckets_are_in_range() {
        let message = "Ünïcödé text, 日本語 and emoji 🙂 with id=7f3c2a";
        assert!(features(message).iter().all(|b| *b < DIMENSION));
    }
}
