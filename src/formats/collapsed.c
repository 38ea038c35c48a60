/* SPDX-License-Identifier: MIT */
/*
 * Brendan Gregg's folded stacks: one line per distinct stack, frames root
 * first joined by ';', a space, the sample count.
 *
 *   process 12: python app.py;thread 12: MainThread;main (app.py:3);f (app.py:9) 7
 *
 * A frame is "NAME (FILE:LINE)", "NAME (FILE)" when the line is unknown (0)
 * and "NAME" when the file is. Optional roots carry the labels the format
 * has no other place for ("process PID: COMMAND", then "thread TID: NAME";
 * left out when the pid or tid is unknown, 0), and samples of idle threads
 * end in an "[idle]" leaf, so that reading a file back restores them. Other
 * labels (the GIL flag, weights) are not written: rows that render alike
 * become one line with the counts summed.
 *
 * Text that would break the line structure is replaced when written: ';'
 * becomes ':' and control characters (newlines, tabs) become ' '. Rows with
 * no frames or no samples are left out: a line needs both.
 *
 * The reader accepts what the writer writes, so write, read, write gives the
 * same bytes. It rejects, naming the line: a line without a count after its
 * last space, a count that is not a decimal in 1..2^64-1 (or counts whose
 * sum overflows), an empty frame, a "process " or "thread " root that does
 * not parse or is out of place (any frame starting so is taken for a root,
 * and only one process root first, then one thread root, may appear), a
 * line with roots but no frames, control characters, lines over MAX_LINE
 * (1 MiB), stacks over MAX_DEPTH (65536) frames, and a pid given two
 * different commands.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "formats/text.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/strbuf.h"

#define IDLE_LEAF "[idle]"
/* Bounds on what the reader accepts, so hostile files cannot exhaust us. */
#define MAX_LINE  (1u << 20)
#define MAX_DEPTH 65536

/* ---- writer ---- */

/* One rendered row: the stack text at `at` in the shared buffer. */
struct line {
	size_t at;
	uint64_t count;
};

/* Make the text appended since start safe for one folded line. */
static void clean_since(struct sg_strbuf *sb, size_t start)
{
	for (size_t i = start; i < sb->len; i++) {
		if (sb->buf[i] == ';')
			sb->buf[i] = ':';
		else if ((unsigned char)sb->buf[i] < 0x20)
			sb->buf[i] = ' ';
	}
}

static int add_clean(struct sg_strbuf *sb, const char *s)
{
	size_t start = sb->len;
	int err = sg_strbuf_addstr(sb, s);

	clean_since(sb, start);
	return err;
}

static int add_root(struct sg_strbuf *sb, const char *kind, pid_t num, const char *text)
{
	int err = sg_strbuf_addf(sb, "%s %d: ", kind, (int)num);

	if (!err)
		err = add_clean(sb, text);
	if (!err)
		err = sg_strbuf_addch(sb, ';');
	return err;
}

/* Every frame's text, rendered once: frame i is text.buf[at[i] .. at[i + 1]). */
struct frame_texts {
	struct sg_strbuf text;
	size_t *at;
};

static int render_frames(struct frame_texts *ft, const struct sg_profile *p)
{
	size_t n = sg_profile_nframes(p);
	int err = 0;

	ft->at = malloc((n + 1) * sizeof(*ft->at));
	if (!ft->at)
		return SG_ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		ft->at[i] = ft->text.len;
		err = sg_text_frame(&ft->text, p, sg_profile_frame(p, (uint32_t)i));
		clean_since(&ft->text, ft->at[i]);
	}
	ft->at[n] = ft->text.len;
	return err;
}

/* Append the stack text of s and its NUL to sb. */
static int render(struct sg_strbuf *sb, const struct sg_profile *p, const struct frame_texts *ft,
                  const struct sg_sample *s, const struct sg_write_opts *opts)
{
	size_t depth;
	const uint32_t *frames = sg_profile_stack(p, s->stack, &depth);
	int err = 0;

	if (opts->processes && s->labels.pid > 0)
		err = add_root(sb, "process", s->labels.pid, sg_profile_process(p, s->labels.pid));
	if (!err && opts->threads && s->labels.tid > 0)
		err =
		    add_root(sb, "thread", s->labels.tid, sg_profile_str(p, s->labels.thread_name));
	for (size_t i = 0; !err && i < depth; i++) {
		err = sg_strbuf_add(sb, ft->text.buf + ft->at[frames[i]],
		                    ft->at[frames[i] + 1] - ft->at[frames[i]]);
		if (!err && i + 1 < depth)
			err = sg_strbuf_addch(sb, ';');
	}
	if (!err && (s->labels.flags & SG_SAMPLE_IDLE))
		err = sg_strbuf_addstr(sb, ";" IDLE_LEAF);
	if (!err)
		err = sg_strbuf_addch(sb, '\0');
	return err;
}

