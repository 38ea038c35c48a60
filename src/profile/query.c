/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/query.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/strbuf.h"
#include "util/u64map.h"

/* Samples of one stack and label key that the filters kept. */
struct contrib {
	uint32_t stack;
	uint32_t label; /* key of the thread or process, for those views */
	uint64_t count;
	bool idle;
};

struct sg_query {
	const struct sg_profile *p;
	enum sg_query_by by;
	struct sg_intern keys; /* display strings, NUL-terminated */
	uint32_t *frame_key;   /* frame id -> key (frame views) */
	struct contrib *contribs;
	size_t ncontribs, contribs_cap;
	uint64_t total, total_idle;
	/* Per row, whether the filters keep it and its label key: kept for
	 * sg_query_recount and the design effects (sg_query_flat). */
	unsigned char *keep;
	uint32_t *labels;
	size_t nrows;
	bool window;
	uint64_t from_ns, to_ns;
	bool counted; /* by given counts, not the timeline's: no design effects */
	bool effects; /* measure them (sg_query_filter.effects) */
};

uint64_t sg_query_total(const struct sg_query *q)
{
	return q->total;
}

uint64_t sg_query_total_idle(const struct sg_query *q)
{
	return q->total_idle;
}

const char *sg_query_key(const struct sg_query *q, uint32_t key)
{
	return sg_intern_get(&q->keys, key, NULL);
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Where the module's path starts, after the last site-packages/,
 * dist-packages/ or lib/pythonX.Y/; NULL when there is none. */
static const char *module_start(const char *path)
{
	static const char *const roots[] = {"/site-packages/", "/dist-packages/"};
	const char *found = NULL, *s;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		for (s = strstr(path, roots[i]); s; s = strstr(s + 1, roots[i]))
			if (!found || s + strlen(roots[i]) > found)
				found = s + strlen(roots[i]);
	if (found)
		return found;
	for (s = strstr(path, "/python"); s; s = strstr(s + 1, "/python")) {
		const char *v = s + 7;

		/* "lib/python3.11/", "lib64/python2.7/": a version, then '/'. */
		bool lib = (s - path >= 3 && !memcmp(s - 3, "lib", 3)) ||
		           (s - path >= 5 && !memcmp(s - 5, "lib64", 5));

		if (!lib)
			continue;
		if (*v < '0' || *v > '9')
			continue;
		while ((*v >= '0' && *v <= '9') || *v == '.')
			v++;
		if (*v == '/')
			found = v + 1;
	}
	return found;
}

static void dotted(const char *start, char *buf, size_t len);

void sg_query_module(const char *path, char *buf, size_t len)
{
	const char *start = module_start(path);

	if (!path[0]) {
		snprintf(buf, len, "[no file]");
		return;
	}
	if (!strncmp(path, "<frozen ", 8) && ends_with(path, strlen(path), ">")) {
		snprintf(buf, len, "%.*s", (int)(strlen(path) - 9), path + 8);
		return;
	}
	if (!start) {
		const char *slash = strrchr(path, '/');

		start = slash ? slash + 1 : path;
	}
	dotted(start, buf, len);
}

/* start without ".py" and "/__init__", '/' made '.'. */
static void dotted(const char *start, char *buf, size_t len)
{
	size_t n = strlen(start);

	if (ends_with(start, n, ".py"))
		n -= 3;
	if (ends_with(start, n, "/__init__"))
		n -= 9;
	snprintf(buf, len, "%.*s", (int)n, start);
	for (char *c = buf; *c; c++)
		if (*c == '/')
			*c = '.';
}

static int put_key(struct sg_query *q, struct sg_strbuf *sb, uint32_t *key)
{
	return sg_intern_put(&q->keys, sb->buf ? sb->buf : "", sb->len, key);
}

static int frame_keys(struct sg_query *q, const struct sg_query_filter *filter)
{
	const struct sg_profile *p = q->p;
	size_t n = sg_profile_nframes(p);
	struct sg_strbuf sb = SG_STRBUF_INIT;
	char module[512];
	int err = 0;

	q->frame_key = calloc(n ? n : 1, sizeof(*q->frame_key));
	if (!q->frame_key)
		return SG_ENOMEM;
	for (uint32_t i = 0; !err && i < n; i++) {
		const struct sg_frame *f = sg_profile_frame(p, i);
		const char *name = sg_profile_str(p, f->name), *full = sg_profile_str(p, f->file);
		const char *file = full;

		if (full[0] && filter && filter->file_name)
			file = filter->file_name(p, full, filter->file_arg);
		sg_strbuf_reset(&sb);
		switch (q->by) {
		case SG_BY_FUNCTION:
			err = sg_strbuf_addf(&sb, file[0] ? "%s (%s)" : "%s", name, file);
			break;
		case SG_BY_LINE:
			if (file[0] && f->line > 0)
				err = sg_strbuf_addf(&sb, "%s (%s:%d)", name, file, (int)f->line);
			else
				err = sg_strbuf_addf(&sb, file[0] ? "%s (%s)" : "%s", name, file);
			break;
		case SG_BY_FILE:
			err = sg_strbuf_addstr(&sb, file[0] ? file : "[no file]");
			break;
		default:
			/* A path shown relative to the folder it was imported from is
			 * the module's own path. */
			if (file != full && file[0] != '/' && file[0] != '<')
				dotted(file, module, sizeof(module));
			else
				sg_query_module(full, module, sizeof(module));
			err = sg_strbuf_addstr(&sb, module);
			break;
		}
		if (!err)
			err = put_key(q, &sb, &q->frame_key[i]);
	}
	sg_strbuf_release(&sb);
	return err;
}

static bool frame_matches(const struct sg_profile *p, uint32_t frame, const regex_t *re)
{
	const struct sg_frame *f = sg_profile_frame(p, frame);

	return regexec(re, sg_profile_str(p, f->name), 0, NULL, 0) == 0 ||
	       (f->file && regexec(re, sg_profile_str(p, f->file), 0, NULL, 0) == 0);
}

/* Per frame, whether it matches re: 1 or 0 (computed once per frame). */
static int match_frames(const struct sg_profile *p, const regex_t *re, unsigned char **out)
{
	size_t n = sg_profile_nframes(p);

	*out = calloc(n ? n : 1, 1);
	if (!*out)
		return SG_ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		(*out)[i] = frame_matches(p, i, re);
	return 0;
}

static bool stack_has(const struct sg_profile *p, uint32_t stack, const unsigned char *match)
{
	size_t depth;
	const uint32_t *frames = sg_profile_stack(p, stack, &depth);

	for (size_t k = 0; k < depth; k++)
		if (match[frames[k]])
			return true;
	return false;
}

/* By tid, by the name the row has, or by the thread's name (label_key). */
static bool thread_matches(const struct sg_profile *p, const struct sg_labels *l,
                           const struct sg_u64map *names, const char *thread)
{
	uint64_t name = l->thread_name;
	char tid[24];

	snprintf(tid, sizeof(tid), "%d", (int)l->tid);
	if (strcmp(thread, tid) == 0 || strcmp(thread, sg_profile_str(p, l->thread_name)) == 0)
		return true;
	return l->tid > 0 && sg_u64map_get(names, (uint64_t)(uint32_t)l->tid + 1, &name) &&
	       strcmp(thread, sg_profile_str(p, (uint32_t)name)) == 0;
}

/* The label key of a row, for the thread and process views. A thread is
 * its tid (the kernel's name of it may change during the run, e.g. from
 * "python3" to the name the program gives it): named as most of its samples
 * were, ties to the name interned first. */
static int label_key(struct sg_query *q, const struct sg_labels *l, const struct sg_u64map *names,
                     uint32_t *key)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	uint64_t name = l->thread_name;
	int err;

	if (q->by == SG_BY_THREAD) {
		if (l->tid > 0)
			sg_u64map_get(names, (uint64_t)(uint32_t)l->tid + 1, &name);
		err = sg_strbuf_addf(&sb, "thread %d: %s", (int)l->tid,
		                     sg_profile_str(q->p, (uint32_t)name));
	} else {
		err = sg_strbuf_addf(&sb, "process %d: %s", (int)l->pid,
		                     sg_profile_process(q->p, l->pid));
	}
	if (!err)
		err = put_key(q, &sb, key);
	sg_strbuf_release(&sb);
	return err;
}

