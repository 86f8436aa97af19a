/* SPDX-License-Identifier: MIT */
/* Shared by trampoline.S and lapic.c: where the AP trampoline runs. */
#ifndef TAGVMM_GUEST_TRAMPOLINE_H
#define TAGVMM_GUEST_TRAMPOLINE_H

/*
 * A free page below 1 MiB in vmm/machine.h's low-memory map: above the
 * identity-map tables (0x9000..0xefff), below the command line (0x20000).
 * The SIPI vector is the page number, so it must be 4 KiB aligned.
 */
#define SMP_TRAMPOLINE_ADDR 0x10000
#define SMP_AP_STACK_SIZE 2048
#define RT_BSP_STACK_SIZE 16384
/* MACHINE_MAX_CPUS - 1 (lapic.c checks); machine.h is C-only. */
#define SMP_MAX_APS 63

#endif
