/* SPDX-License-Identifier: MIT */
/*
 * Flame graphs as one self-contained SVG, after Brendan Gregg's
 * flamegraph.pl: a box per frame, as wide as its samples, callers below
 * callees, and at each level the frames of one parent in alphabetical
 * order (so the x axis is not time). Everything is drawn by the SVG itself;
 * an embedded script (flamegraph.js) adds hover details, click to zoom and
 * regex search (a button, or Ctrl-F), and nothing is fetched from the
 * network.
 *
 * The stacks are those of the collapsed writer: an optional
 * "process PID: COMMAND" root, then "thread TID: NAME" (or "threads GROUP"
 * with opts->thread_groups), then the frames
 * named by sg_text_frame, then an "[idle]" leaf for samples of idle
 * threads; all under one root "all". With opts->reverse the frames (the
 * idle leaf included) are reversed so that leaf functions sit at the base,
 * as with flamegraph.pl --reverse; the process and thread roots stay at
 * the base, since they partition the samples rather than call anything.
 * With opts->icicle the graph is drawn top-down.
 *
 * opts->value chooses what a box's width is: samples, or (record --memory)
 * the bytes the RSS grew, or shrank, while its frames held the GIL; then
 * hovering tells bytes. A profile with an RSS series (sg_profile_rss) gets
 * a chart of it above the graph, <g id="rss-chart">: the lowest and the
 * highest RSS of each point's reads as a band over the run's time.
 *
 * Frames under 1/MIN_SHARE of all samples are not drawn one by one
 * (thousands of sub-pixel boxes make the file slow to open and show
 * nothing): side by side narrow siblings merge into one "[narrow frames]"
 * box, drawn when it is wide enough itself. flamegraph.pl and py-spy leave
 * them out; a merged box keeps their samples visible and clickable.
 *
 * Colours: a hue family per kind of frame (Python warm, native green,
 * kernel purple, JIT aqua, idle blue, roots grey), shaded by a hash of the function
 * name (not of its line) so that a function keeps its colour from run to
 * run and from line to line. (util/hash may change between versions of
 * spyglass; that only reshuffles the shades.)
 *
 * The tree is built without one: each row's stack becomes a sequence of
 * label ranks (labels sorted alphabetically), the rows are sorted, and one
 * pass merges the common prefixes of neighbouring rows, as flamegraph.pl
 * does over sorted folded lines. That is O(frames + rows log rows).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/flamegraph.h"
#include "formats/format.h"
#include "formats/text.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/intern.h"
#include "util/strbuf.h"

/* Geometry in SVG user units (pixels at 100%). The script reads the
 * horizontal ones from attributes of the <svg> element. */
#define IMAGE_WIDTH  1200
#define PAD          10   /* left and right of the frames */
#define FRAME_HEIGHT 16   /* one level, the 1-unit gap above the box included */
#define CHAR_WIDTH   7.2  /* monospace advance at 12px: 0.6 em */
#define TITLE_CHAR   10.2 /* the same at the title's 17px */
#define TOP          74   /* title, subtitle, buttons */
#define BOTTOM       30   /* the details line */
#define MIN_SHARE    1000 /* frames under 1/MIN_SHARE of the samples are merged */
#define COLOUR_SEED  0x666c616d65ull
#define NARROW       "[narrow frames]"
#define CHART_HEIGHT 90 /* the RSS chart and its caption, when there is one */
#define CHART_PLOT   60 /* of which the plot */

/* What a box is, for its colour. The first four are enum sg_frame_type. */
enum kind {
	KIND_PYTHON = SG_FRAME_PYTHON,
	KIND_NATIVE = SG_FRAME_NATIVE,
	KIND_KERNEL = SG_FRAME_KERNEL,
	KIND_JIT = SG_FRAME_JIT,
	KIND_IDLE,
	KIND_ROOT, /* "all", "process PID: COMMAND", "thread TID: NAME" */
};

/* Each channel is base + span * (a hash-derived value in [0, 1]). */
static const struct {
	unsigned char base[3], span[3];
} palette[] = {
    [KIND_PYTHON] = {{205, 0, 0}, {50, 230, 55}},   /* red, orange, yellow */
    [KIND_NATIVE] = {{50, 160, 50}, {60, 80, 60}},  /* greens */
    [KIND_KERNEL] = {{150, 90, 190}, {50, 50, 60}}, /* purples */
    [KIND_JIT] = {{0, 170, 170}, {40, 60, 60}},     /* aquas */
    [KIND_IDLE] = {{60, 110, 200}, {40, 40, 55}},   /* blues */
    [KIND_ROOT] = {{185, 185, 185}, {25, 25, 25}},  /* greys */
};

/* One stack of the profile: label ranks at seq[at .. at + len). */
struct row {
	size_t at;
	size_t len;
	uint64_t count;
};

/* One box: count samples from the start-th on, at depth (0 is "all");
 * in a differential graph, other: the other side's samples of the same
 * frames. */
struct node {
	uint64_t start;
	uint64_t count;
	uint64_t other;
	double effect[2]; /* differential: the design effects, by side */
	uint32_t label;
	uint32_t depth;
};

