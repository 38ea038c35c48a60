/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "native/sym.h"
#include "native/unwind.h"
#include "python/pycode.h"
#include "python/pyproc.h"
#include "python/pythreads.h"
#include "python/pywalk.h"
#include "sampler/merge.h"
#include "sampler/pyperf.h"
#include "sampler/perfsampler.h"
#include "sampler/sampler.h"
#include "sampler/threadwalk.h"
#include "target/launch.h"
#include "target/perf.h"
#include "target/proc.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/u64map.h"

#define NS_PER_S             1000000000ull
#define INTERP_HEAD_EVERY_NS (100 * 1000 * 1000ull)
/* How often descendants are looked for; also the longest wait between two
 * probes of a process that is not (yet) Python. */
#define DISCOVER_EVERY_NS (100 * 1000 * 1000ull)
/* The first wait between probes of a new executable, doubled after each
 * failure: a python just exec'd may not have mapped its libpython yet. */
#define PROBE_FIRST_NS (1000 * 1000ull)
/* A process that is still not Python after this many probes of the same
 * executable is left alone until it execs something else (a main target
 * never yet seen as Python is still probed every DISCOVER_EVERY_NS: it may
 * load libpython late). */
#define PROBES_PER_EXE 5
/* How often the targets are checked for having exited or exec'd, whatever
 * the rate; every millisecond while the main target goes through an exec
 * chain (the first ~130 ms after its start or an exec, until it is Python). */
#define CHECK_EVERY_NS    (10 * 1000 * 1000ull)
#define FOLLOW_EVERY_NS   (1000 * 1000ull)
#define PROGRESS_EVERY_NS (250 * 1000 * 1000ull)
/* record --native: frames unwound per sample (kernel and user), before
 * inlines; a 64 KiB stack copy holds fewer. */
#define NATIVE_MAX_UNWIND 4096

enum proc_state {
	PROC_PENDING, /* not (yet) seen to run CPython */
	PROC_PYTHON,  /* being sampled */
	PROC_DONE,    /* exited, or given up on */
};

/*
 * One thread's life, from when its thread state is first seen running it.
 * Thread states, idents (pthread_t, reused by glibc as soon as a thread
 * ends) and kernel tids are each reused as threads come and go, but not
 * all at once: a thread state seen with another tid or ident holds a new
 * thread.
 */
struct life {
	uint64_t tstate, thread_id;
	pid_t tid;
	struct sg_task task;       /* its /proc files, closed when tid is 0 */
	uint64_t seen_ns;          /* first seen (names read before may be another's) */
	uint64_t tick_ns;          /* the tick it was last seen in */
	uint32_t label;            /* string id its samples carry */
	uint32_t placeholder;      /* its label while unnamed, renamed at the end; 0: none */
	bool named;                /* label is its Python name */
	bool unnamed_this_tick;    /* to look up once the tick's visit is done */
	uint64_t names_generation; /* of pr->names when the label was looked up */
	bool counted;              /* rt holds its last reading of schedstat */
	struct sg_task_runtime rt; /* that reading */
	bool running;              /* whether it was running then */
	bool has_cpu_base;         /* cpu_base_ns is set */
	uint64_t cpu_base_ns;      /* its CPU time at its last sample, in cpu mode */
	uint32_t stack;            /* stack id of its last walk, NO_STACK when none */
	uint64_t top_frame;        /* its top frame then */
	bool truncated;            /* whether that walk left frames out */
	/* The row of its last CPU-clock sample (clocked_stack NO_STACK when
	 * none), which takes the CPU it used after that sample once it ends. */
	uint32_t clocked_stack;
	struct sg_labels clocked_labels;
};

#define NO_STACK UINT32_MAX
/* A thread not seen for this long, and for FORGET_AFTER_TICKS periods,
 * has ended. Long, as a life forgotten too soon comes back unnamed once
 * its thread left threading._active (1100 threads ending at 10 Hz on a
 * busy machine: a tick late and one cut short by the changing thread list
 * made one such thread "python"); a thread that reuses a thread state is
 * told apart by its tid and ident, not by this. */
#define FORGET_AFTER_NS    (1000 * 1000 * 1000ull)
#define FORGET_AFTER_TICKS 4
/* An unnamed thread is looked up again for this long after it was last
 * seen: past it, it has surely left threading._active. */
#define UNNAMED_RETRY_NS (100 * 1000 * 1000ull)

struct proc {
	pid_t pid;
	struct sg_procid id; /* pid and start time: stops at pid reuse */
	enum proc_state state;
	bool was_python;        /* ran CPython before its last exec */
	unsigned probes;        /* failed sg_pyproc_open calls for exe */
	uint64_t next_probe_ns; /* when to probe again */
	uint64_t probe_wait_ns; /* and the wait after that */
	char exe[256];          /* what it ran when last probed */
	int open_err;           /* the last sg_pyproc_open failure */
	char why[512];          /* and its message */
	struct sg_pyproc pp;
	struct sg_pywalker walker;
	struct sg_pycodes *codes;
	struct sg_pythreads *names;
	struct life *lives; /* the threads seen lately */
	size_t nlives, lives_cap;
	struct sg_u64map life_at;   /* tstate -> index in lives + 1 */
	struct sg_u64map frame_ids; /* (code serial, offset) -> profile frame id */
	struct sg_u64map roots;     /* tstate -> its outermost frame when last walked */
	bool other_ns;              /* in another PID namespace: its tids are not ours */
	struct sg_u64map ns_tids;   /* then: its tid + 1 -> our tid */
	uint64_t ns_tids_ns;        /* the tick ns_tids was last read in */
	uint64_t interp_head;       /* first interpreter state, 0 until read */
	uint64_t interp_head_ns;    /* when it was read */
	/* CPU clock: our tid + 1 -> its thread state, or (when it was found
	 * to have none) the time of that look << 1 | 1. */
	struct sg_u64map tid_tstate;
	/* CPU clock: our tid + 1 -> the CPU ns of its samples that found no
	 * stack to walk (a thread not yet or no longer running Python), for
	 * its next sample that does, or its last one. */
	struct sg_u64map unstacked;
	uint64_t tids_ns; /* when the thread list was last read for it */
	int failed;       /* a sample's read of the interpreter failed so */
	/* opts->memory: */
	struct sg_rss rss;
	bool has_rss;            /* last_rss was read (since the last exec) */
	uint64_t last_rss;       /* bytes */
	uint64_t pending_growth; /* RSS change not given to a GIL holder yet */
	uint64_t pending_freed;
	bool gil_seen;               /* this tick sampled the GIL holder: */
	uint32_t gil_stack;          /* its stack */
	struct sg_labels gil_labels; /* and labels */
	/* opts->native: its address space, for the unwinder (NULL until it is
	 * on the CPU clock), and what each native profile frame is to the
	 * merge: (frame id << 1 | in the interpreter's binary) + 1 -> role. */
	struct sg_unwind *uw;
	struct sg_u64map roles;
};

struct sampler {
	const struct sg_sampler_opts *opts;
	struct sg_profile *profile;
	struct sg_meta *meta;
	struct sg_sampler_stats *stats;
	struct proc **procs;
	size_t nprocs, cap;
	bool found_python;          /* any process seen running CPython */
	bool ended;                 /* the run must end: stats->end says why */
	uint64_t now_ns;            /* monotonic time of the current tick */
	uint64_t start_ns;          /* monotonic time the loop started */
	uint64_t start_unix_ns;     /* the same, on the wall clock */
	uint64_t window_ns;         /* the window's start: the timeline's 0 */
	uint64_t window_ticks;      /* ticks kept before it */
	uint64_t begin_ns;          /* sg_sampler_run's start, just after a launch */
	uint64_t origin_ns;         /* the run's start: start_ns, or opts->resume's */
	struct sg_pyframe_raw *raw; /* one walk's frames */
	uint32_t *stack;            /* the same, as profile frame ids, root first */
	bool *entry;                /* for each of those: the outermost of its run
	                             * (sg_pyframe_raw.entry) */
	size_t max_depth;           /* raw's capacity; stack has one more */
	uint64_t period_ns;
	uint64_t rng;
	struct sg_u64map renames; /* placeholder label -> the thread's final name */
	uint32_t placeholders;    /* made so far */
	struct sg_pyperf *pyperf; /* the CPU clock, NULL for the timer */
	/* opts->native: */
	struct sg_syms *syms;
	struct sg_unwind_frame *uframes; /* one sample's, NATIVE_MAX_UNWIND */
	struct sg_merge_native *nat;     /* the same resolved, leaf first */
	size_t nnat, nat_cap;
	struct sg_merge_python *py; /* its Python frames, leaf first */
	struct sg_merge_out merged;
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
	for (size_t i = 0; i < pr->nlives; i++)
		sg_task_close(&pr->lives[i].task);
	free(pr->lives);
	pr->lives = NULL;
	pr->nlives = pr->lives_cap = 0;
	sg_u64map_release(&pr->life_at);
	sg_u64map_release(&pr->frame_ids);
	sg_u64map_release(&pr->roots);
	sg_u64map_release(&pr->ns_tids);
	sg_u64map_release(&pr->tid_tstate);
	sg_u64map_release(&pr->unstacked);
	sg_unwind_free(pr->uw);
	pr->uw = NULL;
	sg_u64map_release(&pr->roles);
	pr->tids_ns = 0;
	pr->failed = 0;
	pr->other_ns = false;
	pr->interp_head = 0;
	/* Another program's memory is not this one's growth. */
	pr->has_rss = false;
	pr->pending_growth = pr->pending_freed = 0;
	pr->was_python |= pr->state == PROC_PYTHON;
	pr->exe[0] = '\0';
	pr->probes = 0;
	pr->next_probe_ns = 0;
	pr->probe_wait_ns = 0;
	pr->state = PROC_PENDING;
}

