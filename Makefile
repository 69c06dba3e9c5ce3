# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# memtrace: one top-level Makefile; every artifact goes under $(OUTPUT).

OUTPUT ?= .output
CC ?= gcc
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH := x86
PYTHON ?= python3

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

SRCDIR := src
BPFDIR := bpf
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	  -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer
CPPFLAGS += -Iinclude -I$(SRCDIR) -I$(OUTPUT)
DEPFLAGS = -MMD -MP

# Static libbpf, libdw, libelf and the compression libraries they read
# sections with, so the binary runs where none of the build packages are
# installed; libc stays dynamic. libdw uses libelf: it comes first. Names
# are demangled by libstdc++ (C++) and libiberty (Rust). libmicrohttpd
# (--serve) is static too; the TLS library its archive calls, GnuTLS, is
# dynamic: Debian ships no static archive of GnuTLS's own p11-kit and
# libunistring (README: "What it needs at run time").
STATIC_LIBS := -Wl,-Bstatic -lmicrohttpd -lbpf -ldw -lelf -llzma -lbz2 -lzstd -lz -lncursesw \
	-ltinfo -lstdc++ -liberty -Wl,-Bdynamic
LDLIBS += $(STATIC_LIBS) -lgnutls -lm -ldl -lpthread

# src/ holds main.c and one folder per layer (README: "How it works").
SRCS := $(wildcard $(SRCDIR)/*.c $(SRCDIR)/*/*.c)
OBJS := $(patsubst $(SRCDIR)/%.c,$(OUTPUT)/obj/%.o,$(SRCS))

# The sanitizer variant: the same sources, built apart, used by the tests.
ASAN_OUTPUT := $(OUTPUT)/asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_OBJS := $(patsubst $(SRCDIR)/%.c,$(ASAN_OUTPUT)/obj/%.o,$(SRCS))
# Unit tests link the pure layers only: nothing that loads or reads the BPF
# object, so they build without clang, bpftool or the skeleton.
UNIT_EXCLUDE := main.o app/% probe/loader.o probe/attach.o probe/attach_python.o probe/go_attach.o \
	probe/stack_gc.o target/sysview.o target/target_set.o target/vmstats.o target/go_sampled.o \
	target/py_namer.o snapshot/snapshot.o unwind/unwind.o unwind/deferred.o unwind/feeder.o
