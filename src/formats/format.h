/* SPDX-License-Identifier: MIT */
#ifndef SG_FORMATS_FORMAT_H
#define SG_FORMATS_FORMAT_H

/*
 * Writers and readers over struct sg_profile only: one struct sg_format per
 * file format, all listed in one table that the CLI uses both for -f and for
 * guessing from an output file's extension.
 */

#include <stdbool.h>
#include <stdio.h>

#include "profile/profile.h"

/* Choices that change how a profile is rendered, not what it holds. */
struct sg_write_opts {
	bool threads; /* a root frame per thread: "thread TID: NAME" */
	/* With threads: a root per group of threads whose names differ only in
	 * numbers (sg_text_thread_group), "threads GROUP", and in speedscope a
	 * profile per group. */
	bool thread_groups;
	bool processes;      /* a root frame per process: "process PID: COMMAND" */
	bool reverse;        /* flame graph of reversed stacks: leaves at the base */
	bool icicle;         /* flame graph drawn top-down, root at the top */
	bool full_filenames; /* whole paths, not relative to meta.path_roots */
	/* What a stack weighs where a format draws one number per stack
	 * (collapsed, flame graph, speedscope): samples by default; record
	 * --memory's growth view is SG_VALUE_RSS_GROWTH. pprof carries every
	 * value whatever this says; the Chrome trace stays a timeline. */
	enum sg_value value;
};

struct sg_format {
	const char *name;
	const char *const *extensions; /* NULL-terminated, e.g. ".folded" */
	/* Write p to out; 0 or a negative enum sg_err. */
	int (*write)(const struct sg_profile *p, const struct sg_write_opts *opts, FILE *out);
	/* Read a file into an empty profile; NULL when the format can't be read.
	 * On failure, writes one line saying what and where into err. */
	int (*read)(FILE *in, struct sg_profile *p, char *err, size_t errlen);
	/* Whether a file starting with head (n bytes) is surely this format;
	 * NULL for formats without a magic number. */
	bool (*sniff)(const unsigned char *head, size_t n);
};

/* The format called name, or NULL. */
const struct sg_format *sg_format_by_name(const char *name);
/* The format whose extension ends path, or NULL. */
const struct sg_format *sg_format_by_path(const char *path);
/* The format to read a file with: the first whose sniff recognises head,
 * else the readable format whose extension ends path, else collapsed. */
const struct sg_format *sg_format_for_input(const char *path, const unsigned char *head, size_t n);
/* Comma-separated list of names, for help and error messages. */
const char *sg_format_names(void);

#endif
