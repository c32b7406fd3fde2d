#!/usr/bin/env bash
# Measures submission throughput and the syncs each accepted message costs:
# starts a Release smtpsd in a scratch folder, drives it with smtpsd-loadgen,
# and counts fsync/fdatasync system calls of the server with strace.
#   bench/submit_fsync.sh [CLIENTS] [MESSAGES] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-64} MESSAGES=${2:-5000} SIZE=${3:-4096}
BIN=build/release/src/smtpsd
LOADGEN=build/bench/bench/smtpsd-loadgen
[ -x "$BIN" ] || { echo "build Release first: make release" >&2; exit 2; }
[ -x "$LOADGEN" ] || { echo "build the benchmarks first: make bench-build" >&2; exit 2; }
spid= tpid=
work=$(mktemp -d /tmp/smtpsd-bench-XXXXXX)
trap '[ -n "$spid" ] && kill $spid 2>/dev/null || true; [ -n "$tpid" ] && kill $tpid 2>/dev/null || true; rm -rf "$work"' EXIT
"$BIN" init "$work" >/dev/null
python3 - "$work/smtpsd.toml" <<'PY'
import re, sys
p = sys.argv[1]
t = open(p).read().replace('"0.0.0.0:465"', '"127.0.0.1:0"', 1)
t = re.sub(r'\[\[listeners\]\]\naddress = "0\.0\.0\.0:\d+"\nmode = "[a-z-]+"\n', '', t)
t = t.replace('enabled = true', 'enabled = false')
t = t.replace('default_max_send_rate = 14', 'default_max_send_rate = 1000000').replace('default_max_24h = 50000', 'default_max_24h = 1000000000')
open(p, 'w').write(t)
PY
"$BIN" -c "$work/smtpsd.toml" account add bench >/dev/null
"$BIN" -c "$work/smtpsd.toml" identity add bench example.com >/dev/null
echo "benchpass" | "$BIN" -c "$work/smtpsd.toml" credential add bench --username bench --password-stdin >/dev/null
"$BIN" serve -c "$work/smtpsd.toml" 2>"$work/log" & spid=$!
for _ in $(seq 100); do grep -q '"ready' "$work/log" 2>/dev/null && break; sleep 0.05; done
port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/log" | head -1 | cut -d: -f2)
cpu() { awk '{print $14 + $15}' /proc/$spid/stat; }  # utime + stime, in clock ticks
echo "== throughput (no tracing)"
c0=$(cpu)
"$LOADGEN" --server 127.0.0.1:$port --username bench --password benchpass --clients "$CLIENTS" --messages "$MESSAGES" --size "$SIZE" | tee "$work/run1"
c1=$(cpu)
ok1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messages_ok"])' "$work/run1")
python3 -c "print(f'server CPU per accepted message: {($c1-$c0)/$(getconf CLK_TCK)/$ok1*1e6:.0f} us')" | tee "$work/cpu"
echo "== syncs per message (strace counting fsync/fdatasync of the server)"
strace -f -c -e trace=fsync,fdatasync -o "$work/strace" -p $spid & tpid=$!
sleep 1
"$LOADGEN" --server 127.0.0.1:$port --username bench --password benchpass --clients "$CLIENTS" --messages "$MESSAGES" --size "$SIZE" | tee "$work/run2"
kill -INT $tpid; wait $tpid 2>/dev/null || true; tpid=
cat "$work/strace"
ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messages_ok"])' "$work/run2")
syncs=$(awk '/fsync|fdatasync/ {s += $4} END {print s+0}' "$work/strace")
python3 -c "print(f'syncs per accepted message: {$syncs/$ok:.3f} ({$syncs} syncs, {$ok} messages, $CLIENTS clients)')"
