# Unit tests (Check) and CLI tests (shell). `make check` runs them all.
UNIT_TESTS = \
	tests/unit/check_desc \
	tests/unit/check_pci_bdf \
	tests/unit/check_hostops_trace \
	tests/unit/check_tagstore \
	tests/unit/check_plan \
	tests/unit/check_simvtd \
	tests/unit/check_flushtrace \
	tests/unit/check_flushpath \
	tests/unit/check_oracle \
	tests/unit/check_stress \
	tests/unit/check_qemu_trace \
	tests/unit/check_bus \
	tests/unit/check_dma \
	tests/unit/check_boot \
	tests/unit/check_acpi \
	tests/unit/check_aml \
	tests/unit/check_fdt \
	tests/unit/check_pci \
	tests/unit/check_pci_dev \
	tests/unit/check_serial \
	tests/unit/check_cpuid \
	tests/unit/check_kvm \
	tests/unit/check_emulate \
	tests/unit/check_vtd_unit \
	tests/unit/check_vtd_tables \
	tests/unit/check_vtd_walk \
	tests/unit/check_vtd_bounded \
	tests/unit/check_vtd_hostile \
	tests/unit/check_simdev \
	tests/unit/check_viommu_dma \
	tests/unit/check_virtio \
	tests/unit/check_virtio_iommu \
	tests/unit/check_guest_trace \
	tests/unit/check_vtd_prq \
	tests/unit/check_run_options \
	tests/unit/check_iommufd \
	tests/unit/check_devtlb_cover_oracle \
	tests/unit/check_iommufd_dryrun \
	tests/unit/check_vfio \
	tests/unit/check_viommu_vfio \
	tests/unit/check_viommu_vfio_faults \
	tests/unit/check_vfio_pci \
	tests/unit/check_vfio_pci_routes \
	tests/unit/check_vfio_pci_mmap

check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
EXTRA_DIST += tests/unit/check_main.h
UNIT_LDADD = $(TAGVMM_LIBS) $(CHECK_LIBS)

tests_unit_check_desc_SOURCES = tests/unit/check_desc.c
tests_unit_check_desc_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_desc_LDADD = $(UNIT_LDADD)
tests_unit_check_hostops_trace_SOURCES = tests/unit/check_hostops_trace.c
tests_unit_check_hostops_trace_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_hostops_trace_LDADD = $(UNIT_LDADD)
tests_unit_check_pci_bdf_SOURCES = tests/unit/check_pci_bdf.c
tests_unit_check_pci_bdf_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_pci_bdf_LDADD = $(UNIT_LDADD)
tests_unit_check_tagstore_SOURCES = tests/unit/check_tagstore.c tests/unit/testutil.h
tests_unit_check_tagstore_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_tagstore_LDADD = $(UNIT_LDADD)
tests_unit_check_plan_SOURCES = tests/unit/check_plan.c tests/unit/testutil.h
tests_unit_check_plan_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_plan_LDADD = $(UNIT_LDADD)
tests_unit_check_simvtd_SOURCES = tests/unit/check_simvtd.c
tests_unit_check_simvtd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_simvtd_LDADD = $(UNIT_LDADD)
tests_unit_check_flushtrace_SOURCES = tests/unit/check_flushtrace.c
tests_unit_check_flushtrace_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_flushtrace_LDADD = $(UNIT_LDADD)
tests_unit_check_flushpath_SOURCES = tests/unit/check_flushpath.c
tests_unit_check_flushpath_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_flushpath_LDADD = $(UNIT_LDADD)
tests_unit_check_oracle_SOURCES = tests/unit/check_oracle.c tests/unit/testutil.h
tests_unit_check_oracle_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_oracle_LDADD = $(UNIT_LDADD)
tests_unit_check_stress_SOURCES = tests/unit/check_stress.c tests/unit/testutil.h
tests_unit_check_stress_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_stress_LDADD = $(UNIT_LDADD)
tests_unit_check_qemu_trace_SOURCES = tests/unit/check_qemu_trace.c
tests_unit_check_qemu_trace_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_qemu_trace_LDADD = libreplay.a $(UNIT_LDADD)

