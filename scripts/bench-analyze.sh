#!/usr/bin/env bash
# Throughput of `palisade analyze` (release build, one process, one core) on three
# generated corpora (clean, the default mix, attack-dense), plus the in-process per-step
# breakdown (benches/analyze.rs).
#   scripts/bench-analyze.sh [EVENTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-200000}"
rounds="${2:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --locked --quiet
bin=./target/release/palisade

# One core, as the figure is quoted: pinned with taskset when it is there.
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c "$(($(nproc) - 1))"); fi
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "palisade analyze (whole process, file in -> file out, ${pin[*]:-not pinned}), $events events per corpus, median of $rounds runs:"
printf '  %-13s %9s %9s   %9s %9s   %s\n' corpus steady "MB/s" wall "MB/s" "bytes/event"
for corpus in clean generated attack-dense; do
  case "$corpus" in
    clean) mix=(--attack-percent 0 --pii-percent 0) ;;
    generated) mix=() ;;
    attack-dense) mix=(--attack-percent 50 --pii-percent 25) ;;
  esac
  "$bin" generate --events "$events" --seed 42 "${mix[@]}" --output "$work/traffic.jsonl"
  bytes=$(stat -c %s "$work/traffic.jsonl")
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
  awk -v c="$corpus" -v s="$(median "${times[@]}")" -v r="$(median "${rates[@]}")" \
    -v n="$events" -v b="$bytes" 'BEGIN {
    printf "  %-13s %9.0f %9.1f   %9.0f %9.1f   %d\n", c, r, r * b / n / 1e6, n / s, b / s / 1e6, b / n }'
done
echo "  (steady: the rate analyze prints, from the first event; wall: with start-up)"

echo
cargo bench --locked --quiet --bench analyze 2>/dev/null
