/* SPDX-License-Identifier: MIT */
#ifndef SG_TARGET_PERF_H
#define SG_TARGET_PERF_H

/*
 * The kernel's sampler: perf_events on one target's threads.
 *
 * Every thread of the target (as /proc/PID/task lists it) gets one software
 * cpu-clock event per online CPU, with inherit set, so the threads and
 * children it creates from then on are covered by the kernel itself; all
 * events of one CPU write into one mmap'd ring buffer (PERF_EVENT_IOC_SET_
 * OUTPUT), as `perf record -p` does. cpu-clock is a timer, so it works in
 * VMs without hardware counters; a thread is sampled each time it has used
 * one period of CPU, so an idle target costs nothing.
 *
 * Each sample carries the thread, a CLOCK_MONOTONIC time, the kernel's
 * frame-pointer callchain (kernel part only where allowed), the user
 * registers and a copy of the top of the user stack (for DWARF unwinding
 * after the fact). MMAP2, COMM, FORK and EXIT records say which file is
 * mapped where and which threads come and go.
 *
 * Off-CPU (opts.offcpu): SWITCH records say when each thread leaves and
 * regains a CPU, and where the kernel's samples are allowed a second event,
 * the software context-switches event sampled at every switch (the hook
 * sched:sched_switch sits next to in the scheduler, without needing
 * tracefs), records the stack a thread leaves its CPU with.
 *
 * The target is never stopped and never written to. Not thread-safe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sg_perf_opts {
	double rate_hz;       /* samples per second of CPU per thread, > 0 */
	uint32_t stack_bytes; /* user stack copied per sample: a multiple of 8
	                       * up to 65528, or 0 for none (no registers either) */
	bool no_callchain;    /* leave the kernel's callchain out */
	bool wake_each;       /* wake a waiting reader at every record (a
	                       * watermark of 1 byte), not when a buffer is half
	                       * full: for a reader that must look at the thread at
	                       * once, or open a new thread's events */
	bool offcpu;          /* SWITCH records, and switch-out samples if allowed */
	/* pid is a child of ours held before its exec (sg_launch_held): the
	 * events count from its exec on (enable_on_exec), so every thread and
	 * child it will have is covered by inherit and sg_perf_track does
	 * nothing. */
	bool on_exec;
	/* Draw each thread's next period anew at each of its samples,
	 * uniformly within half a period either side of 1/rate_hz, each
	 * sample weighed by the CPU its thread used since the one before
	 * (sample.weight_ns): a fixed
	 * period locks onto a program whose work repeats in a multiple of it
	 * (slices of 10, 6 and 4 ms sampled every 10 ms of CPU hit the same
	 * two places forever). The kernel cannot change an inherited event's
	 * period, so every thread gets events of its own, opened as its
	 * FORK record is read and closed at its EXIT record; none inherit.
	 * Such a new thread's first period is an eighth of one, its first
	 * sample holds the CPU it used before, and its EXIT record the CPU
	 * after its last sample (task.unsampled_ns): a thread-per-request
	 * server's threads, each living about a period, had half their CPU
	 * in no sample. Not with on_exec. */
	bool dither;
};

/* What one record holds. Pointers are borrowed: they point into the ring
 * buffer (or a scratch copy of a record that wrapped around its end) and
 * are valid only during the callback that receives the record. */
struct sg_perf_record {
	uint32_t type; /* PERF_RECORD_* */
	uint16_t misc; /* header.misc: PERF_RECORD_MISC_* */
	uint32_t pid, tid;
	uint64_t time_ns; /* CLOCK_MONOTONIC */
	uint64_t id;      /* the event's, with PERF_SAMPLE_IDENTIFIER; else 0 */
	union {
		struct {
			const uint64_t *ips; /* callchain, with PERF_CONTEXT_* markers */
			uint64_t nips;
			uint64_t abi;         /* PERF_SAMPLE_REGS_ABI_*, 0: no registers */
			const uint64_t *regs; /* nregs values, in sg_perf_regs order */
			uint32_t nregs;
			const uint8_t *stack; /* stack_size bytes from the user sp up */
			uint64_t stack_size;
			/* Set by sg_perf_read: taken as the thread left its
			 * CPU (opts.offcpu), not by cpu-clock. */
			bool switch_out;
			/* With opts.dither (PERF_SAMPLE_READ): the event's
			 * count, the thread's CPU ns there, at the sample. */
			uint64_t count;
			/* Set by sg_perf_read: the CPU ns this sample stands
			 * for (0 for a switch-out), the period or, with opts.dither, the CPU the
			 * thread used on this CPU since its previous sample
			 * there (periods drawn at random, and the time to our
			 * wake-up, make these uneven); a thread's first sample
			 * also holds what it used before its events were
			 * opened, when it began while we ran. */
			uint64_t weight_ns;
		} sample;
		struct {
			uint64_t addr, len, pgoff;
			uint32_t prot, flags;
			const char *filename; /* NUL-terminated */
		} mmap;
		struct {
			const char *comm; /* NUL-terminated */
		} comm;
		struct {
			uint32_t ppid, ptid;
			/* Set by sg_perf_read on a thread's EXIT, with
			 * opts.dither: the CPU ns of the thread that none of
			 * its samples' weights holds (used since its last
			 * sample on each CPU, or all of it if it had none). */
			uint64_t unsampled_ns;
		} task; /* PERF_RECORD_FORK and _EXIT; pid and tid above */
		struct {
			uint64_t lost;
		} lost;
	};
};

