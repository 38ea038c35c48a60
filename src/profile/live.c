/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/live.h"
#include "profile/query.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/u64map.h"

struct sg_live {
	const struct sg_profile *p;
	uint64_t *cur;   /* the rows' counts at the last reading */
	uint64_t *delta; /* and what they grew by since the one before */
	size_t ncur;
};

/* What a view's keys are borrowed from. */
struct view_priv {
	struct sg_query **queries;
	size_t n, cap;
};

int sg_live_new(const struct sg_profile *p, struct sg_live **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return SG_ENOMEM;
	(*out)->p = p;
	return 0;
}

void sg_live_free(struct sg_live *l)
{
	if (!l)
		return;
	free(l->cur);
	free(l->delta);
	free(l);
}

int sg_live_read(struct sg_live *l)
{
	size_t n = sg_profile_nsamples(l->p);
	uint64_t *cur = malloc((n ? n : 1) * sizeof(*cur));
	uint64_t *delta = malloc((n ? n : 1) * sizeof(*delta));

	if (!cur || !delta) {
		free(cur);
		free(delta);
		return SG_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		cur[i] = sg_profile_sample(l->p, i)->count;
		delta[i] = cur[i] - (i < l->ncur ? l->cur[i] : 0);
	}
	free(l->cur);
	free(l->delta);
	l->cur = cur;
	l->delta = delta;
	l->ncur = n;
	return 0;
}

uint64_t sg_live_fn_self(const struct sg_live_fn *fn, bool idle)
{
	return idle ? fn->self : fn->self - fn->self_idle;
}

uint64_t sg_live_fn_total(const struct sg_live_fn *fn, bool idle)
{
	return idle ? fn->total : fn->total - fn->total_idle;
}

uint64_t sg_live_fn_all_self(const struct sg_live_fn *fn, bool idle)
{
	return idle ? fn->all_self : fn->all_self - fn->all_self_idle;
}

uint64_t sg_live_fn_all_total(const struct sg_live_fn *fn, bool idle)
{
	return idle ? fn->all_total : fn->all_total - fn->all_total_idle;
}

static int keep_query(struct view_priv *vp, struct sg_query *q)
{
	if (sg_grow(&vp->queries, &vp->cap, vp->n + 1, sizeof(*vp->queries))) {
		sg_query_free(q);
		return SG_ENOMEM;
	}
	vp->queries[vp->n++] = q;
	return 0;
}

/* A query by function over counts (ncur of them), kept in vp. */
static int query(const struct sg_live *l, const struct sg_live_view_opts *o, const uint64_t *counts,
                 struct view_priv *vp, struct sg_query **q)
{
	struct sg_query_filter f = {
	    .counts = counts,
	    .ncounts = l->ncur,
	    .file_name = o->file_name,
	    .file_arg = o->file_arg,
	};
	/* No reading yet: no rows count. */
	static const uint64_t none[1];
	int err;

	if (!f.counts)
		f.counts = none;
	err = sg_query_new(l->p, SG_BY_FUNCTION, &f, q);
	return err ? err : keep_query(vp, *q);
}

static uint64_t sort_figure(const struct sg_live_fn *fn, enum sg_live_sort sort, bool idle)
{
	switch (sort) {
	case SG_LIVE_SELF:
		return sg_live_fn_self(fn, idle);
	case SG_LIVE_TOTAL:
		return sg_live_fn_total(fn, idle);
	case SG_LIVE_ALL_SELF:
		return sg_live_fn_all_self(fn, idle);
	default:
		return sg_live_fn_all_total(fn, idle);
	}
}

/* The other figure of the same span: total after self, self after total. */
static enum sg_live_sort other_sort(enum sg_live_sort sort)
{
	static const enum sg_live_sort other[] = {SG_LIVE_TOTAL, SG_LIVE_SELF, SG_LIVE_ALL_TOTAL,
	                                          SG_LIVE_ALL_SELF};
	return other[sort];
}

static int cmp_desc(uint64_t a, uint64_t b)
{
	return a == b ? 0 : a < b ? 1 : -1;
}

