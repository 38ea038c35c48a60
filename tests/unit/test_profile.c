/* SPDX-License-Identifier: MIT */
/* The profile model, the self/total report and the collapsed format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "profile/profile.h"
#include "profile/report.h"
#include "util/err.h"

static uint32_t frame(struct sg_profile *p, const char *name, const char *file, int line)
{
	struct sg_frame f = {.type = SG_FRAME_PYTHON, .line = line};

	f.name = sg_profile_intern(p, name, strlen(name));
	f.file = file ? sg_profile_intern(p, file, strlen(file)) : 0;
	return sg_profile_frame_id(p, &f);
}

static void add(struct sg_profile *p, const uint32_t *frames, size_t n, pid_t tid,
                const char *thread, uint32_t flags, uint64_t count)
{
	struct sg_labels labels = {.pid = 100, .tid = tid, .flags = flags};

	labels.thread_name = sg_profile_intern(p, thread, strlen(thread));
	assert_int_equal(
	    sg_profile_add(p, sg_profile_stack_id(p, frames, n), &labels, count, count * 1000), 0);
}

static void test_interning(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t a, b, s1, s2;
	size_t n;

	(void)state;
	assert_non_null(p);
	assert_int_equal(sg_profile_intern(p, "", 0), 0);
	assert_string_equal(sg_profile_str(p, 0), "");
	a = sg_profile_intern(p, "main", 4);
	assert_int_equal(sg_profile_intern(p, "mainly", 4), a); /* only len bytes count */
	assert_string_equal(sg_profile_str(p, a), "main");
	assert_int_not_equal(sg_profile_intern(p, "mai", 3), a);
	a = frame(p, "f", "x.py", 3);
	b = frame(p, "f", "x.py", 4);
	assert_int_not_equal(a, b);
	assert_int_equal(frame(p, "f", "x.py", 3), a);
	assert_int_equal(sg_profile_nframes(p), 2);
	s1 = sg_profile_stack_id(p, (uint32_t[]){a, b}, 2);
	s2 = sg_profile_stack_id(p, (uint32_t[]){b, a}, 2);
	assert_int_not_equal(s1, s2);
	assert_int_equal(sg_profile_stack_id(p, (uint32_t[]){a, b}, 2), s1);
	assert_int_equal(sg_profile_stack(p, s2, &n)[0], b);
	assert_int_equal(n, 2);
	/* Meta strings are never NULL. */
	assert_string_equal(sg_profile_meta(p)->command, "");
	assert_int_equal(sg_profile_set_meta_str(p, &sg_profile_meta(p)->command, "python x.py"),
	                 0);
	assert_string_equal(sg_profile_meta_const(p)->command, "python x.py");
	sg_profile_free(p);
	sg_profile_free(NULL);
}

static void test_aggregation(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f[2];

	(void)state;
	f[0] = frame(p, "main", "m.py", 1);
	f[1] = frame(p, "work", "m.py", 9);
	add(p, f, 2, 7, "MainThread", 0, 3);
	add(p, f, 2, 7, "MainThread", 0, 2);
	add(p, f, 2, 7, "MainThread", SG_SAMPLE_IDLE, 1);
	add(p, f, 1, 8, "worker", 0, 4);
	assert_int_equal(sg_profile_nsamples(p), 3);
	assert_int_equal(sg_profile_sample(p, 0)->count, 5);
	assert_int_equal(sg_profile_sample(p, 0)->weight_ns, 5000);
	assert_int_equal(sg_profile_total(p), 10);
	assert_int_equal(sg_profile_set_process(p, 100, "python m.py"), 0);
	assert_string_equal(sg_profile_process(p, 100), "python m.py");
	assert_string_equal(sg_profile_process(p, 101), "");
	sg_profile_free(p);
}

static void test_many_stacks(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f[3];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "fn%d", i % 5000);
		f[0] = frame(p, "main", "m.py", 1);
		f[1] = frame(p, name, "m.py", i % 7 + 1);
		f[2] = frame(p, "leaf", "m.py", i % 3 + 1);
		add(p, f, 3, 1, "t", 0, 1);
	}
	assert_int_equal(sg_profile_total(p), 20000);
	/* 5000 names x 7 lines x 3 leaf lines, but only combinations that occur. */
	assert_true(sg_profile_nstacks(p) <= 20000);
	assert_int_equal(sg_profile_nsamples(p), sg_profile_nstacks(p));
	sg_profile_free(p);
}

