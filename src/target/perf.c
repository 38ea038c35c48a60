/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "target/perf.h"
#include "target/proc.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/u64map.h"

/* Data pages per CPU, at most: 2 MiB holds 250 samples with an 8 KiB stack
 * copy each, a quarter second of one busy thread at 1 kHz, so a reader held
 * up (by symbols loaded at the start) loses nothing. Halved until the
 * kernel agrees (an unprivileged user may lock 516 KiB per CPU). */
#define RING_PAGES_MAX 512
/* Off-CPU, a busy thread on a loaded machine is also switched out (and its
 * stack copied) hundreds of times a second: twice as much. */
#define RING_PAGES_MAX_OFFCPU 1024
#define RING_PAGES_MIN        8
/* The kernel runs cpu-clock's timer no more often than every 10 us. */
#define MIN_PERIOD_NS 10000
/* Opened threads at most, so a process with a thread storm cannot take every
 * descriptor we have (two per thread on a 2-CPU machine). */
#define MAX_THREADS 4096

struct ring {
	int fd; /* the event whose buffer this is (others redirect here) */
	struct perf_event_mmap_page *meta;
	unsigned char *data;
	uint64_t size;     /* bytes of data, a power of two */
	size_t map_len;    /* of the mapping: data and its first page */
	uint64_t *scratch; /* one record that wrapped; 64 KiB */
};

struct pending {
	struct sg_perf_record rec;
	size_t ring, seq;
};

struct sg_perf {
	pid_t pid;
	struct perf_event_attr attr;
	/* Off-CPU: the context-switches event sampled at every switch-out,
	 * when cs is set; cs_ids holds its events' ids + 1. */
	struct perf_event_attr cs_attr;
	bool cs, on_exec, dither;
	uint64_t period, rng; /* with dither: the mean period, xorshift64 */
	/* With dither, (tid * ncpus + ring) + 1: that thread's event on that
	 * CPU (fd + 1; 0 once closed), whose period its samples there redraw,
	 * and that event's count at its latest sample (0 before the first). */
	struct sg_u64map thread_fds, counts;
	/* With dither, tid + 1: the CPU ns a thread that began while we ran
	 * used before its events were opened, until its first sample takes
	 * it. */
	struct sg_u64map before_open;
	struct sg_u64map cs_ids;
	char offcpu_note[256];
	int *cpus;
	size_t ncpus;
	struct ring *rings; /* one per CPU, rings[i] for cpus[i] */
	int *fds;           /* every event, for closing */
	size_t nfds, fds_cap;
	struct sg_u64map covered; /* tid + 1: threads the kernel follows (1), or
	                           * followed until their EXIT (0, dither) */
	size_t nthreads;
	uint64_t lost;
	struct pending *pend;
	size_t npend, pend_cap;
	uint64_t *heads, *tails; /* per ring, during a read */
};

uint64_t sg_perf_regs_mask(void)
{
#if defined(__x86_64__)
	/* AX..IP (0-8) and R8..R15 (16-23): what x86-64 DWARF CFI names. */
	return 0x1ffull | (0xffull << 16);
#else
	return 0; /* NEEDSWORK: other architectures unwind by frame pointer only */
#endif
}

static int popcount64(uint64_t v)
{
	return __builtin_popcountll(v);
}

/* A bounded reader over one record. */
struct cursor {
	const unsigned char *p, *end;
};

static int take(struct cursor *c, size_t n, const void **at)
{
	if ((size_t)(c->end - c->p) < n)
		return SG_ECORRUPT;
	*at = c->p;
	c->p += n;
	return 0;
}

static int take_u64(struct cursor *c, uint64_t *v)
{
	const void *at;

	if (take(c, 8, &at))
		return SG_ECORRUPT;
	memcpy(v, at, 8);
	return 0;
}

static int take_u32(struct cursor *c, uint32_t *v)
{
	const void *at;

	if (take(c, 4, &at))
		return SG_ECORRUPT;
	memcpy(v, at, 4);
	return 0;
}

/* A NUL-terminated string padded to 8 bytes, ending before c->end. */
static int take_str(struct cursor *c, const char **s)
{
	const unsigned char *nul = memchr(c->p, 0, (size_t)(c->end - c->p));

	if (!nul)
		return SG_ECORRUPT;
	*s = (const char *)c->p;
	c->p += ((size_t)(nul - c->p) + 8) & ~(size_t)7;
	if (c->p > c->end)
		c->p = c->end;
	return 0;
}