static void proc_free(struct proc *pr)
{
	if (!pr)
		return;
	proc_forget(pr);
	sg_procid_close(&pr->id);
	sg_rss_close(&pr->rss);
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
	/* Kept open from the start: one pread per tick (target/proc.h). */
	pr->rss.fd = -1;
	if (s->opts->memory)
		sg_rss_open(&pr->rss, pid);
	/* Gone already: kept, as done, so that it is not looked at again. */
	pr->state = sg_procid_open(&pr->id, pid) ? PROC_DONE : PROC_PENDING;
	sg_u64map_init(&pr->life_at);
	sg_u64map_init(&pr->frame_ids);
	sg_u64map_init(&pr->roots);
	sg_u64map_init(&pr->ns_tids);
	sg_u64map_init(&pr->tid_tstate);
	sg_u64map_init(&pr->unstacked);
	sg_u64map_init(&pr->roles);
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

/* Add the folders pr's interpreter imports from to the profile's roots. */
static int record_path_roots(struct sampler *s, const struct proc *pr)
{
	struct sg_strbuf roots = SG_STRBUF_INIT;
	int err = sg_pyproc_path_roots(&pr->pp, &roots);

	for (char *at = roots.buf, *end; !err && at && (end = strchr(at, '\n')); at = end + 1) {
		*end = '\0';
		err = sg_profile_add_path_root(s->profile, at);
	}
	sg_strbuf_release(&roots);
	return err;
}

/* Threads a process may have whose ids are translated (others count as
 * of unknown tid). */
#define NS_TIDS_MAX 4096

/* Read again which of our tids pr's threads have in its namespace. */
static int read_ns_tids(struct sampler *s, struct proc *pr)
{
	pid_t *host = malloc(2 * NS_TIDS_MAX * sizeof(*host)), *inner = host + NS_TIDS_MAX;
	size_t n = 0;
	int got = host ? sg_proc_ns_tids(pr->pid, host, inner, NS_TIDS_MAX, &n) : SG_ENOMEM;
	int err = got == SG_ENOMEM ? got : 0;

	pr->ns_tids_ns = s->now_ns;
	pr->other_ns = got == 1;
	sg_u64map_release(&pr->ns_tids);
	for (size_t i = 0; i < n && !err; i++)
		err = sg_u64map_put(&pr->ns_tids, (uint64_t)inner[i] + 1, (uint64_t)host[i]);
	free(host);
	return err;
}

/* A thread's tid as the target knows it, as we know it: the same unless
 * the target is in another PID namespace (NSpid); 0 when unknown. The
 * table is read again, at most once a tick, for a tid it lacks. */
static pid_t our_tid(struct sampler *s, struct proc *pr, pid_t tid)
{
	uint64_t host;

	if (!pr->other_ns || !tid)
		return tid;
	if (!sg_u64map_get(&pr->ns_tids, (uint64_t)tid + 1, &host) && pr->ns_tids_ns != s->now_ns &&
	    read_ns_tids(s, pr) == 0)
		sg_u64map_get(&pr->ns_tids, (uint64_t)tid + 1, &host);
	return sg_u64map_get(&pr->ns_tids, (uint64_t)tid + 1, &host) ? (pid_t)host : 0;
}

/* The timer clocks the rest of the run, for the reason in why. */
static void use_timer(struct sampler *s, const char *why)
{
	if (!s->pyperf)
		return;
	sg_pyperf_free(s->pyperf);
	s->pyperf = NULL;
	snprintf(s->stats->clock_note, sizeof(s->stats->clock_note), "%s", why);
}

/* Put pr, found to run CPython, on the CPU clock, if it runs. */
static int clock_proc(struct sampler *s, struct proc *pr)
{
	char why[512];
	int err;

	if (!s->pyperf)
		return 0;
	err = sg_pyperf_add(s->pyperf, pr->pid, why, sizeof(why));
	/* Gone meanwhile: the next look sees it. */
	if (err == SG_ENOMEM || err == SG_ENOPROC)
		return err == SG_ENOMEM ? err : 0;
	if (err) {
		use_timer(s, why);
		return 0;
	}
	if (!s->opts->native)
		return 0;
	/* Without it no native frame is an eval call, so none matches. */
	if (!pr->pp.eval_loop && !s->stats->native_note[0])
		snprintf(
		    s->stats->native_note, sizeof(s->stats->native_note),
		    "%s has no symbol for %s, the eval loop, so no sample of it can be matched: "
		    "use a build of it that keeps its symbol tables",
		    pr->pp.binary, sg_pyproc_eval_name(pr->pp.layout.major));
	/* The mappings as they are now; MMAP2 records say what changes. */
	return sg_unwind_new(pr->pid, true, &pr->uw);
}

/* Forget pr's interpreter, and its events. */
static void forget_proc(struct sampler *s, struct proc *pr)
{
	if (s->pyperf)
		sg_pyperf_remove(s->pyperf, pr->pid);
	proc_forget(pr);
}

/* Find CPython in a pending process, through a thread that can still read
 * its memory (the main thread may have exited). */
static int probe_proc(struct sampler *s, struct proc *pr)
{
	char cmdline[1024];
	pid_t tid;
	int err;

	pr->probes++;
	err = sg_proc_live_task(pr->pid, &tid);
	if (!err)
		err = sg_pyproc_open(tid, &pr->pp, pr->why, sizeof(pr->why));
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
	err = read_ns_tids(s, pr);
	if (err)
		return err;
	err = clock_proc(s, pr);
	if (err)
		return err;
	pr->state = PROC_PYTHON;
	s->found_python = true;
	/* CPython: what the kernel sampled meanwhile is not needed. */
	if (s->opts->early && s->opts->early->perf)
		sg_perf_close(s->opts->early->perf);
	record_version(s, pr);
	err = record_path_roots(s, pr);
	if (err)
		return err;
	if (sg_proc_cmdline(tid, cmdline, sizeof(cmdline)) == 0)
		return sg_profile_set_process(s->profile, pr->pid, cmdline);
	return 0;
}

static bool probes_spent(const struct proc *pr, bool is_main)
{
	return (!is_main || pr->was_python) && pr->probes >= PROBES_PER_EXE;
}

/* Whether exe is a shell or env: what shims (pyenv's, a wrapper script)
 * run before they exec the program, however long they take. The native
 * fallback waits for what comes after them; record --pid on a shell
 * itself is still sampled natively (the fallback is for launches). */
static bool is_launcher(const char *exe)
{
	static const char *const launchers[] = {"sh", "bash", "dash", "zsh", "ksh", "env"};
	const char *base = strrchr(exe, '/');

	base = base ? base + 1 : exe;
	for (size_t i = 0; i < sizeof(launchers) / sizeof(launchers[0]); i++)
		if (strcmp(base, launchers[i]) == 0)
			return true;
	return false;
}

/* Whether a pending process is due for a probe: at once after an exec,
 * then after waits that double up to DISCOVER_EVERY_NS, until its probes
 * for this executable are spent. */
static bool probe_due(struct sampler *s, struct proc *pr, bool is_main)
{
	char link[64], exe[sizeof(pr->exe)];
	pid_t tid;
	ssize_t n = -1;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pr->pid);
	if (sg_proc_live_task(pr->pid, &tid) == 0) {
		snprintf(link, sizeof(link), "/proc/%d/exe", (int)tid);
		n = readlink(link, exe, sizeof(exe) - 1);
	}
	exe[n > 0 ? n : 0] = '\0';
	if (strcmp(exe, pr->exe) != 0) {
		memcpy(pr->exe, exe, sizeof(exe));
		pr->probes = 0;
		pr->probe_wait_ns = PROBE_FIRST_NS;
		pr->next_probe_ns = s->now_ns;
	}
	if (probes_spent(pr, is_main))
		return false;
	if (s->now_ns < pr->next_probe_ns)
		return false;
	pr->next_probe_ns = s->now_ns + pr->probe_wait_ns;
	pr->probe_wait_ns =
	    pr->probe_wait_ns * 2 < DISCOVER_EVERY_NS ? pr->probe_wait_ns * 2 : DISCOVER_EVERY_NS;
	return true;
}

