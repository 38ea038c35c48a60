/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/perf_event.h>

#include "native/sym.h"
#include "native/unwind.h"
#include "python/pycode.h"
#include "python/pyproc.h"
#include "python/pythreads.h"
#include "python/pywalk.h"
#include "sampler/merge.h"
#include "sampler/snapshot.h"
#include "sampler/threadwalk.h"
#include "target/hold.h"
#include "target/maps.h"
#include "target/mem.h"
#include "target/proc.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/u64map.h"

/* Native frames one thread's copy is unwound to, at most: a few per
 * Python call before 3.11. */
#define MAX_NATIVE 16384

/* One native frame of the thread being merged, leaf first. */
struct natframe {
	char *function, *file; /* owned until moved into the thread's frames */
	int line;
	bool jit;
};

/* What every process of a snapshot shares. */
struct shared {
	const struct sg_snapshot_opts *opts;
	struct sg_pyframe_raw *raw;      /* SG_PYWALK_MAX_DEPTH */
	struct sg_syms *syms;            /* with native */
	uint8_t *stack;                  /* SG_SNAPSHOT_STACK_BYTES, with native */
	struct sg_unwind_frame *uframes; /* MAX_NATIVE, with native */
	struct natframe *nat;
	struct sg_merge_native *mnat;
	size_t nnat, nat_cap, mnat_cap;
	struct sg_merge_python *mpy;
	bool *entry; /* of each resolved Python frame, root first */
	size_t mpy_cap, entry_cap;
	struct sg_merge_out merged;
};

/* What taking one process's snapshot needs. */
struct snap {
	struct sg_snapproc *sp;
	struct sg_pyproc pp;
	struct sg_pywalker walker;
	struct sg_pycodes *codes;
	struct sg_pythreads *names;
	struct sg_u64map roots;
	struct sg_pyframe_raw *raw;
	struct shared *sh;
	struct sg_unwind *uw; /* with native */
	struct sg_maps maps;  /* with native: where each stack ends */
	size_t cap;           /* of sp->threads */
};

static char *dup_str(const char *s)
{
	size_t len = strlen(s) + 1;
	char *copy = malloc(len);

	if (copy)
		memcpy(copy, s, len);
	return copy;
}

/* Resolve a walk (leaf first) into th's frames, outermost first, leaving
 * out CPython's shim frames; whether each is the entry of an eval call
 * (a shim's mark goes to the next frame kept, as in the sampler) into
 * sn->sh->entry. */
static int resolve_frames(struct snap *sn, struct sg_snapthread *th, const struct sg_pystack *walk)
{
	bool entry = false;

	th->frames = calloc(walk->depth, sizeof(*th->frames));
	if (!th->frames ||
	    sg_grow(&sn->sh->entry, &sn->sh->entry_cap, walk->depth + 1, sizeof(*sn->sh->entry)))
		return SG_ENOMEM;
	for (size_t i = walk->depth; i-- > 0;) {
		struct sg_snapframe *f = &th->frames[th->nframes];
		const struct sg_pycode *code;
		int err = sg_pycodes_get(sn->codes, &sn->raw[i].code, &code);

		if (err == SG_ENOMEM)
			return err;
		if (walk->omitted && i + 1 == walk->inner) {
			th->omitted = walk->omitted;
			th->omitted_at = th->nframes;
		}
		entry |= sn->raw[i].entry;
		if (!err && code->shim)
			continue;
		sn->sh->entry[th->nframes] = entry;
		entry = false;
		/* A code object that changed since the walk checked it. */
		f->function = dup_str(err ? "?" : code->name);
		f->file = dup_str(err ? "?" : code->filename);
		f->line = err ? 0 : sg_pycode_line(sn->codes, code, sn->raw[i].offset);
		th->nframes++;
		if (!f->function || !f->file)
			return SG_ENOMEM;
		if (sn->sh->opts->locals)
			f->locals_err =
			    sg_pylocals_read(&sn->pp, sn->raw[i].frame, sn->raw[i].code.addr,
			                     &f->locals, &f->nlocals);
		if (f->locals_err == SG_ENOMEM)
			return SG_ENOMEM;
	}
	return 0;
}

/*
 * The walk of one thread's stack into *walk (depth 0: none). The first walk
 * that is not torn is believed by the walker only because nothing was
 * known of the thread; a second walk must then end at the same outermost
 * frame (or agree with its own retry), so a walk sent down another
 * thread's frames is not shown as this one's. 0 (th->err says whether it
 * was read) or SG_ENOMEM.
 */
