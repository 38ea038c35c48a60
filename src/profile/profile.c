/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
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
	struct sg_u64map last_run; /* thread_key -> index of its latest run + 1 */
	size_t runs_budget;        /* coarsen the timeline when it holds this many */
	uint64_t grid_ns;          /* its grid once coarsened, 0 before */
	struct sg_rss_point *rss;  /* the RSS series, SG_PROFILE_MAX_RSS_POINTS at most */
	size_t nrss;
	uint64_t rss_step; /* reads a point covers, doubled at each halving */
	uint64_t rss_fill; /* reads the last point covers so far */
	/* sg_profile_set_budget: what stands for anything new past it, and
	 * how many new names, frames and stacks it stood for. */
	size_t budget; /* bytes, 0 when unbounded */
	uint32_t over_str, over_frame, over_stack;
	uint64_t refused;
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
	p->runs_budget = SG_PROFILE_MAX_RUNS;
	p->rss_step = 1;
	p->meta.command = strdup("");
	p->meta.python_version = strdup("");
	p->meta.path_roots = strdup("");
	if (!p->meta.command || !p->meta.python_version || !p->meta.path_roots ||
	    sg_profile_intern(p, "", 0) != 0) {
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
	free(p->meta.path_roots);
	sg_intern_release(&p->strs);
	sg_intern_release(&p->frames);
	sg_intern_release(&p->stacks);
	sg_intern_release(&p->rows);
	free(p->samples);
	sg_u64map_release(&p->procs);
	free(p->runs);
	sg_u64map_release(&p->last_run);
	free(p->rss);
	free(p);
}

