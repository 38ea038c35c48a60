/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the perf ring-buffer record parser. Input: byte 0
 * picks the sample layout (bit 0: with registers and stack), the rest is one
 * record. The record is copied to an exact-size, 8-aligned heap buffer so
 * ASan sees any read past len. Every pointer the parser hands back is read
 * end to end, as the sampler would read it.
 *
 *   make build-fuzz/fuzz_perf && build-fuzz/fuzz_perf tests/fuzz/corpus/perf
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>

#include "target/perf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CALLCHAIN;
	uint64_t mask = 0, sum = 0;
	struct sg_perf_record r;
	size_t len;
	void *buf;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		mask = 0xff01ff;
	}
	len = size - 1;
	buf = aligned_alloc(8, (len + 7) & ~(size_t)7);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	if (sg_perf_parse(buf, len, type, mask, &r) == 0) {
		if (r.type == PERF_RECORD_SAMPLE) {
			for (uint64_t i = 0; i < r.sample.nips; i++)
				sum += r.sample.ips[i];
			for (uint32_t i = 0; r.sample.abi && i < r.sample.nregs; i++)
				sum += r.sample.regs[i];
			for (uint64_t i = 0; i < r.sample.stack_size; i++)
				sum += r.sample.stack[i];
		} else if (r.type == PERF_RECORD_MMAP2) {
			sum += strlen(r.mmap.filename);
		} else if (r.type == PERF_RECORD_COMM) {
			sum += strlen(r.comm.comm);
		}
	}
	free(buf);
	return sum == 1; /* keep the reads */
}
