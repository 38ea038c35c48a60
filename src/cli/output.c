/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "formats/text.h"
#include "util/err.h"
#include "util/strbuf.h"

/* How long a FIFO given as output may go without a reader once the profile
 * is ready: long enough to start one by hand. */
#define FIFO_WAIT_S 60

int sg_cli_check_format(const char *name)
{
	if (sg_format_by_name(name))
		return 0;
	sg_cli_error("-f: unknown format '%s' (known: %s)", name, sg_format_names());
	return SG_EXIT_USAGE;
}

int sg_cli_render_option(struct sg_write_opts *w, int c, const char *arg)
{
	switch (c) {
	case SG_CLI_OPT_THREADS:
		w->thread_groups = arg && strcmp(arg, "group") == 0;
		if (arg && !w->thread_groups) {
			sg_cli_error("--threads: expected nothing or '=group', got '%s'", arg);
			return SG_EXIT_USAGE;
		}
		w->threads = true;
		return 1;
	case SG_CLI_OPT_REVERSE:
		w->reverse = true;
		return 1;
	case SG_CLI_OPT_ICICLE:
		w->icicle = true;
		return 1;
	case SG_CLI_OPT_FULL_FILENAMES:
		w->full_filenames = true;
		return 1;
	default:
		return 0;
	}
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

struct sg_outfile *sg_cli_prepare_output(const char *path)
{
	struct sg_outfile *of;
	char why[PATH_MAX + 256];

	if (sg_outfile_prepare(path, &of, why, sizeof(why)) == 0)
		return of;
	sg_cli_error("%s", why);
	sg_outfile_free(of);
	return NULL;
}

int sg_cli_write_with(int (*write)(void *arg, FILE *out), void *arg, struct sg_outfile *of)
{
	char why[PATH_MAX + 256];
	FILE *out;
	int err;

	/* A closed pipe is an error to report (EPIPE), not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	out = sg_outfile_open(of, FIFO_WAIT_S * 1000, stderr, why, sizeof(why));
	if (!out) {
		sg_cli_error("%s", why);
		return SG_EIO;
	}
	err = sg_outfile_close(of, write(arg, out), why, sizeof(why));
	if (err)
		sg_cli_error("%s", why);
	return err;
}

struct format_write {
	const struct sg_format *fmt;
	const struct sg_profile *p;
	const struct sg_write_opts *opts;
};

static int format_write(void *arg, FILE *out)
{
	const struct format_write *w = arg;

	return w->fmt->write(w->p, w->opts, out);
}

int sg_cli_write(const struct sg_format *fmt, const struct sg_profile *p,
                 const struct sg_write_opts *opts, struct sg_outfile *of)
{
	struct format_write w = {fmt, p, opts};

	return sg_cli_write_with(format_write, &w, of);
}

int sg_cli_read_profile(const char *path, struct sg_profile *p)
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

void sg_cli_format_time(uint64_t unix_ns, char *buf, size_t len)
{
	time_t t = (time_t)(unix_ns / 1000000000u);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "?");
}

int sg_cli_parse_time(const char *s, uint64_t now_ns, uint64_t *out)
{
	struct tm tm = {0};
	const char *end;
	double v, frac = 0;
	char unit, *num_end;
	int64_t offset_s = 0;
	time_t t;

	/* Relative: -90s, -15m, -1h, -2d, -1w ago; "now". */
	if (strcmp(s, "now") == 0) {
		*out = now_ns;
		return 0;
	}
	if (s[0] == '-') {
		static const struct {
			char unit;
			double s;
		} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};

		errno = 0;
		v = strtod(s + 1, &num_end);
		if (errno || num_end == s + 1 || !isfinite(v) || v < 0 || strlen(num_end) != 1)
			return -1;
		unit = *num_end;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (units[i].unit == unit) {
				double ns = v * units[i].s * 1e9;

				*out = ns >= (double)now_ns ? 0 : now_ns - (uint64_t)ns;
				return 0;
			}
		return -1;
	}
	/* RFC 3339: 2026-12-02T03:12:00Z, with fractions and offsets. */
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == '.') {
		errno = 0;
		frac = strtod(end, &num_end);
		if (errno || num_end == end + 1)
			return -1;
		end = num_end;
	}
	if ((*end == '+' || *end == '-') && strlen(end) == 6 && end[3] == ':') {
		int hh, mm;

		if (sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		offset_s = (int64_t)(hh * 3600 + mm * 60) * (*end == '+' ? 1 : -1);
	} else if (strcmp(end, "Z") && strcmp(end, "z")) {
		return -1;
	}
	t = timegm(&tm);
	if (t == (time_t)-1 || t - offset_s < 0)
		return -1;
	*out = (uint64_t)(t - offset_s) * 1000000000u + (uint64_t)(frac * 1e9);
	return 0;
}

int sg_cli_choice(const char *opt, const char *value, const char *const *names, int *out)
{
	struct sg_strbuf known = SG_STRBUF_INIT;

	for (int i = 0; names[i]; i++)
		if (strcmp(value, names[i]) == 0) {
			*out = i;
			return 0;
		}
	for (int i = 0; names[i]; i++)
		if (sg_strbuf_addstr(&known, i ? ", " : "") || sg_strbuf_addstr(&known, names[i]))
			break;
	sg_cli_error("%s: unknown value '%s' (known: %s)", opt, value, known.buf ? known.buf : "");
	sg_strbuf_release(&known);
	return SG_EXIT_USAGE;
}