/* sample_id_all puts TID and TIME at the end of every other record. */
static int take_sample_id(struct cursor *c, uint64_t sample_type, struct sg_perf_record *r)
{
	size_t need = (sample_type & PERF_SAMPLE_TID ? 8 : 0) +
	              (sample_type & PERF_SAMPLE_TIME ? 8 : 0) +
	              (sample_type & PERF_SAMPLE_IDENTIFIER ? 8 : 0);
	struct cursor t;

	if ((size_t)(c->end - c->p) < need)
		return SG_ECORRUPT;
	t.p = c->end - need;
	t.end = c->end;
	if (sample_type & PERF_SAMPLE_TID) {
		take_u32(&t, &r->pid);
		take_u32(&t, &r->tid);
	}
	if (sample_type & PERF_SAMPLE_TIME)
		take_u64(&t, &r->time_ns);
	if (sample_type & PERF_SAMPLE_IDENTIFIER)
		take_u64(&t, &r->id);
	c->end -= need;
	return 0;
}

static int parse_sample(struct cursor *c, uint64_t sample_type, uint64_t regs_mask,
                        struct sg_perf_record *r)
{
	const void *at;
	uint64_t size;

	if (sample_type & PERF_SAMPLE_IDENTIFIER && take_u64(c, &r->id))
		return SG_ECORRUPT;
	if (sample_type & PERF_SAMPLE_TID && (take_u32(c, &r->pid) || take_u32(c, &r->tid)))
		return SG_ECORRUPT;
	if (sample_type & PERF_SAMPLE_TIME && take_u64(c, &r->time_ns))
		return SG_ECORRUPT;
	/* read_format 0: the one value. */
	if (sample_type & PERF_SAMPLE_READ && take_u64(c, &r->sample.count))
		return SG_ECORRUPT;
	if (sample_type & PERF_SAMPLE_CALLCHAIN) {
		if (take_u64(c, &r->sample.nips) ||
		    r->sample.nips > (uint64_t)(c->end - c->p) / 8 ||
		    take(c, r->sample.nips * 8, &at))
			return SG_ECORRUPT;
		r->sample.ips = at;
	}
	if (sample_type & PERF_SAMPLE_REGS_USER) {
		if (take_u64(c, &r->sample.abi))
			return SG_ECORRUPT;
		if (r->sample.abi) {
			r->sample.nregs = (uint32_t)popcount64(regs_mask);
			if (take(c, (size_t)r->sample.nregs * 8, &at))
				return SG_ECORRUPT;
			r->sample.regs = at;
		}
	}
	if (sample_type & PERF_SAMPLE_STACK_USER) {
		if (take_u64(c, &size) || size > (uint64_t)(c->end - c->p) || take(c, size, &at))
			return SG_ECORRUPT;
		r->sample.stack = at;
		/* dyn_size: how much of the copy the stack really filled. */
		if (size) {
			if (take_u64(c, &r->sample.stack_size) || r->sample.stack_size > size)
				return SG_ECORRUPT;
		}
	}
	return 0;
}

int sg_perf_parse(const void *buf, size_t len, uint64_t sample_type, uint64_t regs_mask,
                  struct sg_perf_record *r)
{
	struct perf_event_header h;
	struct cursor c;

	memset(r, 0, sizeof(*r));
	if (len < sizeof(h))
		return SG_ECORRUPT;
	memcpy(&h, buf, sizeof(h));
	if (h.size < sizeof(h) || h.size > len)
		return SG_ECORRUPT;
	r->type = h.type;
	r->misc = h.misc;
	c.p = (const unsigned char *)buf + sizeof(h);
	c.end = (const unsigned char *)buf + h.size;
	switch (h.type) {
	case PERF_RECORD_SAMPLE:
		return parse_sample(&c, sample_type, regs_mask, r);
	case PERF_RECORD_MMAP2:
		if (take_sample_id(&c, sample_type, r))
			return SG_ECORRUPT;
		/* pid, tid, addr, len, pgoff, 24 bytes of inode or build id */
		if (take_u32(&c, &r->pid) || take_u32(&c, &r->tid) || take_u64(&c, &r->mmap.addr) ||
		    take_u64(&c, &r->mmap.len) || take_u64(&c, &r->mmap.pgoff) ||
		    take(&c, 24, &(const void *){NULL}) || take_u32(&c, &r->mmap.prot) ||
		    take_u32(&c, &r->mmap.flags) || take_str(&c, &r->mmap.filename))
			return SG_ECORRUPT;
		return 0;
	case PERF_RECORD_COMM:
		if (take_sample_id(&c, sample_type, r))
			return SG_ECORRUPT;
		if (take_u32(&c, &r->pid) || take_u32(&c, &r->tid) || take_str(&c, &r->comm.comm))
			return SG_ECORRUPT;
		return 0;
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		if (take_u32(&c, &r->pid) || take_u32(&c, &r->task.ppid) || take_u32(&c, &r->tid) ||
		    take_u32(&c, &r->task.ptid) || take_u64(&c, &r->time_ns))
			return SG_ECORRUPT;
		return 0;
	case PERF_RECORD_LOST:
		if (take_u64(&c, &(uint64_t){0}) || take_u64(&c, &r->lost.lost) ||
		    take_sample_id(&c, sample_type, r))
			return SG_ECORRUPT;
		return 0;
	case PERF_RECORD_LOST_SAMPLES:
		if (take_u64(&c, &r->lost.lost) || take_sample_id(&c, sample_type, r))
			return SG_ECORRUPT;
		return 0;
	case PERF_RECORD_SWITCH:
		return take_sample_id(&c, sample_type, r);
	default:
		return 0;
	}
}

