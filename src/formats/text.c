/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "formats/text.h"
#include "util/err.h"

const char *sg_text_file(const struct sg_profile *p, const char *file, bool full)
{
	return full ? file : sg_profile_short_file(p, file);
}

int sg_text_frame(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f,
                  bool full)
{
	const char *file = sg_text_file(p, sg_profile_str(p, f->file), full);
	int err = sg_strbuf_addstr(sb, sg_profile_str(p, f->name));

	if (err || !file[0])
		return err;
	if (f->line > 0)
		return sg_strbuf_addf(sb, " (%s:%d)", file, (int)f->line);
	return sg_strbuf_addf(sb, " (%s)", file);
}

int sg_text_thread_group(struct sg_strbuf *sb, const char *name)
{
	size_t len = strlen(name), end = len, digits;
	const char *open = NULL;

	if (len && name[len - 1] == ')')
		for (const char *at = name; (at = strstr(at, " (")); at++)
			open = at;
	if (open)
		end = (size_t)(open - name);
	for (digits = end; digits > 0 && name[digits - 1] >= '0' && name[digits - 1] <= '9';)
		digits--;
	if (digits == end)
		return sg_strbuf_addstr(sb, name);
	if (sg_strbuf_add(sb, name, digits) || sg_strbuf_addch(sb, '*'))
		return SG_ENOMEM;
	return sg_strbuf_addstr(sb, name + end);
}

int sg_text_json(struct sg_strbuf *sb, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	int err = sg_strbuf_addch(sb, '"');

	while (!err && *u) {
		size_t n = sg_utf8_len(u);

		if (n == 0) {
			err = sg_strbuf_addstr(sb, "\xef\xbf\xbd");
			n = 1;
		} else if (*u == '"' || *u == '\\') {
			err = sg_strbuf_addch(sb, '\\');
			if (!err)
				err = sg_strbuf_addch(sb, (char)*u);
		} else if (*u < 0x20 || *u == 0x7f) {
			err = sg_strbuf_addf(sb, "\\u%04x", *u);
		} else {
			err = sg_strbuf_add(sb, u, n);
		}
		u += n;
	}
	return err ? err : sg_strbuf_addch(sb, '"');
}

int sg_text_xml(struct sg_strbuf *sb, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	int err = 0;

	while (!err && *u) {
		size_t n = sg_utf8_len(u);

		/* sg_utf8_len vouches for u[1] after 0xc2 and u[2] after 0xef. */
		if (n == 0 || *u < 0x20 || *u == 0x7f || (u[0] == 0xc2 && u[1] < 0xa0) ||
		    (u[0] == 0xef && u[1] == 0xbf && u[2] >= 0xbe)) {
			err = sg_strbuf_addstr(sb, "\xef\xbf\xbd");
			n = n ? n : 1;
		} else if (*u == '&') {
			err = sg_strbuf_addstr(sb, "&amp;");
		} else if (*u == '<') {
			err = sg_strbuf_addstr(sb, "&lt;");
		} else if (*u == '>') {
			err = sg_strbuf_addstr(sb, "&gt;");
		} else if (*u == '"') {
			err = sg_strbuf_addstr(sb, "&quot;");
		} else {
			err = sg_strbuf_add(sb, u, n);
		}
		u += n;
	}
	return err;
}

void sg_text_bytes(char *buf, size_t len, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = fabs(bytes);
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", bytes);
	else
		snprintf(buf, len, "%.1f %s", bytes < 0 ? -v : v, units[u]);
}
