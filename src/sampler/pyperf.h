/* SPDX-License-Identifier: MIT */
#ifndef SG_SAMPLER_PYPERF_H
#define SG_SAMPLER_PYPERF_H

/*
 * The CPU clock for Python targets in cpu mode: perf_events cpu-clock
 * events (target/perf.h) on each Python process sampled, so that a thread
 * is sampled when it has used one period of CPU, and the sampler walks
 * that thread's Python stack as soon as the kernel says so (every sample
 * wakes the reader). A thread waiting for a core is never counted, and an
 * idle target costs nothing: no timer, no /proc reads.
 *
 * One handle per process, added when the process is found to run CPython
 * and removed when it exits or execs. Events are inherited by threads the
 * process starts; a child's events (inherited too) are left to the child's
 * own handle, so each sample is handed on once, by the handle of its pid.
 *
 * Not thread-safe. The targets are never stopped nor written to.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "target/perf.h"

struct sg_pyperf;

/* The user stack copied per sample with native: as much as a record can
 * carry, since before 3.11 every Python call takes a few hundred bytes of
 * C stack, and the merge needs the copy to reach the outermost eval call. */
#define SG_PYPERF_STACK_BYTES 65528

/* A clock of rate_hz samples per second of CPU per thread. With native,
 * each sample also carries the user registers, a copy of the top of the
 * user stack (SG_PYPERF_STACK_BYTES) and the kernel's callchain, for
 * record --native. 0 or SG_ENOMEM. */
int sg_pyperf_new(double rate_hz, bool native, struct sg_pyperf **out);
void sg_pyperf_free(struct sg_pyperf *pc);

/* The CPU time each sample stands for, in nanoseconds. */
uint64_t sg_pyperf_period_ns(const struct sg_pyperf *pc);

/* Open events on pid's threads. 0; or as sg_perf_open (SG_EPERM, SG_ENOSYS,
 * SG_ENOPROC, SG_ENOMEM) with one line for the user in why. */
int sg_pyperf_add(struct sg_pyperf *pc, pid_t pid, char *why, size_t whylen);
/* Close pid's events, if it has any. */
void sg_pyperf_remove(struct sg_pyperf *pc, pid_t pid);
/* How many processes have events open. */
size_t sg_pyperf_count(const struct sg_pyperf *pc);

/* Sleep until a sample is written or CLOCK_MONOTONIC reaches until_ns, or
 * a signal arrives. 0 or SG_EIO. */
int sg_pyperf_wait(struct sg_pyperf *pc, uint64_t until_ns);

/* Hand every sample, MMAP2 and EXIT record written since the last call
 * (of each handle's own pid; other records are passed over) to fn, each
 * handle's in time order: an EXIT's task.unsampled_ns is the thread's CPU
 * that its samples' weights left out. Stops at fn's nonzero return, which
 * it returns. */
int sg_pyperf_read(struct sg_pyperf *pc, sg_perf_fn fn, void *ctx);

/* Cover threads that escaped inherit (started while events opened). 0 or
 * SG_ENOMEM. */
int sg_pyperf_track(struct sg_pyperf *pc);

/* Samples the kernel could not write, so far, over every handle. */
uint64_t sg_pyperf_lost(const struct sg_pyperf *pc);

#endif
