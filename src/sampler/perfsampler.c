/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "native/sym.h"
#include "native/unwind.h"
#include "python/pyproc.h"
#include "python/pywalk.h"
#include "sampler/perfsampler.h"
#include "target/launch.h"
#include "target/perf.h"
#include "target/proc.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/u64map.h"

#define NS_PER_S 1e9
/* How often the buffers are read when they do not fill up first (each
 * wake-up costs what a sample costs: at 25 ms, 0.5% of a core with the
 * target idle), and so how soon the end of the target is seen. */
#define READ_EVERY_MS 100
/* How often threads that escaped inherit (created while we opened) are
 * looked for. */
#define TRACK_EVERY_NS    (100 * 1000 * 1000ull)
#define PROGRESS_EVERY_NS (250 * 1000 * 1000ull)
/* Frames unwound per sample (kernel and user), before inlines. */
#define MAX_UNWIND 512
/* User stack copied per sample for DWARF unwinding, as perf's default. */
#define STACK_BYTES 8192
/* After the launched target execs, it is looked at for CPython (a shared
 * build maps its libpython moments after the exec) at every pass of the
 * loop, EXEC_PROBE_EVERY_MS apart at least, until EXEC_PROBE_NS have gone
 * and EXEC_PROBES passes were made: a pass that unwinds the start-up's
 * samples can take longer than that time (loading libpython's DWARF). The
 * run hands it to the Python sampler once found. */
#define EXEC_PROBE_NS       (200 * 1000 * 1000ull)
#define EXEC_PROBES         5
#define EXEC_PROBE_EVERY_MS 10

/* Wall mode: one thread's time off its CPU. A stretch runs from a SWITCH
 * record that says it left (with the stack it left with, from the
 * switch-out sample just before, when allowed) to the one that says it is
 * back. */
struct offthread {
	pid_t pid, tid;
	bool seen;      /* a record of it came since the start */
	bool off;       /* off its CPU since out_ns */
	bool preempted; /* still runnable (waiting for a CPU), not blocked */
	uint64_t out_ns, in_ns;
	uint64_t stack_ns; /* when frames were taken: valid if >= in_ns */
	uint64_t carry_ns; /* off-CPU time under one period, not yet counted */
	struct sg_unwind_frame *frames;
	size_t nframes, frames_cap;
};

struct perfsampler {
	const struct sg_sampler_opts *opts;
	struct sg_profile *profile;
	struct sg_meta *meta;
	struct sg_sampler_stats *stats;
	pid_t pid;
	struct sg_perf *perf;
	struct sg_syms *syms;
	struct sg_u64map spaces; /* pid + 1 -> struct sg_unwind * */
	struct sg_u64map comms;  /* tid + 1 -> index in names */
	char (*names)[16];
	size_t nnames, names_cap;
	struct sg_unwind_frame frames[MAX_UNWIND];
	uint32_t *ids; /* profile frame ids of one sample, leaf first */
	size_t nids, ids_cap;
	size_t max_depth;
	uint64_t period_ns, start_ns, start_unix_ns, window_ns, samples;
	/* When the events began counting: start_ns, unless the run goes on
	 * from the Python sampler's (opts->resume). */
	uint64_t events_ns;
	/* When the launched target exec'd (its COMM record's time), or 0,
	 * and how often it was looked at for CPython since. */
	uint64_t exec_ns;
	unsigned exec_probes;
	uint32_t kernel_file;
	bool wall;
	struct sg_u64map offidx; /* tid + 1 -> index in offs */
	struct offthread *offs;
	size_t noffs, offs_cap;
	uint64_t offcpu_ns, stretches;
};

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int set_comm(struct perfsampler *s, pid_t tid, const char *comm)
{
	uint64_t at;

	if (!sg_u64map_get(&s->comms, (uint64_t)tid + 1, &at)) {
		if (sg_grow(&s->names, &s->names_cap, s->nnames + 1, sizeof(*s->names)))
			return SG_ENOMEM;
		at = s->nnames++;
		if (sg_u64map_put(&s->comms, (uint64_t)tid + 1, at))
			return SG_ENOMEM;
	}
	snprintf(s->names[at], sizeof(s->names[at]), "%s", comm);
	return 0;
}

