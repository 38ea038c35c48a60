/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/err.h"

struct convert_opts {
	const char *input;
	const char *output;
	const char *format;
	bool threads, processes;
	struct sg_write_opts render;
};

enum { OPT_THREADS = 256, OPT_PROCESSES, OPT_REVERSE, OPT_ICICLE };

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"threads", no_argument, NULL, OPT_THREADS},
    {"subprocesses", no_argument, NULL, OPT_PROCESSES},
    {"reverse", no_argument, NULL, OPT_REVERSE},
    {"icicle", no_argument, NULL, OPT_ICICLE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass convert INPUT -o OUTPUT [-f FORMAT]\n"
    "\n"
    "Write a saved profile (pprof or collapsed) in another format.\n"
    "\n"
    "  -o, --output FILE     where to write\n"
    "  -f, --format FORMAT   output format: %s (default: from FILE's extension)\n"
    "      --threads         a root frame per thread (default: as recorded)\n"
    "      --subprocesses    a root frame per process (default: as recorded)\n" SG_CLI_RENDER_HELP
    "  -h, --help            this help\n";

static int parse_args(int argc, char **argv, struct convert_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:f:h", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case 'f':
			if (sg_cli_check_format(optarg))
				return SG_EXIT_USAGE;
			o->format = optarg;
			break;
		case OPT_THREADS:
			o->threads = true;
			break;
		case OPT_PROCESSES:
			o->processes = true;
			break;
		case OPT_REVERSE:
			o->render.reverse = true;
			break;
		case OPT_ICICLE:
			o->render.icicle = true;
			break;
		case 'h':
			printf(help, sg_format_names());
			return -1;
		default:
			sg_cli_error(
			    "%s: unknown option or missing value (try spyglass convert --help)",
			    argv[optind - 1]);
			return SG_EXIT_USAGE;
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

/* Read path into p with the format its first bytes or its name say. */
static int read_profile(const char *path, struct sg_profile *p)
{
	unsigned char head[16];
	const struct sg_format *fmt;
	char why[256] = "";
	size_t n;
	FILE *in;
	int err;

	in = fopen(path, "re");
	if (!in) {
		sg_cli_error("cannot read %s: %s", path, strerror(errno));
		return SG_EIO;
	}
	n = fread(head, 1, sizeof(head), in);
	if (ferror(in) || fseek(in, 0, SEEK_SET) != 0) {
		sg_cli_error("cannot read %s: not a regular file", path);
		fclose(in);
		return SG_EIO;
	}
	fmt = sg_format_for_input(path, head, n);
	err = fmt->read(in, p, why, sizeof(why));
	fclose(in);
	if (err)
		sg_cli_error("%s is not a valid %s profile: %s", path, fmt->name,
		             why[0] ? why : sg_err_str(err));
	return err;
}

int cmd_convert(int argc, char **argv)
{
	struct convert_opts o;
	const struct sg_format *fmt;
	struct sg_profile *p;
	int status;
	FILE *out;

	status = parse_args(argc, argv, &o);
	if (status)
		return status < 0 ? SG_EXIT_OK : status;
	fmt = sg_cli_output_format(o.format, o.output);
	p = sg_profile_new();
	if (!p) {
		sg_cli_error("out of memory");
		return SG_EXIT_FAIL;
	}
	status = SG_EXIT_FAIL;
	if (read_profile(o.input, p))
		goto out;
	out = fopen(o.output, "we");
	if (!out) {
		sg_cli_error("cannot write the output file %s: %s", o.output, strerror(errno));
		goto out;
	}
	o.render.threads = o.threads || sg_profile_meta(p)->by_thread;
	o.render.processes = o.processes || sg_profile_meta(p)->by_process;
	if (sg_cli_write(fmt, p, &o.render, out, o.output) == 0)
		status = SG_EXIT_OK;
out:
	sg_profile_free(p);
	return status;
}