/* What frame_id gives for CPython's own shim frames: no frame at all. */
#define NO_FRAME (UINT32_MAX - 1)
/* frame_ids is a cache keyed by code objects read, which a program that
 * keeps making code (exec, generated functions) renews without end: past
 * this many entries (about 32 MiB) it starts again empty. */
#define FRAME_IDS_MAX (1u << 20)

static int remember_frame(struct proc *pr, uint64_t key, uint32_t id)
{
	if (pr->frame_ids.len >= FRAME_IDS_MAX) {
		sg_u64map_release(&pr->frame_ids);
		sg_u64map_init(&pr->frame_ids);
	}
	return sg_u64map_put(&pr->frame_ids, key, id);
}

/* The profile frame for one raw frame, or NO_FRAME. Interned once per
 * (code object, instruction offset), so the line table is decoded once per
 * place, not once per sample. */
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
	if (code->shim) {
		*id = NO_FRAME;
		return remember_frame(pr, key, *id);
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
	return remember_frame(pr, key, *id);
}

/* The frame standing for the middle of a stack deeper than --max-depth. */
static int omitted_id(struct sampler *s, size_t omitted, uint32_t *id)
{
	struct sg_frame frame = {.type = SG_FRAME_PYTHON};
	char name[64];
	int n = snprintf(name, sizeof(name), "[%zu frames omitted]", omitted);

	frame.name = sg_profile_intern(s->profile, name, (size_t)n);
	if (frame.name == UINT32_MAX)
		return SG_ENOMEM;
	*id = sg_profile_frame_id(s->profile, &frame);
	return *id == UINT32_MAX ? SG_ENOMEM : 0;
}

/* The walk's frames as profile frame ids, root first, into s->stack. */
static int stack_ids(struct sampler *s, struct proc *pr, const struct sg_pystack *walk, size_t *n)
{
	bool entry = false; /* of a shim left out, for the next frame kept */
	int err = 0;

	*n = 0;
	for (size_t i = walk->depth; i-- > 0 && !err;) {
		uint32_t id;

		if (walk->omitted && i + 1 == walk->inner) {
			s->entry[*n] = false;
			err = omitted_id(s, walk->omitted, &s->stack[(*n)++]);
			if (err)
				break;
		}
		err = frame_id(s, pr, &s->raw[i], &id);
		entry |= s->raw[i].entry;
		if (err || id == NO_FRAME)
			continue;
		s->entry[*n] = entry;
		s->stack[(*n)++] = id;
		entry = false;
	}
	/* Only shims: a torn walk, as no program runs in them alone. */
	return err || *n ? err : SG_ECORRUPT;
}

/* Walk one thread, retrying torn walks while the tick has used under a
 * quarter of the period. Dropping a torn walk instead biases the profile
 * against code whose stack changes fast: before 3.11 a call-heavy function
 * tears most walks, and four attempts lost a sixth of its samples. */
static int walk_thread(struct sampler *s, struct proc *pr, struct sg_pythread *th,
                       struct sg_pystack *walk)
{
	return sg_threadwalk_frames(&pr->walker, &pr->roots, th, s->raw, s->max_depth, walk,
	                            s->now_ns + s->period_ns / 4, &s->stats->retries);
}

/* The life th is in: a new one when its thread state held another thread
 * or none before. NULL when out of memory. */
static struct life *life_of(struct sampler *s, struct proc *pr, const struct sg_pythread *th)
{
	struct life *lf;
	uint64_t at;

	if (sg_u64map_get(&pr->life_at, th->tstate, &at)) {
		lf = &pr->lives[at - 1];
		if (lf->tid == th->tid && lf->thread_id == th->thread_id) {
			lf->tick_ns = s->now_ns;
			return lf;
		}
		sg_task_close(&lf->task);
	} else {
		if (sg_grow(&pr->lives, &pr->lives_cap, pr->nlives + 1, sizeof(*pr->lives)) ||
		    sg_u64map_put(&pr->life_at, th->tstate, pr->nlives + 1))
			return NULL;
		lf = &pr->lives[pr->nlives++];
	}
	*lf = (struct life){
	    .tstate = th->tstate,
	    .thread_id = th->thread_id,
	    .tid = th->tid,
	    .task = SG_TASK_CLOSED,
	    /* Taken after th was read, so names read since are its own. */
	    .seen_ns = now_ns(CLOCK_MONOTONIC),
	    .tick_ns = s->now_ns,
	    .stack = NO_STACK,
	    .clocked_stack = NO_STACK,
	};
	/* A thread already gone stays closed, and reads as gone. */
	if (th->tid)
		sg_task_open(&lf->task, pr->pid, th->tid);
	return lf;
}

/* Forget the threads not seen for a while: they ended. (A visit cut short
 * by a thread list that changed under it misses some for a tick.) */
static int forget_ended(struct sampler *s, struct proc *pr)
{
	uint64_t after = FORGET_AFTER_TICKS * s->period_ns;
	size_t kept = 0;

	if (after < FORGET_AFTER_NS)
		after = FORGET_AFTER_NS;
	for (size_t i = 0; i < pr->nlives; i++) {
		if (s->now_ns - pr->lives[i].tick_ns < after)
			pr->lives[kept++] = pr->lives[i];
		else
			sg_task_close(&pr->lives[i].task);
	}
	if (kept == pr->nlives)
		return 0;
	pr->nlives = kept;
	sg_u64map_release(&pr->life_at);
	for (size_t i = 0; i < kept; i++)
		if (sg_u64map_put(&pr->life_at, pr->lives[i].tstate, i + 1))
			return SG_ENOMEM;
	return 0;
}

/* A label of lf's own until its Python name is known, which the end of the
 * run renames to that name if it was learnt later, or else to the kernel's
 * name. */
static int give_placeholder(struct sampler *s, struct proc *pr, struct life *lf)
{
	char name[256];
	uint32_t comm;

	if (lf->label)
		return 0;
	if (!lf->tid || sg_proc_task_comm(pr->pid, lf->tid, name, sizeof(name)))
		name[0] = '\0';
	comm = sg_profile_intern(s->profile, name, strlen(name));
	snprintf(name, sizeof(name), SG_SAMPLER_UNNAMED "%u", ++s->placeholders);
	lf->label = lf->placeholder = sg_profile_intern(s->profile, name, strlen(name));
	if (comm == UINT32_MAX || lf->label == UINT32_MAX ||
	    sg_u64map_put(&s->renames, lf->placeholder, comm))
		return SG_ENOMEM;
	return 0;
}

/*
 * The label of lf's samples: its Python name once known, else a
 * placeholder (give_placeholder): all of a thread's samples carry the same
 * name, and no two threads share a placeholder, even on the same tid.
 *
 * During a tick's visit (in_visit) a thread not yet named is only given its
 * placeholder, and looked up once the visit is done (name_after_visit): a
 * reading of threading._active is believed for a thread only if it began
 * after the thread was first seen, so one taken for the first new thread of
 * a tick would not do for the next, started with it (a server's requests
 * come in batches), and that one might end before another reading is due.
 */
static int life_label(struct sampler *s, struct proc *pr, struct life *lf,
                      const struct sg_pythread *th, bool in_visit)
{
	char name[256];
	int got;

	if (lf->named && lf->names_generation == sg_pythreads_generation(pr->names))
		return 0;
	if (in_visit && !lf->named) {
		lf->unnamed_this_tick = true;
		return give_placeholder(s, pr, lf);
	}
	got = sg_pythreads_name(pr->names, th, lf->seen_ns, name, sizeof(name));
	lf->names_generation = sg_pythreads_generation(pr->names);
	if (got == SG_ENOMEM)
		return got;
	if (got == 0) {
		lf->label = sg_profile_intern(s->profile, name, strlen(name));
		lf->named = lf->label != UINT32_MAX;
		if (lf->placeholder && lf->named &&
		    sg_u64map_put(&s->renames, lf->placeholder, lf->label))
			return SG_ENOMEM;
		lf->placeholder = 0;
		return lf->named ? 0 : SG_ENOMEM;
	}
	/* Not listed yet, or no longer: a thread leaves threading._active in
	 * its last moments, and keeps its name. */
	return give_placeholder(s, pr, lf);
}

/* Look up the threads this tick's visit left unnamed, now that every new
 * one has been seen, and those still unnamed that were seen lately: a
 * short thread sampled once, early, while a reading of threading._active
 * was put off (sg_pythreads_name bounds their cost) is named by the next
 * reading if it still runs. 2.7's 7 ms requests under the sanitizer build
 * had 12% of their samples under the kernel's name when only a thread's
 * own samples asked. */
static int name_after_visit(struct sampler *s, struct proc *pr)
{
	for (size_t i = 0; i < pr->nlives; i++) {
		struct life *lf = &pr->lives[i];
		struct sg_pythread th = {
		    .tstate = lf->tstate, .thread_id = lf->thread_id, .tid = lf->tid};
		bool lately = lf->placeholder && s->now_ns - lf->tick_ns < UNNAMED_RETRY_NS;
		int err;

		if (!lf->unnamed_this_tick && !lately)
			continue;
		lf->unnamed_this_tick = false;
		err = life_label(s, pr, lf, &th, false);
		if (err)
			return err;
	}
	return 0;
}

