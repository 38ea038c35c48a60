/* SPDX-License-Identifier: MIT */
/*
 * For test_native.py: waits until the file argv[1] exists (the test makes
 * it once spyglass is attached), then dlopens the library argv[2] and runs
 * its lib_spin for argv[3] seconds. Its frames can only be named from the
 * MMAP2 record that the load produces.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	void (*spin)(double);
	void *lib;

	if (argc < 4)
		return 2;
	for (int i = 0; access(argv[1], F_OK) != 0; i++) {
		if (i > 3000)
			return 3;
		nanosleep(&ts, NULL);
	}
	lib = dlopen(argv[2], RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	spin = (void (*)(double))dlsym(lib, "lib_spin");
	if (!spin)
		return 1;
	spin(atof(argv[3]));
	return 0;
}
