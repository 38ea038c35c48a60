/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <elf.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include "target/hold.h"
#include "util/err.h"

enum { HOLD_NONE, HOLD_SEIZED, HOLD_STOPPED };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int seize_error(int e)
{
	return e == ESRCH ? SG_EGONE : e == EPERM ? SG_EPERM : SG_EIO;
}

/* Wait for tid's stop, polling, for at most wait_ns. 1 stopped in
 * the interrupt's stop, 0 not yet, <0 gone. *since_ns (if not NULL) is
 * when the last poll that found no stop began: the stop came after it, so
 * a hold measured from there is never shorter than it was. A signal stop
 * that comes first is passed back to the thread as it came (its own
 * SIGSTOP included). */
static int wait_stop(pid_t tid, uint64_t wait_ns, uint64_t *since_ns)
{
	uint64_t polled = now_ns(), until = polled + wait_ns;
	struct timespec nap = {0, 50 * 1000};

	/* Bounded by the deadline. */
	for (uint64_t now = polled; now < until; now = now_ns()) {
		int status;
		pid_t got = waitpid(tid, &status, __WALL | WNOHANG);

		if (got < 0)
			return errno == EINTR ? 0 : -1;
		if (got == 0) {
			polled = now;
			nanosleep(&nap, NULL);
			continue;
		}
		if (since_ns)
			*since_ns = polled;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -1;
		if (WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_STOP)
			return 1;
		/* A signal on its way to the thread: let it go on its way. */
		if (WIFSTOPPED(status) &&
		    ptrace(PTRACE_CONT, tid, NULL, (void *)(long)WSTOPSIG(status)) != 0)
			return -1;
	}
	return 0;
}

int sg_hold(pid_t pid, pid_t tid, struct sg_hold *h)
{
	int stopped;

	(void)pid;
	*h = (struct sg_hold){.tid = tid, .state = HOLD_NONE};
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)0) != 0)
		return seize_error(errno);
	h->state = HOLD_SEIZED;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0) {
		int e = errno;

		sg_release(h, NULL);
		return seize_error(e);
	}
	stopped = wait_stop(tid, SG_HOLD_WAIT_NS, &h->since_ns);
	if (stopped <= 0) {
		sg_release(h, NULL);
		return stopped < 0 ? SG_EGONE : SG_ENOTREADY;
	}
	h->state = HOLD_STOPPED;
	return 0;
}

int sg_hold_regs(const struct sg_hold *h, uint64_t regs[SG_HOLD_NREGS])
{
#if defined(__x86_64__)
	struct user_regs_struct r;
	struct iovec io = {&r, sizeof(r)};

	if (h->state != HOLD_STOPPED ||
	    ptrace(PTRACE_GETREGSET, h->tid, (void *)(long)NT_PRSTATUS, &io) != 0)
		return SG_EIO;
	const uint64_t in_order[SG_HOLD_NREGS] = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi,
	                                          r.rbp, r.rsp, r.rip, r.r8,  r.r9,  r.r10,
	                                          r.r11, r.r12, r.r13, r.r14, r.r15};

	for (size_t i = 0; i < SG_HOLD_NREGS; i++)
		regs[i] = in_order[i];
	return 0;
#else
	(void)h;
	(void)regs;
	return SG_ENOSYS;
#endif
}

void sg_release(struct sg_hold *h, uint64_t *held_ns)
{
	if (held_ns)
		*held_ns = h->state == HOLD_STOPPED ? now_ns() - h->since_ns : 0;
	/* Seized with the interrupt pending: the detach fails until the
	 * thread is in its stop, which it enters as it leaves the sleep that
	 * kept it (it is not still meanwhile). Wait for that, a while; should
	 * it not come, the kernel detaches the thread when we exit, so only a
	 * command that exits soon after (dump) may hold threads. */
	if (h->state == HOLD_SEIZED && wait_stop(h->tid, SG_RELEASE_WAIT_NS, NULL) > 0)
		h->state = HOLD_STOPPED;
	if (h->state == HOLD_STOPPED)
		ptrace(PTRACE_DETACH, h->tid, NULL, NULL);
	h->state = HOLD_NONE;
}