/*
 * Decode the record of len bytes at buf (8-byte aligned, header first), as
 * written for events opened with sample_type (PERF_SAMPLE_TID | TIME |
 * CALLCHAIN, and REGS_USER | STACK_USER when regs_mask is nonzero, and
 * IDENTIFIER) and sample_id_all. PERF_RECORD_SWITCH comes back with its
 * misc (PERF_RECORD_MISC_SWITCH_OUT, _OUT_PREEMPT) and sample id. Every length inside is checked
 * against len: the bytes are the kernel's, but a parser this exact is cheap and can be fuzzed.
 * Returns 0, or SG_ECORRUPT (out is then unspecified). Record types it does
 * not decode come back with only type and misc set.
 */
int sg_perf_parse(const void *buf, size_t len, uint64_t sample_type, uint64_t regs_mask,
                  struct sg_perf_record *out);

/* The user registers a sample carries (PERF_REG_X86_* bits), and how many
 * there are; the order of the values is that of the bits. */
uint64_t sg_perf_regs_mask(void);

struct sg_perf;

/*
 * Open events on every thread of pid and enable them. Returns 0 and a handle
 * (free with sg_perf_free), or a negative sg_err with one line for the user
 * in why: SG_EPERM when perf_events are not allowed (the line names
 * perf_event_paranoid, CAP_PERFMON and CAP_SYS_ADMIN), SG_ENOPROC, SG_ENOSYS
 * (no perf_events in this kernel), SG_ENOMEM. *kernel says whether kernel
 * frames are recorded (they are left out, not failed, when not allowed).
 */
int sg_perf_open(pid_t pid, const struct sg_perf_opts *opts, struct sg_perf **out, bool *kernel,
                 char *why, size_t whylen);
void sg_perf_free(struct sg_perf *perf);

/* Close every event (what was not read is dropped): the handle then reads
 * nothing and waits for nothing, until sg_perf_free. For events opened
 * early on a launched program that turned out to be CPython. */
void sg_perf_close(struct sg_perf *perf);

/* With opts.offcpu: "" when switch-out samples carry stacks, otherwise one
 * line saying why not (the off-CPU time is then known without its stack). */
const char *sg_perf_offcpu_note(const struct sg_perf *perf);

/* Open events on threads of the target that are not yet covered (neither
 * opened nor seen in a FORK record): threads created while we opened. Cheap
 * enough to call a few times a second. 0 or SG_ENOMEM. */
int sg_perf_track(struct sg_perf *perf);

/*
 * Hand every record written since the last call to fn, across CPUs in time
 * order, then release their space to the kernel. Each record is read where
 * it lies except one that wraps around its buffer's end, which is copied
 * once. Stops early with fn's nonzero return, which it returns (the records
 * are released anyway); SG_ECORRUPT when a buffer holds a record that does
 * not parse (that buffer's data is skipped).
 */
typedef int (*sg_perf_fn)(void *ctx, const struct sg_perf_record *rec);
int sg_perf_read(struct sg_perf *perf, sg_perf_fn fn, void *ctx);

/* Wait up to timeout_ms for a buffer to be half full (or, with wake_each,
 * for a sample). 0 or SG_EIO. */
int sg_perf_wait(struct sg_perf *perf, int timeout_ms);

/* The descriptors to poll for POLLIN, to wait on several handles at once:
 * up to max into fds (events set, revents 0); returns how many there are. */
struct pollfd;
size_t sg_perf_pollfds(const struct sg_perf *perf, struct pollfd *fds, size_t max);

/* Samples the kernel could not write (full buffers), from PERF_RECORD_LOST
 * and PERF_RECORD_LOST_SAMPLES, so far. */
uint64_t sg_perf_lost(const struct sg_perf *perf);

#endif
