/* SPDX-License-Identifier: MIT */
/* The pprof writer and reader: round trips of spyglass's own profiles,
 * other tools' profiles, and broken files rejected with a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "formats/format.h"
#include "formats/pprof_pb.h"
#include "util/err.h"

#include "profile_fixtures.h"

static const struct sg_format *pprof(void)
{
	const struct sg_format *f = sg_format_by_name("pprof");

	assert_non_null(f);
	return f;
}

struct bytes {
	char *buf;
	size_t len;
};

static struct bytes write_pprof(const struct sg_profile *p)
{
	struct sg_write_opts opts = {0};
	struct bytes b = {NULL, 0};
	FILE *out = open_memstream(&b.buf, &b.len);

	assert_non_null(out);
	assert_int_equal(pprof()->write(p, &opts, out), 0);
	fclose(out);
	return b;
}

/* Read len bytes; returns the profile (also on failure), the error in *err. */
static struct sg_profile *read_pprof(const void *data, size_t len, int *err, char *msg,
                                     size_t msglen)
{
	struct sg_profile *p = sg_profile_new();
	/* fmemopen refuses a zero-length buffer: an empty file instead. */
	FILE *in = len ? fmemopen((void *)(uintptr_t)data, len, "r") : tmpfile();

	assert_non_null(p);
	assert_non_null(in);
	msg[0] = '\0';
	*err = pprof()->read(in, p, msg, msglen);
	fclose(in);
	return p;
}

static struct sg_profile *read_ok(struct bytes b)
{
	char msg[256];
	int err;
	struct sg_profile *p = read_pprof(b.buf, b.len, &err, msg, sizeof(msg));

	if (err)
		fail_msg("rejected: %s", msg);
	return p;
}

/* In collapsed form, with every root. */
static char *collapsed_text(const struct sg_profile *p)
{
	struct sg_write_opts opts = {.threads = true, .processes = true};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(sg_format_by_name("collapsed")->write(p, &opts, out), 0);
	fclose(out);
	return buf;
}

/* One sample of the n frames (root first), in thread tid of pid, taken at
 * t_ns and standing for weight_ns. */
static void add_at(struct sg_profile *p, const uint32_t *frames, size_t n, pid_t pid, pid_t tid,
                   const char *thread, uint32_t flags, uint64_t t_ns, uint64_t weight_ns)
{
	struct sg_labels labels = {.pid = pid, .tid = tid, .flags = flags};
	uint32_t stack = sg_profile_stack_id(p, frames, n);

	assert_int_not_equal(stack, UINT32_MAX);
	labels.thread_name = fx_str(p, thread);
	assert_int_equal(sg_profile_add_at(p, stack, &labels, 1, weight_ns, t_ns), 0);
}

/* gzip n bytes (as one member). */
static struct bytes gzip(const void *data, size_t n)
{
	z_stream zs = {0};
	struct bytes b;

	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
	                 Z_OK);
	b.len = deflateBound(&zs, n);
	b.buf = malloc(b.len);
	assert_non_null(b.buf);
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)b.buf;
	zs.avail_out = (uInt)b.len;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	b.len = zs.total_out;
	deflateEnd(&zs);
	return b;
}

/* ---- spyglass's own profiles ---- */

/* Every field of meta set, frames of each type, labels of each kind, and a
 * timeline whose samples come on time (so a run's end is its start plus its
 * weight, as the reader restores it). */
