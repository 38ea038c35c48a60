/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/cli.h"
#include "target/launch.h"
#include "target/proc.h"

volatile sig_atomic_t sg_cli_stop, sg_cli_stop_signal;
static bool stop_grace;

/* With grace, the first Ctrl-C lets a launched program end on its own (it
 * got SIGINT too); a second one, SIGTERM or SIGHUP end the run at once. */
static void on_stop_signal(int sig)
{
	sg_cli_stop = stop_grace && sig == SIGINT && !sg_cli_stop ? SG_STOP_GRACE : SG_STOP_NOW;
	sg_cli_stop_signal = sig;
}

void sg_cli_catch_stop_signals(bool grace)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sg_cli_stop = 0;
	sg_cli_stop_signal = 0;
	stop_grace = grace;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* Strict number parsing: the whole string, finite, in range. */
int sg_cli_target_option(struct sg_cli_target *t, int c, const char *arg)
{
	double v;

	switch (c) {
	case 'r':
		if (sg_cli_parse_double(arg, 1e-3, 1e6, &v)) {
			sg_cli_error(
			    "-r: expected a rate in Hz between 0.001 and 1000000, got '%s'", arg);
			return SG_EXIT_USAGE;
		}
		t->sampler.rate_hz = v;
		return 1;
	case 'p':
		return sg_cli_parse_pid(arg, &t->pid) ? SG_EXIT_USAGE : 1;
	case SG_CLI_OPT_MODE:
		if (strcmp(arg, "cpu") == 0) {
			t->sampler.mode = SG_MODE_CPU;
		} else if (strcmp(arg, "wall") == 0) {
			t->sampler.mode = SG_MODE_WALL;
		} else {
			sg_cli_error("--mode: expected cpu or wall, got '%s'", arg);
			return SG_EXIT_USAGE;
		}
		return 1;
	case SG_CLI_OPT_GIL:
		t->sampler.gil = true;
		return 1;
	case SG_CLI_OPT_SUBPROCESSES:
		t->sampler.subprocesses = true;
		return 1;
	default:
		return 0;
	}
}

int sg_cli_parse_pid(const char *arg, pid_t *pid)
{
	double v;

	/* 2^22: the largest pid_max Linux allows. */
	if (sg_cli_parse_double(arg, 1, 4194304, &v) || v != floor(v)) {
		sg_cli_error("--pid: expected a process id, got '%s'", arg);
		return SG_EXIT_USAGE;
	}
	*pid = (pid_t)v;
	return 0;
}

int sg_cli_bad_option(const char *command, char **argv)
{
	if (optopt && optopt < 256)
		sg_cli_error("unknown option '-%c' (see spyglass %s --help)", optopt, command);
	else
		sg_cli_error("unknown or incomplete option '%s' (see spyglass %s --help)",
		             argv[optind - 1], command);
	return SG_EXIT_USAGE;
}

int sg_cli_target_finish(struct sg_cli_target *t, int argc, char **argv)
{
	t->command = optind < argc ? argv + optind : NULL;
	if (!t->pid == !t->command) {
		sg_cli_error(t->pid ? "give either --pid or a command, not both"
		                    : "nothing to profile: give --pid PID or -- COMMAND");
		return SG_EXIT_USAGE;
	}
	return 0;
}

int sg_cli_native_check(const struct sg_cli_target *t)
{
	const struct sg_sampler_opts *so = &t->sampler;

	/* The native stack is the kernel's copy, taken by the CPU clock's
	 * sample of the thread it then walks. */
	if (so->native &&
	    (so->mode != SG_MODE_CPU || so->clock != SG_CLOCK_CPU || so->gil || so->memory)) {
		sg_cli_error("--native needs cpu mode on the CPU clock (not --mode wall, --clock "
		             "timer, --gil or --memory)");
		return SG_EXIT_USAGE;
	}
	return 0;
}

int sg_cli_target_start(struct sg_cli_target *t)
{
	int exec_errno = 0;

	t->sampler.launched = t->command != NULL;
	if (!t->command)
		return 0;
	if (t->native) {
		struct sg_launch_hold hold;
		int err = sg_launch_held(t->command, &t->pid, &hold, &exec_errno);

		if (!err) {
			sg_perfsampler_early_open(t->pid, &t->sampler, &t->early);
			t->sampler.early = &t->early;
			err = sg_launch_go(t->pid, &hold, &exec_errno);
			if (err)
				sg_perfsampler_early_release(&t->early);
		}
		if (err) {
			sg_cli_error("cannot start '%s': %s", t->command[0], strerror(exec_errno));
			return SG_EXIT_FAIL;
		}
		return 0;
	}
	if (sg_launch(t->command, &t->pid, &exec_errno)) {
		sg_cli_error("cannot start '%s': %s", t->command[0], strerror(exec_errno));
		return SG_EXIT_FAIL;
	}
	return 0;
}

int sg_cli_target_meta(const struct sg_cli_target *t, struct sg_profile *p)
{
	struct sg_meta *meta = sg_profile_meta(p);
	char text[4096];
	size_t used = 0;
	pid_t tid;

	text[0] = '\0';
	/* An attached process is named by its command line; a zombie main
	 * thread has none, its live threads do. */
	if (!t->command && (sg_proc_live_task(t->pid, &tid) ||
	                    sg_proc_cmdline(tid, text, sizeof(text)) || !text[0]))
		snprintf(text, sizeof(text), "pid %d", (int)t->pid);
	for (char **arg = t->command; arg && *arg && used < sizeof(text); arg++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
		                         arg == t->command ? "" : " ", *arg);
	return sg_profile_set_meta_str(p, &meta->command, text);
}

int sg_cli_target_status(const struct sg_cli_target *t, const struct sg_sampler_stats *st)
{
	int status = st->exit_status;

	if (!t->sampler.launched)
		return SG_EXIT_OK;
	if (st->end == SG_END_EXITED)
		return WIFEXITED(status)     ? WEXITSTATUS(status)
		       : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
		                             : SG_EXIT_FAIL;
	if (st->end == SG_END_STOPPED && sg_cli_stop_signal)
		return 128 + sg_cli_stop_signal;
	return SG_EXIT_OK;
}
