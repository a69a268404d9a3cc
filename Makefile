# antema: two commands for a newcomer (see README.md).
#   make demo   installs what is missing, builds, and runs antemad on a demo folder
#   make test   installs what is missing and runs the whole test suite, then the package test
SWIFT ?= swift
DEMO_DIR ?= .demo

.PHONY: deps build demo test test-package bench clean install uninstall deb

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

demo: build
	bash scripts/demo.sh

test: deps
	$(SWIFT) test
	bash scripts/test-package.sh

test-package: deps
	bash scripts/test-package.sh

bench: deps
	$(SWIFT) build -c release
	.build/release/DMBench
	.build/release/AnalysisBench
	.build/release/StoreBench
	.build/release/ReportBench
	.build/release/DaemonBench

install:
	bash scripts/install.sh

uninstall:
	bash scripts/uninstall.sh

deb:
	bash scripts/deb.sh

clean:
	rm -rf .build $(DEMO_DIR)