static long perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
                            unsigned long flags)
{
	return syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
}

/* The online CPUs, from /sys (a list like "0-3,6"). */
static int online_cpus(int **out, size_t *n)
{
	char buf[4096], *p, *end;
	size_t cap = 0;
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	long a, b;

	*out = NULL;
	*n = 0;
	if (!f)
		return SG_EIO;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	while (p && *p >= '0' && *p <= '9') {
		a = strtol(p, &end, 10);
		b = *end == '-' ? strtol(end + 1, &end, 10) : a;
		for (long cpu = a; cpu <= b && cpu < 4096; cpu++) {
			if (sg_grow(out, &cap, *n + 1, sizeof(**out)))
				return SG_ENOMEM;
			(*out)[(*n)++] = (int)cpu;
		}
		p = *end == ',' ? end + 1 : NULL;
	}
	return *n ? 0 : SG_EIO;
}

static int map_ring(struct ring *r, int fd, size_t max_pages)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *m = MAP_FAILED;
	size_t pages;

	for (pages = max_pages; pages >= RING_PAGES_MIN && m == MAP_FAILED; pages /= 2)
		m = mmap(NULL, page * (pages + 1), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return errno == EPERM ? SG_EPERM : SG_ENOMEM;
	pages *= 2;
	r->fd = fd;
	r->meta = m;
	r->data = (unsigned char *)m + page;
	r->size = (uint64_t)page * pages;
	r->map_len = page * (pages + 1);
	r->scratch = malloc(65536);
	return r->scratch ? 0 : SG_ENOMEM;
}

static int add_fd(struct sg_perf *perf, int fd)
{
	if (sg_grow(&perf->fds, &perf->fds_cap, perf->nfds + 1, sizeof(*perf->fds))) {
		close(fd);
		return SG_ENOMEM;
	}
	perf->fds[perf->nfds++] = fd;
	return 0;
}

/* The switch-out sampler of tid on r's CPU, writing into r. When the first
 * one cannot be opened, off-CPU stacks are left out, with a note. */
static int open_cs(struct sg_perf *perf, pid_t tid, struct ring *r)
{
	int cpu = perf->cpus[r - perf->rings];
	int fd = (int)perf_event_open(&perf->cs_attr, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	uint64_t id;

	if (fd < 0 && perf->nthreads == 0 && r == perf->rings) {
		snprintf(perf->offcpu_note, sizeof(perf->offcpu_note),
		         "the context-switches event cannot be sampled (perf_event_open: %s): "
		         "off-CPU time is measured without the stacks threads blocked in",
		         strerror(errno));
		perf->cs = false;
		return 0;
	}
	if (fd < 0)
		return SG_EIO;
	if (add_fd(perf, fd))
		return SG_ENOMEM;
	if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd) || ioctl(fd, PERF_EVENT_IOC_ID, &id) ||
	    (!perf->on_exec && ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)))
		return SG_EIO;
	return sg_u64map_put(&perf->cs_ids, id + 1, 1);
}

/* With dither: the next period, uniform in [period / 2, period * 3 / 2),
 * as the timer's jitter. Drawn at every sample: drawn every 4th, with a
 * spread of half a period either side a worker's sample count strayed 19%
 * from its CPU over 80 samples, and with a quarter the runs of equal
 * periods sampled cpu_split.py's cycle in clumps (gamma 32% for its 20%). */
