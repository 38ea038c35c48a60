/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char help[] =
    "usage: spyglass store check PATH\n"
    "\n"
    "Verify a store that spyglass agent writes: SQLite's integrity check, its\n"
    "tables, and that every window's profile reads back as its row says.\n"
    "Prints one line; exits 0 when the store is sound, 1 when it is not.\n"
    "\n"
    "  -h, --help            this help\n";

int cmd_store(int argc, char **argv)
{
	struct sg_store_stats st;
	char why[4096], first[32], last[32];

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(help, stdout);
		return SG_EXIT_OK;
	}
	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		sg_cli_error("usage: spyglass store check PATH (see spyglass store --help)");
		return SG_EXIT_USAGE;
	}
	if (sg_store_check(argv[2], &st, why, sizeof(why))) {
		sg_cli_error("%s", why);
		return SG_EXIT_FAIL;
	}
	sg_cli_format_time(st.first_ns, first, sizeof(first));
	sg_cli_format_time(st.last_ns, last, sizeof(last));
	if (st.windows)
		printf("%s: ok, %llu windows in %llu series, %s to %s, %.1f KiB of profiles\n",
		       argv[2], (unsigned long long)st.windows, (unsigned long long)st.series,
		       first, last, (double)st.bytes / 1024);
	else
		printf("%s: ok, no windows\n", argv[2]);
	return SG_EXIT_OK;
}
