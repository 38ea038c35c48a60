/* SPDX-License-Identifier: MIT */
/* The speedscope writer, and the per-thread timeline it shares with chrometrace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "formats/timeline.h"

#include "profile_fixtures.h"
#include "timeline_fixtures.h"

#define HEAD "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n"

/* Rows without times: two threads of one process, an idle row, rows that
 * must be left out (no samples), frames no row uses. */
static struct sg_profile *rows_profile(void)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f[5];

	assert_non_null(p);
	assert_int_equal(sg_profile_set_meta_str(p, &sg_profile_meta(p)->command, "python app.py"),
	                 0);
	f[0] = fx_frame(p, "<module>", "app.py", 10);
	f[1] = fx_frame(p, "unused", "app.py", 1);
	f[2] = fx_frame(p, "Worker.run", "app.py", 20);
	f[3] = fx_frame(p, "wait", "threading.py", 0);
	f[4] = fx_frame(p, "native", NULL, 0);
	assert_int_equal(sg_profile_set_process(p, 100, "python app.py"), 0);
	fx_add(p, (uint32_t[]){f[0], f[2]}, 2, 100, 7, "MainThread", 0, 4);
	fx_add(p, (uint32_t[]){f[0], f[3]}, 2, 100, 8, "worker-1", SG_SAMPLE_IDLE, 3);
	fx_add(p, (uint32_t[]){f[0], f[2], f[4]}, 2 + 1, 100, 8, "worker-1", 0, 2);
	fx_add(p, (uint32_t[]){f[0]}, 1, 100, 7, "MainThread", SG_SAMPLE_GIL, 1);
	fx_add(p, (uint32_t[]){f[1]}, 1, 100, 9, "idle", 0, 0); /* no samples: left out */
	return p;
}

static void test_rows_exact(void **state)
{
	struct sg_profile *p = rows_profile();
	char *text;

	(void)state;
	text = fx_write("speedscope", p);
	assert_true(fx_json_valid(text));
	/* Only used frames, the idle leaf last. Rows are laid from 0, one
	 * sample each, weighing their weight_ns (count x 1000 here). */
	assert_string_equal(
	    text,
	    HEAD "\"exporter\":\"spyglass\",\"name\":\"python app.py\",\"activeProfileIndex\":0,\n"
	         "\"shared\":{\"frames\":[\n"
	         "{\"name\":\"<module> (app.py:10)\",\"file\":\"app.py\",\"line\":10},\n"
	         "{\"name\":\"Worker.run (app.py:20)\",\"file\":\"app.py\",\"line\":20},\n"
	         "{\"name\":\"wait (threading.py)\",\"file\":\"threading.py\"},\n"
	         "{\"name\":\"native\"},\n"
	         "{\"name\":\"[idle]\"}]},\n"
	         "\"profiles\":[\n"
	         "{\"type\":\"sampled\",\"name\":\"MainThread (tid 7)\",\"unit\":\"nanoseconds\","
	         "\"startValue\":0,\"endValue\":5000,\n"
	         "\"samples\":[[0,1],[0]],\n"
	         "\"weights\":[4000,1000]},\n"
	         "{\"type\":\"sampled\",\"name\":\"worker-1 (tid 8)\",\"unit\":\"nanoseconds\","
	         "\"startValue\":0,\"endValue\":5000,\n"
	         "\"samples\":[[0,2,4],[0,1,3]],\n"
	         "\"weights\":[3000,2000]}]}\n");
	free(text);
	sg_profile_free(p);
}

/* The thread with the most time not idle is shown first, whatever its place. */
static void test_busiest(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f = fx_frame(p, "f", "a.py", 1);
	char *text;

	(void)state;
	fx_add(p, &f, 1, 1, 1, "a", SG_SAMPLE_IDLE, 10);
	fx_add(p, &f, 1, 1, 2, "b", 0, 2);
	fx_add(p, &f, 1, 1, 3, "c", 0, 3);
	fx_add(p, &f, 1, 1, 3, "c", SG_SAMPLE_IDLE, 1);
	text = fx_write("speedscope", p);
	assert_non_null(strstr(text, "\"activeProfileIndex\":2,"));
	free(text);
	sg_profile_free(p);
}

/* With a timeline: runs in time order per thread, whatever order the
 * threads' samples interleave in; startValue the first run's start. */
static void test_timeline(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t a = fx_frame(p, "a", "m.py", 1), b = fx_frame(p, "b", "m.py", 2);
	char *text;

	(void)state;
	fx_add_at(p, &a, 1, 5, 5, "main", 0, 100, 10);
	fx_add_at(p, (uint32_t[]){a, b}, 2, 5, 6, "t", 0, 105, 10);
	fx_add_at(p, &a, 1, 5, 5, "main", 0, 110, 10); /* same run */
	fx_add_at(p, (uint32_t[]){a, b}, 2, 5, 5, "main", 0, 120, 10);
	fx_add_at(p, &a, 1, 5, 6, "t", SG_SAMPLE_IDLE, 125, 10);
	fx_add_at(p, &a, 1, 5, 5, "main", 0, 130, 10);
	fx_add_at(p, &a, 1, 5, 5, "main", 0, 500, 10); /* a gap: new run */
	assert_int_equal(sg_profile_nruns(p), 6);
	text = fx_write("speedscope", p);
	assert_true(fx_json_valid(text));
	assert_non_null(strstr(text,
	                       "{\"type\":\"sampled\",\"name\":\"main (tid 5)\","
	                       "\"unit\":\"nanoseconds\",\"startValue\":100,\"endValue\":150,\n"
	                       "\"samples\":[[0],[0,1],[0],[0]],\n"
	                       "\"weights\":[20,10,10,10]}"));
	assert_non_null(strstr(text,
	                       "{\"type\":\"sampled\",\"name\":\"t (tid 6)\","
	                       "\"unit\":\"nanoseconds\",\"startValue\":105,\"endValue\":125,\n"
	                       "\"samples\":[[0,1],[0,2]],\n"
	                       "\"weights\":[10,10]}"));
	free(text);
	sg_profile_free(p);
}

/* A row's nanoseconds are split over its runs by count, and the runs add up
 * to exactly the row, however the division rounds. */
static void test_weight_split(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t a = fx_frame(p, "a", NULL, 0), b = fx_frame(p, "b", NULL, 0);
	struct sg_timeline tl;
	uint64_t sum = 0;

	(void)state;
	/* Row a: 3 samples weighing 3, 3 and 4 ns, in three runs. */
	fx_add_at(p, &a, 1, 1, 1, "", 0, 0, 3);
	fx_add_at(p, &b, 1, 1, 1, "", 0, 3, 1);
	fx_add_at(p, &a, 1, 1, 1, "", 0, 4, 3);
	fx_add_at(p, &b, 1, 1, 1, "", 0, 7, 1);
	fx_add_at(p, &a, 1, 1, 1, "", 0, 8, 4);
	assert_int_equal(sg_timeline_build(&tl, p), 0);
	assert_true(tl.timed);
	assert_int_equal(tl.nthreads, 1);
	assert_int_equal(tl.nspans, 5);
	for (size_t i = 0; i < tl.nspans; i++)
		if (tl.spans[i].row == 0)
			sum += tl.spans[i].weight_ns;
	assert_int_equal(sum, 10);
	assert_int_equal(tl.spans[0].weight_ns, 3);
	assert_int_equal(tl.spans[4].weight_ns, 4);
	assert_int_equal(tl.threads[0].weight_ns, 12);
	assert_int_equal(tl.threads[0].start_ns, 0);
	assert_int_equal(tl.threads[0].end_ns, 12);
	sg_timeline_release(&tl);
	sg_profile_free(p);
}

