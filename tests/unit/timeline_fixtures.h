/* SPDX-License-Identifier: MIT */
#ifndef SG_TESTS_TIMELINE_FIXTURES_H
#define SG_TESTS_TIMELINE_FIXTURES_H

/* For the writers of JSON timelines (speedscope, chrometrace): timed samples
 * by hand, writing to a string, and a strict JSON check. Include after
 * <cmocka.h> and profile_fixtures.h. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"

/* One sample of the n frames (root first) in thread tid of pid, taken at
 * t_ns and standing for weight_ns. */
static inline void fx_add_at(struct sg_profile *p, const uint32_t *frames, size_t n, pid_t pid,
                             pid_t tid, const char *thread, uint32_t flags, uint64_t t_ns,
                             uint64_t weight_ns)
{
	struct sg_labels labels = {.pid = pid, .tid = tid, .flags = flags};
	uint32_t stack = sg_profile_stack_id(p, frames, n);

	assert_int_not_equal(stack, UINT32_MAX);
	labels.thread_name = fx_str(p, thread);
	assert_int_equal(sg_profile_add_at(p, stack, &labels, 1, weight_ns, t_ns), 0);
}

/* Write p in the format called name; the caller frees the text. */
static inline char *fx_write(const char *name, const struct sg_profile *p)
{
	const struct sg_format *f = sg_format_by_name(name);
	struct sg_write_opts opts = {.threads = true, .processes = true};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_non_null(out);
	assert_int_equal(f->write(p, &opts, out), 0);
	assert_int_equal(fclose(out), 0);
	return buf;
}

/* ---- a strict JSON check (RFC 8259, UTF-8) ---- */

static inline void fx_json_ws(const char **s)
{
	while (**s == ' ' || **s == '\n' || **s == '\r' || **s == '\t')
		(*s)++;
}

static inline bool fx_json_string(const char **s)
{
	const unsigned char *u = (const unsigned char *)*s;

	if (*u++ != '"')
		return false;
	while (*u != '"') {
		if (*u < 0x20)
			return false;
		if (*u == '\\') {
			u++;
			if (*u == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", u[i]) || !u[i])
						return false;
				u += 5;
			} else if (*u && strchr("\"\\/bfnrt", *u)) {
				u++;
			} else {
				return false;
			}
		} else if (*u < 0x80) {
			u++;
		} else {
			/* Well-formed UTF-8: lead byte, continuation bytes, no
			 * overlongs, surrogates or code points past U+10FFFF. */
			int n = *u >= 0xc2 && *u <= 0xdf   ? 1
			        : *u >= 0xe0 && *u <= 0xef ? 2
			        : *u >= 0xf0 && *u <= 0xf4 ? 3
			                                   : -1;
			unsigned cp = *u & (0x3f >> n);

			if (n < 0)
				return false;
			for (int i = 1; i <= n; i++) {
				if ((u[i] & 0xc0) != 0x80)
					return false;
				cp = cp << 6 | (u[i] & 0x3f);
			}
			if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
			    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
				return false;
			u += n + 1;
		}
	}
	*s = (const char *)u + 1;
	return true;
}

static inline bool fx_json_number(const char **s)
{
	const char *p = *s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	*s = p;
	return true;
}

static inline bool fx_json_value(const char **s, int depth)
{
	fx_json_ws(s);
	if (depth > 64)
		return false;
	if (**s == '{' || **s == '[') {
		char close = **s == '{' ? '}' : ']';
		bool object = close == '}';

		(*s)++;
		fx_json_ws(s);
		if (**s == close) {
			(*s)++;
			return true;
		}
		for (;;) {
			if (object) {
				fx_json_ws(s);
				if (!fx_json_string(s))
					return false;
				fx_json_ws(s);
				if (*(*s)++ != ':')
					return false;
			}
			if (!fx_json_value(s, depth + 1))
				return false;
			fx_json_ws(s);
			if (**s == close) {
				(*s)++;
				return true;
			}
			if (*(*s)++ != ',')
				return false;
		}
	}
	if (**s == '"')
		return fx_json_string(s);
	if (!strncmp(*s, "true", 4) || !strncmp(*s, "null", 4)) {
		*s += 4;
		return true;
	}
	if (!strncmp(*s, "false", 5)) {
		*s += 5;
		return true;
	}
	return fx_json_number(s);
}

/* Whether text is exactly one JSON value (surrounding white space allowed). */
static inline bool fx_json_valid(const char *text)
{
	if (!fx_json_value(&text, 0))
		return false;
	fx_json_ws(&text);
	return *text == '\0';
}

/* Where needle next occurs in text, or NULL. Not strstr: ASan's measures
 * the whole text each call, which made scanning a large file quadratic. */
static inline const char *fx_find(const char *text, const char *needle)
{
	size_t n = strlen(needle);

	for (; *text; text++)
		if (*text == *needle && !strncmp(text, needle, n))
			return text;
	return NULL;
}

/* How many times needle occurs in text. */
static inline size_t fx_count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = fx_find(p, needle)); p += strlen(needle))
		n++;
	return n;
}

#endif
