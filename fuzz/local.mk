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

# The guest-facing vIOMMU (docs/viommu.md, "Fuzzing"): every viommu/ file
# compiled in, the rest (buses, PCI, the simulated host) from the libraries.
noinst_PROGRAMS += fuzz/fuzz_viommu
FUZZ_VIOMMU_SOURCES = fuzz/fuzz_viommu.c viommu/unit.c viommu/fault.c viommu/qi.c viommu/tables.c \
	viommu/walk.c viommu/work.c viommu/dma.c viommu/simdev.c viommu/passthrough.c viommu/prq.c \
	viommu/pt-fault.c viommu/guest-trace.c
fuzz_fuzz_viommu_SOURCES = $(FUZZ_VIOMMU_SOURCES)
fuzz_fuzz_viommu_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
fuzz_fuzz_viommu_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_viommu_LDADD = libvmm.a $(TAGVMM_LIBS) -lpthread
# Two threads (MMIO against DMA on one unit, its worker on) under ThreadSanitizer.
# Without libFuzzer's inline counters: their plain increments from two
# threads are races TSan reports (the mutations still run, from the corpus).
noinst_PROGRAMS += fuzz/fuzz_viommu_tsan
FUZZ_TSAN_FLAGS = -fsanitize=fuzzer,thread -fno-sanitize-coverage=inline-8bit-counters
fuzz_fuzz_viommu_tsan_SOURCES = $(FUZZ_VIOMMU_SOURCES)
fuzz_fuzz_viommu_tsan_CFLAGS = $(AM_CFLAGS) $(FUZZ_TSAN_FLAGS) -DFUZZ_VIOMMU_THREADS_DEFAULT=1
fuzz_fuzz_viommu_tsan_LDFLAGS = $(FUZZ_TSAN_FLAGS)
fuzz_fuzz_viommu_tsan_LDADD = libvmm.a $(TAGVMM_LIBS) -lpthread

# The virtio devices as a hostile driver sees them (docs/virtio.md): the
# virtio files compiled in, the rest (buses, PCI) from libvmm.a.
noinst_PROGRAMS += fuzz/fuzz_virtio
fuzz_fuzz_virtio_SOURCES = fuzz/fuzz_virtio.c vmm/virtio-pci.c vmm/virtio-ring.c vmm/virtio-blk.c \
	vmm/virtio-rng.c
fuzz_fuzz_virtio_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
fuzz_fuzz_virtio_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_virtio_LDADD = libviommu.a libvmm.a $(TAGVMM_LIBS) -lpthread

# tagvmm run's command line through the vIOMMU's placement and setup
# (fuzz/fuzz_setup.c): the parser and setup.c compiled in, the rest from
# the libraries; the VFIO devices on the unit tests' fake host.
noinst_PROGRAMS += fuzz/fuzz_setup
fuzz_fuzz_setup_SOURCES = fuzz/fuzz_setup.c cli/run-options.c viommu/setup.c
fuzz_fuzz_setup_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
fuzz_fuzz_setup_LDFLAGS = $(FUZZ_FLAGS)
fuzz_fuzz_setup_LDADD = libviommu.a libvmm.a $(TAGVMM_LIBS) -lpthread

# Hours of fuzz_viommu: make fuzz-viommu-long FUZZ_LONG_SECONDS=14400 FUZZ_JOBS=2
FUZZ_LONG_SECONDS ?= 3600
FUZZ_JOBS ?= 1
fuzz-viommu-long: fuzz/fuzz_viommu$(EXEEXT)
	$(top_srcdir)/fuzz/long.sh $(builddir)/fuzz $(top_srcdir) $(FUZZ_LONG_SECONDS) $(FUZZ_JOBS)

FUZZ_SECONDS ?= 30
fuzz: fuzz/fuzz_desc$(EXEEXT) fuzz/fuzz_qemu_trace$(EXEEXT) fuzz/fuzz_trace_summary$(EXEEXT) \
	fuzz/fuzz_viommu$(EXEEXT) fuzz/fuzz_viommu_tsan$(EXEEXT) fuzz/fuzz_virtio$(EXEEXT) \
	fuzz/fuzz_setup$(EXEEXT)
	$(top_srcdir)/fuzz/run.sh $(builddir)/fuzz $(top_srcdir) $(FUZZ_SECONDS)
else
fuzz fuzz-viommu-long:
	@echo "fuzzing is not configured: ./configure CC=clang --enable-fuzzing" >&2; exit 1
endif
.PHONY: fuzz fuzz-viommu-long
EXTRA_DIST += fuzz/run.sh fuzz/long.sh fuzz/coverage.sh fuzz/tsan-guest-ram.supp fuzz/corpus/viommu \
	fuzz/corpus/setup fuzz/fake_vtd_hw_info.h
