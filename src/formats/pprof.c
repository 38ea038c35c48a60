/* SPDX-License-Identifier: MIT */
/*
 * pprof: a gzipped perftools.profiles.Profile (proto/profile.proto), what
 * go tool pprof and most profile viewers open, and spyglass's saved format:
 * a .pb.gz keeps everything the profile holds, and convert reads it back.
 *
 * What goes where:
 * - sample_type is [samples/count, cpu/nanoseconds] in cpu mode and
 *   [samples/count, wall/nanoseconds] in wall mode; period_type is the
 *   second, period the asked sampling interval (ns); time_nanos and
 *   duration_nanos are the run's.
 * - One Function per (name, file), with start_line 0 (spyglass knows the
 *   line a frame was at, not the line its function starts at) and no
 *   system_name: Python names are not mangled, and pprof takes a name equal
 *   to its system_name for an undemangled one, and strips what it thinks
 *   are C++ template parameters: "<module>" would show as "<unknown>".
 *   One Location per frame (id = frame id + 1) with one Line (function,
 *   line).
 * - A frame's type: Python frames have no Mapping; native and kernel ones
 *   point at mapping 1 "[native]" or 2 "[kernel]" (pprof does not look for
 *   binaries to symbolise mappings named "[...]").
 * - Labels, each only when known: "pid" and "tid" (num), "thread_name" and
 *   "process" (its command) (str); "state" "idle" on idle samples and
 *   "running" on the others in wall mode; "gil" "held".
 * - The rest of sg_meta in comments "spyglass.KEY=VALUE" (meta_fields).
 * - The timeline, when the profile has one: one Sample per run, with num
 *   labels "start" and "end" (nanoseconds since time_nanos) and values [the
 *   run's count, its share of its row's nanoseconds by count]; otherwise
 *   one Sample per row. pprof adds samples up, so its totals are the
 *   rows'. Rows without nanoseconds (read from collapsed files) keep 0.
 * Write options (roots, reverse) change nothing: viewers group and draw
 * the file as they like.
 *
 * The reader takes other tools' pprof files too (Go's, inlined frames,
 * no labels, no comments): the first sample type counts samples, the first
 * "nanoseconds" one (if any) weighs them, inlined Lines become frames of
 * their own (innermost nearest the leaf), a Location without Lines becomes
 * a frame named by its address, and frames under a mapping are native (or
 * kernel, for "[kernel]" and "[kernel.kallsyms]"). Labels and comments it
 * does not know are skipped. A run's end comes back as its start plus its
 * nanoseconds (sg_profile_add_at derives it so), within a sampling period
 * of the recorded end.
 *
 * Everything is checked before use; the reader rejects, naming what and
 * where: data that does not inflate or parse, more than MAX_INFLATED bytes
 * once inflated or MAX_UNPACKED bytes of unpacked messages, string indices
 * out of range, ids that are 0, repeated or refer to nothing, a sample
 * whose value count is not the sample types', negative values (pprof's
 * differences of profiles), counts past MAX_COUNT or nanoseconds past
 * 2^63-1 in all, stacks over MAX_DEPTH frames (MAX_FRAMES in all), our
 * labels with the wrong kind of value or given twice, start labels on
 * some samples only or out of time order within a thread, and spyglass
 * comments whose value does not parse (rates out of range included).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "formats/format.h"
#include "formats/pprof_pb.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/strbuf.h"
#include "util/u64map.h"

/* Bounds on what the reader accepts, so hostile files cannot exhaust us. */
#define MAX_INFLATED ((size_t)256 << 20)
#define MAX_UNPACKED ((size_t)1 << 30)
#define MAX_DEPTH    65536
#define MAX_FRAMES   ((uint64_t)1 << 26)
/* Counts stay exact as doubles, which shares and reports compute with. */
#define MAX_COUNT ((uint64_t)1 << 53)
/* Rates: 0 (unknown), or a period that fits int64 nanoseconds with room. */
#define MIN_RATE_HZ 1e-6
#define MAX_RATE_HZ 1e9

#define NS_PER_S       1e9
#define GZIP_MAGIC     "\x1f\x8b"
#define COMMENT_PREFIX "spyglass."
#define CHUNK          (64 * 1024)

/* The strings the format gives meaning to, by kind. */
enum word {
	W_OTHER,
	W_SAMPLES,
	W_COUNT,
	W_CPU,
	W_WALL,
	W_NANOSECONDS,
	W_PID, /* first label key */
	W_TID,
	W_THREAD_NAME,
	W_STATE,
	W_GIL,
	W_PROCESS,
	W_START,
	W_END, /* last label key */
	W_IDLE,
	W_RUNNING,
	W_HELD,
	W_NATIVE,
	W_KERNEL,
	W_KALLSYMS,
	NWORDS
};

static const char *const words[NWORDS] = {
    [W_OTHER] = "",
    [W_SAMPLES] = "samples",
    [W_COUNT] = "count",
    [W_CPU] = "cpu",
    [W_WALL] = "wall",
    [W_NANOSECONDS] = "nanoseconds",
    [W_PID] = "pid",
    [W_TID] = "tid",
    [W_THREAD_NAME] = "thread_name",
    [W_STATE] = "state",
    [W_GIL] = "gil",
    [W_PROCESS] = "process",
    [W_START] = "start",
    [W_END] = "end",
    [W_IDLE] = "idle",
    [W_RUNNING] = "running",
    [W_HELD] = "held",
    [W_NATIVE] = "[native]",
    [W_KERNEL] = "[kernel]",
    [W_KALLSYMS] = "[kernel.kallsyms]",
};

/* Mapping ids of the frame types that have one. */
enum { MAPPING_NATIVE = 1, MAPPING_KERNEL = 2, NMAPPINGS = 2 };

/* The sg_meta fields that travel in comments. */
enum meta_kind { META_STR, META_U64, META_HZ, META_BOOL, META_MODE };