/* A running thread's weight in cpu mode: the CPU time it used since its
 * last sample, or since it was first seen asleep; when first seen running,
 * what it used in all, at most a period (it was attached to, or started
 * since the last tick). */
static uint64_t cpu_used(const struct sampler *s, struct life *lf)
{
	uint64_t run_ns = lf->rt.run_ns, base = lf->cpu_base_ns;

	lf->cpu_base_ns = run_ns;
	if (!lf->has_cpu_base) {
		lf->has_cpu_base = true;
		return run_ns < s->period_ns ? run_ns : s->period_ns;
	}
	return run_ns > base ? run_ns - base : 0;
}

static void count_drop(struct sampler *s, int err)
{
	s->meta->dropped++;
	if (err == SG_ECORRUPT)
		s->meta->dropped_torn++;
	else
		s->meta->dropped_read++;
}

struct native_ctx {
	struct sampler *s;
	struct proc *pr;
	bool in_interp; /* the frame is in the interpreter's binary */
};

/* One native frame, as a profile frame and its role in the merge. */
static int on_native(void *ctx, const struct sg_sym_frame *f)
{
	struct native_ctx *c = ctx;
	struct sampler *s = c->s;
	struct sg_frame frame = {
	    .type = f->kernel ? SG_FRAME_KERNEL
	            : f->jit  ? SG_FRAME_JIT
	                      : SG_FRAME_NATIVE,
	    .line = s->opts->function ? 0 : f->line,
	};
	uint64_t key, role;
	uint32_t id;

	frame.name = sg_profile_intern(s->profile, f->name, strlen(f->name));
	frame.file = sg_profile_intern(s->profile, f->file, strlen(f->file));
	if (frame.name == UINT32_MAX || frame.file == UINT32_MAX)
		return SG_ENOMEM;
	id = sg_profile_frame_id(s->profile, &frame);
	if (id == UINT32_MAX)
		return SG_ENOMEM;
	/* Only the interpreter's own functions are its eval loop or its
	 * helpers: an extension's call_function is the extension's. */
	key = ((uint64_t)id << 1 | c->in_interp) + 1;
	if (!sg_u64map_get(&c->pr->roles, key, &role)) {
		role = c->in_interp && !f->kernel
		           ? sg_merge_role_of(f->name, sg_pyproc_eval_name(c->pr->pp.layout.major))
		           : SG_MERGE_PLAIN;
		if (sg_u64map_put(&c->pr->roles, key, role))
			return SG_ENOMEM;
	}
	if (sg_grow(&s->nat, &s->nat_cap, s->nnat + 1, sizeof(*s->nat)))
		return SG_ENOMEM;
	s->nat[s->nnat++] = (struct sg_merge_native){.id = id, .role = (uint8_t)role};
	return 0;
}

/* The native stack of a sample, leaf first, into s->nat. DWARF only: the
 * eval loop's frame-pointer chain is not to be trusted (CPython is built
 * without frame pointers before 3.12, and the kernel's walk then skips or
 * invents callers). */
static int native_frames(struct sampler *s, struct proc *pr, const struct sg_perf_record *rec)
{
	struct native_ctx c = {.s = s, .pr = pr};
	bool dwarf;
	size_t n =
	    sg_unwind_sample(pr->uw, SG_UNWIND_DWARF, rec, s->uframes, NATIVE_MAX_UNWIND, &dwarf);
	int err = 0;

	s->nnat = 0;
	for (size_t i = 0; i < n && !err; i++) {
		const struct sg_unwind_map *m =
		    s->uframes[i].kernel ? NULL : sg_unwind_find(pr->uw, s->uframes[i].pc);

		c.in_interp = m && strcmp(m->path, pr->pp.binary) == 0;
		err = sg_syms_resolve(s->syms, pr->uw, &s->uframes[i], on_native, &c);
	}
	return err;
}

/* The merged stack deeper than --max-depth: its outermost and innermost
 * frames around one "[K frames omitted]", as a walk's. */
static int cut_merged(struct sampler *s, bool *truncated)
{
	struct sg_merge_out *m = &s->merged;
	size_t keep_root = s->max_depth / 2, keep_leaf = s->max_depth - keep_root - 1;
	int err;

	if (m->n <= s->max_depth)
		return 0;
	err = omitted_id(s, m->n - keep_root - keep_leaf, &m->ids[keep_root]);
	if (err)
		return err;
	memmove(&m->ids[keep_root + 1], &m->ids[m->n - keep_leaf], keep_leaf * sizeof(*m->ids));
	m->n = s->max_depth;
	*truncated = true;
	return 0;
}

/*
 * Whether the sample's copy of the stack or its registers hold frame, the
 * address of the walk's innermost Python frame. The eval call running it
 * keeps it in a register or a stack slot (its own, or where a callee saved
 * it), so one pushed after the copy, by a call made in the moment between
 * the sample and the walk, is missing. On 3.11+ a Python call made from
 * Python adds no eval call: the counts alone would not see it.
 */
static bool leaf_in_copy(const struct sg_perf_record *rec, uint64_t frame)
{
	for (uint32_t i = 0; i < rec->sample.nregs; i++)
		if (rec->sample.regs[i] == frame)
			return true;
	for (uint64_t at = 0; at + 8 <= rec->sample.stack_size; at += 8) {
		uint64_t word;

		memcpy(&word, rec->sample.stack + at, sizeof(word));
		if (word == frame)
			return true;
	}
	return false;
}

/* A sample's Python frames (depth of them in s->stack) merged with its
 * native stack, as a profile stack id. */
static int merge_native(struct sampler *s, struct proc *pr, const struct sg_perf_record *rec,
                        size_t depth, uint32_t *stack, bool *truncated)
{
	struct sg_frame frame = {.type = SG_FRAME_NATIVE};
	bool matched;
	uint32_t unmatched;
	int err;

	for (size_t i = 0; i < depth; i++)
		s->py[i] = (struct sg_merge_python){.id = s->stack[depth - 1 - i],
		                                    .entry = s->entry[depth - 1 - i]};
	frame.name = sg_profile_intern(s->profile, "[unmatched]", strlen("[unmatched]"));
	unmatched = frame.name == UINT32_MAX ? UINT32_MAX : sg_profile_frame_id(s->profile, &frame);
	err = unmatched == UINT32_MAX ? SG_ENOMEM : native_frames(s, pr, rec);
	if (!err)
		err = sg_merge(s->nat, s->nnat, s->py, depth, leaf_in_copy(rec, s->raw[0].frame),
		               s->opts->native_all, unmatched, &s->merged, &matched);
	if (!err)
		err = cut_merged(s, truncated);
	if (err)
		return err;
	s->stats->native_merged += matched;
	s->stats->native_unmatched += !matched;
	s->stats->native_cut += !matched && sg_unwind_cut(pr->uw);
	*stack = sg_profile_stack_id(s->profile, s->merged.ids, s->merged.n);
	return *stack == NO_STACK ? SG_ENOMEM : 0;
}

/* The stack th is in now, as a profile stack id into *stack; 0 with
 * *stack = NO_STACK when it is not in Python code now or its walk failed.
 * With rec (the CPU clock's sample) and pr's native unwinder, merged with
 * the native stack the sample copied. */
static int walk_stack(struct sampler *s, struct proc *pr, struct sg_pythread *th,
                      const struct sg_perf_record *rec, uint32_t *stack, bool *truncated)
{
	struct sg_pystack walk;
	size_t depth = 0;
	int err = walk_thread(s, pr, th, &walk);

	*stack = NO_STACK;
	/* The thread left Python between a torn walk and its retry: a thread
	 * seen without frames, as when it has no top frame, not a sample. */
	if (!err && walk.depth == 0)
		return 0;
	s->meta->samples++;
	if (!err)
		err = stack_ids(s, pr, &walk, &depth);
	if (err == SG_ENOMEM)
		return err;
	if (err) {
		count_drop(s, err);
		return 0;
	}
	*truncated = walk.omitted != 0;
	if (rec && pr->uw)
		return merge_native(s, pr, rec, depth, stack, truncated);
	*stack = sg_profile_stack_id(s->profile, s->stack, depth);
	return *stack == NO_STACK ? SG_ENOMEM : 0;
}

