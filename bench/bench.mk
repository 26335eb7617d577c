# bench/bench.mk: `make bench` (included from the top Makefile).
#
#   make bench              quick run (a few minutes)
#   make bench BENCH=full   longer runs, 1,000 containers in the scale test
#
# Prints a table, writes bench/results/latest.json (and a timestamped
# copy), bench/results/latest.md and bench/results/datapath.png. With
# BENCH_UPDATE_DOC=1 it also replaces the results block of BENCHMARKS.md.
# Needs root; see BENCHMARKS.md for what is measured and how.

BENCH       ?= quick
BENCH_BUILD := $(BUILD)/bench
BENCH_TOOLS := $(BENCH_BUILD)/floor-hook $(BENCH_BUILD)/netbench $(BENCH_BUILD)/progrun
BENCH_CC    := $(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE

.PHONY: bench bench-tools

$(BENCH_BUILD):
	mkdir -p $@

# The floor hook is linked like the real one (dynamically, against libc).
$(BENCH_BUILD)/floor-hook: bench/tools/floor-hook.c | $(BENCH_BUILD)
	$(BENCH_CC) -o $@ $<

$(BENCH_BUILD)/netbench: bench/tools/netbench.c | $(BENCH_BUILD)
	$(BENCH_CC) -o $@ $<

$(BENCH_BUILD)/progrun: bench/tools/progrun.c | $(BENCH_BUILD)
	$(BENCH_CC) $(shell $(PKG_CONFIG) --cflags libbpf) -o $@ $< $(shell $(PKG_CONFIG) --libs libbpf)

bench-tools: $(BENCH_TOOLS)

# `deps` (top Makefile) installs what the tests need, runc, iperf3 and
# nftables among it; bench/deps.sh adds gnuplot.
bench: deps
	@./bench/deps.sh
	@$(MAKE) --no-print-directory all $(BENCH_TOOLS)
	@BENCH='$(BENCH)' ./bench/run.sh