static const char *comm_of(const struct perfsampler *s, pid_t tid)
{
	uint64_t at;

	return sg_u64map_get(&s->comms, (uint64_t)tid + 1, &at) ? s->names[at] : "";
}

static struct sg_unwind *space_of(struct perfsampler *s, pid_t pid)
{
	uint64_t v;
	struct sg_unwind *uw;

	if (sg_u64map_get(&s->spaces, (uint64_t)pid + 1, &v))
		return (struct sg_unwind *)(uintptr_t)v;
	if (sg_unwind_new(pid, true, &uw))
		return NULL;
	if (sg_u64map_put(&s->spaces, (uint64_t)pid + 1, (uint64_t)(uintptr_t)uw)) {
		sg_unwind_free(uw);
		return NULL;
	}
	return uw;
}

/* Replace pid's address space (after exec: empty; after fork: a copy). */
static int set_space(struct perfsampler *s, pid_t pid, struct sg_unwind *uw)
{
	uint64_t v;

	if (sg_u64map_get(&s->spaces, (uint64_t)pid + 1, &v))
		sg_unwind_free((struct sg_unwind *)(uintptr_t)v);
	if (sg_u64map_put(&s->spaces, (uint64_t)pid + 1, (uint64_t)(uintptr_t)uw)) {
		/* The old one is freed: forget the key's value. */
		sg_u64map_put(&s->spaces, (uint64_t)pid + 1, 0);
		sg_unwind_free(uw);
		return SG_ENOMEM;
	}
	return 0;
}

static int push_id(struct perfsampler *s, uint32_t id)
{
	if (id == UINT32_MAX || sg_grow(&s->ids, &s->ids_cap, s->nids + 1, sizeof(*s->ids)))
		return SG_ENOMEM;
	s->ids[s->nids++] = id;
	return 0;
}

static int on_sym(void *ctx, const struct sg_sym_frame *f)
{
	struct perfsampler *s = ctx;
	struct sg_frame frame = {
	    .type = f->kernel ? SG_FRAME_KERNEL
	            : f->jit  ? SG_FRAME_JIT
	                      : SG_FRAME_NATIVE,
	    .line = s->opts->function ? 0 : f->line,
	};

	frame.name = sg_profile_intern(s->profile, f->name, strlen(f->name));
	frame.file = sg_profile_intern(s->profile, f->file, strlen(f->file));
	if (frame.name == UINT32_MAX || frame.file == UINT32_MAX)
		return SG_ENOMEM;
	return push_id(s, sg_profile_frame_id(s->profile, &frame));
}

static int named_frame(struct perfsampler *s, const char *name)
{
	struct sg_frame frame = {.type = SG_FRAME_NATIVE};

	frame.name = sg_profile_intern(s->profile, name, strlen(name));
	if (frame.name == UINT32_MAX)
		return SG_ENOMEM;
	return push_id(s, sg_profile_frame_id(s->profile, &frame));
}

/* s->ids, leaf first, as a root-first stack id; deeper than max_depth
 * keeps both ends around a "[K frames omitted]" frame. */
static int stack_id(struct perfsampler *s, uint32_t *stack)
{
	size_t n = s->nids, keep_leaf, keep_root, omitted = 0;
	char name[64];
	int err;

	for (size_t i = 0; i < n / 2; i++) {
		uint32_t t = s->ids[i];

		s->ids[i] = s->ids[n - 1 - i];
		s->ids[n - 1 - i] = t;
	}
	if (n > s->max_depth) {
		keep_root = s->max_depth / 2;
		keep_leaf = s->max_depth - keep_root - 1;
		omitted = n - keep_root - keep_leaf;
		memmove(&s->ids[keep_root + 1], &s->ids[n - keep_leaf],
		        keep_leaf * sizeof(*s->ids));
		s->nids = keep_root;
		snprintf(name, sizeof(name), "[%zu frames omitted]", omitted);
		err = named_frame(s, name);
		if (err)
			return err;
		s->nids = keep_root + 1 + keep_leaf;
		s->meta->truncated++;
	}
	*stack = sg_profile_stack_id(s->profile, s->ids, s->nids);
	return *stack == UINT32_MAX ? SG_ENOMEM : 0;
}

