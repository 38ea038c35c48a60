/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "python/pycode.h"
#include "python/pyproc.h"
#include "python/pythreads.h"
#include "python/pywalk.h"
#include "sampler/sampler.h"
#include "target/launch.h"
#include "target/proc.h"
#include "util/err.h"
#include "util/u64map.h"

#define NS_PER_S 1000000000ull
/* A torn walk is walked again, at least WALK_ATTEMPTS_MIN times in all and
 * then while the tick has used under a quarter of the period, up to
 * WALK_ATTEMPTS_MAX. Dropping it instead biases the profile against code
 * whose stack changes fast: before 3.11 a call-heavy function tears most
 * walks, and four attempts lost a sixth of its samples. */
#define WALK_ATTEMPTS_MIN    4
#define WALK_ATTEMPTS_MAX    32
#define INTERP_HEAD_EVERY_NS (100 * 1000 * 1000ull)
/* How often descendants are looked for, and non-Python ones probed again. */
#define DISCOVER_EVERY_NS (100 * 1000 * 1000ull)
/* A process that is still not Python after this many probes of the same
 * executable is left alone until it execs something else. */
#define PROBES_PER_EXE 5
/* How often an attached target is checked for having exited. */
#define ALIVE_EVERY_NS (50 * 1000 * 1000ull)

enum proc_state {
	PROC_PENDING, /* not (yet) seen to run CPython */
	PROC_PYTHON,  /* being sampled */
	PROC_DONE,    /* exited, or given up on */
};

struct proc {
	pid_t pid;
	enum proc_state state;
	unsigned probes; /* failed sg_pyproc_open calls for exe */
	char exe[256];   /* what it ran when last probed */
	int open_err;    /* the last sg_pyproc_open failure */
	char why[512];   /* and its message */
	struct sg_pyproc pp;
	struct sg_pywalker walker;
	struct sg_pycodes *codes;
	struct sg_pythreads *names;
	struct sg_taskstat tasks;
	struct sg_u64map frame_ids; /* (code serial, offset) -> profile frame id */
	struct sg_u64map name_ids;  /* thread_id -> profile string id of its name */
	struct sg_u64map roots;     /* tstate -> its outermost frame when last walked */
	uint64_t interp_head;       /* first interpreter state, 0 until read */
	uint64_t interp_head_ns;    /* when it was read */
	uint64_t names_generation;  /* of pr->names when name_ids was filled */
};

struct sampler {
	const struct sg_sampler_opts *opts;
	struct sg_profile *profile;
	struct sg_meta *meta;
	struct sg_sampler_stats *stats;
	struct proc **procs;
	size_t nprocs, cap;
	bool found_python;          /* any process seen running CPython */
	uint64_t now_ns;            /* monotonic time of the current tick */
	uint64_t start_ns;          /* monotonic time the loop started: timeline's 0 */
	struct sg_pyframe_raw *raw; /* one walk's frames */
	uint32_t *stack;            /* the same, as profile frame ids, root first */
	uint64_t period_ns;
	uint64_t rng;
};

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* xorshift64: cheap jitter, no shared state with the C library's rand(). */
static uint64_t next_random(struct sampler *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

/* Forget what we knew of the interpreter in pr (after an exec, the
 * process holds another program), keeping the pid. */
static void proc_forget(struct proc *pr)
{
	sg_pywalker_release(&pr->walker);
	sg_pycodes_free(pr->codes);
	pr->codes = NULL;
	sg_pythreads_free(pr->names);
	pr->names = NULL;
	sg_taskstat_release(&pr->tasks);
	sg_u64map_release(&pr->frame_ids);
	sg_u64map_release(&pr->name_ids);
	sg_u64map_release(&pr->roots);
	pr->interp_head = 0;
	pr->exe[0] = '\0';
	pr->probes = 0;
	pr->state = PROC_PENDING;
}

static void proc_free(struct proc *pr)
{
	if (!pr)
		return;
	proc_forget(pr);
	free(pr);
}

static int add_proc(struct sampler *s, pid_t pid)
{
	struct proc *pr;

	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i]->pid == pid)
			return 0;
	if (s->nprocs == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct proc **procs = realloc(s->procs, cap * sizeof(*procs));

		if (!procs)
			return SG_ENOMEM;
		s->procs = procs;
		s->cap = cap;
	}
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return SG_ENOMEM;
	pr->pid = pid;
	pr->state = PROC_PENDING;
	sg_taskstat_init(&pr->tasks, pid);
	sg_u64map_init(&pr->frame_ids);
	sg_u64map_init(&pr->name_ids);
	sg_u64map_init(&pr->roots);
	s->procs[s->nprocs++] = pr;
	return 0;
}

