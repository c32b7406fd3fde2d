#!/usr/bin/env bash
# TLS audit: testssl.sh (Debian's package) against an implicit-TLS and a
# STARTTLS listener of a scratch smtpsd; fails on any finding rated MEDIUM or
# worse. The certificate is self-signed, so trust findings are left out: the
# audit is about protocols, ciphers and known attacks.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SMTPSD_BIN:-build/release/src/smtpsd}
[ -x "$BIN" ] || { echo "build first: make release" >&2; exit 2; }
spid=
work=$(mktemp -d /tmp/smtpsd-audit-XXXXXX)
trap '[ -n "$spid" ] && kill $spid 2>/dev/null || true; rm -rf "$work"' EXIT
"$BIN" init "$work" --hostname localhost >/dev/null
python3 - "$work/smtpsd.toml" <<'PY'
import re, sys
p = sys.argv[1]
t = open(p).read()
t = re.sub(r'"0\.0\.0\.0:(\d+)"', lambda m: '"127.0.0.1:0"', t)
t = t.replace('enabled = true', 'enabled = false')
open(p, 'w').write(t)
PY
"$BIN" serve -c "$work/smtpsd.toml" 2>"$work/log" & spid=$!
for _ in $(seq 100); do grep -q '"ready' "$work/log" 2>/dev/null && break; sleep 0.05; done
implicit=$(grep -o 'listening on 127.0.0.1:[0-9]* mode=implicit-tls' "$work/log" | head -1 | sed 's/.*:\([0-9]*\) mode.*/\1/')
starttls=$(grep -o 'listening on 127.0.0.1:[0-9]* mode=starttls' "$work/log" | head -1 | sed 's/.*:\([0-9]*\) mode.*/\1/')
status=0
run() {
  local name=$1; shift
  echo "== testssl $name"
  testssl --quiet --color 0 --warnings off --sneaky --ip one --jsonfile "$work/$name.json" "$@" >"$work/$name.txt" 2>&1 || true
  python3 - "$work/$name.json" "$name" <<'PY' || status=1
import json, sys
findings = json.load(open(sys.argv[1]))
# Trust findings concern the self-signed test certificate, not the server.
ignore = ("cert_", "intermediate", "OCSP", "DNS_CAArecord", "chain_of_trust", "trust")
bad = [f for f in findings if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL")
       and not f["id"].startswith(ignore)]
for f in bad:
    print(f"  {f['severity']:8} {f['id']}: {f['finding']}")
print(f"  {len(findings)} checks, {len(bad)} findings rated MEDIUM or worse")
sys.exit(1 if bad else 0)
PY
}
run implicit-tls "127.0.0.1:$implicit"
run starttls -t smtp "127.0.0.1:$starttls"
exit $status
