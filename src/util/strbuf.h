/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_STRBUF_H
#define SG_UTIL_STRBUF_H

/*
 * A growable byte string, embedded by value (SG_STRBUF_INIT or zeroed).
 *
 * Invariants: buf[0..len) is the content and buf[len] == '\0' once any add
 * call has succeeded; before that buf may be NULL (len 0). The content may
 * hold NUL bytes (via sg_strbuf_add); then only len tells its size. After a
 * failed add (SG_ENOMEM) the content is unchanged. Pointers into buf are
 * invalidated by any add. Not thread-safe.
 *
 * The strbuf owns buf: free it with sg_strbuf_release, or take it with
 * sg_strbuf_detach.
 */

#include <stddef.h>

struct sg_strbuf {
	char *buf;
	size_t len; /* bytes of content, not counting the NUL */
	size_t cap; /* bytes allocated for buf */
};

#define SG_STRBUF_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Free buf; sb is left empty and reusable. */
void sg_strbuf_release(struct sg_strbuf *sb);
/* Forget the content, keep the memory (for a buffer reused per line). */
void sg_strbuf_reset(struct sg_strbuf *sb);
/* Append len bytes at data (which may be NULL when len is 0). 0 or SG_ENOMEM. */
int sg_strbuf_add(struct sg_strbuf *sb, const void *data, size_t len);
/* Append the NUL-terminated s. 0 or SG_ENOMEM. */
int sg_strbuf_addstr(struct sg_strbuf *sb, const char *s);
/* Append one byte. 0 or SG_ENOMEM. */
int sg_strbuf_addch(struct sg_strbuf *sb, char c);
/* Append printf-style. 0 or SG_ENOMEM. */
int sg_strbuf_addf(struct sg_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the string to the caller, who now owns it and frees it with free(3);
 * sb is left empty. NULL when nothing was ever added. */
char *sg_strbuf_detach(struct sg_strbuf *sb);

/* Length of the well-formed UTF-8 sequence at the NUL-terminated s (1-4),
 * or 0 if there is none (overlong forms, surrogates, past U+10FFFF). */
size_t sg_utf8_len(const unsigned char *s);

#endif
