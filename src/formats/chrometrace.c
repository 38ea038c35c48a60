/* SPDX-License-Identifier: MIT */
/*
 * Chrome's Trace Event Format (the JSON object form), as read by Perfetto,
 * chrome://tracing and speedscope:
 *
 *   {"traceEvents":[
 *   {"name":"process_name","ph":"M","pid":12,"tid":0,"args":{"name":"python app.py"}},
 *   {"name":"thread_name","ph":"M","pid":12,"tid":12,"args":{"name":"MainThread"}},
 *   {"ph":"B","pid":12,"tid":12,"ts":0.000,"name":"main (app.py)","cat":"python",
 *    "args":{"file":"/src/app.py","line":3,"lines":[3,4]}},
 *   {"ph":"E","pid":12,"tid":12,"ts":20000.000,"name":"main (app.py)","cat":"python"}],
 *   "displayTimeUnit":"ms","otherData":{"exporter":"spyglass","command":"python app.py",...}}
 *
 * Each thread's timeline becomes nested begin ("B") and end ("E") events,
 * one pair per slice. A slice is a function (name, file and type: not a
 * line) at a depth of the stack: when the stack changes from one run to
 * the next, the slices from the first depth whose function differs are
 * closed (innermost first) and the new ones opened (outermost first),
 * while those below stay open, whatever lines their frames moved to. So a
 * frame that stays on the stack through many samples is one slice. It is
 * named "NAME (FILE)" (FILE as sg_text_file shows it); its args are the
 * whole "file", the first "line" it was seen at, and "lines", each distinct
 * line it was seen at in ascending order, when there were several. To know
 * them when writing its "B", each thread is walked twice: the first walk
 * notes the lines (one entry per change of line, so memory grows with the
 * thread's changes, not its samples). Samples of idle threads end in an
 * "[idle]" slice of category "idle".
 *
 * Begin/end pairs, not complete ("X") events: a change of stack closes and
 * opens many frames at one time, and only the order of B and E events says
 * which slice is whose parent there. Viewers that add a duration to a start
 * in floating point, or order equal times by guesswork, nest X events
 * wrongly (speedscope does both). An "E" repeats its frame's name and
 * category, which Perfetto and speedscope match against the open slice,
 * but not its args: speedscope runs a "B" before an "E" of the same time
 * when both have the same name and args, which would open the next frame
 * before the last one closed.
 *
 * ts is in microseconds since the recording started, with the nanoseconds
 * as three decimals. A thread's events span its first run's start to its
 * last run's end. Consecutive runs hand over at the later run's start;
 * where a thread was not sampled for longer than a sampling period (off CPU
 * in cpu mode, or ticks missed), every frame closes at the earlier run's end
 * and the stack opens afresh. Shorter gaps and overlaps are the sampler's
 * jitter (each sample falls anywhere within its period).
 *
 * A profile without a timeline (read from a collapsed file) has no times to
 * show: each thread's rows are laid end to end in row order from 0, each as
 * long as its weight (count times the period when the file has no weights;
 * see formats/timeline.h). The result shows shares, not history.
 *
 * Metadata events name each process (its command) and each thread (its
 * Python thread name) when they have a name. otherData holds what the
 * profile knows about the run. The options for roots per thread or process
 * change nothing: the format is per process and thread already. Neither
 * do thread groups: a group's threads run at once, and their slices would
 * not nest in one track.
 *
 * record --memory's RSS series becomes a counter track "RSS" of the main
 * process (its first thread's pid): a "C" event per point, with args
 * "lowest" and "highest" (bytes among the point's reads). The trace stays a
 * timeline whatever opts->value says: growth by code is what the other
 * formats draw, and here the counter sits above the slices that grew it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "formats/text.h"
#include "formats/timeline.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/strbuf.h"

#define IDLE_LEAF "[idle]"
/* Output is written out in pieces of about this size. */
#define CHUNK (1u << 20)

