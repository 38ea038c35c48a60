/* SPDX-License-Identifier: MIT */
/* The collapsed (folded stacks) writer and reader, and the format table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "util/err.h"

#include "profile_fixtures.h"

static const struct sg_format *collapsed(void)
{
	const struct sg_format *f = sg_format_by_name("collapsed");

	assert_non_null(f);
	return f;
}

static char *write_to_string(const struct sg_profile *p, bool threads, bool processes)
{
	struct sg_write_opts opts = {.threads = threads, .processes = processes};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(collapsed()->write(p, &opts, out), 0);
	fclose(out);
	return buf;
}

/* Read text; returns the profile (also on failure), the error in *err. */
static struct sg_profile *read_from(const char *text, size_t len, int *err, char *msg,
                                    size_t msglen)
{
	struct sg_profile *p = sg_profile_new();
	FILE *in = fmemopen((void *)(uintptr_t)text, len, "r");

	assert_non_null(p);
	assert_non_null(in);
	msg[0] = '\0';
	*err = collapsed()->read(in, p, msg, msglen);
	fclose(in);
	return p;
}

static struct sg_profile *small_profile(void)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f[4];

	f[0] = fx_frame(p, "<module>", "app.py", 10);
	f[1] = fx_frame(p, "Worker.run", "app.py", 20);
	f[2] = fx_frame(p, "odd;name\n", NULL, 0);
	f[3] = fx_frame(p, "wait", "threading.py", 0);
	assert_int_equal(sg_profile_set_process(p, 100, "python app.py"), 0);
	fx_add(p, f, 2, 100, 7, "MainThread", 0, 4);
	fx_add(p, f, 2, 100, 7, "MainThread", SG_SAMPLE_GIL, 1); /* renders like the row above */
	fx_add(p, f, 3, 100, 8, "worker-1", SG_SAMPLE_IDLE, 2);
	fx_add(p, (uint32_t[]){f[0], f[3]}, 2, 100, 8, "worker-1", SG_SAMPLE_IDLE, 3);
	fx_add(p, f, 1, 0, 0, "", 0, 1);          /* unknown pid and tid: no roots */
	fx_add(p, f, 1, 100, 9, "idle", 0, 0);    /* no samples: no line */
	fx_add(p, NULL, 0, 100, 9, "idle", 0, 6); /* no frames: no line */
	return p;
}

/* --threads=group: threads named alike but for a number share a root, and
 * the text reads back as an ordinary frame, so write, read, write is stable. */
static void test_thread_groups(void **state)
{
	struct sg_profile *p = sg_profile_new(), *q;
	struct sg_write_opts opts = {.threads = true, .thread_groups = true, .processes = true};
	uint32_t f = fx_frame(p, "handle", "srv.py", 3);
	char *buf = NULL, msg[128], *again;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int err;

	(void)state;
	assert_int_equal(sg_profile_set_process(p, 100, "python srv.py"), 0);
	fx_add(p, &f, 1, 100, 7, "Thread-1 (handle)", 0, 2);
	fx_add(p, &f, 1, 100, 8, "Thread-22 (handle)", 0, 3);
	fx_add(p, &f, 1, 100, 9, "ThreadPoolExecutor-0_1", 0, 1);
	fx_add(p, &f, 1, 100, 10, "odd;group 4", 0, 1);
	fx_add(p, &f, 1, 100, 0, "no tid", 0, 1);
	assert_non_null(out);
	assert_int_equal(collapsed()->write(p, &opts, out), 0);
	fclose(out);
	assert_string_equal(buf,
	                    "process 100: python srv.py;handle (srv.py:3) 1\n"
	                    "process 100: python srv.py;threads Thread-* (handle);handle "
	                    "(srv.py:3) 5\n"
	                    "process 100: python srv.py;threads ThreadPoolExecutor-0_*;handle "
	                    "(srv.py:3) 1\n"
	                    "process 100: python srv.py;threads odd:group *;handle (srv.py:3) 1\n");
	q = read_from(buf, len, &err, msg, sizeof(msg));
	assert_int_equal(err, 0);
	again = write_to_string(q, true, true);
	assert_string_equal(again, buf);
	free(again);
	free(buf);
	sg_profile_free(q);
	sg_profile_free(p);
}

static void test_exact_text(void **state)
{
	struct sg_profile *p = small_profile();
	char *text;

	(void)state;
	text = write_to_string(p, true, true);
	assert_string_equal(text, "<module> (app.py:10) 1\n"
	                          "process 100: python app.py;thread 7: MainThread;"
	                          "<module> (app.py:10);Worker.run (app.py:20) 5\n"
	                          "process 100: python app.py;thread 8: worker-1;"
	                          "<module> (app.py:10);Worker.run (app.py:20);odd:name ;[idle] 2\n"
	                          "process 100: python app.py;thread 8: worker-1;"
	                          "<module> (app.py:10);wait (threading.py);[idle] 3\n");
	free(text);
	text = write_to_string(p, true, false);
	assert_string_equal(text,
	                    "<module> (app.py:10) 1\n"
	                    "thread 7: MainThread;<module> (app.py:10);Worker.run (app.py:20) 5\n"
	                    "thread 8: worker-1;<module> (app.py:10);Worker.run (app.py:20);"
	                    "odd:name ;[idle] 2\n"
	                    "thread 8: worker-1;<module> (app.py:10);wait (threading.py);"
	                    "[idle] 3\n");
	free(text);
	/* Without roots, threads merge: only the frames and the idle leaf. */
	text = write_to_string(p, false, false);
	assert_string_equal(text, "<module> (app.py:10) 1\n"
	                          "<module> (app.py:10);Worker.run (app.py:20) 5\n"
	                          "<module> (app.py:10);Worker.run (app.py:20);odd:name ;[idle] 2\n"
	                          "<module> (app.py:10);wait (threading.py);[idle] 3\n");
	free(text);
	sg_profile_free(p);
}

static void test_round_trip(void **state)
{
	struct sg_profile *p = small_profile(), *q;
	char msg[128], *text, *again;
	const struct sg_sample *s;
	const struct sg_frame *f;
	uint32_t stack;
	size_t n;
	int err;

	(void)state;
	text = write_to_string(p, true, true);
	q = read_from(text, strlen(text), &err, msg, sizeof(msg));
	assert_int_equal(err, 0);
	assert_int_equal(sg_profile_total(q), 11);
	assert_int_equal(sg_profile_nsamples(q), 4);
	assert_string_equal(sg_profile_process(q, 100), "python app.py");
	/* Labels and frame fields come back. */
	s = sg_profile_sample(q, 2);
	assert_int_equal(s->labels.pid, 100);
	assert_int_equal(s->labels.tid, 8);
	assert_int_equal(s->labels.flags, SG_SAMPLE_IDLE);
	assert_string_equal(sg_profile_str(q, s->labels.thread_name), "worker-1");
	stack = s->stack;
	f = sg_profile_frame(q, sg_profile_stack(q, stack, &n)[1]);
	assert_int_equal(n, 3);
	assert_string_equal(sg_profile_str(q, f->name), "Worker.run");
	assert_string_equal(sg_profile_str(q, f->file), "app.py");
	assert_int_equal(f->line, 20);
	again = write_to_string(q, true, true);
	assert_string_equal(again, text);
	free(again);
	free(text);
	sg_profile_free(q);
	sg_profile_free(p);
}

/* Frames whose text looks like a frame's fields in odd ways. */
static void test_frame_text_edge_cases(void **state)
{
	static const char text[] = "f (x) (a.py:3);g ();h (:5);i (a.py:0);j (a.py:007);"
	                           "k (dir (1)/b.py:12);[idle];(x) (y:9);l (a:b:4) 2\n"
	                           "thread 3: ;[idle] 1\n";
	char msg[128], *out;
	const struct sg_frame *f;
	struct sg_profile *p;
	const uint32_t *frames;
	size_t n;
	int err;

	(void)state;
	p = read_from(text, strlen(text), &err, msg, sizeof(msg));
	assert_int_equal(err, 0);
	frames = sg_profile_stack(p, sg_profile_sample(p, 0)->stack, &n);
	assert_int_equal(n, 9);
	f = sg_profile_frame(p, frames[0]); /* the last " (" starts the file */
	assert_string_equal(sg_profile_str(p, f->name), "f (x)");
	assert_string_equal(sg_profile_str(p, f->file), "a.py");
	assert_int_equal(f->line, 3);
	f = sg_profile_frame(p, frames[1]); /* "()" names no file */
	assert_string_equal(sg_profile_str(p, f->name), "g ()");
	assert_int_equal(f->file, 0);
	f = sg_profile_frame(p, frames[3]); /* ":0" is no line */
	assert_string_equal(sg_profile_str(p, f->file), "a.py:0");
	assert_int_equal(f->line, 0);
	f = sg_profile_frame(p, frames[6]); /* "[idle]" is a leaf only at the end */
	assert_string_equal(sg_profile_str(p, f->name), "[idle]");
	f = sg_profile_frame(p, frames[8]);
	assert_string_equal(sg_profile_str(p, f->file), "a:b");
	assert_int_equal(f->line, 4);
	/* After roots, a lone "[idle]" is the stack itself. */
	assert_int_equal(sg_profile_sample(p, 1)->labels.flags, 0);
	assert_int_equal(sg_profile_sample(p, 1)->labels.tid, 3);
	out = write_to_string(p, true, true);
	assert_string_equal(out, "f (x) (a.py:3);g ();h (:5);i (a.py:0);j (a.py:007);"
	                         "k (dir (1)/b.py:12);[idle];(x) (y:9);l (a:b:4) 2\n"
	                         "thread 3: ;[idle] 1\n");
	free(out);
	sg_profile_free(p);
}

static void test_reader_tolerates(void **state)
{
	static const char text[] = "\nb 2\r\n\na 1\nb 3"; /* CRLF, blank lines, no final \n */
	char msg[128], *out;
	struct sg_profile *p;
	int err;

	(void)state;
	p = read_from(text, strlen(text), &err, msg, sizeof(msg));
	assert_int_equal(err, 0);
	assert_int_equal(sg_profile_nsamples(p), 2);
	out = write_to_string(p, false, false);
	assert_string_equal(out, "a 1\nb 5\n");
	free(out);
	sg_profile_free(p);
}

static void expect_rejected(const char *text, size_t len, const char *needle)
{
	char msg[128];
	int err;
	struct sg_profile *p = read_from(text, len, &err, msg, sizeof(msg));

	if (err != SG_EFORMAT || !strstr(msg, needle))
		fail_msg("%s: err %d, message '%s', wanted '%s'", text, err, msg, needle);
	sg_profile_free(p);
}

/* A literal, NUL bytes included. */
#define REJECT(text, needle) expect_rejected(text, sizeof(text) - 1, needle)