static struct sg_profile *recorded_profile(void)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_meta *m = sg_profile_meta(p);
	struct sg_frame native = {.type = SG_FRAME_NATIVE, .line = 0};
	struct sg_frame kernel = {.type = SG_FRAME_KERNEL, .line = 0};
	uint32_t f[6];

	assert_int_equal(sg_profile_set_meta_str(p, &m->command, "python3 app.py --x=1"), 0);
	assert_int_equal(sg_profile_set_meta_str(p, &m->python_version, "3.12.1"), 0);
	assert_int_equal(sg_profile_add_path_root(p, "/usr/lib/python3.12"), 0);
	assert_int_equal(sg_profile_add_path_root(p, "/srv/app with=signs/"), 0);
	m->mode = SG_MODE_WALL;
	m->rate_asked_hz = 250;
	m->rate_achieved_hz = 249.0801387089779;
	m->start_unix_ns = 1700000000123456789ull;
	m->duration_ns = 3000000000ull;
	m->samples = 1234;
	m->dropped = 6;
	m->dropped_torn = 1;
	m->dropped_read = 2;
	m->truncated = 3;
	m->by_thread = true;
	m->by_process = true;
	f[0] = fx_frame(p, "<module>", "app.py", 10);
	f[1] = fx_frame(p, "Worker.run", "app.py", 20);
	f[2] = fx_frame(p, "wait", "threading.py", 0);
	native.name = fx_str(p, "PyObject_Call");
	native.file = fx_str(p, "libpython3.12.so");
	f[3] = sg_profile_frame_id(p, &native);
	kernel.name = fx_str(p, "do_syscall_64");
	f[4] = sg_profile_frame_id(p, &kernel);
	f[5] = fx_frame(p, "<lambda>", NULL, 0);
	assert_int_equal(sg_profile_set_process(p, 100, "python3 app.py --x=1"), 0);
	/* Thread 7 runs, then waits; thread 8 holds the GIL in native code. */
	for (uint64_t t = 0; t < 5; t++)
		add_at(p, f, 2, 100, 7, "MainThread", 0, t * 4000000, 4000000);
	for (uint64_t t = 5; t < 8; t++)
		add_at(p, (uint32_t[]){f[0], f[2]}, 2, 100, 7, "MainThread", SG_SAMPLE_IDLE,
		       t * 4000000, 4000000);
	add_at(p, f, 2, 100, 7, "MainThread", 0, 8 * 4000000, 4000000);
	for (uint64_t t = 1; t < 4; t++)
		add_at(p, (uint32_t[]){f[0], f[1], f[3], f[4]}, 4, 100, 8, "worker-1",
		       SG_SAMPLE_GIL, t * 4000000, 4000000);
	/* A thread the pid of which is unknown, with no name. */
	add_at(p, (uint32_t[]){f[5]}, 1, 0, 9, "", 0, 0, 4000000);
	return p;
}

static void assert_meta_equal(const struct sg_meta *a, const struct sg_meta *b)
{
	assert_string_equal(a->command, b->command);
	assert_string_equal(a->python_version, b->python_version);
	assert_string_equal(a->path_roots, b->path_roots);
	assert_int_equal(a->mode, b->mode);
	assert_true(a->rate_asked_hz == b->rate_asked_hz);
	assert_true(a->rate_achieved_hz == b->rate_achieved_hz);
	assert_int_equal(a->start_unix_ns, b->start_unix_ns);
	assert_int_equal(a->duration_ns, b->duration_ns);
	assert_int_equal(a->samples, b->samples);
	assert_int_equal(a->dropped, b->dropped);
	assert_int_equal(a->dropped_torn, b->dropped_torn);
	assert_int_equal(a->dropped_read, b->dropped_read);
	assert_int_equal(a->truncated, b->truncated);
	assert_int_equal(a->by_thread, b->by_thread);
	assert_int_equal(a->by_process, b->by_process);
}

static void test_round_trip(void **state)
{
	struct sg_profile *p = recorded_profile(), *q;
	struct bytes first, second;
	char *text_p, *text_q;

	(void)state;
	first = write_pprof(p);
	assert_true(first.len > 2 && !memcmp(first.buf, "\x1f\x8b", 2)); /* gzipped */
	q = read_ok(first);
	assert_meta_equal(sg_profile_meta_const(p), sg_profile_meta_const(q));
	assert_int_equal(sg_profile_total(q), sg_profile_total(p));
	assert_int_equal(sg_profile_nsamples(q), sg_profile_nsamples(p));
	assert_int_equal(sg_profile_nframes(q), sg_profile_nframes(p));
	assert_string_equal(sg_profile_process(q, 100), "python3 app.py --x=1");
	/* Rows, frames (their types too) and runs come back as they were. */
	for (size_t i = 0; i < sg_profile_nsamples(p); i++) {
		const struct sg_sample *a = sg_profile_sample(p, i), *b = sg_profile_sample(q, i);
		size_t na, nb;
		const uint32_t *fa = sg_profile_stack(p, a->stack, &na);
		const uint32_t *fb = sg_profile_stack(q, b->stack, &nb);

		assert_int_equal(a->count, b->count);
		assert_int_equal(a->weight_ns, b->weight_ns);
		assert_int_equal(a->labels.pid, b->labels.pid);
		assert_int_equal(a->labels.tid, b->labels.tid);
		assert_int_equal(a->labels.flags, b->labels.flags);
		assert_string_equal(sg_profile_str(p, a->labels.thread_name),
		                    sg_profile_str(q, b->labels.thread_name));
		assert_int_equal(na, nb);
		for (size_t k = 0; k < na; k++) {
			const struct sg_frame *x = sg_profile_frame(p, fa[k]);
			const struct sg_frame *y = sg_profile_frame(q, fb[k]);

			assert_string_equal(sg_profile_str(p, x->name), sg_profile_str(q, y->name));
			assert_string_equal(sg_profile_str(p, x->file), sg_profile_str(q, y->file));
			assert_int_equal(x->line, y->line);
			assert_int_equal(x->type, y->type);
		}
	}
	assert_int_equal(sg_profile_nruns(q), sg_profile_nruns(p));
	for (size_t i = 0; i < sg_profile_nruns(p); i++) {
		const struct sg_run *a = sg_profile_run(p, i), *b = sg_profile_run(q, i);

		assert_int_equal(a->row, b->row);
		assert_int_equal(a->start_ns, b->start_ns);
		assert_int_equal(a->end_ns, b->end_ns);
		assert_int_equal(a->count, b->count);
	}
	text_p = collapsed_text(p);
	text_q = collapsed_text(q);
	assert_string_equal(text_p, text_q);
	/* And the file it writes is the same file. */
	second = write_pprof(q);
	assert_int_equal(first.len, second.len);
	assert_memory_equal(first.buf, second.buf, first.len);
	free(text_p);
	free(text_q);
	free(first.buf);
	free(second.buf);
	sg_profile_free(q);
	sg_profile_free(p);
}

/* Samples off their ticks: a run comes back as it was written, its end
 * included (not as start + weight, which loses the last sample's jitter). */
static void test_round_trip_jitter(void **state)
{
	struct sg_profile *p = sg_profile_new(), *q;
	uint32_t f;
	struct bytes b;
	const struct sg_run *run;

	(void)state;
	f = fx_frame(p, "spin", "a.py", 3);
	add_at(p, &f, 1, 5, 5, "t", 0, 0, 1000);
	add_at(p, &f, 1, 5, 5, "t", 0, 1400, 1000);
	add_at(p, &f, 1, 5, 5, "t", 0, 2100, 1000);
	assert_int_equal(sg_profile_nruns(p), 1);
	assert_int_equal(sg_profile_run(p, 0)->end_ns, 3100);
	b = write_pprof(p);
	q = read_ok(b);
	assert_int_equal(sg_profile_nruns(q), 1);
	run = sg_profile_run(q, 0);
	assert_int_equal(run->start_ns, 0);
	assert_int_equal(run->end_ns, 3100);
	assert_int_equal(run->count, 3);
	assert_int_equal(sg_profile_sample(q, 0)->weight_ns, 3000);
	free(b.buf);
	sg_profile_free(q);
	sg_profile_free(p);
}

/* A row's nanoseconds split over its runs by count: the shares add up to
 * the row however they round. */
static void test_run_shares(void **state)
{
	struct sg_profile *p = sg_profile_new(), *q;
	struct sg_labels labels = {.pid = 1, .tid = 1};
	uint32_t f, stack;
	struct bytes b;

	(void)state;
	f = fx_frame(p, "f", "a.py", 1);
	stack = sg_profile_stack_id(p, &f, 1);
	assert_int_equal(sg_profile_add_at(p, stack, &labels, 1, 4, 0), 0);
	assert_int_equal(sg_profile_add_at(p, stack, &labels, 1, 3, 100), 0);
	assert_int_equal(sg_profile_add_at(p, stack, &labels, 1, 3, 103), 0);
	assert_int_equal(sg_profile_nruns(p), 2);
	b = write_pprof(p);
	q = read_ok(b);
	assert_int_equal(sg_profile_nruns(q), 2);
	assert_int_equal(sg_profile_sample(q, 0)->weight_ns, 10);
	/* 10 ns for 3 samples: 3 for the first run's one, the rest for two;
	 * the runs' times as they were. */
	assert_int_equal(sg_profile_run(q, 0)->end_ns, 4);
	assert_int_equal(sg_profile_run(q, 1)->start_ns, 100);
	assert_int_equal(sg_profile_run(q, 1)->end_ns, 106);
	assert_int_equal(sg_profile_run(q, 1)->count, 2);
	free(b.buf);
	sg_profile_free(q);
	sg_profile_free(p);
}

