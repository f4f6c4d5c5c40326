# HyperField build entry points. `make test` and `make demo` do all set-up on
# a fresh machine (Debian packages through .ci/install-deps).

SWIFT ?= swift
# Tests run in release mode: numeric kernels are 10-50x slower in debug builds.
# -enable-testing keeps @testable imports working; XCTest only, so the
# runner's closing line reports the XCTest totals.
TEST_FLAGS = -c release -Xswiftc -enable-testing --disable-swift-testing

.PHONY: deps build test bench demo clean

deps:
	@bash .ci/install-deps

build: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) test $(TEST_FLAGS)

bench: deps
	$(SWIFT) run -c release hyperfield-bench

demo: deps
	$(SWIFT) build -c release --product hyperfield
	.build/release/hyperfield demo

clean:
	rm -rf .build
