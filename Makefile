# make run   installs what is missing, builds Release, creates ./run/ once, serves it
# make test  installs what is missing, builds with warnings as errors and the sanitizers, runs every test
SHELL := /bin/bash
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
JOBS ?= $(shell nproc)

.PHONY: run first-steps test release deb deps test-deps build-test debug fuzz fuzz-build fuzz-merge fuzz-smoke bench bench-build bench-compare audit clean

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

release: deps
	@cmake -S . -B build/release -G "$(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo 'Unix Makefiles')" \
	  -DCMAKE_BUILD_TYPE=Release -DSMTPSD_TESTS=OFF -DSMTPSD_BENCH=OFF >/dev/null
	@cmake --build build/release -j $(JOBS)

# The Debian package of the Release build (cmake/package.cmake), checked with lintian.
deb: release
	@scripts/install-deps.sh deb
	@cd build/release && cpack -G DEB >/dev/null
	@lintian --fail-on error build/release/smtpsd_*_amd64.deb
	@ls build/release/smtpsd_*_amd64.deb

run: release
	@[ -d run ] || { build/release/src/smtpsd init run && printf '\nNext, in a second terminal (README.md, "First message in a minute"):\n\n' && \
	  $(MAKE) -s --no-print-directory first-steps && echo; }
	exec build/release/src/smtpsd serve -c run/smtpsd.toml

# The README's first-message commands, printed by make run when it creates ./run/ (tests/integration/test_readme.py).
first-steps:
	@awk '/^## First message in a minute/ {s = 1} s && /^```sh$$/ {p = 1; next} p && /^```$$/ {exit} p' README.md

# ccache, when installed, makes a second build of the same sources cheap.
LAUNCHER := $(shell command -v ccache >/dev/null 2>&1 && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# The test build: Debug with AddressSanitizer and UndefinedBehaviorSanitizer,
# warnings as errors. Everything `make test` runs runs on it, once.
build-test: test-deps
	@cmake -S . -B build/test -G "$(GENERATOR)" $(LAUNCHER) \
	  -DCMAKE_BUILD_TYPE=Debug -DSMTPSD_WERROR=ON -DSMTPSD_SANITIZE=ON -DSMTPSD_BENCH=OFF >/dev/null
	@cmake --build build/test -j $(JOBS)

# Every test: the unit tests, the rule checks, the integration tests against
# the real `smtpsd serve`, and every fuzz target over its checked-in corpus;
# two tests per core, as they mostly wait on the server (tests/CMakeLists.txt).
TEST_JOBS ?= $(shell echo $$(( $(JOBS) * 2 )))
test: build-test
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build/test --output-on-failure -j $(TEST_JOBS)

# A plain debug build (no sanitizers), for a debugger.
debug: test-deps
	@cmake -S . -B build/debug -G "$(GENERATOR)" $(LAUNCHER) -DCMAKE_BUILD_TYPE=Debug -DSMTPSD_WERROR=ON >/dev/null
	@cmake --build build/debug -j $(JOBS)

clean:
	rm -rf build

# Fuzzing: clang + libFuzzer over the parsers; FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz-build:
	@scripts/install-deps.sh fuzz
	@CXX=clang++ CC=clang cmake -S . -B build/fuzz -G "$(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo 'Unix Makefiles')" \
	  -DSMTPSD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build/fuzz -j $(JOBS)

fuzz: fuzz-build
	@set -eo pipefail; for corpus in fuzz/corpus/*/; do t=$$(basename $$corpus); \
	  mkdir -p build/fuzz/work/$$t build/fuzz/artifacts; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; \
	  build/fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=build/fuzz/artifacts/$$t- build/fuzz/work/$$t $$corpus 2>&1 | \
	    grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Done' ; \
	done

# Minimise the checked-in corpora: keep only inputs that add coverage, taking
# in what `make fuzz` found in build/fuzz/work. Hand-written seeds (any name
# that is not libFuzzer's SHA-1) are always kept.
fuzz-merge: fuzz-build
	@set -eo pipefail; for corpus in fuzz/corpus/*/; do t=$$(basename $$corpus); \
	  rm -rf build/fuzz/merged/$$t; mkdir -p build/fuzz/merged/$$t build/fuzz/work/$$t; \
	  build/fuzz/fuzz/fuzz_$$t -merge=1 build/fuzz/merged/$$t $$corpus build/fuzz/work/$$t 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files'; \
	  find $$corpus -type f ! -regex '.*/[0-9a-f]\{40\}' -exec cp {} build/fuzz/merged/$$t/ \; ; \
	  rm -rf $$corpus; mv build/fuzz/merged/$$t $$corpus; \
	done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5

# Benchmarks: a Release build of the server and the load generator.
bench-build: release
	@cmake -S . -B build/bench -G "$(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo 'Unix Makefiles')" \
	  -DCMAKE_BUILD_TYPE=Release -DSMTPSD_TESTS=OFF -DSMTPSD_BENCH=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target smtpsd-loadgen smtpsd-policy-bench smtpsd-sink smtpsd-dkim-bench smtpsd-webhook-sink

bench: bench-build
	bench/submit_fsync.sh 64 5000 4096
	bench/policy_share.sh
	bench/delivery.sh 10000 4096
	build/bench/bench/smtpsd-dkim-bench
	bench/webhooks.sh 8 5000 4096
	bench/api.py 1000000 2000
	bench/idle_100k.sh 100000 4

# Side by side with Postfix, openssl s_server and chasquid (../shared/bench;
# the ratios issue 16 states): every mode of compare.sh in turn.
bench-compare: release
	for m in send send-dkim relay handshake idle; do SMTPSD_BIN=$(CURDIR)/build/release/src/smtpsd ../shared/bench/compare.sh $$m; done
	SIZE=102400 SMTPSD_BIN=$(CURDIR)/build/release/src/smtpsd ../shared/bench/compare.sh relay

# TLS audit with testssl.sh (not part of make test: it takes minutes).
audit: release
	@scripts/install-deps.sh audit
	scripts/audit.sh