int sg_cli_regex(const char *opt, const char *pattern, regex_t *re)
{
	char why[256];
	int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);

	if (rc == 0)
		return 0;
	regerror(rc, re, why, sizeof(why));
	sg_cli_error("%s: bad regular expression '%s': %s", opt, pattern, why);
	return SG_EXIT_USAGE;
}

void sg_cli_print_key(const char *key, int width, FILE *out)
{
	int n = (int)strlen(key);
	const char *paren = strstr(key, " ("), *slash;
	int head;

	if (width < 12)
		width = 12;
	if (n <= width) {
		fprintf(out, "%s\n", key);
		return;
	}
	head = paren ? (int)(paren - key) + 2 : 0;
	/* The longest tail of the path, from a '/', that fits. */
	slash = paren ? strchr(paren, '/') : NULL;
	while (slash && head + 3 + (int)strlen(slash) > width)
		slash = strchr(slash + 1, '/');
	if (slash)
		fprintf(out, "%.*s...%s\n", head, key, slash);
	else
		fprintf(out, "%.*s...\n", width - 3, key);
}

int sg_cli_filter_arg(struct sg_cli_filters *f, int c, const char *value)
{
	double d;

	switch (c) {
	case SG_CLI_OPT_FOCUS:
		f->focus = value;
		return 0;
	case SG_CLI_OPT_IGNORE:
		f->ignore = value;
		return 0;
	case SG_CLI_OPT_THREAD:
		f->filter.thread = value;
		return 0;
	case SG_CLI_OPT_FROM:
	case SG_CLI_OPT_TO:
		if (sg_cli_parse_double(value, 0, 1e9, &d)) {
			sg_cli_error("%s: expected seconds since the start, got '%s'",
			             c == SG_CLI_OPT_FROM ? "--from" : "--to", value);
			return SG_EXIT_USAGE;
		}
		if (c == SG_CLI_OPT_FROM)
			f->has_from = true, f->from_s = d;
		else
			f->has_to = true, f->to_s = d;
		return 0;
	default:
		return 1;
	}
}

int sg_cli_filters_finish(struct sg_cli_filters *f)
{
	if (f->has_from && f->has_to && f->to_s <= f->from_s) {
		sg_cli_error("--to must come after --from");
		return SG_EXIT_USAGE;
	}
	if (f->focus) {
		if (sg_cli_regex("--focus", f->focus, &f->focus_re))
			return SG_EXIT_USAGE;
		f->focus_ok = true;
	}
	if (f->ignore) {
		if (sg_cli_regex("--ignore", f->ignore, &f->ignore_re))
			return SG_EXIT_USAGE;
		f->ignore_ok = true;
	}
	f->filter.focus = f->focus_ok ? &f->focus_re : NULL;
	f->filter.ignore = f->ignore_ok ? &f->ignore_re : NULL;
	f->filter.window = f->has_from || f->has_to;
	f->filter.from_ns = f->has_from ? (uint64_t)llround(f->from_s * 1e9) : 0;
	f->filter.to_ns = f->has_to ? (uint64_t)llround(f->to_s * 1e9) : UINT64_MAX;
	return 0;
}

void sg_cli_filters_release(struct sg_cli_filters *f)
{
	if (f->focus_ok)
		regfree(&f->focus_re);
	if (f->ignore_ok)
		regfree(&f->ignore_re);
	f->focus_ok = f->ignore_ok = false;
}

const char *sg_cli_short_file(const struct sg_profile *p, const char *file, void *arg)
{
	(void)arg;
	return sg_text_file(p, file, false);
}

void sg_cli_selection_init(struct sg_cli_selection *sel, bool times)
{
	memset(sel, 0, sizeof(*sel));
	sel->mode = SG_MODE_CPU;
	sel->to_ns = UINT64_MAX;
	sel->times = times;
}

int sg_cli_parse_selection(const char *option, char *arg, struct sg_cli_selection *sel)
{
	struct timespec now;
	uint64_t now_ns;

	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	for (char *save = NULL, *kv = strtok_r(arg, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq || eq == kv || sel->nwhere == SG_CLI_MAX_WHERE) {
			sg_cli_error("%s: expected K=V[,K=V...] (at most %d), got '%s'", option,
			             SG_CLI_MAX_WHERE, kv);
			return SG_EXIT_USAGE;
		}
		*eq = '\0';
		if (!strcmp(kv, "mode")) {
			if (strcmp(eq + 1, "cpu") && strcmp(eq + 1, "wall")) {
				sg_cli_error("%s: mode is cpu or wall, got '%s'", option, eq + 1);
				return SG_EXIT_USAGE;
			}
			sel->mode = !strcmp(eq + 1, "wall") ? SG_MODE_WALL : SG_MODE_CPU;
			continue;
		}
		if (sel->times && (!strcmp(kv, "from") || !strcmp(kv, "to"))) {
			if (sg_cli_parse_time(eq + 1, now_ns,
			                      kv[0] == 'f' ? &sel->from_ns : &sel->to_ns)) {
				sg_cli_error(
				    "%s: %s: expected RFC 3339 (2026-12-02T03:00:00Z) or -30m, "
				    "-1h, -7d, got '%s'",
				    option, kv, eq + 1);
				return SG_EXIT_USAGE;
			}
			continue;
		}
		sel->where[sel->nwhere++] = (struct sg_store_label){kv, eq + 1};
	}
	return 0;
}

struct sg_store_filter sg_cli_selection_filter(const struct sg_cli_selection *sel)
{
	return (struct sg_store_filter){.from_ns = sel->from_ns,
	                                .to_ns = sel->to_ns,
	                                .where = sel->where,
	                                .nwhere = sel->nwhere,
	                                .mode = sel->mode};
}
