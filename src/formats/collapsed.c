/* SPDX-License-Identifier: MIT */
/*
 * Brendan Gregg's folded stacks: one line per distinct stack, frames root
 * first joined by ';', a space, the sample count.
 *
 *   process 12: python app.py;thread 12: MainThread;main (app.py:3);f (app.py:9) 7
 *
 * A Python frame is "NAME (FILE:LINE)". Optional roots carry the labels
 * that the format has no other place for ("process PID: COMMAND", then
 * "thread TID: NAME"), and samples of idle threads end in a "[idle]" leaf,
 * so that reading a file back restores them. ';' and newlines inside names
 * would break the line structure: they are written as ':' and ' '.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "util/err.h"
#include "util/strbuf.h"

#define IDLE_LEAF "[idle]"
/* Bounds on what the reader accepts, so hostile files cannot exhaust us. */
#define MAX_LINE  (1u << 20)
#define MAX_DEPTH 65536

struct line {
	char *text; /* the stack, without the count */
	uint64_t count;
};

static int add_clean(struct sg_strbuf *sb, const char *s)
{
	size_t start = sb->len;
	int err = sg_strbuf_addstr(sb, s);

	for (size_t i = start; !err && i < sb->len; i++) {
		if (sb->buf[i] == ';')
			sb->buf[i] = ':';
		else if (sb->buf[i] == '\n' || sb->buf[i] == '\r')
			sb->buf[i] = ' ';
	}
	return err;
}

static int add_frame(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f)
{
	const char *file = sg_profile_str(p, f->file);
	int err = add_clean(sb, sg_profile_str(p, f->name));

	if (err || !file[0])
		return err;
	err = sg_strbuf_addstr(sb, " (");
	if (!err)
		err = add_clean(sb, file);
	if (!err && f->line)
		err = sg_strbuf_addf(sb, ":%d", f->line);
	if (!err)
		err = sg_strbuf_addstr(sb, ")");
	return err;
}

static int render(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_sample *s,
                  const struct sg_write_opts *opts)
{
	size_t depth;
	const uint32_t *frames = sg_profile_stack(p, s->stack, &depth);
	int err = 0;

	sg_strbuf_reset(sb);
	/* Unknown pids and tids (0) get no root: it could not be read back. */
	if (opts->processes && s->labels.pid > 0) {
		err = sg_strbuf_addf(sb, "process %d: ", (int)s->labels.pid);
		if (!err)
			err = add_clean(sb, sg_profile_process(p, s->labels.pid));
		if (!err)
			err = sg_strbuf_addstr(sb, ";");
	}
	if (!err && opts->threads && s->labels.tid > 0) {
		err = sg_strbuf_addf(sb, "thread %d: ", (int)s->labels.tid);
		if (!err)
			err = add_clean(sb, sg_profile_str(p, s->labels.thread_name));
		if (!err)
			err = sg_strbuf_addstr(sb, ";");
	}
	for (size_t i = 0; !err && i < depth; i++) {
		err = add_frame(sb, p, sg_profile_frame(p, frames[i]));
		if (!err && i + 1 < depth)
			err = sg_strbuf_addstr(sb, ";");
	}
	if (!err && (s->labels.flags & SG_SAMPLE_IDLE))
		err = sg_strbuf_addstr(sb, ";" IDLE_LEAF);
	return err;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

static int write_collapsed(const struct sg_profile *p, const struct sg_write_opts *opts, FILE *out)
{
	size_t n = sg_profile_nsamples(p), nlines = 0;
	struct line *lines = calloc(n ? n : 1, sizeof(*lines));
	struct sg_strbuf sb = SG_STRBUF_INIT;
	int err = 0;

	if (!lines)
		return SG_ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);

		err = render(&sb, p, s, opts);
		if (!err && !(lines[nlines].text = strdup(sb.buf)))
			err = SG_ENOMEM;
		if (!err)
			lines[nlines++].count = s->count;
	}
	/* Deterministic output, and rows that render alike become one line. */
	qsort(lines, nlines, sizeof(*lines), by_text);
	for (size_t i = 0; i < nlines && !err; i++) {
		uint64_t count = lines[i].count;

		while (i + 1 < nlines && strcmp(lines[i].text, lines[i + 1].text) == 0)
			count += lines[++i].count;
		if (fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)count) < 0)
			err = SG_EIO;
	}
	for (size_t i = 0; i < nlines; i++)
		free(lines[i].text);
	free(lines);
	sg_strbuf_release(&sb);
	return err;
}

/* ---- reader ---- */

struct reader {
	struct sg_profile *p;
	size_t lineno;
	char *err;
	size_t errlen;
	uint32_t *frames;
	size_t cap;
};

static int fail(struct reader *r, const char *what)
{
	snprintf(r->err, r->errlen, "line %zu: %s", r->lineno, what);
	return SG_EFORMAT;
}

/* "PREFIX N: TEXT" with N a positive decimal that fits in an int. */
static bool parse_root(const char *s, const char *prefix, int *num, const char **text)
{
	size_t plen = strlen(prefix);
	char *end;
	long v;

	if (strncmp(s, prefix, plen) != 0 || s[plen] < '0' || s[plen] > '9')
		return false;
	errno = 0;
	v = strtol(s + plen, &end, 10);
	if (errno || v <= 0 || v > 0x7fffffff || end[0] != ':' || end[1] != ' ')
		return false;
	*num = (int)v;
	*text = end + 2;
	return true;
}

