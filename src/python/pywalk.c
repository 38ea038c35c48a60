/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "python/pywalk.h"
#include "target/proc.h"
#include "util/err.h"

#define OB_TYPE      8    /* PyObject.ob_type, after ob_refcnt */
#define PTHREAD_SCAN 2048 /* glibc keeps the tid well inside this */

/* 2.7's _PyGC_REFS_UNTRACKED, and 3.10's PyFrameState values. */
#define GC_UNTRACKED_27     (-2)
#define FRAME_EXECUTING_310 0
#define FRAME_UNWINDING_310 2

/* How many walks a page stays among the hints without being needed. */
#define HINT_WALKS 8

/* Struct copies are bounded by the row's sizes; this bounds the rows. */
#define MAX_COPY 1024

static uint64_t u64_at(const uint8_t *buf, uint32_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static int32_t i32_at(const uint8_t *buf, uint32_t off)
{
	int32_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

int sg_pywalker_init(struct sg_pywalker *w, struct sg_pyproc *proc)
{
	memset(w, 0, sizeof(*w));
	w->proc = proc;
	w->tid_offset = -1;
	w->cache = malloc(sizeof(*w->cache));
	if (!w->cache)
		return SG_ENOMEM;
	sg_memcache_init(w->cache, &proc->mem);
	return 0;
}

void sg_pywalker_release(struct sg_pywalker *w)
{
	free(w->cache);
	w->cache = NULL;
}

static bool is_task(const pid_t *tids, size_t n, int32_t value)
{
	for (size_t i = 0; i < n; i++)
		if (tids[i] == value)
			return true;
	return false;
}

/* Find where glibc's struct pthread keeps the tid: a pthread_t points at
 * a struct pthread, and the first word in it that is one of the process's
 * thread ids is the tid (for the main thread, the pid). */
static void learn_tid_offset(struct sg_pywalker *w, uint64_t thread_id)
{
	int32_t words[PTHREAD_SCAN / 4];
	pid_t *tids;
	size_t n;

	if (sg_mem_read(&w->proc->mem, thread_id, words, sizeof(words)) ||
	    sg_proc_tasks(w->proc->pid, &tids, &n))
		return;
	for (size_t i = 0; i < PTHREAD_SCAN / 4; i++) {
		if (words[i] > 0 && is_task(tids, n, words[i])) {
			w->tid_offset = (int)(i * 4);
			break;
		}
	}
	free(tids);
}

static pid_t tid_from_pthread(struct sg_pywalker *w, uint64_t thread_id)
{
	int32_t tid;

	if (w->tid_offset < 0 || !thread_id)
		return 0;
	if (sg_mem_read(&w->proc->mem, thread_id + (uint64_t)w->tid_offset, &tid, sizeof(tid)))
		return 0;
	return tid > 0 && sg_proc_has_task(w->proc->pid, tid) ? tid : 0;
}

/* The frame a thread state's copy says is on top: directly (<=3.10,
 * 3.13+) or through the _PyCFrame on the thread's C stack (3.11, 3.12),
 * read from the walk's cache when one is given. */
static int top_frame_of(struct sg_pywalker *w, const uint8_t *tstate, struct sg_memcache *cache,
                        uint64_t *top)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint64_t cframe;

	if (!l->tstate.cframe) {
		*top = u64_at(tstate, l->tstate.frame);
		return 0;
	}
	cframe = u64_at(tstate, l->tstate.cframe);
	*top = 0;
	if (!cframe)
		return 0;
	if (cache)
		return sg_memcache_read(cache, cframe + l->tstate.cframe_current, top,
		                        sizeof(*top));
	return sg_mem_read_ptr(&w->proc->mem, cframe + l->tstate.cframe_current, top);
}

int sg_pywalk_thread(struct sg_pywalker *w, uint64_t tstate, struct sg_pythread *out)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint8_t buf[MAX_COPY];
	int err;

	if (l->tstate.size > sizeof(buf))
		return SG_ECORRUPT;
	err = sg_mem_read(&w->proc->mem, tstate, buf, l->tstate.size);
	if (err)
		return err;
	out->tstate = tstate;
	out->next = u64_at(buf, l->tstate.next);
	out->thread_id = u64_at(buf, l->tstate.thread_id);
	if (l->tstate.native_thread_id) {
		out->tid = (pid_t)u64_at(buf, l->tstate.native_thread_id);
	} else {
		if (w->tid_offset < 0)
			learn_tid_offset(w, out->thread_id);
		out->tid = tid_from_pthread(w, out->thread_id);
	}
	out->datastack_chunk =
	    l->tstate.datastack_chunk ? u64_at(buf, l->tstate.datastack_chunk) : 0;
	out->datastack_top = l->tstate.datastack_top ? u64_at(buf, l->tstate.datastack_top) : 0;
	return top_frame_of(w, buf, NULL, &out->top_frame);
}