/* Without a timeline (read from collapsed): one Sample per row, no times,
 * rows without samples or nanoseconds included. */
static void test_untimed(void **state)
{
	struct sg_profile *p = sg_profile_new(), *q;
	uint32_t f[2];
	struct bytes b;

	(void)state;
	f[0] = fx_frame(p, "main", "a.py", 1);
	f[1] = fx_frame(p, "leaf", "a.py", 9);
	fx_add(p, f, 2, 1, 1, "MainThread", 0, 3);
	fx_add(p, f, 1, 1, 1, "MainThread", SG_SAMPLE_IDLE, 2);
	fx_add(p, f, 1, 1, 2, "worker", 0, 0);
	assert_int_equal(sg_profile_add(p, sg_profile_sample(p, 0)->stack,
	                                &sg_profile_sample(p, 0)->labels, 4, 0),
	                 0);
	b = write_pprof(p);
	q = read_ok(b);
	assert_int_equal(sg_profile_nruns(q), 0);
	assert_int_equal(sg_profile_nsamples(q), 3);
	assert_int_equal(sg_profile_sample(q, 2)->count, 0);
	assert_int_equal(sg_profile_sample(q, 2)->labels.tid, 2);
	assert_int_equal(sg_profile_sample(q, 0)->count, 7);
	assert_int_equal(sg_profile_sample(q, 0)->weight_ns, 3000);
	assert_int_equal(sg_profile_sample(q, 1)->labels.flags, SG_SAMPLE_IDLE);
	free(b.buf);
	sg_profile_free(q);
	sg_profile_free(p);
}

/* ---- other tools' profiles, built message by message ---- */

enum {
	S_EMPTY,
	S_SAMPLES,
	S_COUNT,
	S_CPU,
	S_NANOSECONDS,
	S_MAIN,
	S_FILE,
	S_INNER,
	S_OUTER,
	S_BINARY,
	S_PID,
	S_THREAD_NAME,
	S_WORKER,
	S_COMMENT,
	S_STATE,
	S_START,
	NSTRINGS
};

/* protobuf-c's string table is char **: the literals stay unwritten. */
#define STR(s) ((char *)(uintptr_t)(s))

/* A Go-like CPU profile: every location in the binary's mapping, one
 * location with an inlined call, one with only an address; no spyglass
 * comments. Everything in one struct, so a test can break any field. */
struct foreign {
	pb_profile pb;
	pb_value_type types[2], *type_ptrs[2], period_type;
	pb_mapping mapping, *mapping_ptrs[1];
	pb_function funcs[3], *func_ptrs[3];
	pb_line lines[3], *line_ptrs[3];
	pb_location locs[3], *loc_ptrs[3];
	uint64_t stack0[2], stack1[2];
	int64_t values0[2], values1[2];
	pb_label labels[4], *label_ptrs0[4], *label_ptrs1[4];
	pb_sample samples[2], *sample_ptrs[2];
	char *strings[NSTRINGS];
	int64_t comments[1];
};

static void foreign_init(struct foreign *f)
{
	static const char *const strings[NSTRINGS] = {
	    "",       "samples",   "count", "cpu",    "nanoseconds", "main",
	    "x.go",   "inner",     "outer", "/bin/x", "pid",         "thread_name",
	    "worker", "a comment", "state", "start",
	};

	memset(f, 0, sizeof(*f));
	perftools__profiles__profile__init(&f->pb);
	for (int i = 0; i < NSTRINGS; i++)
		f->strings[i] = STR(strings[i]);
	f->pb.string_table = f->strings;
	f->pb.n_string_table = NSTRINGS;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__value_type__init(&f->types[i]);
		f->type_ptrs[i] = &f->types[i];
	}
	f->types[0].type = S_SAMPLES;
	f->types[0].unit = S_COUNT;
	f->types[1].type = S_CPU;
	f->types[1].unit = S_NANOSECONDS;
	f->pb.sample_type = f->type_ptrs;
	f->pb.n_sample_type = 2;
	f->period_type = f->types[1];
	f->pb.period_type = &f->period_type;
	f->pb.period = 10000000;
	f->pb.time_nanos = 1700000000000000000;
	f->pb.duration_nanos = 2000000000;
	f->comments[0] = S_COMMENT;
	f->pb.comment = f->comments;
	f->pb.n_comment = 1;

	perftools__profiles__mapping__init(&f->mapping);
	f->mapping.id = 1;
	f->mapping.filename = S_BINARY;
	f->mapping_ptrs[0] = &f->mapping;
	f->pb.mapping = f->mapping_ptrs;
	f->pb.n_mapping = 1;

	for (int i = 0; i < 3; i++) {
		perftools__profiles__function__init(&f->funcs[i]);
		f->funcs[i].id = (uint64_t)i + 1;
		f->funcs[i].filename = S_FILE;
		f->func_ptrs[i] = &f->funcs[i];
		perftools__profiles__line__init(&f->lines[i]);
		f->line_ptrs[i] = &f->lines[i];
		perftools__profiles__location__init(&f->locs[i]);
		f->locs[i].id = (uint64_t)i + 1;
		f->locs[i].mapping_id = 1;
		f->loc_ptrs[i] = &f->locs[i];
	}
	/* Function 1 main, 2 inner, 3 outer; inner's name only as system_name. */
	f->funcs[0].name = f->funcs[0].system_name = S_MAIN;
	f->funcs[1].name = 0;
	f->funcs[1].system_name = S_INNER;
	f->funcs[2].name = f->funcs[2].system_name = S_OUTER;
	f->pb.function = f->func_ptrs;
	f->pb.n_function = 3;
	/* Location 1: main:10. Location 2: inner:30 inlined into outer:20.
	 * Location 3: an address. */
	f->lines[0].function_id = 1;
	f->lines[0].line = 10;
	f->lines[1].function_id = 2;
	f->lines[1].line = 30;
	f->lines[2].function_id = 3;
	f->lines[2].line = 20;
	f->locs[0].line = &f->line_ptrs[0];
	f->locs[0].n_line = 1;
	f->locs[1].line = &f->line_ptrs[1];
	f->locs[1].n_line = 2;
	f->locs[2].address = 0x4a5b;
	f->pb.location = f->loc_ptrs;
	f->pb.n_location = 3;

	/* Leaf first. */
	f->stack0[0] = 2;
	f->stack0[1] = 1;
	f->stack1[0] = 3;
	f->stack1[1] = 1;
	f->values0[0] = 3;
	f->values0[1] = 30000000;
	f->values1[0] = 1;
	f->values1[1] = 10000000;
	for (int i = 0; i < 4; i++) {
		perftools__profiles__label__init(&f->labels[i]);
		f->label_ptrs0[i] = f->label_ptrs1[i] = &f->labels[i];
	}
	f->labels[0].key = S_PID;
	f->labels[0].num = 42;
	f->labels[1].key = S_THREAD_NAME;
	f->labels[1].str = S_WORKER;
	f->labels[2].key = S_COMMENT; /* someone else's label */
	f->labels[2].str = S_MAIN;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__sample__init(&f->samples[i]);
		f->sample_ptrs[i] = &f->samples[i];
	}
	f->samples[0].location_id = f->stack0;
	f->samples[0].n_location_id = 2;
	f->samples[0].value = f->values0;
	f->samples[0].n_value = 2;
	f->samples[0].label = f->label_ptrs0;
	f->samples[0].n_label = 3;
	f->samples[1].location_id = f->stack1;
	f->samples[1].n_location_id = 2;
	f->samples[1].value = f->values1;
	f->samples[1].n_value = 2;
	f->pb.sample = f->sample_ptrs;
	f->pb.n_sample = 2;
}

static struct bytes pack(const pb_profile *pb)
{
	struct bytes b;

	b.len = perftools__profiles__profile__get_packed_size(pb);
	b.buf = malloc(b.len + 1);
	assert_non_null(b.buf);
	assert_int_equal(perftools__profiles__profile__pack(pb, (uint8_t *)b.buf), b.len);
	return b;
}

