/* SPDX-License-Identifier: MIT */
#ifndef SG_SAMPLER_SAMPLER_H
#define SG_SAMPLER_SAMPLER_H

/*
 * When and how often: the loop that samples one target (and, if asked, its
 * descendants) on absolute deadlines until it exits, the duration runs out
 * or *stop is set, and records every sample into a profile.
 *
 * The loop sleeps until the next deadline, the end of the duration, or the
 * next look at the target, whichever comes first: the duration is wall time
 * and an exit is seen within 10 ms (or check_s) whatever the rate. For ~130 ms after the
 * main target starts or execs, until it is found to be CPython, it is
 * looked at every millisecond, so the exec chain of a launcher (a pyenv
 * shim: sh, then pyenv, then python) is followed from its first moments.
 *
 * Deadlines are start + k * period plus a small random jitter, so the
 * schedule neither drifts when a sample runs long nor locks step with
 * periodic work in the target. Ticks that could not be kept are skipped,
 * not bunched up, and show as a lower achieved rate.
 */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "native/unwind.h"
#include "profile/profile.h"

/* Values of *stop. */
#define SG_STOP_GRACE 1 /* Ctrl-C: a launched program got it too; let it end */
#define SG_STOP_NOW   2 /* end the run now */

struct sg_sampler_progress {
	double elapsed_s;
	double duration_s; /* as asked, 0 for none */
	uint64_t samples, dropped;
	uint64_t ticks; /* deadlines kept so far */
	double rate_hz; /* ticks kept per second so far */
};

/* Thread names a profile holds while a run goes on, for threads whose
 * Python name is not known yet: this prefix, then a number. The end of the
 * run renames them (to the kernel's name of the thread at worst). */
#define SG_SAMPLER_UNNAMED "\x01unnamed thread "

/* The recording's budget for distinct names, frames and stacks
 * (sg_profile_set_budget): a target that keeps making code under fresh
 * names (exec, generated functions) does not grow the profile past it;
 * with the timeline's 32 MiB (SG_PROFILE_MAX_RUNS) what a run of any
 * length holds. */
#define SG_SAMPLER_CODE_BUDGET ((size_t)128 << 20)

/* What makes a sample in cpu mode. */
enum sg_sampler_clock {
	SG_CLOCK_TIMER, /* wake every period, sample the threads in state R */
	SG_CLOCK_CPU,   /* a thread's own CPU time: sampled per period of CPU
	                 * it used, through perf_events (sampler/pyperf.h);
	                 * the timer where they are not allowed, or with --gil */
};
struct sg_perfsampler_early;

struct sg_sampler_opts {
	double rate_hz;    /* > 0 */
	double duration_s; /* 0: until the target exits or *stop */
	enum sg_mode mode; /* cpu: threads on a CPU only; wall: every thread */
	bool gil;          /* only the thread holding the GIL */
	bool function;     /* frames by function (first line), not by line */
	bool subprocesses; /* also sample descendants, as they appear */
	/* Also read each process's RSS every tick (target/proc.h sg_rss) and
	 * add its changes to the row of the thread holding the GIL then
	 * (sg_profile_add_memory); the main target's RSS over time goes to
	 * the profile's series (sg_profile_add_rss). Sets meta.memory. */
	bool memory;
	bool launched;  /* we started pid: reap it, stop it when done */
	double grace_s; /* after SG_STOP_GRACE, how long a launched program
	                 * may take to end before it is sent SIGTERM */
	/* Called from the loop about every progress_every_s (0: a quarter
	 * second; no more often than the targets are looked at, check_s),
	 * between ticks, if set: the sampler reports, the caller decides
	 * whether and how to show it. The profile is consistent then and may
	 * be read (not changed); the time the call takes is the sampler's,
	 * and ticks it makes late are missed. */
	void (*progress)(void *ctx, const struct sg_sampler_progress *progress);
	void *progress_ctx;
	double progress_every_s;
	size_t max_depth; /* frames kept per sample, >= 2; 0: SG_PYWALK_MAX_DEPTH.
	                     Deeper stacks keep both ends, and a frame
	                     "[N frames omitted]" between them */
	/* Windows, when window_s > 0: at every window_s of the run, window()
	 * is called from the loop with the profile of the window just ended
	 * (its meta has the window's start, duration, counters and achieved
	 * rate; borrowed for the call), which is then emptied with
	 * sg_profile_clear for the next, so memory follows what one window
	 * holds, not the run's length. Windows are back to back, on a grid
	 * from the start; the last one is what the profile holds when
	 * sg_sampler_run returns. The callback should be quick: sampling
	 * waits for it. */
	double window_s;
	/* How often, between ticks, the targets are looked at for having
	 * exited or exec'd; 0: every 10 ms. An agent that follows many
	 * processes at a low rate asks for less: each look costs a read. */
	double check_s;
	void (*window)(void *ctx, struct sg_profile *p);
	void *window_ctx;
	/* A launched target never seen as CPython once its probes are spent
	 * (nor any of its descendants, with subprocesses), or one that ran
	 * CPython and exec'd a program that is not (when no descendant
	 * followed is CPython): end at once with SG_ENOTPY and stats.end
	 * SG_END_NOT_PYTHON, leaving it running for sg_perfsampler_run. In
	 * sg_perfsampler_run: a launched target that execs CPython ends the
	 * run with stats.end SG_END_EXEC_PYTHON, left running for
	 * sg_sampler_run. */
	bool native_fallback;
	/* A run that goes on from one of those hand-overs into the same
	 * profile: when resume.start_ns is set, the run is taken to have begun
	 * then, and its current window at resume.window_ns (both as the run
	 * handed over left them in stats.began), so the duration, the windows,
	 * the timeline and the end's note count from there. */
	struct sg_sampler_began {
		uint64_t start_ns;      /* monotonic */
		uint64_t start_unix_ns; /* the same moment, on the wall clock */
		uint64_t window_ns;     /* monotonic start of the window being filled */
	} resume;
	enum sg_unwind_method unwind; /* native targets (sg_perfsampler_run) */
	enum sg_sampler_clock clock;  /* Python targets in cpu mode */
	/* record --native (Python targets, CPU clock): each sample's native
	 * stack too, from the kernel's copy of the user stack, unwound by DWARF
	 * CFI and merged with the Python frames (merge.h); native_all keeps the
	 * interpreter's calling machinery that is otherwise folded. */
	bool native;
	bool native_all;
	/* A launched target's perf_events, opened before its exec
	 * (perfsampler.h), or NULL: closed as soon as CPython is found in it,
	 * else sg_perfsampler_run reads them from the exec on. */
	struct sg_perfsampler_early *early;
};

