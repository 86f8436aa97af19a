// SPDX-License-Identifier: MIT
/* lib/pci-bdf.h: the one PCI address formatter and parser. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "lib/pci-bdf.h"

START_TEST(format)
{
	char b[PCI_BDF_LEN], sb[PCI_SBDF_LEN];

	ck_assert_str_eq(pci_bdf_format(0x3b07, b), "3b:00.7");
	ck_assert_str_eq(pci_bdf_format(0xffff, b), "ff:1f.7");
	ck_assert_str_eq(pci_sbdf_format(0, 0x0010, sb), "0000:00:02.0");
	ck_assert_str_eq(pci_sbdf_format(0xabcd, 0xffff, sb), "abcd:ff:1f.7");
}
END_TEST

START_TEST(parse)
{
	static const char *const bad[] = {
		"", ":", "3b", "3b:00", "3b:00.", "3b:00.8", "3b:20.0", "3b:0g.0", "100:00.0",
		"3b:000.0", "3b:00.00", "3b:00.0 ", " 3b:00.0", "+3b:00.0", "0x3b:00.0",
		"00000:3b:00.0", "0000:3b:00", "0000-3b-00.0", "0:0:0:0.0", "0000::00.0",
		"3b.00.0", "3b:00:0",
	};
	uint16_t dom = 0x1234, bdf = 0x5678;

	ck_assert_int_eq(pci_bdf_parse("3b:00.7", &dom, &bdf), 0);
	ck_assert_uint_eq(dom, 0);
	ck_assert_uint_eq(bdf, 0x3b07);
	ck_assert_int_eq(pci_bdf_parse("ABCD:FF:1F.7", &dom, &bdf), 0);
	ck_assert_uint_eq(dom, 0xabcd);
	ck_assert_uint_eq(bdf, 0xffff);
	ck_assert_int_eq(pci_bdf_parse("0:1:2.3", &dom, &bdf), 0);	/* short fields */
	ck_assert_uint_eq(dom, 0);
	ck_assert_uint_eq(bdf, 0x0113);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dom = 0x1234;
		bdf = 0x5678;
		ck_assert_msg(pci_bdf_parse(bad[i], &dom, &bdf) == -1, "accepted '%s'", bad[i]);
		ck_assert_uint_eq(dom, 0x1234);
		ck_assert_uint_eq(bdf, 0x5678);
	}
	ck_assert_int_eq(pci_bdf_parse(NULL, &dom, &bdf), -1);
}
END_TEST

START_TEST(round_trip)
{
	char sb[PCI_SBDF_LEN];
	uint16_t dom, bdf;

	for (unsigned int v = 0; v <= 0xffff; v++) {
		ck_assert_int_eq(pci_bdf_parse(pci_sbdf_format(7, (uint16_t)v, sb), &dom, &bdf), 0);
		ck_assert_uint_eq(dom, 7);
		ck_assert_uint_eq(bdf, v);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pci_bdf");
	TCase *tc = tcase_create("pci_bdf");

	tcase_add_test(tc, format);
	tcase_add_test(tc, parse);
	tcase_add_test(tc, round_trip);
	suite_add_tcase(s, tc);
	return check_run(s);
}