static int sample_thread(struct sampler *s, struct proc *pr, struct sg_pythread *th,
                         uint64_t gil_holder)
{
	struct sg_labels labels = {.pid = pr->pid};
	struct sg_task_runtime rt = {0};
	bool counted, quiet, truncated = false;
	uint64_t weight_ns = s->period_ns;
	struct life *lf;
	uint32_t stack;
	int err;

	th->tid = our_tid(s, pr, th->tid);
	labels.tid = th->tid;
	lf = life_of(s, pr, th);
	if (!lf)
		return SG_ENOMEM;
	if (s->opts->gil && th->tstate != gil_holder)
		return 0;
	/* schedstat first, as it costs a quarter of stat: a thread that has
	 * not been put on a CPU since it was last seen off one is off it still
	 * (or woken and waiting for one, having used none), and where it was.
	 * The cost of a thousand sleeping threads is then theirs to read, not
	 * to walk. */
	counted = th->tid && sg_task_runtime(&lf->task, &rt) == 0;
	quiet = counted && lf->counted && !lf->running && rt.run_ns == lf->rt.run_ns &&
	        rt.runs == lf->rt.runs;
	lf->counted = counted;
	lf->rt = rt;
	/* Unknown tids (rare: glibc's layout not learnt) count as running. */
	lf->running = !quiet;
	if (!quiet && th->tid && sg_task_running(&lf->task, &lf->running) == SG_ENOPROC)
		return 0;
	if (!quiet)
		lf->stack = NO_STACK;
	if (s->opts->mode == SG_MODE_CPU) {
		if (!lf->running) {
			/* The CPU it used before it was first seen is not ours. */
			if (!lf->has_cpu_base && counted) {
				lf->has_cpu_base = true;
				lf->cpu_base_ns = rt.run_ns;
			}
			return 0;
		}
		/* A thread waiting for a CPU uses none: weigh by the kernel's
		 * count, not by the period. */
		if (counted)
			weight_ns = cpu_used(s, lf);
	}
	if (!th->top_frame)
		return 0;
	if (quiet && lf->stack != NO_STACK && lf->top_frame == th->top_frame) {
		s->meta->samples++;
		stack = lf->stack;
		truncated = lf->truncated;
	} else {
		err = walk_stack(s, pr, th, NULL, &stack, &truncated);
		if (err || stack == NO_STACK)
			return err;
		/* Kept for as long as the thread stays quiet: the count was read
		 * before the walk. */
		lf->stack = stack;
		lf->top_frame = th->top_frame;
		lf->truncated = truncated;
	}
	if (truncated)
		s->meta->truncated++;
	err = life_label(s, pr, lf, th, true);
	if (err)
		return err;
	labels.thread_name = lf->label;
	labels.flags =
	    (lf->running ? 0 : SG_SAMPLE_IDLE) | (th->tstate == gil_holder ? SG_SAMPLE_GIL : 0);
	if (th->tstate == gil_holder) {
		pr->gil_seen = true;
		pr->gil_stack = stack;
		pr->gil_labels = labels;
	}
	return sg_profile_add_sample(s->profile, stack, &labels, weight_ns,
	                             s->now_ns - s->window_ns, s->period_ns);
}

struct tick_proc {
	struct sampler *s;
	struct proc *pr;
};

static int sample_one(void *ctx, struct sg_pythread *th, const struct sg_pyinterp *is)
{
	struct tick_proc *t = ctx;

	return sample_thread(t->s, t->pr, th, is->gil_holder);
}

/* The head of pr's interpreter list into *interp, or 0 while there is
 * none yet (SG_ENOTREADY). It is set once at start-up: read it now and
 * then, not every tick. A stale one fails the reads that follow just as a
 * process that exec'd does. */
static int current_interp(struct sampler *s, struct proc *pr, uint64_t *interp)
{
	int err;

	*interp = pr->interp_head;
	if (*interp && s->now_ns - pr->interp_head_ns <= INTERP_HEAD_EVERY_NS)
		return 0;
	err = sg_pyproc_interp_head(&pr->pp, interp);
	if (err)
		return err;
	pr->interp_head = *interp;
	pr->interp_head_ns = s->now_ns;
	return 0;
}

/* --memory: the RSS change since the last tick goes to the thread that
 * held the GIL at this one, as the code that ran since (growth and
 * shrinkage apart). A tick without a holder sampled (the GIL released in a
 * sleep or a system call; in cpu mode, its holder off a CPU) keeps the
 * change for the next one that has one. */
static int account_memory(struct sampler *s, struct proc *pr)
{
	uint64_t rss;
	int err = 0;

	/* Gone: the next tick sees that. */
	if (sg_rss_read(&pr->rss, &rss))
		return 0;
	if (pr == s->procs[0])
		err = sg_profile_add_rss(s->profile, s->now_ns - s->window_ns, rss);
	if (pr->has_rss && rss > pr->last_rss)
		pr->pending_growth += rss - pr->last_rss;
	else if (pr->has_rss)
		pr->pending_freed += pr->last_rss - rss;
	pr->has_rss = true;
	pr->last_rss = rss;
	if (err || !pr->gil_seen || !(pr->pending_growth || pr->pending_freed))
		return err;
	err = sg_profile_add_memory(s->profile, pr->gil_stack, &pr->gil_labels, pr->pending_growth,
	                            pr->pending_freed);
	pr->pending_growth = pr->pending_freed = 0;
	return err;
}

/* One tick for one process: every thread of every interpreter. */
static int sample_proc(struct sampler *s, struct proc *pr)
{
	struct tick_proc t = {.s = s, .pr = pr};
	uint64_t interp;
	int err = current_interp(s, pr, &interp);

	pr->gil_seen = false;
	if (err == SG_ENOTREADY)
		return 0;
	if (err)
		return err;
	err = sg_threadwalk_each(&pr->pp, &pr->walker, interp, sample_one, &t);
	if (!err && s->opts->memory)
		err = account_memory(s, pr);
	if (!err)
		err = name_after_visit(s, pr);
	return err ? err : forget_ended(s, pr);
}

static double since_start_s(const struct sampler *s)
{
	return s->origin_ns ? (double)(s->now_ns - s->origin_ns) / NS_PER_S : 0;
}

/* End the run, with one line saying why. */
static void end_run(struct sampler *s, enum sg_sampler_end end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void end_run(struct sampler *s, enum sg_sampler_end end, const char *fmt, ...)
{
	va_list ap;

	s->ended = true;
	s->stats->end = end;
	va_start(ap, fmt);
	vsnprintf(s->stats->end_note, sizeof(s->stats->end_note), fmt, ap);
	va_end(ap);
}

static bool python_descendants(const struct sampler *s)
{
	for (size_t i = 1; i < s->nprocs; i++)
		if (s->procs[i]->state == PROC_PYTHON)
			return true;
	return false;
}

/* Add descendants of every process we know (when children is set), and
 * probe the pending ones that are due. */
static int discover(struct sampler *s, bool children)
{
	for (size_t i = 0; children && s->opts->subprocesses && i < s->nprocs; i++) {
		pid_t *kids;
		size_t n;

		if (s->procs[i]->state == PROC_DONE ||
		    sg_proc_children(s->procs[i]->pid, &kids, &n))
			continue;
		for (size_t k = 0; k < n; k++) {
			int err = add_proc(s, kids[k]);

			if (err) {
				free(kids);
				return err;
			}
		}
		free(kids);
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *pr = s->procs[i];
		bool is_main = i == 0;
		int err;

		if (pr->state != PROC_PENDING)
			continue;
		/* Descendants are looked at with the children, unless they were
		 * seen to exec moments ago. */
		if (!is_main && !children &&
		    (probes_spent(pr, false) || s->now_ns < pr->next_probe_ns))
			continue;
		if (sg_procid_alive(&pr->id)) {
			pr->state = PROC_DONE;
			continue;
		}
		if (!probe_due(s, pr, is_main))
			continue;
		err = probe_proc(s, pr);
		if (err == SG_ENOMEM)
			return err;
		/* Never CPython, after its probes: a native program, for
		 * the perf_events sampler to take over, with its children
		 * when asked, unless one of them was found to be CPython. So
		 * is one that ran CPython and exec'd another program, unless a
		 * descendant followed is CPython (the native sampler would
		 * show its interpreter's C frames, not its Python stacks). */
		if (err == SG_ENOTPY && is_main && s->opts->launched && s->opts->native_fallback &&
		    pr->probes >= PROBES_PER_EXE && !is_launcher(pr->exe) &&
		    (!s->found_python || (pr->was_python && !python_descendants(s)))) {
			if (pr->was_python)
				end_run(s, SG_END_NOT_PYTHON,
				        "pid %d exec'd %s after %.2f s: it is not CPython",
				        (int)pr->pid, pr->exe, since_start_s(s));
			else
				end_run(s, SG_END_NOT_PYTHON, "pid %d is not CPython",
				        (int)pr->pid);
			return SG_ENOTPY;
		}
		if (!err || !is_main || s->opts->launched)
			continue;
		/* An attached target that ran CPython and exec'd something
		 * else: what was sampled is kept, unless its descendants are
		 * followed too. */
		if (pr->was_python) {
			if (!s->opts->subprocesses && err != SG_ENOPROC && probes_spent(pr, true))
				end_run(s, SG_END_EXECED, "pid %d exec'd %s after %.2f s: %s",
				        (int)pr->pid, pr->exe[0] ? pr->exe : "another program",
				        since_start_s(s),
				        err == SG_ENOTPY ? "it is not CPython" : pr->why);
			continue;
		}
		/* At the start, the target must be Python unless we wait for
		 * children that are. */
		if (err != SG_ENOTPY || !s->opts->subprocesses)
			return err;
	}
	return 0;
}

/* How long the target has been followed, start-up included: a short
 * program may end while the interpreter is being found. */
static void describe_elapsed(const struct sampler *s, char *buf, size_t len)
{
	double elapsed = (double)(s->now_ns - s->begin_ns) / NS_PER_S;

	if (elapsed < 1)
		snprintf(buf, len, "%.0f ms", elapsed * 1e3);
	else
		snprintf(buf, len, "%.2f s", elapsed);
}

/* Whether the main target has ended (then the run ends, saying how). A
 * launched one is reaped: it cannot be confused with another process before
 * that. */
static bool target_gone(struct sampler *s)
{
	struct proc *target = s->procs[0];
	char how[128], elapsed[32];
	uint64_t start;
	int status;

	describe_elapsed(s, elapsed, sizeof(elapsed));
	if (s->opts->launched) {
		if (!sg_launch_reaped(target->pid, &status))
			return false;
		s->stats->exit_status = status;
		sg_launch_describe_status(status, how, sizeof(how));
		end_run(s, SG_END_EXITED, "the program %s after %s%s", how, elapsed,
		        s->meta->samples || !s->found_python ? "" : ", before its first sample");
		return true;
	}
	if (sg_procid_alive(&target->id) == 0)
		return false;
	end_run(s, SG_END_EXITED, "pid %d exited after %s%s", (int)target->pid, elapsed,
	        sg_proc_start_time(target->pid, &start) == 0 && start != target->id.start
	            ? " (its pid now names another process)"
	            : "");
	return true;
}

/* The interpreter's own globals stopped reading: the process exited,
 * exec'd and holds another program to probe afresh, or the thread we read
 * it through ended. */
static void proc_failed(struct sampler *s, struct proc *pr)
{
	forget_proc(s, pr);
	if (sg_procid_alive(&pr->id))
		pr->state = PROC_DONE;
}

/* Whether the process at i is gone: its pid may have been given to another
 * process since the last look (a launched target cannot, it is ours to
 * reap). */
static bool proc_gone(struct sampler *s, size_t i)
{
	struct proc *pr = s->procs[i];

	if ((i > 0 || !s->opts->launched) && sg_procid_alive(&pr->id)) {
		forget_proc(s, pr);
		pr->state = PROC_DONE;
		return true;
	}
	return false;
}

static int sample_all(struct sampler *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *pr = s->procs[i];
		int err;

		if (pr->state != PROC_PYTHON || proc_gone(s, i))
			continue;
		err = sample_proc(s, pr);
		if (err == SG_ENOMEM)
			return err;
		if (err)
			proc_failed(s, pr);
	}
	return 0;
}

