/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "python/linetable.h"

#include "linetable_fixtures.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int line(enum sg_linetable_kind kind, const uint8_t *t, size_t len, int first, uint32_t off)
{
	return sg_linetable_line(kind, t, len, first, off);
}

/* Every byte of every real code object decodes to what its own interpreter
 * says; the fixture runs cover [0, code_len) exactly. */
static void test_fixtures(void **state)
{
	(void)state;
	const char *ver = NULL;
	unsigned long bytes = 0, instrs = 0, codes = 0;

	for (size_t i = 0; i < NELEM(sg_lt_fixtures); i++) {
		const struct sg_lt_fixture *f = &sg_lt_fixtures[i];

		if (ver && strcmp(ver, f->python) != 0) {
			print_message("%-8s %2lu code objects, %5lu instructions, %6lu offsets\n",
			              ver, codes, instrs, bytes);
			bytes = instrs = codes = 0;
		}
		ver = f->python;
		codes++;
		instrs += f->ninstr;
		assert_true(f->nruns > 0);
		assert_int_equal(f->runs[0].start, 0);
		for (size_t r = 0; r < f->nruns; r++) {
			uint32_t end = r + 1 < f->nruns ? f->runs[r + 1].start : f->code_len;

			for (uint32_t off = f->runs[r].start; off < end; off++) {
				int got =
				    line(f->kind, f->table, f->table_len, f->firstlineno, off);
				if (got != f->runs[r].line)
					fail_msg("%s %s@%d offset %u: got %d, want %d", f->python,
					         f->name, f->firstlineno, off, got,
					         (int)f->runs[r].line);
				bytes++;
			}
		}
		/* Past the code: co_linetable ends there, co_lnotab knows no end. */
		int past = line(f->kind, f->table, f->table_len, f->firstlineno, f->code_len);
		if (f->kind == SG_LINETABLE_310 || f->kind == SG_LINETABLE_LOCATIONS)
			assert_int_equal(past, -1);
		else
			assert_int_equal(past, f->runs[f->nruns - 1].line);
	}
	print_message("%-8s %2lu code objects, %5lu instructions, %6lu offsets\n", ver, codes,
	              instrs, bytes);
}

static void test_empty(void **state)
{
	(void)state;
	static const uint8_t one[1] = {0};

	/* co_lnotab lists changes only: nothing listed, all on firstlineno. */
	assert_int_equal(line(SG_LINETABLE_LNOTAB2, NULL, 0, 7, 0), 7);
	assert_int_equal(line(SG_LINETABLE_LNOTAB, one, 0, 7, 100), 7);
	/* co_linetable covers the code: nothing covered, no line. */
	assert_int_equal(line(SG_LINETABLE_310, NULL, 0, 7, 0), -1);
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, one, 0, 7, 0), -1);
	/* A NULL table claiming bytes is refused. */
	assert_int_equal(line(SG_LINETABLE_LNOTAB, NULL, 4, 7, 0), -1);
	assert_int_equal(line((enum sg_linetable_kind)42, one, 1, 7, 0), -1);
}

static void test_lnotab(void **state)
{
	(void)state;
	/* 2.7 style: +1 line at 4, +200 lines at 10 (unsigned). */
	static const uint8_t t2[] = {4, 1, 6, 200};
	assert_int_equal(line(SG_LINETABLE_LNOTAB2, t2, sizeof(t2), 10, 0), 10);
	assert_int_equal(line(SG_LINETABLE_LNOTAB2, t2, sizeof(t2), 10, 3), 10);
	assert_int_equal(line(SG_LINETABLE_LNOTAB2, t2, sizeof(t2), 10, 4), 11);
	assert_int_equal(line(SG_LINETABLE_LNOTAB2, t2, sizeof(t2), 10, 10), 211);
	assert_int_equal(line(SG_LINETABLE_LNOTAB2, t2, sizeof(t2), 10, 1000), 211);
	/* 3.6+ reads the same line byte as -56. */
	assert_int_equal(line(SG_LINETABLE_LNOTAB, t2, sizeof(t2), 100, 10), 45);

	/* Cut pair: answerable only while its address half is past us. */
	static const uint8_t cut[] = {2, 1, 5};
	assert_int_equal(line(SG_LINETABLE_LNOTAB, cut, sizeof(cut), 1, 3), 2);
	assert_int_equal(line(SG_LINETABLE_LNOTAB, cut, sizeof(cut), 1, 6), 2);
	assert_int_equal(line(SG_LINETABLE_LNOTAB, cut, sizeof(cut), 1, 7), -1);

	/* Lines leaving int range or going negative are garbage. */
	static const uint8_t up[] = {0, 1};
	static const uint8_t down[] = {0, 0x80};
	assert_int_equal(line(SG_LINETABLE_LNOTAB2, up, sizeof(up), INT_MAX, 0), -1);
	assert_int_equal(line(SG_LINETABLE_LNOTAB, down, sizeof(down), 1, 0), -1);
	assert_int_equal(line(SG_LINETABLE_LNOTAB, down, sizeof(down), 200, 0), 72);
	assert_int_equal(line(SG_LINETABLE_LNOTAB2, NULL, 0, -5, 0), -1);
}

