// SPDX-License-Identifier: MIT
/*
 * The VM_INIT registry. Constructors run before main() in link order, so
 * the list order within a level is not meaningful: a part that needs
 * another one belongs to a later level.
 */
#include <stdio.h>

#include "vmm/init.h"

static struct vm_init *vm_inits;
static struct vm_init **vm_inits_tail = &vm_inits;

/* Appends, so parts of one level run in the order they registered. */
void vm_init_add(struct vm_init *init)
{
	init->next = NULL;
	*vm_inits_tail = init;
	vm_inits_tail = &init->next;
}

static int run_level(struct vm *vm, enum vm_init_level level, char *err, size_t errlen)
{
	for (struct vm_init *i = vm_inits; i; i = i->next) {
		if (i->level != level)
			continue;
		if (errlen)
			err[0] = '\0';
		if (i->fn(vm, err, errlen)) {
			/* Every failure names its part, even when the part said nothing. */
			if (errlen && !err[0])
				snprintf(err, errlen, "%s failed", i->name);
			return -1;
		}
	}
	return 0;
}

int vm_init_all(struct vm *vm, char *err, size_t errlen)
{
	for (int level = VM_INIT_BUS; level <= VM_INIT_LAST; level++)
		if (run_level(vm, level, err, errlen))
			return -1;
	return 0;
}

void vm_exit_all(struct vm *vm)
{
	for (int level = VM_INIT_LAST; level >= VM_INIT_BUS; level--)
		for (struct vm_init *i = vm_inits; i; i = i->next)
			if (i->level == (enum vm_init_level)level && i->exit)
				i->exit(vm);
}
