# `make bench`: figures, never timed assertions. See docs/performance.md.
EXTRA_PROGRAMS += bench/bench_flush bench/boot-time bench/bench_fresh_iovas
bench_bench_flush_SOURCES = bench/bench_flush.c
bench_bench_flush_LDADD = $(TAGVMM_LIBS)
bench_boot_time_SOURCES = bench/boot-time.c
bench_bench_fresh_iovas_SOURCES = bench/bench_fresh_iovas.c
bench_bench_fresh_iovas_LDADD = libviommu.a libvmm.a $(TAGVMM_LIBS)
EXTRA_DIST += bench/linux-boot.sh bench/iommufd-sva.sh

BENCH_TRACE = $(top_srcdir)/tests/data/qemu-nvme-sm.trace
bench: bench/bench_flush$(EXEEXT) bench/boot-time$(EXEEXT) bench/bench_fresh_iovas$(EXEEXT) \
		tagvmm$(EXEEXT) tests/guests/hello.elf tests/guests/viommu-latency.elf
	$(builddir)/bench/bench_flush
	@echo
	@echo "4. real guest trace ($(BENCH_TRACE)), default topology"
	@for mode in "" --no-merge; do \
		$(builddir)/tagvmm replay --qemu-trace $(BENCH_TRACE) --json $$mode || exit 1; \
	done
	@echo
	@echo "5. tagvmm run of the hello test guest (64 MiB, 1 vCPU), 20 runs"
	@$(builddir)/bench/boot-time -n 20 -- $(builddir)/tagvmm run -q -k tests/guests/hello.elf -m 64M
	@$(builddir)/tagvmm run -q --stats -k tests/guests/hello.elf -m 64M >/dev/null
	@echo
	@echo "6. vIOMMU submission latency (guest TSC medians of 200; one sim device)"
	@for mode in "" --no-merge; do \
		echo "$${mode:-merged}:"; \
		out=$$($(builddir)/tagvmm run -q -m 64M --viommu --sim-device dma,iommu=dmar0,pasid \
			$$mode -k tests/guests/viommu-latency.elf) && \
			echo "$$out" | grep -q 'PASS viommu-latency' || { echo "$$out"; exit 1; }; \
		echo "$$out" | grep '^latency:'; \
	done
	@echo
	@echo "7. SVA fan-out through the iommufd back end over the dry-run /dev/iommu (calls, not times)"
	@top_builddir=$(top_builddir) top_srcdir=$(top_srcdir) $(top_srcdir)/bench/iommufd-sva.sh
	@echo
	@$(builddir)/bench/bench_fresh_iovas
.PHONY: bench

# Linux boot times under tagvmm (bzImage and PVH) and QEMU: minutes on a software-KVM host.
bench-linux: bench/boot-time$(EXEEXT) tagvmm$(EXEEXT)
	top_builddir=$(top_builddir) $(top_srcdir)/bench/linux-boot.sh
.PHONY: bench-linux