struct graph {
	/* Labels: every distinct (kind, text), keyed by a kind byte then the
	 * text, with the colour of each and the label of each rank. */
	struct sg_intern labels;
	uint32_t *rgb;
	size_t rgb_cap;
	uint32_t *by_rank;
	struct sg_strbuf key;  /* scratch for building keys */
	uint32_t *frame_label; /* profile frame id -> label */
	uint32_t all, idle;    /* the labels of the root and of the idle leaf */
	uint32_t narrow;       /* the label of merged narrow frames */
	uint32_t *seq;         /* labels of every row, then their ranks */
	size_t seq_len, seq_cap;
	uint64_t *other; /* differential: beside seq, the other side's samples of
	                  * the frame there (the same for every row through it) */
	size_t other_cap;
	double *effect; /* and two design effects per frame (base, new) */
	size_t effect_cap;
	struct row *rows;
	size_t nrows, rows_cap;
	uint64_t total;
	enum sg_value value; /* what total and the widths count */
	int chart;           /* height of the RSS chart above the frames, 0: none */
	struct node *nodes;  /* the boxes drawn, children before parents */
	size_t nnodes, nodes_cap;
	uint32_t max_depth;
};

static uint32_t colour(enum kind kind, const char *name, size_t len)
{
	uint64_t h = sg_hash_bytes(name, len, COLOUR_SEED);
	uint32_t rgb = 0;

	for (int c = 0; c < 3; c++) {
		double v = (double)((h >> (16 * c)) & 0xffff) / 0xffff;

		rgb = rgb << 8 | (uint32_t)(palette[kind].base[c] + palette[kind].span[c] * v);
	}
	return rgb;
}

/* The label of text (len bytes) drawn as kind; a new label is coloured by
 * the hash of name. 0 or SG_ENOMEM. */
static int put_label(struct graph *g, enum kind kind, const char *text, size_t len,
                     const char *name, uint32_t *id)
{
	size_t n = sg_intern_count(&g->labels);
	int err;

	sg_strbuf_reset(&g->key);
	err = sg_strbuf_addch(&g->key, (char)kind);
	if (!err)
		err = sg_strbuf_add(&g->key, text, len);
	if (!err)
		err = sg_intern_put(&g->labels, g->key.buf, g->key.len, id);
	if (err || *id < n)
		return err;
	err = sg_grow(&g->rgb, &g->rgb_cap, n + 1, sizeof(*g->rgb));
	if (!err)
		g->rgb[n] = colour(kind, name, strlen(name));
	return err;
}

/* The text of a label, and its kind. */
static const char *label_text(const struct graph *g, uint32_t id, enum kind *kind)
{
	const char *key = sg_intern_get(&g->labels, id, NULL);

	if (kind)
		*kind = (enum kind)key[0];
	return key + 1;
}

static int label_frames(struct graph *g, const struct sg_profile *p,
                        const struct sg_write_opts *opts)
{
	size_t n = sg_profile_nframes(p);
	struct sg_strbuf text = SG_STRBUF_INIT;
	int err;

	g->frame_label = malloc((n ? n : 1) * sizeof(*g->frame_label));
	if (!g->frame_label)
		return SG_ENOMEM;
	err = put_label(g, KIND_ROOT, "all", 3, "all", &g->all);
	if (!err)
		err = put_label(g, KIND_IDLE, "[idle]", 6, "[idle]", &g->idle);
	if (!err)
		err = put_label(g, KIND_ROOT, NARROW, strlen(NARROW), NARROW, &g->narrow);
	for (size_t i = 0; i < n && !err; i++) {
		const struct sg_frame *f = sg_profile_frame(p, (uint32_t)i);
		/* A type this writer does not know is drawn as Python. */
		enum kind kind = f->type <= SG_FRAME_JIT ? (enum kind)f->type : KIND_PYTHON;

		sg_strbuf_reset(&text);
		err = sg_text_frame(&text, p, f, opts->full_filenames);
		if (!err)
			err = put_label(g, kind, text.buf, text.len, sg_profile_str(p, f->name),
			                &g->frame_label[i]);
	}
	sg_strbuf_release(&text);
	return err;
}

/* Push the label of a "KIND NUM: TEXT" root onto the sequence. */
static int push_root(struct graph *g, struct sg_strbuf *text, const char *kind, pid_t num,
                     const char *what)
{
	int err;

	sg_strbuf_reset(text);
	err = sg_strbuf_addf(text, "%s %d: %s", kind, (int)num, what);
	if (!err)
		err = put_label(g, KIND_ROOT, text->buf, text->len, text->buf, &g->seq[g->seq_len]);
	g->seq_len += !err;
	return err;
}

/* Push the label of the "threads GROUP" root of the thread called name. */
static int push_group_root(struct graph *g, struct sg_strbuf *text, const char *name)
{
	int err;

	sg_strbuf_reset(text);
	err = sg_strbuf_addstr(text, "threads ");
	if (!err)
		err = sg_text_thread_group(text, name);
	if (!err)
		err = put_label(g, KIND_ROOT, text->buf, text->len, text->buf, &g->seq[g->seq_len]);
	g->seq_len += !err;
	return err;
}

