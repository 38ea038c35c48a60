/* SPDX-License-Identifier: MIT */
/*
 * speedscope's own file format (https://www.speedscope.app/file-format-schema.json):
 * one "sampled" profile per thread, over frames shared by all of them.
 *
 *   {"$schema":"https://www.speedscope.app/file-format-schema.json",
 *    "exporter":"spyglass","name":"python app.py","activeProfileIndex":0,
 *    "shared":{"frames":[{"name":"main (app.py:3)","file":"app.py","line":3},
 *                        {"name":"[idle]"}]},
 *    "profiles":[{"type":"sampled","name":"MainThread (tid 12)",
 *                 "unit":"nanoseconds","startValue":0,"endValue":20000000,
 *                 "samples":[[0],[0,1]],"weights":[10000000,10000000]}]}
 *
 * A frame is named as in every other format ("NAME (FILE:LINE)"), and also
 * carries its file and line, which speedscope shows apart. Only frames some
 * sample uses are listed; samples of idle threads end in an "[idle]" frame.
 *
 * A thread is every sample with its pid and tid; its profile is named
 * "NAME (tid N)", followed by " of process PID: COMMAND" when the profile
 * holds several processes. The options for roots per thread or process
 * change nothing here: the profiles are per thread already. With
 * opts->thread_groups, a profile is a group of threads of one process
 * (sg_text_thread_group), "GROUP (N threads)", holding its threads'
 * samples one thread after another, from the earliest thread's start.
 *
 * With a timeline, a thread's samples are its runs in time order (so
 * speedscope's time-ordered view is the thread's history, with the time it
 * was not sampled left out), and startValue is its first run's start in
 * nanoseconds since the recording started. Without one (a profile read from
 * a collapsed file), each row is one sample, in row order, and startValue is
 * 0. Weights are nanoseconds either way, and add up to the rows' (see
 * formats/timeline.h). endValue is startValue plus the weights, not the last
 * run's end: speedscope takes the larger of endValue - startValue and the
 * weights' sum as the profile's total, so a longer span (time off CPU,
 * jitter) would lower every percentage it shows. activeProfileIndex is the
 * thread with the most time not idle.
 *
 * With opts->value other than samples (record --memory's growth view), the
 * profiles are the same runs in the same order, each weighing its share by
 * count of its row's bytes (the last run takes the rest), in unit "bytes":
 * speedscope's flame views then show RSS growth by code; time order stays
 * the thread's history, as wide as the bytes of each run.
 */
#include <stdlib.h>

#include "formats/format.h"
#include "formats/text.h"
#include "formats/timeline.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/strbuf.h"

#define SCHEMA    "https://www.speedscope.app/file-format-schema.json"
#define IDLE_LEAF "[idle]"
/* Output is written out in pieces of about this size. */
#define CHUNK (1u << 20)

static int add_frames(struct sg_strbuf *sb, const struct sg_profile *p,
                      const struct sg_timeline *tl, const struct sg_write_opts *opts)
{
	bool first = true;
	int err = sg_strbuf_addstr(sb, "\"shared\":{\"frames\":[");

	for (size_t id = 0; id < sg_profile_nframes(p) && !err; id++) {
		const struct sg_frame *f = sg_profile_frame(p, (uint32_t)id);

		if (tl->frame_index[id] == UINT32_MAX)
			continue;
		err = sg_strbuf_addstr(sb, first ? "\n{\"name\":" : ",\n{\"name\":");
		first = false;
		if (!err)
			err = sg_tl_json_name(sb, p, f, opts->full_filenames);
		if (!err)
			err = sg_tl_json_where(sb, p, f);
		if (!err)
			err = sg_strbuf_addch(sb, '}');
	}
	if (!err && tl->any_idle)
		err = sg_strbuf_addstr(sb, first ? "\n{\"name\":\"" IDLE_LEAF "\"}"
		                                 : ",\n{\"name\":\"" IDLE_LEAF "\"}");
	return err ? err : sg_strbuf_addstr(sb, "]},\n");
}

/* Every row's stack as a JSON array of frame indices: row r's is
 * text.buf[at[r] .. at[r + 1]). Rendered once, written once per sample. */
struct stack_texts {
	struct sg_strbuf text;
	size_t *at;
};

/* A run of numbers is written into a piece of this size, then appended. */
#define PIECE 4096

