# ShardLog developer entry points. `make deps` is idempotent and quick when everything is present.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

SWIFT     ?= swift
PYTHON    ?= python3
# Extra flags: `make test TESTFLAGS='--filter MappingTests'`, `make build SWIFTFLAGS='-c release'`.
TESTFLAGS  ?=
SWIFTFLAGS ?=

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := liblz4-dev pkg-config curl
# Only needed if pip has to build awslambdaric from source (there is a manylinux wheel for x86_64/aarch64 CPython).
RIC_BUILD_PACKAGES := g++ make cmake autoconf automake libtool libcurl4-openssl-dev
PIP_PACKAGES := boto3 awscli awslambdaric aws-lambda-powertools 'moto[server]'
PY_CHECK := import boto3, awslambdaric, aws_lambda_powertools, moto, moto.server

.PHONY: deps build test demo bench lint clean

# apt_install PKG...: install those not already installed; `apt-get update` only when something is missing.
define apt_install
missing=(); for p in $(1); do dpkg -s "$$p" >/dev/null 2>&1 || missing+=("$$p"); done; \
if (( $${#missing[@]} )); then \
  echo "deps: apt-get install $${missing[*]}" >&2; \
  $(SUDO) apt-get update -qq; \
  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$${missing[@]}" >/dev/null; \
fi
endef

deps:
	@$(call apt_install,$(APT_PACKAGES))
	@if ! $(PYTHON) -c '$(PY_CHECK)' 2>/dev/null; then \
	  echo "deps: pip install $(PIP_PACKAGES)" >&2; \
	  if ! PIP_ROOT_USER_ACTION=ignore $(PYTHON) -m pip install -q --disable-pip-version-check $(PIP_PACKAGES); then \
	    echo "deps: pip install failed; installing build tools for awslambdaric and retrying" >&2; \
	    $(call apt_install,$(RIC_BUILD_PACKAGES)); \
	    PIP_ROOT_USER_ACTION=ignore $(PYTHON) -m pip install -q --disable-pip-version-check $(PIP_PACKAGES); \
	  fi; \
	  $(PYTHON) -c '$(PY_CHECK)'; \
	fi

build: deps
	$(SWIFT) build $(SWIFTFLAGS)

test: deps lint
	$(SWIFT) build --build-tests $(SWIFTFLAGS)
	@# Serial: several suites time real processes, deadlines and batching windows; on 2 cores, parallel suites that
	@# spawn processes starve the cooperative pool and turn those timings into noise (the serial run takes ~1 min).
	$(SWIFT) test --skip-build --no-parallel $(SWIFTFLAGS) $(TESTFLAGS)

demo: deps build
	bash scripts/demo.sh

bench: deps
	@# Release build, peer baselines, ShardLog's benchmarks, then Benchmarks/RESULTS.md (see scripts/bench.sh).
	SWIFT="$(SWIFT)" PYTHON="$(PYTHON)" bash scripts/bench.sh

.PHONY: fuzz
fuzz: deps
	@# libFuzzer targets, one after another, FUZZ_SECONDS each (default 60): see scripts/fuzz.sh.
	SWIFT="$(SWIFT)" bash scripts/fuzz.sh $(FUZZ_TARGETS)

lint:
	$(SWIFT) format lint --strict -r Sources Tests Benchmarks
	@# Unsafe pointer code lives only in Sources/ShardLog/Unsafe/ (the C targets CShardLog and CLZ4 are exempt).
	@# Integer/float `init(bitPattern:)` (e.g. Int64(bitPattern: u)) is a safe conversion and allowed everywhere;
	@# pointer ones (UnsafeRawPointer(bitPattern:), OpaquePointer(bitPattern:)) are not; getting a pointer needs Unsafe API anyway.
	@if hits="$$(grep -rnE --include='*.swift' --exclude-dir=CShardLog --exclude-dir=CLZ4 \
	      'Unsafe|assumingMemoryBound|bitPattern' Sources | grep -v '^Sources/ShardLog/Unsafe/' \
	      | sed -E 's/\b(U?Int(8|16|32|64)?|Float(16|32|64)?|Double)\(bitPattern:/\1(intBitPattern:/g' \
	      | grep -E '^[^:]+:[0-9]+:.*(Unsafe|assumingMemoryBound|bitPattern:)')"; then \
	  echo "lint: unsafe constructs outside Sources/ShardLog/Unsafe/:" >&2; echo "$$hits" >&2; exit 1; \
	fi

clean:
	$(SWIFT) package clean
	rm -rf shardlog-data
