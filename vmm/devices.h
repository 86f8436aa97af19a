/* SPDX-License-Identifier: MIT */
/* The fixed platform devices: the 8250 serial console, the power-off register, the PM timer. */
#ifndef TAGVMM_VMM_DEVICES_H
#define TAGVMM_VMM_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

/*
 * An 8250/16550A UART at MACHINE_COM1_PORT raising MACHINE_COM1_IRQ:
 * transmit to vm->console_out, receive from vm->console_in. Registered
 * with VM_INIT; the state is exposed for the tests.
 */
struct serial8250;
struct serial8250 *serial8250_new(struct vm *vm, uint16_t port, unsigned int irq);
void serial8250_free(struct serial8250 *s);
/* Feed received bytes (tests; the console reader thread). */
void serial8250_receive(struct serial8250 *s, const uint8_t *buf, size_t len);
/*
 * Write out the guest's buffered output now. Output is buffered per line
 * and flushed by a timer; serial8250_free() flushes too, so vm_destroy()
 * must free vm->serial (before bus_destroy) for nothing to be lost.
 */
void serial8250_flush(struct serial8250 *s);
/* How the UART drives its IRQ: vm_irq_line unless a test records the calls. */
extern int (*serial8250_irq_line)(struct vm *vm, unsigned int gsi, bool level);

/*
 * The ACPI hardware-reduced sleep control register at MACHINE_SLEEP_CTL_PORT:
 * writing SLP_EN with SLP_TYP = MACHINE_SLEEP_TYP_S5 powers the VM off.
 * It is what Linux's poweroff and the test guests use.
 */
int power_init(struct vm *vm, char *err, size_t errlen);

/*
 * The ACPI PM timer at MACHINE_PM_TIMER_PORT (FADT X_PM_TMR_BLK): a 24-bit
 * count at 3.579545 MHz, the calibration reference of a guest without
 * kvm-clock. pmtimer_count() is its value at CLOCK_MONOTONIC time @now.
 */
#define PMTIMER_HZ	3579545ULL
#define PMTIMER_MASK	0xffffffULL
struct timespec;
uint32_t pmtimer_count(const struct timespec *now);
int pmtimer_init(struct vm *vm, char *err, size_t errlen);

#endif
