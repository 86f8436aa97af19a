# `make bench`: figures, never timed assertions. See docs/performance.md.
EXTRA_PROGRAMS = bench/bench_flush
bench_bench_flush_SOURCES = bench/bench_flush.c
bench_bench_flush_LDADD = $(TAGVMM_LIBS)
CLEANFILES += $(EXTRA_PROGRAMS)

bench: bench/bench_flush$(EXEEXT) tagvmm$(EXEEXT)
	$(builddir)/bench/bench_flush
.PHONY: bench
