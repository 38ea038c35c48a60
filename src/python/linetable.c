/* SPDX-License-Identifier: MIT */
#include "python/linetable.h"

#include <limits.h>
#include <stdbool.h>

/*
 * Lines are accumulated in int64_t and checked against INT_MAX after every
 * step. In a well-formed table every partial sum is itself a line number (or
 * lies between two), so leaving int range can only mean garbage, and the
 * check keeps the sum far from int64_t overflow.
 */
static bool line_ok(int64_t line)
{
	return line >= -(int64_t)INT_MAX && line <= INT_MAX;
}

static int line_result(int64_t line)
{
	return line >= 0 && line <= INT_MAX ? (int)line : -1;
}

/* A byte as a two's complement int8, without implementation-defined casts. */
static int sbyte(uint8_t b)
{
	return b < 128 ? (int)b : (int)b - 256;
}

/*
 * co_lnotab (2.7, 3.6-3.9): pairs (address increment u8, line increment),
 * the line increment unsigned on 2.7 and int8 from 3.6. Same walk as
 * PyCode_Addr2Line: a pair's line increment applies once its cumulative
 * address is <= offset.
 */
static int lnotab_line(const uint8_t *t, size_t len, int firstlineno, uint32_t offset,
                       bool signed_lines)
{
	uint64_t addr = 0;
	int64_t line = firstlineno;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > offset)
			return line_result(line);
		line += signed_lines ? sbyte(t[i + 1]) : t[i + 1];
		if (!line_ok(line))
			return -1;
	}
	/* A cut pair still answers if its address half already passes us. */
	if (i < len && addr + t[i] <= offset)
		return -1;
	return line_result(line);
}

/*
 * 3.10 co_linetable: pairs (byte length u8, line delta int8); each pair
 * covers the next `length` bytes; -128 means "no line" and leaves the running
 * line alone. Zero-length pairs only carry line deltas.
 */
static int linetable310_line(const uint8_t *t, size_t len, int firstlineno, uint32_t offset)
{
	uint64_t end = 0;
	int64_t line = firstlineno;

	for (size_t i = 0; i + 1 < len; i += 2) {
		int delta = sbyte(t[i + 1]);
		bool has_line = delta != -128;

		end += t[i];
		if (has_line) {
			line += delta;
			if (!line_ok(line))
				return -1;
		}
		/* Entries are contiguous from 0, so the first that ends past
		 * the offset is the one containing it. */
		if (offset < end)
			return has_line ? line_result(line) : -1;
	}
	return -1;
}

enum {
	LOC_ONE_LINE0 = 10,
	LOC_ONE_LINE2 = 12,
	LOC_NO_COLUMNS = 13,
	LOC_LONG = 14,
	LOC_NONE = 15,
	/* CPython writes 32-bit values: 6 chunks of 6 bits suffice. */
	LOC_VARINT_MAX_CHUNKS = 6,
};

/*
 * Location-table varint: 6-bit chunks, least significant first, bit 6 says
 * more follow. Its bytes never have bit 7 set (that marks an entry start),
 * so such a byte, the end of the table or too many chunks is malformed.
 */
static bool read_varint(const uint8_t *t, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t val = 0;

	for (unsigned n = 0; n < LOC_VARINT_MAX_CHUNKS; n++) {
		if (*pos >= len || (t[*pos] & 0x80))
			return false;
		uint8_t b = t[(*pos)++];
		val |= (uint64_t)(b & 63) << (6 * n);
		if (!(b & 64)) {
			*out = val;
			return true;
		}
	}
	return false;
}

/* Zig-zag-like: low bit is the sign, the rest the magnitude. */
static bool read_svarint(const uint8_t *t, size_t len, size_t *pos, int64_t *out)
{
	uint64_t u;

	if (!read_varint(t, len, pos, &u))
		return false;
	*out = (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return true;
}

/*
 * 3.11+ location table (CPython Objects/locations.md): each entry starts
 * with a byte 1CCCCLLL, code C, covering L+1 code units. Only the start line
 * matters here: codes 0-9 keep the line, 10-12 add C-10, 13 and 14 add an
 * svarint right after the header, 15 has no location. The remaining bytes
 * (columns) are skipped up to the next byte with bit 7 set, as CPython does.
 */
static int locations_line(const uint8_t *t, size_t len, int firstlineno, uint32_t offset)
{
	uint64_t end = 0;
	int64_t line = firstlineno;
	size_t i = 0;

	while (i < len) {
		uint8_t head = t[i];
		unsigned code = (head >> 3) & 15;
		size_t pos = i + 1;
		int64_t delta = 0;

		if (!(head & 0x80))
			return -1;
		end += ((uint64_t)(head & 7) + 1) * 2;
		if (code == LOC_NO_COLUMNS || code == LOC_LONG) {
			if (!read_svarint(t, len, &pos, &delta))
				return -1;
		} else if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2) {
			delta = (int64_t)code - LOC_ONE_LINE0;
		}
		line += delta;
		if (!line_ok(line))
			return -1;
		if (offset < end)
			return code == LOC_NONE ? -1 : line_result(line);
		i = pos;
		while (i < len && !(t[i] & 0x80))
			i++;
	}
	return -1;
}

int sg_linetable_line(enum sg_linetable_kind kind, const uint8_t *table, size_t len,
                      int firstlineno, uint32_t offset)
{
	if (table == NULL && len != 0)
		return -1;
	switch (kind) {
	case SG_LINETABLE_LNOTAB2:
		return lnotab_line(table, len, firstlineno, offset, false);
	case SG_LINETABLE_LNOTAB:
		return lnotab_line(table, len, firstlineno, offset, true);
	case SG_LINETABLE_310:
		return linetable310_line(table, len, firstlineno, offset);
	case SG_LINETABLE_LOCATIONS:
		return locations_line(table, len, firstlineno, offset);
	}
	return -1;
}
