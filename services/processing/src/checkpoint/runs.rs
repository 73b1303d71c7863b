//! The run stage's checkpointed state: each series' detector state in the stage's bank.

use super::config::CheckpointConfig;
use super::error::CheckpointError;
use super::state::{CheckpointNames, Checkpointed};
use chrono::Utc;
use obs_detector::{DetectorBank, DetectorConfig, ProcessedRecord, RulesConfig};
use obs_kafka::sync::lock;
use obs_kafka::{TopicSpec, TopicsConfig};
use obs_records::standardize::StandardizedRecord;
use std::sync::Mutex;

/// How the stage reads a run from its payload (the same for a run replayed).
pub type ReadRun = fn(Option<&[u8]>) -> Result<StandardizedRecord, String>;

/// The run stage's series: saved as the bank saves them, replayed as the stage scores.
pub struct RunState {
    detector: DetectorConfig,
    rules: RulesConfig,
    read_run: ReadRun,
}

impl RunState {
    pub fn new(detector: &DetectorConfig, rules: &RulesConfig, read_run: ReadRun) -> Self {
        RunState {
            detector: detector.clone(),
            rules: rules.clone(),
            read_run,
        }
    }
}

impl Checkpointed for RunState {
    type Live<'a> = &'a Mutex<DetectorBank>;
    type Apart = DetectorBank;
    type Input = StandardizedRecord;

    const NAMES: CheckpointNames = CheckpointNames {
        metrics: "detector",
        keys: "series",
        inputs: "runs",
        stage: "run stage",
        restore_client: "processing-detector-restore",
    };

    fn topics(topics: &TopicsConfig) -> (&TopicSpec, &TopicSpec) {
        (&topics.detector_state, &topics.standardized_logs)
    }

    fn interval_records(config: &CheckpointConfig) -> i64 {
        config.interval_records
    }

    fn read(&self, payload: Option<&[u8]>) -> Option<(String, StandardizedRecord)> {
        let run = (self.read_run)(payload).ok()?;
        Some((run.series_key.clone(), run))
    }

    fn apart(&self) -> Result<DetectorBank, CheckpointError> {
        DetectorBank::new(self.detector.clone())
            .map_err(|error| CheckpointError::State(error.to_string()))
    }

    fn restore(&self, apart: &mut DetectorBank, key: &str, saved: &[u8]) -> Result<(), String> {
        apart
            .restore_series(key, saved)
            .map_err(|error| error.to_string())
    }

    fn replay(&self, apart: &mut DetectorBank, run: StandardizedRecord) {
        ProcessedRecord::assess(run, &self.rules, apart, Utc::now());
    }

    fn held(apart: &DetectorBank) -> usize {
        apart.len()
    }

    fn save(&self, live: &mut &Mutex<DetectorBank>, key: &str, out: &mut Vec<u8>) -> bool {
        lock(live).save_series(key, out)
    }

    fn absorb(&self, live: &mut &Mutex<DetectorBank>, apart: DetectorBank) -> Result<(), String> {
        lock(live)
            .absorb(apart)
            .map(drop)
            .map_err(|error| error.to_string())
    }

    fn clear(live: &mut &Mutex<DetectorBank>) {
        lock(live).clear();
    }
}
