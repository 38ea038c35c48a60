/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "formats/text.h"
#include "formats/timeline.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/u64map.h"

#define NS_PER_S        1000000000.0
#define DEFAULT_RATE_HZ 100.0
#define NO_THREAD       UINT32_MAX

static uint64_t period_ns(const struct sg_profile *p)
{
	double rate = sg_profile_meta_const(p)->rate_asked_hz;
	double ns = NS_PER_S / (rate > 0 ? rate : DEFAULT_RATE_HZ);

	return ns >= 1 ? (uint64_t)(ns + 0.5) : 1;
}

static uint64_t row_ns(const struct sg_sample *s, uint64_t period)
{
	if (s->weight_ns)
		return s->weight_ns;
	return s->count > UINT64_MAX / period ? UINT64_MAX : s->count * period;
}

/* w * part / whole, exactly while whole fits 32 bits (then the remainder's
 * product fits 64); part <= whole. */
static uint64_t share(uint64_t w, uint64_t part, uint64_t whole)
{
	if (whole > UINT32_MAX)
		return (uint64_t)((double)w * ((double)part / (double)whole));
	return w / whole * part + w % whole * part / whole;
}

/* Pids and tids are never negative, so the key never wraps to 0 (reserved). */
static uint64_t thread_key(const struct sg_labels *l)
{
	return ((uint64_t)(uint32_t)l->pid << 32 | (uint32_t)l->tid) + 1;
}

/* Give every row with samples its thread, creating threads as first seen. */
static int assign_threads(struct sg_timeline *tl, const struct sg_profile *p, uint32_t *row_thread)
{
	struct sg_u64map map = SG_U64MAP_INIT;
	size_t cap = 0;
	int err = 0;

	for (size_t r = 0; r < sg_profile_nsamples(p) && !err; r++) {
		const struct sg_sample *s = sg_profile_sample(p, r);
		uint64_t key = thread_key(&s->labels), idx;

		row_thread[r] = NO_THREAD;
		if (!s->count)
			continue;
		if (!sg_u64map_get(&map, key, &idx)) {
			idx = tl->nthreads;
			err = sg_grow(&tl->threads, &cap, idx + 1, sizeof(*tl->threads));
			if (!err)
				err = sg_u64map_put(&map, key, idx);
			if (err)
				break;
			tl->threads[tl->nthreads++] =
			    (struct sg_tl_thread){.pid = s->labels.pid, .tid = s->labels.tid};
			tl->several_pids |= s->labels.pid != tl->threads[0].pid;
		}
		row_thread[r] = (uint32_t)idx;
	}
	sg_u64map_release(&map);
	return err;
}

/* Turn per-thread span counts (in first) into offsets. */
static void place_threads(struct sg_timeline *tl)
{
	size_t at = 0;

	for (size_t i = 0; i < tl->nthreads; i++) {
		size_t n = tl->threads[i].first;

		tl->threads[i].first = at;
		at += n;
	}
	tl->nspans = at;
}

/* Append span to its thread; threads' nspans count what was placed so far. */
static void put_span(struct sg_timeline *tl, const struct sg_profile *p, uint32_t thread,
                     const struct sg_tl_span *span)
{
	struct sg_tl_thread *t = &tl->threads[thread];
	const struct sg_sample *s = sg_profile_sample(p, span->row);

	/* The latest name wins: early samples may carry the kernel's name for
	 * a thread whose Python name was not found yet. */
	if (s->labels.thread_name)
		t->name = s->labels.thread_name;
	if (!t->nspans)
		t->start_ns = span->start_ns;
	t->end_ns = span->end_ns;
	t->weight_ns += span->weight_ns;
	if (!(s->labels.flags & SG_SAMPLE_IDLE))
		t->busy_ns += span->weight_ns;
	tl->spans[t->first + t->nspans++] = *span;
}

/* One span per run; each row's nanoseconds are split over its runs. */
static int spans_from_runs(struct sg_timeline *tl, const struct sg_profile *p,
                           const uint32_t *row_thread, uint64_t period)
{
	size_t nrows = sg_profile_nsamples(p), nruns = sg_profile_nruns(p);
	uint64_t *left_ns = malloc(nrows * sizeof(*left_ns) + 1);
	uint64_t *left_count = malloc(nrows * sizeof(*left_count) + 1);
	int err = SG_ENOMEM;

	if (!left_ns || !left_count)
		goto out;
	for (size_t r = 0; r < nrows; r++) {
		left_ns[r] = row_ns(sg_profile_sample(p, r), period);
		left_count[r] = sg_profile_sample(p, r)->count;
	}
	for (size_t i = 0; i < nruns; i++) {
		const struct sg_run *run = sg_profile_run(p, i);

		if (row_thread[run->row] != NO_THREAD && run->count)
			tl->threads[row_thread[run->row]].first++;
	}
	place_threads(tl);
	tl->spans = malloc(tl->nspans * sizeof(*tl->spans) + 1);
	if (!tl->spans)
		goto out;
	for (size_t i = 0; i < nruns; i++) {
		const struct sg_run *run = sg_profile_run(p, i);
		struct sg_tl_span span = {.row = run->row,
		                          .start_ns = run->start_ns,
		                          .end_ns = run->end_ns,
		                          .count = run->count};
		uint32_t r = run->row;

		if (row_thread[r] == NO_THREAD || !run->count)
			continue;
		/* The row's last run takes what is left, so the sums are exact. */
		span.weight_ns = run->count >= left_count[r]
		                     ? left_ns[r]
		                     : share(left_ns[r], run->count, left_count[r]);
		left_ns[r] -= span.weight_ns;
		left_count[r] -= run->count < left_count[r] ? run->count : left_count[r];
		put_span(tl, p, row_thread[r], &span);
	}
	err = 0;
out:
	free(left_ns);
	free(left_count);
	return err;
}

