#!/usr/bin/env bash
# Delivery throughput: queues MESSAGES messages of SIZE octets with delivery
# off, then restarts a Release smtpsd with delivery routed to smtpsd-sink and
# measures how fast the queue drains and the server CPU each message costs.
#   bench/delivery.sh [MESSAGES] [SIZE] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-10000} SIZE=${2:-4096} CONCURRENCY=${3:-100}
BIN=build/release/src/smtpsd
LOADGEN=build/bench/bench/smtpsd-loadgen
SINK=build/bench/bench/smtpsd-sink
for b in "$BIN" "$LOADGEN" "$SINK"; do [ -x "$b" ] || { echo "missing $b: make bench-build" >&2; exit 2; }; done
spid= kpid=
work=$(mktemp -d /tmp/smtpsd-dbench-XXXXXX)
trap '[ -n "$spid" ] && kill $spid 2>/dev/null || true; [ -n "$kpid" ] && kill $kpid 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
. bench/lib.sh
bench_setup "$work" "$BIN"
bench_start "$work" "$BIN"
echo "== queueing $MESSAGES messages of $SIZE octets (delivery off)"
"$LOADGEN" --server 127.0.0.1:$port --username bench --password benchpass --clients 32 --messages "$MESSAGES" --size "$SIZE" >/dev/null
kill -TERM $spid; wait $spid || true; spid=

"$SINK" --expect "$MESSAGES" >"$work/sink" & kpid=$!
for _ in $(seq 100); do grep -q '^port' "$work/sink" 2>/dev/null && break; sleep 0.05; done
sport=$(awk '/^port/ {print $2}' "$work/sink")
python3 - "$work/smtpsd.toml" "$sport" "$CONCURRENCY" <<'PY'
import sys
p, port, conc = sys.argv[1], sys.argv[2], sys.argv[3]
t = open(p).read().replace('routes = { }', f'routes = {{ "*" = "127.0.0.1:{port}" }}', 1)
t = t.replace('enabled = false', f'enabled = true\nconcurrency = {conc}\nper_destination = 20', 1)
open(p, 'w').write(t)
PY
echo "== delivering to smtpsd-sink (concurrency $CONCURRENCY, 20 connections)"
bench_start "$work" "$BIN"
c0=$(cpu)
wait $kpid; kpid=
c1=$(cpu)
grep '^{' "$work/sink"
python3 -c "print(f'server CPU per delivered message: {($c1-$c0)/$(getconf CLK_TCK)/$MESSAGES*1e6:.0f} us')"
