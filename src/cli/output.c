/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cli/cli.h"
#include "util/err.h"

int sg_cli_check_format(const char *name)
{
	if (sg_format_by_name(name))
		return 0;
	sg_cli_error("-f: unknown format '%s' (known: %s)", name, sg_format_names());
	return SG_EXIT_USAGE;
}

const struct sg_format *sg_cli_output_format(const char *format, const char *output)
{
	const struct sg_format *f = NULL;

	if (format)
		return sg_format_by_name(format);
	if (output)
		f = sg_format_by_path(output);
	return f ? f : sg_format_by_name("collapsed");
}

int sg_cli_write(const struct sg_format *fmt, const struct sg_profile *p,
                 const struct sg_write_opts *opts, FILE *out, const char *path)
{
	int err = fmt->write(p, opts, out);

	if (fclose(out) != 0 && !err)
		err = SG_EIO;
	if (err) {
		sg_cli_error("could not write %s: %s", path, sg_err_str(err));
		remove(path);
	}
	return err;
}