static int by_text(const void *a, const void *b, void *arg)
{
	const char *text = arg;

	return strcmp(text + ((const struct line *)a)->at, text + ((const struct line *)b)->at);
}

static int write_collapsed(const struct sg_profile *p, const struct sg_write_opts *opts, FILE *out)
{
	size_t nlines = 0, cap = 0;
	struct line *lines = NULL;
	struct sg_strbuf text = SG_STRBUF_INIT;
	struct frame_texts ft = {.text = SG_STRBUF_INIT};
	int err = render_frames(&ft, p);

	if (err)
		goto out_free;
	for (size_t i = 0; i < sg_profile_nsamples(p); i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);
		size_t depth;

		if (!s->count || !sg_profile_stack(p, s->stack, &depth) || !depth)
			continue;
		err = sg_grow(&lines, &cap, nlines + 1, sizeof(*lines));
		if (!err)
			lines[nlines] = (struct line){.at = text.len, .count = s->count};
		if (!err)
			err = render(&text, p, &ft, s, opts);
		if (err)
			goto out_free;
		nlines++;
	}
	/* Deterministic output, and rows that render alike become one line. */
	if (nlines)
		qsort_r(lines, nlines, sizeof(*lines), by_text, text.buf);
	for (size_t i = 0; i < nlines; i++) {
		uint64_t count = lines[i].count;

		while (i + 1 < nlines &&
		       !strcmp(text.buf + lines[i].at, text.buf + lines[i + 1].at))
			count += lines[++i].count;
		if (fprintf(out, "%s %llu\n", text.buf + lines[i].at, (unsigned long long)count) <
		    0) {
			err = SG_EIO;
			goto out_free;
		}
	}
	if (ferror(out))
		err = SG_EIO;
out_free:
	free(lines);
	sg_strbuf_release(&text);
	free(ft.at);
	sg_strbuf_release(&ft.text);
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

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * A root "KIND N: TEXT", where s starts with "KIND " and N must be a positive
 * decimal that fits a pid_t. Returns 0, or SG_EFORMAT with the reason: text
 * starting with a root's prefix at a root's place is reserved for roots.
 */
static int parse_root(struct reader *r, const char *s, size_t plen, pid_t *num, const char **text)
{
	char *end;
	long v;

	errno = 0;
	v = is_digit(s[plen]) ? strtol(s + plen, &end, 10) : 0;
	if (v <= 0 || errno || v > 0x7fffffff || end[0] != ':' || end[1] != ' ')
		return fail(r, s[0] == 'p' ? "bad root: expected 'process PID: COMMAND'"
		                           : "bad root: expected 'thread TID: NAME'");
	*num = (pid_t)v;
	*text = end + 2;
	return 0;
}

/*
 * NAME (FILE:LINE), NAME (FILE) or NAME. Names may hold " (" themselves, so
 * the file starts after the last " (" and the line after the last ':' in
 * it. Text that the writer would not render this way stays whole in the
 * name: "()" (no file), ":0" or ":007" (no canonical line).
 */