const char *sg_mode_name(enum sg_mode mode)
{
	switch (mode) {
	case SG_MODE_CPU:
		return "cpu";
	case SG_MODE_WALL:
		return "wall";
	default:
		return "unknown";
	}
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

/* The part of file past the last occurrence of dir ("/NAME/"), or NULL. */
static const char *past_last(const char *file, const char *dir)
{
	const char *last = NULL;

	for (const char *at = file; (at = strstr(at, dir)); at++)
		last = at;
	return last ? last + strlen(dir) : NULL;
}

const char *sg_profile_short_file(const struct sg_profile *p, const char *file)
{
	const char *best = file, *at;

	for (const char *root = sg_profile_meta_const(p)->path_roots; *root; root = at + 1) {
		size_t len;

		at = strchr(root, '\n');
		if (!at)
			break;
		len = (size_t)(at - root);
		if (!strncmp(file, root, len) && file[len] && file + len > best)
			best = file + len;
	}
	at = past_last(file, "/site-packages/");
	if (at && *at && at > best)
		best = at;
	at = past_last(file, "/dist-packages/");
	if (at && *at && at > best)
		best = at;
	return best;
}

int sg_profile_add_path_root(struct sg_profile *p, const char *dir)
{
	size_t len = strlen(dir), have = strlen(p->meta.path_roots);
	bool slash = len && dir[len - 1] == '/';
	char *roots;

	if (dir[0] != '/' || strchr(dir, '\n'))
		return 0;
	for (const char *at = p->meta.path_roots; *at; at = strchr(at, '\n') + 1)
		if (!strncmp(at, dir, len) && (slash || at[len] == '/') && at[len + !slash] == '\n')
			return 0;
	roots = realloc(p->meta.path_roots, have + len + 3);
	if (!roots)
		return SG_ENOMEM;
	memcpy(roots + have, dir, len);
	have += len;
	if (!slash)
		roots[have++] = '/';
	roots[have++] = '\n';
	roots[have] = '\0';
	p->meta.path_roots = roots;
	return 0;
}

/* key's id in t; past the budget (sg_profile_set_budget) the id of over,
 * counted; NONE when out of memory. */
static uint32_t put_bounded(struct sg_profile *p, struct sg_intern *t, const void *key, size_t len,
                            uint32_t over)
{
	uint32_t id;

	switch (sg_intern_put(t, key, len, &id)) {
	case 0:
		return id;
	case SG_EFULL:
		p->refused++;
		return over;
	default:
		return NONE;
	}
}

uint32_t sg_profile_intern(struct sg_profile *p, const char *s, size_t len)
{
	/* A NUL inside would make the stored string read shorter than its key. */
	if (len && memchr(s, '\0', len))
		len = strlen(s);
	return put_bounded(p, &p->strs, s, len, p->over_str);
}

const char *sg_profile_str(const struct sg_profile *p, uint32_t id)
{
	return id < sg_intern_count(&p->strs) ? sg_intern_get(&p->strs, id, NULL) : "";
}

uint32_t sg_profile_frame_id(struct sg_profile *p, const struct sg_frame *f)
{
	struct sg_frame key;

	/* Padding takes part in the comparison: zero it. */
	memset(&key, 0, sizeof(key));
	key.name = f->name;
	key.file = f->file;
	key.line = f->line;
	key.type = f->type;
	return put_bounded(p, &p->frames, &key, sizeof(key), p->over_frame);
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

	/* Writers follow every frame id of a stack: they must all exist. */
	for (size_t i = 0; i < n; i++)
		if (frames[i] >= nframes)
			return NONE;
	if (n > SIZE_MAX / sizeof(*frames))
		return NONE;
	return put_bounded(p, &p->stacks, frames, n * sizeof(*frames), p->over_stack);
}

int sg_profile_set_budget(struct sg_profile *p, size_t bytes)
{
	struct sg_frame over = {.type = SG_FRAME_PYTHON};
	const char *name = SG_PROFILE_OVER_BUDGET;

	/* What stands for the new things past it exists before the bound. */
	over.name = sg_profile_intern(p, name, strlen(name));
	if (over.name == NONE)
		return SG_ENOMEM;
	p->over_str = over.name;
	p->over_frame = sg_profile_frame_id(p, &over);
	if (p->over_frame == NONE)
		return SG_ENOMEM;
	p->over_stack = sg_profile_stack_id(p, &p->over_frame, 1);
	if (p->over_stack == NONE)
		return SG_ENOMEM;
	p->budget = bytes;
	sg_intern_set_budget(&p->strs, bytes / 4);
	sg_intern_set_budget(&p->frames, bytes / 4);
	sg_intern_set_budget(&p->stacks, bytes / 2);
	return 0;
}

uint64_t sg_profile_refused(const struct sg_profile *p)
{
	return p->refused;
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

int sg_profile_add_memory(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                          uint64_t growth, uint64_t freed)
{
	uint32_t row;
	int err = add_to_row(p, stack, labels, 0, 0, &row);

	if (err)
		return err;
	p->samples[row].rss_growth += growth;
	p->samples[row].rss_freed += freed;
	return 0;
}

uint64_t sg_sample_value(const struct sg_sample *s, enum sg_value v)
{
	switch (v) {
	case SG_VALUE_RSS_GROWTH:
		return s->rss_growth;
	case SG_VALUE_RSS_FREED:
		return s->rss_freed;
	case SG_VALUE_SAMPLES:
		break;
	}
	return s->count;
}

static const char *const value_names[] = {
    [SG_VALUE_SAMPLES] = "samples",
    [SG_VALUE_RSS_GROWTH] = "rss_growth",
    [SG_VALUE_RSS_FREED] = "rss_freed",
};

const char *sg_value_name(enum sg_value v)
{
	return v <= SG_VALUE_RSS_FREED ? value_names[v] : value_names[0];
}

const char *sg_value_unit(enum sg_value v)
{
	return v == SG_VALUE_SAMPLES ? "count" : "bytes";
}

bool sg_value_parse(const char *name, enum sg_value *v)
{
	for (enum sg_value i = SG_VALUE_SAMPLES; i <= SG_VALUE_RSS_FREED; i++)
		if (!strcmp(name, value_names[i])) {
			*v = i;
			return true;
		}
	return false;
}

/* Room for one more RSS point: at the budget, neighbours merge in pairs. */
static int rss_room(struct sg_profile *p)
{
	if (p->nrss == SG_PROFILE_MAX_RSS_POINTS) {
		size_t n = p->nrss / 2;

		for (size_t i = 0; i < n; i++) {
			struct sg_rss_point a = p->rss[2 * i], b = p->rss[2 * i + 1];

			p->rss[i] = (struct sg_rss_point){
			    .t_ns = a.t_ns,
			    .min_bytes = a.min_bytes < b.min_bytes ? a.min_bytes : b.min_bytes,
			    .max_bytes = a.max_bytes > b.max_bytes ? a.max_bytes : b.max_bytes,
			};
		}
		p->nrss = n;
		p->rss_step *= 2;
		return 0;
	}
	return p->rss                                                           ? 0
	       : (p->rss = malloc(SG_PROFILE_MAX_RSS_POINTS * sizeof(*p->rss))) ? 0
	                                                                        : SG_ENOMEM;
}

int sg_profile_add_rss(struct sg_profile *p, uint64_t t_ns, uint64_t bytes)
{
	struct sg_rss_point *last = p->nrss ? &p->rss[p->nrss - 1] : NULL;

	if (last && p->rss_fill < p->rss_step) {
		last->min_bytes = bytes < last->min_bytes ? bytes : last->min_bytes;
		last->max_bytes = bytes > last->max_bytes ? bytes : last->max_bytes;
		p->rss_fill++;
		return 0;
	}
	if (rss_room(p))
		return SG_ENOMEM;
	p->rss[p->nrss++] =
	    (struct sg_rss_point){.t_ns = t_ns, .min_bytes = bytes, .max_bytes = bytes};
	p->rss_fill = 1;
	return 0;
}

int sg_profile_add_rss_point(struct sg_profile *p, const struct sg_rss_point *pt)
{
	if (rss_room(p))
		return SG_ENOMEM;
	p->rss[p->nrss++] = *pt;
	p->rss_fill = p->rss_step;
	return 0;
}

size_t sg_profile_nrss(const struct sg_profile *p)
{
	return p->nrss;
}

const struct sg_rss_point *sg_profile_rss(const struct sg_profile *p, size_t i)
{
	return i < p->nrss ? &p->rss[i] : NULL;
}

/* The key sg_profile_add_at and the timeline call a thread by (never 0). */
static uint64_t thread_key(const struct sg_labels *l)
{
	uint64_t key = (uint64_t)(uint32_t)l->pid << 32 | (uint32_t)l->tid;

	/* Key 0 is reserved; pid 0 only comes from hand-made profiles. */
	return key + !key;
}

/* span * part / whole (part <= whole), in 64 bits when they do. */
static uint64_t share_of(uint64_t span, uint64_t part, uint64_t whole)
{
	if (!whole)
		return 0;
	if (!part || span <= UINT64_MAX / part)
		return span * part / whole;
	return (uint64_t)((unsigned __int128)span * part / whole);
}

/* Lay the runs [from, to) of one thread's cell end to end over the time
 * they covered, [t0, t1), each as long as its share of the samples. */
static void lay_out(struct sg_run *runs, size_t from, size_t to, uint64_t t0, uint64_t t1)
{
	uint64_t total = 0, before = 0;

	for (size_t i = from; i < to; i++)
		total += runs[i].count;
	for (size_t i = from; i < to; i++) {
		runs[i].start_ns = t0 + share_of(t1 - t0, before, total);
		before += runs[i].count;
		runs[i].end_ns = t0 + share_of(t1 - t0, before, total);
	}
}

/* Where in the output the current cell's run of each row is. */
struct row_mark {
	size_t cell; /* the cell it was last seen in, + 1 */
	size_t out;  /* its run there */
};

/* Merge the runs [from, to) of one thread's cell (cell numbers them) into
 * one per row, in order of first appearance, written from runs + out on
 * (out <= from); returns the new out. */
static size_t merge_cell(struct sg_run *runs, size_t from, size_t to, size_t out,
                         struct row_mark *marks, size_t cell)
{
	uint64_t t0 = runs[from].start_ns, t1 = 0;
	size_t first = out;

	if (to - from == 1) {
		runs[out] = runs[from];
		return out + 1;
	}
	for (size_t i = from; i < to; i++) {
		struct row_mark *m = &marks[runs[i].row];

		t0 = runs[i].start_ns < t0 ? runs[i].start_ns : t0;
		t1 = runs[i].end_ns > t1 ? runs[i].end_ns : t1;
		if (m->cell == cell + 1) {
			runs[m->out].count += runs[i].count;
			continue;
		}
		m->cell = cell + 1;
		m->out = out;
		runs[out++] = runs[i];
	}
	lay_out(runs, first, out, t0, t1);
	return out;
}

/* Merge the runs of each thread and row within each cell of a grid of
 * grid_ns into one, laid out within the cell. Runs end up grouped by
 * thread, each thread's in time order; then each thread's latest run is
 * found again. Counts are kept exactly. Costs a copy of the runs while it
 * works, and time linear in them. */
static int coarsen(struct sg_profile *p, uint64_t grid_ns)
{
	size_t nrows = sg_intern_count(&p->rows), nthreads = 0, out = 0;
	struct sg_u64map slots; /* thread_key -> its number + 1 */
	uint32_t *row_slot = malloc(nrows * sizeof(*row_slot) + 1);
	uint64_t *keys = malloc((nrows + 1) * sizeof(*keys)); /* slot -> thread_key */
	size_t *begin = calloc(nrows + 2, sizeof(*begin)), ncells = 0;
	struct row_mark *marks = calloc(nrows + 1, sizeof(*marks));
	struct sg_run *runs = malloc(p->nruns * sizeof(*runs) + 1);
	int err = runs && row_slot && keys && begin && marks ? 0 : SG_ENOMEM;

	sg_u64map_init(&slots);
	/* Each row's thread, numbered from 1: a lookup per row, not per run. */
	for (size_t r = 0; r < nrows && !err; r++) {
		uint64_t key = thread_key(&p->samples[r].labels), slot;

		if (!sg_u64map_get(&slots, key, &slot)) {
			slot = ++nthreads;
			keys[slot] = key;
			err = sg_u64map_put(&slots, key, slot);
		}
		row_slot[r] = (uint32_t)slot;
	}
	if (!err) {
		size_t at = 0;

		/* Place the runs thread by thread: a thread's cells are then
		 * contiguous. */
		for (size_t i = 0; i < p->nruns; i++)
			begin[row_slot[p->runs[i].row]]++;
		for (size_t t = 1; t <= nthreads; t++) {
			size_t n = begin[t];

			begin[t] = at;
			at += n;
		}
		for (size_t i = 0; i < p->nruns; i++)
			runs[begin[row_slot[p->runs[i].row]]++] = p->runs[i];
		sg_u64map_release(&p->last_run);
		/* begin[t] is now where thread t ends. */
		for (size_t t = 1, from = 0; t <= nthreads && !err; from = begin[t++]) {
			size_t cell = from;

			for (size_t i = from + 1; i <= begin[t]; i++)
				if (i == begin[t] ||
				    runs[i].start_ns / grid_ns != runs[cell].start_ns / grid_ns) {
					out = merge_cell(runs, cell, i, out, marks, ncells++);
					cell = i;
				}
			if (begin[t] > from)
				err = sg_u64map_put(&p->last_run, keys[t], out);
		}
		free(p->runs);
		p->runs = runs;
		p->runs_cap = p->nruns;
		p->nruns = out;
		runs = NULL;
	}
	free(runs);
	free(marks);
	free(begin);
	free(keys);
	free(row_slot);
	sg_u64map_release(&slots);
	return err;
}

/* Keep the timeline within SG_PROFILE_MAX_RUNS: when it is full, coarsen
 * its grid (doubling it) until at most half of that is used. A grid as long
 * as the whole run leaves one run per thread and row, which is what the rows
 * cost already: past that the timeline may grow with the rows. */
static int make_room(struct sg_profile *p)
{
	uint64_t first = UINT64_MAX, last = 0, estimate;
	int err = 0;

	if (p->nruns < p->runs_budget)
		return 0;
	for (size_t i = 0; i < p->nruns; i++) {
		first = p->runs[i].start_ns < first ? p->runs[i].start_ns : first;
		last = p->runs[i].end_ns > last ? p->runs[i].end_ns : last;
	}
	/* Start at the grid that leaves one run per thread and cell, in 1 us
	 * times a power of two so that each grid's cells split the next's. */
	estimate = (last - first) / (SG_PROFILE_MAX_RUNS / 2) * p->last_run.len;
	if (!p->grid_ns)
		p->grid_ns = 1000;
	while (p->grid_ns < estimate / 2)
		p->grid_ns *= 2;
	while (!err && p->nruns > SG_PROFILE_MAX_RUNS / 2 && p->grid_ns <= last - first) {
		size_t before = p->nruns;

		p->grid_ns *= 2;
		err = coarsen(p, p->grid_ns);
		/* Under a quarter merged: rows change much faster than this
		 * grid, so skip ahead rather than pass over every run again at
		 * each doubling (the sampler waits for this). */
		if (p->nruns > before - before / 4)
			p->grid_ns *= 4;
	}
	p->runs_budget = p->nruns > SG_PROFILE_MAX_RUNS / 2 ? 2 * p->nruns : SG_PROFILE_MAX_RUNS;
	return err;
}

/* A new run for thread, [start_ns, end_ns) of row. */
static int append_run(struct sg_profile *p, uint64_t thread, uint32_t row, uint64_t count,
                      uint64_t start_ns, uint64_t end_ns)
{
	int err = make_room(p);

	if (!err && (sg_grow(&p->runs, &p->runs_cap, p->nruns + 1, sizeof(*p->runs)) ||
	             sg_u64map_put(&p->last_run, thread, p->nruns + 1)))
		err = SG_ENOMEM;
	if (err)
		return err;
	p->runs[p->nruns++] =
	    (struct sg_run){.row = row, .start_ns = start_ns, .end_ns = end_ns, .count = count};
	return 0;
}

/* Add count samples weighing weight_ns, taken at t_ns and covering span_ns
 * of the thread's timeline. */
static int add_timed(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                     uint64_t count, uint64_t weight_ns, uint64_t t_ns, uint64_t span_ns)
{
	uint64_t thread = thread_key(labels);
	uint64_t slack = count ? span_ns / count / 2 : 0;
	struct sg_run *last = NULL;
	uint64_t last_plus1;
	uint32_t row;
	int err = add_to_row(p, stack, labels, count, weight_ns, &row);

	if (err)
		return err;
	if (sg_u64map_get(&p->last_run, thread, &last_plus1))
		last = &p->runs[last_plus1 - 1];
	if (last && last->row == row && last->end_ns + slack >= t_ns) {
		last->end_ns = t_ns + span_ns > last->end_ns ? t_ns + span_ns : last->end_ns;
		last->count += count;
		return 0;
	}
	return append_run(p, thread, row, count, t_ns, t_ns + span_ns);
}

int sg_profile_add_at(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                      uint64_t count, uint64_t weight_ns, uint64_t t_ns)
{
	return add_timed(p, stack, labels, count, weight_ns, t_ns, weight_ns);
}

int sg_profile_add_sample(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                          uint64_t weight_ns, uint64_t t_ns, uint64_t period_ns)
{
	return add_timed(p, stack, labels, 1, weight_ns, t_ns, period_ns);
}

int sg_profile_add_run(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                       uint64_t count, uint64_t weight_ns, uint64_t start_ns, uint64_t end_ns)
{
	uint32_t row;
	int err;

	if (end_ns < start_ns)
		return SG_EUSAGE;
	err = add_to_row(p, stack, labels, count, weight_ns, &row);
	return err ? err : append_run(p, thread_key(labels), row, count, start_ns, end_ns);
}

uint64_t sg_profile_timeline_grid(const struct sg_profile *p)
{
	return p->grid_ns;
}

int sg_profile_rename_threads(struct sg_profile *p, const struct sg_u64map *names)
{
	size_t nrows = sg_intern_count(&p->rows);
	uint32_t *moved = NULL; /* row -> the row its samples went to, + 1 */
	int err = 0;

	for (size_t i = 0; i < nrows && !err; i++) {
		struct sg_sample from = p->samples[i];
		uint64_t name;
		uint32_t to;

		if ((!from.count && !from.rss_growth && !from.rss_freed) ||
		    !sg_u64map_get(names, from.labels.thread_name, &name))
			continue;
		from.labels.thread_name = (uint32_t)name;
		if (!moved && !(moved = calloc(nrows, sizeof(*moved))))
			return SG_ENOMEM;
		to = row_id(p, from.stack, &from.labels);
		if (to == NONE) {
			err = SG_ENOMEM;
		} else if (to != i) {
			p->samples[to].count += from.count;
			p->samples[to].weight_ns += from.weight_ns;
			p->samples[to].rss_growth += from.rss_growth;
			p->samples[to].rss_freed += from.rss_freed;
			p->samples[i].count = 0;
			p->samples[i].weight_ns = 0;
			p->samples[i].rss_growth = p->samples[i].rss_freed = 0;
			moved[i] = to + 1;
		}
	}
	/* Also after a failure: the runs follow what was moved. */
	for (size_t r = 0; moved && r < p->nruns; r++)
		if (moved[p->runs[r].row])
			p->runs[r].row = moved[p->runs[r].row] - 1;
	free(moved);
	return err;
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

int sg_profile_clear(struct sg_profile *p)
{
	struct sg_profile *q = sg_profile_new(), tmp;
	size_t pos = 0;
	uint64_t pid1, id;
	int err = q ? 0 : SG_ENOMEM;

	if (!err)
		err = sg_profile_set_meta_str(q, &q->meta.command, p->meta.command);
	if (!err)
		err = sg_profile_set_meta_str(q, &q->meta.python_version, p->meta.python_version);
	if (!err)
		err = sg_profile_set_meta_str(q, &q->meta.path_roots, p->meta.path_roots);
	while (!err && sg_u64map_next(&p->procs, &pos, &pid1, &id))
		err = sg_profile_set_process(q, (pid_t)(pid1 - 1), sg_profile_str(p, (uint32_t)id));
	if (!err && p->budget)
		err = sg_profile_set_budget(q, p->budget);
	if (err) {
		sg_profile_free(q);
		return SG_ENOMEM;
	}
	q->meta.mode = p->meta.mode;
	q->meta.rate_asked_hz = p->meta.rate_asked_hz;
	q->meta.by_thread = p->meta.by_thread;
	q->meta.thread_groups = p->meta.thread_groups;
	q->meta.by_process = p->meta.by_process;
	q->meta.memory = p->meta.memory;
	tmp = *p;
	*p = *q;
	*q = tmp;
	sg_profile_free(q);
	return 0;
}

/* src's string id in dst, interned there. */
static uint32_t merged_str(struct sg_profile *dst, const struct sg_profile *src, uint32_t id)
{
	const char *s = sg_profile_str(src, id);

	return sg_profile_intern(dst, s, strlen(s));
}

/* src's stack id in dst, its strings and frames interned there. */
static uint32_t merged_stack(struct sg_profile *dst, const struct sg_profile *src, uint32_t id,
                             uint32_t *frames)
{
	size_t n;
	const uint32_t *from = sg_profile_stack(src, id, &n);

	for (size_t i = 0; i < n; i++) {
		struct sg_frame f = *sg_profile_frame(src, from[i]);

		f.name = merged_str(dst, src, f.name);
		f.file = merged_str(dst, src, f.file);
		if (f.name == NONE || f.file == NONE)
			return NONE;
		frames[i] = sg_profile_frame_id(dst, &f);
		if (frames[i] == NONE)
			return NONE;
	}
	return sg_profile_stack_id(dst, frames, n);
}

static int merge_meta(struct sg_profile *dst, const struct sg_profile *src)
{
	struct sg_meta *d = &dst->meta;
	const struct sg_meta *s = &src->meta;
	uint64_t end = s->start_unix_ns + s->duration_ns;
	size_t pos = 0;
	uint64_t pid1, id;
	int err = 0;

	if (!d->command[0])
		err = sg_profile_set_meta_str(dst, &d->command, s->command);
	if (!err && !d->python_version[0])
		err = sg_profile_set_meta_str(dst, &d->python_version, s->python_version);
	for (const char *at = s->path_roots, *nl; !err && (nl = strchr(at, '\n')); at = nl + 1) {
		char dir[4096];

		if ((size_t)(nl - at) >= sizeof(dir))
			continue;
		memcpy(dir, at, (size_t)(nl - at));
		dir[nl - at] = '\0';
		err = sg_profile_add_path_root(dst, dir);
	}
	while (!err && sg_u64map_next(&src->procs, &pos, &pid1, &id))
		if (!sg_u64map_get(&dst->procs, pid1, NULL))
			err = sg_profile_set_process(dst, (pid_t)(pid1 - 1),
			                             sg_profile_str(src, (uint32_t)id));
	if (d->duration_ns + s->duration_ns)
		d->rate_achieved_hz = (d->rate_achieved_hz * (double)d->duration_ns +
		                       s->rate_achieved_hz * (double)s->duration_ns) /
		                      (double)(d->duration_ns + s->duration_ns);
	if (end > d->start_unix_ns + d->duration_ns)
		d->duration_ns = end - d->start_unix_ns;
	if (!d->rate_asked_hz)
		d->rate_asked_hz = s->rate_asked_hz;
	d->samples += s->samples;
	d->dropped += s->dropped;
	d->dropped_torn += s->dropped_torn;
	d->dropped_read += s->dropped_read;
	d->truncated += s->truncated;
	d->memory = d->memory || s->memory;
	return err;
}

/* sg_profile_merge, of only the rows without skip_flags. */
static int merge_rows(struct sg_profile *dst, const struct sg_profile *src, uint32_t skip_flags)
{
	size_t nrows = sg_intern_count(&src->rows), depth = 0;
	uint32_t *rows = malloc(nrows * sizeof(*rows) + 1), *frames;
	uint64_t offset;
	int err = 0;

	if (!rows)
		return SG_ENOMEM;
	/* An empty profile takes its first part's start and mode. */
	if (!dst->total && !dst->nruns && !dst->meta.duration_ns) {
		dst->meta.start_unix_ns = src->meta.start_unix_ns;
		dst->meta.mode = src->meta.mode;
	}
	if (src->meta.start_unix_ns < dst->meta.start_unix_ns) {
		free(rows);
		return SG_EUSAGE;
	}
	offset = src->meta.start_unix_ns - dst->meta.start_unix_ns;
	for (size_t i = 0; i < sg_intern_count(&src->stacks); i++) {
		size_t n;

		sg_profile_stack(src, (uint32_t)i, &n);
		depth = n > depth ? n : depth;
	}
	frames = malloc(depth * sizeof(*frames) + 1);
	err = frames ? 0 : SG_ENOMEM;
	for (size_t r = 0; r < nrows && !err; r++) {
		const struct sg_sample *s = &src->samples[r];
		struct sg_labels l = s->labels;
		uint32_t stack;

		rows[r] = NONE;
		if (l.flags & skip_flags)
			continue;
		stack = merged_stack(dst, src, s->stack, frames);

		l.thread_name = merged_str(dst, src, l.thread_name);
		if (stack == NONE || l.thread_name == NONE)
			err = SG_ENOMEM;
		else
			err = add_to_row(dst, stack, &l, s->count, s->weight_ns, &rows[r]);
		if (!err) {
			dst->samples[rows[r]].rss_growth += s->rss_growth;
			dst->samples[rows[r]].rss_freed += s->rss_freed;
		}
	}
	for (size_t i = 0; i < src->nrss && !err; i++) {
		struct sg_rss_point pt = src->rss[i];

		pt.t_ns += offset;
		err = sg_profile_add_rss_point(dst, &pt);
	}
	for (size_t i = 0; i < src->nruns && !err; i++) {
		const struct sg_run *run = &src->runs[i];
		uint32_t row = rows[run->row];

		if (row == NONE)
			continue;
		err = append_run(dst, thread_key(&dst->samples[row].labels), row, run->count,
		                 run->start_ns + offset, run->end_ns + offset);
	}
	if (!err)
		err = merge_meta(dst, src);
	free(frames);
	free(rows);
	return err;
}

int sg_profile_merge(struct sg_profile *dst, const struct sg_profile *src)
{
	return merge_rows(dst, src, 0);
}

int sg_profile_merge_on_cpu(struct sg_profile *dst, const struct sg_profile *src)
{
	uint64_t before = dst->total, samples = dst->meta.samples;
	int err = merge_rows(dst, src, SG_SAMPLE_IDLE);

	dst->meta.mode = SG_MODE_CPU;
	/* Samples taken are the ones kept: the idle ones were not on a CPU. */
	dst->meta.samples = samples + (dst->total - before);
	return err;
}