/* No timeline: each thread's rows end to end, in row order, from 0. */
static int spans_from_rows(struct sg_timeline *tl, const struct sg_profile *p,
                           const uint32_t *row_thread, uint64_t period)
{
	size_t nrows = sg_profile_nsamples(p);

	for (size_t r = 0; r < nrows; r++)
		if (row_thread[r] != NO_THREAD)
			tl->threads[row_thread[r]].first++;
	place_threads(tl);
	tl->spans = malloc(tl->nspans * sizeof(*tl->spans) + 1);
	if (!tl->spans)
		return SG_ENOMEM;
	for (size_t r = 0; r < nrows; r++) {
		const struct sg_sample *s = sg_profile_sample(p, r);
		struct sg_tl_span span = {.row = (uint32_t)r, .count = s->count};
		const struct sg_tl_thread *t;

		if (row_thread[r] == NO_THREAD)
			continue;
		t = &tl->threads[row_thread[r]];
		span.start_ns = t->nspans ? t->end_ns : 0;
		span.weight_ns = row_ns(s, period);
		span.end_ns = span.start_ns + span.weight_ns;
		put_span(tl, p, row_thread[r], &span);
	}
	return 0;
}

static int number_frames(struct sg_timeline *tl, const struct sg_profile *p,
                         const uint32_t *row_thread)
{
	size_t nframes = sg_profile_nframes(p);

	tl->frame_index = malloc(nframes * sizeof(*tl->frame_index) + 1);
	if (!tl->frame_index)
		return SG_ENOMEM;
	memset(tl->frame_index, 0xff, nframes * sizeof(*tl->frame_index));
	/* Rows, not spans: a row's stack is the same in each of its runs. */
	for (size_t r = 0; r < sg_profile_nsamples(p); r++) {
		const struct sg_sample *s = sg_profile_sample(p, r);
		size_t depth;
		const uint32_t *frames = sg_profile_stack(p, s->stack, &depth);

		if (row_thread[r] == NO_THREAD)
			continue;
		for (size_t k = 0; k < depth; k++)
			tl->frame_index[frames[k]] = 0;
		tl->any_idle |= (s->labels.flags & SG_SAMPLE_IDLE) != 0;
	}
	for (size_t f = 0; f < nframes; f++)
		if (tl->frame_index[f] == 0)
			tl->frame_index[f] = (uint32_t)tl->nused_frames++;
	return 0;
}

int sg_timeline_build(struct sg_timeline *tl, const struct sg_profile *p)
{
	uint32_t *row_thread = malloc(sg_profile_nsamples(p) * sizeof(*row_thread) + 1);
	uint64_t period = period_ns(p);
	int err;

	memset(tl, 0, sizeof(*tl));
	if (!row_thread)
		return SG_ENOMEM;
	err = assign_threads(tl, p, row_thread);
	tl->timed = sg_profile_nruns(p) > 0;
	if (!err)
		err = tl->timed ? spans_from_runs(tl, p, row_thread, period)
		                : spans_from_rows(tl, p, row_thread, period);
	if (!err)
		err = number_frames(tl, p, row_thread);
	free(row_thread);
	return err;
}

void sg_timeline_release(struct sg_timeline *tl)
{
	free(tl->threads);
	free(tl->spans);
	free(tl->frame_index);
	memset(tl, 0, sizeof(*tl));
}

int sg_tl_json_name(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f,
                    bool full)
{
	struct sg_strbuf text = SG_STRBUF_INIT;
	int err = sg_text_frame(&text, p, f, full);

	if (!err)
		err = sg_text_json(sb, text.buf ? text.buf : "");
	sg_strbuf_release(&text);
	return err;
}

int sg_tl_json_where(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f)
{
	const char *file = sg_profile_str(p, f->file);
	int err = 0;

	if (file[0]) {
		err = sg_strbuf_addstr(sb, ",\"file\":");
		if (!err)
			err = sg_text_json(sb, file);
	}
	if (!err && f->line > 0)
		err = sg_strbuf_addf(sb, ",\"line\":%d", (int)f->line);
	return err;
}

char *sg_tl_put_u64(char *out, uint64_t v)
{
	char digits[SG_TL_U64_MAX];
	size_t n = sizeof(digits);

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(out, digits + n, sizeof(digits) - n);
	return out + sizeof(digits) - n;
}

int sg_tl_u64(struct sg_strbuf *sb, uint64_t v)
{
	char digits[SG_TL_U64_MAX];

	return sg_strbuf_add(sb, digits, (size_t)(sg_tl_put_u64(digits, v) - digits));
}

int sg_tl_flush(struct sg_strbuf *sb, FILE *out, size_t over)
{
	if (sb->len < over || !sb->len)
		return 0;
	if (fwrite(sb->buf, 1, sb->len, out) != sb->len)
		return SG_EIO;
	sg_strbuf_reset(sb);
	return 0;
}
