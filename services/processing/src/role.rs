//! The roles a processing instance can take (`role` in the config).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which parts of processing an instance runs. The stages hold the detectors and the
/// incidents' book; the views hold what the console and the read APIs answer from. Split,
/// each kind of instance scales, restarts and is sized apart from the other, and the
/// stages' memory does not carry the views' (docs/design.md, "Roles").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Both, in one process.
    #[default]
    All,
    /// The run, error-rate and incident stages with their checkpoints; `/detector/retrain`
    /// and `/dead-letters/replay`.
    Stages,
    /// The followers of what the stages wrote (analytics, trace index, incident view and
    /// notifier, log index); the console, the read APIs and the incident commands.
    Views,
}

impl Role {
    pub fn runs_stages(self) -> bool {
        matches!(self, Role::All | Role::Stages)
    }

    pub fn serves_views(self) -> bool {
        matches!(self, Role::All | Role::Views)
    }
}