/* For each tid, the name most of its samples had: tid + 1 -> name id in
 * *names. */
static int thread_names(const struct sg_profile *p, struct sg_u64map *names)
{
	struct sg_u64map counts = SG_U64MAP_INIT, best = SG_U64MAP_INIT;
	uint64_t key, n, top;
	size_t pos = 0;
	int err = 0;

	for (size_t i = 0; !err && i < sg_profile_nsamples(p); i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);

		if (s->labels.tid <= 0)
			continue;
		key = ((uint64_t)(uint32_t)s->labels.tid << 32 | s->labels.thread_name) + 1;
		n = 0;
		sg_u64map_get(&counts, key, &n);
		err = sg_u64map_put(&counts, key, n + s->count);
	}
	while (!err && sg_u64map_next(&counts, &pos, &key, &n)) {
		uint64_t tid = (key - 1) >> 32, name = (key - 1) & UINT32_MAX, have;

		top = 0;
		sg_u64map_get(&best, tid + 1, &top);
		if (sg_u64map_get(names, tid + 1, &have) && (n < top || (n == top && have < name)))
			continue;
		err = sg_u64map_put(&best, tid + 1, n);
		err = err ? err : sg_u64map_put(names, tid + 1, name);
	}
	sg_u64map_release(&counts);
	sg_u64map_release(&best);
	return err;
}

