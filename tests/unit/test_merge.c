/* SPDX-License-Identifier: MIT */
/* sg_merge: eval calls replaced by their Python runs, helpers folded,
 * mismatches marked, never dropped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "sampler/merge.h"
#include "util/err.h"

#define EVAL      SG_MERGE_EVAL
#define HELPER    SG_MERGE_HELPER
#define PLAIN     SG_MERGE_PLAIN
#define UNMATCHED 999

static void assert_stack(const struct sg_merge_out *out, const uint32_t *want, size_t n)
{
	assert_int_equal(out->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out->ids[i], want[i]);
}

static void test_roles(void **state)
{
	(void)state;
	assert_int_equal(sg_merge_role_of("_PyEval_EvalFrameDefault", "_PyEval_EvalFrameDefault"),
	                 EVAL);
	assert_int_equal(
	    sg_merge_role_of("_PyEval_EvalFrameDefault.cold", "_PyEval_EvalFrameDefault"), EVAL);
	/* 3.x's PyEval_EvalFrameEx only calls the eval loop; 2.7's is it. */
	assert_int_equal(sg_merge_role_of("PyEval_EvalFrameEx", "_PyEval_EvalFrameDefault"),
	                 HELPER);
	assert_int_equal(sg_merge_role_of("PyEval_EvalFrameEx", "PyEval_EvalFrameEx"), EVAL);
	assert_int_equal(sg_merge_role_of("_PyEval_EvalFrameDefaultX", "_PyEval_EvalFrameDefault"),
	                 PLAIN);
	assert_int_equal(
	    sg_merge_role_of("_PyObject_VectorcallTstate.lto_priv.0", "_PyEval_EvalFrameDefault"),
	    HELPER);
	assert_int_equal(sg_merge_role_of("_PyFunction_Vectorcall", "_PyEval_EvalFrameDefault"),
	                 HELPER);
	assert_int_equal(
	    sg_merge_role_of("_PyMethodDescr_FastCallKeywords", "_PyEval_EvalFrameDefault"),
	    HELPER);
	assert_int_equal(sg_merge_role_of("cfunction_call_varargs", "_PyEval_EvalFrameDefault"),
	                 HELPER);
	assert_int_equal(sg_merge_role_of("sre_ucs1_search", "_PyEval_EvalFrameDefault"), PLAIN);
	assert_int_equal(sg_merge_role_of("builtin_exec", "_PyEval_EvalFrameDefault"), PLAIN);
}

/* Before 3.11: one Python frame per eval call; C in between kept. */
static void test_one_frame_per_eval(void **state)
{
	/* leaf: deflate (1) <- zlib_compress (2) <- [helper 3] <- eval (f) <-
	 * [helper 4] <- eval (g) <- main (5) */
	const struct sg_merge_native nat[] = {{1, PLAIN},  {2, PLAIN}, {3, HELPER}, {0, EVAL},
	                                      {4, HELPER}, {0, EVAL},  {5, PLAIN}};
	const struct sg_merge_python py[] = {{100, true}, {101, true}};
	const uint32_t want[] = {5, 101, 100, 2, 1};
	const uint32_t want_all[] = {5, 101, 4, 100, 3, 2, 1};
	struct sg_merge_out out = {0};
	bool matched = false;

	(void)state;
	assert_int_equal(sg_merge(nat, 7, py, 2, true, false, UNMATCHED, &out, &matched), 0);
	assert_true(matched);
	assert_stack(&out, want, 5);
	assert_int_equal(sg_merge(nat, 7, py, 2, true, true, UNMATCHED, &out, &matched), 0);
	assert_true(matched);
	assert_stack(&out, want_all, 7);
	free(out.ids);
}

/* 3.11+: one eval call runs Python frames up to its entry frame. */
static void test_runs(void **state)
{
	/* Python, leaf first: c, b (entry), a, main (entry); C between. */
	const struct sg_merge_native nat[] = {
	    {1, PLAIN}, {0, EVAL}, {2, PLAIN}, {0, EVAL}, {3, PLAIN}};
	const struct sg_merge_python py[] = {{10, false}, {11, true}, {12, false}, {13, true}};
	const uint32_t want[] = {3, 13, 12, 2, 11, 10, 1};
	struct sg_merge_out out = {0};
	bool matched = false;

	(void)state;
	assert_int_equal(sg_merge(nat, 5, py, 4, true, false, UNMATCHED, &out, &matched), 0);
	assert_true(matched);
	assert_stack(&out, want, 7);
	/* The same counts, but the innermost frame was pushed after the copy
	 * (a call from Python to Python adds no eval call). */
	assert_int_equal(sg_merge(nat, 5, py, 4, false, false, UNMATCHED, &out, &matched), 0);
	assert_false(matched);
	assert_int_equal(out.ids[out.n - 1], 1);
	assert_int_equal(out.ids[out.n - 2], UNMATCHED);
	free(out.ids);
}

/* More eval calls than runs (the thread returned between the copy and the
 * walk): kept, marked, the Python frames under what ran. */
static void test_unmatched(void **state)
{
	const struct sg_merge_native nat[] = {{1, PLAIN}, {7, HELPER}, {0, EVAL},
	                                      {0, EVAL},  {0, EVAL},   {5, PLAIN}};
	const struct sg_merge_python py[] = {{100, true}, {101, true}};
	const uint32_t want[] = {101, 100, UNMATCHED, 1};
	struct sg_merge_out out = {0};
	bool matched = true;

	(void)state;
	assert_int_equal(sg_merge(nat, 6, py, 2, true, false, UNMATCHED, &out, &matched), 0);
	assert_false(matched);
	assert_stack(&out, want, 4);
	free(out.ids);
}

/* Python frames outside any run (the outermost not an entry) cannot be
 * placed, even when the counts agree. */
static void test_open_run(void **state)
{
	const struct sg_merge_native nat[] = {{1, PLAIN}, {0, EVAL}};
	const struct sg_merge_python py[] = {{100, true}, {101, false}};
	const uint32_t want[] = {101, 100, UNMATCHED, 1};
	struct sg_merge_out out = {0};
	bool matched = true;

	(void)state;
	assert_int_equal(sg_merge(nat, 2, py, 2, true, false, UNMATCHED, &out, &matched), 0);
	assert_false(matched);
	assert_stack(&out, want, 4);
	free(out.ids);
}

/* No eval call unwound: every native frame over the marker. */
static void test_no_eval(void **state)
{
	const struct sg_merge_native nat[] = {{1, PLAIN}, {2, HELPER}, {3, PLAIN}};
	const struct sg_merge_python py[] = {{100, true}};
	const uint32_t want[] = {100, UNMATCHED, 3, 1};
	struct sg_merge_out out = {0};
	bool matched = true;

	(void)state;
	assert_int_equal(sg_merge(nat, 3, py, 1, true, false, UNMATCHED, &out, &matched), 0);
	assert_false(matched);
	assert_stack(&out, want, 4);
	free(out.ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roles),    cmocka_unit_test(test_one_frame_per_eval),
	    cmocka_unit_test(test_runs),     cmocka_unit_test(test_unmatched),
	    cmocka_unit_test(test_open_run), cmocka_unit_test(test_no_eval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