static void test_foreign_profile(void **state)
{
	struct foreign f;
	struct bytes raw, gz;
	struct sg_profile *p;
	const struct sg_meta *m;
	const struct sg_sample *s;
	char *text;

	(void)state;
	foreign_init(&f);
	raw = pack(&f.pb);
	gz = gzip(raw.buf, raw.len);
	/* Gzipped or not, the same profile. */
	for (int i = 0; i < 2; i++) {
		p = read_ok(i ? raw : gz);
		m = sg_profile_meta_const(p);
		assert_int_equal(m->mode, SG_MODE_CPU);
		assert_true(m->rate_asked_hz == 100.0); /* from the period */
		assert_int_equal(m->start_unix_ns, 1700000000000000000ull);
		assert_int_equal(m->duration_ns, 2000000000ull);
		assert_string_equal(m->command, "");
		assert_int_equal(sg_profile_total(p), 4);
		s = sg_profile_sample(p, 0);
		assert_int_equal(s->count, 3);
		assert_int_equal(s->weight_ns, 30000000);
		assert_int_equal(s->labels.pid, 42);
		assert_string_equal(sg_profile_str(p, s->labels.thread_name), "worker");
		assert_int_equal(sg_profile_sample(p, 1)->labels.pid, 0);
		/* Root first; the inlined call nearest the leaf; frames in a
		 * mapping are native. */
		assert_int_equal(
		    sg_profile_frame(p, sg_profile_stack(p, s->stack, &(size_t){0})[0])->type,
		    SG_FRAME_NATIVE);
		text = collapsed_text(p);
		assert_string_equal(text, "main (x.go:10);0x4a5b 1\n"
		                          "process 42: ;main (x.go:10);outer (x.go:20);"
		                          "inner (x.go:30) 3\n");
		free(text);
		sg_profile_free(p);
	}
	free(raw.buf);
	free(gz.buf);
}

/* A period too long to be a sampling interval: the rate is unknown (and
 * the profile writes back and reads again). */
static void test_long_period(void **state)
{
	struct foreign f;
	struct bytes raw, again;
	struct sg_profile *p, *q;

	(void)state;
	foreign_init(&f);
	f.pb.period = 2000000000000000;
	raw = pack(&f.pb);
	p = read_ok(raw);
	assert_true(sg_profile_meta_const(p)->rate_asked_hz == 0);
	again = write_pprof(p);
	q = read_ok(again);
	assert_true(sg_profile_meta_const(q)->rate_asked_hz == 0);
	sg_profile_free(q);
	sg_profile_free(p);
	free(again.buf);
	free(raw.buf);
}

/* A profile with no samples is still a profile; gzip members back to back
 * are one file. */
static void test_empty_and_multimember(void **state)
{
	struct foreign f;
	struct bytes raw, gz, twice;
	struct sg_profile *p;

	(void)state;
	foreign_init(&f);
	f.pb.n_sample = 0;
	raw = pack(&f.pb);
	p = read_ok(raw);
	assert_int_equal(sg_profile_nsamples(p), 0);
	sg_profile_free(p);
	free(raw.buf);

	foreign_init(&f);
	raw = pack(&f.pb);
	gz = gzip(raw.buf, raw.len / 2);
	twice = gzip(raw.buf + raw.len / 2, raw.len - raw.len / 2);
	gz.buf = realloc(gz.buf, gz.len + twice.len);
	assert_non_null(gz.buf);
	memcpy(gz.buf + gz.len, twice.buf, twice.len);
	gz.len += twice.len;
	p = read_ok(gz);
	assert_int_equal(sg_profile_total(p), 4);
	sg_profile_free(p);
	free(raw.buf);
	free(gz.buf);
	free(twice.buf);
}

/* ---- rejected ---- */

static void expect_rejected_bytes(const void *data, size_t len, const char *needle)
{
	char msg[256];
	int err;
	struct sg_profile *p = read_pprof(data, len, &err, msg, sizeof(msg));

	if (err != SG_EFORMAT || !strstr(msg, needle))
		fail_msg("err %d, message '%s', wanted '%s'", err, msg, needle);
	sg_profile_free(p);
}

static void expect_rejected(const pb_profile *pb, const char *needle)
{
	struct bytes b = pack(pb);

	expect_rejected_bytes(b.buf, b.len, needle);
	free(b.buf);
}

/* Break one thing in a good profile; expect the reader to say so. */
#define BREAK(change, needle)                                                                      \
	do {                                                                                       \
		struct foreign f;                                                                  \
		foreign_init(&f);                                                                  \
		change;                                                                            \
		expect_rejected(&f.pb, needle);                                                    \
	} while (0)

