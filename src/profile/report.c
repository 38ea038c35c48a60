/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdbool.h>
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

static int fill(const struct sg_profile *p, enum sg_value value, struct table *t)
{
	for (size_t i = 0; i < sg_profile_nsamples(p); i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);
		uint64_t v = sg_sample_value(s, value);
		size_t depth, row;
		const uint32_t *frames = sg_profile_stack(p, s->stack, &depth);

		for (size_t k = 0; k < depth; k++) {
			int err = row_for(t, sg_profile_frame(p, frames[k]), &row);

			if (err)
				return err;
			/* Recursion: a function counts once per sample in total. */
			if (t->last_sample[row] != i) {
				t->last_sample[row] = i;
				t->rows[row].total += v;
			}
			if (k == depth - 1) {
				t->rows[row].self += v;
				if (s->labels.flags & SG_SAMPLE_IDLE)
					t->rows[row].idle += v;
			}
		}
	}
	return 0;
}

static int by_name(const struct sg_report_row *x, const struct sg_report_row *y,
                   const struct sg_profile *p)
{
	int c = strcmp(sg_profile_str(p, x->name), sg_profile_str(p, y->name));

	return c ? c : strcmp(sg_profile_str(p, x->file), sg_profile_str(p, y->file));
}

/* Highest self first; ties by name, then file, so the order is stable. */
static int by_self_desc(const void *a, const void *b, void *arg)
{
	const struct sg_report_row *x = a, *y = b;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	return by_name(x, y, arg);
}

/* Highest on-CPU self (self - idle) first, then as by_self_desc. */
static int by_cpu_desc(const void *a, const void *b, void *arg)
{
	const struct sg_report_row *x = a, *y = b;

	if (x->self - x->idle != y->self - y->idle)
		return x->self - x->idle < y->self - y->idle ? 1 : -1;
	return by_self_desc(a, b, arg);
}

int sg_report_top_self(const struct sg_profile *p, struct sg_report_row *rows, size_t max)
{
	return sg_report_top_value(p, SG_VALUE_SAMPLES, rows, max);
}

int sg_report_top_value(const struct sg_profile *p, enum sg_value value, struct sg_report_row *rows,
                        size_t max)
{
	struct table t = {.by_key = SG_U64MAP_INIT};
	size_t n = 0;
	int err;

	if (max > INT_MAX)
		max = INT_MAX;
	err = fill(p, value, &t);
	if (err)
		goto out_release;
	if (t.n)
		qsort_r(t.rows, t.n, sizeof(*t.rows), by_self_desc, (void *)(uintptr_t)p);
	/* Functions never on top of a stack have no self share to show. */
	while (n < t.n && n < max && t.rows[n].self)
		n++;
	if (n) {
		memcpy(rows, t.rows, n * sizeof(*rows));
		qsort_r(rows, n, sizeof(*rows), by_cpu_desc, (void *)(uintptr_t)p);
	}
out_release:
	free(t.rows);
	free(t.last_sample);
	sg_u64map_release(&t.by_key);
	return err ? err : (int)n;
}

/* The 97.5% quantile of the standard normal distribution. */
#define Z95 1.959963984540054

void sg_report_interval(uint64_t k, uint64_t n, double *lo, double *hi)
{
	if (k > n) {
		*lo = 0;
		*hi = 1;
		return;
	}
	sg_report_interval_of(k, n ? (double)k / (double)n : 0, (double)n, lo, hi);
}

void sg_report_interval_of(uint64_t k, double p, double n, double *lo, double *hi)
{
	double z2n, centre, half;

	if (!(n > 0)) {
		*lo = 0;
		*hi = 1;
		return;
	}
	/* Wilson's score interval: the normal approximation's p +/- z*sqrt(p(1-p)/n)
	 * leaves [0, 1] for shares near 0 or 1 and has zero width at k = 0 or
	 * k = n, exactly where few samples make a share least certain. */
	z2n = Z95 * Z95 / n;
	centre = (p + z2n / 2) / (1 + z2n);
	half = Z95 / (1 + z2n) * sqrt(p * (1 - p) / n + z2n / (4 * n));
	*lo = k == 0 ? 0 : fmax(0, centre - half);
	*hi = p >= 1 ? 1 : fmin(1, centre + half);
}

/* "lo-hi" in percent, one decimal, or two when hi is under 1% (so a small
 * nonzero bound does not print as 0.0): 11 characters at most. */
static void format_interval(uint64_t k, uint64_t n, char *buf, size_t len)
{
	double lo, hi;

	sg_report_interval(k, n, &lo, &hi);
	snprintf(buf, len, "%.*f-%.*f", hi < 0.01 ? 2 : 1, 100 * lo, hi < 0.01 ? 2 : 1, 100 * hi);
}

static void print_name(const struct sg_profile *p, const struct sg_report_row *r, bool full,
                       FILE *out)
{
	const char *file = sg_profile_str(p, r->file);

	if (!full)
		file = sg_profile_short_file(p, file);

	fprintf(out, "  %s%s%s%s\n", sg_profile_str(p, r->name), file[0] ? " (" : "", file,
	        file[0] ? ")" : "");
}

int sg_report_print_top(const struct sg_profile *p, size_t max, bool full_filenames, FILE *out)
{
	struct sg_report_row *rows = calloc(max ? max : 1, sizeof(*rows));
	uint64_t total = sg_profile_total(p);
	bool wall = sg_profile_meta_const(p)->mode == SG_MODE_WALL;
	double all = total ? (double)total : 1;
	char cpu_ci[32], idle_ci[32];
	int n;

	if (!rows)
		return SG_ENOMEM;
	n = sg_report_top_self(p, rows, max);
	if (n < 0)
		goto out_free;
	if (wall)
		fprintf(out, "  %7s %11s %7s %11s %7s %8s  %s\n", "on-CPU%", "95% CI", "idle%",
		        "95% CI", "total%", "samples", "function");
	else
		fprintf(out, "  %7s %11s %7s %8s  %s\n", "self%", "95% CI", "total%", "samples",
		        "function");
	for (int i = 0; i < n; i++) {
		const struct sg_report_row *r = &rows[i];
		uint64_t cpu = r->self - r->idle;

		format_interval(cpu, total, cpu_ci, sizeof(cpu_ci));
		fprintf(out, "  %7.2f %11s", 100 * (double)cpu / all, cpu_ci);
		if (wall) {
			format_interval(r->idle, total, idle_ci, sizeof(idle_ci));
			fprintf(out, " %7.2f %11s", 100 * (double)r->idle / all, idle_ci);
		}
		fprintf(out, " %7.2f %8llu", 100 * (double)r->total / all,
		        (unsigned long long)r->self);
		print_name(p, r, full_filenames, out);
	}
	n = ferror(out) ? SG_EIO : 0;
out_free:
	free(rows);
	return n;
}

/* ---- memory (record --memory) ---- */

const char *sg_report_trend_name(enum sg_report_trend trend)
{
	switch (trend) {
	case SG_TREND_FLAT:
		return "flat";
	case SG_TREND_SAWTOOTH:
		return "sawtooth";
	case SG_TREND_STAIRCASE:
		return "staircase";
	case SG_TREND_UNCLEAR:
		break;
	}
	return "unclear";
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n) (n >= 1), which it sorts. */
static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), by_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Theil-Sen: the median of the slopes between every two points, which a
 * few points far off the line (a start-up ramp, the fall at exit) do not
 * move, where a least-squares line would tilt. 0 for fewer than two. */
static double robust_slope(const double *x, const double *y, size_t n)
{
	double slopes[SG_REPORT_TREND_WINDOWS * (SG_REPORT_TREND_WINDOWS - 1) / 2];
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (x[j] != x[i])
				slopes[k++] = (y[j] - y[i]) / (x[j] - x[i]);
	return k ? median(slopes, k) : 0;
}

/* The second lowest (or highest, when high) of v[0..n), the lowest when
 * n < 3: an extreme that one odd window does not make. Sorts v. */
static double second(double *v, size_t n, bool high)
{
	qsort(v, n, sizeof(*v), by_double);
	if (n < 3)
		return high ? v[n - 1] : v[0];
	return high ? v[n - 2] : v[1];
}

/* The series cut into w windows of equal time (w <= SG_REPORT_TREND_WINDOWS),
 * each its middle, lowest and highest read, leaving out windows no read
 * fell in (a run with gaps); returns how many are left. */
static size_t cut(const struct sg_profile *p, size_t w, double *t, double *lo, double *hi)
{
	size_t n = sg_profile_nrss(p), kept = 0;
	const struct sg_rss_point *first = sg_profile_rss(p, 0), *last = sg_profile_rss(p, n - 1);
	uint64_t span = last->t_ns - first->t_ns;

	for (size_t k = 0; k < w; k++) {
		lo[k] = INFINITY;
		hi[k] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sg_rss_point *pt = sg_profile_rss(p, i);
		size_t k =
		    span ? (size_t)((double)(pt->t_ns - first->t_ns) / (double)span * (double)w)
		         : 0;

		k = k < w ? k : w - 1;
		lo[k] = (double)pt->min_bytes < lo[k] ? (double)pt->min_bytes : lo[k];
		hi[k] = (double)pt->max_bytes > hi[k] ? (double)pt->max_bytes : hi[k];
	}
	for (size_t k = 0; k < w; k++) {
		if (lo[k] == INFINITY)
			continue;
		t[kept] = (double)span / 1e9 * ((double)k + 0.5) / (double)w;
		lo[kept] = lo[k];
		hi[kept++] = hi[k];
	}
	return kept;
}

