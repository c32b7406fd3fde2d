# Shared by the benchmark scripts: a scratch smtpsd with one listener on a
# free port, delivery off, limits out of the way, and a login bench/benchpass.
#   bench_setup DIR BIN
bench_setup() {
  local work=$1 bin=$2
  "$bin" init "$work" >/dev/null
  python3 - "$work/smtpsd.toml" <<'PY'
import re, sys
p = sys.argv[1]
t = open(p).read().replace('"0.0.0.0:465"', '"127.0.0.1:0"', 1)
t = re.sub(r'\[\[listeners\]\]\naddress = "0\.0\.0\.0:\d+"\nmode = "[a-z-]+"\n', '', t)
t = t.replace('enabled = true', 'enabled = false')
t = t.replace('default_max_send_rate = 14', 'default_max_send_rate = 1000000').replace('default_max_24h = 50000', 'default_max_24h = 1000000000')
open(p, 'w').write(t)
PY
  "$bin" -c "$work/smtpsd.toml" account add bench >/dev/null
  "$bin" -c "$work/smtpsd.toml" identity add bench example.com >/dev/null
  echo "benchpass" | "$bin" -c "$work/smtpsd.toml" credential add bench --username bench --password-stdin >/dev/null
}

# Starts the server in the background; sets spid and port.
bench_start() {
  local work=$1 bin=$2
  : >"$work/log"
  "$bin" serve -c "$work/smtpsd.toml" 2>"$work/log" & spid=$!
  for _ in $(seq 200); do grep -q '"ready' "$work/log" 2>/dev/null && break; sleep 0.05; done
  port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/log" | head -1 | cut -d: -f2)
}

# utime + stime of the server, in clock ticks.
cpu() { awk '{print $14 + $15}' /proc/$spid/stat; }

# Context switches of the server so far, voluntary and not, over all its threads.
switches() { cat /proc/$spid/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }
