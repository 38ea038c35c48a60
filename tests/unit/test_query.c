/* SPDX-License-Identifier: MIT */
/* The report's queries: keys, filters, flat table, trees, callers, callees;
 * and how often the Wilson interval covers the truth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/query.h"
#include "profile/report.h"
#include "util/err.h"

#include "profile_fixtures.h"

/* main;a;burn x6, main;b;burn x2, main;a x1 (idle), main;rec;rec;rec x3,
 * in thread 1 "one" except main;b;burn, in thread 2 "two". */
static struct sg_profile *sample_profile(void)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t main_ = fx_frame(p, "main", "/app/site-packages/pkg/__init__.py", 1);
	uint32_t a = fx_frame(p, "a", "/app/site-packages/pkg/mod.py", 3);
	uint32_t b = fx_frame(p, "b", "/app/site-packages/pkg/mod.py", 9);
	uint32_t burn = fx_frame(p, "burn", "/usr/lib/python3.11/json/decoder.py", 5);
	uint32_t burn2 = fx_frame(p, "burn", "/usr/lib/python3.11/json/decoder.py", 6);
	uint32_t rec = fx_frame(p, "rec", "script.py", 2);

	fx_add(p, (uint32_t[]){main_, a, burn}, 3, 1, 1, "one", 0, 4);
	fx_add(p, (uint32_t[]){main_, a, burn2}, 3, 1, 1, "one", 0, 2);
	fx_add(p, (uint32_t[]){main_, b, burn}, 3, 1, 2, "two", 0, 2);
	fx_add(p, (uint32_t[]){main_, a}, 2, 1, 1, "one", SG_SAMPLE_IDLE, 1);
	fx_add(p, (uint32_t[]){main_, rec, rec, rec}, 4, 1, 1, "one", 0, 3);
	return p;
}

static const struct sg_query_row *
row_named(const struct sg_query *q, const struct sg_query_row *rows, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(sg_query_key(q, rows[i].key), key) == 0)
			return &rows[i];
	fail_msg("no row %s", key);
	return NULL;
}

static void test_flat_by_function(void **state)
{
	struct sg_profile *p = sample_profile();
	struct sg_query *q;
	struct sg_query_row *rows;
	const struct sg_query_row *r;
	size_t n;

	(void)state;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, NULL, &q), 0);
	assert_int_equal(sg_query_total(q), 12);
	assert_int_equal(sg_query_total_idle(q), 1);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	assert_int_equal(n, 5);
	/* The two lines of burn are one function. */
	assert_string_equal(sg_query_key(q, rows[0].key),
	                    "burn (/usr/lib/python3.11/json/decoder.py)");
	assert_int_equal(rows[0].self, 8);
	assert_int_equal(rows[0].total, 8);
	r = row_named(q, rows, n, "rec (script.py)");
	assert_int_equal(r->self, 3);
	assert_int_equal(r->total, 3); /* recursion counts once per sample */
	r = row_named(q, rows, n, "a (/app/site-packages/pkg/mod.py)");
	assert_int_equal(r->self, 1);
	assert_int_equal(r->self_idle, 1);
	assert_int_equal(r->total, 7);
	assert_int_equal(r->total_idle, 1);
	r = row_named(q, rows, n, "main (/app/site-packages/pkg/__init__.py)");
	assert_int_equal(r->self, 0); /* total only */
	assert_int_equal(r->total, 12);
	assert_string_equal(sg_query_key(q, rows[n - 1].key), "b (/app/site-packages/pkg/mod.py)");
	free(rows);
	/* By total: main first; by name: alphabetical. */
	assert_int_equal(sg_query_flat(q, SG_SORT_TOTAL, &rows, &n), 0);
	assert_string_equal(sg_query_key(q, rows[0].key),
	                    "main (/app/site-packages/pkg/__init__.py)");
	free(rows);
	assert_int_equal(sg_query_flat(q, SG_SORT_NAME, &rows, &n), 0);
	assert_string_equal(sg_query_key(q, rows[0].key), "a (/app/site-packages/pkg/mod.py)");
	assert_string_equal(sg_query_key(q, rows[n - 1].key), "rec (script.py)");
	free(rows);
	sg_query_free(q);
	sg_profile_free(p);
}

static void test_keys(void **state)
{
	struct sg_profile *p = sample_profile();
	struct sg_query *q;
	struct sg_query_row *rows;
	size_t n;

	(void)state;
	assert_int_equal(sg_query_new(p, SG_BY_LINE, NULL, &q), 0);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	assert_int_equal(
	    row_named(q, rows, n, "burn (/usr/lib/python3.11/json/decoder.py:5)")->self, 6);
	assert_int_equal(
	    row_named(q, rows, n, "burn (/usr/lib/python3.11/json/decoder.py:6)")->self, 2);
	free(rows);
	sg_query_free(q);

	assert_int_equal(sg_query_new(p, SG_BY_MODULE, NULL, &q), 0);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(row_named(q, rows, n, "json.decoder")->self, 8);
	assert_int_equal(row_named(q, rows, n, "pkg.mod")->total, 9);
	assert_int_equal(row_named(q, rows, n, "pkg")->total, 12);
	assert_int_equal(row_named(q, rows, n, "script")->self, 3);
	free(rows);
	sg_query_free(q);

	assert_int_equal(sg_query_new(p, SG_BY_THREAD, NULL, &q), 0);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(sg_query_key(q, rows[0].key), "thread 1: one");
	assert_int_equal(rows[0].self, 10);
	assert_int_equal(rows[0].total, 10);
	assert_int_equal(rows[1].self, 2);
	free(rows);
	sg_query_free(q);
	/* A thread renamed during the run is one row, named as most samples. */
	fx_add(p, (uint32_t[]){fx_frame(p, "boot", "b.py", 1)}, 1, 1, 1, "python3", 0, 2);
	assert_int_equal(sg_query_new(p, SG_BY_THREAD, NULL, &q), 0);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(sg_query_key(q, rows[0].key), "thread 1: one");
	assert_int_equal(rows[0].total, 12);
	free(rows);
	sg_query_free(q);
	sg_profile_free(p);
}

static void test_module_names(void **state)
{
	static const char *const cases[][2] = {
	    {"/usr/lib/python3.11/json/decoder.py", "json.decoder"},
	    {"/usr/lib/python3/dist-packages/requests/api.py", "requests.api"},
	    {"/root/.pyenv/versions/3.12.1/lib/python3.12/threading.py", "threading"},
	    {"/venv/lib/python3.12/site-packages/numpy/__init__.py", "numpy"},
	    {"/usr/lib64/python2.7/os.py", "os"},
	    {"<frozen importlib._bootstrap>", "importlib._bootstrap"},
	    {"tests/workloads/cpu_split.py", "cpu_split"},
	    {"script.py", "script"},
	    {"/opt/python-tools/x.py", "x"}, /* "python" not followed by a version */
	    {"", "[no file]"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sg_query_module(cases[i][0], buf, sizeof(buf));
		assert_string_equal(buf, cases[i][1]);
	}
	sg_query_module("/usr/lib/python3.11/averyveryverylongname.py", buf, 8);
	assert_string_equal(buf, "averyve");
}

static void test_filters(void **state)
{
	struct sg_profile *p = sample_profile();
	struct sg_query_filter f = {0};
	struct sg_query *q;
	regex_t focus, ignore;

	(void)state;
	assert_int_equal(regcomp(&focus, "^b$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regcomp(&ignore, "script\\.py", REG_EXTENDED | REG_NOSUB), 0);
	f.focus = &focus;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &f, &q), 0);
	assert_int_equal(sg_query_total(q), 2);
	sg_query_free(q);
	/* ignore matches a file, too */
	f.focus = NULL;
	f.ignore = &ignore;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &f, &q), 0);
	assert_int_equal(sg_query_total(q), 9);
	sg_query_free(q);
	/* by name and by tid */
	f.ignore = NULL;
	f.thread = "two";
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &f, &q), 0);
	assert_int_equal(sg_query_total(q), 2);
	sg_query_free(q);
	f.thread = "1";
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &f, &q), 0);
	assert_int_equal(sg_query_total(q), 10);
	sg_query_free(q);
	/* no timeline: a window cannot be asked for */
	f.thread = NULL;
	f.window = true;
	f.to_ns = 1000;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &f, &q), SG_EUSAGE);
	assert_null(q);
	regfree(&focus);
	regfree(&ignore);
	sg_profile_free(p);
}

static void test_window(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_labels l = {.pid = 1, .tid = 1};
	uint32_t f = fx_frame(p, "f", "f.py", 1), g = fx_frame(p, "g", "f.py", 2);
	uint32_t sf = sg_profile_stack_id(p, &f, 1), sg = sg_profile_stack_id(p, &g, 1);
	struct sg_query_filter w = {.window = true};
	struct sg_query *q;

	(void)state;
	/* f from 0 to 100 ms (10 samples), g from 100 to 200 ms (10 samples). */
	for (uint64_t i = 0; i < 20; i++)
		assert_int_equal(
		    sg_profile_add_at(p, i < 10 ? sf : sg, &l, 1, 10000000, i * 10000000), 0);
	w.from_ns = 50000000;
	w.to_ns = 150000000;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &w, &q), 0);
	assert_int_equal(sg_query_total(q), 10); /* half of each run */
	assert_int_equal(sg_query_recount(q, NULL, 0), SG_EUSAGE);
	sg_query_free(q);
	w.from_ns = 100000000;
	w.to_ns = UINT64_MAX;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &w, &q), 0);
	assert_int_equal(sg_query_total(q), 10);
	sg_query_free(q);
	sg_profile_free(p);
}

/* Rows counted as given: what two readings of a filling profile differ by. */
static void test_counts(void **state)
{
	struct sg_profile *p = sample_profile();
	/* Rows: main;a;burn 4, main;a;burn2 2, main;b;burn 2, main;a 1 idle,
	 * rec 3. Counted: 1, 0, 2, 1, and the fifth (past ncounts) none. */
	uint64_t counts[] = {1, 0, 2, 1};
	struct sg_query_filter f = {.counts = counts, .ncounts = 4};
	struct sg_query *q, *all;
	struct sg_query_row *rows;
	size_t n;

	(void)state;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &f, &q), 0);
	assert_int_equal(sg_query_total(q), 4);
	assert_int_equal(sg_query_total_idle(q), 1);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	assert_int_equal(n, 4); /* rec is not seen */
	assert_string_equal(sg_query_key(q, rows[0].key),
	                    "burn (/usr/lib/python3.11/json/decoder.py)");
	assert_int_equal(rows[0].self, 3);
	assert_int_equal(row_named(q, rows, n, "a (/app/site-packages/pkg/mod.py)")->total, 2);
	/* The same function has the same key in a query of all the rows. */
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, NULL, &all), 0);
	assert_string_equal(sg_query_key(all, rows[0].key), sg_query_key(q, rows[0].key));
	free(rows);
	/* Counted anew, with the same keys: rec's 3 alone, then the rows'
	 * own counts again. */
	assert_int_equal(sg_query_recount(q, (uint64_t[]){0, 0, 0, 0, 3}, 5), 0);
	assert_int_equal(sg_query_total(q), 3);
	assert_int_equal(sg_query_total_idle(q), 0);
	assert_int_equal(sg_query_flat(q, SG_SORT_SELF, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(sg_query_key(q, rows[0].key), "rec (script.py)");
	assert_int_equal(rows[0].self, 3);
	free(rows);
	assert_int_equal(sg_query_recount(q, NULL, 0), 0);
	assert_int_equal(sg_query_total(q), sg_query_total(all));
	sg_query_free(all);
	sg_query_free(q);
	/* Counts and a window do not go together. */
	f.window = true;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, &f, &q), SG_EUSAGE);
	sg_profile_free(p);
}

/* Each node's total is its self plus its children's totals. */
static uint64_t check_sums(const struct sg_query_node *nodes, uint32_t i)
{
	uint64_t sum = nodes[i].self;

	for (uint32_t c = nodes[i].first_child; c != SG_QUERY_NONE; c = nodes[c].next_sibling) {
		assert_int_equal(nodes[c].parent, i);
		assert_int_equal(nodes[c].depth, nodes[i].depth + 1);
		if (nodes[c].next_sibling != SG_QUERY_NONE)
			assert_true(nodes[c].total >= nodes[nodes[c].next_sibling].total);
		sum += check_sums(nodes, c);
	}
	assert_int_equal(sum, nodes[i].total);
	return nodes[i].total;
}

static uint32_t child_named(const struct sg_query *q, const struct sg_query_node *nodes, uint32_t i,
                            const char *prefix)
{
	for (uint32_t c = nodes[i].first_child; c != SG_QUERY_NONE; c = nodes[c].next_sibling)
		if (strncmp(sg_query_key(q, nodes[c].key), prefix, strlen(prefix)) == 0)
			return c;
	fail_msg("no child %s", prefix);
	return SG_QUERY_NONE;
}

static void test_tree(void **state)
{
	struct sg_profile *p = sample_profile();
	struct sg_query_node *nodes;
	struct sg_query *q;
	uint32_t m, rec, burn;
	size_t n;

	(void)state;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, NULL, &q), 0);
	assert_int_equal(sg_query_tree(q, false, false, &nodes, &n), 0);
	/* root, main, a, b, burn under a, burn under b, rec x3 */
	assert_int_equal(n, 9);
	assert_int_equal(check_sums(nodes, 0), 12);
	m = child_named(q, nodes, 0, "main");
	assert_int_equal(nodes[m].total, 12);
	assert_string_equal(sg_query_key(q, nodes[nodes[m].first_child].key),
	                    "a (/app/site-packages/pkg/mod.py)");
	rec = child_named(q, nodes, m, "rec");
	assert_int_equal(nodes[rec].self, 0);
	assert_int_equal(nodes[nodes[nodes[rec].first_child].first_child].self, 3);
	free(nodes);
	/* Recursion collapsed: rec is one node with the three samples. */
	assert_int_equal(sg_query_tree(q, false, true, &nodes, &n), 0);
	assert_int_equal(n, 7);
	check_sums(nodes, 0);
	rec = child_named(q, nodes, child_named(q, nodes, 0, "main"), "rec");
	assert_int_equal(nodes[rec].self, 3);
	assert_int_equal(nodes[rec].first_child, SG_QUERY_NONE);
	free(nodes);
	/* Inverted: burn is a root, its callers a (6) and b (2) below. */
	assert_int_equal(sg_query_tree(q, true, false, &nodes, &n), 0);
	check_sums(nodes, 0);
	burn = child_named(q, nodes, 0, "burn");
	assert_int_equal(nodes[burn].total, 8);
	assert_int_equal(nodes[child_named(q, nodes, burn, "a ")].total, 6);
	assert_int_equal(nodes[child_named(q, nodes, burn, "b ")].total, 2);
	free(nodes);
	sg_query_free(q);
	/* No tree of threads. */
	assert_int_equal(sg_query_new(p, SG_BY_THREAD, NULL, &q), 0);
	assert_int_equal(sg_query_tree(q, false, false, &nodes, &n), SG_EUSAGE);
	sg_query_free(q);
	sg_profile_free(p);
}

static void test_neighbours(void **state)
{
	struct sg_profile *p = sample_profile();
	struct sg_query_edge *e;
	struct sg_query *q;
	uint64_t through;
	regex_t re;
	size_t n;

	(void)state;
	assert_int_equal(sg_query_new(p, SG_BY_FUNCTION, NULL, &q), 0);
	assert_int_equal(regcomp(&re, "^burn$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(sg_query_neighbours(q, &re, true, &e, &n, &through), 0);
	assert_int_equal(through, 8);
	assert_int_equal(n, 2);
	assert_string_equal(sg_query_key(q, e[0].key), "a (/app/site-packages/pkg/mod.py)");
	assert_int_equal(e[0].count, 6);
	assert_int_equal(e[1].count, 2);
	free(e);
	assert_int_equal(sg_query_neighbours(q, &re, false, &e, &n, &through), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].key, SG_QUERY_NONE); /* burn is always the leaf */
	assert_int_equal(e[0].count, 8);
	free(e);
	regfree(&re);
	/* rec calls itself: its callers are main and rec, each sample counted once. */
	assert_int_equal(regcomp(&re, "^rec$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(sg_query_neighbours(q, &re, true, &e, &n, &through), 0);
	assert_int_equal(through, 3);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].count, 3);
	assert_int_equal(e[1].count, 3);
	free(e);
	regfree(&re);
	sg_query_free(q);
	sg_profile_free(p);
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Coverage of the Wilson interval, on synthetic binomial data (cheaper and
 * exactly independent, unlike samples of a real run): for shares from 2% to
 * 50% and 50 to 2000 samples, k ~ Binomial(n, p) drawn 2000 times each; the
 * interval must hold p about 95% of the time. Wilson's coverage oscillates
 * with n and p around its nominal level, by a point or so once n*p >= 5;
 * below that it can fall to 92% (n = 50, p = 2%: 92.3% here), as Brown, Cai
 * and DasGupta (2001) describe, so those cases are left out (the README says
 * so). The seeded draws make the result reproducible. */
static void test_interval_coverage(void **state)
{
	static const double shares[] = {0.02, 0.1, 0.3, 0.5};
	static const uint64_t sizes[] = {50, 200, 2000};
	uint64_t seed = 0x2545f4914f6cdd1dull;

	(void)state;
	for (size_t i = 0; i < sizeof(shares) / sizeof(shares[0]); i++)
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			int covered = 0, trials = 2000;

			if (shares[i] * (double)sizes[j] < 5)
				continue;

			for (int t = 0; t < trials; t++) {
				uint64_t k = 0;
				double lo, hi;

				for (uint64_t d = 0; d < sizes[j]; d++)
					k += (double)(next_rand(&seed) >> 11) / 9007199254740992.0 <
					     shares[i];
				sg_report_interval(k, sizes[j], &lo, &hi);
				covered += lo <= shares[i] && shares[i] <= hi;
			}
			if (covered < 0.925 * trials || covered > 0.975 * trials)
				fail_msg("p=%g n=%llu: covered %d of %d", shares[i],
				         (unsigned long long)sizes[j], covered, trials);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flat_by_function),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_module_names),
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_tree),
	    cmocka_unit_test(test_neighbours),
	    cmocka_unit_test(test_interval_coverage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
