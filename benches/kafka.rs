//! End-to-end throughput and latency of the default pipeline on a real broker.
//!
//! Run through `scripts/bench-kafka.sh`, which starts Tansu on loopback and sets
//! `PALISADE_BROKERS`. Two phases:
//!
//! 1. **Backlog**: N generated events are published first; the pipeline (in this process,
//!    release build) then runs until every event is durable in the redacted topic and its
//!    offset committed. Reported: events/s end to end.
//! 2. **Live**: with the pipeline running, events are published at a fixed rate; for each
//!    alert, latency = its arrival on `palisade.alerts` − the publish time of its event.
//!    Reported: p50 / p99 / max event→alert latency.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palisade::demo::{load_pipeline_with, publish_generated};
use palisade::generate::{GenerateConfig, Generator};
use palisade::kafka::{self, KafkaOptions, TopicSpec};
use palisade::metrics::{Counters, counters};
use palisade::runtime::Topology;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let brokers =
        std::env::var("PALISADE_BROKERS").expect("PALISADE_BROKERS (use scripts/bench-kafka.sh)");
    let events: u64 =
        std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let live_rate: u64 =
        std::env::var("BENCH_LIVE_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let live_secs: u64 =
        std::env::var("BENCH_LIVE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let pipeline = load_pipeline_with(
        &root.join("pipelines/default.toml"),
        &[("PALISADE_BROKERS", brokers.clone()), ("PALISADE_GROUP", "bench".into())],
    )
    .unwrap();
    let topics: Vec<(String, TopicSpec)> =
        pipeline.kafka_topics().into_iter().map(|(_, t, s)| (t, s)).collect();
    rt.block_on(kafka::create_topics(&brokers, &KafkaOptions::default(), &topics)).unwrap();

    // Phase 1: backlog.
    let started = Instant::now();
    let published =
        rt.block_on(publish_generated(&brokers, "agent.interactions", events, 7)).unwrap();
    println!("published {published} events in {:.2}s", started.elapsed().as_secs_f64());
    let topology = Topology::build(&pipeline).unwrap();
    let shutdown = CancellationToken::new();
    let c = counters();
    let start = Instant::now();
    let run = rt.spawn(topology.run(shutdown.clone()));
    let mut first_output = None;
    while Counters::get(&c.interactions_out) < events {
        if first_output.is_none() && Counters::get(&c.interactions_out) > 0 {
            first_output = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let warmup = first_output.unwrap_or_default().as_secs_f64();
    println!(
        "backlog: {events} events durable in {elapsed:.2}s = {:.0} events/s end to end \
         ({:.0} events/s after the first output at {warmup:.2}s: consumer-group join excluded)",
        events as f64 / elapsed,
        events as f64 / (elapsed - warmup).max(1e-9)
    );

    // Phase 2: live latency.
    let alerts_seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let reader = {
        let brokers = brokers.clone();
        let seen = alerts_seen.clone();
        let stop = shutdown.clone();
        std::thread::spawn(move || {
            let consumer: BaseConsumer = kafka::client_config(&brokers, &KafkaOptions::default())
                .set("group.id", "bench-alerts")
                .set("fetch.wait.max.ms", "5")
                .create()
                .unwrap();
            let mut tpl = TopicPartitionList::new();
            let parts = consumer
                .fetch_metadata(Some("palisade.alerts"), Duration::from_secs(10))
                .unwrap()
                .topics()[0]
                .partitions()
                .len();
            for p in 0..parts as i32 {
                tpl.add_partition_offset("palisade.alerts", p, Offset::End).unwrap();
            }
            consumer.assign(&tpl).unwrap();
            while !stop.is_cancelled() {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(20)) {
                    let v: serde_json::Value =
                        serde_json::from_slice(m.payload().unwrap_or_default()).unwrap();
                    let id = v["source_event_id"].as_str().unwrap_or_default().to_owned();
                    seen.lock().unwrap().entry(id).or_insert_with(Instant::now);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1)); // let the reader's assignment settle
    let producer = kafka::producer(
        &brokers,
        &KafkaOptions([("linger.ms".to_owned(), "0".to_owned())].into_iter().collect()),
    )
    .unwrap();
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let total = live_rate * live_secs;
    let config = GenerateConfig { seed: 99, attack_percent: 20, ..GenerateConfig::default() };
    let live_start = Instant::now();
    rt.block_on(async {
        let mut payload = Vec::new();
        let mut futures = Vec::new();
        for (i, g) in Generator::new(config).take(total as usize).enumerate() {
            let due = live_start + Duration::from_secs_f64(i as f64 / live_rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
            payload.clear();
            // Unique ids: the live phase must not collide with the backlog's.
            let mut event = g.interaction;
            event.event_id = format!("live-{i}");
            serde_json::to_writer(&mut payload, &event).unwrap();
            sent.insert(event.event_id.clone(), Instant::now());
            futures.push(
                kafka::send(&producer, "agent.interactions", Some(&event.session_id), &payload)
                    .await
                    .unwrap(),
            );
        }
        for f in futures {
            let _ = f.await;
        }
    });
    let expect_out = events + total;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Counters::get(&c.interactions_out) < expect_out && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    shutdown.cancel();
    let report = rt.block_on(run).unwrap();
    reader.join().unwrap();
    let seen = alerts_seen.lock().unwrap();
    let mut latencies: Vec<f64> = seen
        .iter()
        .filter_map(|(id, at)| sent.get(id).map(|s| at.duration_since(*s).as_secs_f64() * 1e3))
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "live: {total} events at {live_rate}/s, {} alerts: event→alert latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    for e in &report.errors {
        println!("error: {e}");
    }
}
