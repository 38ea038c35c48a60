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
 * left out when the pid or tid is unknown, 0; with opts->thread_groups,
 * "threads GROUP" in place of the thread's, see sg_text_thread_group, which
 * reads back as an ordinary frame), and samples of idle threads
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
 * (64 MiB), stacks over MAX_DEPTH (65536) frames, and a pid given two
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
/* What record writes fits: 4096 frames (the walker's deepest) of names and
 * files of 1024 characters (up to 4 bytes each) take 33 MiB. */
#define MAX_LINE  ((size_t)64 << 20)
#define MAX_DEPTH 65536

/* ---- writer ---- */

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

/* "threads GROUP;", for the group of the thread called name. */
static int add_group_root(struct sg_strbuf *sb, const char *name)
{
	size_t start = sb->len;
	int err = sg_strbuf_addstr(sb, "threads ");

	if (!err)
		err = sg_text_thread_group(sb, name);
	clean_since(sb, start);
	return err ? err : sg_strbuf_addch(sb, ';');
}

/*
 * Lines are never rendered whole (a profile's lines can take many times
 * the profile): each is a sequence of pieces, its roots' text, then each
 * frame's, rendered once, with ';' between and ";[idle]" at the end, and
 * lines are compared and written piece by piece.
 */
struct line {
	uint32_t row;
	uint64_t count;
};

struct lines {
	const struct sg_profile *p;
	struct sg_strbuf frames; /* every frame's text: frame i at frames.buf + */
	size_t *frame_at;        /* frame_at[i], up to frame_at[i + 1] */
	struct sg_strbuf roots;  /* each row's roots' text: row r at roots.buf + */
	size_t *root_at;         /* root_at[r], up to root_at[r + 1] */
	struct line *v;
	size_t n, cap;
};

static int render_frames(struct lines *ls, const struct sg_write_opts *opts)
{
	size_t n = sg_profile_nframes(ls->p);
	int err = 0;

	ls->frame_at = malloc((n + 1) * sizeof(*ls->frame_at));
	if (!ls->frame_at)
		return SG_ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		ls->frame_at[i] = ls->frames.len;
		err = sg_text_frame(&ls->frames, ls->p, sg_profile_frame(ls->p, (uint32_t)i),
		                    opts->full_filenames);
		clean_since(&ls->frames, ls->frame_at[i]);
	}
	ls->frame_at[n] = ls->frames.len;
	return err;
}

static int render_roots(struct lines *ls, const struct sg_write_opts *opts)
{
	const struct sg_profile *p = ls->p;
	size_t n = sg_profile_nsamples(p);
	int err = 0;

	ls->root_at = malloc((n + 1) * sizeof(*ls->root_at));
	if (!ls->root_at)
		return SG_ENOMEM;
	for (size_t r = 0; r < n && !err; r++) {
		const struct sg_labels *l = &sg_profile_sample(p, r)->labels;

		ls->root_at[r] = ls->roots.len;
		if (opts->processes && l->pid > 0)
			err =
			    add_root(&ls->roots, "process", l->pid, sg_profile_process(p, l->pid));
		if (!err && opts->threads && l->tid > 0 && opts->thread_groups)
			err = add_group_root(&ls->roots, sg_profile_str(p, l->thread_name));
		else if (!err && opts->threads && l->tid > 0)
			err = add_root(&ls->roots, "thread", l->tid,
			               sg_profile_str(p, l->thread_name));
	}
	ls->root_at[n] = ls->roots.len;
	return err;
}

/* Where a line's pieces come from. */
struct cursor {
	const struct lines *ls;
	const char *root;
	size_t root_len;
	const uint32_t *frames;
	size_t depth;
	bool idle;
};

static void cursor_init(struct cursor *c, const struct lines *ls, uint32_t r)
{
	const struct sg_sample *s = sg_profile_sample(ls->p, r);

	c->ls = ls;
	/* No row has roots: the buffer was never allocated. */
	c->root = ls->roots.buf ? ls->roots.buf + ls->root_at[r] : "";
	c->root_len = ls->root_at[r + 1] - ls->root_at[r];
	c->frames = sg_profile_stack(ls->p, s->stack, &c->depth);
	c->idle = (s->labels.flags & SG_SAMPLE_IDLE) != 0;
}

/* Piece k of the line: its roots (k = 0), then frame, ";", frame, ... and
 * ";[idle]" for idle rows; false past the last. */
static bool piece(const struct cursor *c, size_t k, const char **at, size_t *len)
{
	if (k == 0) {
		*at = c->root;
		*len = c->root_len;
		return true;
	}
	k--;
	if (k < 2 * c->depth - 1) {
		if (k % 2) {
			*at = ";";
			*len = 1;
		} else {
			uint32_t f = c->frames[k / 2];

			*at = c->ls->frames.buf + c->ls->frame_at[f];
			*len = c->ls->frame_at[f + 1] - c->ls->frame_at[f];
		}
		return true;
	}
	if (k == 2 * c->depth - 1 && c->idle) {
		*at = ";" IDLE_LEAF;
		*len = strlen(*at);
		return true;
	}
	return false;
}

