# Test workloads for memtrace's end-to-end tests.
#
# A GNU make fragment: the top Makefile includes it with OUTPUT set to its
# build directory; it can also run on its own, from the repository root:
#     make -f tests/workloads/build.mk OUTPUT=/tmp/wl all-workloads
#
# Defines WORKLOADS (full paths of every binary, $(OUTPUT)/tests/<name>) and
# the target all-workloads.  Variables of its own are prefixed WL_ so the
# including Makefile's CFLAGS and friends neither leak in nor get changed.

OUTPUT ?= .output

# Run on its own (make -f build.mk), it is the only makefile read so far.
WL_STANDALONE := $(filter 1,$(words $(MAKEFILE_LIST)))

# Directory of this file, so the fragment works whatever includes it.
WL_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
WL_OUT := $(OUTPUT)/tests

# $(CC)/$(CXX) if the user or the top Makefile chose one; gcc/g++ otherwise
# (make's built-in default CC is "cc").
WL_CC  := $(if $(filter default undefined,$(origin CC)),gcc,$(CC))
WL_CXX := $(if $(filter default undefined,$(origin CXX)),g++,$(CXX))

# Frame pointers everywhere and no inlining of the functions the tests look
# for: the expected stacks are exactly the call chains in the sources.
WL_CFLAGS := -O2 -g -Wall -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
	-fno-optimize-sibling-calls -fno-inline-functions-called-once
WL_CXXFLAGS := $(WL_CFLAGS) -std=c++17

WL_FAMILY := family_pie family_nopie family_static family_jemalloc family_tcmalloc
WL_PLAIN  := exitleak exitcode agedleak fragment lines execer forker mapfill vmchurn sigalloc drip \
	sampleleak brkgrow stepleak samesp
WL_PTHREAD := threads churn
WL_CXXPROGS := cxx
# Built without frame pointers: only .eh_frame unwinding finds their stacks.
WL_NOFP := nofp nofp_cxx samesp_nofp
WL_NOFP_CFLAGS := -O2 -g -Wall -fomit-frame-pointer -fno-optimize-sibling-calls

# Python workloads (python/*.py, run by the tests with each interpreter) and
# their C extension, built against Debian's python3.11 (python3.11-dev).
WL_PY_CONFIG ?= /usr/bin/python3.11-config
WL_PY_SRCS := $(wildcard $(WL_DIR)/python/*.py)
WL_PY := $(patsubst $(WL_DIR)/python/%,$(WL_OUT)/python/%,$(WL_PY_SRCS))
WL_PY_EXT := $(WL_OUT)/python/_mtext$(shell $(WL_PY_CONFIG) --extension-suffix 2>/dev/null)

WORKLOADS := $(addprefix $(WL_OUT)/,$(WL_FAMILY) $(WL_PLAIN) $(WL_PTHREAD) $(WL_CXXPROGS) $(WL_NOFP) \
	mixedfp dlopener libdlleak.so) $(WL_PY) $(WL_PY_EXT)

WL_HDR := $(WL_DIR)/wl_common.h

# Included: keep whatever default goal the including Makefile has (or will
# have).  On its own: all-workloads.
WL_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

.PHONY: all-workloads clean-workloads
all-workloads: $(WORKLOADS)

clean-workloads:
	rm -f $(WORKLOADS)

$(WL_OUT)/family_pie: $(WL_DIR)/family.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -fPIE -pie -o $@ $<

$(WL_OUT)/family_nopie: $(WL_DIR)/family.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -fno-pie -no-pie -o $@ $<

$(WL_OUT)/family_static: $(WL_DIR)/family.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -static -o $@ $<

# --no-as-needed: the program only calls malloc & co, which libc also
# defines, so with --as-needed the linker could drop libjemalloc.
$(WL_OUT)/family_jemalloc: $(WL_DIR)/family.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -DWL_NO_PVALLOC -fPIE -pie -o $@ $< \
		-Wl,--no-as-needed -ljemalloc -Wl,--as-needed

$(WL_OUT)/family_tcmalloc: $(WL_DIR)/family.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -fPIE -pie -o $@ $< \
		-Wl,--no-as-needed -ltcmalloc_minimal -Wl,--as-needed

$(addprefix $(WL_OUT)/,$(WL_PLAIN)): $(WL_OUT)/%: $(WL_DIR)/%.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -o $@ $<

$(addprefix $(WL_OUT)/,$(WL_PTHREAD)): $(WL_OUT)/%: $(WL_DIR)/%.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -pthread -o $@ $<

$(addprefix $(WL_OUT)/,$(WL_CXXPROGS)): $(WL_OUT)/%: $(WL_DIR)/%.cpp $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CXX) $(WL_CXXFLAGS) -o $@ $<

$(WL_OUT)/nofp: $(WL_DIR)/nofp.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_NOFP_CFLAGS) -o $@ $<

$(WL_OUT)/samesp_nofp: $(WL_DIR)/samesp.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_NOFP_CFLAGS) -o $@ $<

$(WL_OUT)/nofp_cxx: $(WL_DIR)/nofp_cxx.cpp $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CXX) $(WL_NOFP_CFLAGS) -std=c++17 -o $@ $<

$(WL_OUT)/dlopener: $(WL_DIR)/dlopener.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -o $@ $< -ldl

# dlopened by dlopener, from the same directory; no frame pointers.
$(WL_OUT)/libdlleak.so: $(WL_DIR)/dlleak.c
	@mkdir -p $(@D)
	$(WL_CC) $(WL_NOFP_CFLAGS) -fPIC -shared -o $@ $<

# One executable of two objects, one built with frame pointers, one without.
$(WL_OUT)/mixedfp: $(WL_DIR)/mixedfp.c $(WL_DIR)/mixedfp_nofp.c $(WL_HDR)
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -c -o $@.fp.o $(WL_DIR)/mixedfp.c
	$(WL_CC) $(WL_NOFP_CFLAGS) -fno-inline-functions-called-once -c -o $@.nofp.o \
		$(WL_DIR)/mixedfp_nofp.c
	$(WL_CC) -o $@ $@.fp.o $@.nofp.o
	@rm -f $@.fp.o $@.nofp.o

$(WL_OUT)/python/%.py: $(WL_DIR)/python/%.py
	@mkdir -p $(@D)
	install -m 755 $< $@

# With frame pointers, as the other workloads: its native frames are walked either way.
$(WL_PY_EXT): $(WL_DIR)/python/mtext.c
	@mkdir -p $(@D)
	$(WL_CC) $(WL_CFLAGS) -fPIC -shared $$($(WL_PY_CONFIG) --includes) -o $@ $<

ifeq ($(WL_STANDALONE),1)
.DEFAULT_GOAL := all-workloads
else
.DEFAULT_GOAL := $(WL_SAVED_DEFAULT_GOAL)
endif