/* Append the label sequence of sample s as a new row. */
static int add_row(struct graph *g, const struct sg_profile *p, const struct sg_write_opts *opts,
                   const struct sg_sample *s, struct sg_strbuf *text)
{
	size_t depth;
	const uint32_t *frames = sg_profile_stack(p, s->stack, &depth);
	bool idle = s->labels.flags & SG_SAMPLE_IDLE;
	struct row row = {.at = g->seq_len, .count = sg_sample_value(s, g->value)};
	int err;

	/* all, two roots, the frames, the idle leaf */
	err = sg_grow(&g->seq, &g->seq_cap, g->seq_len + depth + 4, sizeof(*g->seq));
	if (!err)
		err = sg_grow(&g->rows, &g->rows_cap, g->nrows + 1, sizeof(*g->rows));
	if (err)
		return err;
	g->seq[g->seq_len++] = g->all;
	if (opts->processes && s->labels.pid > 0)
		err = push_root(g, text, "process", s->labels.pid,
		                sg_profile_process(p, s->labels.pid));
	if (!err && opts->threads && s->labels.tid > 0 && opts->thread_groups)
		err = push_group_root(g, text, sg_profile_str(p, s->labels.thread_name));
	else if (!err && opts->threads && s->labels.tid > 0)
		err = push_root(g, text, "thread", s->labels.tid,
		                sg_profile_str(p, s->labels.thread_name));
	if (err)
		return err;
	if (idle && opts->reverse)
		g->seq[g->seq_len++] = g->idle;
	for (size_t i = 0; i < depth; i++)
		g->seq[g->seq_len++] = g->frame_label[frames[opts->reverse ? depth - 1 - i : i]];
	if (idle && !opts->reverse)
		g->seq[g->seq_len++] = g->idle;
	row.len = g->seq_len - row.at;
	g->rows[g->nrows++] = row;
	g->total += row.count;
	return 0;
}

static int by_text(const void *a, const void *b, void *arg)
{
	const struct graph *g = arg;
	enum kind ka, kb;
	const char *ta = label_text(g, *(const uint32_t *)a, &ka);
	const char *tb = label_text(g, *(const uint32_t *)b, &kb);
	int c = strcmp(ta, tb);

	return c ? c : (int)ka - (int)kb;
}

/* Replace the labels in seq by their ranks in alphabetical order, so that
 * rows compare as integer arrays. */
static int rank_labels(struct graph *g)
{
	size_t n = sg_intern_count(&g->labels);
	uint32_t *rank = malloc(n * sizeof(*rank));
	int err = 0;

	g->by_rank = malloc(n * sizeof(*g->by_rank));
	if (!rank || !g->by_rank) {
		err = SG_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		g->by_rank[i] = i;
	qsort_r(g->by_rank, n, sizeof(*g->by_rank), by_text, g);
	for (uint32_t i = 0; i < n; i++)
		rank[g->by_rank[i]] = i;
	for (size_t i = 0; i < g->seq_len; i++)
		g->seq[i] = rank[g->seq[i]];
out:
	free(rank);
	return err;
}

static int by_stack(const void *a, const void *b, void *arg)
{
	const struct row *x = a, *y = b;
	const uint32_t *seq = arg;
	size_t n = x->len < y->len ? x->len : y->len;

	for (size_t i = 0; i < n; i++)
		if (seq[x->at + i] != seq[y->at + i])
			return seq[x->at + i] < seq[y->at + i] ? -1 : 1;
	return (x->len > y->len) - (x->len < y->len);
}

static int new_node(struct graph *g, uint32_t label, uint32_t depth, uint64_t start, uint64_t end,
                    uint64_t other, const double *effect)
{
	int err = sg_grow(&g->nodes, &g->nodes_cap, g->nnodes + 1, sizeof(*g->nodes));

	if (err)
		return err;
	g->nodes[g->nnodes++] =
	    (struct node){.start = start,
	                  .count = end - start,
	                  .other = other,
	                  .effect = {effect ? effect[0] : 1, effect ? effect[1] : 1},
	                  .label = label,
	                  .depth = depth};
	if (depth > g->max_depth)
		g->max_depth = depth;
	return 0;
}

/* Narrow frames side by side at one depth, waiting to be drawn as one. */
struct span {
	uint64_t start, end, other;
	double effect[2]; /* the largest of the frames merged */
};

static int flush_narrow(struct graph *g, struct span *pending, uint32_t depth, uint64_t min_count)
{
	struct span *sp = &pending[depth];
	int err = 0;

	if (sp->end - sp->start >= min_count && sp->end > sp->start)
		err = new_node(g, g->narrow, depth, sp->start, sp->end, sp->other, sp->effect);
	*sp = (struct span){0};
	return err;
}

/* The frame open at depth since start ends at end: draw it if wide enough,
 * else merge it with the narrow frames just left of it. Its children have
 * all closed by now: their merged box is drawn first. */
static int close_frame(struct graph *g, struct span *pending, uint32_t rank, uint32_t depth,
                       uint64_t start, uint64_t end, uint64_t other, const double *effect,
                       uint64_t min_count)
{
	struct span *sp = &pending[depth];
	int err = flush_narrow(g, pending, depth + 1, min_count);

	if (!err && end - start < min_count) {
		if (sp->end != start || sp->end == sp->start) {
			err = flush_narrow(g, pending, depth, min_count);
			sp->start = start;
		}
		sp->end = end;
		sp->other += other;
		for (int s = 0; s < 2 && effect; s++)
			sp->effect[s] = sp->effect[s] > effect[s] ? sp->effect[s] : effect[s];
		return err;
	}
	if (!err)
		err = flush_narrow(g, pending, depth, min_count);
	return err ? err : new_node(g, g->by_rank[rank], depth, start, end, other, effect);
}

/*
 * Walk the sorted rows keeping the path of frames open so far (the previous
 * row's sequence): frames past the common prefix with the next row close,
 * the next row's frames past it open. Samples are laid out in row order.
 */
static int merge_rows(struct graph *g)
{
	uint64_t min_count = g->total / MIN_SHARE + (g->total % MIN_SHARE != 0);
	uint64_t *open = NULL, x = 0;
	struct span *pending = NULL;
	size_t open_cap = 0, pending_cap = 0, prev_len = 0;
	const uint32_t *prev = NULL;
	const uint64_t *prev_other = NULL;
	const double *prev_effect = NULL;
	int err = 0;

	for (size_t r = 0; r <= g->nrows && !err; r++) {
		const uint32_t *s = r < g->nrows ? g->seq + g->rows[r].at : NULL;
		const uint64_t *other = r < g->nrows && g->other ? g->other + g->rows[r].at : NULL;
		const double *effect =
		    r < g->nrows && g->effect ? g->effect + 2 * g->rows[r].at : NULL;
		size_t len = r < g->nrows ? g->rows[r].len : 0, k = 0, had = pending_cap;

		while (k < prev_len && k < len && prev[k] == s[k])
			k++;
		for (size_t d = prev_len; d > k && !err; d--)
			err =
			    close_frame(g, pending, prev[d - 1], (uint32_t)(d - 1), open[d - 1], x,
			                prev_other ? prev_other[d - 1] : 0,
			                prev_effect ? prev_effect + 2 * (d - 1) : NULL, min_count);
		if (!err)
			err = sg_grow(&open, &open_cap, len + 1, sizeof(*open));
		/* One more level than the deepest frame: its children's. */
		if (!err)
			err = sg_grow(&pending, &pending_cap, len + 2, sizeof(*pending));
		if (!err && pending_cap > had)
			memset(pending + had, 0, (pending_cap - had) * sizeof(*pending));
		for (size_t d = k; d < len && !err; d++)
			open[d] = x;
		if (r < g->nrows)
			x += g->rows[r].count;
		prev = s;
		prev_other = other;
		prev_effect = effect;
		prev_len = len;
	}
	free(open);
	free(pending);
	return err;
}

/* From the rows to the boxes. */
static int lay_out(struct graph *g)
{
	int err = rank_labels(g);

	if (!err && g->nrows)
		qsort_r(g->rows, g->nrows, sizeof(*g->rows), by_stack, g->seq);
	return err ? err : merge_rows(g);
}

static int build(struct graph *g, const struct sg_profile *p, const struct sg_write_opts *opts)
{
	struct sg_strbuf text = SG_STRBUF_INIT;
	int err = label_frames(g, p, opts);

	g->value = opts->value;
	for (size_t i = 0; i < sg_profile_nsamples(p) && !err; i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);
		size_t depth;

		/* As in collapsed: a row needs samples (or bytes) and frames. */
		if (sg_sample_value(s, g->value) && sg_profile_stack(p, s->stack, &depth) && depth)
			err = add_row(g, p, opts, s, &text);
	}
	sg_strbuf_release(&text);
	return err ? err : lay_out(g);
}