static void test_report_self_total(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_report_row rows[8];
	uint32_t f[4];
	int n;

	(void)state;
	f[0] = frame(p, "main", "m.py", 1);
	f[1] = frame(p, "rec", "m.py", 5);
	f[2] = frame(p, "rec", "m.py", 6); /* another line of the same function */
	f[3] = frame(p, "leaf", "m.py", 9);
	add(p, f, 4, 1, "t", 0, 6);                  /* main;rec;rec;leaf */
	add(p, f, 3, 1, "t", 0, 3);                  /* main;rec;rec */
	add(p, (uint32_t[]){f[0]}, 1, 1, "t", 0, 1); /* main */
	n = sg_report_top_self(p, rows, 8);
	assert_int_equal(n, 3);
	assert_string_equal(sg_profile_str(p, rows[0].name), "leaf");
	assert_int_equal(rows[0].self, 6);
	assert_string_equal(sg_profile_str(p, rows[1].name), "rec");
	assert_int_equal(rows[1].self, 3);
	assert_int_equal(rows[1].total, 9); /* recursion counted once per sample */
	assert_string_equal(sg_profile_str(p, rows[2].name), "main");
	assert_int_equal(rows[2].total, 10);
	assert_int_equal(sg_report_top_self(p, rows, 1), 1);
	sg_profile_free(p);
}

static char *write_to_string(const struct sg_profile *p, const struct sg_write_opts *opts)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(sg_format_by_name("collapsed")->write(p, opts, out), 0);
	fclose(out);
	return buf;
}

static struct sg_profile *read_from_string(const char *text, int *err, char *msg, size_t len)
{
	struct sg_profile *p = sg_profile_new();
	FILE *in = fmemopen((void *)(uintptr_t)text, strlen(text), "r");

	*err = sg_format_by_name("collapsed")->read(in, p, msg, len);
	fclose(in);
	return p;
}

static void test_collapsed_text_and_round_trip(void **state)
{
	struct sg_profile *p = sg_profile_new(), *q;
	struct sg_write_opts opts = {.threads = true, .processes = true};
	uint32_t f[3];
	char msg[128], *text, *again;
	int err;

	(void)state;
	f[0] = frame(p, "<module>", "app.py", 10);
	f[1] = frame(p, "Worker.run", "app.py", 20);
	f[2] = frame(p, "odd;name", NULL, 0);
	sg_profile_set_process(p, 100, "python app.py");
	add(p, f, 2, 7, "MainThread", 0, 4);
	add(p, f, 2, 7, "MainThread", SG_SAMPLE_GIL, 1); /* renders like the row above */
	add(p, f, 3, 8, "worker-1", SG_SAMPLE_IDLE, 2);
	text = write_to_string(p, &opts);
	assert_string_equal(text,
	                    "process 100: python app.py;thread 7: MainThread;<module> (app.py:10);"
	                    "Worker.run (app.py:20) 5\n"
	                    "process 100: python app.py;thread 8: worker-1;<module> (app.py:10);"
	                    "Worker.run (app.py:20);odd:name;[idle] 2\n");
	q = read_from_string(text, &err, msg, sizeof(msg));
	assert_int_equal(err, 0);
	assert_int_equal(sg_profile_total(q), 7);
	assert_string_equal(sg_profile_process(q, 100), "python app.py");
	again = write_to_string(q, &opts);
	assert_string_equal(again, text);
	free(again);
	free(text);
	/* Without roots, only the frames and the idle leaf are written. */
	opts.threads = opts.processes = false;
	text = write_to_string(p, &opts);
	assert_string_equal(text,
	                    "<module> (app.py:10);Worker.run (app.py:20) 5\n"
	                    "<module> (app.py:10);Worker.run (app.py:20);odd:name;[idle] 2\n");
	free(text);
	sg_profile_free(q);
	sg_profile_free(p);
}

static void test_collapsed_rejects_malformed(void **state)
{
	static const char *const bad[] = {
	    "main (a.py:1)\n",                         /* no count */
	    "main (a.py:1) 0\n",                       /* zero */
	    "main (a.py:1) -3\n",                      /* negative */
	    "main (a.py:1) 99999999999999999999999\n", /* overflow */
	    "main;;leaf 3\n",                          /* empty frame */
	    "main 3x\n",                               /* trailing junk */
	    "thread 5: x 3\n",                         /* roots only: no frames */
	    "",                                        /* empty file */
	    "a 1\nb\n",                                /* second line bad */
	};
	char msg[128];
	int err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sg_profile *p = read_from_string(bad[i], &err, msg, sizeof(msg));

		assert_int_equal(err, SG_EFORMAT);
		assert_true(strlen(msg) > 0);
		sg_profile_free(p);
	}
	sg_profile_free(read_from_string("a 1\nb\n", &err, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "line 2"));
}

static void test_format_table(void **state)
{
	(void)state;
	assert_non_null(sg_format_by_name("collapsed"));
	assert_null(sg_format_by_name("nope"));
	assert_ptr_equal(sg_format_by_path("out/x.folded"), sg_format_by_name("collapsed"));
	assert_ptr_equal(sg_format_by_path("x.collapsed"), sg_format_by_name("collapsed"));
	assert_null(sg_format_by_path(".folded"));
	assert_null(sg_format_by_path("x.unknown"));
	assert_non_null(strstr(sg_format_names(), "collapsed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_interning),
	    cmocka_unit_test(test_aggregation),
	    cmocka_unit_test(test_many_stacks),
	    cmocka_unit_test(test_report_self_total),
	    cmocka_unit_test(test_collapsed_text_and_round_trip),
	    cmocka_unit_test(test_collapsed_rejects_malformed),
	    cmocka_unit_test(test_format_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
