/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the line-table decoders. Input: byte 0 picks the kind
 * (mod 4), bytes 1-4 the offset (little endian), the rest is the table.
 * firstlineno is derived from the offset bytes so the range checks are hit
 * too. The table is copied to an exact-size heap buffer so ASan sees any
 * read past len.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *       -include src/util/banned.h tests/fuzz/fuzz_linetable.c \
 *       src/python/linetable.c -o fuzz_linetable
 *   ./fuzz_linetable tests/fuzz/corpus/linetable
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/linetable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum sg_linetable_kind kinds[] = {
	    SG_LINETABLE_LNOTAB2,
	    SG_LINETABLE_LNOTAB,
	    SG_LINETABLE_310,
	    SG_LINETABLE_LOCATIONS,
	};
	if (size < 5)
		return 0;

	enum sg_linetable_kind kind = kinds[data[0] % 4];
	uint32_t offset = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
	                  (uint32_t)data[4] << 24;
	size_t len = size - 5;
	/* Mostly small real-looking first lines, sometimes extreme ones. */
	static const int firsts[] = {1, 0, 7, 1000, INT_MAX, -1, INT_MAX - 100, 300};
	int first = firsts[(data[0] >> 2) & 7];

	/* malloc(0) may return NULL; give the decoder a real pointer anyway. */
	uint8_t *table = malloc(len ? len : 1);
	if (table == NULL)
		return 0;
	memcpy(table, data + 5, len);

	int line = sg_linetable_line(kind, table, len, first, offset);
	if (line < -1)
		abort();
	/* co_linetable decoding stops at the entry holding the offset, so a
	 * prefix that already answers must agree with the whole table. (Not so
	 * for co_lnotab, whose last line extends to any offset.) */
	if (kind == SG_LINETABLE_310 || kind == SG_LINETABLE_LOCATIONS) {
		int pre = sg_linetable_line(kind, table, len / 2, first, offset);
		if (pre != -1 && pre != line)
			abort();
	}
	free(table);
	return 0;
}
