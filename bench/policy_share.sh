#!/usr/bin/env bash
# What share of the server's CPU per accepted message the policy checks take:
# the policy micro-benchmark against the CPU per message measured end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(bench/submit_fsync.sh 64 5000 4096)
echo "$out" | grep -E '^\{|server CPU'
per_msg=$(echo "$out" | sed -n 's/server CPU per accepted message: \([0-9]*\) us/\1/p')
policy=$(build/bench/bench/smtpsd-policy-bench --benchmark_filter=BM_policy_per_message --benchmark_format=json \
         | python3 -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["cpu_time"])')
python3 -c "print(f'policy checks per message: {$policy:.1f} us of {$per_msg} us server CPU = {100*$policy/$per_msg:.1f} %')"