static uint64_t next_period(struct sg_perf *perf)
{
	uint64_t half = perf->period / 2 ? perf->period / 2 : 1;

	perf->rng ^= perf->rng << 13;
	perf->rng ^= perf->rng >> 7;
	perf->rng ^= perf->rng << 17;
	return half + perf->rng % (2 * half);
}

/* Whether tid has events, opened or inherited (an ended thread's entry is
 * 0). */
static bool covered(const struct sg_perf *perf, pid_t tid)
{
	uint64_t v;

	return sg_u64map_get(&perf->covered, (uint64_t)tid + 1, &v) && v;
}

static uint64_t thread_key(const struct sg_perf *perf, pid_t tid, size_t ring)
{
	return (uint64_t)tid * perf->ncpus + ring + 1;
}

/* With dither: tid has ended; close its events but those that own a
 * buffer (others write there, and the reader polls them). Returns the CPU
 * ns of it that no sample stood for: the final counts past each event's
 * last sample, and what it used before its events opened if no sample
 * took that. */
static uint64_t close_thread(struct sg_perf *perf, pid_t tid)
{
	uint64_t fd, count, sampled, unsampled = 0;

	if (!covered(perf, tid))
		return 0;
	if (sg_u64map_get(&perf->before_open, (uint64_t)tid + 1, &unsampled))
		sg_u64map_put(&perf->before_open, (uint64_t)tid + 1, 0);
	for (size_t i = 0; i < perf->ncpus; i++) {
		/* Replacing a value needs no memory: the puts cannot fail. */
		if (!sg_u64map_get(&perf->thread_fds, thread_key(perf, tid, i), &fd) || !fd)
			continue;
		/* An ended thread's event keeps its final count (read_format
		 * 0: the one value). */
		sampled = 0;
		sg_u64map_get(&perf->counts, thread_key(perf, tid, i), &sampled);
		if (read((int)fd - 1, &count, sizeof(count)) == (ssize_t)sizeof(count) &&
		    count > sampled)
			unsampled += count - sampled;
		sg_u64map_put(&perf->thread_fds, thread_key(perf, tid, i), 0);
		sg_u64map_put(&perf->counts, thread_key(perf, tid, i), 0);
		if ((int)fd - 1 == perf->rings[i].fd)
			continue;
		for (size_t k = 0; k < perf->nfds; k++)
			if (perf->fds[k] == (int)fd - 1) {
				perf->fds[k] = perf->fds[--perf->nfds];
				close((int)fd - 1);
				break;
			}
	}
	/* Uncovered, should the tid be given to a new thread of ours. */
	sg_u64map_put(&perf->covered, (uint64_t)tid + 1, 0);
	perf->nthreads--;
	return unsampled;
}

/* The CPU ns tid has used so far, from schedstat (which may lag a running
 * thread by a scheduler tick); 0 when unknown. */
static uint64_t cpu_so_far(pid_t pid, pid_t tid)
{
	struct sg_task task = SG_TASK_CLOSED;
	struct sg_task_runtime rt = {0};

	if (sg_task_open(&task, pid, tid))
		return 0;
	if (sg_task_runtime(&task, &rt))
		rt.run_ns = 0;
	sg_task_close(&task);
	return rt.run_ns;
}

/* Events on every CPU for tid. young: with dither, a thread that began
 * while we ran (its FORK record was read), whose CPU before now its first
 * sample takes, and which gets a first period of an eighth, so that one
 * living less than a period is still sampled (perf's frequency mode, for
 * the same reason, starts a new event's period at 1). Returns 0,
 * SG_ENOMEM, or SG_EIO with the system's errno in *sys_errno. */
