// SPDX-License-Identifier: MIT
/*
 * Instruction recovery for this host's software KVM.
 *
 * The KVM on the development hosts has no VMX/SVM: it runs guest ring 0
 * through its instruction emulator, which gives up (KVM_EXIT_INTERNAL_ERROR,
 * suberror KVM_INTERNAL_ERROR_EMULATION) on some instructions a guest
 * kernel uses. Where the architectural effect is small and fully defined by
 * state KVM lets us read and write, tagvmm carries the instruction out and
 * lets the vCPU run on. On hardware KVM none of this is ever reached.
 *
 * Recovered, each only when the opcode starts at RIP with no prefix (a
 * prefix changes the length or meaning, so it is refused, not skipped), no
 * event is already being delivered, and RFLAGS.TF is clear (the single-step
 * trap owed after the instruction is not modelled):
 *
 *  CC        int3   A trap: RIP moves past the one-byte opcode, then #BP
 *                   (vector 3, no error code) is injected with
 *                   KVM_SET_VCPU_EVENTS, so the handler sees the return
 *                   address the CPU would push. Gate checks and the stack
 *                   switch are KVM's event delivery, as for any exception.
 *  9B        fwait  #NM when CR0.MP and CR0.TS are both set (checked first,
 *                   as the SDM orders it); else #MF when an unmasked x87
 *                   exception is pending (FSW.ES, bit 7, from KVM_GET_FPU)
 *                   and CR0.NE is set; else nothing happens but RIP += 1.
 *                   Faults leave RIP on the fwait, as the CPU does. With
 *                   FSW.ES set and CR0.NE clear the CPU signals FERR# to
 *                   the legacy IRQ 13 path instead: not modelled, refused.
 *  0F 01 CA  clac   #UD in virtual-8086 mode, at CPL > 0, or when the guest
 *  0F 01 CB  stac   has no SMAP (CPUID.7.0:EBX bit 20); else RFLAGS.AC is
 *                   cleared/set and RIP += 3. The SDM ties these to the
 *                   CPUID bit, not CR4.SMAP. This KVM shows guests the host
 *                   CPUID (KVM_SET_CPUID2 is ignored), so the host's bit is
 *                   the guest's.
 *
 *  F3 [REX] 0F B8 /r, register form only (ModRM.mod == 3)
 *            popcnt  Linux's hweight alternatives use it from early boot.
 *                   #UD when the guest lacks CPUID.1:ECX.POPCNT (bit 23;
 *                   the host's CPUID is the guest's here). Else dest =
 *                   the number of set bits of src, at 32 bits (zero-
 *                   extended into the 64-bit register, as any 32-bit
 *                   write in long mode) or 64 with REX.W; ZF = (src == 0);
 *                   CF, OF, SF, AF and PF cleared. The F3 is part of the
 *                   opcode; a 66 (16-bit) or any other prefix is refused,
 *                   and so are 16-bit code (16-bit operands by default)
 *                   and the memory form (it needs full ModRM/SIB address
 *                   decoding).
 *
 * An instruction that completes also ends an STI/MOV SS interrupt shadow;
 * the shadow is cleared with KVM_VCPUEVENT_VALID_SHADOW.
 *
 * Deliberately not handled (the failure is reported instead):
 *  - ldmxcsr: needs a full ModRM/SIB/segment address computation with its
 *    limit, alignment and #GP(reserved MXCSR bit) checks; one slip would
 *    silently corrupt the guest rather than stop it.
 *  - xrstor: loads a variable set of state components from a layout that
 *    depends on XCR0, XSTATE_BV/XCOMP_BV and compaction; far too much
 *    state to reproduce exactly from outside.
 *  - cmpxchg16b: must be atomic against the other vCPUs and needs the
 *    16-byte alignment #GP, memory operand decoding and MMIO refusal.
 *  - int $0x80 (any INT n): a software interrupt must #GP when the gate's
 *    DPL is below CPL; whether this KVM's injection path applies that check
 *    to an injected software interrupt cannot be established, and getting
 *    it wrong would hand ring 3 a kernel gate.
 *  - iret in 16/32-bit protected mode (measured to fail here, while 64-bit
 *    iretq works): it reloads CS and maybe SS from the descriptor tables
 *    with every privilege, limit and task-nesting check of the SDM.
 */
#include <cpuid.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/emulate.h"
#include "vmm/kvm.h"

#define CR0_PE		(1ULL << 0)
#define CR0_MP		(1ULL << 1)
#define CR0_TS		(1ULL << 3)
#define CR0_NE		(1ULL << 5)
#define EFER_LMA	(1ULL << 10)
#define RFLAGS_TF	(1ULL << 8)
#define RFLAGS_AC	(1ULL << 18)
#define RFLAGS_VM	(1ULL << 17)
#define FSW_ES		(1U << 7)
#define CPUID7_EBX_SMAP	(1U << 20)
#define CPUID1_ECX_POPCNT (1U << 23)
/* RFLAGS bits popcnt writes: CF, PF, AF, ZF, SF, OF. */
#define RFLAGS_ZF	(1ULL << 6)
#define RFLAGS_ARITH	(0x001ULL | 0x004 | 0x010 | 0x040 | 0x080 | 0x800)

