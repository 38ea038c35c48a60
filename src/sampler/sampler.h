/* SPDX-License-Identifier: MIT */
#ifndef SG_SAMPLER_SAMPLER_H
#define SG_SAMPLER_SAMPLER_H

/*
 * When and how often: the loop that samples one target (and, if asked, its
 * descendants) on absolute deadlines until it exits, the duration runs out
 * or *stop becomes nonzero, and records every sample into a profile.
 *
 * Deadlines are start + k * period plus a small random jitter, so the
 * schedule neither drifts when a sample runs long nor locks step with
 * periodic work in the target. Ticks that could not be kept are skipped,
 * not bunched up, and show as a lower achieved rate.
 */

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "profile/profile.h"

struct sg_sampler_opts {
	double rate_hz;    /* > 0 */
	double duration_s; /* 0: until the target exits or *stop */
	enum sg_mode mode; /* cpu: threads on a CPU only; wall: every thread */
	bool gil;          /* only the thread holding the GIL */
	bool function;     /* frames by function (first line), not by line */
	bool subprocesses; /* also sample descendants, as they appear */
	bool launched;     /* we started pid: reap it, stop it when done */
};

/* What the sampler itself measured, for the summary. */
struct sg_sampler_stats {
	uint64_t ticks;        /* deadlines kept */
	uint64_t ticks_missed; /* deadlines skipped because we fell behind */
	uint64_t retries;      /* walks retried after a torn read */
	double cpu_s;          /* our CPU time (user + system) while sampling */
	double setup_cpu_s;    /* our CPU time before: finding the interpreter */
	double wall_s;         /* length of the run */
	int exit_status;       /* a launched target's wait status, -1 unknown */
};

/*
 * Sample pid into p (whose meta is filled too) until done. Returns 0 once a
 * run ended normally, even with no samples; or a negative sg_err with one
 * line for the user in why: the target is not (or never became) CPython,
 * its version is not supported, we may not read it.
 */
int sg_sampler_run(pid_t pid, const struct sg_sampler_opts *opts, struct sg_profile *p,
                   struct sg_sampler_stats *stats, volatile sig_atomic_t *stop, char *why,
                   size_t whylen);

#endif