static void record_version(struct sampler *s, const struct proc *pr)
{
	char text[32];

	if (s->meta->python_version[0])
		return;
	snprintf(text, sizeof(text), "%u.%u.%u", pr->pp.version.major, pr->pp.version.minor,
	         pr->pp.version.micro);
	sg_profile_set_meta_str(s->profile, &s->meta->python_version, text);
}

/* Find CPython in a pending process. Non-Python processes are probed again
 * only a few times per executable, since an exec changes everything. */
static int probe_proc(struct sampler *s, struct proc *pr, bool main)
{
	char link[64], exe[sizeof(pr->exe)], cmdline[1024];
	ssize_t n;
	int err;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pr->pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (strcmp(exe, pr->exe) != 0) {
		memcpy(pr->exe, exe, sizeof(exe));
		pr->probes = 0;
	}
	if (!main && pr->probes >= PROBES_PER_EXE)
		return SG_ENOTPY;
	pr->probes++;
	err = sg_pyproc_open(pr->pid, &pr->pp, pr->why, sizeof(pr->why));
	pr->open_err = err;
	if (err)
		return err;
	err = sg_pywalker_init(&pr->walker, &pr->pp);
	if (err)
		return err;
	pr->codes = sg_pycodes_new(&pr->pp);
	pr->names = sg_pythreads_new(&pr->pp);
	if (!pr->codes || !pr->names)
		return SG_ENOMEM;
	pr->state = PROC_PYTHON;
	s->found_python = true;
	record_version(s, pr);
	if (sg_proc_cmdline(pr->pid, cmdline, sizeof(cmdline)) == 0)
		return sg_profile_set_process(s->profile, pr->pid, cmdline);
	return 0;
}

/* The profile frame for one raw frame. Interned once per (code object,
 * instruction offset), so the line table is decoded once per place, not
 * once per sample. */
static int frame_id(struct sampler *s, struct proc *pr, const struct sg_pyframe_raw *raw,
                    uint32_t *id)
{
	const struct sg_pycode *code;
	struct sg_frame frame = {.type = SG_FRAME_PYTHON};
	uint64_t key, value;
	int err;

	err = sg_pycodes_get(pr->codes, &raw->code, &code);
	if (err)
		return err;
	/* serial >= 1 keeps the key nonzero; --function needs no offset. */
	key = (uint64_t)code->serial << 32 |
	      (s->opts->function || raw->offset < 0 || raw->offset >= UINT32_MAX
	           ? 0
	           : (uint32_t)raw->offset + 1);
	if (sg_u64map_get(&pr->frame_ids, key, &value)) {
		*id = (uint32_t)value;
		return 0;
	}
	frame.name = sg_profile_intern(s->profile, code->name, strlen(code->name));
	frame.file = sg_profile_intern(s->profile, code->filename, strlen(code->filename));
	frame.line =
	    s->opts->function ? code->id.firstlineno : sg_pycode_line(pr->codes, code, raw->offset);
	if (frame.name == UINT32_MAX || frame.file == UINT32_MAX)
		return SG_ENOMEM;
	*id = sg_profile_frame_id(s->profile, &frame);
	if (*id == UINT32_MAX)
		return SG_ENOMEM;
	return sg_u64map_put(&pr->frame_ids, key, *id);
}

/*
 * Walk one thread, retrying torn walks from a fresh thread state.
 *
 * Before 3.11 frames are heap objects that other threads reuse (free lists,
 * a code object's zombie frame): a frame freed and taken by another thread
 * between reading the thread state and reading the frame sends the walk
 * down the other thread's chain, with no error to see. A thread's
 * outermost frame hardly ever changes, so a walk that ends elsewhere is
 * walked again; it is believed when it ends where it did last time, or
 * where the previous attempt ended (the thread did change its root: a new
 * call from C, a new thread on a reused thread state).
 */
