// SPDX-License-Identifier: MIT
/*
 * An 8250/16550A UART: the guest's console.
 *
 * Transmission is instantaneous, so THR is always empty (LSR THRE|TEMT).
 * Output is buffered per line: a THR write costs the I/O exit and nothing
 * else, but for one write(2) that flushes at a newline or a full buffer,
 * and one that starts the flush timer on the first byte after a flush (the
 * console thread writes a partial line out SERIAL_FLUSH_MS later).
 * serial8250_flush(), serial8250_free(), S5 power-off and process exit
 * flush too. Input comes from vm->console_in through a thread into
 * the receive FIFO; when the FIFO is full the thread stops reading, so the
 * host side (a pipe, a terminal) holds the back-pressure instead of bytes
 * being dropped.
 *
 * Interrupts: the UART's INTR output is a level, gated by MCR.OUT2 as on
 * PC boards. The in-kernel PIC/IOAPIC see ISA IRQ 4 as edge-triggered,
 * active high: we drive the line with that level and only call
 * vm_irq_line() when it changes, so each new interrupt condition after the
 * guest cleared the previous one makes a fresh rising edge, exactly as the
 * real wire would. Linux's handler loops until IIR reads "no interrupt", so
 * a condition that appears while the line is already high is not lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/devices.h"
#include "vmm/init.h"
#include "vmm/kvm.h"

/* Register offsets. */
#define UART_RBR	0	/* receive buffer (read), THR (write); DLL with DLAB */
#define UART_IER	1	/* interrupt enable; DLM with DLAB */
#define UART_IIR	2	/* interrupt identification (read), FCR (write) */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7
#define UART_NR_REGS	8

#define IER_RDI		0x01	/* received data available */
#define IER_THRI	0x02	/* THR empty */
#define IER_RLSI	0x04	/* receiver line status */
#define IER_MSI		0x08	/* modem status */
#define IER_MASK	0x0f

#define IIR_NO_INT	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_TIMEOUT	0x0c	/* data below the trigger level */
#define IIR_FIFO_ON	0xc0

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_CLEAR_TX	0x04
#define FCR_TRIGGER	0xc0

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

#define SERIAL_FIFO_SIZE	16	/* a 16550A; Linux's autodetection expects it */
#define SERIAL_TX_BUF		4096
#define SERIAL_FLUSH_MS		10

struct serial8250 {
	struct vm *vm;
	uint16_t port;
	unsigned int irq;
	int in, out;			/* vm->console_in/out when created */
	pthread_mutex_t lock;
	struct serial8250 *next_live;	/* live_uarts list */

	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	bool thri_pending;		/* THRE interrupt armed, not yet acknowledged */
	bool irq_level;			/* what we last drove on the line */

	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_count;

	uint8_t tx[SERIAL_TX_BUF];
	size_t tx_len;

	/* Console thread: reads console_in, flushes partial lines. */
	pthread_t thread;
	bool thread_started, quit;
	bool reader_blocked;		/* waiting for FIFO room */
	int wake[2];			/* pipe: wakes the thread */
};

int (*serial8250_irq_line)(struct vm *vm, unsigned int gsi, bool level) = vm_irq_line;

/*
 * Every UART not yet freed, so that process exit flushes them even when
 * nobody called serial8250_free() (an error path, a crash report).
 *
 * fork() copies a mutex as it is, and in the child no thread is left to
 * release one that the UART's console thread held at that instant: the
 * child's exit-time flush would then wait forever. So fork takes
 * live_lock and every live UART's lock first (the flush's order) and
 * releases them on both sides (fork_prepare(), fork_release()).
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct serial8250 *live_uarts;
static pthread_once_t live_once = PTHREAD_ONCE_INIT;

static void wake_thread(struct serial8250 *s)
{
	const char c = 0;
	ssize_t ret;

	if (s->wake[1] < 0)
		return;
	do
		ret = write(s->wake[1], &c, 1);
	while (ret < 0 && errno == EINTR);
	/* EAGAIN: the pipe already holds a wake-up. */
}