/* Room left in a piece for one more number and the two bytes around it. */
static bool piece_full(size_t used)
{
	return used > PIECE - SG_TL_U64_MAX - 2;
}

static int render_stacks(struct stack_texts *st, const struct sg_profile *p,
                         const struct sg_timeline *tl)
{
	size_t nrows = sg_profile_nsamples(p);
	char piece[PIECE];
	int err = 0;

	st->at = malloc((nrows + 1) * sizeof(*st->at));
	if (!st->at)
		return SG_ENOMEM;
	for (size_t r = 0; r < nrows && !err; r++) {
		const struct sg_sample *s = sg_profile_sample(p, r);
		size_t depth, n = 0;
		const uint32_t *frames = sg_profile_stack(p, s->stack, &depth);
		bool idle = (s->labels.flags & SG_SAMPLE_IDLE) != 0;

		st->at[r] = st->text.len;
		if (!s->count)
			continue;
		piece[n++] = '[';
		for (size_t k = 0; k < depth + idle && !err; k++) {
			if (piece_full(n)) {
				err = sg_strbuf_add(&st->text, piece, n);
				n = 0;
			}
			if (k)
				piece[n++] = ',';
			n = (size_t)(sg_tl_put_u64(piece + n, k < depth ? tl->frame_index[frames[k]]
			                                                : tl->nused_frames) -
			             piece);
		}
		piece[n++] = ']';
		if (!err)
			err = sg_strbuf_add(&st->text, piece, n);
	}
	st->at[nrows] = st->text.len;
	return err;
}

/* One profile: the threads order[at .. at + n), one after another. */
struct view {
	size_t at, n;
	uint64_t start_ns;  /* the earliest of its threads' starts */
	uint64_t weight_ns; /* sums over its threads */
	uint64_t busy_ns;
	uint64_t bytes; /* of opts->value, when not samples */
};

/* Each span's share of its row's value by count, out of what the row's
 * earlier spans left; NULL (and 0) for the samples view, which weighs
 * nanoseconds. *out is the caller's to free. */
static int span_bytes(const struct sg_profile *p, const struct sg_timeline *tl, enum sg_value value,
                      uint64_t **out)
{
	size_t nrows = sg_profile_nsamples(p);
	uint64_t *left, *count_left;

	*out = NULL;
	if (value == SG_VALUE_SAMPLES)
		return 0;
	left = malloc(2 * nrows * sizeof(*left) + 1);
	*out = malloc(tl->nspans * sizeof(**out) + 1);
	if (!left || !*out) {
		free(left);
		return SG_ENOMEM;
	}
	count_left = left + nrows;
	for (size_t r = 0; r < nrows; r++) {
		left[r] = sg_sample_value(sg_profile_sample(p, r), value);
		count_left[r] = sg_profile_sample(p, r)->count;
	}
	for (size_t i = 0; i < tl->nspans; i++) {
		uint32_t r = tl->spans[i].row;
		uint64_t c = tl->spans[i].count;
		uint64_t share = c >= count_left[r]
		                     ? left[r]
		                     : (uint64_t)((unsigned __int128)left[r] * c / count_left[r]);

		(*out)[i] = share;
		left[r] -= share;
		count_left[r] -= c < count_left[r] ? c : count_left[r];
	}
	free(left);
	return 0;
}

struct views {
	struct view *v;
	size_t n;
	size_t *order; /* thread indices, grouped */
	bool groups;   /* a view per group of threads, not per thread */
};

/* The group of thread t: its pid and its folded name, as key bytes. */
static int group_key(struct sg_strbuf *key, const struct sg_profile *p,
                     const struct sg_tl_thread *t)
{
	int32_t pid = t->pid;

	sg_strbuf_reset(key);
	if (sg_strbuf_add(key, &pid, sizeof(pid)))
		return SG_ENOMEM;
	return sg_text_thread_group(key, sg_profile_str(p, t->name));
}

/* A view per thread, or per group of threads (in the order groups were
 * first seen, their threads in timeline order). */
