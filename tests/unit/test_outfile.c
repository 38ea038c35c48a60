/* SPDX-License-Identifier: MIT */
/* Output files: what is created, replaced, kept and never removed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/outfile.h"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sg-outfile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	(void)state;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	return rmdir(dir);
}

static char *at(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	return p;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *get(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* prepare, open, write text, close with err; returns close's result. */
static int write_through(const char *path, const char *text, int err)
{
	struct sg_outfile *f;
	char why[512];
	FILE *out;
	int ret;

	assert_int_equal(sg_outfile_prepare(path, &f, why, sizeof(why)), 0);
	out = sg_outfile_open(f, 1000, NULL, why, sizeof(why));
	assert_non_null(out);
	fputs(text, out);
	ret = sg_outfile_close(f, err, why, sizeof(why));
	sg_outfile_free(f);
	return ret;
}

static void test_new_file_appears_only_when_whole(void **state)
{
	struct sg_outfile *f;
	char why[512];
	struct stat st;
	mode_t mask = umask(022);
	FILE *out;

	(void)state;
	assert_int_equal(sg_outfile_prepare(at("new.folded"), &f, why, sizeof(why)), 0);
	assert_int_equal(entries(), 0); /* prepare creates nothing */
	out = sg_outfile_open(f, 1000, NULL, why, sizeof(why));
	assert_non_null(out);
	fputs("a 1\n", out);
	assert_null(get(at("new.folded"))); /* not there until closed */
	assert_int_equal(entries(), 1);     /* the temporary file */
	assert_int_equal(sg_outfile_close(f, 0, why, sizeof(why)), 0);
	sg_outfile_free(f);
	assert_string_equal(get(at("new.folded")), "a 1\n");
	assert_int_equal(stat(at("new.folded"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(entries(), 1);
	umask(mask);
}

static void test_failed_write_keeps_old_file(void **state)
{
	struct stat st;

	(void)state;
	put(at("old.folded"), "old\n");
	chmod(at("old.folded"), 0600);
	assert_int_equal(write_through(at("old.folded"), "half", SG_ENOMEM), SG_ENOMEM);
	assert_string_equal(get(at("old.folded")), "old\n");
	assert_int_equal(entries(), 1); /* no temporary file left */
	assert_int_equal(write_through(at("old.folded"), "new\n", 0), 0);
	assert_string_equal(get(at("old.folded")), "new\n");
	assert_int_equal(stat(at("old.folded"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600); /* the old file's mode */
}

static void test_links_are_followed_and_kept(void **state)
{
	char buf[64];
	ssize_t n;

	(void)state;
	/* link1 -> link2 -> target, relative; and a dangling link. */
	put(at("target"), "old\n");
	assert_int_equal(symlink("link2", at("link1")), 0);
	assert_int_equal(symlink("target", at("link2")), 0);
	assert_int_equal(write_through(at("link1"), "new\n", 0), 0);
	assert_string_equal(get(at("target")), "new\n");
	n = readlink(at("link1"), buf, sizeof(buf));
	assert_true(n == 5 && memcmp(buf, "link2", 5) == 0);
	assert_int_equal(symlink("absent", at("dangling")), 0);
	assert_int_equal(write_through(at("dangling"), "made\n", 0), 0);
	assert_string_equal(get(at("absent")), "made\n");
	assert_int_equal(entries(), 5);
}

static void test_refusals_say_why(void **state)
{
	struct sg_outfile *f;
	char why[512];

	(void)state;
	assert_int_equal(symlink("loop2", at("loop1")), 0);
	assert_int_equal(symlink("loop1", at("loop2")), 0);
	assert_int_not_equal(sg_outfile_prepare(at("loop1"), &f, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "symbolic links"));
	sg_outfile_free(f);
	assert_int_not_equal(sg_outfile_prepare(dir, &f, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "is a directory"));
	sg_outfile_free(f);
	assert_int_not_equal(sg_outfile_prepare(at("no/such/x.folded"), &f, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "its folder: no such file or directory"));
	assert_non_null(strstr(why, "no/such/x.folded"));
	sg_outfile_free(f);
	assert_int_equal(entries(), 2);
}

static void test_device_written_directly(void **state)
{
	struct sg_outfile *f;
	char why[512];

	(void)state;
	assert_int_equal(write_through("/dev/null", "x\n", 0), 0);
	assert_int_equal(sg_outfile_prepare("/dev/full", &f, why, sizeof(why)), 0);
	assert_non_null(sg_outfile_open(f, 1000, NULL, why, sizeof(why)));
	assert_int_equal(sg_outfile_close(f, 0, why, sizeof(why)), 0); /* nothing written */
	sg_outfile_free(f);
	assert_int_equal(write_through("/dev/full", "x\n", 0), SG_EIO);
	assert_int_equal(sg_outfile_prepare("/dev/full", &f, why, sizeof(why)), 0);
	fputs("x\n", sg_outfile_open(f, 1000, NULL, why, sizeof(why)));
	sg_outfile_close(f, 0, why, sizeof(why));
	assert_string_equal(why, "could not write /dev/full: no space left on device");
	sg_outfile_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_file_appears_only_when_whole, make_dir,
	                                    remove_dir),
	    cmocka_unit_test_setup_teardown(test_failed_write_keeps_old_file, make_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_links_are_followed_and_kept, make_dir, remove_dir),
	    cmocka_unit_test_setup_teardown(test_refusals_say_why, make_dir, remove_dir),
	    cmocka_unit_test(test_device_written_directly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