/*
 * Write all of @buf to @fd, waiting out EAGAIN; output errors drop the
 * bytes. A blocked console must not keep the VM from stopping: once a stop
 * is requested, the kick's EINTR ends the wait and the rest is dropped.
 */
static void write_all(const struct vm *vm, int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (poll(&p, 1, 1000) <= 0)
				return;
		} else if (n < 0 && errno == EINTR) {
			if (vm && atomic_load(&vm->stop_reason) != VM_RUNNING)
				return;
		} else {
			return;
		}
	}
}

static void flush_locked(struct serial8250 *s)
{
	if (s->tx_len && s->out >= 0)
		write_all(s->vm, s->out, s->tx, s->tx_len);
	s->tx_len = 0;
}

void serial8250_flush(struct serial8250 *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

static void flush_live_uarts(void)
{
	struct serial8250 *s;

	pthread_mutex_lock(&live_lock);
	for (s = live_uarts; s; s = s->next_live)
		serial8250_flush(s);
	pthread_mutex_unlock(&live_lock);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&live_lock);
	for (struct serial8250 *s = live_uarts; s; s = s->next_live)
		pthread_mutex_lock(&s->lock);
}

static void fork_release(void)
{
	for (struct serial8250 *s = live_uarts; s; s = s->next_live)
		pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&live_lock);
}

static void register_exit_flush(void)
{
	atexit(flush_live_uarts);
	pthread_atfork(fork_prepare, fork_release, fork_release);
}

static void live_add(struct serial8250 *s)
{
	pthread_once(&live_once, register_exit_flush);
	pthread_mutex_lock(&live_lock);
	s->next_live = live_uarts;
	live_uarts = s;
	pthread_mutex_unlock(&live_lock);
}

static void live_remove(struct serial8250 *s)
{
	struct serial8250 **p;

	pthread_mutex_lock(&live_lock);
	for (p = &live_uarts; *p; p = &(*p)->next_live) {
		if (*p == s) {
			*p = s->next_live;
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
}

static unsigned int rx_capacity(const struct serial8250 *s)
{
	return (s->fcr & FCR_ENABLE) ? SERIAL_FIFO_SIZE : 1;
}

static unsigned int rx_trigger(const struct serial8250 *s)
{
	static const unsigned int levels[4] = { 1, 4, 8, 14 };

	if (!(s->fcr & FCR_ENABLE))
		return 1;
	return levels[s->fcr >> 6];
}

/* The highest-priority pending interrupt, as IIR bits 3:0. */
static uint8_t pending_interrupt(const struct serial8250 *s)
{
	if ((s->ier & IER_RLSI) && (s->lsr & LSR_OE))
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		return s->rx_count >= rx_trigger(s) ? IIR_RDI : IIR_TIMEOUT;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && (s->msr & (MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD)))
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct serial8250 *s)
{
	bool level = pending_interrupt(s) != IIR_NO_INT && (s->mcr & MCR_OUT2);

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	serial8250_irq_line(s->vm, s->irq, level);
}

/* Modem input lines: loopback wires them to MCR; otherwise a ready modem. */
static uint8_t modem_lines(const struct serial8250 *s)
{
	uint8_t m = s->mcr;

	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) |
	       (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0);
}

static void set_modem_lines(struct serial8250 *s, uint8_t lines)
{
	uint8_t old = s->msr & 0xf0, delta = 0;

	if ((old ^ lines) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ lines) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(lines & MSR_RI))	/* trailing edge only */
		delta |= MSR_TERI;
	if ((old ^ lines) & MSR_DCD)
		delta |= MSR_DDCD;
	s->msr = lines | (s->msr & 0x0f) | delta;
}