static int add_contrib(struct sg_query *q, const struct sg_sample *s, uint32_t label,
                       uint64_t count)
{
	bool idle = s->labels.flags & SG_SAMPLE_IDLE;

	if (!count)
		return 0;
	/* Consecutive runs of one row (the window's case) merge into one. */
	if (q->ncontribs && q->contribs[q->ncontribs - 1].stack == s->stack &&
	    q->contribs[q->ncontribs - 1].label == label &&
	    q->contribs[q->ncontribs - 1].idle == idle) {
		q->contribs[q->ncontribs - 1].count += count;
	} else {
		if (sg_grow(&q->contribs, &q->contribs_cap, q->ncontribs + 1, sizeof(*q->contribs)))
			return SG_ENOMEM;
		q->contribs[q->ncontribs++] = (struct contrib){
		    .stack = s->stack, .label = label, .count = count, .idle = idle};
	}
	q->total += count;
	if (idle)
		q->total_idle += count;
	return 0;
}

/* The samples of run r inside [from, to): its count spread evenly over it. */
static uint64_t in_window(const struct sg_run *r, uint64_t from, uint64_t to)
{
	uint64_t lo = r->start_ns > from ? r->start_ns : from;
	uint64_t hi = r->end_ns < to ? r->end_ns : to;

	if (r->end_ns == r->start_ns)
		return r->start_ns >= from && r->start_ns < to ? r->count : 0;
	if (hi <= lo)
		return 0;
	return (uint64_t)llround((double)r->count * (double)(hi - lo) /
	                         (double)(r->end_ns - r->start_ns));
}

/* The samples of run r the filters keep. */
static uint64_t run_kept(const struct sg_run *r, const unsigned char *keep,
                         const struct sg_query_filter *f)
{
	if (!keep[r->row])
		return 0;
	return f && f->window ? in_window(r, f->from_ns, f->to_ns) : r->count;
}

/* The rows the filters keep, counted as counts gives (NULL: their own). */
static int count_rows(struct sg_query *q, const uint64_t *counts, size_t ncounts)
{
	int err = 0;

	for (size_t i = 0; !err && i < q->nrows; i++)
		if (q->keep[i])
			err = add_contrib(q, sg_profile_sample(q->p, i), q->labels[i],
			                  !counts       ? sg_profile_sample(q->p, i)->count
			                  : i < ncounts ? counts[i]
			                                : 0);
	return err;
}

