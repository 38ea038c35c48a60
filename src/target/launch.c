/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "target/launch.h"
#include "util/err.h"

int sg_launch(char *const argv[], pid_t *pid, int *exec_errno)
{
	int pipefd[2], child_errno = 0;
	ssize_t got;
	pid_t child;

	/* The pipe closes on a successful exec (O_CLOEXEC), or carries errno. */
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return SG_EIO;
	child = fork();
	if (child < 0) {
		*exec_errno = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return SG_EIO;
	}
	if (child == 0) {
		close(pipefd[0]);
		execvp(argv[0], argv);
		child_errno = errno;
		/* Nothing more can be done if the parent stopped listening. */
		ssize_t sent = write(pipefd[1], &child_errno, sizeof(child_errno));
		(void)sent;
		_exit(127);
	}
	close(pipefd[1]);
	do
		got = read(pipefd[0], &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	close(pipefd[0]);
	if (got == sizeof(child_errno)) {
		waitpid(child, NULL, 0);
		*exec_errno = child_errno;
		return SG_EIO;
	}
	*pid = child;
	return 0;
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
