/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "profile/report.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/u64map.h"

struct table {
	struct sg_report_row *rows;
	size_t *last_sample; /* row -> the sample that last counted it in total */
	size_t n, rows_cap, last_cap;
	struct sg_u64map by_key; /* (name + 1, file) -> row index */
};

static int row_for(struct table *t, const struct sg_frame *f, size_t *row)
{
	/* name + 1 keeps the key nonzero, as the map needs. */
	uint64_t key = (uint64_t)(f->name + 1ull) << 32 | f->file, value;

	if (sg_u64map_get(&t->by_key, key, &value)) {
		*row = (size_t)value;
		return 0;
	}
	if (sg_grow(&t->rows, &t->rows_cap, t->n + 1, sizeof(*t->rows)) ||
	    sg_grow(&t->last_sample, &t->last_cap, t->n + 1, sizeof(*t->last_sample)) ||
	    sg_u64map_put(&t->by_key, key, t->n))
		return SG_ENOMEM;
	t->rows[t->n] = (struct sg_report_row){.name = f->name, .file = f->file};
	t->last_sample[t->n] = SIZE_MAX;
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

/* Highest self first; ties by name, then file, so the order is stable. */
static int by_self_desc(const void *a, const void *b, void *arg)
{
	const struct sg_report_row *x = a, *y = b;
	const struct sg_profile *p = arg;
	int c;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	c = strcmp(sg_profile_str(p, x->name), sg_profile_str(p, y->name));
	return c ? c : strcmp(sg_profile_str(p, x->file), sg_profile_str(p, y->file));
}

int sg_report_top_self(const struct sg_profile *p, struct sg_report_row *rows, size_t max)
{
	struct table t = {.by_key = SG_U64MAP_INIT};
	size_t n = 0;
	int err;

	if (max > INT_MAX)
		max = INT_MAX;
	err = fill(p, &t);
	if (err)
		goto out_release;
	if (t.n)
		qsort_r(t.rows, t.n, sizeof(*t.rows), by_self_desc, (void *)(uintptr_t)p);
	/* Functions never on top of a stack have no self share to show. */
	while (n < t.n && n < max && t.rows[n].self)
		n++;
	if (n)
		memcpy(rows, t.rows, n * sizeof(*rows));
out_release:
	free(t.rows);
	free(t.last_sample);
	sg_u64map_release(&t.by_key);
	return err ? err : (int)n;
}

/* The half-width of the 95% interval of a share p of n samples: normal
 * approximation of the binomial, good enough once a row has a few samples. */
static double half_width(double share, double n)
{
	return n > 0 ? 1.96 * sqrt(share * (1 - share) / n) : 0;
}

int sg_report_print_top(const struct sg_profile *p, size_t max, FILE *out)
{
	struct sg_report_row *rows = calloc(max ? max : 1, sizeof(*rows));
	double total = (double)sg_profile_total(p);
	int n;

	if (!rows)
		return SG_ENOMEM;
	n = sg_report_top_self(p, rows, max);
	if (n < 0)
		goto out_free;
	fprintf(out, "  %7s %7s %7s %9s  %s\n", "self%", "+/-95%", "total%", "samples", "function");
	for (int i = 0; i < n; i++) {
		double self = total > 0 ? (double)rows[i].self / total : 0;
		double all = total > 0 ? (double)rows[i].total / total : 0;
		const char *file = sg_profile_str(p, rows[i].file);

		fprintf(out, "  %7.2f %7.2f %7.2f %9llu  %s%s%s%s\n", 100 * self,
		        100 * half_width(self, total), 100 * all, (unsigned long long)rows[i].self,
		        sg_profile_str(p, rows[i].name), file[0] ? " (" : "", file,
		        file[0] ? ")" : "");
	}
	n = ferror(out) ? SG_EIO : 0;
out_free:
	free(rows);
	return n;
}
