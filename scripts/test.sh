#!/usr/bin/env bash
# The project's test command: what a newcomer runs on a fresh machine, and all CI runs.
# Installs what the tests need when missing, then runs formatting, lint, rule checks and
# every test. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: $(cargo --version)"

step "test broker: Tansu (installed on first run, ~10 min)"
./scripts/kafka-dev.sh install

step "format (cargo fmt --check)"
cargo fmt --all -- --check

step "lint (clippy, warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

step "build"
cargo build --all-targets --locked

step "detection rules: lint and embedded examples"
./target/debug/palisade rules lint --strict
./target/debug/palisade rules test

step "pipelines validate"
./target/debug/palisade validate pipelines/*.toml

step "tests"
# Every test target, plus the analyze benchmark in smoke mode (the Kafka benchmark needs a
# broker and runs through scripts/bench-kafka.sh).
cargo test --locked --lib --bins --tests
cargo test --locked --bench analyze

echo
echo "all checks passed"