# VMM unit tests link libvmm.a (no KVM needed).
VMM_UNIT_LDADD = libvmm.a $(UNIT_LDADD)
tests_unit_check_bus_SOURCES = tests/unit/check_bus.c
tests_unit_check_bus_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_bus_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_dma_SOURCES = tests/unit/check_dma.c
tests_unit_check_dma_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_dma_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_boot_SOURCES = tests/unit/check_boot.c
tests_unit_check_boot_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_boot_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_acpi_SOURCES = tests/unit/check_acpi.c tests/unit/acpi_testutil.h
tests_unit_check_acpi_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_acpi_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_aml_SOURCES = tests/unit/check_aml.c tests/unit/acpi_testutil.h
tests_unit_check_aml_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_aml_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_fdt_SOURCES = tests/unit/check_fdt.c
tests_unit_check_fdt_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_fdt_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_pci_SOURCES = tests/unit/check_pci.c tests/unit/pci_testutil.h
tests_unit_check_pci_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_pci_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_pci_dev_SOURCES = tests/unit/check_pci_dev.c tests/unit/pci_testutil.h
tests_unit_check_pci_dev_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_pci_dev_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_serial_SOURCES = tests/unit/check_serial.c
tests_unit_check_serial_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_serial_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_cpuid_SOURCES = tests/unit/check_cpuid.c
tests_unit_check_cpuid_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_cpuid_LDADD = $(VMM_UNIT_LDADD)
# KVM core smoke tests with tiny hand-assembled guests (exit 77 without /dev/kvm).
tests_unit_check_kvm_SOURCES = tests/unit/check_kvm.c tests/unit/kvm_guest.h
tests_unit_check_kvm_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_kvm_LDADD = $(VMM_UNIT_LDADD)
# The emulator's recoveries, with the same guest harness.
tests_unit_check_emulate_SOURCES = tests/unit/check_emulate.c tests/unit/kvm_guest.h
tests_unit_check_emulate_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_emulate_LDADD = $(VMM_UNIT_LDADD)

# The emulated VT-d: unit tests on guest memory without vCPUs.
VIOMMU_UNIT_LDADD = libviommu.a libvmm.a $(UNIT_LDADD)
tests_unit_check_vtd_unit_SOURCES = tests/unit/check_vtd_unit.c tests/unit/vtd_testutil.h
tests_unit_check_vtd_unit_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vtd_unit_LDADD = $(VIOMMU_UNIT_LDADD)
tests_unit_check_vtd_tables_SOURCES = tests/unit/check_vtd_tables.c tests/unit/vtd_testutil.h
tests_unit_check_vtd_tables_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vtd_tables_LDADD = $(VIOMMU_UNIT_LDADD)
# walk.c compiled in with its test hook (a guest changing tables mid-walk).
tests_unit_check_vtd_walk_SOURCES = tests/unit/check_vtd_walk.c tests/unit/vtd_testutil.h \
	viommu/walk.c
tests_unit_check_vtd_walk_CFLAGS = $(UNIT_CFLAGS) -DVTD_WALK_TEST_HOOK
tests_unit_check_vtd_walk_LDADD = $(VIOMMU_UNIT_LDADD)
tests_unit_check_vtd_bounded_SOURCES = tests/unit/check_vtd_bounded.c tests/unit/vtd_testutil.h
tests_unit_check_vtd_bounded_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vtd_bounded_LDADD = $(VIOMMU_UNIT_LDADD)
tests_unit_check_vtd_hostile_SOURCES = tests/unit/check_vtd_hostile.c tests/unit/vtd_testutil.h
tests_unit_check_vtd_hostile_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vtd_hostile_LDADD = $(VIOMMU_UNIT_LDADD)
tests_unit_check_simdev_SOURCES = tests/unit/check_simdev.c tests/unit/vtd_testutil.h
tests_unit_check_simdev_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_simdev_LDADD = $(VIOMMU_UNIT_LDADD)
tests_unit_check_viommu_dma_SOURCES = tests/unit/check_viommu_dma.c tests/unit/vtd_testutil.h
tests_unit_check_viommu_dma_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_viommu_dma_LDADD = $(VIOMMU_UNIT_LDADD)
tests_unit_check_virtio_SOURCES = tests/unit/check_virtio.c tests/unit/virtio_testutil.h
tests_unit_check_virtio_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_virtio_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_virtio_iommu_SOURCES = tests/unit/check_virtio_iommu.c \
	tests/unit/virtio_testutil.h
