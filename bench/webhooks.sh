#!/usr/bin/env bash
# What webhooks cost a submission: the server CPU per accepted message with
# no webhook and with two webhooks on a receiver on loopback (each event
# POSTed twice, once in each format), in alternating rounds on fresh data
# folders, medians printed; and how long an event waits for its POST (p99 of
# smtpsd_webhook_delivery_seconds, read from /metrics). The data folders are
# in /dev/shm unless BENCH_DIR says otherwise: on this shared machine the
# disk's fsync time varies more than what is measured.
#   bench/webhooks.sh [CLIENTS] [MESSAGES] [SIZE] [ROUNDS]
# PIPELINE=N sets the webhooks' `pipeline` (1: one request at a time, as
# before pipelining); unset, the default. SECOND_FORMAT=smtpsd makes the
# second webhook use the smtpsd format too (default: ses, whose records
# carry the message's header fields).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-8} MESSAGES=${2:-5000} SIZE=${3:-4096} ROUNDS=${4:-3}
BIN=build/release/src/smtpsd
LOADGEN=build/bench/bench/smtpsd-loadgen
HOOKSINK=build/bench/bench/smtpsd-webhook-sink
for b in "$BIN" "$LOADGEN" "$HOOKSINK"; do [ -x "$b" ] || { echo "missing $b: make bench-build" >&2; exit 2; }; done
spid= kpid= work=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null || true; [ -n "$kpid" ] && kill $kpid 2>/dev/null || true; [ -n "$work" ] && rm -rf "$work"' EXIT
. bench/lib.sh

# One run on a fresh folder: with_hooks=0|1; prints the CPU per message in us.
round() {
  local with_hooks=$1 c0 c1 ok hport
  work=$(mktemp -d "${BENCH_DIR:-/dev/shm}/smtpsd-wbench-XXXXXX")
  bench_setup "$work" "$BIN"
  sed -i 's/listen = "127.0.0.1:8025"/listen = "127.0.0.1:0"/' "$work/smtpsd.toml"
  if [ "$with_hooks" = 1 ]; then
    "$HOOKSINK" --expect $((2 * MESSAGES)) >"$work/hooksink" & kpid=$!
    for _ in $(seq 100); do grep -q '^port' "$work/hooksink" 2>/dev/null && break; sleep 0.05; done
    hport=$(awk '/^port/ {print $2}' "$work/hooksink")
    printf '[[events.webhooks]]\nurl = "http://127.0.0.1:%s/one"\nsecret = "bench"\n%b[[events.webhooks]]\nurl = "http://127.0.0.1:%s/two"\nsecret = "bench"\nformat = "%s"\n%b' \
      "$hport" "${PIPELINE:+pipeline = $PIPELINE\n}" "$hport" "${SECOND_FORMAT:-ses}" "${PIPELINE:+pipeline = $PIPELINE\n}" \
      >>"$work/smtpsd.toml"
  fi
  bench_start "$work" "$BIN"
  c0=$(cpu)
  "$LOADGEN" --server 127.0.0.1:$port --username bench --password benchpass --clients "$CLIENTS" --messages "$MESSAGES" --size "$SIZE" >"$work/run"
  if [ "$with_hooks" = 1 ]; then wait $kpid; kpid=; fi  # until the receiver had every POST
  c1=$(cpu)
  if [ "$with_hooks" = 1 ]; then
    admin=$(grep -o 'admin listening on 127.0.0.1:[0-9]*' "$work/log" | cut -d: -f2)
    curl -s "http://127.0.0.1:$admin/metrics" >>"$latencies"
  fi
  ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messages_ok"])' "$work/run")
  kill -TERM $spid; wait $spid || true; spid=
  rm -rf "$work"; work=
  python3 -c "print(round(($c1-$c0)/$(getconf CLK_TCK)/$ok*1e6))"
}

latencies=$(mktemp /tmp/smtpsd-wbench-metrics-XXXXXX)
offs=() ons=()
for r in $(seq "$ROUNDS"); do
  offs+=("$(round 0)"); ons+=("$(round 1)")
  echo "round $r: no webhook ${offs[-1]} us, two webhooks ${ons[-1]} us per accepted message"
done
python3 - "$latencies" "${offs[*]}" "${ons[*]}" <<'PY'
import re, statistics, sys
buckets = {}
for line in open(sys.argv[1]):
    m = re.match(r'smtpsd_webhook_delivery_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
    if m:
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        buckets[le] = buckets.get(le, 0) + float(m.group(2))
cum = sorted(buckets.items())
total = cum[-1][1]
p = lambda q: next(le for le, n in cum if n >= q * total)
off = statistics.median(map(int, sys.argv[2].split()))
on = statistics.median(map(int, sys.argv[3].split()))
print(f"event to POST over {int(total)} POSTs: p50 <= {p(0.5)} s, p99 <= {p(0.99)} s")
print(f"medians: webhooks off {off} us, on {on} us per accepted message = {100 * (on - off) / off:+.1f} %")
PY
rm -f "$latencies"
