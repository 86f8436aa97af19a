// SPDX-License-Identifier: MIT
/*
 * The VM: /dev/kvm, guest RAM, vCPUs, and the run loop that turns KVM exits
 * into bus accesses. Only vCPU 0 is set up by the VMM; with the in-kernel
 * irqchip the other vCPUs wait for INIT/SIPI from the guest inside KVM_RUN.
 *
 * Stopping: vm_request_stop() records the first reason, then sets
 * immediate_exit on every vCPU (so one about to enter KVM_RUN returns at
 * once) and sends VCPU_KICK_SIGNAL to the threads already running (so one
 * inside KVM_RUN, even one waiting for a SIPI, returns with EINTR).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/cpuid.h"
#include "vmm/emulate.h"
#include "vmm/init.h"
#include "vmm/kvm.h"

#define KVM_API_VERSION_WANTED	12
#define VM_MIN_RAM		(16ULL << 20)
#define VM_MAX_RAM		(1ULL << 40)
#define VM_PAGE			4096ULL

/* vm->device_slots of every VM: devices map BARs from vCPU threads. */
static pthread_mutex_t device_slot_lock = PTHREAD_MUTEX_INITIALIZER;

static void errmsg(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errmsg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Keep KVM descriptors off 0..2: a zeroed struct vm has fd 0 everywhere,
 * and vm_destroy() must not close stdin for it.
 */
static int fd_above_stdio(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static int open_kvm(struct vm *vm, char *err, size_t errlen)
{
	/* The device path can be overridden, so tests can take KVM away. */
	const char *path = getenv("TAGVMM_KVM_DEVICE");
	int version;

	if (!path || !*path)
		path = "/dev/kvm";
	vm->kvm_fd = fd_above_stdio(open(path, O_RDWR | O_CLOEXEC));
	if (vm->kvm_fd < 0) {
		if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
			errmsg(err, errlen, "no %s: KVM is not available (load kvm_intel or "
			       "kvm_amd, or enable virtualization)", path);
		else if (errno == EACCES || errno == EPERM)
			errmsg(err, errlen, "permission denied on %s: run as root or join "
			       "the kvm group", path);
		else
			errmsg(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION_WANTED) {
		errmsg(err, errlen, "KVM API version %d, tagvmm needs %d", version,
		       KVM_API_VERSION_WANTED);
		return -1;
	}
	return 0;
}

static int vm_ioctl(struct vm *vm, unsigned long req, unsigned long arg, const char *what,
		    char *err, size_t errlen)
{
	if (ioctl(vm->vm_fd, req, arg) < 0) {
		errmsg(err, errlen, "KVM %s: %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The PC routing the MADT promises: ISA IRQs 0-15 on the PICs and on the
 * IOAPIC pins of the same number, except that IRQ 0 (the PIT) arrives on
 * IOAPIC pin 2 (the interrupt source override). KVM's default routes GSI 0
 * to pin 0, where Linux's timer check would never see it.
 */
size_t vm_base_gsi_routes(struct kvm_irq_routing_entry *e)
{
	size_t n = 0;

	for (unsigned int gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;	/* the cascade */
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		e[n++].u.irqchip.pin = gsi % 8;
	}
	for (unsigned int gsi = 0; gsi < MACHINE_IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;	/* reached through GSI 0 */
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n++].u.irqchip.pin = gsi == 0 ? 2 : gsi;
	}
	return n;
}

static int setup_gsi_routing(struct vm *vm, char *err, size_t errlen)
{
	struct {
		struct kvm_irq_routing head;
		struct kvm_irq_routing_entry e[VM_BASE_GSI_ROUTES];
	} r;

	memset(&r, 0, sizeof(r));
	r.head.nr = (uint32_t)vm_base_gsi_routes(r.e);
	return vm_ioctl(vm, KVM_SET_GSI_ROUTING, (unsigned long)&r, "KVM_SET_GSI_ROUTING", err,
			errlen);
}

static int create_vm(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = MACHINE_IDENT_MAP_ADDR;

	vm->vm_fd = fd_above_stdio(ioctl(vm->kvm_fd, KVM_CREATE_VM, 0));
	if (vm->vm_fd < 0) {
		errmsg(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	if (vm_ioctl(vm, KVM_SET_TSS_ADDR, MACHINE_TSS_ADDR, "KVM_SET_TSS_ADDR", err, errlen) ||
	    vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, (unsigned long)&ident,
		     "KVM_SET_IDENTITY_MAP_ADDR", err, errlen) ||
	    /* The irqchip first: the PIT routes its interrupt through it. */
	    vm_ioctl(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP", err, errlen) ||
	    setup_gsi_routing(vm, err, errlen) ||
	    vm_ioctl(vm, KVM_CREATE_PIT2, (unsigned long)&pit, "KVM_CREATE_PIT2", err, errlen))
		return -1;
	return 0;
}

static int check_config(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	int kvm_max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	unsigned int max = MACHINE_MAX_CPUS;

	/* Old kernels answer 0: the documented fallback is KVM_CAP_NR_VCPUS. */
	if (kvm_max <= 0)
		kvm_max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (kvm_max > 0 && (unsigned int)kvm_max < max)
		max = kvm_max;
	if (cfg->ncpus < 1 || cfg->ncpus > max) {
		errmsg(err, errlen, "bad CPU count %u: this host allows 1 to %u", cfg->ncpus, max);
		return -1;
	}
	if (cfg->ram_size < VM_MIN_RAM) {
		errmsg(err, errlen, "too little memory: %llu KiB (tagvmm needs at least 16 MiB)",
		       (unsigned long long)(cfg->ram_size >> 10));
		return -1;
	}
	if (cfg->ram_size >= VM_MAX_RAM) {
		errmsg(err, errlen, "too much memory: %llu GiB (tagvmm allows less than 1 TiB)",
		       (unsigned long long)(cfg->ram_size >> 30));
		return -1;
	}
	if (machine_init(&vm->machine, cfg->ncpus, cfg->ram_size)) {
		errmsg(err, errlen, "bad memory size %llu bytes: it must be whole 4 KiB pages",
		       (unsigned long long)cfg->ram_size);
		return -1;
	}
	return 0;
}

static int add_ram(struct vm *vm, uint64_t gpa, uint64_t size, char *err, size_t errlen)
{
	struct mem_region *r = &vm->mem[vm->nmem];
	struct kvm_userspace_memory_region slot;
	void *host;

	if (!size)
		return 0;
	host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (host == MAP_FAILED) {
		errmsg(err, errlen, "cannot map %llu MiB of guest RAM: %s",
		       (unsigned long long)(size >> 20), strerror(errno));
		return -1;
	}
	*r = (struct mem_region){ .gpa = gpa, .size = size, .host = host };
	vm->nmem++;
	/* Guest RAM is not worth a core dump; THP makes it cheaper to map. */
	madvise(host, size, MADV_DONTDUMP);
	madvise(host, size, MADV_HUGEPAGE);
	slot = (struct kvm_userspace_memory_region){
		.slot = vm->nmem - 1,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};
	return vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, (unsigned long)&slot,
			"KVM_SET_USER_MEMORY_REGION", err, errlen);
}

/* KVM_GET_SUPPORTED_CPUID, growing the buffer until the table fits. */
static struct kvm_cpuid2 *supported_cpuid(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned int nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c) {
			errmsg(err, errlen, "out of memory");
			return NULL;
		}
		c->nent = nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG) {
			errmsg(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
			return NULL;
		}
	}
	errmsg(err, errlen, "KVM_GET_SUPPORTED_CPUID: the table is too large");
	return NULL;
}

/*
 * vCPU @vcpu's CPUID (cpuid.h) from the supported table @supported, in
 * @scratch (room for @capacity entries). The TSC frequency is the vCPU's
 * own, where KVM reports one.
 */
static int set_cpuid(struct vcpu *vcpu, const struct kvm_cpuid2 *supported,
		     struct kvm_cpuid2 *scratch, unsigned int capacity, char *err, size_t errlen)
{
	struct cpuid_config cfg = { .ncpus = vcpu->vm->ncpus };
	int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

	if (khz > 0)
		cfg.tsc_khz = (uint32_t)khz;
	memcpy(scratch, supported, sizeof(*supported) + supported->nent * sizeof(supported->entries[0]));
	if (cpuid_build(scratch, capacity, vcpu->index, &cfg)) {
		errmsg(err, errlen, "CPUID: no room for the hypervisor leaves");
		return -1;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, scratch) < 0) {
		errmsg(err, errlen, "KVM_SET_CPUID2 (vCPU %u): %s", vcpu->index, strerror(errno));
		return -1;
	}
	return 0;
}

static int create_vcpu(struct vm *vm, struct vcpu *vcpu, const struct kvm_cpuid2 *cpuid,
		       struct kvm_cpuid2 *scratch, unsigned int capacity, char *err, size_t errlen)
{
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	void *run;

	if (size < (int)sizeof(struct kvm_run)) {
		errmsg(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s",
		       size < 0 ? strerror(errno) : "too small");
		return -1;
	}
	vcpu->fd = fd_above_stdio(ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->index));
	if (vcpu->fd < 0) {
		errmsg(err, errlen, "KVM_CREATE_VCPU %u: %s", vcpu->index, strerror(errno));
		return -1;
	}
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		errmsg(err, errlen, "mmap of vCPU %u's run area: %s", vcpu->index,
		       strerror(errno));
		return -1;
	}
	vcpu->run = run;
	vcpu->run_size = size;
	return set_cpuid(vcpu, cpuid, scratch, capacity, err, errlen);
}

static int create_vcpus(struct vm *vm, unsigned int ncpus, char *err, size_t errlen)
{
	struct kvm_cpuid2 *cpuid, *scratch;
	unsigned int capacity;
	int rc = 0;

	vm->vcpus = calloc(ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		errmsg(err, errlen, "out of memory");
		return -1;
	}
	/* Counted from the start so vm_destroy() sees every slot, open or not. */
	vm->ncpus = ncpus;
	for (unsigned int i = 0; i < ncpus; i++)
		vm->vcpus[i] = (struct vcpu){ .vm = vm, .index = i, .fd = -1 };
	cpuid = supported_cpuid(vm, err, errlen);
	if (!cpuid)
		return -1;
	/* Room for the leaves cpuid_build() may add. */
	capacity = cpuid->nent + CPUID_ADDED_LEAVES;
	scratch = calloc(1, sizeof(*scratch) + capacity * sizeof(scratch->entries[0]));
	if (!scratch) {
		free(cpuid);
		errmsg(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned int i = 0; i < ncpus && !rc; i++)
		rc = create_vcpu(vm, &vm->vcpus[i], cpuid, scratch, capacity, err, errlen);
	free(scratch);
	free(cpuid);
	return rc;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	vm->console_in = -1;
	vm->console_out = STDOUT_FILENO;
	if (pthread_mutex_init(&vm->stop_lock, NULL) || bus_init(&vm->pio, "pio") ||
	    bus_init(&vm->mmio, "mmio")) {
		errmsg(err, errlen, "cannot initialise the VM's locks");
		goto fail;
	}
	if (open_kvm(vm, err, errlen) || check_config(vm, cfg, err, errlen) ||
	    create_vm(vm, err, errlen) ||
	    add_ram(vm, 0, machine_low_ram_end(&vm->machine), err, errlen) ||
	    add_ram(vm, MACHINE_HOLE_END, machine_high_ram_size(&vm->machine), err, errlen) ||
	    create_vcpus(vm, cfg->ncpus, err, errlen))
		goto fail;
	return 0;
fail:
	vm_destroy(vm);
	return -1;
}

void vm_destroy(struct vm *vm)
{
	vm_exit_all(vm);	/* devices first: their threads may still raise IRQs */
	for (unsigned int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd > 2)
			close(v->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->ncpus = 0;
	/* Devices removed theirs in vm_exit_all(); closing the VM drops any left. */
	pthread_mutex_lock(&device_slot_lock);
	memset(vm->device_slots, 0, sizeof(vm->device_slots));
	pthread_mutex_unlock(&device_slot_lock);
	for (size_t i = 0; i < vm->nmem; i++)
		munmap(vm->mem[i].host, vm->mem[i].size);
	vm->nmem = 0;
	if (vm->vm_fd > 2)
		close(vm->vm_fd);
	if (vm->kvm_fd > 2)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
}

void *vm_gpa(struct vm *vm, uint64_t gpa, size_t len)
{
	for (size_t i = 0; i < vm->nmem; i++) {
		const struct mem_region *r = &vm->mem[i];

		/* Written so that no sum can wrap: gpa - r->gpa is known small. */
		if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vm_map_device_memory(struct vm *vm, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r;
	int err = 0, i, free_slot = -1;

	if (!size || (gpa | size | (uintptr_t)host) & (VM_PAGE - 1) || gpa + size < gpa) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&device_slot_lock);
	/* KVM refuses overlapping slots too, but this names which it was. */
	for (size_t m = 0; m < vm->nmem; m++)
		if (overlaps(gpa, size, vm->mem[m].gpa, vm->mem[m].size))
			err = EEXIST;
	for (i = 0; i < VM_DEVICE_SLOTS && !err; i++) {
		const struct vm_device_slot *d = &vm->device_slots[i];

		if (!d->size && free_slot < 0)
			free_slot = i;
		else if (d->size && overlaps(gpa, size, d->gpa, d->size))
			err = EEXIST;
	}
	if (!err && free_slot < 0)
		err = ENOSPC;
	if (!err) {
		r = (struct kvm_userspace_memory_region){
			.slot = (uint32_t)(VM_RAM_SLOTS + free_slot),
			.guest_phys_addr = gpa,
			.memory_size = size,
			.userspace_addr = (uintptr_t)host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			err = errno;
		else
			vm->device_slots[free_slot] = (struct vm_device_slot){ gpa, size, host };
	}
	pthread_mutex_unlock(&device_slot_lock);
	if (err) {
		errno = err;
		return -1;
	}
	return VM_RAM_SLOTS + free_slot;
}

int vm_unmap_device_memory(struct vm *vm, int slot)
{
	/* Size 0 deletes the slot. */
	struct kvm_userspace_memory_region r = { .slot = (uint32_t)slot };
	int i = slot - VM_RAM_SLOTS, err = 0;

	pthread_mutex_lock(&device_slot_lock);
	if (slot < VM_RAM_SLOTS || i >= VM_DEVICE_SLOTS || !vm->device_slots[i].size)
		err = EINVAL;
	else if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		err = errno;
	else
		vm->device_slots[i] = (struct vm_device_slot){ 0 };
	pthread_mutex_unlock(&device_slot_lock);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int vm_irq_line(struct vm *vm, unsigned int gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -1 : 0;
}

int vm_signal_msi(struct vm *vm, uint64_t address, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)address,
		.address_hi = (uint32_t)(address >> 32),
		.data = data,
	};

	/* 0 means the guest masked it: delivered as far as the device is concerned. */
	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -1 : 0;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason why, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->stop_lock);
	if (atomic_load(&vm->stop_reason) != VM_RUNNING) {
		pthread_mutex_unlock(&vm->stop_lock);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(vm->stop_message, sizeof(vm->stop_message), fmt, ap);
	va_end(ap);
	atomic_store(&vm->stop_reason, why);
	for (unsigned int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->thread_started && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

/* Exit handling. Each returns true to keep running. */

static bool handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint64_t size = run->io.size, bytes = size * run->io.count;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	/* KVM's own values, but a bad one would send us outside the run area. */
	if (size == 0 || size > 8 || run->io.data_offset > vcpu->run_size ||
	    bytes > vcpu->run_size - run->io.data_offset) {
		vm_request_stop(vcpu->vm, VM_HOST_ERROR, "vCPU %u: malformed I/O exit (port %#x, "
				"size %llu, count %u)", vcpu->index, run->io.port,
				(unsigned long long)size, run->io.count);
		return false;
	}
	/* A rep ins/outs exit carries count items for the same port. */
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (bus_dispatch(&vcpu->vm->pio, run->io.port, data, size, is_write))
			continue;
		vcpu->pio_unclaimed++;
		if (!is_write)
			memset(data, 0xff, size);
	}
	return true;
}

static bool handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned int len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data)) {
		vm_request_stop(vcpu->vm, VM_HOST_ERROR, "vCPU %u: malformed MMIO exit at %#llx "
				"(length %u)", vcpu->index, run->mmio.phys_addr, len);
		return false;
	}
	if (!bus_dispatch(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			  run->mmio.is_write)) {
		vcpu->mmio_unclaimed++;
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, len);
	}
	return true;
}