static void test_rejects_broken_messages(void **state)
{
	pb_label start = PERFTOOLS__PROFILES__LABEL__INIT;

	(void)state;
	BREAK(f.stack0[1] = 99, "sample 0: location id 99 does not exist");
	BREAK(f.lines[2].function_id = 7, "location 1: line 1: function id 7 does not exist");
	BREAK(f.lines[2].function_id = 0, "location 1: line 1: function id 0 does not exist");
	BREAK(f.locs[2].mapping_id = 5, "location 2: mapping id 5 does not exist");
	BREAK(f.locs[2].id = 1, "location 2: id 1 used twice");
	BREAK(f.locs[0].id = 0, "location 0: id 0 is reserved");
	BREAK(f.funcs[1].id = 1, "function 1: id 1 used twice");
	BREAK(f.funcs[0].id = 0, "function 0: id 0 is reserved");
	BREAK(f.mapping.id = 0, "mapping 0: id 0 is reserved");
	BREAK(f.funcs[2].name = NSTRINGS, "function 2: string index out of range");
	BREAK(f.funcs[2].filename = -1, "function 2: string index out of range");
	BREAK(f.mapping.filename = 99, "mapping 0: string index out of range");
	BREAK(f.types[1].unit = 1000, "sample_type 1: string index out of range");
	BREAK(f.period_type.type = 1000, "period_type: string index out of range");
	BREAK(f.comments[0] = 1000, "comment 0: string index out of range");
	BREAK(f.pb.drop_frames = 1000, "drop_frames");
	BREAK(f.labels[1].str = 1000, "sample 0: label 1: string index out of range");
	BREAK(f.lines[0].line = -1, "location 0: line 0: line number -1 out of range");
	BREAK(f.lines[0].line = 1ll << 40, "location 0: line 0: line number");
	BREAK(f.samples[1].n_value = 1, "sample 1: 1 values for 2 sample types");
	BREAK(f.values1[1] = -5, "sample 1: negative value -5");
	BREAK((f.values0[0] = 1ll << 53, f.values1[0] = 1), "sample 1: the counts add up");
	BREAK((f.values0[1] = INT64_MAX, f.values1[1] = 1), "sample 1: the weights add up");
	BREAK(f.pb.n_sample_type = 0, "no sample types");
	BREAK(f.strings[0] = STR("x"), "string_table[0] is not the empty string");
	BREAK(f.pb.n_string_table = 0, "string_table[0] is not the empty string");
	BREAK(f.pb.time_nanos = -1, "negative");
	BREAK(f.pb.period = -1, "negative");
	/* Our labels with the wrong kind of value, twice, or out of range. */
	BREAK(f.labels[0].str = S_WORKER, "sample 0: label 'pid' should be a number");
	BREAK(f.labels[1].num = 3, "sample 0: label 'thread_name' should be a string");
	BREAK(f.labels[0].num = 1ll << 40, "sample 0: pid 1099511627776 out of range");
	BREAK((f.labels[2].key = S_PID, f.labels[2].str = 0), "sample 0: two 'pid' labels");
	BREAK((f.labels[2].key = S_STATE, f.labels[2].str = S_WORKER),
	      "sample 0: label 'state' is neither 'idle' nor 'running'");
	/* Times on some samples only, or not in a thread's order. */
	start.key = S_START;
	start.num = 5;
	BREAK((f.label_ptrs0[3] = &start, f.samples[0].n_label = 4),
	      "sample 1: no 'start' label, unlike sample 0");
	BREAK((f.label_ptrs1[0] = &start, f.samples[1].label = f.label_ptrs1,
	       f.samples[1].n_label = 1),
	      "sample 1: a 'start' label, unlike sample 0");
}

static void test_rejects_time_order(void **state)
{
	pb_label start0 = PERFTOOLS__PROFILES__LABEL__INIT, start1 = start0;
	pb_label *labels0[1] = {&start0}, *labels1[1] = {&start1};
	struct foreign f;

	(void)state;
	start0.key = start1.key = S_START;
	start0.num = 500;
	start1.num = 100;
	foreign_init(&f);
	f.samples[0].label = labels0;
	f.samples[0].n_label = 1;
	f.samples[1].label = labels1;
	f.samples[1].n_label = 1;
	expect_rejected(&f.pb, "sample 1: starts before the previous sample of its thread");
	start1.num = 500;
	start1.num_unit = S_COUNT;
	expect_rejected(&f.pb, "sample 1: label 'start' is not a time in nanoseconds");
}

