/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "formats/format.h"
#include "store/store.h"
#include "util/err.h"
#include "util/strbuf.h"

#define STORE_FORMAT  "spyglass-store"
#define STORE_VERSION 1
/* How long a writer or reader waits for the other's lock. */
#define BUSY_TIMEOUT_MS 5000
/* Label sets per query: enough for any command line. */
#define MAX_WHERE 32

struct sg_store {
	sqlite3 *db;
	char *path;
	bool queue; /* sg_store_put queues windows for pushing */
};

static const char schema[] =
    "CREATE TABLE spyglass_store(key TEXT PRIMARY KEY, value);"
    "INSERT INTO spyglass_store VALUES('format', '" STORE_FORMAT "');"
    "INSERT INTO spyglass_store VALUES('version', 1);"
    "CREATE TABLE series(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);"
    "CREATE TABLE labels(series INTEGER NOT NULL REFERENCES series(id), key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY(series, key));"
    "CREATE INDEX labels_kv ON labels(key, value);"
    "CREATE TABLE windows(id INTEGER PRIMARY KEY, series INTEGER NOT NULL REFERENCES series(id),"
    " mode TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,"
    " samples INTEGER NOT NULL, pprof BLOB NOT NULL);"
    "CREATE INDEX windows_start ON windows(start_ns);"
    "CREATE INDEX windows_series ON windows(series, start_ns);";

/* Added with push, to stores of version 1 too: nothing reads it but the
 * pusher. */
static const char queue_schema[] =
    "CREATE TABLE IF NOT EXISTS push_queue(window INTEGER PRIMARY KEY REFERENCES windows(id),"
    " attempts INTEGER NOT NULL DEFAULT 0);";

static int fail(char *why, size_t len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

/* An SQLite failure as one line: what we did, the path, SQLite's reason. */
static int db_fail(struct sg_store *s, char *why, size_t len, const char *doing)
{
	int code = sqlite3_errcode(s->db);

	if (code == SQLITE_NOTADB)
		return fail(why, len, SG_EFORMAT,
		            "%s is not a spyglass store (not an SQLite database)", s->path);
	if (code == SQLITE_NOMEM)
		return fail(why, len, SG_ENOMEM, "out of memory");
	/* SQLite's words for these name no cause; the system's do. */
	if ((code == SQLITE_CANTOPEN || code == SQLITE_READONLY || code == SQLITE_IOERR) &&
	    sqlite3_system_errno(s->db))
		return fail(why, len, SG_EIO, "could not %s %s: %s", doing, s->path,
		            strerror(sqlite3_system_errno(s->db)));
	return fail(why, len, SG_EIO, "could not %s %s: %s", doing, s->path, sqlite3_errmsg(s->db));
}

static int exec(struct sg_store *s, const char *sql, char *why, size_t len, const char *doing)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK
	           ? 0
	           : db_fail(s, why, len, doing);
}

