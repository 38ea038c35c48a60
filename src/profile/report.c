/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "profile/report.h"
#include "util/err.h"
#include "util/u64map.h"

struct table {
	struct sg_report_row *rows;
	size_t *last_sample; /* row -> the sample that last counted it in total */
	size_t n, cap;
	struct sg_u64map by_key; /* (name, file) -> row index */
};

static int row_for(struct table *t, const struct sg_frame *f, size_t *row)
{
	/* name + 1 keeps the key nonzero, as the map needs. */
	uint64_t key = (uint64_t)(f->name + 1ull) << 32 | f->file, value;

	if (sg_u64map_get(&t->by_key, key, &value)) {
		*row = (size_t)value;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct sg_report_row *rows = realloc(t->rows, cap * sizeof(*rows));
		size_t *last;

		if (!rows)
			return SG_ENOMEM;
		t->rows = rows;
		last = realloc(t->last_sample, cap * sizeof(*last));
		if (!last)
			return SG_ENOMEM;
		t->last_sample = last;
		t->cap = cap;
	}
	t->rows[t->n] = (struct sg_report_row){.name = f->name, .file = f->file};
	t->last_sample[t->n] = SIZE_MAX;
	if (sg_u64map_put(&t->by_key, key, t->n))
		return SG_ENOMEM;
	*row = t->n++;
	return 0;
}

static int fill(const struct sg_profile *p, struct table *t)
{
	for (size_t i = 0; i < sg_profile_nsamples(p); i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);
		size_t depth, row;
		const uint32_t *frames = sg_profile_stack(p, s->stack, &depth);

		for (size_t k = 0; k < depth; k++) {
			int err = row_for(t, sg_profile_frame(p, frames[k]), &row);

			if (err)
				return err;
			/* Recursion: a function counts once per sample in total. */
			if (t->last_sample[row] != i) {
				t->last_sample[row] = i;
				t->rows[row].total += s->count;
			}
			if (k == depth - 1)
				t->rows[row].self += s->count;
		}
	}
	return 0;
}

static const struct sg_profile *sort_profile;

static int by_self_desc(const void *a, const void *b)
{
	const struct sg_report_row *x = a, *y = b;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	return strcmp(sg_profile_str(sort_profile, x->name), sg_profile_str(sort_profile, y->name));
}

int sg_report_top_self(const struct sg_profile *p, struct sg_report_row *rows, size_t max)
{
	struct table t = {0};
	size_t n;
	int err;

	sg_u64map_init(&t.by_key);
	err = fill(p, &t);
	if (!err) {
		sort_profile = p;
		qsort(t.rows, t.n, sizeof(*t.rows), by_self_desc);
		/* Functions never on top of a stack have no self share to show. */
		for (n = 0; n < t.n && n < max && t.rows[n].self; n++)
			;
		memcpy(rows, t.rows, n * sizeof(*rows));
	}
	free(t.rows);
	free(t.last_sample);
	sg_u64map_release(&t.by_key);
	return err ? err : (int)n;
}

int sg_report_print_top(const struct sg_profile *p, size_t max, FILE *out)
{
	struct sg_report_row *rows = calloc(max ? max : 1, sizeof(*rows));
	double total = (double)sg_profile_total(p);
	int n;

	if (!rows)
		return SG_ENOMEM;
	n = sg_report_top_self(p, rows, max);
	if (n < 0) {
		free(rows);
		return n;
	}
	fprintf(out, "  %7s %7s %7s %8s  %s\n", "self%", "+-95%", "total%", "samples", "function");
	for (int i = 0; i < n; i++) {
		double share = total > 0 ? (double)rows[i].self / total : 0;
		/* Normal approximation of the binomial: the samples behind a share. */
		double half = total > 0 ? 1.96 * sqrt(share * (1 - share) / total) : 0;
		const char *file = sg_profile_str(p, rows[i].file);

		fprintf(out, "  %7.2f %7.2f %7.2f %8llu  %s%s%s%s\n", 100 * share, 100 * half,
		        total > 0 ? 100 * (double)rows[i].total / total : 0.0,
		        (unsigned long long)rows[i].self, sg_profile_str(p, rows[i].name),
		        file[0] ? " (" : "", file, file[0] ? ")" : "");
	}
	free(rows);
	return 0;
}