static void test_310(void **state)
{
	(void)state;
	/* [0,2) line 11; [2,6) no line; zero-length +3; [6,8) line 14 - 2. */
	static const uint8_t t[] = {2, 1, 4, 0x80, 0, 3, 2, 0xfe};
	assert_int_equal(line(SG_LINETABLE_310, t, sizeof(t), 10, 0), 11);
	assert_int_equal(line(SG_LINETABLE_310, t, sizeof(t), 10, 1), 11);
	assert_int_equal(line(SG_LINETABLE_310, t, sizeof(t), 10, 2), -1);
	assert_int_equal(line(SG_LINETABLE_310, t, sizeof(t), 10, 5), -1);
	assert_int_equal(line(SG_LINETABLE_310, t, sizeof(t), 10, 6), 12);
	assert_int_equal(line(SG_LINETABLE_310, t, sizeof(t), 10, 8), -1);
	assert_int_equal(line(SG_LINETABLE_310, t, sizeof(t), 10, UINT32_MAX), -1);
	/* Odd length: the cut pair says nothing. */
	assert_int_equal(line(SG_LINETABLE_310, t, 3, 10, 0), 11);
	assert_int_equal(line(SG_LINETABLE_310, t, 3, 10, 2), -1);
}

static void test_locations(void **state)
{
	(void)state;
	/* Checked against CPython 3.11 and 3.13 co_lines() with co.replace():
	 * long form +5, no-column -3 over 2 units, one-line +1, short form,
	 * no location, one-line +2. */
	static const uint8_t t[] = {0xF0, 0x0A, 0,    0,    0,    0xE9, 0x07, 0xD8,
	                            1,    2,    0x98, 0x12, 0xF8, 0xE0, 1,    2};
	static const int want[] = {15, 15, 12, 12, 12, 12, 13, 13, 13, 13, -1, -1, 15, 15, -1};
	for (uint32_t off = 0; off < NELEM(want); off++)
		assert_int_equal(line(SG_LINETABLE_LOCATIONS, t, sizeof(t), 10, off), want[off]);
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, t, sizeof(t), 10, UINT32_MAX), -1);

	/* Multi-chunk varint: 0x45 0x01 = 5 | 1 << 6 = 69, svarint -34. */
	static const uint8_t multi[] = {0xE8, 0x45, 0x01};
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, multi, sizeof(multi), 100, 0), 66);
}

static void test_locations_malformed(void **state)
{
	(void)state;
	/* Truncated varint: continuation bit set on the last byte. */
	static const uint8_t trunc[] = {0xE8, 0x41};
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, trunc, sizeof(trunc), 1, 0), -1);
	/* Varint missing entirely. */
	static const uint8_t none[] = {0xF0};
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, none, sizeof(none), 1, 0), -1);
	/* Varint running into the next entry's header. */
	static const uint8_t into[] = {0xE8, 0x42, 0x80, 0x00};
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, into, sizeof(into), 1, 0), -1);
	/* More chunks than any 32-bit value needs. */
	static const uint8_t longv[] = {0xE8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x00};
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, longv, sizeof(longv), 1, 0), -1);
	/* The table must start at an entry header. */
	static const uint8_t nohead[] = {0x12, 0x80};
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, nohead, sizeof(nohead), 1, 0), -1);
	/* An earlier entry is fine even if a later one is broken. */
	static const uint8_t later[] = {0x80, 0x00, 0xE8};
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, later, sizeof(later), 4, 1), 4);
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, later, sizeof(later), 4, 2), -1);
	/* Line delta +INT_MAX (6 chunks, u = 2^32 - 2): in range from 0 only. */
	static const uint8_t big[] = {0xE8, 0x7E, 0x7F, 0x7F, 0x7F, 0x7F, 0x03};
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, big, sizeof(big), 0, 0), INT_MAX);
	assert_int_equal(line(SG_LINETABLE_LOCATIONS, big, sizeof(big), 1, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixtures),  cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_lnotab),    cmocka_unit_test(test_310),
	    cmocka_unit_test(test_locations), cmocka_unit_test(test_locations_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