/* Queue one received byte; false (and LSR.OE) when the FIFO is full. */
static bool rx_push(struct serial8250 *s, uint8_t byte)
{
	if (s->rx_count >= rx_capacity(s)) {
		s->lsr |= LSR_OE;
		return false;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
	s->rx_count++;
	s->lsr |= LSR_DR;
	return true;
}

static uint8_t rx_pop(struct serial8250 *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
	if (!--s->rx_count) {
		s->lsr &= ~LSR_DR;
		if (s->reader_blocked)
			wake_thread(s);
	}
	return byte;
}

static void rx_clear(struct serial8250 *s)
{
	s->rx_head = s->rx_count = 0;
	s->lsr &= ~LSR_DR;
	if (s->reader_blocked)
		wake_thread(s);
}

static void transmit(struct serial8250 *s, uint8_t byte)
{
	/* THR empties at once: the THRE interrupt re-arms. */
	s->thri_pending = true;
	if (s->mcr & MCR_LOOP) {
		rx_push(s, byte);
		return;
	}
	if (!s->tx_len)
		wake_thread(s);		/* start the flush timer */
	s->tx[s->tx_len++] = byte;
	if (byte == '\n' || s->tx_len == sizeof(s->tx))
		flush_locked(s);
}

static void write_reg(struct serial8250 *s, unsigned int reg, uint8_t val)
{
	switch (reg) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB)
			s->dll = val;
		else
			transmit(s, val);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = val;
			break;
		}
		/* Enabling THRI while THR is empty raises it, as the 16550A does. */
		if ((val & IER_THRI) && !(s->ier & IER_THRI))
			s->thri_pending = true;
		s->ier = val & IER_MASK;
		break;
	case UART_IIR: /* FCR */
		if ((val ^ s->fcr) & FCR_ENABLE)
			rx_clear(s);		/* toggling the FIFOs empties them */
		if (val & FCR_CLEAR_RX)
			rx_clear(s);
		s->fcr = val & (FCR_ENABLE | FCR_TRIGGER);
		if (!(s->fcr & FCR_ENABLE))
			s->fcr = 0;
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		s->mcr = val & MCR_MASK;
		set_modem_lines(s, modem_lines(s));
		break;
	case UART_LSR:		/* read-only (factory test register on some parts) */
	case UART_MSR:
		break;
	case UART_SCR:
		s->scr = val;
		break;
	}
}

static uint8_t read_reg(struct serial8250 *s, unsigned int reg)
{
	uint8_t val = 0xff;

	switch (reg) {
	case UART_RBR:
		val = (s->lcr & LCR_DLAB) ? s->dll : rx_pop(s);
		break;
	case UART_IER:
		val = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case UART_IIR:
		val = pending_interrupt(s);
		/* Reading IIR acknowledges a THRE interrupt it reports. */
		if (val == IIR_THRI)
			s->thri_pending = false;
		if (s->fcr & FCR_ENABLE)
			val |= IIR_FIFO_ON;
		break;
	case UART_LCR:
		val = s->lcr;
		break;
	case UART_MCR:
		val = s->mcr;
		break;
	case UART_LSR:
		val = s->lsr | LSR_THRE | LSR_TEMT;
		s->lsr &= ~LSR_OE;	/* error bits clear on read */
		break;
	case UART_MSR:
		val = s->msr;
		s->msr &= 0xf0;		/* deltas clear on read */
		break;
	case UART_SCR:
		val = s->scr;
		break;
	}
	return val;
}

