/* SPDX-License-Identifier: MIT */
/* The Chrome Trace Event Format writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"

#include "profile_fixtures.h"
#include "timeline_fixtures.h"

#define TAIL_CPU                                                                                   \
	"],\n\"displayTimeUnit\":\"ms\",\n"                                                        \
	"\"otherData\":{\"exporter\":\"spyglass\",\"command\":\"\",\"python_version\":\"\","       \
	"\"mode\":\"cpu\",\"rate_asked_hz\":0,\"rate_achieved_hz\":0,\"start_unix_ns\":0,"         \
	"\"duration_ns\":0,\"samples\":0,\"dropped\":0,"

/* Stacks changing along a timeline, an idle sample, a gap, a second thread. */
static void test_timeline_exact(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t a = fx_frame(p, "a", "m.py", 1), b = fx_frame(p, "b", "m.py", 2),
	         c = fx_frame(p, "c", NULL, 0);
	char *text;

	(void)state;
	fx_frame(p, "unused", NULL, 0);
	assert_int_equal(sg_profile_set_process(p, 5, "python m.py"), 0);
	fx_add_at(p, (uint32_t[]){a, b}, 2, 5, 5, "MainThread", 0, 1000, 1000);
	fx_add_at(p, (uint32_t[]){a, b}, 2, 5, 5, "MainThread", 0, 2000, 1000);
	/* Within a period of the last end (jitter): hand over at 3.1 us. */
	fx_add_at(p, (uint32_t[]){a, c}, 2, 5, 5, "MainThread", 0, 3100, 1000);
	/* Overlapping the last run: hand over at its own start. */
	fx_add_at(p, (uint32_t[]){a}, 1, 5, 5, "MainThread", SG_SAMPLE_IDLE, 3900, 1000);
	/* More than a period later: everything closes at 4.9 us first. */
	fx_add_at(p, (uint32_t[]){a, b}, 2, 5, 5, "MainThread", 0, 9000, 1000);
	fx_add_at(p, (uint32_t[]){b}, 1, 5, 6, "t", 0, 1500, 1234567);
	text = fx_write("chrometrace", p);
	assert_true(fx_json_valid(text));
	assert_string_equal(
	    text,
	    "{\"traceEvents\":[\n"
	    "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":5,\"tid\":0,"
	    "\"args\":{\"name\":\"python m.py\"}},\n"
	    "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":5,\"tid\":5,"
	    "\"args\":{\"name\":\"MainThread\"}},\n"
	    "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":5,\"tid\":6,\"args\":{\"name\":\"t\"}},"
	    "\n"
	    "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":1.000,\"name\":\"a "
	    "(m.py)\",\"cat\":\"python\","
	    "\"args\":{\"file\":\"m.py\",\"line\":1}},\n"
	    "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":1.000,\"name\":\"b "
	    "(m.py)\",\"cat\":\"python\","
	    "\"args\":{\"file\":\"m.py\",\"line\":2}},\n"
	    "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":3.100,\"name\":\"b "
	    "(m.py)\",\"cat\":\"python\"},\n"
	    "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":3.100,\"name\":\"c\",\"cat\":\"python\","
	    "\"args\":{}},\n"
	    "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":3.900,\"name\":\"c\",\"cat\":\"python\"},\n"
	    "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":3.900,\"name\":\"[idle]\",\"cat\":\"idle\","
	    "\"args\":{}},\n"
	    "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":4.900,\"name\":\"[idle]\",\"cat\":\"idle\"},"
	    "\n"
	    "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":4.900,\"name\":\"a "
	    "(m.py)\",\"cat\":\"python\"},\n"
	    "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":9.000,\"name\":\"a "
	    "(m.py)\",\"cat\":\"python\","
	    "\"args\":{\"file\":\"m.py\",\"line\":1}},\n"
	    "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":9.000,\"name\":\"b "
	    "(m.py)\",\"cat\":\"python\","
	    "\"args\":{\"file\":\"m.py\",\"line\":2}},\n"
	    "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":10.000,\"name\":\"b "
	    "(m.py)\",\"cat\":\"python\"},\n"
	    "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":10.000,\"name\":\"a "
	    "(m.py)\",\"cat\":\"python\"},\n"
	    "{\"ph\":\"B\",\"pid\":5,\"tid\":6,\"ts\":1.500,\"name\":\"b "
	    "(m.py)\",\"cat\":\"python\","
	    "\"args\":{\"file\":\"m.py\",\"line\":2}},\n"
	    "{\"ph\":\"E\",\"pid\":5,\"tid\":6,\"ts\":1236.067,\"name\":\"b "
	    "(m.py)\",\"cat\":\"python\"}" TAIL_CPU "\"timeline\":true}}\n");
	free(text);
	sg_profile_free(p);
}

/* A function that stays on the stack while its line changes is one slice,
 * whose args give the first line and every line it was at; a function
 * under another caller, or after a gap, is a new one. */
static void test_lines_in_args(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t a9 = fx_frame(p, "a", "m.py", 9), a3 = fx_frame(p, "a", "m.py", 3),
	         b2 = fx_frame(p, "b", "m.py", 2), b5 = fx_frame(p, "b", "m.py", 5);
	char *text;

	(void)state;
	fx_add_at(p, (uint32_t[]){a9, b2}, 2, 5, 5, "", 0, 0, 1000);
	fx_add_at(p, (uint32_t[]){a3, b5}, 2, 5, 5, "", 0, 1000, 1000);
	fx_add_at(p, (uint32_t[]){a9, b2}, 2, 5, 5, "", 0, 2000, 1000);
	fx_add_at(p, (uint32_t[]){a3, b2}, 2, 5, 5, "", 0, 3000, 1000);
	/* b directly under nothing: at depth 0 it is another slice. */
	fx_add_at(p, (uint32_t[]){b5}, 1, 5, 5, "", 0, 4000, 1000);
	text = fx_write("chrometrace", p);
	assert_true(fx_json_valid(text));
	assert_string_equal(
	    text, "{\"traceEvents\":[\n"
	          "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":0.000,\"name\":\"a (m.py)\","
	          "\"cat\":\"python\",\"args\":{\"file\":\"m.py\",\"line\":9,\"lines\":[3,9]}},\n"
	          "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":0.000,\"name\":\"b (m.py)\","
	          "\"cat\":\"python\",\"args\":{\"file\":\"m.py\",\"line\":2,\"lines\":[2,5]}},\n"
	          "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":4.000,\"name\":\"b (m.py)\","
	          "\"cat\":\"python\"},\n"
	          "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":4.000,\"name\":\"a (m.py)\","
	          "\"cat\":\"python\"},\n"
	          "{\"ph\":\"B\",\"pid\":5,\"tid\":5,\"ts\":4.000,\"name\":\"b (m.py)\","
	          "\"cat\":\"python\",\"args\":{\"file\":\"m.py\",\"line\":5}},\n"
	          "{\"ph\":\"E\",\"pid\":5,\"tid\":5,\"ts\":5.000,\"name\":\"b (m.py)\","
	          "\"cat\":\"python\"}" TAIL_CPU "\"timeline\":true}}\n");
	free(text);
	sg_profile_free(p);
}

/* Without a timeline, each thread's rows lie end to end from 0, in row
 * order, each as long as its weight; the run's command names the process. */
static void test_rows_end_to_end(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t a = fx_frame(p, "a", NULL, 0), b = fx_frame(p, "b", NULL, 0);
	struct sg_labels labels = {.pid = 3, .tid = 4};
	char *text;

	(void)state;
	assert_int_equal(sg_profile_set_meta_str(p, &sg_profile_meta(p)->command, "app"), 0);
	fx_add(p, (uint32_t[]){a, b}, 2, 3, 4, "", 0, 2); /* 2000 ns */
	fx_add(p, (uint32_t[]){b}, 1, 9, 9, "", 0, 0);    /* no samples: nothing */
	fx_add(p, (uint32_t[]){a}, 1, 3, 4, "", 0, 1);    /* 1000 ns */
	/* No weight: 1 x 10 ms, the period of record's default rate. */
	assert_int_equal(sg_profile_add(p, sg_profile_stack_id(p, &b, 1), &labels, 1, 0), 0);
	text = fx_write("chrometrace", p);
	assert_true(fx_json_valid(text));
	assert_string_equal(
	    text,
	    "{\"traceEvents\":[\n"
	    "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":3,\"tid\":0,\"args\":{\"name\":"
	    "\"app\"}},\n"
	    "{\"ph\":\"B\",\"pid\":3,\"tid\":4,\"ts\":0.000,\"name\":\"a\",\"cat\":\"python\","
	    "\"args\":{}},\n"
	    "{\"ph\":\"B\",\"pid\":3,\"tid\":4,\"ts\":0.000,\"name\":\"b\",\"cat\":\"python\","
	    "\"args\":{}},\n"
	    "{\"ph\":\"E\",\"pid\":3,\"tid\":4,\"ts\":2.000,\"name\":\"b\",\"cat\":\"python\"},\n"
	    "{\"ph\":\"E\",\"pid\":3,\"tid\":4,\"ts\":3.000,\"name\":\"a\",\"cat\":\"python\"},\n"
	    "{\"ph\":\"B\",\"pid\":3,\"tid\":4,\"ts\":3.000,\"name\":\"b\",\"cat\":\"python\","
	    "\"args\":{}},\n"
	    "{\"ph\":\"E\",\"pid\":3,\"tid\":4,\"ts\":10003.000,\"name\":\"b\",\"cat\":\"python\"}]"
	    ",\n"
	    "\"displayTimeUnit\":\"ms\",\n"
	    "\"otherData\":{\"exporter\":\"spyglass\",\"command\":\"app\",\"python_version\":\"\","
	    "\"mode\":\"cpu\",\"rate_asked_hz\":0,\"rate_achieved_hz\":0,\"start_unix_ns\":0,"
	    "\"duration_ns\":0,\"samples\":0,\"dropped\":0,\"timeline\":false}}\n");
	free(text);
	sg_profile_free(p);
}

/* Several processes: each named by its own command, never the run's. */
static void test_several_processes(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f = fx_frame(p, "f", NULL, 0);
	char *text;

	(void)state;
	assert_int_equal(sg_profile_set_meta_str(p, &sg_profile_meta(p)->command, "parent"), 0);
	assert_int_equal(sg_profile_set_process(p, 10, "python parent.py"), 0);
	fx_add(p, &f, 1, 10, 10, "MainThread", 0, 1);
	fx_add(p, &f, 1, 11, 12, "", 0, 1);
	fx_add(p, &f, 1, 10, 13, "worker", 0, 1);
	text = fx_write("chrometrace", p);
	assert_true(fx_json_valid(text));
	assert_int_equal(fx_count(text, "\"process_name\""), 1);
	assert_non_null(
	    strstr(text, "\"pid\":10,\"tid\":0,\"args\":{\"name\":\"python parent.py\"}"));
	assert_int_equal(fx_count(text, "\"thread_name\""), 2);
	assert_non_null(strstr(text, "\"pid\":10,\"tid\":13,\"args\":{\"name\":\"worker\"}"));
	assert_int_equal(fx_count(text, "\"ph\":\"B\""), 3);
	free(text);
	sg_profile_free(p);
}

static void test_invalid_utf8(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f;
	char *text;

	(void)state;
	assert_int_equal(sg_profile_set_meta_str(p, &sg_profile_meta(p)->command, "a\xff\"b"), 0);
	assert_int_equal(sg_profile_set_meta_str(p, &sg_profile_meta(p)->python_version, "3\x01"),
	                 0);
	assert_int_equal(sg_profile_set_process(p, 1, "cmd\xe2\x82"), 0);
	f = fx_frame(p, "bad\xff\\name\n", "x\xc0\x80.py", 7);
	fx_add_at(p, &f, 1, 1, 2,
	          "thr\xf5\x80\x80\x80"
	          "ead\x7f",
	          0, 0, 10);
	text = fx_write("chrometrace", p);
	assert_true(fx_json_valid(text));
	assert_non_null(strstr(text, "\"name\":\"bad\xef\xbf\xbd\\\\name\\u000a (x"));
	assert_non_null(strstr(text, "\"args\":{\"name\":\"thr\xef\xbf\xbd"));
	assert_non_null(strstr(text, "ead\\u007f\"}}"));
	assert_non_null(strstr(text, "\"command\":\"a\xef\xbf\xbd\\\"b\""));
	free(text);
	sg_profile_free(p);
}

static void test_empty(void **state)
{
	struct sg_profile *p = sg_profile_new();
	char *text;

	(void)state;
	text = fx_write("chrometrace", p);
	assert_true(fx_json_valid(text));
	assert_string_equal(text, "{\"traceEvents\":[" TAIL_CPU "\"timeline\":false}}\n");
	free(text);
	sg_profile_free(p);
}

static void test_by_path(void **state)
{
	(void)state;
	assert_ptr_equal(sg_format_by_path("out.trace.json"), sg_format_by_name("chrometrace"));
	assert_null(sg_format_by_name("chrometrace")->read);
}

/* One thread's B/E events, as read back. */
struct events {
	size_t begins, depth, max_depth;
	uint64_t first, last;   /* ns */
	const char *names[64];  /* of the open slices, root first: '"name":...' */
	bool ordered, matching; /* times never go back; each E names its B */
};

/* "X.YYY" microseconds as nanoseconds, exactly; *end after it. */
static uint64_t read_us(const char *s, char **end)
{
	uint64_t us = strtoull(s, end, 10);

	assert_int_equal(**end, '.');
	*end += 4;
	return us * 1000 + strtoull(*end - 3, NULL, 10);
}

/* Whether the '"name":"...","cat":"..."' members at a and b are the same. */
static bool same_name(const char *a, const char *b)
{
	const char *end = fx_find(a, "\",\"cat\":\"");

	assert_non_null(end);
	end = strchr(end + 9, '"');
	return !strncmp(a, b, (size_t)(end - a + 1));
}

/* Read every B/E event of text back, per thread (tid 1..3): pairs nest,
 * each E names the slice it closes, and the times never go back. */
static void read_events(const char *text, struct events *ev)
{
	for (const char *line = text; (line = fx_find(line, "\n{\"ph\":\"")); line++) {
		char ph, *end;
		int pid, tid;
		uint64_t ts;
		struct events *e;

		/* Not sscanf: glibc's measures the whole rest of the text each call. */
		ph = line[8];
		pid = (int)strtol(line + 17, &end, 10);
		assert_int_equal(strncmp(end, ",\"tid\":", 7), 0);
		tid = (int)strtol(end + 7, &end, 10);
		assert_int_equal(strncmp(end, ",\"ts\":", 6), 0);
		ts = read_us(end + 6, &end);
		assert_int_equal(strncmp(end, ",\"name\":", 8), 0);
		assert_int_equal(pid, 1);
		assert_true(tid >= 1 && tid <= 3);
		e = &ev[tid - 1];
		if (!e->begins)
			e->first = ts;
		e->ordered &= ts >= e->last;
		e->last = ts;
		if (ph == 'B') {
			e->begins++;
			assert_true(e->depth < 64);
			e->names[e->depth++] = end + 1;
			if (e->depth > e->max_depth)
				e->max_depth = e->depth;
		} else {
			assert_int_equal(ph, 'E');
			assert_true(e->depth > 0);
			e->matching &= same_name(end + 1, e->names[--e->depth]);
		}
	}
}

/* Many random samples over three threads: valid, balanced, in order, and
 * each thread's events cover its first run's start to its last run's end. */
static void test_many(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct events ev[3] = {{.ordered = true, .matching = true},
	                       {.ordered = true, .matching = true},
	                       {.ordered = true, .matching = true}};
	uint64_t seed = 88172645463325252ull, t = 1000;
	uint64_t first[3] = {0}, end[3] = {0}, sampled[3] = {0};
	uint32_t frames[48];
	char *text;

	(void)state;
	for (size_t i = 0; i < 48; i++)
		frames[i] = fx_frame(p, i % 2 ? "odd" : "even", "many.py", (int)i + 1);
	for (size_t i = 0; i < 30000; i++) {
		struct sg_labels labels = {.pid = 1, .tid = (pid_t)(1 + i % 3)};
		uint32_t stack;
		size_t depth;

		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		/* Random depths, now and then a switch to another root. */
		depth = 1 + (seed >> 8) % 40;
		stack = sg_profile_stack_id(p, frames + (seed % 5 == 0 ? seed % 8 : 0), depth);
		labels.thread_name = fx_str(p, "w");
		labels.flags = seed % 7 == 0 ? SG_SAMPLE_IDLE : 0;
		sampled[i % 3] += depth + (labels.flags != 0);
		/* Ticks 1000 ns apart with jitter; now and then a long gap. */
		t += 333 + (seed >> 20) % 200 + (seed % 97 == 0 ? 50000 : 0);
		if (!first[i % 3])
			first[i % 3] = t;
		end[i % 3] = t + 1000;
		assert_int_equal(sg_profile_add_at(p, stack, &labels, 1, 1000, t), 0);
	}
	text = fx_write("chrometrace", p);
	assert_true(fx_json_valid(text));
	read_events(text, ev);
	for (size_t k = 0; k < 3; k++) {
		assert_true(ev[k].ordered);
		assert_true(ev[k].matching);
		assert_int_equal(ev[k].depth, 0);
		assert_true(ev[k].max_depth >= 40);
		/* Prefixes stay open: a slice for about half the frames sampled
		 * (depths are random, so a sample shares about half its
		 * predecessor's; the seed is fixed). */
		assert_true(ev[k].begins < sampled[k] * 3 / 5);
		assert_int_equal(ev[k].first, first[k]);
		assert_int_equal(ev[k].last, end[k]);
	}
	free(text);
	sg_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timeline_exact),  cmocka_unit_test(test_lines_in_args),
	    cmocka_unit_test(test_rows_end_to_end), cmocka_unit_test(test_several_processes),
	    cmocka_unit_test(test_invalid_utf8),    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_by_path),         cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
