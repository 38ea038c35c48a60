/* SPDX-License-Identifier: MIT */
/* Frame names and JSON strings shared by every writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "formats/text.h"

#include "profile_fixtures.h"

static void expect_json(const char *in, const char *want)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;

	assert_int_equal(sg_text_json(&sb, in), 0);
	assert_string_equal(sb.buf, want);
	sg_strbuf_release(&sb);
}

static void test_json(void **state)
{
	(void)state;
	expect_json("", "\"\"");
	expect_json("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect_json("tab\there\nnl\x7f", "\"tab\\u0009here\\u000anl\\u007f\"");
	expect_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xad",
	            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xad\"");
	/* Not UTF-8: a stray continuation byte, a truncated sequence, an
	 * overlong '/', a surrogate. Each bad byte becomes U+FFFD. */
	expect_json("a\x80z", "\"a\xef\xbf\xbdz\"");
	expect_json("\xe2\x82", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	expect_json("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	expect_json("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void test_frame(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_strbuf sb = SG_STRBUF_INIT;
	struct sg_frame f = {.type = SG_FRAME_PYTHON};

	(void)state;
	f.name = fx_str(p, "Klass.method");
	f.file = fx_str(p, "app.py");
	f.line = 12;
	assert_int_equal(sg_text_frame(&sb, p, &f), 0);
	assert_string_equal(sb.buf, "Klass.method (app.py:12)");
	sg_strbuf_reset(&sb);
	f.line = 0;
	assert_int_equal(sg_text_frame(&sb, p, &f), 0);
	assert_string_equal(sb.buf, "Klass.method (app.py)");
	sg_strbuf_reset(&sb);
	f.file = 0;
	assert_int_equal(sg_text_frame(&sb, p, &f), 0);
	assert_string_equal(sb.buf, "Klass.method");
	sg_strbuf_release(&sb);
	sg_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
