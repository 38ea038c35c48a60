/* SPDX-License-Identifier: MIT */
#ifndef SG_CLI_CLI_H
#define SG_CLI_CLI_H

/*
 * Commands. Each takes argv after the command name (argv[0] is the command)
 * and returns the process exit status: 0 success, 1 failure at run time,
 * 2 bad usage. Every failure prints exactly one line, "spyglass: ...".
 */

#define SG_VERSION "0.1.0"

#define SG_EXIT_OK    0
#define SG_EXIT_FAIL  1
#define SG_EXIT_USAGE 2

#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "formats/format.h"
#include "store/store.h"
#include "profile/query.h"
#include "sampler/perfsampler.h"
#include "sampler/sampler.h"
#include "util/outfile.h"

int cmd_record(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_heap(int argc, char **argv);

/* Help lines for the options that change how a profile is drawn. */
#define SG_CLI_RENDER_HELP                                                                         \
	"      --reverse         flame graph: reversed stacks, leaf functions at the base\n"       \
	"      --icicle          flame graph: drawn top-down, roots at the top\n"                  \
	"      --full-filenames  whole paths of files (default: relative to the folder\n"          \
	"                        imported from; pprof always has whole paths)\n"

/* Check the value of -f: 0, or SG_EXIT_USAGE after one line naming the
 * formats there are. */
int sg_cli_check_format(const char *name);
/* The format to write: -f's (already checked by name), else the one the
 * output path's extension names, else collapsed. */
const struct sg_format *sg_cli_output_format(const char *format, const char *output);
/* Check early that the output path ("-": standard output) can be written,
 * opening nothing (util/outfile.h); NULL after one line saying why not. */
struct sg_outfile *sg_cli_prepare_output(const char *path);
/* Open of, write p to it and close it (a regular file is renamed into place
 * only when whole). Ignores SIGPIPE from then on. On failure says so in one
 * line and returns the error; no partial file is left, and nothing is
 * removed that spyglass did not create. of is still the caller's to free. */
int sg_cli_write(const struct sg_format *fmt, const struct sg_profile *p,
                 const struct sg_write_opts *opts, struct sg_outfile *of);
/* The same with write(arg, out) doing the writing (0 or an error). */
int sg_cli_write_with(int (*write)(void *arg, FILE *out), void *arg, struct sg_outfile *of);

/* Read the profile at path into the empty p, in the format its first bytes
 * or its name say (sg_format_for_input). 0, or an error after one line
 * saying what is wrong with the file. */
int sg_cli_read_profile(const char *path, struct sg_profile *p);

/* An option's number: a finite decimal in [min, max] into *out; 0, or -1
 * when s is not one. */
int sg_cli_parse_double(const char *s, double min, double max, double *out);

/* The options that shape a written profile, for every command that writes
 * one (record, convert, query): --threads[=group], --reverse, --icicle,
 * --full-filenames, as getopt_long rows with these values. */
enum {
	SG_CLI_OPT_THREADS = 1100,
	SG_CLI_OPT_REVERSE,
	SG_CLI_OPT_ICICLE,
	SG_CLI_OPT_FULL_FILENAMES,
};
#define SG_CLI_RENDER_OPTIONS                                                                      \
	{"threads", optional_argument, NULL, SG_CLI_OPT_THREADS},                                  \
	    {"reverse", no_argument, NULL, SG_CLI_OPT_REVERSE},                                    \
	    {"icicle", no_argument, NULL, SG_CLI_OPT_ICICLE},                                      \
	{                                                                                          \
		"full-filenames", no_argument, NULL, SG_CLI_OPT_FULL_FILENAMES                     \
	}

/* Option c with value arg into w when it is one of those: 1 when it was, 0
 * when it is not, SG_EXIT_USAGE after one line when its value is bad
 * (--threads takes nothing or "=group"). */
int sg_cli_render_option(struct sg_write_opts *w, int c, const char *arg);

/* unix_ns as RFC 3339 in UTC, to the second: 2026-12-02T03:12:00Z. */
void sg_cli_format_time(uint64_t unix_ns, char *buf, size_t len);
/* A time given on the command line: RFC 3339 (2026-12-02T03:12:00Z,
 * fractions and +hh:mm offsets too), "now", or before now_ns by an amount
 * with a unit s, m, h, d or w (-90s, -1h, -7d). 0, or -1 when s is none. */
int sg_cli_parse_time(const char *s, uint64_t now_ns, uint64_t *out);
/* value, one of the NULL-terminated names: its index in *out, or
 * SG_EXIT_USAGE after one line naming opt and the names there are. */
int sg_cli_choice(const char *opt, const char *value, const char *const *names, int *out);

/* Compile pattern (POSIX extended) into *re: 0, or SG_EXIT_USAGE after one
 * line naming opt and what is wrong with it. */
int sg_cli_regex(const char *opt, const char *pattern, regex_t *re);

/* Print key and a newline in at most width columns (12 at least): a long
 * "name (path)" keeps the most of the path's end that fits, from a '/'
 * ("name (.../pkg/mod.py:3)"), and what is still too long loses its end. */
void sg_cli_print_key(const char *key, int width, FILE *out);

/* The options that choose which samples count, for every command that reads
 * a saved profile (report, diff): --focus, --ignore, --thread, --from, --to,
 * parsed into filter. Start from SG_CLI_FILTERS_INIT. */
struct sg_cli_filters {
	struct sg_query_filter filter;
	const char *focus, *ignore;
	bool has_from, has_to;
	double from_s, to_s;
	regex_t focus_re, ignore_re;
	bool focus_ok, ignore_ok; /* compiled, to be freed */
};

#define SG_CLI_FILTERS_INIT                                                                        \
	{                                                                                          \
		.filter = {.thread = NULL }                                                        \
	}

#define SG_CLI_FILTER_HELP                                                                         \
	"      --focus REGEX       only samples with a frame matching REGEX (function or\n"        \
	"                          file, POSIX extended)\n"                                        \
	"      --ignore REGEX      leave out samples with a frame matching REGEX\n"                \
	"      --thread NAME|TID   only that thread's samples\n"                                   \
	"      --from S            only samples taken S seconds after the start or later\n"        \
	"      --to S              only samples taken before S seconds (needs times: pprof)\n"

/* getopt_long rows for those options, with the values sg_cli_filter_arg
 * takes (SG_CLI_OPT_FOCUS ...). */
enum {
	SG_CLI_OPT_FOCUS = 1000,
	SG_CLI_OPT_IGNORE,
	SG_CLI_OPT_THREAD,
	SG_CLI_OPT_FROM,
	SG_CLI_OPT_TO,
};
#define SG_CLI_FILTER_OPTIONS                                                                      \
	{"focus", required_argument, NULL, SG_CLI_OPT_FOCUS},                                      \
	    {"ignore", required_argument, NULL, SG_CLI_OPT_IGNORE},                                \
	    {"thread", required_argument, NULL, SG_CLI_OPT_THREAD},                                \
	    {"from", required_argument, NULL, SG_CLI_OPT_FROM},                                    \
	{                                                                                          \
		"to", required_argument, NULL, SG_CLI_OPT_TO                                       \
	}

/* Take the value of option c when it is one of those: 0, 1 when c is not a
 * filter option, or SG_EXIT_USAGE after one line. */
int sg_cli_filter_arg(struct sg_cli_filters *f, int c, const char *value);
/* After parsing: check --from < --to, compile the regular expressions and
 * complete f->filter. 0 or SG_EXIT_USAGE after one line. */
int sg_cli_filters_finish(struct sg_cli_filters *f);
/* Free what sg_cli_filters_finish compiled. */
void sg_cli_filters_release(struct sg_cli_filters *f);

/* For sg_query_filter.file_name: files as the other text writers show them
 * (formats/text.h). */
const char *sg_cli_short_file(const struct sg_profile *p, const char *file, void *arg);

/* Which windows of a store a command takes: labels K=V, "mode=cpu|wall"
 * (default cpu), and, where times are allowed, "from=TIME" and "to=TIME"
 * (as sg_cli_parse_time; default all). */
#define SG_CLI_MAX_WHERE 32
struct sg_cli_selection {
	struct sg_store_label where[SG_CLI_MAX_WHERE]; /* point into the argument */
	size_t nwhere;
	enum sg_mode mode;
	uint64_t from_ns, to_ns;
	bool times; /* from= and to= are times, not labels */
};

void sg_cli_selection_init(struct sg_cli_selection *sel, bool times);
/* Add "K=V,K=V..." (arg, cut in place) to sel. 0, or SG_EXIT_USAGE after
 * one line naming option. */
int sg_cli_parse_selection(const char *option, char *arg, struct sg_cli_selection *sel);
/* The store filter sel stands for (borrowing its labels). */
struct sg_store_filter sg_cli_selection_filter(const struct sg_cli_selection *sel);

/*
 * What the commands that sample (record, top) share (cli/sampling.c): the
 * program to sample and how, their common options, starting it, the
 * signals that end a run and spyglass's exit status after one.
 */
struct sg_cli_target {
	pid_t pid;      /* --pid, or the launched command's once started */
	char **command; /* -- COMMAND [ARGS...], NULL when attaching */
	struct sg_sampler_opts sampler;
	/* A launched program that is not CPython is sampled by the kernel
	 * (record): its perf_events are opened before its exec. */
	bool native;
	struct sg_perfsampler_early early;
};

/* getopt_long values of the shared options; a command's own start at
 * SG_CLI_OPT_OWN. */
enum {
	SG_CLI_OPT_MODE = 256,
	SG_CLI_OPT_GIL,
	SG_CLI_OPT_SUBPROCESSES,
	SG_CLI_OPT_VERSION,
	SG_CLI_OPT_OWN
};

/* Their entries for getopt_long's table ("r:p:" in its short options). */
#define SG_CLI_TARGET_OPTIONS                                                                      \
	{"rate", required_argument, NULL, 'r'}, {"pid", required_argument, NULL, 'p'},             \
	    {"mode", required_argument, NULL, SG_CLI_OPT_MODE},                                    \
	    {"gil", no_argument, NULL, SG_CLI_OPT_GIL},                                            \
	{                                                                                          \
		"subprocesses", no_argument, NULL, SG_CLI_OPT_SUBPROCESSES                         \
	}

/* Option c of getopt_long with value arg, if it is a shared one: 1 when it
 * was (t updated), 0 when it is not, SG_EXIT_USAGE after one line when its
 * value is bad. */
int sg_cli_target_option(struct sg_cli_target *t, int c, const char *arg);
/* Once options are parsed: the command from argv[optind...], and exactly
 * one of --pid and a command. 0 or SG_EXIT_USAGE after one line. */
int sg_cli_target_finish(struct sg_cli_target *t, int argc, char **argv);
/* With --native: 0 when the options allow it (cpu mode on the CPU clock,
 * neither --gil nor --memory), else SG_EXIT_USAGE after one line. */
int sg_cli_native_check(const struct sg_cli_target *t);
/* getopt_long's '?': one line naming the option, SG_EXIT_USAGE. */
int sg_cli_bad_option(const char *command, char **argv);
/* --pid's value into *pid: 0, or SG_EXIT_USAGE with its line printed. */
int sg_cli_parse_pid(const char *arg, pid_t *pid);

/* Start t's command if it has one (t->pid then names it), setting
 * sampler.launched. 0, or SG_EXIT_FAIL after one line. */
int sg_cli_target_start(struct sg_cli_target *t);
/* Set p's meta command: the command given, or the attached process's
 * command line. 0 or SG_ENOMEM. */
int sg_cli_target_meta(const struct sg_cli_target *t, struct sg_profile *p);

/* Set by SIGINT, SIGTERM and SIGHUP once sg_cli_catch_stop_signals is
 * called: SG_STOP_NOW, or with grace SG_STOP_GRACE for a first SIGINT (a
 * launched program got it too, and may end on its own); and which signal. */
extern volatile sig_atomic_t sg_cli_stop, sg_cli_stop_signal;
void sg_cli_catch_stop_signals(bool grace);

/* spyglass's exit status after a run. Attached, 0. Launched, as time(1):
 * the program's own status (128+N for signal N) when it ended by itself,
 * Ctrl-C included; 128+N when signal N made us end it; 0 when we ended it
 * otherwise (--duration, a key), since that stop was asked for. */
int sg_cli_target_status(const struct sg_cli_target *t, const struct sg_sampler_stats *st);

/* Print "spyglass: <fmt>\n" to stderr. */
void sg_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
