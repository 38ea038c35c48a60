/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>

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

/* The fields after the ")" that closes comm (state first): comm may hold
 * spaces and parentheses, so search from the end. */
static const char *stat_fields(const char *stat, size_t len)
{
	const char *close = memrchr(stat, ')', len);

	if (!close || close + 2 >= stat + len)
		return NULL;
	return close + 2;
}

static int stat_state(const char *stat, size_t len, char *state)
{
	const char *fields = stat_fields(stat, len);

	if (!fields)
		return SG_ECORRUPT;
	*state = fields[0];
	return 0;
}

/* Numeric field k of stat (1-based, as proc(5) counts: 3 is the state). */
static int stat_field(const char *stat, size_t len, int k, uint64_t *value)
{
	const char *p = stat_fields(stat, len), *end = stat + len;
	char *num_end;

	for (int field = 3; p && field < k; field++) {
		while (p < end && *p != ' ')
			p++;
		p = p < end ? p + 1 : NULL;
	}
	if (!p)
		return SG_ECORRUPT;
	*value = strtoull(p, &num_end, 10);
	return num_end == p ? SG_ECORRUPT : 0;
}

/* Field 22, starttime. */
static int stat_start(const char *stat, size_t len, uint64_t *start)
{
	return stat_field(stat, len, 22, start);
}

static bool state_dead(char state)
{
	return state == 'Z' || state == 'X';
}

int sg_proc_task_state(pid_t pid, pid_t tid, char *state)
{
	char path[64], buf[512];
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	got = read_file(path, buf, sizeof(buf) - 1);
	if (got <= 0 || stat_state(buf, (size_t)got, state))
		return SG_ENOPROC;
	return 0;
}

int sg_proc_live_task(pid_t pid, pid_t *tid)
{
	pid_t *tids;
	size_t n;
	char state;
	int err = sg_proc_task_state(pid, pid, &state);

	if (err)
		return err;
	*tid = pid;
	if (!state_dead(state))
		return 0;
	/* The main thread exited: the leader stays a zombie while the other
	 * threads run, and only they still see the memory. */
	err = sg_proc_tasks(pid, &tids, &n);
	if (err)
		return err == SG_ENOMEM ? 0 : err;
	err = SG_ENOPROC;
	for (size_t i = 0; i < n && err; i++)
		if (tids[i] != pid && sg_proc_task_state(pid, tids[i], &state) == 0 &&
		    !state_dead(state)) {
			*tid = tids[i];
			err = 0;
		}
	free(tids);
	return err;
}

int sg_proc_alive(pid_t pid)
{
	pid_t tid;

	return sg_proc_live_task(pid, &tid);
}

int sg_proc_start_time(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024];
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	got = read_file(path, buf, sizeof(buf) - 1);
	if (got <= 0 || stat_start(buf, (size_t)got, start))
		return SG_ENOPROC;
	return 0;
}

int sg_proc_cpu_ns(pid_t pid, uint64_t *ns)
{
	char path[64], buf[1024];
	uint64_t utime, stime;
	long hz = sysconf(_SC_CLK_TCK);
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	got = read_file(path, buf, sizeof(buf) - 1);
	/* Fields 14 and 15: user and system time, in clock ticks. */
	if (got <= 0 || hz <= 0 || stat_field(buf, (size_t)got, 14, &utime) ||
	    stat_field(buf, (size_t)got, 15, &stime))
		return SG_ENOPROC;
	*ns = (utime + stime) * (1000000000ull / (uint64_t)hz);
	return 0;
}

int sg_procid_open(struct sg_procid *id, pid_t pid)
{
	char path[64], buf[1024];
	ssize_t got;

	id->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	id->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (id->fd < 0)
		return SG_ENOPROC;
	got = pread(id->fd, buf, sizeof(buf) - 1, 0);
	if (got <= 0 || stat_start(buf, (size_t)got, &id->start)) {
		sg_procid_close(id);
		return SG_ENOPROC;
	}
	return 0;
}

int sg_procid_alive(struct sg_procid *id)
{
	char buf[1024], state;
	uint64_t start;
	ssize_t got;
	pid_t tid;

	if (id->fd < 0)
		return SG_ENOPROC;
	/* The descriptor names the process we opened, not its number: once
	 * that process is reaped it reads nothing, whoever has the pid now.
	 * The start time is checked too, for the race before the open. */
	got = pread(id->fd, buf, sizeof(buf) - 1, 0);
	if (got <= 0 || stat_start(buf, (size_t)got, &start) || start != id->start ||
	    stat_state(buf, (size_t)got, &state))
		return SG_ENOPROC;
	if (!state_dead(state))
		return 0;
	return sg_proc_live_task(id->pid, &tid);
}

