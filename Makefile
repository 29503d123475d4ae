# llm-observer build. Everything goes to .output/; quiet unless V=1.
OUTPUT     ?= .output
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= gcc
ARCH       := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

PKGS       := libbpf libcjson sqlite3 libbrotlidec libbrotlienc zlib openssl libnghttp2 libpcre2-8 capstone yaml-0.1 libmicrohttpd libcurl libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf

WARNINGS   := -Wall -Wextra -Wmissing-field-initializers -Wshadow -Wformat=2 \
              -Wstrict-prototypes -Wno-unused-parameter -Werror=undef
ifneq ($(CI),)
WARNINGS   += -Werror
endif
CFLAGS     ?= -g -O2
# user/ has one folder per pipeline stage (user/README.md); headers are
# included by their bare names, so every stage folder is on the path and
# tools/check-layers.py keeps includes pointing to earlier stages only.
STAGE_DIRS := $(sort $(patsubst %/,%,$(wildcard user/*/)))
ALL_CFLAGS := $(CFLAGS) -std=gnu11 $(WARNINGS) -D_GNU_SOURCE -Iinclude $(addprefix -I,$(STAGE_DIRS)) \
              -I$(OUTPUT) $(PKG_CFLAGS) -MMD -MP
SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude \
              -I$(OUTPUT) -I$(OUTPUT)/vmlinux

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Userspace modules: every user/<stage>/*.c except the daemon's main is
# library code that the daemon, the CLI and the tests link.
DAEMON_MAIN := user/7-daemon/llmobsd.c
LIB_SRCS    := $(filter-out $(DAEMON_MAIN),$(wildcard user/*/*.c))
BLOB_OBJS   := $(OUTPUT)/prices_blob.o $(OUTPUT)/bpe_blob.o $(OUTPUT)/cache_rules_blob.o
LIB_OBJS    := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS)) $(BLOB_OBJS)
SAN_OBJS    := $(patsubst %.c,$(OUTPUT)/san/%.o,$(LIB_SRCS)) $(BLOB_OBJS)
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
SKELS       := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
TOOL_BINS   := $(OUTPUT)/llmobs
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(OUTPUT)/tests/%,$(HELPER_SRCS))
PRELOAD_SO  := $(if $(wildcard preload/*.c),$(OUTPUT)/libllmobs.so)

# libFuzzer targets (tests/fuzz/): clang, linked with the library rebuilt
# with coverage and ASan/UBSan. `make fuzz FUZZ_SECONDS=N` runs each N s.
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS   := $(patsubst %.c,$(OUTPUT)/fuzz/%.o,$(LIB_SRCS)) $(BLOB_OBJS)
FUZZ_SAN    := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=all
FUZZ_SECONDS ?= 10
TEST_FUZZ_SECONDS ?= 5
CHAOS_KILLS ?= 100
TEST_CHAOS_KILLS ?= 10
SEED_PYTHON ?= /usr/bin/python3

.PHONY: all clean test unit e2e run deps bench vmlinux fuzz chaos layers install uninstall deploy-check telemetry
all: $(OUTPUT)/llmobsd $(TOOL_BINS) $(PRELOAD_SO)

deps:
	$(Q)bash tools/install-deps.sh

# vmlinux.h: from the running kernel's BTF when it has one, else the checked-in copy.
$(OUTPUT)/vmlinux/vmlinux.h: | $(OUTPUT)/vmlinux
	$(call msg,GEN,$@)
	$(Q)if [ -r /sys/kernel/btf/vmlinux ] && $(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp 2>/dev/null; \
	then mv $@.tmp $@; else rm -f $@.tmp; cp bpf/vmlinux/$(ARCH)/vmlinux.h $@; fi
vmlinux: | $(OUTPUT)/vmlinux
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux/$(ARCH)/vmlinux.h

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux/vmlinux.h $(wildcard include/*.h bpf/*.bpf.h) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# BPE ranks for token estimation, built from a pinned npm package; without
# the registry they are empty and estimation is off (the script says so).
$(OUTPUT)/bpe/ranks.stamp: tools/fetch-bpe-ranks.sh tools/bpe-ranks.mjs
	$(call msg,BPE,$(OUTPUT)/bpe)
	$(Q)tools/fetch-bpe-ranks.sh $(OUTPUT)/bpe && touch $@

$(OUTPUT)/bpe_blob.o: user/3-llm/bpe_ranks.S $(OUTPUT)/bpe/ranks.stamp | $(OUTPUT)
	$(call msg,AS,$@)
	$(Q)$(CC) -c -DBPE_O200K='"$(OUTPUT)/bpe/o200k_base.bin"' \
		-DBPE_CL100K='"$(OUTPUT)/bpe/cl100k_base.bin"' $< -o $@

# The price table's base is the data of the npm package @pydantic/genai-prices,
# pinned in tools/genai-prices/ and dumped at build time; our corrections are
# data/prices-overrides.json. Unlike the BPE ranks, prices are required: the
# build stops, saying why, without the registry.
$(OUTPUT)/prices/genai-prices.json: tools/fetch-genai-prices.sh tools/genai-prices/dump.mjs \
		tools/genai-prices/package.json tools/genai-prices/package-lock.json
	$(call msg,PRICES,$@)
	$(Q)tools/fetch-genai-prices.sh $(OUTPUT)/prices

$(OUTPUT)/prices_blob.o: user/3-llm/prices.S $(OUTPUT)/prices/genai-prices.json \
		data/prices-overrides.json | $(OUTPUT)
	$(call msg,AS,$@)
	$(Q)$(CC) -c -DPRICES_JSON='"$(OUTPUT)/prices/genai-prices.json"' \
		-DPRICES_OVERRIDES='"data/prices-overrides.json"' \
		-DPRICES_ORIGIN='"$(OUTPUT)/prices/origin.txt"' $< -o $@

# Prompt-cache rules (issue 9), embedded like the price table.
$(OUTPUT)/cache_rules_blob.o: user/5-analysis/cache_rules.S data/cache_rules.json | $(OUTPUT)
	$(call msg,AS,$@)
	$(Q)$(CC) -c -DCACHE_RULES_JSON='"data/cache_rules.json"' $< -o $@

$(OUTPUT)/user/%.o: user/%.c $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUTPUT)/san/user/%.o: user/%.c $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

# Other modules' code may trip a clang-only warning: gcc's build is the
# -Werror gate, the fuzz build should not fail on it.
$(OUTPUT)/fuzz/user/%.o: user/%.c $(SKELS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(ALL_CFLAGS) -Wno-error $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/libllmobs_core.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(OUTPUT)/fuzz/libllmobs_core.a | $(OUTPUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(ALL_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer $(filter %.c %.a,$^) $(PKG_LIBS) -o $@

# Seeds are derived from the tests' corpus and the price table at build time.
$(OUTPUT)/fuzz/seeds/.stamp: tests/fuzz/make_seeds.py data/prices-overrides.json \
		$(wildcard ../shared/corpus/exchanges.jsonl) | $(OUTPUT)/fuzz
	$(call msg,SEEDS,$(OUTPUT)/fuzz/seeds)
	$(Q)rm -rf $(OUTPUT)/fuzz/seeds && $(SEED_PYTHON) tests/fuzz/make_seeds.py \
		$(OUTPUT)/fuzz/seeds data/prices-overrides.json $(abspath ../shared/corpus/exchanges.jsonl) && touch $@

$(OUTPUT)/libllmobs_core.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/san/libllmobs_core.a: $(SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/llmobsd: $(OUTPUT)/user/7-daemon/llmobsd.o $(OUTPUT)/libllmobs_core.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.o %.a,$^) $(PKG_LIBS) -o $@

$(OUTPUT)/llmobs: tools/llmobs.c $(OUTPUT)/libllmobs_core.a | $(OUTPUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(filter %.c %.a,$^) $(PKG_LIBS) -o $@

# The shim is built from objects of its own (never the daemon's library),
# which the layering check also reads.
PRELOAD_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(wildcard preload/*.c))
$(OUTPUT)/preload/%.o: preload/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(OUTPUT)/libllmobs.so: $(PRELOAD_OBJS) | $(OUTPUT)
	$(call msg,SHLIB,$@)
	$(Q)$(CC) $(CFLAGS) -fPIC -shared -fvisibility=hidden -Wl,-z,nodelete \
		$(filter %.o,$^) -ldl -lpthread -o $@

# The daemon with the containment test hooks compiled in
# (user/7-daemon/privsep_hook.h): for tests/e2e/privsep.sh only, never
# installed. Its hook object is linked ahead of the library's empty one.
$(OUTPUT)/tests/privsep_hook_on.o: user/7-daemon/privsep_hook.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DLLMOBS_TEST_HOOKS -c $< -o $@

$(OUTPUT)/tests/llmobsd-hooks: $(OUTPUT)/user/7-daemon/llmobsd.o $(OUTPUT)/tests/privsep_hook_on.o \
		$(OUTPUT)/libllmobs_core.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.o %.a,$^) $(PKG_LIBS) -o $@

# Unit tests: cmocka, built with AddressSanitizer and UBSan.
$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(OUTPUT)/san/libllmobs_core.a | $(OUTPUT)/tests
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(filter %.c %.a,$^) $(PKG_LIBS) -lcmocka -o $@

$(OUTPUT)/tests/%: tests/helpers/%.c $(wildcard tests/helpers/*.h) $(OUTPUT)/libllmobs_core.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(filter %.c %.a,$^) $(PKG_LIBS) -lpthread -o $@

# Includes and calls point to earlier stages only, and nothing is circular
# (tools/check-layers.py); its own test plants a wrong include.
layers: all
	$(Q)python3 tools/check-layers.py --objects $(OUTPUT)
	$(Q)tests/layers/run.sh

unit: $(UNIT_BINS)
	$(Q)CORPUS=$(abspath ../shared/corpus/exchanges.jsonl) tests/run-unit.sh $(UNIT_BINS)

e2e: all $(HELPER_BINS) $(OUTPUT)/tests/llmobsd-hooks
	$(Q)tests/e2e/run.sh
	$(Q)tests/e2e/metrics.sh $(OUTPUT)
	$(Q)tests/e2e/container.sh $(OUTPUT)

# `llmobs report --html` in headless Chromium (Debian's), on a day of a host
# built from the corpus through the pipeline; no root, no BPF. With
# SCREENSHOT=docs/html-report.png the README's image is refreshed.
.PHONY: html-test
html-test: all $(HELPER_BINS)
	$(Q)E2E_OUTPUT=$(abspath $(OUTPUT)) CORPUS=$(abspath ../shared/corpus/exchanges.jsonl) \
		tests/e2e/html_report.sh

# `llmobs top` in tmux (keys, redraw, q) and as plain lines in a pipe.
# Budget alerts through the sandboxed daemon to a local webhook (no root).
.PHONY: budget-test
budget-test: all
	$(Q)E2E_OUTPUT=$(abspath $(OUTPUT)) tests/e2e/budget_webhook.sh

.PHONY: top-test
top-test: all $(HELPER_BINS)
	$(Q)E2E_OUTPUT=$(abspath $(OUTPUT)) CORPUS=$(abspath ../shared/corpus/exchanges.jsonl) \
		tests/e2e/top_tmux.sh

# The README's test command: installs what is missing, builds, runs every
# test, then the benchmarks in short mode (they fail only if one breaks: its
# goals are figures to read, never a timed test).
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory layers
	$(Q)$(MAKE) --no-print-directory deploy-check
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory telemetry
	$(Q)$(MAKE) --no-print-directory otlp-test
	$(Q)$(MAKE) --no-print-directory html-test
	$(Q)$(MAKE) --no-print-directory top-test
	$(Q)$(MAKE) --no-print-directory budget-test
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	$(Q)$(MAKE) --no-print-directory chaos CHAOS_KILLS=$(TEST_CHAOS_KILLS)
	$(Q)$(MAKE) --no-print-directory bench BENCH_SHORT=1

# Installs the programs and creates the system user the daemon's worker runs
# as (README "Privilege separation"); packaging does the latter itself
# (DESTDIR set: no user is created).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
install: all
	$(Q)install -D -m 0755 $(OUTPUT)/llmobsd $(DESTDIR)$(PREFIX)/sbin/llmobsd
	$(Q)install -D -m 0755 $(OUTPUT)/llmobs $(DESTDIR)$(PREFIX)/bin/llmobs
	$(Q)$(if $(PRELOAD_SO),install -D -m 0755 $(PRELOAD_SO) $(DESTDIR)$(PREFIX)/lib/libllmobs.so)
	$(Q)[ -n "$(DESTDIR)" ] || getent passwd llmobs >/dev/null || \
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin llmobs
	$(Q)install -D -m 0644 deploy/systemd/llmobsd.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/llmobsd.service
	$(Q)sed -i 's|/usr/local/sbin/|$(PREFIX)/sbin/|g; s|/etc/llm-observer/|$(SYSCONFDIR)/llm-observer/|g' \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/llmobsd.service
	$(Q)[ -e $(DESTDIR)$(SYSCONFDIR)/llm-observer/llmobsd.yaml ] || \
		install -D -m 0644 deploy/systemd/llmobsd.yaml $(DESTDIR)$(SYSCONFDIR)/llm-observer/llmobsd.yaml

# Removes what install put in place, but the config (yours now), the
# database and the llmobs user.
uninstall:
	$(Q)rm -f $(DESTDIR)$(PREFIX)/sbin/llmobsd $(DESTDIR)$(PREFIX)/bin/llmobs \
		$(DESTDIR)$(PREFIX)/lib/libllmobs.so $(DESTDIR)$(PREFIX)/lib/systemd/system/llmobsd.service
	@echo "uninstall: kept $(SYSCONFDIR)/llm-observer (the config), /var/lib/llm-observer (the database) and the llmobs user"

# deploy/: make install into a scratch DESTDIR and back out, the systemd
# unit (systemd-analyze when present), the Kubernetes manifests against
# the Kubernetes JSON schemas (pinned npm validators), the Grafana JSON,
# the Dockerfile (hadolint when present).
deploy-check: all
	$(Q)tools/validate-deploy.sh $(OUTPUT)

# The README's run command: installs, builds, starts the daemon with the default DB.
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/run-daemon.sh

# Opt-in telemetry against a local HTTPS receiver (docs/telemetry.md).
telemetry: all $(OUTPUT)/tests/seccomp_probe
	$(Q)tests/telemetry/run.sh $(OUTPUT)

# The OTLP span exporter against a local OTLP/JSON receiver that checks
# every attribute name against the pinned semantic conventions (no root).
.PHONY: otlp-test
otlp-test: all
	$(Q)tests/otlp/run.sh $(OUTPUT)

# SIGKILLs under streaming clients, then a full and a read-only DB (root).
chaos: all
	$(Q)CHAOS_KILLS=$(CHAOS_KILLS) tests/e2e/chaos.sh

fuzz: $(FUZZ_BINS) $(OUTPUT)/fuzz/seeds/.stamp
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(OUTPUT)/fuzz $(FUZZ_BINS)

# Benchmarks: harnesses in tools/bench/, run by tools/bench/run.sh. They may
# use the library (capture files, libssl symbol lookup) and the skeletons
# (the empty probe); --as-needed keeps what they do not use out of the
# measured processes. BENCH_SHORT=1: a short version of every part.
BENCH_BINS  := $(patsubst tools/bench/%.c,$(OUTPUT)/bench/%,$(wildcard tools/bench/*.c))

$(OUTPUT)/bench/%: tools/bench/%.c $(OUTPUT)/libllmobs_core.a $(SKELS) | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(filter %.c %.a,$^) -Wl,--as-needed $(PKG_LIBS) -lpthread -o $@

bench: all $(HELPER_BINS) $(BENCH_BINS)
	$(Q)OUTPUT=$(OUTPUT) BENCH_SHORT=$(BENCH_SHORT) tools/bench/run.sh

$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/vmlinux $(OUTPUT)/fuzz $(OUTPUT)/bench:
	$(Q)mkdir -p $@

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/bench/*.d $(OUTPUT)/*.d $(OUTPUT)/preload/*.d $(OUTPUT)/user/*/*.d $(OUTPUT)/san/user/*/*.d \
	$(OUTPUT)/tests/*.d $(OUTPUT)/fuzz/*.d $(OUTPUT)/fuzz/user/*/*.d)

.DELETE_ON_ERROR:
.SECONDARY:
