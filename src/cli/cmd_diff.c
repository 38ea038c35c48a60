/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/flamegraph.h"
#include "formats/text.h"
#include "profile/diff.h"
#include "util/err.h"
#include "util/strbuf.h"

/* Text lines stay within a 100-column terminal. */
#define WIDTH 100

enum out_format { OUT_TEXT, OUT_JSON };

struct diff_opts {
	const char *input[2]; /* by enum sg_diff_side */
	/* A store's two selections (--base, --new), when store is set: each
	 * side is its windows merged, named by the selection as given. */
	const char *store;
	char select_name[2][256];
	struct sg_cli_selection select[2];
	bool selected[2];
	const char *output; /* the flame graph, or NULL: the table */
	enum sg_query_by by;
	enum out_format format;
	bool has_format, reverse, full_filenames;
	size_t limit; /* 0: no limit */
	double alpha;
	struct sg_cli_filters filters;
};

enum { OPT_LIMIT = 256, OPT_ALPHA, OPT_REVERSE, OPT_FULL, OPT_BASE, OPT_NEW };

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"by", required_argument, NULL, 'b'},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"alpha", required_argument, NULL, OPT_ALPHA},
    {"reverse", no_argument, NULL, OPT_REVERSE},
    SG_CLI_FILTER_OPTIONS,
    {"format", required_argument, NULL, 'f'},
    {"full-filenames", no_argument, NULL, OPT_FULL},
    {"base", required_argument, NULL, OPT_BASE},
    {"new", required_argument, NULL, OPT_NEW},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass diff [OPTIONS] BASE NEW\n"
    "       spyglass diff [OPTIONS] STORE --base K=V,... --new K=V,...\n"
    "\n"
    "How shares moved from profile BASE to profile NEW (pprof or collapsed), each\n"
    "side a share of its own samples: a table of the functions whose self and\n"
    "total shares moved most (change in points, its 95% interval, * where\n"
    "significant), or with -o a differential flame graph.\n"
    "\n"
    "  -o, --output FILE       write a differential flame graph (SVG) laid out on\n"
    "                          NEW: red grew, blue shrank, white not significant\n"
    "      --reverse           flame graph: laid out on BASE, so vanished code shows\n"
    "  -b, --by KEY            what a row is: function, line, file, module\n"
    "                          (default: function)\n"
    "      --limit N           at most N rows, 0 for all (default: 20)\n"
    "      --alpha A           family-wise significance level of the marks, over\n"
    "                          every figure compared (Holm) (default: 0.01)\n" SG_CLI_FILTER_HELP
    "                          (each filter applies to both profiles)\n"
    "  -f, --format FMT        the table as text or json (default: text)\n"
    "      --full-filenames    whole paths of files (default: relative to the folder\n"
    "                          imported from, when the profile says)\n"
    "      --base K=V,...      with a STORE (spyglass agent): BASE is its windows with\n"
    "                          these labels, merged; mode=wall: its wall windows\n"
    "                          (default cpu); from=TIME, to=TIME: a time range\n"
    "                          (RFC 3339 or -1h)\n"
    "      --new K=V,...       and NEW the windows these select\n"
    "  -h, --help              this help\n";

/* Frame keys only: a thread or process id is not the same in two runs. */
static const char *const by_names[] = {"function", "line", "file", "module", NULL};
static const char *const format_names[] = {"text", "json", NULL};

