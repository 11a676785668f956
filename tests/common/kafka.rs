//! A real Kafka-protocol broker (Tansu) per test, on a free loopback port, plus helpers to
//! read topics and committed offsets with the same client library users run.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade::kafka::{KafkaOptions, TopicSpec, client_config, create_topics};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

fn tansu() -> PathBuf {
    if let Ok(path) = std::env::var("PALISADE_TANSU") {
        return path.into();
    }
    let home = std::env::var("HOME").unwrap_or_default();
    for candidate in [PathBuf::from(&home).join(".cargo/bin/tansu")] {
        if candidate.exists() {
            return candidate;
        }
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v tansu"]).output()
        && out.status.success()
    {
        return String::from_utf8_lossy(&out.stdout).trim().into();
    }
    panic!(
        "the Tansu broker is not installed: run `scripts/kafka-dev.sh install` (scripts/test.sh does it)"
    );
}

/// A running broker, killed on drop.
pub struct Broker {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Broker {
    /// Starts Tansu with in-memory storage.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(tansu())
            .current_dir(dir.path())
            .args(["broker", "--listener-url", &format!("tcp://{addr}")])
            .args(["--advertised-listener-url", &format!("tcp://{addr}")])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let broker = Self { child, addr, _dir: dir };
        let start = Instant::now();
        while TcpStream::connect(&broker.addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "tansu did not listen on {}",
                broker.addr
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    /// Creates topics with the admin API.
    pub fn create_topics(&self, topics: &[(&str, i32)]) {
        let specs: Vec<(String, TopicSpec)> = topics
            .iter()
            .map(|(t, p)| (t.to_string(), TopicSpec { partitions: *p, replication_factor: 1 }))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(create_topics(&self.addr, &KafkaOptions::default(), &specs)).unwrap();
    }

    fn consumer(&self, group: &str) -> BaseConsumer {
        client_config(&self.addr, &KafkaOptions::default())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap()
    }

    fn partitions(&self, consumer: &BaseConsumer, topic: &str) -> i32 {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
        metadata.topics()[0].partitions().len() as i32
    }

    /// Reads every message of `topic` until `expected` have arrived or nothing came for
    /// `idle` (whichever is first), returning the payloads.
    pub fn read_all(&self, topic: &str, expected: usize, idle: Duration) -> Vec<Vec<u8>> {
        let consumer = self.consumer("test-reader");
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions(&consumer, topic) {
            tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let mut out = Vec::new();
        let mut last = Instant::now();
        while out.len() < expected && last.elapsed() < idle {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                out.push(m.payload().unwrap_or_default().to_vec());
                last = Instant::now();
            }
        }
        out
    }

    /// Per partition, one past the last offset present, found by reading the topic.
    /// (Tansu 0.6 reports high watermarks per record batch, not per record, so they cannot
    /// be compared with committed offsets.)
    pub fn end_offsets(&self, topic: &str) -> BTreeMap<i32, i64> {
        let consumer = self.consumer("test-end-offsets");
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions(&consumer, topic) {
            tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let mut ends = BTreeMap::new();
        let mut last = Instant::now();
        while last.elapsed() < Duration::from_secs(2) {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                ends.insert(m.partition(), m.offset() + 1);
                last = Instant::now();
            }
        }
        ends
    }

    /// Per partition, the committed offset of `group` (None: nothing committed).
    pub fn committed(&self, group: &str, topic: &str) -> BTreeMap<i32, Option<i64>> {
        let consumer = self.consumer(group);
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions(&consumer, topic) {
            tpl.add_partition(topic, p);
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
        committed
            .elements()
            .iter()
            .map(|e| {
                let offset = match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                };
                (e.partition(), offset)
            })
            .collect()
    }
}
