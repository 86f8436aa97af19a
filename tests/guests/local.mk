# Test guests: freestanding ELF64 images tagvmm boots (tests/kvm/guests.sh).
# They get their own flags, never AM_CFLAGS/CFLAGS/LDFLAGS, so sanitizer or
# coverage builds of the VMM produce the very same guests. The host's KVM
# emulates guest ring-0 code and rejects SSE/x87 and a few other
# instructions; check-insns.sh enforces that on every image.

GUEST_RT_SRCS = \
	tests/guests/rt/crt0.S \
	tests/guests/rt/isr.S \
	tests/guests/rt/trampoline.S \
	tests/guests/rt/string.c \
	tests/guests/rt/console.c \
	tests/guests/rt/test.c \
	tests/guests/rt/trap.c \
	tests/guests/rt/paging.c \
	tests/guests/rt/fdt.c \
	tests/guests/rt/acpi.c \
	tests/guests/rt/pci.c \
	tests/guests/rt/lapic.c \
	tests/guests/rt/vtd.c
GUEST_RT_HDRS = tests/guests/rt/rt.h tests/guests/rt/trampoline.h tests/guests/rt/vtd.h
GUEST_LDSCRIPT = tests/guests/rt/guest.ld
GUEST_CHECK = tests/guests/check-insns.sh

GUEST_CFLAGS = -std=gnu11 -Wall -Wextra -O2 -g \
	-ffreestanding -fno-builtin -nostdlib -static \
	-fno-pic -fno-pie -mno-red-zone -mno-cx16 -mgeneral-regs-only \
	-fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables \
	-fno-omit-frame-pointer \
	-I$(top_srcdir) -I$(srcdir)/tests/guests/rt
GUEST_LINKFLAGS = -nostdlib -static -Wl,-T,$(srcdir)/$(GUEST_LDSCRIPT) \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096

GUEST_DEPS = $(GUEST_RT_SRCS:%=$(srcdir)/%) $(GUEST_RT_HDRS:%=$(srcdir)/%) \
	$(srcdir)/$(GUEST_LDSCRIPT) $(srcdir)/$(GUEST_CHECK) \
	$(top_srcdir)/vmm/machine.h $(top_srcdir)/vtd/regs.h $(top_srcdir)/viommu/simdev-regs.h

# Compile and link runtime + guest in one go (no objects to track), then
# reject the image if it holds an instruction this host's KVM cannot run.
# (GUEST_LINKFLAGS, not GUEST_LDFLAGS: Automake reserves *_LDFLAGS names.)
GUEST_LINK = $(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(CC) $(GUEST_CFLAGS) $(GUEST_LINKFLAGS) -o $@.tmp \
		$(GUEST_RT_SRCS:%=$(srcdir)/%) $< && \
	$(SHELL) $(srcdir)/$(GUEST_CHECK) $(GUEST_CHECK_FLAGS) $@.tmp && \
	mv -f $@.tmp $@

GUEST_ELFS = \
	tests/guests/hello.elf \
	tests/guests/exceptions.elf \
	tests/guests/pci-enumerate.elf \
	tests/guests/smp.elf \
	tests/guests/fail.elf \
	tests/guests/crash.elf \
	tests/guests/speed.elf \
	$(VIOMMU_GUEST_ELFS)

tests/guests/hello.elf: $(srcdir)/tests/guests/hello.c $(GUEST_DEPS)
	$(GUEST_LINK)
# The exceptions guest raises #BP with int3 on purpose (the VMM recovers it);
# a GNU make target-specific variable (Automake runs with -Wno-portability).
tests/guests/exceptions.elf: GUEST_CHECK_FLAGS = --allow-int3
tests/guests/exceptions.elf: $(srcdir)/tests/guests/exceptions.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/pci-enumerate.elf: $(srcdir)/tests/guests/pci-enumerate.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/smp.elf: $(srcdir)/tests/guests/smp.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/fail.elf: $(srcdir)/tests/guests/fail.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/crash.elf: $(srcdir)/tests/guests/crash.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/speed.elf: $(srcdir)/tests/guests/speed.c $(GUEST_DEPS)
	$(GUEST_LINK)

check_DATA = $(GUEST_ELFS)
CLEANFILES += $(GUEST_ELFS) $(GUEST_ELFS:=.tmp)
EXTRA_DIST += $(GUEST_RT_SRCS) $(GUEST_RT_HDRS) $(GUEST_LDSCRIPT) $(GUEST_CHECK) \
	tests/guests/hello.c tests/guests/exceptions.c tests/guests/pci-enumerate.c \
	tests/guests/smp.c tests/guests/fail.c tests/guests/crash.c tests/guests/speed.c

# vIOMMU guests (tests/kvm/viommu.sh): the emulated VT-d and the sim DMA
# engines, driven through rt/vtd.c.
VIOMMU_GUESTS = viommu-legacy viommu-sm viommu-sva viommu-nested viommu-ats viommu-hostile \
	viommu-latency viommu-flood
VIOMMU_GUEST_ELFS = $(VIOMMU_GUESTS:%=tests/guests/%.elf)

tests/guests/viommu-legacy.elf: $(srcdir)/tests/guests/viommu-legacy.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/viommu-sm.elf: $(srcdir)/tests/guests/viommu-sm.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/viommu-sva.elf: $(srcdir)/tests/guests/viommu-sva.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/viommu-nested.elf: $(srcdir)/tests/guests/viommu-nested.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/viommu-ats.elf: $(srcdir)/tests/guests/viommu-ats.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/viommu-hostile.elf: $(srcdir)/tests/guests/viommu-hostile.c $(GUEST_DEPS)
	$(GUEST_LINK)
tests/guests/viommu-flood.elf: $(srcdir)/tests/guests/viommu-flood.c $(GUEST_DEPS)
	$(GUEST_LINK)
# A benchmark guest (`make bench`), not run by tests/kvm/viommu.sh.
tests/guests/viommu-latency.elf: $(srcdir)/tests/guests/viommu-latency.c $(GUEST_DEPS)
	$(GUEST_LINK)
EXTRA_DIST += $(VIOMMU_GUESTS:%=tests/guests/%.c)
