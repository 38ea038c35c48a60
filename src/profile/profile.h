/* SPDX-License-Identifier: MIT */
#ifndef SG_PROFILE_PROFILE_H
#define SG_PROFILE_PROFILE_H

/*
 * What was seen: the one model every writer reads and every reader fills.
 *
 * Strings, frames and stacks are interned, and samples with the same stack
 * and labels are aggregated, so memory grows with what is distinct, not with
 * how long the run was. Ids are dense indices, stable for the life of the
 * profile; id 0 of the string table is "" and means "none".
 *
 * Pointers returned by lookups are borrowed and valid until the next call
 * that adds to the same table (tables may grow and move). Not thread-safe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/u64map.h"

enum sg_frame_type {
	SG_FRAME_PYTHON,
	SG_FRAME_NATIVE,
	SG_FRAME_KERNEL,
	SG_FRAME_JIT, /* code a JIT compiler generated, named by its perf map */
};

struct sg_frame {
	uint32_t name; /* string id: qualified function name */
	uint32_t file; /* string id, 0 when unknown */
	int32_t line;  /* 0 when unknown */
	uint8_t type;  /* enum sg_frame_type */
};

enum sg_sample_flags {
	SG_SAMPLE_IDLE = 1 << 0, /* thread was not running on a CPU */
	SG_SAMPLE_GIL = 1 << 1,  /* thread held the GIL */
};

/* Per-sample labels; aggregation keeps samples with different labels apart. */
struct sg_labels {
	pid_t pid;
	pid_t tid;            /* kernel thread id, 0 when unknown */
	uint32_t thread_name; /* string id */
	uint32_t flags;       /* enum sg_sample_flags */
};

/* One aggregated row: `count` samples of `stack` with `labels`, standing for
 * `weight_ns` nanoseconds (of CPU in cpu mode, of wall time in wall mode).
 * With record --memory (meta.memory), also the bytes the process's RSS grew
 * and shrank between samples while this row's thread held the GIL. */
struct sg_sample {
	uint32_t stack;
	struct sg_labels labels;
	uint64_t count;
	uint64_t weight_ns;
	uint64_t rss_growth; /* bytes */
	uint64_t rss_freed;  /* bytes */
};

/* What a stack weighs in writers that draw one number per stack
 * (sg_write_opts.value): pprof carries them all as sample types. */
enum sg_value {
	SG_VALUE_SAMPLES,    /* count */
	SG_VALUE_RSS_GROWTH, /* rss_growth, bytes */
	SG_VALUE_RSS_FREED,  /* rss_freed, bytes */
};

/* The row's figure for v. */
uint64_t sg_sample_value(const struct sg_sample *s, enum sg_value v);
/* "samples", "rss_growth", "rss_freed": the pprof sample type's name. */
const char *sg_value_name(enum sg_value v);
/* "count" or "bytes": the pprof sample type's unit. */
const char *sg_value_unit(enum sg_value v);
/* The value named name (as sg_value_name), into *v; false when none is. */
bool sg_value_parse(const char *name, enum sg_value *v);

enum sg_mode {
	SG_MODE_CPU,
	SG_MODE_WALL,
	SG_MODE_UNKNOWN, /* read from a file that does not say (collapsed) */
};

/* "cpu", "wall" or "unknown", as every writer that prints the mode says it. */
const char *sg_mode_name(enum sg_mode mode);

/* About the run as a whole. Strings are owned by the profile (set with
 * sg_profile_set_meta_str), never NULL after sg_profile_new (may be ""). */
struct sg_meta {
	char *command;        /* what was profiled, argv joined by spaces */
	char *python_version; /* e.g. "3.12.1", "" when unknown */
	enum sg_mode mode;
	double rate_asked_hz;
	double rate_achieved_hz;
	uint64_t start_unix_ns; /* wall-clock start of the run */
	uint64_t duration_ns;
	uint64_t samples;      /* samples taken (one per thread per tick) */
	uint64_t dropped;      /* samples lost, with reasons counted below */
	uint64_t dropped_torn; /* memory changed under the walk, retries exhausted */
	uint64_t dropped_read; /* memory could not be read */
	uint64_t truncated;    /* kept, but deeper than --max-depth: middle frames left out */
	/* How the run was asked to be shown; writers default to these. */
	bool by_thread;     /* --threads: a root per thread */
	bool thread_groups; /* --threads=group: a root per group of threads */
	bool by_process;    /* --subprocesses: a root per process */
	/* record --memory: rows carry rss_growth/rss_freed and the profile an
	 * RSS series (sg_profile_add_rss); writers default to the growth view. */
	bool memory;
	/* Folders the target imports from (its standard library, its program's
	 * folder), each ending in '/' and followed by '\n'; "" when unknown.
	 * Frames keep whole paths; text writers show them relative to these.
	 * Added to with sg_profile_add_path_root. */
	char *path_roots;
};

/* The frame (a Python frame of that name, no file) that stands for every
 * name, frame and stack new past sg_profile_set_budget's budget. */