static int parse_frame(struct reader *r, char *s, uint32_t *id)
{
	struct sg_frame f = {.type = SG_FRAME_PYTHON};
	size_t len = strlen(s);
	char *open = NULL, *file = NULL;

	if (len > 1 && s[len - 1] == ')') {
		for (char *q = s; (q = strstr(q, " (")); q++)
			open = q;
	}
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
			if (!errno && !*end && line <= 0x7fffffff) {
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

static int set_process(struct reader *r, pid_t pid, const char *command)
{
	const char *have = sg_profile_process(r->p, pid);

	/* Two commands for one pid: the writer never does that, and picking one
	 * would silently relabel samples. */
	if (have[0] && strcmp(have, command) != 0)
		return fail(r, "a process with another command on an earlier line");
	return sg_profile_set_process(r->p, pid, command) ? SG_ENOMEM : 0;
}

static int push_frame(struct reader *r, char *text, size_t depth)
{
	if (depth == MAX_DEPTH)
		return fail(r, "stack deeper than 65536 frames");
	if (sg_grow(&r->frames, &r->cap, depth + 1, sizeof(*r->frames)))
		return SG_ENOMEM;
	return parse_frame(r, text, &r->frames[depth]);
}

static int parse_line(struct reader *r, char *line)
{
	struct sg_labels labels = {0};
	char *space = strrchr(line, ' '), *end, *frame, *next;
	unsigned long long count;
	size_t depth = 0, pos = 0;
	const char *text;
	uint32_t stack;
	int err;

	if (!space || space == line)
		return fail(r, "expected 'STACK COUNT'");
	errno = 0;
	count = is_digit(space[1]) ? strtoull(space + 1, &end, 10) : 0;
	if (!is_digit(space[1]) || *end)
		return fail(r, "the count after the last space is not a decimal number");
	if (errno || count == 0)
		return fail(r, "the count is not in 1..2^64-1");
	if (count > UINT64_MAX - sg_profile_total(r->p))
		return fail(r, "the counts add up to more than 2^64-1");
	*space = '\0';
	for (frame = line; frame; frame = next, pos++) {
		next = strchr(frame, ';');
		if (next)
			*next++ = '\0';
		if (!*frame)
			return fail(r, "empty frame");
		if (pos == 0 && !strncmp(frame, "process ", 8)) {
			err = parse_root(r, frame, 8, &labels.pid, &text);
			if (!err)
				err = set_process(r, labels.pid, text);
			sg_profile_meta(r->p)->by_process = true;
		} else if (pos == (labels.pid ? 1 : 0) && !strncmp(frame, "thread ", 7)) {
			err = parse_root(r, frame, 7, &labels.tid, &text);
			labels.thread_name = err ? 0 : sg_profile_intern(r->p, text, strlen(text));
			if (labels.thread_name == UINT32_MAX)
				err = SG_ENOMEM;
			sg_profile_meta(r->p)->by_thread = true;
		} else if (!strncmp(frame, "process ", 8) || !strncmp(frame, "thread ", 7)) {
			/* Written without roots, such a frame would become one. */
			return fail(r, "a root ('process ' or 'thread ') out of place");
		} else if (!next && depth > 0 && !strcmp(frame, IDLE_LEAF)) {
			labels.flags |= SG_SAMPLE_IDLE;
			err = 0;
		} else {
			err = push_frame(r, frame, depth++);
		}
		if (err)
			return err;
	}
	if (depth == 0)
		return fail(r, "roots but no frames");
	stack = sg_profile_stack_id(r->p, r->frames, depth);
	if (stack == UINT32_MAX)
		return SG_ENOMEM;
	return sg_profile_add(r->p, stack, &labels, count, 0);
}

/* The next line into sb, without its end ("\n", "\r\n" or EOF). Returns 1
 * for a line, 0 at the end of the file, or a negative enum sg_err. Reads at
 * most MAX_LINE + 2 bytes of any line, however long it is. */
static int next_line(struct reader *r, FILE *in, struct sg_strbuf *sb)
{
	int c;

	sg_strbuf_reset(sb);
	r->lineno++;
	while ((c = getc_unlocked(in)) != EOF && c != '\n') {
		if (sb->len > MAX_LINE)
			return fail(r, "line longer than 1 MiB");
		if (sg_strbuf_addch(sb, (char)c))
			return SG_ENOMEM;
	}
	if (ferror(in))
		return SG_EIO;
	if (c == EOF && sb->len == 0) {
		r->lineno--;
		return 0;
	}
	if (sb->len && sb->buf[sb->len - 1] == '\r')
		sb->buf[--sb->len] = '\0';
	if (sb->len > MAX_LINE)
		return fail(r, "line longer than 1 MiB");
	/* Control characters (NUL included) mean this is no text file, and the
	 * writer never writes them. */
	for (size_t i = 0; i < sb->len; i++)
		if ((unsigned char)sb->buf[i] < 0x20)
			return fail(r, "a control character: not a text file");
	return 1;
}

static int read_collapsed(FILE *in, struct sg_profile *p, char *errbuf, size_t errlen)
{
	struct reader r = {.p = p, .err = errbuf, .errlen = errlen};
	struct sg_strbuf line = SG_STRBUF_INIT;
	int err;

	while ((err = next_line(&r, in, &line)) == 1) {
		if (line.len == 0)
			continue;
		err = parse_line(&r, line.buf);
		if (err)
			break;
	}
	if (!err && sg_profile_nsamples(p) == 0) {
		snprintf(errbuf, errlen, "no stacks in the file");
		err = SG_EFORMAT;
	}
	if (err == SG_ENOMEM || err == SG_EIO)
		snprintf(errbuf, errlen, "line %zu: %s", r.lineno, sg_err_str(err));
	sg_strbuf_release(&line);
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