static int collect(struct sg_query *q, const struct sg_query_filter *f)
{
	const struct sg_profile *p = q->p;
	size_t nrows = sg_profile_nsamples(p);
	unsigned char *focus = NULL, *ignore = NULL, *keep = NULL;
	struct sg_u64map names = SG_U64MAP_INIT;
	uint32_t *labels = NULL;
	int err = 0;

	keep = calloc(nrows ? nrows : 1, 1);
	labels = calloc(nrows ? nrows : 1, sizeof(*labels));
	if (!keep || !labels)
		err = SG_ENOMEM;
	if (!err && f && f->focus)
		err = match_frames(p, f->focus, &focus);
	if (!err && f && f->ignore)
		err = match_frames(p, f->ignore, &ignore);
	if (!err && (q->by == SG_BY_THREAD || (f && f->thread)))
		err = thread_names(p, &names);
	for (size_t i = 0; !err && i < nrows; i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);

		keep[i] = (!focus || stack_has(p, s->stack, focus)) &&
		          (!ignore || !stack_has(p, s->stack, ignore)) &&
		          (!f || !f->thread || thread_matches(p, &s->labels, &names, f->thread));
	}
	for (size_t i = 0; !err && i < nrows; i++)
		if (keep[i] && (q->by == SG_BY_THREAD || q->by == SG_BY_PROCESS))
			err = label_key(q, &sg_profile_sample(p, i)->labels, &names, &labels[i]);
	for (size_t i = 0; !err && f && f->window && i < sg_profile_nruns(p); i++) {
		const struct sg_run *r = sg_profile_run(p, i);

		if (keep[r->row])
			err = add_contrib(q, sg_profile_sample(p, r->row), labels[r->row],
			                  run_kept(r, keep, f));
	}
	q->keep = keep;
	q->labels = labels;
	q->nrows = nrows;
	q->window = f && f->window;
	if (!err && !q->window)
		err = count_rows(q, f ? f->counts : NULL, f ? f->ncounts : 0);
	free(focus);
	free(ignore);
	sg_u64map_release(&names);
	return err;
}

int sg_query_recount(struct sg_query *q, const uint64_t *counts, size_t ncounts)
{
	if (q->window)
		return SG_EUSAGE;
	q->ncontribs = 0;
	q->total = q->total_idle = 0;
	q->counted = true;
	return count_rows(q, counts, ncounts);
}

int sg_query_new(const struct sg_profile *p, enum sg_query_by by,
                 const struct sg_query_filter *filter, struct sg_query **out)
{
	struct sg_query *q;
	int err;

	*out = NULL;
	if (filter && filter->window && (sg_profile_nruns(p) == 0 || filter->counts))
		return SG_EUSAGE;
	q = calloc(1, sizeof(*q));
	if (!q)
		return SG_ENOMEM;
	q->p = p;
	q->by = by;
	q->window = filter && filter->window;
	q->from_ns = filter ? filter->from_ns : 0;
	q->counted = filter && filter->counts;
	q->effects = filter && filter->effects;
	q->to_ns = filter ? filter->to_ns : 0;
	sg_intern_init(&q->keys);
	err = by == SG_BY_THREAD || by == SG_BY_PROCESS ? 0 : frame_keys(q, filter);
	if (!err)
		err = collect(q, filter);
	if (err) {
		sg_query_free(q);
		return err;
	}
	*out = q;
	return 0;
}

void sg_query_free(struct sg_query *q)
{
	if (!q)
		return;
	sg_intern_release(&q->keys);
	free(q->frame_key);
	free(q->contribs);
	free(q->keep);
	free(q->labels);
	free(q);
}

static bool frame_view(const struct sg_query *q)
{
	return q->by != SG_BY_THREAD && q->by != SG_BY_PROCESS;
}

static int cmp_name(const struct sg_query *q, uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	if (a == SG_QUERY_NONE || b == SG_QUERY_NONE)
		return a == SG_QUERY_NONE ? 1 : -1;
	return strcmp(sg_query_key(q, a), sg_query_key(q, b));
}

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a == b ? 0 : a < b ? 1 : -1;
}

struct sort_ctx {
	const struct sg_query *q;
	enum sg_query_sort sort;
};

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *c = arg;
	const struct sg_query_row *x = a, *y = b;
	int r = 0;

	if (c->sort == SG_SORT_SELF)
		r = cmp_u64_desc(x->self, y->self);
	if (!r && c->sort != SG_SORT_NAME)
		r = cmp_u64_desc(x->total, y->total);
	return r ? r : cmp_name(c->q, x->key, y->key);
}

