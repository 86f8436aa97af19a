# libFuzzer targets: ./configure CC=clang --enable-fuzzing && make fuzz
# The code under test is compiled into each target (not taken from the
# libraries, which are built without coverage instrumentation), so the
# fuzzer sees its branches.
if FUZZING
noinst_PROGRAMS += fuzz/fuzz_desc fuzz/fuzz_qemu_trace fuzz/fuzz_trace_summary
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined
fuzz_fuzz_desc_SOURCES = fuzz/fuzz_desc.c vtd/desc.c
fuzz_fuzz_desc_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
fuzz_fuzz_desc_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_desc_LDADD = $(TAGVMM_LIBS)
fuzz_fuzz_qemu_trace_SOURCES = fuzz/fuzz_qemu_trace.c replay/qemu-trace.c vtd/desc.c
fuzz_fuzz_qemu_trace_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
fuzz_fuzz_qemu_trace_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_qemu_trace_LDADD = $(TAGVMM_LIBS)
fuzz_fuzz_trace_summary_SOURCES = fuzz/fuzz_trace_summary.c hostvtd/trace-summary.c \
	hostvtd/trace-json.c hostvtd/trace-fields.c
fuzz_fuzz_trace_summary_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
fuzz_fuzz_trace_summary_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_trace_summary_LDADD = $(TAGVMM_LIBS)

FUZZ_SECONDS ?= 30
fuzz: fuzz/fuzz_desc$(EXEEXT) fuzz/fuzz_qemu_trace$(EXEEXT) fuzz/fuzz_trace_summary$(EXEEXT)
	$(top_srcdir)/fuzz/run.sh $(builddir)/fuzz $(top_srcdir) $(FUZZ_SECONDS)
else
fuzz:
	@echo "fuzzing is not configured: ./configure CC=clang --enable-fuzzing" >&2; exit 1
endif
.PHONY: fuzz
EXTRA_DIST += fuzz/run.sh
