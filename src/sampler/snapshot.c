/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pycode.h"
#include "python/pyproc.h"
#include "python/pythreads.h"
#include "python/pywalk.h"
#include "sampler/snapshot.h"
#include "sampler/threadwalk.h"
#include "target/proc.h"
#include "util/err.h"
#include "util/u64map.h"

/* What taking one process's snapshot needs. */
struct snap {
	struct sg_snapproc *sp;
	struct sg_pyproc pp;
	struct sg_pywalker walker;
	struct sg_pycodes *codes;
	struct sg_pythreads *names;
	struct sg_u64map roots;
	struct sg_pyframe_raw *raw;
	size_t cap;  /* of sp->threads */
	bool locals; /* read each frame's locals */
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
 * out CPython's shim frames. */
static int resolve_frames(struct snap *sn, struct sg_snapthread *th, const struct sg_pystack *walk)
{
	th->frames = calloc(walk->depth, sizeof(*th->frames));
	if (!th->frames)
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
		if (!err && code->shim)
			continue;
		/* A code object that changed since the walk checked it. */
		f->function = dup_str(err ? "?" : code->name);
		f->file = dup_str(err ? "?" : code->filename);
		f->line = err ? 0 : sg_pycode_line(sn->codes, code, sn->raw[i].offset);
		th->nframes++;
		if (!f->function || !f->file)
			return SG_ENOMEM;
		if (sn->locals)
			f->locals_err =
			    sg_pylocals_read(&sn->pp, sn->raw[i].frame, sn->raw[i].code.addr,
			                     &f->locals, &f->nlocals);
		if (f->locals_err == SG_ENOMEM)
			return SG_ENOMEM;
	}
	return 0;
}

/*
 * The stack of one thread. The first walk that is not torn is believed by
 * the walker only because nothing was known of the thread; a second walk
 * must then end at the same outermost frame (or agree with its own retry),
 * so a walk sent down another thread's frames is not shown as this one's.
 */
static int snap_stack(struct snap *sn, const struct sg_pythread *pt, struct sg_snapthread *th)
{
	struct sg_pystack walk = {0};
	uint64_t retries = 0;
	int err = 0;

	if (!pt->top_frame)
		return 0;
	for (int pass = 0; pass < 2 && !err; pass++)
		err = sg_threadwalk_frames(&sn->walker, &sn->roots, pt, sn->raw,
		                           SG_PYWALK_MAX_DEPTH, &walk, UINT64_MAX, &retries);
	if (err == SG_ENOMEM)
		return err;
	th->err = err;
	return err ? 0 : resolve_frames(sn, th, &walk);
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
	if (snap_stack(sn, pt, th))
		return SG_ENOMEM;
	/* Read after the stack: what the thread does now is what it was
	 * doing at the end of its walk, the line shown innermost. */
	if (th->tid) {
		if (sg_proc_task_state(sp->pid, th->tid, &th->state))
			th->state = '?';
		if (sg_proc_task_syscall(sp->pid, th->tid, &th->syscall))
			th->syscall = LONG_MIN;
	}
	return 0;
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
static int snap_proc(pid_t pid, struct sg_snapproc *sp, struct sg_pyframe_raw *raw, bool locals)
{
	struct snap sn = {.sp = sp, .raw = raw, .locals = locals};
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

int sg_snapshot_take(pid_t pid, const struct sg_snapshot_opts *opts, struct sg_snapshot *out,
                     char *why, size_t whylen)
{
	struct sg_pyframe_raw *raw = malloc(SG_PYWALK_MAX_DEPTH * sizeof(*raw));
	struct sg_snapproc *sp;
	pid_t *kids = NULL;
	size_t cap = 0, nkids = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = raw ? add_proc(out, &cap, &sp) : SG_ENOMEM;
	if (!err) {
		err = snap_proc(pid, sp, raw, opts->locals);
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
		int got = snap_proc(kids[i], sp, raw, opts->locals);

		if (got == SG_ENOTPY || got == SG_ENOPROC) {
			free_proc(sp);
			out->nprocs--;
		}
	}
	if (err == SG_ENOMEM)
		snprintf(why, whylen, "out of memory");
	free(kids);
	free(raw);
	return err;
}

void sg_snapshot_release(struct sg_snapshot *snap)
{
	for (size_t i = 0; i < snap->nprocs; i++)
		free_proc(&snap->procs[i]);
	free(snap->procs);
	memset(snap, 0, sizeof(*snap));
}
