#!/usr/bin/env bash
# Load test of `roamguard serve` (issue 7): wrk from a second process on loopback.
#
#   1. score:    POST /v1/score, every request a distinct generated event (roamguard generate),
#                against a server that knows the generated subscribers' profiles;
#   2. verdicts: GET /v1/verdicts/{event_id} of events phase 1 scored.
#
# Writes $OUT/serve.md (a markdown fragment: command, date, machine, requests/s, p50/p99) and
# $OUT/serve-{score,verdicts}.txt (raw figures). Fails if any answer is not 2xx or any socket
# error occurred. Needs wrk (`apt-get install -y wrk`; `make bench-serve` installs it) and a
# release build of the CLI.
#
# Knobs (environment): ROAMGUARD, OUT, DURATION (per phase, default 10s), THREADS (1),
# CONNECTIONS (16), SUBSCRIBERS (3000: ~570k distinct events, more than a 10 s run sends), DAYS
# (7), SEED (7).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROAMGUARD=${ROAMGUARD:-target/release/roamguard}
OUT=${OUT:-out/bench}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-16}
SUBSCRIBERS=${SUBSCRIBERS:-3000}
DAYS=${DAYS:-7}
SEED=${SEED:-7}
LUA=tests/load/serve_wrk.lua

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
[ -x "$ROAMGUARD" ] || { echo "$ROAMGUARD not found: cargo build --release -p roamguard-cli" >&2; exit 1; }
mkdir -p "$OUT"

data=$OUT/serve-data-$SUBSCRIBERS-$DAYS-$SEED
if [ ! -s "$data/events.jsonl" ]; then
  "$ROAMGUARD" generate --subscribers "$SUBSCRIBERS" --days "$DAYS" --seed "$SEED" --out "$data" 2>/dev/null
fi
events=$(wc -l < "$data/events.jsonl")

server_log=$OUT/serve-server.log
"$ROAMGUARD" serve --port 0 --profiles "$data/profiles.jsonl" 2> "$server_log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$server_log")
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$server_log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "roamguard serve did not start" >&2; exit 1; }
url=http://127.0.0.1:$port
load=$(cut -d' ' -f1-3 /proc/loadavg)

# Phase 1: distinct events. Phase 2: reads of verdicts phase 1 stored.
run() { # mode, extra env
  local mode=$1; shift
  env MODE="$mode" EVENTS="$data/events.jsonl" THREADS="$THREADS" RESULT="$OUT/serve-$mode.txt" "$@" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "$url" | tee "$OUT/serve-$mode.wrk.txt"
}
get() { sed -n "s/^$2=//p" "$OUT/serve-$1.txt"; }
run score
scored=$(( ($(get score min_sent_per_thread) - CONNECTIONS / THREADS) * THREADS ))
scored=$(( scored < events ? scored : events ))
[ "$scored" -gt 0 ] || { echo "phase 1 scored nothing" >&2; exit 1; }
run verdicts SCORED="$scored"

kill -TERM "$server"
wait "$server" && server_exit=0 || server_exit=$?
trap - EXIT
server_5xx=$(awk '$3 ~ /^5[0-9][0-9]$/' "$server_log" | wc -l)

failed=0
for mode in score verdicts; do
  for key in non2xx socket_errors status_errors; do
    if [ "$(get "$mode" "$key")" != 0 ]; then
      echo "FAIL: $mode: $key=$(get "$mode" "$key")" >&2
      failed=1
    fi
  done
done
[ "$server_exit" = 0 ] || { echo "FAIL: roamguard serve exited $server_exit" >&2; failed=1; }

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
  echo "## Scoring API under load: \`roamguard serve\` with wrk (\`make bench-serve\`)"
  echo
  echo "$(date -u +%Y-%m-%d) · commit \`$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- shared cli || echo +changes)\` · $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB · $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) · \`roamguard serve\` release build, current-thread runtime, one log line per request to a file"
  echo
  echo "Command: \`tests/load/serve_wrk.sh\` with DURATION=$DURATION THREADS=$THREADS CONNECTIONS=$CONNECTIONS, i.e. \`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s $LUA\` per phase, from a second process on 127.0.0.1. Data: \`roamguard generate --subscribers $SUBSCRIBERS --days $DAYS --seed $SEED\` ($events events; the server loads its $SUBSCRIBERS profiles)."
  echo
  echo "| phase | requests | requests/s | p50 | p90 | p99 | max | non-2xx | socket errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for mode in score verdicts; do
    case $mode in
      score) what="POST /v1/score, distinct events ($(get score replays) replays)" ;;
      verdicts) what="GET /v1/verdicts/{id} of $scored scored events" ;;
    esac
    printf '| %s | %s | %s | %s ms | %s ms | %s ms | %s ms | %s | %s |\n' "$what" "$(get $mode requests)" \
      "$(get $mode rps)" "$(get $mode p50_ms)" "$(get $mode p90_ms)" "$(get $mode p99_ms)" "$(get $mode max_ms)" \
      "$(get $mode non2xx)" "$(get $mode socket_errors)"
  done
  echo
  echo "Load average (1/5/15 min) when the run started: $load. Server log: $(wc -l < "$server_log") lines, $server_5xx answers ≥ 500; clean shutdown on SIGTERM: $([ "$server_exit" = 0 ] && echo yes || echo "no (exit $server_exit)")."
} > "$OUT/serve.md"
cat "$OUT/serve.md"
exit "$failed"
