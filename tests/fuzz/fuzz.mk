# libFuzzer harnesses for memtrace's parsers of outside input.
#
# A GNU make fragment included by the top Makefile (OUTPUT, SRCDIR, Q and
# msg come from there):
#
#     make fuzz [FUZZ_TIME=60]   each harness for FUZZ_TIME seconds, corpora
#                                kept in $(OUTPUT)/fuzz/corpus/ (make -j2 fuzz
#                                runs two at a time)
#     make fuzz-smoke            each harness for FUZZ_SMOKE_TIME (8) seconds
#                                from a fresh corpus: the test suite's run
#     make fuzz-build            the harnesses only
#
# Seeds are derived from real files at fuzz time (tests/fuzz/seeds.sh), and
# tests/fuzz/regressions/<harness>/ holds inputs that once crashed: each run
# replays them first. A run fails when a harness crashes, leaks, hangs
# (-timeout) or exceeds its memory limit; the input is then left in
# $(OUTPUT)/fuzz/<mode>/artifacts/<harness>/ and the log's tail printed.
# Variables of its own are prefixed FUZZ_.

FUZZ_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
FUZZ_OUT := $(OUTPUT)/fuzz
FUZZ_CLANG ?= clang
FUZZ_TIME ?= 60
FUZZ_SMOKE_TIME ?= 8
SRCDIR ?= src

# The sources are built with clang, apart from the normal objects: coverage
# instrumentation for libFuzzer, sanitizers that abort on the first report.
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer \
	-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers $(FUZZ_SAN)
FUZZ_CPPFLAGS := -Iinclude -I$(SRCDIR)

FUZZ_HARNESSES := procmaps elf pclntab vmtrack \
	json unwind

FUZZ_SRCS_procmaps := util/procmaps
FUZZ_SRCS_elf := symbols/elf_file symbols/elf_handle symbols/demangle symbols/go_pclntab \
	symbols/debug_file
FUZZ_SRCS_pclntab := symbols/go_pclntab
FUZZ_SRCS_vmtrack := memory/vmtrack
FUZZ_SRCS_json := util/json_read util/utf8
FUZZ_SRCS_unwind := unwind/unwind_table unwind/fp_calls symbols/elf_handle symbols/x86_insn

FUZZ_LIBS_elf := -lelf -lz -lzstd -lstdc++ -liberty
FUZZ_LIBS_json := -lm
FUZZ_LIBS_unwind := -lelf -lz -lzstd

# -max_len: the largest input mutated. Whole libraries (libc, libstdc++, a
# Go binary: up to ~2.5 MiB) are only replayed, from seeds/<harness>-whole/,
# with FUZZ_WHOLE_MAXLEN; what is mutated is derived from them, and smaller.
FUZZ_WHOLE_MAXLEN := 16777216
FUZZ_MAXLEN_procmaps := 65536
FUZZ_MAXLEN_elf := 1048576
FUZZ_MAXLEN_pclntab := 1048576
FUZZ_MAXLEN_vmtrack := 8800
FUZZ_MAXLEN_json := 131072
FUZZ_MAXLEN_unwind := 1048576

# Decompressing a section may take up to 256 MiB (ELF_HANDLE_MAX_DECOMPRESSED).
FUZZ_RSS_MB := 2048
FUZZ_TIMEOUT := 25
FUZZ_FLAGS = -rss_limit_mb=$(FUZZ_RSS_MB) -timeout=$(FUZZ_TIMEOUT) -print_final_stats=1

FUZZ_BINS := $(addprefix $(FUZZ_OUT)/fuzz_,$(FUZZ_HARNESSES))
FUZZ_SEEDS := $(FUZZ_OUT)/seeds/.done

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-seeds \
	$(addprefix fuzz-run-,$(FUZZ_HARNESSES)) $(addprefix fuzz-smoke-run-,$(FUZZ_HARNESSES))

fuzz-build: $(FUZZ_BINS)

$(FUZZ_OUT)/obj:
	$(Q)mkdir -p $@

$(FUZZ_OUT)/obj/%.o: $(SRCDIR)/%.c | $(FUZZ_OUT)/obj
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CLANG) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
		-MMD -MP -c $< -o $@

define FUZZ_HARNESS_RULES
$(FUZZ_OUT)/fuzz_$(1): $(FUZZ_DIR)/fuzz_$(1).c $(patsubst %,$(FUZZ_OUT)/obj/%.o,$(FUZZ_SRCS_$(1)))
	$$(call msg,FUZZ-LD,$$@)
	$$(Q)$$(FUZZ_CLANG) $$(FUZZ_CPPFLAGS) $$(FUZZ_CFLAGS) -fsanitize=fuzzer $$^ \
		$(FUZZ_LIBS_$(1)) -o $$@

