/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "util/err.h"
#include "util/u64map.h"

#define NONE UINT32_MAX

/*
 * An interning index: hash -> first id with that hash, then a chain of ids
 * sharing it. The tables themselves hold the data; the index only finds
 * equal entries.
 */
struct index {
	struct sg_u64map heads; /* hash (nonzero) -> first id */
	uint32_t *chain;        /* id -> next id with the same hash, or NONE */
	size_t cap;
};

struct stack_entry {
	uint64_t at; /* offset in stack_frames */
	uint32_t depth;
};

struct process {
	pid_t pid;
	uint32_t command; /* string id */
};

struct sg_profile {
	struct sg_meta meta;

	char *chars; /* every string, NUL-terminated, back to back */
	size_t chars_len, chars_cap;
	uint64_t *str_at; /* id -> offset in chars */
	size_t nstrs, strs_cap;
	struct index str_index;

	struct sg_frame *frames;
	size_t nframes, frames_cap;
	struct index frame_index;

	uint32_t *stack_frames; /* every stack's frame ids, back to back */
	size_t stack_frames_len, stack_frames_cap;
	struct stack_entry *stacks;
	size_t nstacks, stacks_cap;
	struct index stack_index;

	struct sg_sample *samples;
	size_t nsamples, samples_cap;
	struct index sample_index;
	uint64_t total;

	struct process *procs;
	size_t nprocs, procs_cap;
};

/* Grow *p (of *cap elements of size elem) to hold at least need. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t cap2 = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (cap2 < need)
		cap2 *= 2;
	q = realloc(*p, cap2 * elem);
	if (!q)
		return SG_ENOMEM;
	*p = q;
	*cap = cap2;
	return 0;
}

static uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *b = data;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return sg_u64_mix(h) | 1; /* 0 is the empty-slot key */
}

static uint32_t index_first(const struct index *ix, uint64_t hash)
{
	uint64_t id;

	return sg_u64map_get(&ix->heads, hash, &id) ? (uint32_t)id : NONE;
}

/* Record that id (just appended) has hash. */
static int index_add(struct index *ix, uint64_t hash, uint32_t id)
{
	uint32_t first = index_first(ix, hash);

	if (grow((void **)&ix->chain, &ix->cap, (size_t)id + 1, sizeof(*ix->chain)))
		return SG_ENOMEM;
	if (sg_u64map_put(&ix->heads, hash, id))
		return SG_ENOMEM;
	ix->chain[id] = first;
	return 0;
}

static void index_release(struct index *ix)
{
	sg_u64map_release(&ix->heads);
	free(ix->chain);
}

struct sg_profile *sg_profile_new(void)
{
	struct sg_profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	sg_u64map_init(&p->str_index.heads);
	sg_u64map_init(&p->frame_index.heads);
	sg_u64map_init(&p->stack_index.heads);
	sg_u64map_init(&p->sample_index.heads);
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
	free(p->chars);
	free(p->str_at);
	index_release(&p->str_index);
	free(p->frames);
	index_release(&p->frame_index);
	free(p->stack_frames);
	free(p->stacks);
	index_release(&p->stack_index);
	free(p->samples);
	index_release(&p->sample_index);
	free(p->procs);
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
	uint64_t hash = hash_bytes(s, len, 0);
	uint32_t id;

	for (id = index_first(&p->str_index, hash); id != NONE; id = p->str_index.chain[id]) {
		const char *have = p->chars + p->str_at[id];

		if (strncmp(have, s, len) == 0 && have[len] == '\0')
			return id;
	}
	if (p->nstrs >= NONE - 1 ||
	    grow((void **)&p->chars, &p->chars_cap, p->chars_len + len + 1, 1) ||
	    grow((void **)&p->str_at, &p->strs_cap, p->nstrs + 1, sizeof(*p->str_at)))
		return NONE;
	id = (uint32_t)p->nstrs;
	if (index_add(&p->str_index, hash, id))
		return NONE;
	memcpy(p->chars + p->chars_len, s, len);
	p->chars[p->chars_len + len] = '\0';
	p->str_at[id] = p->chars_len;
	p->chars_len += len + 1;
	p->nstrs++;
	return id;
}

const char *sg_profile_str(const struct sg_profile *p, uint32_t id)
{
	return id < p->nstrs ? p->chars + p->str_at[id] : "";
}

static uint64_t hash_frame(const struct sg_frame *f)
{
	uint64_t key[3] = {f->name, f->file, (uint64_t)(uint32_t)f->line << 8 | f->type};

	return hash_bytes(key, sizeof(key), 1);
}

