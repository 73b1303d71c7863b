//! The HTTP client of the bench tools: it sends `BENCH_API_TOKEN` (set by the bench
//! scripts, whose services take its digest) as the bearer key of every request.

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

/// The variable holding the token the bench tools send.
pub const TOKEN_VAR: &str = "BENCH_API_TOKEN";

/// A client sending `Authorization: Bearer $BENCH_API_TOKEN` when that variable is set.
pub fn api_client() -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    if let Ok(token) = std::env::var(TOKEN_VAR) {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}
