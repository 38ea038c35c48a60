/* SPDX-License-Identifier: MIT */
/* Hashes: deterministic, seeded, sensitive to every byte and the length. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

static void test_mix(void **state)
{
	(void)state;
	assert_int_equal(sg_u64_mix(0), 0);
	assert_int_not_equal(sg_u64_mix(1), sg_u64_mix(2));
	assert_int_equal(sg_u64_mix(12345), sg_u64_mix(12345));
}

static void test_bytes(void **state)
{
	unsigned char buf[64];
	uint64_t h;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)i;
	h = sg_hash_bytes(buf, sizeof(buf), 0);
	assert_int_equal(h, sg_hash_bytes(buf, sizeof(buf), 0));
	assert_int_not_equal(h, sg_hash_bytes(buf, sizeof(buf), 1));
	/* Every byte counts, in the word loop and in the tail. */
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] ^= 1;
		assert_int_not_equal(sg_hash_bytes(buf, sizeof(buf), 0), h);
		buf[i] ^= 1;
	}
	/* Trailing zero bytes still change the length, hence the hash. */
	memset(buf, 0, sizeof(buf));
	for (size_t len = 0; len < 24; len++)
		assert_int_not_equal(sg_hash_bytes(buf, len, 0), sg_hash_bytes(buf, len + 1, 0));
	assert_int_equal(sg_hash_bytes(NULL, 0, 5), sg_hash_bytes(buf, 0, 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mix),
	    cmocka_unit_test(test_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