int sg_report_memory(const struct sg_profile *p, struct sg_report_memory *m)
{
	size_t n = sg_profile_nrss(p), w;
	double t[SG_REPORT_TREND_WINDOWS], lo[SG_REPORT_TREND_WINDOWS], hi[SG_REPORT_TREND_WINDOWS],
	    tmp[SG_REPORT_TREND_WINDOWS];
	const struct sg_rss_point *first, *last;
	double tt[SG_REPORT_TREND_WINDOWS], tv[SG_REPORT_TREND_WINDOWS];
	double peak, trough, trough_t = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sg_profile_nsamples(p); i++) {
		m->growth += sg_profile_sample(p, i)->rss_growth;
		m->freed += sg_profile_sample(p, i)->rss_freed;
	}
	if (n < 2)
		return SG_EUSAGE;
	first = sg_profile_rss(p, 0);
	last = sg_profile_rss(p, n - 1);
	m->points = n;
	m->first = first->min_bytes;
	m->last = last->max_bytes;
	m->lowest = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct sg_rss_point *pt = sg_profile_rss(p, i);

		m->lowest = pt->min_bytes < m->lowest ? pt->min_bytes : m->lowest;
		m->highest = pt->max_bytes > m->highest ? pt->max_bytes : m->highest;
	}
	m->span_s = (double)(last->t_ns - first->t_ns) / 1e9;
	w = cut(p, n < SG_REPORT_TREND_WINDOWS ? n : SG_REPORT_TREND_WINDOWS, t, lo, hi);
	memcpy(tmp, hi, w * sizeof(*tmp));
	m->range = second(tmp, w, true);
	memcpy(tmp, lo, w * sizeof(*tmp));
	m->range -= second(tmp, w, false);
	m->flat_below = SG_REPORT_FLAT_BYTES > SG_REPORT_FLAT_SHARE * (double)m->lowest
	                    ? SG_REPORT_FLAT_BYTES
	                    : SG_REPORT_FLAT_SHARE * (double)m->lowest;
	/* Teeth: a fall from the highest read since the last tooth by at least
	 * half the range (and flat_below), then a climb back by as much. A
	 * fall that does not come back (a program ending) is not one. Each
	 * tooth's trough is noted, the first SG_REPORT_TREND_WINDOWS. */
	peak = (double)first->max_bytes;
	trough = -1;
	for (size_t i = 0; i < n; i++) {
		const struct sg_rss_point *pt = sg_profile_rss(p, i);
		double need = m->range / 2 > m->flat_below ? m->range / 2 : m->flat_below;

		if (trough >= 0 && (double)pt->max_bytes - trough >= need) {
			if (m->teeth < SG_REPORT_TREND_WINDOWS) {
				tt[m->teeth] = trough_t;
				tv[m->teeth] = trough;
			}
			m->teeth++;
			trough = -1;
			peak = (double)pt->max_bytes;
		} else if ((trough < 0 && peak - (double)pt->min_bytes >= need) ||
		           (trough >= 0 && (double)pt->min_bytes < trough)) {
			trough = (double)pt->min_bytes;
			trough_t = (double)(pt->t_ns - first->t_ns) / 1e9;
		} else if (trough < 0 && (double)pt->max_bytes > peak) {
			peak = (double)pt->max_bytes;
		}
	}
	/* Teeth longer than a window would make a window's floor whatever
	 * phase of a tooth it holds: then the floors are the troughs. */
	if (m->teeth >= 2 && m->teeth <= SG_REPORT_TREND_WINDOWS) {
		memcpy(t, tt, m->teeth * sizeof(*t));
		memcpy(lo, tv, m->teeth * sizeof(*lo));
		w = m->teeth;
		m->floors_are_troughs = true;
	}
	m->windows = w;
	m->floor_slope = robust_slope(t, lo, w);
	m->peak_slope = m->floors_are_troughs ? 0 : robust_slope(t, hi, w);
	/* Over the floors' own span: two troughs close together say little
	 * about the rest of the run. */
	m->floor_rise = w ? m->floor_slope * (t[w - 1] - t[0]) : 0;
	if (m->range < m->flat_below)
		m->trend = SG_TREND_FLAT;
	else if (m->floor_rise >= m->range / 2)
		m->trend = SG_TREND_STAIRCASE;
	else if (m->teeth >= 2)
		m->trend = SG_TREND_SAWTOOTH;
	else
		m->trend = SG_TREND_UNCLEAR;
	return 0;
}