static struct offthread *off_of(struct perfsampler *s, pid_t pid, pid_t tid)
{
	uint64_t at;

	if (sg_u64map_get(&s->offidx, (uint64_t)tid + 1, &at))
		return &s->offs[at];
	if (sg_grow(&s->offs, &s->offs_cap, s->noffs + 1, sizeof(*s->offs)) ||
	    sg_u64map_put(&s->offidx, (uint64_t)tid + 1, s->noffs))
		return NULL;
	s->offs[s->noffs] = (struct offthread){.pid = pid, .tid = tid};
	return &s->offs[s->noffs++];
}

static int add_frames(struct perfsampler *s, struct sg_unwind *uw,
                      const struct sg_unwind_frame *frames, size_t n)
{
	int err = 0;

	s->nids = 0;
	for (size_t i = 0; i < n && !err; i++)
		err = sg_syms_resolve(s->syms, uw, &frames[i], on_sym, s);
	return err;
}

static int thread_labels(struct perfsampler *s, struct sg_labels *labels)
{
	const char *comm = comm_of(s, labels->tid);

	labels->thread_name = sg_profile_intern(s->profile, comm, strlen(comm));
	return labels->thread_name == UINT32_MAX ? SG_ENOMEM : 0;
}

/* Count t's time off its CPU from the later of out_ns and the window's start
 * to end_ns, in whole periods (the rest carried to its next stretch, so
 * counts and weights agree with the on-CPU samples'), under the stack it
 * left its CPU with, marked idle unless it was only preempted. */
static int add_offcpu(struct perfsampler *s, struct offthread *t, uint64_t end_ns)
{
	struct sg_labels labels = {.pid = t->pid, .tid = t->tid};
	uint64_t start = t->out_ns > s->window_ns ? t->out_ns : s->window_ns, total, count;
	struct sg_unwind *uw;
	uint32_t stack;
	int err = 0;

	if (end_ns <= start)
		return 0;
	s->offcpu_ns += end_ns - start;
	s->stretches++;
	total = t->carry_ns + (end_ns - start);
	count = total / s->period_ns;
	t->carry_ns = total % s->period_ns;
	if (!count)
		return 0;
	s->nids = 0;
	if (t->nframes && t->stack_ns >= t->in_ns) {
		const struct sg_unwind_frame *f = t->frames;
		size_t n = t->nframes;

		/* Preempted, its kernel frames are the scheduler's interrupt
		 * path: the time goes to where it ran, as a sample's would. */
		for (; t->preempted && n && f->kernel; f++, n--)
			;
		uw = space_of(s, t->pid);
		err = uw ? add_frames(s, uw, f, n) : SG_ENOMEM;
	}
	if (!err && !s->nids)
		err = named_frame(s, "[off-CPU, stack unknown]");
	if (!err)
		err = stack_id(s, &stack);
	if (!err)
		err = thread_labels(s, &labels);
	if (err)
		return err;
	if (!t->preempted)
		labels.flags = SG_SAMPLE_IDLE;
	s->meta->samples += count;
	return sg_profile_add_run(s->profile, stack, &labels, count, count * s->period_ns,
	                          start - s->window_ns, end_ns - s->window_ns);
}

/* Every thread still off its CPU is counted up to end_ns, and goes on from
 * there. */
static int flush_offcpu(struct perfsampler *s, uint64_t end_ns)
{
	int err = 0;

	for (size_t i = 0; i < s->noffs && !err; i++) {
		struct offthread *t = &s->offs[i];

		if (t->off) {
			err = add_offcpu(s, t, end_ns);
			t->out_ns = end_ns;
		}
	}
	return err;
}

/* The window that began at s->window_ns ends at end_ns: hand it over and
 * start the next one empty. */
