#!/usr/bin/env bash
# End-to-end Kafka benchmark (release build, Tansu on loopback, memory storage):
# backlog throughput of pipelines/default.toml and live event→alert latency.
#   scripts/bench-kafka.sh [EVENTS] [LIVE_RATE] [LIVE_SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_EVENTS="${1:-200000}" BENCH_LIVE_RATE="${2:-5000}" BENCH_LIVE_SECS="${3:-10}"

./scripts/kafka-dev.sh install
bin=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
work=$(mktemp -d)
(cd "$work" && exec "$bin" broker --listener-url "tcp://127.0.0.1:$port" \
   --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
   >broker.log 2>&1 </dev/null) &
broker=$!
trap 'kill $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
export PALISADE_BROKERS="127.0.0.1:$port"
echo "Tansu on $PALISADE_BROKERS; $BENCH_EVENTS backlog events, live $BENCH_LIVE_RATE/s for ${BENCH_LIVE_SECS}s"
cargo bench --locked --quiet --bench kafka 2>/dev/null
