/* SPDX-License-Identifier: MIT */
/* ELF lookups and CPython version detection on real binaries: this test's
 * own executable, and every CPython installed here (each one is asked its
 * version, which the detector must find in the file without running it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf/elf.h"
#include "python/pyversion.h"
#include "target/maps.h"
#include "util/err.h"

int sg_test_marker = 0x5eed;

static void test_symbols_of_self(void **state)
{
	struct sg_elf *elf;
	struct sg_maps maps;
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	uint64_t value, size, load, live;
	int marker;

	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	assert_int_equal(sg_elf_open(exe, &elf), 0);
	assert_int_equal(sg_elf_symbol(elf, "sg_test_marker", &value, &size), 0);
	assert_int_equal(size, sizeof(int));
	/* Symbol value + where offset 0 is mapped - load base = live address. */
	assert_int_equal(sg_elf_load_base(elf, &load), 0);
	assert_int_equal(sg_maps_read(getpid(), &maps), 0);
	live = value + sg_maps_find_file_offset(&maps, exe, 0)->start - load;
	assert_int_equal(live, (uintptr_t)&sg_test_marker);
	/* Initialised data can be read from the file itself. */
	assert_int_equal(sg_elf_read_vaddr(elf, value, &marker, sizeof(marker)), 0);
	assert_int_equal(marker, 0x5eed);
	assert_int_equal(sg_elf_symbol(elf, "no_such_symbol_here", &value, NULL), SG_ENOTPY);
	sg_maps_release(&maps);
	sg_elf_free(elf);
}

static void test_not_elf(void **state)
{
	static const char text[] = "#!/bin/sh\necho not an ELF file\n";
	struct sg_elf *elf = NULL;

	(void)state;
	assert_int_equal(sg_elf_open_mem(text, sizeof(text), &elf), SG_EFORMAT);
	assert_int_equal(sg_elf_open("/nonexistent/file", &elf), SG_EIO);
	sg_elf_free(NULL);
}

static void test_scan(void **state)
{
	static const uint8_t rodata[] = "x\0/opt/py/3.9.18\0" /* merged tail */
	                                "13.9.1\0"            /* preceded by a digit */
	                                "3.10.0rc2\0"
	                                "2.7.18+\0"
	                                "3.11.x\0";
	struct sg_pyversion v;

	(void)state;
	assert_int_equal(sg_pyversion_scan(rodata, sizeof(rodata), 0, 0, &v), 0);
	assert_int_equal(v.major, 3);
	assert_int_equal(v.minor, 9);
	assert_int_equal(v.micro, 18);
	assert_int_equal(sg_pyversion_scan(rodata, sizeof(rodata), 3, 10, &v), 0);
	assert_int_equal(v.micro, 0);
	assert_int_equal(sg_pyversion_scan(rodata, sizeof(rodata), 2, 7, &v), 0);
	assert_int_equal(v.micro, 18);
	assert_int_equal(sg_pyversion_scan(rodata, sizeof(rodata), 3, 11, &v), SG_ENOTPY);
	/* Cut short: no terminating NUL, no match. */
	assert_int_equal(sg_pyversion_scan((const uint8_t *)"3.9.1", 5, 0, 0, &v), SG_ENOTPY);
}

/* Ask an interpreter for its version and the file its runtime lives in. */
static int ask_python(const char *python, char *file, size_t len, struct sg_pyversion *v)
{
	static const char script[] =
	    "import sys, sysconfig, os\n"
	    "lib = sysconfig.get_config_var('LDLIBRARY') or ''\n"
	    "libdir = sysconfig.get_config_var('LIBDIR') or ''\n"
	    "shared = sysconfig.get_config_var('Py_ENABLE_SHARED')\n"
	    "so = os.path.join(libdir, lib)\n"
	    "f = so if shared and os.path.exists(so) else os.path.realpath(sys.executable)\n"
	    "sys.stdout.write('%d %d %d %s' % (sys.version_info[0], sys.version_info[1], "
	    "sys.version_info[2], f))\n";
	char cmd[1024];
	FILE *p;
	int got;

	snprintf(cmd, sizeof(cmd), "'%s' -c \"$SG_SCRIPT\" 2>/dev/null", python);
	setenv("SG_SCRIPT", script, 1);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	got = fscanf(p, "%u %u %u %511s", &v->major, &v->minor, &v->micro, file);
	pclose(p);
	(void)len;
	return got == 4 ? 0 : -1;
}

static int holds_runtime(const struct sg_elf *elf)
{
	uint64_t value;

	return sg_elf_symbol(elf, "_PyRuntime", &value, NULL) == 0 ||
	       sg_elf_symbol(elf, "interp_head", &value, NULL) == 0;
}

static void test_detect_every_local_python(void **state)
{
	const char *home = getenv("HOME");
	char pattern[512];
	glob_t g = {0};
	size_t checked = 0;

	(void)state;
	snprintf(pattern, sizeof(pattern), "%s/.pyenv/versions/*/bin/python",
	         home ? home : "/root");
	glob(pattern, 0, NULL, &g);
	for (size_t i = 0; i <= g.gl_pathc; i++) {
		const char *python = i < g.gl_pathc ? g.gl_pathv[i] : "/usr/bin/python3";
		struct sg_pyversion want, got;
		struct sg_elf *elf;
		char file[512];

		if (access(python, X_OK) || ask_python(python, file, sizeof(file), &want)) {
			printf("# skipped %s: not found or not runnable\n", python);
			continue;
		}
		/* A static interpreter (Debian's) holds the runtime itself. */
		assert_int_equal(sg_elf_open(python, &elf), 0);
		if (!holds_runtime(elf)) {
			sg_elf_free(elf);
			assert_int_equal(sg_elf_open(file, &elf), 0);
		} else {
			snprintf(file, sizeof(file), "%s", python);
		}
		assert_true(holds_runtime(elf));
		assert_int_equal(sg_pyversion_detect(elf, &got), 0);
		printf("# %s: %u.%u.%u detected in %s\n", python, got.major, got.minor, got.micro,
		       file);
		assert_int_equal(got.major, want.major);
		assert_int_equal(got.minor, want.minor);
		assert_int_equal(got.micro, want.micro);
		sg_elf_free(elf);
		checked++;
	}
	globfree(&g);
	if (!checked)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_symbols_of_self),
	    cmocka_unit_test(test_not_elf),
	    cmocka_unit_test(test_scan),
	    cmocka_unit_test(test_detect_every_local_python),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