static int open_thread(struct sg_perf *perf, pid_t tid, bool young, int *sys_errno)
{
	uint64_t first = perf->period / 8 > MIN_PERIOD_NS ? perf->period / 8 : MIN_PERIOD_NS;

	if (perf->nthreads >= MAX_THREADS)
		return 0;
	for (size_t i = 0; i < perf->ncpus; i++) {
		struct ring *r = &perf->rings[i];
		int fd, err;

		if (perf->dither)
			perf->attr.sample_period = young ? first : next_period(perf);
		fd =
		    (int)perf_event_open(&perf->attr, tid, perf->cpus[i], -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			*sys_errno = errno;
			return SG_EIO;
		}
		if (add_fd(perf, fd))
			return SG_ENOMEM;
		if (perf->dither &&
		    (sg_u64map_put(&perf->thread_fds, thread_key(perf, tid, i), (uint64_t)fd + 1) ||
		     sg_u64map_put(&perf->counts, thread_key(perf, tid, i), 0)))
			return SG_ENOMEM;
		if (r->meta) {
			err = ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd) ? SG_EIO : 0;
		} else {
			err = map_ring(r, fd, perf->cs ? RING_PAGES_MAX_OFFCPU : RING_PAGES_MAX);
			if (err == SG_EPERM) {
				/* Over perf_event_mlock_kb */
				errno = EPERM;
				err = SG_EIO;
			}
		}
		if (!err && !perf->on_exec)
			err = ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) ? SG_EIO : 0;
		if (!err && perf->cs)
			err = open_cs(perf, tid, r);
		if (err) {
			*sys_errno = errno;
			return err;
		}
	}
	perf->nthreads++;
	if (young && perf->dither &&
	    sg_u64map_put(&perf->before_open, (uint64_t)tid + 1, cpu_so_far(perf->pid, tid)))
		return SG_ENOMEM;
	return sg_u64map_put(&perf->covered, (uint64_t)tid + 1, 1);
}

int sg_perf_track(struct sg_perf *perf)
{
	pid_t *tids;
	size_t n;
	int err;

	if (perf->on_exec)
		return 0;
	err = sg_proc_tasks(perf->pid, &tids, &n);
	if (err)
		return err == SG_ENOMEM ? err : 0;
	for (size_t i = 0; i < n && err != SG_ENOMEM; i++)
		if (!covered(perf, tids[i]))
			/* A thread that ended meanwhile cannot be opened: fine. */
			err = open_thread(perf, tids[i], false, &(int){0});
	free(tids);
	return err == SG_ENOMEM ? err : 0;
}

static void permission_line(char *why, size_t whylen, pid_t pid, int paranoid)
{
	snprintf(why, whylen,
	         "perf_events are not allowed on pid %d (kernel.perf_event_paranoid is %d): "
	         "another user's process needs root or CAP_PERFMON (CAP_SYS_ADMIN before "
	         "Linux 5.8); at 2 your own processes' user stacks are sampled, at 1 also kernel "
	         "stacks; Python programs you may read are still recorded without them",
	         (int)pid, paranoid);
}

static int read_paranoid(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	int v = 2;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 2;
		fclose(f);
	}
	return v;
}

static void close_all(struct sg_perf *perf)
{
	for (size_t i = 0; i < perf->nfds; i++)
		close(perf->fds[i]);
	perf->nfds = 0;
	for (size_t i = 0; perf->rings && i < perf->ncpus; i++) {
		if (perf->rings[i].meta)
			munmap(perf->rings[i].meta, perf->rings[i].map_len);
		free(perf->rings[i].scratch);
		memset(&perf->rings[i], 0, sizeof(perf->rings[i]));
	}
	sg_u64map_release(&perf->covered);
	sg_u64map_release(&perf->cs_ids);
	sg_u64map_release(&perf->thread_fds);
	sg_u64map_release(&perf->counts);
	sg_u64map_release(&perf->before_open);
	perf->nthreads = 0;
}

/* Open the first thread, backing off from kernel samples and callchains
 * when they are not allowed. */
static int open_first(struct sg_perf *perf, pid_t tid, bool *kernel, int *sys_errno)
{
	int err;

	*kernel = true;
	err = open_thread(perf, tid, false, sys_errno);
	if (err == SG_EIO && (*sys_errno == EACCES || *sys_errno == EPERM)) {
		close_all(perf);
		perf->attr.exclude_kernel = 1;
		perf->attr.exclude_hv = 1;
		perf->attr.exclude_callchain_kernel = 1;
		*kernel = false;
		/* The switch-out happens in the kernel: its samples are kernel
		 * samples, which exclude_kernel would filter out. */
		if (perf->cs)
			snprintf(perf->offcpu_note, sizeof(perf->offcpu_note),
			         "switch-out samples are kernel samples, not allowed here "
			         "(kernel.perf_event_paranoid above 1 and no CAP_PERFMON): off-CPU "
			         "time is measured without the stacks threads blocked in");
		perf->cs = false;
		err = open_thread(perf, tid, false, sys_errno);
	}
	return err;
}

