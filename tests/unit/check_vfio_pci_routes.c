// SPDX-License-Identifier: MIT
/*
 * vfio-pci-irq.c when KVM says no, on the bus-only VM of vfio_pci_guest.h
 * with the fake device and KVM of vfio_pci_fake.h: a refused
 * KVM_SET_GSI_ROUTING or KVM_IRQFD never leaves an irqfd on a GSI without
 * a route (the fake counts what KVM would drop) and is retried at the
 * next sync; and KVM's routing table limit, shared by every device of the
 * VM, is never exceeded, so one device's vectors cannot break another's.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "check_main.h"
#include "pci_testutil.h"
#include "vfio_pci_fake.h"
#include "vfio_pci_guest.h"

/* ---- KVM_SET_GSI_ROUTING and KVM_IRQFD refused ---- */

START_TEST(test_routing_failure_retried)
{
	unsigned int calls;

	create();
	msix_on();
	mask(3, true);
	calls = nrouting_calls;

	/* Unmasked, but KVM keeps its old table: no irqfd on a GSI without a route. */
	fake_hostops_fail_ioctl(fake, KVM_SET_GSI_ROUTING, ENOMEM);
	mask(3, false);
	ck_assert_uint_eq(nrouting_calls, calls);
	ck_assert_ptr_null(route_of(3));
	ck_assert_int_eq(efd_gsi[VEC_EFD(3) - FIRST_EFD], -1);
	fire(VEC_EFD(3));
	ck_assert_uint_eq(kvm_dropped, 0);
	ck_assert_uint_eq(efd_count[VEC_EFD(3) - FIRST_EFD], 1);

	/* Held in the eventfd: a PBA read hands it to the guest, who has it unmasked. */
	ck_assert_uint_eq(pba(), 0);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].address, VEC_ADDR(3));
	ck_assert_uint_eq(msis[0].data, VEC_DATA(3));

	/* The next sync, for whichever vector, retries: the route, what was held, the irqfd. */
	fire(VEC_EFD(3));
	mask(9, false);
	ck_assert_uint_eq(nrouting_calls, calls + 1);
	assert_route(3, VEC_ADDR(3), VEC_DATA(3));
	ck_assert_int_eq(efd_gsi[VEC_EFD(3) - FIRST_EFD], (int)VEC_GSI(3));
	ck_assert_uint_eq(nmsis, 2);
	ck_assert_uint_eq(msis[1].data, VEC_DATA(3));
	fire(VEC_EFD(3));
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_msis[0].data, VEC_DATA(3));

	/* Retried once: the sync after that changes nothing. */
	mask(9, false);
	ck_assert_uint_eq(nrouting_calls, calls + 1);
	for (unsigned int v = 0; v < 16; v++)
		assert_route(v, VEC_ADDR(v), VEC_DATA(v));
	ck_assert_uint_eq(kvm_dropped, 0);
}
END_TEST

START_TEST(test_failed_deassign_keeps_route)
{
	create();
	msix_on();

	/* Still on its irqfd: its route stays, so KVM delivers as if it were unmasked. */
	fake_hostops_fail_ioctl(fake, KVM_IRQFD, EBUSY);
	mask(4, true);
	ck_assert_int_eq(efd_gsi[VEC_EFD(4) - FIRST_EFD], (int)VEC_GSI(4));
	assert_route(4, VEC_ADDR(4), VEC_DATA(4));
	fire(VEC_EFD(4));
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_msis[0].data, VEC_DATA(4));
	ck_assert_uint_eq(kvm_dropped, 0);

	/* The next sync retries: off its irqfd, then its route gone, and it waits. */
	mask(4, true);
	ck_assert_int_eq(efd_gsi[VEC_EFD(4) - FIRST_EFD], -1);
	ck_assert_ptr_null(route_of(4));
	fire(VEC_EFD(4));
	ck_assert_uint_eq(pba(), 1u << 4);
	mask(4, false);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].data, VEC_DATA(4));
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_dropped, 0);
}
END_TEST

START_TEST(test_failed_irqfd_retried)
{
	create();
	msix_on();
	mask(6, true);

	/* Routed, but KVM_IRQFD refused: the eventfd counts. */
	fake_hostops_fail_ioctl(fake, KVM_IRQFD, ENOMEM);
	mask(6, false);
	assert_route(6, VEC_ADDR(6), VEC_DATA(6));
	ck_assert_int_eq(efd_gsi[VEC_EFD(6) - FIRST_EFD], -1);
	fire(VEC_EFD(6));
	ck_assert_uint_eq(nkvm_msis + nmsis + kvm_dropped, 0);

	/* Another vector's sync retries it, and hands over what it held. */
	mask(9, false);
	ck_assert_int_eq(efd_gsi[VEC_EFD(6) - FIRST_EFD], (int)VEC_GSI(6));
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].data, VEC_DATA(6));
	fire(VEC_EFD(6));
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_dropped, 0);
}
END_TEST