/* The one integer sql gives (-1 when it gives no row). */
static int query_int(struct sg_store *s, const char *sql, int64_t *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	*v = -1;
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*v = sqlite3_column_int64(st, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Whether the open database is a store of a version we read. */
static int check_kind(struct sg_store *s, char *why, size_t len)
{
	int64_t tables, version;

	if (query_int(s, "SELECT count(*) FROM sqlite_master", &tables) != SQLITE_OK)
		return db_fail(s, why, len, "read");
	if (tables == 0)
		return 1; /* empty: a new store */
	if (query_int(
	        s,
	        "SELECT value FROM spyglass_store WHERE key = 'version' AND EXISTS "
	        "(SELECT 1 FROM spyglass_store WHERE key = 'format' AND value = '" STORE_FORMAT
	        "')",
	        &version) != SQLITE_OK ||
	    version < 0)
		return fail(why, len, SG_EFORMAT,
		            "%s is not a spyglass store (an SQLite database without its tables)",
		            s->path);
	if (version > STORE_VERSION)
		return fail(why, len, SG_EFORMAT,
		            "%s is a store of version %lld; this spyglass reads version %d: "
		            "upgrade it",
		            s->path, (long long)version, STORE_VERSION);
	return 0;
}

/* A store's settings and tables: a new one's (kind 1) made, and the
 * writer's settings and push queue set on any (not readonly). */
static int set_up(struct sg_store *s, int kind, bool readonly, char *why, size_t len)
{
	int err = 0;

	/* Space freed by retention goes back to the file system, which must
	 * be said before the first table. WAL: readers never wait for the
	 * writer, and a commit is one append; FULL: it survives a power cut. */
	if (kind == 1)
		err = exec(s, "PRAGMA auto_vacuum=INCREMENTAL", why, len, "create store");
	if (!err && !readonly)
		err = exec(s,
		           "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		           "PRAGMA journal_size_limit=16777216;",
		           why, len, "set up store");
	if (!err && kind == 1) {
		err = exec(s, "BEGIN", why, len, "create store");
		if (!err)
			err = exec(s, schema, why, len, "create store");
		if (!err)
			err = exec(s, "COMMIT", why, len, "create store");
	}
	if (!err && !readonly)
		err = exec(s, queue_schema, why, len, "set up store");
	return err;
}

/* A store that does not exist yet is made whole under a name of its own
 * in the same directory, then linked to path: a reader that opens path
 * while the agent starts finds no file or a whole store, never an empty
 * database with no tables yet, and of two agents starting at once on a
 * new path one makes it and the other opens it. Messages name path. */
static int create_whole(const char *path, char *why, size_t len)
{
	struct sg_store t = {0};
	struct sg_strbuf tmp = SG_STRBUF_INIT;
	static const char *const sidecars[] = {"", "-wal", "-shm", "-journal"};
	int err, fd, link_errno = 0;

	if (sg_strbuf_addf(&tmp, "%s.%d.new", path, (int)getpid()) || !(t.path = strdup(path))) {
		sg_strbuf_release(&tmp);
		return fail(why, len, SG_ENOMEM, "out of memory");
	}
	/* One left by an agent killed here, whose pid we now have. */
	unlink(tmp.buf);
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = fail(why, len, SG_EIO, "cannot create store %s: %s", path, strerror(errno));
		goto out;
	}
	close(fd);
	if (sqlite3_open_v2(tmp.buf, &t.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		err = t.db ? db_fail(&t, why, len, "create store")
		           : fail(why, len, SG_ENOMEM, "out of memory");
	else
		err = set_up(&t, 1, false, why, len);
	/* The last connection's close checkpoints the WAL into the file. */
	if (t.db && sqlite3_close(t.db) != SQLITE_OK && !err)
		err = db_fail(&t, why, len, "create store");
	t.db = NULL;
	/* link fails rather than replace a store made meanwhile; a file
	 * system without hard links gets a rename that does not replace. */
	if (!err && link(tmp.buf, path) != 0 && errno != EEXIST) {
		link_errno = errno;
		if (renameat2(AT_FDCWD, tmp.buf, AT_FDCWD, path, RENAME_NOREPLACE) != 0 &&
		    errno != EEXIST)
			err = fail(why, len, SG_EIO, "cannot create store %s: %s", path,
			           strerror(link_errno));
	}
out:
	for (size_t i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
		size_t at = tmp.len;

		if (!sg_strbuf_addstr(&tmp, sidecars[i]))
			unlink(tmp.buf);
		tmp.len = at;
		tmp.buf[at] = '\0';
	}
	free(t.path);
	sg_strbuf_release(&tmp);
	return err;
}

int sg_store_open(const char *path, bool create, bool readonly, struct sg_store **out, char *why,
                  size_t len)
{
	struct sg_store *s = calloc(1, sizeof(*s));
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	struct stat st;
	int err, kind;

	*out = NULL;
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return fail(why, len, SG_ENOMEM, "out of memory");
	}
	/* SQLite would make an empty database of a path that does not exist,
	 * and open a directory only to fail later: say which it is. */
	if (stat(path, &st) != 0) {
		if (errno != ENOENT || !create) {
			err = fail(why, len, SG_EIO, "cannot open store %s: %s", path,
			           strerror(errno));
			goto out_free;
		}
		err = create_whole(path, why, len);
		if (err)
			goto out_free;
	} else if (!S_ISREG(st.st_mode)) {
		err = fail(why, len, SG_EFORMAT, "%s is not a spyglass store (not a regular file)",
		           path);
		goto out_free;
	}
	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		err = s->db ? db_fail(s, why, len, "open store")
		            : fail(why, len, SG_ENOMEM, "out of memory");
		goto out_free;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	kind = check_kind(s, why, len);
	err = kind < 0 ? kind : 0;
	/* An empty file (touch PATH) is made a store in place. */
	if (kind == 1 && (readonly || !create))
		err = fail(why, len, SG_EFORMAT, "%s is not a spyglass store (an empty database)",
		           path);
	if (!err)
		err = set_up(s, kind, readonly, why, len);
	if (err)
		goto out_free;
	*out = s;
	return 0;
out_free:
	sg_store_close(s);
	return err;
}

void sg_store_close(struct sg_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* The series' canonical key: "k=v\n" per label, sorted by key. */
static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sg_store_label *)a)->key,
	              ((const struct sg_store_label *)b)->key);
}