int sg_perf_open(pid_t pid, const struct sg_perf_opts *opts, struct sg_perf **out, bool *kernel,
                 char *why, size_t whylen)
{
	struct sg_perf *perf = calloc(1, sizeof(*perf));
	struct perf_event_attr *a;
	struct timespec seed;
	int err, sys_errno = 0;

	*out = NULL;
	if (!perf)
		return SG_ENOMEM;
	perf->pid = pid;
	sg_u64map_init(&perf->covered);
	sg_u64map_init(&perf->cs_ids);
	sg_u64map_init(&perf->thread_fds);
	sg_u64map_init(&perf->counts);
	sg_u64map_init(&perf->before_open);
	a = &perf->attr;
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_CPU_CLOCK;
	/* cpu-clock counts nanoseconds: the period is the CPU time per sample. */
	a->sample_period = (uint64_t)(1e9 / opts->rate_hz);
	if (!a->sample_period)
		a->sample_period = 1;
	a->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	if (!opts->no_callchain)
		a->sample_type |= PERF_SAMPLE_CALLCHAIN;
	if (opts->stack_bytes && sg_perf_regs_mask()) {
		a->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		a->sample_regs_user = sg_perf_regs_mask();
		a->sample_stack_user = opts->stack_bytes;
	}
	a->disabled = 1;
	perf->dither = opts->dither && !opts->on_exec;
	perf->period = a->sample_period;
	clock_gettime(CLOCK_MONOTONIC, &seed);
	perf->rng =
	    ((uint64_t)seed.tv_nsec ^ (uint64_t)seed.tv_sec << 30 ^ (uint64_t)pid << 40) | 1;
	a->inherit = !perf->dither;
	if (perf->dither)
		a->sample_type |= PERF_SAMPLE_READ;
	a->mmap = 1;
	a->mmap2 = 1;
	a->comm = 1;
	a->comm_exec = 1;
	a->task = 1;
	a->sample_id_all = 1;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	perf->on_exec = opts->on_exec;
	a->enable_on_exec = opts->on_exec;
	if (opts->offcpu) {
		a->context_switch = 1;
		/* Which samples are switch-outs: the event's id says. */
		a->sample_type |= PERF_SAMPLE_IDENTIFIER;
		perf->cs = true;
		perf->cs_attr = *a;
		perf->cs_attr.config = PERF_COUNT_SW_CONTEXT_SWITCHES;
		perf->cs_attr.sample_period = 1;
		perf->cs_attr.mmap = perf->cs_attr.mmap2 = perf->cs_attr.comm = 0;
		perf->cs_attr.comm_exec = perf->cs_attr.task = perf->cs_attr.context_switch = 0;
	}
	/* Without wake_each the kernel wakes a reader when a buffer is half
	 * full, whatever size it was given. With it, a watermark of one byte
	 * wakes it at every record: wakeup_events would count samples only,
	 * and a new thread's FORK record left until the next sample was read
	 * when the thread (a request's, living a few ms) had ended. */
	a->watermark = opts->wake_each;
	a->wakeup_watermark = opts->wake_each ? 1 : 0;

	err = online_cpus(&perf->cpus, &perf->ncpus);
	if (!err) {
		perf->rings = calloc(perf->ncpus, sizeof(*perf->rings));
		perf->heads = calloc(perf->ncpus, sizeof(*perf->heads));
		perf->tails = calloc(perf->ncpus, sizeof(*perf->tails));
		err = perf->rings && perf->heads && perf->tails ? 0 : SG_ENOMEM;
	}
	if (err) {
		snprintf(why, whylen,
		         err == SG_ENOMEM ? "out of memory"
		                          : "cannot read the online CPUs from /sys");
		sg_perf_free(perf);
		return err;
	}
	err = open_first(perf, pid, kernel, &sys_errno);
	if (err == SG_EIO && sys_errno == ESRCH) {
		/* The main thread has exited (a zombie leader cannot take
		 * events) while others run on: start from one of those, and
		 * sg_perf_track below covers the rest. */
		pid_t tid;

		close_all(perf);
		if (sg_proc_live_task(pid, &tid) == 0 && tid != pid)
			err = open_first(perf, tid, kernel, &sys_errno);
	}
	if (err == SG_ENOMEM ||
	    (err && (sys_errno == EMFILE || sys_errno == ENFILE || sys_errno == ENOMEM))) {
		snprintf(why, whylen,
		         "cannot open perf_events on pid %d: out of descriptors or "
		         "memory",
		         (int)pid);
		err = SG_ENOMEM;
	} else if (err && (sys_errno == EACCES || sys_errno == EPERM)) {
		permission_line(why, whylen, pid, read_paranoid());
		err = SG_EPERM;
	} else if (err && sys_errno == ESRCH) {
		snprintf(why, whylen, "pid %d: no such process", (int)pid);
		err = SG_ENOPROC;
	} else if (err && (sys_errno == ENOSYS || sys_errno == ENOENT || sys_errno == EOPNOTSUPP)) {
		snprintf(why, whylen, "this kernel has no perf_events (perf_event_open: %s)",
		         strerror(sys_errno));
		err = SG_ENOSYS;
	} else if (err) {
		snprintf(why, whylen, "cannot open perf_events on pid %d: %s", (int)pid,
		         strerror(sys_errno));
	}
	if (!err)
		err = sg_perf_track(perf);
	if (err) {
		sg_perf_free(perf);
		return err;
	}
	*out = perf;
	return 0;
}

