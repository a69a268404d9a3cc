# antema: two commands for a newcomer (see README.md).
#   make demo   installs what is missing, builds, and runs antemactl on an example micrograph
#   make test   installs what is missing and runs the whole test suite
SWIFT ?= swift
DEMO_DIR ?= .demo

.PHONY: deps build demo test bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

demo: build
	@mkdir -p $(DEMO_DIR)
	.build/debug/antemactl example-micrograph $(DEMO_DIR)/example.dm3 --truth $(DEMO_DIR)/example-truth.csv
	.build/debug/antemactl inspect $(DEMO_DIR)/example.dm3
	.build/debug/antemactl analyze $(DEMO_DIR)/example.dm3 --out $(DEMO_DIR)/analysis
	@echo "results: $(DEMO_DIR)/analysis/particles.csv, images.csv, example_segmentation.png"
	@if [ -f ../shared/data/dm/rosettasciio_2D_multi_signal.dm3 ]; then \
	  .build/debug/antemactl inspect ../shared/data/dm/rosettasciio_2D_multi_signal.dm3; fi

test: deps
	$(SWIFT) test

bench: deps
	$(SWIFT) build -c release --product DMBench --product AnalysisBench
	.build/release/DMBench
	.build/release/AnalysisBench

clean:
	rm -rf .build $(DEMO_DIR)