/* CPU clock: the thread list is read again at least this often when
 * samples come, and a tid found without a thread state (a thread of C
 * code, or a Python thread not yet started) is looked for again after
 * NO_TSTATE_FOR_NS. */
#define TIDS_EVERY_NS    (100 * 1000 * 1000ull)
#define NO_TSTATE_FOR_NS (5 * 1000 * 1000ull)

static int note_tid(void *ctx, struct sg_pythread *th, const struct sg_pyinterp *is)
{
	struct tick_proc *t = ctx;

	(void)is;
	th->tid = our_tid(t->s, t->pr, th->tid);
	/* Seen: its life goes on (forget_ended). */
	if (!life_of(t->s, t->pr, th))
		return SG_ENOMEM;
	return th->tid ? sg_u64map_put(&t->pr->tid_tstate, (uint64_t)th->tid + 1, th->tstate) : 0;
}

/* Read which thread state runs each tid of pr. */
static int read_tids(struct sampler *s, struct proc *pr, uint64_t interp)
{
	struct tick_proc t = {.s = s, .pr = pr};
	int err;

	sg_u64map_release(&pr->tid_tstate);
	sg_u64map_init(&pr->tid_tstate);
	pr->tids_ns = s->now_ns;
	err = sg_threadwalk_each(&pr->pp, &pr->walker, interp, note_tid, &t);
	return err ? err : forget_ended(s, pr);
}

/* The thread state of our tid in pr, read now, into th; th->tstate 0 when
 * the tid runs no Python thread. A thread state is believed when it still
 * names tid; else the thread list is read again, once. */
static int clocked_thread(struct sampler *s, struct proc *pr, uint64_t interp, pid_t tid,
                          struct sg_pythread *th)
{
	bool fresh = false;
	uint64_t v;
	int err;

	th->tstate = 0;
	if (s->now_ns - pr->tids_ns > TIDS_EVERY_NS) {
		err = read_tids(s, pr, interp);
		if (err)
			return err;
		fresh = true;
	}
	for (int pass = 0; pass < 2; pass++) {
		bool known = sg_u64map_get(&pr->tid_tstate, (uint64_t)tid + 1, &v);

		if (known && v & 1 && s->now_ns - (v >> 1) < NO_TSTATE_FOR_NS)
			return 0;
		if (known && !(v & 1) && sg_pywalk_thread(&pr->walker, v, th) == 0 &&
		    our_tid(s, pr, th->tid) == tid) {
			th->tid = tid;
			return 0;
		}
		th->tstate = 0;
		if (fresh)
			break;
		err = read_tids(s, pr, interp);
		if (err)
			return err;
		fresh = true;
	}
	return sg_u64map_put(&pr->tid_tstate, (uint64_t)tid + 1, s->now_ns << 1 | 1);
}

/* CPU time of tid's that no row holds yet: kept for its next sample. */
static int unstacked(struct proc *pr, pid_t tid, uint64_t weight_ns)
{
	uint64_t kept = 0;

	if (!weight_ns)
		return 0;
	sg_u64map_get(&pr->unstacked, (uint64_t)tid + 1, &kept);
	return sg_u64map_put(&pr->unstacked, (uint64_t)tid + 1, kept + weight_ns);
}

static uint64_t take_unstacked(struct proc *pr, pid_t tid)
{
	uint64_t kept = 0;

	if (sg_u64map_get(&pr->unstacked, (uint64_t)tid + 1, &kept))
		sg_u64map_put(&pr->unstacked, (uint64_t)tid + 1, 0);
	return kept;
}

/* A thread of pr ended (rec, its EXIT record) with CPU time in no sample:
 * its last sample's row takes it, as the CPU since the previous sample is
 * given to a sample's stack (no timeline: nothing was seen then). A thread
 * never sampled with a stack leaves it unattributed, and said so. */
static int clocked_exit(struct sampler *s, struct proc *pr, const struct sg_perf_record *rec)
{
	pid_t tid = (pid_t)rec->tid;
	uint64_t left = rec->task.unsampled_ns + take_unstacked(pr, tid);
	const struct life *last = NULL;

	if (!left)
		return 0;
	s->stats->cpu_sampled_ns += rec->task.unsampled_ns;
	/* A tid is reused only after its thread ended: the latest life with it. */
	for (size_t i = 0; i < pr->nlives; i++)
		if (pr->lives[i].tid == tid && pr->lives[i].clocked_stack != NO_STACK &&
		    (!last || pr->lives[i].seen_ns >= last->seen_ns))
			last = &pr->lives[i];
	if (!last) {
		s->stats->cpu_unattributed_ns += left;
		return 0;
	}
	return sg_profile_add(s->profile, last->clocked_stack, &last->clocked_labels, 0, left);
}

/* One sample of the CPU clock, rec: a thread of pr has used a period of
 * CPU. Its stack is walked now, as the kernel woke us for it. */
static int sample_clocked(struct sampler *s, struct proc *pr, const struct sg_perf_record *rec)
{
	pid_t tid = (pid_t)rec->tid;
	uint64_t time_ns = rec->time_ns;
	uint64_t period = sg_pyperf_period_ns(s->pyperf), interp;
	struct sg_labels labels = {.pid = pr->pid, .tid = tid};
	struct sg_pyinterp is = {0};
	struct sg_pythread th;
	bool truncated = false;
	struct life *lf;
	uint32_t stack;
	int err;

	s->stats->ticks++;
	s->stats->cpu_sampled_ns += rec->sample.weight_ns;
	err = current_interp(s, pr, &interp);
	if (!err)
		err = clocked_thread(s, pr, interp, tid, &th);
	if (err == SG_ENOTREADY)
		return unstacked(pr, tid, rec->sample.weight_ns);
	if (err)
		return err;
	if (!th.tstate || !th.top_frame)
		return unstacked(pr, tid, rec->sample.weight_ns);
	lf = life_of(s, pr, &th);
	if (!lf)
		return SG_ENOMEM;
	/* Not reused by the timer, should it take over: walked afresh. */
	lf->stack = NO_STACK;
	err = walk_stack(s, pr, &th, rec, &stack, &truncated);
	if (!err && stack == NO_STACK)
		return unstacked(pr, tid, rec->sample.weight_ns);
	if (err)
		return err;
	if (truncated)
		s->meta->truncated++;
	err = life_label(s, pr, lf, &th, true);
	if (err)
		return err;
	/* Whether it holds the GIL (read after the walk: one read more). */
	if (sg_pyproc_interp_read(&pr->pp, interp, &is) == 0 && is.gil_holder == th.tstate)
		labels.flags |= SG_SAMPLE_GIL;
	labels.thread_name = lf->label;
	lf->clocked_stack = stack;
	lf->clocked_labels = labels;
	return sg_profile_add_sample(s->profile, stack, &labels,
	                             rec->sample.weight_ns + take_unstacked(pr, tid),
	                             time_ns > s->window_ns ? time_ns - s->window_ns : 0, period);
}

