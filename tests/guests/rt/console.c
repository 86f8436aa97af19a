// SPDX-License-Identifier: MIT
/*
 * printf on COM1. Every byte costs two port exits (LSR poll, THR write), so
 * guests should print what helps a failure report and little else. A lock
 * keeps lines from different vCPUs whole.
 */
#include "rt.h"

#define COM1_THR (MACHINE_COM1_PORT + 0)
#define COM1_LSR (MACHINE_COM1_PORT + 5)
#define LSR_THRE 0x20

static volatile uint32_t print_lock;

/*
 * Bounded, so a vCPU that faulted while printing cannot silence the failure
 * report of another: after the bound the line may interleave, no more.
 */
static void lock(void)
{
	for (int i = 0; i < 100000; i++) {
		uint32_t one = 1;

		__asm__ volatile("xchgl %0, %1" : "+r"(one), "+m"(print_lock)::"memory");
		if (!one)
			return;
		cpu_relax();
	}
}

static void unlock(void)
{
	barrier();
	print_lock = 0;
}

void putchar_serial(char c)
{
	/* Bounded: a missing UART must not hang the guest before it can fail. */
	for (int i = 0; i < 1000 && !(inb(COM1_LSR) & LSR_THRE); i++)
		cpu_relax();
	outb(COM1_THR, (uint8_t)c);
}

void puts_serial(const char *s)
{
	while (*s)
		putchar_serial(*s++);
}

static void put_padded(const char *digits, int len, int width, char pad, bool neg)
{
	if (neg && pad == '0')
		putchar_serial('-');
	for (int i = len + neg; i < width; i++)
		putchar_serial(pad);
	if (neg && pad != '0')
		putchar_serial('-');
	while (len--)
		putchar_serial(digits[len]);
}

static void put_number(uint64_t v, unsigned int base, int width, char pad, bool neg)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	put_padded(buf, n, width, pad, neg);
}

static void format(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			putchar_serial(*fmt);
			continue;
		}
		char pad = ' ';
		int width = 0, longs = 0;

		fmt++;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l')
			longs++, fmt++;
		if (*fmt == 'z')
			longs = 1, fmt++;

		switch (*fmt) {
		case 'd': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_number(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			put_number(v, *fmt == 'u' ? 10 : 16, width, pad, false);
			break;
		}
		case 'p':
			puts_serial("0x");
			put_number((uintptr_t)va_arg(ap, void *), 16, width, pad, false);
			break;
		case 'c':
			putchar_serial((char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			s = s ? s : "(null)";
			for (int i = (int)strlen(s); i < width; i++)
				putchar_serial(' ');
			puts_serial(s);
			break;
		}
		case '%':
			putchar_serial('%');
			break;
		case '\0':
			return;
		default:
			putchar_serial('%');
			putchar_serial(*fmt);
		}
	}
}

void vprintf(const char *fmt, va_list ap)
{
	lock();
	format(fmt, ap);
	unlock();
}

void printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}