/* Wider accesses touch consecutive registers, one byte each. */
static void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		      bool is_write)
{
	struct serial8250 *s = opaque;
	unsigned int i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < len; i++) {
		unsigned int reg = (unsigned int)(offset + i);

		if (reg >= UART_NR_REGS) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			write_reg(s, reg, data[i]);
		else
			data[i] = read_reg(s, reg);
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Feed bytes as if they arrived on the wire. Bytes beyond the FIFO are
 * lost with an overrun (LSR.OE), as on the real part. Returns how many fit.
 */
static size_t receive_locked(struct serial8250 *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	while (n < len && rx_push(s, buf[n]))
		n++;
	update_irq(s);
	return n;
}

void serial8250_receive(struct serial8250 *s, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	receive_locked(s, buf, len);
	pthread_mutex_unlock(&s->lock);
}

static void drain_wake_pipe(struct serial8250 *s)
{
	char junk[64];

	while (read(s->wake[0], junk, sizeof(junk)) > 0)
		;
}

/*
 * The console thread. It polls console_in only while the FIFO has room
 * (reading no more than fits, so nothing overruns), and flushes a partial
 * output line SERIAL_FLUSH_MS after its first byte. It uses the VM only
 * to raise the IRQ for input, so vm_destroy() must free the UART first.
 */
static void *console_thread(void *arg)
{
	struct serial8250 *s = arg;
	int in = s->in;

	for (;;) {
		struct pollfd fds[2] = { { .fd = s->wake[0], .events = POLLIN } };
		unsigned int room;
		int nfds = 1, timeout;

		pthread_mutex_lock(&s->lock);
		if (s->quit) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		room = rx_capacity(s) - s->rx_count;
		s->reader_blocked = in >= 0 && !room;
		timeout = s->tx_len ? SERIAL_FLUSH_MS : -1;
		pthread_mutex_unlock(&s->lock);

		if (in >= 0 && room) {
			fds[1] = (struct pollfd){ .fd = in, .events = POLLIN };
			nfds = 2;
		}
		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN)
			drain_wake_pipe(s);

		pthread_mutex_lock(&s->lock);
		if (nfds == 2 && fds[1].revents) {
			uint8_t buf[SERIAL_FIFO_SIZE];
			unsigned int want = rx_capacity(s) - s->rx_count;
			ssize_t n = want ? read(in, buf, want) : -1;

			if (n > 0)
				receive_locked(s, buf, (size_t)n);
			else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && want))
				in = -1;	/* end of input: keep serving output */
		}
		/* Timer expiry, or quitting: push out the partial line. */
		if (!fds[0].revents || s->quit)
			flush_locked(s);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

struct serial8250 *serial8250_new(struct vm *vm, uint16_t port, unsigned int irq)
{
	struct serial8250 *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->vm = vm;
	s->port = port;
	s->irq = irq;
	s->in = vm->console_in;
	s->out = vm->console_out;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	s->lcr = 0x03;			/* 8N1, what firmware leaves behind */
	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);

	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK))
		goto fail;
	if (pthread_create(&s->thread, NULL, console_thread, s))
		goto fail;
	s->thread_started = true;
	if (bus_register(&vm->pio, port, UART_NR_REGS, serial_io, s, "serial8250"))
		goto fail;
	live_add(s);
	return s;
fail:
	serial8250_free(s);
	return NULL;
}

/* Unregister, stop the console thread and flush what the guest wrote. */
void serial8250_free(struct serial8250 *s)
{
	if (!s)
		return;
	live_remove(s);
	bus_unregister(&s->vm->pio, s->port, s);
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->quit = true;
		pthread_mutex_unlock(&s->lock);
		wake_thread(s);
		pthread_join(s->thread, NULL);
	}
	serial8250_flush(s);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int serial8250_init(struct vm *vm, char *err, size_t errlen)
{
	vm->serial = serial8250_new(vm, MACHINE_COM1_PORT, MACHINE_COM1_IRQ);
	if (!vm->serial) {
		snprintf(err, errlen, "serial: cannot set up COM1 at %#x: %s", MACHINE_COM1_PORT,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static void serial8250_exit(struct vm *vm)
{
	serial8250_free(vm->serial);
	vm->serial = NULL;
}
VM_INIT_EXIT(serial8250_init, serial8250_exit, VM_INIT_DEVICE);