static void stop_with_state(struct vcpu *vcpu, enum vm_stop_reason why, const char *what)
{
	char state[384];

	emulate_describe(vcpu, state, sizeof(state));
	vm_request_stop(vcpu->vm, why, "vCPU %u: %s: %s", vcpu->index, what, state);
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "exit while delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected exit reason";
	}
	return "unknown suberror";
}

/*
 * An emulation failure leaves the guest untouched: KVM gives up before it
 * commits anything. By the time tagvmm reads the bytes at RIP they may have
 * changed (another vCPU patching code, as Linux's text_poke_bp() does with
 * a transient int3), and which bytes KVM saw cannot be known here. So any
 * first failure at a RIP is run again once, which for cross-modified code
 * is what a CPU does, and for an instruction KVM cannot emulate costs one
 * more identical failure: failing twice at the same RIP, with no other exit
 * in between, is final and reported.
 */
static bool retry_after_failure(struct vcpu *vcpu)
{
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
		return false;
	if (vcpu->failed_rip_valid && vcpu->failed_rip == regs.rip)
		return false;
	vcpu->failed_rip = regs.rip;
	vcpu->failed_rip_valid = true;
	vcpu->retried++;
	return true;
}

static bool handle_internal_error(struct vcpu *vcpu)
{
	uint32_t suberror = vcpu->run->internal.suberror;
	char what[96];

	if (suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (emulate_recover(vcpu) || retry_after_failure(vcpu)))
		return true;
	snprintf(what, sizeof(what), "KVM internal error %u (%s)", suberror,
		 internal_error_name(suberror));
	stop_with_state(vcpu, VM_INTERNAL_ERROR, what);
	return false;
}