/* Batches of the timeline for the design effects: as many, of equal time,
 * so that each holds some samples and the variance of the batches' shares
 * is known to a few tens of percent. */
#define EFFECT_BATCHES 32

/* A run's samples in one batch. */
struct batch_part {
	uint32_t batch;
	uint32_t run;
	uint64_t count;
};

static int by_batch(const void *a, const void *b)
{
	const struct batch_part *x = a, *y = b;

	if (x->batch != y->batch)
		return x->batch < y->batch ? -1 : 1;
	return (x->run > y->run) - (x->run < y->run);
}

/* The kept samples of every run, cut at the batches' bounds over [t0, t1). */
static int batch_parts(const struct sg_query *q, uint64_t t0, uint64_t t1,
                       struct batch_part **parts, size_t *n)
{
	size_t cap = 0;
	double width = (double)(t1 - t0) / EFFECT_BATCHES;

	*parts = NULL;
	*n = 0;
	for (size_t i = 0; i < sg_profile_nruns(q->p); i++) {
		const struct sg_run *r = sg_profile_run(q->p, i);
		uint64_t from = r->start_ns > t0 ? r->start_ns : t0;
		uint32_t first = (uint32_t)fmin(EFFECT_BATCHES - 1, (double)(from - t0) / width);
		uint32_t last = (uint32_t)fmin(
		    EFFECT_BATCHES - 1,
		    (double)((r->end_ns > from ? r->end_ns - 1 : from) - t0) / width);

		if (!q->keep[r->row])
			continue;
		for (uint32_t b = first; b <= last; b++) {
			uint64_t lo = t0 + (uint64_t)(width * b),
			         hi = t0 + (uint64_t)(width * (b + 1));
			uint64_t c;

			if (q->window) {
				lo = lo > q->from_ns ? lo : q->from_ns;
				hi = hi < q->to_ns ? hi : q->to_ns;
			}
			c = first == last && !q->window ? r->count : in_window(r, lo, hi);
			if (!c)
				continue;
			if (sg_grow(parts, &cap, *n + 1, sizeof(**parts)))
				return SG_ENOMEM;
			(*parts)[(*n)++] = (struct batch_part){b, (uint32_t)i, c};
		}
	}
	qsort(*parts, *n, sizeof(**parts), by_batch);
	return 0;
}

/*
 * Per key, the design effects of self and total by batch means: the
 * timeline cut into EFFECT_BATCHES stretches of equal time, k_b of the
 * key's samples out of n_b in each, and the variance of its share
 * p = k / n estimated from how the batches differ,
 * B / (B - 1) sum (k_b - p n_b)^2 / n^2, over the binomial p (1 - p) / n.
 * Samples that come in clumps (one long call, a stall of the thread) move
 * whole batches, samples of other keys' clumps included, which is what a
 * share's variance is made of. Independent samples give about 1.
 */