/* As strcmp would order the two lines' texts. */
static int by_text(const void *a, const void *b, void *arg)
{
	const struct lines *ls = arg;
	struct cursor x, y;
	const char *pa = NULL, *pb = NULL;
	size_t ka = 0, la = 0, lb = 0, same = 0;
	size_t kb;
	bool more_a = true, more_b = true;

	cursor_init(&x, ls, ((const struct line *)a)->row);
	cursor_init(&y, ls, ((const struct line *)b)->row);
	/* Equal roots and equal frame ids render alike: start after them. */
	if (x.root_len == y.root_len && !memcmp(x.root, y.root, x.root_len)) {
		while (same < x.depth && same < y.depth && x.frames[same] == y.frames[same])
			same++;
		if (same == x.depth && same == y.depth)
			return (int)x.idle - (int)y.idle;
		/* Pieces 1 .. 2 * same - 1 are equal; the ';' after them too. */
		ka = same ? 2 * same : 0;
	}
	kb = ka;
	for (;;) {
		size_t n;
		int c;

		while (more_a && la == 0 && (more_a = piece(&x, ka++, &pa, &la)))
			;
		while (more_b && lb == 0 && (more_b = piece(&y, kb++, &pb, &lb)))
			;
		if (!more_a || !more_b)
			return more_a - more_b;
		n = la < lb ? la : lb;
		c = memcmp(pa, pb, n);
		if (c)
			return c;
		pa += n;
		pb += n;
		la -= n;
		lb -= n;
	}
}

static int write_line(const struct lines *ls, uint32_t r, uint64_t count, FILE *out)
{
	struct cursor c;
	const char *at;
	size_t len;

	cursor_init(&c, ls, r);
	for (size_t k = 0; piece(&c, k, &at, &len); k++)
		if (len && fwrite_unlocked(at, 1, len, out) != len)
			return SG_EIO;
	return fprintf(out, " %llu\n", (unsigned long long)count) < 0 ? SG_EIO : 0;
}

static int write_collapsed(const struct sg_profile *p, const struct sg_write_opts *opts, FILE *out)
{
	struct lines ls = {.p = p, .frames = SG_STRBUF_INIT, .roots = SG_STRBUF_INIT};
	int err = render_frames(&ls, opts);

	if (!err)
		err = render_roots(&ls, opts);
	for (size_t i = 0; !err && i < sg_profile_nsamples(p); i++) {
		const struct sg_sample *s = sg_profile_sample(p, i);
		uint64_t value = sg_sample_value(s, opts->value);
		size_t depth;

		if (!value || !sg_profile_stack(p, s->stack, &depth) || !depth)
			continue;
		err = sg_grow(&ls.v, &ls.cap, ls.n + 1, sizeof(*ls.v));
		if (!err)
			ls.v[ls.n++] = (struct line){.row = (uint32_t)i, .count = value};
	}
	/* Deterministic output, and rows that render alike become one line. */
	if (!err && ls.n)
		qsort_r(ls.v, ls.n, sizeof(*ls.v), by_text, &ls);
	for (size_t i = 0; !err && i < ls.n; i++) {
		uint64_t count = ls.v[i].count;

		while (i + 1 < ls.n && !by_text(&ls.v[i], &ls.v[i + 1], &ls))
			count += ls.v[++i].count;
		err = write_line(&ls, ls.v[i].row, count, out);
	}
	if (!err && ferror(out))
		err = SG_EIO;
	free(ls.v);
	free(ls.frame_at);
	free(ls.root_at);
	sg_strbuf_release(&ls.frames);
	sg_strbuf_release(&ls.roots);
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

/* The file, read a chunk at a time: lines are cut out of buf[at .. len). */
struct line_in {
	FILE *in;
	size_t at, len;
	char buf[64 * 1024];
};

/* The next line into sb, without its end ("\n", "\r\n" or EOF). Returns 1
 * for a line, 0 at the end of the file, or a negative enum sg_err. Keeps at
 * most MAX_LINE + a chunk of any line, however long it is. */
static int next_line(struct reader *r, struct line_in *li, struct sg_strbuf *sb)
{
	bool any = false;

	sg_strbuf_reset(sb);
	r->lineno++;
	for (;;) {
		char *nl;
		size_t n;

		if (li->at == li->len) {
			li->at = 0;
			li->len = fread(li->buf, 1, sizeof(li->buf), li->in);
			if (ferror(li->in))
				return SG_EIO;
			if (!li->len)
				break;
		}
		any = true;
		nl = memchr(li->buf + li->at, '\n', li->len - li->at);
		n = nl ? (size_t)(nl - (li->buf + li->at)) : li->len - li->at;
		if (sb->len + n > MAX_LINE + 1)
			return fail(r, "line longer than 64 MiB");
		if (sg_strbuf_add(sb, li->buf + li->at, n))
			return SG_ENOMEM;
		li->at += n + (nl ? 1 : 0);
		if (nl)
			break;
	}
	if (!any) {
		r->lineno--;
		return 0;
	}
	if (sb->len && sb->buf[sb->len - 1] == '\r')
		sb->buf[--sb->len] = '\0';
	if (sb->len > MAX_LINE)
		return fail(r, "line longer than 64 MiB");
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
	struct line_in *li = calloc(1, sizeof(*li));
	int err;

	if (!li)
		return SG_ENOMEM;
	li->in = in;
	while ((err = next_line(&r, li, &line)) == 1) {
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
	/* The file says how many samples, not how they were taken. */
	sg_profile_meta(p)->mode = SG_MODE_UNKNOWN;
	sg_profile_meta(p)->samples = sg_profile_total(p);
	if (err == SG_ENOMEM || err == SG_EIO)
		snprintf(errbuf, errlen, "line %zu: %s", r.lineno, sg_err_str(err));
	sg_strbuf_release(&line);
	free(r.frames);
	free(li);
	return err;
}

static const char *const extensions[] = {".folded", ".collapsed", ".txt", NULL};

const struct sg_format sg_format_collapsed = {
    .name = "collapsed",
    .extensions = extensions,
    .write = write_collapsed,
    .read = read_collapsed,
};