static int parse_args(int argc, char **argv, struct diff_opts *o)
{
	int c, v;
	double d;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:b:f:h", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case 'b':
			if (sg_cli_choice("--by", optarg, by_names, &v))
				return SG_EXIT_USAGE;
			o->by = (enum sg_query_by)v;
			break;
		case 'f':
			if (sg_cli_choice("--format", optarg, format_names, &v))
				return SG_EXIT_USAGE;
			o->format = (enum out_format)v;
			o->has_format = true;
			break;
		case OPT_LIMIT:
			if (sg_cli_parse_double(optarg, 0, 1e9, &d) || d != floor(d)) {
				sg_cli_error("--limit: expected a whole number of rows, got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			o->limit = (size_t)d;
			break;
		case OPT_ALPHA:
			if (sg_cli_parse_double(optarg, 0, 1, &o->alpha) || o->alpha <= 0 ||
			    o->alpha >= 1) {
				sg_cli_error(
				    "--alpha: expected a level between 0 and 1, e.g. 0.05, "
				    "got '%s'",
				    optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_REVERSE:
			o->reverse = true;
			break;
		case OPT_FULL:
			o->full_filenames = true;
			break;
		case OPT_BASE:
		case OPT_NEW:
			v = c == OPT_BASE ? SG_DIFF_BASE : SG_DIFF_NEW;
			snprintf(o->select_name[v], sizeof(o->select_name[v]), "%s", optarg);
			if (!o->selected[v])
				sg_cli_selection_init(&o->select[v], true);
			o->selected[v] = true;
			if (sg_cli_parse_selection(c == OPT_BASE ? "--base" : "--new", optarg,
			                           &o->select[v]))
				return SG_EXIT_USAGE;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			v = sg_cli_filter_arg(&o->filters, c, optarg);
			if (v == 1)
				return sg_cli_bad_option("diff", argv);
			if (v)
				return SG_EXIT_USAGE;
		}
	}
	if (o->selected[SG_DIFF_BASE] || o->selected[SG_DIFF_NEW]) {
		if (!o->selected[SG_DIFF_BASE] || !o->selected[SG_DIFF_NEW] || argc - optind != 1) {
			sg_cli_error("a store's diff: spyglass diff STORE --base K=V,... --new "
			             "K=V,...");
			return SG_EXIT_USAGE;
		}
		o->store = argv[optind];
		o->input[SG_DIFF_BASE] = o->select_name[SG_DIFF_BASE];
		o->input[SG_DIFF_NEW] = o->select_name[SG_DIFF_NEW];
		return sg_cli_filters_finish(&o->filters);
	}
	if (argc - optind != 2) {
		sg_cli_error(argc - optind < 2 ? "two profiles: spyglass diff [OPTIONS] BASE NEW"
		                               : "two profiles only: BASE and NEW");
		return SG_EXIT_USAGE;
	}
	o->input[SG_DIFF_BASE] = argv[optind];
	o->input[SG_DIFF_NEW] = argv[optind + 1];
	if (o->output && o->has_format) {
		sg_cli_error("-o writes the flame graph, --format the table: choose one");
		return SG_EXIT_USAGE;
	}
	if (o->reverse && !o->output) {
		sg_cli_error("--reverse lays out the flame graph: give -o FILE.svg");
		return SG_EXIT_USAGE;
	}
	return sg_cli_filters_finish(&o->filters);
}

/* --- the table --- */

static const char *const side_names[] = {"base", "new"};

/* "+1.23,-4.56": points, two decimals under 10, else one. */
static const char *ci_text(const struct sg_diff_change *c, char *buf, size_t len)
{
	int prec = fabs(c->clo) < 10 && fabs(c->chi) < 10 ? 2 : 1;

	snprintf(buf, len, "%+.*f,%+.*f", prec, c->clo, prec, c->chi);
	return buf;
}

static int print_change(const struct sg_diff_change *c, FILE *out)
{
	char ci[48];

	return fprintf(out, "%6.2f %6.2f %+7.2f %12s %c", c->pct[0], c->pct[1], c->change,
	               ci_text(c, ci, sizeof(ci)), c->significant ? '*' : ' ');
}

static void text_side(const struct diff_opts *o, const struct sg_profile *p, enum sg_diff_side s,
                      const struct sg_diff *d, FILE *out)
{
	uint64_t kept = sg_diff_total(d, s);
	const struct sg_meta *m = sg_profile_meta_const(p);
	uint64_t all = sg_profile_total(p);

	fprintf(out, "%-5s ", side_names[s]);
	sg_cli_print_key(o->input[s], WIDTH - 6, out);
	fprintf(out, "      ");
	sg_cli_print_key(m->command[0] ? m->command : "(command not recorded)", WIDTH - 6, out);
	fprintf(out, "      %s mode, Python %s, ", sg_mode_name(m->mode),
	        m->python_version[0] ? m->python_version : "unknown");
	/* What the profile does not give (another tool's pprof has no achieved
	 * rate, a collapsed file no rate or duration) is unknown, not 0. */
	if (m->rate_achieved_hz > 0)
		fprintf(out, "%.1f Hz achieved", m->rate_achieved_hz);
	else
		fprintf(out, "rate achieved unknown");
	fprintf(out, ", %llu samples", (unsigned long long)all);
	if (m->duration_ns)
		fprintf(out, " over %.2f s", (double)m->duration_ns / 1e9);
	if (kept != all)
		fprintf(out, ", %llu kept", (unsigned long long)kept);
	fputc('\n', out);
}

static void text_table(const struct diff_opts *o, struct sg_profile *const p[2],
                       const struct sg_diff *d, FILE *out)
{
	size_t n = sg_diff_nrows(d), shown = o->limit && o->limit < n ? o->limit : n;

	for (int s = 0; s < 2; s++)
		text_side(o, p[s], (enum sg_diff_side)s, d, out);
	fprintf(out,
	        "shares of each side's own samples, in %%; change: new - base, points, with its\n"
	        "95%% interval; *: significant (two-proportion z test, variances times the design\n"
	        "effect, Holm over %zu figures, family-wise alpha %g)\n\n",
	        sg_diff_tests(d), sg_diff_alpha(d));
	fprintf(out, "%-36s  %-36s\n", "self:  base    new  change       95% CI",
	        "total: base    new  change       95% CI");
	for (size_t i = 0; i < shown; i++) {
		const struct sg_diff_row *r = sg_diff_row(d, i);
		int used = print_change(&r->self, out);

		used += fprintf(out, "  ");
		used += print_change(&r->total, out);
		used += fprintf(out, "  ");
		sg_cli_print_key(r->key, WIDTH - used, out);
	}
	if (shown < n)
		fprintf(out, "(%zu more rows under --limit %zu)\n", n - shown, o->limit);
}

/* --- JSON --- */

static int json_change(struct sg_strbuf *sb, const char *name, const struct sg_diff_change *c)
{
	int err = sg_strbuf_addf(sb, "\"%s\":{", name);

	for (int s = 0; !err && s < 2; s++)
		err = sg_strbuf_addf(sb,
		                     "\"%s\":%llu,\"%s_pct\":%.4f,\"%s_ci\":[%.4f,%.4f],"
		                     "\"%s_effect\":%.4f,",
		                     side_names[s], (unsigned long long)c->k[s], side_names[s],
		                     c->pct[s], side_names[s], c->lo[s], c->hi[s], side_names[s],
		                     c->effect[s]);
	return err ? err
	           : sg_strbuf_addf(sb,
	                            "\"change\":%.4f,\"change_ci\":[%.4f,%.4f],\"z\":%.4f,"
	                            "\"p\":%.6g,\"p_holm\":%.6g,\"tested\":%s,\"significant\":%s}",
	                            c->change, c->clo, c->chi, c->z, c->p, c->p_holm,
	                            c->tested ? "true" : "false",
	                            c->significant ? "true" : "false");
}

static int json_side(struct sg_strbuf *sb, const struct diff_opts *o, const struct sg_profile *p,
                     enum sg_diff_side s, const struct sg_diff *d)
{
	const struct sg_meta *m = sg_profile_meta_const(p);
	int err = sg_strbuf_addf(sb, "\"%s\":{\"file\":", side_names[s]);

	err = err ? err : sg_text_json(sb, o->input[s]);
	err = err ? err : sg_strbuf_addstr(sb, ",\"command\":");
	err = err ? err : sg_text_json(sb, m->command);
	err =
	    err ? err
	        : sg_strbuf_addf(sb, ",\"mode\":\"%s\",\"python_version\":", sg_mode_name(m->mode));
	err = err ? err : sg_text_json(sb, m->python_version);
	return err ? err
	           : sg_strbuf_addf(sb,
	                            ",\"rate_asked_hz\":%.3f,\"rate_achieved_hz\":%.3f,"
	                            "\"samples\":%llu,\"duration_s\":%.6f,\"dropped\":%llu,"
	                            "\"kept\":%llu},",
	                            m->rate_asked_hz, m->rate_achieved_hz,
	                            (unsigned long long)sg_profile_total(p),
	                            (double)m->duration_ns / 1e9, (unsigned long long)m->dropped,
	                            (unsigned long long)sg_diff_total(d, s));
}

static int json_table(const struct diff_opts *o, struct sg_profile *const p[2],
                      const struct sg_diff *d, FILE *out)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	size_t n = sg_diff_nrows(d), shown = o->limit && o->limit < n ? o->limit : n;
	int err = sg_strbuf_addch(&sb, '{');

	for (int s = 0; !err && s < 2; s++)
		err = json_side(&sb, o, p[s], (enum sg_diff_side)s, d);
	err = err ? err
	          : sg_strbuf_addf(&sb,
	                           "\"by\":\"%s\",\"test\":{\"method\":\"two-proportion z, "
	                           "pooled, two-sided\",\"correction\":\"holm\",\"alpha\":%g,"
	                           "\"figures\":%zu,\"interval\":\"newcombe hybrid score, "
	                           "95%%\"},\"rows\":[",
	                           by_names[o->by], sg_diff_alpha(d), sg_diff_tests(d));
	for (size_t i = 0; !err && i < shown; i++) {
		const struct sg_diff_row *r = sg_diff_row(d, i);

		err = sg_strbuf_addstr(&sb, i ? ",{\"key\":" : "{\"key\":");
		err = err ? err : sg_text_json(&sb, r->key);
		err = err ? err : sg_strbuf_addch(&sb, ',');
		err = err ? err : json_change(&sb, "self", &r->self);
		err = err ? err : sg_strbuf_addch(&sb, ',');
		err = err ? err : json_change(&sb, "total", &r->total);
		err = err ? err : sg_strbuf_addch(&sb, '}');
	}
	err = err ? err : sg_strbuf_addf(&sb, "],\"rows_left_out\":%zu}\n", n - shown);
	if (!err)
		fwrite(sb.buf, 1, sb.len, out);
	sg_strbuf_release(&sb);
	return err;
}

/* --- the flame graph --- */

struct graph_write {
	const struct sg_diff *d;
	struct sg_diff_graph_opts opts;
};

static int graph_write(void *arg, FILE *out)
{
	const struct graph_write *w = arg;

	return sg_flamegraph_write_diff(w->d, &w->opts, out);
}

/* Side s of a store's diff: its selection's windows, merged into p. */
static int load_selection(const struct diff_opts *o, struct sg_store *store, int s,
                          struct sg_profile *p)
{
	struct sg_store_filter f = sg_cli_selection_filter(&o->select[s]);
	char why[4096];
	uint64_t n;

	if (sg_store_merge(store, &f, p, &n, why, sizeof(why))) {
		sg_cli_error("%s", why);
		return SG_EXIT_FAIL;
	}
	if (!n) {
		sg_cli_error("--%s %s: no %s windows in %s (see spyglass query %s --list)",
		             side_names[s], o->input[s], sg_mode_name(f.mode), o->store, o->store);
		return SG_EXIT_FAIL;
	}
	return 0;
}

/* Read both profiles and ask each the same query. */
static int load(const struct diff_opts *o, struct sg_profile *p[2], struct sg_query *q[2])
{
	struct sg_store *store = NULL;
	char why[4096];

	if (o->store && sg_store_open(o->store, false, true, &store, why, sizeof(why))) {
		sg_cli_error("%s", why);
		return SG_EXIT_FAIL;
	}
	for (int s = 0; s < 2; s++) {
		int err;

		p[s] = sg_profile_new();
		if (!p[s]) {
			sg_cli_error("out of memory");
			sg_store_close(store);
			return SG_EXIT_FAIL;
		}
		if (store ? load_selection(o, store, s, p[s])
		          : sg_cli_read_profile(o->input[s], p[s])) {
			sg_store_close(store);
			return SG_EXIT_FAIL;
		}
		err = sg_query_new(p[s], o->by, &o->filters.filter, &q[s]);
		if (err == SG_EUSAGE) {
			sg_cli_error("--from/--to: %s has no times (a collapsed file has none)",
			             o->input[s]);
			sg_store_close(store);
			return SG_EXIT_USAGE;
		} else if (err) {
			sg_cli_error("%s", sg_err_str(err));
			sg_store_close(store);
			return SG_EXIT_FAIL;
		}
	}
	sg_store_close(store);
	return 0;
}

int cmd_diff(int argc, char **argv)
{
	struct diff_opts o = {.limit = 20, .alpha = SG_DIFF_ALPHA, .filters = SG_CLI_FILTERS_INIT};
	struct sg_profile *p[2] = {NULL, NULL};
	struct sg_query *q[2] = {NULL, NULL};
	struct sg_outfile *of = NULL;
	struct sg_diff *d = NULL;
	int status, err;

	status = parse_args(argc, argv, &o);
	if (status) {
		sg_cli_filters_release(&o.filters);
		return status < 0 ? SG_EXIT_OK : status;
	}
	if (o.output) {
		of = sg_cli_prepare_output(o.output);
		if (!of) {
			status = SG_EXIT_FAIL;
			goto out;
		}
	}
	if (!o.full_filenames)
		o.filters.filter.file_name = sg_cli_short_file;
	o.filters.filter.effects = true;
	status = load(&o, p, q);
	if (status)
		goto out;
	status = SG_EXIT_FAIL;
	err = sg_diff_new(q[0], q[1], o.alpha, o.output != NULL, &d);
	if (err) {
		sg_cli_error("%s", sg_err_str(err));
		goto out;
	}
	if (o.output) {
		struct graph_write w = {d,
		                        {.on_base = o.reverse,
		                         .base_name = o.input[0],
		                         .new_name = o.input[1],
		                         .by = by_names[o.by]}};

		err = sg_cli_write_with(graph_write, &w, of);
	} else if (o.format == OUT_JSON) {
		err = json_table(&o, p, d, stdout);
		if (err)
			sg_cli_error("%s", sg_err_str(err));
	} else {
		text_table(&o, p, d, stdout);
	}
	if (!err)
		status = SG_EXIT_OK;
out:
	sg_diff_free(d);
	for (int s = 0; s < 2; s++) {
		sg_query_free(q[s]);
		sg_profile_free(p[s]);
	}
	sg_outfile_free(of);
	sg_cli_filters_release(&o.filters);
	return status;
}
