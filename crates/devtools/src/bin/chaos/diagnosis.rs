//! What the report says of each stage when a blow's output did not come back in time
//! (processing's output waits on standardization's, so both are shown): its own account
//! (its loop's status, its health's reasons), where the harness's reader stands in its
//! output against the broker's high watermarks, and the warnings of its log since the
//! blow.

use crate::services::Stage;
use crate::watch::Watch;
use obs_devtools::chaos::warnings;

/// The fields of a stage loop's status that say where it stands.
const STAGE_FIELDS: &[&str] = &[
    "running",
    "phase",
    "assigned_partitions",
    "lag",
    "records_consumed",
    "records_produced",
    "transactions_committed",
    "transactions_aborted",
    "last_error",
    "last_commit_at",
];

/// Distinct warnings of the log shown.
const WARNINGS: usize = 3;

/// The lines on `stage`, whose output is `output`; its log from byte `log_from` (where it
/// stood at the blow).
pub async fn diagnose(
    http: &reqwest::Client,
    stage: &Stage,
    token: &str,
    log_from: u64,
    watch: &Watch,
    output: &str,
) -> Vec<String> {
    let name = stage.target.name();
    let mut lines = vec![
        match loop_status(http, stage, token).await {
            Ok(status) => format!("{name}'s loop: {status}"),
            Err(e) => format!("{name}'s status: unavailable ({e:#})"),
        },
        match health_reasons(http, stage).await {
            Ok(reasons) => format!("{name}'s health: {reasons}"),
            Err(e) => format!("{name}'s health: unavailable ({e:#})"),
        },
    ];
    let positions = tokio::task::block_in_place(|| watch.positions(output));
    let positions: Vec<String> = positions
        .into_iter()
        .map(|(partition, read, high)| {
            let read = read.map_or("nothing".into(), |o| o.to_string());
            let high = high.map_or_else(|e| format!("? ({e})"), |h| h.to_string());
            format!("{partition}: {read} of {high}")
        })
        .collect();
    lines.push(format!(
        "{output} read_committed by the harness (partition: offset reached of the high \
         watermark): {}",
        positions.join(", ")
    ));
    for (count, text) in warnings(&stage.log_since(log_from), WARNINGS) {
        lines.push(format!("{name}'s log since the blow: {count}x {text}"));
    }
    lines
}

/// The stage loop's part of `/status`, its telling fields only.
async fn loop_status(
    http: &reqwest::Client,
    stage: &Stage,
    token: &str,
) -> anyhow::Result<serde_json::Value> {
    let status = stage.read(http, "/status", token).await?;
    let picked: serde_json::Map<String, serde_json::Value> = STAGE_FIELDS
        .iter()
        .filter_map(|field| {
            let value = status["stage"].get(*field)?;
            Some(((*field).to_owned(), value.clone()))
        })
        .collect();
    Ok(picked.into())
}

/// Why `/health` says the stage is not ready (`[]`: it says it is).
async fn health_reasons(http: &reqwest::Client, stage: &Stage) -> anyhow::Result<String> {
    let health: serde_json::Value = http.get(stage.url("/health")).send().await?.json().await?;
    Ok(health["reasons"].to_string())
}
