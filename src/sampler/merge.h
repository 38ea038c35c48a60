/* SPDX-License-Identifier: MIT */
#ifndef SG_SAMPLER_MERGE_H
#define SG_SAMPLER_MERGE_H

/*
 * record --native: one sample's native stack (unwound from the kernel's
 * copy of the user stack, sampler.c) and its Python stack (walked from the
 * same wake-up) made into one stack, in call order.
 *
 * Each native call of the interpreter's eval loop (SG_MERGE_EVAL) stands
 * for the Python frames it runs: before 3.11 exactly one; from 3.11 a run
 * of frames, from the innermost up to the one marked entry (the frame the
 * C-level call began with; pywalk.h). So the stacks match when there are
 * as many eval calls as runs, the outermost Python frame closing a run;
 * the k-th eval call from the leaf is then replaced by the k-th run. And
 * the innermost Python frame must be one that existed at the copy
 * (leaf_copied, the caller's check): on 3.11+ a call from Python to Python
 * made between the copy and the walk changes no count.
 *
 * When they do not match (the thread called or returned between the
 * kernel's copy and the walk, a frame was being pushed or popped, or the
 * copy did not reach the stack's root, which leaves nothing to tell a
 * missing eval call from a call made since), nothing is guessed: the
 * sample is
 * kept as its Python frames, then one frame "[unmatched]" (unmatched_id),
 * then the native frames above the innermost eval call (all of them when
 * there is none): what ran at the sample, without a claim about which
 * Python frame called it.
 *
 * Interpreter-internal call machinery (SG_MERGE_HELPER) is left out unless
 * all is set; every other frame (C extensions, libraries, the kernel, the
 * interpreter's own C functions such as the regex engine) is kept.
 *
 * Pure: no I/O, no global state; thread-safe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sg_merge_role {
	SG_MERGE_PLAIN,  /* kept */
	SG_MERGE_EVAL,   /* a call of the eval loop: replaced by Python frames */
	SG_MERGE_HELPER, /* the interpreter's calling machinery: folded */
};

/* One native frame (a profile frame id; inlined functions each have
 * their own), leaf first. */
struct sg_merge_native {
	uint32_t id;
	uint8_t role; /* enum sg_merge_role */
};

/* One Python frame, leaf first. */
struct sg_merge_python {
	uint32_t id;
	bool entry; /* the outermost of the frames one eval call runs */
};

/* The role of a function of the interpreter's binary named name, where
 * eval_name is the eval loop's function ("_PyEval_EvalFrameDefault" on
 * 3.x, "PyEval_EvalFrameEx" on 2.7, whose 3.x namesake is a wrapper).
 * Names with a compiler's suffix (".cold", ".constprop.0") are those of
 * the function they were split from. A function of any other binary is
 * SG_MERGE_PLAIN, whatever its name: the caller asks only for the
 * interpreter's. */
enum sg_merge_role sg_merge_role_of(const char *name, const char *eval_name);

/* A merged stack, root first; ids is owned (free(3) it). */
struct sg_merge_out {
	uint32_t *ids;
	size_t n, cap;
};

/*
 * Merge nn native and np Python frames (both leaf first) into out (its
 * previous content replaced, its buffer reused), as above. *matched says
 * whether the two matched. 0, or SG_ENOMEM.
 */
int sg_merge(const struct sg_merge_native *nat, size_t nn, const struct sg_merge_python *py,
             size_t np, bool leaf_copied, bool all, uint32_t unmatched_id, struct sg_merge_out *out,
             bool *matched);

#endif
