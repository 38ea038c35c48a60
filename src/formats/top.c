/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "formats/top.h"
#include "util/err.h"

/* Lines so far, against the height allowed. */
struct screen {
	struct sg_strbuf *out;
	size_t width, height, lines;
};

enum sg_top_state sg_top_state_of(char state)
{
	switch (state) {
	case 'R':
		return SG_TOP_RUNNING;
	case 'S':
	case 'I':
		return SG_TOP_SLEEPING;
	case 'D':
		return SG_TOP_DISK;
	default:
		return SG_TOP_OTHER;
	}
}

static bool full(const struct screen *s)
{
	return s->height && s->lines >= s->height;
}

/* The length of the UTF-8 character at s (n bytes left) and its code
 * point; a byte that starts none is a character of its own, U+FFFD. */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = s[0] < 0x80       ? 1
	             : s[0] >> 5 == 6  ? 2
	             : s[0] >> 4 == 14 ? 3
	             : s[0] >> 3 == 30 ? 4
	                               : 0;

	*cp = 0xfffd;
	if (!len || len > n)
		return 1;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	*cp = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7f >> len));
	for (size_t i = 1; i < len; i++)
		*cp = *cp << 6 | (s[i] & 0x3f);
	return len;
}

/* One line, cut to the width at a character's start (wide characters
 * counted as two columns where the locale says so), control characters
 * as '?'. */
static int put_line(struct screen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put_line(struct screen *s, const char *fmt, ...)
{
	/* Longer lines are cut to the width anyway. */
	char line[4096];
	size_t columns = 0, end, len, k;
	va_list ap;
	int err, n, w;
	uint32_t cp;

	if (full(s))
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	for (end = 0; end < len; end += k) {
		k = utf8_char((const unsigned char *)line + end, len - end, &cp);
		/* C0, DEL and C1 controls would be the terminal's to obey. */
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			memset(line + end, '?', k);
			w = (int)k;
		} else {
			w = cp < 0x80 ? 1 : wcwidth((wchar_t)cp);
			w = w < 0 ? 1 : w;
		}
		if (columns + (size_t)w > s->width)
			break;
		columns += (size_t)w;
	}
	err = sg_strbuf_add(s->out, line, end);
	s->lines++;
	return err ? err : sg_strbuf_addch(s->out, '\n');
}

static double pct(uint64_t k, uint64_t n)
{
	return n ? 100.0 * (double)k / (double)n : 0.0;
}

static const char *const sort_names[] = {"%Self", "%Total", "Self", "Total"};

static int header(struct screen *s, const struct sg_top_head *h, const struct sg_live_view *v)
{
	static const char *const state_names[] = {"running", "sleeping", "in disk wait", "other"};
	const struct sg_live_view_opts *o = h->opts;
	char states[160] = "", gil[32] = "not held", cpu[32] = "?";
	size_t used = 0;
	uint64_t samples = v->samples - (o->idle ? 0 : v->idle);
	int err;

	for (int i = 0; i < SG_TOP_NSTATES && used < sizeof(states); i++)
		if (h->states[i])
			used += (size_t)snprintf(states + used, sizeof(states) - used, "%s%zu %s",
			                         used ? ", " : ": ", h->states[i], state_names[i]);
	if (h->gil >= 0)
		snprintf(gil, sizeof(gil), "%.1f%%", h->gil);
	if (h->cpu >= 0)
		snprintf(cpu, sizeof(cpu), "%.1f%%", h->cpu);
	err = put_line(s, "spyglass top: pid %d, %s", (int)h->pid, h->command);
	if (!err)
		err = put_line(s, "Python %s, %s mode, %g Hz: %.1f s, %llu samples, %llu dropped",
		               h->python[0] ? h->python : "?", h->mode, h->rate_hz, h->elapsed_s,
		               (unsigned long long)v->all_samples, (unsigned long long)h->dropped);
	if (!err)
		err = put_line(s, "CPU %s, GIL %s, threads %zu%s", cpu, h->gil >= 0 ? gil : "?",
		               h->threads, states);
	if (!err)
		err = put_line(s, "last %.1f s: %llu samples%s; sorted by %s; idle %s%s",
		               h->interval_s, (unsigned long long)samples,
		               o->idle ? "" : " on a CPU", sort_names[o->sort],
		               o->idle ? "shown" : "left out", h->paused ? "; PAUSED" : "");
	if (!err)
		err = put_line(s, "%s", "");
	/* The sort column is marked with '>'. */
	if (!err)
		err =
		    put_line(s, "%7s %7s %8s %8s  %s", o->sort == SG_LIVE_SELF ? ">%Self" : "%Self",
		             o->sort == SG_LIVE_TOTAL ? ">%Total" : "%Total",
		             o->sort == SG_LIVE_ALL_SELF ? ">Self" : "Self",
		             o->sort == SG_LIVE_ALL_TOTAL ? ">Total" : "Total",
		             o->by_thread ? "Thread / function (file)" : "Function (file)");
	return err;
}

