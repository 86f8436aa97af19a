/* SPDX-License-Identifier: MIT */
/*
 * Self-registering VM parts, in kvmtool's style: each device file declares
 * its init function with VM_INIT(); vm_init_all() runs them by level once
 * the VM exists. The tagvmm program links vmm/ objects directly (not from
 * an archive), so every constructor is kept.
 */
#ifndef TAGVMM_VMM_INIT_H
#define TAGVMM_VMM_INIT_H

#include <stddef.h>

struct vm;

/*
 * There is no firmware level: the ACPI tables and the device tree describe
 * the vIOMMU and the VFIO functions too, which the front end creates after
 * vm_init_all() (cli/cmd-run.c builds them last).
 */
enum vm_init_level {
	VM_INIT_BUS,		/* PCI host bridge, before any device */
	VM_INIT_DEVICE,		/* serial, power, PCI functions */
};
#define VM_INIT_LAST	VM_INIT_DEVICE

struct vm_init {
	const char *name;
	enum vm_init_level level;
	/* Returns 0, or -1 with a message in @err. */
	int (*fn)(struct vm *vm, char *err, size_t errlen);
	/* Undo fn (optional); must be safe when fn never ran or failed. */
	void (*exit)(struct vm *vm);
	struct vm_init *next;
};

void vm_init_add(struct vm_init *init);
/* Runs every registered init, level by level. Returns 0 or the first failure. */
int vm_init_all(struct vm *vm, char *err, size_t errlen);
/* Runs every registered exit, the last level first (vm_destroy calls it). */
void vm_exit_all(struct vm *vm);

#define VM_INIT_EXIT(func, exitfn, lvl)						\
	static struct vm_init vm_init_##func = { #func, lvl, func, exitfn, NULL }; \
	__attribute__((constructor)) static void vm_init_register_##func(void)	\
	{									\
		vm_init_add(&vm_init_##func);					\
	}
#define VM_INIT(func, lvl) VM_INIT_EXIT(func, NULL, lvl)

#endif
