//! Fault injection with librdkafka's in-process mock cluster: produce errors and a broker
//! outage while the shipped default pipeline runs. The pipeline retries, loses nothing and
//! finishes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use palisade::demo::{load_pipeline_with, publish_generated, read_topic};
use palisade::runtime::Topology;
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use tokio_util::sync::CancellationToken;

const EVENTS: u64 = 3000;

fn distinct_ids(brokers: &str, topic: &str) -> BTreeSet<String> {
    read_topic(brokers, topic, usize::MAX, Duration::from_millis(500))
        .unwrap()
        .iter()
        .map(|p| {
            serde_json::from_slice::<serde_json::Value>(p).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Runs the default pipeline against `cluster`; `during` is called once some output exists;
/// returns when every event reached the redacted topic.
fn run_with_fault(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    during: impl FnOnce(),
) {
    let brokers = cluster.bootstrap_servers();
    let pipeline = load_pipeline_with(
        &common::root().join("pipelines/default.toml"),
        &[("PALISADE_BROKERS", brokers.clone()), ("PALISADE_GROUP", "faults".into())],
    )
    .unwrap();
    for (_, topic, _) in pipeline.kafka_topics() {
        cluster.create_topic(&topic, 6, 1).unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let published =
        rt.block_on(publish_generated(&brokers, "agent.interactions", EVENTS, 3)).unwrap();
    assert_eq!(published, EVENTS);

    let topology = Topology::build(&pipeline).unwrap();
    let shutdown = CancellationToken::new();
    let run = rt.spawn(topology.run(shutdown.clone()));
    let start = Instant::now();
    while distinct_ids(&brokers, "agent.interactions.redacted").is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "no output before the fault");
    }
    during();
    let mut ids = BTreeSet::new();
    while ids.len() < EVENTS as usize {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "only {} of {EVENTS} events delivered",
            ids.len()
        );
        ids = distinct_ids(&brokers, "agent.interactions.redacted");
    }
    shutdown.cancel();
    let report = rt.block_on(run).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(ids.len(), EVENTS as usize, "nothing lost");
}

#[test]
fn produce_errors_are_retried_and_nothing_is_lost() {
    let cluster = MockCluster::new(3).unwrap();
    run_with_fault(&cluster, || {
        // The next produce requests fail with retriable broker errors.
        let errors = [
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        ];
        let many: Vec<RDKafkaRespErr> = errors.iter().copied().cycle().take(40).collect();
        cluster.request_errors(RDKafkaApiKey::Produce, &many);
    });
}

#[test]
fn a_broker_outage_delays_but_loses_nothing() {
    let cluster = MockCluster::new(3).unwrap();
    run_with_fault(&cluster, || {
        // The outage window itself is the fault: a fixed duration by design.
        cluster.broker_down(2).unwrap();
        cluster.broker_down(3).unwrap();
        std::thread::sleep(Duration::from_secs(3));
        cluster.broker_up(2).unwrap();
        cluster.broker_up(3).unwrap();
    });
}

#[test]
fn undeliverable_messages_are_never_committed() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let pipeline = load_pipeline_with(
        &common::root().join("pipelines/default.toml"),
        &[("PALISADE_BROKERS", brokers.clone()), ("PALISADE_GROUP", "undeliverable".into())],
    )
    .unwrap();
    for (_, topic, _) in pipeline.kafka_topics() {
        cluster.create_topic(&topic, 4, 1).unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(publish_generated(&brokers, "agent.interactions", EVENTS, 4)).unwrap();
    // Every produce request from now on is refused with a permanent error.
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 10_000],
    );

    let topology = Topology::build(&pipeline).unwrap();
    let report = rt.block_on(topology.run(CancellationToken::new()));
    assert!(!report.errors.is_empty(), "the pipeline stops with an error when it cannot deliver");

    cluster.clear_request_errors(RDKafkaApiKey::Produce);
    let delivered = distinct_ids(&brokers, "agent.interactions.redacted").len() as i64;
    let consumer: BaseConsumer = palisade::kafka::client_config(&brokers, &Default::default())
        .set("group.id", "undeliverable")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..4 {
        tpl.add_partition("agent.interactions", p);
    }
    let committed: i64 = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap()
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
        .sum();
    assert!(
        committed <= delivered,
        "committed {committed} events but only {delivered} were delivered"
    );
    assert!(committed < EVENTS as i64);
}