static void graph_release(struct graph *g)
{
	sg_intern_release(&g->labels);
	free(g->rgb);
	free(g->by_rank);
	sg_strbuf_release(&g->key);
	free(g->frame_label);
	free(g->seq);
	free(g->other);
	free(g->effect);
	free(g->rows);
	free(g->nodes);
}

/* ---- the document ---- */

/*
 * Append name escaped, cut to what fits in w units at char_w per
 * character: the whole name, or its first characters and "..", or nothing
 * when not even three characters fit. flamegraph.js has the same rule.
 */
static int add_label(struct sg_strbuf *sb, struct sg_strbuf *scratch, const char *name, double w,
                     double char_w)
{
	size_t fit = w > 6 ? (size_t)((w - 6) / char_w) : 0, chars = 0, keep = 0;
	int err;

	if (fit < 3)
		return 0;
	for (size_t i = 0; name[i]; i++) {
		if (((unsigned char)name[i] & 0xc0) == 0x80)
			continue; /* a UTF-8 continuation byte: same character */
		if (chars == fit - 2)
			keep = i;
		chars++;
	}
	if (chars <= fit)
		return sg_text_xml(sb, name);
	sg_strbuf_reset(scratch);
	err = sg_strbuf_add(scratch, name, keep);
	if (!err)
		err = sg_text_xml(sb, scratch->buf);
	return err ? err : sg_strbuf_addstr(sb, "..");
}