#define SG_PROFILE_OVER_BUDGET "[past the profile's budget]"

/* A stretch of one thread's timeline: consecutive samples of the same row
 * (same stack and labels) merged into one. Times are nanoseconds since
 * meta.start_unix_ns; [start_ns, end_ns) covers each sample's period. */
struct sg_run {
	uint32_t row; /* index of the aggregated sample (sg_profile_sample) */
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t count;
};

struct sg_profile;

/* A new, empty profile, or NULL when out of memory. Free with sg_profile_free. */
struct sg_profile *sg_profile_new(void);
/* Frees everything the profile owns. Accepts NULL. */
void sg_profile_free(struct sg_profile *p);

struct sg_meta *sg_profile_meta(struct sg_profile *p);
const struct sg_meta *sg_profile_meta_const(const struct sg_profile *p);
/* Replace *field (one of the char* in meta) with a copy of value. 0 or SG_ENOMEM. */
int sg_profile_set_meta_str(struct sg_profile *p, char **field, const char *value);

/* Add dir (a '/' is appended when it has none) to meta.path_roots unless
 * it is there already. Directories holding a newline, and relative ones,
 * are left out: they cannot be listed or matched. 0 or SG_ENOMEM. */
int sg_profile_add_path_root(struct sg_profile *p, const char *dir);
/* How file is shown to people, as py-spy shows it: relative to the folder
 * it was imported from, i.e. past the longest of meta.path_roots that
 * starts it, or past its last "/site-packages/" or "/dist-packages/",
 * whichever leaves less. A suffix of file (borrowed), never empty; file
 * itself when nothing matches. */
const char *sg_profile_short_file(const struct sg_profile *p, const char *file);

/* Intern len bytes (need not be NUL-terminated). Returns the id, or
 * UINT32_MAX when out of memory. The empty string is id 0. */
uint32_t sg_profile_intern(struct sg_profile *p, const char *s, size_t len);
/* The NUL-terminated string for id (borrowed). */
const char *sg_profile_str(const struct sg_profile *p, uint32_t id);

/* Intern a frame; returns its id or UINT32_MAX when out of memory. */
uint32_t sg_profile_frame_id(struct sg_profile *p, const struct sg_frame *f);
const struct sg_frame *sg_profile_frame(const struct sg_profile *p, uint32_t id);
size_t sg_profile_nframes(const struct sg_profile *p);

/* Intern a stack of n frame ids, ROOT FIRST. Returns its id, or UINT32_MAX
 * when out of memory or when a frame id does not exist. */
uint32_t sg_profile_stack_id(struct sg_profile *p, const uint32_t *frames, size_t n);
/* The frames of a stack, root first; *n receives the depth. */
const uint32_t *sg_profile_stack(const struct sg_profile *p, uint32_t id, size_t *n);
size_t sg_profile_nstacks(const struct sg_profile *p);

/*
 * Bound the profile's distinct names (a quarter of bytes), frames (a
 * quarter) and stacks (half), for a recording whose target keeps making
 * code: past its share, each new one is SG_PROFILE_OVER_BUDGET (its
 * string, its frame, a stack of that one frame), and what was there before
 * is still found. Samples are never dropped for it. 0 or SG_ENOMEM.
 */
int sg_profile_set_budget(struct sg_profile *p, size_t bytes);
/* How many new names, frames and stacks the budget turned away. */
uint64_t sg_profile_refused(const struct sg_profile *p);

/* Add count samples (weight_ns in total) to the row for (stack, labels).
 * Returns 0, SG_ENOMEM, or SG_EUSAGE when stack does not exist. */
int sg_profile_add(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                   uint64_t count, uint64_t weight_ns);

/* Like sg_profile_add, and also note on the thread's timeline that the
 * samples were taken at t_ns (since meta.start_unix_ns) and cover weight_ns
 * from there. A thread's calls must come in time order. The sample extends
 * the thread's last run when that run has the same row and ends no earlier
 * than half a period (weight_ns / count) before t_ns; otherwise it starts a
 * new run. */
int sg_profile_add_at(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                      uint64_t count, uint64_t weight_ns, uint64_t t_ns);

/* One sample, as sg_profile_add_at, that covers period_ns of the timeline
 * but weighs weight_ns: in cpu mode, the CPU time its thread used, which a
 * thread waiting for a core does not use while time passes. */
int sg_profile_add_sample(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                          uint64_t weight_ns, uint64_t t_ns, uint64_t period_ns);

/* Like sg_profile_add, and also append to the thread's timeline a run of
 * exactly [start_ns, end_ns) (end_ns >= start_ns), never merged with the
 * previous one: for readers of files that give runs as they were. A
 * thread's calls must come in time order. */
int sg_profile_add_run(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                       uint64_t count, uint64_t weight_ns, uint64_t start_ns, uint64_t end_ns);