static const struct meta_field {
	const char *key;
	enum meta_kind kind;
	size_t offset; /* in struct sg_meta */
} meta_fields[] = {
    {"command", META_STR, offsetof(struct sg_meta, command)},
    {"python_version", META_STR, offsetof(struct sg_meta, python_version)},
    {"mode", META_MODE, offsetof(struct sg_meta, mode)},
    {"rate_asked_hz", META_HZ, offsetof(struct sg_meta, rate_asked_hz)},
    {"rate_achieved_hz", META_HZ, offsetof(struct sg_meta, rate_achieved_hz)},
    {"samples", META_U64, offsetof(struct sg_meta, samples)},
    {"dropped", META_U64, offsetof(struct sg_meta, dropped)},
    {"dropped_torn", META_U64, offsetof(struct sg_meta, dropped_torn)},
    {"dropped_read", META_U64, offsetof(struct sg_meta, dropped_read)},
    {"dropped_depth", META_U64, offsetof(struct sg_meta, dropped_depth)},
    {"by_thread", META_BOOL, offsetof(struct sg_meta, by_thread)},
    {"by_process", META_BOOL, offsetof(struct sg_meta, by_process)},
};

#define NMETA (sizeof(meta_fields) / sizeof(meta_fields[0]))

/* What sg_profile_add_at calls a thread, whose calls must come in time order. */
static uint64_t thread_key(const struct sg_labels *l)
{
	uint64_t key = (uint64_t)(uint32_t)l->pid << 32 | (uint32_t)l->tid;

	return key + !key;
}

/* ---- writer ---- */

/* Compressed output, fed by protobuf-c in small pieces: they are gathered
 * into `in` and deflated a chunk at a time. */
struct gz_sink {
	ProtobufCBuffer base; /* first, so protobuf-c's pointer is ours */
	z_stream zs;
	FILE *out;
	int err;
	size_t used;
	unsigned char in[CHUNK];
	unsigned char out_buf[CHUNK];
};

/* deflate itself cannot fail here: the stream is ours and whole (as in
 * zlib's own example, zpipe.c); only writing can. */
static void gz_deflate(struct gz_sink *g, int flush)
{
	g->zs.next_in = g->in;
	g->zs.avail_in = (uInt)g->used;
	g->used = 0;
	do {
		size_t n;

		g->zs.next_out = g->out_buf;
		g->zs.avail_out = CHUNK;
		deflate(&g->zs, flush);
		n = CHUNK - g->zs.avail_out;
		if (n && fwrite(g->out_buf, 1, n, g->out) != n) {
			g->err = SG_EIO;
			return;
		}
	} while (g->zs.avail_out == 0);
}

static void gz_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
	struct gz_sink *g = (struct gz_sink *)buffer;

	while (len && !g->err) {
		size_t n = CHUNK - g->used < len ? CHUNK - g->used : len;

		memcpy(g->in + g->used, data, n);
		g->used += n;
		data += n;
		len -= n;
		if (g->used == CHUNK)
			gz_deflate(g, Z_NO_FLUSH);
	}
}

struct writer {
	const struct sg_profile *p;
	struct sg_intern strs;  /* the string table: id = index */
	struct sg_intern funcs; /* (name, file) string indices: id + 1 = Function id */
	int64_t word[NWORDS];
	int err; /* the first failure; later calls do nothing */
};

static int64_t w_str(struct writer *w, const char *s)
{
	uint32_t id = 0;

	if (!w->err && sg_intern_put(&w->strs, s, strlen(s), &id))
		w->err = SG_ENOMEM;
	return id;
}

/* The shortest plain decimal that reads back as v ("250", "249.08"), so
 * comments stay legible; an exponent only when none fits buf. */
static void shortest_double(char *buf, size_t len, double v)
{
	for (int prec = 0; prec <= 17; prec++) {
		snprintf(buf, len, "%.*f", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, len, "%.17g", v);
}

static int64_t w_meta_comment(struct writer *w, const struct sg_meta *m, const struct meta_field *f)
{
	const char *at = (const char *)m + f->offset;
	struct sg_strbuf sb = SG_STRBUF_INIT;
	char num[32] = "";
	const char *value = num;
	int64_t id = 0;

	switch (f->kind) {
	case META_STR:
		value = *(char *const *)at;
		break;
	case META_U64:
		snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)at);
		break;
	case META_HZ:
		shortest_double(num, sizeof(num), *(const double *)at);
		break;
	case META_BOOL:
		value = *(const bool *)at ? "1" : "0";
		break;
	case META_MODE:
		value = *(const enum sg_mode *)at == SG_MODE_WALL ? "wall" : "cpu";
		break;
	}
	if (!w->err)
		w->err = sg_strbuf_addf(&sb, COMMENT_PREFIX "%s=%s", f->key, value);
	if (!w->err)
		id = w_str(w, sb.buf);
	sg_strbuf_release(&sb);
	return id;
}

/* Everything the packed message points into, owned here. */
struct pb_arrays {
	pb_function *funcs;
	pb_function **func_ptrs;
	pb_location *locs;
	pb_location **loc_ptrs;
	pb_line *lines;
	pb_line **line_ptrs;
	uint64_t *stack_locs; /* per stack, its location ids leaf first ... */
	size_t *stack_at;     /* ... at stack_locs[stack_at[s] .. stack_at[s + 1]) */
	pb_label *row_labels; /* ROW_LABELS per row, row_nlabels[r] of them used */
	size_t *row_nlabels;
	pb_label *run_labels;  /* start and end per run */
	pb_label **label_ptrs; /* MAX_LABELS per sample */
	pb_sample *samples;
	pb_sample **sample_ptrs;
	int64_t *values; /* 2 per sample */
	char **table;
};

#define ROW_LABELS 6
#define MAX_LABELS (ROW_LABELS + 2)

static void *w_alloc(struct writer *w, size_t n, size_t size)
{
	void *mem = NULL;

	if (!w->err && (n > SIZE_MAX / size || !(mem = calloc(n ? n : 1, size))))
		w->err = SG_ENOMEM;
	return mem;
}

static void free_arrays(struct pb_arrays *a)
{
	free(a->funcs);
	free(a->func_ptrs);
	free(a->locs);
	free(a->loc_ptrs);
	free(a->lines);
	free(a->line_ptrs);
	free(a->stack_locs);
	free(a->stack_at);
	free(a->row_labels);
	free(a->row_nlabels);
	free(a->run_labels);
	free(a->label_ptrs);
	free(a->samples);
	free(a->sample_ptrs);
	free(a->values);
	free(a->table);
}

/* One Location per frame, one Function per (name, file); marks in
 * used_mappings which frame types need their mapping. */