/* "wall mode, Python 3.12.1, 100 Hz asked, 99.1 Hz achieved, 1234 samples, 12.35 s" */
static int add_subtitle(struct sg_strbuf *sb, const struct sg_profile *p,
                        const struct sg_write_opts *opts, uint64_t total)
{
	const struct sg_meta *m = sg_profile_meta_const(p);
	/* A profile read from a file without the run's metadata (collapsed)
	 * has no rate nor duration, and its mode is only the default. */
	bool recorded = m->rate_asked_hz > 0 || m->duration_ns > 0;
	int err = 0;

	if (recorded)
		err = sg_strbuf_addf(sb, "%s mode, ", sg_mode_name(m->mode));
	if (!err && m->python_version[0]) {
		err = sg_strbuf_addstr(sb, "Python ");
		if (!err)
			err = sg_text_xml(sb, m->python_version);
		if (!err)
			err = sg_strbuf_addstr(sb, ", ");
	}
	if (!err && m->rate_asked_hz > 0)
		err = sg_strbuf_addf(sb, "%g Hz asked, %.1f Hz achieved, ", m->rate_asked_hz,
		                     m->rate_achieved_hz);
	if (!err)
		err = sg_strbuf_addf(sb, "%llu samples",
		                     (unsigned long long)(m->samples ? m->samples : total));
	if (!err && m->dropped)
		err = sg_strbuf_addf(sb, " (%llu dropped)", (unsigned long long)m->dropped);
	if (!err && m->duration_ns)
		err = sg_strbuf_addf(sb, ", %.2f s", (double)m->duration_ns / 1e9);
	if (!err && opts->reverse)
		err = sg_strbuf_addstr(sb, ", reversed: leaf functions at the base");
	if (!err && opts->value != SG_VALUE_SAMPLES) {
		char b[32];

		sg_text_bytes(b, sizeof(b), (double)total);
		err = sg_strbuf_addf(sb, "; width: RSS %s while holding the GIL, %s in all",
		                     opts->value == SG_VALUE_RSS_GROWTH ? "growth" : "freed", b);
	}
	return err;
}

static const char style[] = "text { font-family: monospace; font-size: 12px; fill: rgb(0,0,0); }\n"
                            "#title { font-size: 17px; text-anchor: middle; }\n"
                            "#subtitle { text-anchor: middle; fill: rgb(80,80,80); }\n"
                            "#search, #matched { text-anchor: end; }\n"
                            ".button { cursor: pointer; fill: rgb(0,0,160); }\n"
                            ".button:hover { fill: rgb(80,80,255); }\n"
                            ".hide { display: none; }\n"
                            "#frames g { cursor: pointer; }\n"
                            "#frames text { pointer-events: none; }\n"
                            "#frames g:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }\n"
                            "#frames g.hl rect { fill: rgb(230,0,230); }\n"
                            "#frames g.parent { opacity: 0.5; }\n";

static const char script[] =
#include "flamegraph_js.inc"
    ;

/* The document up to the frames: title is shown cut to fit, whole in its
 * tooltip, or untitled when "" (not escaped); subtitle is (escaped);
 * more_style adds to the style sheet. */