UNIT_OBJS := $(filter-out $(addprefix $(ASAN_OUTPUT)/obj/,$(UNIT_EXCLUDE)),$(ASAN_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%,$(UNIT_SRCS))

BPF_OBJ := $(OUTPUT)/memtrace.bpf.o
SKEL := $(OUTPUT)/memtrace.skel.h

.DELETE_ON_ERROR:
.PHONY: all clean test unit e2e demo bench soak asan vmlinux deps workloads parca

all: $(OUTPUT)/memtrace

$(OUTPUT) $(OUTPUT)/unit $(ASAN_OUTPUT):
	$(Q)mkdir -p $@

# One BPF object from one translation unit: bpf/memtrace.bpf.c includes a
# bpf/*.bpf.h per concern (maps, process filter, stack walker, allocations,
# memory-map syscalls, Go). Linking several objects with `bpftool gen object`
# would need extern declarations for every shared map, helper and const
# volatile, and non-static names the skeleton then exposes; one unit keeps
# the static helpers inlined as they are, the skeleton and loader.c unchanged.
# -MMD lists every included .bpf.h in the object's .d file.
$(BPF_OBJ): $(BPFDIR)/memtrace.bpf.c $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(DEPFLAGS) -MF $@.d -MT $@ \
		-Iinclude -Ivmlinux/$(ARCH) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(SKEL): $(BPF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name memtrace_bpf > $@

# Sources that include the skeleton need it generated first.
$(OUTPUT)/obj/probe/loader.o $(ASAN_OUTPUT)/obj/probe/loader.o: $(SKEL)
$(OUTPUT)/obj/probe/attach.o $(ASAN_OUTPUT)/obj/probe/attach.o: $(SKEL)
$(OUTPUT)/obj/probe/attach_python.o $(ASAN_OUTPUT)/obj/probe/attach_python.o: $(SKEL)
$(OUTPUT)/obj/probe/go_attach.o $(ASAN_OUTPUT)/obj/probe/go_attach.o: $(SKEL)

$(OUTPUT)/obj/%.o: $(SRCDIR)/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# memtrace's own allocator, linked in (its malloc binds for libc and the
# static libraries too): system-wide, memtrace's probes are on every
# process's libc, its own included, and each of its own allocations would
# trap. (The sanitizer build keeps the sanitizer's allocator.)
OWN_MALLOC := -Wl,-Bstatic -ljemalloc_pic -Wl,-Bdynamic

$(OUTPUT)/memtrace: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(OWN_MALLOC) $(LDLIBS) -o $@

$(ASAN_OUTPUT)/obj/%.o: $(SRCDIR)/%.c | $(ASAN_OUTPUT)
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) -c $< -o $@

$(ASAN_OUTPUT)/memtrace: $(ASAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(ASAN_FLAGS) $^ $(LDLIBS) -o $@

asan: $(ASAN_OUTPUT)/memtrace

$(OUTPUT)/unit/%: tests/unit/%.c $(UNIT_OBJS) | $(OUTPUT)/unit
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) $< $(UNIT_OBJS) $(LDLIBS) -o $@

unit: $(UNIT_BINS)

include tests/workloads/build.mk
include tests/fuzz/fuzz.mk

# Go workloads are built with named toolchains, never whatever `go` is on
# PATH: memtrace's Go support is per runtime release, and a test must know
# which one it traces. Three: Debian 12's go1.19 (golang-1.19), and go1.26.8
# and go1.27.3, fetched from the Go module proxy into $(OUTPUT)/go by
# tests/go_toolchain.py (checked against the checksum database's sums). Each
# is checked with `go version` before it builds; $(OUTPUT)/tests/goMINOR/
# holds what it built (tests/e2e/mtlib.py: GO_TOOLCHAINS).
GO119 ?= /usr/lib/go-1.19/bin/go
GO_RELEASES := 1.19 1.26.8 1.27.3
go_minor = $(word 1,$(subst ., ,$(1))).$(word 2,$(subst ., ,$(1)))
go_tool = $(if $(filter 1.19,$(1)),$(GO119),$(OUTPUT)/go/go$(1)/bin/go)
TEST_TOOLS := $(OUTPUT)/tests/go_span_check
GO_SRCS := $(wildcard tests/workloads/go/*/*.go) tests/workloads/go/go.mod
# name:package:flags, flags one of these (-s: no symbol table; -s -w: no DWARF either;
# a stripped PIE keeps its function table in .data.rel.ro.gopclntab up to Go 1.25)
GO_FLAGS_S := -ldflags=-s
GO_FLAGS_SW := -ldflags="-s -w"
GO_FLAGS_PIESW := -buildmode=pie -ldflags="-s -w"
GO_PROGRAMS := goretain:retain: goretain_stripped:retain:S gohot:hot: goinuse:inuse: \
	goinuse_stripped:inuse:SW goinuse_pie_stripped:inuse:PIESW gospan:span: \
	gospan_stripped:span:SW gochurn:churn: goallocbench:allocbench:
GO_WORKLOADS = $(foreach r,$(GO_RELEASES),$(foreach p,$(GO_PROGRAMS), \
	$(OUTPUT)/tests/go$(call go_minor,$(r))/$(call go_field,$(p),1)))

# The toolchains from the module proxy, once per output directory.
$(OUTPUT)/go/go%/bin/go:
	$(call msg,GO-GET,go$*)
	$(Q)mkdir -p $(OUTPUT)/go && $(PYTHON) tests/go_toolchain.py $* $(OUTPUT)/go/go$*

# $(1) release, $(2) name, $(3) package, $(4) flags (GO_FLAGS_$(4))
define go_program
$(OUTPUT)/tests/go$(call go_minor,$(1))/$(2): $(GO_SRCS) | $(call go_tool,$(1))
	$$(call msg,GO,$$@)
	$$(Q)$(call go_tool,$(1)) version | grep -q ' go$(1)[. ]' || \
		{ echo "memtrace: $(call go_tool,$(1)) is not go$(1): $$$$($(call go_tool,$(1)) version)" >&2; \
		  exit 1; }
	$$(Q)mkdir -p $$(@D) && cd tests/workloads/go && GOCACHE=$(abspath $(OUTPUT))/gocache \
		GOFLAGS=-mod=mod GOTOOLCHAIN=local $(abspath $(call go_tool,$(1))) build $(GO_FLAGS_$(4)) \
		-o $$(abspath $$@) ./$(3)
endef
go_field = $(word $(2),$(subst :, ,$(1)))
$(foreach r,$(GO_RELEASES),$(foreach p,$(GO_PROGRAMS),$(eval $(call go_program,$(r),$(call \
	go_field,$(p),1),$(call go_field,$(p),2),$(call go_field,$(p),3)))))

# Rust workloads (tests/workloads/rust), built as `cargo build --release` builds
# a service, from the crates Cargo.lock names (crates.io): once per global
# allocator, and the system-allocator one again with v0 symbol names. Flags
# from the environment are not let in: the build must be the default one.
# rustup's cargo when it is not on PATH; Debian's (tests/install-deps.sh) otherwise.
CARGO ?= $(shell command -v cargo 2>/dev/null || ls $(HOME)/.cargo/bin/cargo 2>/dev/null || echo cargo)
RUST_DIR := tests/workloads/rust
RUST_SRCS := $(wildcard $(RUST_DIR)/src/*.rs $(RUST_DIR)/src/bin/*.rs) $(RUST_DIR)/Cargo.toml \
	$(RUST_DIR)/Cargo.lock
RUST_BINS := rust_leak rust_leak_jemalloc rust_leak_mimalloc
RUST_WORKLOADS := $(addprefix $(OUTPUT)/tests/,$(RUST_BINS)) $(OUTPUT)/tests/rust_leak_v0
CARGO_ENV := env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS
RUST_VENDOR := $(OUTPUT)/cargo-vendor
CARGO_BUILD = $(CARGO) build --release --locked --offline --quiet \
	--manifest-path $(RUST_DIR)/Cargo.toml --config 'source.crates-io.replace-with="vendored"' \
	--config 'source.vendored.directory="$(abspath $(RUST_VENDOR))"'

$(RUST_VENDOR)/.done: $(RUST_DIR)/Cargo.lock $(RUST_DIR)/vendor.sh
	$(call msg,VENDOR,$(RUST_VENDOR))
	$(Q)$(RUST_DIR)/vendor.sh $(RUST_VENDOR) && touch $@

$(addprefix $(OUTPUT)/tests/,$(RUST_BINS)) &: $(RUST_SRCS) $(RUST_VENDOR)/.done
	$(call msg,CARGO,$(RUST_BINS))
	$(Q)mkdir -p $(OUTPUT)/tests
	$(Q)$(CARGO_ENV) $(CARGO_BUILD) --features jemalloc,mimalloc --target-dir $(abspath $(OUTPUT))/cargo
	$(Q)for b in $(RUST_BINS); do cp $(OUTPUT)/cargo/release/$$b $(OUTPUT)/tests/$$b; done

$(OUTPUT)/tests/rust_leak_v0: $(RUST_SRCS) $(RUST_VENDOR)/.done
	$(call msg,CARGO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CARGO_ENV) RUSTFLAGS='-C symbol-mangling-version=v0' $(CARGO_BUILD) --bin rust_leak \
		--target-dir $(abspath $(OUTPUT))/cargo-v0
	$(Q)cp $(OUTPUT)/cargo-v0/release/rust_leak $@

workloads: $(WORKLOADS) $(GO_WORKLOADS) $(RUST_WORKLOADS) $(TEST_TOOLS)

# Test tools: not installed; built with the sanitizers, from the layers they exercise.
SPAN_CHECK_OBJS := $(addprefix $(ASAN_OUTPUT)/obj/,memory/go_span.o memory/go_span_layout.o \
	memory/go_liveness.o memory/go_version.o memory/go_heap.o \
	symbols/elf_handle.o symbols/go_pclntab.o symbols/x86_insn.o util/procmaps.o)

$(OUTPUT)/tests/go_span_check: tests/tools/go_span_check.c $(SPAN_CHECK_OBJS)
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) $< \
		$(SPAN_CHECK_OBJS) $(LDLIBS) -o $@

# The demo and the benchmark's workload, built like the test workloads.
$(OUTPUT)/tests/demo: tests/demo/demo.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls $< -o $@

$(OUTPUT)/tests/bench_alloc: tests/bench/bench_alloc.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -pthread $< -o $@

# The same on jemalloc and on tcmalloc (--no-as-needed: only malloc and free
# are called, which libc defines too).
$(OUTPUT)/tests/bench_alloc_jemalloc $(OUTPUT)/tests/bench_alloc_tcmalloc: $(OUTPUT)/tests/bench_alloc_%: \
		tests/bench/bench_alloc.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -pthread $< \
		-o $@ -Wl,--no-as-needed $(if $(filter jemalloc,$*),-ljemalloc,-ltcmalloc_minimal) -Wl,--as-needed

# The same without frame pointers: stacks then need the unwind tables.
$(OUTPUT)/tests/bench_alloc_nofp: tests/bench/bench_alloc.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) -O2 -g -fomit-frame-pointer -fno-optimize-sibling-calls -pthread $< -o $@

# Parca's server for tests/e2e/test_fleet.py, built once from the Go module proxy
# (tests/build-parca.sh) and never again while it is there; a failed build fails
# that test, which quotes the build's log, not the whole run.
PARCA := $(OUTPUT)/parca/bin/parca
$(PARCA):
	$(Q)tests/build-parca.sh $(OUTPUT)/parca || true

parca: $(PARCA)

# Installs what a fresh Debian 12 machine lacks; a no-op when all is there.
deps:
	$(Q)tests/install-deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all asan unit workloads parca
	$(Q)MT_GO_PPROF=$(GO119) $(PYTHON) tests/run.py --memtrace $(abspath $(OUTPUT)/memtrace) \
		--asan-memtrace $(abspath $(ASAN_OUTPUT)/memtrace) \
		--workloads $(abspath $(OUTPUT)/tests) --unit $(abspath $(OUTPUT)/unit)

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(OUTPUT)/tests/demo
	$(Q)$(OUTPUT)/memtrace --batch -i 1 -- $(OUTPUT)/tests/demo

# Python's row: Debian's python3.11 (pymalloc inlined, each copy probed); add others by path.
BENCH_PYTHONS ?= /usr/bin/python3.11

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(OUTPUT)/tests/bench_alloc $(OUTPUT)/tests/bench_alloc_nofp \
		$(OUTPUT)/tests/bench_alloc_jemalloc $(OUTPUT)/tests/bench_alloc_tcmalloc \
		$(OUTPUT)/tests/go1.19/goallocbench $(OUTPUT)/tests/go1.27/goallocbench $(OUTPUT)/tests/drip
	$(Q)tests/bench.sh $(OUTPUT)/memtrace $(OUTPUT)/tests/bench_alloc $(OUTPUT)/tests/bench_alloc_nofp \
		$(OUTPUT)/tests/bench_alloc_jemalloc $(OUTPUT)/tests/bench_alloc_tcmalloc $(OUTPUT)/tests/drip
	$(Q)tests/bench_go.sh $(OUTPUT)/memtrace $(OUTPUT)/tests/go1.19/goallocbench \
		$(OUTPUT)/tests/go1.27/goallocbench
	$(Q)tests/bench_python.sh $(OUTPUT)/memtrace $(BENCH_PYTHONS)
	$(Q)tests/bench_redis.sh $(OUTPUT)/memtrace

# A long run on a churning workload (SOAK_MINUTES, default 30): not part of make test.
soak: deps
	$(Q)$(MAKE) --no-print-directory all $(OUTPUT)/tests/churn
	$(Q)tests/soak.sh $(OUTPUT)/memtrace $(OUTPUT)/tests/churn

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.o.d $(OUTPUT)/obj/*.d $(OUTPUT)/obj/*/*.d \
	$(ASAN_OUTPUT)/obj/*.d $(ASAN_OUTPUT)/obj/*/*.d $(OUTPUT)/unit/*.d $(OUTPUT)/tests/*.d)
