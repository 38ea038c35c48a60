/* SPDX-License-Identifier: MIT */
/* The collapsed reader takes files from anywhere: arbitrary bytes must give
 * a profile or a clean error, and whatever it accepts must write back and
 * read again to the same text, with and without the optional roots. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *write_text(const struct sg_profile *p, const struct sg_write_opts *opts)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (!out || sg_format_by_name("collapsed")->write(p, opts, out))
		abort();
	fclose(out);
	return buf;
}

/* NULL when the bytes are rejected. */
static struct sg_profile *read_text(const void *data, size_t size)
{
	struct sg_profile *p = sg_profile_new();
	char msg[256];
	FILE *in;
	int err;

	if (!p)
		abort();
	/* fmemopen refuses an empty buffer; an empty file is rejected anyway. */
	in = size ? fmemopen((void *)(uintptr_t)data, size, "r") : NULL;
	err = in ? sg_format_by_name("collapsed")->read(in, p, msg, sizeof(msg)) : -1;
	if (in)
		fclose(in);
	if (err) {
		sg_profile_free(p);
		return NULL;
	}
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_profile *p = read_text(data, size);

	if (!p)
		return 0;
	for (int roots = 0; roots < 4; roots++) {
		struct sg_write_opts opts = {.threads = roots & 1, .processes = roots & 2};
		char *first = write_text(p, &opts), *second;
		struct sg_profile *q = read_text(first, strlen(first));

		if (!q)
			abort();
		second = write_text(q, &opts);
		if (strcmp(first, second) != 0)
			abort();
		free(first);
		free(second);
		sg_profile_free(q);
	}
	sg_profile_free(p);
	return 0;
}