static void w_frames(struct writer *w, struct pb_arrays *a, pb_profile *pb, bool *used_mappings)
{
	size_t n = sg_profile_nframes(w->p);

	a->funcs = w_alloc(w, n, sizeof(*a->funcs));
	a->func_ptrs = w_alloc(w, n, sizeof(*a->func_ptrs));
	a->locs = w_alloc(w, n, sizeof(*a->locs));
	a->loc_ptrs = w_alloc(w, n, sizeof(*a->loc_ptrs));
	a->lines = w_alloc(w, n, sizeof(*a->lines));
	a->line_ptrs = w_alloc(w, n, sizeof(*a->line_ptrs));
	for (size_t i = 0; i < n && !w->err; i++) {
		const struct sg_frame *f = sg_profile_frame(w->p, (uint32_t)i);
		uint32_t key[2], fid;

		key[0] = (uint32_t)w_str(w, sg_profile_str(w->p, f->name));
		key[1] = (uint32_t)w_str(w, sg_profile_str(w->p, f->file));
		if (w->err || sg_intern_put(&w->funcs, key, sizeof(key), &fid)) {
			w->err = SG_ENOMEM;
			break;
		}
		if (fid == pb->n_function) {
			pb_function *fn = &a->funcs[fid];

			perftools__profiles__function__init(fn);
			fn->id = fid + 1;
			fn->name = key[0];
			fn->filename = key[1];
			a->func_ptrs[pb->n_function++] = fn;
		}
		perftools__profiles__line__init(&a->lines[i]);
		a->lines[i].function_id = fid + 1;
		a->lines[i].line = f->line;
		a->line_ptrs[i] = &a->lines[i];
		perftools__profiles__location__init(&a->locs[i]);
		a->locs[i].id = i + 1;
		a->locs[i].n_line = 1;
		a->locs[i].line = &a->line_ptrs[i];
		if (f->type == SG_FRAME_NATIVE || f->type == SG_FRAME_KERNEL) {
			int m = f->type == SG_FRAME_NATIVE ? MAPPING_NATIVE : MAPPING_KERNEL;

			a->locs[i].mapping_id = (uint64_t)m;
			used_mappings[m] = true;
		}
		a->loc_ptrs[i] = &a->locs[i];
	}
	pb->location = a->loc_ptrs;
	pb->n_location = w->err ? 0 : n;
	pb->function = a->func_ptrs;
}

/* Every stack's location ids, leaf first, for samples to share. */
static void w_stacks(struct writer *w, struct pb_arrays *a)
{
	size_t n = sg_profile_nstacks(w->p), total = 0, depth;

	a->stack_at = w_alloc(w, n + 1, sizeof(*a->stack_at));
	for (size_t s = 0; s < n && !w->err; s++) {
		a->stack_at[s] = total;
		sg_profile_stack(w->p, (uint32_t)s, &depth);
		total += depth;
	}
	a->stack_locs = w_alloc(w, total, sizeof(*a->stack_locs));
	for (size_t s = 0; s < n && !w->err; s++) {
		const uint32_t *frames = sg_profile_stack(w->p, (uint32_t)s, &depth);

		for (size_t i = 0; i < depth; i++)
			a->stack_locs[a->stack_at[s] + i] = (uint64_t)frames[depth - 1 - i] + 1;
	}
	if (!w->err)
		a->stack_at[n] = total;
}

static void w_label(pb_label *l, int64_t key, int64_t str, int64_t num)
{
	perftools__profiles__label__init(l);
	l->key = key;
	l->str = str;
	l->num = num;
}

/* The labels every sample of a row carries. */
static void w_row_labels(struct writer *w, struct pb_arrays *a)
{
	size_t n = sg_profile_nsamples(w->p);
	bool wall = sg_profile_meta_const(w->p)->mode == SG_MODE_WALL;

	a->row_labels = w_alloc(w, n, ROW_LABELS * sizeof(*a->row_labels));
	a->row_nlabels = w_alloc(w, n, sizeof(*a->row_nlabels));
	for (size_t r = 0; r < n && !w->err; r++) {
		const struct sg_labels *l = &sg_profile_sample(w->p, r)->labels;
		const char *thread = sg_profile_str(w->p, l->thread_name);
		const char *process = sg_profile_process(w->p, l->pid);
		pb_label *out = &a->row_labels[r * ROW_LABELS];
		size_t k = 0;

		if (l->pid)
			w_label(&out[k++], w->word[W_PID], 0, l->pid);
		if (l->tid)
			w_label(&out[k++], w->word[W_TID], 0, l->tid);
		if (thread[0])
			w_label(&out[k++], w->word[W_THREAD_NAME], w_str(w, thread), 0);
		if (l->flags & SG_SAMPLE_IDLE)
			w_label(&out[k++], w->word[W_STATE], w->word[W_IDLE], 0);
		else if (wall)
			w_label(&out[k++], w->word[W_STATE], w->word[W_RUNNING], 0);
		if (l->flags & SG_SAMPLE_GIL)
			w_label(&out[k++], w->word[W_GIL], w->word[W_HELD], 0);
		if (process[0])
			w_label(&out[k++], w->word[W_PROCESS], w_str(w, process), 0);
		a->row_nlabels[r] = k;
	}
}

/* Values on the wire are int64: larger ones (hand-made profiles only) are
 * written as the largest. */