/* A slice open on the current thread. */
struct slice {
	uint32_t func; /* function index */
	uint32_t num;  /* its number among the thread's slices, in opening order */
	int32_t line;  /* the line its frame was at in the latest run */
	bool moved;    /* whether that changed since it opened */
};

struct writer {
	const struct sg_profile *p;
	const struct sg_timeline *tl;
	const struct sg_write_opts *opts;
	struct sg_strbuf out;
	FILE *file;
	/* A slice is a function (name, file, type) at a depth, not a line:
	 * func_of and line_of give each used frame's (by frame index) function
	 * and line; index tl->nused_frames, function nfuncs, is the idle leaf. */
	uint32_t *func_of;
	int32_t *line_of;
	size_t nfuncs;
	/* Every function's event tail, rendered once: function f's "name" and
	 * "cat" (all an "E" repeats) are tails.buf[at[f] .. args_at[f]), and
	 * ',"args":{' with its "file" member, if any, [args_at[f] .. at[f + 1]). */
	struct sg_strbuf tails;
	size_t *at, *args_at;
	bool *has_file;
	/* The current thread's '"pid":P,"tid":T,"ts":', and its open slices,
	 * root first. */
	char ids[48];
	size_t ids_len;
	struct slice *open;
	size_t nopen, open_cap;
	uint32_t *want; /* the next run's stack, in frame indices */
	size_t want_cap;
	uint64_t last_ts;
	bool any_event; /* whether an event was written: the next needs a comma */
	/* Each thread is walked twice: the first walk only notes the lines of
	 * each slice, so that its "B" event, written in the second, lists them.
	 * Slice s was first at first_line[s]; one that moved to other lines was
	 * at the distinct lines in the low halves of seen[lines_at[s] ..
	 * lines_at[s + 1]), ascending (empty for the others, most of them). */
	bool emit;
	uint32_t nslices;
	int32_t *first_line;
	size_t first_cap;
	uint64_t *seen; /* slice << 32 | line, as met, then sorted and unique */
	size_t nseen, seen_cap;
	size_t *lines_at;
	size_t lines_at_cap;
};

/* What makes frames one function: packed, so equal keys are equal bytes. */
struct func_key {
	uint32_t name, file, type;
};

static int add_tail(struct writer *w, const struct sg_frame *f)
{
	static const char *const cats[] = {"python", "native", "kernel"};
	struct sg_frame whole = *f;
	struct sg_strbuf where = SG_STRBUF_INIT;
	int err;

	/* The function, not a line: lines go in the args. */
	whole.line = 0;
	w->at[w->nfuncs] = w->tails.len;
	err = sg_strbuf_addstr(&w->tails, "\"name\":");
	if (!err)
		err = sg_tl_json_name(&w->tails, w->p, &whole, w->opts->full_filenames);
	if (!err)
		err = sg_strbuf_addf(&w->tails, ",\"cat\":\"%s\"",
		                     f->type < 3 ? cats[f->type] : "python");
	w->args_at[w->nfuncs] = w->tails.len;
	if (!err)
		err = sg_strbuf_addstr(&w->tails, ",\"args\":{");
	/* The member comes with a leading comma; args wants none first. */
	if (!err)
		err = sg_tl_json_where(&where, w->p, &whole);
	if (!err && where.len)
		err = sg_strbuf_add(&w->tails, where.buf + 1, where.len - 1);
	w->has_file[w->nfuncs++] = where.len > 0;
	sg_strbuf_release(&where);
	return err;
}

