/* SPDX-License-Identifier: MIT */
/* sg_strbuf: the NUL invariant, growth, printf, detach. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/strbuf.h"

static void assert_sane(const struct sg_strbuf *sb)
{
	if (!sb->buf) {
		assert_int_equal(sb->len, 0);
		return;
	}
	assert_true(sb->len < sb->cap);
	assert_int_equal(sb->buf[sb->len], '\0');
}

static void test_add(void **state)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;

	(void)state;
	assert_sane(&sb);
	assert_int_equal(sg_strbuf_add(&sb, NULL, 0), 0);
	assert_sane(&sb);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sg_strbuf_addstr(&sb, "ab"), 0);
	assert_int_equal(sg_strbuf_addch(&sb, ';'), 0);
	assert_int_equal(sg_strbuf_addf(&sb, "%s %d", "x", 42), 0);
	assert_int_equal(sg_strbuf_add(&sb, "yz!", 2), 0);
	assert_sane(&sb);
	assert_string_equal(sb.buf, "ab;x 42yz");
	assert_int_equal(sb.len, 9);
	sg_strbuf_reset(&sb);
	assert_sane(&sb);
	assert_string_equal(sb.buf, "");
	sg_strbuf_release(&sb);
	assert_null(sb.buf);
	sg_strbuf_reset(&sb); /* on an empty buffer too */
	assert_sane(&sb);
}

static void test_growth(void **state)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(sg_strbuf_addch(&sb, (char)('a' + i % 26)), 0);
		assert_sane(&sb);
	}
	assert_int_equal(sg_strbuf_addf(&sb, "%05d", 7), 0);
	assert_int_equal(sb.len, 10005);
	assert_string_equal(sb.buf + 10000, "00007");
	assert_int_equal(sb.buf[25], 'z');
	sg_strbuf_release(&sb);
}

static void test_detach(void **state)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	char *s;

	(void)state;
	assert_null(sg_strbuf_detach(&sb));
	assert_int_equal(sg_strbuf_addstr(&sb, "mine"), 0);
	s = sg_strbuf_detach(&sb);
	assert_string_equal(s, "mine");
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.cap, 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_detach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
