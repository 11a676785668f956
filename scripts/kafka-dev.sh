#!/usr/bin/env bash
# A development Kafka broker (Tansu, an Apache-Kafka-compatible broker) on 127.0.0.1.
#
#   scripts/kafka-dev.sh install          install Tansu 0.6.0 with its storage engines
#   scripts/kafka-dev.sh start [--sqlite] start on a free port (memory storage by default;
#                                         --sqlite keeps data and offsets across restarts)
#   scripts/kafka-dev.sh status           is it running, and where
#   scripts/kafka-dev.sh stop             stop it
#
# `start` prints `export PALISADE_BROKERS=127.0.0.1:PORT`, so
# `eval "$(scripts/kafka-dev.sh start)"` sets it for the shipped pipelines.
set -euo pipefail
cd "$(dirname "$0")/.."
state=".palisade/kafka-dev"
mkdir -p "$state"
TANSU_VERSION=0.6.0

tansu_bin() {
  if [ -n "${PALISADE_TANSU:-}" ]; then echo "$PALISADE_TANSU"; return; fi
  if command -v tansu >/dev/null 2>&1; then command -v tansu; return; fi
  if [ -x "$HOME/.cargo/bin/tansu" ]; then echo "$HOME/.cargo/bin/tansu"; return; fi
  return 1
}

install() {
  if bin=$(tansu_bin) && "$bin" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    echo "tansu $TANSU_VERSION already installed: $bin" >&2
    return
  fi
  echo "installing tansu $TANSU_VERSION with storage engines (takes ~10 min on 2 cores)..." >&2
  # Without its storage features Tansu builds but cannot start (FeatureNotEnabled).
  cargo install "tansu@$TANSU_VERSION" --locked --features dynostore,libsql >&2
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

running() {
  [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null
}

start() {
  local engine="memory://tansu/"
  if [ "${1:-}" = "--sqlite" ]; then engine="sqlite://tansu.db"; fi
  if running; then
    echo "export PALISADE_BROKERS=$(cat "$state/addr")"
    return
  fi
  install
  local bin port
  bin=$(tansu_bin)
  port=$(free_port)
  # sqlite paths are relative to the working directory: run inside the state directory.
  (cd "$state" && exec "$bin" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "$engine" >broker.log 2>&1 </dev/null) &
  echo $! >"$state/pid"
  echo "127.0.0.1:$port" >"$state/addr"
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "tansu listening on 127.0.0.1:$port (log: $state/broker.log)" >&2
      echo "export PALISADE_BROKERS=127.0.0.1:$port"
      return
    fi
    running || { echo "tansu exited; see $state/broker.log" >&2; tail -20 "$state/broker.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "tansu did not start listening on 127.0.0.1:$port; see $state/broker.log" >&2
  exit 1
}

stop() {
  if running; then
    kill "$(cat "$state/pid")" && echo "stopped" >&2
  else
    echo "not running" >&2
  fi
  rm -f "$state/pid" "$state/addr"
}

status() {
  if running; then
    echo "running: PALISADE_BROKERS=$(cat "$state/addr") (pid $(cat "$state/pid"))"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
