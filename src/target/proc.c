/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/proc.h"
#include "util/err.h"

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = read(fd, buf, len);
	close(fd);
	return got;
}

/* The state letter after the ")" that closes comm: comm may hold spaces
 * and parentheses, so search from the end. */
static int stat_state(const char *stat, size_t len, char *state)
{
	const char *close = NULL;

	for (size_t i = 0; i < len; i++)
		if (stat[i] == ')')
			close = stat + i;
	if (!close || close + 2 >= stat + len)
		return SG_ECORRUPT;
	*state = close[2];
	return 0;
}

int sg_proc_alive(pid_t pid)
{
	char path[64], buf[512], state;
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	got = read_file(path, buf, sizeof(buf));
	if (got <= 0 || stat_state(buf, (size_t)got, &state))
		return SG_ENOPROC;
	return state == 'Z' || state == 'X' ? SG_ENOPROC : 0;
}

int sg_proc_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	got = read_file(path, buf, len - 1);
	if (got < 0)
		return SG_ENOPROC;
	/* Arguments are NUL-separated, and the last one NUL-terminated. */
	while (got > 0 && buf[got - 1] == '\0')
		got--;
	for (ssize_t i = 0; i < got; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[got] = '\0';
	return 0;
}

static int push_pid(pid_t **v, size_t *n, size_t *cap, pid_t pid)
{
	if (*n == *cap) {
		size_t grown = *cap ? *cap * 2 : 8;
		pid_t *p = realloc(*v, grown * sizeof(*p));

		if (!p)
			return SG_ENOMEM;
		*v = p;
		*cap = grown;
	}
	(*v)[(*n)++] = pid;
	return 0;
}

int sg_proc_children(pid_t pid, pid_t **out, size_t *n)
{
	char path[64], buf[4096];
	struct dirent *de;
	size_t cap = 0;
	DIR *dir;
	int err = 0;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return SG_ENOPROC;
	while (!err && (de = readdir(dir))) {
		char file[384], *p, *end;
		ssize_t got;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		got = read_file(file, buf, sizeof(buf) - 1);
		if (got <= 0)
			continue;
		buf[got] = '\0';
		for (p = buf;; p = end) {
			long child = strtol(p, &end, 10);

			if (end == p || child <= 0)
				break;
			err = push_pid(out, n, &cap, (pid_t)child);
			if (err)
				break;
		}
	}
	closedir(dir);
	return err;
}

int sg_proc_tasks(pid_t pid, pid_t **out, size_t *n)
{
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *dir;
	int err = 0;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return SG_ENOPROC;
	while (!err && (de = readdir(dir)))
		if (de->d_name[0] != '.')
			err = push_pid(out, n, &cap, (pid_t)atoi(de->d_name));
	closedir(dir);
	return err;
}

bool sg_proc_has_task(pid_t pid, pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
	return access(path, F_OK) == 0;
}

void sg_taskstat_init(struct sg_taskstat *ts, pid_t pid)
{
	ts->pid = pid;
	ts->fds = NULL;
	ts->n = 0;
	ts->cap = 0;
}

void sg_taskstat_release(struct sg_taskstat *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		close(ts->fds[i].fd);
	free(ts->fds);
	sg_taskstat_init(ts, ts->pid);
}

static int taskstat_fd(struct sg_taskstat *ts, pid_t tid, size_t *slot)
{
	char path[64];
	int fd;

	for (size_t i = 0; i < ts->n; i++) {
		if (ts->fds[i].tid == tid) {
			*slot = i;
			return 0;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)ts->pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return SG_ENOPROC;
	if (ts->n == ts->cap) {
		size_t grown = ts->cap ? ts->cap * 2 : 8;
		struct sg_taskstat_fd *fds = realloc(ts->fds, grown * sizeof(*fds));

		if (!fds) {
			close(fd);
			return SG_ENOMEM;
		}
		ts->fds = fds;
		ts->cap = grown;
	}
	ts->fds[ts->n].tid = tid;
	ts->fds[ts->n].fd = fd;
	*slot = ts->n++;
	return 0;
}

int sg_taskstat_running(struct sg_taskstat *ts, pid_t tid, bool *running)
{
	char buf[512], state;
	size_t slot;
	ssize_t got;
	int err = taskstat_fd(ts, tid, &slot);

	if (err)
		return err;
	got = pread(ts->fds[slot].fd, buf, sizeof(buf), 0);
	if (got <= 0 || stat_state(buf, (size_t)got, &state)) {
		/* The thread is gone: forget its descriptor. */
		close(ts->fds[slot].fd);
		ts->fds[slot] = ts->fds[--ts->n];
		return SG_ENOPROC;
	}
	*running = state == 'R';
	return 0;
}

int sg_proc_task_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64];
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	got = read_file(path, buf, len - 1);
	if (got < 0)
		return SG_ENOPROC;
	while (got > 0 && buf[got - 1] == '\n')
		got--;
	buf[got] = '\0';
	return 0;
}