static int cut_window(struct perfsampler *s, uint64_t end_ns)
{
	uint64_t ns = end_ns - s->window_ns;
	int err = flush_offcpu(s, end_ns);

	if (err)
		return err;

	s->meta->start_unix_ns = s->start_unix_ns + (s->window_ns - s->start_ns);
	s->meta->duration_ns = ns;
	s->meta->rate_achieved_hz = ns ? (double)s->meta->samples * NS_PER_S / (double)ns : 0;
	s->opts->window(s->opts->window_ctx, s->profile);
	s->window_ns = end_ns;
	return sg_profile_clear(s->profile);
}

/* Hand over every window that ended before time_ns. */
static int windows_until(struct perfsampler *s, uint64_t time_ns)
{
	uint64_t window = (uint64_t)(s->opts->window_s * NS_PER_S);
	int err = 0;

	while (!err && s->opts->window_s > 0 && time_ns >= s->window_ns + window)
		err = cut_window(s, s->window_ns + window);
	return err;
}

/* A switch-out sample: keep the stack until the thread is back. */
static int on_switch_out(struct perfsampler *s, const struct sg_perf_record *r)
{
	struct offthread *t = off_of(s, (pid_t)r->pid, (pid_t)r->tid);
	struct sg_unwind *uw = space_of(s, (pid_t)r->pid);
	size_t n;
	bool dwarf;

	if (!t || !uw)
		return SG_ENOMEM;
	n = sg_unwind_sample(uw, s->opts->unwind, r, s->frames, MAX_UNWIND, &dwarf);
	if (sg_grow(&t->frames, &t->frames_cap, n, sizeof(*t->frames)))
		return SG_ENOMEM;
	memcpy(t->frames, s->frames, n * sizeof(*t->frames));
	t->nframes = n;
	t->stack_ns = r->time_ns;
	t->seen = true;
	return 0;
}

static int on_switch(struct perfsampler *s, const struct sg_perf_record *r)
{
	struct offthread *t = off_of(s, (pid_t)r->pid, (pid_t)r->tid);
	int err = 0;

	if (!t)
		return SG_ENOMEM;
	if (r->misc & PERF_RECORD_MISC_SWITCH_OUT) {
		/* One left in another buffer for the next read (sg_perf_read)
		 * would come after its switch-in: passed over. */
		if (t->seen && r->time_ns < t->in_ns)
			return 0;
		t->off = true;
		t->preempted = r->misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT;
		t->out_ns = r->time_ns;
	} else {
		if (t->off) {
			err = add_offcpu(s, t, r->time_ns);
		} else if (!t->seen) {
			/* Off its CPU since before the start: the stack is not
			 * known. */
			t->out_ns = s->events_ns;
			t->nframes = 0;
			err = add_offcpu(s, t, r->time_ns);
		}
		t->off = false;
		t->in_ns = r->time_ns;
	}
	t->seen = true;
	return err;
}

/* At the end: threads still off their CPU, and those never seen, which were
 * off it the whole run. */
static int end_offcpu(struct perfsampler *s, uint64_t end_ns)
{
	int err = 0;

	for (size_t i = 0; i < s->noffs && !err; i++) {
		struct offthread *t = &s->offs[i];

		if (!t->seen) {
			t->out_ns = s->events_ns;
			t->nframes = 0;
			t->off = true;
		}
	}
	err = windows_until(s, end_ns);
	return err ? err : flush_offcpu(s, end_ns);
}

static int on_sample(struct perfsampler *s, const struct sg_perf_record *r)
{
	struct sg_labels labels = {.pid = (pid_t)r->pid, .tid = (pid_t)r->tid};
	struct sg_unwind *uw;
	struct offthread *off;
	uint64_t t;
	uint32_t stack;
	size_t n;
	bool dwarf;
	int err = 0;

	if (!s->opts->subprocesses && (pid_t)r->pid != s->pid)
		return 0;
	t = r->time_ns > s->start_ns ? r->time_ns - s->start_ns : 0;
	err = windows_until(s, s->start_ns + t);
	if (err)
		return err;
	if (r->sample.switch_out)
		return s->wall ? on_switch_out(s, r) : 0;
	if (s->wall) {
		off = off_of(s, (pid_t)r->pid, (pid_t)r->tid);
		if (!off)
			return SG_ENOMEM;
		off->seen = true;
	}
	uw = space_of(s, (pid_t)r->pid);
	if (!uw)
		return SG_ENOMEM;
	n = sg_unwind_sample(uw, s->opts->unwind, r, s->frames, MAX_UNWIND, &dwarf);
	s->stats->dwarf_unwound += dwarf;
	err = add_frames(s, uw, s->frames, n);
	if (!err && !s->nids)
		err = named_frame(s, "[no stack]");
	if (!err)
		err = stack_id(s, &stack);
	if (!err)
		err = thread_labels(s, &labels);
	if (err)
		return err;
	s->meta->samples++;
	s->samples++;
	return sg_profile_add_sample(s->profile, stack, &labels, s->period_ns,
	                             t - (s->window_ns - s->start_ns), s->period_ns);
}

