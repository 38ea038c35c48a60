/* SPDX-License-Identifier: MIT */
#ifndef SG_FORMATS_FLAMEGRAPH_H
#define SG_FORMATS_FLAMEGRAPH_H

/*
 * The flame graph writer's second entry (the first is the "flamegraph" row
 * of the format table): a differential flame graph of a diff
 * (profile/diff.h), after Brendan Gregg's difffolded. The same SVG as a flame
 * graph, with the same hover, zoom and search, of the diff's merged call
 * tree laid out on one side (boxes as wide as that side's samples), each box
 * filled by how its total share moved from BASE to NEW: red where it grew,
 * blue where it shrank, deeper the larger the change (full at 10 points or
 * more), white where the change is not significant (sg_diff_change, with
 * Holm's correction over every box drawn). Hover shows both shares and the
 * change with its interval.
 */

#include <stdbool.h>
#include <stdio.h>

#include "profile/diff.h"

struct sg_diff_graph_opts {
	bool on_base;          /* boxes as wide as BASE's samples, so vanished code shows */
	const char *base_name; /* what each side is, for the subtitle */
	const char *new_name;
	const char *by; /* what a box is ("function", "line"...), for the title */
};

/* Write the graph of d (built with its tree) to out; 0 or a negative
 * enum sg_err. The family-wise alpha is sg_diff_alpha(d). */
int sg_flamegraph_write_diff(const struct sg_diff *d, const struct sg_diff_graph_opts *opts,
                             FILE *out);

#endif
