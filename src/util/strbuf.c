/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/err.h"
#include "util/strbuf.h"

void sg_strbuf_release(struct sg_strbuf *sb)
{
	free(sg_strbuf_detach(sb));
}

void sg_strbuf_reset(struct sg_strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

/* Room for extra more bytes and the NUL. */
static int reserve(struct sg_strbuf *sb, size_t extra)
{
	if (extra > (size_t)-1 - 1 - sb->len)
		return SG_ENOMEM;
	return sg_grow(&sb->buf, &sb->cap, sb->len + extra + 1, 1);
}

int sg_strbuf_add(struct sg_strbuf *sb, const void *data, size_t len)
{
	if (reserve(sb, len))
		return SG_ENOMEM;
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

int sg_strbuf_addstr(struct sg_strbuf *sb, const char *s)
{
	return sg_strbuf_add(sb, s, strlen(s));
}

int sg_strbuf_addch(struct sg_strbuf *sb, char c)
{
	if (sb->len + 1 >= sb->cap && reserve(sb, 1))
		return SG_ENOMEM;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
	return 0;
}

int sg_strbuf_addf(struct sg_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(sb, (size_t)n))
		return SG_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

char *sg_strbuf_detach(struct sg_strbuf *sb)
{
	char *s = sb->buf;

	*sb = (struct sg_strbuf)SG_STRBUF_INIT;
	return s;
}

size_t sg_utf8_len(const unsigned char *s)
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
