/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "target/launch.h"
#include "util/err.h"

/* The child's end: wait for the go byte (EOF: the parent gave up, or died
 * and PDEATHSIG follows), then exec, or send errno down the status pipe
 * (closed by a successful exec: O_CLOEXEC). */
static void child(char *const argv[], pid_t parent, int go, int status)
{
	int child_errno;
	char byte;
	ssize_t got;

	/* The program must not outlive us, even if we are killed: the kernel
	 * sends it SIGKILL when we die (kept across its execs). Had we died
	 * before the prctl, our parent is already another. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0UL, 0UL, 0UL) < 0 || getppid() != parent)
		_exit(127);
	do
		got = read(go, &byte, 1);
	while (got < 0 && errno == EINTR);
	if (got != 1)
		_exit(127);
	close(go);
	execvp(argv[0], argv);
	child_errno = errno;
	/* Nothing more can be done if the parent stopped listening. */
	ssize_t sent = write(status, &child_errno, sizeof(child_errno));
	(void)sent;
	_exit(127);
}

int sg_launch_held(char *const argv[], pid_t *pid, struct sg_launch_hold *hold, int *exec_errno)
{
	int statusfd[2], gofd[2];
	pid_t parent = getpid(), kid;

	if (pipe2(statusfd, O_CLOEXEC) < 0) {
		*exec_errno = errno;
		return SG_EIO;
	}
	/* A socket, so that writing to a child already gone is no SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gofd) < 0) {
		*exec_errno = errno;
		close(statusfd[0]);
		close(statusfd[1]);
		return SG_EIO;
	}
	kid = fork();
	if (kid < 0) {
		*exec_errno = errno;
		close(statusfd[0]);
		close(statusfd[1]);
		close(gofd[0]);
		close(gofd[1]);
		return SG_EIO;
	}
	if (kid == 0) {
		close(statusfd[0]);
		close(gofd[1]);
		child(argv, parent, gofd[0], statusfd[1]);
	}
	close(statusfd[1]);
	close(gofd[0]);
	*pid = kid;
	hold->go = gofd[1];
	hold->status = statusfd[0];
	return 0;
}

int sg_launch_go(pid_t pid, struct sg_launch_hold *hold, int *exec_errno)
{
	int child_errno = 0;
	ssize_t got;

	got = send(hold->go, "g", 1, MSG_NOSIGNAL);
	close(hold->go);
	if (got != 1) {
		*exec_errno = errno;
		close(hold->status);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return SG_EIO;
	}
	do
		got = read(hold->status, &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	close(hold->status);
	if (got == sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		*exec_errno = child_errno;
		return SG_EIO;
	}
	return 0;
}

int sg_launch(char *const argv[], pid_t *pid, int *exec_errno)
{
	struct sg_launch_hold hold;

	if (sg_launch_held(argv, pid, &hold, exec_errno))
		return SG_EIO;
	return sg_launch_go(*pid, &hold, exec_errno);
}

int sg_launch_reaped(pid_t pid, int *status)
{
	return waitpid(pid, status, WNOHANG) == pid;
}

void sg_launch_stop(pid_t pid, int grace_ms)
{
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
	int status;

	if (kill(pid, SIGTERM) < 0) {
		waitpid(pid, &status, WNOHANG);
		return;
	}
	for (int waited = 0; waited < grace_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

void sg_launch_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "ended (wait status %#x)", (unsigned)status);
}
