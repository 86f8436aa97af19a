# `make bench`: figures, never timed assertions. See docs/performance.md.
EXTRA_PROGRAMS = bench/bench_flush
bench_bench_flush_SOURCES = bench/bench_flush.c
bench_bench_flush_LDADD = $(TAGVMM_LIBS)
CLEANFILES += $(EXTRA_PROGRAMS)

BENCH_TRACE = $(top_srcdir)/tests/data/qemu-nvme-sm.trace
bench: bench/bench_flush$(EXEEXT) tagvmm$(EXEEXT)
	$(builddir)/bench/bench_flush
	@echo
	@echo "4. real guest trace ($(BENCH_TRACE)), default topology"
	@for mode in "" --no-merge; do \
		$(builddir)/tagvmm replay --qemu-trace $(BENCH_TRACE) --json $$mode || exit 1; \
	done
.PHONY: bench
