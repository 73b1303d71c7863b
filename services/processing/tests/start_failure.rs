//! A processing service whose loops cannot start ends with an error saying why, so that
//! its supervisor starts it again, rather than serving on without them (it did, alive and
//! idle, until something killed it). Here the loops cannot start because the detector
//! checkpoints' topic has fewer partitions than `standardized-logs`, which the checkpoints
//! refuse: the same path as a broker that answers the topics' preparation and then
//! fails the checkpoints' check.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longer than the topics' preparation and the check take on a loaded machine.
const EXIT_WITHIN: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread")]
async fn processing_ends_when_its_loops_cannot_start() {
    let kafka = obs_testkit::kafka();
    let topics = obs_testkit::unique_topics();
    let mut skewed = (*topics).clone();
    skewed.detector_state.partitions = 1;
    obs_kafka::topics::ensure_topics(&kafka, "test", &skewed)
        .await
        .expect("creating the test's topics");

    let mut child = Command::new(env!("CARGO_BIN_EXE_processing"))
        .envs(obs_testkit::topic_env(&topics))
        .envs(obs_testkit::auth_env())
        .env("KAFKA_BOOTSTRAP_SERVERS", &kafka.bootstrap_servers)
        .env("OBS_HTTP__LISTEN", "127.0.0.1:0")
        .env("OBS_TOPICS__REPLICATION_FACTOR", "1")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the processing binary");
    let deadline = Instant::now() + EXIT_WITHIN;
    while child.try_wait().expect("waiting for processing").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("processing still runs {EXIT_WITHIN:?} after its loops could not start");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let exited = child.wait_with_output().expect("reading its output");
    let status = exited.status;
    let output = String::from_utf8_lossy(&[exited.stdout, exited.stderr].concat()).into_owned();
    assert!(!status.success(), "ends with an error: {status}\n{output}");
    assert!(
        output.contains("the loops could not start")
            && output.contains(&skewed.detector_state.name),
        "says why, naming the topic: {output}"
    );
}
