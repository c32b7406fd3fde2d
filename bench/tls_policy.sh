#!/usr/bin/env bash
# What a recipient domain's DANE policy costs a delivery: queues MESSAGES
# messages for sink@example.org with delivery off, then delivers them through
# MX records to smtpsd-sink (STARTTLS, an ECDSA certificate) twice, with
# tls_policy = "opportunistic" and with "dane-mta-sts" (example.org signed
# with ldns-signzone, served by NSD, a DANE-EE TLSA record for the sink), and
# prints the server CPU per delivered message of each.
#   bench/tls_policy.sh [MESSAGES] [SIZE] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-5000} SIZE=${2:-4096} CONCURRENCY=${3:-100}
BIN=build/release/src/smtpsd
LOADGEN=build/bench/bench/smtpsd-loadgen
SINK=build/bench/bench/smtpsd-sink
for b in "$BIN" "$LOADGEN" "$SINK"; do [ -x "$b" ] || { echo "missing $b: make bench-build" >&2; exit 2; }; done
for t in nsd ldns-keygen ldns-signzone openssl; do command -v $t >/dev/null || { echo "missing $t (apt install nsd ldnsutils)" >&2; exit 2; }; done
spid= kpid= npid=
work=$(mktemp -d /tmp/smtpsd-tlsbench-XXXXXX)
trap 'for p in $spid $kpid $npid; do kill $p 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
. bench/lib.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The sink's certificate and its DANE-EE(3) SPKI(1) SHA-256(1) record.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/sink.key" -out "$work/sink.crt" \
  -subj /CN=mx.example.org -days 3 -addext subjectAltName=DNS:mx.example.org 2>/dev/null
spki=$(openssl x509 -in "$work/sink.crt" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
sport=$(free_port) dport=$(free_port)

mkdir -p "$work/zone"
cat >"$work/zone/example.org" <<ZONE
\$ORIGIN example.org.
\$TTL 300
@ SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.1
@ MX 10 mx
mx A 127.0.0.1
_$sport._tcp.mx TLSA 3 1 1 $spki
ZONE
key=$(cd "$work/zone" && ldns-keygen -a ECDSAP256SHA256 -k example.org)
(cd "$work/zone" && ldns-signzone -f signed example.org "$key")
cat >"$work/zone/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$dport
  port: $dport
  username: ""
  chroot: ""
  zonesdir: "$work/zone"
  pidfile: "$work/zone/nsd.pid"
  database: ""
  xfrdfile: "$work/zone/xfrd.state"
  zonelistfile: "$work/zone/zone.list"
  logfile: "$work/zone/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: example.org
  zonefile: "$work/zone/signed"
CONF
nsd -d -c "$work/zone/nsd.conf" & npid=$!

bench_setup "$work" "$BIN"
cp "$work/smtpsd.toml" "$work/queueing.toml"  # delivery off
for policy in ${POLICIES:-opportunistic dane-mta-sts}; do
  cp "$work/queueing.toml" "$work/smtpsd.toml"
  bench_start "$work" "$BIN"
  "$LOADGEN" --server 127.0.0.1:$port --username bench --password benchpass --clients 32 --messages "$MESSAGES" --size "$SIZE" >/dev/null
  kill -TERM $spid; wait $spid || true; spid=
  "$SINK" --port "$sport" --expect "$MESSAGES" --tls-cert "$work/sink.crt" --tls-key "$work/sink.key" >"$work/sink" & kpid=$!
  python3 - "$work/smtpsd.toml" "$dport" "$sport" "$CONCURRENCY" "$policy" "$work/zone/$key.key" <<'PY'
import re, sys
p, dns, mx, conc, policy, anchor = sys.argv[1:]
t = open(p).read()
t = re.sub(r'\[delivery\]\n(.|\n)*?(?=\n\[)', '[delivery]\n' + "\n".join([
    'enabled = true', f'concurrency = {conc}', 'per_destination = 20', f'resolvers = ["127.0.0.1:{dns}"]',
    f'mx_port = {mx}', f'tls_policy = "{policy}"', f'dnssec_trust_anchor = "{anchor}"']) + '\n', t, count=1)
open(p, 'w').write(t)
PY
  bench_start "$work" "$BIN"
  c0=$(cpu)
  wait $kpid; kpid=
  c1=$(cpu)
  kill -TERM $spid; wait $spid || true; spid=
  printf '%-14s ' "$policy"; grep '^{' "$work/sink" | tr -d '\n'
  python3 -c "print(f'  server CPU per delivered message: {($c1-$c0)/$(getconf CLK_TCK)/$MESSAGES*1e6:.0f} us')"
done
