/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "sampler/threadwalk.h"
#include "util/err.h"

int sg_threadwalk_each(struct sg_pyproc *pp, struct sg_pywalker *w, uint64_t interp,
                       sg_threadwalk_fn fn, void *ctx)
{
	/* One bound over every interpreter's threads: torn lists could
	 * otherwise make it interpreters times threads. */
	size_t visited = 0;
	int err;

	for (; interp && visited < SG_PYWALK_MAX_THREADS; visited++) {
		struct sg_pyinterp is;
		uint64_t tstate;

		err = sg_pyproc_interp_read(pp, interp, &is);
		if (err)
			return err;
		/* Brent's cycle check: a list torn into a loop ends at its
		 * first repeat, not at the bound. */
		uint64_t mark = 0;
		size_t power = 1, run = 0;

		for (tstate = is.tstate_head;
		     tstate && tstate != mark && visited < SG_PYWALK_MAX_THREADS; visited++) {
			struct sg_pythread th;

			/* The list changed under us; the next look sees it whole. */
			if (sg_pywalk_thread(w, tstate, &th))
				break;
			err = fn(ctx, &th, &is);
			if (err)
				return err;
			if (++run == power) {
				mark = tstate;
				power *= 2;
				run = 0;
			}
			tstate = th.next;
		}
		interp = is.next;
	}
	return 0;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Before 3.11 frames are heap objects that other threads reuse (free lists,
 * a code object's zombie frame): a frame freed and taken by another thread
 * between reading the thread state and reading the frame sends the walk
 * down the other thread's chain, with no error to see. A thread's
 * outermost frame hardly ever changes, so a walk that ends elsewhere is
 * walked again; it is believed when it ends where it did last time, or
 * where the previous attempt ended (the thread did change its root: a new
 * call from C, a new thread on a reused thread state).
 */
int sg_threadwalk_frames(struct sg_pywalker *w, struct sg_u64map *roots,
                         const struct sg_pythread *th, struct sg_pyframe_raw *frames, size_t max,
                         struct sg_pystack *walk, uint64_t deadline_ns, uint64_t *retries)
{
	uint64_t known_root = 0, root = 0, previous_root = 0;
	bool known = sg_u64map_get(roots, th->tstate, &known_root);
	int err = 0;

	for (int attempt = 0; attempt < SG_THREADWALK_ATTEMPTS_MAX; attempt++) {
		if (attempt >= SG_THREADWALK_ATTEMPTS_MIN && deadline_ns != UINT64_MAX &&
		    monotonic_ns() > deadline_ns)
			break;
		/* A walk reads the thread state again with its frames. */
		if (attempt > 0)
			(*retries)++;
		previous_root = root;
		err = sg_pywalk_frames(w, th, frames, max, walk);
		root = walk->root;
		if (err == SG_ECORRUPT || err == SG_EREAD)
			continue;
		if (err || !root || (known && root == known_root))
			return err;
		if (!known || (attempt > 0 && root == previous_root))
			return sg_u64map_put(roots, th->tstate, root);
		err = SG_ECORRUPT;
	}
	return err;
}