static int walk_stack(struct snap *sn, const struct sg_pythread *pt, struct sg_snapthread *th,
                      struct sg_pystack *walk)
{
	uint64_t retries = 0;
	int err = 0;

	memset(walk, 0, sizeof(*walk));
	if (!pt->top_frame)
		return 0;
	for (int pass = 0; pass < 2 && !err; pass++)
		err = sg_threadwalk_frames(&sn->walker, &sn->roots, pt, sn->raw,
		                           SG_PYWALK_MAX_DEPTH, walk, UINT64_MAX, &retries);
	if (err == SG_ENOMEM)
		return err;
	th->err = err;
	if (err)
		walk->depth = 0;
	return 0;
}

/* The used part of the stack from sp: to the end of its mapping, at most
 * SG_SNAPSHOT_STACK_BYTES, into sn->sh->stack. The maps are read again
 * once for a stack not in them (a thread started since). */
static int copy_stack(struct snap *sn, uint64_t sp, size_t *len)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sn->maps.n; i++) {
			const struct sg_map *m = &sn->maps.maps[i];

			if (sp < m->start || sp >= m->end)
				continue;
			*len = m->end - sp < SG_SNAPSHOT_STACK_BYTES ? (size_t)(m->end - sp)
			                                             : SG_SNAPSHOT_STACK_BYTES;
			return sg_mem_read(&sn->pp.mem, sp, sn->sh->stack, *len);
		}
		sg_maps_release(&sn->maps);
		if (pass == 0 && sg_maps_read(sn->sp->pid, &sn->maps))
			break;
	}
	return SG_EREAD;
}

/*
 * With native: th held still while its registers and stack are copied and
 * its Python frames walked, so that both are of one moment. A thread that
 * cannot be held is walked as it runs, with the reason in th->native_err.
 */
static int walk_held(struct snap *sn, const struct sg_pythread *pt, struct sg_snapthread *th,
                     struct sg_pystack *walk, uint64_t regs[SG_HOLD_NREGS], size_t *stack_len)
{
	struct sg_hold hold;
	int err;

	th->native_err = pt->tid ? sg_hold(sn->sp->pid, pt->tid, &hold) : SG_ENOPROC;
	if (th->native_err)
		return walk_stack(sn, pt, th, walk);
	th->native_err = sg_hold_regs(&hold, regs);
	if (!th->native_err)
		th->native_err = copy_stack(sn, regs[SG_HOLD_REG_SP], stack_len);
	err = walk_stack(sn, pt, th, walk);
	sg_release(&hold, &th->held_ns);
	return err;
}

struct native_ctx {
	struct snap *sn;
	bool in_interp; /* the frame is in the interpreter's binary */
};

static int on_native(void *ctx, const struct sg_sym_frame *f)
{
	struct native_ctx *c = ctx;
	struct shared *sh = c->sn->sh;
	const char *eval = sg_pyproc_eval_name(c->sn->pp.layout.major);
	struct natframe *n;

	if (sg_grow(&sh->nat, &sh->nat_cap, sh->nnat + 1, sizeof(*sh->nat)) ||
	    sg_grow(&sh->mnat, &sh->mnat_cap, sh->nnat + 1, sizeof(*sh->mnat)))
		return SG_ENOMEM;
	n = &sh->nat[sh->nnat];
	*n = (struct natframe){
	    .function = dup_str(f->name), .file = dup_str(f->file), .line = f->line, .jit = f->jit};
	/* Only the interpreter's own functions are its eval loop or its
	 * helpers: an extension's call_function is the extension's. */
	sh->mnat[sh->nnat] = (struct sg_merge_native){
	    .id = (uint32_t)sh->nnat,
	    .role = (uint8_t)(c->in_interp && !f->kernel ? sg_merge_role_of(f->name, eval)
	                                                 : SG_MERGE_PLAIN)};
	sh->nnat++;
	return n->function && n->file ? 0 : SG_ENOMEM;
}

static void free_natives(struct shared *sh)
{
	for (size_t i = 0; i < sh->nnat; i++) {
		free(sh->nat[i].function);
		free(sh->nat[i].file);
	}
	sh->nnat = 0;
}

/* The copied stack unwound into sn->sh->nat, leaf first. */
static int unwind_copy(struct snap *sn, const struct sg_snapthread *th, const uint64_t *regs,
                       size_t stack_len)
{
	struct shared *sh = sn->sh;
	struct sg_perf_record rec = {
	    .type = PERF_RECORD_SAMPLE, .pid = (uint32_t)sn->sp->pid, .tid = (uint32_t)th->tid};
	struct native_ctx c = {.sn = sn};
	bool dwarf;
	size_t n;
	int err = 0;

	rec.sample.abi = PERF_SAMPLE_REGS_ABI_64;
	rec.sample.regs = regs;
	rec.sample.nregs = SG_HOLD_NREGS;
	rec.sample.stack = sh->stack;
	rec.sample.stack_size = stack_len;
	n = sg_unwind_sample(sn->uw, SG_UNWIND_DWARF, &rec, sh->uframes, MAX_NATIVE, &dwarf);
	for (size_t i = 0; i < n && !err; i++) {
		const struct sg_unwind_map *m = sg_unwind_find(sn->uw, sh->uframes[i].pc);

		c.in_interp = m && strcmp(m->path, sn->pp.binary) == 0;
		err = sg_syms_resolve(sh->syms, sn->uw, &sh->uframes[i], on_native, &c);
	}
	return err;
}

/* th's Python frames (root first) merged with the native ones of its copy:
 * each frame moved into the merged order, natives and "[unmatched]" new. */
static int merge_frames(struct snap *sn, struct sg_snapthread *th, const uint64_t *regs,
                        size_t stack_len)
{
	struct shared *sh = sn->sh;
	size_t np = th->nframes, nn, omitted_at = th->omitted_at;
	uint32_t unmatched;
	struct sg_snapframe *frames;
	bool matched;
	int err = unwind_copy(sn, th, regs, stack_len);

	nn = sh->nnat;
	unmatched = (uint32_t)(nn + np);
	if (!err && sg_grow(&sh->mpy, &sh->mpy_cap, np + 1, sizeof(*sh->mpy)))
		err = SG_ENOMEM;
	for (size_t k = 0; k < np && !err; k++)
		sh->mpy[k] = (struct sg_merge_python){.id = (uint32_t)(nn + np - 1 - k),
		                                      .entry = sh->entry[np - 1 - k]};
	/* Held: the leaf Python frame was there when the stack was copied. */
	if (!err)
		err = sg_merge(sh->mnat, nn, sh->mpy, np, true, false, unmatched, &sh->merged,
		               &matched);
	frames = err ? NULL : calloc(sh->merged.n + 1, sizeof(*frames));
	if (!frames)
		err = SG_ENOMEM;
	for (size_t j = 0; !err && j < sh->merged.n; j++) {
		uint32_t id = sh->merged.ids[j];
		struct sg_snapframe *f = &frames[j];

		if (id < nn) {
			struct natframe *n = &sh->nat[id];

			*f = (struct sg_snapframe){.function = n->function,
			                           .file = n->file,
			                           .line = n->line,
			                           .kind = n->jit ? SG_SNAPFRAME_JIT
			                                          : SG_SNAPFRAME_NATIVE};
			n->function = n->file = NULL;
		} else if (id < unmatched) {
			*f = th->frames[id - nn];
			th->frames[id - nn] = (struct sg_snapframe){0};
			if (th->omitted && id - nn == omitted_at)
				th->omitted_at = j;
		} else {
			*f = (struct sg_snapframe){.function = dup_str("[unmatched]"),
			                           .file = dup_str(""),
			                           .kind = SG_SNAPFRAME_UNMATCHED};
			if (!f->function || !f->file)
				err = SG_ENOMEM;
		}
	}
	free_natives(sh);
	if (err) {
		free(frames);
		return err;
	}
	/* Every Python frame is in the merged stack, matched or not. */
	free(th->frames);
	th->frames = frames;
	th->nframes = sh->merged.n;
	th->native = true;
	th->matched = matched;
	return 0;
}

/* What the kernel says th is doing. */
static void read_state(pid_t pid, struct sg_snapthread *th)
{
	if (!th->tid)
		return;
	if (sg_proc_task_state(pid, th->tid, &th->state))
		th->state = '?';
	if (sg_proc_task_syscall(pid, th->tid, &th->syscall))
		th->syscall = LONG_MIN;
}

