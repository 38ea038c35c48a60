/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/text.h"
#include "profile/query.h"
#include "profile/report.h"
#include "util/err.h"
#include "util/strbuf.h"

/* Text lines stay within a 100-column terminal. */
#define WIDTH 100

enum out_format { OUT_TEXT, OUT_JSON, OUT_CSV };

struct report_opts {
	const char *input;
	enum sg_query_by by;
	enum sg_query_sort sort;
	enum out_format format;
	size_t limit;       /* 0: no limit */
	double min_percent; /* < 0: the view's default */
	bool tree, inverted, collapse, full_filenames;
	bool memory; /* --memory: the RSS's trend and growth by function */
	const char *callers, *callees;
	struct sg_cli_filters filters;
	regex_t callers_re, callees_re;
	bool callers_ok, callees_ok; /* compiled, to be freed */
};

enum {
	OPT_SORT = 256,
	OPT_LIMIT,
	OPT_MIN,
	OPT_TREE,
	OPT_INVERTED,
	OPT_COLLAPSE,
	OPT_CALLERS,
	OPT_CALLEES,
	OPT_FULL,
	OPT_MEMORY,
};

static const struct option options[] = {
    {"by", required_argument, NULL, 'b'},
    {"sort", required_argument, NULL, OPT_SORT},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"min-percent", required_argument, NULL, OPT_MIN},
    {"tree", no_argument, NULL, OPT_TREE},
    {"inverted", no_argument, NULL, OPT_INVERTED},
    {"collapse-recursion", no_argument, NULL, OPT_COLLAPSE},
    {"callers", required_argument, NULL, OPT_CALLERS},
    {"callees", required_argument, NULL, OPT_CALLEES},
    SG_CLI_FILTER_OPTIONS,
    {"format", required_argument, NULL, 'f'},
    {"full-filenames", no_argument, NULL, OPT_FULL},
    {"memory", no_argument, NULL, OPT_MEMORY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass report [OPTIONS] PROFILE\n"
    "\n"
    "Tables, call trees and callers from a saved profile (pprof or collapsed),\n"
    "each share with its 95% interval. Written to standard output.\n"
    "\n"
    "  -b, --by KEY            what a row is: function, line, file, module, thread,\n"
    "                          process (default: function)\n"
    "      --sort ORDER        flat table: self, total or name (default: self)\n"
    "      --limit N           flat table: at most N rows, 0 for all (default: 30)\n"
    "      --min-percent P     leave out rows (tree: nodes) under P% (default: 0,\n"
    "                          tree 1)\n"
    "      --tree              the call tree, top-down\n"
    "      --inverted          the bottom-up tree: leaf functions, their callers below\n"
    "      --collapse-recursion  tree: a function calling itself is one node\n"
    "      --callers REGEX     who calls the functions matching REGEX, per edge\n"
    "      --callees REGEX     whom they call, per edge\n"
    "      --memory            record --memory's profile: the RSS's trend (flat,\n"
    "                          sawtooth, staircase), its growth rate, and the\n"
    "                          functions that grew it (text or json)\n" SG_CLI_FILTER_HELP
    "  -f, --format FMT        text, json or csv (default: text)\n"
    "      --full-filenames    whole paths of files (default: relative to the folder\n"
    "                          imported from, when the profile says)\n"
    "  -h, --help              this help\n";

static const char *const by_names[] = {"function", "line",    "file", "module",
                                       "thread",   "process", NULL};
static const char *const sort_names[] = {"self", "total", "name", NULL};
static const char *const format_names[] = {"text", "json", "csv", NULL};

static int parse_args(int argc, char **argv, struct report_opts *o)
{
	int c, v;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:f:h", options, NULL)) != -1) {
		double d;

		switch (c) {
		case 'b':
			if (sg_cli_choice("--by", optarg, by_names, &v))
				return SG_EXIT_USAGE;
			o->by = (enum sg_query_by)v;
			break;
		case OPT_SORT:
			if (sg_cli_choice("--sort", optarg, sort_names, &v))
				return SG_EXIT_USAGE;
			o->sort = (enum sg_query_sort)v;
			break;
		case 'f':
			if (sg_cli_choice("--format", optarg, format_names, &v))
				return SG_EXIT_USAGE;
			o->format = (enum out_format)v;
			break;
		case OPT_LIMIT:
			if (sg_cli_parse_double(optarg, 0, 1e9, &d) || d != floor(d)) {
				sg_cli_error("--limit: expected a whole number of rows, got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			o->limit = (size_t)d;
			break;
		case OPT_MIN:
			if (sg_cli_parse_double(optarg, 0, 100, &o->min_percent)) {
				sg_cli_error(
				    "--min-percent: expected a percentage from 0 to 100, got '%s'",
				    optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_TREE:
			o->tree = true;
			break;
		case OPT_INVERTED:
			o->inverted = true;
			break;
		case OPT_COLLAPSE:
			o->collapse = true;
			break;
		case OPT_CALLERS:
			o->callers = optarg;
			break;
		case OPT_CALLEES:
			o->callees = optarg;
			break;
		case OPT_FULL:
			o->full_filenames = true;
			break;
		case OPT_MEMORY:
			o->memory = true;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			v = sg_cli_filter_arg(&o->filters, c, optarg);
			if (v == 1)
				return sg_cli_bad_option("report", argv);
			if (v)
				return SG_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		sg_cli_error(optind == argc ? "no profile: spyglass report [OPTIONS] PROFILE"
		                            : "one profile only");
		return SG_EXIT_USAGE;
	}
	o->input = argv[optind];
	if (o->memory && (o->tree || o->inverted || o->callers || o->callees ||
	                  o->format == OUT_CSV || o->by != SG_BY_FUNCTION)) {
		sg_cli_error("--memory is a view of its own, by function, in text or json");
		return SG_EXIT_USAGE;
	}
	if ((o->tree || o->inverted) + !!(o->callers || o->callees) > 1) {
		sg_cli_error("--tree/--inverted and --callers/--callees are different views: "
		             "choose one");
		return SG_EXIT_USAGE;
	}
	if ((o->tree || o->inverted || o->callers || o->callees) &&
	    (o->by == SG_BY_THREAD || o->by == SG_BY_PROCESS)) {
		sg_cli_error("--by thread and --by process make the flat table only");
		return SG_EXIT_USAGE;
	}
	if (sg_cli_filters_finish(&o->filters))
		return SG_EXIT_USAGE;
	if (o->callers) {
		if (sg_cli_regex("--callers", o->callers, &o->callers_re))
			return SG_EXIT_USAGE;
		o->callers_ok = true;
	}
	if (o->callees) {
		if (sg_cli_regex("--callees", o->callees, &o->callees_re))
			return SG_EXIT_USAGE;
		o->callees_ok = true;
	}
	if (o->min_percent < 0)
		o->min_percent = o->tree || o->inverted ? 1 : 0;
	return 0;
}

/* A share of n, with its interval, in percent. */
struct share {
	double pct, lo, hi;
};

static struct share share_of(uint64_t k, uint64_t n)
{
	struct share s;

	sg_report_interval(k, n, &s.lo, &s.hi);
	s.pct = n ? 100.0 * (double)k / (double)n : 0;
	s.lo *= 100;
	s.hi *= 100;
	return s;
}

/* "lo-hi", one decimal, or two when hi is under 1% (as the summary prints). */
static const char *ci_text(struct share s, char *buf, size_t len)
{
	int prec = s.hi < 1 ? 2 : 1;

	snprintf(buf, len, "%.*f-%.*f", prec, s.lo, prec, s.hi);
	return buf;
}

static const char *view_name(const struct report_opts *o)
{
	if (o->inverted)
		return "inverted";
	if (o->tree)
		return "tree";
	if (o->callers || o->callees)
		return "neighbours";
	return "flat";
}

/* "250.0 Hz", or "unknown" for 0 (the profile does not say). */
static const char *hz_text(double hz, char *buf, size_t len)
{
	if (hz > 0)
		snprintf(buf, len, "%.1f Hz", hz);
	else
		snprintf(buf, len, "unknown");
	return buf;
}

static void text_header(const struct sg_profile *p, const struct sg_query *q,
                        const struct report_opts *o, FILE *out)
{
	const struct sg_meta *m = sg_profile_meta_const(p);
	uint64_t all = sg_profile_total(p), kept = sg_query_total(q);
	char asked[32], achieved[32];

	fprintf(out, "command: ");
	sg_cli_print_key(m->command[0] ? m->command : "(not recorded)", WIDTH - 9, out);
	/* A figure the profile does not give (another tool's pprof has no
	 * achieved rate, a collapsed file no rate or duration) is said to be
	 * unknown, not 0. */
	fprintf(out, "mode: %s; Python %s; rate asked %s, achieved %s\n", sg_mode_name(m->mode),
	        m->python_version[0] ? m->python_version : "unknown",
	        hz_text(m->rate_asked_hz, asked, sizeof(asked)),
	        hz_text(m->rate_achieved_hz, achieved, sizeof(achieved)));
	fprintf(out, "samples: %llu", (unsigned long long)all);
	if (m->duration_ns)
		fprintf(out, " over %.2f s", (double)m->duration_ns / 1e9);
	fprintf(out, "; dropped %llu (torn %llu, unreadable %llu)\n",
	        (unsigned long long)m->dropped, (unsigned long long)m->dropped_torn,
	        (unsigned long long)m->dropped_read);
	if (kept != all)
		fprintf(out,
		        "kept by the filters: %llu samples (%.2f%%); shares below are of those\n",
		        (unsigned long long)kept, all ? 100.0 * (double)kept / (double)all : 0.0);
	fprintf(out, "view: %s, by %s\n", view_name(o), by_names[o->by]);
	if (m->mode == SG_MODE_WALL) {
		char ci[32];
		struct share idle = share_of(sg_query_total_idle(q), kept);

		fprintf(out, "idle (off CPU, waiting): %.2f%% (%s) of the samples, shown apart\n",
		        idle.pct, ci_text(idle, ci, sizeof(ci)));
	}
	fputc('\n', out);
}

static bool wall(const struct sg_profile *p)
{
	return sg_profile_meta_const(p)->mode == SG_MODE_WALL;
}

/* --- flat table --- */

static size_t flat_rows(const struct report_opts *o, const struct sg_query *q,
                        const struct sg_query_row *rows, size_t n)
{
	uint64_t all = sg_query_total(q);
	size_t shown = 0;

	for (size_t i = 0; i < n && (!o->limit || shown < o->limit); i++) {
		uint64_t k = o->sort == SG_SORT_SELF ? rows[i].self : rows[i].total;

		if (share_of(k, all).pct < o->min_percent) {
			if (o->sort == SG_SORT_NAME)
				continue;
			break; /* sorted: the rest are smaller */
		}
		shown++;
	}
	return shown;
}

static const struct sg_query_row *flat_row(const struct report_opts *o, const struct sg_query *q,
                                           const struct sg_query_row *rows, size_t n, size_t *i)
{
	uint64_t all = sg_query_total(q);

	/* Name order: rows under --min-percent are skipped one by one. */
	while (*i < n && o->sort == SG_SORT_NAME && o->min_percent > 0 &&
	       share_of(rows[*i].total, all).pct < o->min_percent)
		(*i)++;
	return *i < n ? &rows[(*i)++] : NULL;
}

static void text_flat(const struct report_opts *o, const struct sg_profile *p,
                      const struct sg_query *q, const struct sg_query_row *rows, size_t n,
                      FILE *out)
{
	uint64_t all = sg_query_total(q);
	bool w = wall(p);
	size_t shown = flat_rows(o, q, rows, n), at = 0;
	char c1[32], c2[32], c3[32];

	fprintf(out, "%7s %6s %10s %7s %6s %10s", "self", "self%", "95% CI", "total", "total%",
	        "95% CI");
	if (w)
		fprintf(out, " %7s %11s", "idle%", "95% CI");
	fprintf(out, "  %s\n", by_names[o->by]);
	for (size_t r = 0; r < shown; r++) {
		const struct sg_query_row *row = flat_row(o, q, rows, n, &at);
		struct share s = share_of(row->self, all), t = share_of(row->total, all);
		int used;

		used = fprintf(out, "%7llu %6.2f %10s %7llu %6.2f %10s",
		               (unsigned long long)row->self, s.pct, ci_text(s, c1, sizeof(c1)),
		               (unsigned long long)row->total, t.pct, ci_text(t, c2, sizeof(c2)));
		if (w) {
			struct share i = share_of(row->self_idle, all);

			used += fprintf(out, " %6.2f %10s", i.pct, ci_text(i, c3, sizeof(c3)));
		}
		fputs("  ", out);
		sg_cli_print_key(sg_query_key(q, row->key), WIDTH - used - 2, out);
	}
	if (shown < n)
		fprintf(out, "(%zu more rows under --limit %zu or --min-percent %g)\n", n - shown,
		        o->limit, o->min_percent);
}

/* JSON: each figure as a count, a percentage and its interval. */
static int json_share(struct sg_strbuf *sb, const char *name, uint64_t k, uint64_t n)
{
	struct share s = share_of(k, n);

	return sg_strbuf_addf(sb, "\"%s\":%llu,\"%s_pct\":%.4f,\"%s_ci\":[%.4f,%.4f]", name,
	                      (unsigned long long)k, name, s.pct, name, s.lo, s.hi);
}

static int json_key(struct sg_strbuf *sb, const struct sg_query *q, uint32_t key)
{
	if (key == SG_QUERY_NONE)
		return sg_strbuf_addstr(sb, "null");
	return sg_text_json(sb, sg_query_key(q, key));
}

static int json_header(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_query *q,
                       const struct report_opts *o, const char *view)
{
	const struct sg_meta *m = sg_profile_meta_const(p);
	int err = sg_strbuf_addstr(sb, "{\"header\":{\"command\":");

	err = err ? err : sg_text_json(sb, m->command);
	err =
	    err ? err
	        : sg_strbuf_addf(sb, ",\"mode\":\"%s\",\"python_version\":", sg_mode_name(m->mode));
	err = err ? err : sg_text_json(sb, m->python_version);
	err = err ? err
	          : sg_strbuf_addf(
	                sb,
	                ",\"rate_asked_hz\":%.3f,\"rate_achieved_hz\":%.3f,\"samples\":%llu,"
	                "\"duration_s\":%.6f,\"dropped\":%llu,\"dropped_torn\":%llu,"
	                "\"dropped_read\":%llu},\"view\":\"%s\",\"by\":\"%s\","
	                "\"kept\":%llu,",
	                m->rate_asked_hz, m->rate_achieved_hz,
	                (unsigned long long)sg_profile_total(p), (double)m->duration_ns / 1e9,
	                (unsigned long long)m->dropped, (unsigned long long)m->dropped_torn,
	                (unsigned long long)m->dropped_read, view, by_names[o->by],
	                (unsigned long long)sg_query_total(q));
	return err ? err : json_share(sb, "idle", sg_query_total_idle(q), sg_query_total(q));
}

static int json_flat(const struct report_opts *o, const struct sg_query *q,
                     const struct sg_query_row *rows, size_t n, struct sg_strbuf *sb)
{
	uint64_t all = sg_query_total(q);
	size_t shown = flat_rows(o, q, rows, n), at = 0;
	int err = sg_strbuf_addstr(sb, ",\"rows\":[");

	for (size_t r = 0; !err && r < shown; r++) {
		const struct sg_query_row *row = flat_row(o, q, rows, n, &at);

		err = sg_strbuf_addstr(sb, r ? ",{\"key\":" : "{\"key\":");
		err = err ? err : json_key(sb, q, row->key);
		err = err ? err : sg_strbuf_addch(sb, ',');
		err = err ? err : json_share(sb, "self", row->self, all);
		err = err ? err : sg_strbuf_addch(sb, ',');
		err = err ? err : json_share(sb, "self_idle", row->self_idle, all);
		err = err ? err : sg_strbuf_addch(sb, ',');
		err = err ? err : json_share(sb, "total", row->total, all);
		err = err ? err : sg_strbuf_addch(sb, ',');
		err = err ? err : json_share(sb, "total_idle", row->total_idle, all);
		err = err ? err : sg_strbuf_addch(sb, '}');
	}
	return err ? err : sg_strbuf_addf(sb, "],\"rows_left_out\":%zu", n - shown);
}

/* CSV: a field quoted when it holds a comma, a quote or a line break. */
static void csv_field(const char *s, FILE *out)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void csv_share(uint64_t k, uint64_t n, FILE *out)
{
	struct share s = share_of(k, n);

	fprintf(out, ",%llu,%.4f,%.4f,%.4f", (unsigned long long)k, s.pct, s.lo, s.hi);
}

static void csv_flat(const struct report_opts *o, const struct sg_query *q,
                     const struct sg_query_row *rows, size_t n, FILE *out)
{
	uint64_t all = sg_query_total(q);
	size_t shown = flat_rows(o, q, rows, n), at = 0;

	fputs("key,self,self_pct,self_lo,self_hi,self_idle,self_idle_pct,self_idle_lo,"
	      "self_idle_hi,total,total_pct,total_lo,total_hi,total_idle,total_idle_pct,"
	      "total_idle_lo,total_idle_hi\n",
	      out);
	for (size_t r = 0; r < shown; r++) {
		const struct sg_query_row *row = flat_row(o, q, rows, n, &at);

		csv_field(sg_query_key(q, row->key), out);
		csv_share(row->self, all, out);
		csv_share(row->self_idle, all, out);
		csv_share(row->total, all, out);
		csv_share(row->total_idle, all, out);
		fputc('\n', out);
	}
}

/* --- trees --- */

/* The next node to show after i in depth-first order, pruned below
 * min_percent: children are sorted by total, so the first one under the
 * threshold ends its list. SG_QUERY_NONE at the end. */
static uint32_t next_node(const struct sg_query_node *nodes, uint32_t i, uint64_t min, int *closed)
{
	uint32_t c = nodes[i].first_child;

	*closed = 0;
	if (c != SG_QUERY_NONE && nodes[c].total >= min)
		return c;
	for (; i != SG_QUERY_NONE; i = nodes[i].parent) {
		uint32_t s = nodes[i].next_sibling;

		(*closed)++;
		if (s != SG_QUERY_NONE && nodes[s].total >= min)
			return s;
	}
	return SG_QUERY_NONE;
}

/* The smallest count at or above min_percent of all. */
static uint64_t min_count(double min_percent, uint64_t all)
{
	uint64_t m = (uint64_t)ceil(min_percent / 100 * (double)all - 1e-9);

	return m ? m : 1;
}

static void text_tree(const struct report_opts *o, const struct sg_profile *p,
                      const struct sg_query *q, const struct sg_query_node *nodes, FILE *out)
{
	uint64_t all = sg_query_total(q), min = min_count(o->min_percent, all);
	bool w = wall(p);
	char c1[32];
	int closed;

	fprintf(out, "%8s %7s %11s %7s", "total", "total%", "95% CI", "self%");
	if (w)
		fprintf(out, " %7s", "idle%");
	fprintf(out, "  %s (%s%s, nodes under %g%% left out)\n", by_names[o->by],
	        o->inverted ? "callers below" : "callees below",
	        o->collapse ? ", recursion collapsed" : "", o->min_percent);
	for (uint32_t i = next_node(nodes, 0, min, &closed); i != SG_QUERY_NONE;
	     i = next_node(nodes, i, min, &closed)) {
		const struct sg_query_node *nd = &nodes[i];
		struct share t = share_of(nd->total, all);
		int indent = 2 * (int)(nd->depth - 1), used;

		used = fprintf(out, "%8llu %7.2f %11s %7.2f", (unsigned long long)nd->total, t.pct,
		               ci_text(t, c1, sizeof(c1)), share_of(nd->self, all).pct);
		if (w)
			used += fprintf(out, " %7.2f", share_of(nd->self_idle, all).pct);
		/* Deep trees: the indent stops at 40 columns and the depth is written. */
		if (indent > 40) {
			char tag[16];
			int len = snprintf(tag, sizeof(tag), "[%u] ", nd->depth);

			used += fprintf(out, "  %*s%s", 40 - len, "", tag);
		} else
			used += fprintf(out, "  %*s", indent, "");
		sg_cli_print_key(sg_query_key(q, nd->key), WIDTH - used, out);
	}
}

static int json_node(struct sg_strbuf *sb, const struct sg_query *q, const struct sg_query_node *nd)
{
	uint64_t all = sg_query_total(q);
	int err = sg_strbuf_addstr(sb, "{\"key\":");

	err = err ? err : json_key(sb, q, nd->key);
	err = err ? err : sg_strbuf_addch(sb, ',');
	err = err ? err : json_share(sb, "total", nd->total, all);
	err = err ? err : sg_strbuf_addch(sb, ',');
	err = err ? err : json_share(sb, "total_idle", nd->total_idle, all);
	err = err ? err : sg_strbuf_addch(sb, ',');
	err = err ? err : json_share(sb, "self", nd->self, all);
	err = err ? err : sg_strbuf_addch(sb, ',');
	err = err ? err : json_share(sb, "self_idle", nd->self_idle, all);
	return err ? err : sg_strbuf_addstr(sb, ",\"children\":[");
}

static int json_tree(const struct report_opts *o, const struct sg_query *q,
                     const struct sg_query_node *nodes, struct sg_strbuf *sb)
{
	uint64_t min = min_count(o->min_percent, sg_query_total(q));
	int err = sg_strbuf_addf(sb, ",\"min_percent\":%g,\"collapse_recursion\":%s,\"tree\":",
	                         o->min_percent, o->collapse ? "true" : "false");
	uint32_t i = 0, prev_depth = 0;
	int closed = 0;

	err = err ? err : json_node(sb, q, &nodes[0]);
	while (!err && (i = next_node(nodes, i, min, &closed)) != SG_QUERY_NONE) {
		/* closed: how many nodes ended before this one, each "]}"; then
		 * this one is their sibling, unless it is the first child. */
		for (int k = 0; !err && k < closed; k++)
			err = sg_strbuf_addstr(sb, "]}");
		if (!err && closed)
			err = sg_strbuf_addch(sb, ',');
		err = err ? err : json_node(sb, q, &nodes[i]);
		prev_depth = nodes[i].depth;
	}
	/* Close what is still open: from the last node up to the root. */
	for (uint32_t k = 0; !err && k <= prev_depth; k++)
		err = sg_strbuf_addstr(sb, "]}");
	return err;
}

static void csv_tree(const struct report_opts *o, const struct sg_query *q,
                     const struct sg_query_node *nodes, FILE *out)
{
	uint64_t all = sg_query_total(q), min = min_count(o->min_percent, all);
	int closed;

	fputs("depth,key,total,total_pct,total_lo,total_hi,self,self_pct,self_lo,self_hi,"
	      "self_idle,self_idle_pct,self_idle_lo,self_idle_hi\n",
	      out);
	for (uint32_t i = next_node(nodes, 0, min, &closed); i != SG_QUERY_NONE;
	     i = next_node(nodes, i, min, &closed)) {
		fprintf(out, "%u,", nodes[i].depth);
		csv_field(sg_query_key(q, nodes[i].key), out);
		csv_share(nodes[i].total, all, out);
		csv_share(nodes[i].self, all, out);
		csv_share(nodes[i].self_idle, all, out);
		fputc('\n', out);
	}
}

/* --- callers and callees --- */

struct edge_view {
	const char *what; /* "callers" or "callees" */
	bool callers;
	const char *regex;
	struct sg_query_edge *edges;
	size_t n;
	uint64_t through;
};

static const char *edge_key(const struct sg_query *q, const struct edge_view *v, uint32_t key)
{
	if (key != SG_QUERY_NONE)
		return sg_query_key(q, key);
	return v->callers ? "[none: a root]" : "[none: self]";
}

static void text_edges(const struct report_opts *o, const struct sg_profile *p,
                       const struct sg_query *q, const struct edge_view *v, FILE *out)
{
	struct share t = share_of(v->through, sg_query_total(q));
	bool w = wall(p);
	size_t shown = 0;
	char c1[32];

	fprintf(out, "%s of /%s/: %llu samples pass through it, %.2f%% (%s) of all\n", v->what,
	        v->regex, (unsigned long long)v->through, t.pct, ci_text(t, c1, sizeof(c1)));
	fprintf(out, "%8s %7s %11s", "samples", "share%", "95% CI");
	if (w)
		fprintf(out, " %7s", "idle%");
	fprintf(out, "  %s (share of the samples through /%s/)\n", v->callers ? "caller" : "callee",
	        v->regex);
	for (size_t i = 0; i < v->n && (!o->limit || shown < o->limit); i++) {
		struct share s = share_of(v->edges[i].count, v->through);
		int used;

		if (s.pct < o->min_percent)
			break;
		used = fprintf(out, "%8llu %7.2f %11s", (unsigned long long)v->edges[i].count,
		               s.pct, ci_text(s, c1, sizeof(c1)));
		if (w)
			used += fprintf(out, " %7.2f", share_of(v->edges[i].idle, v->through).pct);
		used += fprintf(out, "  ");
		sg_cli_print_key(edge_key(q, v, v->edges[i].key), WIDTH - used, out);
		shown++;
	}
	if (shown < v->n)
		fprintf(out, "(%zu more under --limit or --min-percent)\n", v->n - shown);
}

static int json_edges(const struct report_opts *o, const struct sg_query *q,
                      const struct edge_view *v, struct sg_strbuf *sb)
{
	int err = sg_strbuf_addf(sb, ",\"%s\":{\"regex\":", v->what);
	size_t shown = 0;

	err = err ? err : sg_text_json(sb, v->regex);
	err = err ? err : sg_strbuf_addch(sb, ',');
	err = err ? err : json_share(sb, "through", v->through, sg_query_total(q));
	err = err ? err : sg_strbuf_addstr(sb, ",\"edges\":[");
	for (size_t i = 0; !err && i < v->n && (!o->limit || shown < o->limit); i++) {
		if (share_of(v->edges[i].count, v->through).pct < o->min_percent)
			break;
		err = sg_strbuf_addstr(sb, shown++ ? ",{\"key\":" : "{\"key\":");
		err = err ? err : json_key(sb, q, v->edges[i].key);
		err = err ? err : sg_strbuf_addch(sb, ',');
		err = err ? err : json_share(sb, "samples", v->edges[i].count, v->through);
		err = err ? err : sg_strbuf_addch(sb, ',');
		err = err ? err : json_share(sb, "idle", v->edges[i].idle, v->through);
		err = err ? err : sg_strbuf_addch(sb, '}');
	}
	return err ? err : sg_strbuf_addf(sb, "],\"edges_left_out\":%zu}", v->n - shown);
}

static void csv_edges(const struct report_opts *o, const struct sg_query *q,
                      const struct edge_view *v, FILE *out)
{
	size_t shown = 0;

	for (size_t i = 0; i < v->n && (!o->limit || shown < o->limit); i++, shown++) {
		if (share_of(v->edges[i].count, v->through).pct < o->min_percent)
			break;
		fprintf(out, "%s,", v->what);
		csv_field(v->regex, out);
		fputc(',', out);
		csv_field(v->edges[i].key == SG_QUERY_NONE ? "" : sg_query_key(q, v->edges[i].key),
		          out);
		fprintf(out, ",%llu", (unsigned long long)v->through);
		csv_share(v->edges[i].count, v->through, out);
		fputc('\n', out);
	}
}

/* --- running a view --- */

static int run_view(const struct report_opts *o, const struct sg_profile *p,
                    const struct sg_query *q, FILE *out)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	struct sg_query_row *rows = NULL;
	struct sg_query_node *nodes = NULL;
	struct edge_view ev[2] = {{"callers", true, o->callers, NULL, 0, 0},
	                          {"callees", false, o->callees, NULL, 0, 0}};
	size_t n = 0;
	int err = 0;

	if (o->tree || o->inverted)
		err = sg_query_tree(q, o->inverted, o->collapse, &nodes, &n);
	else if (o->callers || o->callees)
		for (int k = 0; k < 2 && !err; k++)
			if (ev[k].regex)
				err =
				    sg_query_neighbours(q, k ? &o->callees_re : &o->callers_re, !k,
				                        &ev[k].edges, &ev[k].n, &ev[k].through);
			else
				continue;
	else
		err = sg_query_flat(q, o->sort, &rows, &n);
	if (err)
		goto out;
	if (o->format == OUT_TEXT) {
		text_header(p, q, o, out);
		if (nodes)
			text_tree(o, p, q, nodes, out);
		else if (rows || !(o->callers || o->callees))
			text_flat(o, p, q, rows, n, out);
		for (int k = 0; k < 2; k++)
			if (ev[k].regex) {
				if (k && ev[0].regex)
					fputc('\n', out);
				text_edges(o, p, q, &ev[k], out);
			}
	} else if (o->format == OUT_JSON) {
		err = json_header(&sb, p, q, o, view_name(o));
		if (!err && nodes)
			err = json_tree(o, q, nodes, &sb);
		else if (!err && !(o->callers || o->callees))
			err = json_flat(o, q, rows, n, &sb);
		for (int k = 0; k < 2 && !err; k++)
			if (ev[k].regex)
				err = json_edges(o, q, &ev[k], &sb);
		err = err ? err : sg_strbuf_addstr(&sb, "}\n");
		if (!err)
			fwrite(sb.buf, 1, sb.len, out);
	} else {
		if (nodes)
			csv_tree(o, q, nodes, out);
		else if (!(o->callers || o->callees))
			csv_flat(o, q, rows, n, out);
		else
			fputs("view,regex,key,through,samples,share_pct,share_lo,share_hi\n", out);
		for (int k = 0; k < 2; k++)
			if (ev[k].regex)
				csv_edges(o, q, &ev[k], out);
	}
out:
	if (err)
		sg_cli_error("%s", sg_err_str(err));
	sg_strbuf_release(&sb);
	free(rows);
	free(nodes);
	free(ev[0].edges);
	free(ev[1].edges);
	return err;
}

static void free_regexes(struct report_opts *o)
{
	sg_cli_filters_release(&o->filters);
	if (o->callers_ok)
		regfree(&o->callers_re);
	if (o->callees_ok)
		regfree(&o->callees_re);
}

/* --memory: the functions by RSS growth, at most this many. */
#define MEMORY_TOP 10

static int memory_rows(const struct sg_profile *p, struct sg_report_row *rows)
{
	int n = sg_report_top_value(p, SG_VALUE_RSS_GROWTH, rows, MEMORY_TOP);

	if (n < 0)
		sg_cli_error("%s", sg_err_str(n));
	return n;
}

static void text_memory(const struct sg_profile *p, const struct sg_report_memory *m,
                        const struct report_opts *o, FILE *out)
{
	const struct sg_meta *meta = sg_profile_meta_const(p);
	struct sg_report_row rows[MEMORY_TOP];
	char a[32], b[32], c[32], d[32];
	int n = memory_rows(p, rows);

	fprintf(out, "command: %s\n", meta->command);
	fprintf(out, "mode: %s; Python %s; rate asked %.1f Hz, achieved %.1f Hz; %.2f s\n",
	        sg_mode_name(meta->mode), meta->python_version[0] ? meta->python_version : "?",
	        meta->rate_asked_hz, meta->rate_achieved_hz, (double)meta->duration_ns / 1e9);
	sg_text_bytes(a, sizeof(a), (double)m->first);
	sg_text_bytes(b, sizeof(b), (double)m->last);
	sg_text_bytes(c, sizeof(c), (double)m->lowest);
	sg_text_bytes(d, sizeof(d), (double)m->highest);
	fprintf(out, "RSS: %s first, %s last; lowest %s, highest %s (%zu points over %.2f s)\n", a,
	        b, c, d, m->points, m->span_s);
	sg_text_bytes(a, sizeof(a), m->floor_slope * 60);
	fprintf(out, "trend: %s; growth rate %s/min (of the floor)\n",
	        sg_report_trend_name(m->trend), a);
	sg_text_bytes(a, sizeof(a), m->floor_rise);
	sg_text_bytes(b, sizeof(b), m->range);
	sg_text_bytes(c, sizeof(c), m->flat_below);
	sg_text_bytes(d, sizeof(d), m->peak_slope * 60);
	if (m->floors_are_troughs)
		fprintf(out,
		        "  how: the floor is each tooth's trough (%zu); their Theil-Sen slope rose"
		        "\n  %s over the run",
		        m->windows, a);
	else
		fprintf(
		    out,
		    "  how: %zu windows of equal time, each its lowest read (floor) and highest\n"
		    "  (peak); the floors' Theil-Sen slope rose %s over the run (the peaks'\n"
		    "  %s/min)",
		    m->windows, a, d);
	fprintf(out,
	        "; range (2nd highest peak - 2nd lowest floor) %s;\n"
	        "  teeth (falls by half the range or more, and back): %u. Flat: range under\n"
	        "  %s (8 MiB or 5%% of the lowest RSS); staircase: the floor rose half the\n"
	        "  range or more; sawtooth: 2 teeth or more.\n",
	        b, m->teeth, c);
	sg_text_bytes(a, sizeof(a), (double)m->growth);
	sg_text_bytes(b, sizeof(b), (double)m->freed);
	fprintf(out, "attributed: %s of growth and %s freed, each to the thread holding the GIL\n",
	        a, b);
	if (n <= 0)
		return;
	fprintf(out, "\n%12s %7s %12s %7s  function (by RSS growth)\n", "self", "self%", "total",
	        "total%");
	for (int i = 0; i < n; i++) {
		const char *file = sg_profile_str(p, rows[i].file);

		if (!o->full_filenames)
			file = sg_profile_short_file(p, file);
		sg_text_bytes(a, sizeof(a), (double)rows[i].self);
		sg_text_bytes(b, sizeof(b), (double)rows[i].total);
		fprintf(out, "%12s %7.2f %12s %7.2f  %s (%s)\n", a,
		        m->growth ? 100.0 * (double)rows[i].self / (double)m->growth : 0.0, b,
		        m->growth ? 100.0 * (double)rows[i].total / (double)m->growth : 0.0,
		        sg_profile_str(p, rows[i].name), file);
	}
}

static int json_memory(const struct sg_profile *p, const struct sg_report_memory *m,
                       const struct report_opts *o, FILE *out)
{
	struct sg_report_row rows[MEMORY_TOP];
	struct sg_strbuf sb = SG_STRBUF_INIT;
	int n = memory_rows(p, rows), err;

	if (n < 0)
		return n;
	err = sg_strbuf_addstr(&sb, "{\"command\":");
	if (!err)
		err = sg_text_json(&sb, sg_profile_meta_const(p)->command);
	if (!err)
		err = sg_strbuf_addf(
		    &sb,
		    ",\"trend\":\"%s\",\"points\":%zu,\"span_s\":%.6g,\"first\":%llu,"
		    "\"last\":%llu,\"lowest\":%llu,\"highest\":%llu,\"windows\":%zu,"
		    "\"floors_are_troughs\":%s,\"floor_bytes_per_min\":%.6g,\"peak_bytes_per_min\":"
		    "%.6g,\"floor_rise\":%.6g,"
		    "\"range\":%.6g,\"flat_below\":%.6g,\"teeth\":%u,\"growth\":%llu,"
		    "\"freed\":%llu,\"functions\":[",
		    sg_report_trend_name(m->trend), m->points, m->span_s,
		    (unsigned long long)m->first, (unsigned long long)m->last,
		    (unsigned long long)m->lowest, (unsigned long long)m->highest, m->windows,
		    m->floors_are_troughs ? "true" : "false", m->floor_slope * 60,
		    m->peak_slope * 60, m->floor_rise, m->range, m->flat_below, m->teeth,
		    (unsigned long long)m->growth, (unsigned long long)m->freed);
	for (int i = 0; i < n && !err; i++) {
		const char *file = sg_profile_str(p, rows[i].file);

		if (!o->full_filenames)
			file = sg_profile_short_file(p, file);
		err = sg_strbuf_addstr(&sb, i ? ",{\"name\":" : "{\"name\":");
		if (!err)
			err = sg_text_json(&sb, sg_profile_str(p, rows[i].name));
		if (!err)
			err = sg_strbuf_addstr(&sb, ",\"file\":");
		if (!err)
			err = sg_text_json(&sb, file);
		if (!err)
			err = sg_strbuf_addf(&sb, ",\"self\":%llu,\"total\":%llu}",
			                     (unsigned long long)rows[i].self,
			                     (unsigned long long)rows[i].total);
	}
	if (!err)
		err = sg_strbuf_addstr(&sb, "]}\n");
	if (!err && fwrite(sb.buf, 1, sb.len, out) != sb.len)
		err = SG_EIO;
	if (err)
		sg_cli_error("%s", sg_err_str(err));
	sg_strbuf_release(&sb);
	return err;
}

static int report_memory(const struct report_opts *o, const struct sg_profile *p)
{
	struct sg_report_memory m;

	if (sg_report_memory(p, &m)) {
		sg_cli_error("%s has no RSS series: record it with spyglass record --memory",
		             o->input);
		return SG_EXIT_FAIL;
	}
	if (o->format == OUT_JSON)
		return json_memory(p, &m, o, stdout) ? SG_EXIT_FAIL : SG_EXIT_OK;
	text_memory(p, &m, o, stdout);
	return SG_EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	struct report_opts o = {.limit = 30, .min_percent = -1, .filters = SG_CLI_FILTERS_INIT};
	struct sg_profile *p = NULL;
	struct sg_query *q = NULL;
	int status, err;

	status = parse_args(argc, argv, &o);
	if (status) {
		free_regexes(&o);
		return status < 0 ? SG_EXIT_OK : status;
	}
	status = SG_EXIT_FAIL;
	p = sg_profile_new();
	if (!p) {
		sg_cli_error("out of memory");
		goto out;
	}
	if (sg_cli_read_profile(o.input, p))
		goto out;
	if (o.memory) {
		status = report_memory(&o, p);
		goto out;
	}
	if (!o.full_filenames)
		o.filters.filter.file_name = sg_cli_short_file;
	err = sg_query_new(p, o.by, &o.filters.filter, &q);
	if (err == SG_EUSAGE) {
		sg_cli_error("--from/--to: %s has no times (a collapsed file has none)", o.input);
		status = SG_EXIT_USAGE;
		goto out;
	} else if (err) {
		sg_cli_error("%s", sg_err_str(err));
		goto out;
	}
	if (run_view(&o, p, q, stdout) == 0)
		status = SG_EXIT_OK;
out:
	sg_query_free(q);
	sg_profile_free(p);
	free_regexes(&o);
	return status;
}
