//! `palisade produce`, `consume` and `topics`: the Kafka side of the command line.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use palisade::generate::{GenerateConfig, Generator};
use palisade::kafka::{self, KafkaOptions, TopicSpec};
use palisade::pipeline::{Pipeline, duration};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::DeliveryFuture;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::thousands;

/// `KEY=VALUE` for `--option`.
fn parse_option(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}`: expected KEY=VALUE (a librdkafka option)"))
}

fn options(pairs: &[(String, String)]) -> KafkaOptions {
    KafkaOptions(pairs.iter().cloned().collect())
}

/// Publish traffic to Kafka: a JSONL file to one topic, or generated interactions and
/// telemetry to their topics. Messages are keyed by `session_id` (telemetry without a
/// session by `agent_id`), so a session stays on one partition, in order.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Bootstrap brokers.
    #[arg(long, env = "PALISADE_BROKERS", default_value = "localhost:9092")]
    brokers: String,
    /// librdkafka option `KEY=VALUE` (repeatable), e.g. `security.protocol=SASL_SSL`.
    #[arg(long = "option", value_parser = parse_option)]
    options: Vec<(String, String)>,
    /// JSONL file to publish, one message per line (`-` for standard input).
    #[arg(long, conflicts_with = "generate", requires = "topic")]
    file: Option<String>,
    /// Topic for `--file`, or for generated interactions [default: agent.interactions].
    #[arg(long)]
    topic: Option<String>,
    /// Generate this many interactions (and as many telemetry records).
    #[arg(long, conflicts_with = "file")]
    generate: Option<u64>,
    /// Seed for `--generate`.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Sessions for `--generate`.
    #[arg(long, default_value_t = 200)]
    sessions: usize,
    /// Topic for generated telemetry.
    #[arg(long, default_value = "agent.telemetry")]
    telemetry_topic: String,
    /// Do not publish generated telemetry.
    #[arg(long)]
    no_telemetry: bool,
}

/// Print messages of a topic as JSONL on standard output (how to read alerts from a
/// terminal). Reads every partition without joining a consumer group.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Bootstrap brokers.
    #[arg(long, env = "PALISADE_BROKERS", default_value = "localhost:9092")]
    brokers: String,
    /// librdkafka option `KEY=VALUE` (repeatable), e.g. `security.protocol=SASL_SSL`.
    #[arg(long = "option", value_parser = parse_option)]
    options: Vec<(String, String)>,
    /// Topic to read.
    #[arg(long)]
    topic: String,
    /// Start at the oldest retained message (default: only new messages).
    #[arg(long)]
    from_beginning: bool,
    /// Stop after this many messages.
    #[arg(long)]
    max: Option<u64>,
    /// Stop when no message arrived for this long (e.g. `5s`); default: run until Ctrl-C.
    #[arg(long, value_parser = duration::parse)]
    idle_timeout: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create topics (existing ones are left alone): every Kafka topic of `--pipeline` with
    /// the partitions and replication of its `[topics]` table, and/or `--topic` names.
    Create {
        /// Bootstrap brokers (default: the pipeline's, else localhost:9092).
        #[arg(long, env = "PALISADE_BROKERS")]
        brokers: Option<String>,
        /// librdkafka option `KEY=VALUE` (repeatable), e.g. `security.protocol=SASL_SSL`.
        #[arg(long = "option", value_parser = parse_option)]
        options: Vec<(String, String)>,
        /// Pipeline file whose topics to create.
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Extra topic to create (repeatable).
        #[arg(long = "topic")]
        topics: Vec<String>,
        /// Partitions for `--topic` topics.
        #[arg(long, default_value_t = 6)]
        partitions: i32,
        /// Replication factor for `--topic` topics.
        #[arg(long, default_value_t = 1)]
        replication_factor: i32,
    },
    /// List topics and their partition counts.
    List {
        /// Bootstrap brokers.
        #[arg(long, env = "PALISADE_BROKERS", default_value = "localhost:9092")]
        brokers: String,
        /// librdkafka option `KEY=VALUE` (repeatable), e.g. `security.protocol=SASL_SSL`.
        #[arg(long = "option", value_parser = parse_option)]
        options: Vec<(String, String)>,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn progress(total: Option<u64>) -> indicatif::ProgressBar {
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bar:30} {pos}/{len} messages ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Awaits delivery futures oldest first, keeping at most `limit` outstanding.
async fn settle(pending: &mut VecDeque<DeliveryFuture>, limit: usize) -> anyhow::Result<u64> {
    let mut delivered = 0;
    while pending.len() > limit {
        let Some(future) = pending.pop_front() else { break };
        match future.await {
            Ok(Ok(_)) => delivered += 1,
            Ok(Err((e, _))) => bail!("a message was not delivered: {e}"),
            Err(_) => bail!("the producer stopped before delivery"),
        }
    }
    Ok(delivered)
}

pub fn produce(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    if args.file.is_none() && args.generate.is_none() {
        bail!("give --file FILE --topic TOPIC, or --generate N");
    }
    let started = Instant::now();
    let producer = kafka::producer(&args.brokers, &options(&args.options))?;
    let bar = progress(args.generate.map(|n| if args.no_telemetry { n } else { 2 * n }));
    let sent = runtime()?.block_on(async {
        let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
        let mut sent = 0u64;
        let mut bytes = 0u64;
        let mut payload = Vec::with_capacity(2048);
        if let Some(n) = args.generate {
            let topic = args.topic.clone().unwrap_or_else(|| "agent.interactions".into());
            let config = GenerateConfig {
                seed: args.seed,
                sessions: args.sessions,
                ..GenerateConfig::default()
            };
            for g in Generator::new(config).take(n as usize) {
                payload.clear();
                serde_json::to_writer(&mut payload, &g.interaction)?;
                bytes += payload.len() as u64;
                pending.push_back(
                    kafka::send(&producer, &topic, Some(&g.interaction.session_id), &payload)
                        .await?,
                );
                sent += 1;
                if !args.no_telemetry {
                    payload.clear();
                    serde_json::to_writer(&mut payload, &g.telemetry)?;
                    bytes += payload.len() as u64;
                    let key = g.telemetry.session_id.as_deref().unwrap_or(&g.telemetry.agent_id);
                    pending.push_back(
                        kafka::send(&producer, &args.telemetry_topic, Some(key), &payload).await?,
                    );
                    sent += 1;
                }
                bar.set_position(sent);
                settle(&mut pending, 50_000).await?;
            }
        } else if let (Some(file), Some(topic)) = (&args.file, &args.topic) {
            let reader: Box<dyn BufRead> = if file == "-" {
                Box::new(BufReader::new(std::io::stdin()))
            } else {
                Box::new(BufReader::new(
                    std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?,
                ))
            };
            for line in reader.split(b'\n') {
                let mut line = line.context("read error")?;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.is_empty() {
                    continue;
                }
                // Key by session when the line is JSON with one; send it as is either way.
                let key = serde_json::from_slice::<serde_json::Value>(&line).ok().and_then(|v| {
                    v.get("session_id")
                        .or_else(|| v.get("agent_id"))
                        .and_then(|s| s.as_str())
                        .map(str::to_owned)
                });
                bytes += line.len() as u64;
                pending.push_back(kafka::send(&producer, topic, key.as_deref(), &line).await?);
                sent += 1;
                bar.set_position(sent);
                settle(&mut pending, 50_000).await?;
            }
        }
        settle(&mut pending, 0).await?;
        anyhow::Ok((sent, bytes))
    })?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "published {} messages ({:.1} MB) in {secs:.2}s: {} messages/s",
        thousands(sent.0),
        sent.1 as f64 / 1e6,
        thousands((sent.0 as f64 / secs.max(1e-9)) as u64)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn consume(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    let consumer: BaseConsumer<kafka::LogContext> =
        kafka::client_config(&args.brokers, &options(&args.options))
            .set("group.id", "palisade-consume-cli")
            .set("enable.auto.commit", "false")
            .create_with_context(kafka::LogContext::default())
            .context("cannot create a consumer")?;
    let metadata =
        consumer.fetch_metadata(Some(&args.topic), Duration::from_secs(10)).with_context(|| {
            format!("cannot read metadata of `{}` from {}", args.topic, args.brokers)
        })?;
    let partitions = metadata.topics().first().map(|t| t.partitions().len()).unwrap_or(0);
    if partitions == 0 {
        bail!(
            "topic `{}` does not exist on {} (create it with `palisade topics create`)",
            args.topic,
            args.brokers
        );
    }
    let mut tpl = TopicPartitionList::new();
    let start = if args.from_beginning { Offset::Beginning } else { Offset::End };
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(&args.topic, p, start)?;
    }
    consumer.assign(&tpl)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut count = 0u64;
    let mut last = Instant::now();
    loop {
        if args.max.is_some_and(|m| count >= m) {
            break;
        }
        if args.idle_timeout.is_some_and(|t| last.elapsed() >= t) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => out.flush()?,
            Some(Err(e)) => tracing::warn!(error = %e, "consume error (retrying)"),
            Some(Ok(message)) => {
                out.write_all(
                    &String::from_utf8_lossy(message.payload().unwrap_or_default())
                        .into_owned()
                        .into_bytes(),
                )?;
                out.write_all(b"\n")?;
                count += 1;
                last = Instant::now();
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn topics(command: TopicsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TopicsCommand::List { brokers, options: pairs } => {
            let topics = kafka::list_topics(&brokers, &options(&pairs), Duration::from_secs(10))?;
            let mut out = std::io::stdout().lock();
            for (name, partitions) in topics {
                writeln!(out, "{name}\t{partitions} partitions")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TopicsCommand::Create {
            brokers,
            options: pairs,
            pipeline,
            topics,
            partitions,
            replication_factor,
        } => {
            let mut wanted: Vec<(String, TopicSpec)> = Vec::new();
            let mut pipeline_brokers = None;
            if let Some(path) = pipeline {
                let pipeline = Pipeline::load(&path)?;
                for (b, topic, spec) in pipeline.kafka_topics() {
                    pipeline_brokers.get_or_insert(b);
                    wanted.push((topic, spec));
                }
            }
            for topic in topics {
                wanted.push((topic, TopicSpec { partitions, replication_factor }));
            }
            if wanted.is_empty() {
                bail!("nothing to create: give --pipeline FILE and/or --topic NAME");
            }
            let brokers = brokers.or(pipeline_brokers).unwrap_or_else(|| "localhost:9092".into());
            let created =
                runtime()?.block_on(kafka::create_topics(&brokers, &options(&pairs), &wanted))?;
            for (topic, spec) in &wanted {
                let state = if created.contains(topic) { "created" } else { "exists" };
                eprintln!(
                    "{topic}: {state} ({} partitions, replication {})",
                    spec.partitions, spec.replication_factor
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
