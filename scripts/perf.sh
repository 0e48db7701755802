#!/usr/bin/env bash
# The performance goals, measured with spallocd and spalloc-bench as
# separate processes on this machine (issue "Performance tools and goals"):
#
#   scripts/perf.sh poll    get_job_state at 1, 10 and 100 connections (goal:
#                           >= 80,000 req/s at 100 with p99 < 2 ms)
#   scripts/perf.sh churn   one-board jobs created, ready (notification),
#                           destroyed over 10 connections, fake BMPs without
#                           delays (goal: >= 1,000 cycles/s)
#   scripts/perf.sh mixed   a busy facility's traffic (status polls, keepalives,
#                           where_is, list_machines, list_jobs, short jobs) on
#                           the 1200-board machine at 10 and 100 connections
#   scripts/perf.sh memory  resident size with the 1200-board machine, 10,000
#                           jobs in history and 1,000 idle connections (goal:
#                           < 100 MB)
#   scripts/perf.sh all     all four, one after another (the default)
#
# Extra arguments go to spalloc-bench (e.g. -duration 10s -json). Set
# CPUPROFILE=FILE to profile the server (go tool pprof FILE). Every run uses
# a fresh database in a temporary folder, which is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

what=${1:-all}
[ $# -gt 0 ] && shift
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/spallocd" ./cmd/spallocd
go build -o "$work/spalloc-bench" ./cmd/spalloc-bench

# The 1200-board example machine with in-process fake BMPs that answer at
# once, and power-ons not rate-limited.
config_1200() {
  local dir="$work/conf"
  mkdir -p "$dir"
  cp examples/spinnaker-1200.toml examples/spinnaker-1200-ethernet-chips.csv "$dir/"
  sed -i -e 's|^spinner_csv = |fake_bmp = { power_delay = "0s", link_delay = "0s" }\nspinner_csv = |' \
    -e 's|^power_on_rate = |# power_on_rate = |' "$dir/spinnaker-1200.toml"
  echo "$dir/spinnaker-1200.toml"
}

# start_server CONFIG: runs spallocd on free loopback ports with a fresh
# database and waits until it answers.
start_server() {
  local port http
  port=$(free_port)
  http=$(free_port)
  rm -f "$work"/db.sqlite*
  local profile=()
  [ -n "${CPUPROFILE:-}" ] && profile=(--cpuprofile "$CPUPROFILE")
  "$work/spallocd" --config "$1" --listen "127.0.0.1:$port" --http "127.0.0.1:$http" \
    --db "$work/db.sqlite" --log-level warn "${profile[@]}" 2>"$work/spallocd.log" &
  server_pid=$!
  addr="127.0.0.1:$port"
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "spallocd did not start:" >&2
  cat "$work/spallocd.log" >&2
  exit 1
}

stop_server() {
  kill -INT "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run() {
  echo "\$ spalloc-bench $*"
  "$work/spalloc-bench" "$@"
}

poll() {
  echo "== poll: get_job_state, one request in flight per connection"
  start_server tcpserver/testdata/transcripts/scenario.toml
  run -addr "$addr" -op get_job_state -conns 1,10,100 -duration 5s -pid "$server_pid" "$@"
  stop_server
}

churn() {
  echo "== churn: 1200-board machine, fake BMPs without delays"
  start_server "$(config_1200)"
  run -addr "$addr" -op churn -conns 10 -duration 10s -pid "$server_pid" "$@"
  stop_server
}

mixed() {
  echo "== mixed: 1200-board machine, fake BMPs without delays"
  start_server "$(config_1200)"
  run -addr "$addr" -op mixed -conns 10,100 -duration 10s -pid "$server_pid" "$@"
  stop_server
}

memory() {
  # Fake BMPs (in-process, so counted in the resident size): the example's
  # real BMP addresses are not on loopback.
  echo "== memory: 1200-board machine with fake BMPs, 10,000 jobs in history, 1,000 idle connections"
  start_server "$(config_1200)"
  run -addr "$addr" -op memory -jobs 10000 -idle 1000 -conns 10 -pid "$server_pid" "$@"
  stop_server
}

uptime
case "$what" in
  poll) poll "$@" ;;
  churn) churn "$@" ;;
  mixed) mixed "$@" ;;
  memory) memory "$@" ;;
  all) poll "$@"; churn "$@"; mixed "$@"; memory "$@" ;;
  *) echo "usage: scripts/perf.sh [poll|churn|mixed|memory|all] [spalloc-bench flags]" >&2; exit 2 ;;
esac
