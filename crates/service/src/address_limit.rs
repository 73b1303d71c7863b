//! A rate limit per client address for the requests that carry no key: the open
//! endpoints (`/metrics`, `/openapi.json`, the console's pages) and the attempts without a
//! key, which the per-key buckets of [`crate::auth`] cannot see. The health probes are
//! never limited (an orchestrator's probe must not be refused as a flood).
//!
//! The address is the TCP peer's: behind a reverse proxy every client is the proxy, so
//! the limit then applies to the proxy as a whole (the README says so). Memory is bounded:
//! at most [`MAX_ADDRESSES`] buckets; past it the buckets of addresses back to a full
//! burst are dropped, and when none can be, a new address is refused until some can.

use crate::http::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Most client addresses with a bucket of their own.
pub const MAX_ADDRESSES: usize = 10_000;

/// Which client sent a request: the connection's peer, set by [`crate::serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The buckets, one per client address.
pub struct AddressLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    rate_per_second: u32,
}

impl AddressLimit {
    /// `rate_per_second` sustained and `burst` at once per address (0 is read as 1).
    pub fn new(rate_per_second: u32, burst: u32) -> Arc<Self> {
        let rate = NonZeroU32::new(rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Arc::new(AddressLimit {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            rate_per_second: rate.get(),
        })
    }

    /// `Err` with how long to wait when `address` is over its rate (or there is no room
    /// for its bucket).
    fn check(&self, address: IpAddr) -> Result<(), Duration> {
        if self.limiter.len() >= MAX_ADDRESSES {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
            if self.limiter.len() >= MAX_ADDRESSES {
                return Err(Duration::from_secs(1));
            }
        }
        self.limiter
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Middleware: limits a request without a key by its client address.
pub async fn limit_by_address(
    State(limit): State<Arc<AddressLimit>>,
    request: Request,
    next: Next,
) -> Response {
    let keyless = !request.headers().contains_key(header::AUTHORIZATION);
    let probe = request.uri().path().starts_with("/health");
    let address = request.extensions().get::<ClientAddress>().copied();
    if let (true, false, Some(ClientAddress(address))) = (keyless, probe, address) {
        if let Err(wait) = limit.check(address) {
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "more than {} requests per second without a key from this address; retry later",
                    limit.rate_per_second
                ),
            );
            error.retry_after = Some(wait);
            return error.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn each_address_has_its_own_bucket() {
        let limit = AddressLimit::new(1, 2);
        let (a, b) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        assert!(limit.check(a).is_ok());
        assert!(limit.check(a).is_ok());
        let wait = limit.check(a).expect_err("a's burst is spent");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limit.check(b).is_ok(), "b is not a");
    }

    #[test]
    fn the_buckets_are_bounded() {
        let limit = AddressLimit::new(1, 1);
        for n in 0..MAX_ADDRESSES as u32 {
            assert!(limit.check(IpAddr::V4(Ipv4Addr::from(n))).is_ok());
        }
        // Every bucket is spent (none can be dropped): a new address waits.
        let newcomer = IpAddr::V4(Ipv4Addr::from(u32::MAX));
        assert!(limit.check(newcomer).is_err());
        assert!(limit.limiter.len() <= MAX_ADDRESSES);
    }
}
