/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/u64map.h"

#define NONE UINT32_MAX

/* What aggregation tells rows apart by, packed without padding so that
 * equal keys are equal bytes. */
struct row_key {
	uint32_t stack;
	int32_t pid;
	int32_t tid;
	uint32_t thread_name;
	uint32_t flags;
};

struct sg_profile {
	struct sg_meta meta;
	struct sg_intern strs;   /* NUL-terminated by the table */
	struct sg_intern frames; /* keys are zero-padded struct sg_frame */
	struct sg_intern stacks; /* keys are arrays of frame ids */
	struct sg_intern rows;   /* keys are struct row_key; id = index in samples */
	struct sg_sample *samples;
	size_t samples_cap;
	uint64_t total;
	struct sg_u64map procs; /* pid + 1 -> string id of its command */
	struct sg_run *runs;
	size_t runs_cap, nruns;
	struct sg_u64map last_run; /* pid << 32 | tid -> index of its latest run + 1 */
};

struct sg_profile *sg_profile_new(void)
{
	struct sg_profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	sg_intern_init(&p->strs);
	sg_intern_init(&p->frames);
	sg_intern_init(&p->stacks);
	sg_intern_init(&p->rows);
	sg_u64map_init(&p->procs);
	sg_u64map_init(&p->last_run);
	p->meta.command = strdup("");
	p->meta.python_version = strdup("");
	if (!p->meta.command || !p->meta.python_version || sg_profile_intern(p, "", 0) != 0) {
		sg_profile_free(p);
		return NULL;
	}
	return p;
}

void sg_profile_free(struct sg_profile *p)
{
	if (!p)
		return;
	free(p->meta.command);
	free(p->meta.python_version);
	sg_intern_release(&p->strs);
	sg_intern_release(&p->frames);
	sg_intern_release(&p->stacks);
	sg_intern_release(&p->rows);
	free(p->samples);
	sg_u64map_release(&p->procs);
	free(p->runs);
	sg_u64map_release(&p->last_run);
	free(p);
}

struct sg_meta *sg_profile_meta(struct sg_profile *p)
{
	return &p->meta;
}

const struct sg_meta *sg_profile_meta_const(const struct sg_profile *p)
{
	return &p->meta;
}

