//! A generated record and its ground truth.

use obs_records::RawRecord;
use serde::{Deserialize, Serialize};

/// Why a run is flagged in the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// `Etat` is `FAILED`.
    Failure,
    /// Duration ×10–50 the object's median.
    SlowRun,
    /// Memory ×8–30 the object's median, and above 100 MB.
    MemorySpike,
    /// Negative `memory_used (bytes)`: a measurement artifact, not a real anomaly of
    /// the job, but one the pipeline must flag.
    NegativeMemory,
    /// CPU time ×10–40 the object's usual share (wall time stretched at most ×3).
    CpuSpike,
}

/// Ground truth of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// `{company}:{No_Sequence}:{Objet_Id}`, as [`RawRecord::record_id`].
    pub record_id: String,
    /// `{company}:{source slug}:{Objet_Id}`, as [`RawRecord::series_key`].
    pub series_key: String,
    /// `true` when `kinds` is not empty.
    pub anomalous: bool,
    pub kinds: Vec<AnomalyKind>,
}

/// One generated record and its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub record: RawRecord,
    pub label: Label,
}
