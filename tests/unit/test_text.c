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
	assert_int_equal(sg_text_frame(&sb, p, &f, false), 0);
	assert_string_equal(sb.buf, "Klass.method (app.py:12)");
	sg_strbuf_reset(&sb);
	f.line = 0;
	assert_int_equal(sg_text_frame(&sb, p, &f, false), 0);
	assert_string_equal(sb.buf, "Klass.method (app.py)");
	sg_strbuf_reset(&sb);
	f.file = 0;
	assert_int_equal(sg_text_frame(&sb, p, &f, false), 0);
	assert_string_equal(sb.buf, "Klass.method");
	sg_strbuf_release(&sb);
	sg_profile_free(p);
}

/* Paths relative to the longest root, or past site-packages, never empty. */
static void test_file(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_strbuf sb = SG_STRBUF_INIT;
	struct sg_frame f = {.type = SG_FRAME_PYTHON, .line = 337};

	(void)state;
	assert_int_equal(sg_profile_add_path_root(p, "/py/lib/python3.11"), 0);
	assert_int_equal(sg_profile_add_path_root(p, "/py/lib/python3.11/"), 0); /* again */
	assert_int_equal(sg_profile_add_path_root(p, "/srv/app/"), 0);
	assert_int_equal(sg_profile_add_path_root(p, "/srv/app/vendor"), 0);
	assert_int_equal(sg_profile_add_path_root(p, "relative/dir"), 0); /* left out */
	assert_int_equal(sg_profile_add_path_root(p, "/new\nline"), 0);   /* left out */
	assert_string_equal(sg_profile_meta(p)->path_roots,
	                    "/py/lib/python3.11/\n/srv/app/\n/srv/app/vendor/\n");
	assert_string_equal(sg_text_file(p, "/py/lib/python3.11/json/decoder.py", false),
	                    "json/decoder.py");
	assert_string_equal(sg_text_file(p, "/py/lib/python3.11/json/decoder.py", true),
	                    "/py/lib/python3.11/json/decoder.py");
	assert_string_equal(sg_text_file(p, "/srv/app/vendor/lib.py", false), "lib.py");
	assert_string_equal(sg_text_file(p, "/srv/app/main.py", false), "main.py");
	/* Not a folder boundary, the root itself, no root: whole. */
	assert_string_equal(sg_text_file(p, "/srv/application.py", false), "/srv/application.py");
	assert_string_equal(sg_text_file(p, "/srv/app/", false), "/srv/app/");
	assert_string_equal(sg_text_file(p, "<frozen os>", false), "<frozen os>");
	assert_string_equal(sg_text_file(p, "", false), "");
	/* site-packages wins over the stdlib root it is under: it cuts more. */
	assert_string_equal(
	    sg_text_file(p, "/py/lib/python3.11/site-packages/requests/api.py", false),
	    "requests/api.py");
	assert_string_equal(sg_text_file(p, "/venv/lib/site-packages/x/site-packages/y.py", false),
	                    "y.py");
	assert_string_equal(sg_text_file(p, "/usr/lib/python3/dist-packages/apt/x.py", false),
	                    "apt/x.py");
	f.name = fx_str(p, "JSONDecoder.decode");
	f.file = fx_str(p, "/py/lib/python3.11/json/decoder.py");
	assert_int_equal(sg_text_frame(&sb, p, &f, false), 0);
	assert_string_equal(sb.buf, "JSONDecoder.decode (json/decoder.py:337)");
	sg_strbuf_release(&sb);
	sg_profile_free(p);
}

static void expect_group(const char *name, const char *want)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;

	assert_int_equal(sg_text_thread_group(&sb, name), 0);
	assert_string_equal(sb.buf ? sb.buf : "", want);
	sg_strbuf_release(&sb);
}

/* The number that tells a thread from its siblings becomes '*'. */
static void test_thread_group(void **state)
{
	(void)state;
	expect_group("Thread-12", "Thread-*");
	expect_group("Thread-12 (worker)", "Thread-* (worker)");
	expect_group("ThreadPoolExecutor-0_3", "ThreadPoolExecutor-0_*");
	expect_group("Dummy-7", "Dummy-*");
	expect_group("asyncio_0", "asyncio_*");
	expect_group("worker 42", "worker *");
	expect_group("MainThread", "MainThread");
	expect_group("pool-3-thread-2", "pool-3-thread-*");
	expect_group("Thread-4 (handle (x))", "Thread-4 (handle (x))"); /* " (x))" is the tail */
	expect_group("(worker)", "(worker)");
	expect_group("42", "*");
	expect_group("", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_frame),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_thread_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