static bool good_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!(*k >= 'a' && *k <= 'z') && !(*k >= 'A' && *k <= 'Z') &&
		    !(*k >= '0' && *k <= '9') && *k != '_' && *k != '.' && *k != '-')
			return false;
	return true;
}

/* The value as stored: newlines made spaces. Owned by the caller. */
static char *clean_value(const char *v)
{
	char *c = strdup(v);

	for (char *at = c; at && *at; at++)
		if (*at == '\n' || *at == '\r')
			*at = ' ';
	return c;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* The id of the series of labels (sorted), made if new. */
static int series_id(struct sg_store *s, const struct sg_store_label *labels, size_t n, int64_t *id)
{
	struct sg_strbuf key = SG_STRBUF_INIT;
	sqlite3_stmt *st = NULL;
	char **values = calloc(n + 1, sizeof(*values));
	int rc = values ? SQLITE_OK : SQLITE_NOMEM;

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		values[i] = clean_value(labels[i].value);
		if (!values[i] || sg_strbuf_addf(&key, "%s=%s\n", labels[i].key, values[i]))
			rc = SQLITE_NOMEM;
	}
	if (rc == SQLITE_OK)
		rc =
		    sqlite3_prepare_v2(s->db, "SELECT id FROM series WHERE key = ?", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = bind_text(st, 1, key.buf ? key.buf : "");
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*id = sqlite3_column_int64(st, 0);
			rc = SQLITE_DONE;
			goto out;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_DONE)
		rc = sqlite3_prepare_v2(s->db, "INSERT INTO series(key) VALUES(?)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = bind_text(st, 1, key.buf ? key.buf : "");
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	*id = sqlite3_last_insert_rowid(s->db);
	for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_finalize(st);
		st = NULL;
		rc = sqlite3_prepare_v2(s->db, "INSERT INTO labels VALUES(?, ?, ?)", -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 1, *id);
		if (rc == SQLITE_OK)
			rc = bind_text(st, 2, labels[i].key);
		if (rc == SQLITE_OK)
			rc = bind_text(st, 3, values[i]);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
	}
out:
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++)
		free(values[i]);
	free(values);
	sg_strbuf_release(&key);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* p as a gzipped pprof file in memory; *buf is the caller's to free. */
static int encode(const struct sg_profile *p, char **buf, size_t *n)
{
	struct sg_write_opts opts = {0};
	FILE *out = open_memstream(buf, n);
	int err;

	if (!out)
		return SG_ENOMEM;
	err = sg_format_by_name("pprof")->write(p, &opts, out);
	if (fclose(out) && !err)
		err = SG_ENOMEM;
	return err;
}

