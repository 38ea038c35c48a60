/* SPDX-License-Identifier: MIT */
#ifndef SG_CLI_CLI_H
#define SG_CLI_CLI_H

/*
 * Commands. Each takes argv after the command name (argv[0] is the command)
 * and returns the process exit status: 0 success, 1 failure at run time,
 * 2 bad usage. Every failure prints exactly one line, "spyglass: ...".
 */

#define SG_EXIT_OK    0
#define SG_EXIT_FAIL  1
#define SG_EXIT_USAGE 2

int cmd_record(int argc, char **argv);

/* Print "spyglass: <fmt>\n" to stderr. */
void sg_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
