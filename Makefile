# llm-observer build. Everything goes to .output/; quiet unless V=1.
OUTPUT     ?= .output
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= gcc
ARCH       := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

PKGS       := libbpf libcjson sqlite3 libbrotlidec libbrotlienc zlib openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf

WARNINGS   := -Wall -Wextra -Wmissing-field-initializers -Wshadow -Wformat=2 \
              -Wstrict-prototypes -Wno-unused-parameter -Werror=undef
ifneq ($(CI),)
WARNINGS   += -Werror
endif
CFLAGS     ?= -g -O2
ALL_CFLAGS := $(CFLAGS) -std=gnu11 $(WARNINGS) -D_GNU_SOURCE -Iinclude -Iuser \
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

# Userspace modules: every user/*.c except the daemon's main is library code
# that the daemon, the CLI and the tests link.
DAEMON_MAIN := user/llmobsd.c
LIB_SRCS    := $(filter-out $(DAEMON_MAIN),$(wildcard user/*.c))
LIB_OBJS    := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS)) $(OUTPUT)/prices_blob.o
SAN_OBJS    := $(patsubst %.c,$(OUTPUT)/san/%.o,$(LIB_SRCS)) $(OUTPUT)/prices_blob.o
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
SKELS       := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
TOOL_BINS   := $(OUTPUT)/llmobs
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(OUTPUT)/tests/%,$(HELPER_SRCS))
PRELOAD_SO  := $(if $(wildcard preload/*.c),$(OUTPUT)/libllmobs.so)

.PHONY: all clean test unit e2e run deps bench vmlinux
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

# The price table is embedded from the one JSON file that is its source of truth.
$(OUTPUT)/prices_blob.o: user/prices.S data/prices.json | $(OUTPUT)
	$(call msg,AS,$@)
	$(Q)$(CC) -c -DPRICES_JSON='"data/prices.json"' $< -o $@

$(OUTPUT)/user/%.o: user/%.c $(SKELS) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUTPUT)/san/user/%.o: user/%.c $(SKELS) | $(OUTPUT)/san/user
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUTPUT)/libllmobs_core.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/san/libllmobs_core.a: $(SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/llmobsd: $(OUTPUT)/user/llmobsd.o $(OUTPUT)/libllmobs_core.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.o %.a,$^) $(PKG_LIBS) -o $@

$(OUTPUT)/llmobs: tools/llmobs.c $(OUTPUT)/libllmobs_core.a | $(OUTPUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(filter %.c %.a,$^) $(PKG_LIBS) -o $@

$(OUTPUT)/libllmobs.so: $(wildcard preload/*.c) | $(OUTPUT)
	$(call msg,SHLIB,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -shared -fvisibility=hidden $(filter %.c,$^) -ldl -lpthread -o $@

# Unit tests: cmocka, built with AddressSanitizer and UBSan.
$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(OUTPUT)/san/libllmobs_core.a | $(OUTPUT)/tests
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(filter %.c %.a,$^) $(PKG_LIBS) -lcmocka -o $@

$(OUTPUT)/tests/%: tests/helpers/%.c $(OUTPUT)/libllmobs_core.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(filter %.c %.a,$^) $(PKG_LIBS) -lpthread -o $@

unit: $(UNIT_BINS)
	$(Q)CORPUS=$(abspath ../shared/corpus/exchanges.jsonl) tests/run-unit.sh $(UNIT_BINS)

e2e: all $(HELPER_BINS)
	$(Q)tests/e2e/run.sh

# The README's test command: installs what is missing, builds, runs every test.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory e2e

# The README's run command: installs, builds, starts the daemon with the default DB.
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/run-daemon.sh

bench: all $(HELPER_BINS)
	$(Q)tools/bench/run.sh

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/san/user $(OUTPUT)/tests $(OUTPUT)/vmlinux:
	$(Q)mkdir -p $@

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/san/user/*.d $(OUTPUT)/tests/*.d)

.DELETE_ON_ERROR:
.SECONDARY:
