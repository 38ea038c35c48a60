/* SPDX-License-Identifier: MIT */
/* The differential profile: the change and its interval against published
 * figures, Holm's correction, the flat rows and merged tree of two
 * hand-made profiles, and the differential flame graph drawn from them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/flamegraph.h"
#include "profile/diff.h"
#include "util/err.h"

#include "profile_fixtures.h"

static const double ONE[2] = {1, 1};

static void assert_near(double a, double b, double tol)
{
	if (fabs(a - b) > tol)
		fail_msg("%.6f is not %.6f (+/- %g)", a, b, tol);
}

/* Newcombe (1998), "Interval estimation for the difference between
 * independent proportions", Statistics in Medicine 17, table II: for 56/70
 * against 48/80, method 10 gives 0.0524 to 0.3339. */
static void test_compare_newcombe(void **state)
{
	struct sg_diff_change c;

	(void)state;
	sg_diff_compare(48, 80, 56, 70, ONE, &c);
	assert_near(c.pct[0], 60, 1e-9);
	assert_near(c.pct[1], 80, 1e-9);
	assert_near(c.change, 20, 1e-9);
	assert_near(c.clo, 5.24, 0.005);
	assert_near(c.chi, 33.39, 0.005);
	/* Pooled z: 104/150 shared, (0.8 - 0.6) / sqrt(P(1-P)(1/80 + 1/70)). */
	assert_near(c.z, 2.65017, 1e-4);
	assert_near(c.p, 0.0080451, 1e-6);
	assert_true(c.tested);
	assert_false(c.significant);
	/* The other way round: the same interval, negated. */
	sg_diff_compare(56, 70, 48, 80, ONE, &c);
	assert_near(c.change, -20, 1e-9);
	assert_near(c.clo, -33.39, 0.005);
	assert_near(c.chi, -5.24, 0.005);
	assert_near(c.z, -2.65017, 1e-4);
}

/* Samples that come in runs of 4 identical ones know what a quarter as many
 * independent ones would: the same test and interval as those. */
static void test_compare_design_effect(void **state)
{
	struct sg_diff_change one, four;

	(void)state;
	sg_diff_compare(48, 80, 56, 70, ONE, &one);
	sg_diff_compare(48 * 4, 80 * 4, 56 * 4, 70 * 4, (const double[2]){4, 4}, &four);
	assert_near(four.change, one.change, 1e-9);
	assert_near(four.clo, one.clo, 1e-9);
	assert_near(four.chi, one.chi, 1e-9);
	assert_near(four.z, one.z, 1e-9);
	assert_near(four.lo[1], one.lo[1], 1e-9);
	/* Only one side clustered: the z of variances 1/80 * 4 and 1/70. */
	sg_diff_compare(48, 80, 56, 70, (const double[2]){4, 1}, &four);
	assert_near(four.z, 0.2 / sqrt(104.0 / 150 * 46 / 150 * (4.0 / 80 + 1.0 / 70)), 1e-9);
	/* Under 1 counts as 1. */
	sg_diff_compare(48, 80, 56, 70, (const double[2]){0.5, 0}, &four);
	assert_near(four.z, one.z, 1e-12);
}

/* A timeline of n draws among three functions (shares 1/2, 3/10, 1/5)
 * from a fixed pseudo-random sequence, each draw seen `repeat` times in a
 * row; with lines, at lines 1 and 2 in turn (so no two consecutive samples
 * are the same stack, while the function is). */
static struct sg_profile *drawn(int n, int repeat, bool lines)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_labels l = {.pid = 1, .tid = 1};
	const char *names[3] = {"a", "b", "c"};
	uint32_t stacks[3][2];
	uint64_t x = 88172645463325252ull, t = 0;

	for (int k = 0; k < 3; k++)
		for (int line = 0; line < 2; line++) {
			uint32_t f = fx_frame(p, names[k], "m.py", line + 1);

			stacks[k][line] = sg_profile_stack_id(p, &f, 1);
		}
	for (int i = 0; i < n; i++) {
		int k;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		k = x % 10 < 5 ? 0 : x % 10 < 8 ? 1 : 2;
		for (int j = 0; j < repeat; j++, t++)
			assert_int_equal(sg_profile_add_sample(p,
			                                       stacks[k][lines ? (int)(t % 2) : 0],
			                                       &l, 1000, t * 1000, 1000),
			                 0);
	}
	return p;
}