/* Number the functions of the used frames and render their tails. */
static int render_tails(struct writer *w)
{
	const struct sg_profile *p = w->p;
	size_t n = w->tl->nused_frames;
	struct sg_intern funcs;
	int err = 0;

	w->func_of = malloc((n + 1) * sizeof(*w->func_of));
	w->line_of = malloc((n + 1) * sizeof(*w->line_of));
	w->at = malloc((n + 2) * sizeof(*w->at));
	w->args_at = malloc((n + 1) * sizeof(*w->args_at));
	w->has_file = malloc((n + 1) * sizeof(*w->has_file));
	if (!w->func_of || !w->line_of || !w->at || !w->args_at || !w->has_file)
		return SG_ENOMEM;
	sg_intern_init(&funcs);
	for (size_t id = 0; id < sg_profile_nframes(p) && !err; id++) {
		const struct sg_frame *f = sg_profile_frame(p, (uint32_t)id);
		struct func_key key = {f->name, f->file, f->type};
		uint32_t i = w->tl->frame_index[id], func;

		if (i == UINT32_MAX)
			continue;
		err = sg_intern_put(&funcs, &key, sizeof(key), &func);
		if (!err && func == w->nfuncs)
			err = add_tail(w, f);
		w->func_of[i] = func;
		w->line_of[i] = f->line;
	}
	sg_intern_release(&funcs);
	w->func_of[n] = (uint32_t)w->nfuncs;
	w->line_of[n] = 0;
	w->at[w->nfuncs] = w->tails.len;
	if (!err)
		err = sg_strbuf_addstr(&w->tails, "\"name\":\"" IDLE_LEAF "\",\"cat\":\"idle\"");
	w->args_at[w->nfuncs] = w->tails.len;
	w->has_file[w->nfuncs] = false;
	if (!err)
		err = sg_strbuf_addstr(&w->tails, ",\"args\":{");
	w->at[w->nfuncs + 1] = w->tails.len;
	return err;
}

/* Write the start of an event at out (room for 3 bytes): the separator,
 * when an event came before, and "{". Returns the end. */
static char *put_open(struct writer *w, char *out)
{
	if (w->any_event)
		*out++ = ',';
	w->any_event = true;
	*out++ = '\n';
	*out++ = '{';
	return out;
}

/* The end of a "B" event after its "file": the slice's first line and,
 * for one that moved, every line it was at. */
static int add_lines(struct writer *w, const struct slice *s)
{
	const uint64_t *lines = w->seen + w->lines_at[s->num];
	size_t n = w->lines_at[s->num + 1] - w->lines_at[s->num];
	char piece[16 + SG_TL_U64_MAX];
	char *at = piece;
	int err = 0;

	if (w->first_line[s->num] > 0) {
		if (w->has_file[s->func])
			*at++ = ',';
		memcpy(at, "\"line\":", 7);
		at = sg_tl_put_u64(at + 7, (uint64_t)w->first_line[s->num]);
	}
	if (n > 1) {
		memcpy(at, ",\"lines\":[", 10);
		err = sg_strbuf_add(&w->out, piece, (size_t)(at + 10 - piece));
		for (size_t i = 0; i < n && !err; i++) {
			at = piece;
			if (i)
				*at++ = ',';
			at = sg_tl_put_u64(at, (uint32_t)lines[i]);
			err = sg_strbuf_add(&w->out, piece, (size_t)(at - piece));
		}
		at = piece;
		*at++ = ']';
	}
	*at++ = '}';
	*at++ = '}';
	return err ? err : sg_strbuf_add(&w->out, piece, (size_t)(at - piece));
}

/* One event of the current thread at ts: "B" or "E" of slice s. What comes
 * before the function's tail is put together here and appended at once:
 * this runs for every slice that opens or closes. */
