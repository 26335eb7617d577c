# tests/fuzz/fuzz.mk: the fuzzing harnesses, included by the top Makefile.
#
#   make fuzz          builds the libFuzzer targets with clang (ASan, UBSan)
#                      in $(FUZZ_BUILD) and runs each for FUZZ_SECONDS (30)
#                      from its seed corpus (tests/fuzz/corpus/NAME, read
#                      only: new inputs go to $(FUZZ_BUILD)/corpus/NAME)
#   make fuzz-build    only builds them
#   make check, unit   also build $(BUILD)/tests/test_fuzz_NAME: the same
#                      harnesses without libFuzzer, replaying the seed corpus
#                      and tests/fuzz/regressions/NAME (run-all.sh runs them
#                      with the unit tests; SANITIZE=1 adds the sanitizers)
#   make stress        the full concurrency test (16 workers x 500 cycles)
#
# A crash leaves $(FUZZ_BUILD)/artifacts/NAME-crash-*: copy it to
# tests/fuzz/regressions/NAME/ (a name saying what it was) once fixed.

FUZZ_HARNESSES := state profile config cgroup names
FUZZ_SECONDS   ?= 30
FUZZ_MAX_LEN   ?= 4096
FUZZ_BUILD     ?= build-fuzz
FUZZ_CC        ?= $(CLANG)
FUZZ_DIR       := $(abspath tests/fuzz)
# The code the harnesses reach: parsing and checks, no libbpf skeleton.
FUZZ_LIB       := state log profile compile policy sha256 config cgroup pin text
FUZZ_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS     = -std=gnu11 -g -O1 -Wall -Wextra -D_GNU_SOURCE -DOCB_VERSION='"$(VERSION)"' \
		  -Ihook -Ibpf -Itests/fuzz $(PKG_CFLAGS)

FUZZ_REPLAY    := $(FUZZ_HARNESSES:%=$(BUILD)/tests/test_fuzz_%)
FUZZ_TARGETS   := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_OBJS      := $(FUZZ_LIB:%=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz fuzz-build stress
# Not intermediate: make must not delete them after a link.
.SECONDARY: $(FUZZ_OBJS)

check unit: $(FUZZ_REPLAY)

$(BUILD)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h \
			    $(FUZZ_LIB:%=$(BUILD)/%.o) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -DFUZZ_NAME='"$*"' -DFUZZ_DIR='"$(FUZZ_DIR)"' $(LDFLAGS) \
		-o $@ $< tests/fuzz/replay.c $(FUZZ_LIB:%=$(BUILD)/%.o) $(LDLIBS)

$(FUZZ_BUILD)/obj/%.o: hook/%.c $(wildcard hook/*.h) bpf/ocb_maps.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS)

# Each harness in turn; a crash stops here with the input saved.
fuzz: fuzz-build
	@for h in $(FUZZ_HARNESSES); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/artifacts; \
		seeds=tests/fuzz/corpus/$$h; \
		[ -d tests/fuzz/regressions/$$h ] && seeds="$$seeds tests/fuzz/regressions/$$h"; \
		echo "fuzz $$h: $(FUZZ_SECONDS)s (log: $(FUZZ_BUILD)/fuzz-$$h.log)"; \
		if ! $(FUZZ_BUILD)/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
			-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$h- \
			$(FUZZ_BUILD)/corpus/$$h $$seeds >$(FUZZ_BUILD)/fuzz-$$h.log 2>&1; then \
			tail -40 $(FUZZ_BUILD)/fuzz-$$h.log; \
			echo "fuzz $$h: FAILED; the input is in $(FUZZ_BUILD)/artifacts/"; \
			exit 1; \
		fi; \
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done' $(FUZZ_BUILD)/fuzz-$$h.log | \
			sed "s/^/  $$h: /"; \
	done

stress: all
	@STRESS=full ./tests/run-all.sh --integration stress