/* Read the code object a frame points at and check it is one. */
static int read_code(struct sg_pywalker *w, uint64_t addr, struct sg_pycode_id *id)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint8_t buf[MAX_COPY];
	int err;

	/* Read every time (a page per walk at most, through the cache):
	 * trusting an address seen before once misnamed a function whose
	 * code object took the place of a freed module's. */
	if (l->code.size > sizeof(buf))
		return SG_ECORRUPT;
	err = sg_memcache_read(w->cache, addr, buf, l->code.size);
	if (err)
		return err;
	if (u64_at(buf, OB_TYPE) != w->proc->code_type)
		return SG_ECORRUPT;
	id->addr = addr;
	id->name = u64_at(buf, l->code.qualname ? l->code.qualname : l->code.name);
	id->filename = u64_at(buf, l->code.filename);
	id->firstlineno = i32_at(buf, l->code.firstlineno);
	return 0;
}

/*
 * Before a walk, read in one call the pages it will most likely need: the
 * thread state, on 3.11+ the thread's frame chunk (its top first), then the
 * pages recent walks read from. The walk takes its top frame from this
 * copy of the thread state, so while the pages it needs are in the call,
 * it sees the stack as it was at one moment: a stack that changes fast
 * tears far less than when the thread state and the frames are read apart.
 * Programs mostly sample the same frames and code objects again, so a
 * steady walk costs this one call; pages that are not needed cost a copy,
 * and the walk reads whatever is missing as before.
 */
static void prefill_walk(struct sg_pywalker *w, const struct sg_pythread *th)
{
	uint64_t pages[2 * SG_MEMCACHE_SLOTS], mask = ~(uint64_t)(SG_MEMCACHE_PAGE - 1);
	uint64_t tstate_end = th->tstate + w->proc->layout.tstate.size - 1;
	size_t n = 0;

	pages[n++] = th->tstate & mask;
	if ((tstate_end & mask) != pages[0])
		pages[n++] = tstate_end & mask;
	if (th->datastack_chunk && th->datastack_top > th->datastack_chunk) {
		uint64_t first = th->datastack_chunk & mask;

		for (uint64_t page = (th->datastack_top - 1) & mask;
		     page >= first && n < SG_MEMCACHE_SLOTS / 2; page -= SG_MEMCACHE_PAGE)
			pages[n++] = page;
	}
	for (size_t i = 0; i < w->nhints; i++)
		pages[n++] = w->hints[i];
	sg_memcache_prefill_pages(w->cache, pages, n);
}

static bool has_page(const uint64_t *pages, size_t n, uint64_t page)
{
	for (size_t i = 0; i < n; i++)
		if (pages[i] == page)
			return true;
	return false;
}

/*
 * Keep the pages walks read as the next walk's hints: this walk's thread
 * state and frames first, then its code objects', then the pages of recent
 * walks that this one did not need. The kernel copies in that order; the
 * less time passes between copying the thread state and its frames, and
 * the fewer pages are left to read one by one after the up-front call,
 * the less a fast changing stack tears. Pages that no walk needed for
 * HINT_WALKS walks are let go.
 */