/* Whatever bytes the target held, the file is valid JSON. */
static void test_invalid_utf8(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f;
	char *text;

	(void)state;
	assert_int_equal(
	    sg_profile_set_meta_str(p, &sg_profile_meta(p)->command, "run \"x\"\\ \xc3\x28"), 0);
	f = fx_frame(p, "bad\xff\xfe name\n\t\"q\"", "dir\xed\xa0\x80/\x01x.py", 3);
	fx_add(p, &f, 1, 1, 2, "th\xc0\xafread\x1b", 0, 1);
	text = fx_write("speedscope", p);
	assert_true(fx_json_valid(text));
	assert_non_null(strstr(text, "\"name\":\"run \\\"x\\\"\\\\ \xef\xbf\xbd(\""));
	assert_non_null(strstr(text, "bad\xef\xbf\xbd\xef\xbf\xbd name\\u000a\\u0009\\\"q\\\""));
	assert_non_null(strstr(text, "\"th\xef\xbf\xbd\xef\xbf\xbdread\\u001b (tid 2)\""));
	free(text);
	sg_profile_free(p);
}

/* Threads of several processes say which process. */
static void test_several_processes(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f = fx_frame(p, "f", NULL, 0);
	char *text;

	(void)state;
	assert_int_equal(sg_profile_set_process(p, 10, "python parent.py"), 0);
	fx_add(p, &f, 1, 10, 10, "MainThread", 0, 1);
	fx_add(p, &f, 1, 11, 12, "", 0, 1); /* no command, no thread name */
	fx_add(p, &f, 1, 0, 0, "", 0, 1);   /* nothing known */
	text = fx_write("speedscope", p);
	assert_true(fx_json_valid(text));
	assert_non_null(
	    strstr(text, "\"name\":\"MainThread (tid 10) of process 10: python parent.py\""));
	assert_non_null(strstr(text, "\"name\":\"thread (tid 12) of process 11\""));
	assert_non_null(strstr(text, "\"name\":\"all threads\""));
	free(text);
	sg_profile_free(p);
}

/* Rows without weights (read from collapsed files) weigh count x period:
 * the rate asked, else record's default 100 Hz. */
static void test_default_period(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f = fx_frame(p, "f", NULL, 0);
	struct sg_labels labels = {.pid = 1, .tid = 1};
	uint32_t stack = sg_profile_stack_id(p, &f, 1);
	char *text;

	(void)state;
	assert_int_equal(sg_profile_add(p, stack, &labels, 3, 0), 0);
	text = fx_write("speedscope", p);
	assert_non_null(strstr(text, "\"weights\":[30000000]"));
	free(text);
	sg_profile_meta(p)->rate_asked_hz = 250;
	text = fx_write("speedscope", p);
	assert_non_null(strstr(text, "\"endValue\":12000000,"));
	assert_non_null(strstr(text, "\"weights\":[12000000]"));
	free(text);
	sg_profile_free(p);
}

static void test_empty(void **state)
{
	struct sg_profile *p = sg_profile_new();
	char *text;

	(void)state;
	text = fx_write("speedscope", p);
	assert_true(fx_json_valid(text));
	assert_string_equal(text, HEAD "\"exporter\":\"spyglass\",\"name\":\"\","
	                               "\"activeProfileIndex\":0,\n"
	                               "\"shared\":{\"frames\":[]},\n"
	                               "\"profiles\":[]}\n");
	free(text);
	sg_profile_free(p);
}

static void test_by_path(void **state)
{
	(void)state;
	assert_ptr_equal(sg_format_by_path("out.speedscope.json"), sg_format_by_name("speedscope"));
	assert_null(sg_format_by_path("out.json"));
	assert_null(sg_format_by_name("speedscope")->read);
}

/* The sum of every number in every "weights" array of text. */
static uint64_t sum_weights(const char *text)
{
	uint64_t sum = 0;

	for (const char *w = text; (w = fx_find(w, "\"weights\":["));) {
		char *end;

		w += strlen("\"weights\":[");
		while (*w != ']') {
			sum += strtoull(w, &end, 10);
			w = *end == ',' ? end + 1 : end;
		}
	}
	return sum;
}

