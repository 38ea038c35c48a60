/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <stdlib.h>
#include <unistd.h>

#include "python/layout.h"
#include "python/pystr.h"
#include "util/err.h"
#include "util/u64map.h"

/* A 2.7 PyStringObject of n bytes in our own memory, read back through
 * process_vm_readv as from a target: head (refcnt, type, size, hash), the
 * interning state right before ob_sval, the bytes and their NUL. */
static int read_str27(const char *bytes, size_t n, int32_t sstate, char nul, char *out, size_t len)
{
	const struct sg_pylayout *l = sg_pylayout_find(2, 7);
	uint8_t *obj = calloc(1, l->bytes.sval + n + 1);
	int64_t size = (int64_t)n;
	struct sg_mem mem;
	int err;

	assert_non_null(obj);
	memcpy(obj + l->bytes.size, &size, sizeof(size));
	memcpy(obj + l->bytes.sval - 4, &sstate, sizeof(sstate));
	memcpy(obj + l->bytes.sval, bytes, n);
	obj[l->bytes.sval + n] = (uint8_t)nul;
	sg_mem_init(&mem, getpid());
	err = sg_pystr_read(&mem, l, 0, (uint64_t)(uintptr_t)obj, out, len);
	free(obj);
	return err;
}

static void test_str27_not_utf8_becomes_replacement(void **state)
{
	char out[SG_PYSTR_MAX_CHARS * 4 + 1];

	(void)state;
	assert_int_equal(read_str27("bad\xffname", 8, 0, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "bad\xef\xbf\xbdname");
	/* Valid UTF-8 stays; a cut sequence is not UTF-8 either. */
	assert_int_equal(read_str27("na\xc3\xafve\xe8\xae", 8, 1, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "na\xc3\xafve\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_str27_long_is_cut_bad_is_corrupt(void **state)
{
	char out[SG_PYSTR_MAX_CHARS * 4 + 1];
	size_t n = 1 << 20;
	char *name = malloc(n);

	(void)state;
	assert_non_null(name);
	memset(name, 'n', n);
	assert_int_equal(read_str27(name, n, 1, 0, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), SG_PYSTR_MAX_CHARS);
	/* Not a string: no NUL where ob_size says, or no interning state. */
	assert_int_equal(read_str27(name, 64, 0, 'x', out, sizeof(out)), SG_ECORRUPT);
	assert_int_equal(read_str27(name, 64, 7, 0, out, sizeof(out)), SG_ECORRUPT);
	free(name);
}

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

/* PyASCIIObject.state of a compact string of the given kind. */
static uint32_t compact_state(unsigned kind, int ascii)
{
	return (uint32_t)(kind << 2 | 1u << 5 | (ascii ? 1u << 6 : 0));
}

/* The sizes sys.getsizeof() gives for these strings under pyenv's 3.11.7
 * and 3.12.1 ('abc', 'é', '€€', one astral character). */
static void test_sizeof_matches_getsizeof(void **state)
{
	const struct sg_pylayout *l311 = sg_pylayout_find(3, 11), *l312 = sg_pylayout_find(3, 12);

	(void)state;
	assert_int_equal(sg_pystr_sizeof(l311, 3, compact_state(1, 1)), 52);
	assert_int_equal(sg_pystr_sizeof(l311, 1, compact_state(1, 0)), 74);
	assert_int_equal(sg_pystr_sizeof(l311, 2, compact_state(2, 0)), 78);
	assert_int_equal(sg_pystr_sizeof(l311, 1, compact_state(4, 0)), 80);
	assert_int_equal(sg_pystr_sizeof(l312, 3, compact_state(1, 1)), 44);
	assert_int_equal(sg_pystr_sizeof(l312, 2, compact_state(2, 0)), 62);
	assert_int_equal(sg_pystr_sizeof(l312, 1, compact_state(4, 0)), 64);
	/* Not compact (a legacy string), or no valid kind: not known. */
	assert_int_equal(sg_pystr_sizeof(l312, 3, 1u << 2), 0);
	assert_int_equal(sg_pystr_sizeof(l312, 3, compact_state(3, 0)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_widths),
	    cmocka_unit_test(test_sizeof_matches_getsizeof),
	    cmocka_unit_test(test_utf8_cuts_whole_characters),
	    cmocka_unit_test(test_u64map),
	    cmocka_unit_test(test_str27_not_utf8_becomes_replacement),
	    cmocka_unit_test(test_str27_long_is_cut_bad_is_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
