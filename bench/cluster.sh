#!/usr/bin/env bash
# Several nodes, measured (issue 15): submission through the shared harness's
# load generator (../shared/bench/measure.sh: TLS + AUTH PLAIN, 4 KiB
# messages, delivery off) against
#   embedded  one node, SQLite + spool folder
#   postgres  one node on PostgreSQL (+ Redis for the counters)
#   two       two nodes on the same PostgreSQL and Redis, both listening on
#             127.0.0.1:10465 (SO_REUSEPORT: the kernel spreads connections)
# Every server process (the nodes, PostgreSQL, Redis) runs under one wrapper
# whose process tree measure.sh samples, so "server CPU ms/msg" counts them
# all. PostgreSQL runs with fsync on, as in production. Syncs per message:
# smtpsd_fsyncs_total (embedded) or pg_stat_wal's wal_sync (PostgreSQL).
#   bench/cluster.sh [CLIENTS] [SECONDS]     (a Release build: make release)
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-64} SECS=${2:-10} REPS=${REPS:-3}
BIN=$(pwd)/build/release/src/smtpsd
B=$(cd ../shared/bench && pwd)
[ -x "$BIN" ] || { echo "missing $BIN: make release" >&2; exit 2; }
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | tail -1)")
work=$(mktemp -d /tmp/smtpsd-cluster-XXXXXX)
chmod 755 "$work"
wrapper=
cleanup() {
  [ -n "$wrapper" ] && kill -- -"$wrapper" 2>/dev/null || true
  sleep 1
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
"$B/peers/certs/gen.sh" >/dev/null
as_pg=(); [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
pgport=15432 redisport=16379

start_services() { # writes $work/services.sh, run under the wrapper
  rm -rf "$work/pg"
  mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  "${as_pg[@]}" "$PGBIN/initdb" -D "$work/pg/data" -A trust -U smtpsd -E UTF8 --locale=C.UTF-8 >/dev/null
}

node_config() { # dir storage-section
  local dir=$1
  mkdir -p "$dir/tls"
  cp "$B/peers/certs/out/ecdsa.crt" "$dir/tls/cert.pem"; cp "$B/peers/certs/out/ecdsa.key" "$dir/tls/key.pem"
  chmod 600 "$dir/tls/key.pem"
  cat > "$dir/smtpsd.toml" <<CONF
hostname = "bench.test"
data_dir = "data"
$([ "$(id -u)" = 0 ] && echo 'allow_root = true')
[tls]
certificates = [ { cert = "tls/cert.pem", key = "tls/key.pem" } ]
[[listeners]]
address = "127.0.0.1:10465"
mode = "implicit-tls"
[limits]
max_connections = 100000
max_connections_per_ip = 100000
default_max_send_rate = 1000000
default_max_24h = 1000000000
[auth]
failures_before_throttle = 1000000
[delivery]
enabled = false
[admin]
listen = "$3"
$2
CONF
}

run_case() { # name nodes storage-section
  local name=$1 nodes=$2 storage=$3
  rm -rf "$work/n1" "$work/n2"
  local cmds=""
  if [ -n "$storage" ]; then
    start_services
    cmds+="${as_pg[*]} $PGBIN/postgres -D $work/pg/data -p $pgport -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200 & "
    cmds+="redis-server --port $redisport --bind 127.0.0.1 --save '' --appendonly no >/dev/null & "
  fi
  for i in $(seq "$nodes"); do
    node_config "$work/n$i" "$storage
$([ -n "$storage" ] && echo "node = \"n$i\"")" "127.0.0.1:1802$i"
    cmds+="sleep 3; $BIN serve -c $work/n$i/smtpsd.toml >$work/n$i.log 2>&1 & "
  done
  setsid bash -c "$cmds wait" & wrapper=$!
  echo $wrapper > "$work/pid"
  if [ -n "$storage" ]; then
    for _ in $(seq 100); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p $pgport -U smtpsd -d postgres && break; sleep 0.1; done
  fi
  local S=("$BIN" -c "$work/n1/smtpsd.toml")
  for _ in $(seq 50); do "${S[@]}" account add bench --max-send-rate 1000000 --max-24h 1000000000 >/dev/null 2>&1 && break; sleep 0.2; done
  "${S[@]}" identity add bench bench@bench.test >/dev/null
  printf 'benchpass\n' | "${S[@]}" credential add bench --username bench@bench.test --password-stdin >/dev/null
  for _ in $(seq 200); do [ "$(cat "$work"/n*.log 2>/dev/null | grep -c '"ready:')" -ge "$nodes" ] && break; sleep 0.1; done
  [ "$(cat "$work"/n*.log 2>/dev/null | grep -c '"ready:')" -ge "$nodes" ] || { tail -5 "$work"/n*.log >&2; return 1; }
  syncs() {  # PostgreSQL's WAL syncs, or the spool's fsyncs
    if [ -n "$storage" ]; then
      psql -X -A -t "postgresql://smtpsd@127.0.0.1:$pgport/postgres" -c "SELECT wal_sync FROM pg_stat_wal"
    else
      curl -s http://127.0.0.1:18021/metrics | awk '/^smtpsd_fsyncs_total/ {s += $2} END {print s + 0}'
    fi
  }
  local syncs0 syncs1 out queued
  syncs0=$(syncs)
  out=$("$B/measure.sh" --pid-file "$work/pid" --name "$name" --reps "$REPS" -- \
        --rcpt sink@remote.test -c "$C" -m 10 -n 100000000 -t "$SECS" --size 4096 2>/dev/null | grep '^SUMMARY' || true)
  syncs1=$(syncs)
  queued=0
  for i in $(seq "$nodes"); do
    queued=$((queued + $(curl -s "http://127.0.0.1:1802$i/metrics" | awk '/^smtpsd_messages_accepted_total/ {s += $2} END {printf "%d", s}')))
  done
  echo "$out"
  echo "  $name: queued=$queued syncs=$((syncs1 - syncs0)) syncs/msg=$(/usr/bin/python3 -c "print(round(($syncs1 - $syncs0) / max(1, $queued), 3))")"
  kill -- -"$wrapper" 2>/dev/null || true; wait "$wrapper" 2>/dev/null || true
  # every process of the case gone (a draining node still holds port 10465) before the next starts
  for _ in $(seq 300); do pgrep -g "$wrapper" >/dev/null || break; sleep 0.1; done
  wrapper=
}

redis_storage="redis_url = \"redis://127.0.0.1:$redisport\""
pg_storage="[storage]
backend = \"postgres\"
postgres_url = \"postgresql://smtpsd@127.0.0.1:$pgport/postgres\"
$redis_storage"
[ -n "${SKIP_EMBEDDED:-}" ] || run_case embedded 1 ""
[ -n "${SKIP_POSTGRES:-}" ] || run_case postgres 1 "$pg_storage"
[ -n "${SKIP_TWO:-}" ] || run_case two-nodes 2 "$pg_storage"