int sg_profile_set_meta_str(struct sg_profile *p, char **field, const char *value)
{
	char *copy = strdup(value ? value : "");

	(void)p;
	if (!copy)
		return SG_ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

uint32_t sg_profile_intern(struct sg_profile *p, const char *s, size_t len)
{
	uint32_t id;

	/* A NUL inside would make the stored string read shorter than its key. */
	if (len && memchr(s, '\0', len))
		len = strlen(s);
	return sg_intern_put(&p->strs, s, len, &id) ? NONE : id;
}

const char *sg_profile_str(const struct sg_profile *p, uint32_t id)
{
	return id < sg_intern_count(&p->strs) ? sg_intern_get(&p->strs, id, NULL) : "";
}

uint32_t sg_profile_frame_id(struct sg_profile *p, const struct sg_frame *f)
{
	struct sg_frame key;
	uint32_t id;

	/* Padding takes part in the comparison: zero it. */
	memset(&key, 0, sizeof(key));
	key.name = f->name;
	key.file = f->file;
	key.line = f->line;
	key.type = f->type;
	return sg_intern_put(&p->frames, &key, sizeof(key), &id) ? NONE : id;
}

const struct sg_frame *sg_profile_frame(const struct sg_profile *p, uint32_t id)
{
	return id < sg_intern_count(&p->frames) ? sg_intern_get(&p->frames, id, NULL) : NULL;
}

size_t sg_profile_nframes(const struct sg_profile *p)
{
	return sg_intern_count(&p->frames);
}

uint32_t sg_profile_stack_id(struct sg_profile *p, const uint32_t *frames, size_t n)
{
	size_t nframes = sg_intern_count(&p->frames);
	uint32_t id;

	/* Writers follow every frame id of a stack: they must all exist. */
	for (size_t i = 0; i < n; i++)
		if (frames[i] >= nframes)
			return NONE;
	if (n > SIZE_MAX / sizeof(*frames))
		return NONE;
	return sg_intern_put(&p->stacks, frames, n * sizeof(*frames), &id) ? NONE : id;
}

const uint32_t *sg_profile_stack(const struct sg_profile *p, uint32_t id, size_t *n)
{
	const uint32_t *frames;
	size_t len;

	if (id >= sg_intern_count(&p->stacks)) {
		*n = 0;
		return NULL;
	}
	frames = sg_intern_get(&p->stacks, id, &len);
	*n = len / sizeof(*frames);
	return frames;
}

size_t sg_profile_nstacks(const struct sg_profile *p)
{
	return sg_intern_count(&p->stacks);
}

/* The row for (stack, labels), created empty if new; its index or NONE. */
static uint32_t row_id(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels)
{
	struct row_key key = {
	    .stack = stack,
	    .pid = (int32_t)labels->pid,
	    .tid = (int32_t)labels->tid,
	    .thread_name = labels->thread_name,
	    .flags = labels->flags,
	};
	size_t n = sg_intern_count(&p->rows);
	uint32_t id;

	/* Room first, so that a new key never lacks its row. */
	if (sg_grow(&p->samples, &p->samples_cap, n + 1, sizeof(*p->samples)) ||
	    sg_intern_put(&p->rows, &key, sizeof(key), &id))
		return NONE;
	if (id == n)
		p->samples[id] = (struct sg_sample){.stack = stack, .labels = *labels};
	return id;
}

/* Add to the row for (stack, labels), whose index goes to *row. */
static int add_to_row(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                      uint64_t count, uint64_t weight_ns, uint32_t *row)
{
	if (stack >= sg_intern_count(&p->stacks))
		return SG_EUSAGE;
	*row = row_id(p, stack, labels);
	if (*row == NONE)
		return SG_ENOMEM;
	p->samples[*row].count += count;
	p->samples[*row].weight_ns += weight_ns;
	p->total += count;
	return 0;
}

int sg_profile_add(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                   uint64_t count, uint64_t weight_ns)
{
	uint32_t row;

	return add_to_row(p, stack, labels, count, weight_ns, &row);
}

int sg_profile_add_at(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                      uint64_t count, uint64_t weight_ns, uint64_t t_ns)
{
	uint64_t thread = (uint64_t)(uint32_t)labels->pid << 32 | (uint32_t)labels->tid;
	uint64_t slack = count ? weight_ns / count / 2 : 0;
	struct sg_run *last = NULL;
	uint64_t last_plus1;
	uint32_t row;
	int err = add_to_row(p, stack, labels, count, weight_ns, &row);

	if (err)
		return err;
	/* Key 0 is reserved; pid 0 only comes from hand-made profiles. */
	thread += !thread;
	if (sg_u64map_get(&p->last_run, thread, &last_plus1))
		last = &p->runs[last_plus1 - 1];
	if (last && last->row == row && last->end_ns + slack >= t_ns) {
		last->end_ns = t_ns + weight_ns;
		last->count += count;
		return 0;
	}
	if (sg_grow(&p->runs, &p->runs_cap, p->nruns + 1, sizeof(*p->runs)) ||
	    sg_u64map_put(&p->last_run, thread, p->nruns + 1))
		return SG_ENOMEM;
	p->runs[p->nruns++] = (struct sg_run){
	    .row = row, .start_ns = t_ns, .end_ns = t_ns + weight_ns, .count = count};
	return 0;
}

size_t sg_profile_nruns(const struct sg_profile *p)
{
	return p->nruns;
}

const struct sg_run *sg_profile_run(const struct sg_profile *p, size_t i)
{
	return i < p->nruns ? &p->runs[i] : NULL;
}

size_t sg_profile_nsamples(const struct sg_profile *p)
{
	return sg_intern_count(&p->rows);
}

const struct sg_sample *sg_profile_sample(const struct sg_profile *p, size_t i)
{
	return i < sg_intern_count(&p->rows) ? &p->samples[i] : NULL;
}

uint64_t sg_profile_total(const struct sg_profile *p)
{
	return p->total;
}

int sg_profile_set_process(struct sg_profile *p, pid_t pid, const char *command)
{
	uint32_t id = sg_profile_intern(p, command, strlen(command));

	if (id == NONE)
		return SG_ENOMEM;
	return sg_u64map_put(&p->procs, (uint64_t)(uint32_t)pid + 1, id);
}

const char *sg_profile_process(const struct sg_profile *p, pid_t pid)
{
	uint64_t id;

	if (!sg_u64map_get(&p->procs, (uint64_t)(uint32_t)pid + 1, &id))
		return "";
	return sg_profile_str(p, (uint32_t)id);
}