/* The design effects of a's self and total in a query of p. */
static void effects_of_a(struct sg_profile *p, const struct sg_query_filter *f, double *self,
                         double *total)
{
	struct sg_query_filter with = f ? *f : (struct sg_query_filter){0};
	struct sg_query *q;
	struct sg_query_row *rows;
	size_t n;
	bool found = false;

	with.effects = true;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &with, &q), 0);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(sg_query_key(q, rows[i].key), "a (m.py)") == 0) {
			*self = rows[i].self_effect;
			*total = rows[i].total_effect;
			found = true;
		}
	assert_true(found);
	free(rows);
	sg_query_free(q);
}

/* The design effect: about 1 for independent samples, however often a
 * function repeats by chance; about the size of the clumps when samples
 * come in them, whether or not the stack changes within a clump. From 32
 * batches the estimate is good to about 25% (sqrt(2 / 31)): the bounds are
 * 2.5 of those. */
static void test_query_design_effect(void **state)
{
	struct sg_profile *p;
	struct sg_query *q;
	struct sg_query_row *rows;
	double self, total;
	size_t n;
	regex_t re;

	(void)state;
	p = drawn(40000, 1, false);
	effects_of_a(p, NULL, &self, &total);
	assert_true(self < 1.65 && total < 1.65);
	sg_profile_free(p);

	p = drawn(20000, 5, true);
	effects_of_a(p, NULL, &self, &total);
	assert_true(self > 1.9 && self < 8.1);
	assert_true(total > 1.9 && total < 8.1);
	/* Filters and windows: the same. */
	assert_int_equal(regcomp(&re, "^b$", REG_EXTENDED | REG_NOSUB), 0);
	effects_of_a(p, &(struct sg_query_filter){.ignore = &re}, &self, &total);
	assert_true(self > 1.9 && self < 8.1);
	regfree(&re);
	effects_of_a(p, &(struct sg_query_filter){.window = true, .to_ns = 50000000}, &self,
	             &total);
	assert_true(self > 1.9 && self < 8.1);
	sg_profile_free(p);

	/* Another key's clumps move a share too: a stall of one function half
	 * the run long makes the others' shares as uncertain. */
	p = drawn(20000, 1, false);
	{
		struct sg_labels l = {.pid = 1, .tid = 1};
		uint32_t f = fx_frame(p, "stall", "m.py", 1);

		assert_int_equal(sg_profile_add_sample(p, sg_profile_stack_id(p, &f, 1), &l, 1000,
		                                       20000 * 1000, 20000 * 1000),
		                 0);
		/* ...as 20,000 samples in one run. */
		assert_int_equal(sg_profile_add_run(p, sg_profile_stack_id(p, &f, 1), &l, 20000,
		                                    20000 * 1000, 20001 * 1000, 40000 * 1000),
		                 0);
	}
	effects_of_a(p, NULL, &self, &total);
	assert_true(self > 3);
	sg_profile_free(p);

	/* No timeline: taken as independent. */
	p = sg_profile_new();
	fx_add(p, (uint32_t[]){fx_frame(p, "a", "m.py", 1)}, 1, 1, 1, "t", 0, 10);
	fx_add(p, (uint32_t[]){fx_frame(p, "b", "m.py", 1)}, 1, 1, 1, "t", 0, 10);
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, NULL, &q), 0);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_near(rows[0].self_effect, 1, 0);
	assert_near(rows[1].total_effect, 1, 0);
	free(rows);
	sg_query_free(q);
	sg_profile_free(p);
}

