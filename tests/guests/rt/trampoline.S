/* SPDX-License-Identifier: MIT */
/*
 * AP start-up. smp_start_ap() copies rt_tramp_start..rt_tramp_end to
 * SMP_TRAMPOLINE_ADDR; a SIPI starts the AP there in real mode with
 * CS = SMP_TRAMPOLINE_ADDR >> 4, IP = 0. It goes to 32-bit protected mode on
 * its own small GDT, loads CR3/CR4/EFER/CR0 from values the BSP left in
 * rt_ap_* (reachable from 32-bit code: the image is below 4 GiB), enters
 * long mode and jumps to rt_ap_entry64 in the image proper. The copied code
 * lives in .rodata so no disassembly check mistakes it for 64-bit code.
 */
#include "trampoline.h"

#define TRAMP(sym) (SMP_TRAMPOLINE_ADDR + (sym) - rt_tramp_start)

	.section .rodata
	.balign 16
	.globl rt_tramp_start, rt_tramp_end
rt_tramp_start:
	.code16
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdt_desc - rt_tramp_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $TRAMP(tramp32)

	.code32
tramp32:
	mov $0x18, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov rt_ap_cr4, %eax
	mov %eax, %cr4
	mov rt_ap_cr3, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	mov rt_ap_efer, %eax
	xor %edx, %edx
	wrmsr
	/* Paging on with EFER.LME set: long mode (compatibility until the far jump). */
	mov rt_ap_cr0, %eax
	mov %eax, %cr0
	ljmpl $0x10, $TRAMP(tramp64)

	.code64
tramp64:
	movabs $rt_ap_entry64, %rax
	jmp *%rax

	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x08: 32-bit code */
	.quad 0x00af9b000000ffff	/* 0x10: 64-bit code */
	.quad 0x00cf93000000ffff	/* 0x18: data */
tramp_gdt_desc:
	.word tramp_gdt_desc - tramp_gdt - 1
	.long TRAMP(tramp_gdt)
rt_tramp_end:

/*
 * Long mode on the BSP's page tables. Take a slot (arrival order) and the
 * stack that goes with it, switch to the runtime's GDT and IDT, run C.
 */
	.text
	.globl rt_ap_entry64
rt_ap_entry64:
	mov $1, %eax
	lock xadd %eax, rt_ap_next
	cmp $SMP_MAX_APS, %eax
	jae 1f
	lea 1(%rax), %rsp
	imul $SMP_AP_STACK_SIZE, %rsp, %rsp
	add $rt_ap_stacks, %rsp
	mov %eax, %ebx
	call rt_load_gdt
	call idt_load
	mov %ebx, %edi
	call rt_ap_main
1:	cli
	hlt
	jmp 1b

	.section .stack, "aw", @nobits
	.balign 16
	.globl rt_ap_stacks
rt_ap_stacks:
	.skip SMP_AP_STACK_SIZE * SMP_MAX_APS

	.section .note.GNU-stack, "", @progbits
