#!/usr/bin/env bash
# Throughput of `palisade analyze` (release build, one process, one core) on generated
# traffic, plus the in-process per-step breakdown (benches/analyze.rs).
#   scripts/bench-analyze.sh [EVENTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-200000}"
rounds="${2:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --locked --quiet
bin=./target/release/palisade
"$bin" generate --events "$events" --seed 42 --output "$work/traffic.jsonl"
bytes=$(stat -c %s "$work/traffic.jsonl")
echo "corpus: $events events, $((bytes / 1024 / 1024)) MiB ($((bytes / events)) bytes/event)"

times=()
for i in $(seq "$rounds"); do
  start=$(date +%s.%N)
  "$bin" analyze --quiet --input "$work/traffic.jsonl" --output "$work/out.jsonl"
  end=$(date +%s.%N)
  times+=("$(echo "$end - $start" | bc -l)")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "palisade analyze (whole process, file in → file out), median of $rounds runs:"
awk -v s="$median" -v n="$events" -v b="$bytes" \
  'BEGIN { printf "  %.3f s  %.0f events/s  %.1f MB/s\n", s, n / s, b / s / 1e6 }'

echo
cargo bench --locked --quiet --bench analyze 2>/dev/null
