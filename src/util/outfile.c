/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/outfile.h"

enum kind {
	KIND_STDOUT,  /* "-" */
	KIND_REGULAR, /* temporary file, renamed into place */
	KIND_DIRECT,  /* a device or socket, written as it is */
	KIND_FIFO,    /* opened without blocking, retried while it has no reader */
	KIND_APPEND,  /* a regular file behind /proc (/dev/stdout > file) */
};

struct sg_outfile {
	char *name; /* as given, for messages */
	char *dest; /* where to open, or to rename to */
	char *dir;  /* KIND_REGULAR: dest's folder, resolved */
	char *tmp;  /* KIND_REGULAR: the temporary file, once created */
	enum kind kind;
	bool named;   /* KIND_FIFO: a FIFO in the file system, not a pipe */
	bool existed; /* KIND_REGULAR: dest exists; mode and owner are its */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int fd;
	FILE *fp;
	int errnum; /* the first write(2) error */
	unsigned long long written;
};

#define MAX_LINKS  40       /* as the kernel's limit on symbolic links in a path */
#define STREAM_BUF 65536    /* writers write in small pieces: batch them */
#define RETRY_NS   20000000 /* 20 ms between tries to open a FIFO */

/* strerror's text starting lower-case, as our messages do, with the
 * consequence spelt out where the bare text misleads. */
static void describe(int e, char *buf, size_t len)
{
	if (e == EPIPE) {
		snprintf(buf, len, "the reading end was closed (broken pipe)");
		return;
	}
	snprintf(buf, len, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

static int fail(const struct sg_outfile *f, int e, const char *what, char *why, size_t len)
{
	char reason[160];

	describe(e, reason, sizeof(reason));
	snprintf(why, len, "cannot write %s: %s%s%s", f->name, what ? what : "", what ? ": " : "",
	         reason);
	return e == ENOMEM ? SG_ENOMEM : SG_EIO;
}

/* Malloc'd "dir/name" (dir may end in '/', as "/" does). */
static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir), m = strlen(name);
	bool slash = n && dir[n - 1] == '/';
	char *s = malloc(n + m + 2);

	if (s)
		snprintf(s, n + m + 2, "%s%s%s", dir, slash ? "" : "/", name);
	return s;
}

/* Malloc'd target of a symbolic link. */
static char *read_link(const char *path)
{
	for (size_t cap = 256; cap <= 65536; cap *= 2) {
		char *buf = malloc(cap);
		ssize_t n;

		if (!buf)
			return NULL;
		n = readlink(path, buf, cap);
		if (n >= 0 && (size_t)n < cap) {
			buf[n] = '\0';
			return buf;
		}
		free(buf);
		if (n < 0)
			return NULL;
	}
	errno = ENAMETOOLONG;
	return NULL;
}

/* A path reached through /proc (/dev/stdout, /dev/fd/N, /proc/self/fd/N)
 * names an open file, not a place: it is opened as it is. */
static int prepare_as_is(struct sg_outfile *f, char *why, size_t len)
{
	struct stat st;

	if (stat(f->name, &st) < 0)
		return fail(f, errno, NULL, why, len);
	if (S_ISDIR(st.st_mode))
		return fail(f, EISDIR, NULL, why, len);
	f->dest = strdup(f->name);
	if (!f->dest)
		return fail(f, ENOMEM, NULL, why, len);
	f->kind = S_ISREG(st.st_mode)    ? KIND_APPEND
	          : S_ISFIFO(st.st_mode) ? KIND_FIFO
	                                 : KIND_DIRECT;
	if (access(f->dest, W_OK) < 0)
		return fail(f, errno, NULL, why, len);
	return 0;
}

/* Follow cur's symbolic links to what it finally names, and decide how to
 * write there. Only the last component's links are followed by hand:
 * folders are resolved by realpath, which is all rename needs. */
