// SPDX-License-Identifier: MIT
/*
 * The 8250/16550A console, the ACPI sleep registers and PM timer, driven through
 * the VM's port I/O bus. The console's output goes to a pipe; its IRQ
 * line is recorded through serial8250_irq_line.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/devices.h"
#include "vmm/kvm.h"

#define COM1	MACHINE_COM1_PORT
#define THR	0
#define RBR	0
#define DLL	0
#define IER	1
#define DLM	1
#define IIR	2
#define FCR	2
#define LCR	3
#define MCR	4
#define LSR	5
#define MSR	6
#define SCR	7

static struct vm vm;
static struct serial8250 *uart;
static int out_pipe[2], in_pipe[2];
static char console_buf[16384];
static size_t console_len;

struct irq_event { unsigned int gsi; bool level; };
static struct irq_event irqs[256];
static unsigned int nirqs;

static int record_irq(struct vm *v, unsigned int gsi, bool level)
{
	ck_assert_ptr_eq(v, &vm);
	ck_assert_uint_lt(nirqs, 256);
	irqs[nirqs++] = (struct irq_event){ gsi, level };
	return 0;
}

/* The level the guest's interrupt controller sees now. */
static bool irq_high(void)
{
	return nirqs && irqs[nirqs - 1].level;
}

static void setup_vm(bool with_input)
{
	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	ck_assert_int_eq(bus_init(&vm.pio, "pio"), 0);
	ck_assert_int_eq(bus_init(&vm.mmio, "mmio"), 0);
	ck_assert_int_eq(pipe2(out_pipe, O_NONBLOCK), 0);
	vm.console_out = out_pipe[1];
	vm.console_in = -1;
	in_pipe[0] = in_pipe[1] = -1;
	if (with_input) {
		ck_assert_int_eq(pipe(in_pipe), 0);
		vm.console_in = in_pipe[0];
	}
	serial8250_irq_line = record_irq;
	nirqs = 0;
	console_len = 0;
	uart = serial8250_new(&vm, COM1, MACHINE_COM1_IRQ);
	ck_assert_ptr_nonnull(uart);
}

static void setup(void)
{
	setup_vm(false);
}

static void setup_input(void)
{
	setup_vm(true);
}

static void teardown(void)
{
	serial8250_free(uart);
	uart = NULL;
	close(out_pipe[0]);
	close(out_pipe[1]);
	if (in_pipe[0] >= 0) {
		close(in_pipe[0]);
		close(in_pipe[1]);
	}
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
}

static uint8_t inb(unsigned int reg)
{
	uint8_t v = 0x5a;

	ck_assert(bus_dispatch(&vm.pio, COM1 + reg, &v, 1, false));
	return v;
}

static void outb(unsigned int reg, uint8_t v)
{
	ck_assert(bus_dispatch(&vm.pio, COM1 + reg, &v, 1, true));
}

static void puts_guest(const char *s)
{
	while (*s)
		outb(THR, (uint8_t)*s++);
}

/* What reached the console so far (the pipe is non-blocking). */
static const char *console(void)
{
	ssize_t n;

	while ((n = read(out_pipe[0], console_buf + console_len,
			 sizeof(console_buf) - 1 - console_len)) > 0)
		console_len += (size_t)n;
	console_buf[console_len] = 0;
	return console_buf;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- transmit ---- */

START_TEST(test_transmit_lines)
{
	puts_guest("hello\n");
	ck_assert_str_eq(console(), "hello\n");
	/* A partial line waits for the flush timer, not for ever. */
	puts_guest("login: ");
	sleep_ms(200);
	ck_assert_str_eq(console(), "hello\nlogin: ");
}
END_TEST

START_TEST(test_flush_on_free)
{
	uint8_t v;

	puts_guest("bye");
	serial8250_free(uart);
	uart = NULL;
	ck_assert_str_eq(console(), "bye");
	/* The port is gone from the bus with it. */
	ck_assert(!bus_dispatch(&vm.pio, COM1 + LSR, &v, 1, false));
	uart = serial8250_new(&vm, COM1, MACHINE_COM1_IRQ);
	ck_assert_ptr_nonnull(uart);
}
END_TEST

/* A process that exits without freeing its UART still writes out the last line. */
START_TEST(test_flush_at_exit)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		puts_guest("Kernel panic - not syncing");
		exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_str_eq(console(), "Kernel panic - not syncing");
}
END_TEST

