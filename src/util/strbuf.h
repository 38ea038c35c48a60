/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_STRBUF_H
#define SG_UTIL_STRBUF_H

/*
 * A growable string. `buf` is always NUL-terminated once any add call has
 * succeeded; before that it may be NULL (len 0). After a failed add
 * (SG_ENOMEM) the contents are unchanged.
 */

#include <stddef.h>

struct sg_strbuf {
	char *buf;
	size_t len;
	size_t cap;
};

#define SG_STRBUF_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void sg_strbuf_release(struct sg_strbuf *sb);
/* Forget the contents, keep the memory. */
void sg_strbuf_reset(struct sg_strbuf *sb);
int sg_strbuf_add(struct sg_strbuf *sb, const char *data, size_t len);
int sg_strbuf_addstr(struct sg_strbuf *sb, const char *s);
int sg_strbuf_addf(struct sg_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the string to the caller, who frees it; sb is left empty. NULL when
 * nothing was ever added. */
char *sg_strbuf_detach(struct sg_strbuf *sb);

#endif
