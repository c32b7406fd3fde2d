#!/usr/bin/env bash
# Measures submission throughput and what each accepted message costs: server
# CPU, context switches (thread hand-offs) and syncs. Starts a Release smtpsd
# in a scratch folder, drives it with smtpsd-loadgen, and counts
# fsync/fdatasync system calls of the server (perf tracepoints; strace without perf).
#   bench/submit_fsync.sh [CLIENTS] [MESSAGES] [SIZE]      (SMTPSD_BIN: another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-64} MESSAGES=${2:-5000} SIZE=${3:-4096}
BIN=${SMTPSD_BIN:-build/release/src/smtpsd}
LOADGEN=build/bench/bench/smtpsd-loadgen
[ -x "$BIN" ] || { echo "build Release first: make release" >&2; exit 2; }
[ -x "$LOADGEN" ] || { echo "build the benchmarks first: make bench-build" >&2; exit 2; }
spid= tpid=
work=$(mktemp -d /tmp/smtpsd-bench-XXXXXX)
trap '[ -n "$spid" ] && kill $spid 2>/dev/null || true; [ -n "$tpid" ] && kill $tpid 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/lib.sh
bench_setup "$work" "$BIN"
bench_start "$work" "$BIN"
echo "== throughput (no tracing)"
c0=$(cpu) x0=$(switches)
"$LOADGEN" --server 127.0.0.1:$port --username bench --password benchpass --clients "$CLIENTS" --messages "$MESSAGES" --size "$SIZE" | tee "$work/run1"
c1=$(cpu) x1=$(switches)
ok1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messages_ok"])' "$work/run1")
python3 -c "print(f'server CPU per accepted message: {($c1-$c0)/$(getconf CLK_TCK)/$ok1*1e6:.0f} us')" | tee "$work/cpu"
python3 -c "print(f'context switches per accepted message: {($x1-$x0)/$ok1:.2f}')"
echo "== syncs per message (fsync/fdatasync system calls of the server)"
if perf stat -e syscalls:sys_enter_fdatasync -o /dev/null -- true 2>/dev/null; then
  # The kernel's tracepoints count the calls without slowing them down.
  perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -o "$work/perf" -p $spid & tpid=$!
  counter=perf
else
  # strace stops the server at every traced call: fewer, larger batches than untraced.
  strace -f -c -e trace=fsync,fdatasync -o "$work/strace" -p $spid & tpid=$!
  counter=strace
fi
sleep 1
"$LOADGEN" --server 127.0.0.1:$port --username bench --password benchpass --clients "$CLIENTS" --messages "$MESSAGES" --size "$SIZE" | tee "$work/run2"
kill -INT $tpid; wait $tpid 2>/dev/null || true; tpid=
ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messages_ok"])' "$work/run2")
if [ $counter = perf ]; then
  syncs=$(awk -F, '/sys_enter_f/ {s += $1} END {print s+0}' "$work/perf")
else
  cat "$work/strace"
  syncs=$(awk '/fsync|fdatasync/ {s += $4} END {print s+0}' "$work/strace")
fi
python3 -c "print(f'syncs per accepted message: {$syncs/$ok:.3f} ({$syncs} syncs, {$ok} messages, $CLIENTS clients, counted by $counter)')"