void sg_perf_close(struct sg_perf *perf)
{
	close_all(perf);
}

const char *sg_perf_offcpu_note(const struct sg_perf *perf)
{
	return perf->offcpu_note;
}

void sg_perf_free(struct sg_perf *perf)
{
	if (!perf)
		return;
	close_all(perf);
	free(perf->rings);
	free(perf->cpus);
	free(perf->fds);
	free(perf->pend);
	free(perf->heads);
	free(perf->tails);
	free(perf);
}

uint64_t sg_perf_lost(const struct sg_perf *perf)
{
	return perf->lost;
}

size_t sg_perf_pollfds(const struct sg_perf *perf, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < perf->ncpus && n < max; i++)
		if (perf->rings[i].meta)
			fds[n++] = (struct pollfd){.fd = perf->rings[i].fd, .events = POLLIN};
	return n;
}

int sg_perf_wait(struct sg_perf *perf, int timeout_ms)
{
	struct pollfd fds[64];
	size_t n = sg_perf_pollfds(perf, fds, 64);

	if (poll(fds, n, timeout_ms) < 0 && errno != EINTR)
		return SG_EIO;
	return 0;
}

/* Queue ring i's records from tail to head; returns how far it got. */
static int collect(struct sg_perf *perf, size_t i, uint64_t head, uint64_t *tail)
{
	struct ring *r = &perf->rings[i];
	uint64_t regs = perf->attr.sample_regs_user;
	uint64_t mask = r->size - 1;
	bool wrapped = false;

	while (*tail < head) {
		struct perf_event_header h;
		uint64_t off = *tail & mask;
		const void *at = r->data + off;
		struct pending *pd;

		if (head - *tail < sizeof(h))
			return SG_ECORRUPT;
		/* The header never straddles the end: records are 8-aligned and
		 * the size a power of two. */
		memcpy(&h, at, sizeof(h));
		if (h.size < sizeof(h) || h.size % 8 || h.size > head - *tail)
			return SG_ECORRUPT;
		if (off + h.size > r->size) {
			/* At most one record in a pass straddles the end. */
			if (wrapped)
				return SG_ECORRUPT;
			wrapped = true;
			memcpy(r->scratch, at, r->size - off);
			memcpy((unsigned char *)r->scratch + (r->size - off), r->data,
			       h.size - (r->size - off));
			at = r->scratch;
		}
		if (sg_grow(&perf->pend, &perf->pend_cap, perf->npend + 1, sizeof(*perf->pend)))
			return SG_ENOMEM;
		pd = &perf->pend[perf->npend];
		if (sg_perf_parse(at, h.size, perf->attr.sample_type, regs, &pd->rec))
			return SG_ECORRUPT;
		pd->ring = i;
		pd->seq = perf->npend++;
		*tail += h.size;
	}
	return 0;
}

/* A new thread or process: inherit covers it, or (with dither, a thread
 * of ours) it gets events of its own now. */
static int followed_fork(struct sg_perf *perf, const struct sg_perf_record *rec)
{
	int sys_errno;

	if (!perf->dither)
		return sg_u64map_put(&perf->covered, (uint64_t)rec->tid + 1, 1);
	if (rec->pid != (uint32_t)perf->pid || covered(perf, (pid_t)rec->tid))
		return 0;
	/* One that ended already cannot be opened: fine. */
	return open_thread(perf, (pid_t)rec->tid, true, &sys_errno) == SG_ENOMEM ? SG_ENOMEM : 0;
}