static int key_effects(const struct sg_query *q, struct sg_query_row *r, size_t nkeys)
{
	struct batch_part *parts = NULL;
	size_t nparts = 0, *stamp = NULL;
	double *acc = NULL, *in = NULL; /* per key: sum k_b^2 and k_b n_b; this batch's k_b */
	uint32_t *touched = NULL;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	double acc_n2 = 0; /* sum n_b^2 */
	size_t batches = 0;
	int err = 0;

	for (size_t i = 0; i < sg_profile_nruns(q->p); i++) {
		const struct sg_run *run = sg_profile_run(q->p, i);

		if (!q->keep[run->row])
			continue;
		t0 = run->start_ns < t0 ? run->start_ns : t0;
		t1 = run->end_ns > t1 ? run->end_ns : t1;
	}
	if (q->window) {
		t0 = t0 > q->from_ns ? t0 : q->from_ns;
		t1 = t1 < q->to_ns ? t1 : q->to_ns;
	}
	if (t1 <= t0 || q->total < 2)
		return 0;
	acc = calloc(4 * (nkeys ? nkeys : 1), sizeof(*acc));
	in = calloc(2 * (nkeys ? nkeys : 1), sizeof(*in));
	touched = malloc(2 * (nkeys ? nkeys : 1) * sizeof(*touched));
	stamp = malloc((nkeys ? nkeys : 1) * sizeof(*stamp));
	err = acc && in && touched && stamp ? batch_parts(q, t0, t1, &parts, &nparts) : SG_ENOMEM;
	for (size_t i = 0; i < nkeys && !err; i++)
		stamp[i] = SIZE_MAX;
	for (size_t at = 0; !err && at < nparts;) {
		uint32_t batch = parts[at].batch;
		size_t ntouched = 0;
		double n_b = 0;

		for (; at < nparts && parts[at].batch == batch; at++) {
			const struct sg_run *run = sg_profile_run(q->p, parts[at].run);
			size_t depth;
			const uint32_t *frames = sg_profile_stack(
			    q->p, sg_profile_sample(q->p, run->row)->stack, &depth);
			double c = (double)parts[at].count;

			n_b += c;
			for (size_t k = 0; k < depth; k++) {
				uint32_t key = q->frame_key[frames[k]];

				if (stamp[key] != at) { /* total: once per sample */
					stamp[key] = at;
					if (!in[2 * key] && !in[2 * key + 1])
						touched[ntouched++] = key;
					in[2 * key + 1] += c;
				}
				if (k == depth - 1) {
					if (!in[2 * key] && !in[2 * key + 1])
						touched[ntouched++] = key;
					in[2 * key] += c;
				}
			}
		}
		for (size_t t = 0; t < ntouched; t++) {
			uint32_t key = touched[t];

			for (int f = 0; f < 2; f++) {
				acc[4 * key + 2 * f] += in[2 * key + f] * in[2 * key + f];
				acc[4 * key + 2 * f + 1] += in[2 * key + f] * n_b;
				in[2 * key + f] = 0;
			}
		}
		acc_n2 += n_b * n_b;
		batches++;
	}
	for (size_t key = 0; !err && batches > 1 && key < nkeys; key++) {
		double n = (double)q->total;

		for (int f = 0; f < 2; f++) {
			double k = (double)(f ? r[key].total : r[key].self), p = k / n;
			double spread = acc[4 * key + 2 * f] - 2 * p * acc[4 * key + 2 * f + 1] +
			                p * p * acc_n2;
			double effect = p > 0 && p < 1 ? (double)batches / (double)(batches - 1) *
			                                     spread / (n * p * (1 - p))
			                               : 1;

			*(f ? &r[key].total_effect : &r[key].self_effect) = effect > 1 ? effect : 1;
		}
	}
	free(parts);
	free(acc);
	free(in);
	free(touched);
	free(stamp);
	return err;
}

int sg_query_flat(const struct sg_query *q, enum sg_query_sort sort, struct sg_query_row **rows,
                  size_t *n)
{
	size_t nkeys = sg_intern_count(&q->keys), kept = 0;
	struct sg_query_row *r = calloc(nkeys ? nkeys : 1, sizeof(*r));
	size_t *stamp = calloc(nkeys ? nkeys : 1, sizeof(*stamp));
	struct sort_ctx ctx = {q, sort};

	if (!r || !stamp) {
		free(r);
		free(stamp);
		return SG_ENOMEM;
	}
	for (size_t i = 0; i < nkeys; i++) {
		r[i].key = (uint32_t)i;
		r[i].self_effect = r[i].total_effect = 1;
		stamp[i] = SIZE_MAX;
	}
	for (size_t i = 0; i < q->ncontribs; i++) {
		const struct contrib *c = &q->contribs[i];
		size_t depth = 1;
		const uint32_t *frames =
		    frame_view(q) ? sg_profile_stack(q->p, c->stack, &depth) : NULL;

		for (size_t k = 0; k < depth; k++) {
			uint32_t key = frames ? q->frame_key[frames[k]] : c->label;

			/* Recursion: a key counts once per sample in total. */
			if (stamp[key] != i) {
				stamp[key] = i;
				r[key].total += c->count;
				r[key].total_idle += c->idle ? c->count : 0;
			}
			if (k == depth - 1) {
				r[key].self += c->count;
				r[key].self_idle += c->idle ? c->count : 0;
			}
		}
	}
	free(stamp);
	if (q->effects && frame_view(q) && !q->counted && sg_profile_nruns(q->p) &&
	    key_effects(q, r, nkeys)) {
		free(r);
		return SG_ENOMEM;
	}
	for (size_t i = 0; i < nkeys; i++)
		if (r[i].total)
			r[kept++] = r[i];
	if (kept)
		qsort_r(r, kept, sizeof(*r), cmp_rows, &ctx);
	*rows = r;
	*n = kept;
	return 0;
}