static int on_record(void *ctx, const struct sg_perf_record *r)
{
	struct perfsampler *s = ctx;
	struct sg_unwind *uw;
	int err;

	switch (r->type) {
	case PERF_RECORD_SAMPLE:
		return on_sample(s, r);
	case PERF_RECORD_SWITCH:
		if (!s->wall || (!s->opts->subprocesses && (pid_t)r->pid != s->pid))
			return 0;
		err = windows_until(s, r->time_ns);
		return err ? err : on_switch(s, r);
	case PERF_RECORD_EXIT:
		/* A thread ends on its CPU; one that was never seen is not
		 * counted as off it the whole run. */
		if (s->wall && sg_u64map_get(&s->offidx, (uint64_t)r->tid + 1, NULL)) {
			struct offthread *t = off_of(s, (pid_t)r->pid, (pid_t)r->tid);

			err = t->off ? add_offcpu(s, t, r->time_ns) : 0;
			t->off = false;
			t->seen = true;
			return err;
		}
		return 0;
	case PERF_RECORD_MMAP2:
		if (!(r->mmap.prot & PROT_EXEC))
			return 0;
		uw = space_of(s, (pid_t)r->pid);
		return uw ? sg_unwind_map(uw, r->mmap.addr, r->mmap.len, r->mmap.pgoff,
		                          r->mmap.filename)
		          : SG_ENOMEM;
	case PERF_RECORD_COMM:
		err = set_comm(s, (pid_t)r->tid, r->comm.comm);
		if (err || !(r->misc & PERF_RECORD_MISC_COMM_EXEC) || r->pid != r->tid)
			return err;
		/* An exec: the MMAP2 records of the new program follow. */
		if ((pid_t)r->pid == s->pid && s->opts->launched && s->opts->native_fallback) {
			s->exec_ns = r->time_ns;
			s->exec_probes = 0;
		}
		err = sg_unwind_new((pid_t)r->pid, false, &uw);
		if (!err)
			err = set_space(s, (pid_t)r->pid, uw);
		if (!err && (pid_t)r->pid != s->pid)
			err = sg_profile_set_process(s->profile, (pid_t)r->pid, r->comm.comm);
		return err;
	case PERF_RECORD_FORK:
		if (s->wall) {
			struct offthread *t = off_of(s, (pid_t)r->pid, (pid_t)r->tid);

			if (!t)
				return SG_ENOMEM;
			/* From here on it exists; not off its CPU since the start. */
			t->seen = true;
			t->in_ns = r->time_ns;
		}
		if (r->pid == r->task.ppid) {
			/* A new thread: its parent's name until it sets one. */
			return set_comm(s, (pid_t)r->tid, comm_of(s, (pid_t)r->task.ptid));
		}
		if (!s->opts->subprocesses)
			return 0;
		uw = space_of(s, (pid_t)r->task.ppid);
		err = uw ? sg_unwind_fork(uw, (pid_t)r->pid, &uw) : SG_ENOMEM;
		if (!err)
			err = set_space(s, (pid_t)r->pid, uw);
		if (!err)
			err = set_comm(s, (pid_t)r->tid, comm_of(s, (pid_t)r->task.ptid));
		if (!err)
			err = sg_profile_set_process(s->profile, (pid_t)r->pid,
			                             comm_of(s, (pid_t)r->task.ptid));
		return err;
	default:
		return 0;
	}
}

