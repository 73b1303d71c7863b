//! The API key of the test stacks: one fixed token granted every scope, so a test that is
//! not about keys sends the same header everywhere. The tests of the keys themselves make
//! keys of their own.

use obs_service::auth::{digest_hex, AuthConfig};

/// The token of every test stack.
pub const TEST_TOKEN: &str = "obs-test-token-granted-every-scope";

/// The `Authorization` header carrying [`TEST_TOKEN`].
pub fn bearer() -> String {
    format!("Bearer {TEST_TOKEN}")
}

/// An `auth` section granting [`TEST_TOKEN`] every scope, with the default rate limit.
pub fn auth() -> AuthConfig {
    let digest = digest_hex(TEST_TOKEN);
    AuthConfig {
        ingest_key_hashes: vec![digest.clone()],
        read_key_hashes: vec![digest.clone()],
        operate_key_hashes: vec![digest],
        ..AuthConfig::default()
    }
}

/// [`auth`] as the environment of a service binary.
pub fn auth_env() -> [(&'static str, String); 3] {
    let digest = digest_hex(TEST_TOKEN);
    [
        ("OBS_AUTH__INGEST_KEY_HASHES", digest.clone()),
        ("OBS_AUTH__READ_KEY_HASHES", digest.clone()),
        ("OBS_AUTH__OPERATE_KEY_HASHES", digest),
    ]
}