/* NAME (FILE:LINE), NAME (FILE) or NAME. */
static int parse_frame(struct reader *r, char *s, uint32_t *id)
{
	struct sg_frame f = {.type = SG_FRAME_PYTHON};
	size_t len = strlen(s);
	char *open = NULL, *file = NULL;

	if (len > 1 && s[len - 1] == ')') {
		for (char *q = s; (q = strstr(q, " (")); q++)
			open = q;
	}
	/* "()" names no file: keep such text whole, as the writer would. */
	if (open && open > s && open + 3 < s + len) {
		char *colon, *end;
		long line;

		s[len - 1] = '\0';
		*open = '\0';
		file = open + 2;
		colon = strrchr(file, ':');
		if (colon && colon > file && colon[1] >= '1' && colon[1] <= '9') {
			errno = 0;
			line = strtol(colon + 1, &end, 10);
			if (!errno && !*end && line > 0 && line <= 0x7fffffff) {
				*colon = '\0';
				f.line = (int32_t)line;
			}
		}
	}
	f.name = sg_profile_intern(r->p, s, strlen(s));
	f.file = file ? sg_profile_intern(r->p, file, strlen(file)) : 0;
	if (f.name == UINT32_MAX || f.file == UINT32_MAX)
		return SG_ENOMEM;
	*id = sg_profile_frame_id(r->p, &f);
	return *id == UINT32_MAX ? SG_ENOMEM : 0;
}

static int parse_line(struct reader *r, char *line)
{
	struct sg_labels labels = {0};
	char *space = strrchr(line, ' '), *end, *frame, *next;
	unsigned long long count;
	size_t depth = 0;
	uint32_t stack;
	const char *text;
	int num, err;

	if (!space || space == line)
		return fail(r, "expected 'STACK COUNT'");
	errno = 0;
	count = strtoull(space + 1, &end, 10);
	if (space[1] < '0' || space[1] > '9' || *end || errno || count == 0)
		return fail(r, "the count is not a positive integer");
	*space = '\0';
	for (frame = line; frame; frame = next) {
		next = strchr(frame, ';');
		if (next)
			*next++ = '\0';
		if (!*frame)
			return fail(r, "empty frame");
		if (depth == 0 && frame == line && labels.pid == 0 &&
		    parse_root(frame, "process ", &num, &text)) {
			labels.pid = num;
			if (sg_profile_set_process(r->p, num, text))
				return SG_ENOMEM;
			continue;
		}
		if (depth == 0 && labels.tid == 0 && parse_root(frame, "thread ", &num, &text)) {
			labels.tid = num;
			labels.thread_name = sg_profile_intern(r->p, text, strlen(text));
			if (labels.thread_name == UINT32_MAX)
				return SG_ENOMEM;
			continue;
		}
		if (!next && depth > 0 && strcmp(frame, IDLE_LEAF) == 0) {
			labels.flags |= SG_SAMPLE_IDLE;
			continue;
		}
		if (depth == MAX_DEPTH)
			return fail(r, "stack deeper than 65536 frames");
		if (depth == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 64;
			uint32_t *frames = realloc(r->frames, cap * sizeof(*frames));

			if (!frames)
				return SG_ENOMEM;
			r->frames = frames;
			r->cap = cap;
		}
		err = parse_frame(r, frame, &r->frames[depth]);
		if (err)
			return err;
		depth++;
	}
	if (depth == 0)
		return fail(r, "a stack with no frames");
	stack = sg_profile_stack_id(r->p, r->frames, depth);
	if (stack == UINT32_MAX)
		return SG_ENOMEM;
	return sg_profile_add(r->p, stack, &labels, count, 0);
}

static int read_collapsed(FILE *in, struct sg_profile *p, char *errbuf, size_t errlen)
{
	struct reader r = {.p = p, .err = errbuf, .errlen = errlen};
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int err = 0;

	while (!err && (got = getline(&line, &cap, in)) >= 0) {
		r.lineno++;
		if ((size_t)got > MAX_LINE) {
			err = fail(&r, "line longer than 1 MiB");
			break;
		}
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		/* Control characters (NUL included) mean this is no text file. */
		for (ssize_t i = 0; i < got && !err; i++)
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
				err = fail(&r, "a control character: not a text file");
		if (err)
			break;
		if (got == 0)
			continue;
		err = parse_line(&r, line);
	}
	if (!err && ferror(in))
		err = SG_EIO;
	if (!err && sg_profile_nsamples(p) == 0) {
		snprintf(errbuf, errlen, "no stacks in the file");
		err = SG_EFORMAT;
	}
	if (err == SG_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	free(line);
	free(r.frames);
	return err;
}

static const char *const extensions[] = {".folded", ".collapsed", ".txt", NULL};

const struct sg_format sg_format_collapsed = {
    .name = "collapsed",
    .extensions = extensions,
    .write = write_collapsed,
    .read = read_collapsed,
};