/* Insert one window, encoded, in the open transaction. */
static int insert_window(struct sg_store *s, int64_t series, const struct sg_profile *window,
                         const char *blob, size_t blob_len)
{
	const struct sg_meta *m = sg_profile_meta_const(window);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db,
	                            "INSERT INTO windows(series, mode, start_ns, end_ns, samples, "
	                            "pprof) VALUES(?, ?, ?, ?, ?, ?)",
	                            -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, series);
	if (rc == SQLITE_OK)
		rc = bind_text(st, 2, sg_mode_name(m->mode));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, (int64_t)m->start_unix_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, (int64_t)(m->start_unix_ns + m->duration_ns));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, (int64_t)sg_profile_total(window));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob64(st, 6, blob, blob_len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE && s->queue) {
		char sql[96];

		snprintf(sql, sizeof(sql), "INSERT INTO push_queue(window) VALUES(%lld)",
		         (long long)sqlite3_last_insert_rowid(s->db));
		rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		return rc;
	}
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int sg_store_put(struct sg_store *s, const struct sg_store_label *labels, size_t n,
                 const struct sg_profile *const *windows, size_t nwindows, char *why, size_t len)
{
	struct sg_store_label *sorted = malloc((n + 1) * sizeof(*sorted));
	char **blobs = calloc(nwindows + 1, sizeof(*blobs));
	size_t *lens = calloc(nwindows + 1, sizeof(*lens));
	int64_t series;
	int rc = SQLITE_OK, err = sorted && blobs && lens ? 0 : SG_ENOMEM;

	if (!err) {
		memcpy(sorted, labels, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), label_cmp);
	}
	for (size_t i = 0; i < n && !err; i++)
		if (!good_key(sorted[i].key) || (i && !strcmp(sorted[i].key, sorted[i - 1].key)))
			err = fail(
			    why, len, SG_EUSAGE,
			    "label '%s': keys are letters, digits, '_', '.' and '-', each once",
			    sorted[i].key);
	/* Encoded before the transaction: the database is locked only for
	 * the write itself. */
	for (size_t i = 0; i < nwindows && !err; i++)
		if ((err = encode(windows[i], &blobs[i], &lens[i])))
			err = fail(why, len, err, "could not encode a window: %s", sg_err_str(err));
	if (err == SG_ENOMEM)
		fail(why, len, err, "out of memory");
	if (!err) {
		rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = series_id(s, sorted, n, &series);
		for (size_t i = 0; i < nwindows && rc == SQLITE_OK; i++)
			rc = insert_window(s, series, windows[i], blobs[i], lens[i]);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
		err = rc == SQLITE_OK ? 0 : db_fail(s, why, len, "write a window to");
		if (err)
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	for (size_t i = 0; blobs && i < nwindows; i++)
		free(blobs[i]);
	free(blobs);
	free(lens);
	free(sorted);
	return err;
}

/* Bytes the database's pages in use take. */
static int used_bytes(struct sg_store *s, uint64_t *bytes)
{
	int64_t pages, free_pages, size;

	if (query_int(s, "PRAGMA page_count", &pages) != SQLITE_OK ||
	    query_int(s, "PRAGMA freelist_count", &free_pages) != SQLITE_OK ||
	    query_int(s, "PRAGMA page_size", &size) != SQLITE_OK)
		return SG_EIO;
	*bytes = (uint64_t)(pages - free_pages) * (uint64_t)size;
	return 0;
}

static int delete_where(struct sg_store *s, const char *sql, int64_t arg, uint64_t *removed)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, arg);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return SG_EIO;
	*removed += (uint64_t)sqlite3_changes(s->db);
	return 0;
}

int sg_store_retain(struct sg_store *s, uint64_t now_ns, uint64_t max_age_ns, uint64_t max_bytes,
                    uint64_t *removed, char *why, size_t len)
{
	uint64_t gone = 0, bytes;
	int err = 0;

	if (max_age_ns && now_ns > max_age_ns)
		err = delete_where(s, "DELETE FROM windows WHERE end_ns < ?",
		                   (int64_t)(now_ns - max_age_ns), &gone);
	/* Oldest first, a tenth of what is left at a time (at least one),
	 * until under the limit: bounded by the number of windows. */
	while (!err && max_bytes && !(err = used_bytes(s, &bytes)) && bytes > max_bytes) {
		int64_t left;
		uint64_t before = gone;

		if (query_int(s, "SELECT count(*) FROM windows", &left) != SQLITE_OK) {
			err = SG_EIO;
			break;
		}
		if (left <= 0)
			break;
		err =
		    delete_where(s,
		                 "DELETE FROM windows WHERE id IN (SELECT id FROM windows ORDER BY "
		                 "start_ns LIMIT ?)",
		                 left / 10 + 1, &gone);
		if (!err && gone == before)
			break;
	}
	if (!err && gone)
		err = exec(s,
		           "DELETE FROM push_queue WHERE window NOT IN (SELECT id FROM windows);"
		           "DELETE FROM labels WHERE series NOT IN (SELECT series FROM windows);"
		           "DELETE FROM series WHERE id NOT IN (SELECT series FROM windows);"
		           "PRAGMA incremental_vacuum;",
		           why, len, "clean up");
	else if (err)
		err = db_fail(s, why, len, "remove old windows from");
	if (removed)
		*removed = gone;
	return err;
}

