//! Why runs fail, and what the connectors then write in `Description`.
//!
//! The connectors log `str(exception)` of whatever Python raised, so descriptions are
//! `requests` / `urllib3` messages, bare `KeyError` keys (`'id'`), JSON decoding errors...
//! Each cause also shapes the run: a timeout lasts at least the 30 s read timeout, a
//! refused token fails within a second, a missing key fails after most of the work.

use crate::catalog;
use crate::fleet::ObjectProfile;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A failure: its cause, and which of the cause's texts it shows. The variant is drawn
/// once per failure so that every object hit by one outage reports the same error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub cause: Cause,
    variant: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A key missing from an API response, or a column missing from a frame.
    MissingField,
    ReadTimeout,
    /// Expired or revoked OAuth token.
    Unauthorized,
    RateLimited,
    ConnectionReset,
    ServerError,
    /// DNS or network down: `urllib3` gives up after its retries.
    NameResolution,
    /// An HTML error page or an empty body where JSON was expected.
    BadJson,
}

/// Causes of isolated failures, with their relative frequencies.
const ISOLATED: [(Cause, f64); 8] = [
    (Cause::MissingField, 0.25),
    (Cause::ReadTimeout, 0.25),
    (Cause::RateLimited, 0.15),
    (Cause::ConnectionReset, 0.12),
    (Cause::Unauthorized, 0.08),
    (Cause::ServerError, 0.08),
    (Cause::BadJson, 0.04),
    (Cause::NameResolution, 0.03),
];

/// Causes that take down every object of a source at once.
const OUTAGE: [(Cause, f64); 4] = [
    (Cause::Unauthorized, 0.4),
    (Cause::ServerError, 0.25),
    (Cause::ReadTimeout, 0.2),
    (Cause::NameResolution, 0.15),
];

/// A failure hitting one object alone; flaky objects mostly repeat their own.
pub(crate) fn isolated(object: &ObjectProfile, rng: &mut ChaCha8Rng) -> Failure {
    let cause = if object.signature_error.is_some() && rng.random::<f64>() < 0.7 {
        Cause::MissingField
    } else {
        pick(&ISOLATED, rng)
    };
    Failure {
        cause,
        variant: rng.random(),
    }
}

/// A failure hitting a whole source for one sequence.
pub(crate) fn outage(rng: &mut ChaCha8Rng) -> Failure {
    Failure {
        cause: pick(&OUTAGE, rng),
        variant: rng.random(),
    }
}

fn pick(weighted: &[(Cause, f64)], rng: &mut ChaCha8Rng) -> Cause {
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random::<f64>() * total;
    for (cause, weight) in weighted {
        if roll < *weight {
            return *cause;
        }
        roll -= weight;
    }
    Cause::MissingField
}

/// Seconds a failed run lasts, given the object's expected duration.
pub(crate) fn failed_duration(cause: Cause, expected: f64, rng: &mut ChaCha8Rng) -> f64 {
    match cause {
        Cause::MissingField | Cause::BadJson => expected * rng.random_range(0.2..1.0),
        Cause::ReadTimeout => {
            let attempts = f64::from(rng.random_range(1..=3u32));
            expected * rng.random_range(0.0..0.5) + 30.0 * attempts + rng.random_range(0.05..0.5)
        }
        Cause::Unauthorized => rng.random_range(0.15..1.2),
        Cause::RateLimited => rng.random_range(0.2..2.5),
        Cause::ConnectionReset => {
            expected * rng.random_range(0.05..0.8) + rng.random_range(0.0..2.0)
        }
        Cause::ServerError => rng.random_range(0.3..5.0),
        Cause::NameResolution => rng.random_range(0.1..8.0),
    }
}

/// The `Description` of a failed run, as `str(exception)` would print it.
pub(crate) fn description(failure: Failure, object: &ObjectProfile) -> String {
    let (host, path) = catalog::endpoint(object.source.name, &object.company, &object.name);
    let url = format!("https://{host}{path}");
    let variant = failure.variant;
    match failure.cause {
        Cause::MissingField => match &object.signature_error {
            Some(text) => text.clone(),
            None => {
                let keys = object.source.response_keys;
                format!("'{}'", keys[variant as usize % keys.len()])
            }
        },
        Cause::ReadTimeout => {
            format!(
                "HTTPSConnectionPool(host='{host}', port=443): Read timed out. (read timeout=30)"
            )
        }
        Cause::Unauthorized => match variant % 3 {
            0 => format!("401 Client Error: Unauthorized for url: {url}"),
            1 => "{'error': 'invalid_token', 'error_description': 'The access token expired'}"
                .to_string(),
            _ => format!(
                "Token refresh failed for {host}: 401 Client Error: Unauthorized (invalid_token)"
            ),
        },
        Cause::RateLimited => match variant % 2 {
            0 => format!("429 Client Error: Too Many Requests for url: {url}"),
            _ => format!(
                "Rate limit exceeded on {host}: 429 Too Many Requests, Retry-After: {}",
                5 + (variant >> 1) % 116
            ),
        },
        Cause::ConnectionReset => {
            "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"
                .to_string()
        }
        Cause::ServerError => {
            let (code, reason) = match variant % 3 {
                0 => (500, "Internal Server Error"),
                1 => (502, "Bad Gateway"),
                _ => (503, "Service Unavailable"),
            };
            format!("{code} Server Error: {reason} for url: {url}")
        }
        Cause::NameResolution => format!(
            "HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: {path} \
             (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at \
             0x7f{:010x}>: Failed to resolve '{host}' ([Errno -3] Temporary failure in name \
             resolution)\"))",
            // The object's address differs per process, so per object and run.
            ((u64::from(variant) << 8) ^ object.id.unsigned_abs()) & 0xff_ffff_ffff
        ),
        Cause::BadJson => "Expecting value: line 1 column 1 (char 0)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SOURCES;
    use rand::SeedableRng;

    fn object(signature_error: Option<&str>) -> ObjectProfile {
        ObjectProfile {
            company: "akonovia".into(),
            source: &SOURCES[0],
            name: "Ventes".into(),
            id: 1320,
            duration_median: 10.0,
            duration_sigma: 0.2,
            memory_median: 1e6,
            memory_sigma: 0.3,
            cpu_ratio: 0.1,
            failure_weight: 1.0,
            signature_error: signature_error.map(str::to_string),
        }
    }

    #[test]
    fn timeouts_last_at_least_the_read_timeout() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            assert!(failed_duration(Cause::ReadTimeout, 10.0, &mut rng) >= 30.0);
            assert!(failed_duration(Cause::Unauthorized, 10.0, &mut rng) < 2.0);
        }
    }

    #[test]
    fn one_outage_shows_one_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..50 {
            let failure = outage(&mut rng);
            let first = description(failure, &object(None));
            let again = description(failure, &object(None));
            assert_eq!(first, again);
            assert!(!first.is_empty());
        }
    }

    #[test]
    fn flaky_objects_repeat_their_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let flaky = object(Some("'id'"));
        let repeated = (0..200)
            .map(|_| description(isolated(&flaky, &mut rng), &flaky))
            .filter(|text| text == "'id'")
            .count();
        assert!(repeated > 100, "{repeated}");
    }
}