static int snap_thread(void *ctx, struct sg_pythread *pt, const struct sg_pyinterp *is)
{
	struct snap *sn = ctx;
	struct sg_snapproc *sp = sn->sp;
	struct sg_snapthread *th;

	if (sp->nthreads == sn->cap) {
		size_t cap = sn->cap ? sn->cap * 2 : 8;
		struct sg_snapthread *threads = realloc(sp->threads, cap * sizeof(*threads));

		if (!threads)
			return SG_ENOMEM;
		sp->threads = threads;
		sn->cap = cap;
	}
	th = &sp->threads[sp->nthreads++];
	memset(th, 0, sizeof(*th));
	th->tid = pt->tid;
	th->thread_id = pt->thread_id;
	th->gil = pt->tstate == is->gil_holder;
	th->state = '?';
	th->syscall = LONG_MIN;
	/* The names are read during this one visit, while the threads live:
	 * any reading is theirs. The kernel's name for threads the threading
	 * module does not list. */
	if (sg_pythreads_name(sn->names, pt, 0, th->name, sizeof(th->name)) &&
	    (!pt->tid || sg_proc_task_comm(sp->pid, pt->tid, th->name, sizeof(th->name))))
		th->name[0] = '\0';
	uint64_t regs[SG_HOLD_NREGS];
	size_t stack_len = 0;
	struct sg_pystack walk;
	int err;

	/* Held, a thread is what it was doing as it stopped, and is running
	 * again just after; else what it does at the end of its walk, the
	 * line shown innermost. */
	if (sn->uw)
		read_state(sp->pid, th);
	err =
	    sn->uw ? walk_held(sn, pt, th, &walk, regs, &stack_len) : walk_stack(sn, pt, th, &walk);
	if (!err && walk.depth)
		err = resolve_frames(sn, th, &walk);
	if (!err && sn->uw && !th->native_err && !th->err)
		err = merge_frames(sn, th, regs, stack_len);
	if (!err && !sn->uw)
		read_state(sp->pid, th);
	return err;
}

static void reverse_threads(struct sg_snapproc *sp)
{
	for (size_t i = 0; i < sp->nthreads / 2; i++) {
		struct sg_snapthread t = sp->threads[i];

		sp->threads[i] = sp->threads[sp->nthreads - 1 - i];
		sp->threads[sp->nthreads - 1 - i] = t;
	}
}

/* Fill sp for pid; sp->err and sp->why say why not. */
static int snap_proc(pid_t pid, struct sg_snapproc *sp, struct shared *sh)
{
	struct snap sn = {.sp = sp, .raw = sh->raw, .sh = sh};
	uint64_t interp;
	pid_t tid;
	int err;

	sp->pid = pid;
	sg_u64map_init(&sn.roots);
	/* Through a live thread: the main one may have exited alone. */
	err = sg_proc_live_task(pid, &tid);
	if (!err)
		err = sg_pyproc_open(tid, &sn.pp, sp->why, sizeof(sp->why));
	if (err) {
		sg_proc_describe_error(pid, err, sp->why, sizeof(sp->why));
		sp->err = err;
		return err;
	}
	sp->version = sn.pp.version;
	if (sg_proc_cmdline(tid, sp->command, sizeof(sp->command)))
		sp->command[0] = '\0';
	err = sg_pywalker_init(&sn.walker, &sn.pp);
	sn.codes = sg_pycodes_new(&sn.pp);
	sn.names = sg_pythreads_new(&sn.pp);
	if (!err && (!sn.codes || !sn.names))
		err = SG_ENOMEM;
	/* Unreadable maps are read again at the first stack copy. */
	if (!err && sh->opts->native && sg_maps_read(pid, &sn.maps))
		sg_maps_release(&sn.maps);
	if (!err && sh->opts->native)
		err = sg_unwind_new(pid, true, &sn.uw);
	if (!err && sh->opts->native && !sn.pp.eval_loop)
		snprintf(sp->native_note, sizeof(sp->native_note),
		         "%s has no symbol for %s, the eval loop, so no native stack of it can be "
		         "matched: use a build of it that keeps its symbol tables",
		         sn.pp.binary, sg_pyproc_eval_name(sn.pp.layout.major));
	if (!err)
		err = sg_pyproc_interp_head(&sn.pp, &interp);
	if (!err)
		err = sg_threadwalk_each(&sn.pp, &sn.walker, interp, snap_thread, &sn);
	reverse_threads(sp);
	if (err == SG_ENOTREADY)
		snprintf(sp->why, sizeof(sp->why),
		         "the CPython %u.%u in process %d has not started its interpreter yet",
		         sp->version.major, sp->version.minor, (int)pid);
	else if (err && !sg_proc_describe_error(pid, err, sp->why, sizeof(sp->why)))
		snprintf(sp->why, sizeof(sp->why), "could not read the threads of process %d: %s",
		         (int)pid, sg_err_str(err));
	sp->err = err;
	sg_unwind_free(sn.uw);
	sg_maps_release(&sn.maps);
	sg_pythreads_free(sn.names);
	sg_pycodes_free(sn.codes);
	sg_pywalker_release(&sn.walker);
	sg_u64map_release(&sn.roots);
	return err;
}

