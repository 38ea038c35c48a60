/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "store/store.h"
#include "util/err.h"

struct query_opts {
	const char *store, *output, *format;
	const char *from, *to;
	struct sg_cli_selection sel; /* --where and --mode */
	bool list, processes;
	struct sg_write_opts render;
};

enum {
	OPT_FROM = 256,
	OPT_TO,
	OPT_WHERE,
	OPT_MODE,
	OPT_LIST,
	OPT_PROCESSES,
};

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"where", required_argument, NULL, OPT_WHERE},
    {"mode", required_argument, NULL, OPT_MODE},
    {"list", no_argument, NULL, OPT_LIST},
    {"subprocesses", no_argument, NULL, OPT_PROCESSES},
    SG_CLI_RENDER_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass query STORE [--from TIME] [--to TIME] [--where K=V,...] -o FILE\n"
    "       spyglass query STORE [--from TIME] [--to TIME] [--where K=V,...] --list\n"
    "\n"
    "Merge the windows of a store (spyglass agent) that overlap a time range and\n"
    "carry some labels into one profile, or list the series there are.\n"
    "TIME: RFC 3339 (2026-12-02T03:00:00Z) or before now: -90s, -30m, -1h, -7d.\n"
    "\n"
    "  -o, --output FILE     where to write the merged profile, - for standard output\n"
    "  -f, --format FORMAT   output format: %s (default: from FILE's extension)\n"
    "      --from TIME       windows that end after TIME (default: the first)\n"
    "      --to TIME         windows that start before TIME (default: now)\n"
    "      --where K=V,...   windows whose series has every label K=V (repeatable)\n"
    "      --mode cpu|wall   which of the agent's two profiles (default cpu)\n"
    "      --list            print the series (labels), their time ranges and samples\n"
    "      --threads         a root frame per thread: 'thread TID: NAME'\n"
    "      --threads=group   a root frame per group of threads named alike but for a\n"
    "                        number\n"
    "      --subprocesses    a root frame per process: 'process PID: COMMAND'\n" SG_CLI_RENDER_HELP
    "  -h, --help            this help\n";

static int parse_args(int argc, char **argv, struct query_opts *o)
{
	int c, shared;

	memset(o, 0, sizeof(*o));
	sg_cli_selection_init(&o->sel, false);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:f:h", options, NULL)) != -1) {
		shared = sg_cli_render_option(&o->render, c, optarg);
		if (shared == SG_EXIT_USAGE)
			return SG_EXIT_USAGE;
		if (shared)
			continue;
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case 'f':
			if (sg_cli_check_format(optarg))
				return SG_EXIT_USAGE;
			o->format = optarg;
			break;
		case OPT_FROM:
			o->from = optarg;
			break;
		case OPT_TO:
			o->to = optarg;
			break;
		case OPT_WHERE:
			if (sg_cli_parse_selection("--where", optarg, &o->sel))
				return SG_EXIT_USAGE;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "cpu") && strcmp(optarg, "wall")) {
				sg_cli_error("--mode: expected cpu or wall, got '%s'", optarg);
				return SG_EXIT_USAGE;
			}
			o->sel.mode = !strcmp(optarg, "wall") ? SG_MODE_WALL : SG_MODE_CPU;
			break;
		case OPT_LIST:
			o->list = true;
			break;
		case OPT_PROCESSES:
			o->processes = true;
			break;
		case 'h':
			printf(help, sg_format_names());
			return -1;
		default:
			return sg_cli_bad_option("query", argv);
		}
	}
	if (optind != argc - 1) {
		sg_cli_error(optind == argc ? "no store: spyglass query STORE -o FILE (or --list)"
		                            : "one store only");
		return SG_EXIT_USAGE;
	}
	o->store = argv[optind];
	if (!o->output == !o->list) {
		sg_cli_error(o->list ? "give -o FILE or --list, not both"
		                     : "no output: give -o FILE, or --list for the series");
		return SG_EXIT_USAGE;
	}
	return 0;
}

static int print_series(void *ctx, const struct sg_store_series *s)
{
	char first[32], last[32];

	(void)ctx;
	sg_cli_format_time(s->first_ns, first, sizeof(first));
	sg_cli_format_time(s->last_ns, last, sizeof(last));
	printf("%-4s  %s  %s  %6llu  %9llu  %s\n", sg_mode_name(s->mode), first, last,
	       (unsigned long long)s->windows, (unsigned long long)s->samples, s->labels);
	return 0;
}

int cmd_query(int argc, char **argv)
{
	struct query_opts o;
	struct sg_store_filter f;
	struct sg_store *store = NULL;
	struct sg_profile *p = NULL;
	struct sg_outfile *of = NULL;
	struct timespec now;
	uint64_t now_ns, nwindows;
	char why[4096], first[32], last[32];
	int status;

	status = parse_args(argc, argv, &o);
	if (status)
		return status < 0 ? SG_EXIT_OK : status;
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	f = sg_cli_selection_filter(&o.sel);
	if ((o.from && sg_cli_parse_time(o.from, now_ns, &f.from_ns)) ||
	    (o.to && sg_cli_parse_time(o.to, now_ns, &f.to_ns))) {
		sg_cli_error(
		    "--%s: expected RFC 3339 (2026-12-02T03:00:00Z) or -30m, -1h, -7d, "
		    "got '%s'",
		    o.from && sg_cli_parse_time(o.from, now_ns, &f.from_ns) ? "from" : "to",
		    o.from && sg_cli_parse_time(o.from, now_ns, &f.from_ns) ? o.from : o.to);
		return SG_EXIT_USAGE;
	}
	if (f.from_ns >= f.to_ns) {
		sg_cli_error("--from must come before --to");
		return SG_EXIT_USAGE;
	}
	if (o.list)
		f.mode = SG_MODE_UNKNOWN;
	status = SG_EXIT_FAIL;
	if (!o.list && !(of = sg_cli_prepare_output(o.output)))
		goto out;
	if (sg_store_open(o.store, false, true, &store, why, sizeof(why))) {
		sg_cli_error("%s", why);
		goto out;
	}
	if (o.list) {
		printf("mode  from                  to                    windows    samples  "
		       "labels\n");
		if (sg_store_list(store, &f, print_series, NULL, why, sizeof(why)))
			sg_cli_error("%s", why);
		else
			status = SG_EXIT_OK;
		goto out;
	}
	p = sg_profile_new();
	if (!p) {
		sg_cli_error("out of memory");
		goto out;
	}
	if (sg_store_merge(store, &f, p, &nwindows, why, sizeof(why))) {
		sg_cli_error("%s", why);
		goto out;
	}
	if (!nwindows) {
		sg_cli_error("no %s windows in %s match (see spyglass query %s --list)",
		             sg_mode_name(o.sel.mode), o.store, o.store);
		goto out;
	}
	o.render.processes = o.processes;
	if (sg_cli_write(sg_cli_output_format(o.format, o.output), p, &o.render, of))
		goto out;
	sg_cli_format_time(sg_profile_meta(p)->start_unix_ns, first, sizeof(first));
	sg_cli_format_time(sg_profile_meta(p)->start_unix_ns + sg_profile_meta(p)->duration_ns,
	                   last, sizeof(last));
	fprintf(stderr, "spyglass: wrote %s: %llu %s windows, %llu samples, %s to %s\n",
	        sg_outfile_name(of), (unsigned long long)nwindows, sg_mode_name(o.sel.mode),
	        (unsigned long long)sg_profile_total(p), first, last);
	status = SG_EXIT_OK;
out:
	sg_profile_free(p);
	sg_outfile_free(of);
	sg_store_close(store);
	return status;
}
