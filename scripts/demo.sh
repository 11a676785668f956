#!/usr/bin/env bash
# The demo: the main pipeline (pipelines/default.toml) on an embedded, in-process Kafka
# cluster, fed with generated agent traffic. No external service needed.
#   scripts/demo.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-20000}"
cargo build --release --locked --quiet
exec ./target/release/palisade demo --events "$events"
