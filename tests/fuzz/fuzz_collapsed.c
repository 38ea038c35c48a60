/* SPDX-License-Identifier: MIT */
/* The collapsed reader takes files from anywhere: arbitrary bytes must give
 * a profile or a clean error, and whatever it accepts must write back and
 * read again to the same text. */
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

static struct sg_profile *read_text(const void *data, size_t size, int *err)
{
	struct sg_profile *p = sg_profile_new();
	char msg[256];
	FILE *in;

	if (!p || size == 0) {
		*err = -1;
		return p;
	}
	in = fmemopen((void *)(uintptr_t)data, size, "r");
	*err = sg_format_by_name("collapsed")->read(in, p, msg, sizeof(msg));
	fclose(in);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_write_opts opts = {.threads = true, .processes = true};
	struct sg_profile *p, *q;
	char *first, *second;
	int err;

	p = read_text(data, size, &err);
	if (err) {
		sg_profile_free(p);
		return 0;
	}
	first = write_text(p, &opts);
	q = read_text(first, strlen(first), &err);
	if (err)
		abort();
	second = write_text(q, &opts);
	if (strcmp(first, second) != 0)
		abort();
	free(first);
	free(second);
	sg_profile_free(p);
	sg_profile_free(q);
	return 0;
}