static int build_views(struct views *vs, const struct sg_profile *p, const struct sg_timeline *tl,
                       bool groups)
{
	size_t n = tl->nthreads;
	uint32_t *group_of = malloc(n * sizeof(*group_of) + 1);
	struct sg_intern keys;
	struct sg_strbuf key = SG_STRBUF_INIT;
	int err = 0;

	vs->groups = groups;
	vs->order = malloc(n * sizeof(*vs->order) + 1);
	vs->v = calloc(n + 1, sizeof(*vs->v));
	if (!group_of || !vs->order || !vs->v) {
		free(group_of);
		return SG_ENOMEM;
	}
	sg_intern_init(&keys);
	for (size_t i = 0; i < n && !err; i++) {
		group_of[i] = (uint32_t)i;
		if (groups)
			err = group_key(&key, p, &tl->threads[i]);
		if (groups && !err)
			err = sg_intern_put(&keys, key.buf, key.len, &group_of[i]);
	}
	vs->n = groups ? sg_intern_count(&keys) : n;
	/* Counting sort of the threads by group. */
	for (size_t i = 0; i < n && !err; i++)
		vs->v[group_of[i]].n++;
	for (size_t g = 0, at = 0; g < vs->n && !err; g++) {
		vs->v[g].at = at;
		at += vs->v[g].n;
		vs->v[g].n = 0;
		vs->v[g].start_ns = UINT64_MAX;
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct view *v = &vs->v[group_of[i]];
		const struct sg_tl_thread *t = &tl->threads[i];

		vs->order[v->at + v->n++] = i;
		v->start_ns = t->start_ns < v->start_ns ? t->start_ns : v->start_ns;
		v->weight_ns += t->weight_ns;
		v->busy_ns += t->busy_ns;
	}
	sg_intern_release(&keys);
	sg_strbuf_release(&key);
	free(group_of);
	return err;
}

static int add_title(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_timeline *tl,
                     const struct views *vs, const struct view *v)
{
	const struct sg_tl_thread *t = &tl->threads[vs->order[v->at]];
	const char *name = sg_profile_str(p, t->name);
	struct sg_strbuf text = SG_STRBUF_INIT;
	int err;

	if (vs->groups) {
		err = sg_text_thread_group(&text, name);
		if (!err)
			err = sg_strbuf_addf(&text, " (%zu thread%s)", v->n, v->n == 1 ? "" : "s");
	} else {
		if (name[0])
			err = sg_strbuf_addstr(&text, name);
		else
			err = sg_strbuf_addstr(&text, t->tid > 0 ? "thread" : "all threads");
		if (!err && t->tid > 0)
			err = sg_strbuf_addf(&text, " (tid %d)", (int)t->tid);
	}
	if (!err && tl->several_pids && t->pid > 0) {
		const char *command = sg_profile_process(p, t->pid);

		err = sg_strbuf_addf(&text, " of process %d%s%s", (int)t->pid,
		                     command[0] ? ": " : "", command);
	}
	if (!err)
		err = sg_text_json(sb, text.buf ? text.buf : "");
	sg_strbuf_release(&text);
	return err;
}

static int add_profile(struct sg_strbuf *sb, FILE *out, const struct sg_profile *p,
                       const struct sg_timeline *tl, const struct stack_texts *st,
                       const struct views *vs, const struct view *v, const uint64_t *bytes)
{
	char piece[PIECE];
	int err = sg_strbuf_addstr(sb, "{\"type\":\"sampled\",\"name\":");
	bool first = true;

	if (!err)
		err = add_title(sb, p, tl, vs, v);
	if (!err)
		err = sg_strbuf_addstr(sb, bytes ? ",\"unit\":\"bytes\",\"startValue\":"
		                                 : ",\"unit\":\"nanoseconds\",\"startValue\":");
	if (!err)
		err = sg_tl_u64(sb, bytes ? 0 : v->start_ns);
	if (!err)
		err = sg_strbuf_addstr(sb, ",\"endValue\":");
	if (!err)
		err = sg_tl_u64(sb, bytes ? v->bytes : v->start_ns + v->weight_ns);
	if (!err)
		err = sg_strbuf_addstr(sb, ",\n\"samples\":[");
	for (size_t k = 0; k < v->n && !err; k++) {
		const struct sg_tl_thread *t = &tl->threads[vs->order[v->at + k]];
		const struct sg_tl_span *spans = tl->spans + t->first;

		for (size_t i = 0; i < t->nspans && !err; i++) {
			uint32_t r = spans[i].row;

			if (!first)
				err = sg_strbuf_addch(sb, ',');
			first = false;
			if (!err)
				err = sg_strbuf_add(sb, st->text.buf + st->at[r],
				                    st->at[r + 1] - st->at[r]);
			if (!err)
				err = sg_tl_flush(sb, out, CHUNK);
		}
	}
	if (!err)
		err = sg_strbuf_addstr(sb, "],\n\"weights\":[");
	first = true;
	for (size_t k = 0; k < v->n && !err; k++) {
		const struct sg_tl_thread *t = &tl->threads[vs->order[v->at + k]];
		const struct sg_tl_span *spans = tl->spans + t->first;
		size_t n = 0;

		for (size_t i = 0; i < t->nspans && !err; i++) {
			if (!first)
				piece[n++] = ',';
			first = false;
			n = (size_t)(sg_tl_put_u64(piece + n, bytes ? bytes[t->first + i]
			                                            : spans[i].weight_ns) -
			             piece);
			if (piece_full(n) || i + 1 == t->nspans) {
				err = sg_strbuf_add(sb, piece, n);
				n = 0;
			}
			if (!err)
				err = sg_tl_flush(sb, out, CHUNK);
		}
	}
	return err ? err : sg_strbuf_addstr(sb, "]}");
}

