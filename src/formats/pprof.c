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
 *   point at mapping 1 "[native]", 2 "[kernel]" or 3 "[jit]" (pprof does not look for
 *   binaries to symbolise mappings named "[...]").
 * - Labels, each only when known: "pid" and "tid" (num), "thread_name" and
 *   "process" (its command) (str); "state" "idle" on idle samples and
 *   "running" on the others in wall mode; "gil" "held".
 * - The rest of sg_meta in comments "spyglass.KEY=VALUE" (meta_fields),
 *   and a comment "spyglass.path_root=DIR" per path root: file names stay
 *   whole, and convert shortens them as the run's own writers would.
 * - The timeline, when the profile has one: one Sample per run, with num
 *   labels "start" and "end" (nanoseconds since time_nanos) and values [the
 *   run's count, its share of its row's nanoseconds by count]; otherwise
 *   one Sample per row. pprof adds samples up, so its totals are the
 *   rows'. Rows without nanoseconds (read from collapsed files) keep 0.
 * - record --memory (meta.memory): two more sample types, rss_growth/bytes
 *   and rss_freed/bytes, the default one rss_growth (a run takes its row's
 *   bytes by its share of the row's count, as its nanoseconds), and the
 *   RSS series in one comment "spyglass.rss=T:MIN:MAX T:MIN:MAX ..."
 *   (nanoseconds since time_nanos, bytes; sg_profile_rss).
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
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "formats/format.h"
#include "formats/pprof_pb.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/strbuf.h"
#include "util/u64map.h"

/* Bounds on what the reader accepts, so hostile files cannot exhaust us. */
#define MIN_INFLATE_LIMIT ((uint64_t)16 << 20)
#define INFLATE_RATIO     256
#define MIN_UNPACKED      ((size_t)1 << 20)
#define UNPACK_RATIO      64
/* What the first pass keeps (strings, functions, locations, lines,
 * mappings, sample types, comments), at most: real files hold less than
 * one per 2 bytes of the file, bombs up to 500. */
#define MIN_KEPT      ((uint64_t)1 << 18)
#define KEPT_PER_BYTE 4
#define MAX_DEPTH     65536
/* One message of the Profile, at most: a Sample of MAX_DEPTH locations
 * takes 640 KiB; strings, functions and locations are smaller still. */
#define MAX_FIELD ((uint64_t)16 << 20)
/* Counts stay exact as doubles, which shares and reports compute with. */
#define MAX_COUNT ((uint64_t)1 << 53)
/* Rates: 0 (unknown), or a period that fits int64 nanoseconds with room. */
#define MIN_RATE_HZ 1e-6
#define MAX_RATE_HZ 1e9

#define NS_PER_S       1e9
#define GZIP_MAGIC     "\x1f\x8b"
#define COMMENT_PREFIX "spyglass."
#define PATH_ROOT_KEY  "path_root"
#define RSS_KEY        "rss"
#define CHUNK          (64 * 1024)

/* The strings the format gives meaning to, by kind. */
enum word {
	W_OTHER,
	W_SAMPLES,
	W_COUNT,
	W_CPU,
	W_WALL,
	W_TIME,
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
	W_JIT,
	W_RSS_GROWTH,
	W_RSS_FREED,
	W_BYTES,
	NWORDS
};

static const char *const words[NWORDS] = {
    [W_OTHER] = "",
    [W_SAMPLES] = "samples",
    [W_COUNT] = "count",
    [W_CPU] = "cpu",
    [W_WALL] = "wall",
    [W_TIME] = "time",
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
    [W_JIT] = "[jit]",
    [W_RSS_GROWTH] = "rss_growth",
    [W_RSS_FREED] = "rss_freed",
    [W_BYTES] = "bytes",
};

/* Mapping ids of the frame types that have one. */
enum { MAPPING_NATIVE = 1, MAPPING_KERNEL = 2, MAPPING_JIT = 3, NMAPPINGS = 3 };

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
    {"truncated", META_U64, offsetof(struct sg_meta, truncated)},
    {"by_thread", META_BOOL, offsetof(struct sg_meta, by_thread)},
    {"by_process", META_BOOL, offsetof(struct sg_meta, by_process)},
    {"thread_groups", META_BOOL, offsetof(struct sg_meta, thread_groups)},
    {"memory", META_BOOL, offsetof(struct sg_meta, memory)},
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
	struct gz_sink *g;
	struct sg_intern strs;  /* the string table: id = index */
	struct sg_intern funcs; /* (name, file) string indices: id + 1 = Function id */
	uint32_t *frame_func;   /* frame id -> Function id */
	int64_t word[NWORDS];
	bool used_mappings[NMAPPINGS + 1];
	size_t ncols;    /* values per sample: 1 (count), 2 (count, ns) or 4 (and
	                  * rss_growth, rss_freed) */
	uint8_t *packed; /* scratch for one packed message */
	size_t packed_cap;
	uint64_t *locs; /* scratch: a sample's location ids, leaf first */
	size_t locs_cap;
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
		value = sg_mode_name(*(const enum sg_mode *)at);
		break;
	}
	if (!w->err)
		w->err = sg_strbuf_addf(&sb, COMMENT_PREFIX "%s=%s", f->key, value);
	if (!w->err)
		id = w_str(w, sb.buf);
	sg_strbuf_release(&sb);
	return id;
}

/* ---- the Profile message, one top-level field at a time ----
 *
 * A message's repeated fields are independent fields on the wire, and
 * fields may come in any order, so the file is the header's fields (a
 * Profile message without its big repeated fields) followed by each
 * string, function, location and sample as a field of its own, packed and
 * deflated one by one: writing costs a sample's memory, not the file's. */

static void w_bytes(struct writer *w, const void *data, size_t n)
{
	if (!w->err)
		gz_append(&w->g->base, n, data);
	if (!w->err && w->g->err)
		w->err = w->g->err;
}