static int64_t wire_value(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Readers add a column's values up: each column is written within a total
 * of INT64_MAX (*left), so the file always reads back. Only hand-made
 * profiles come near. */
static int64_t wire_share(uint64_t v, uint64_t *left)
{
	if (v > *left)
		v = *left;
	*left -= v;
	return (int64_t)v;
}

/* A run's share of its row's nanoseconds, by count, out of what the row's
 * earlier runs left (*left); the last run takes the rest, so the shares
 * add up to the row exactly. */
static uint64_t run_share(struct sg_sample *left, uint64_t count)
{
	uint64_t share = count >= left->count
	                     ? left->weight_ns
	                     : (uint64_t)((unsigned __int128)left->weight_ns * count / left->count);

	left->weight_ns -= share;
	left->count -= count < left->count ? count : left->count;
	return share;
}

/* One Sample per run of the timeline, or per row when there is none. */
static void w_samples(struct writer *w, struct pb_arrays *a, pb_profile *pb)
{
	size_t nrows = sg_profile_nsamples(w->p), nruns = sg_profile_nruns(w->p);
	size_t n = nruns ? nruns : nrows;
	uint64_t counts_left = INT64_MAX, weights_left = INT64_MAX;
	struct sg_sample *left = nruns ? w_alloc(w, nrows, sizeof(*left)) : NULL;

	a->samples = w_alloc(w, n, sizeof(*a->samples));
	a->sample_ptrs = w_alloc(w, n, sizeof(*a->sample_ptrs));
	a->values = w_alloc(w, n, 2 * sizeof(*a->values));
	a->label_ptrs = w_alloc(w, n, MAX_LABELS * sizeof(*a->label_ptrs));
	a->run_labels = w_alloc(w, nruns, 2 * sizeof(*a->run_labels));
	for (size_t r = 0; r < nrows && left; r++)
		left[r] = *sg_profile_sample(w->p, r);
	for (size_t i = 0; i < n && !w->err; i++) {
		const struct sg_run *run = nruns ? sg_profile_run(w->p, i) : NULL;
		uint32_t r = run ? run->row : (uint32_t)i;
		const struct sg_sample *row = sg_profile_sample(w->p, r);
		pb_sample *s = &a->samples[i];
		pb_label **labels = &a->label_ptrs[i * MAX_LABELS];

		perftools__profiles__sample__init(s);
		s->location_id = a->stack_locs + a->stack_at[row->stack];
		s->n_location_id = a->stack_at[row->stack + 1] - a->stack_at[row->stack];
		s->value = &a->values[2 * i];
		s->n_value = 2;
		s->value[0] = wire_share(run ? run->count : row->count, &counts_left);
		s->value[1] = wire_share(run ? run_share(&left[r], run->count) : row->weight_ns,
		                         &weights_left);
		s->label = labels;
		for (size_t k = 0; k < a->row_nlabels[r]; k++)
			labels[s->n_label++] = &a->row_labels[r * ROW_LABELS + k];
		if (run) {
			pb_label *start = &a->run_labels[2 * i], *end = start + 1;

			w_label(start, w->word[W_START], 0, wire_value(run->start_ns));
			w_label(end, w->word[W_END], 0, wire_value(run->end_ns));
			start->num_unit = end->num_unit = w->word[W_NANOSECONDS];
			labels[s->n_label++] = start;
			labels[s->n_label++] = end;
		}
		a->sample_ptrs[i] = s;
	}
	free(left);
	pb->sample = a->sample_ptrs;
	pb->n_sample = w->err ? 0 : n;
}

static bool any_weight(const struct sg_profile *p)
{
	for (size_t i = 0; i < sg_profile_nsamples(p); i++)
		if (sg_profile_sample(p, i)->weight_ns)
			return true;
	return false;
}

static int write_pprof(const struct sg_profile *p, const struct sg_write_opts *opts, FILE *out)
{
	const struct sg_meta *m = sg_profile_meta_const(p);
	struct writer w = {.p = p};
	struct pb_arrays a = {0};
	pb_profile pb = PERFTOOLS__PROFILES__PROFILE__INIT;
	pb_value_type types[2], period_type, *type_ptrs[2] = {&types[0], &types[1]};
	pb_mapping mappings[NMAPPINGS], *mapping_ptrs[NMAPPINGS];
	bool used_mappings[NMAPPINGS + 1] = {false};
	int64_t comments[NMETA];
	struct gz_sink *g = NULL;

	(void)opts;
	sg_intern_init(&w.strs);
	sg_intern_init(&w.funcs);
	/* The empty string first: the format reserves index 0 for it. */
	for (int i = 0; i < NWORDS; i++)
		w.word[i] = w_str(&w, words[i]);

	perftools__profiles__value_type__init(&types[0]);
	types[0].type = w.word[W_SAMPLES];
	types[0].unit = w.word[W_COUNT];
	perftools__profiles__value_type__init(&types[1]);
	types[1].type = w.word[m->mode == SG_MODE_WALL ? W_WALL : W_CPU];
	types[1].unit = w.word[W_NANOSECONDS];
	period_type = types[1];
	pb.sample_type = type_ptrs;
	pb.n_sample_type = 2;
	pb.period_type = &period_type;
	pb.period =
	    m->rate_asked_hz >= MIN_RATE_HZ ? (int64_t)llround(NS_PER_S / m->rate_asked_hz) : 0;
	pb.time_nanos = wire_value(m->start_unix_ns);
	pb.duration_nanos = wire_value(m->duration_ns);
	for (size_t i = 0; i < NMETA; i++)
		comments[i] = w_meta_comment(&w, m, &meta_fields[i]);
	pb.comment = comments;
	pb.n_comment = NMETA;
	/* Profiles read from collapsed files know counts, not times: show
	 * counts by default rather than a graph of zeros. */
	if (sg_profile_total(p) && !any_weight(p))
		pb.default_sample_type = w.word[W_SAMPLES];

	w_frames(&w, &a, &pb, used_mappings);
	pb.mapping = mapping_ptrs;
	for (int id = 1; id <= NMAPPINGS; id++) {
		pb_mapping *mp = &mappings[pb.n_mapping];

		if (!used_mappings[id])
			continue;
		perftools__profiles__mapping__init(mp);
		mp->id = (uint64_t)id;
		mp->filename = w.word[id == MAPPING_NATIVE ? W_NATIVE : W_KERNEL];
		mp->has_functions = mp->has_filenames = mp->has_line_numbers = true;
		mapping_ptrs[pb.n_mapping++] = mp;
	}
	w_stacks(&w, &a);
	w_row_labels(&w, &a);
	w_samples(&w, &a, &pb);

	/* Every string is in by now: lay out the table. */
	pb.n_string_table = sg_intern_count(&w.strs);
	a.table = w_alloc(&w, pb.n_string_table, sizeof(*a.table));
	for (size_t i = 0; i < pb.n_string_table && !w.err; i++)
		a.table[i] = (char *)sg_intern_get(&w.strs, (uint32_t)i, NULL);
	pb.string_table = a.table;

	g = w_alloc(&w, 1, sizeof(*g));
	if (!w.err) {
		g->base.append = gz_append;
		g->out = out;
		/* 16 + window bits: a gzip wrapper, as pprof files have. Fastest
		 * compression, as Go's runtime/pprof: level 6 took half as long
		 * again on a 1M-sample profile for a file 3% smaller. */
		if (deflateInit2(&g->zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8,
		                 Z_DEFAULT_STRATEGY) != Z_OK) {
			w.err = SG_ENOMEM;
		} else {
			perftools__profiles__profile__pack_to_buffer(&pb, &g->base);
			if (!g->err)
				gz_deflate(g, Z_FINISH);
			w.err = g->err;
			deflateEnd(&g->zs);
		}
	}
	if (!w.err && ferror(out))
		w.err = SG_EIO;
	free(g);
	free_arrays(&a);
	sg_intern_release(&w.strs);
	sg_intern_release(&w.funcs);
	return w.err;
}

/* ---- reader ---- */

struct reader {
	struct sg_profile *p;
	const pb_profile *pb;
	char *err;
	size_t errlen;
	uint8_t *word;             /* enum word of each string */
	uint32_t *str_ids;         /* string index -> profile string id + 1, 0 until used */
	struct sg_u64map mappings; /* mapping id -> frame type */
	struct sg_u64map funcs;    /* function id -> index */
	struct sg_u64map locs;     /* location id -> index */
	uint32_t *loc_frames;      /* frames of location i, leaf first: */
	size_t *loc_at;            /* loc_frames[loc_at[i] .. loc_at[i + 1]) */
	struct sg_u64map starts;   /* thread_key -> start of its latest sample */
	uint32_t *stack;           /* scratch: a sample's frames */
	size_t stack_cap;
	size_t weight_col; /* the first value in nanoseconds, SIZE_MAX if none */
	bool timed;        /* samples carry start labels */
	uint64_t count_sum, weight_sum, frame_sum;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return SG_EFORMAT;
}

/* protobuf-c allocates through this, so unpacking stops at MAX_UNPACKED
 * bytes however the input multiplies (a 2-byte empty Sample costs ~80). */
struct budget {
	size_t left;
	bool exceeded;
};

union alloc_head {
	size_t size;
	max_align_t align;
};

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;
	union alloc_head *h;

	if (size > b->left || b->left - size < sizeof(*h)) {
		b->exceeded = true;
		return NULL;
	}
	h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	b->left -= sizeof(*h) + size;
	return h + 1;
}