/* Relabel the samples of threads whose name was learnt late: every row
 * whose thread_name is a key of names (string id -> string id) takes the
 * name it maps to, merged into the row that already has that name if any
 * (left with no samples, which writers skip); the timeline follows. Runs
 * in O(rows + runs): call it once, when sampling is done. 0 or SG_ENOMEM. */
int sg_profile_rename_threads(struct sg_profile *p, const struct sg_u64map *names);

/*
 * The timeline's budget: when it holds SG_PROFILE_MAX_RUNS runs (32 bytes
 * each, 32 MiB in all), its older detail is coarsened so that memory stays
 * put however long the run is: on a time grid (1 us, doubled until half the
 * budget is free), the runs of a thread and row within one cell of the grid
 * become one, and a cell's runs are laid end to end over the time the cell's
 * runs covered, each as long as its share of the cell's samples. Counts stay
 * exact; only where in its cell a sample fell is lost. A timeline that
 * cannot shrink so (more rows than half the budget) grows with the rows.
 * Coarsening takes time linear in the runs, within the call that fills
 * the budget (NEEDSWORK: spread it over calls, so the sampler never waits
 * for it), and a copy of the runs while it works.
 */
#define SG_PROFILE_MAX_RUNS ((size_t)1 << 20)

/* The grid the timeline was coarsened to (ns), 0 when it never was. */
uint64_t sg_profile_timeline_grid(const struct sg_profile *p);

/* The timeline, in the order runs started per thread (threads interleaved)
 * until it is coarsened, then by cell of the grid.
 * Empty when the profile came from a source without times (collapsed);
 * otherwise the runs of each row add up to its count. */
size_t sg_profile_nruns(const struct sg_profile *p);
const struct sg_run *sg_profile_run(const struct sg_profile *p, size_t i);

/* Aggregated rows, in first-seen order. */
size_t sg_profile_nsamples(const struct sg_profile *p);
const struct sg_sample *sg_profile_sample(const struct sg_profile *p, size_t i);
/* Name a process, for "process PID: COMMAND" roots. 0 or SG_ENOMEM. */
int sg_profile_set_process(struct sg_profile *p, pid_t pid, const char *command);
/* The command of pid (borrowed), "" when unknown. */
const char *sg_profile_process(const struct sg_profile *p, pid_t pid);

/* Empty p of its samples, timeline, strings, frames and stacks, keeping
 * what describes the run (command, Python version, mode, rate asked, path
 * roots, the --threads/--subprocesses flags, process names); counters and
 * times are zeroed. Memory held is then what the next part of the run
 * adds: how a long run is cut into windows. 0, or SG_ENOMEM with p
 * unchanged. */
int sg_profile_clear(struct sg_profile *p);

/* Add src's rows and timeline to dst, re-interned: src's runs move by the
 * time between the two starts (meta.start_unix_ns), so parts of a run are
 * merged in the order they started. An empty dst takes src's start and
 * mode. Counters add up; the duration spans both. 0, SG_ENOMEM (dst may
 * hold part of src), or SG_EUSAGE when src starts before dst. */
int sg_profile_merge(struct sg_profile *dst, const struct sg_profile *src);
/* sg_profile_merge of src's samples of threads on a CPU (without
 * SG_SAMPLE_IDLE) only, as a cpu-mode profile: a wall-mode window's cpu
 * view, each sample weighing its period. */
int sg_profile_merge_on_cpu(struct sg_profile *dst, const struct sg_profile *src);

/*
 * Memory (record --memory). sg_profile_add_memory adds growth and freed
 * bytes to the row for (stack, labels), created with no samples if new.
 *
 * The RSS over time: each point covers one or more reads, with the lowest
 * and highest RSS among them (bytes) and the time of its first read (ns
 * since meta.start_unix_ns). At SG_PROFILE_MAX_RSS_POINTS, neighbours are
 * merged in pairs and each point covers twice as many reads from then on,
 * so the series stays evenly spaced and keeps its envelope however long
 * the run. Reads must come in time order.
 */
#define SG_PROFILE_MAX_RSS_POINTS 1024

struct sg_rss_point {
	uint64_t t_ns;
	uint64_t min_bytes, max_bytes;
};

int sg_profile_add_memory(struct sg_profile *p, uint32_t stack, const struct sg_labels *labels,
                          uint64_t growth, uint64_t freed);
/* One RSS read of bytes at t_ns. 0 or SG_ENOMEM. */
int sg_profile_add_rss(struct sg_profile *p, uint64_t t_ns, uint64_t bytes);
/* A point as it was (readers of saved series): appended unmerged, unless
 * the series is full, then as sg_profile_add_rss would. 0 or SG_ENOMEM. */
int sg_profile_add_rss_point(struct sg_profile *p, const struct sg_rss_point *pt);
size_t sg_profile_nrss(const struct sg_profile *p);
const struct sg_rss_point *sg_profile_rss(const struct sg_profile *p, size_t i);

/* Sum of count over all rows. */
uint64_t sg_profile_total(const struct sg_profile *p);

#endif
