#!/usr/bin/env python3
"""DESIGN §2 as a test: which module may include which, read from #include lines.

A wrong arrow fails the build's tests instead of waiting for a review. Tests
(*_test.cpp) follow their module's list, plus the in-memory stores as
fixtures; only main.cpp names a backend (and the store conformance suite,
which runs them all).
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")

# module -> modules it may include (besides itself): the real dependencies,
# no wider. A new arrow is a design decision: add it here in the same commit.
ALLOWED = {
    "base": set(),
    "sasl": {"base"},
    "smtp": {"base", "sasl"},  # both pure; the AUTH exchange needs the mechanisms
    "message": {"base"},
    "inbound": {"base", "message"},  # the return path's reports and VERP addresses: pure
    "dkim": {"base", "message"},
    "config": {"base"},
    "events": {"base", "store", "message", "net"},  # the log is a store; webhooks speak HTTP
    "net": {"base"},
    "store": {"base"},
    "store/embedded": {"base", "store"},
    "store/memory": {"base", "store"},
    "store/postgres": {"base", "store"},
    "store/redis": {"base", "store"},
    "policy": {"base", "store", "smtp", "message", "sasl"},  # sasl: SCRAM secrets of credentials
    "submission": {"base", "store", "message", "smtp", "policy", "dkim", "events"},
    "delivery": {"base", "smtp", "net", "message"},  # never store: outcomes flow back to queue
    # submission: only its queue_writer interface (DSNs go in through the one writer)
    # policy: delivery outcomes feed the sender reputation; inbound: the return path's VERP and reports
    "queue": {"base", "store", "delivery", "message", "events", "net", "submission", "policy", "inbound"},
    "service": {"base", "config", "store", "policy", "dkim", "delivery", "events"},
    "admin": {"base", "net", "service", "config", "store", "policy"},  # policy: the AUTH failure throttle
    # service: where the DKIM keystore keeps its files (service/dkim_keys.hpp)
    "server": {"base", "smtp", "net", "policy", "submission", "config", "events", "queue", "admin", "delivery", "inbound",
               "store", "sasl", "service"},
    "cli": {"base", "config", "store", "policy", "net", "smtp", "message", "delivery", "dkim", "events", "service"},
}
# What a module's tests may include besides the module's own list: the
# in-memory stores as fixtures; the store conformance suite runs every backend.
TEST_EXTRA = {"store/memory"}
TEST_BACKENDS_OK = {"store"}
QUEUE_SUBMISSION_OK = {"submission/queue_writer.hpp"}
PURE = {"base", "sasl", "smtp", "message", "inbound"}
# libcrypto's digests, MACs and KDFs are computation, not I/O: a pure module may
# hash (SCRAM in sasl); TLS, BIOs and the rest of OpenSSL stay outside.
IMPURE_HEADERS = re.compile(
    r"<(boost/asio|boost/beast|openssl/(?!(evp|hmac|sha|crypto|kdf)\.h>)|sqlite3|libpq|hiredis|ares|sys/socket|netdb)")
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
            allowed = ALLOWED.get(mod, set()) | (TEST_EXTRA if is_test else set())
            backend_ok = mod.startswith("store/") or (is_test and (mod in TEST_BACKENDS_OK or target in TEST_EXTRA))
            if is_test and mod in TEST_BACKENDS_OK and target.startswith("store/"):
                allowed = allowed | {target}
            if target != mod and target not in allowed:
                errors.append(f"{f.relative_to(src)}:{n}: {mod} may not include {inc}")
            if BACKENDS.search(line) and not backend_ok:
                errors.append(f"{f.relative_to(src)}:{n}: only main.cpp names a store backend ({inc})")
            if mod == "queue" and target == "submission" and inc not in QUEUE_SUBMISSION_OK:
                errors.append(f"{f.relative_to(src)}:{n}: queue reaches submission only through its queue_writer ({inc})")
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
