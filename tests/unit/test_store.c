/* SPDX-License-Identifier: MIT */
/* The store: windows in, series listed, windows merged, retention, checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "profile/profile.h"
#include "store/store.h"
#include "util/err.h"

#include "profile_fixtures.h"

#define SEC 1000000000ull

struct dir {
	char path[64], db[96];
};

static void make_dir(struct dir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/sg-store-XXXXXX");
	assert_non_null(mkdtemp(d->path));
	snprintf(d->db, sizeof(d->db), "%s/s.db", d->path);
}

static void remove_dir(struct dir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->path);
	assert_int_equal(system(cmd), 0);
}

/* A window of n samples in leaf, starting at start_s. */
static struct sg_profile *window(uint64_t start_s, const char *leaf, uint64_t n)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t frames[2];

	assert_non_null(p);
	frames[0] = fx_frame(p, "main", "m.py", 1);
	frames[1] = fx_frame(p, leaf, "m.py", 2);
	fx_add(p, frames, 2, 7, 7, "MainThread", 0, n);
	sg_profile_meta(p)->start_unix_ns = start_s * SEC;
	sg_profile_meta(p)->duration_ns = 10 * SEC;
	sg_profile_meta(p)->samples = n;
	return p;
}

static void put(struct sg_store *s, const char *service, uint64_t start_s, const char *leaf,
                uint64_t n)
{
	struct sg_store_label labels[] = {{"service", service}, {"host", "h1"}};
	struct sg_profile *p = window(start_s, leaf, n);
	const struct sg_profile *windows[] = {p};
	char why[256];

	assert_int_equal(sg_store_put(s, labels, 2, windows, 1, why, sizeof(why)), 0);
	sg_profile_free(p);
}

static int count_series(void *ctx, const struct sg_store_series *series)
{
	char *out = ctx;
	size_t used = strlen(out);

	snprintf(out + used, 512 - used, "%s %s %llu %llu %llu %llu\n", series->labels,
	         sg_mode_name(series->mode), (unsigned long long)(series->first_ns / SEC),
	         (unsigned long long)(series->last_ns / SEC), (unsigned long long)series->windows,
	         (unsigned long long)series->samples);
	return 0;
}