tests_unit_check_virtio_iommu_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_virtio_iommu_LDADD = $(VIOMMU_UNIT_LDADD)
tests_unit_check_vtd_prq_SOURCES = tests/unit/check_vtd_prq.c tests/unit/vtd_testutil.h
tests_unit_check_vtd_prq_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vtd_prq_LDADD = $(VIOMMU_UNIT_LDADD)
# tagvmm run's option parser and the vIOMMU placement, without a VM (fuzz/fuzz_setup.c's entry points).
tests_unit_check_run_options_SOURCES = tests/unit/check_run_options.c cli/run-options.c
tests_unit_check_run_options_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_run_options_LDADD = $(VIOMMU_UNIT_LDADD)
# --guest-trace's recorder, read back with the replay's reader.
tests_unit_check_guest_trace_SOURCES = tests/unit/check_guest_trace.c tests/unit/vtd_testutil.h
tests_unit_check_guest_trace_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_guest_trace_LDADD = libreplay.a $(VIOMMU_UNIT_LDADD)

# The passthrough path through the host_ops seam, against a recording fake.
tests_unit_check_iommufd_SOURCES = tests/unit/check_iommufd.c tests/unit/fake_hostops.h \
	tests/unit/iommufd_testutil.h
tests_unit_check_iommufd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_iommufd_LDADD = $(VMM_UNIT_LDADD)
# The dry-run iommufd: the kernel's argument checks, and the back end against them.
tests_unit_check_devtlb_cover_oracle_SOURCES = tests/unit/check_devtlb_cover_oracle.c \
	tests/unit/fake_hostops.h tests/unit/iommufd_testutil.h
tests_unit_check_devtlb_cover_oracle_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_devtlb_cover_oracle_LDADD = $(VMM_UNIT_LDADD)
tests_unit_check_iommufd_dryrun_SOURCES = tests/unit/check_iommufd_dryrun.c tests/unit/testutil.h
tests_unit_check_iommufd_dryrun_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_iommufd_dryrun_LDADD = $(UNIT_LDADD)
tests_unit_check_vfio_SOURCES = tests/unit/check_vfio.c tests/unit/fake_hostops.h \
	tests/unit/fake_vfio_host.h
tests_unit_check_vfio_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vfio_LDADD = $(VMM_UNIT_LDADD)

# VFIO devices behind the vIOMMU: nested HWPTs following the guest's tables.
tests_unit_check_viommu_vfio_SOURCES = tests/unit/check_viommu_vfio.c tests/unit/fake_hostops.h \
	tests/unit/fake_vfio_host.h tests/unit/vtd_testutil.h tests/unit/viommu_vfio_guest.h
tests_unit_check_viommu_vfio_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_viommu_vfio_LDADD = $(VIOMMU_UNIT_LDADD)

# ...and their page faults forwarded through the host's fault queue (pt-fault.c).
tests_unit_check_viommu_vfio_faults_SOURCES = tests/unit/check_viommu_vfio_faults.c \
	tests/unit/fake_hostops.h tests/unit/fake_vfio_host.h tests/unit/vtd_testutil.h \
	tests/unit/viommu_vfio_guest.h
tests_unit_check_viommu_vfio_faults_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_viommu_vfio_faults_LDADD = $(VIOMMU_UNIT_LDADD)

tests_unit_check_vfio_pci_SOURCES = tests/unit/check_vfio_pci.c tests/unit/fake_hostops.h \
	tests/unit/pci_testutil.h tests/unit/vfio_pci_fake.h tests/unit/vfio_pci_guest.h
tests_unit_check_vfio_pci_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vfio_pci_LDADD = $(VMM_UNIT_LDADD)
# The interrupts when KVM refuses: routing updates and irqfds, its route limit.
tests_unit_check_vfio_pci_routes_SOURCES = tests/unit/check_vfio_pci_routes.c \
	tests/unit/fake_hostops.h tests/unit/pci_testutil.h tests/unit/vfio_pci_fake.h \
	tests/unit/vfio_pci_guest.h
tests_unit_check_vfio_pci_routes_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vfio_pci_routes_LDADD = $(VMM_UNIT_LDADD)
# BAR mmap: memslots and a vCPU on real KVM (exit 77 without /dev/kvm).
tests_unit_check_vfio_pci_mmap_SOURCES = tests/unit/check_vfio_pci_mmap.c \
	tests/unit/fake_hostops.h tests/unit/pci_testutil.h tests/unit/vfio_pci_fake.h
tests_unit_check_vfio_pci_mmap_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_vfio_pci_mmap_LDADD = $(VMM_UNIT_LDADD)

