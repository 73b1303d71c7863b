//! Topic administration against a real broker: missing topics are created with the
//! configured partitions; existing ones that differ are reported, never changed.

use obs_kafka::topics::{ensure_topics, TopicOutcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_missing_topics_and_reports_existing_ones_that_differ() {
    let kafka = obs_testkit::kafka();
    let topics = obs_testkit::unique_topics();
    let created = ensure_topics(&kafka, "topics-test", &topics).await.unwrap();
    assert_eq!(created.len(), topics.all().len());
    assert!(
        created.iter().all(|(_, o)| *o == TopicOutcome::Created),
        "{created:?}"
    );

    let again = ensure_topics(&kafka, "topics-test", &topics).await.unwrap();
    assert!(
        again.iter().all(|(_, o)| *o == TopicOutcome::Matches),
        "{again:?}"
    );

    let mut other = topics.clone();
    other.raw_logs.partitions = 6;
    other.alerts.retention_ms = 12_345;
    let outcomes = ensure_topics(&kafka, "topics-test", &other).await.unwrap();
    let outcome = |name: &str| {
        outcomes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o.clone())
            .unwrap()
    };
    match outcome(&topics.raw_logs.name) {
        TopicOutcome::Differs(why) => {
            assert!(why[0].contains("has 3 partitions, configured 6"), "{why:?}")
        }
        other => panic!("{other:?}"),
    }
    match outcome(&topics.alerts.name) {
        TopicOutcome::Differs(why) => assert!(
            why[0].contains("retention.ms=86400000, configured 12345"),
            "{why:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome(&topics.dead_letters.name), TopicOutcome::Matches);
}