static void test_compare_degenerate(void **state)
{
	struct sg_diff_change c;

	(void)state;
	/* Nothing on either side: no test, but an interval of nonzero width. */
	sg_diff_compare(0, 100, 0, 200, ONE, &c);
	assert_false(c.tested);
	assert_near(c.p, 1, 0);
	assert_true(c.clo < 0 && c.chi > 0);
	/* All on both sides: nothing to test either. */
	sg_diff_compare(100, 100, 200, 200, ONE, &c);
	assert_false(c.tested);
	/* A side without samples. */
	sg_diff_compare(0, 0, 5, 10, ONE, &c);
	assert_false(c.tested);
	/* Inside [-100, 100] even at the extremes. */
	sg_diff_compare(0, 3, 3, 3, ONE, &c);
	assert_true(c.tested);
	assert_true(c.clo > 0 && c.chi <= 100);
}

static void test_holm(void **state)
{
	struct sg_diff_change c[5] = {0};
	struct sg_diff_change *family[5];
	const double p[5] = {0.01, 0.04, 0.03, 0.005, 0.5};

	(void)state;
	for (int i = 0; i < 5; i++) {
		c[i].p = p[i];
		c[i].tested = i != 4;
		family[i] = &c[i];
	}
	/* Four tested: 0.005 * 4, 0.01 * 3, then 0.03 * 2 and max(0.06, 0.04 * 1). */
	assert_int_equal(sg_diff_holm(family, 5, 0.05), 4);
	assert_near(c[3].p_holm, 0.02, 1e-12);
	assert_near(c[0].p_holm, 0.03, 1e-12);
	assert_near(c[2].p_holm, 0.06, 1e-12);
	assert_near(c[1].p_holm, 0.06, 1e-12);
	assert_near(c[4].p_holm, 1, 0);
	assert_true(c[3].significant && c[0].significant);
	assert_false(c[2].significant || c[1].significant || c[4].significant);
	assert_int_equal(sg_diff_holm(family, 0, 0.05), 0);
}

/* base: main;a x60, main;b x40. new: main;a x30, main;b x60, main;c x10. */
static void two_profiles(struct sg_profile **base, struct sg_profile **new)
{
	uint32_t f[3];

	*base = sg_profile_new();
	f[0] = fx_frame(*base, "main", "m.py", 1);
	f[1] = fx_frame(*base, "a", "m.py", 2);
	f[2] = fx_frame(*base, "b", "m.py", 3);
	fx_add(*base, (uint32_t[]){f[0], f[1]}, 2, 1, 1, "t", 0, 60);
	fx_add(*base, (uint32_t[]){f[0], f[2]}, 2, 1, 1, "t", 0, 40);
	*new = sg_profile_new();
	/* Another order of interning and other lines: keys still match. */
	f[2] = fx_frame(*new, "b", "m.py", 30);
	f[0] = fx_frame(*new, "main", "m.py", 1);
	f[1] = fx_frame(*new, "a", "m.py", 20);
	fx_add(*new, (uint32_t[]){f[0], f[1]}, 2, 7, 7, "t", 0, 30);
	fx_add(*new, (uint32_t[]){f[0], f[2]}, 2, 7, 7, "t", 0, 60);
	fx_add(*new, (uint32_t[]){f[0], fx_frame(*new, "c", "m.py", 4)}, 2, 7, 7, "t", 0, 10);
}

static struct sg_diff *diff_of(struct sg_profile *base, struct sg_profile *new,
                               struct sg_query *q[2])
{
	struct sg_diff *d;

	assert_int_equal(sg_query_new(base, SG_BY_FUNCTION, NULL, &q[0]), 0);
	assert_int_equal(sg_query_new(new, SG_BY_FUNCTION, NULL, &q[1]), 0);
	assert_int_equal(sg_diff_new(q[0], q[1], 0.01, true, &d), 0);
	return d;
}

