# make run   installs what is missing, builds Release, creates ./run/ once, serves it
# make test  installs what is missing, builds with warnings as errors, runs every test
SHELL := /bin/bash
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
JOBS ?= $(shell nproc)

.PHONY: run test release deps test-deps build-test fuzz fuzz-smoke bench audit clean

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

release: deps
	@cmake -S . -B build/release -G "$(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo 'Unix Makefiles')" \
	  -DCMAKE_BUILD_TYPE=Release -DSMTPSD_TESTS=OFF -DSMTPSD_BENCH=OFF >/dev/null
	@cmake --build build/release -j $(JOBS)

run: release
	@[ -d run ] || build/release/src/smtpsd init run
	exec build/release/src/smtpsd serve -c run/smtpsd.toml

build-test: test-deps
	@cmake -S . -B build/debug -G "$(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo 'Unix Makefiles')" \
	  -DCMAKE_BUILD_TYPE=Debug -DSMTPSD_WERROR=ON >/dev/null
	@cmake --build build/debug -j $(JOBS)

test: build-test
	ctest --test-dir build/debug --output-on-failure -j $(JOBS)

clean:
	rm -rf build