/* How a run ended. */
enum sg_sampler_end {
	SG_END_EXITED,      /* the target exited (exit_status says how, when launched) */
	SG_END_EXECED,      /* the attached target exec'd a program that is not CPython */
	SG_END_DURATION,    /* the duration ran out; a launched program was stopped */
	SG_END_STOPPED,     /* *stop; a launched program was stopped */
	SG_END_NOT_PYTHON,  /* native_fallback: handed over, still running */
	SG_END_EXEC_PYTHON, /* native_fallback, sg_perfsampler_run: exec'd
	                     * CPython, handed back, still running */
};

/* What the sampler itself measured, for the summary. */
struct sg_sampler_stats {
	uint64_t ticks;        /* deadlines kept */
	uint64_t ticks_missed; /* deadlines skipped because we fell behind (or were
	                        * stopped): ticks + ticks_missed = wall_s * rate */
	uint64_t retries;      /* walks retried after a torn read */
	double cpu_s;          /* our CPU time (user + system) while sampling */
	double setup_cpu_s;    /* our CPU time before: finding the interpreter */
	double wall_s;         /* length of the run */
	int exit_status;       /* a launched target's wait status, -1 unknown */
	enum sg_sampler_end end;
	char end_note[384];            /* one line saying how the run ended, for the user */
	struct sg_sampler_began began; /* for a run that goes on (opts->resume) */
	/* Python targets in cpu mode: */
	bool cpu_clock;          /* sampled by the CPU clock (ticks: its samples) */
	uint64_t cpu_sampled_ns; /* the CPU clock's samples' weights: the CPU they cover */
	/* Of that, the CPU of threads that ended before any of their samples
	 * found a Python stack: in the total, in no row. */
	uint64_t cpu_unattributed_ns;
	char clock_note[600]; /* why the timer ran when the CPU clock was
	                       * asked; "" otherwise */
	/* opts.native on a Python target: samples whose native and Python
	 * stacks were merged, and those kept with an "[unmatched]" frame
	 * (merge.h), and how many of those were so because the native stack
	 * was deeper than its copy. All 0 when the CPU clock did not run. */
	uint64_t native_merged, native_unmatched, native_cut;
	/* One line naming an interpreter whose eval loop has no symbol, whose
	 * samples are all unmatched; "" when every one had it. */
	char native_note[700];
	/* Native targets (sg_perfsampler_run) only: */
	bool native;            /* sampled through perf_events */
	bool kernel_frames;     /* kernel stacks were allowed */
	uint64_t lost;          /* samples the kernel could not hand us (CPU clock too) */
	uint64_t dwarf_unwound; /* samples whose user stack was unwound by DWARF CFI */
	/* Wall mode: time threads spent off their CPU, in how many stretches,
	 * and "" or one line saying why their stacks are not known. */
	double offcpu_s;
	uint64_t offcpu_stretches;
	char offcpu_note[256];
};

/*
 * Sample pid into p (whose meta is filled too) until done. Returns 0 once a
 * run ended normally, even with no samples (a launched CPython that ended
 * before its first tick); or a negative sg_err with one line for the user in
 * why: the target is not (or never became) CPython, its version is not
 * supported, we may not read it. A launched program still running at the
 * end is sent SIGTERM (SIGKILL a second later) and reaped.
 */
int sg_sampler_run(pid_t pid, const struct sg_sampler_opts *opts, struct sg_profile *p,
                   struct sg_sampler_stats *stats, volatile sig_atomic_t *stop, char *why,
                   size_t whylen);

#endif
