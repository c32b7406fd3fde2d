#!/usr/bin/env bash
# Holds many idle TLS connections (after EHLO) against Release smtpsd and
# reports its RSS and PSS per connection. One loopback address gives at most
# ~64k client ports, so the server listens on several (127.0.0.1 .. 127.0.0.N)
# and one smtp-load process fills each (for each server, when there are several).
#   bench/idle_100k.sh [CONNECTIONS] [ADDRESSES]      (defaults 100000 and 4)
# Needs a hard `ulimit -n` above CONNECTIONS for one server to hold them all.
# Where the hard limit is lower and cannot be raised (no CAP_SYS_RESOURCE, as
# in a container), the connections are spread over as many servers as the
# limit requires (each its own data directory and port, each under the
# limit), and the figures add up all of them. SMTPSD_BIN: another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${1:-100000} ADDRS=${2:-4}
BIN=${SMTPSD_BIN:-build/release/src/smtpsd}
LOAD=build/peer-bench/smtp-load/smtp-load
[ -x "$BIN" ] || { echo "build Release first: make release" >&2; exit 2; }
[ -x "$LOAD" ] || ../shared/bench/smtp-load/build.sh "$LOAD" >/dev/null 2>&1 || { echo "cannot build smtp-load" >&2; exit 2; }
NODES=1
if ! ulimit -n $((TOTAL + 10000)) 2>/dev/null; then
  hard=$(ulimit -Hn)
  ulimit -n "$hard"
  room=$((hard - 1000))  # what one process may hold, with room for its other descriptors
  NODES=$(((TOTAL + room - 1) / room))
  echo "note: the hard open-files limit here is $hard per process (raising it needs CAP_SYS_RESOURCE):" \
       "$TOTAL connections over $NODES servers" >&2
fi
work=$(mktemp -d /tmp/smtpsd-idle-XXXXXX)
spids=() lpids=()
# Servers holding many connections take a few seconds to close them: wait
# (up to 60 s) so that nothing of this run is left running after it.
cleanup() {
  for p in "${lpids[@]}" "${spids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 600); do
    alive=0
    for p in "${spids[@]}"; do  # a server that has exited is a zombie until the script ends
      st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || true)
      [ -n "$st" ] && [ "$st" != Z ] && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${spids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
sysctl -qw net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null || true
. bench/lib.sh
per_node=$(((TOTAL + NODES - 1) / NODES))
ports=()
for n in $(seq 1 "$NODES"); do
  dir="$work/node$n"
  mkdir -p "$dir"
  bench_setup "$dir" "$BIN"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 - "$dir/smtpsd.toml" "$port" "$ADDRS" "$per_node" <<'PY'
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
  bench_start "$dir" "$BIN"
  [ -n "$port" ] || { cat "$dir/log" >&2; exit 1; }
  spids+=("$spid") ports+=("$port")
done
# Summed over the servers, in KiB.
rss() { for p in "${spids[@]}"; do awk '/^VmRSS/ {print $2}' /proc/$p/status; done | awk '{s += $1} END {print s}'; }
pss() { for p in "${spids[@]}"; do awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup; done | awk '{s += $1} END {print s}'; }
r0=$(rss) p0=$(pss)
per=$(((per_node + ADDRS - 1) / ADDRS))
for n in $(seq 1 "$NODES"); do
  for i in $(seq 1 "$ADDRS"); do
    "$LOAD" --host 127.0.0.$i --port "${ports[$((n - 1))]}" --mode idle -k "$per" -c 64 --hold 900 \
      --ready-file "$work/ready.$n.$i" --user bench --pass benchpass --io-timeout 120 >"$work/load.$n.$i" 2>&1 &
    lpids+=($!)
  done
done
for _ in $(seq 1800); do
  ready=$(find "$work" -maxdepth 1 -name "ready.*" | wc -l)
  [ "$ready" = $((NODES * ADDRS)) ] && break
  sleep 1
done
held=$(cat "$work"/ready.* 2>/dev/null | awk '{s += $1} END {print s + 0}')
sleep 5
r1=$(rss) p1=$(pss)
echo "idle TLS connections held: $held (asked $TOTAL over $ADDRS addresses, $NODES server process(es))"
echo "server RSS: $r0 KiB before, $r1 KiB with them held"
python3 -c "print(f'per connection: RSS {($r1-$r0)/max($held,1):.1f} KiB, PSS {($p1-$p0)/max($held,1):.1f} KiB')"
echo "server errors logged: $(cat "$work"/node*/log | grep -c '"level":"error"' || true)"