static void test_rows_and_tree(void **state)
{
	struct sg_profile *base, *new;
	struct sg_query *q[2];
	struct sg_diff *d;
	const struct sg_diff_row *r;
	bool seen[4] = {false};

	(void)state;
	two_profiles(&base, &new);
	d = diff_of(base, new, q);
	assert_int_equal(sg_diff_total(d, SG_DIFF_BASE), 100);
	assert_int_equal(sg_diff_total(d, SG_DIFF_NEW), 100);
	/* a, b, c, main; largest move first. */
	assert_int_equal(sg_diff_nrows(d), 4);
	r = sg_diff_row(d, 0);
	assert_string_equal(r->key, "a (m.py)");
	assert_int_equal(r->self.k[0], 60);
	assert_int_equal(r->self.k[1], 30);
	assert_near(r->total.change, -30, 1e-9);
	assert_true(r->self.significant && r->total.significant);
	assert_string_equal(sg_diff_row(d, 1)->key, "b (m.py)");
	assert_near(sg_diff_row(d, 1)->self.change, 20, 1e-9);
	r = sg_diff_row(d, 2);
	assert_string_equal(r->key, "c (m.py)");
	assert_int_equal(r->self.k[0], 0);
	assert_int_equal(r->self.k[1], 10);
	r = sg_diff_row(d, 3);
	assert_string_equal(r->key, "main (m.py)");
	assert_false(r->total.tested); /* 100% on both sides */
	assert_false(r->total.significant);
	/* Tested: the self and total of a, b, c (main's self is 0 on both
	 * sides, its total all of both). */
	assert_int_equal(sg_diff_tests(d), 6);

	/* The tree: all, main, and a, b, c below it, each side's counts. */
	assert_int_equal(sg_diff_nnodes(d), 5);
	assert_int_equal(sg_diff_node(d, 0)->total[SG_DIFF_BASE], 100);
	assert_int_equal(sg_diff_node(d, 0)->depth, 0);
	for (uint32_t i = 1; i < 5; i++) {
		const struct sg_diff_node *nd = sg_diff_node(d, i);

		if (strcmp(nd->key, "main (m.py)") == 0) {
			assert_int_equal(nd->parent, 0);
			assert_int_equal(nd->total[0], 100);
			assert_int_equal(nd->total[1], 100);
			seen[0] = true;
			continue;
		}
		assert_int_equal(nd->depth, 2);
		assert_string_equal(sg_diff_node(d, nd->parent)->key, "main (m.py)");
		if (strcmp(nd->key, "a (m.py)") == 0) {
			assert_int_equal(nd->self[0], 60);
			assert_int_equal(nd->self[1], 30);
			seen[1] = true;
		} else if (strcmp(nd->key, "b (m.py)") == 0) {
			assert_int_equal(nd->total[0], 40);
			assert_int_equal(nd->total[1], 60);
			seen[2] = true;
		} else {
			assert_string_equal(nd->key, "c (m.py)");
			assert_int_equal(nd->total[0], 0);
			assert_int_equal(nd->total[1], 10);
			seen[3] = true;
		}
	}
	assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
	sg_diff_free(d);
	sg_query_free(q[0]);
	sg_query_free(q[1]);
	sg_profile_free(base);
	sg_profile_free(new);
}

static void test_same_profile_moves_nothing(void **state)
{
	struct sg_profile *base, *new;
	struct sg_query *q[2];
	struct sg_diff *d;

	(void)state;
	two_profiles(&base, &new);
	d = diff_of(base, base, q);
	for (size_t i = 0; i < sg_diff_nrows(d); i++) {
		assert_near(sg_diff_row(d, i)->total.change, 0, 0);
		assert_false(sg_diff_row(d, i)->total.significant);
		assert_false(sg_diff_row(d, i)->self.significant);
	}
	sg_diff_free(d);
	sg_query_free(q[0]);
	sg_query_free(q[1]);
	assert_int_equal(sg_query_new(base, SG_BY_THREAD, NULL, &q[0]), 0);
	assert_int_equal(sg_diff_new(q[0], q[0], 0.01, true, &d), SG_EUSAGE);
	sg_query_free(q[0]);
	sg_profile_free(base);
	sg_profile_free(new);
}