static int clocked_one(void *ctx, const struct sg_perf_record *rec)
{
	struct sampler *s = ctx;

	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *pr = s->procs[i];
		int err;

		if (pr->pid != (pid_t)rec->pid || pr->state != PROC_PYTHON || pr->failed)
			continue;
		if (rec->type == PERF_RECORD_MMAP2)
			return pr->uw && rec->mmap.prot & PROT_EXEC
			           ? sg_unwind_map(pr->uw, rec->mmap.addr, rec->mmap.len,
			                           rec->mmap.pgoff, rec->mmap.filename)
			           : 0;
		s->now_ns = now_ns(CLOCK_MONOTONIC);
		err = rec->type == PERF_RECORD_EXIT ? clocked_exit(s, pr, rec)
		                                    : sample_clocked(s, pr, rec);
		/* Handled once the read is done: the events stay open during it. */
		if (err && err != SG_ENOMEM)
			pr->failed = err;
		return err == SG_ENOMEM ? err : 0;
	}
	return 0;
}

/* Hand on what the CPU clock sampled, then look at processes whose reads
 * failed, and name the threads the samples left unnamed. */
static int read_clocked(struct sampler *s)
{
	int err = sg_pyperf_read(s->pyperf, clocked_one, s);

	for (size_t i = 0; i < s->nprocs && err != SG_ENOMEM; i++) {
		struct proc *pr = s->procs[i];

		if (pr->state != PROC_PYTHON)
			continue;
		if (pr->failed)
			proc_failed(s, pr);
		else
			err = name_after_visit(s, pr);
	}
	s->stats->lost = s->pyperf ? sg_pyperf_lost(s->pyperf) : s->stats->lost;
	return err;
}

/* CPU clock, between samples: the processes sampled are looked at now and
 * then, as no tick does it (one that exec'd while idle would otherwise
 * never be seen to), and threads that escaped inherit are picked up. */
static int check_clocked(struct sampler *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *pr = s->procs[i];
		uint64_t interp;
		int err;

		if (pr->state != PROC_PYTHON || proc_gone(s, i) ||
		    s->now_ns - pr->interp_head_ns <= INTERP_HEAD_EVERY_NS)
			continue;
		err = current_interp(s, pr, &interp);
		if (err == SG_ENOMEM)
			return err;
		if (err && err != SG_ENOTREADY)
			proc_failed(s, pr);
	}
	return s->pyperf ? sg_pyperf_track(s->pyperf) : 0;
}

static void report_progress(struct sampler *s)
{
	struct sg_sampler_progress pg;

	if (!s->opts->progress)
		return;
	pg.elapsed_s = since_start_s(s);
	pg.duration_s = s->opts->duration_s;
	pg.samples = s->meta->samples;
	pg.dropped = s->meta->dropped;
	pg.ticks = s->stats->ticks;
	pg.rate_hz = pg.elapsed_s > 0 ? (double)s->stats->ticks / pg.elapsed_s : 0;
	s->opts->progress(s->opts->progress_ctx, &pg);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The deadline of tick k: each sample falls uniformly within its own period
 * around the grid start + k * period, so the rate is kept exactly, and work
 * in the target that repeats in step with our period (a 20 ms loop sampled
 * every 4 ms) cannot alias with where we look. A jitter of a mere tenth of a
 * period measurably did. */
static uint64_t tick_deadline(struct sampler *s, uint64_t k)
{
	uint64_t grid = s->start_ns + k * s->period_ns;
	int64_t jitter = (int64_t)(next_random(s) % s->period_ns) - (int64_t)(s->period_ns / 2);

	return grid + (uint64_t)jitter;
}

/* Whether the main target is in an exec chain: not Python, and started or
 * exec'd moments ago (its probes have not yet slowed to DISCOVER_EVERY_NS). */
static bool following(const struct sampler *s)
{
	const struct proc *target = s->procs[0];

	return target->state == PROC_PENDING && !probes_spent(target, true) &&
	       target->probe_wait_ns < DISCOVER_EVERY_NS;
}

/* Look at the targets between ticks. */
static int check_targets(struct sampler *s, uint64_t *next_discover)
{
	bool children = s->now_ns >= *next_discover;

	if (target_gone(s))
		return 0;
	if (children)
		*next_discover = s->now_ns + DISCOVER_EVERY_NS;
	if (children && s->pyperf) {
		int err = check_clocked(s);

		if (err)
			return err;
	}
	return discover(s, children);
}

/* The window that began at s->window_ns ends at end_ns: its meta is
 * completed, and threads whose Python name came late take it for all of
 * the window's samples. */
static int close_window(struct sampler *s, uint64_t end_ns)
{
	uint64_t ns = end_ns > s->window_ns ? end_ns - s->window_ns : 0;
	/* A window begun by the run this one goes on from (opts->resume):
	 * the rate is of the part sampled here. */
	uint64_t ran = end_ns > s->start_ns ? end_ns - s->start_ns : 0;
	int err = sg_profile_rename_threads(s->profile, &s->renames);

	sg_u64map_release(&s->renames);
	sg_u64map_init(&s->renames);
	s->meta->start_unix_ns = s->start_unix_ns + (s->window_ns - s->start_ns);
	s->meta->duration_ns = ns;
	ran = ran < ns ? ran : ns;
	s->meta->rate_achieved_hz =
	    ran ? (double)(s->stats->ticks - s->window_ticks) * NS_PER_S / (double)ran : 0;
	return err;
}

/* Hand the window that ends at end_ns over, and start the next one empty:
 * what the processes' caches hold in the profile's ids is forgotten (a
 * thread's name is looked up again). */
static int cut_window(struct sampler *s, uint64_t end_ns)
{
	int err = close_window(s, end_ns);

	if (err)
		return err;
	s->opts->window(s->opts->window_ctx, s->profile);
	err = sg_profile_clear(s->profile);
	if (err)
		return err;
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *pr = s->procs[i];

		sg_u64map_release(&pr->frame_ids);
		sg_u64map_init(&pr->frame_ids);
		sg_u64map_release(&pr->roles);
		sg_u64map_init(&pr->roles);
		for (size_t k = 0; k < pr->nlives; k++) {
			struct life *lf = &pr->lives[k];

			lf->stack = NO_STACK;
			lf->label = lf->placeholder = 0;
			lf->named = false;
		}
	}
	s->window_ns = end_ns;
	s->window_ticks = s->stats->ticks;
	return 0;
}