static int add_proc(struct sg_snapshot *snap, size_t *cap, struct sg_snapproc **out)
{
	if (snap->nprocs == *cap) {
		size_t n = *cap ? *cap * 2 : 4;
		struct sg_snapproc *procs = realloc(snap->procs, n * sizeof(*procs));

		if (!procs)
			return SG_ENOMEM;
		snap->procs = procs;
		*cap = n;
	}
	*out = &snap->procs[snap->nprocs++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

static void free_proc(struct sg_snapproc *sp)
{
	for (size_t i = 0; i < sp->nthreads; i++) {
		for (size_t j = 0; j < sp->threads[i].nframes; j++) {
			free(sp->threads[i].frames[j].function);
			free(sp->threads[i].frames[j].file);
			free(sp->threads[i].frames[j].locals);
		}
		free(sp->threads[i].frames);
	}
	free(sp->threads);
	memset(sp, 0, sizeof(*sp));
}

/* Every descendant of pid, parents before their children. */
static int descendants(pid_t pid, pid_t **out, size_t *n)
{
	size_t cap = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	/* Breadth first over the list itself: the children of pid, then of
	 * each entry in turn, are appended as it is reached. */
	for (size_t i = 0; i <= *n && !err; i++) {
		pid_t parent = i == 0 ? pid : (*out)[i - 1], *kids;
		size_t nkids;

		if (sg_proc_children(parent, &kids, &nkids))
			continue;
		for (size_t k = 0; k < nkids && !err; k++) {
			if (*n == cap) {
				size_t c = cap ? cap * 2 : 8;
				pid_t *v = realloc(*out, c * sizeof(*v));

				if (!v) {
					err = SG_ENOMEM;
					break;
				}
				*out = v;
				cap = c;
			}
			(*out)[(*n)++] = kids[k];
		}
		free(kids);
	}
	return err;
}

static void release_shared(struct shared *sh)
{
	free_natives(sh);
	free(sh->nat);
	free(sh->mnat);
	free(sh->mpy);
	free(sh->entry);
	free(sh->merged.ids);
	free(sh->uframes);
	free(sh->stack);
	sg_syms_free(sh->syms);
	free(sh->raw);
}

int sg_snapshot_take(pid_t pid, const struct sg_snapshot_opts *opts, struct sg_snapshot *out,
                     char *why, size_t whylen)
{
	struct shared sh = {.opts = opts, .raw = malloc(SG_PYWALK_MAX_DEPTH * sizeof(*sh.raw))};
	struct sg_snapproc *sp;
	pid_t *kids = NULL;
	size_t cap = 0, nkids = 0;
	int err = sh.raw ? 0 : SG_ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!err && opts->native) {
		sh.stack = malloc(SG_SNAPSHOT_STACK_BYTES);
		sh.uframes = malloc(MAX_NATIVE * sizeof(*sh.uframes));
		err = !sh.stack || !sh.uframes ? SG_ENOMEM : sg_syms_new(&sh.syms);
	}
	if (!err)
		err = add_proc(out, &cap, &sp);
	if (!err) {
		err = snap_proc(pid, sp, &sh);
		snprintf(why, whylen, "%s", sp->why);
	}
	if (!err && opts->subprocesses)
		err = descendants(pid, &kids, &nkids);
	for (size_t i = 0; i < nkids && !err; i++) {
		err = add_proc(out, &cap, &sp);
		if (err)
			break;
		/* A descendant that is not Python (a shell between two
		 * pythons) or has just exited is left out; one that runs
		 * CPython but cannot be read is kept, saying why. */
		int got = snap_proc(kids[i], sp, &sh);

		if (got == SG_ENOTPY || got == SG_ENOPROC) {
			free_proc(sp);
			out->nprocs--;
		}
	}
	if (err == SG_ENOMEM)
		snprintf(why, whylen, "out of memory");
	free(kids);
	release_shared(&sh);
	return err;
}

void sg_snapshot_release(struct sg_snapshot *snap)
{
	for (size_t i = 0; i < snap->nprocs; i++)
		free_proc(&snap->procs[i]);
	free(snap->procs);
	memset(snap, 0, sizeof(*snap));
}
