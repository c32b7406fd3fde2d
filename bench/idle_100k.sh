#!/usr/bin/env bash
# Holds many idle TLS connections (after EHLO) against a Release smtpsd and
# reports its RSS and PSS per connection. One loopback address gives at most
# ~64k client ports, so the server listens on several (127.0.0.1 .. 127.0.0.N)
# and one smtp-load process fills each.
#   bench/idle_100k.sh [CONNECTIONS] [ADDRESSES]      (defaults 100000 and 4)
# Needs root or a hard `ulimit -n` above CONNECTIONS; SMTPSD_BIN: another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${1:-100000} ADDRS=${2:-4}
BIN=${SMTPSD_BIN:-build/release/src/smtpsd}
LOAD=build/peer-bench/smtp-load/smtp-load
[ -x "$BIN" ] || { echo "build Release first: make release" >&2; exit 2; }
[ -x "$LOAD" ] || ../shared/bench/smtp-load/build.sh "$LOAD" >/dev/null 2>&1 || { echo "cannot build smtp-load" >&2; exit 2; }
if ! ulimit -n $((TOTAL + 10000)) 2>/dev/null; then
  hard=$(ulimit -Hn)
  ulimit -n "$hard"
  echo "note: the hard open-files limit here is $hard (raising it needs CAP_SYS_RESOURCE): holding $((hard - 1000)) instead of $TOTAL" >&2
  TOTAL=$((hard - 1000))
fi
work=$(mktemp -d /tmp/smtpsd-idle-XXXXXX)
spid= lpids=()
trap 'for p in "${lpids[@]}"; do kill $p 2>/dev/null || true; done; [ -n "$spid" ] && kill $spid 2>/dev/null || true; rm -rf "$work"' EXIT
sysctl -qw net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null || true
. bench/lib.sh
bench_setup "$work" "$BIN"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$work/smtpsd.toml" "$port" "$ADDRS" "$TOTAL" <<'PY'
import re, sys
p, port, n, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = open(p).read()
t = t.replace('address = "127.0.0.1:0"', f'address = "127.0.0.1:{port}"', 1)
extra = "".join(f'[[listeners]]\naddress = "127.0.0.{i}:{port}"\nmode = "implicit-tls"\n' for i in range(2, n + 1))
t = t.replace('[[listeners]]', extra + '[[listeners]]', 1)
t = re.sub(r'max_connections = \d+', f'max_connections = {total + 1000}', t)
t = re.sub(r'max_connections_per_ip = \d+', f'max_connections_per_ip = {total}', t)
if 'max_connections =' not in t:
    t = t.replace('[limits]\n', f'[limits]\nmax_connections = {total + 1000}\nmax_connections_per_ip = {total}\n', 1)
open(p, 'w').write(t)
PY
bench_start "$work" "$BIN"
[ -n "$port" ] || { cat "$work/log" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' /proc/$spid/status; }
pss() { awk '/^Pss:/ {s += $2} END {print s}' /proc/$spid/smaps_rollup; }
r0=$(rss) p0=$(pss)
per=$((TOTAL / ADDRS))
for i in $(seq 1 "$ADDRS"); do
  "$LOAD" --host 127.0.0.$i --port "$port" --mode idle -k "$per" -c 64 --hold 600 \
    --ready-file "$work/ready.$i" --user bench --pass benchpass --io-timeout 120 >"$work/load.$i" 2>&1 &
  lpids+=($!)
done
for _ in $(seq 1800); do
  n=$(find "$work" -name "ready.*" | wc -l)
  [ "$n" = "$ADDRS" ] && break
  sleep 1
done
held=$(cat "$work"/ready.* 2>/dev/null | awk '{s += $1} END {print s + 0}')
sleep 5
r1=$(rss) p1=$(pss)
echo "idle TLS connections held: $held (asked $TOTAL over $ADDRS addresses)"
echo "server RSS: $r0 KiB before, $r1 KiB with them held"
python3 -c "print(f'per connection: RSS {($r1-$r0)/max($held,1):.1f} KiB, PSS {($p1-$p0)/max($held,1):.1f} KiB')"
grep -c '"level":"error"' "$work/log" | xargs echo "server errors logged:"
