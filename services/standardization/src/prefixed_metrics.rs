//! A second stage loop's metrics in the service's one registry.
//!
//! The stage loop registers its metrics under fixed names, once per registry; the
//! log-event loop registers them in a registry of its own whose names carry a prefix
//! (`app_logs_stage_records_consumed_total`...), and that registry is gathered with the
//! service's, so `/metrics` shows both loops and the runs' series keep their names.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::Registry;

/// The prefix of the log-event loop's stage metrics.
pub const APP_LOGS_PREFIX: &str = "app_logs";

/// A registry gathered as one collector of another.
#[derive(Clone)]
pub struct PrefixedRegistry(Registry);

impl PrefixedRegistry {
    /// A registry whose metric names start with `prefix_`.
    pub fn new(prefix: &str) -> Result<Self, prometheus::Error> {
        Ok(PrefixedRegistry(Registry::new_custom(
            Some(prefix.to_owned()),
            None,
        )?))
    }

    pub fn registry(&self) -> &Registry {
        &self.0
    }
}

impl Collector for PrefixedRegistry {
    /// None: the names are checked for clashes by the inner registry, and the prefix keeps
    /// them apart from the outer one's.
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.gather()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::IntCounter;

    #[test]
    fn inner_metrics_are_gathered_with_their_prefix() {
        let outer = Registry::new();
        let inner = PrefixedRegistry::new(APP_LOGS_PREFIX).unwrap();
        let counter = IntCounter::new("stage_records_consumed_total", "help").unwrap();
        inner
            .registry()
            .register(Box::new(counter.clone()))
            .unwrap();
        let same_name = IntCounter::new("stage_records_consumed_total", "help").unwrap();
        outer.register(Box::new(same_name)).unwrap();
        outer.register(Box::new(inner.clone())).unwrap();
        counter.inc_by(3);
        let names: Vec<String> = outer.gather().iter().map(|f| f.name().to_owned()).collect();
        assert_eq!(
            names,
            [
                "app_logs_stage_records_consumed_total",
                "stage_records_consumed_total"
            ]
        );
    }
}
