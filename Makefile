# oci-cgroup-bpf-hook
VERSION    := 0.1.0
PREFIX     ?= /usr
DESTDIR    ?=
# Sanitizer objects must not mix with the others: their own directory.
ifeq ($(SANITIZE),1)
BUILD      ?= build-san
endif
BUILD      ?= build
CC         ?= cc
CLANG      ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL    ?= bpftool
PKG_CONFIG ?= pkg-config
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
# Lazy, as the libraries below: a fresh machine may have no compiler yet.
MULTIARCH   = $(eval MULTIARCH := $$(shell $(CC) -dumpmachine))$(MULTIARCH)

LIBS       := libbpf jansson libseccomp
# CFLAGS, CPPFLAGS and LDFLAGS are the builder's (packagers pass their
# hardening flags there); what the build needs is in OCB_CFLAGS.
CFLAGS     ?= -O2 -g
# Asked of pkg-config when a recipe first needs them, not when make reads
# this file: `make check` and `make demo` install the libraries first (deps).
PKG_CFLAGS  = $(eval PKG_CFLAGS := $$(shell $(PKG_CONFIG) --cflags $(LIBS)))$(PKG_CFLAGS)
PKG_LIBS    = $(eval PKG_LIBS := $$(shell $(PKG_CONFIG) --libs $(LIBS)))$(PKG_LIBS)
OCB_CFLAGS  = -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -DOCB_VERSION='"$(VERSION)"' \
	      -Ihook -Ibpf -I$(BUILD) $(PKG_CFLAGS)
ALL_CFLAGS  = $(OCB_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDLIBS     += $(PKG_LIBS)
BPF_CFLAGS  = -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I/usr/include/$(MULTIARCH) -Ibpf \
	      -Wall -Werror

ifeq ($(SANITIZE),1)
OCB_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

HOOK_SRCS  := $(wildcard hook/*.c)
LIB_SRCS   := $(filter-out hook/main.c,$(HOOK_SRCS))
HOOK_OBJS  := $(HOOK_SRCS:hook/%.c=$(BUILD)/%.o)
LIB_OBJS   := $(LIB_SRCS:hook/%.c=$(BUILD)/%.o)
BIN        := $(BUILD)/oci-cgroup-bpf-hook

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# A recipe that fails leaves no target behind (an empty skeleton would
# look up to date to the next make).
.DELETE_ON_ERROR:

.PHONY: all clean check unit integration mutants demo deps lint format install uninstall

all: $(BIN)

$(BUILD):
	mkdir -p $(BUILD)/tests

# Debug info off the object the skeleton embeds (BTF stays): smaller,
# and quicker for libbpf to open.
$(BUILD)/ocb.bpf.o: bpf/ocb.bpf.c bpf/ocb_maps.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@

$(BUILD)/ocb.skel.h: $(BUILD)/ocb.bpf.o
	$(BPFTOOL) gen skeleton $< name ocb > $@

# The shared programs' directory is named after what makes them: the
# object, and the loader that sets its read-only data (kernel facts).
# OCB_BUILD_SALT makes another build of the same sources (the upgrade
# test runs two builds side by side).
OCB_LOADER := hook/progs.c hook/slots.c hook/kfacts.c hook/kfacts.h
$(BUILD)/ocb_build_id.h: $(BUILD)/ocb.bpf.o $(OCB_LOADER)
	printf '#define OCB_BUILD_ID "%s"\n' \
		"$$( (cat $^; printf '%s' '$(OCB_BUILD_SALT)') | sha256sum | cut -c1-16)" > $@

# Each object depends on the headers it includes (-MMD); the generated
# ones exist before any object is compiled (order-only: a new BPF object
# rebuilds only what includes its skeleton).
$(BUILD)/%.o: hook/%.c | $(BUILD) $(BUILD)/ocb.skel.h $(BUILD)/ocb_build_id.h
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

-include $(HOOK_OBJS:.o=.d)

$(BIN): $(HOOK_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJS) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

-include $(UNIT_BINS:=.d)

# Install what the build, tests and demo need (Debian 12), if missing.
deps:
	@./tests/deps.sh

unit: all $(UNIT_BINS)
	@./tests/run-all.sh --unit

$(BUILD)/nettool: tests/tools/nettool.c | $(BUILD)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<

# The tests run $(BUILD)'s hook (OCB_HOOK) but always build/nettool, a
# static test tool that is never sanitized.
ifneq ($(BUILD),build)
CHECK_EXTRA := build/nettool
build/nettool: tests/tools/nettool.c
	mkdir -p build
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<
endif

integration: all $(BUILD)/nettool $(CHECK_EXTRA)
	@BUILD=$(BUILD) OCB_HOOK=$${OCB_HOOK:-$(abspath $(BIN))} ./tests/run-all.sh --integration

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(BUILD)/nettool $(CHECK_EXTRA)
	@BUILD=$(BUILD) OCB_HOOK=$${OCB_HOOK:-$(abspath $(BIN))} ./tests/run-all.sh

# Mutant suite (tests/mutants/README.md): MUTANTS="a b" runs only those.
mutants: deps
	@./tests/mutants/run.sh $(MUTANTS)

demo: deps
	@$(MAKE) --no-print-directory all
	@./tests/demo.sh

lint: $(BUILD)/ocb.skel.h
	clang-format --dry-run --Werror hook/*.c hook/*.h bpf/*.c bpf/*.h
	@# The generated skeleton is a system header here: not ours to lint.
	clang-tidy --quiet $(HOOK_SRCS) -- $(subst -I$(BUILD),-isystem $(BUILD),$(ALL_CFLAGS))
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem --include=/usr/include/bpf/libbpf_common.h \
		-Ihook -Ibpf -I$(BUILD) hook/

format:
	clang-format -i hook/*.c hook/*.h bpf/*.c bpf/*.h

clean:
	rm -rf $(BUILD)

# install, uninstall, deb, rpm, check-package
-include packaging/install.mk
-include bench/bench.mk
# fuzzing harnesses (make fuzz), their replay in check, make stress
-include tests/fuzz/fuzz.mk