static int walk_thread(struct sampler *s, struct proc *pr, struct sg_pythread *th, size_t *depth,
                       bool *truncated)
{
	uint64_t known_root = 0, root = 0, previous_root = 0;
	bool known = sg_u64map_get(&pr->roots, th->tstate, &known_root);
	int err = 0;

	for (int attempt = 0; attempt < WALK_ATTEMPTS_MAX; attempt++) {
		if (attempt >= WALK_ATTEMPTS_MIN &&
		    now_ns(CLOCK_MONOTONIC) - s->now_ns > s->period_ns / 4)
			break;
		/* A walk reads the thread state again with its frames. */
		if (attempt > 0)
			s->stats->retries++;
		previous_root = root;
		err = sg_pywalk_frames(&pr->walker, th, s->raw, SG_PYWALK_MAX_DEPTH, depth,
		                       truncated, &root);
		if (err == SG_ECORRUPT || err == SG_EREAD)
			continue;
		if (err || !root || (known && root == known_root))
			return err;
		if (!known || (attempt > 0 && root == previous_root))
			return sg_u64map_put(&pr->roots, th->tstate, root);
		err = SG_ECORRUPT;
	}
	return err;
}

/* The string id of a thread's name, remembered until pythreads reads the
 * names again. */
static uint32_t thread_name_id(struct sampler *s, struct proc *pr, const struct sg_pythread *th)
{
	char name[256];
	uint64_t key = th->thread_id ? th->thread_id : th->tstate, value;
	uint32_t id;
	int got;

	if (sg_u64map_get(&pr->name_ids, key, &value) &&
	    pr->names_generation == sg_pythreads_generation(pr->names))
		return (uint32_t)value;
	got = sg_pythreads_name(pr->names, th, name, sizeof(name));
	if (got < 0)
		name[0] = '\0';
	if (pr->names_generation != sg_pythreads_generation(pr->names)) {
		sg_u64map_release(&pr->name_ids);
		pr->names_generation = sg_pythreads_generation(pr->names);
	}
	id = sg_profile_intern(s->profile, name, strlen(name));
	/* Only Python's own names are kept; the kernel's stand in meanwhile. */
	if (id != UINT32_MAX && got == 0 && sg_u64map_put(&pr->name_ids, key, id))
		return UINT32_MAX;
	return id;
}

static void count_drop(struct sampler *s, int err)
{
	s->meta->dropped++;
	if (err == SG_ECORRUPT)
		s->meta->dropped_torn++;
	else
		s->meta->dropped_read++;
}

static int sample_thread(struct sampler *s, struct proc *pr, struct sg_pythread *th,
                         uint64_t gil_holder)
{
	struct sg_labels labels = {.pid = pr->pid, .tid = th->tid};
	bool running = true, truncated = false;
	size_t depth = 0;
	uint32_t stack;
	int err;

	if (s->opts->gil && th->tstate != gil_holder)
		return 0;
	/* Unknown tids (rare: glibc's layout not learnt) count as running. */
	if (th->tid && sg_taskstat_running(&pr->tasks, th->tid, &running) == SG_ENOPROC)
		return 0;
	if (!running && s->opts->mode == SG_MODE_CPU)
		return 0;
	if (!th->top_frame)
		return 0;
	err = walk_thread(s, pr, th, &depth, &truncated);
	/* The thread left Python between a torn walk and its retry: a thread
	 * seen without frames, as above, not a sample. */
	if (!err && depth == 0)
		return 0;
	s->meta->samples++;
	if (!err) {
		for (size_t i = 0; i < depth && !err; i++)
			err = frame_id(s, pr, &s->raw[i], &s->stack[depth - 1 - i]);
	}
	if (err == SG_ENOMEM)
		return err;
	if (err) {
		count_drop(s, err);
		return 0;
	}
	if (truncated)
		s->meta->dropped_depth++;
	stack = sg_profile_stack_id(s->profile, s->stack, depth);
	labels.thread_name = thread_name_id(s, pr, th);
	labels.flags =
	    (running ? 0 : SG_SAMPLE_IDLE) | (th->tstate == gil_holder ? SG_SAMPLE_GIL : 0);
	if (stack == UINT32_MAX || labels.thread_name == UINT32_MAX)
		return SG_ENOMEM;
	return sg_profile_add_at(s->profile, stack, &labels, 1, s->period_ns,
	                         s->now_ns - s->start_ns);
}

/* One tick for one process: every thread of every interpreter. */
static int sample_proc(struct sampler *s, struct proc *pr)
{
	uint64_t interp = pr->interp_head, tstate;
	size_t ninterp = 0;
	int err;

	/* The head of the interpreter list is set once at start-up: read it
	 * now and then, not every tick. A stale one fails the reads below
	 * just as a process that exec'd does. */
	if (!interp || s->now_ns - pr->interp_head_ns > INTERP_HEAD_EVERY_NS) {
		err = sg_pyproc_interp_head(&pr->pp, &interp);
		if (err == SG_ENOTREADY)
			return 0;
		if (err)
			return err;
		pr->interp_head = interp;
		pr->interp_head_ns = s->now_ns;
	}
	for (; interp && ninterp < SG_PYWALK_MAX_THREADS; ninterp++) {
		struct sg_pyinterp is;
		size_t nthreads = 0;

		err = sg_pyproc_interp_read(&pr->pp, interp, &is);
		if (err)
			return err;
		for (tstate = is.tstate_head; tstate && nthreads < SG_PYWALK_MAX_THREADS;
		     nthreads++) {
			struct sg_pythread th;

			err = sg_pywalk_thread(&pr->walker, tstate, &th);
			if (err) {
				/* The list changed under us; the next tick sees it whole. */
				break;
			}
			err = sample_thread(s, pr, &th, is.gil_holder);
			if (err)
				return err;
			tstate = th.next;
		}
		interp = is.next;
	}
	return 0;
}

/* Add descendants of every process we know, and probe pending ones. */
static int discover(struct sampler *s)
{
	for (size_t i = 0; s->opts->subprocesses && i < s->nprocs; i++) {
		pid_t *children;
		size_t n;

		if (s->procs[i]->state == PROC_DONE ||
		    sg_proc_children(s->procs[i]->pid, &children, &n))
			continue;
		for (size_t k = 0; k < n; k++) {
			int err = add_proc(s, children[k]);

			if (err) {
				free(children);
				return err;
			}
		}
		free(children);
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *pr = s->procs[i];
		int err;

		if (pr->state != PROC_PENDING)
			continue;
		if (sg_proc_alive(pr->pid)) {
			pr->state = PROC_DONE;
			continue;
		}
		err = probe_proc(s, pr, i == 0);
		if (err == SG_ENOMEM)
			return err;
		/* The first process must be Python unless we wait for it to
		 * become so (launched) or for children that are. */
		if (err && err != SG_ENOTPY && i == 0 && !s->opts->launched)
			return err;
		if (err == SG_ENOTPY && i == 0 && !s->opts->launched && !s->opts->subprocesses)
			return err;
	}
	return 0;
}

/* Whether the main target has ended. Reaps it when we launched it. */
static bool target_gone(struct sampler *s, uint64_t now, uint64_t *last_check)
{
	int status;

	if (s->opts->launched) {
		if (!sg_launch_reaped(s->procs[0]->pid, &status))
			return false;
		s->stats->exit_status = status;
		return true;
	}
	if (now - *last_check < ALIVE_EVERY_NS)
		return false;
	*last_check = now;
	return sg_proc_alive(s->procs[0]->pid) != 0;
}

static int sample_all(struct sampler *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *pr = s->procs[i];
		int err;

		if (pr->state != PROC_PYTHON)
			continue;
		err = sample_proc(s, pr);
		if (err == SG_ENOMEM)
			return err;
		if (!err)
			continue;
		/* The interpreter's own globals stopped reading: the process
		 * exited, or exec'd and holds another program to probe afresh. */
		proc_forget(pr);
		if (err == SG_EGONE || sg_proc_alive(pr->pid))
			pr->state = PROC_DONE;
	}
	return 0;
}

static int run_loop(struct sampler *s, volatile sig_atomic_t *stop)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC), next_discover = start, last_alive = start;
	uint64_t duration_ns = (uint64_t)(s->opts->duration_s * NS_PER_S);
	uint64_t tick = 0;
	int err = 0;

	s->start_ns = start;
	s->meta->start_unix_ns = now_ns(CLOCK_REALTIME);
	/* The kernel may wake a sleeper up to 50 us late by default, half a
	 * period at 10 kHz: ask for 1 us. Best effort; only our own thread. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

	while (!*stop) {
		/* Each sample falls uniformly within its own period around the
		 * grid start + k * period: the rate is kept exactly, and work in
		 * the target that repeats in step with our period (a 20 ms loop
		 * sampled every 4 ms) cannot alias with where we look. A jitter
		 * of a mere tenth of a period measurably did. */
		uint64_t grid = start + tick * s->period_ns;
		int64_t jitter =
		    (int64_t)(next_random(s) % s->period_ns) - (int64_t)(s->period_ns / 2);
		uint64_t deadline = grid + (uint64_t)jitter, now;
		struct timespec ts = {.tv_sec = (time_t)(deadline / NS_PER_S),
		                      .tv_nsec = (long)(deadline % NS_PER_S)};

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (*stop)
			break;
		now = now_ns(CLOCK_MONOTONIC);
		s->now_ns = now;
		if (duration_ns && now - start >= duration_ns)
			break;
		if (target_gone(s, now, &last_alive))
			break;
		if (now >= next_discover) {
			next_discover = now + DISCOVER_EVERY_NS;
			err = discover(s);
			if (err)
				break;
		}
		err = sample_all(s);
		if (err)
			break;
		s->stats->ticks++;
		/* Fell behind by whole periods: skip them rather than bunch up. */
		now = now_ns(CLOCK_MONOTONIC);
		tick++;
		if (now > start + (tick + 1) * s->period_ns) {
			uint64_t behind = (now - start) / s->period_ns - tick;

			s->stats->ticks_missed += behind;
			tick += behind;
		}
	}
	s->stats->wall_s = (double)(now_ns(CLOCK_MONOTONIC) - start) / NS_PER_S;
	return err;
}