/* The view with the most time not idle; ties go to the most time, then
 * to the first seen. */
static size_t busiest(const struct views *vs)
{
	size_t best = 0;

	for (size_t i = 1; i < vs->n; i++) {
		const struct view *a = &vs->v[i], *b = &vs->v[best];

		if (a->busy_ns > b->busy_ns ||
		    (a->busy_ns == b->busy_ns && a->weight_ns > b->weight_ns))
			best = i;
	}
	return best;
}

static int write_speedscope(const struct sg_profile *p, const struct sg_write_opts *opts, FILE *out)
{
	struct stack_texts st = {.text = SG_STRBUF_INIT};
	struct sg_strbuf sb = SG_STRBUF_INIT;
	struct sg_timeline tl;
	struct views vs = {0};
	uint64_t *bytes = NULL;
	int err = sg_timeline_build(&tl, p);

	if (!err)
		err = build_views(&vs, p, &tl, opts->threads && opts->thread_groups);
	if (!err)
		err = span_bytes(p, &tl, opts->value, &bytes);
	for (size_t i = 0; i < vs.n && bytes; i++)
		for (size_t k = 0; k < vs.v[i].n; k++) {
			const struct sg_tl_thread *t = &tl.threads[vs.order[vs.v[i].at + k]];

			for (size_t j = 0; j < t->nspans; j++)
				vs.v[i].bytes += bytes[t->first + j];
		}
	if (!err)
		err = render_stacks(&st, p, &tl);
	if (!err)
		err =
		    sg_strbuf_addstr(&sb, "{\"$schema\":\"" SCHEMA "\",\n\"exporter\":\"spyglass\","
		                          "\"name\":");
	if (!err)
		err = sg_text_json(&sb, sg_profile_meta_const(p)->command);
	if (!err)
		err = sg_strbuf_addstr(&sb, ",\"activeProfileIndex\":");
	if (!err)
		err = sg_tl_u64(&sb, busiest(&vs));
	if (!err)
		err = sg_strbuf_addstr(&sb, ",\n");
	if (!err)
		err = add_frames(&sb, p, &tl, opts);
	if (!err)
		err = sg_strbuf_addstr(&sb, "\"profiles\":[");
	for (size_t i = 0; i < vs.n && !err; i++) {
		err = sg_strbuf_addstr(&sb, i ? ",\n" : "\n");
		if (!err)
			err = add_profile(&sb, out, p, &tl, &st, &vs, &vs.v[i], bytes);
	}
	if (!err)
		err = sg_strbuf_addstr(&sb, "]}\n");
	if (!err)
		err = sg_tl_flush(&sb, out, 0);
	if (!err && ferror(out))
		err = SG_EIO;
	sg_strbuf_release(&sb);
	sg_strbuf_release(&st.text);
	free(st.at);
	free(vs.v);
	free(vs.order);
	free(bytes);
	sg_timeline_release(&tl);
	return err;
}

static const char *const extensions[] = {".speedscope.json", NULL};

const struct sg_format sg_format_speedscope = {
    .name = "speedscope",
    .extensions = extensions,
    .write = write_speedscope,
};
