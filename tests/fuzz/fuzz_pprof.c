/* SPDX-License-Identifier: MIT */
/* The pprof reader takes files from anywhere: arbitrary bytes (gzipped or
 * not) must give a profile or a clean one-line error. Whatever it accepts
 * must write and read back with the same meta, rows (stacks, frame types,
 * labels, process names, counts, nanoseconds) in the same order, and runs
 * that start where runs started (two may become one where the file gives
 * no end, which then comes back as start plus nanoseconds); and so again
 * from the copy. The reader decodes the stream a field at a time in two
 * passes, so inputs are read through fmemopen like files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "formats/text.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* NULL when the bytes are rejected. */
static struct sg_profile *read_pprof(const void *data, size_t size)
{
	struct sg_profile *p;
	char msg[256] = "";
	FILE *in;
	int err;

	/* fmemopen refuses an empty buffer; an empty file is rejected anyway. */
	if (!size)
		return NULL;
	p = sg_profile_new();
	in = fmemopen((void *)(uintptr_t)data, size, "r");
	if (!p || !in)
		abort();
	err = sg_format_by_name("pprof")->read(in, p, msg, sizeof(msg));
	fclose(in);
	if (err) {
		if (!msg[0] || strchr(msg, '\n'))
			abort();
		sg_profile_free(p);
		return NULL;
	}
	return p;
}

static int same_meta(const struct sg_profile *a, const struct sg_profile *b)
{
	const struct sg_meta *x = sg_profile_meta_const(a), *y = sg_profile_meta_const(b);

	return !strcmp(x->command, y->command) && !strcmp(x->python_version, y->python_version) &&
	       x->mode == y->mode && x->rate_asked_hz == y->rate_asked_hz &&
	       x->rate_achieved_hz == y->rate_achieved_hz && x->start_unix_ns == y->start_unix_ns &&
	       x->duration_ns == y->duration_ns && x->samples == y->samples &&
	       x->dropped == y->dropped && x->dropped_torn == y->dropped_torn &&
	       x->dropped_read == y->dropped_read && x->truncated == y->truncated &&
	       x->by_thread == y->by_thread && x->by_process == y->by_process;
}

/* Every row, in order, one line each. */
static char *rows_text(const struct sg_profile *p)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	int err = sg_strbuf_addstr(&sb, "rows:\n"); /* never NULL, even without rows */

	for (size_t i = 0; i < sg_profile_nsamples(p) && !err; i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);
		size_t depth;
		const uint32_t *frames = sg_profile_stack(p, s->stack, &depth);

		for (size_t k = 0; k < depth && !err; k++) {
			const struct sg_frame *f = sg_profile_frame(p, frames[k]);

			err =
			    sg_text_frame(&sb, p, f, true) || sg_strbuf_addf(&sb, "/%d;", f->type);
		}
		if (!err)
			err = sg_strbuf_addf(
			    &sb, " %d %d '%s' %u '%s' %llu %llu\n", (int)s->labels.pid,
			    (int)s->labels.tid, sg_profile_str(p, s->labels.thread_name),
			    s->labels.flags, sg_profile_process(p, s->labels.pid),
			    (unsigned long long)s->count, (unsigned long long)s->weight_ns);
	}
	if (err)
		abort();
	return sg_strbuf_detach(&sb);
}

/* q's runs are p's, some merged: each starts where one of p's did, in order. */
static int runs_kept(const struct sg_profile *p, const struct sg_profile *q)
{
	size_t j = 0;

	if (!sg_profile_nruns(p) != !sg_profile_nruns(q))
		return 0;
	for (size_t i = 0; i < sg_profile_nruns(q); i++, j++) {
		const struct sg_run *b = sg_profile_run(q, i);

		while (j < sg_profile_nruns(p) && (sg_profile_run(p, j)->row != b->row ||
		                                   sg_profile_run(p, j)->start_ns != b->start_ns))
			j++;
		if (j == sg_profile_nruns(p))
			return 0;
	}
	return 1;
}

/* Write p as pprof and read it back, which must work and keep all. */
static struct sg_profile *again(const struct sg_profile *p)
{
	struct sg_write_opts opts = {0};
	struct sg_profile *q;
	char *buf = NULL, *a, *b;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (!out || sg_format_by_name("pprof")->write(p, &opts, out))
		abort();
	fclose(out);
	q = read_pprof(buf, len);
	if (!q || !same_meta(p, q) || sg_profile_total(p) != sg_profile_total(q) ||
	    !runs_kept(p, q))
		abort();
	a = rows_text(p);
	b = rows_text(q);
	if (strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	free(buf);
	return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_profile *p = read_pprof(data, size), *q;

	if (!p)
		return 0;
	q = again(p);
	sg_profile_free(again(q));
	sg_profile_free(q);
	sg_profile_free(p);
	return 0;
}
