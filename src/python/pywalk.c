/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "python/pywalk.h"
#include "target/proc.h"
#include "util/err.h"

#define PTHREAD_SCAN 2048 /* glibc keeps the tid well inside this */

/* 2.7's _PyGC_REFS_UNTRACKED, and 3.10's PyFrameState values. */
#define GC_UNTRACKED_27     (-2)
#define FRAME_EXECUTING_310 0
#define FRAME_UNWINDING_310 2

/* How many walks a page stays among the hints without being needed. */
#define HINT_WALKS 8

/* Struct copies are bounded by the row's sizes; this bounds the rows. */
#define MAX_COPY 1024

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
		*top = sg_layout_u64(tstate, l->tstate.frame);
		return 0;
	}
	cframe = sg_layout_u64(tstate, l->tstate.cframe);
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
	out->next = sg_layout_u64(buf, l->tstate.next);
	out->thread_id = sg_layout_u64(buf, l->tstate.thread_id);
	if (l->tstate.native_thread_id) {
		out->tid = (pid_t)sg_layout_u64(buf, l->tstate.native_thread_id);
	} else {
		if (w->tid_offset < 0)
			learn_tid_offset(w, out->thread_id);
		out->tid = tid_from_pthread(w, out->thread_id);
	}
	out->datastack_chunk =
	    l->tstate.datastack_chunk ? sg_layout_u64(buf, l->tstate.datastack_chunk) : 0;
	out->datastack_top =
	    l->tstate.datastack_top ? sg_layout_u64(buf, l->tstate.datastack_top) : 0;
	return top_frame_of(w, buf, NULL, &out->top_frame);
}

/* Read the code object a frame points at and check it is one. On 3.11+
 * *words receives the size of its frames, in 8-byte slots. */
static int read_code(struct sg_pywalker *w, uint64_t addr, struct sg_pycode_id *id, uint64_t *words)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint8_t buf[MAX_COPY];
	int err;

	/* Read every time (a page per walk at most, through the cache):
	 * trusting an address seen before once misnamed a function whose
	 * code object took the place of a freed module's. A frame popped
	 * while we walked may point at its code freed since: once a module's,
	 * whose file name string was already another's. */
	if (l->code.size > sizeof(buf))
		return SG_ECORRUPT;
	err = sg_memcache_read(w->cache, addr, buf, l->code.size);
	if (err)
		return err;
	if (!sg_layout_live_object(buf, w->proc->code_type))
		return SG_ECORRUPT;
	id->addr = addr;
	id->name = sg_layout_u64(buf, l->code.qualname ? l->code.qualname : l->code.name);
	id->filename = sg_layout_u64(buf, l->code.filename);
	id->firstlineno = sg_layout_i32(buf, l->code.firstlineno);
	if (words) {
		int32_t stack = sg_layout_i32(buf, l->code.stacksize);
		int32_t locals = sg_layout_i32(buf, l->code.nlocalsplus);

		if (stack < 0 || locals < 0)
			return SG_ECORRUPT;
		*words = (uint64_t)stack + (uint64_t)locals + l->frame.localsplus / 8;
	}
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

/* The top frame and, on 3.11+, the frame chunk as of the walk's up-front
 * read of the thread state, or as sg_pywalk_thread saw them when the
 * thread state cannot be read again. */
static void walk_thread_state(struct sg_pywalker *w, const struct sg_pythread *th,
                              struct sg_pythread *now)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint8_t buf[MAX_COPY];

	*now = *th;
	if (sg_memcache_read(w->cache, th->tstate, buf, l->tstate.size) ||
	    top_frame_of(w, buf, w->cache, &now->top_frame)) {
		now->top_frame = th->top_frame;
		return;
	}
	if (l->tstate.datastack_chunk) {
		now->datastack_chunk = sg_layout_u64(buf, l->tstate.datastack_chunk);
		now->datastack_top = sg_layout_u64(buf, l->tstate.datastack_top);
	}
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
		lasti = sg_layout_i32(frame, l->frame.lasti);
		return lasti < 0 ? -1 : lasti;
	case SG_LASTI_UNITS:
		lasti = sg_layout_i32(frame, l->frame.lasti);
		return lasti < 0 ? -1 : 2 * lasti;
	case SG_LASTI_POINTER:
		lasti = (int64_t)(sg_layout_u64(frame, l->frame.lasti) -
		                  (code + l->code.code_adaptive));
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