static int read_names(struct perfsampler *s)
{
	char comm[64];
	pid_t *tids;
	size_t n;
	int err = sg_proc_tasks(s->pid, &tids, &n);

	if (err)
		return err == SG_ENOMEM ? err : 0;
	for (size_t i = 0; i < n && !err; i++) {
		if (sg_proc_task_comm(s->pid, tids[i], comm, sizeof(comm)) == 0)
			err = set_comm(s, tids[i], comm);
		/* Known from the start: one of which no record comes was off its
		 * CPU all along. */
		if (!err && s->wall && !off_of(s, s->pid, tids[i]))
			err = SG_ENOMEM;
	}
	free(tids);
	return err;
}

/* Whether the run is over; if so the end and its note are set. */
static bool run_over(struct perfsampler *s, struct sg_procid *id, volatile sig_atomic_t *stop,
                     uint64_t now, uint64_t *grace_end)
{
	struct sg_sampler_stats *st = s->stats;
	double elapsed = (double)(now - s->start_ns) / NS_PER_S;
	char how[128];
	int status;

	const struct sg_perfsampler_early *early = s->opts->early;

	if (early && early->reaped)
		status = early->exit_status;
	if (s->opts->launched ? (early && early->reaped) || sg_launch_reaped(s->pid, &status)
	                      : sg_procid_alive(id) != 0) {
		st->end = SG_END_EXITED;
		if (s->opts->launched) {
			st->exit_status = status;
			sg_launch_describe_status(status, how, sizeof(how));
			snprintf(st->end_note, sizeof(st->end_note), "the program %s after %.2f s",
			         how, elapsed);
		} else {
			snprintf(st->end_note, sizeof(st->end_note), "pid %d exited after %.2f s",
			         (int)s->pid, elapsed);
		}
		return true;
	}
	if (*stop == SG_STOP_GRACE && s->opts->launched && *grace_end == UINT64_MAX)
		*grace_end = now + (uint64_t)(s->opts->grace_s * NS_PER_S);
	if (*stop == SG_STOP_NOW || (*stop && !s->opts->launched) || now >= *grace_end) {
		st->end = SG_END_STOPPED;
		snprintf(st->end_note, sizeof(st->end_note), "stopped on request after %.2f s",
		         elapsed);
		return true;
	}
	if (s->opts->duration_s > 0 && elapsed >= s->opts->duration_s) {
		st->end = SG_END_DURATION;
		snprintf(st->end_note, sizeof(st->end_note), "stopped after %.2f s (--duration)",
		         elapsed);
		return true;
	}
	return false;
}

/* Whether the launched target, seen to exec, now runs CPython: then the run
 * ends, with the end and its note set, for the Python sampler to go on. */
static bool execd_python(struct perfsampler *s, uint64_t now)
{
	struct sg_pyproc pp;
	char why[256];
	pid_t tid;

	if (!s->exec_ns)
		return false;
	if (now > s->exec_ns + EXEC_PROBE_NS && s->exec_probes >= EXEC_PROBES) {
		s->exec_ns = 0;
		return false;
	}
	s->exec_probes++;
	if (sg_proc_live_task(s->pid, &tid) || sg_pyproc_open(tid, &pp, why, sizeof(why)))
		return false;
	s->stats->end = SG_END_EXEC_PYTHON;
	snprintf(s->stats->end_note, sizeof(s->stats->end_note),
	         "pid %d exec'd CPython (%.300s) after %.2f s", (int)s->pid, pp.binary,
	         (double)(s->exec_ns - s->start_ns) / NS_PER_S);
	return true;
}

static void report_progress(struct perfsampler *s, uint64_t now)
{
	struct sg_sampler_progress pg = {
	    .elapsed_s = (double)(now - s->start_ns) / NS_PER_S,
	    .duration_s = s->opts->duration_s,
	    .samples = s->samples,
	    .dropped = sg_perf_lost(s->perf),
	};

	pg.rate_hz = pg.elapsed_s > 0 ? (double)pg.samples / pg.elapsed_s : 0;
	s->opts->progress(s->opts->progress_ctx, &pg);
}

