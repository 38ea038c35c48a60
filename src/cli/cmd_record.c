/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cli/cli.h"
#include "formats/format.h"
#include "formats/text.h"
#include "formats/timeline.h"
#include "profile/report.h"
#include "python/pywalk.h"
#include "sampler/perfsampler.h"
#include "sampler/sampler.h"
#include "target/launch.h"
#include "target/proc.h"
#include "util/err.h"

#define TOP_FUNCTIONS 10
/* After Ctrl-C, how long a launched program (which the terminal sent SIGINT
 * too) may take to end on its own, sampled, before it is sent SIGTERM. */
#define INTERRUPT_GRACE_S 5.0
/* Short-lived threads from which the summary suggests --threads=group. */
#define SHORT_LIVED_HINT 10

struct record_opts {
	double period_s;  /* --period: a file per window, 0 for one file */
	bool native_only; /* --native-only: perf_events, even on CPython */
	const char *output;
	const char *format;
	struct sg_write_opts render;
	struct sg_cli_target target;
};

/* Defaults, in one place: py-spy's where it has the same option. */
static const struct record_opts defaults = {
    .target.sampler = {.rate_hz = 100,
                       .mode = SG_MODE_CPU,
                       .grace_s = INTERRUPT_GRACE_S,
                       .clock = SG_CLOCK_CPU},
};