uint32_t sg_profile_frame_id(struct sg_profile *p, const struct sg_frame *f)
{
	uint64_t hash = hash_frame(f);
	uint32_t id;

	for (id = index_first(&p->frame_index, hash); id != NONE; id = p->frame_index.chain[id]) {
		const struct sg_frame *have = &p->frames[id];

		if (have->name == f->name && have->file == f->file && have->line == f->line &&
		    have->type == f->type)
			return id;
	}
	if (p->nframes >= NONE - 1 ||
	    grow((void **)&p->frames, &p->frames_cap, p->nframes + 1, sizeof(*p->frames)))
		return NONE;
	id = (uint32_t)p->nframes;
	if (index_add(&p->frame_index, hash, id))
		return NONE;
	p->frames[id] =
	    (struct sg_frame){.name = f->name, .file = f->file, .line = f->line, .type = f->type};
	p->nframes++;
	return id;
}

const struct sg_frame *sg_profile_frame(const struct sg_profile *p, uint32_t id)
{
	return id < p->nframes ? &p->frames[id] : NULL;
}

size_t sg_profile_nframes(const struct sg_profile *p)
{
	return p->nframes;
}

uint32_t sg_profile_stack_id(struct sg_profile *p, const uint32_t *frames, size_t n)
{
	uint64_t hash = hash_bytes(frames, n * sizeof(*frames), 2);
	uint32_t id;

	for (id = index_first(&p->stack_index, hash); id != NONE; id = p->stack_index.chain[id]) {
		if (p->stacks[id].depth == n &&
		    memcmp(p->stack_frames + p->stacks[id].at, frames, n * sizeof(*frames)) == 0)
			return id;
	}
	if (p->nstacks >= NONE - 1 || n >= NONE ||
	    grow((void **)&p->stack_frames, &p->stack_frames_cap, p->stack_frames_len + n,
	         sizeof(*p->stack_frames)) ||
	    grow((void **)&p->stacks, &p->stacks_cap, p->nstacks + 1, sizeof(*p->stacks)))
		return NONE;
	id = (uint32_t)p->nstacks;
	if (index_add(&p->stack_index, hash, id))
		return NONE;
	if (n)
		memcpy(p->stack_frames + p->stack_frames_len, frames, n * sizeof(*frames));
	p->stacks[id] = (struct stack_entry){.at = p->stack_frames_len, .depth = (uint32_t)n};
	p->stack_frames_len += n;
	p->nstacks++;
	return id;
}

const uint32_t *sg_profile_stack(const struct sg_profile *p, uint32_t id, size_t *n)
{
	if (id >= p->nstacks) {
		*n = 0;
		return NULL;
	}
	*n = p->stacks[id].depth;
	return p->stack_frames + p->stacks[id].at;
}

size_t sg_profile_nstacks(const struct sg_profile *p)
{
	return p->nstacks;
}

static bool same_labels(const struct sg_labels *a, const struct sg_labels *b)
{
	return a->pid == b->pid && a->tid == b->tid && a->thread_name == b->thread_name &&
	       a->flags == b->flags;
}

int sg_profile_add(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                   uint64_t count, uint64_t weight_ns)
{
	uint64_t key[5] = {stack, (uint64_t)(uint32_t)labels->pid, (uint64_t)(uint32_t)labels->tid,
	                   labels->thread_name, labels->flags};
	uint64_t hash = hash_bytes(key, sizeof(key), 3);
	struct sg_sample *s;
	uint32_t id;

	for (id = index_first(&p->sample_index, hash); id != NONE; id = p->sample_index.chain[id]) {
		s = &p->samples[id];
		if (s->stack == stack && same_labels(&s->labels, labels)) {
			s->count += count;
			s->weight_ns += weight_ns;
			p->total += count;
			return 0;
		}
	}
	if (p->nsamples >= NONE - 1 ||
	    grow((void **)&p->samples, &p->samples_cap, p->nsamples + 1, sizeof(*p->samples)))
		return SG_ENOMEM;
	id = (uint32_t)p->nsamples;
	if (index_add(&p->sample_index, hash, id))
		return SG_ENOMEM;
	p->samples[id] = (struct sg_sample){
	    .stack = stack, .labels = *labels, .count = count, .weight_ns = weight_ns};
	p->nsamples++;
	p->total += count;
	return 0;
}

size_t sg_profile_nsamples(const struct sg_profile *p)
{
	return p->nsamples;
}

const struct sg_sample *sg_profile_sample(const struct sg_profile *p, size_t i)
{
	return i < p->nsamples ? &p->samples[i] : NULL;
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
	for (size_t i = 0; i < p->nprocs; i++) {
		if (p->procs[i].pid == pid) {
			p->procs[i].command = id;
			return 0;
		}
	}
	if (grow((void **)&p->procs, &p->procs_cap, p->nprocs + 1, sizeof(*p->procs)))
		return SG_ENOMEM;
	p->procs[p->nprocs++] = (struct process){.pid = pid, .command = id};
	return 0;
}

const char *sg_profile_process(const struct sg_profile *p, pid_t pid)
{
	for (size_t i = 0; i < p->nprocs; i++)
		if (p->procs[i].pid == pid)
			return sg_profile_str(p, p->procs[i].command);
	return "";
}