/* The box of name in svg: its fill and its data-info. */
static void box(const char *svg, const char *name, unsigned rgb[3], char *info, size_t len)
{
	char title[128];
	const char *g, *s;

	snprintf(title, sizeof(title), "><title>%s\n", name);
	s = strstr(svg, title);
	assert_non_null(s);
	for (g = s; g > svg && strncmp(g, "<g ", 3) != 0; g--)
		;
	s = strstr(g, " data-info=\"");
	assert_non_null(s);
	s += strlen(" data-info=\"");
	assert_true((size_t)(strchr(s, '"') - s) < len);
	snprintf(info, len, "%.*s", (int)(strchr(s, '"') - s), s);
	s = strstr(s, "fill=\"rgb(");
	assert_non_null(s);
	assert_int_equal(sscanf(s, "fill=\"rgb(%u,%u,%u)", &rgb[0], &rgb[1], &rgb[2]), 3);
}

static char *write_graph(const struct sg_diff *d, bool on_base)
{
	struct sg_diff_graph_opts opts = {on_base, "base.pb.gz", "new.pb.gz", "function"};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(sg_flamegraph_write_diff(d, &opts, out), 0);
	fclose(out);
	return buf;
}

static void test_flame_graph(void **state)
{
	struct sg_profile *base, *new;
	struct sg_query *q[2];
	struct sg_diff *d;
	unsigned rgb[3];
	char info[256], *svg;

	(void)state;
	two_profiles(&base, &new);
	d = diff_of(base, new, q);
	svg = write_graph(d, false);
	assert_non_null(strstr(svg, "data-total=\"100\""));
	/* Laid out on NEW: c is there; a shrank 30 points (full blue), b grew
	 * 20 (full red), main stayed (white). */
	box(svg, "a (m.py)", rgb, info, sizeof(info));
	assert_true(rgb[0] == 80 && rgb[1] == 80 && rgb[2] == 255);
	assert_string_equal(info, "base 60.00% (60), new 30.00% (30), change -30.00 points "
	                          "(95% interval -42.16 to -16.29), significant");
	box(svg, "b (m.py)", rgb, info, sizeof(info));
	assert_true(rgb[0] == 255 && rgb[1] == 80 && rgb[2] == 80);
	box(svg, "c (m.py)", rgb, info, sizeof(info));
	assert_true(rgb[0] == 255 && rgb[1] == 80 && rgb[2] == 80); /* 10 points: full */
	assert_non_null(strstr(info, "new 10.00% (10)"));
	box(svg, "main (m.py)", rgb, info, sizeof(info));
	assert_true(rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255);
	assert_non_null(strstr(info, "not significant"));
	assert_non_null(strstr(svg, "on NEW: red grew"));
	free(svg);

	/* Laid out on BASE: c, which BASE has not, is not drawn. */
	svg = write_graph(d, true);
	assert_null(strstr(svg, "<title>c (m.py)"));
	assert_non_null(strstr(svg, "data-w=\"60\""));
	box(svg, "a (m.py)", rgb, info, sizeof(info));
	assert_true(rgb[2] == 255 && rgb[0] == 80);
	assert_non_null(strstr(svg, "on BASE: red grew"));
	free(svg);
	sg_diff_free(d);
	sg_query_free(q[0]);
	sg_query_free(q[1]);
	sg_profile_free(base);
	sg_profile_free(new);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_compare_newcombe),
	    cmocka_unit_test(test_compare_design_effect),
	    cmocka_unit_test(test_query_design_effect),
	    cmocka_unit_test(test_compare_degenerate),
	    cmocka_unit_test(test_holm),
	    cmocka_unit_test(test_rows_and_tree),
	    cmocka_unit_test(test_same_profile_moves_nothing),
	    cmocka_unit_test(test_flame_graph),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
