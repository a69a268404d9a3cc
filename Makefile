# antema: two commands for a newcomer (see README.md).
#   make demo   installs what is missing, builds, and runs antemad on a demo folder
#   make test   installs what is missing and runs the whole test suite
SWIFT ?= swift
DEMO_DIR ?= .demo

.PHONY: deps build demo test bench clean install

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

demo: build
	bash scripts/demo.sh

test: deps
	$(SWIFT) test

bench: deps
	$(SWIFT) build -c release
	.build/release/DMBench
	.build/release/AnalysisBench
	.build/release/StoreBench
	.build/release/ReportBench
	.build/release/DaemonBench

install:
	bash scripts/install.sh

clean:
	rm -rf .build $(DEMO_DIR)