static void test_rejects_bad_comments(void **state)
{
	(void)state;
	BREAK(f.strings[S_COMMENT] = STR("spyglass.samples=12x"), "comment 0: cannot read");
	BREAK(f.strings[S_COMMENT] = STR("spyglass.rate_asked_hz=nan"), "comment 0: cannot read");
	BREAK(f.strings[S_COMMENT] = STR("spyglass.rate_asked_hz=1e-300"),
	      "comment 0: cannot read");
	BREAK(f.strings[S_COMMENT] = STR("spyglass.rate_asked_hz=-1"), "comment 0: cannot read");
	BREAK(f.strings[S_COMMENT] = STR("spyglass.mode=both"), "comment 0: cannot read");
	BREAK(f.strings[S_COMMENT] = STR("spyglass.by_thread=yes"), "comment 0: cannot read");
	BREAK(f.strings[S_COMMENT] = STR("spyglass.samples=18446744073709551616"),
	      "comment 0: cannot read");
}

static void test_rejects_too_deep(void **state)
{
	struct foreign f;
	uint64_t *ids = malloc(65537 * sizeof(*ids));

	(void)state;
	assert_non_null(ids);
	for (size_t i = 0; i < 65537; i++)
		ids[i] = 1;
	foreign_init(&f);
	f.samples[1].location_id = ids;
	f.samples[1].n_location_id = 65537;
	expect_rejected(&f.pb, "sample 1: stack deeper than 65536 frames");
	free(ids);
}

static void test_rejects_broken_files(void **state)
{
	static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
	struct foreign f;
	struct bytes raw, gz;
	size_t big;
	char *zeros;

	(void)state;
	expect_rejected_bytes("", 0, "empty file");
	expect_rejected_bytes(png, sizeof(png) - 1, "not a pprof profile");
	expect_rejected_bytes("\x1f\x8b\x08\x00garbage-after-magic", 23, "bad gzip data");
	foreign_init(&f);
	raw = pack(&f.pb);
	gz = gzip(raw.buf, raw.len);
	expect_rejected_bytes(gz.buf, gz.len - 10, "the gzip data ends early");
	expect_rejected_bytes(raw.buf, raw.len - 1, "not a pprof profile");
	/* Trailing bytes that are no gzip member. */
	gz.buf = realloc(gz.buf, gz.len + 4);
	assert_non_null(gz.buf);
	memcpy(gz.buf + gz.len, "junk", 4);
	expect_rejected_bytes(gz.buf, gz.len + 4, "bad gzip data");
	free(gz.buf);
	free(raw.buf);
	/* A bomb: a small file that would inflate past 256 times its size (64
	 * strings of 1 MiB of zeros, which inflate to more than 16 MiB and 256
	 * times the 64 KiB they take once gzipped). */
	big = (size_t)64 * ((1 << 20) + 4);
	zeros = calloc(big, 1);
	assert_non_null(zeros);
	for (size_t i = 0; i < 64; i++) /* string_table, 1 MiB long */
		memcpy(zeros + i * ((1 << 20) + 4), "\x32\x80\x80\x40", 4);
	gz = gzip(zeros, big);
	free(zeros);
	expect_rejected_bytes(gz.buf, gz.len, "inflates to more than 256 times its size");
	free(gz.buf);
	/* One field larger than any message of a profile. */
	zeros = calloc(1 << 20, 1);
	assert_non_null(zeros);
	memcpy(zeros, "\x32\x80\x80\x80\x20", 5); /* string_table, 64 MiB long */
	expect_rejected_bytes(zeros, 1 << 20, "a field of 67108864 bytes, more than 16 MiB");
	free(zeros);
}

static void test_format_table(void **state)
{
	(void)state;
	assert_ptr_equal(sg_format_by_path("x.pb.gz"), pprof());
	assert_ptr_equal(sg_format_by_path("x.pprof"), pprof());
	assert_ptr_equal(sg_format_for_input("x.folded", (const unsigned char *)"\x1f\x8b\x08", 3),
	                 pprof());
	assert_ptr_not_equal(sg_format_for_input("x.folded", (const unsigned char *)"a 1\n", 4),
	                     pprof());
	assert_non_null(strstr(sg_format_names(), "pprof"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_round_trip_jitter),
	    cmocka_unit_test(test_run_shares),
	    cmocka_unit_test(test_untimed),
	    cmocka_unit_test(test_foreign_profile),
	    cmocka_unit_test(test_long_period),
	    cmocka_unit_test(test_empty_and_multimember),
	    cmocka_unit_test(test_rejects_broken_messages),
	    cmocka_unit_test(test_rejects_time_order),
	    cmocka_unit_test(test_rejects_bad_comments),
	    cmocka_unit_test(test_rejects_too_deep),
	    cmocka_unit_test(test_rejects_broken_files),
	    cmocka_unit_test(test_format_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
