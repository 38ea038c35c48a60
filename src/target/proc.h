/* SPDX-License-Identifier: MIT */
#ifndef SG_TARGET_PROC_H
#define SG_TARGET_PROC_H

/*
 * Facts about a process and its threads from /proc, read without touching
 * the process itself.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* 0 when pid exists and is not a zombie, SG_ENOPROC otherwise. */
int sg_proc_alive(pid_t pid);

/* The command line, arguments joined by spaces, into buf (always
 * NUL-terminated). Returns 0 or SG_ENOPROC. */
int sg_proc_cmdline(pid_t pid, char *buf, size_t len);

/* Direct children of every thread of pid, from /proc/PID/task/TID/children.
 * *out is malloc'd (free it); *n may be 0. Returns 0, SG_ENOPROC, SG_ENOMEM. */
int sg_proc_children(pid_t pid, pid_t **out, size_t *n);

/* Every thread of pid, from /proc/PID/task. *out is malloc'd (free it).
 * Returns 0, SG_ENOPROC or SG_ENOMEM. */
int sg_proc_tasks(pid_t pid, pid_t **out, size_t *n);

/* Whether tid is a thread of pid. */
bool sg_proc_has_task(pid_t pid, pid_t tid);

/*
 * Per-thread scheduler state, read from /proc/PID/task/TID/stat through file
 * descriptors kept open between samples: one pread per thread per sample
 * instead of open/read/close.
 */
struct sg_taskstat_fd {
	pid_t tid;
	int fd;
};

struct sg_taskstat {
	pid_t pid;
	struct sg_taskstat_fd *fds;
	size_t n, cap;
};

void sg_taskstat_init(struct sg_taskstat *ts, pid_t pid);
void sg_taskstat_release(struct sg_taskstat *ts);

/* Whether tid is on a CPU or waiting for one (state R). Anything else
 * (S sleeping, D disk wait, T stopped, ...) is idle. Returns 0, or
 * SG_ENOPROC when the thread is gone. */
int sg_taskstat_running(struct sg_taskstat *ts, pid_t tid, bool *running);

/* The kernel's name of the thread (comm), into buf. 0 or SG_ENOPROC. */
int sg_proc_task_comm(pid_t pid, pid_t tid, char *buf, size_t len);

#endif