void sg_procid_close(struct sg_procid *id)
{
	if (id->fd >= 0)
		close(id->fd);
	id->fd = -1;
}

bool sg_proc_describe_error(pid_t pid, int err, char *why, size_t whylen)
{
	if (err == SG_ENOPROC)
		snprintf(why, whylen, "no process with pid %d (is it still running?)", (int)pid);
	else if (err == SG_EPERM)
		snprintf(why, whylen,
		         "not allowed to read process %d: run as its user or as root, or "
		         "grant CAP_SYS_PTRACE (and check /proc/sys/kernel/yama/ptrace_scope)",
		         (int)pid);
	else if (err == SG_ENOSYS)
		snprintf(why, whylen, "%s", sg_err_str(err));
	else
		return false;
	return true;
}

ssize_t sg_proc_argv(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	got = read_file(path, buf, len - 1);
	if (got < 0)
		return SG_ENOPROC;
	buf[got] = '\0';
	return got;
}

int sg_proc_cmdline(pid_t pid, char *buf, size_t len)
{
	ssize_t got = sg_proc_argv(pid, buf, len);

	if (got < 0)
		return (int)got;
	/* Arguments are NUL-separated, and the last one NUL-terminated. */
	while (got > 0 && buf[got - 1] == '\0')
		got--;
	for (ssize_t i = 0; i < got; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[got] = '\0';
	return 0;
}

int sg_proc_cwd(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	got = readlink(path, buf, len - 1);
	buf[got > 0 ? got : 0] = '\0';
	return got > 0 ? 0 : SG_ENOPROC;
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

static int open_task_file(const struct sg_task *t, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", (int)t->pid, (int)t->tid, name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Out of descriptors (a thousand threads, two files each): the file is
 * opened for each read instead. */
static bool out_of_fds(void)
{
	return errno == EMFILE || errno == ENFILE;
}

int sg_task_open(struct sg_task *t, pid_t pid, pid_t tid)
{
	*t = (struct sg_task)SG_TASK_CLOSED;
	t->pid = pid;
	t->tid = tid;
	t->stat_fd = open_task_file(t, "stat");
	if (t->stat_fd < 0 && !out_of_fds()) {
		t->tid = 0;
		return SG_ENOPROC;
	}
	t->sched_fd = open_task_file(t, "schedstat");
	t->no_schedstat = t->sched_fd < 0 && !out_of_fds();
	return 0;
}

void sg_task_close(struct sg_task *t)
{
	if (t->stat_fd >= 0)
		close(t->stat_fd);
	if (t->sched_fd >= 0)
		close(t->sched_fd);
	*t = (struct sg_task)SG_TASK_CLOSED;
}

/* Read one of t's files from its start, through fd when kept open. */
static ssize_t task_read(const struct sg_task *t, int fd, const char *name, char *buf, size_t len)
{
	ssize_t got;

	if (!t->tid)
		return -1;
	if (fd >= 0)
		return pread(fd, buf, len, 0);
	fd = open_task_file(t, name);
	if (fd < 0)
		return -1;
	got = read(fd, buf, len);
	close(fd);
	return got;
}

int sg_task_running(struct sg_task *t, bool *running)
{
	char buf[512], state;
	ssize_t got = task_read(t, t->stat_fd, "stat", buf, sizeof(buf));

	/* A thread that is gone reads as nothing (ESRCH). */
	if (got <= 0 || stat_state(buf, (size_t)got, &state))
		return SG_ENOPROC;
	*running = state == 'R';
	return 0;
}

int sg_task_runtime(struct sg_task *t, struct sg_task_runtime *rt)
{
	char buf[96], *at, *end;
	ssize_t got;

	if (t->tid && t->no_schedstat)
		return SG_ENOSYS;
	got = task_read(t, t->sched_fd, "schedstat", buf, sizeof(buf) - 1);
	if (got <= 0)
		return SG_ENOPROC;
	buf[got] = '\0';
	/* "RUN_NS WAIT_NS RUNS\n" */
	errno = 0;
	rt->run_ns = strtoull(buf, &end, 10);
	at = end;
	strtoull(at, &end, 10);
	at = end;
	rt->runs = strtoull(at, &end, 10);
	/* Kernels that keep no scheduler statistics print "0 0 0"; a thread
	 * with Python code has run. */
	if (end == at || errno || rt->run_ns == 0 || rt->runs == 0)
		return SG_ENOSYS;
	return 0;
}

int sg_rss_open(struct sg_rss *r, pid_t pid)
{
	char path[64];
	long page = sysconf(_SC_PAGESIZE);

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	r->page_size = page > 0 ? (uint64_t)page : 4096;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	return r->fd < 0 ? SG_ENOPROC : 0;
}

int sg_rss_read(struct sg_rss *r, uint64_t *bytes)
{
	char buf[128], *at, *end;
	unsigned long long pages;
	ssize_t got = r->fd < 0 ? -1 : pread(r->fd, buf, sizeof(buf) - 1, 0);

	if (got <= 0)
		return SG_ENOPROC;
	buf[got] = '\0';
	/* "size resident shared text lib data dt", in pages. */
	errno = 0;
	strtoull(buf, &at, 10);
	pages = strtoull(at, &end, 10);
	if (errno || end == at)
		return SG_ENOPROC;
	*bytes = (uint64_t)pages * r->page_size;
	return 0;
}

void sg_rss_close(struct sg_rss *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
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

int sg_proc_task_syscall(pid_t pid, pid_t tid, long *nr)
{
	char path[64], buf[256], *end;
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	got = read_file(path, buf, sizeof(buf) - 1);
	if (got <= 0)
		return SG_ENOPROC;
	buf[got] = '\0';
	if (strncmp(buf, "running", 7) == 0) {
		*nr = SG_SYSCALL_RUNNING;
		return 0;
	}
	*nr = strtol(buf, &end, 10);
	/* -1: blocked, but not in a system call (a page fault, say). */
	return end == buf ? SG_ECORRUPT : 0;
}

#if defined(__x86_64__)
/* The calls a thread of a Python program usually waits in: enough to tell
 * a lock (futex) from I/O or a sleep at a glance. */
static const struct {
	long nr;
	const char *name;
} syscall_names[] = {
    {0, "read"},
    {1, "write"},
    {7, "poll"},
    {17, "pread64"},
    {18, "pwrite64"},
    {19, "readv"},
    {20, "writev"},
    {23, "select"},
    {24, "sched_yield"},
    {34, "pause"},
    {35, "nanosleep"},
    {42, "connect"},
    {43, "accept"},
    {44, "sendto"},
    {45, "recvfrom"},
    {46, "sendmsg"},
    {47, "recvmsg"},
    {61, "wait4"},
    {65, "semop"},
    {70, "msgrcv"},
    {72, "fcntl"},
    {73, "flock"},
    {74, "fsync"},
    {128, "rt_sigtimedwait"},
    {130, "rt_sigsuspend"},
    {202, "futex"},
    {208, "io_getevents"},
    {219, "restart_syscall"},
    {220, "semtimedop"},
    {230, "clock_nanosleep"},
    {232, "epoll_wait"},
    {247, "waitid"},
    {257, "openat"},
    {270, "pselect6"},
    {271, "ppoll"},
    {281, "epoll_pwait"},
    {288, "accept4"},
    {299, "recvmmsg"},
    {441, "epoll_pwait2"},
    {449, "futex_waitv"},
};

const char *sg_syscall_name(long nr)
{
	for (size_t i = 0; i < sizeof(syscall_names) / sizeof(syscall_names[0]); i++)
		if (syscall_names[i].nr == nr)
			return syscall_names[i].name;
	return NULL;
}
#else
const char *sg_syscall_name(long nr)
{
	(void)nr;
	return NULL;
}
#endif

int sg_proc_ns_tids(pid_t pid, pid_t *host, pid_t *inner, size_t cap, size_t *n)
{
	char path[96], ours[64], theirs[64], buf[2048];
	pid_t *tids;
	size_t ntids;
	ssize_t got;
	int err;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	got = readlink(path, theirs, sizeof(theirs) - 1);
	if (got <= 0)
		return SG_ENOPROC;
	theirs[got] = '\0';
	got = readlink("/proc/self/ns/pid", ours, sizeof(ours) - 1);
	ours[got > 0 ? got : 0] = '\0';
	if (!strcmp(ours, theirs))
		return 0;
	err = sg_proc_tasks(pid, &tids, &ntids);
	if (err)
		return err;
	for (size_t i = 0; i < ntids && *n < cap; i++) {
		const char *line;
		char *end;
		long id = -1;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tids[i]);
		got = read_file(path, buf, sizeof(buf) - 1);
		if (got <= 0)
			continue;
		buf[got] = '\0';
		line = strstr(buf, "\nNSpid:");
		if (!line)
			continue;
		/* "NSpid:\t<here>\t...\t<innermost>": the last is the target's own. */
		for (const char *at = line + 7; *at && *at != '\n'; at = end) {
			long v = strtol(at, &end, 10);

			if (end == at)
				break;
			id = v;
		}
		if (id > 0) {
			host[*n] = tids[i];
			inner[*n] = (pid_t)id;
			(*n)++;
		}
	}
	free(tids);
	return 1;
}