static int add_event(struct writer *w, char ph, uint64_t ts, const struct slice *s)
{
	char head[3 + 9 + sizeof(w->ids) + SG_TL_U64_MAX + 5];
	char *at = put_open(w, head);
	size_t start = w->at[s->func], end = ph == 'B' ? w->at[s->func + 1] : w->args_at[s->func];
	int err;

	memcpy(at, "\"ph\":\"B\",", 9);
	at[6] = ph;
	at += 9;
	memcpy(at, w->ids, w->ids_len);
	at += w->ids_len;
	/* Microseconds with the nanoseconds as three decimals: exact. */
	at = sg_tl_put_u64(at, ts / 1000);
	*at++ = '.';
	*at++ = (char)('0' + ts / 100 % 10);
	*at++ = (char)('0' + ts / 10 % 10);
	*at++ = (char)('0' + ts % 10);
	*at++ = ',';
	err = sg_strbuf_add(&w->out, head, (size_t)(at - head));
	if (!err)
		err = sg_strbuf_add(&w->out, w->tails.buf + start, end - start);
	if (!err)
		err = ph == 'B' ? add_lines(w, s) : sg_strbuf_addch(&w->out, '}');
	return err ? err : sg_tl_flush(&w->out, w->file, CHUNK);
}

/* In the first walk, note that slice num was at line. */
static int note_line(struct writer *w, uint32_t num, int32_t line)
{
	if (w->emit || line <= 0)
		return 0;
	if (sg_grow(&w->seen, &w->seen_cap, w->nseen + 1, sizeof(*w->seen)))
		return SG_ENOMEM;
	w->seen[w->nseen++] = (uint64_t)num << 32 | (uint32_t)line;
	return 0;
}

/* Close the open slices above depth keep, innermost first. */
static int close_to(struct writer *w, size_t keep, uint64_t ts)
{
	int err = 0;

	if (ts < w->last_ts)
		ts = w->last_ts;
	while (w->nopen > keep && !err) {
		w->nopen--;
		if (w->emit)
			err = add_event(w, 'E', ts, &w->open[w->nopen]);
	}
	w->last_ts = ts;
	return err;
}

/* Make the open slices the n frames in want: the slices of the same
 * functions at the same depths stay open (noting the lines they are at
 * now), the others close and open anew. */
static int switch_to(struct writer *w, size_t n, uint64_t ts)
{
	size_t same = 0;
	int err;

	while (same < n && same < w->nopen && w->open[same].func == w->func_of[w->want[same]])
		same++;
	err = close_to(w, same, ts);
	for (size_t k = 0; k < same && !err; k++) {
		struct slice *s = &w->open[k];

		if (s->line == w->line_of[w->want[k]])
			continue;
		/* Only slices that move list their lines: the first goes in now. */
		if (!s->moved)
			err = note_line(w, s->num, w->first_line[s->num]);
		s->moved = true;
		s->line = w->line_of[w->want[k]];
		if (!err)
			err = note_line(w, s->num, s->line);
	}
	if (!err)
		err = sg_grow(&w->open, &w->open_cap, n, sizeof(*w->open));
	for (size_t k = same; k < n && !err; k++) {
		struct slice *s = &w->open[w->nopen++];

		*s = (struct slice){.func = w->func_of[w->want[k]],
		                    .num = w->nslices++,
		                    .line = w->line_of[w->want[k]]};
		if (w->emit) {
			err = add_event(w, 'B', w->last_ts, s);
			continue;
		}
		err = sg_grow(&w->first_line, &w->first_cap, w->nslices, sizeof(*w->first_line));
		if (!err)
			w->first_line[s->num] = s->line;
	}
	return err;
}

/* The stack of row r in frame indices, the idle leaf included; its depth. */
static int want_row(struct writer *w, uint32_t r, size_t *n)
{
	const struct sg_sample *s = sg_profile_sample(w->p, r);
	size_t depth;
	const uint32_t *frames = sg_profile_stack(w->p, s->stack, &depth);
	bool idle = (s->labels.flags & SG_SAMPLE_IDLE) != 0;

	if (sg_grow(&w->want, &w->want_cap, depth + 1, sizeof(*w->want)))
		return SG_ENOMEM;
	for (size_t k = 0; k < depth; k++)
		w->want[k] = w->tl->frame_index[frames[k]];
	if (idle)
		w->want[depth] = (uint32_t)w->tl->nused_frames;
	*n = depth + idle;
	return 0;
}