static void budget_free(void *data, void *ptr)
{
	struct budget *b = data;
	union alloc_head *h = ptr;

	if (!ptr)
		return;
	h--;
	b->left += sizeof(*h) + h->size;
	free(h);
}

static int add_bytes(struct reader *r, struct sg_strbuf *out, const void *data, size_t n)
{
	if (n > MAX_INFLATED - out->len)
		return fail(r, "more than 256 MiB once decompressed");
	return sg_strbuf_add(out, data, n);
}

/* Inflate gzip members (a gzip file may hold several, back to back) from
 * the n bytes in buf and the rest of in. */
static int inflate_all(struct reader *r, FILE *in, unsigned char *buf, size_t n,
                       struct sg_strbuf *out)
{
	unsigned char chunk[CHUNK];
	z_stream zs = {0};
	bool pending = false; /* inflate may have more output without more input */
	int zr = Z_OK, err = 0;

	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return SG_ENOMEM;
	zs.next_in = buf;
	zs.avail_in = (uInt)n;
	while (!err) {
		if (zs.avail_in == 0 && !pending) {
			n = fread(buf, 1, CHUNK, in);
			if (ferror(in))
				err = fail(r, "cannot read the file");
			if (!n)
				break;
			zs.next_in = buf;
			zs.avail_in = (uInt)n;
		}
		if (zr == Z_STREAM_END)
			inflateReset(&zs);
		zs.next_out = chunk;
		zs.avail_out = CHUNK;
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr == Z_MEM_ERROR)
			err = SG_ENOMEM;
		else if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			err = fail(r, "bad gzip data: %s", zs.msg ? zs.msg : "cannot inflate");
		else
			err = add_bytes(r, out, chunk, CHUNK - zs.avail_out);
		pending = zr != Z_STREAM_END && zs.avail_out == 0;
	}
	if (!err && zr != Z_STREAM_END)
		err = fail(r, "the gzip data ends early: a truncated file?");
	inflateEnd(&zs);
	return err;
}

/* Files starting with gzip's magic number: pprof files are gzipped. */
static bool sniff_pprof(const unsigned char *head, size_t n)
{
	return n >= 2 && !memcmp(head, GZIP_MAGIC, 2);
}

/* The whole serialized message: inflated when gzipped, as is otherwise. */
static int slurp(struct reader *r, FILE *in, struct sg_strbuf *out)
{
	unsigned char *buf = malloc(CHUNK);
	size_t n;
	int err = 0;

	if (!buf)
		return SG_ENOMEM;
	n = fread(buf, 1, CHUNK, in);
	if (ferror(in))
		err = fail(r, "cannot read the file");
	else if (n == 0)
		err = fail(r, "empty file");
	else if (sniff_pprof(buf, n))
		err = inflate_all(r, in, buf, n, out);
	else
		while (!err && n) {
			err = add_bytes(r, out, buf, n);
			n = fread(buf, 1, CHUNK, in);
			if (!err && ferror(in))
				err = fail(r, "cannot read the file");
		}
	free(buf);
	return err;
}

static bool str_ok(const struct reader *r, int64_t i)
{
	return i >= 0 && (uint64_t)i < r->pb->n_string_table;
}

/* The profile's id for string index i (which must be in range), or
 * UINT32_MAX when out of memory. */
static uint32_t r_str(struct reader *r, int64_t i)
{
	if (!r->str_ids[i]) {
		const char *s = r->pb->string_table[i];
		uint32_t id = sg_profile_intern(r->p, s, strlen(s));

		if (id == UINT32_MAX)
			return id;
		r->str_ids[i] = id + 1;
	}
	return r->str_ids[i] - 1;
}

static int r_strings(struct reader *r)
{
	size_t n = r->pb->n_string_table;

	if (!n || r->pb->string_table[0][0])
		return fail(r, "string_table[0] is not the empty string: not a pprof profile");
	r->word = calloc(n, sizeof(*r->word));
	r->str_ids = calloc(n, sizeof(*r->str_ids));
	if (!r->word || !r->str_ids)
		return SG_ENOMEM;
	for (size_t i = 1; i < n; i++)
		for (int w = 1; w < NWORDS; w++)
			if (!strcmp(r->pb->string_table[i], words[w])) {
				r->word[i] = (uint8_t)w;
				break;
			}
	return 0;
}

/* A decimal in 0..2^64-1, digits only. */
static bool parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return true;
}

/* A comment "spyglass.KEY=VALUE" sets that field of sg_meta; other comments
 * (and keys a later spyglass may add) are left alone. */