static void remember_pages(struct sg_pywalker *w, const uint64_t *frame_pages, size_t nframe_pages)
{
	uint64_t all[SG_MEMCACHE_SLOTS], hints[SG_MEMCACHE_SLOTS];
	uint8_t ages[SG_MEMCACHE_SLOTS];
	size_t nall = sg_memcache_touched(w->cache, all, SG_MEMCACHE_SLOTS), n = 0;

	for (size_t i = 0; i < nframe_pages; i++) {
		hints[n] = frame_pages[i];
		ages[n++] = 0;
	}
	for (size_t i = 0; i < nall && n < SG_MEMCACHE_SLOTS; i++) {
		if (!has_page(frame_pages, nframe_pages, all[i])) {
			hints[n] = all[i];
			ages[n++] = 0;
		}
	}
	for (size_t i = 0; i < w->nhints && n < SG_MEMCACHE_SLOTS; i++) {
		if (w->hint_ages[i] + 1 < HINT_WALKS && !has_page(all, nall, w->hints[i])) {
			hints[n] = w->hints[i];
			ages[n++] = (uint8_t)(w->hint_ages[i] + 1);
		}
	}
	memcpy(w->hints, hints, n * sizeof(*hints));
	memcpy(w->hint_ages, ages, n * sizeof(*ages));
	w->nhints = n;
}

/* The top frame as of the walk's up-front read, or as sg_pywalk_thread
 * saw it when the thread state cannot be read again. */
static uint64_t walk_top_frame(struct sg_pywalker *w, const struct sg_pythread *th)
{
	uint8_t buf[MAX_COPY];
	uint64_t top;

	if (sg_memcache_read(w->cache, th->tstate, buf, w->proc->layout.tstate.size) ||
	    top_frame_of(w, buf, w->cache, &top))
		return th->top_frame;
	return top;
}

/* Read the pages of the walk's code objects together: one system call
 * instead of one per page. */
static void prefill_codes(struct sg_pywalker *w, const struct sg_pyframe_raw *frames, size_t n)
{
	uint64_t pages[2 * SG_MEMCACHE_SLOTS], mask = ~(uint64_t)(SG_MEMCACHE_PAGE - 1);
	size_t npages = 0;

	for (size_t i = 0; i < n && npages + 2 <= sizeof(pages) / sizeof(pages[0]); i++) {
		uint64_t first = frames[i].code.addr & mask;
		uint64_t last = (frames[i].code.addr + w->proc->layout.code.size - 1) & mask;

		/* Recursion repeats the code just seen: skip the cheap duplicates. */
		if (npages && pages[npages - 1] == last)
			continue;
		pages[npages++] = first;
		if (last != first)
			pages[npages++] = last;
	}
	sg_memcache_prefill_pages(w->cache, pages, npages);
}

static int64_t frame_offset(const struct sg_pylayout *l, const uint8_t *frame, uint64_t code)
{
	int64_t lasti;

	switch (l->lasti_kind) {
	case SG_LASTI_BYTES:
		lasti = i32_at(frame, l->frame.lasti);
		return lasti < 0 ? -1 : lasti;
	case SG_LASTI_UNITS:
		lasti = i32_at(frame, l->frame.lasti);
		return lasti < 0 ? -1 : 2 * lasti;
	case SG_LASTI_POINTER:
		lasti = (int64_t)(u64_at(frame, l->frame.lasti) - (code + l->code.code_adaptive));
		return lasti < 0 ? -1 : lasti;
	}
	return -1;
}

/* Whether the call of the frame object at addr, copied in frame, has
 * ended. The outermost frame of a running thread never has: a walk that
 * ends in one went astray, into a code object's zombie frame or down a
 * free list linked through f_back. */