static int add_head(struct sg_strbuf *sb, struct sg_strbuf *scratch, const struct graph *g,
                    int height, const char *title, const char *untitled, const char *subtitle,
                    const char *more_style, const char *chart)
{
	int err = sg_strbuf_addf(
	    sb,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" data-total=\"%llu\" data-pad=\"%d\" "
	    "data-fw=\"%d\" data-charw=\"%g\">\n"
	    "<!-- Flame graph written by spyglass. Frames under 1/%d of all samples are "
	    "merged: narrow siblings side by side are one [narrow frames] box. Click a frame to "
	    "zoom, Search or Ctrl-F to highlight frames by "
	    "regular expression. -->\n"
	    "<style type=\"text/css\">\n%s%s</style>\n"
	    "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
	    "<stop stop-color=\"#eeeeee\" offset=\"5%%\"/>"
	    "<stop stop-color=\"#eeeeb0\" offset=\"95%%\"/></linearGradient></defs>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"url(#background)\"/>\n"
	    "<text id=\"title\" x=\"%d\" y=\"24\">",
	    IMAGE_WIDTH, height, IMAGE_WIDTH, height, (unsigned long long)g->total, PAD,
	    IMAGE_WIDTH - 2 * PAD, CHAR_WIDTH, MIN_SHARE, style, more_style, IMAGE_WIDTH / 2);

	/* The command may be long: cut on screen, whole in the tooltip. */
	if (!err && title[0]) {
		err = sg_strbuf_addstr(sb, "<title>");
		if (!err)
			err = sg_text_xml(sb, title);
		if (!err)
			err = sg_strbuf_addstr(sb, "</title>");
		if (!err)
			err = add_label(sb, scratch, title, IMAGE_WIDTH - 2 * PAD, TITLE_CHAR);
	} else if (!err) {
		err = sg_strbuf_addstr(sb, untitled);
	}
	if (!err)
		err = sg_strbuf_addf(sb, "</text>\n<text id=\"subtitle\" x=\"%d\" y=\"44\">%s",
		                     IMAGE_WIDTH / 2, subtitle);
	if (!err)
		err = sg_strbuf_addf(
		    sb,
		    "</text>\n"
		    "<text id=\"unzoom\" class=\"button hide\" x=\"%d\" y=\"64\">Reset "
		    "zoom</text>\n"
		    "<text id=\"search\" class=\"button\" x=\"%d\" y=\"64\">Search</text>\n"
		    "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		    "<text id=\"matched\" x=\"%d\" y=\"%d\"></text>\n"
		    "%s<g id=\"frames\">\n",
		    PAD, IMAGE_WIDTH - PAD, PAD, height - 10, IMAGE_WIDTH - PAD, height - 10,
		    chart);
	return err;
}

/* A box filled with rgb; info, when not NULL, is what hovering it tells
 * after the name (flamegraph.js; escaped), else its samples and share. */
static int add_node(struct sg_strbuf *sb, struct sg_strbuf *scratch, const struct graph *g,
                    const struct node *n, bool icicle, uint32_t rgb, const char *info)
{
	double scale = (double)(IMAGE_WIDTH - 2 * PAD) / (double)g->total;
	double x = PAD + (double)n->start * scale, w = (double)n->count * scale;
	uint32_t level = icicle ? n->depth : g->max_depth - n->depth;
	int y = TOP + g->chart + (int)level * FRAME_HEIGHT;
	const char *text = label_text(g, n->label, NULL);
	int err;

	err = sg_strbuf_addf(sb, "<g data-x=\"%llu\" data-w=\"%llu\" data-d=\"%u\"",
	                     (unsigned long long)n->start, (unsigned long long)n->count,
	                     (unsigned)n->depth);
	if (!err && info)
		err = sg_strbuf_addf(sb, " data-info=\"%s\"", info);
	if (!err)
		err = sg_strbuf_addstr(sb, "><title>");
	if (!err)
		err = sg_text_xml(sb, text);
	if (!err && info)
		err = sg_strbuf_addf(sb, "\n%s", info);
	else if (!err && g->value != SG_VALUE_SAMPLES)
		err = sg_strbuf_addf(sb, "\n%llu bytes, %.2f%%", (unsigned long long)n->count,
		                     100.0 * (double)n->count / (double)g->total);
	else if (!err)
		err = sg_strbuf_addf(sb, "\n%llu sample%s, %.2f%%", (unsigned long long)n->count,
		                     n->count == 1 ? "" : "s",
		                     100.0 * (double)n->count / (double)g->total);
	if (!err)
		err = sg_strbuf_addf(sb,
		                     "</title><rect x=\"%.2f\" y=\"%d\" "
		                     "width=\"%.2f\" height=\"%d\" fill=\"rgb(%u,%u,%u)\"/>"
		                     "<text x=\"%.2f\" y=\"%d\">",
		                     x, y, w, FRAME_HEIGHT - 1, rgb >> 16, (rgb >> 8) & 0xff,
		                     rgb & 0xff, x + 3, y + FRAME_HEIGHT - 4);
	if (!err)
		err = add_label(sb, scratch, text, w, CHAR_WIDTH);
	return err ? err : sg_strbuf_addstr(sb, "</text></g>\n");
}

static int flush(struct sg_strbuf *sb, FILE *out)
{
	int err = fwrite(sb->buf, 1, sb->len, out) == sb->len ? 0 : SG_EIO;

	sg_strbuf_reset(sb);
	return err;
}

static int add_tail(struct sg_strbuf *sb)
{
	return sg_strbuf_addf(sb,
	                      "</g>\n<script type=\"text/ecmascript\"><![CDATA[\n%s]]>"
	                      "</script>\n</svg>\n",
	                      script);
}

static int height_of(const struct graph *g)
{
	return TOP + g->chart + (int)(g->nnodes ? g->max_depth + 1 : 0) * FRAME_HEIGHT + BOTTOM;
}

/* The RSS over the run, into sb: a band from each point's lowest to its
 * highest read, x the time since the start, y from the lowest RSS seen
 * (bottom) to the highest (top), with a caption above. */
static int add_chart(struct sg_strbuf *sb, const struct sg_profile *p)
{
	size_t n = sg_profile_nrss(p);
	const struct sg_meta *m = sg_profile_meta_const(p);
	uint64_t lo = UINT64_MAX, hi = 0, span_ns;
	int top = TOP + CHART_HEIGHT - CHART_PLOT - 8, w = IMAGE_WIDTH - 2 * PAD;
	char los[32], his[32];
	int err;

	for (size_t i = 0; i < n; i++) {
		const struct sg_rss_point *pt = sg_profile_rss(p, i);

		lo = pt->min_bytes < lo ? pt->min_bytes : lo;
		hi = pt->max_bytes > hi ? pt->max_bytes : hi;
	}
	span_ns = m->duration_ns > sg_profile_rss(p, n - 1)->t_ns ? m->duration_ns
	                                                          : sg_profile_rss(p, n - 1)->t_ns;
	span_ns += !span_ns;
	sg_text_bytes(los, sizeof(los), (double)lo);
	sg_text_bytes(his, sizeof(his), (double)hi);
	err = sg_strbuf_addf(sb,
	                     "<g id=\"rss-chart\" data-min=\"%llu\" data-max=\"%llu\" "
	                     "data-points=\"%zu\">\n"
	                     "<text x=\"%d\" y=\"%d\">RSS over %.1f s: %s to %s</text>\n"
	                     "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	                     "fill=\"rgb(255,255,255)\" stroke=\"rgb(160,160,160)\"/>\n"
	                     "<polygon fill=\"rgb(70,110,200)\" stroke=\"rgb(40,70,160)\" "
	                     "stroke-width=\"0.5\" points=\"",
	                     (unsigned long long)lo, (unsigned long long)hi, n, PAD, top - 4,
	                     (double)span_ns / 1e9, los, his, PAD, top, w, CHART_PLOT);
	/* Along the highest reads, then back along the lowest. */
	for (size_t k = 0; k < 2 * n && !err; k++) {
		const struct sg_rss_point *pt = sg_profile_rss(p, k < n ? k : 2 * n - 1 - k);
		uint64_t v = k < n ? pt->max_bytes : pt->min_bytes;
		double x = PAD + (double)w * (double)pt->t_ns / (double)span_ns;
		double y =
		    top + CHART_PLOT -
		    (hi > lo ? (double)CHART_PLOT * (double)(v - lo) / (double)(hi - lo) : 0);

		err = sg_strbuf_addf(sb, "%s%.1f,%.1f", k ? " " : "", x, y);
	}
	return err ? err : sg_strbuf_addstr(sb, "\"/>\n</g>\n");
}

static int write_flamegraph(const struct sg_profile *p, const struct sg_write_opts *opts, FILE *out)
{
	struct graph g = {.labels = SG_INTERN_INIT, .key = SG_STRBUF_INIT};
	struct sg_strbuf sb = SG_STRBUF_INIT, scratch = SG_STRBUF_INIT, sub = SG_STRBUF_INIT;
	struct sg_strbuf chart = SG_STRBUF_INIT;
	int err = build(&g, p, opts);

	if (!err)
		err = add_subtitle(&sub, p, opts, g.total);
	if (!err && sg_profile_nrss(p)) {
		g.chart = CHART_HEIGHT;
		err = add_chart(&chart, p);
	}
	if (!err)
		err =
		    add_head(&sb, &scratch, &g, height_of(&g), sg_profile_meta_const(p)->command,
		             "Flame graph", sub.buf ? sub.buf : "", "", chart.buf ? chart.buf : "");
	if (!err)
		err = flush(&sb, out);
	/* One node at a time, so the document is never whole in memory. */
	for (size_t i = 0; i < g.nnodes && !err; i++) {
		err = add_node(&sb, &scratch, &g, &g.nodes[i], opts->icicle,
		               g.rgb[g.nodes[i].label], NULL);
		if (!err)
			err = flush(&sb, out);
	}
	if (!err)
		err = add_tail(&sb);
	if (!err)
		err = flush(&sb, out);
	if (!err && ferror(out))
		err = SG_EIO;
	sg_strbuf_release(&sb);
	sg_strbuf_release(&scratch);
	sg_strbuf_release(&sub);
	sg_strbuf_release(&chart);
	graph_release(&g);
	return err;
}

/* ---- differential flame graphs (flamegraph.h) ---- */

/* A change this many points or more is drawn at full depth of colour. */
#define DIFF_FULL_POINTS 10.0

/* The rows of a differential graph: one per node of the diff's tree with
 * samples of its own on the side laid out, its path of labels beside the
 * other side's totals of each frame on it. */
static int build_diff(struct graph *g, const struct sg_diff *d, enum sg_diff_side lay,
                      uint32_t *path, size_t path_cap)
{
	enum sg_diff_side other = lay == SG_DIFF_NEW ? SG_DIFF_BASE : SG_DIFF_NEW;
	size_t n = sg_diff_nnodes(d);
	uint32_t *label = malloc((n ? n : 1) * sizeof(*label));
	int err = label ? 0 : SG_ENOMEM;

	if (!err)
		err = put_label(g, KIND_ROOT, "all", 3, "all", &g->all);
	if (!err)
		err = put_label(g, KIND_ROOT, NARROW, strlen(NARROW), NARROW, &g->narrow);
	if (!err)
		label[0] = g->all;
	for (uint32_t i = 1; i < n && !err; i++) {
		const char *key = sg_diff_node(d, i)->key;

		err = put_label(g, KIND_PYTHON, key, strlen(key), key, &label[i]);
	}
	for (uint32_t i = 0; i < n && !err; i++) {
		const struct sg_diff_node *nd = sg_diff_node(d, i);
		size_t len = nd->depth + 1;
		struct row row = {.at = g->seq_len, .len = len, .count = nd->self[lay]};

		if (!row.count)
			continue;
		if (len > path_cap) {
			err = SG_ECORRUPT; /* deeper than the diff's own depth bound */
			break;
		}
		err = sg_grow(&g->seq, &g->seq_cap, g->seq_len + len, sizeof(*g->seq));
		if (!err)
			err =
			    sg_grow(&g->other, &g->other_cap, g->seq_len + len, sizeof(*g->other));
		if (!err)
			err = sg_grow(&g->effect, &g->effect_cap, 2 * (g->seq_len + len),
			              sizeof(*g->effect));
		if (!err)
			err = sg_grow(&g->rows, &g->rows_cap, g->nrows + 1, sizeof(*g->rows));
		if (err)
			break;
		/* Up the parents, then down in root-first order. */
		for (uint32_t at = i, k = (uint32_t)len; k-- > 0; at = sg_diff_node(d, at)->parent)
			path[k] = at;
		for (size_t k = 0; k < len; k++) {
			g->seq[g->seq_len + k] = label[path[k]];
			g->other[g->seq_len + k] = sg_diff_node(d, path[k])->total[other];
			g->effect[2 * (g->seq_len + k)] = sg_diff_node(d, path[k])->effect[0];
			g->effect[2 * (g->seq_len + k) + 1] = sg_diff_node(d, path[k])->effect[1];
		}
		g->seq_len += len;
		g->rows[g->nrows++] = row;
		g->total += row.count;
	}
	free(label);
	return err ? err : lay_out(g);
}

/* White, or red (grew) / blue (shrank) deeper with the size of the change. */
static uint32_t diff_colour(const struct sg_diff_change *c)
{
	double depth = 0.2 + 0.8 * fmin(1, fabs(c->change) / DIFF_FULL_POINTS);
	/* From 208 (faint) to 80 in the other channels: black text stays legible. */
	uint32_t pale = (uint32_t)lround(80 + 160 * (1 - depth));

	if (!c->significant)
		return 0xffffff;
	return c->change > 0 ? 0xff0000u | pale << 8 | pale : pale << 16 | pale << 8 | 0xffu;
}

static int diff_info(struct sg_strbuf *sb, const struct sg_diff_change *c)
{
	return sg_strbuf_addf(sb,
	                      "base %.2f%% (%llu), new %.2f%% (%llu), change %+.2f points "
	                      "(95%% interval %+.2f to %+.2f), %s",
	                      c->pct[0], (unsigned long long)c->k[0], c->pct[1],
	                      (unsigned long long)c->k[1], c->change, c->clo, c->chi,
	                      c->significant ? "significant" : "not significant");
}

static int diff_subtitle(struct sg_strbuf *sb, const struct sg_diff *d,
                         const struct sg_diff_graph_opts *opts, size_t tests)
{
	int err = sg_text_xml(sb, opts->base_name);

	err = err ? err
	          : sg_strbuf_addf(sb, " (%llu samples) to ",
	                           (unsigned long long)sg_diff_total(d, SG_DIFF_BASE));
	err = err ? err : sg_text_xml(sb, opts->new_name);
	return err ? err
	           : sg_strbuf_addf(sb,
	                            " (%llu), on %s: red grew, blue shrank, white not "
	                            "significant (Holm, %zu boxes, alpha %g)",
	                            (unsigned long long)sg_diff_total(d, SG_DIFF_NEW),
	                            opts->on_base ? "BASE" : "NEW", tests, sg_diff_alpha(d));
}

/* White boxes side by side need an edge between them. */
static const char diff_style[] = "#frames rect { stroke: rgb(200,200,200); stroke-width: 0.5; }\n";

int sg_flamegraph_write_diff(const struct sg_diff *d, const struct sg_diff_graph_opts *opts,
                             FILE *out)
{
	struct graph g = {.labels = SG_INTERN_INIT, .key = SG_STRBUF_INIT};
	struct sg_strbuf sb = SG_STRBUF_INIT, scratch = SG_STRBUF_INIT, text = SG_STRBUF_INIT;
	enum sg_diff_side lay = opts->on_base ? SG_DIFF_BASE : SG_DIFF_NEW;
	struct sg_diff_change *c = NULL, **family = NULL;
	uint32_t *path = NULL;
	size_t depth = 1, nfamily = 0;
	int err, tests = 0;

	for (uint32_t i = 0; i < sg_diff_nnodes(d); i++)
		if (sg_diff_node(d, i)->depth + 1 > depth)
			depth = sg_diff_node(d, i)->depth + 1;
	path = malloc(depth * sizeof(*path));
	err = path ? build_diff(&g, d, lay, path, depth) : SG_ENOMEM;
	if (!err) {
		c = calloc(g.nnodes ? g.nnodes : 1, sizeof(*c));
		family = malloc((g.nnodes ? g.nnodes : 1) * sizeof(*family));
		err = c && family ? 0 : SG_ENOMEM;
	}
	/* Each box against its side's total; the family is every box but the
	 * root, whose share is all on both sides. */
	for (size_t i = 0; !err && i < g.nnodes; i++) {
		const struct node *n = &g.nodes[i];
		uint64_t k[2];

		k[lay] = n->count;
		k[!lay] = n->other;
		sg_diff_compare(k[0], sg_diff_total(d, SG_DIFF_BASE), k[1],
		                sg_diff_total(d, SG_DIFF_NEW), n->effect, &c[i]);
		if (n->depth)
			family[nfamily++] = &c[i];
	}
	if (!err) {
		tests = sg_diff_holm(family, nfamily, sg_diff_alpha(d));
		err = tests < 0 ? tests : 0;
	}
	if (!err)
		err = diff_subtitle(&text, d, opts, (size_t)tests);
	if (!err)
		err = add_head(&sb, &scratch, &g, height_of(&g), "", "Differential flame graph",
		               text.buf, diff_style, "");
	if (!err)
		err = flush(&sb, out);
	for (size_t i = 0; i < g.nnodes && !err; i++) {
		sg_strbuf_reset(&text);
		err = diff_info(&text, &c[i]);
		if (!err)
			err = add_node(&sb, &scratch, &g, &g.nodes[i], false, diff_colour(&c[i]),
			               text.buf);
		if (!err)
			err = flush(&sb, out);
	}
	if (!err)
		err = add_tail(&sb);
	if (!err)
		err = flush(&sb, out);
	if (!err && ferror(out))
		err = SG_EIO;
	free(c);
	free(family);
	free(path);
	sg_strbuf_release(&sb);
	sg_strbuf_release(&scratch);
	sg_strbuf_release(&text);
	graph_release(&g);
	return err;
}

static const char *const extensions[] = {".svg", NULL};

const struct sg_format sg_format_flamegraph = {
    .name = "flamegraph",
    .extensions = extensions,
    .write = write_flamegraph,
};