/* 3.11+ _stack_chunk (Include/cpython/pystate.h, the same to 3.13):
 * previous, size in bytes, top (saved when a newer chunk is pushed, in
 * slots from data), then the slots. */
#define CHUNK_PREVIOUS 0
#define CHUNK_SIZE     8
#define CHUNK_TOP      16
#define CHUNK_DATA     24
#define CHUNK_MAX      (1ull << 30) /* bytes: CPython's are 16 KiB, or one frame's */
/* _PyFrameOwner, 3.11 to 3.13 (Include/internal/pycore_frame.h). */
#define OWNED_BY_THREAD    0
#define OWNED_BY_GENERATOR 1

/*
 * Where a 3.11+ walk is in the thread's stack chunks. A thread's frames
 * are pushed one after the other into the newest chunk, each taking
 * nlocalsplus + stacksize + specials slots, and a frame that does not fit
 * starts a new chunk. So walking leaf to root, each frame the thread owns
 * ends exactly where the one walked before it (its callee) starts, or, in
 * an older chunk, where that chunk's saved top says; only the newest is
 * merely inside its chunk (the top of the stack may be read a moment
 * apart from it). Generators' frames live in the generator, and C-stack
 * shims on the C stack, so those are not in chunks.
 */
struct chunks {
	uint64_t chunk; /* the chunk the walk is in, 0 before 3.11 */
	uint64_t lo;    /* its first slot */
	uint64_t end;   /* where the next frame in it must end */
	bool exact;     /* must end there, not merely before */
	size_t hops;    /* chunks walked into */
};

static int chunks_start(struct sg_pywalker *w, const struct sg_pythread *now, struct chunks *c)
{
	uint64_t size;
	int err;

	memset(c, 0, sizeof(*c));
	if (w->proc->layout.frame_kind != SG_FRAME_INTERP)
		return 0;
	if (!now->datastack_chunk)
		return SG_ECORRUPT;
	err = sg_memcache_read(w->cache, now->datastack_chunk + CHUNK_SIZE, &size, sizeof(size));
	if (err)
		return err;
	c->chunk = now->datastack_chunk;
	c->lo = c->chunk + CHUNK_DATA;
	c->end = c->chunk + size;
	if (size <= CHUNK_DATA || size > CHUNK_MAX || now->datastack_top < c->lo ||
	    now->datastack_top > c->end)
		return SG_ECORRUPT;
	return 0;
}

/* Step into the chunk before c's: its frames end at its saved top. */
static int chunks_older(struct sg_pywalker *w, struct chunks *c)
{
	uint64_t head[3];
	int err;

	if (++c->hops > SG_PYWALK_WALK_LIMIT)
		return SG_ECORRUPT;
	err = sg_memcache_read(w->cache, c->chunk + CHUNK_PREVIOUS, &c->chunk, sizeof(c->chunk));
	if (err)
		return err;
	if (!c->chunk)
		return SG_ECORRUPT;
	err = sg_memcache_read(w->cache, c->chunk, head, sizeof(head));
	if (err)
		return err;
	if (head[CHUNK_SIZE / 8] <= CHUNK_DATA || head[CHUNK_SIZE / 8] > CHUNK_MAX ||
	    head[CHUNK_TOP / 8] > (head[CHUNK_SIZE / 8] - CHUNK_DATA) / 8)
		return SG_ECORRUPT;
	c->lo = c->chunk + CHUNK_DATA;
	c->end = c->lo + 8 * head[CHUNK_TOP / 8];
	c->exact = true;
	return 0;
}

/* Check that a frame the thread owns, words slots long, is where the
 * chunks say the next one must be. */
static int chunks_check(struct sg_pywalker *w, struct chunks *c, uint64_t frame, uint64_t words)
{
	int err;

	if (frame % 8 || words > CHUNK_MAX / 8)
		return SG_ECORRUPT;
	while (frame < c->lo || frame >= c->end) {
		err = chunks_older(w, c);
		if (err)
			return err;
	}
	if (frame + 8 * words > c->end || (c->exact && frame + 8 * words != c->end))
		return SG_ECORRUPT;
	c->end = frame;
	c->exact = true;
	return 0;
}

/*
 * Where a walk keeps the frames it meets: the first `inner` in order, then
 * the others round a ring over the rest of frames[], which so holds the
 * last (outermost) ones when the walk ends.
 */