static int cmp_fns(const void *a, const void *b, void *arg)
{
	const struct sg_live_view_opts *o = arg;
	const struct sg_live_fn *x = a, *y = b;
	int r = cmp_desc(sort_figure(x, o->sort, o->idle), sort_figure(y, o->sort, o->idle));

	if (!r)
		r = cmp_desc(sort_figure(x, other_sort(o->sort), o->idle),
		             sort_figure(y, other_sort(o->sort), o->idle));
	return r ? r : strcmp(x->key, y->key);
}

/* The functions the two queries count (over the interval and since the
 * start), sorted. Both are of the same frames: a function has the same key
 * in each, and one seen in the interval was seen since the start. */
static int functions(const struct sg_live_view_opts *o, const struct sg_query *interval,
                     const struct sg_query *all, struct sg_live_fn **out, size_t *nout)
{
	struct sg_query_row *rows = NULL, *all_rows = NULL;
	struct sg_u64map at = SG_U64MAP_INIT;
	struct sg_live_fn *fns = NULL;
	size_t n = 0, nall = 0, kept = 0;
	uint64_t i_fn;
	int err;

	*out = NULL;
	*nout = 0;
	err = sg_query_flat(interval, SG_SORT_SELF, &rows, &n);
	if (!err)
		err = sg_query_flat(all, SG_SORT_SELF, &all_rows, &nall);
	if (!err && !(fns = calloc(nall ? nall : 1, sizeof(*fns))))
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < nall; i++) {
		const struct sg_query_row *r = &all_rows[i];

		fns[i] = (struct sg_live_fn){.key = sg_query_key(all, r->key),
		                             .all_self = r->self,
		                             .all_self_idle = r->self_idle,
		                             .all_total = r->total,
		                             .all_total_idle = r->total_idle};
		err = sg_u64map_put(&at, (uint64_t)r->key + 1, i);
	}
	for (size_t i = 0; !err && i < n; i++) {
		const struct sg_query_row *r = &rows[i];

		if (!sg_u64map_get(&at, (uint64_t)r->key + 1, &i_fn))
			continue;
		fns[i_fn].self = r->self;
		fns[i_fn].self_idle = r->self_idle;
		fns[i_fn].total = r->total;
		fns[i_fn].total_idle = r->total_idle;
	}
	for (size_t i = 0; !err && i < nall; i++)
		if (sg_live_fn_all_total(&fns[i], o->idle))
			fns[kept++] = fns[i];
	if (!err && kept)
		qsort_r(fns, kept, sizeof(*fns), cmp_fns, (void *)o);
	free(rows);
	free(all_rows);
	sg_u64map_release(&at);
	if (err) {
		free(fns);
		return err;
	}
	*out = fns;
	*nout = kept;
	return 0;
}

static int cmp_threads(const void *a, const void *b, void *arg)
{
	const bool *idle = arg;
	const struct sg_live_thread *x = a, *y = b;
	int r = cmp_desc(x->samples - (*idle ? 0 : x->idle), y->samples - (*idle ? 0 : y->idle));

	if (!r)
		r = cmp_desc(x->all_samples - (*idle ? 0 : x->all_idle),
		             y->all_samples - (*idle ? 0 : y->all_idle));
	return r ? r : (x->tid > y->tid) - (x->tid < y->tid);
}