struct tree {
	struct sg_query_node *nodes;
	size_t n, cap;
	struct sg_u64map child; /* (parent + 1) << 32 | (key + 1) -> node */
};

static int child_of(struct tree *t, uint32_t parent, uint32_t key, uint32_t *node)
{
	uint64_t k = ((uint64_t)parent + 1) << 32 | ((uint64_t)key + 1), v;

	if (sg_u64map_get(&t->child, k, &v)) {
		*node = (uint32_t)v;
		return 0;
	}
	if (t->n >= UINT32_MAX - 1 || sg_grow(&t->nodes, &t->cap, t->n + 1, sizeof(*t->nodes)) ||
	    sg_u64map_put(&t->child, k, t->n))
		return SG_ENOMEM;
	t->nodes[t->n] = (struct sg_query_node){.key = key,
	                                        .parent = parent,
	                                        .first_child = SG_QUERY_NONE,
	                                        .next_sibling = SG_QUERY_NONE,
	                                        .depth = t->nodes[parent].depth + 1};
	*node = (uint32_t)t->n++;
	return 0;
}

static void count_at(struct sg_query_node *n, const struct contrib *c, bool self)
{
	n->total += c->count;
	n->total_idle += c->idle ? c->count : 0;
	if (self) {
		n->self += c->count;
		n->self_idle += c->idle ? c->count : 0;
	}
}

/* Siblings: highest total first, then by name. */
static int cmp_siblings(const void *a, const void *b, void *arg)
{
	const struct sg_query *q = ((const void **)arg)[0];
	const struct sg_query_node *nodes = ((const void **)arg)[1];
	const struct sg_query_node *x = &nodes[*(const uint32_t *)a],
	                           *y = &nodes[*(const uint32_t *)b];

	if (x->total != y->total)
		return cmp_u64_desc(x->total, y->total);
	return cmp_name(q, x->key, y->key);
}

/* Link each node's children in order: bucketed by parent (linear), then
 * each family sorted on its own, which is cheaper than one sort of all. */
static int link_children(const struct sg_query *q, struct tree *t)
{
	uint32_t *order = malloc((t->n ? t->n : 1) * sizeof(*order));
	size_t *start = calloc(t->n + 1, sizeof(*start));
	const void *ctx[2] = {q, t->nodes};

	if (!order || !start) {
		free(order);
		free(start);
		return SG_ENOMEM;
	}
	for (size_t i = 1; i < t->n; i++)
		start[t->nodes[i].parent + 1]++;
	for (size_t i = 1; i <= t->n; i++)
		start[i] += start[i - 1];
	for (size_t i = 1; i < t->n; i++)
		order[start[t->nodes[i].parent]++] = (uint32_t)i;
	/* start[p] is now the end of p's children, and start[p - 1] their start. */
	for (size_t p = 0; p < t->n; p++) {
		size_t from = p ? start[p - 1] : 0, to = start[p];

		if (to - from > 1)
			qsort_r(order + from, to - from, sizeof(*order), cmp_siblings, ctx);
		for (size_t k = to; k-- > from;) {
			t->nodes[order[k]].next_sibling = t->nodes[p].first_child;
			t->nodes[p].first_child = order[k];
		}
	}
	free(order);
	free(start);
	return 0;
}

int sg_query_tree(const struct sg_query *q, bool inverted, bool collapse_recursion,
                  struct sg_query_node **nodes, size_t *n)
{
	struct tree t = {.child = SG_U64MAP_INIT};
	int err = 0;

