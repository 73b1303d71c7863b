//! DEV ONLY: hosts librdkafka's mock cluster for `make demo`.
//!
//! A Kafka-protocol broker in this process (real TCP on 127.0.0.1, data in memory), so the
//! demo runs on a machine with only Rust installed. It is not Apache Kafka: nothing a user
//! relies on runs on it, and every test uses a real broker (`make kafka-up`).
//!
//! The mock's admin API does not create topics, so the stack's topics are created here
//! through the mock's own API. Prints the bootstrap address on stdout (and into the file
//! given as first argument), then runs until SIGTERM or Ctrl-C.

use anyhow::Context;
use obs_kafka::TopicsConfig;
use rdkafka::mocking::MockCluster;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cluster = MockCluster::new(1).context("starting the mock cluster")?;
    for topic in TopicsConfig::default().all() {
        cluster
            .create_topic(&topic.name, topic.partitions, 1)
            .with_context(|| format!("creating topic {}", topic.name))?;
    }
    let bootstrap = cluster.bootstrap_servers();
    if let Some(path) = std::env::args().nth(1) {
        std::fs::write(&path, &bootstrap).with_context(|| format!("writing {path}"))?;
    }
    println!("{bootstrap}");
    eprintln!(
        "mock-kafka: DEV ONLY librdkafka mock cluster at {bootstrap} (in memory, not Apache Kafka)"
    );
    tokio::signal::ctrl_c().await.ok();
    Ok(())
}