static void w_varint(struct writer *w, uint64_t v)
{
	uint8_t buf[10];
	size_t n = 0;

	do {
		buf[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	w_bytes(w, buf, n);
}

/* Field `field` of the Profile, length-delimited: its tag and length. */
static void w_field(struct writer *w, unsigned field, size_t len)
{
	w_varint(w, (uint64_t)field << 3 | 2);
	w_varint(w, len);
}

/* Field `field` holding one message, packed by protobuf-c. */
static void w_message(struct writer *w, unsigned field, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	if (!w->err && sg_grow(&w->packed, &w->packed_cap, n + 1, 1))
		w->err = SG_ENOMEM;
	if (w->err)
		return;
	protobuf_c_message_pack(m, w->packed);
	w_field(w, field, n);
	w_bytes(w, w->packed, n);
}

enum { F_SAMPLE = 2, F_LOCATION = 4, F_FUNCTION = 5, F_STRING = 6 };

/* Every frame's Function, and every string but the samples' own: the
 * string table is complete before anything is written. */
static void w_intern_frames(struct writer *w)
{
	size_t n = sg_profile_nframes(w->p);

	w->frame_func = calloc(n ? n : 1, sizeof(*w->frame_func));
	if (!w->frame_func)
		w->err = SG_ENOMEM;
	for (size_t i = 0; i < n && !w->err; i++) {
		const struct sg_frame *f = sg_profile_frame(w->p, (uint32_t)i);
		uint32_t key[2], fid;

		key[0] = (uint32_t)w_str(w, sg_profile_str(w->p, f->name));
		key[1] = (uint32_t)w_str(w, sg_profile_str(w->p, f->file));
		if (!w->err && sg_intern_put(&w->funcs, key, sizeof(key), &fid))
			w->err = SG_ENOMEM;
		w->frame_func[i] = fid + 1;
		if (f->type == SG_FRAME_NATIVE)
			w->used_mappings[MAPPING_NATIVE] = true;
		else if (f->type == SG_FRAME_KERNEL)
			w->used_mappings[MAPPING_KERNEL] = true;
		else if (f->type == SG_FRAME_JIT)
			w->used_mappings[MAPPING_JIT] = true;
	}
	for (size_t r = 0; r < sg_profile_nsamples(w->p) && !w->err; r++) {
		const struct sg_labels *l = &sg_profile_sample(w->p, r)->labels;

		w_str(w, sg_profile_str(w->p, l->thread_name));
		w_str(w, sg_profile_process(w->p, l->pid));
	}
}

static void w_strings(struct writer *w)
{
	for (size_t i = 0; i < sg_intern_count(&w->strs) && !w->err; i++) {
		size_t len;
		const void *s = sg_intern_get(&w->strs, (uint32_t)i, &len);

		w_field(w, F_STRING, len);
		w_bytes(w, s, len);
	}
}

static void w_functions(struct writer *w)
{
	for (size_t i = 0; i < sg_intern_count(&w->funcs) && !w->err; i++) {
		const uint32_t *key = sg_intern_get(&w->funcs, (uint32_t)i, NULL);
		pb_function fn = PERFTOOLS__PROFILES__FUNCTION__INIT;

		fn.id = i + 1;
		fn.name = key[0];
		fn.filename = key[1];
		w_message(w, F_FUNCTION, &fn.base);
	}
}

/* One Location per frame (id = frame id + 1) with one Line. */
static void w_locations(struct writer *w)
{
	for (size_t i = 0; i < sg_profile_nframes(w->p) && !w->err; i++) {
		const struct sg_frame *f = sg_profile_frame(w->p, (uint32_t)i);
		pb_location loc = PERFTOOLS__PROFILES__LOCATION__INIT;
		pb_line line = PERFTOOLS__PROFILES__LINE__INIT, *lines[1] = {&line};

		line.function_id = w->frame_func[i];
		line.line = f->line;
		loc.id = i + 1;
		loc.n_line = 1;
		loc.line = lines;
		if (f->type == SG_FRAME_NATIVE)
			loc.mapping_id = MAPPING_NATIVE;
		else if (f->type == SG_FRAME_KERNEL)
			loc.mapping_id = MAPPING_KERNEL;
		else if (f->type == SG_FRAME_JIT)
			loc.mapping_id = MAPPING_JIT;
		w_message(w, F_LOCATION, &loc.base);
	}
}

static void w_label(pb_label *l, int64_t key, int64_t str, int64_t num)
{
	perftools__profiles__label__init(l);
	l->key = key;
	l->str = str;
	l->num = num;
}

#define MAX_LABELS 8

/* The labels every sample of a row carries, into out; returns how many. */
static size_t w_row_labels(struct writer *w, const struct sg_labels *l, pb_label *out)
{
	bool wall = sg_profile_meta_const(w->p)->mode == SG_MODE_WALL;
	const char *thread = sg_profile_str(w->p, l->thread_name);
	const char *process = sg_profile_process(w->p, l->pid);
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
	return k;
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

/* count's share of *left (what a row's earlier runs left of one of its
 * values) by count out of left_count, taken from *left. */
static uint64_t share_of_left(uint64_t *left, uint64_t count, uint64_t left_count)
{
	uint64_t share =
	    count >= left_count ? *left : (uint64_t)((unsigned __int128)*left * count / left_count);

	*left -= share;
	return share;
}

/* A run's share of its row's nanoseconds and bytes (out[0..2]), by count,
 * out of what the row's earlier runs left (*left); the last run takes the
 * rest, so the shares add up to the row exactly. */
static void run_share(struct sg_sample *left, uint64_t count, uint64_t *out)
{
	out[0] = share_of_left(&left->weight_ns, count, left->count);
	out[1] = share_of_left(&left->rss_growth, count, left->count);
	out[2] = share_of_left(&left->rss_freed, count, left->count);
	left->count -= count < left->count ? count : left->count;
}

/* One Sample per run of the timeline, or per row when there is none. */
static void w_samples(struct writer *w)
{
	size_t nrows = sg_profile_nsamples(w->p), nruns = sg_profile_nruns(w->p);
	size_t n = nruns ? nruns : nrows;
	uint64_t counts_left = INT64_MAX, left[3] = {INT64_MAX, INT64_MAX, INT64_MAX};
	struct sg_sample *rows_left = NULL;

	if (nruns && !(rows_left = malloc(nrows * sizeof(*rows_left) + 1)))
		w->err = SG_ENOMEM;
	for (size_t r = 0; r < nrows && rows_left; r++)
		rows_left[r] = *sg_profile_sample(w->p, r);
	for (size_t i = 0; i < n && !w->err; i++) {
		const struct sg_run *run = nruns ? sg_profile_run(w->p, i) : NULL;
		uint32_t r = run ? run->row : (uint32_t)i;
		const struct sg_sample *row = sg_profile_sample(w->p, r);
		pb_sample s = PERFTOOLS__PROFILES__SAMPLE__INIT;
		pb_label labels[MAX_LABELS], *label_ptrs[MAX_LABELS];
		int64_t values[4];
		uint64_t shares[3];
		size_t depth;
		const uint32_t *frames = sg_profile_stack(w->p, row->stack, &depth);

		if (sg_grow(&w->locs, &w->locs_cap, depth + 1, sizeof(*w->locs))) {
			w->err = SG_ENOMEM;
			break;
		}
		for (size_t k = 0; k < depth; k++)
			w->locs[k] = (uint64_t)frames[depth - 1 - k] + 1;
		s.location_id = w->locs;
		s.n_location_id = depth;
		if (run) {
			run_share(&rows_left[r], run->count, shares);
		} else {
			shares[0] = row->weight_ns;
			shares[1] = row->rss_growth;
			shares[2] = row->rss_freed;
		}
		values[0] = wire_share(run ? run->count : row->count, &counts_left);
		for (size_t k = 1; k < w->ncols; k++)
			values[k] = wire_share(shares[k - 1], &left[k - 1]);
		s.value = values;
		s.n_value = w->ncols;
		s.n_label = w_row_labels(w, &row->labels, labels);
		if (run) {
			w_label(&labels[s.n_label], w->word[W_START], 0, wire_value(run->start_ns));
			w_label(&labels[s.n_label + 1], w->word[W_END], 0, wire_value(run->end_ns));
			labels[s.n_label].num_unit = labels[s.n_label + 1].num_unit =
			    w->word[W_NANOSECONDS];
			s.n_label += 2;
		}
		for (size_t k = 0; k < s.n_label; k++)
			label_ptrs[k] = &labels[k];
		s.label = label_ptrs;
		w_message(w, F_SAMPLE, &s.base);
	}
	free(rows_left);
}

static bool any_weight(const struct sg_profile *p)
{
	for (size_t i = 0; i < sg_profile_nsamples(p); i++)
		if (sg_profile_sample(p, i)->weight_ns)
			return true;
	return false;
}

/* One comment per path root, its string id in ids[k] unless ids is NULL;
 * returns how many. */
static size_t w_root_comments(struct writer *w, const struct sg_meta *m, int64_t *ids)
{
	size_t n = 0;

	for (const char *at = m->path_roots, *end; !w->err && (end = strchr(at, '\n'));
	     at = end + 1, n++) {
		struct sg_strbuf sb = SG_STRBUF_INIT;
		int64_t id = 0;

		w->err =
		    sg_strbuf_addf(&sb, COMMENT_PREFIX PATH_ROOT_KEY "=%.*s", (int)(end - at), at);
		if (!w->err)
			id = w_str(w, sb.buf);
		if (ids)
			ids[n] = id;
		sg_strbuf_release(&sb);
	}
	return n;
}

/* The RSS series as one comment (0 when there is none): called before the
 * header to intern it, then by the header for its id. */
static int64_t w_rss_comment(struct writer *w)
{
	size_t n = sg_profile_nrss(w->p);
	struct sg_strbuf sb = SG_STRBUF_INIT;
	int64_t id = 0;

	if (!n || w->err)
		return 0;
	w->err = sg_strbuf_addstr(&sb, COMMENT_PREFIX RSS_KEY "=");
	for (size_t i = 0; i < n && !w->err; i++) {
		const struct sg_rss_point *pt = sg_profile_rss(w->p, i);

		w->err = sg_strbuf_addf(&sb, "%s%" PRIu64 ":%" PRIu64 ":%" PRIu64, i ? " " : "",
		                        pt->t_ns, pt->min_bytes, pt->max_bytes);
	}
	if (!w->err)
		id = w_str(w, sb.buf);
	sg_strbuf_release(&sb);
	return id;
}

/* Everything but the big repeated fields, as one Profile message. */
static void w_header(struct writer *w)
{
	const struct sg_meta *m = sg_profile_meta_const(w->p);
	pb_profile pb = PERFTOOLS__PROFILES__PROFILE__INIT;
	pb_value_type types[4], *type_ptrs[4] = {&types[0], &types[1], &types[2], &types[3]};
	pb_mapping mappings[NMAPPINGS], *mapping_ptrs[NMAPPINGS];
	size_t nroots = 0;
	int64_t *comments;
	enum word time_word = m->mode == SG_MODE_WALL  ? W_WALL
	                      : m->mode == SG_MODE_CPU ? W_CPU
	                                               : W_TIME;

	perftools__profiles__value_type__init(&types[0]);
	types[0].type = w->word[W_SAMPLES];
	types[0].unit = w->word[W_COUNT];
	perftools__profiles__value_type__init(&types[1]);
	types[1].type = w->word[time_word];
	types[1].unit = w->word[W_NANOSECONDS];
	/* A profile that does not say how its samples were taken (read from a
	 * collapsed file, no --rate) has counts and no times. */
	w->ncols = m->mode != SG_MODE_UNKNOWN || any_weight(w->p) ? 2 : 1;
	if (m->memory && w->ncols == 2) {
		for (int k = 2; k < 4; k++) {
			perftools__profiles__value_type__init(&types[k]);
			types[k].type = w->word[k == 2 ? W_RSS_GROWTH : W_RSS_FREED];
			types[k].unit = w->word[W_BYTES];
		}
		w->ncols = 4;
	}
	pb.sample_type = type_ptrs;
	pb.n_sample_type = w->ncols;
	if (w->ncols == 2 && m->rate_asked_hz >= MIN_RATE_HZ) {
		pb.period_type = &types[1];
		pb.period = (int64_t)llround(NS_PER_S / m->rate_asked_hz);
	}
	pb.time_nanos = wire_value(m->start_unix_ns);
	pb.duration_nanos = wire_value(m->duration_ns);
	for (const char *at = m->path_roots; (at = strchr(at, '\n')); at++)
		nroots++;
	comments = malloc((NMETA + nroots + 1) * sizeof(*comments));
	if (!comments) {
		w->err = SG_ENOMEM;
		return;
	}
	for (size_t i = 0; i < NMETA; i++)
		comments[i] = w_meta_comment(w, m, &meta_fields[i]);
	pb.comment = comments;
	pb.n_comment = NMETA + w_root_comments(w, m, comments + NMETA);
	if (sg_profile_nrss(w->p))
		comments[pb.n_comment++] = w_rss_comment(w);
	/* Profiles read from collapsed files know counts, not times: show
	 * counts by default rather than a graph of zeros. */
	if (w->ncols == 2 && sg_profile_total(w->p) && !any_weight(w->p))
		pb.default_sample_type = w->word[W_SAMPLES];
	/* record --memory's view, as the other writers default to. */
	if (w->ncols == 4)
		pb.default_sample_type = w->word[W_RSS_GROWTH];
	pb.mapping = mapping_ptrs;
	for (int id = 1; id <= NMAPPINGS; id++) {
		pb_mapping *mp = &mappings[pb.n_mapping];

		if (!w->used_mappings[id])
			continue;
		perftools__profiles__mapping__init(mp);
		mp->id = (uint64_t)id;
		mp->filename = w->word[id == MAPPING_NATIVE   ? W_NATIVE
		                       : id == MAPPING_KERNEL ? W_KERNEL
		                                              : W_JIT];
		mp->has_functions = mp->has_filenames = mp->has_line_numbers = true;
		mapping_ptrs[pb.n_mapping++] = mp;
	}
	if (!w->err)
		perftools__profiles__profile__pack_to_buffer(&pb, &w->g->base);
	if (!w->err && w->g->err)
		w->err = w->g->err;
	free(comments);
}

static int write_pprof(const struct sg_profile *p, const struct sg_write_opts *opts, FILE *out)
{
	struct writer w = {.p = p};
	const struct sg_meta *m = sg_profile_meta_const(p);

	(void)opts;
	sg_intern_init(&w.strs);
	sg_intern_init(&w.funcs);
	/* The empty string first: the format reserves index 0 for it. */
	for (int i = 0; i < NWORDS; i++)
		w.word[i] = w_str(&w, words[i]);
	for (size_t i = 0; i < NMETA; i++)
		w_meta_comment(&w, m, &meta_fields[i]);
	w_root_comments(&w, m, NULL);
	w_rss_comment(&w);
	w_intern_frames(&w);
	w.g = calloc(1, sizeof(*w.g));
	if (!w.g)
		w.err = SG_ENOMEM;
	if (!w.err) {
		w.g->base.append = gz_append;
		w.g->out = out;
		/* 16 + window bits: a gzip wrapper, as pprof files have. Fastest
		 * compression, as Go's runtime/pprof: level 6 took half as long
		 * again on a 1M-sample profile for a file 3% smaller. */
		if (deflateInit2(&w.g->zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8,
		                 Z_DEFAULT_STRATEGY) != Z_OK) {
			free(w.g);
			w.g = NULL;
			w.err = SG_ENOMEM;
		}
	}
	/* The strings first, so that a reader meets them before their uses. */
	w_header(&w);
	w_strings(&w);
	w_functions(&w);
	w_locations(&w);
	w_samples(&w);
	if (w.g) {
		if (!w.err)
			gz_deflate(w.g, Z_FINISH);
		if (!w.err)
			w.err = w.g->err;
		deflateEnd(&w.g->zs);
	}
	if (!w.err && ferror(out))
		w.err = SG_EIO;
	free(w.g);
	free(w.frame_func);
	free(w.packed);
	free(w.locs);
	sg_intern_release(&w.strs);
	sg_intern_release(&w.funcs);
	return w.err;
}

/* ---- reader ---- */

/* protobuf-c allocates through this, so unpacking stops at a budget
 * however the input multiplies (a 2-byte empty Sample costs ~80). */
struct budget {
	size_t used, limit;
	bool exceeded;
};

static size_t budget_limit(const struct budget *b)
{
	return b->limit;
}

/* What the reader keeps of each Mapping, Function, Location and Line:
 * only what it reads, not the unpacked messages (a Location unpacks to
 * ~190 bytes with its Line). */
struct r_mapping {
	uint64_t id;
	int64_t filename, build_id;
};

struct r_function {
	uint64_t id;
	int64_t name, system_name, filename;
};

struct r_location {
	uint64_t id, mapping_id, address;
	size_t line_at, nlines; /* lines[line_at .. line_at + nlines) */
};

struct r_line {
	uint64_t function_id;
	int64_t line;
};

/* Top-level fields of Profile (proto/profile.proto). */
enum {
	P_SAMPLE_TYPE = 1,
	P_SAMPLE = 2,
	P_MAPPING = 3,
	P_LOCATION = 4,
	P_FUNCTION = 5,
	P_STRING = 6,
	P_PERIOD_TYPE = 11,
	P_COMMENT = 13,
	P_LAST = 15,
};

struct reader {
	struct sg_profile *p;
	pb_profile pbh;       /* all but the samples, read by the first pass */
	const pb_profile *pb; /* &pbh */
	const pb_sample *cur; /* the sample the second pass is at */
	char *err;
	size_t errlen;
	struct budget budget; /* what protobuf-c unpacks into */
	ProtobufCAllocator alloc;
	struct sg_strbuf str_bytes; /* the string table, each NUL-terminated, */
	size_t *str_at;             /* string i at str_bytes.buf + str_at[i] */
	size_t caps[P_LAST + 1];    /* of the arrays in pbh, by field */
	struct r_mapping *maps;
	size_t nmaps, maps_cap;
	struct r_function *fns;
	size_t nfns, fns_cap;
	struct r_location *lc;
	size_t nlc, lc_cap;
	struct r_line *lines;
	size_t nlines, lines_cap;
	uint64_t kept;             /* strings, functions, ... kept by the first pass */
	const struct zin *z;       /* for the limits that scale with the file */
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
	size_t weight_col;            /* the first value in nanoseconds, SIZE_MAX if none */
	size_t growth_col, freed_col; /* rss_growth/bytes, rss_freed/bytes, or SIZE_MAX */
	bool timed;                   /* samples carry start labels */
	uint64_t count_sum, weight_sum, bytes_sum[2];
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

union alloc_head {
	size_t size;
	max_align_t align;
};

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;
	union alloc_head *h;

	if (size > budget_limit(b) - b->used - sizeof(*h) ||
	    b->used + sizeof(*h) > budget_limit(b)) {
		b->exceeded = true;
		return NULL;
	}
	h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	b->used += sizeof(*h) + size;
	return h + 1;
}

static void budget_free(void *data, void *ptr)
{
	struct budget *b = data;
	union alloc_head *h = ptr;

	if (!ptr)
		return;
	h--;
	b->used -= sizeof(*h) + h->size;
	free(h);
}

/* Files starting with gzip's magic number: pprof files are gzipped. */
static bool sniff_pprof(const unsigned char *head, size_t n)
{
	return n >= 2 && !memcmp(head, GZIP_MAGIC, 2);
}

/* The serialized message as a stream, inflated when gzipped: a window
 * buf[at .. len) of it, grown only as far as one field needs. */
struct zin {
	FILE *in;
	off_t start; /* where the file starts, to read it again */
	bool gz;
	z_stream zs;
	bool pending; /* inflate may have more output without more input */
	int zr;
	uint64_t in_size; /* bytes of the file, 0 when unknown */
	uint64_t in_read; /* compressed bytes read so far */
	uint64_t out;     /* bytes inflated so far */
	unsigned char raw[CHUNK];
	unsigned char *buf;
	size_t cap, at, len;
	bool eof;
};

/* What a gzipped file may inflate to. Real profiles compress by a modest
 * factor: spyglass's own by 28 for a 500-deep stack whose leaf changes
 * every sample (the most repetitive kind), which grows towards 100 at its
 * deepest stacks (4096); a gzip bomb by up to 1032. */
static uint64_t inflate_limit(const struct zin *z)
{
	uint64_t in = z->in_size ? z->in_size : z->in_read;

	return MIN_INFLATE_LIMIT + (in > UINT64_MAX / INFLATE_RATIO ? UINT64_MAX - MIN_INFLATE_LIMIT
	                                                            : in * INFLATE_RATIO);
}

static int zin_read_raw(struct reader *r, struct zin *z, unsigned char *to, size_t max, size_t *n)
{
	*n = fread(to, 1, max, z->in);
	z->in_read += *n;
	return ferror(z->in) ? fail(r, "cannot read the file") : 0;
}

/* More bytes at buf + len: at least one, unless the stream has ended. */
static int zin_more(struct reader *r, struct zin *z)
{
	size_t n, room;
	int err;

	if (z->cap - z->len < CHUNK) {
		size_t cap = z->cap;

		if (sg_grow(&z->buf, &cap, z->len + CHUNK, 1))
			return SG_ENOMEM;
		z->cap = cap;
	}
	room = z->cap - z->len;
	if (!z->gz) {
		err = zin_read_raw(r, z, z->buf + z->len, room, &n);
		z->len += n;
		z->eof = !n;
		return err;
	}
	for (;;) {
		if (z->zs.avail_in == 0 && !z->pending) {
			if ((err = zin_read_raw(r, z, z->raw, CHUNK, &n)))
				return err;
			if (!n) {
				z->eof = true;
				return z->zr == Z_STREAM_END
				           ? 0
				           : fail(r, "the gzip data ends early: a truncated file?");
			}
			z->zs.next_in = z->raw;
			z->zs.avail_in = (uInt)n;
		}
		/* A gzip file may hold several members, back to back. */
		if (z->zr == Z_STREAM_END)
			inflateReset(&z->zs);
		z->zs.next_out = z->buf + z->len;
		z->zs.avail_out = (uInt)(room > UINT_MAX ? UINT_MAX : room);
		n = z->zs.avail_out;
		z->zr = inflate(&z->zs, Z_NO_FLUSH);
		if (z->zr == Z_MEM_ERROR)
			return SG_ENOMEM;
		if (z->zr != Z_OK && z->zr != Z_STREAM_END && z->zr != Z_BUF_ERROR)
			return fail(r, "bad gzip data: %s",
			            z->zs.msg ? z->zs.msg : "cannot inflate");
		n -= z->zs.avail_out;
		z->pending = z->zr != Z_STREAM_END && z->zs.avail_out == 0;
		z->len += n;
		z->out += n;
		if (z->out > inflate_limit(z))
			return fail(r,
			            "inflates to more than %d times its size (and %d MiB): a gzip "
			            "bomb?",
			            INFLATE_RATIO, (int)(MIN_INFLATE_LIMIT >> 20));
		if (n)
			return 0;
	}
}

/* At least need bytes at buf + at, or *short_ when the stream ends first. */
static int zin_fill(struct reader *r, struct zin *z, size_t need, bool *short_)
{
	int err = 0;

	if (z->at && z->len - z->at < need) {
		memmove(z->buf, z->buf + z->at, z->len - z->at);
		z->len -= z->at;
		z->at = 0;
	}
	while (!err && z->len - z->at < need && !z->eof)
		err = zin_more(r, z);
	*short_ = z->len - z->at < need;
	return err;
}

static int zin_open(struct reader *r, struct zin *z, FILE *in)
{
	struct stat st;
	unsigned char head[2];
	size_t n;

	z->in = in;
	z->start = ftello(in);
	if (z->start < 0)
		z->start = 0;
	if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > z->start)
		z->in_size = (uint64_t)(st.st_size - z->start);
	n = fread(head, 1, sizeof(head), in);
	if (ferror(in))
		return fail(r, "cannot read the file");
	if (n == 0)
		return fail(r, "empty file");
	z->gz = sniff_pprof(head, n);
	if (z->gz && inflateInit2(&z->zs, 16 + MAX_WBITS) != Z_OK)
		return SG_ENOMEM;
	return fseeko(in, z->start, SEEK_SET) ? fail(r, "cannot read the file") : 0;
}

/* Back to the start of the stream, for the second pass. */
static int zin_rewind(struct reader *r, struct zin *z)
{
	if (fseeko(z->in, z->start, SEEK_SET))
		return fail(r, "cannot read the file again: not a regular file");
	clearerr(z->in);
	z->at = z->len = 0;
	z->eof = z->pending = false;
	z->in_read = z->out = 0;
	z->zr = Z_OK;
	if (z->gz) {
		inflateReset(&z->zs);
		z->zs.avail_in = 0;
	}
	return 0;
}

static void zin_close(struct zin *z)
{
	if (z->gz)
		inflateEnd(&z->zs);
	free(z->buf);
}

/* A varint at buf + at, consumed; *end_ when the stream had ended before it. */
static int zin_varint(struct reader *r, struct zin *z, uint64_t *v, bool *end_)
{
	bool short_;
	uint64_t x = 0;
	int err = zin_fill(r, z, 10, &short_);

	*end_ = !err && z->at == z->len;
	if (err || *end_)
		return err;
	for (unsigned i = 0; i < 10 && z->at < z->len; i++) {
		unsigned char b = z->buf[z->at++];

		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return fail(r, "not a pprof profile: a protobuf varint that does not end");
}

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* Append ptr to a growing array of n pointers. */
static int push_ptr(void ***arr, size_t *cap, size_t *n, void *ptr)
{
	if (sg_grow(arr, cap, *n + 1, sizeof(**arr)))
		return SG_ENOMEM;
	(*arr)[(*n)++] = ptr;
	return 0;
}

/* Unpack one message of descriptor d from len bytes, within the budget. */
static int r_unpack(struct reader *r, const ProtobufCMessageDescriptor *d, const uint8_t *data,
                    size_t len, ProtobufCMessage **out, const char *what, size_t i)
{
	/* One message at a time: a 2-byte empty one unpacks to ~100. */
	r->budget.limit = r->budget.used + MIN_UNPACKED + len * UNPACK_RATIO;
	r->budget.exceeded = false;
	*out = protobuf_c_message_unpack(d, &r->alloc, len, data);
	if (*out)
		return 0;
	if (r->budget.exceeded)
		return fail(r, "%s %zu: more than %d bytes per byte once unpacked", what, i,
		            UNPACK_RATIO);
	return fail(r, "not a pprof profile: %s %zu does not parse", what, i);
}

/* One more thing kept by the first pass, within what the file's size
 * allows: a bomb of empty messages must not cost 50 bytes per byte it
 * inflates to. */
static int r_kept(struct reader *r)
{
	uint64_t in = r->z->in_size ? r->z->in_size : r->z->in_read;

	if (++r->kept > MIN_KEPT + in * KEPT_PER_BYTE)
		return fail(r,
		            "more than %d strings, functions and locations per byte of the file: a "
		            "gzip bomb?",
		            KEPT_PER_BYTE);
	return 0;
}

/* A length-delimited field of the first pass: everything but samples. */
static int r_len_field(struct reader *r, uint32_t field, const uint8_t *data, size_t len)
{
	pb_profile *pb = &r->pbh;
	ProtobufCMessage *m = NULL;
	int err = 0;

	switch (field) {
	case P_SAMPLE_TYPE:
		err = r_unpack(r, &perftools__profiles__value_type__descriptor, data, len, &m,
		               "sample_type", pb->n_sample_type);
		if (!err && push_ptr((void ***)&pb->sample_type, &r->caps[P_SAMPLE_TYPE],
		                     &pb->n_sample_type, m))
			err = SG_ENOMEM;
		break;
	case P_MAPPING:
		err = r_unpack(r, &perftools__profiles__mapping__descriptor, data, len, &m,
		               "mapping", r->nmaps);
		if (!err && sg_grow(&r->maps, &r->maps_cap, r->nmaps + 1, sizeof(*r->maps)))
			err = SG_ENOMEM;
		if (!err) {
			const pb_mapping *mp = (const pb_mapping *)m;

			r->maps[r->nmaps++] =
			    (struct r_mapping){mp->id, mp->filename, mp->build_id};
		}
		break;
	case P_LOCATION:
		err = r_unpack(r, &perftools__profiles__location__descriptor, data, len, &m,
		               "location", r->nlc);
		if (!err && sg_grow(&r->lc, &r->lc_cap, r->nlc + 1, sizeof(*r->lc)))
			err = SG_ENOMEM;
		if (!err) {
			const pb_location *loc = (const pb_location *)m;

			if (sg_grow(&r->lines, &r->lines_cap, r->nlines + loc->n_line + 1,
			            sizeof(*r->lines))) {
				err = SG_ENOMEM;
				break;
			}
			r->lc[r->nlc++] = (struct r_location){loc->id, loc->mapping_id,
			                                      loc->address, r->nlines, loc->n_line};
			for (size_t k = 0; k < loc->n_line; k++)
				r->lines[r->nlines++] =
				    (struct r_line){loc->line[k]->function_id, loc->line[k]->line};
			r->kept += loc->n_line;
		}
		break;
	case P_FUNCTION:
		err = r_unpack(r, &perftools__profiles__function__descriptor, data, len, &m,
		               "function", r->nfns);
		if (!err && sg_grow(&r->fns, &r->fns_cap, r->nfns + 1, sizeof(*r->fns)))
			err = SG_ENOMEM;
		if (!err) {
			const pb_function *fn = (const pb_function *)m;

			r->fns[r->nfns++] =
			    (struct r_function){fn->id, fn->name, fn->system_name, fn->filename};
		}
		break;
	case P_STRING:
		/* Offsets for now: the buffer moves as it grows. */
		if (sg_grow(&r->str_at, &r->caps[P_STRING], pb->n_string_table + 1,
		            sizeof(*r->str_at)) ||
		    sg_strbuf_add(&r->str_bytes, data, len) || sg_strbuf_addch(&r->str_bytes, '\0'))
			return SG_ENOMEM;
		r->str_at[pb->n_string_table++] = r->str_bytes.len - len - 1;
		break;
	case P_PERIOD_TYPE:
		err = r_unpack(r, &perftools__profiles__value_type__descriptor, data, len, &m,
		               "period_type", 0);
		if (!err) {
			if (pb->period_type)
				protobuf_c_message_free_unpacked(&pb->period_type->base, &r->alloc);
			pb->period_type = (pb_value_type *)m;
		}
		break;
	case P_COMMENT: /* packed */
		for (size_t at = 0; at < len && !err;) {
			uint64_t v = 0;
			unsigned i = 0;

			do {
				if (at == len || i == 10)
					return fail(r, "not a pprof profile: bad packed comments");
				v |= (uint64_t)(data[at] & 0x7f) << (7 * i++);
			} while (data[at++] & 0x80);
			if (sg_grow(&pb->comment, &r->caps[P_COMMENT], pb->n_comment + 1,
			            sizeof(*pb->comment)))
				return SG_ENOMEM;
			pb->comment[pb->n_comment++] = (int64_t)v;
			if ((err = r_kept(r)))
				return err;
		}
		break;
	default:
		break;
	}
	if (m && (field == P_MAPPING || field == P_LOCATION || field == P_FUNCTION))
		protobuf_c_message_free_unpacked(m, &r->alloc);
	return err ? err : r_kept(r);
}

static int r_varint_field(struct reader *r, uint32_t field, uint64_t v)
{
	pb_profile *pb = &r->pbh;
	int64_t *to[P_LAST + 1] = {
	    [7] = &pb->drop_frames,     [8] = &pb->keep_frames, [9] = &pb->time_nanos,
	    [10] = &pb->duration_nanos, [12] = &pb->period,     [14] = &pb->default_sample_type,
	    [15] = &pb->doc_url,
	};

	if (field == P_COMMENT) {
		if (sg_grow(&pb->comment, &r->caps[P_COMMENT], pb->n_comment + 1,
		            sizeof(*pb->comment)))
			return SG_ENOMEM;
		pb->comment[pb->n_comment++] = (int64_t)v;
		return r_kept(r);
	}
	if (field <= P_LAST && to[field])
		*to[field] = (int64_t)v; /* the last one counts, as protobuf merges */
	return 0;
}

/* The wire type each known field must have (COMMENT may be packed too). */
static bool wire_ok(uint32_t field, unsigned wire)
{
	if (field == 0)
		return false;
	if (field > P_LAST)
		return true;
	if (field == P_COMMENT)
		return wire == WIRE_VARINT || wire == WIRE_LEN;
	if (field <= P_STRING || field == P_PERIOD_TYPE)
		return wire == WIRE_LEN;
	return wire == WIRE_VARINT;
}

static int r_sample(struct reader *r, size_t i);

/* One pass over the stream's top-level fields: the first keeps all but the
 * samples, the second reads the samples one at a time. */
static int r_pass(struct reader *r, struct zin *z, bool samples)
{
	size_t nsample = 0;
	int err = 0;

	while (!err) {
		uint64_t tag, v = 0, len = 0;
		uint32_t field;
		unsigned wire;
		bool end, short_ = false;

		if ((err = zin_varint(r, z, &tag, &end)) || end)
			break;
		field = tag >> 3 > UINT32_MAX ? UINT32_MAX : (uint32_t)(tag >> 3);
		wire = (unsigned)(tag & 7);
		if (!wire_ok(field, wire))
			return fail(r, "not a pprof profile: field %" PRIu32 " of wire type %u",
			            field, wire);
		switch (wire) {
		case WIRE_VARINT:
			if ((err = zin_varint(r, z, &v, &end)))
				break;
			if (end)
				return fail(r, "not a pprof profile: the message ends early");
			if (!samples)
				err = r_varint_field(r, field, v);
			break;
		case WIRE_I64:
		case WIRE_I32:
			len = wire == WIRE_I64 ? 8 : 4;
			/* fall through */
		case WIRE_LEN:
			if (wire == WIRE_LEN && ((err = zin_varint(r, z, &len, &end)) || end))
				break;
			if (len > MAX_FIELD)
				return fail(r, "a field of %" PRIu64 " bytes, more than 16 MiB",
				            len);
			if ((err = zin_fill(r, z, (size_t)len, &short_)))
				break;
			if (short_)
				return fail(r, "not a pprof profile: the message ends early");
			if (wire != WIRE_LEN)
				;
			else if (!samples && field != P_SAMPLE)
				err = r_len_field(r, field, z->buf + z->at, (size_t)len);
			else if (samples && field == P_SAMPLE) {
				ProtobufCMessage *m;

				err = r_unpack(r, &perftools__profiles__sample__descriptor,
				               z->buf + z->at, (size_t)len, &m, "sample", nsample);
				r->cur = (const pb_sample *)m;
				if (!err)
					err = r_sample(r, nsample++);
				if (m)
					protobuf_c_message_free_unpacked(m, &r->alloc);
				r->cur = NULL;
			}
			z->at += (size_t)len;
			break;
		default:
			return fail(r, "not a pprof profile: protobuf wire type %u", wire);
		}
		if (!err && end)
			return fail(r, "not a pprof profile: the message ends early");
	}
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

/* "T:MIN:MAX T:MIN:MAX ...", each a decimal, into the RSS series. */
static int r_rss(struct reader *r, size_t i, const char *at)
{
	while (*at) {
		struct sg_rss_point pt;
		uint64_t *v[3] = {&pt.t_ns, &pt.min_bytes, &pt.max_bytes};
		int err;

		for (int k = 0; k < 3; k++) {
			char *end;

			if (*at < '0' || *at > '9')
				return fail(r,
				            "comment %zu: " COMMENT_PREFIX RSS_KEY
				            " is not a list of TIME:MIN:MAX",
				            i);
			errno = 0;
			*v[k] = strtoull(at, &end, 10);
			/* MIN and MAX end in ':', a point in ' ' or the end. */
			if (errno || (k < 2 ? *end != ':' : *end && *end != ' '))
				return fail(r,
				            "comment %zu: " COMMENT_PREFIX RSS_KEY
				            " is not a list of TIME:MIN:MAX",
				            i);
			at = *end ? end + 1 : end;
		}
		if (pt.min_bytes > pt.max_bytes ||
		    (sg_profile_nrss(r->p) &&
		     pt.t_ns < sg_profile_rss(r->p, sg_profile_nrss(r->p) - 1)->t_ns))
			return fail(r,
			            "comment %zu: " COMMENT_PREFIX RSS_KEY
			            ": a point out of time order or with MIN above MAX",
			            i);
		err = sg_profile_add_rss_point(r->p, &pt);
		if (err)
			return err;
	}
	return 0;
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
	if (klen == strlen(PATH_ROOT_KEY) && !strncmp(key, PATH_ROOT_KEY, klen))
		return sg_profile_add_path_root(r->p, value);
	if (klen == strlen(RSS_KEY) && !strncmp(key, RSS_KEY, klen))
		return r_rss(r, i, value);
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
			for (enum sg_mode mode = SG_MODE_CPU; mode <= SG_MODE_UNKNOWN; mode++)
				if (!strcmp(value, sg_mode_name(mode))) {
					*(enum sg_mode *)at = mode;
					return 0;
				}
			break;
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
	r->weight_col = r->growth_col = r->freed_col = SIZE_MAX;
	for (size_t i = 0; i < pb->n_sample_type; i++) {
		const pb_value_type *vt = pb->sample_type[i];

		if (!str_ok(r, vt->type) || !str_ok(r, vt->unit))
			return fail(r, "sample_type %zu: string index out of range", i);
		if (r->weight_col == SIZE_MAX && r->word[vt->unit] == W_NANOSECONDS)
			r->weight_col = i;
		if (r->growth_col == SIZE_MAX && r->word[vt->type] == W_RSS_GROWTH &&
		    r->word[vt->unit] == W_BYTES)
			r->growth_col = i;
		if (r->freed_col == SIZE_MAX && r->word[vt->type] == W_RSS_FREED &&
		    r->word[vt->unit] == W_BYTES)
			r->freed_col = i;
	}
	m->memory = r->growth_col != SIZE_MAX;
	/* Only the type says how samples were taken; the comments may say more. */
	m->mode = SG_MODE_UNKNOWN;
	if (r->weight_col != SIZE_MAX && r->word[pb->sample_type[r->weight_col]->type] == W_WALL)
		m->mode = SG_MODE_WALL;
	else if (r->weight_col != SIZE_MAX &&
	         r->word[pb->sample_type[r->weight_col]->type] == W_CPU)
		m->mode = SG_MODE_CPU;
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
	for (size_t i = 0; i < r->nmaps; i++) {
		const struct r_mapping *mp = &r->maps[i];
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
		                  : w == W_JIT                     ? SG_FRAME_JIT
		                                                   : SG_FRAME_NATIVE))
			return SG_ENOMEM;
	}
	return 0;
}

static int r_functions(struct reader *r)
{
	for (size_t i = 0; i < r->nfns; i++) {
		const struct r_function *fn = &r->fns[i];

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
	const struct r_line *line = &r->lines[r->lc[i].line_at + k];
	struct sg_frame f = {.type = type};
	const struct r_function *fn;
	uint64_t fi;

	if (!sg_u64map_get(&r->funcs, line->function_id, &fi))
		return fail(r, "location %zu: line %zu: function id %" PRIu64 " does not exist", i,
		            k, line->function_id);
	if (line->line < 0 || line->line > INT32_MAX)
		return fail(r, "location %zu: line %zu: line number %" PRId64 " out of range", i, k,
		            line->line);
	fn = &r->fns[fi];
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
	size_t total = 0, at = 0;
	int err = 0;

	for (size_t i = 0; i < r->nlc; i++)
		total += r->lc[i].nlines ? r->lc[i].nlines : 1;
	r->loc_at = malloc((r->nlc + 1) * sizeof(*r->loc_at));
	r->loc_frames = malloc((total ? total : 1) * sizeof(*r->loc_frames));
	if (!r->loc_at || !r->loc_frames)
		return SG_ENOMEM;
	for (size_t i = 0; i < r->nlc && !err; i++) {
		const struct r_location *loc = &r->lc[i];
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
		if (!loc->nlines)
			err = r_address(r, loc->address,
			                loc->mapping_id ? (uint8_t)type : SG_FRAME_NATIVE,
			                &r->loc_frames[at++]);
		for (size_t k = 0; k < loc->nlines && !err; k++)
			err = r_line(r, i, k, (uint8_t)type, &r->loc_frames[at++]);
	}
	r->loc_at[r->nlc] = at;
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
	const pb_label *l = r->cur->label[k];
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

/* The sample's values: count, weight and bytes (growth, freed), checked. */
static int r_values(struct reader *r, size_t i, uint64_t *count, uint64_t *weight, uint64_t *bytes)
{
	const pb_sample *s = r->cur;

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
	/* Each under 2^63: their sums fit, and write back within a column. */
	bytes[0] = r->growth_col == SIZE_MAX ? 0 : (uint64_t)s->value[r->growth_col];
	bytes[1] = r->freed_col == SIZE_MAX ? 0 : (uint64_t)s->value[r->freed_col];
	for (int k = 0; k < 2; k++) {
		if (bytes[k] > INT64_MAX - r->bytes_sum[k])
			return fail(r, "sample %zu: the bytes add up to more than 2^63-1", i);
		r->bytes_sum[k] += bytes[k];
	}
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
	const pb_sample *s = r->cur;
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
	uint64_t count = 0, weight = 0, prev, bytes[2] = {0, 0};
	size_t depth = 0;
	uint32_t stack;
	int err = r_values(r, i, &count, &weight, bytes);

	for (size_t k = 0; !err && k < r->cur->n_label; k++)
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
	/* A run's end as written, where the file gives it. */
	if (sl.has_end)
		err = sg_profile_add_run(r->p, stack, &sl.l, count, weight, sl.start, sl.end);
	else if (r->timed)
		err = sg_profile_add_at(r->p, stack, &sl.l, count, weight, sl.start);
	else
		err = sg_profile_add(r->p, stack, &sl.l, count, weight);
	if (!err && (bytes[0] || bytes[1]))
		err = sg_profile_add_memory(r->p, stack, &sl.l, bytes[0], bytes[1]);
	return err;
}

/* Everything but the samples, checked, from the first pass. */
static int r_tables(struct reader *r)
{
	pb_profile *pb = &r->pbh;
	int err;

	if (!pb->n_string_table)
		return fail(r, "string_table[0] is not the empty string: not a pprof profile");
	pb->string_table = malloc(pb->n_string_table * sizeof(*pb->string_table));
	if (!pb->string_table)
		return SG_ENOMEM;
	for (size_t i = 0; i < pb->n_string_table; i++)
		pb->string_table[i] = r->str_bytes.buf + r->str_at[i];
	err = r_strings(r);
	if (!err)
		err = r_header(r);
	if (!err)
		err = r_mappings(r);
	if (!err)
		err = r_functions(r);
	if (!err)
		err = r_locations(r);
	return err;
}

static void free_tables(struct reader *r)
{
	pb_profile *pb = &r->pbh;
	for (size_t i = 0; i < pb->n_sample_type; i++)
		protobuf_c_message_free_unpacked(&pb->sample_type[i]->base, &r->alloc);
	free(pb->sample_type);
	free(r->maps);
	free(r->fns);
	free(r->lc);
	free(r->lines);
	if (pb->period_type)
		protobuf_c_message_free_unpacked(&pb->period_type->base, &r->alloc);
	free(pb->comment);
	free(pb->string_table);
	free(r->str_at);
	sg_strbuf_release(&r->str_bytes);
}

/*
 * Two passes over the stream, so that memory follows the profile, not the
 * file: fields may come in any order (Go's files have the samples first,
 * the strings last), so the first keeps all but the samples, unpacked one
 * by one, and the second reads the samples, one at a time.
 */
static int read_pprof(FILE *in, struct sg_profile *p, char *errbuf, size_t errlen)
{
	struct reader r = {.p = p, .err = errbuf, .errlen = errlen};
	struct zin z = {.zr = Z_OK};
	int err;

	r.pb = &r.pbh;
	perftools__profiles__profile__init(&r.pbh);
	r.z = &z;
	r.alloc = (ProtobufCAllocator){budget_alloc, budget_free, &r.budget};
	sg_u64map_init(&r.mappings);
	sg_u64map_init(&r.funcs);
	sg_u64map_init(&r.locs);
	sg_u64map_init(&r.starts);
	err = zin_open(&r, &z, in);
	if (!err)
		err = r_pass(&r, &z, false);
	if (!err)
		err = r_tables(&r);
	if (!err)
		err = zin_rewind(&r, &z);
	if (!err)
		err = r_pass(&r, &z, true);
	if (err == SG_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	zin_close(&z);
	free_tables(&r);
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
