/* SPDX-License-Identifier: MIT */
/*
 * One 16-byte stub per IDT vector: it pushes a dummy error code when the CPU
 * pushes none (so every frame has the same layout, struct trap_frame), then
 * the vector, and joins the common path that saves the general registers
 * and calls rt_trap(frame). rt_trap may return (resume) or longjmp away.
 */

.macro isr_stub vec
	.balign 16
	.if !((\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30))
	push $0
	.endif
	push $\vec
	jmp isr_common
.endm

	.text
	.balign 16
	.globl rt_isr_stubs
rt_isr_stubs:
	/* altmacro: %vec passes the counter's value, not the symbol. */
	.altmacro
	.set vec, 0
	.rept 256
	isr_stub %vec
	.set vec, vec + 1
	.endr
	.noaltmacro

isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	/* 64-bit delivery aligns RSP to 16 and the frame is 22 quadwords: still aligned. */
	mov %rsp, %rdi
	cld
	call rt_trap
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

	.section .note.GNU-stack, "", @progbits