static int resolve(struct sg_outfile *f, char *cur, char *why, size_t len)
{
	for (int hops = 0;; hops++) {
		char *slash = strrchr(cur, '/'), *base, *full, *target;
		struct stat st;

		base = slash ? slash + 1 : cur;
		if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
			free(cur);
			return fail(f, EISDIR, NULL, why, len);
		}
		if (slash == cur)
			f->dir = realpath("/", NULL);
		else if (slash) {
			*slash = '\0';
			f->dir = realpath(cur, NULL);
			*slash = '/';
		} else
			f->dir = realpath(".", NULL);
		if (!f->dir) {
			int e = errno;

			free(cur);
			return fail(f, e, "its folder", why, len);
		}
		if (strcmp(f->dir, "/proc") == 0 || strncmp(f->dir, "/proc/", 6) == 0) {
			free(cur);
			free(f->dir);
			f->dir = NULL;
			return prepare_as_is(f, why, len);
		}
		full = join(f->dir, base);
		free(cur);
		if (!full)
			return fail(f, ENOMEM, NULL, why, len);
		f->dest = full;
		if (lstat(full, &st) < 0) {
			if (errno != ENOENT)
				return fail(f, errno, NULL, why, len);
			f->kind = KIND_REGULAR;
			break;
		}
		if (!S_ISLNK(st.st_mode)) {
			if (S_ISDIR(st.st_mode))
				return fail(f, EISDIR, NULL, why, len);
			f->kind = S_ISREG(st.st_mode)    ? KIND_REGULAR
			          : S_ISFIFO(st.st_mode) ? KIND_FIFO
			                                 : KIND_DIRECT;
			f->named = true;
			f->existed = true;
			f->mode = st.st_mode & 07777;
			f->uid = st.st_uid;
			f->gid = st.st_gid;
			if (access(full, W_OK) < 0)
				return fail(f, errno, NULL, why, len);
			break;
		}
		if (hops == MAX_LINKS)
			return fail(f, ELOOP, NULL, why, len);
		target = read_link(full);
		if (!target)
			return fail(f, errno, NULL, why, len);
		cur = target[0] == '/' ? target : join(f->dir, target);
		if (cur != target)
			free(target);
		f->dest = NULL;
		free(full);
		free(f->dir);
		f->dir = NULL;
		if (!cur)
			return fail(f, ENOMEM, NULL, why, len);
	}
	/* The temporary file and the rename need the folder writable. */
	if (f->kind == KIND_REGULAR && access(f->dir, W_OK | X_OK) < 0)
		return fail(f, errno, "its folder", why, len);
	return 0;
}

int sg_outfile_prepare(const char *path, struct sg_outfile **out, char *why, size_t len)
{
	struct sg_outfile *f = calloc(1, sizeof(*f));
	char *cur;

	*out = NULL;
	if (!f || !(f->name = strdup(strcmp(path, "-") == 0 ? "standard output" : path))) {
		free(f);
		snprintf(why, len, "out of memory");
		return SG_ENOMEM;
	}
	f->fd = -1;
	*out = f;
	if (!*path) {
		snprintf(why, len, "cannot write the output: its path is empty");
		return SG_EUSAGE;
	}
	if (strcmp(path, "-") == 0) {
		f->kind = KIND_STDOUT;
		return 0;
	}
	cur = strdup(path);
	if (!cur)
		return fail(f, ENOMEM, NULL, why, len);
	return resolve(f, cur, why, len);
}

static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
	struct sg_outfile *f = cookie;
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(f->fd, buf + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!f->errnum)
				f->errnum = w < 0 ? errno : EIO;
			break;
		}
		done += (size_t)w;
		f->written += (unsigned long long)w;
	}
	/* Short means failed to stdio, which then marks the stream in error. */
	return (ssize_t)done;
}

/* Open a FIFO for writing without blocking: open(2) would wait for a reader
 * forever. Retried every RETRY_NS until wait_ms pass or a stop signal comes. */
