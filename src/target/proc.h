/* SPDX-License-Identifier: MIT */
#ifndef SG_TARGET_PROC_H
#define SG_TARGET_PROC_H

/*
 * Facts about a process and its threads from /proc, read without touching
 * the process itself.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <stdint.h>

/* 0 while any thread of pid runs, SG_ENOPROC otherwise. The main thread may
 * have exited alone (pthread_exit): the leader is then a zombie, the
 * process is not. */
int sg_proc_alive(pid_t pid);

/* A thread through which pid's memory and maps can still be read: pid
 * itself, or a live thread once the main thread has exited (the zombie
 * leader has none). 0 or SG_ENOPROC. */
int sg_proc_live_task(pid_t pid, pid_t *tid);

/* When pid started, in clock ticks since boot (/proc/PID/stat field 22).
 * With the pid it names one process: pids are reused. 0 or SG_ENOPROC. */
int sg_proc_start_time(pid_t pid, uint64_t *start);

/* The CPU time all of pid's threads have used, user and system (/proc/PID/
 * stat fields 14 and 15), in ns, to the kernel's clock tick (10 ms at
 * USER_HZ 100). 0 or SG_ENOPROC. */
int sg_proc_cpu_ns(pid_t pid, uint64_t *ns);

/*
 * One process, followed by identity rather than by number: the /proc/PID/stat
 * descriptor opened at first sight stays bound to that process, so once it
 * is gone a new process given the same pid is not taken for it.
 */
struct sg_procid {
	pid_t pid;
	uint64_t start; /* start time, as sg_proc_start_time */
	int fd;         /* /proc/PID/stat, -1 once closed */
};

/* 0, or SG_ENOPROC (id->fd is then -1). */
int sg_procid_open(struct sg_procid *id, pid_t pid);
/* 0 while the process opened is alive (as sg_proc_alive), SG_ENOPROC once it
 * has exited, whether or not its pid was given to another. One pread. */
int sg_procid_alive(struct sg_procid *id);
void sg_procid_close(struct sg_procid *id);

/* One line for the user on why pid cannot be looked at, for err SG_ENOPROC,
 * SG_EPERM or SG_ENOSYS; false (why untouched) for any other err. */
bool sg_proc_describe_error(pid_t pid, int err, char *why, size_t whylen);

/* Whether pid lives in a PID namespace other than ours (a container, or
 * unshare --pid): then 1, with up to cap of its threads as host[i], their
 * ids here, and inner[i], their ids in its own namespace (the last of
 * NSpid), as the process itself knows them; 0 when it shares ours (*n is
 * 0), SG_ENOPROC or SG_ENOMEM. */
int sg_proc_ns_tids(pid_t pid, pid_t *host, pid_t *inner, size_t cap, size_t *n);

/* The command line, arguments joined by spaces, into buf (always
 * NUL-terminated). Returns 0 or SG_ENOPROC. */
int sg_proc_cmdline(pid_t pid, char *buf, size_t len);

/* The command line as the kernel keeps it, each argument NUL-terminated,
 * into buf (len >= 1; cut to fit, then NUL-terminated). Returns the bytes
 * read (0 for a zombie), or SG_ENOPROC. */
ssize_t sg_proc_argv(pid_t pid, char *buf, size_t len);

/* The working directory, as the process sees it, into buf (always
 * NUL-terminated). Returns 0, or SG_ENOPROC (gone, or not ours to see). */
int sg_proc_cwd(pid_t pid, char *buf, size_t len);

/* Direct children of every thread of pid, from /proc/PID/task/TID/children.
 * *out is malloc'd (free it); *n may be 0. Returns 0, SG_ENOPROC, SG_ENOMEM. */
int sg_proc_children(pid_t pid, pid_t **out, size_t *n);

/* Every thread of pid, from /proc/PID/task. *out is malloc'd (free it).
 * Returns 0, SG_ENOPROC or SG_ENOMEM. */
int sg_proc_tasks(pid_t pid, pid_t **out, size_t *n);

/* Whether tid is a thread of pid. */
bool sg_proc_has_task(pid_t pid, pid_t tid);

