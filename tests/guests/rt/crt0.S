/* SPDX-License-Identifier: MIT */
/*
 * Guest entry. The VMM enters here in long mode with its own GDT and a
 * stack in low memory; the guest replaces both so it depends on nothing but
 * the identity map, then zeroes .bss, installs the IDT and calls main(dtb).
 * Also home of the runtime's GDT (whose selectors match the VMM's: 0x10
 * code, 0x18 data, with 0x08 a 32-bit code segment the AP trampoline needs)
 * and of setjmp/longjmp for trap_run().
 */

#include "trampoline.h"

#define SEL_CODE64 0x10
#define SEL_DATA 0x18

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	/* RDI carries the DTB address; rep stosq below clobbers it. */
	mov %rdi, %r12
	mov $rt_bsp_stack_top, %rsp
	xor %ebp, %ebp

	mov $__bss_start, %rdi
	mov $__bss_end, %rcx
	sub %rdi, %rcx
	shr $3, %rcx
	xor %eax, %eax
	rep stosq

	call rt_load_gdt
	call idt_load

	mov %r12, %rdi
	call main
	mov %eax, %edi
	call rt_main_returned
	/* not reached */
	ud2

/* Load the runtime GDT and reload every segment register (BSP and APs). */
	.text
	.globl rt_load_gdt
rt_load_gdt:
	lgdt rt_gdt_desc
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	/* A far return is the way to reload CS in long mode. */
	pop %rax
	push $SEL_CODE64
	push %rax
	lretq

/*
 * setjmp/longjmp over the callee-saved registers; trap.c longjmps out of an
 * exception handler back into trap_run().
 */
	.globl rt_setjmp
rt_setjmp:
	mov %rbx, 0(%rdi)
	mov %rbp, 8(%rdi)
	mov %r12, 16(%rdi)
	mov %r13, 24(%rdi)
	mov %r14, 32(%rdi)
	mov %r15, 40(%rdi)
	lea 8(%rsp), %rax
	mov %rax, 48(%rdi)
	mov (%rsp), %rax
	mov %rax, 56(%rdi)
	xor %eax, %eax
	ret

	.globl rt_longjmp
rt_longjmp:
	mov 0(%rdi), %rbx
	mov 8(%rdi), %rbp
	mov 16(%rdi), %r12
	mov 24(%rdi), %r13
	mov 32(%rdi), %r14
	mov 40(%rdi), %r15
	mov 48(%rdi), %rsp
	mov %esi, %eax
	jmp *56(%rdi)

	/* In .data with the accessed bits preset, so loading a selector never writes it. */
	.data
	.balign 16
	.globl rt_gdt
rt_gdt:
	.quad 0				/* null */
	.quad 0x00cf9b000000ffff	/* 0x08: 32-bit code, flat */
	.quad 0x00af9b000000ffff	/* 0x10: 64-bit code */
	.quad 0x00cf93000000ffff	/* 0x18: data, flat */
rt_gdt_end:
	.balign 8
	.globl rt_gdt_desc
rt_gdt_desc:
	.word rt_gdt_end - rt_gdt - 1
	.quad rt_gdt

	/* Stacks need no zeroing: .stack is NOLOAD and outside __bss_start..__bss_end. */
	.section .stack, "aw", @nobits
	.balign 16
	.globl rt_bsp_stack
rt_bsp_stack:
	.skip RT_BSP_STACK_SIZE
	.globl rt_bsp_stack_top
rt_bsp_stack_top:

	.section .note.GNU-stack, "", @progbits
