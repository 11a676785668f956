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

# One core, as the figure is quoted: pinned with taskset when it is there.
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c "$(($(nproc) - 1))"); fi
times=()
rates=()
for i in $(seq "$rounds"); do
  rm -f "$work/out.jsonl"
  start=$(date +%s.%N)
  summary=$("${pin[@]}" "$bin" analyze --input "$work/traffic.jsonl" --output "$work/out.jsonl" 2>&1 >/dev/null)
  end=$(date +%s.%N)
  times+=("$(echo "$end - $start" | bc -l)")
  # "analyzed N events (...) in S s: R events/s, ..." counts from the first event.
  rates+=("$(echo "$summary" | sed -n 's/.*: \([0-9,]*\) events\/s.*/\1/p' | tr -d ,)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wall=$(median "${times[@]}")
steady=$(median "${rates[@]}")
echo "palisade analyze (whole process, file in -> file out, ${pin[*]:-not pinned}), median of $rounds runs:"
awk -v s="$wall" -v r="$steady" -v n="$events" -v b="$bytes" 'BEGIN {
  printf "  steady (from the first event): %.0f events/s  %.1f MB/s\n", r, r * b / n / 1e6
  printf "  wall (with start-up):          %.0f events/s  %.1f MB/s  (%.3f s)\n", n / s, b / s / 1e6, s }'

echo
cargo bench --locked --quiet --bench analyze 2>/dev/null
