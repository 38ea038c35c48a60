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

enum sg_frame_type {
	SG_FRAME_PYTHON,
	SG_FRAME_NATIVE,
	SG_FRAME_KERNEL,
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
 * `weight_ns` nanoseconds (of CPU in cpu mode, of wall time in wall mode). */
struct sg_sample {
	uint32_t stack;
	struct sg_labels labels;
	uint64_t count;
	uint64_t weight_ns;
};

enum sg_mode {
	SG_MODE_CPU,
	SG_MODE_WALL,
};

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
	uint64_t samples;       /* samples taken (one per thread per tick) */
	uint64_t dropped;       /* samples lost, with reasons counted below */
	uint64_t dropped_torn;  /* memory changed under the walk, retries exhausted */
	uint64_t dropped_read;  /* memory could not be read */
	uint64_t dropped_depth; /* stack deeper than the walk allows */
	/* How the run was asked to be shown; writers default to these. */
	bool by_thread;  /* --threads: a root per thread */
	bool by_process; /* --subprocesses: a root per process */
};

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

/* The timeline, in the order runs started per thread (threads interleaved).
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

/* Sum of count over all rows. */
uint64_t sg_profile_total(const struct sg_profile *p);

#endif