static bool frame_finished(struct sg_pywalker *w, uint64_t addr, const uint8_t *frame)
{
	const struct sg_pylayout *l = &w->proc->layout;
	int8_t state = (int8_t)frame[l->frame.state];
	int64_t gc_refs;

	switch (l->frame_state_kind) {
	case SG_STATE_NONE:
		return false;
	case SG_STATE_GC_REFS27:
		return sg_memcache_read(w->cache, addr - l->frame.state, &gc_refs,
		                        sizeof(gc_refs)) == 0 &&
		       gc_refs == GC_UNTRACKED_27;
	case SG_STATE_EXECUTING:
		return state == 0;
	case SG_STATE_310:
		return state > FRAME_EXECUTING_310 && state != FRAME_UNWINDING_310;
	}
	return false;
}

/* Follow the chain of frames from top, leaf first, into frames. */
static int walk_chain(struct sg_pywalker *w, uint64_t top, struct sg_pyframe_raw *frames,
                      size_t max, size_t *n, bool *truncated, uint64_t *root)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint8_t buf[MAX_COPY];
	uint64_t frame = top;
	/* Brent's cycle finding: a frame met again is a loop made by a tear
	 * (a freed frame reused lower down the chain), not a deep stack. */
	uint64_t marker = top;
	size_t seen = 0, power = 1, since_marker = 0;
	int err;

	for (; frame; seen++) {
		if (seen >= SG_PYWALK_MAX_DEPTH * 2)
			return SG_ECORRUPT;
		if (seen > 0 && frame == marker)
			return SG_ECORRUPT;
		if (++since_marker == power) {
			marker = frame;
			power *= 2;
			since_marker = 0;
		}
		err = sg_memcache_read(w->cache, frame, buf, l->frame.size);
		if (err)
			return err;
		*root = frame;
		if (l->frame.owner && buf[l->frame.owner] == l->frame.owner_cstack) {
			/* A shim frame the interpreter pushes on entry from C. */
			frame = u64_at(buf, l->frame.back);
			continue;
		}
		if (*n == max) {
			*truncated = true;
			*root = 0;
			return 0;
		}
		frames[*n].code.addr = u64_at(buf, l->frame.code);
		frames[*n].offset = frame_offset(l, buf, frames[*n].code.addr);
		(*n)++;
		frame = u64_at(buf, l->frame.back);
	}
	if (seen > 0 && frame_finished(w, *root, buf))
		return SG_ECORRUPT;
	return 0;
}

/* Read and check the code objects of a walk's frames. */
static int read_codes(struct sg_pywalker *w, struct sg_pyframe_raw *frames, size_t n)
{
	int err;

	/* All their pages in one read first. */
	prefill_codes(w, frames, n);
	for (size_t i = 0; i < n; i++) {
		err = read_code(w, frames[i].code.addr, &frames[i].code);
		if (err)
			return err;
	}
	return 0;
}

int sg_pywalk_frames(struct sg_pywalker *w, const struct sg_pythread *th,
                     struct sg_pyframe_raw *frames, size_t max, size_t *depth, bool *truncated,
                     uint64_t *root)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint64_t frame_pages[SG_MEMCACHE_SLOTS];
	size_t n = 0, nframe_pages;
	int err;

	if (l->frame.size > MAX_COPY || l->tstate.size > MAX_COPY)
		return SG_ECORRUPT;
	sg_memcache_clear(w->cache);
	prefill_walk(w, th);
	*truncated = false;
	*root = 0;
	err = walk_chain(w, walk_top_frame(w, th), frames, max, &n, truncated, root);
	nframe_pages = sg_memcache_touched(w->cache, frame_pages, SG_MEMCACHE_SLOTS);
	if (!err)
		err = read_codes(w, frames, n);
	/* A torn walk's pages too: its retry then reads them all at once. */
	remember_pages(w, frame_pages, nframe_pages);
	*depth = err ? 0 : n;
	return err;
}