static int r_comment(struct reader *r, size_t i, const char *c)
{
	size_t plen = strlen(COMMENT_PREFIX), klen;
	const char *key = c + plen, *value, *eq;
	char *at, *end;
	uint64_t u;
	double d;

	if (strncmp(c, COMMENT_PREFIX, plen) != 0 || !(eq = strchr(key, '=')))
		return 0;
	klen = (size_t)(eq - key);
	value = eq + 1;
	for (size_t f = 0; f < NMETA; f++) {
		if (strlen(meta_fields[f].key) != klen || strncmp(meta_fields[f].key, key, klen))
			continue;
		at = (char *)sg_profile_meta(r->p) + meta_fields[f].offset;
		switch (meta_fields[f].kind) {
		case META_STR:
			return sg_profile_set_meta_str(r->p, (char **)at, value);
		case META_U64:
			if (!parse_u64(value, &u))
				break;
			*(uint64_t *)at = u;
			return 0;
		case META_HZ:
			d = strtod(value, &end);
			if (end == value || *end ||
			    !(d == 0 || (d >= MIN_RATE_HZ && d <= MAX_RATE_HZ)))
				break;
			*(double *)at = d;
			return 0;
		case META_BOOL:
			if (strcmp(value, "0") && strcmp(value, "1"))
				break;
			*(bool *)at = value[0] == '1';
			return 0;
		case META_MODE:
			if (strcmp(value, "cpu") && strcmp(value, "wall"))
				break;
			*(enum sg_mode *)at = value[0] == 'w' ? SG_MODE_WALL : SG_MODE_CPU;
			return 0;
		}
		/* Not the value itself: it may hold anything, newlines too. */
		return fail(r, "comment %zu: cannot read the value of " COMMENT_PREFIX "%s", i,
		            meta_fields[f].key);
	}
	return 0;
}

/* Sample types, period, times, comments: what sg_meta holds. */
static int r_header(struct reader *r)
{
	const pb_profile *pb = r->pb;
	struct sg_meta *m = sg_profile_meta(r->p);
	const pb_value_type *pt = pb->period_type;
	int err = 0;

	if (!pb->n_sample_type)
		return fail(r, "no sample types: not a pprof profile");
	r->weight_col = SIZE_MAX;
	for (size_t i = 0; i < pb->n_sample_type; i++) {
		const pb_value_type *vt = pb->sample_type[i];

		if (!str_ok(r, vt->type) || !str_ok(r, vt->unit))
			return fail(r, "sample_type %zu: string index out of range", i);
		if (r->weight_col == SIZE_MAX && r->word[vt->unit] == W_NANOSECONDS)
			r->weight_col = i;
	}
	if (r->weight_col != SIZE_MAX && r->word[pb->sample_type[r->weight_col]->type] == W_WALL)
		m->mode = SG_MODE_WALL;
	if (pt && (!str_ok(r, pt->type) || !str_ok(r, pt->unit)))
		return fail(r, "period_type: string index out of range");
	if (!str_ok(r, pb->drop_frames) || !str_ok(r, pb->keep_frames) ||
	    !str_ok(r, pb->default_sample_type) || !str_ok(r, pb->doc_url))
		return fail(r, "drop_frames, keep_frames, default_sample_type or doc_url: string "
		               "index out of range");
	if (pb->period < 0 || pb->time_nanos < 0 || pb->duration_nanos < 0)
		return fail(r, "negative period, time_nanos or duration_nanos");
	/* A period too long to be a sampling interval leaves the rate unknown. */
	if (pt && r->word[pt->unit] == W_NANOSECONDS && pb->period > 0 &&
	    NS_PER_S / (double)pb->period >= MIN_RATE_HZ)
		m->rate_asked_hz = NS_PER_S / (double)pb->period;
	m->start_unix_ns = (uint64_t)pb->time_nanos;
	m->duration_ns = (uint64_t)pb->duration_nanos;
	for (size_t i = 0; i < pb->n_comment && !err; i++) {
		if (!str_ok(r, pb->comment[i]))
			return fail(r, "comment %zu: string index out of range", i);
		err = r_comment(r, i, pb->string_table[pb->comment[i]]);
	}
	return err;
}

static int r_mappings(struct reader *r)
{
	for (size_t i = 0; i < r->pb->n_mapping; i++) {
		const pb_mapping *mp = r->pb->mapping[i];
		enum word w;

		if (!mp->id)
			return fail(r, "mapping %zu: id 0 is reserved", i);
		if (!str_ok(r, mp->filename) || !str_ok(r, mp->build_id))
			return fail(r, "mapping %zu: string index out of range", i);
		if (sg_u64map_get(&r->mappings, mp->id, NULL))
			return fail(r, "mapping %zu: id %" PRIu64 " used twice", i, mp->id);
		w = r->word[mp->filename];
		if (sg_u64map_put(&r->mappings, mp->id,
		                  w == W_KERNEL || w == W_KALLSYMS ? SG_FRAME_KERNEL
		                                                   : SG_FRAME_NATIVE))
			return SG_ENOMEM;
	}
	return 0;
}

static int r_functions(struct reader *r)
{
	for (size_t i = 0; i < r->pb->n_function; i++) {
		const pb_function *fn = r->pb->function[i];

		if (!fn->id)
			return fail(r, "function %zu: id 0 is reserved", i);
		if (!str_ok(r, fn->name) || !str_ok(r, fn->system_name) || !str_ok(r, fn->filename))
			return fail(r, "function %zu: string index out of range", i);
		if (sg_u64map_get(&r->funcs, fn->id, NULL))
			return fail(r, "function %zu: id %" PRIu64 " used twice", i, fn->id);
		if (sg_u64map_put(&r->funcs, fn->id, i))
			return SG_ENOMEM;
	}
	return 0;
}

