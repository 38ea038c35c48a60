/* SPDX-License-Identifier: MIT */
#ifndef SG_FUZZ_LAYOUT313_H
#define SG_FUZZ_LAYOUT313_H

/*
 * 3.13 has no row in layouts.c: a target publishes its layout in
 * _Py_DebugOffsets at the start of _PyRuntime (debug_offsets.c). The
 * fuzzers take it from these words, the start of _PyRuntime of a 3.13.0
 * build (pyenv, x86-64), read with ctypes from that interpreter itself
 * (0: not listed), parsed as a target's are.
 */
#include <stdint.h>
#include <string.h>

#include "python/debug_offsets.h"

static const struct sg_pylayout *fuzz_layout313(void)
{
	static struct sg_pylayout l;
	static int done;
	static const uint64_t words[SG_DEBUG_OFFSETS_SIZE / 8] = {
	    [1] = 51183856, [3] = 283320, [4] = 608,   [5] = 632,   [6] = 194968, [7] = 7272,
	    [8] = 7264,     [9] = 7344,   [10] = 7400, [11] = 7656, [12] = 7640,  [13] = 7648,
	    [14] = 16,      [15] = 7752,  [17] = 7768, [18] = 7760, [19] = 304,   [21] = 8,
	    [22] = 16,      [23] = 72,    [24] = 152,  [25] = 160,  [26] = 232,   [27] = 32,
	    [28] = 80,      [29] = 8,     [31] = 56,   [32] = 72,   [33] = 70,    [34] = 208,
	    [35] = 112,     [36] = 120,   [37] = 128,  [38] = 136,  [39] = 68,    [40] = 52,
	    [41] = 96,      [42] = 104,   [43] = 200,  [44] = 16,   [45] = 8,     [46] = 416,
	    [47] = 24,      [48] = 88,    [49] = 168,  [50] = 32,   [51] = 24,    [52] = 16,
	    [53] = 40,      [54] = 24,    [55] = 16,   [56] = 48,   [57] = 32,    [58] = 40,
	    [59] = 24,      [60] = 16,    [61] = 32,   [62] = 16,   [63] = 24,    [64] = 40,
	    [65] = 16,      [66] = 32,    [67] = 64,   [68] = 32,   [69] = 16,    [70] = 40,
	    [71] = 240,     [72] = 200,
	};

	if (!done) {
		uint8_t buf[sizeof(words)];

		memcpy(buf, words, sizeof(buf));
		memcpy(buf, "xdebugpy", 8);
		if (sg_pylayout_from_debug_offsets(buf, sizeof(buf), &l))
			return NULL;
		done = 1;
	}
	return &l;
}

#endif