static int fn_line(struct screen *s, const struct sg_live_fn *f, uint64_t samples, bool idle,
                   const char *indent)
{
	return put_line(s, "%7.1f %7.1f %8llu %8llu  %s%s", pct(sg_live_fn_self(f, idle), samples),
	                pct(sg_live_fn_total(f, idle), samples),
	                (unsigned long long)sg_live_fn_all_self(f, idle),
	                (unsigned long long)sg_live_fn_all_total(f, idle), indent, f->key);
}

static int thread_line(struct screen *s, const struct sg_live_thread *t, uint64_t samples,
                       bool idle)
{
	char state[8] = "";

	if (t->state)
		snprintf(state, sizeof(state), " (%c)", t->state);
	return put_line(s, "%7.1f %7s %8llu %8s  thread %d %s%s, GIL %.1f%%",
	                pct(t->samples - (idle ? 0 : t->idle), samples), "",
	                (unsigned long long)(t->all_samples - (idle ? 0 : t->all_idle)), "",
	                (int)t->tid, t->name, state, pct(t->gil, t->samples));
}

int sg_top_format(const struct sg_top_head *h, const struct sg_live_view *v, size_t width,
                  size_t height, struct sg_strbuf *out)
{
	struct screen s = {.out = out, .width = width, .height = height};
	const struct sg_live_view_opts *o = h->opts;
	uint64_t samples = v->samples - (o->idle ? 0 : v->idle);
	size_t keys_lines = h->keys ? 1 : 0;
	int err = header(&s, h, v);

	/* The table stops a line short of the height for the keys. */
	if (s.height)
		s.height = s.height > keys_lines ? s.height - keys_lines : 0;
	if (o->by_thread) {
		size_t with_fns = 0, each = SIZE_MAX;

		for (size_t i = 0; i < v->nthreads; i++)
			with_fns += v->threads[i].fns != NULL;
		if (s.height && with_fns) {
			size_t room = s.height > s.lines ? s.height - s.lines : 0;

			each = room / with_fns > 1 ? room / with_fns - 1 : 1;
		}
		for (size_t i = 0; !err && i < v->nthreads; i++) {
			const struct sg_live_thread *t = &v->threads[i];

			err = thread_line(&s, t, samples, o->idle);
			for (size_t k = 0; !err && k < t->nfns && k < each; k++)
				err = fn_line(&s, &t->fns[k], samples, o->idle, "  ");
		}
	} else {
		for (size_t i = 0; !err && i < v->nfns; i++)
			err = fn_line(&s, &v->fns[i], samples, o->idle, "");
	}
	if (!err && h->keys) {
		/* Padded to the last line of the screen. */
		s.height = height;
		while (!err && s.height && s.lines + 1 < s.height)
			err = put_line(&s, "%s", "");
		if (!err)
			err = put_line(&s, "keys: 1-4 sort by column, t threads, i idle, "
			                   "p pause, q quit");
	}
	return err;
}
