#!/usr/bin/env bash
# The demo: generate synthetic agent traffic, run it through the file pipeline, and show
# what came out. No external service needed.
#   scripts/demo.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-20000}"
out="${PALISADE_OUT:-out}"
mkdir -p "$out"

cargo build --release --locked --quiet
bin=./target/release/palisade

echo "==> generating $events events of synthetic agent traffic -> $out/traffic.jsonl"
"$bin" generate --events "$events" --seed 42 --output "$out/traffic.jsonl"

echo "==> running pipelines/file.toml"
PALISADE_INPUT="$out/traffic.jsonl" PALISADE_OUT="$out" "$bin" run --pipeline pipelines/file.toml

echo
echo "==> outputs"
wc -l "$out/alerts.jsonl" "$out/redacted.jsonl" "$out/deadletter.jsonl"
echo
echo "first alert:"
head -n 1 "$out/alerts.jsonl"
