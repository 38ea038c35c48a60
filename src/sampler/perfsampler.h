/* SPDX-License-Identifier: MIT */
#ifndef SG_SAMPLER_PERFSAMPLER_H
#define SG_SAMPLER_PERFSAMPLER_H

/*
 * Native targets: any process, sampled by the kernel (target/perf.h) each
 * time one of its threads has used 1/rate_hz seconds of CPU, its stacks
 * unwound (native/unwind.h) and named (native/sym.h) as the samples are
 * read, every 100 ms or when a buffer is half full. Each sample weighs one
 * period of CPU. In wall mode each stretch a thread spends off its CPU,
 * from the kernel's SWITCH records, is added too, weighted by its length
 * (in whole periods, the rest carried to the thread's next stretch), under
 * the stack of the switch-out sample taken as it left (target/perf.h), and
 * marked idle unless the thread was only preempted: per thread, on-CPU
 * plus off-CPU time is its wall time. A thread of which no record comes was
 * off its CPU the whole run, under "[off-CPU, stack unknown]".
 *
 * Threads the target creates are followed by the kernel (inherit), and so
 * are its children, which are recorded when opts->subprocesses (under
 * "process PID: COMMAND" roots, as for Python). Thread names are their
 * kernel names (comm), as COMM records give them.
 *
 * Same contract as sg_sampler_run (sampler.h), with stats.native set.
 */

#include "sampler/sampler.h"

/* Events opened on a launched program held before its exec (target/
 * launch.h), counting from the exec on, so that the first milliseconds,
 * spent finding out whether it is CPython, are sampled too. */
struct sg_perfsampler_early {
	struct sg_perf *perf; /* NULL: none (sg_perfsampler_run opens its own) */
	bool kernel;
	uint64_t start_ns, start_unix_ns; /* when opened */
	/* Set by the caller when the program ended (and was reaped) before
	 * sg_perfsampler_run: what the kernel recorded is read all the same. */
	bool reaped;
	int exit_status;
};

/* Open them on pid for what opts asks (rate, mode, unwind). On failure
 * early->perf is NULL: sg_perfsampler_run opens events itself later, and
 * says why when it cannot either. */
void sg_perfsampler_early_open(pid_t pid, const struct sg_sampler_opts *opts,
                               struct sg_perfsampler_early *early);
/* Free what sg_perfsampler_run did not take over. */
void sg_perfsampler_early_release(struct sg_perfsampler_early *early);

/* With opts->early holding events, they are taken over (early->perf is
 * then NULL) and the run counts from when they were opened. */
int sg_perfsampler_run(pid_t pid, const struct sg_sampler_opts *opts, struct sg_profile *p,
                       struct sg_sampler_stats *stats, volatile sig_atomic_t *stop, char *why,
                       size_t whylen);

#endif