/* ---- KVM's routing table limit ---- */

#define B_BDF		BDF(4, 0)
#define B_DATA(v)	(0x4120u + (v))

static FILE *captured;
static int saved_stderr = -1;

static void capture_stderr(void)
{
	fflush(stderr);
	captured = tmpfile();
	ck_assert_ptr_nonnull(captured);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(dup2(fileno(captured), STDERR_FILENO), 0);
}

/* stderr back; what was written meanwhile in @buf. */
static void captured_text(char *buf, size_t len)
{
	size_t n;

	fflush(stderr);
	ck_assert_int_ge(dup2(saved_stderr, STDERR_FILENO), 0);
	close(saved_stderr);
	rewind(captured);
	n = fread(buf, 1, len - 1, captured);
	buf[n] = '\0';
	fclose(captured);
	fputs(buf, stderr);
}

static unsigned int count_of(const char *text, const char *what)
{
	unsigned int n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

START_TEST(test_route_limit_shared)
{
	const unsigned int room = 20;	/* MSI routes KVM's table has room for */
	struct vfio_pci *b;
	const struct vfio_irq_set *s;
	const struct fake_call *q;
	int32_t befd[16];
	int query_fd;
	char log[2048];

	kvm_max_routes = VM_BASE_GSI_ROUTES + room;
	create();
	msix_on();		/* 16 GSIs for the first device */
	q = fake_hostops_find(fake, FAKE_IOCTL, KVM_CHECK_EXTENSION, 0);
	query_fd = q ? q->fd : -2;	/* asked of the VM, checked last */

	/* The second device gets the 4 GSIs left; its other 12 vectors none. */
	b = create_at(B_BDF);
	fake_hostops_clear_calls(fake);
	capture_stderr();
	msix_on_at(B_BDF, B_DATA(0));
	s = set_irqs_call(1);
	ck_assert_uint_eq(s->index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(s->count, 16);
	for (unsigned int v = 0; v < 16; v++) {
		befd[v] = irq_set_fd(s, v);
		ck_assert_int_eq(efd_gsi[befd[v] - FIRST_EFD],
				 v < room - 16 ? (int)VEC_GSI(16 + v) : -1);
	}
	/* KVM took the table: as many entries as it holds, every GSI under its limit. */
	ck_assert_uint_eq(nroutes, kvm_max_routes);
	for (unsigned int i = 0; i < nroutes; i++)
		ck_assert_uint_lt(routes[i].gsi, kvm_max_routes);

	/* Its vectors with a GSI go through KVM, the others through the VMM. */
	fire(befd[0]);
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_msis[0].data, B_DATA(0));
	fire(befd[10]);
	ck_assert_uint_eq(nkvm_msis + nmsis, 1);
	ck_assert_uint_eq(bus_read(&vm.mmio, msix_addr_at(B_BDF, 8), 8), 0);	/* sent at once */
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].data, B_DATA(10));
	fire(befd[11]);
	bus_write(&vm.mmio, msix_addr_at(B_BDF, 4) + 16 * 11 + 12, 4, 0);	/* unmasked again */
	ck_assert_uint_eq(nmsis, 2);
	ck_assert_uint_eq(msis[1].data, B_DATA(11));

	/* The first device's routes still follow its guest. */
	mask(3, true);
	bus_write(&vm.mmio, msix_addr(4) + 16 * 3 + 8, 4, 0x4099);
	mask(3, false);
	assert_route(3, VEC_ADDR(3), 0x4099);
	fire(VEC_EFD(3));
	ck_assert_uint_eq(nkvm_msis, 2);
	ck_assert_uint_eq(kvm_msis[1].data, 0x4099);
	ck_assert_uint_eq(kvm_dropped, 0);

	/* Said once, naming the vectors left out. */
	cfg_write(B_BDF, pci_find(&vm, B_BDF)->msix_cap + 2, 2, 0);
	msix_on_at(B_BDF, B_DATA(0));
	captured_text(log, sizeof(log));
	ck_assert_uint_eq(count_of(log, "get no GSI"), 1);
	ck_assert_ptr_nonnull(strstr(log, "vfio-pci 00:04.0: MSI-X vectors 4-15 get no GSI"));
	ck_assert_uint_eq(kvm_dropped, 0);
	ck_assert_int_eq(query_fd, vm.vm_fd);
	vfio_pci_destroy(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vfio_pci_routes");
	TCase *tc = tcase_create("routes");

	tcase_add_checked_fixture(tc, vsetup, vteardown);
	tcase_add_test(tc, test_routing_failure_retried);
	tcase_add_test(tc, test_failed_deassign_keeps_route);
	tcase_add_test(tc, test_failed_irqfd_retried);
	tcase_add_test(tc, test_route_limit_shared);
	suite_add_tcase(s, tc);
	return check_run(s);
}
