/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
    {"record", cmd_record, "sample a running or launched program into a profile"},
    {"dump", cmd_dump, "print every thread's Python stack now, as tracebacks"},
    {"heap", cmd_heap, "count a process's live Python objects by type, or their growth"},
    {"convert", cmd_convert, "write a saved profile (pprof, collapsed) in another format"},
    {"report", cmd_report, "tables, call trees and callers from a saved profile"},
    {"agent", cmd_agent, "profile processes continuously into a store of windows"},
    {"query", cmd_query, "merge a store's windows by time and label into one profile"},
    {"store", cmd_store, "look after a store of profiles: store check PATH verifies one"},
    {"diff", cmd_diff, "how shares moved between two saved profiles, or a diff flame graph"},
    {"top", cmd_top, "a live view of the functions a running program is in"},
};

void sg_cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("spyglass: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int sg_cli_parse_double(const char *s, double min, double max, double *out)
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

static void usage(FILE *out)
{
	fputs("usage: spyglass COMMAND [OPTIONS]\n\ncommands:\n", out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fputs("\nspyglass COMMAND --help shows a command's options.\n", out);
}

/* stdout may be a pipe or full disk: a failed flush is a failed run. */
static int finish_stdout(int status)
{
	if (fflush(stdout) || ferror(stdout)) {
		sg_cli_error("could not write to standard output");
		return SG_EXIT_FAIL;
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return SG_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return finish_stdout(SG_EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("spyglass %s\n", SG_VERSION);
		return finish_stdout(SG_EXIT_OK);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return finish_stdout(commands[i].run(argc - 1, argv + 1));
	sg_cli_error("'%s' is not a command (try spyglass --help)", argv[1]);
	return SG_EXIT_USAGE;
}
