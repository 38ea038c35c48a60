/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/err.h"

struct convert_opts {
	const char *input;
	const char *output;
	const char *format;
	bool processes;
	double rate_hz;   /* --rate, 0 when not given */
	bool value_given; /* --value; else the growth view for record --memory's */
	struct sg_write_opts render;
};

enum { OPT_PROCESSES = 256, OPT_VALUE };

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"rate", required_argument, NULL, 'r'},
    {"subprocesses", no_argument, NULL, OPT_PROCESSES},
    SG_CLI_RENDER_OPTIONS,
    {"value", required_argument, NULL, OPT_VALUE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass convert [OPTIONS] INPUT -o OUTPUT\n"
    "\n"
    "Write a saved profile (pprof or collapsed) in another format.\n"
    "\n"
    "  -o, --output FILE     where to write, - for standard output\n"
    "  -f, --format FORMAT   output format: %s (default: from FILE's extension)\n"
    "  -r, --rate HZ         the rate INPUT was sampled at, when it does not say\n"
    "                        (collapsed): each sample then stands for 1/HZ s\n"
    "      --threads         a root frame per thread (default: as recorded)\n"
    "      --threads=group   a root frame per group of threads named alike but for a\n"
    "                        number (default: as recorded)\n"
    "      --subprocesses    a root frame per process (default: as recorded)\n"
    "      --value VALUE     what a stack weighs: samples, rss_growth or rss_freed\n"
    "                        (default: rss_growth for record --memory's, else "
    "samples)\n" SG_CLI_RENDER_HELP "  -h, --help            this help\n";

static int parse_args(int argc, char **argv, struct convert_opts *o)
{
	int c, shared;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:f:r:h", options, NULL)) != -1) {
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
		case 'r':
			if (sg_cli_parse_double(optarg, 1e-3, 1e6, &o->rate_hz)) {
				sg_cli_error("-r: expected a rate in Hz between 0.001 and 1000000, "
				             "got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_PROCESSES:
			o->processes = true;
			break;
		case OPT_VALUE:
			if (!sg_value_parse(optarg, &o->render.value)) {
				sg_cli_error(
				    "--value: expected samples, rss_growth or rss_freed, got "
				    "'%s'",
				    optarg);
				return SG_EXIT_USAGE;
			}
			o->value_given = true;
			break;
		case 'h':
			printf(help, sg_format_names());
			return -1;
		default:
			return sg_cli_bad_option("convert", argv);
		}
	}
	if (optind != argc - 1) {
		sg_cli_error(optind == argc ? "no input file: spyglass convert INPUT -o OUTPUT"
		                            : "one input file only");
		return SG_EXIT_USAGE;
	}
	o->input = argv[optind];
	if (!o->output) {
		sg_cli_error("no output file: give -o OUTPUT");
		return SG_EXIT_USAGE;
	}
	return 0;
}

/* --rate: the rate the input does not give, and the times it implies for
 * rows that have none (count / rate). 0 or SG_ENOMEM. */
static int apply_rate(struct sg_profile *p, double rate_hz)
{
	struct sg_meta *m = sg_profile_meta(p);
	uint64_t period = (uint64_t)llround(1e9 / rate_hz);

	if (m->rate_asked_hz > 0) {
		sg_cli_error("--rate: the input says its rate already (%g Hz)", m->rate_asked_hz);
		return SG_EUSAGE;
	}
	m->rate_asked_hz = rate_hz;
	for (size_t i = 0; i < sg_profile_nsamples(p); i++) {
		/* A copy: adding to a row may move the rows. */
		struct sg_sample s = *sg_profile_sample(p, i);
		int err;

		if (s.weight_ns)
			continue;
		err = sg_profile_add(p, s.stack, &s.labels, 0,
		                     s.count > UINT64_MAX / period ? UINT64_MAX : s.count * period);
		if (err) {
			sg_cli_error("out of memory");
			return err;
		}
	}
	return 0;
}

int cmd_convert(int argc, char **argv)
{
	struct convert_opts o;
	const struct sg_format *fmt;
	struct sg_outfile *of;
	struct sg_profile *p;
	int status;

	status = parse_args(argc, argv, &o);
	if (status)
		return status < 0 ? SG_EXIT_OK : status;
	fmt = sg_cli_output_format(o.format, o.output);
	of = sg_cli_prepare_output(o.output);
	if (!of)
		return SG_EXIT_FAIL;
	p = sg_profile_new();
	status = SG_EXIT_FAIL;
	if (!p) {
		sg_cli_error("out of memory");
		goto out;
	}
	if (sg_cli_read_profile(o.input, p) || (o.rate_hz > 0 && apply_rate(p, o.rate_hz)))
		goto out;
	/* Without --threads, as recorded. */
	if (!o.render.threads) {
		o.render.threads = sg_profile_meta(p)->by_thread;
		o.render.thread_groups = sg_profile_meta(p)->thread_groups;
	}
	o.render.processes = o.processes || sg_profile_meta(p)->by_process;
	if (!o.value_given && sg_profile_meta(p)->memory)
		o.render.value = SG_VALUE_RSS_GROWTH;
	if (sg_cli_write(fmt, p, &o.render, of) == 0)
		status = SG_EXIT_OK;
out:
	sg_profile_free(p);
	sg_outfile_free(of);
	return status;
}