static void test_rejects_malformed(void **state)
{
	char *huge, *deep;
	size_t len;

	(void)state;
	REJECT("main (a.py:1)\n", "line 1: the count");
	REJECT("main\n", "line 1: expected 'STACK COUNT'");
	REJECT(" 5\n", "line 1: expected 'STACK COUNT'");
	REJECT("main (a.py:1) 0\n", "line 1: the count is not in");
	REJECT("main 3\nmain -3\n", "line 2: the count after");
	REJECT("main +3\n", "line 1: the count after");
	REJECT("main 3x\n", "line 1: the count after");
	REJECT("main 18446744073709551616\n", "line 1: the count is not in");
	REJECT("a 18446744073709551615\nb 1\n", "line 2: the counts add up");
	REJECT("main;;leaf 3\n", "line 1: empty frame");
	REJECT(";leaf 3\n", "line 1: empty frame");
	REJECT("leaf; 3\n", "line 1: empty frame");
	REJECT("thread x: t;main 1\n", "line 1: bad root");
	REJECT("thread 0: t;main 1\n", "line 1: bad root");
	REJECT("thread 5:t;main 1\n", "line 1: bad root");
	REJECT("thread 99999999999: t;main 1\n", "line 1: bad root");
	REJECT("process 1: p;thread -1: t;main 1\n", "line 1: bad root");
	REJECT("process 12 p;main 1\n", "line 1: bad root");
	REJECT("thread 4: t;thread 5: u;m 1\n", "line 1: a root ('process ' or 'thread ') out");
	REJECT("thread 4: t;process 5: u;m 1\n", "line 1: a root ('process ' or 'thread ') out");
	REJECT("main;thread pool 1\n", "line 1: a root ('process ' or 'thread ') out");
	REJECT("thread 5: x 3\n", "line 1: roots but no frames");
	REJECT("process 5: a;m 1\nprocess 5: b;m 1\n", "line 2: a process");
	REJECT("a;b\tc 1\n", "line 1: a control character");
	REJECT("a\0b 1\n", "line 1: a control character");
	REJECT("", "no stacks");
	REJECT("\n\n", "no stacks");
	REJECT("a 1\nb\n", "line 2:");

	/* A line over 64 MiB, and a stack over the depth limit. */
	len = ((size_t)64 << 20) + 10;
	huge = malloc(len + 1);
	assert_non_null(huge);
	memset(huge, 'x', len);
	memcpy(huge + len - 3, " 1\n", 3);
	huge[len] = '\0';
	expect_rejected(huge, len, "line 1: line longer than 64 MiB");
	free(huge);
	len = 65537 * 2 + 2;
	deep = malloc(len + 1);
	assert_non_null(deep);
	for (size_t i = 0; i < 65537; i++)
		memcpy(deep + 2 * i, "f;", 2);
	memcpy(deep + len - 4, "f 1\n", 4);
	deep[len] = '\0';
	expect_rejected(deep, len, "line 1: stack deeper than 65536 frames");
	free(deep);
}

/* What record may write reads back: a 3000-deep stack of 1000-character
 * names (a 3 MB line) writes, reads and writes the same text. */
static void test_long_lines(void **state)
{
	struct sg_profile *p = sg_profile_new(), *q;
	uint32_t frames[3000];
	char name[1001], msg[256];
	char *text, *again;
	int err;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		memset(name, 'a' + i % 26, 1000);
		snprintf(name + 990, 11, "%010u", (unsigned)i % 1000000);
		frames[i] = fx_frame(p, name, "deep.py", i + 1);
	}
	fx_add(p, frames, 3000, 10, 10, "MainThread", 0, 7);
	text = write_to_string(p, true, false);
	assert_true(strlen(text) > 3000000);
	q = read_from(text, strlen(text), &err, msg, sizeof(msg));
	assert_int_equal(err, 0);
	assert_int_equal(sg_profile_total(q), 7);
	again = write_to_string(q, true, false);
	assert_string_equal(text, again);
	free(text);
	free(again);
	sg_profile_free(q);
	sg_profile_free(p);
}

static void test_format_table(void **state)
{
	(void)state;
	assert_null(sg_format_by_name("nope"));
	assert_string_equal(collapsed()->name, "collapsed");
	assert_ptr_equal(sg_format_by_path("out/x.folded"), collapsed());
	assert_ptr_equal(sg_format_by_path("x.collapsed"), collapsed());
	assert_ptr_equal(sg_format_by_path("x.txt"), collapsed());
	assert_null(sg_format_by_path(".folded"));
	assert_null(sg_format_by_path("x.unknown"));
	assert_null(sg_format_by_path("folded"));
	assert_non_null(strstr(sg_format_names(), "collapsed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_text),       cmocka_unit_test(test_thread_groups),
	    cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_frame_text_edge_cases),
	    cmocka_unit_test(test_reader_tolerates), cmocka_unit_test(test_rejects_malformed),
	    cmocka_unit_test(test_long_lines),       cmocka_unit_test(test_format_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
