/* SPDX-License-Identifier: MIT */
#ifndef SG_TARGET_LAUNCH_H
#define SG_TARGET_LAUNCH_H

/*
 * Starting the program to profile. The child is an ordinary child of ours:
 * being its parent is what lets an unprivileged user read its memory under
 * Yama ptrace_scope=1.
 */

#include <sys/types.h>

/* fork + execvp(argv[0], argv). The child is set to get SIGKILL when we
 * die (PR_SET_PDEATHSIG), so that it never outlives us. Returns 0 and the child's pid once exec has
 * succeeded, or a negative sg_err with *exec_errno set when exec failed (the
 * child is then already reaped). */
int sg_launch(char *const argv[], pid_t *pid, int *exec_errno);

/* sg_launch in two steps, for what must be set up on the child before its
 * exec (perf_events that count from the exec on): sg_launch_held forks a
 * child that waits, and returns 0 with its pid and *hold, or SG_EIO with
 * *exec_errno; sg_launch_go lets it exec, with sg_launch's result (hold's
 * descriptors are closed either way). */
struct sg_launch_hold {
	int go;     /* a byte written here lets the child exec */
	int status; /* closed by its exec, or carries its errno */
};
int sg_launch_held(char *const argv[], pid_t *pid, struct sg_launch_hold *hold, int *exec_errno);
int sg_launch_go(pid_t pid, struct sg_launch_hold *hold, int *exec_errno);

/* Reap the child without blocking. Returns 1 and sets *status when it has
 * exited, 0 when it still runs. */
int sg_launch_reaped(pid_t pid, int *status);

/* A reaped child's wait status in words, for the summary: "exited with
 * status 0", "was killed by signal 9 (Killed)". */
void sg_launch_describe_status(int status, char *buf, size_t len);

/* Ask a child we launched to end (SIGTERM, then SIGKILL after grace_ms), and
 * reap it. */
void sg_launch_stop(pid_t pid, int grace_ms);

#endif
