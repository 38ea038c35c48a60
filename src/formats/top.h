/* SPDX-License-Identifier: MIT */
#ifndef SG_FORMATS_TOP_H
#define SG_FORMATS_TOP_H

/*
 * spyglass top's screen as lines of text, the same for a terminal (drawn
 * with curses) and for scripts (--once): a few lines about the run and the
 * processes, then the table of functions (or threads, each with its
 * functions). %Self and %Total are shares of the interval's samples; Self
 * and Total count samples since the start.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "profile/live.h"
#include "util/strbuf.h"

/* The kernel's thread states top counts apart. */
enum sg_top_state { SG_TOP_RUNNING, SG_TOP_SLEEPING, SG_TOP_DISK, SG_TOP_OTHER, SG_TOP_NSTATES };

/* What the caller measured or decided, besides the view. */
struct sg_top_head {
	const char *command; /* what is sampled */
	pid_t pid;
	const char *python; /* its version, "" when not known yet */
	const char *mode;   /* "cpu", "wall" */
	double rate_hz;     /* asked */
	double elapsed_s;   /* since sampling began */
	double interval_s;  /* the span the view's interval covers */
	uint64_t dropped;   /* samples lost since the start */
	double cpu;         /* % of one core the processes used in the interval; < 0: unknown */
	double gil;         /* % of the interval's ticks in which the GIL was held; < 0 unknown */
	size_t threads;     /* the processes' threads now, and by state */
	size_t states[SG_TOP_NSTATES];
	const struct sg_live_view_opts *opts; /* how the view was built */
	bool paused;
	bool keys; /* end with a line naming the keys */
};

/* Lines before the table; the last of them names the columns. */
#define SG_TOP_HEAD_LINES 6

/* The state a kernel state letter (R, S, D...) counts as. */
enum sg_top_state sg_top_state_of(char state);

/* Append the screen to out: lines each ended by '\n', at most width
 * columns (as wcwidth counts them in the caller's locale: a wide character
 * takes two; one each where it cannot tell) and, when height > 0, at most
 * height lines, the table cut to fit. Control characters in names (read
 * from the target) are shown as '?', so a name cannot drive the terminal.
 * 0 or SG_ENOMEM. */
int sg_top_format(const struct sg_top_head *h, const struct sg_live_view *v, size_t width,
                  size_t height, struct sg_strbuf *out);

#endif