/* Totals, processes and threads, from the rows: one pass. */
static int threads(const struct sg_live *l, struct sg_live_view *v, bool idle)
{
	struct sg_u64map thread_at = SG_U64MAP_INIT, pid_seen = SG_U64MAP_INIT;
	size_t threads_cap = 0, pids_cap = 0;
	uint64_t at;
	int err = 0;

	for (size_t i = 0; !err && i < l->ncur; i++) {
		const struct sg_sample *s = sg_profile_sample(l->p, i);
		bool is_idle = s->labels.flags & SG_SAMPLE_IDLE;
		uint64_t d = l->delta[i],
		         key = (uint64_t)(uint32_t)s->labels.tid << 32 | (uint32_t)s->labels.pid;
		struct sg_live_thread *th;

		v->samples += d;
		v->all_samples += l->cur[i];
		v->idle += is_idle ? d : 0;
		v->all_idle += is_idle ? l->cur[i] : 0;
		v->gil += s->labels.flags & SG_SAMPLE_GIL ? d : 0;
		if (d && !sg_u64map_get(&pid_seen, (uint64_t)(uint32_t)s->labels.pid + 1, &at)) {
			err = sg_u64map_put(&pid_seen, (uint64_t)(uint32_t)s->labels.pid + 1, 1);
			if (!err && sg_grow(&v->pids, &pids_cap, v->npids + 1, sizeof(*v->pids)))
				err = SG_ENOMEM;
			if (!err)
				v->pids[v->npids++] = s->labels.pid;
		}
		if (err)
			break;
		if (!sg_u64map_get(&thread_at, key + 1, &at)) {
			if (sg_grow(&v->threads, &threads_cap, v->nthreads + 1,
			            sizeof(*v->threads)) ||
			    sg_u64map_put(&thread_at, key + 1, v->nthreads)) {
				err = SG_ENOMEM;
				break;
			}
			at = v->nthreads++;
			v->threads[at] =
			    (struct sg_live_thread){.pid = s->labels.pid, .tid = s->labels.tid};
		}
		th = &v->threads[at];
		/* Rows come in the order first seen: the last has the latest name. */
		th->name = sg_profile_str(l->p, s->labels.thread_name);
		th->samples += d;
		th->idle += is_idle ? d : 0;
		th->gil += s->labels.flags & SG_SAMPLE_GIL ? d : 0;
		th->all_samples += l->cur[i];
		th->all_idle += is_idle ? l->cur[i] : 0;
	}
	sg_u64map_release(&thread_at);
	sg_u64map_release(&pid_seen);
	if (!err && v->nthreads)
		qsort_r(v->threads, v->nthreads, sizeof(*v->threads), cmp_threads, &idle);
	return err;
}

/* A thread's functions: the two queries counted again, the rows of other
 * threads as none. */
static int thread_functions(const struct sg_live *l, const struct sg_live_view_opts *o,
                            struct sg_query *interval, struct sg_query *all,
                            struct sg_live_thread *th)
{
	uint64_t *in_interval = malloc((l->ncur ? l->ncur : 1) * sizeof(*in_interval));
	uint64_t *since_start = malloc((l->ncur ? l->ncur : 1) * sizeof(*since_start));
	int err = 0;

	if (!in_interval || !since_start)
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < l->ncur; i++) {
		const struct sg_labels *lb = &sg_profile_sample(l->p, i)->labels;
		bool its = lb->tid == th->tid && lb->pid == th->pid;

		in_interval[i] = its ? l->delta[i] : 0;
		since_start[i] = its ? l->cur[i] : 0;
	}
	if (!err)
		err = sg_query_recount(interval, in_interval, l->ncur);
	if (!err)
		err = sg_query_recount(all, since_start, l->ncur);
	if (!err)
		err = functions(o, interval, all, &th->fns, &th->nfns);
	free(in_interval);
	free(since_start);
	return err;
}

int sg_live_view(const struct sg_live *l, const struct sg_live_view_opts *opts,
                 struct sg_live_view *v)
{
	struct view_priv *vp = calloc(1, sizeof(*vp));
	struct sg_query *interval, *all;
	int err;

	memset(v, 0, sizeof(*v));
	if (!vp)
		return SG_ENOMEM;
	v->priv = vp;
	err = threads(l, v, opts->idle);
	if (!err)
		err = query(l, opts, l->delta, vp, &interval);
	if (!err)
		err = query(l, opts, l->cur, vp, &all);
	if (!err)
		err = functions(opts, interval, all, &v->fns, &v->nfns);
	/* The keys stay: the view's functions keep theirs. */
	for (size_t i = 0; !err && opts->by_thread && i < v->nthreads && i < opts->max_threads; i++)
		err = thread_functions(l, opts, interval, all, &v->threads[i]);
	if (err)
		sg_live_view_release(v);
	return err;
}

void sg_live_view_release(struct sg_live_view *v)
{
	struct view_priv *vp = v->priv;

	for (size_t i = 0; i < v->nthreads; i++)
		free(v->threads[i].fns);
	free(v->threads);
	free(v->fns);
	free(v->pids);
	for (size_t i = 0; vp && i < vp->n; i++)
		sg_query_free(vp->queries[i]);
	if (vp)
		free(vp->queries);
	free(vp);
	memset(v, 0, sizeof(*v));
}