static bool handle_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(vcpu->vm, VM_POWEROFF, "the guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(vcpu->vm, VM_RESET, "the guest asked for a reset");
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		stop_with_state(vcpu, VM_INTERNAL_ERROR, "the guest reported a crash");
		break;
	default:
		vm_request_stop(vcpu->vm, VM_HOST_ERROR, "vCPU %u: unknown system event %u",
				vcpu->index, vcpu->run->system_event.type);
		break;
	}
	return false;
}

static bool handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[48];

	/* Any other exit means the guest made progress since the last failure. */
	if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR)
		vcpu->failed_rip_valid = false;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return handle_io(vcpu);
	case KVM_EXIT_MMIO:
		return handle_mmio(vcpu);
	case KVM_EXIT_INTR:
		return true;	/* the loop looks at the stop flag */
	case KVM_EXIT_INTERNAL_ERROR:
		return handle_internal_error(vcpu);
	case KVM_EXIT_SHUTDOWN:
		stop_with_state(vcpu, VM_SHUTDOWN, "triple fault");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		return handle_system_event(vcpu);
	case KVM_EXIT_HLT:
		vm_request_stop(vcpu->vm, VM_HOST_ERROR, "vCPU %u: HLT reached the VMM; the "
				"in-kernel LAPIC should have handled it", vcpu->index);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_stop(vcpu->vm, VM_INTERNAL_ERROR, "vCPU %u: KVM could not enter the "
				"guest (hardware reason %#llx)", vcpu->index,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	}
	snprintf(what, sizeof(what), "unhandled KVM exit reason %u", run->exit_reason);
	stop_with_state(vcpu, VM_HOST_ERROR, what);
	return false;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	while (atomic_load(&vm->stop_reason) == VM_RUNNING) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vm_request_stop(vm, VM_HOST_ERROR, "vCPU %u: KVM_RUN: %s", vcpu->index,
					strerror(errno));
			break;
		}
		vcpu->exits++;
		if (!handle_exit(vcpu))
			break;
	}
	/* From here on no stop request may signal this thread: it is about to go. */
	pthread_mutex_lock(&vm->stop_lock);
	vcpu->thread_started = false;
	pthread_mutex_unlock(&vm->stop_lock);
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;	/* only there to make KVM_RUN return EINTR */
}

enum vm_stop_reason vm_run(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	unsigned int started;
	int err = 0;

	/* No SA_RESTART: the point is to interrupt KVM_RUN. */
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	/* Under the lock, so a stop request sees each thread either absent or kickable. */
	pthread_mutex_lock(&vm->stop_lock);
	for (started = 0; started < vm->ncpus; started++) {
		struct vcpu *v = &vm->vcpus[started];

		if (atomic_load(&vm->stop_reason) != VM_RUNNING)
			break;
		err = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (err)
			break;
		v->thread_started = true;
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (err)
		vm_request_stop(vm, VM_HOST_ERROR, "cannot start vCPU %u's thread: %s", started,
				strerror(err));
	for (unsigned int i = 0; i < started; i++)
		pthread_join(vm->vcpus[i].thread, NULL);
	return atomic_load(&vm->stop_reason);
}