/* The frame of one Line of a location of type `type`. */
static int r_line(struct reader *r, size_t i, size_t k, uint8_t type, uint32_t *id)
{
	const pb_line *line = r->pb->location[i]->line[k];
	struct sg_frame f = {.type = type};
	const pb_function *fn;
	uint64_t fi;

	if (!sg_u64map_get(&r->funcs, line->function_id, &fi))
		return fail(r, "location %zu: line %zu: function id %" PRIu64 " does not exist", i,
		            k, line->function_id);
	if (line->line < 0 || line->line > INT32_MAX)
		return fail(r, "location %zu: line %zu: line number %" PRId64 " out of range", i, k,
		            line->line);
	fn = r->pb->function[fi];
	f.name = r_str(r, r->pb->string_table[fn->name][0] ? fn->name : fn->system_name);
	f.file = r_str(r, fn->filename);
	f.line = (int32_t)line->line;
	if (f.name == UINT32_MAX || f.file == UINT32_MAX)
		return SG_ENOMEM;
	*id = sg_profile_frame_id(r->p, &f);
	return *id == UINT32_MAX ? SG_ENOMEM : 0;
}

/* A frame for an address pprof could not name. */
static int r_address(struct reader *r, uint64_t address, uint8_t type, uint32_t *id)
{
	struct sg_frame f = {.type = type};
	char name[32];

	snprintf(name, sizeof(name), "0x%" PRIx64, address);
	f.name = sg_profile_intern(r->p, name, strlen(name));
	if (f.name == UINT32_MAX)
		return SG_ENOMEM;
	*id = sg_profile_frame_id(r->p, &f);
	return *id == UINT32_MAX ? SG_ENOMEM : 0;
}

/* Each location's frames, leaf first: one per Line, or one for the address. */
static int r_locations(struct reader *r)
{
	const pb_profile *pb = r->pb;
	size_t total = 0, at = 0;
	int err = 0;

	for (size_t i = 0; i < pb->n_location; i++)
		total += pb->location[i]->n_line ? pb->location[i]->n_line : 1;
	r->loc_at = malloc((pb->n_location + 1) * sizeof(*r->loc_at));
	r->loc_frames = malloc((total ? total : 1) * sizeof(*r->loc_frames));
	if (!r->loc_at || !r->loc_frames)
		return SG_ENOMEM;
	for (size_t i = 0; i < pb->n_location && !err; i++) {
		const pb_location *loc = pb->location[i];
		uint64_t type = SG_FRAME_PYTHON;

		if (!loc->id)
			return fail(r, "location %zu: id 0 is reserved", i);
		if (sg_u64map_get(&r->locs, loc->id, NULL))
			return fail(r, "location %zu: id %" PRIu64 " used twice", i, loc->id);
		if (loc->mapping_id && !sg_u64map_get(&r->mappings, loc->mapping_id, &type))
			return fail(r, "location %zu: mapping id %" PRIu64 " does not exist", i,
			            loc->mapping_id);
		if (sg_u64map_put(&r->locs, loc->id, i))
			return SG_ENOMEM;
		r->loc_at[i] = at;
		if (!loc->n_line)
			err = r_address(r, loc->address,
			                loc->mapping_id ? (uint8_t)type : SG_FRAME_NATIVE,
			                &r->loc_frames[at++]);
		for (size_t k = 0; k < loc->n_line && !err; k++)
			err = r_line(r, i, k, (uint8_t)type, &r->loc_frames[at++]);
	}
	r->loc_at[pb->n_location] = at;
	return err;
}

/* What a sample's labels say. */
struct sample_labels {
	struct sg_labels l;
	const char *process; /* NULL when not given */
	bool has_start, has_end;
	uint64_t start, end;
	uint32_t seen; /* 1 << enum word of each label read */
};

static int r_label(struct reader *r, size_t i, size_t k, struct sample_labels *sl)
{
	const pb_label *l = r->pb->sample[i]->label[k];
	enum word key, value;
	bool is_num;

	if (!str_ok(r, l->key) || !str_ok(r, l->str) || !str_ok(r, l->num_unit))
		return fail(r, "sample %zu: label %zu: string index out of range", i, k);
	key = r->word[l->key];
	value = r->word[l->str];
	if (key < W_PID || key > W_END)
		return 0; /* another tool's */
	is_num = key == W_PID || key == W_TID || key == W_START || key == W_END;
	if (is_num ? l->str != 0 : l->num != 0 || l->num_unit != 0)
		return fail(r, "sample %zu: label '%s' should be a %s", i, words[key],
		            is_num ? "number" : "string");
	if (sl->seen & 1u << key)
		return fail(r, "sample %zu: two '%s' labels", i, words[key]);
	sl->seen |= 1u << key;
	if ((key == W_PID || key == W_TID) && (l->num < INT32_MIN || l->num > INT32_MAX))
		return fail(r, "sample %zu: %s %" PRId64 " out of range", i, words[key], l->num);
	if ((key == W_START || key == W_END) &&
	    (l->num < 0 || (l->num_unit && r->word[l->num_unit] != W_NANOSECONDS)))
		return fail(r, "sample %zu: label '%s' is not a time in nanoseconds", i,
		            words[key]);
	switch (key) {
	case W_PID:
		sl->l.pid = (pid_t)l->num;
		break;
	case W_TID:
		sl->l.tid = (pid_t)l->num;
		break;
	case W_THREAD_NAME:
		sl->l.thread_name = r_str(r, l->str);
		if (sl->l.thread_name == UINT32_MAX)
			return SG_ENOMEM;
		break;
	case W_STATE:
		if (value != W_IDLE && value != W_RUNNING)
			return fail(r, "sample %zu: label 'state' is neither 'idle' nor 'running'",
			            i);
		sl->l.flags |= value == W_IDLE ? SG_SAMPLE_IDLE : 0;
		break;
	case W_GIL:
		if (value != W_HELD)
			return fail(r, "sample %zu: label 'gil' is not 'held'", i);
		sl->l.flags |= SG_SAMPLE_GIL;
		break;
	case W_PROCESS:
		sl->process = r->pb->string_table[l->str];
		break;
	case W_START:
		sl->has_start = true;
		sl->start = (uint64_t)l->num;
		break;
	default: /* W_END */
		sl->has_end = true;
		sl->end = (uint64_t)l->num;
		break;
	}
	return 0;
}

/* Name pid's process, unless it has a name already: then it must be this. */
static int r_process(struct reader *r, size_t i, pid_t pid, const char *command)
{
	const char *have = sg_profile_process(r->p, pid);

	if (!command[0] || !strcmp(have, command))
		return 0;
	if (have[0])
		return fail(r, "sample %zu: process %d has another command in an earlier sample", i,
		            (int)pid);
	return sg_profile_set_process(r->p, pid, command);
}

