#!/usr/bin/env python3
"""DESIGN §2 as a test: which module may include which, read from #include lines.

A wrong arrow fails the build's tests instead of waiting for a review. Tests
(*_test.cpp) may include what they exercise; only main.cpp names backends.
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")

# module -> modules it may include (besides itself)
ALLOWED = {
    "base": set(),
    "sasl": {"base"},
    "smtp": {"base", "sasl"},  # both pure; the AUTH exchange needs the mechanisms
    "message": {"base"},
    "dkim": {"base", "message"},
    "config": {"base"},
    "store": {"base"},
    "store/embedded": {"base", "store"},
    "store/memory": {"base", "store"},
    "store/postgres": {"base", "store"},
    "store/redis": {"base", "store"},
    "policy": {"base", "store", "smtp", "message", "sasl"},
    "submission": {"base", "store", "message", "smtp", "policy", "dkim", "sasl", "events"},
    "events": {"base"},
    "delivery": {"base", "smtp", "net", "message", "sasl"},  # never store: outcomes flow back to queue
    "queue": {"base", "store", "delivery", "message", "smtp", "events", "net", "sasl", "dkim"},
    "net": {"base"},
    "server": {"base", "smtp", "sasl", "net", "policy", "submission", "config", "message", "events", "queue",
               "admin", "delivery", "store"},
    "admin": {"base", "net", "store", "events"},
    "cli": {"base", "config", "store", "policy", "net", "smtp", "message", "delivery", "dkim", "sasl", "events"},
}
PURE = {"base", "sasl", "smtp", "message"}
IMPURE_HEADERS = re.compile(r"<(boost/asio|boost/beast|openssl/|sqlite3|libpq|hiredis|ares|sys/socket|netdb)")
CLOCK_READS = re.compile(r"\b(system_clock|steady_clock|high_resolution_clock)::now\(")
# Only store/* may include store backends; server may include only the store interfaces.
BACKENDS = re.compile(r'#include "store/(embedded|memory|postgres|redis)/')
SERVER_STORE_OK = {"store/stores.hpp", "store/types.hpp", "store/account_store.hpp", "store/queue_store.hpp",
                   "store/spool.hpp"}


def module_of(path: Path):
    rel = path.relative_to(src)
    parts = rel.parts
    if len(parts) == 1:
        return None  # main.cpp: the composition root
    if parts[0] == "store" and len(parts) > 2:
        return f"store/{parts[1]}"
    return parts[0]


errors = []
for f in sorted(src.rglob("*")):
    if f.suffix not in {".hpp", ".cpp"}:
        continue
    mod = module_of(f)
    if mod is None:
        continue
    is_test = f.name.endswith("_test.cpp")
    text = f.read_text(errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r'\s*#include "([^"]+)"', line)
        if m:
            inc = m.group(1)
            parts = inc.split("/")
            target = f"store/{parts[1]}" if parts[0] == "store" and len(parts) > 2 else parts[0]
            if is_test:
                continue
            if target != mod and target not in ALLOWED.get(mod, set()):
                errors.append(f"{f.relative_to(src)}:{n}: {mod} may not include {inc}")
            if BACKENDS.search(line) and not mod.startswith("store/"):
                errors.append(f"{f.relative_to(src)}:{n}: only main.cpp names a store backend ({inc})")
            if mod == "server" and target == "store" and inc not in SERVER_STORE_OK:
                errors.append(f"{f.relative_to(src)}:{n}: server reaches storage only through interfaces ({inc})")
        if mod in PURE and not is_test:
            if IMPURE_HEADERS.search(line):
                errors.append(f"{f.relative_to(src)}:{n}: {mod} is pure: no I/O libraries ({line.strip()})")
            if CLOCK_READS.search(line) and f.name not in {"random.cpp", "clock.hpp", "log.cpp"}:
                errors.append(f"{f.relative_to(src)}:{n}: {mod} is pure: clocks are injected")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print("include rules hold")
