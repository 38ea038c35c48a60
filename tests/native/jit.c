/* SPDX-License-Identifier: MIT */
/*
 * A tiny JIT for test_native.py, independent of any runtime's tiering: it
 * copies a counting loop (x86-64 machine code) into anonymous executable
 * memory, names it in /tmp/perf-PID.map after a first line longer than any
 * reader's buffer, and runs it for SECONDS (argv[1]). The memory is mapped
 * executable from the start, after a pause, so that a profiler already
 * watching learns of it from a PERF_RECORD_MMAP2 named "//anon" (as V8's
 * code space often is). It exits at once after, so its last samples are
 * read after it is gone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* mov rcx, rdi; 1: dec rcx; jnz 1b; ret */
static const unsigned char spin_code[] = {0x48, 0x89, 0xf9, 0x48, 0xff, 0xc9, 0x75, 0xfb, 0xc3};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0, end;
	void (*spin)(uint64_t);
	char path[64];
	unsigned char *code;
	FILE *map;

	usleep(500 * 1000);
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	            0);
	if (code == MAP_FAILED)
		return 1;
	memcpy(code, spin_code, sizeof(spin_code));
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	map = fopen(path, "w");
	if (!map)
		return 1;
	fprintf(map, "%lx 10 ", (unsigned long)(uintptr_t)code + 2048);
	for (int i = 0; i < 6000; i++)
		fputc('x', map);
	fprintf(map, "\n%lx %zx jit_spin\n", (unsigned long)(uintptr_t)code, sizeof(spin_code));
	fclose(map);
	spin = (void (*)(uint64_t))(uintptr_t)code;
	end = now_s() + seconds;
	while (now_s() < end)
		spin(1000000);
	return 0;
}
