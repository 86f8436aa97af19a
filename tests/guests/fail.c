// SPDX-License-Identifier: MIT
/*
 * Fails on purpose, so tests/kvm/guests.sh can show that its checker tells
 * a failing guest from a passing one even though both power off cleanly.
 */
#include "rt.h"

TEST_NAME("fail");

int main(const void *dtb)
{
	(void)dtb;
	test_fail("failing on purpose");
}