static int open_fifo(struct sg_outfile *f, int wait_ms, FILE *notes, char *why, size_t len)
{
	struct timespec start, now, tick = {.tv_sec = 0, .tv_nsec = RETRY_NS};
	sigset_t stops, old;
	int err = 0;

	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &old);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (bool said = false;;) {
		double waited_ms;

		f->fd = open(f->dest, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (f->fd >= 0 || errno != ENXIO) {
			if (f->fd < 0)
				err = fail(f, errno, NULL, why, len);
			break;
		}
		/* No reader. A pipe's reader never comes back. */
		if (!f->named) {
			err = fail(f, EPIPE, NULL, why, len);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (double)(now.tv_sec - start.tv_sec) * 1e3 +
		            (double)(now.tv_nsec - start.tv_nsec) / 1e6;
		if (waited_ms >= wait_ms) {
			snprintf(why, len, "cannot write %s: no reader opened the FIFO in %d s",
			         f->name, wait_ms / 1000);
			err = SG_EIO;
			break;
		}
		if (!said && notes) {
			fprintf(notes,
			        "spyglass: waiting up to %d s for a reader of the FIFO %s "
			        "(Ctrl-C gives up)\n",
			        wait_ms / 1000, f->name);
			said = true;
		}
		if (sigtimedwait(&stops, NULL, &tick) > 0) {
			snprintf(why, len,
			         "cannot write %s: gave up waiting for a reader of the FIFO",
			         f->name);
			err = SG_EIO;
			break;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Writes may block from here on, as on any pipe. */
	if (!err && fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK) < 0)
		err = fail(f, errno, NULL, why, len);
	return err;
}

static int open_fd(struct sg_outfile *f, int wait_ms, FILE *notes, char *why, size_t len)
{
	switch (f->kind) {
	case KIND_STDOUT:
		f->fd = STDOUT_FILENO;
		return 0;
	case KIND_FIFO:
		return open_fifo(f, wait_ms, notes, why, len);
	case KIND_DIRECT:
		f->fd = open(f->dest, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		break;
	case KIND_APPEND:
		f->fd = open(f->dest, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
		break;
	case KIND_REGULAR: {
		const char *base = strrchr(f->dest, '/') + 1;
		size_t n = strlen(f->dir) + strlen(base) + 10;
		mode_t mask;

		f->tmp = malloc(n);
		if (!f->tmp)
			return fail(f, ENOMEM, NULL, why, len);
		snprintf(f->tmp, n, "%s/.%s.XXXXXX", strcmp(f->dir, "/") ? f->dir : "", base);
		f->fd = mkostemp(f->tmp, O_CLOEXEC);
		if (f->fd < 0) {
			free(f->tmp);
			f->tmp = NULL;
			return fail(f, errno, "a temporary file in its folder", why, len);
		}
		if (!f->existed) {
			mask = umask(0);
			umask(mask);
			f->mode = 0666 & ~mask;
		} else if (f->uid != geteuid() || f->gid != getegid()) {
			/* Best effort: only root may give a file away. */
			int ignored = fchown(f->fd, f->uid, f->gid);

			(void)ignored;
		}
		if (fchmod(f->fd, f->mode) < 0)
			return fail(f, errno, NULL, why, len);
		return 0;
	}
	}
	return f->fd < 0 ? fail(f, errno, NULL, why, len) : 0;
}

FILE *sg_outfile_open(struct sg_outfile *f, int wait_ms, FILE *notes, char *why, size_t len)
{
	cookie_io_functions_t io = {.write = stream_write};

	if (open_fd(f, wait_ms, notes, why, len))
		return NULL;
	f->fp = fopencookie(f, "w", io);
	if (!f->fp || setvbuf(f->fp, NULL, _IOFBF, STREAM_BUF) != 0) {
		fail(f, ENOMEM, NULL, why, len);
		return NULL;
	}
	return f->fp;
}

int sg_outfile_close(struct sg_outfile *f, int err, char *why, size_t len)
{
	char reason[160], where[PATH_MAX + 160] = "";
	int e = 0;

	if (f->fp && fclose(f->fp) != 0 && !f->errnum)
		f->errnum = EIO;
	f->fp = NULL;
	e = f->errnum;
	if (!e && !err && f->kind == KIND_REGULAR && fsync(f->fd) < 0)
		e = errno;
	if (f->fd >= 0 && f->kind != KIND_STDOUT && close(f->fd) < 0 && !e && errno != EINTR)
		e = errno;
	f->fd = -1;
	if (!e && !err && f->tmp) {
		if (rename(f->tmp, f->dest) < 0)
			e = errno;
		else {
			free(f->tmp);
			f->tmp = NULL;
		}
	}
	if (!e && !err)
		return 0;
	if (f->tmp) {
		unlink(f->tmp);
		free(f->tmp);
		f->tmp = NULL;
	}
	if (e) {
		describe(e, reason, sizeof(reason));
		if (f->kind == KIND_REGULAR)
			snprintf(where, sizeof(where), "%s%s (after %llu bytes; %s)",
			         e == ENOSPC || e == EDQUOT ? " in " : "",
			         e == ENOSPC || e == EDQUOT ? f->dir : "", f->written,
			         f->existed ? "the old file is left as it was"
			                    : "nothing was created");
		snprintf(why, len, "could not write %s: %s%s", f->name, reason, where);
		return e == ENOMEM ? SG_ENOMEM : SG_EIO;
	}
	snprintf(why, len, "could not write %s: %s", f->name, sg_err_str(err));
	return err;
}

const char *sg_outfile_name(const struct sg_outfile *f)
{
	return f->name;
}

void sg_outfile_free(struct sg_outfile *f)
{
	char ignored[1];

	if (!f)
		return;
	if (f->fp || f->fd >= 0 || f->tmp)
		sg_outfile_close(f, SG_EIO, ignored, sizeof(ignored));
	free(f->name);
	free(f->dest);
	free(f->dir);
	free(f);
}