/*
 * A fork while the console thread holds the UART's lock: it is pushing a
 * partial line into a full pipe (a blocked console). Without the UART's
 * fork handlers, the child inherits the lock held by a thread it does not
 * have, and its exit-time flush waits forever.
 */
START_TEST(test_fork_while_the_console_thread_flushes)
{
	char sink[4096];
	pid_t pid;
	int status;

	while (write(out_pipe[1], sink, sizeof(sink)) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	puts_guest("partial line");
	sleep_ms(100);		/* the flush timer fired: the thread waits on the pipe */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(test_explicit_flush_and_big_output)
{
	char big[10000];

	puts_guest("part");
	serial8250_flush(uart);
	ck_assert_str_eq(console(), "part");
	/* More than the buffer holds, without newlines: nothing is lost. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	puts_guest(big);
	serial8250_flush(uart);
	ck_assert_uint_eq(strlen(console()), 4 + sizeof(big) - 1);
}
END_TEST

START_TEST(test_wide_access)
{
	uint8_t two[2] = { 'A', 0x00 };		/* THR = 'A', IER = 0 */
	uint8_t v[2];

	ck_assert(bus_dispatch(&vm.pio, COM1, two, 2, true));
	outb(THR, '\n');
	ck_assert_str_eq(console(), "A\n");
	ck_assert(bus_dispatch(&vm.pio, COM1 + LSR, v, 2, false));
	ck_assert_uint_eq(v[0], 0x60);
	ck_assert_uint_eq(v[1], 0xb0);
	/* An access past the last register is not the UART's. */
	ck_assert(!bus_dispatch(&vm.pio, COM1 + SCR, v, 2, false));
}
END_TEST

/* ---- registers ---- */

START_TEST(test_reset_state)
{
	ck_assert_uint_eq(inb(LSR), 0x60);		/* THRE | TEMT */
	ck_assert_uint_eq(inb(IIR), 0x01);		/* no interrupt, no FIFO */
	ck_assert_uint_eq(inb(IER), 0x00);
	ck_assert_uint_eq(inb(MSR), 0xb0);		/* DCD, DSR, CTS */
	ck_assert_uint_eq(inb(RBR), 0x00);		/* nothing received */
	outb(SCR, 0x5a);
	ck_assert_uint_eq(inb(SCR), 0x5a);
	outb(IER, 0xff);
	ck_assert_uint_eq(inb(IER), 0x0f);		/* 16550A: four enables */
	outb(MCR, 0xff);
	ck_assert_uint_eq(inb(MCR), 0x1f);
	outb(LSR, 0x00);				/* read-only */
	ck_assert_uint_eq(inb(LSR) & 0x60, 0x60);
}
END_TEST

START_TEST(test_fifo_iir)
{
	outb(FCR, 0x01);
	ck_assert_uint_eq(inb(IIR), 0xc1);
	outb(FCR, 0x00);
	ck_assert_uint_eq(inb(IIR), 0x01);
	/* Linux's 16750 probe: the 64-byte bit must not stick. */
	outb(FCR, 0x21);
	ck_assert_uint_eq(inb(IIR) & 0xe0, 0xc0);
}
END_TEST

START_TEST(test_dlab)
{
	outb(IER, 0x05);
	outb(LCR, 0x83);
	outb(DLL, 0x0c);
	outb(DLM, 0x01);
	ck_assert_uint_eq(inb(DLL), 0x0c);
	ck_assert_uint_eq(inb(DLM), 0x01);
	ck_assert_uint_eq(inb(LCR), 0x83);
	outb(LCR, 0x03);
	ck_assert_uint_eq(inb(IER), 0x05);		/* untouched by DLM */
	serial8250_flush(uart);
	ck_assert_str_eq(console(), "");		/* DLL writes are not output */
	outb(LCR, 0x80);
	ck_assert_uint_eq(inb(DLL), 0x0c);
}
END_TEST

START_TEST(test_loopback)
{
	/* Linux's probe: loopback with RTS and OUT2 must show CTS and DCD. */
	outb(MCR, 0x1a);
	ck_assert_uint_eq(inb(MSR) & 0xf0, 0x90);
	outb(MCR, 0x1f);
	ck_assert_uint_eq(inb(MSR) & 0xf0, 0xf0);
	inb(MSR);
	outb(MCR, 0x1b);				/* OUT1 drops: RI trailing edge */
	ck_assert_uint_eq(inb(MSR), 0xb4);
	ck_assert_uint_eq(inb(MSR), 0xb0);		/* deltas clear on read */

	outb(FCR, 0x01);
	puts_guest("ok\n");
	serial8250_flush(uart);
	ck_assert_str_eq(console(), "");		/* loopback never reaches the wire */
	ck_assert_uint_eq(inb(LSR) & 0x01, 0x01);
	ck_assert_uint_eq(inb(RBR), 'o');
	ck_assert_uint_eq(inb(RBR), 'k');
	ck_assert_uint_eq(inb(RBR), '\n');
	ck_assert_uint_eq(inb(LSR) & 0x01, 0);

	outb(MCR, 0x0b);
	ck_assert_uint_eq(inb(MSR) & 0xf0, 0xb0);
	puts_guest("out\n");
	ck_assert_str_eq(console(), "out\n");
}
END_TEST

/* ---- interrupts ---- */

START_TEST(test_thre_interrupt)
{
	outb(FCR, 0x01);
	outb(MCR, 0x08);				/* OUT2 gates the IRQ */
	outb(IER, 0x02);
	ck_assert(irq_high());
	ck_assert_uint_eq(irqs[0].gsi, MACHINE_COM1_IRQ);
	ck_assert_uint_eq(inb(IIR), 0xc2);
	ck_assert(!irq_high());				/* reading IIR acknowledged it */
	ck_assert_uint_eq(inb(IIR), 0xc1);
	outb(THR, 'x');					/* THR empties again: re-armed */
	ck_assert(irq_high());
	ck_assert_uint_eq(nirqs, 3);
	/* More bytes while it is pending: no more calls. */
	puts_guest("yz");
	ck_assert_uint_eq(nirqs, 3);
	outb(IER, 0x00);
	ck_assert(!irq_high());
	/* Re-enabling with THR empty raises it again (what Linux's start_tx relies on). */
	outb(IER, 0x02);
	ck_assert(irq_high());
	/* OUT2 clear: pending, but the line stays low. */
	outb(MCR, 0x00);
	ck_assert(!irq_high());
	ck_assert_uint_eq(inb(IIR), 0xc2);
}
END_TEST

START_TEST(test_rx_interrupt_and_priority)
{
	outb(MCR, 0x08);
	outb(IER, 0x01);
	ck_assert_uint_eq(nirqs, 0);
	serial8250_receive(uart, (const uint8_t *)"a", 1);
	ck_assert(irq_high());
	ck_assert_uint_eq(inb(IIR), 0x04);
	ck_assert(irq_high());				/* IIR read does not clear RDA */
	ck_assert_uint_eq(inb(RBR), 'a');
	ck_assert(!irq_high());

	/* Trigger level 4: one byte is a character timeout, four a full trigger. */
	outb(FCR, 0x41);
	serial8250_receive(uart, (const uint8_t *)"b", 1);
	ck_assert_uint_eq(inb(IIR), 0xcc);
	serial8250_receive(uart, (const uint8_t *)"cde", 3);
	ck_assert_uint_eq(inb(IIR), 0xc4);
	/* Received data outranks THRE. */
	outb(IER, 0x03);
	ck_assert_uint_eq(inb(IIR), 0xc4);
	outb(FCR, 0x43);				/* clear the receive FIFO */
	ck_assert_uint_eq(inb(LSR) & 0x01, 0);
	ck_assert_uint_eq(inb(IIR), 0xc2);
	ck_assert_uint_eq(inb(IIR), 0xc1);
	ck_assert(!irq_high());
}
END_TEST

START_TEST(test_overrun)
{
	uint8_t many[20];
	unsigned int i;

	for (i = 0; i < sizeof(many); i++)
		many[i] = (uint8_t)('A' + i);
	outb(MCR, 0x08);
	outb(IER, 0x04);				/* line status only */
	/* Without the FIFO, one byte is all it holds. */
	serial8250_receive(uart, many, 2);
	ck_assert(irq_high());
	ck_assert_uint_eq(inb(IIR), 0x06);
	ck_assert_uint_eq(inb(LSR), 0x63);		/* DR | OE */
	ck_assert_uint_eq(inb(LSR), 0x61);		/* OE clears on read */
	ck_assert(!irq_high());
	ck_assert_uint_eq(inb(RBR), 'A');

	outb(FCR, 0x01);
	serial8250_receive(uart, many, sizeof(many));
	ck_assert_uint_eq(inb(LSR) & 0x02, 0x02);
	for (i = 0; i < 16; i++)
		ck_assert_uint_eq(inb(RBR), 'A' + i);
	ck_assert_uint_eq(inb(LSR), 0x60);
}
END_TEST

START_TEST(test_modem_status_interrupt)
{
	outb(MCR, 0x18);				/* loopback, OUT2 -> DCD */
	inb(MSR);
	outb(IER, 0x08);
	ck_assert(!irq_high());
	outb(MCR, 0x1a);				/* RTS -> CTS changes */
	ck_assert(irq_high());
	ck_assert_uint_eq(inb(IIR), 0x00);
	ck_assert_uint_eq(inb(MSR), 0x91);
	ck_assert(!irq_high());
}
END_TEST

/* ---- receive from console_in ---- */

static uint8_t read_byte_waiting(void)
{
	int tries;

	for (tries = 0; tries < 2000; tries++) {
		if (inb(LSR) & 0x01)
			return inb(RBR);
		sleep_ms(1);
	}
	ck_abort_msg("no byte arrived");
	return 0;
}

START_TEST(test_console_input)
{
	const char *text = "the quick brown fox jumps over the lazy dog\n";
	size_t i;

	outb(FCR, 0x01);
	ck_assert_int_eq(write(in_pipe[1], text, strlen(text)), (ssize_t)strlen(text));
	/* Longer than the FIFO: the reader waits for room, nothing overruns. */
	for (i = 0; i < strlen(text); i++) {
		ck_assert_uint_eq(read_byte_waiting(), (uint8_t)text[i]);
		ck_assert_uint_eq(inb(LSR) & 0x02, 0);
	}
}
END_TEST

START_TEST(test_console_input_no_fifo)
{
	outb(MCR, 0x08);
	outb(IER, 0x01);
	ck_assert_int_eq(write(in_pipe[1], "xyz", 3), 3);
	ck_assert_uint_eq(read_byte_waiting(), 'x');
	ck_assert_uint_eq(read_byte_waiting(), 'y');
	ck_assert_uint_eq(read_byte_waiting(), 'z');
	ck_assert_uint_eq(inb(LSR) & 0x02, 0);
	ck_assert(!irq_high());
	/* End of input: output still works. */
	close(in_pipe[1]);
	in_pipe[1] = open("/dev/null", O_WRONLY);
	puts_guest("still here\n");
	ck_assert_str_eq(console(), "still here\n");
}
END_TEST

/* ---- power ---- */

static uint8_t power_in(unsigned int port)
{
	uint8_t v = 0x5a;

	ck_assert(bus_dispatch(&vm.pio, port, &v, 1, false));
	return v;
}

static void power_out(unsigned int port, uint8_t v)
{
	ck_assert(bus_dispatch(&vm.pio, port, &v, 1, true));
}

START_TEST(test_power_off)
{
	char err[256];

	ck_assert_int_eq(power_init(&vm, err, sizeof(err)), 0);
	vm.serial = uart;
	puts_guest("reboot: Power down");
	/* SLP_TYP alone does nothing. */
	power_out(MACHINE_SLEEP_CTL_PORT, MACHINE_SLEEP_TYP_S5 << MACHINE_SLEEP_TYP_SHIFT);
	ck_assert_int_eq(atomic_load(&vm.stop_reason), VM_RUNNING);
	ck_assert_uint_eq(power_in(MACHINE_SLEEP_CTL_PORT),
			  MACHINE_SLEEP_TYP_S5 << MACHINE_SLEEP_TYP_SHIFT);
	power_out(MACHINE_SLEEP_CTL_PORT,
		  MACHINE_SLEEP_SLP_EN | MACHINE_SLEEP_TYP_S5 << MACHINE_SLEEP_TYP_SHIFT);
	ck_assert_int_eq(atomic_load(&vm.stop_reason), VM_POWEROFF);
	/* The last words made it out before the stop. */
	ck_assert_str_eq(console(), "reboot: Power down");
	vm.serial = NULL;
}
END_TEST

START_TEST(test_power_other_sleep_states)
{
	char err[256];
	unsigned int typ;

	ck_assert_int_eq(power_init(&vm, err, sizeof(err)), 0);
	ck_assert_uint_eq(power_in(MACHINE_SLEEP_STS_PORT), 0);
	for (typ = 0; typ < 8; typ++) {
		if (typ == MACHINE_SLEEP_TYP_S5)
			continue;
		power_out(MACHINE_SLEEP_CTL_PORT,
			  (uint8_t)(MACHINE_SLEEP_SLP_EN | typ << MACHINE_SLEEP_TYP_SHIFT));
		ck_assert_int_eq(atomic_load(&vm.stop_reason), VM_RUNNING);
		/* Woken at once, so the guest's WAK_STS poll ends. */
		ck_assert_uint_eq(power_in(MACHINE_SLEEP_STS_PORT), 0x80);
		power_out(MACHINE_SLEEP_STS_PORT, 0x7f);	/* not WAK_STS: no effect */
		ck_assert_uint_eq(power_in(MACHINE_SLEEP_STS_PORT), 0x80);
		power_out(MACHINE_SLEEP_STS_PORT, 0x80);	/* write one to clear */
		ck_assert_uint_eq(power_in(MACHINE_SLEEP_STS_PORT), 0);
	}
	/* A second registration at the same ports is refused. */
	ck_assert_int_eq(power_init(&vm, err, sizeof(err)), -1);
	ck_assert(strstr(err, "sleep") != NULL);
}
END_TEST

/* The PM timer: 3.579545 MHz from CLOCK_MONOTONIC, 24 bits, read-only. */
START_TEST(test_pm_timer_count)
{
	struct timespec t = { .tv_sec = 1, .tv_nsec = 0 };

	ck_assert_uint_eq(pmtimer_count(&t), 3579545 & 0xffffff);
	t = (struct timespec){ .tv_sec = 0, .tv_nsec = 500000000 };
	ck_assert_uint_eq(pmtimer_count(&t), 1789772);
	/* Days of uptime: no overflow before the 24-bit mask. */
	t = (struct timespec){ .tv_sec = 864000, .tv_nsec = 999999999 };
	ck_assert_uint_eq(pmtimer_count(&t), (864000ULL * 3579545 + 3579544) & 0xffffff);
}
END_TEST

START_TEST(test_pm_timer_port)
{
	struct timespec pause = { .tv_nsec = 2000000 };
	uint8_t b[4], top;
	uint32_t first, second;
	char err[256];

	ck_assert_int_eq(pmtimer_init(&vm, err, sizeof(err)), 0);
	ck_assert(bus_dispatch(&vm.pio, MACHINE_PM_TIMER_PORT, b, 4, false));
	memcpy(&first, b, 4);
	ck_assert_uint_le(first, 0xffffff);
	/* Writes are ignored. */
	memset(b, 0, 4);
	ck_assert(bus_dispatch(&vm.pio, MACHINE_PM_TIMER_PORT, b, 4, true));
	nanosleep(&pause, NULL);
	ck_assert(bus_dispatch(&vm.pio, MACHINE_PM_TIMER_PORT, b, 4, false));
	memcpy(&second, b, 4);
	/* 2 ms of CLOCK_MONOTONIC are at least 7159 ticks (modulo the 24-bit wrap). */
	ck_assert_uint_ge((second - first) & 0xffffff, 7159);
	/* Byte reads see their part of the register; byte 3 lies above the 24 bits. */
	ck_assert(bus_dispatch(&vm.pio, MACHINE_PM_TIMER_PORT + 3, &top, 1, false));
	ck_assert_uint_eq(top, 0);
}
END_TEST

static Suite *serial_suite(void)
{
	Suite *s = suite_create("serial");
	TCase *tc = tcase_create("uart");
	TCase *in = tcase_create("input");
	TCase *pw = tcase_create("power");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_transmit_lines);
	tcase_add_test(tc, test_flush_on_free);
	tcase_add_test(tc, test_flush_at_exit);
	tcase_add_test(tc, test_fork_while_the_console_thread_flushes);
	tcase_add_test(tc, test_explicit_flush_and_big_output);
	tcase_add_test(tc, test_wide_access);
	tcase_add_test(tc, test_reset_state);
	tcase_add_test(tc, test_fifo_iir);
	tcase_add_test(tc, test_dlab);
	tcase_add_test(tc, test_loopback);
	tcase_add_test(tc, test_thre_interrupt);
	tcase_add_test(tc, test_rx_interrupt_and_priority);
	tcase_add_test(tc, test_overrun);
	tcase_add_test(tc, test_modem_status_interrupt);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(in, setup_input, teardown);
	tcase_add_test(in, test_console_input);
	tcase_add_test(in, test_console_input_no_fifo);
	suite_add_tcase(s, in);

	tcase_add_checked_fixture(pw, setup, teardown);
	tcase_add_test(pw, test_power_off);
	tcase_add_test(pw, test_power_other_sleep_states);
	tcase_add_test(pw, test_pm_timer_count);
	tcase_add_test(pw, test_pm_timer_port);
	suite_add_tcase(s, pw);
	return s;
}

int main(void)
{
	return check_run(serial_suite());
}
