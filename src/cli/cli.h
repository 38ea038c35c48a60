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

#include <stdio.h>

#include "formats/format.h"

int cmd_record(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* Help lines for the options that change how a profile is drawn. */
#define SG_CLI_RENDER_HELP                                                                         \
	"      --reverse         flame graph: reversed stacks, leaf functions at the base\n"       \
	"      --icicle          flame graph: drawn top-down, roots at the top\n"

/* Check the value of -f: 0, or SG_EXIT_USAGE after one line naming the
 * formats there are. */
int sg_cli_check_format(const char *name);
/* The format to write: -f's (already checked by name), else the one the
 * output path's extension names, else collapsed. */
const struct sg_format *sg_cli_output_format(const char *format, const char *output);
/* Write p to out and close it. On failure says so in one line, removes the
 * partial file and returns the error. */
int sg_cli_write(const struct sg_format *fmt, const struct sg_profile *p,
                 const struct sg_write_opts *opts, FILE *out, const char *path);

/* Print "spyglass: <fmt>\n" to stderr. */
void sg_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