struct keep {
	struct sg_pyframe_raw *frames;
	size_t max, inner, seen;
};

static struct sg_pyframe_raw *keep_next(struct keep *k)
{
	size_t i = k->seen++;

	if (i < k->inner)
		return &k->frames[i];
	return &k->frames[k->inner + (i - k->inner) % (k->max - k->inner)];
}

static void reverse(struct sg_pyframe_raw *f, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		struct sg_pyframe_raw t = f[i];

		f[i] = f[n - 1 - i];
		f[n - 1 - i] = t;
	}
}

/* Put the ring in walk order; the frames kept, how many were left out. */
static void keep_finish(struct keep *k, struct sg_pystack *out)
{
	size_t ring = k->max - k->inner, first;

	out->inner = k->inner;
	if (k->seen <= k->max) {
		out->depth = k->seen;
		out->omitted = 0;
		return;
	}
	/* Rotate left by where the oldest entry is: three reversals. */
	first = (k->seen - k->inner) % ring;
	reverse(k->frames + k->inner, first);
	reverse(k->frames + k->inner + first, ring - first);
	reverse(k->frames + k->inner, ring);
	out->depth = k->max;
	out->omitted = k->seen - k->max;
}

/* Check a 3.11+ frame, copied in buf at addr, against its owner and the
 * stack chunks, and read its code object into raw. *skip: a C-stack shim,
 * not a frame of the program. */
static int check_interp_frame(struct sg_pywalker *w, struct chunks *c, uint64_t addr,
                              const uint8_t *buf, struct sg_pyframe_raw *raw, bool *skip)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint8_t owner = buf[l->frame.owner];
	uint64_t words;
	int err;

	*skip = l->frame.owner_cstack && owner == l->frame.owner_cstack;
	if (*skip)
		return 0;
	/* A frame object's own copy is never on a thread's chain. */
	if (owner != OWNED_BY_THREAD && owner != OWNED_BY_GENERATOR)
		return SG_ECORRUPT;
	err = read_code(w, raw->code.addr, &raw->code, &words);
	if (err)
		return err;
	return owner == OWNED_BY_THREAD ? chunks_check(w, c, addr, words) : 0;
}

/*
 * Whether the innermost frame, read afresh, still holds what the walk read
 * from it. The walk's pages are copied one after another while the thread
 * runs, so a frame can be read after its call ended, or a code object
 * before the frame that now runs it: with allocators handing out the block
 * freed last, every address still matched, and a 2.7 program running fresh
 * code (exec) showed it called from its caller's caller. So one read, right
 * after the innermost frame and its code: the frame must run the same code
 * from the same caller, that code of the same name and file, and on 2.7
 * (frames are objects) the frame must still be the thread's top one,
 * or at least alive (a finished frame waits with a count of 0 as its
 * code's zombie, or is freed), since a thread that merely called on from
 * it tears nothing. While the innermost frame lives, its callers do.
 */
static int recheck_leaf(struct sg_pywalker *w, const struct sg_pythread *now,
                        struct sg_pyframe_raw *leaf)
{
	enum { CODE, BACK, NAME, FILENAME, TOP, REFCNT, WORDS };
	const struct sg_pylayout *l = &w->proc->layout;
	bool objects = l->frame_kind == SG_FRAME_OBJECT;
	uint64_t at[WORDS], got[WORDS];
	int err;

	/* 3.11+ read it with their frames; older walks read codes after. */
	if (objects) {
		err = read_code(w, leaf->code.addr, &leaf->code, NULL);
		if (err)
			return err;
		at[TOP] = now->tstate + l->tstate.frame;
		at[REFCNT] = leaf->frame + SG_OB_REFCNT;
	}
	at[CODE] = leaf->frame + l->frame.code;
	at[BACK] = leaf->frame + l->frame.back;
	at[NAME] = leaf->code.addr + (l->code.qualname ? l->code.qualname : l->code.name);
	at[FILENAME] = leaf->code.addr + l->code.filename;
	err = sg_mem_read_words(&w->proc->mem, at, got, objects ? WORDS : TOP);
	if (err)
		return err;
	if (got[CODE] != leaf->code.addr || got[BACK] != leaf->back ||
	    got[NAME] != leaf->code.name || got[FILENAME] != leaf->code.filename)
		return SG_ECORRUPT;
	if (objects && got[TOP] != now->top_frame && !sg_layout_live_count(got[REFCNT]))
		return SG_ECORRUPT;
	return 0;
}

