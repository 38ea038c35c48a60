/* SPDX-License-Identifier: MIT */
#include "formats/text.h"

int sg_text_frame(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f)
{
	const char *file = sg_profile_str(p, f->file);
	int err = sg_strbuf_addstr(sb, sg_profile_str(p, f->name));

	if (err || !file[0])
		return err;
	if (f->line > 0)
		return sg_strbuf_addf(sb, " (%s:%d)", file, (int)f->line);
	return sg_strbuf_addf(sb, " (%s)", file);
}

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned min;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

int sg_text_json(struct sg_strbuf *sb, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	int err = sg_strbuf_addch(sb, '"');

	while (!err && *u) {
		size_t n = utf8_len(u);

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
		size_t n = utf8_len(u);

		/* utf8_len vouches for u[1] after 0xc2 and u[2] after 0xef. */
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
