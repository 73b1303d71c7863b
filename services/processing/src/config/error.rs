//! The error of a config section's validation, in a module of its own so the sections
//! can name it without importing the config that gathers them.

use std::fmt;

/// A value of the `analytics`, `alertmanager` or `logs` section that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfig {
    /// `analytics`, `alertmanager` or `logs`.
    pub section: &'static str,
    /// The field of that section at fault.
    pub key: &'static str,
    pub reason: String,
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}: {}", self.section, self.key, self.reason)
    }
}

impl std::error::Error for InvalidConfig {}
