/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "sampler/merge.h"
#include "util/alloc.h"
#include "util/err.h"

/*
 * The interpreter's functions that only carry a call from one eval loop
 * (or a C function) to the next, 2.7 to 3.13: a Python user learns nothing
 * from them, and they differ between versions, so the same program would
 * give different stacks. A final '*' takes in a family
 * (_PyObject_VectorcallTstate, _PyObject_Call_Prepend, ...). Functions that
 * do work of their own (builtins, the regex engine, list.sort calling its
 * key, exec) are not here.
 */
static const char *const helpers[] = {"PyObject_Call*",
                                      "_PyObject_Call*",
                                      "PyObject_Vectorcall*",
                                      "_PyObject_Vectorcall*",
                                      "_PyObject_FastCall*",
                                      "_PyObject_MakeTpCall",
                                      "PyVectorcall_Call",
                                      "_PyVectorcall_Call",
                                      "_PyFunction_Vectorcall",
                                      "_PyFunction_FastCall*",
                                      "function_code_fastcall",
                                      "function_call", /* 2.7 */
                                      "PyCFunction_Call",
                                      "_PyCFunction_FastCall*",
                                      "_PyMethodDef_RawFastCall*",
                                      "_PyMethodDescr_FastCall*",
                                      "methoddescr_call",
                                      "cfunction_vectorcall*",
                                      "cfunction_call*",
                                      "method_vectorcall*",
                                      "vectorcall_method",
                                      "instancemethod_call",
                                      "slot_tp_call",
                                      "call_function",
                                      "fast_function",
                                      "do_call_core",
                                      "ext_do_call",
                                      "object_vacall",
                                      "_PyEval_EvalCode*",
                                      "PyEval_EvalCode*",
                                      "_PyEval_Vector",
                                      "_PyEval_EvalFrame",
                                      "PyEval_EvalFrame",
                                      "PyEval_EvalFrameEx",
                                      "gen_send_ex*",
                                      "PyEval_CallObjectWithKeywords"};

/* Whether name is base, or base with a suffix the compiler added to a part
 * or a copy of it. */
static bool is_function(const char *name, const char *base)
{
	size_t n = strlen(base);

	return strncmp(name, base, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

static bool is_helper(const char *name, const char *pattern)
{
	size_t n = strlen(pattern);

	if (n && pattern[n - 1] == '*')
		return strncmp(name, pattern, n - 1) == 0;
	return is_function(name, pattern);
}

enum sg_merge_role sg_merge_role_of(const char *name, const char *eval_name)
{
	if (is_function(name, eval_name))
		return SG_MERGE_EVAL;
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++)
		if (is_helper(name, helpers[i]))
			return SG_MERGE_HELPER;
	return SG_MERGE_PLAIN;
}

static int push(struct sg_merge_out *out, uint32_t id)
{
	if (sg_grow(&out->ids, &out->cap, out->n + 1, sizeof(*out->ids)))
		return SG_ENOMEM;
	out->ids[out->n++] = id;
	return 0;
}

static bool kept(const struct sg_merge_native *f, bool all)
{
	return f->role == SG_MERGE_PLAIN || (all && f->role == SG_MERGE_HELPER);
}

/* Whether there are as many eval calls as runs of Python frames, every
 * Python frame in one (the outermost closes a run). */
static bool counts_match(const struct sg_merge_native *nat, size_t nn,
                         const struct sg_merge_python *py, size_t np)
{
	size_t evals = 0, runs = 0;

	for (size_t i = 0; i < nn; i++)
		evals += nat[i].role == SG_MERGE_EVAL;
	for (size_t i = 0; i < np; i++)
		runs += py[i].entry;
	return np && py[np - 1].entry && evals == runs;
}

static void reverse(uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint32_t t = ids[i];

		ids[i] = ids[n - 1 - i];
		ids[n - 1 - i] = t;
	}
}

int sg_merge(const struct sg_merge_native *nat, size_t nn, const struct sg_merge_python *py,
             size_t np, bool leaf_copied, bool all, uint32_t unmatched_id, struct sg_merge_out *out,
             bool *matched)
{
	size_t next_py = 0, i = 0;
	int err = 0;

	out->n = 0;
	*matched = leaf_copied && counts_match(nat, nn, py, np);
	/* Built leaf first, as both inputs are, and turned round at the end. */
	for (; i < nn && !err; i++) {
		if (nat[i].role != SG_MERGE_EVAL) {
			err = kept(&nat[i], all) ? push(out, nat[i].id) : 0;
			continue;
		}
		if (!*matched)
			break;
		/* This call's run: up to and with the next entry frame. */
		do
			err = push(out, py[next_py].id);
		while (!err && !py[next_py++].entry);
	}
	if (!*matched) {
		err = err ? err : push(out, unmatched_id);
		for (size_t k = 0; k < np && !err; k++)
			err = push(out, py[k].id);
	}
	if (err)
		return err;
	reverse(out->ids, out->n);
	return 0;
}