enum {
	OPT_FUNCTION = SG_CLI_OPT_OWN,
	OPT_MAX_DEPTH,
	OPT_PERIOD,
	OPT_UNWIND,
	OPT_CLOCK,
	OPT_MEMORY,
	OPT_NATIVE_ONLY,
	OPT_NATIVE,
	OPT_NATIVE_ALL,
};

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    SG_CLI_TARGET_OPTIONS,
    {"duration", required_argument, NULL, 'd'},
    {"function", no_argument, NULL, OPT_FUNCTION},
    {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
    {"unwind", required_argument, NULL, OPT_UNWIND},
    {"clock", required_argument, NULL, OPT_CLOCK},
    {"period", required_argument, NULL, OPT_PERIOD},
    {"memory", no_argument, NULL, OPT_MEMORY},
    {"native-only", no_argument, NULL, OPT_NATIVE_ONLY},
    {"native", no_argument, NULL, OPT_NATIVE},
    {"native-all", no_argument, NULL, OPT_NATIVE_ALL},
    SG_CLI_RENDER_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, SG_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass record [OPTIONS] --pid PID\n"
    "       spyglass record [OPTIONS] -- COMMAND [ARGS...]\n"
    "\n"
    "Sample a program's stacks from outside, without stopping it: CPython by\n"
    "reading its memory, any other program through perf_events.\n"
    "\n"
    "  -p, --pid PID         attach to a running process\n"
    "  -o, --output FILE     where to write the profile, - for standard output\n"
    "                        (default spyglass-PID.EXT, EXT the format's: .folded...)\n"
    "  -f, --format FORMAT   output format: %s (default: from FILE's extension)\n"
    "  -r, --rate HZ         samples per second (default 100)\n"
    "  -d, --duration SECS   stop after SECS seconds of wall time (default: when the\n"
    "                        program exits)\n"
    "      --mode cpu|wall   cpu: threads on a CPU only (default); wall: all threads,\n"
    "                        idle ones marked [idle]\n"
    "      --gil             only the thread holding the GIL\n"
    "      --clock cpu|timer cpu mode on Python: sample a thread per period of its\n"
    "                        own CPU time (perf_events; default where allowed), or\n"
    "                        wake every period and sample the threads running\n"
    "      --threads         a root frame per thread: 'thread TID: NAME'\n"
    "      --threads=group   a root frame per group of threads named alike but for a\n"
    "                        number: 'threads Thread-*'\n"
    "      --function        one frame per function (its first line), not per line\n"
    "      --subprocesses    also sample child processes, under 'process PID: "
    "COMMAND'\n"
    "      --max-depth N     frames kept per sample (default 4096); deeper stacks keep\n"
    "                        both ends and '[K frames omitted]' between them\n"
    "      --unwind auto|fp|dwarf  native stacks by frame pointers, by DWARF CFI\n"
    "                        over a copy of the stack, or per binary (default auto)\n"
    "      --native-only     sample through perf_events even a CPython, as perf\n"
    "                        does: its C frames, and with -X perf (3.12+) its\n"
    "                        Python functions as JIT frames 'py::NAME:FILE'\n"
    "      --period SECS     a file per SECS of the run, written as it goes on:\n"
    "                        out.pb.gz becomes out.0001.pb.gz, "
    "out.0002.pb.gz...\n"
    "      --memory          also read the RSS at every sample and give its growth\n"
    "                        to the stack holding the GIL: the flame graph of memory\n"
    "                        growth (pprof: rss_growth/bytes, rss_freed/bytes)\n"
    "      --native          Python targets: C frames too (interpreter, extensions,\n"
    "                        libraries, kernel) with the Python frames in their place\n"
    "      --native-all      --native, keeping the interpreter's calling "
    "machinery\n" SG_CLI_RENDER_HELP "  -h, --help            this help\n"
    "      --version         print the version\n"
    "\n"
    "spyglass exits with a launched program's status (128+N if signal N killed it).\n"
    "On Ctrl-C the program gets %g s to end on its own; a second Ctrl-C ends it.\n";

/* Strict number parsing: the whole string, finite, in range. */
static int parse_args(int argc, char **argv, struct record_opts *o)
{
	double v;
	int c, shared;

	*o = defaults;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:f:r:d:p:h", options, NULL)) != -1) {
		shared = sg_cli_target_option(&o->target, c, optarg);
		if (!shared)
			shared = sg_cli_render_option(&o->render, c, optarg);
		if (shared == 1)
			continue;
		if (shared)
			return shared;
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case 'f':
			if (sg_cli_check_format(optarg))
				return SG_EXIT_USAGE;
			o->format = optarg;
			break;
		case 'd':
			if (sg_cli_parse_double(optarg, 1e-3, 1e9, &v)) {
				sg_cli_error("-d: expected a positive number of seconds, got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			o->target.sampler.duration_s = v;
			break;
		case OPT_FUNCTION:
			o->target.sampler.function = true;
			break;
		case OPT_UNWIND:
			if (strcmp(optarg, "auto") == 0) {
				o->target.sampler.unwind = SG_UNWIND_AUTO;
			} else if (strcmp(optarg, "fp") == 0) {
				o->target.sampler.unwind = SG_UNWIND_FP;
			} else if (strcmp(optarg, "dwarf") == 0) {
				o->target.sampler.unwind = SG_UNWIND_DWARF;
			} else {
				sg_cli_error("--unwind: expected auto, fp or dwarf, got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_CLOCK:
			if (strcmp(optarg, "cpu") == 0) {
				o->target.sampler.clock = SG_CLOCK_CPU;
			} else if (strcmp(optarg, "timer") == 0) {
				o->target.sampler.clock = SG_CLOCK_TIMER;
			} else {
				sg_cli_error("--clock: expected cpu or timer, got '%s'", optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_MAX_DEPTH:
			if (sg_cli_parse_double(optarg, 2, SG_PYWALK_WALK_LIMIT, &v) ||
			    v != floor(v)) {
				sg_cli_error(
				    "--max-depth: expected a whole number of frames between "
				    "2 and %u, got '%s'",
				    SG_PYWALK_WALK_LIMIT, optarg);
				return SG_EXIT_USAGE;
			}
			o->target.sampler.max_depth = (size_t)v;
			break;
		case OPT_NATIVE_ALL:
			o->target.sampler.native_all = true;
			/* fall through */
		case OPT_NATIVE:
			o->target.sampler.native = true;
			break;
		case OPT_MEMORY:
			o->target.sampler.memory = true;
			o->render.value = SG_VALUE_RSS_GROWTH;
			break;
		case OPT_NATIVE_ONLY:
			o->native_only = true;
			break;
		case OPT_PERIOD:
			if (sg_cli_parse_double(optarg, 0.1, 1e9, &v)) {
				sg_cli_error("--period: expected seconds, at least 0.1, got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			o->period_s = v;
			break;
		case 'h':
			printf(help, sg_format_names(), INTERRUPT_GRACE_S);
			return -1;
		case SG_CLI_OPT_VERSION:
			puts("spyglass " SG_VERSION);
			return -1;
		case '?':
		default:
			return sg_cli_bad_option("record", argv);
		}
	}
	if (o->native_only && (o->target.sampler.gil || o->target.sampler.memory)) {
		sg_cli_error("--native-only samples no Python state: %s needs the Python sampler",
		             o->target.sampler.gil ? "--gil" : "--memory");
		return SG_EXIT_USAGE;
	}
	if (o->native_only && o->target.sampler.native) {
		sg_cli_error("--native and --native-only do not go together: --native merges "
		             "Python frames in, --native-only leaves them to the JIT map");
		return SG_EXIT_USAGE;
	}
	if (sg_cli_native_check(&o->target))
		return SG_EXIT_USAGE;
	if (o->period_s && o->output && strcmp(o->output, "-") == 0) {
		sg_cli_error("--period writes a file per window: give -o FILE, not -");
		return SG_EXIT_USAGE;
	}
	return sg_cli_target_finish(&o->target, argc, argv);
}

/* One line on a terminal, rewritten in place: the run's progress. */
static void show_progress(void *ctx, const struct sg_sampler_progress *pg)
{
	(void)ctx;
	fprintf(stderr, "\rspyglass: %.1f s", pg->elapsed_s);
	if (pg->duration_s > 0)
		fprintf(stderr, " (%.1f s left)",
		        pg->duration_s > pg->elapsed_s ? pg->duration_s - pg->elapsed_s : 0.0);
	fprintf(stderr, ", %llu samples, %.1f Hz, %llu dropped\033[K",
	        (unsigned long long)pg->samples, pg->rate_hz, (unsigned long long)pg->dropped);
	fflush(stderr);
}

/* Many threads that lived a short while (sampled over under a tenth of the
 * run: a thread per request or task) make a level of narrow boxes under
 * --threads; grouping them shows their code. */
static void print_threads_hint(const struct sg_profile *p)
{
	const struct sg_meta *m = sg_profile_meta_const(p);
	size_t short_lived = 0;
	struct sg_timeline tl;

	if (m->thread_groups)
		return;
	/* Out of memory: no hint. */
	if (sg_timeline_build(&tl, p) == 0)
		for (size_t i = 0; i < tl.nthreads; i++)
			short_lived +=
			    tl.threads[i].end_ns - tl.threads[i].start_ns < m->duration_ns / 10;
	if (short_lived >= SHORT_LIVED_HINT && 2 * short_lived >= tl.nthreads)
		fprintf(stderr, "  threads: %zu seen, %zu short-lived: try --threads=group\n",
		        tl.nthreads, short_lived);
	sg_timeline_release(&tl);
}

/* --period: each window goes to its own file as soon as it ends. */
struct windows {
	const struct sg_format *fmt;
	const struct record_opts *o;
	const char *output; /* as given; numbered per window */
	unsigned written;
	bool failed;
	char first[4096], last[4096];
	struct sg_meta totals; /* counters of the windows written */
};

/* output with the window's number before the format's extension (or at
 * the end): out.pb.gz, window 3 -> out.0003.pb.gz. */
static void window_path(const struct windows *w, unsigned n, char *buf, size_t len)
{
	size_t at = strlen(w->output);

	for (const char *const *ext = w->fmt->extensions; *ext; ext++) {
		size_t el = strlen(*ext);

		if (el < at && strcmp(w->output + at - el, *ext) == 0) {
			at -= el;
			break;
		}
	}
	snprintf(buf, len, "%.*s.%04u%s", (int)at, w->output, n, w->output + at);
}

static void write_window(void *ctx, struct sg_profile *p)
{
	struct windows *w = ctx;
	struct sg_meta *m = sg_profile_meta(p);
	struct sg_write_opts render = w->o->render;
	struct sg_outfile *of;

	if (w->failed)
		return;
	window_path(w, w->written + 1, w->last, sizeof(w->last));
	m->by_thread = render.threads;
	m->thread_groups = render.thread_groups;
	render.processes = w->o->target.sampler.subprocesses;
	of = sg_cli_prepare_output(w->last);
	if (!of || sg_cli_write(w->fmt, p, &render, of)) {
		/* Said in one line; the run ends, the files so far stay. */
		w->failed = true;
		sg_cli_stop = SG_STOP_NOW;
	} else if (!w->written++) {
		memcpy(w->first, w->last, sizeof(w->first));
	}
	sg_outfile_free(of);
	w->totals.samples += m->samples;
	w->totals.dropped += m->dropped;
	w->totals.dropped_torn += m->dropped_torn;
	w->totals.dropped_read += m->dropped_read;
	w->totals.truncated += m->truncated;
}

/* A native target's lines: what the kernel's sampler gave, after the
 * earlier samples of a run handed over to it (sample()). */
static void print_native_summary(const struct sg_meta *m, const struct sg_sampler_stats *st,
                                 uint64_t earlier)
{
	uint64_t n = st->ticks + earlier;
	double per_sample_us = n ? st->cpu_s * 1e6 / (double)n : 0;

	bool wall = m->mode == SG_MODE_WALL;

	fprintf(stderr,
	        "  samples: %llu over %.2f s (native, %s mode: perf_events cpu-clock%s, %s)\n",
	        (unsigned long long)m->samples, st->wall_s, wall ? "wall" : "cpu",
	        wall ? " and context switches" : "",
	        st->kernel_frames ? "user and kernel stacks" : "user stacks only");
	if (wall)
		fprintf(stderr, "  off-CPU: %.2f s in %llu stretches, %s\n", st->offcpu_s,
		        (unsigned long long)st->offcpu_stretches,
		        st->offcpu_note[0] ? st->offcpu_note
		                           : "each under the stack its thread left its CPU with");
	fprintf(stderr,
	        "  rate: asked %.1f Hz per thread on a CPU: %.2f s of CPU sampled; "
	        "%llu stacks unwound by DWARF, %llu by frame pointers\n",
	        m->rate_asked_hz, (double)st->ticks / m->rate_asked_hz,
	        (unsigned long long)st->dwarf_unwound,
	        (unsigned long long)(st->ticks - st->dwarf_unwound));
	fprintf(stderr,
	        "  dropped: %llu (lost by the kernel: buffers full %llu); truncated: %llu\n",
	        (unsigned long long)m->dropped, (unsigned long long)st->lost,
	        (unsigned long long)m->truncated);
	fprintf(stderr,
	        "  profiler CPU: %.2f%% of one core, %.1f us per sample (%.1f ms to start)\n",
	        st->wall_s > 0 ? 100.0 * st->cpu_s / st->wall_s : 0.0, per_sample_us,
	        st->setup_cpu_s * 1e3);
}

/* --memory: the RSS's range and trend, and the function that grew it most
 * (report --memory says how and more). */
static void print_memory(const struct sg_profile *p)
{
	struct sg_report_memory m;
	struct sg_report_row top;
	char lo[32], hi[32], grown[32], freed[32], rate[32];

	if (sg_report_memory(p, &m))
		return;
	sg_text_bytes(lo, sizeof(lo), (double)m.lowest);
	sg_text_bytes(hi, sizeof(hi), (double)m.highest);
	sg_text_bytes(grown, sizeof(grown), (double)m.growth);
	sg_text_bytes(freed, sizeof(freed), (double)m.freed);
	sg_text_bytes(rate, sizeof(rate), m.floor_slope * 60);
	fprintf(stderr, "  memory: RSS %s to %s, %s (%s/min); %s grown, %s freed\n", lo, hi,
	        sg_report_trend_name(m.trend), rate, grown, freed);
	if (sg_report_top_value(p, SG_VALUE_RSS_GROWTH, &top, 1) == 1 && m.growth)
		fprintf(stderr, "  grew most: %s (%s), %.1f%% of the growth\n",
		        sg_profile_str(p, top.name),
		        sg_profile_short_file(p, sg_profile_str(p, top.file)),
		        100.0 * (double)top.self / (double)m.growth);
}

static void print_summary(const struct sg_profile *p, const struct sg_sampler_stats *st,
                          uint64_t earlier, bool full_filenames, bool native, const char *output)
{
	const struct sg_meta *m = sg_profile_meta_const(p);
	double per_sample_us = m->samples ? st->cpu_s * 1e6 / (double)m->samples : 0;

	if (output)
		fprintf(stderr, "spyglass: wrote %s\n", output);
	if (st->native) {
		print_native_summary(m, st, earlier);
		goto top;
	}
	fprintf(stderr, "  samples: %llu over %.2f s (Python %s, %s mode)\n",
	        (unsigned long long)m->samples, st->wall_s,
	        m->python_version[0] ? m->python_version : "?",
	        m->mode == SG_MODE_CPU ? "cpu" : "wall");
	if (st->cpu_clock)
		fprintf(
		    stderr,
		    "  rate: asked %.1f Hz per thread on a CPU, achieved %.1f Hz: %.2f s of "
		    "CPU sampled (CPU clock: perf_events cpu-clock; lost by the kernel: %llu)\n",
		    m->rate_asked_hz,
		    st->cpu_sampled_ns ? (double)st->ticks * 1e9 / (double)st->cpu_sampled_ns : 0.0,
		    (double)st->cpu_sampled_ns / 1e9, (unsigned long long)st->lost);
	else
		fprintf(stderr,
		        "  rate: asked %.1f Hz, achieved %.1f Hz (%llu of %llu ticks missed)%s\n",
		        m->rate_asked_hz, m->rate_achieved_hz, (unsigned long long)st->ticks_missed,
		        (unsigned long long)(st->ticks + st->ticks_missed),
		        m->mode == SG_MODE_CPU ? "; timer clock" : "");
	if (st->cpu_clock && st->cpu_unattributed_ns)
		fprintf(stderr,
		        "  unattributed: %.3f s of that CPU, in threads that ended before a sample "
		        "found them running Python\n",
		        (double)st->cpu_unattributed_ns / 1e9);
	if (st->clock_note[0])
		fprintf(stderr, "  clock: the timer, not the CPU clock: %s\n", st->clock_note);
	if (native && st->cpu_clock)
		fprintf(
		    stderr,
		    "  native: %llu stacks merged with their Python frames, %llu unmatched (%llu "
		    "deeper than the 64 KiB copied; %.1f per thousand, marked [unmatched])\n",
		    (unsigned long long)st->native_merged, (unsigned long long)st->native_unmatched,
		    (unsigned long long)st->native_cut,
		    st->native_merged + st->native_unmatched
		        ? 1000.0 * (double)st->native_unmatched /
		              (double)(st->native_merged + st->native_unmatched)
		        : 0.0);
	else if (native)
		fputs("  native: no native stacks: they come with the CPU clock's samples\n",
		      stderr);
	if (native && st->native_note[0])
		fprintf(stderr, "  native: %s\n", st->native_note);
	fprintf(stderr,
	        "  dropped: %llu (torn %llu, unreadable %llu); torn walks retried: %llu; "
	        "truncated: %llu\n",
	        (unsigned long long)m->dropped, (unsigned long long)m->dropped_torn,
	        (unsigned long long)m->dropped_read, (unsigned long long)st->retries,
	        (unsigned long long)m->truncated);
	if (sg_profile_refused(p))
		fprintf(stderr,
		        "  budget: %llu new names, frames or stacks past the profile's %zu MiB are "
		        "shown as %s (the target kept making code)\n",
		        (unsigned long long)sg_profile_refused(p), SG_SAMPLER_CODE_BUDGET >> 20,
		        SG_PROFILE_OVER_BUDGET);
	fprintf(stderr,
	        "  profiler CPU: %.2f%% of one core, %.1f us per sample (%.1f ms to start)\n",
	        st->wall_s > 0 ? 100.0 * st->cpu_s / st->wall_s : 0.0, per_sample_us,
	        st->setup_cpu_s * 1e3);
	if (m->memory)
		print_memory(p);
top:
	if (output == NULL)
		return;
	print_threads_hint(p);
	if (sg_profile_total(p)) {
		fputs(m->mode == SG_MODE_WALL
		          ? "  hottest functions by on-CPU self share (time spent idle apart):\n"
		          : "  hottest functions by self share:\n",
		      stderr);
		sg_report_print_top(p, TOP_FUNCTIONS, full_filenames, stderr);
	}
}

/* What the parts of a run handed between the samplers before the last one
 * add to the summary. */
struct parts {
	unsigned n;
	double cpu_s;       /* spyglass's CPU sampling them */
	double setup_cpu_s; /* the first one's start */
	uint64_t samples;
};

/* The next part of a run handed from one sampler to the other goes on from
 * where the last one left it, into the same profile, saying so. */
static void hand_over(struct sg_cli_target *t, const struct sg_profile *p,
                      const struct sg_sampler_stats *st, const char *then, struct parts *parts)
{
	if (t->sampler.progress)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "spyglass: %s; sampled %s from then on\n", st->end_note, then);
	if (!parts->n++)
		parts->setup_cpu_s = st->setup_cpu_s;
	parts->cpu_s += st->cpu_s;
	parts->samples = sg_profile_meta_const(p)->samples;
	t->sampler.resume = st->began;
	/* Taken over, or closed when CPython was found: spent. */
	sg_perfsampler_early_release(&t->early);
	t->sampler.early = NULL;
}

/* The summary of a run handed over: its whole length, spyglass's CPU in
 * every part and the first one's start. */
static void whole_run(const struct sg_cli_target *t, struct sg_sampler_stats *stats,
                      const struct parts *parts)
{
	struct timespec now;

	if (!parts->n)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	stats->wall_s =
	    ((double)now.tv_sec * 1e9 + (double)now.tv_nsec - (double)t->sampler.resume.start_ns) /
	    1e9;
	stats->cpu_s += parts->cpu_s;
	stats->setup_cpu_s = parts->setup_cpu_s;
}

/* Sample the target into p: as CPython by the Python sampler, otherwise
 * natively, and a launched program that execs into CPython or out of it
 * by the one that fits, each from the other's exec on. */
static int sample(struct sg_cli_target *t, struct sg_profile *p, struct sg_sampler_stats *stats,
                  struct parts *parts, char *why, size_t whylen)
{
	char native_why[1000];
	int err = sg_sampler_run(t->pid, &t->sampler, p, stats, &sg_cli_stop, why, whylen);
	int py_err;
	size_t len;
	char ended[sizeof(stats->end_note)];
	double wall_s;

	/* Not CPython (or not ours to read), and still running: a native
	 * program, sampled by the kernel from here on, where perf_events are
	 * allowed (else that is what the one line says). One that ended
	 * before that: what the kernel recorded since its exec. */
	if (err == SG_ENOTPY && t->command && t->early.perf && stats->end == SG_END_EXITED) {
		t->early.reaped = true;
		t->early.exit_status = stats->exit_status;
	}
	if (!((err == SG_ENOTPY || (err == SG_EPERM && !t->command)) && !sg_cli_stop &&
	      (stats->end == SG_END_NOT_PYTHON || t->early.reaped ||
	       (!t->command && sg_proc_alive(t->pid) == 0))))
		return err;
	py_err = err;
	len = strlen(why);
	wall_s = stats->wall_s;
	memcpy(ended, stats->end_note, sizeof(ended));
	/* A CPython that exec'd another program: its version is known. */
	if (sg_profile_meta(p)->python_version[0])
		hand_over(t, p, stats, "natively", parts);
	for (;;) {
		err = sg_perfsampler_run(t->pid, &t->sampler, p, stats, &sg_cli_stop, native_why,
		                         sizeof(native_why));
		/* Neither way in: say what each would need, on one line. */
		if (py_err == SG_EPERM && err == SG_EPERM)
			snprintf(why + len, whylen - len, "; %.1000s", native_why);
		else if (err)
			snprintf(why, whylen, "%s", native_why);
		/* How and when it ended was seen before. */
		if (t->early.reaped) {
			memcpy(stats->end_note, ended, sizeof(ended));
			stats->wall_s = wall_s;
		}
		if (err || stats->end != SG_END_EXEC_PYTHON)
			break;
		hand_over(t, p, stats, "as Python", parts);
		err = sg_sampler_run(t->pid, &t->sampler, p, stats, &sg_cli_stop, why, whylen);
		if (err != SG_ENOTPY || stats->end != SG_END_NOT_PYTHON || sg_cli_stop)
			break;
		hand_over(t, p, stats, "natively", parts);
		py_err = err;
		len = strlen(why);
	}
	whole_run(t, stats, parts);
	return err;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o;
	struct sg_sampler_stats stats;
	const struct sg_format *fmt;
	struct sg_profile *p;
	char default_output[64], why[2048] = "";
	struct sg_cli_target *t = &o.target;
	const char *output;
	int err, status;
	struct sg_outfile *of;
	struct windows windows = {0};
	bool sampled = false;
	struct parts parts = {0};

	status = parse_args(argc, argv, &o);
	if (status)
		return status < 0 ? SG_EXIT_OK : status;
	fmt = sg_cli_output_format(o.format, o.output);

	/* SIGINT, SIGTERM and SIGHUP end the run from here on, and the output
	 * is still written. A launched child keeps default handling. */
	sg_cli_catch_stop_signals(true);
	t->native = true;
	if (sg_cli_target_start(t))
		return SG_EXIT_FAIL;
	snprintf(default_output, sizeof(default_output), "spyglass-%d%s", (int)t->pid,
	         fmt->extensions[0]);
	output = o.output ? o.output : default_output;
	/* Check the output before sampling, so a bad path fails at once; it is
	 * opened only once the profile is ready (a FIFO would block here). */
	of = sg_cli_prepare_output(output);
	if (!of) {
		status = SG_EXIT_FAIL;
		goto out_stop_child;
	}
	p = sg_profile_new();
	if (!p || sg_cli_target_meta(t, p)) {
		sg_cli_error("out of memory");
		status = SG_EXIT_FAIL;
		goto out_free;
	}
	if (o.period_s) {
		windows = (struct windows){.fmt = fmt, .o = &o, .output = output};
		t->sampler.window_s = o.period_s;
		t->sampler.window = write_window;
		t->sampler.window_ctx = &windows;
	}
	if (isatty(STDERR_FILENO))
		t->sampler.progress = show_progress;
	t->sampler.native_fallback = !o.native_only;
	err = o.native_only ? sg_perfsampler_run(t->pid, &t->sampler, p, &stats, &sg_cli_stop, why,
	                                         sizeof(why))
	                    : sample(t, p, &stats, &parts, why, sizeof(why));
	sampled = true;
	if (t->sampler.progress)
		fputs("\r\033[K", stderr);
	if (err) {
		sg_cli_error("%s", why);
		status = SG_EXIT_FAIL;
		goto out_free;
	}
	if (o.period_s) {
		write_window(&windows, p);
		if (windows.failed) {
			status = SG_EXIT_FAIL;
			goto out_free;
		}
		fprintf(stderr, "spyglass: %s\n", stats.end_note);
		fprintf(stderr, "spyglass: wrote %u files of %g s, %s to %s\n", windows.written,
		        o.period_s, windows.first, windows.last);
		*sg_profile_meta(p) = (struct sg_meta){
		    .python_version = sg_profile_meta(p)->python_version,
		    .mode = t->sampler.mode,
		    .rate_asked_hz = t->sampler.rate_hz,
		    .rate_achieved_hz = stats.wall_s > 0 ? (double)stats.ticks / stats.wall_s : 0,
		    .samples = windows.totals.samples,
		    .dropped = windows.totals.dropped,
		    .dropped_torn = windows.totals.dropped_torn,
		    .dropped_read = windows.totals.dropped_read,
		    .truncated = windows.totals.truncated,
		    .command = sg_profile_meta(p)->command,
		    .path_roots = sg_profile_meta(p)->path_roots,
		};
		print_summary(p, &stats, parts.samples, o.render.full_filenames,
		              o.target.sampler.native, NULL);
		status = sg_cli_target_status(t, &stats);
		goto out_free;
	}
	sg_profile_meta(p)->by_thread = o.render.threads;
	sg_profile_meta(p)->thread_groups = o.render.thread_groups;
	o.render.processes = t->sampler.subprocesses;
	err = sg_cli_write(fmt, p, &o.render, of);
	if (err) {
		status = SG_EXIT_FAIL;
		goto out_free;
	}
	fprintf(stderr, "spyglass: %s\n", stats.end_note);
	print_summary(p, &stats, parts.samples, o.render.full_filenames, o.target.sampler.native,
	              sg_outfile_name(of));
	status = sg_cli_target_status(t, &stats);
out_free:
	sg_profile_free(p);
	sg_outfile_free(of);
out_stop_child:
	/* The sampler reaps a launched child; this covers early failures. */
	if (t->command && !sampled)
		sg_launch_stop(t->pid, 1000);
	sg_perfsampler_early_release(&t->early);
	return status;
}