/* The sample's weight: a switch-out's 0, else the period or, with dither,
 * the CPU its thread used on that CPU since its previous sample there, from the counts
 * PERF_SAMPLE_READ gives (the period change below restarts the period, not the count); then the
 * next period is drawn. Weighing by the count rather than correcting the
 * next period needs no read of the event, and falling behind (our wake-up
 * late by more than a period, at 10 kHz on a busy machine) cannot shorten
 * the periods and bring more samples still: it means fewer samples, each
 * weighing more. The ioctl reaches the thread's CPU (an IPI while it runs,
 * 10-15 us in a VM): the price of an unbiased clock. */
static int weigh(struct sg_perf *perf, struct sg_perf_record *rec, size_t ring)
{
	uint64_t key = thread_key(perf, (pid_t)rec->tid, ring), fd, before = 0, period, head;

	rec->sample.weight_ns = rec->sample.switch_out ? 0 : perf->period;
	if (!perf->dither || rec->sample.switch_out ||
	    !sg_u64map_get(&perf->thread_fds, key, &fd) || !fd)
		return 0;
	sg_u64map_get(&perf->counts, key, &before);
	rec->sample.weight_ns = rec->sample.count > before ? rec->sample.count - before : 0;
	if (sg_u64map_put(&perf->counts, key, rec->sample.count))
		return SG_ENOMEM;
	if (sg_u64map_get(&perf->before_open, (uint64_t)rec->tid + 1, &head) && head) {
		rec->sample.weight_ns += head;
		sg_u64map_put(&perf->before_open, (uint64_t)rec->tid + 1, 0);
	}
	period = next_period(perf);
	ioctl((int)fd - 1, PERF_EVENT_IOC_PERIOD, &period);
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->rec.time_ns != y->rec.time_ns)
		return x->rec.time_ns < y->rec.time_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int sg_perf_read(struct sg_perf *perf, sg_perf_fn fn, void *ctx)
{
	uint64_t *heads = perf->heads, *tails = perf->tails;
	size_t nrings = perf->ncpus;
	int err = 0, bad = 0;

	perf->npend = 0;
	for (size_t i = 0; i < nrings; i++)
		if (perf->rings[i].meta)
			heads[i] = tails[i] = perf->rings[i].meta->data_tail;
	/* Every head first, so that a record in one buffer rarely has an
	 * earlier one in another left for the next read (a thread's switch-out
	 * on one CPU and its switch-in on another). */
	for (size_t i = 0; i < nrings; i++)
		if (perf->rings[i].meta)
			/* Pairs with the kernel's store of data_head after the data. */
			heads[i] =
			    __atomic_load_n(&perf->rings[i].meta->data_head, __ATOMIC_ACQUIRE);
	for (size_t i = 0; i < nrings; i++) {
		struct ring *r = &perf->rings[i];

		if (!r->meta)
			continue;
		err = collect(perf, i, heads[i], &tails[i]);
		if (err == SG_ENOMEM) {
			/* Keep what was not handed on for the next read. */
			for (size_t k = 0; k < nrings; k++)
				if (perf->rings[k].meta)
					heads[k] = perf->rings[k].meta->data_tail;
			perf->npend = 0;
			break;
		}
		if (err) {
			bad = err;
			err = 0;
		}
	}
	if (perf->npend)
		qsort(perf->pend, perf->npend, sizeof(*perf->pend), by_time);
	for (size_t k = 0; k < perf->npend && !err; k++) {
		struct sg_perf_record *rec = &perf->pend[k].rec;

		if (rec->type == PERF_RECORD_LOST || rec->type == PERF_RECORD_LOST_SAMPLES)
			perf->lost += rec->lost.lost;
		else if (rec->type == PERF_RECORD_FORK)
			err = followed_fork(perf, rec);
		else if (rec->type == PERF_RECORD_EXIT && perf->dither &&
		         rec->pid == (uint32_t)perf->pid)
			rec->task.unsampled_ns = close_thread(perf, (pid_t)rec->tid);
		else if (rec->type == PERF_RECORD_SAMPLE && perf->cs_ids.len)
			rec->sample.switch_out = sg_u64map_get(&perf->cs_ids, rec->id + 1, NULL);
		if (rec->type == PERF_RECORD_SAMPLE)
			err = weigh(perf, rec, perf->pend[k].ring);
		if (!err)
			err = fn(ctx, rec);
	}
	for (size_t i = 0; i < nrings; i++)
		if (perf->rings[i].meta)
			/* Our reads of the data are done before the kernel may reuse it. */
			__atomic_store_n(&perf->rings[i].meta->data_tail, heads[i],
			                 __ATOMIC_RELEASE);
	perf->npend = 0;
	return err ? err : bad;
}
