# HyperField build entry points. `make test` and `make demo` do all set-up on
# a fresh machine (Debian packages through .ci/install-deps).

SWIFT ?= swift
# Tests run in release mode: numeric kernels are 10-50x slower in debug builds.
# -enable-testing keeps @testable imports working; XCTest only, so the
# runner's closing line reports the XCTest totals.
TEST_FLAGS = -c release -Xswiftc -enable-testing --disable-swift-testing

.PHONY: deps build test bench bench-peer demo demo-subject clean

deps:
	@bash .ci/install-deps

build: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) test $(TEST_FLAGS)

bench: deps
	$(SWIFT) run -c release hyperfield-bench

# Speed and peak memory against a PyTorch copy of the models on this CPU.
# Installs the pinned CPU build of torch into bench/peer/.venv; `make test`
# never runs it.
PEER_VENV = bench/peer/.venv
PEER_FLAGS ?=

bench-peer: deps
	test -x $(PEER_VENV)/bin/python || python3 -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install -r bench/peer/requirements.txt
	$(SWIFT) build -c release --product hyperfield-bench-peer
	$(PEER_VENV)/bin/python bench/peer/compare.py --no-build $(PEER_FLAGS)

# The main job: personalize data/demo-subject with the shipped models and
# write the adapter, sample grid, trajectory grid and scores to out/demo.
demo: deps
	$(SWIFT) build -c release --product hyperfield
	.build/release/hyperfield demo

# Regenerates the synthetic demo subject from the shipped base models
# (data/demo-subject.md says how it was made).
demo-subject: deps
	$(SWIFT) build -c release --product hyperfield
	rm -rf data/demo-subject
	.build/release/hyperfield sample --classes face --count 6 --variation-strength 0.35 --seed 3 \
		--output-dir data/demo-subject --grid out/demo-subject-grid.png

clean:
	rm -rf .build
