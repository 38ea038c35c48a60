/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <linux/perf_event.h>

#include "sampler/pyperf.h"
#include "util/alloc.h"
#include "util/err.h"

/* Descriptors polled at once: one per CPU per process. */
#define POLL_MAX 1024

struct handle {
	pid_t pid;
	struct sg_perf *perf;
};

struct sg_pyperf {
	struct sg_perf_opts opts;
	struct handle *handles;
	size_t n, cap;
	uint64_t lost_closed; /* by handles since closed */
	struct pollfd fds[POLL_MAX];
};

int sg_pyperf_new(double rate_hz, bool native, struct sg_pyperf **out)
{
	struct sg_pyperf *pc = calloc(1, sizeof(*pc));

	*out = pc;
	if (!pc)
		return SG_ENOMEM;
	/* Without native, no native stack: the Python stack is read from the
	 * process itself. */
	pc->opts = (struct sg_perf_opts){.rate_hz = rate_hz,
	                                 .stack_bytes = native ? SG_PYPERF_STACK_BYTES : 0,
	                                 .no_callchain = !native,
	                                 .wake_each = true,
	                                 .dither = true};
	return 0;
}

void sg_pyperf_free(struct sg_pyperf *pc)
{
	if (!pc)
		return;
	for (size_t i = 0; i < pc->n; i++)
		sg_perf_free(pc->handles[i].perf);
	free(pc->handles);
	free(pc);
}

uint64_t sg_pyperf_period_ns(const struct sg_pyperf *pc)
{
	/* As target/perf.c sets sample_period. */
	uint64_t period = (uint64_t)(1e9 / pc->opts.rate_hz);

	return period ? period : 1;
}

size_t sg_pyperf_count(const struct sg_pyperf *pc)
{
	return pc->n;
}

int sg_pyperf_add(struct sg_pyperf *pc, pid_t pid, char *why, size_t whylen)
{
	struct sg_perf *perf;
	bool kernel;
	int err;

	for (size_t i = 0; i < pc->n; i++)
		if (pc->handles[i].pid == pid)
			return 0;
	if (sg_grow(&pc->handles, &pc->cap, pc->n + 1, sizeof(*pc->handles)))
		return SG_ENOMEM;
	err = sg_perf_open(pid, &pc->opts, &perf, &kernel, why, whylen);
	if (err)
		return err;
	pc->handles[pc->n++] = (struct handle){.pid = pid, .perf = perf};
	return 0;
}

void sg_pyperf_remove(struct sg_pyperf *pc, pid_t pid)
{
	for (size_t i = 0; i < pc->n; i++) {
		if (pc->handles[i].pid != pid)
			continue;
		pc->lost_closed += sg_perf_lost(pc->handles[i].perf);
		sg_perf_free(pc->handles[i].perf);
		pc->handles[i] = pc->handles[--pc->n];
		return;
	}
}

int sg_pyperf_wait(struct sg_pyperf *pc, uint64_t until_ns)
{
	struct timespec now, left;
	uint64_t now_ns;
	size_t n = 0;

	for (size_t i = 0; i < pc->n && n < POLL_MAX; i++)
		n += sg_perf_pollfds(pc->handles[i].perf, pc->fds + n, POLL_MAX - n);
	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	if (until_ns <= now_ns)
		return 0;
	left.tv_sec = (time_t)((until_ns - now_ns) / 1000000000ull);
	left.tv_nsec = (long)((until_ns - now_ns) % 1000000000ull);
	/* A signal ends the wait (EINTR): the caller looks at *stop. */
	if (ppoll(pc->fds, n, &left, NULL) < 0 && errno != EINTR)
		return SG_EIO;
	return 0;
}

struct filter {
	pid_t pid;
	sg_perf_fn fn;
	void *ctx;
};

static int own_samples(void *ctx, const struct sg_perf_record *rec)
{
	const struct filter *f = ctx;

	if ((rec->type != PERF_RECORD_SAMPLE && rec->type != PERF_RECORD_MMAP2 &&
	     rec->type != PERF_RECORD_EXIT) ||
	    (pid_t)rec->pid != f->pid)
		return 0;
	return f->fn(f->ctx, rec);
}

int sg_pyperf_read(struct sg_pyperf *pc, sg_perf_fn fn, void *ctx)
{
	for (size_t i = 0; i < pc->n; i++) {
		struct filter f = {.pid = pc->handles[i].pid, .fn = fn, .ctx = ctx};
		int err = sg_perf_read(pc->handles[i].perf, own_samples, &f);

		/* A record that does not parse costs its buffer's batch only. */
		if (err && err != SG_ECORRUPT)
			return err;
	}
	return 0;
}

int sg_pyperf_track(struct sg_pyperf *pc)
{
	for (size_t i = 0; i < pc->n; i++) {
		int err = sg_perf_track(pc->handles[i].perf);

		if (err)
			return err;
	}
	return 0;
}

uint64_t sg_pyperf_lost(const struct sg_pyperf *pc)
{
	uint64_t lost = pc->lost_closed;

	for (size_t i = 0; i < pc->n; i++)
		lost += sg_perf_lost(pc->handles[i].perf);
	return lost;
}