	*nodes = NULL;
	*n = 0;
	if (!frame_view(q))
		return SG_EUSAGE;
	if (sg_grow(&t.nodes, &t.cap, 1, sizeof(*t.nodes)))
		return SG_ENOMEM;
	t.nodes[0] = (struct sg_query_node){.key = SG_QUERY_NONE,
	                                    .parent = SG_QUERY_NONE,
	                                    .first_child = SG_QUERY_NONE,
	                                    .next_sibling = SG_QUERY_NONE};
	t.n = 1;
	for (size_t i = 0; !err && i < q->ncontribs; i++) {
		const struct contrib *c = &q->contribs[i];
		size_t depth;
		const uint32_t *frames = sg_profile_stack(q->p, c->stack, &depth);
		uint32_t at = 0;

		for (size_t j = 0; !err && j < depth; j++) {
			uint32_t key = q->frame_key[frames[inverted ? depth - 1 - j : j]];

			if (collapse_recursion && at && t.nodes[at].key == key)
				continue;
			count_at(&t.nodes[at], c, false);
			err = child_of(&t, at, key, &at);
		}
		if (!err)
			count_at(&t.nodes[at], c, true);
	}
	if (!err)
		err = link_children(q, &t);
	sg_u64map_release(&t.child);
	if (err) {
		free(t.nodes);
		return err;
	}
	*nodes = t.nodes;
	*n = t.n;
	return 0;
}

struct edges {
	struct sg_query_edge *e;
	size_t *stamp;
	size_t n, cap, stamp_cap;
	struct sg_u64map by_key; /* key + 1 -> edge */
};

static int count_edge(struct edges *es, uint32_t key, const struct contrib *c, size_t sample)
{
	uint64_t v;

	if (!sg_u64map_get(&es->by_key, (uint64_t)key + 1, &v)) {
		if (sg_grow(&es->e, &es->cap, es->n + 1, sizeof(*es->e)) ||
		    sg_grow(&es->stamp, &es->stamp_cap, es->n + 1, sizeof(*es->stamp)) ||
		    sg_u64map_put(&es->by_key, (uint64_t)key + 1, es->n))
			return SG_ENOMEM;
		es->e[es->n] = (struct sg_query_edge){.key = key};
		es->stamp[es->n] = SIZE_MAX;
		v = es->n++;
	}
	if (es->stamp[v] != sample) {
		es->stamp[v] = sample;
		es->e[v].count += c->count;
		es->e[v].idle += c->idle ? c->count : 0;
	}
	return 0;
}

static int cmp_edges(const void *a, const void *b, void *arg)
{
	const struct sg_query_edge *x = a, *y = b;

	if (x->count != y->count)
		return cmp_u64_desc(x->count, y->count);
	return cmp_name(arg, x->key, y->key);
}

int sg_query_neighbours(const struct sg_query *q, const regex_t *re, bool callers,
                        struct sg_query_edge **edges, size_t *n, uint64_t *through)
{
	struct edges es = {.by_key = SG_U64MAP_INIT};
	unsigned char *match = NULL;
	int err;

	*edges = NULL;
	*n = 0;
	*through = 0;
	if (!frame_view(q))
		return SG_EUSAGE;
	err = match_frames(q->p, re, &match);
	for (size_t i = 0; !err && i < q->ncontribs; i++) {
		const struct contrib *c = &q->contribs[i];
		size_t depth;
		const uint32_t *frames = sg_profile_stack(q->p, c->stack, &depth);
		bool seen = false;

		for (size_t k = 0; !err && k < depth; k++) {
			size_t other = callers ? k - 1 : k + 1; /* k - 1 wraps at the root */

			if (!match[frames[k]])
				continue;
			seen = true;
			err = count_edge(
			    &es, other < depth ? q->frame_key[frames[other]] : SG_QUERY_NONE, c, i);
		}
		if (seen)
			*through += c->count;
	}
	free(match);
	free(es.stamp);
	sg_u64map_release(&es.by_key);
	if (err) {
		free(es.e);
		*through = 0;
		return err;
	}
	if (es.n)
		qsort_r(es.e, es.n, sizeof(*es.e), cmp_edges, (void *)(uintptr_t)q);
	*edges = es.e;
	*n = es.n;
	return 0;
}