/* The sample's values: count and weight, checked. */
static int r_values(struct reader *r, size_t i, uint64_t *count, uint64_t *weight)
{
	const pb_sample *s = r->pb->sample[i];

	if (s->n_value != r->pb->n_sample_type)
		return fail(r, "sample %zu: %zu values for %zu sample types", i, s->n_value,
		            r->pb->n_sample_type);
	for (size_t k = 0; k < s->n_value; k++)
		if (s->value[k] < 0)
			return fail(
			    r, "sample %zu: negative value %" PRId64 " (a difference of profiles?)",
			    i, s->value[k]);
	*count = (uint64_t)s->value[0];
	*weight = r->weight_col == SIZE_MAX ? 0 : (uint64_t)s->value[r->weight_col];
	if (*count > MAX_COUNT - r->count_sum)
		return fail(r, "sample %zu: the counts add up to more than 2^53", i);
	/* Sums stay int64 so that any row writes back. */
	if (*weight > INT64_MAX - r->weight_sum)
		return fail(r, "sample %zu: the weights add up to more than 2^63-1 ns", i);
	r->count_sum += *count;
	r->weight_sum += *weight;
	return 0;
}

/* The sample's stack into r->stack, root first; its depth in *depth. */
static int r_stack(struct reader *r, size_t i, size_t *depth)
{
	const pb_sample *s = r->pb->sample[i];
	size_t n = 0;

	for (size_t k = 0; k < s->n_location_id; k++) {
		uint64_t li;
		size_t nf;

		if (!sg_u64map_get(&r->locs, s->location_id[k], &li))
			return fail(r, "sample %zu: location id %" PRIu64 " does not exist", i,
			            s->location_id[k]);
		nf = r->loc_at[li + 1] - r->loc_at[li];
		if (nf > MAX_DEPTH - n)
			return fail(r, "sample %zu: stack deeper than 65536 frames", i);
		if (sg_grow(&r->stack, &r->stack_cap, n + nf, sizeof(*r->stack)))
			return SG_ENOMEM;
		memcpy(r->stack + n, r->loc_frames + r->loc_at[li], nf * sizeof(*r->stack));
		n += nf;
	}
	if (n > MAX_FRAMES - r->frame_sum)
		return fail(r, "sample %zu: more than 2^26 frames in all stacks", i);
	r->frame_sum += n;
	for (size_t k = 0; k < n / 2; k++) {
		uint32_t t = r->stack[k];

		r->stack[k] = r->stack[n - 1 - k];
		r->stack[n - 1 - k] = t;
	}
	*depth = n;
	return 0;
}

static int r_sample(struct reader *r, size_t i)
{
	struct sample_labels sl = {.process = NULL};
	uint64_t count = 0, weight = 0, prev;
	size_t depth = 0;
	uint32_t stack;
	int err = r_values(r, i, &count, &weight);

	for (size_t k = 0; !err && k < r->pb->sample[i]->n_label; k++)
		err = r_label(r, i, k, &sl);
	if (!err)
		err = r_stack(r, i, &depth);
	if (err)
		return err;
	if (i == 0)
		r->timed = sl.has_start;
	if (sl.has_start != r->timed)
		return fail(r, "sample %zu: %s 'start' label, unlike sample 0", i,
		            sl.has_start ? "a" : "no");
	if (sl.has_end && !sl.has_start)
		return fail(r, "sample %zu: an 'end' label without a 'start'", i);
	if (sl.has_end && sl.end < sl.start)
		return fail(r, "sample %zu: ends before it starts", i);
	if (sl.has_start && sg_u64map_get(&r->starts, thread_key(&sl.l), &prev) && sl.start < prev)
		return fail(r, "sample %zu: starts before the previous sample of its thread", i);
	if (sl.has_start && sg_u64map_put(&r->starts, thread_key(&sl.l), sl.start))
		return SG_ENOMEM;
	if (sl.process && (err = r_process(r, i, sl.l.pid, sl.process)))
		return err;
	stack = sg_profile_stack_id(r->p, r->stack, depth);
	if (stack == UINT32_MAX)
		return SG_ENOMEM;
	if (r->timed)
		return sg_profile_add_at(r->p, stack, &sl.l, count, weight, sl.start);
	return sg_profile_add(r->p, stack, &sl.l, count, weight);
}

static int r_profile(struct reader *r)
{
	int err = r_strings(r);

	if (!err)
		err = r_header(r);
	if (!err)
		err = r_mappings(r);
	if (!err)
		err = r_functions(r);
	if (!err)
		err = r_locations(r);
	for (size_t i = 0; !err && i < r->pb->n_sample; i++)
		err = r_sample(r, i);
	return err;
}

static int read_pprof(FILE *in, struct sg_profile *p, char *errbuf, size_t errlen)
{
	struct reader r = {.p = p, .err = errbuf, .errlen = errlen};
	struct budget budget = {.left = MAX_UNPACKED};
	ProtobufCAllocator alloc = {budget_alloc, budget_free, &budget};
	struct sg_strbuf raw = SG_STRBUF_INIT;
	pb_profile *pb = NULL;
	int err;

	sg_u64map_init(&r.mappings);
	sg_u64map_init(&r.funcs);
	sg_u64map_init(&r.locs);
	sg_u64map_init(&r.starts);
	err = slurp(&r, in, &raw);
	if (!err) {
		pb = perftools__profiles__profile__unpack(
		    &alloc, raw.len, (const uint8_t *)(raw.buf ? raw.buf : ""));
		if (!pb)
			err = budget.exceeded
			          ? fail(&r, "more than 1 GiB of messages once unpacked")
			          : fail(&r, "not a pprof profile: no protobuf Profile message");
	}
	sg_strbuf_release(&raw);
	r.pb = pb;
	if (!err)
		err = r_profile(&r);
	if (err == SG_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	if (pb)
		perftools__profiles__profile__free_unpacked(pb, &alloc);
	free(r.word);
	free(r.str_ids);
	sg_u64map_release(&r.mappings);
	sg_u64map_release(&r.funcs);
	sg_u64map_release(&r.locs);
	sg_u64map_release(&r.starts);
	free(r.loc_frames);
	free(r.loc_at);
	free(r.stack);
	return err;
}

static const char *const extensions[] = {".pb.gz", ".pprof", NULL};

const struct sg_format sg_format_pprof = {
    .name = "pprof",
    .extensions = extensions,
    .write = write_pprof,
    .read = read_pprof,
    .sniff = sniff_pprof,
};