static int run_loop(struct sampler *s, volatile sig_atomic_t *stop)
{
	uint64_t window = (uint64_t)(s->opts->window_s * NS_PER_S);
	uint64_t check_every =
	    s->opts->check_s > 0 ? (uint64_t)(s->opts->check_s * NS_PER_S) : CHECK_EVERY_NS;
	uint64_t next_window = window ? s->window_ns + window : UINT64_MAX;
	uint64_t start = s->start_ns, next_discover = start + DISCOVER_EVERY_NS;
	uint64_t progress_every = s->opts->progress_every_s > 0
	                              ? (uint64_t)(s->opts->progress_every_s * NS_PER_S)
	                              : PROGRESS_EVERY_NS;
	uint64_t next_check = start, next_progress = start + progress_every;
	uint64_t end = s->opts->duration_s
	                   ? s->origin_ns + (uint64_t)(s->opts->duration_s * NS_PER_S)
	                   : UINT64_MAX;
	uint64_t grace_end = UINT64_MAX, tick = 0, slots;
	/* The CPU clock has no deadlines: the kernel says when to sample. */
	uint64_t deadline = s->pyperf ? UINT64_MAX : tick_deadline(s, 0);
	int err = 0;

	/* The kernel may wake a sleeper up to 50 us late by default, half a
	 * period at 10 kHz: ask for 1 us. Best effort; only our own thread. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

	for (;;) {
		uint64_t wake = min_u64(min_u64(deadline, next_check),
		                        min_u64(min_u64(end, grace_end), next_window));
		struct timespec ts = {.tv_sec = (time_t)(wake / NS_PER_S),
		                      .tv_nsec = (long)(wake % NS_PER_S)};

		/* A signal cuts the sleep short (EINTR): *stop is seen at once
		 * (or within CHECK_EVERY_NS, if it came just before the sleep). */
		if (!*stop || (*stop == SG_STOP_GRACE && s->opts->launched)) {
			if (s->pyperf)
				err = sg_pyperf_wait(s->pyperf, wake);
			else
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			if (err)
				break;
		}
		s->now_ns = now_ns(CLOCK_MONOTONIC);
		if (*stop == SG_STOP_GRACE && s->opts->launched && grace_end == UINT64_MAX)
			grace_end = s->now_ns + (uint64_t)(s->opts->grace_s * NS_PER_S);
		if (*stop && (*stop != SG_STOP_GRACE || !s->opts->launched)) {
			end_run(s, SG_END_STOPPED, "stopped on request after %.2f s%s",
			        since_start_s(s),
			        s->opts->launched ? "; the program was sent SIGTERM" : "");
			break;
		}
		if (s->now_ns >= grace_end) {
			end_run(
			    s, SG_END_STOPPED,
			    "the program had not ended %.1f s after Ctrl-C and was sent SIGTERM",
			    s->opts->grace_s);
			break;
		}
		if (s->now_ns >= end) {
			end_run(s, SG_END_DURATION, "stopped after %.2f s (--duration)%s",
			        since_start_s(s),
			        s->opts->launched ? "; the program was sent SIGTERM" : "");
			break;
		}
		/* Before this tick's samples, which belong to the next window. */
		if (s->now_ns >= next_window) {
			err = cut_window(s, next_window);
			if (err)
				break;
			/* Windows missed while we were stopped stay empty gaps. */
			next_window += window;
			if (next_window <= s->now_ns)
				next_window += (s->now_ns - next_window) / window * window + window;
		}
		if (s->now_ns >= next_check) {
			err = check_targets(s, &next_discover);
			if (err || s->ended)
				break;
			next_check = s->now_ns + (following(s) ? FOLLOW_EVERY_NS : check_every);
			if (s->now_ns >= next_progress) {
				next_progress = s->now_ns + progress_every;
				report_progress(s);
			}
		}
		if (s->pyperf) {
			err = read_clocked(s);
			if (err)
				break;
			continue;
		}
		/* The CPU clock gave way to the timer (a child's events would not
		 * open): ticks from now. */
		if (deadline == UINT64_MAX) {
			tick = (s->now_ns - start) / s->period_ns + 1;
			deadline = tick_deadline(s, tick);
		}
		if (s->now_ns < deadline)
			continue;
		err = sample_all(s);
		if (err)
			break;
		s->stats->ticks++;
		/* Fell behind by whole periods: skip them rather than bunch up. */
		tick++;
		slots = (now_ns(CLOCK_MONOTONIC) - start) / s->period_ns;
		if (slots > tick)
			tick = slots;
		deadline = tick_deadline(s, tick);
	}
	s->stats->wall_s = (double)(now_ns(CLOCK_MONOTONIC) - start) / NS_PER_S;
	/* Every period of the run is a tick kept or missed, however it was
	 * missed (late, or we were stopped): the two add up with the rate. */
	slots = (uint64_t)(s->stats->wall_s * NS_PER_S) / s->period_ns;
	s->stats->ticks_missed = slots > s->stats->ticks ? slots - s->stats->ticks : 0;
	if (s->pyperf) {
		/* A clock of CPU time misses no tick; what it lost is counted. */
		s->stats->ticks_missed = 0;
		s->stats->cpu_clock = true;
	}
	return err;
}

static int first_error(struct sampler *s, char *why, size_t whylen)
{
	struct proc *first = s->procs[0];

	if (s->found_python)
		return 0;
	if (first->open_err && first->open_err != SG_ENOTPY && first->open_err != SG_ENOPROC) {
		snprintf(why, whylen, "%s", first->why);
		return first->open_err;
	}
	if (s->opts->launched)
		snprintf(why, whylen, "%s; no CPython was found in it (pid %d, it ran %s)",
		         s->stats->end_note, (int)first->pid, first->exe[0] ? first->exe : "?");
	else
		snprintf(why, whylen, "%s",
		         first->why[0] ? first->why : "no CPython process was found");
	return SG_ENOTPY;
}

int sg_sampler_run(pid_t pid, const struct sg_sampler_opts *opts, struct sg_profile *p,
                   struct sg_sampler_stats *stats, volatile sig_atomic_t *stop, char *why,
                   size_t whylen)
{
	struct sampler s = {.opts = opts, .profile = p, .stats = stats};
	struct rlimit fds;
	uint64_t cpu_start;
	int err;

	memset(stats, 0, sizeof(*stats));
	sg_u64map_init(&s.renames);
	/* Two descriptors kept open per thread followed: as many as allowed. */
	if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
		fds.rlim_cur = fds.rlim_max;
		setrlimit(RLIMIT_NOFILE, &fds);
	}
	stats->exit_status = -1;
	s.meta = sg_profile_meta(p);
	s.meta->mode = opts->mode;
	s.meta->rate_asked_hz = opts->rate_hz;
	s.meta->memory = opts->memory;
	s.meta->by_process = opts->subprocesses;
	s.period_ns = (uint64_t)(NS_PER_S / opts->rate_hz);
	if (s.period_ns == 0)
		s.period_ns = 1;
	s.rng = now_ns(CLOCK_REALTIME) ^ ((uint64_t)pid << 32) ^ 0x9e3779b97f4a7c15ull;
	s.max_depth = opts->max_depth ? opts->max_depth : SG_PYWALK_MAX_DEPTH;
	s.raw = malloc(s.max_depth * sizeof(*s.raw));
	s.stack = malloc((s.max_depth + 1) * sizeof(*s.stack));
	s.entry = malloc((s.max_depth + 1) * sizeof(*s.entry));
	s.now_ns = now_ns(CLOCK_MONOTONIC);
	s.begin_ns = s.now_ns;

	err = !s.raw || !s.stack || !s.entry ? SG_ENOMEM : 0;
	if (!err)
		err = sg_profile_set_budget(p, SG_SAMPLER_CODE_BUDGET);
	if (!err && opts->native) {
		s.uframes = malloc(NATIVE_MAX_UNWIND * sizeof(*s.uframes));
		s.py = malloc((s.max_depth + 1) * sizeof(*s.py));
		err = !s.uframes || !s.py ? SG_ENOMEM : sg_syms_new(&s.syms);
	}
	if (!err && opts->clock == SG_CLOCK_CPU && opts->mode == SG_MODE_CPU) {
		if (opts->gil)
			snprintf(stats->clock_note, sizeof(stats->clock_note),
			         "--gil: the GIL's holder is sampled on the timer");
		/* The RSS is read at even times, and given to whoever holds
		 * the GIL then, which a clock of one thread's CPU does not
		 * sample. */
		else if (opts->memory)
			snprintf(stats->clock_note, sizeof(stats->clock_note),
			         "--memory: the RSS is read on the timer");
		else
			err = sg_pyperf_new(opts->rate_hz, opts->native, &s.pyperf);
	}
	if (!err)
		err = add_proc(&s, pid);
	if (!err && s.procs[0]->state == PROC_DONE)
		err = SG_ENOPROC;
	if (!err && !opts->launched && sg_procid_alive(&s.procs[0]->id))
		err = SG_ENOPROC;
	if (!err)
		err = discover(&s, true);
	if (!sg_proc_describe_error(pid, err, why, whylen) && err && s.nprocs)
		snprintf(why, whylen, "%s", s.procs[0]->why);
	/* Our cost per sample is the loop's; finding the interpreter (reading
	 * ELF files once) is a start-up cost, reported apart. */
	cpu_start = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	stats->setup_cpu_s = (double)cpu_start / NS_PER_S;
	s.start_ns = s.window_ns = s.origin_ns = now_ns(CLOCK_MONOTONIC);
	s.start_unix_ns = now_ns(CLOCK_REALTIME);
	if (opts->resume.start_ns) {
		s.origin_ns = s.begin_ns = opts->resume.start_ns;
		s.window_ns = opts->resume.window_ns;
		s.start_unix_ns = opts->resume.start_unix_ns + (s.start_ns - s.origin_ns);
	}
	if (!err)
		err = run_loop(&s, stop);
	if (!err)
		err = first_error(&s, why, whylen);
	if (close_window(&s, s.start_ns + (uint64_t)(stats->wall_s * NS_PER_S)) && !err)
		err = SG_ENOMEM;
	stats->began = (struct sg_sampler_began){
	    .start_ns = s.origin_ns,
	    .start_unix_ns = s.start_unix_ns - (s.start_ns - s.origin_ns),
	    .window_ns = s.window_ns,
	};
	sg_u64map_release(&s.renames);
	if (err == SG_ENOMEM)
		snprintf(why, whylen, "out of memory");

	stats->cpu_s = (double)(now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) / NS_PER_S;
	if (opts->launched && s.nprocs && stats->exit_status == -1 &&
	    stats->end != SG_END_NOT_PYTHON)
		sg_launch_stop(pid, 1000);
	for (size_t i = 0; i < s.nprocs; i++)
		proc_free(s.procs[i]);
	sg_pyperf_free(s.pyperf);
	free(s.procs);
	free(s.raw);
	free(s.stack);
	free(s.entry);
	sg_syms_free(s.syms);
	free(s.uframes);
	free(s.nat);
	free(s.py);
	free(s.merged.ids);
	return err;
}