#define VEC_BP		3
#define VEC_UD		6
#define VEC_NM		7
#define VEC_MF		16

/* The state one recovery works on. */
struct insn {
	struct vcpu *vcpu;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	unsigned int bits;	/* code size: 16, 32 or 64 */
	unsigned int cpl;
	uint8_t bytes[EMULATE_MAX_INSN];
	size_t n;
};

static unsigned int code_bits(const struct kvm_sregs *s, uint64_t rflags)
{
	if (!(s->cr0 & CR0_PE) || (rflags & RFLAGS_VM))
		return 16;
	if ((s->efer & EFER_LMA) && s->cs.l)
		return 64;
	return s->cs.db ? 32 : 16;
}

/* SS.DPL is the CPL in protected mode (CS.RPL differs for conforming code). */
static unsigned int current_cpl(const struct kvm_sregs *s, uint64_t rflags)
{
	if (!(s->cr0 & CR0_PE))
		return 0;
	if (rflags & RFLAGS_VM)
		return 3;
	return s->ss.dpl;
}

/* The linear address of instruction byte @i, with the wrap-around of the mode. */
static uint64_t insn_linear(const struct kvm_regs *r, const struct kvm_sregs *s,
			    unsigned int bits, size_t i)
{
	if (bits == 64)
		return r->rip + i;
	if (bits == 16)
		return (s->cs.base + ((r->rip + i) & 0xffff)) & 0xffffffff;
	return (s->cs.base + ((r->rip + i) & 0xffffffff)) & 0xffffffff;
}

static size_t fetch(struct vcpu *vcpu, const struct kvm_regs *r, const struct kvm_sregs *s,
		    uint8_t *buf, size_t len)
{
	unsigned int bits = code_bits(s, r->rflags);
	size_t i;

	if (len > EMULATE_MAX_INSN)
		len = EMULATE_MAX_INSN;
	for (i = 0; i < len; i++) {
		struct kvm_translation tr = { .linear_address = insn_linear(r, s, bits, i) };
		uint8_t *p;

		/* Past the CS limit the CPU would fault rather than fetch. */
		if (bits != 64 && ((r->rip + i) & 0xffffffff) > s->cs.limit)
			break;
		if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
			break;
		p = vm_gpa(vcpu->vm, tr.physical_address, 1);
		if (!p)
			break;
		buf[i] = *p;
	}
	return i;
}

void emulate_describe(struct vcpu *vcpu, char *buf, size_t len)
{
	uint8_t bytes[EMULATE_MAX_INSN];
	struct kvm_regs r;
	struct kvm_sregs s;
	size_t n, off;
	int w;

	if (!len)
		return;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		snprintf(buf, len, "registers unreadable: %s", strerror(errno));
		return;
	}
	w = snprintf(buf, len,
		     "RIP=%#llx RSP=%#llx RFLAGS=%#llx CR0=%#llx CR3=%#llx CR4=%#llx EFER=%#llx "
		     "CS=%#x base %#llx SS=%#x base %#llx CPL %u, %u-bit code; bytes at RIP:",
		     r.rip, r.rsp, r.rflags, s.cr0, s.cr3, s.cr4, s.efer, s.cs.selector,
		     s.cs.base, s.ss.selector, s.ss.base, current_cpl(&s, r.rflags),
		     code_bits(&s, r.rflags));
	if (w < 0 || (size_t)w >= len)
		return;
	off = w;
	n = fetch(vcpu, &r, &s, bytes, sizeof(bytes));
	if (!n)
		snprintf(buf + off, len - off, " (not readable)");
	for (size_t i = 0; i < n && off < len; i++) {
		w = snprintf(buf + off, len - off, " %02x", bytes[i]);
		if (w < 0)
			return;
		off += w;
	}
}

/* Move RIP past the instruction and end any interrupt shadow it was in. */
static bool complete(struct insn *in, size_t len)
{
	uint64_t rip = in->regs.rip + len;

	if (in->bits == 16)
		rip &= 0xffff;
	else if (in->bits == 32)
		rip &= 0xffffffff;
	in->regs.rip = rip;
	if (ioctl(in->vcpu->fd, KVM_SET_REGS, &in->regs) < 0)
		return false;
	if (in->events.interrupt.shadow) {
		in->events.interrupt.shadow = 0;
		in->events.flags = KVM_VCPUEVENT_VALID_SHADOW;
		if (ioctl(in->vcpu->fd, KVM_SET_VCPU_EVENTS, &in->events) < 0)
			return false;
	}
	return true;
}

/* Deliver exception @vector (none of ours has an error code) at the next entry. */
static bool inject(struct insn *in, unsigned int vector)
{
	in->events.exception.injected = 1;
	in->events.exception.nr = vector;
	in->events.exception.has_error_code = 0;
	in->events.exception.error_code = 0;
	in->events.flags = 0;
	return ioctl(in->vcpu->fd, KVM_SET_VCPU_EVENTS, &in->events) == 0;
}