/* The WHERE clause for f, its values bound from parameter 1 on. */
static int filter_sql(const struct sg_store_filter *f, struct sg_strbuf *sql)
{
	int err = sg_strbuf_addf(sql, " WHERE w.start_ns < ?1 AND w.end_ns > ?2");

	if (!err && f->mode != SG_MODE_UNKNOWN)
		err = sg_strbuf_addf(sql, " AND w.mode = ?3");
	for (size_t i = 0; i < f->nwhere && !err; i++)
		err = sg_strbuf_addf(
		    sql,
		    " AND w.series IN (SELECT series FROM labels WHERE key = ?%zu AND "
		    "value = ?%zu)",
		    4 + 2 * i, 5 + 2 * i);
	return err;
}

static int prepare_filtered(struct sg_store *s, const struct sg_store_filter *f, const char *head,
                            const char *tail, sqlite3_stmt **st)
{
	struct sg_strbuf sql = SG_STRBUF_INIT;
	int rc = SQLITE_NOMEM;

	*st = NULL;
	if (f->nwhere > MAX_WHERE)
		return SQLITE_RANGE;
	if (!sg_strbuf_addf(&sql, "%s", head) && !filter_sql(f, &sql) &&
	    !sg_strbuf_addf(&sql, "%s", tail))
		rc = sqlite3_prepare_v2(s->db, sql.buf, -1, st, NULL);
	sg_strbuf_release(&sql);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(*st, 1,
		                        f->to_ns > INT64_MAX ? INT64_MAX : (int64_t)f->to_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(*st, 2,
		                        f->from_ns > INT64_MAX ? INT64_MAX : (int64_t)f->from_ns);
	if (rc == SQLITE_OK && f->mode != SG_MODE_UNKNOWN)
		rc = bind_text(*st, 3, sg_mode_name(f->mode));
	for (size_t i = 0; i < f->nwhere && rc == SQLITE_OK; i++) {
		rc = bind_text(*st, (int)(4 + 2 * i), f->where[i].key);
		if (rc == SQLITE_OK)
			rc = bind_text(*st, (int)(5 + 2 * i), f->where[i].value);
	}
	return rc;
}

/* Read one window's pprof into a new profile (*out, the caller's). */
static int decode(const void *blob, size_t n, struct sg_profile **out, char *why, size_t len)
{
	FILE *in = n ? fmemopen((void *)blob, n, "r") : NULL;
	int err;

	*out = sg_profile_new();
	if (!*out || !in) {
		if (in)
			fclose(in);
		snprintf(why, len, "%s", n ? "out of memory" : "an empty profile");
		return n ? SG_ENOMEM : SG_EFORMAT;
	}
	err = sg_format_by_name("pprof")->read(in, *out, why, len);
	fclose(in);
	return err;
}

int sg_store_merge(struct sg_store *s, const struct sg_store_filter *f, struct sg_profile *into,
                   uint64_t *nwindows, char *why, size_t len)
{
	sqlite3_stmt *st;
	int rc = prepare_filtered(s, f, "SELECT w.id, w.pprof FROM windows w",
	                          " ORDER BY w.start_ns", &st);
	int err = 0;

	*nwindows = 0;
	while ((rc == SQLITE_OK || rc == SQLITE_ROW) && !err &&
	       (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sg_profile *w;
		char detail[256];

		err = decode(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), &w,
		             detail, sizeof(detail));
		if (err)
			err = fail(why, len, err, "%s: window %lld does not read: %s", s->path,
			           (long long)sqlite3_column_int64(st, 0), detail);
		else if ((err = sg_profile_merge(into, w)))
			err = fail(why, len, err, "out of memory");
		sg_profile_free(w);
		(*nwindows)++;
	}
	sqlite3_finalize(st);
	if (!err && rc != SQLITE_DONE)
		err = db_fail(s, why, len, "read");
	return err;
}

static enum sg_mode mode_of(const char *name)
{
	return !name                   ? SG_MODE_UNKNOWN
	       : !strcmp(name, "cpu")  ? SG_MODE_CPU
	       : !strcmp(name, "wall") ? SG_MODE_WALL
	                               : SG_MODE_UNKNOWN;
}

int sg_store_list(struct sg_store *s, const struct sg_store_filter *f,
                  int (*fn)(void *ctx, const struct sg_store_series *series), void *ctx, char *why,
                  size_t len)
{
	sqlite3_stmt *st;
	int rc = prepare_filtered(
	    s, f,
	    "SELECT (SELECT group_concat(key || '=' || value, ',') FROM (SELECT key, value FROM "
	    "labels WHERE series = w.series ORDER BY key)), w.mode, min(w.start_ns), "
	    "max(w.end_ns), "
	    "count(*), sum(w.samples) FROM windows w",
	    " GROUP BY w.series, w.mode ORDER BY 1, 2", &st);
	int stop = 0;

	while ((rc == SQLITE_OK || rc == SQLITE_ROW) && !stop &&
	       (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *labels = (const char *)sqlite3_column_text(st, 0);
		struct sg_store_series series = {
		    .labels = labels ? labels : "",
		    .mode = mode_of((const char *)sqlite3_column_text(st, 1)),
		    .first_ns = (uint64_t)sqlite3_column_int64(st, 2),
		    .last_ns = (uint64_t)sqlite3_column_int64(st, 3),
		    .windows = (uint64_t)sqlite3_column_int64(st, 4),
		    .samples = (uint64_t)sqlite3_column_int64(st, 5),
		};

		stop = fn(ctx, &series);
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? 0 : db_fail(s, why, len, "read");
}

int sg_store_check(const char *path, struct sg_store_stats *stats, char *why, size_t len)
{
	struct sg_store *s;
	sqlite3_stmt *st = NULL;
	int64_t n;
	int rc, err = sg_store_open(path, false, true, &s, why, len);

	memset(stats, 0, sizeof(*stats));
	if (err)
		return err;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		err = fail(why, len, SG_ECORRUPT, "%s is damaged: %s", path,
		           (const char *)sqlite3_column_text(st, 0));
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = db_fail(s, why, len, "check");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (query_int(s, "SELECT count(*) FROM series", &n) != SQLITE_OK) {
		err = db_fail(s, why, len, "check");
		goto out;
	}
	stats->series = (uint64_t)n;
	rc = sqlite3_prepare_v2(s->db,
	                        "SELECT w.id, w.start_ns, w.end_ns, w.samples, w.pprof, "
	                        "(SELECT count(*) FROM series WHERE id = w.series) FROM windows w "
	                        "ORDER BY w.start_ns",
	                        -1, &st, NULL);
	while ((rc == SQLITE_OK || rc == SQLITE_ROW) && !err &&
	       (rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		uint64_t start = (uint64_t)sqlite3_column_int64(st, 1);
		uint64_t end = (uint64_t)sqlite3_column_int64(st, 2);
		uint64_t samples = (uint64_t)sqlite3_column_int64(st, 3);
		size_t bytes = (size_t)sqlite3_column_bytes(st, 4);
		struct sg_profile *w;
		char detail[256];

		err = decode(sqlite3_column_blob(st, 4), bytes, &w, detail, sizeof(detail));
		if (err) {
			err = fail(why, len, SG_ECORRUPT, "%s: window %lld does not read: %s", path,
			           id, detail);
		} else if (sqlite3_column_int64(st, 5) != 1 || end < start) {
			err = fail(why, len, SG_ECORRUPT,
			           "%s: window %lld has no series or ends first", path, id);
		} else if (sg_profile_total(w) != samples ||
		           sg_profile_meta_const(w)->start_unix_ns != start ||
		           start + sg_profile_meta_const(w)->duration_ns != end) {
			err = fail(why, len, SG_ECORRUPT,
			           "%s: window %lld's profile does not match its row (samples or "
			           "times)",
			           path, id);
		}
		sg_profile_free(w);
		if (!err) {
			stats->first_ns = stats->windows++ ? stats->first_ns : start;
			stats->last_ns = end > stats->last_ns ? end : stats->last_ns;
			stats->bytes += bytes;
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(s, why, len, "check");
out:
	sqlite3_finalize(st);
	sg_store_close(s);
	return err;
}

void sg_store_queue_pushes(struct sg_store *s, bool on)
{
	s->queue = on;
}

void sg_store_pushed_release(struct sg_store_pushed *item)
{
	for (size_t i = 0; i < item->nlabels; i++) {
		free((char *)item->labels[i].key);
		free((char *)item->labels[i].value);
	}
	free(item->labels);
	free(item->pprof);
	memset(item, 0, sizeof(*item));
}

static int copy_labels(struct sg_store *s, int64_t series, struct sg_store_pushed *item)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc = sqlite3_prepare_v2(
	    s->db, "SELECT key, value FROM labels WHERE series = ? ORDER BY key", -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, series);
	while ((rc == SQLITE_OK || rc == SQLITE_ROW) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sg_store_label *l;

		if (item->nlabels == cap) {
			struct sg_store_label *more;

			cap = cap ? 2 * cap : 16;
			more = realloc(item->labels, cap * sizeof(*more));
			if (!more) {
				rc = SQLITE_NOMEM;
				break;
			}
			item->labels = more;
		}
		l = &item->labels[item->nlabels];
		l->key = strdup((const char *)sqlite3_column_text(st, 0));
		l->value = strdup((const char *)sqlite3_column_text(st, 1));
		item->nlabels++;
		if (!l->key || !l->value)
			rc = SQLITE_NOMEM;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int sg_store_next_push(struct sg_store *s, struct sg_store_pushed *item, char *why, size_t len)
{
	sqlite3_stmt *st;
	int found = 0, rc = sqlite3_prepare_v2(
	                   s->db,
	                   "SELECT q.window, q.attempts, w.mode, w.start_ns, w.end_ns, w.pprof, "
	                   "w.series FROM push_queue q JOIN windows w ON w.id = q.window "
	                   "ORDER BY w.start_ns, w.id LIMIT 1",
	                   -1, &st, NULL);

	memset(item, 0, sizeof(*item));
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(st, 2);

		item->window = sqlite3_column_int64(st, 0);
		item->attempts = (unsigned)sqlite3_column_int64(st, 1);
		item->mode = mode && !strcmp(mode, "wall") ? SG_MODE_WALL : SG_MODE_CPU;
		item->start_ns = (uint64_t)sqlite3_column_int64(st, 3);
		item->end_ns = (uint64_t)sqlite3_column_int64(st, 4);
		item->pprof_len = (size_t)sqlite3_column_bytes(st, 5);
		item->pprof = malloc(item->pprof_len + 1);
		if (!item->pprof)
			rc = SQLITE_NOMEM;
		else
			memcpy(item->pprof, sqlite3_column_blob(st, 5), item->pprof_len);
		if (rc == SQLITE_ROW)
			rc = copy_labels(s, sqlite3_column_int64(st, 6), item);
		found = 1;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		sg_store_pushed_release(item);
		return db_fail(s, why, len, "read the push queue of");
	}
	return found;
}

int sg_store_push_done(struct sg_store *s, int64_t window, bool dequeue, char *why, size_t len)
{
	char sql[128];

	snprintf(sql, sizeof(sql),
	         dequeue ? "DELETE FROM push_queue WHERE window = %lld"
	                 : "UPDATE push_queue SET attempts = attempts + 1 WHERE window = %lld",
	         (long long)window);
	return exec(s, sql, why, len, "update the push queue of");
}

int sg_store_queued(struct sg_store *s, uint64_t *n)
{
	int64_t v;

	if (query_int(s, "SELECT count(*) FROM push_queue", &v) != SQLITE_OK)
		return SG_EIO;
	*n = (uint64_t)v;
	return 0;
}