/*
 * Follow the chain of frames from the top, leaf first, to the root, into
 * k. Every frame is checked: before 3.11 that it has not finished (a walk
 * that meets a finished frame went astray, into a code object's zombie
 * frame or down a free list linked through f_back), from 3.11 its owner,
 * its place in the stack chunks and its code object.
 */
static int walk_chain(struct sg_pywalker *w, const struct sg_pythread *now, struct keep *k,
                      uint64_t *root)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint8_t buf[MAX_COPY];
	uint64_t frame = now->top_frame;
	/* Brent's cycle finding: a frame met again is a loop made by a tear
	 * (a freed frame reused lower down the chain), not a deep stack. */
	uint64_t marker = frame;
	size_t seen = 0, power = 1, since_marker = 0;
	struct chunks chunks;
	struct sg_pyframe_raw *last = NULL; /* the frame kept last */
	int err = chunks_start(w, now, &chunks);

	for (; frame && !err; seen++) {
		struct sg_pyframe_raw raw;
		bool skip = false;

		if (seen >= SG_PYWALK_WALK_LIMIT || (seen > 0 && frame == marker))
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
		raw.frame = frame;
		raw.code.addr = sg_layout_u64(buf, l->frame.code);
		raw.offset = frame_offset(l, buf, raw.code.addr);
		raw.entry = l->frame_kind != SG_FRAME_INTERP ||
		            (l->frame.is_entry && buf[l->frame.is_entry] != 0);
		if (l->frame_kind == SG_FRAME_INTERP)
			err = check_interp_frame(w, &chunks, frame, buf, &raw, &skip);
		else if (frame_finished(w, frame, buf))
			err = SG_ECORRUPT;
		frame = raw.back = sg_layout_u64(buf, l->frame.back);
		/* 3.6-3.10 frames say themselves when their call has ended
		 * (frame_finished): nothing impossible was seen there. */
		if (!err && !skip && k->seen == 0 &&
		    (l->frame_kind == SG_FRAME_INTERP || l->frame_state_kind == SG_STATE_GC_REFS27))
			err = recheck_leaf(w, now, &raw);
		/* 3.12+: the eval call that pushed the shim began with the
		 * frame just below it (nothing is kept in between). */
		if (!err && skip && last)
			last->entry = true;
		if (!err && !skip) {
			last = keep_next(k);
			*last = raw;
		}
	}
	return err;
}

/* Read and check the code objects of a walk's frames (before 3.11: the
 * newer walks read them on the way). */
static int read_codes(struct sg_pywalker *w, struct sg_pyframe_raw *frames, size_t n)
{
	int err;

	if (w->proc->layout.frame_kind == SG_FRAME_INTERP)
		return 0;
	/* All their pages in one read first. */
	prefill_codes(w, frames, n);
	for (size_t i = 0; i < n; i++) {
		err = read_code(w, frames[i].code.addr, &frames[i].code, NULL);
		if (err)
			return err;
	}
	return 0;
}

int sg_pywalk_frames(struct sg_pywalker *w, const struct sg_pythread *th,
                     struct sg_pyframe_raw *frames, size_t max, struct sg_pystack *out)
{
	const struct sg_pylayout *l = &w->proc->layout;
	uint64_t frame_pages[SG_MEMCACHE_SLOTS];
	struct keep k = {.frames = frames, .max = max, .inner = max - max / 2};
	struct sg_pythread now;
	size_t nframe_pages;
	int err;

	memset(out, 0, sizeof(*out));
	if (max < 2)
		return SG_EUSAGE;
	if (l->frame.size > MAX_COPY || l->tstate.size > MAX_COPY)
		return SG_ECORRUPT;
	sg_memcache_clear(w->cache);
	prefill_walk(w, th);
	walk_thread_state(w, th, &now);
	err = walk_chain(w, &now, &k, &out->root);
	nframe_pages = sg_memcache_touched(w->cache, frame_pages, SG_MEMCACHE_SLOTS);
	keep_finish(&k, out);
	if (!err)
		err = read_codes(w, frames, out->depth);
	/* A torn walk's pages too: its retry then reads them all at once. */
	remember_pages(w, frame_pages, nframe_pages);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}