static bool do_int3(struct insn *in)
{
	return complete(in, 1) && inject(in, VEC_BP);
}

static bool do_fwait(struct insn *in)
{
	struct kvm_fpu fpu;

	if ((in->sregs.cr0 & CR0_MP) && (in->sregs.cr0 & CR0_TS))
		return inject(in, VEC_NM);
	if (ioctl(in->vcpu->fd, KVM_GET_FPU, &fpu) < 0)
		return false;
	if (fpu.fsw & FSW_ES) {
		if (!(in->sregs.cr0 & CR0_NE))
			return false;	/* FERR# to IRQ 13: not modelled */
		return inject(in, VEC_MF);
	}
	return complete(in, 1);
}

static bool guest_has_smap(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return false;
	return ebx & CPUID7_EBX_SMAP;
}

static bool do_clac_stac(struct insn *in, bool set)
{
	if ((in->regs.rflags & RFLAGS_VM) || in->cpl > 0 || !guest_has_smap())
		return inject(in, VEC_UD);
	if (set)
		in->regs.rflags |= RFLAGS_AC;
	else
		in->regs.rflags &= ~RFLAGS_AC;
	return complete(in, 3);
}

static bool guest_has_popcnt(void)
{
	unsigned int eax, ebx, ecx, edx;

	return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & CPUID1_ECX_POPCNT);
}

/* General-purpose register @n (x86 encoding order) of @r. */
static __u64 *gpr(struct kvm_regs *r, unsigned int n)
{
	__u64 *const map[16] = {
		&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi,
		&r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
	};
	return map[n & 15];
}

/* popcnt reg, reg: bytes F3 [REX] 0F B8 ModRM with mod == 3. */
static bool do_popcnt(struct insn *in)
{
	size_t i = 1;
	uint8_t rex = 0, modrm;
	uint64_t src;
	bool wide;

	if (in->bits == 16)
		return false;	/* 16-bit operand size by default: not handled */
	if (in->bits == 64 && i < in->n && (in->bytes[i] & 0xf0) == 0x40)
		rex = in->bytes[i++];
	if (i + 3 > in->n || in->bytes[i] != 0x0f || in->bytes[i + 1] != 0xb8)
		return false;
	modrm = in->bytes[i + 2];
	if ((modrm >> 6) != 3)
		return false;	/* memory operand: refused */
	if (!guest_has_popcnt())
		return inject(in, VEC_UD);
	wide = rex & 0x08;
	src = *gpr(&in->regs, (modrm & 7) | (rex & 1) << 3);
	if (!wide)
		src &= 0xffffffff;
	*gpr(&in->regs, ((modrm >> 3) & 7) | (rex & 4) << 1) = (uint64_t)__builtin_popcountll(src);
	in->regs.rflags &= ~RFLAGS_ARITH;
	if (!src)
		in->regs.rflags |= RFLAGS_ZF;
	return complete(in, i + 3);
}

static bool load_state(struct insn *in, struct vcpu *vcpu)
{
	memset(in, 0, sizeof(*in));
	in->vcpu = vcpu;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &in->regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &in->sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &in->events) < 0)
		return false;
	in->bits = code_bits(&in->sregs, in->regs.rflags);
	in->cpl = current_cpl(&in->sregs, in->regs.rflags);
	in->n = fetch(vcpu, &in->regs, &in->sregs, in->bytes, sizeof(in->bytes));
	return true;
}

/* Something already in flight (an event, a single-step trap) makes the effect uncertain. */
static bool quiet_state(const struct insn *in)
{
	return !in->events.exception.injected && !in->events.exception.pending &&
	       !in->events.interrupt.injected && !in->events.nmi.injected &&
	       !(in->regs.rflags & RFLAGS_TF);
}

static bool starts_with(const struct insn *in, const uint8_t *op, size_t len)
{
	return in->n >= len && !memcmp(in->bytes, op, len);
}

bool emulate_recover(struct vcpu *vcpu)
{
	static const uint8_t op_int3[] = { 0xcc }, op_fwait[] = { 0x9b };
	static const uint8_t op_clac[] = { 0x0f, 0x01, 0xca }, op_stac[] = { 0x0f, 0x01, 0xcb };
	struct insn in;
	bool ok;

	if (!load_state(&in, vcpu) || !quiet_state(&in))
		return false;
	if (starts_with(&in, op_int3, sizeof(op_int3)))
		ok = do_int3(&in);
	else if (starts_with(&in, op_fwait, sizeof(op_fwait)))
		ok = do_fwait(&in);
	else if (starts_with(&in, op_clac, sizeof(op_clac)))
		ok = do_clac_stac(&in, false);
	else if (starts_with(&in, op_stac, sizeof(op_stac)))
		ok = do_clac_stac(&in, true);
	else if (in.n > 0 && in.bytes[0] == 0xf3)
		ok = do_popcnt(&in);
	else
		return false;
	if (ok)
		vcpu->recovered++;
	return ok;
}