fuzz-run-$(1): $(FUZZ_OUT)/fuzz_$(1) $(FUZZ_SEEDS)
	$$(call FUZZ_RUN,$(1),long,$$(FUZZ_TIME))

fuzz-smoke-run-$(1): $(FUZZ_OUT)/fuzz_$(1) $(FUZZ_SEEDS)
	$$(Q)rm -rf $(FUZZ_OUT)/smoke/corpus/$(1)
	$$(call FUZZ_RUN,$(1),smoke,$$(FUZZ_SMOKE_TIME))
endef

$(foreach h,$(FUZZ_HARNESSES),$(eval $(call FUZZ_HARNESS_RULES,$(h))))

# Seeds once per build directory; `make fuzz-seeds` makes them again.
$(FUZZ_SEEDS): $(FUZZ_DIR)/seeds.sh
	$(call msg,SEEDS,$(FUZZ_OUT)/seeds)
	$(Q)$(FUZZ_DIR)/seeds.sh $(FUZZ_OUT)/seeds $(OUTPUT) && touch $@

fuzz-seeds:
	$(Q)rm -f $(FUZZ_SEEDS)
	$(Q)$(MAKE) --no-print-directory $(FUZZ_SEEDS)

# $(1) harness, $(2) mode (long: kept corpus; smoke), $(3) seconds.
# The first directory is the corpus libFuzzer adds to; the seeds and the
# regressions are read only. The outcome goes to a status file, so that one
# harness failing does not stop the others; the aggregate target checks.
define FUZZ_RUN
	$(Q)mkdir -p $(FUZZ_OUT)/$(2)/corpus/$(1) $(FUZZ_OUT)/$(2)/artifacts/$(1) \
		$(FUZZ_OUT)/$(2)/status $(FUZZ_OUT)/seeds/$(1)
	$(Q)rm -f $(FUZZ_OUT)/$(2)/status/$(1)
	$(Q)log=$(FUZZ_OUT)/$(2)/fuzz_$(1).log; \
	printf '  %-8s %s\n' FUZZ "fuzz_$(1) for $(3) s (log: $$log)"; \
	whole=$(FUZZ_OUT)/seeds/$(1)-whole; \
	if { [ ! -d $$whole ] || $(FUZZ_OUT)/fuzz_$(1) $(FUZZ_FLAGS) -runs=0 \
		-max_len=$(FUZZ_WHOLE_MAXLEN) -artifact_prefix=$(FUZZ_OUT)/$(2)/artifacts/$(1)/ \
		$$whole >$$log.whole 2>&1 || { cat $$log.whole >$$log; false; }; } && \
	   $(FUZZ_OUT)/fuzz_$(1) $(FUZZ_FLAGS) -max_total_time=$(3) -max_len=$(FUZZ_MAXLEN_$(1)) \
		-artifact_prefix=$(FUZZ_OUT)/$(2)/artifacts/$(1)/ \
		$(FUZZ_OUT)/$(2)/corpus/$(1) $(FUZZ_OUT)/seeds/$(1) \
		$(wildcard $(FUZZ_DIR)/regressions/$(1)) >$$log 2>&1; then \
		runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
		cov=$$(grep -o 'cov: [0-9]*' $$log | tail -n 1); \
		printf '  %-8s %s\n' OK "fuzz_$(1): $$runs runs, $$cov, nothing found"; \
		echo ok >$(FUZZ_OUT)/$(2)/status/$(1); \
	else \
		printf '  %-8s %s\n' FAILED "fuzz_$(1): see $$log; inputs in $(FUZZ_OUT)/$(2)/artifacts/$(1)/"; \
		grep -E 'ERROR:|runtime error|^SUMMARY|Test unit written|^ +#[0-9]+ .* in .*(src|tests/fuzz)/' \
			$$log | head -n 20; \
		echo fail >$(FUZZ_OUT)/$(2)/status/$(1); \
	fi
endef

# $(1) mode: fails listing the harnesses that did not pass.
define FUZZ_VERDICT
	$(Q)failed=; passed=0; for h in $(FUZZ_HARNESSES); do \
		case "$$(cat $(FUZZ_OUT)/$(1)/status/$$h 2>/dev/null)" in \
		ok) passed=$$((passed + 1));; \
		*) failed="$$failed $$h";; \
		esac; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi; \
	echo "fuzz: $$passed harnesses ran, nothing found"
endef

fuzz: $(addprefix fuzz-run-,$(FUZZ_HARNESSES))
	$(call FUZZ_VERDICT,long)

fuzz-smoke: $(addprefix fuzz-smoke-run-,$(FUZZ_HARNESSES))
	$(call FUZZ_VERDICT,smoke)

-include $(wildcard $(FUZZ_OUT)/obj/*/*.d)
