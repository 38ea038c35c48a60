/* SPDX-License-Identifier: MIT */
#ifndef SG_TARGET_LAUNCH_H
#define SG_TARGET_LAUNCH_H

/*
 * Starting the program to profile. The child is an ordinary child of ours:
 * being its parent is what lets an unprivileged user read its memory under
 * Yama ptrace_scope=1.
 */

#include <sys/types.h>

/* fork + execvp(argv[0], argv). Returns 0 and the child's pid once exec has
 * succeeded, or a negative sg_err with *exec_errno set when exec failed (the
 * child is then already reaped). */
int sg_launch(char *const argv[], pid_t *pid, int *exec_errno);

/* Reap the child without blocking. Returns 1 and sets *status when it has
 * exited, 0 when it still runs. */
int sg_launch_reaped(pid_t pid, int *status);

/* Ask a child we launched to end (SIGTERM, then SIGKILL after grace_ms), and
 * reap it. */
void sg_launch_stop(pid_t pid, int grace_ms);

#endif
