/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "python/pystr.h"
#include "util/u64map.h"

static void test_utf8_widths(void **state)
{
	static const uint8_t latin1[] = {'n', 'a', 0xef, 'v', 'e'};
	static const uint16_t ucs2[] = {0x8ba1, 0x7b97};
	static const uint32_t ucs4[] = {'f', 0x1f600, 0xd800, 0x110000};
	char buf[64];

	(void)state;
	assert_int_equal(sg_pystr_utf8(latin1, 5, 1, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "na\xc3\xafve");
	sg_pystr_utf8(ucs2, 2, 2, buf, sizeof(buf));
	assert_string_equal(buf, "\xe8\xae\xa1\xe7\xae\x97"); /* 计算 */
	/* Surrogates and out-of-range code points become U+FFFD. */
	sg_pystr_utf8(ucs4, 4, 4, buf, sizeof(buf));
	assert_string_equal(buf, "f\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_utf8_cuts_whole_characters(void **state)
{
	static const uint16_t ucs2[] = {0x8ba1, 0x7b97};
	char buf[5];

	(void)state;
	/* Room for one 3-byte character and the NUL, not two. */
	assert_int_equal(sg_pystr_utf8(ucs2, 2, 2, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "\xe8\xae\xa1");
	assert_int_equal(sg_pystr_utf8(ucs2, 2, 2, buf, 1), 0);
	assert_string_equal(buf, "");
}

static void test_u64map(void **state)
{
	struct sg_u64map m;
	uint64_t v = 0;

	(void)state;
	sg_u64map_init(&m);
	assert_false(sg_u64map_get(&m, 7, &v));
	for (uint64_t k = 1; k <= 10000; k++)
		assert_int_equal(sg_u64map_put(&m, k * 4096, k), 0);
	assert_int_equal(m.len, 10000);
	assert_true(m.len * 4 <= m.cap * 3);
	for (uint64_t k = 1; k <= 10000; k++) {
		assert_true(sg_u64map_get(&m, k * 4096, &v));
		assert_int_equal(v, k);
	}
	assert_int_equal(sg_u64map_put(&m, 4096, 99), 0);
	assert_int_equal(m.len, 10000);
	assert_true(sg_u64map_get(&m, 4096, &v));
	assert_int_equal(v, 99);
	assert_false(sg_u64map_get(&m, 0, &v));
	assert_int_not_equal(sg_u64map_put(&m, 0, 1), 0);
	sg_u64map_release(&m);
	assert_false(sg_u64map_get(&m, 4096, &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_widths),
	    cmocka_unit_test(test_utf8_cuts_whole_characters),
	    cmocka_unit_test(test_u64map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