static int first_error(struct sampler *s, char *why, size_t whylen)
{
	struct proc *first = s->procs[0];

	if (s->found_python)
		return 0;
	if (first->open_err && first->open_err != SG_ENOTPY) {
		snprintf(why, whylen, "%s", first->why);
		return first->open_err;
	}
	snprintf(why, whylen, "%s", first->why[0] ? first->why : "no CPython process was found");
	if (s->opts->launched)
		snprintf(why, whylen, "the program (pid %d) exited without running CPython",
		         (int)first->pid);
	return SG_ENOTPY;
}

int sg_sampler_run(pid_t pid, const struct sg_sampler_opts *opts, struct sg_profile *p,
                   struct sg_sampler_stats *stats, volatile sig_atomic_t *stop, char *why,
                   size_t whylen)
{
	struct sampler s = {.opts = opts, .profile = p, .stats = stats};
	uint64_t cpu_start;
	int err;

	memset(stats, 0, sizeof(*stats));
	stats->exit_status = -1;
	s.meta = sg_profile_meta(p);
	s.meta->mode = opts->mode;
	s.meta->rate_asked_hz = opts->rate_hz;
	s.meta->by_process = opts->subprocesses;
	s.period_ns = (uint64_t)(NS_PER_S / opts->rate_hz);
	if (s.period_ns == 0)
		s.period_ns = 1;
	s.rng = now_ns(CLOCK_REALTIME) ^ ((uint64_t)pid << 32) ^ 0x9e3779b97f4a7c15ull;
	s.raw = malloc(SG_PYWALK_MAX_DEPTH * sizeof(*s.raw));
	s.stack = malloc(SG_PYWALK_MAX_DEPTH * sizeof(*s.stack));

	err = !s.raw || !s.stack ? SG_ENOMEM : add_proc(&s, pid);
	if (!err && !opts->launched && sg_proc_alive(pid))
		err = SG_ENOPROC;
	if (!err)
		err = discover(&s);
	if (err == SG_ENOPROC)
		snprintf(why, whylen, "no process with pid %d (is it still running?)", (int)pid);
	else if (err == SG_EPERM)
		snprintf(why, whylen,
		         "not allowed to read process %d: run as its user or as root, or "
		         "grant CAP_SYS_PTRACE (and check /proc/sys/kernel/yama/ptrace_scope)",
		         (int)pid);
	else if (err == SG_ENOSYS)
		snprintf(why, whylen, "%s", sg_err_str(err));
	else if (err && s.nprocs)
		snprintf(why, whylen, "%s", s.procs[0]->why);
	/* Our cost per sample is the loop's; finding the interpreter (reading
	 * ELF files once) is a start-up cost, reported apart. */
	cpu_start = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	stats->setup_cpu_s = (double)cpu_start / NS_PER_S;
	if (!err)
		err = run_loop(&s, stop);
	if (!err)
		err = first_error(&s, why, whylen);
	if (err == SG_ENOMEM)
		snprintf(why, whylen, "out of memory");

	stats->cpu_s = (double)(now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) / NS_PER_S;
	s.meta->duration_ns = (uint64_t)(stats->wall_s * NS_PER_S);
	s.meta->rate_achieved_hz = stats->wall_s > 0 ? (double)stats->ticks / stats->wall_s : 0;
	if (opts->launched && s.nprocs && stats->exit_status == -1)
		sg_launch_stop(pid, 1000);
	for (size_t i = 0; i < s.nprocs; i++)
		proc_free(s.procs[i]);
	free(s.procs);
	free(s.raw);
	free(s.stack);
	return err;
}
