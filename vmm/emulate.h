/* SPDX-License-Identifier: MIT */
/*
 * Finishing the few instructions this host's software KVM cannot emulate
 * (KVM_EXIT_INTERNAL_ERROR, suberror emulation), and describing a vCPU's
 * state for error reports. emulate.c lists what is recovered and why each
 * recovery is exact.
 */
#ifndef TAGVMM_VMM_EMULATE_H
#define TAGVMM_VMM_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vcpu;

/* Longest x86 instruction. */
#define EMULATE_MAX_INSN	15

/*
 * Carry out the instruction at the vCPU's CS:RIP when it is one emulate.c
 * handles exactly (including the exceptions it raises). Returns true when
 * the vCPU may run on; false when the instruction is not one of those (the
 * vCPU is then untouched, unless a KVM ioctl failed halfway).
 */
bool emulate_recover(struct vcpu *vcpu);

/*
 * One line for error reports: RIP, RSP, RFLAGS, CR0/CR3/CR4/EFER, CS/SS
 * selectors and bases, CPL, code size and the instruction bytes at RIP.
 */
void emulate_describe(struct vcpu *vcpu, char *buf, size_t len);

#endif
