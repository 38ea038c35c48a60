/* SPDX-License-Identifier: MIT */
#ifndef SG_TARGET_HOLD_H
#define SG_TARGET_HOLD_H

/*
 * One thread held still for a moment, to copy its registers and the top of
 * its stack: what a native stack of a thread that is not running needs (the
 * CPU clock samples only threads on a CPU). The only place spyglass stops
 * anything, and then one thread, never the process:
 *
 *  - PTRACE_SEIZE then PTRACE_INTERRUPT: the thread enters a ptrace stop
 *    (no SIGSTOP is sent, no group stop; the rest of the process runs on).
 *    A thread in a system call leaves it for the stop and the kernel
 *    restarts the call after, as for any signal (sleeps resume where they
 *    were, with restart_syscall).
 *  - The stop is waited for at most SG_HOLD_WAIT_NS (the thread runs
 *    until it stops: a long wait costs it nothing; on a loaded machine a
 *    woken thread waited over 20 ms for a core to reach it): a thread in
 *    uninterruptible sleep (disk, D state) is not waited out.
 *  - PTRACE_DETACH lets it go. If spyglass dies while holding it, the
 *    kernel detaches it and it runs on: it is never left stopped.
 *
 * Each hold says how long the thread was still (the caller measures from
 * sg_hold to sg_release, and what it read in between).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SG_HOLD_WAIT_NS    (500 * 1000 * 1000ull)
#define SG_RELEASE_WAIT_NS (1000 * 1000 * 1000ull)
/* The registers of a held thread, in the order perf samples carry them
 * (sg_perf_regs_mask): AX..IP, R8..R15 on x86-64. */
#define SG_HOLD_NREGS  17
#define SG_HOLD_REG_SP 7 /* where the stack pointer is among them */

struct sg_hold {
	pid_t tid;
	uint64_t since_ns; /* CLOCK_MONOTONIC when the thread stopped, or just
	                    * before: the poll before the one that saw it */
	int state;         /* internal: seized, stopped */
};

/*
 * Stop thread tid of pid. Returns 0 (the thread is still until sg_release),
 * SG_EPERM (another tracer, or not allowed), SG_EGONE (it ended),
 * SG_ENOTREADY (it did not stop within SG_HOLD_WAIT_NS: it was let go), or
 * SG_EIO.
 */
int sg_hold(pid_t pid, pid_t tid, struct sg_hold *h);

/* The held thread's user registers, in perf order. 0 or SG_EIO (SG_ENOSYS
 * on an architecture we do not know). */
int sg_hold_regs(const struct sg_hold *h, uint64_t regs[SG_HOLD_NREGS]);

/* Let the thread go; *held_ns (if not NULL) is how long it was still.
 * After an SG_ENOTREADY hold the interrupt is still pending: sg_hold has
 * waited up to SG_RELEASE_WAIT_NS more for it, and if it never came the
 * kernel lets the thread go when spyglass exits. Only commands that exit
 * soon after (dump) hold threads. */
void sg_release(struct sg_hold *h, uint64_t *held_ns);

#endif