static void test_put_list_merge(void **state)
{
	struct sg_store_filter all = {.to_ns = UINT64_MAX, .mode = SG_MODE_UNKNOWN};
	struct sg_store_label web = {"service", "web"};
	struct sg_store_filter f = all;
	struct sg_store *s;
	struct sg_profile *m;
	struct sg_store_stats st;
	char why[256], listed[512] = "";
	uint64_t n;
	struct dir d;

	(void)state;
	make_dir(&d);
	assert_int_equal(sg_store_open(d.db, true, false, &s, why, sizeof(why)), 0);
	put(s, "web", 100, "f", 10);
	put(s, "web", 110, "g", 20);
	put(s, "batch", 105, "f", 5);
	assert_int_equal(sg_store_list(s, &all, count_series, listed, why, sizeof(why)), 0);
	assert_string_equal(listed, "host=h1,service=batch cpu 105 115 1 5\n"
	                            "host=h1,service=web cpu 100 120 2 30\n");
	/* A label selects its series; a time range the windows it overlaps. */
	f.where = &web;
	f.nwhere = 1;
	m = sg_profile_new();
	assert_int_equal(sg_store_merge(s, &f, m, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sg_profile_total(m), 30);
	assert_int_equal(sg_profile_meta(m)->start_unix_ns, 100 * SEC);
	assert_int_equal(sg_profile_meta(m)->duration_ns, 20 * SEC);
	sg_profile_free(m);
	f.from_ns = 112 * SEC;
	m = sg_profile_new();
	assert_int_equal(sg_store_merge(s, &f, m, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sg_profile_total(m), 20);
	sg_profile_free(m);
	f.mode = SG_MODE_WALL;
	m = sg_profile_new();
	assert_int_equal(sg_store_merge(s, &f, m, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	sg_profile_free(m);
	sg_store_close(s);
	assert_int_equal(sg_store_check(d.db, &st, why, sizeof(why)), 0);
	assert_int_equal(st.windows, 3);
	assert_int_equal(st.series, 2);
	assert_int_equal(st.first_ns, 100 * SEC);
	assert_int_equal(st.last_ns, 120 * SEC);
	remove_dir(&d);
}

static void test_retention(void **state)
{
	struct sg_store_filter all = {.to_ns = UINT64_MAX, .mode = SG_MODE_UNKNOWN};
	struct sg_store *s;
	struct sg_profile *m;
	char why[256];
	uint64_t removed, n;
	struct dir d;

	(void)state;
	make_dir(&d);
	assert_int_equal(sg_store_open(d.db, true, false, &s, why, sizeof(why)), 0);
	for (uint64_t i = 0; i < 50; i++)
		put(s, i < 10 ? "old" : "web", 1000 + 10 * i, "f", 1 + i);
	/* By age: windows that ended more than 100 s before 1500 s. */
	assert_int_equal(sg_store_retain(s, 1500 * SEC, 100 * SEC, 0, &removed, why, sizeof(why)),
	                 0);
	/* Those that ended before 1400 s: started before 1390 s. */
	assert_int_equal(removed, 39);
	m = sg_profile_new();
	assert_int_equal(sg_store_merge(s, &all, m, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 11);
	assert_int_equal(sg_profile_meta(m)->start_unix_ns, 1390 * SEC);
	sg_profile_free(m);
	/* By size: the oldest go until the rest fits. */
	for (uint64_t i = 0; i < 200; i++)
		put(s, "web", 2000 + 10 * i, "f", 1 + i);
	assert_int_equal(sg_store_retain(s, 0, 0, 64 * 1024, &removed, why, sizeof(why)), 0);
	assert_true(removed > 0 && removed < 211);
	m = sg_profile_new();
	assert_int_equal(sg_store_merge(s, &all, m, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 211 - removed);
	/* What is left is the newest. */
	assert_int_equal(sg_profile_meta(m)->start_unix_ns + sg_profile_meta(m)->duration_ns,
	                 (2000 + 10 * 199 + 10) * SEC);
	sg_profile_free(m);
	sg_store_close(s);
	remove_dir(&d);
}

static void test_not_a_store(void **state)
{
	struct sg_store_stats st;
	struct sg_store *s;
	char why[512], path[128];
	struct dir d;
	sqlite3 *db;
	FILE *f;

	(void)state;
	make_dir(&d);
	snprintf(path, sizeof(path), "%s/text", d.path);
	f = fopen(path, "w");
	fputs("hello, this is not a database at all, but it is long enough\n", f);
	fclose(f);
	assert_int_equal(sg_store_open(path, true, false, &s, why, sizeof(why)), SG_EFORMAT);
	assert_null(s);
	assert_non_null(strstr(why, "is not a spyglass store"));
	assert_int_equal(sg_store_check(path, &st, why, sizeof(why)), SG_EFORMAT);
	/* Another program's database. */
	assert_int_equal(sqlite3_open(d.db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sg_store_open(d.db, true, false, &s, why, sizeof(why)), SG_EFORMAT);
	assert_non_null(strstr(why, "without its tables"));
	/* Missing, for a reader. */
	snprintf(path, sizeof(path), "%s/none.db", d.path);
	assert_int_equal(sg_store_open(path, false, true, &s, why, sizeof(why)), SG_EIO);
	assert_non_null(strstr(why, "No such file"));
	remove_dir(&d);
}

static void test_check_finds_a_bad_window(void **state)
{
	struct sg_store_stats st;
	struct sg_store *s;
	char why[512];
	struct dir d;
	sqlite3 *db;

	(void)state;
	make_dir(&d);
	assert_int_equal(sg_store_open(d.db, true, false, &s, why, sizeof(why)), 0);
	put(s, "web", 100, "f", 10);
	put(s, "web", 110, "f", 10);
	sg_store_close(s);
	assert_int_equal(sg_store_check(d.db, &st, why, sizeof(why)), 0);
	assert_int_equal(sqlite3_open(d.db, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "UPDATE windows SET samples = 11 WHERE id = 2", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sg_store_check(d.db, &st, why, sizeof(why)), SG_ECORRUPT);
	assert_non_null(strstr(why, "window 2's profile does not match"));
	assert_int_equal(sqlite3_open(d.db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE windows SET pprof = x'1f8b0800' WHERE id = 2",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sg_store_check(d.db, &st, why, sizeof(why)), SG_ECORRUPT);
	assert_non_null(strstr(why, "window 2 does not read"));
	remove_dir(&d);
}

static void test_push_queue(void **state)
{
	struct sg_store_pushed w;
	struct sg_store *s;
	char why[256];
	uint64_t n;
	struct dir d;

	(void)state;
	make_dir(&d);
	assert_int_equal(sg_store_open(d.db, true, false, &s, why, sizeof(why)), 0);
	put(s, "web", 100, "f", 10); /* before queueing: never pushed */
	sg_store_queue_pushes(s, true);
	put(s, "web", 120, "f", 10);
	put(s, "web", 110, "g", 20);
	assert_int_equal(sg_store_queued(s, &n), 0);
	assert_int_equal(n, 2);
	/* Oldest first, with its labels and profile; a failure keeps it first. */
	assert_int_equal(sg_store_next_push(s, &w, why, sizeof(why)), 1);
	assert_int_equal(w.start_ns, 110 * SEC);
	assert_int_equal(w.attempts, 0);
	assert_int_equal(w.nlabels, 2);
	assert_string_equal(w.labels[0].key, "host");
	assert_string_equal(w.labels[1].value, "web");
	assert_true(w.pprof_len > 20);
	assert_int_equal(sg_store_push_done(s, w.window, false, why, sizeof(why)), 0);
	sg_store_pushed_release(&w);
	assert_int_equal(sg_store_next_push(s, &w, why, sizeof(why)), 1);
	assert_int_equal(w.start_ns, 110 * SEC);
	assert_int_equal(w.attempts, 1);
	assert_int_equal(sg_store_push_done(s, w.window, true, why, sizeof(why)), 0);
	sg_store_pushed_release(&w);
	/* The queue is in the store: another connection sees the rest. */
	sg_store_close(s);
	assert_int_equal(sg_store_open(d.db, false, false, &s, why, sizeof(why)), 0);
	assert_int_equal(sg_store_next_push(s, &w, why, sizeof(why)), 1);
	assert_int_equal(w.start_ns, 120 * SEC);
	assert_int_equal(sg_store_push_done(s, w.window, true, why, sizeof(why)), 0);
	sg_store_pushed_release(&w);
	assert_int_equal(sg_store_next_push(s, &w, why, sizeof(why)), 0);
	sg_store_close(s);
	remove_dir(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_list_merge), cmocka_unit_test(test_retention),
	    cmocka_unit_test(test_not_a_store),    cmocka_unit_test(test_check_finds_a_bad_window),
	    cmocka_unit_test(test_push_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