static int run_loop(struct perfsampler *s, struct sg_procid *id, volatile sig_atomic_t *stop)
{
	uint64_t next_track = s->start_ns + TRACK_EVERY_NS;
	uint64_t next_progress = s->start_ns + PROGRESS_EVERY_NS, grace_end = UINT64_MAX;
	int err = 0;

	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		if (run_over(s, id, stop, now, &grace_end))
			break;
		if (now >= next_track) {
			err = sg_perf_track(s->perf);
			next_track = now + TRACK_EVERY_NS;
		}
		if (!err && s->opts->progress && now >= next_progress) {
			report_progress(s, now);
			next_progress = now + PROGRESS_EVERY_NS;
		}
		if (!err)
			err =
			    sg_perf_wait(s->perf, s->exec_ns ? EXEC_PROBE_EVERY_MS : READ_EVERY_MS);
		if (!err)
			err = sg_perf_read(s->perf, on_record, s);
		/* A record that did not parse loses its buffer's batch, not
		 * the run. */
		if (err == SG_ECORRUPT) {
			s->meta->dropped++;
			err = 0;
		}
		if (err)
			return err;
		if (execd_python(s, now_ns(CLOCK_MONOTONIC)))
			break;
	}
	/* What the kernel wrote before the end. */
	err = sg_perf_read(s->perf, on_record, s);
	if (err == SG_ECORRUPT)
		err = 0;
	return err || !s->wall ? err : end_offcpu(s, now_ns(CLOCK_MONOTONIC));
}

static void free_spaces(struct perfsampler *s)
{
	size_t pos = 0;
	uint64_t v;

	while (sg_u64map_next(&s->spaces, &pos, NULL, &v))
		sg_unwind_free((struct sg_unwind *)(uintptr_t)v);
	sg_u64map_release(&s->spaces);
}

/* What the kernel is asked for, by what opts asks. */
static void perf_opts(const struct sg_sampler_opts *opts, struct sg_perf_opts *po)
{
	*po = (struct sg_perf_opts){
	    .rate_hz = opts->rate_hz,
	    /* Without DWARF unwinding there is no stack to copy. */
	    .stack_bytes = opts->unwind == SG_UNWIND_FP ? 0 : STACK_BYTES,
	    .offcpu = opts->mode == SG_MODE_WALL,
	};
}

void sg_perfsampler_early_open(pid_t pid, const struct sg_sampler_opts *opts,
                               struct sg_perfsampler_early *early)
{
	struct sg_perf_opts po;
	char why[512];

	memset(early, 0, sizeof(*early));
	perf_opts(opts, &po);
	po.on_exec = true;
	early->start_ns = now_ns(CLOCK_MONOTONIC);
	early->start_unix_ns = now_ns(CLOCK_REALTIME);
	if (sg_perf_open(pid, &po, &early->perf, &early->kernel, why, sizeof(why)))
		early->perf = NULL;
}

void sg_perfsampler_early_release(struct sg_perfsampler_early *early)
{
	sg_perf_free(early->perf);
	early->perf = NULL;
}