/*
 * One thread's scheduler facts, read through descriptors kept open between
 * samples: one pread each instead of open/read/close (which it falls back
 * to when we are out of descriptors). The caller keeps one per thread it
 * follows (the sampler: per thread life) and closes it when the thread is
 * gone.
 */
struct sg_task {
	pid_t pid, tid;    /* tid 0: closed */
	int stat_fd;       /* /proc/PID/task/TID/stat, -1 when not kept open */
	int sched_fd;      /* /proc/PID/task/TID/schedstat, likewise */
	bool no_schedstat; /* the kernel keeps none */
};

#define SG_TASK_CLOSED                                                                             \
	{                                                                                          \
		0, 0, -1, -1, false                                                                \
	}

/* Open tid's files. Returns 0, or SG_ENOPROC when the thread is gone (t is
 * then closed). */
int sg_task_open(struct sg_task *t, pid_t pid, pid_t tid);
/* Close t's files; t is left closed, and may be opened again. */
void sg_task_close(struct sg_task *t);

/* Whether the thread is on a CPU or waiting for one (state R). Anything
 * else (S sleeping, D disk wait, T stopped, ...) is idle. Returns 0, or
 * SG_ENOPROC when the thread is gone. */
int sg_task_running(struct sg_task *t, bool *running);

/* From schedstat: how long the thread has been on a CPU in all, and how
 * many times it was put on one. The kernel brings run_ns up to date when
 * the thread leaves a CPU and at its scheduler ticks, so for a thread on a
 * CPU now it may lag by up to a tick; runs grows as soon as the thread is
 * put on a CPU. For a thread that is not running both are exact. */
struct sg_task_runtime {
	uint64_t run_ns;
	uint64_t runs;
};

/* Returns 0, SG_ENOPROC when the thread is gone, or SG_ENOSYS when the
 * kernel does not count (no schedstat, or zeros). */
int sg_task_runtime(struct sg_task *t, struct sg_task_runtime *rt);

/*
 * A process's resident set size, read at every sample of record --memory:
 * /proc/PID/statm kept open and pread, a read of the kernel's per-process
 * page counters (file, anon and shmem) that costs about a microsecond
 * however large the process. /proc/PID/smaps_rollup gives the same total
 * by walking every mapping's page tables, milliseconds for a big heap, so
 * it is not used. The counters are cached per CPU (per thread before Linux
 * 6.2) in batches of a few dozen pages: a read may lag by some hundreds of
 * KiB, far below the growth worth attributing.
 */
struct sg_rss {
	int fd; /* -1: closed */
	uint64_t page_size;
};

/* 0, or SG_ENOPROC (gone, or not ours to read); r is closed on failure. */
int sg_rss_open(struct sg_rss *r, pid_t pid);
/* The RSS in bytes. 0, or SG_ENOPROC once the process is gone. */
int sg_rss_read(struct sg_rss *r, uint64_t *bytes);
/* Accepts a closed r. */
void sg_rss_close(struct sg_rss *r);

/* The scheduler state of tid (the letter of /proc/PID/task/TID/stat: R, S,
 * D, T, Z...). 0 or SG_ENOPROC. */
int sg_proc_task_state(pid_t pid, pid_t tid, char *state);

/* The system call tid is blocked in, from /proc/PID/task/TID/syscall: its
 * number, SG_SYSCALL_RUNNING when the thread is on a CPU, or -1 when it is
 * blocked outside any call (a page fault). The kernel reads this without
 * stopping the thread. 0, SG_ENOPROC (gone, or not allowed) or SG_ECORRUPT. */
#define SG_SYSCALL_RUNNING (-2)
int sg_proc_task_syscall(pid_t pid, pid_t tid, long *nr);

/* The name of system call nr on this architecture (x86-64: the common
 * ones a thread waits in), or NULL. */
const char *sg_syscall_name(long nr);

/* The kernel's name of the thread (comm), into buf. 0 or SG_ENOPROC. */
int sg_proc_task_comm(pid_t pid, pid_t tid, char *buf, size_t len);

#endif