# CLI tests drive the built tagvmm binary.
CLI_TESTS = tests/cli/replay.sh tests/cli/trace-summary.sh tests/cli/run-errors.sh \
	tests/cli/layers.sh tests/cli/realkvm-judge.sh
# Boots every test guest under KVM (exit 77 without /dev/kvm).
KVM_TESTS = tests/kvm/guests.sh tests/kvm/viommu.sh tests/kvm/flood.sh
TESTS += $(KVM_TESTS)
EXTRA_DIST += $(KVM_TESTS) tests/kvm/lib.sh
TESTS += $(CLI_TESTS)
EXTRA_DIST += $(CLI_TESTS) tests/data scripts/layers.sh

# Outside `make check` and CI: boots Debian's cloud kernel on both boot paths
# until its serial log shows what tagvmm handed it (several minutes here),
# then a kernel built from Debian's source with virtio-guest.config
# (scripts/build-kernel.sh; the first run builds it).
EXTRA_DIST += tests/linux/check-linux.sh tests/linux/extract-vmlinux.sh \
	tests/linux/configs/virtio-guest.config tests/linux/configs/l1-iommufd.config
check-linux: tagvmm$(EXEEXT)
	top_builddir=$(top_builddir) $(top_srcdir)/tests/linux/check-linux.sh
.PHONY: check-linux

# The release check make distcheck runs (scripts/check-dist.sh), on a scratch repository.
DIST_TESTS = tests/dist/check-dist.sh
TESTS += $(DIST_TESTS)
EXTRA_DIST += $(DIST_TESTS)

# The real-KVM testbed: Debian's cloud kernel as L1 under QEMU TCG with SVM,
# kvm-amd in it, tagvmm running the test guests and the Linux matrix (6.1
# and 6.12, bzImage and PVH, 1 and 2 vCPUs, with and without --viommu) to
# userspace. scripts/check.sh runs it; tests/realkvm/testbed.sh says how.
EXTRA_DIST += tests/realkvm/testbed.sh tests/realkvm/judge.sh tests/realkvm/l1-init.sh \
	tests/realkvm/l2-init.sh tests/realkvm/debs.sh
check-realkvm: tagvmm$(EXEEXT) $(GUEST_ELFS)
	top_builddir=$(top_builddir) $(top_srcdir)/tests/realkvm/testbed.sh
.PHONY: check-realkvm

# Outside CI (each kernel build takes about 25 minutes here; once cached, the
# run takes a few minutes): the testbed's SVA cases only. Linux 6.1 and 6.12
# test kernels built from Debian's sources with x86 SVA bind allowed again and
# the tagvmm-sva-test driver bind SVA on 8 emulated DMA engines with PRI and
# run PASID DMA through page requests (docs/running.md).
EXTRA_DIST += tests/linux/configs/sva-guest.config tests/linux/patches/sva-bind-x86-6.1.patch \
	tests/linux/patches/sva-bind-x86-6.12.patch tests/linux/patches/tagvmm-sva-test.patch \
	tests/linux/sva/sva-test.c
check-sva-linux: tagvmm$(EXEEXT) $(GUEST_ELFS)
	TESTBED_SVA=only top_builddir=$(top_builddir) $(top_srcdir)/tests/realkvm/testbed.sh
.PHONY: check-sva-linux

# Outside CI (its L1 kernel takes over half an hour to build once): the
# testbed with an L1 built from Debian's linux-source-6.12 with IOMMUFD and
# the VFIO device cdev (l1-iommufd.config), QEMU's VT-d, devices bound to
# vfio-pci in L1, tagvmm --vfio with an L2 doing NVMe I/O (docs/running.md).
EXTRA_DIST += tests/realkvm/passthrough.sh tests/realkvm/passthrough-l1-init.sh
# The dry-run iommufd held against the real kernel's (run in L1).
EXTRA_PROGRAMS += tests/realkvm/iommufd-agree
tests_realkvm_iommufd_agree_SOURCES = tests/realkvm/iommufd-agree.c
tests_realkvm_iommufd_agree_LDADD = $(TAGVMM_LIBS)
check-passthrough-real: tagvmm$(EXEEXT) tests/realkvm/iommufd-agree$(EXEEXT)
	top_builddir=$(top_builddir) $(top_srcdir)/tests/realkvm/passthrough.sh
	top_builddir=$(top_builddir) PASSTHROUGH_VTD_OPTS=x-scalable-mode=on \
		$(top_srcdir)/tests/realkvm/passthrough.sh
.PHONY: check-passthrough-real