int sg_perfsampler_run(pid_t pid, const struct sg_sampler_opts *opts, struct sg_profile *p,
                       struct sg_sampler_stats *stats, volatile sig_atomic_t *stop, char *why,
                       size_t whylen)
{
	struct perfsampler s = {.opts = opts, .profile = p, .stats = stats, .pid = pid};
	struct sg_perf_opts po;
	struct sg_procid id = {0};
	uint64_t cpu_start = now_ns(CLOCK_PROCESS_CPUTIME_ID), cpu_setup;
	char cmdline[1024];
	int err;

	memset(stats, 0, sizeof(*stats));
	stats->exit_status = -1;
	stats->native = true;
	sg_u64map_init(&s.spaces);
	sg_u64map_init(&s.comms);
	s.meta = sg_profile_meta(p);
	s.wall = opts->mode == SG_MODE_WALL;
	s.meta->mode = s.wall ? SG_MODE_WALL : SG_MODE_CPU;
	sg_u64map_init(&s.offidx);
	s.meta->rate_asked_hz = opts->rate_hz;
	s.meta->by_process = opts->subprocesses;
	s.max_depth = opts->max_depth ? opts->max_depth : SG_PYWALK_MAX_DEPTH;
	s.period_ns = (uint64_t)(NS_PER_S / opts->rate_hz);
	if (!s.period_ns)
		s.period_ns = 1;
	perf_opts(opts, &po);

	err = sg_procid_open(&id, pid);
	/* A program that ended while it was being told apart from CPython
	 * left what the kernel recorded, which is all there is to read. */
	if (err && opts->early && opts->early->reaped && opts->early->perf)
		err = 0;
	if (err) {
		snprintf(why, whylen, "pid %d: no such process", (int)pid);
		return SG_ENOPROC;
	}
	if (opts->early && opts->early->perf) {
		/* Opened before the exec: the run starts there. */
		s.perf = opts->early->perf;
		opts->early->perf = NULL;
		stats->kernel_frames = opts->early->kernel;
		err = 0;
	} else {
		err = sg_perf_open(pid, &po, &s.perf, &stats->kernel_frames, why, whylen);
	}
	if (!err)
		err = sg_syms_new(&s.syms);
	if (!err)
		err = read_names(&s);
	if (!err && sg_proc_cmdline(pid, cmdline, sizeof(cmdline)) == 0)
		err = sg_profile_set_process(p, pid, cmdline);
	/* The target's mappings as they are now; MMAP2 records say what
	 * changes. */
	if (!err && !space_of(&s, pid))
		err = SG_ENOMEM;
	cpu_setup = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	stats->setup_cpu_s = (double)(cpu_setup - cpu_start) / NS_PER_S;
	s.start_ns = s.window_ns = now_ns(CLOCK_MONOTONIC);
	s.start_unix_ns = s.meta->start_unix_ns = now_ns(CLOCK_REALTIME);
	if (opts->early && opts->early->start_ns) {
		s.start_ns = s.window_ns = opts->early->start_ns;
		s.start_unix_ns = s.meta->start_unix_ns = opts->early->start_unix_ns;
	}
	s.events_ns = s.start_ns;
	if (opts->resume.start_ns) {
		s.start_ns = opts->resume.start_ns;
		s.window_ns = opts->resume.window_ns;
		s.start_unix_ns = opts->resume.start_unix_ns;
	}
	if (!err)
		err = run_loop(&s, &id, stop);
	if (err == SG_ENOMEM)
		snprintf(why, whylen, "out of memory");

	stats->cpu_s = (double)(now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_setup) / NS_PER_S;
	stats->wall_s = (double)(now_ns(CLOCK_MONOTONIC) - s.start_ns) / NS_PER_S;
	stats->ticks = s.samples;
	if (s.perf) {
		stats->lost = sg_perf_lost(s.perf);
		s.meta->dropped += stats->lost;
		snprintf(stats->offcpu_note, sizeof(stats->offcpu_note), "%s",
		         sg_perf_offcpu_note(s.perf));
	}
	stats->offcpu_s = (double)s.offcpu_ns / NS_PER_S;
	stats->offcpu_stretches = s.stretches;
	s.meta->start_unix_ns = s.start_unix_ns + (s.window_ns - s.start_ns);
	s.meta->duration_ns = now_ns(CLOCK_MONOTONIC) - s.window_ns;
	s.meta->rate_achieved_hz =
	    s.meta->duration_ns ? (double)s.meta->samples * NS_PER_S / (double)s.meta->duration_ns
	                        : 0;
	stats->began = (struct sg_sampler_began){
	    .start_ns = s.start_ns,
	    .start_unix_ns = s.start_unix_ns,
	    .window_ns = s.window_ns,
	};
	if (opts->launched && stats->exit_status == -1 && stats->end != SG_END_EXEC_PYTHON)
		sg_launch_stop(pid, 1000);
	sg_perf_free(s.perf);
	sg_syms_free(s.syms);
	free_spaces(&s);
	sg_u64map_release(&s.comms);
	for (size_t i = 0; i < s.noffs; i++)
		free(s.offs[i].frames);
	free(s.offs);
	sg_u64map_release(&s.offidx);
	free(s.names);
	free(s.ids);
	sg_procid_close(&id);
	return err;
}