/* One walk over a thread's spans: events in the second, lines in the first. */
static int walk_thread(struct writer *w, const struct sg_tl_thread *t)
{
	const struct sg_tl_span *spans = w->tl->spans + t->first;
	uint64_t prev_end = 0, period = 0;
	int err = 0;

	w->nopen = 0;
	w->nslices = 0;
	w->last_ts = 0;
	for (size_t i = 0; i < t->nspans && !err; i++) {
		size_t n;

		if (i && spans[i].start_ns > prev_end + period)
			err = close_to(w, 0, prev_end);
		if (!err)
			err = want_row(w, spans[i].row, &n);
		if (!err)
			err = switch_to(w, n, spans[i].start_ns);
		prev_end = spans[i].end_ns;
		/* The time a sample covers, not its weight (CPU time in cpu mode). */
		period = (spans[i].end_ns - spans[i].start_ns) / spans[i].count;
	}
	return err ? err : close_to(w, 0, prev_end);
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sort the lines the first walk noted and find each slice's. */
static int index_lines(struct writer *w)
{
	size_t n = 0;

	if (sg_grow(&w->lines_at, &w->lines_at_cap, (size_t)w->nslices + 1, sizeof(*w->lines_at)))
		return SG_ENOMEM;
	if (w->nseen)
		qsort(w->seen, w->nseen, sizeof(*w->seen), by_value);
	for (size_t i = 0; i < w->nseen; i++)
		if (!n || w->seen[i] != w->seen[n - 1])
			w->seen[n++] = w->seen[i];
	w->nseen = n;
	for (size_t s = 0, i = 0; s <= w->nslices; s++) {
		while (i < n && w->seen[i] >> 32 < s)
			i++;
		w->lines_at[s] = i;
	}
	return 0;
}

static int add_thread(struct writer *w, const struct sg_tl_thread *t)
{
	int err;

	w->ids_len = (size_t)snprintf(w->ids, sizeof(w->ids),
	                              "\"pid\":%d,\"tid\":%d,\"ts\":", (int)t->pid, (int)t->tid);
	w->emit = false;
	w->nseen = 0;
	err = walk_thread(w, t);
	if (!err)
		err = index_lines(w);
	w->emit = true;
	return err ? err : walk_thread(w, t);
}

/* A metadata event naming a process (tid < 0) or a thread; none for "". */
static int add_name(struct writer *w, pid_t pid, pid_t tid, const char *name)
{
	char open[3];
	int err;

	if (!name[0])
		return 0;
	err = sg_strbuf_add(&w->out, open, (size_t)(put_open(w, open) - open));
	if (!err)
		err = sg_strbuf_addf(&w->out,
		                     "\"name\":\"%s_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
		                     "\"args\":{\"name\":",
		                     tid < 0 ? "process" : "thread", (int)pid,
		                     tid < 0 ? 0 : (int)tid);
	if (!err)
		err = sg_text_json(&w->out, name);
	return err ? err : sg_strbuf_addstr(&w->out, "}}");
}

static int add_names(struct writer *w)
{
	const struct sg_meta *m = sg_profile_meta_const(w->p);
	int err = 0;

	for (size_t i = 0; i < w->tl->nthreads && !err; i++) {
		const struct sg_tl_thread *t = &w->tl->threads[i];
		const char *command = sg_profile_process(w->p, t->pid);
		bool seen = false;

		/* Processes are few: a look back finds whether this one was named. */
		for (size_t k = 0; k < i && !seen; k++)
			seen = w->tl->threads[k].pid == t->pid;
		if (!seen)
			err = add_name(w, t->pid, -1,
			               command[0] || w->tl->several_pids ? command : m->command);
		if (!err)
			err = add_name(w, t->pid, t->tid, sg_profile_str(w->p, t->name));
	}
	return err;
}

/* JSON has no NaN or infinity; a hand-made profile could hold them. */
static double or_zero(double v)
{
	return isfinite(v) ? v : 0;
}

static int add_other_data(struct writer *w)
{
	const struct sg_meta *m = sg_profile_meta_const(w->p);
	struct sg_strbuf *sb = &w->out;
	int err = sg_strbuf_addstr(sb, "],\n\"displayTimeUnit\":\"ms\",\n"
	                               "\"otherData\":{\"exporter\":\"spyglass\",\"command\":");

	if (!err)
		err = sg_text_json(sb, m->command);
	if (!err)
		err = sg_strbuf_addstr(sb, ",\"python_version\":");
	if (!err)
		err = sg_text_json(sb, m->python_version);
	if (!err)
		err = sg_strbuf_addf(
		    sb,
		    ",\"mode\":\"%s\",\"rate_asked_hz\":%g,\"rate_achieved_hz\":%g,"
		    "\"start_unix_ns\":%llu,\"duration_ns\":%llu,\"samples\":%llu,\"dropped\":%llu,"
		    "\"timeline\":%s}}\n",
		    sg_mode_name(m->mode), or_zero(m->rate_asked_hz), or_zero(m->rate_achieved_hz),
		    (unsigned long long)m->start_unix_ns, (unsigned long long)m->duration_ns,
		    (unsigned long long)m->samples, (unsigned long long)m->dropped,
		    w->tl->timed ? "true" : "false");
	return err;
}

static int add_rss(struct writer *w)
{
	pid_t pid = w->tl->nthreads ? w->tl->threads[0].pid : 0;
	int err = 0;

	for (size_t i = 0; i < sg_profile_nrss(w->p) && !err; i++) {
		const struct sg_rss_point *pt = sg_profile_rss(w->p, i);
		char open[4];

		err = sg_strbuf_add(&w->out, open, (size_t)(put_open(w, open) - open));
		if (!err)
			err = sg_strbuf_addf(
			    &w->out,
			    "\"name\":\"RSS\",\"ph\":\"C\",\"pid\":%d,\"tid\":0,"
			    "\"ts\":%llu.%03u,\"args\":{\"lowest\":%llu,\"highest\":%llu}}",
			    (int)pid, (unsigned long long)(pt->t_ns / 1000),
			    (unsigned)(pt->t_ns % 1000), (unsigned long long)pt->min_bytes,
			    (unsigned long long)pt->max_bytes);
		if (!err)
			err = sg_tl_flush(&w->out, w->file, CHUNK);
	}
	return err;
}

static int write_chrometrace(const struct sg_profile *p, const struct sg_write_opts *opts,
                             FILE *out)
{
	struct sg_timeline tl;
	struct writer w = {.p = p, .tl = &tl, .opts = opts, .file = out};
	int err = sg_timeline_build(&tl, p);

	if (!err)
		err = render_tails(&w);
	if (!err)
		err = sg_strbuf_addstr(&w.out, "{\"traceEvents\":[");
	if (!err)
		err = add_names(&w);
	for (size_t i = 0; i < tl.nthreads && !err; i++)
		err = add_thread(&w, &tl.threads[i]);
	if (!err)
		err = add_rss(&w);
	if (!err)
		err = add_other_data(&w);
	if (!err)
		err = sg_tl_flush(&w.out, out, 0);
	if (!err && ferror(out))
		err = SG_EIO;
	sg_strbuf_release(&w.out);
	sg_strbuf_release(&w.tails);
	free(w.func_of);
	free(w.line_of);
	free(w.at);
	free(w.args_at);
	free(w.has_file);
	free(w.open);
	free(w.want);
	free(w.first_line);
	free(w.seen);
	free(w.lines_at);
	sg_timeline_release(&tl);
	return err;
}

static const char *const extensions[] = {".trace.json", NULL};

const struct sg_format sg_format_chrometrace = {
    .name = "chrometrace",
    .extensions = extensions,
    .write = write_chrometrace,
};
