/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/format.h"
#include "profile/report.h"
#include "sampler/sampler.h"
#include "target/launch.h"
#include "util/err.h"

#define TOP_FUNCTIONS 10

struct record_opts {
	const char *output;
	const char *format;
	pid_t pid;
	bool threads;
	struct sg_write_opts render;
	struct sg_sampler_opts sampler;
};

/* Defaults, in one place: py-spy's where it has the same option. */
static const struct record_opts defaults = {
    .sampler = {.rate_hz = 100, .mode = SG_MODE_CPU},
};

enum {
	OPT_MODE = 256,
	OPT_GIL,
	OPT_THREADS,
	OPT_FUNCTION,
	OPT_SUBPROCESSES,
	OPT_VERSION,
	OPT_REVERSE,
	OPT_ICICLE
};

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"rate", required_argument, NULL, 'r'},
    {"duration", required_argument, NULL, 'd'},
    {"pid", required_argument, NULL, 'p'},
    {"mode", required_argument, NULL, OPT_MODE},
    {"gil", no_argument, NULL, OPT_GIL},
    {"threads", no_argument, NULL, OPT_THREADS},
    {"function", no_argument, NULL, OPT_FUNCTION},
    {"subprocesses", no_argument, NULL, OPT_SUBPROCESSES},
    {"reverse", no_argument, NULL, OPT_REVERSE},
    {"icicle", no_argument, NULL, OPT_ICICLE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass record [OPTIONS] --pid PID\n"
    "       spyglass record [OPTIONS] -- COMMAND [ARGS...]\n"
    "\n"
    "Sample a Python program's stacks from outside, without stopping it.\n"
    "\n"
    "  -p, --pid PID         attach to a running process\n"
    "  -o, --output FILE     where to write the profile (default spyglass-PID.folded)\n"
    "  -f, --format FORMAT   output format: %s (default: from FILE's extension)\n"
    "  -r, --rate HZ         samples per second (default 100)\n"
    "  -d, --duration SECS   stop after SECS seconds (default: when the program exits)\n"
    "      --mode cpu|wall   cpu: threads on a CPU only (default); wall: all threads,\n"
    "                        idle ones marked [idle]\n"
    "      --gil             only the thread holding the GIL\n"
    "      --threads         a root frame per thread: 'thread TID: NAME'\n"
    "      --function        one frame per function (its first line), not per line\n"
    "      --subprocesses    also sample child processes, under 'process PID: "
    "COMMAND'\n" SG_CLI_RENDER_HELP "  -h, --help            this help\n"
    "      --version         print the version\n";

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Strict number parsing: the whole string, finite, in range. */
static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct record_opts *o, char ***command)
{
	double v;
	int c;

	*o = defaults;
	*command = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:f:r:d:p:h", options, NULL)) != -1) {
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
			if (parse_double(optarg, 1e-3, 1e6, &v)) {
				sg_cli_error("-r: expected a rate in Hz between 0.001 and 1000000, "
				             "got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			o->sampler.rate_hz = v;
			break;
		case 'd':
			if (parse_double(optarg, 1e-3, 1e9, &v)) {
				sg_cli_error("-d: expected a positive number of seconds, got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			o->sampler.duration_s = v;
			break;
		case 'p':
			if (parse_double(optarg, 1, 4194304, &v) || v != floor(v)) {
				sg_cli_error("--pid: expected a process id, got '%s'", optarg);
				return SG_EXIT_USAGE;
			}
			o->pid = (pid_t)v;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "cpu") == 0) {
				o->sampler.mode = SG_MODE_CPU;
			} else if (strcmp(optarg, "wall") == 0) {
				o->sampler.mode = SG_MODE_WALL;
			} else {
				sg_cli_error("--mode: expected cpu or wall, got '%s'", optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_GIL:
			o->sampler.gil = true;
			break;
		case OPT_REVERSE:
			o->render.reverse = true;
			break;
		case OPT_ICICLE:
			o->render.icicle = true;
			break;
		case OPT_THREADS:
			o->threads = true;
			break;
		case OPT_FUNCTION:
			o->sampler.function = true;
			break;
		case OPT_SUBPROCESSES:
			o->sampler.subprocesses = true;
			break;
		case 'h':
			printf(help, sg_format_names());
			return -1;
		case OPT_VERSION:
			puts("spyglass " SG_VERSION);
			return -1;
		case '?':
		default:
			if (optopt && optopt < 256)
				sg_cli_error("unknown option '-%c' (see spyglass record --help)",
				             optopt);
			else
				sg_cli_error("unknown or incomplete option '%s' (see spyglass "
				             "record --help)",
				             argv[optind - 1]);
			return SG_EXIT_USAGE;
		}
	}
	if (optind < argc)
		*command = argv + optind;
	if (!o->pid == !*command) {
		sg_cli_error(o->pid ? "give either --pid or a command, not both"
		                    : "nothing to profile: give --pid PID or -- COMMAND");
		return SG_EXIT_USAGE;
	}
	return 0;
}

static int set_command_meta(struct sg_profile *p, pid_t pid, char **command)
{
	struct sg_meta *meta = sg_profile_meta(p);
	char text[4096];
	size_t used = 0;

	text[0] = '\0';
	if (!command)
		snprintf(text, sizeof(text), "pid %d", (int)pid);
	for (char **arg = command; arg && *arg && used < sizeof(text); arg++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
		                         arg == command ? "" : " ", *arg);
	return sg_profile_set_meta_str(p, &meta->command, text);
}

static void print_summary(const struct sg_profile *p, const struct sg_sampler_stats *st,
                          const char *output)
{
	const struct sg_meta *m = sg_profile_meta_const(p);
	double per_sample_us = m->samples ? st->cpu_s * 1e6 / (double)m->samples : 0;

	fprintf(stderr, "spyglass: wrote %s\n", output);
	fprintf(stderr, "  samples: %llu over %.2f s (Python %s, %s mode)\n",
	        (unsigned long long)m->samples, st->wall_s,
	        m->python_version[0] ? m->python_version : "?",
	        m->mode == SG_MODE_CPU ? "cpu" : "wall");
	fprintf(stderr, "  rate: asked %.1f Hz, achieved %.1f Hz (%llu of %llu ticks missed)\n",
	        m->rate_asked_hz, m->rate_achieved_hz, (unsigned long long)st->ticks_missed,
	        (unsigned long long)(st->ticks + st->ticks_missed));
	fprintf(stderr,
	        "  dropped: %llu (torn %llu, unreadable %llu, too deep %llu); torn walks "
	        "retried: %llu\n",
	        (unsigned long long)m->dropped, (unsigned long long)m->dropped_torn,
	        (unsigned long long)m->dropped_read, (unsigned long long)m->dropped_depth,
	        (unsigned long long)st->retries);
	fprintf(stderr,
	        "  profiler CPU: %.2f%% of one core, %.1f us per sample (%.1f ms to start)\n",
	        st->wall_s > 0 ? 100.0 * st->cpu_s / st->wall_s : 0.0, per_sample_us,
	        st->setup_cpu_s * 1e3);
	if (sg_profile_total(p)) {
		fputs("  hottest functions by self share:\n", stderr);
		sg_report_print_top(p, TOP_FUNCTIONS, stderr);
	}
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o;
	struct sg_sampler_stats stats;
	const struct sg_format *fmt;
	struct sg_profile *p;
	struct sigaction sa = {.sa_handler = on_stop_signal};
	char **command, default_output[64], why[512];
	const char *output;
	int exec_errno = 0, err, status;
	pid_t pid;
	FILE *out;

	status = parse_args(argc, argv, &o, &command);
	if (status)
		return status < 0 ? SG_EXIT_OK : status;
	fmt = sg_cli_output_format(o.format, o.output);

	/* Ignore SIGINT/SIGTERM from here on: they end the run, and the output
	 * is still written. A launched child keeps default handling. */
	stop_requested = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	pid = o.pid;
	if (command) {
		err = sg_launch(command, &pid, &exec_errno);
		if (err) {
			sg_cli_error("cannot start '%s': %s", command[0], strerror(exec_errno));
			return SG_EXIT_FAIL;
		}
	}
	snprintf(default_output, sizeof(default_output), "spyglass-%d%s", (int)pid,
	         fmt->extensions[0]);
	output = o.output ? o.output : default_output;
	/* Open the output before sampling, so a bad path fails at once. */
	out = fopen(output, "we");
	if (!out) {
		sg_cli_error("cannot write the output file %s: %s", output, strerror(errno));
		status = SG_EXIT_FAIL;
		goto out_stop_child;
	}
	p = sg_profile_new();
	if (!p || set_command_meta(p, pid, command)) {
		sg_cli_error("out of memory");
		status = SG_EXIT_FAIL;
		goto out_close;
	}
	o.sampler.launched = command != NULL;
	err = sg_sampler_run(pid, &o.sampler, p, &stats, &stop_requested, why, sizeof(why));
	if (err) {
		sg_cli_error("%s", why);
		status = SG_EXIT_FAIL;
		goto out_free;
	}
	sg_profile_meta(p)->by_thread = o.threads;
	o.render.threads = o.threads;
	o.render.processes = o.sampler.subprocesses;
	err = sg_cli_write(fmt, p, &o.render, out, output);
	out = NULL;
	if (err) {
		status = SG_EXIT_FAIL;
		goto out_free;
	}
	print_summary(p, &stats, output);
	status = SG_EXIT_OK;
out_free:
	sg_profile_free(p);
out_close:
	if (out) {
		fclose(out);
		remove(output);
	}
out_stop_child:
	/* The sampler reaps a launched child; this covers early failures. */
	if (command && status != SG_EXIT_OK)
		sg_launch_stop(pid, 1000);
	return status;
}
