/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "formats/format.h"

extern const struct sg_format sg_format_collapsed;
extern const struct sg_format sg_format_pprof;
extern const struct sg_format sg_format_speedscope;
extern const struct sg_format sg_format_chrometrace;
extern const struct sg_format sg_format_flamegraph;

/* Every format, in the order help lists them. */
static const struct sg_format *const formats[] = {
    &sg_format_collapsed,   &sg_format_pprof,      &sg_format_speedscope,
    &sg_format_chrometrace, &sg_format_flamegraph,
};

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

const struct sg_format *sg_format_by_name(const char *name)
{
	for (size_t i = 0; i < NFORMATS; i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	return NULL;
}

const struct sg_format *sg_format_by_path(const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < NFORMATS; i++) {
		for (const char *const *ext = formats[i]->extensions; *ext; ext++) {
			size_t n = strlen(*ext);

			if (len > n && strcmp(path + len - n, *ext) == 0)
				return formats[i];
		}
	}
	return NULL;
}

const struct sg_format *sg_format_for_input(const char *path, const unsigned char *head, size_t n)
{
	const struct sg_format *f;

	for (size_t i = 0; i < NFORMATS; i++)
		if (formats[i]->read && formats[i]->sniff && formats[i]->sniff(head, n))
			return formats[i];
	f = sg_format_by_path(path);
	return f && f->read ? f : sg_format_by_name("collapsed");
}

const char *sg_format_names(void)
{
	static char names[256];
	size_t used = 0;

	if (names[0])
		return names;
	for (size_t i = 0; i < NFORMATS && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
		                         formats[i]->name);
	return names;
}