/* Large profiles: every sample and weight written, sums exact, quickly
 * enough to run in the unit tests (timings are measured elsewhere). */
static void test_many(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t frames[64];
	uint64_t seed = 88172645463325252ull, t = 0;
	char *text;

	(void)state;
	for (size_t i = 0; i < 64; i++)
		frames[i] = fx_frame(p, "f", "many.py", (int)i + 1);
	for (size_t i = 0; i < 20000; i++) {
		struct sg_labels labels = {.pid = 1, .tid = (pid_t)(1 + i % 3)};
		uint32_t stack;

		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		stack = sg_profile_stack_id(p, frames, 1 + seed % 64);
		labels.thread_name = fx_str(p, "w");
		t += 7;
		assert_int_equal(sg_profile_add_at(p, stack, &labels, 1, 1000, t), 0);
	}
	text = fx_write("speedscope", p);
	assert_true(fx_json_valid(text));
	assert_int_equal(fx_count(text, "\"type\":\"sampled\""), 3);
	assert_int_equal(fx_count(text, "{\"name\":\"f (many.py:"), 64);
	assert_int_equal(sum_weights(text), 20000 * 1000);
	assert_int_equal(fx_count(text, "],["), sg_profile_nruns(p) - 3);
	free(text);
	sg_profile_free(p);
}

/* --threads=group: a profile per group of threads of a process, its
 * threads' samples one thread after another from the earliest start. */
static void test_thread_groups(void **state)
{
	const struct sg_format *fmt = sg_format_by_name("speedscope");
	struct sg_write_opts opts = {.threads = true, .thread_groups = true};
	struct sg_profile *p = sg_profile_new();
	uint32_t a = fx_frame(p, "a", NULL, 0), b = fx_frame(p, "b", NULL, 0);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	fx_add_at(p, &a, 1, 5, 5, "MainThread", 0, 0, 1000);
	fx_add_at(p, &b, 1, 5, 7, "Thread-2 (h)", 0, 3000, 1000);
	fx_add_at(p, &a, 1, 5, 6, "Thread-1 (h)", 0, 2000, 1000);
	fx_add_at(p, &b, 1, 5, 6, "Thread-1 (h)", 0, 3000, 1000);
	assert_non_null(out);
	assert_int_equal(fmt->write(p, &opts, out), 0);
	fclose(out);
	assert_true(fx_json_valid(text));
	assert_non_null(strstr(text, "\"activeProfileIndex\":1,"));
	assert_non_null(strstr(text,
	                       "{\"type\":\"sampled\",\"name\":\"MainThread (1 thread)\","
	                       "\"unit\":\"nanoseconds\",\"startValue\":0,\"endValue\":1000,\n"
	                       "\"samples\":[[0]],\n\"weights\":[1000]}"));
	/* Threads in the order first seen: Thread-2's samples, then Thread-1's. */
	assert_non_null(strstr(text,
	                       "{\"type\":\"sampled\",\"name\":\"Thread-* (h) (2 threads)\","
	                       "\"unit\":\"nanoseconds\",\"startValue\":2000,\"endValue\":5000,\n"
	                       "\"samples\":[[1],[0],[1]],\n\"weights\":[1000,1000,1000]}"));
	assert_int_equal(fx_count(text, "\"type\":\"sampled\""), 2);
	free(text);
	sg_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows_exact),     cmocka_unit_test(test_busiest),
	    cmocka_unit_test(test_timeline),       cmocka_unit_test(test_weight_split),
	    cmocka_unit_test(test_invalid_utf8),   cmocka_unit_test(test_several_processes),
	    cmocka_unit_test(test_default_period), cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_by_path),        cmocka_unit_test(test_many),
	    cmocka_unit_test(test_thread_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
