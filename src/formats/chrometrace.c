/* SPDX-License-Identifier: MIT */
/*
 * Chrome's Trace Event Format (the JSON object form), as read by Perfetto,
 * chrome://tracing and speedscope:
 *
 *   {"traceEvents":[
 *   {"name":"process_name","ph":"M","pid":12,"tid":0,"args":{"name":"python app.py"}},
 *   {"name":"thread_name","ph":"M","pid":12,"tid":12,"args":{"name":"MainThread"}},
 *   {"ph":"B","pid":12,"tid":12,"ts":0.000,"name":"main (app.py:3)","cat":"python",
 *    "args":{"file":"app.py","line":3}},
 *   {"ph":"E","pid":12,"tid":12,"ts":20000.000,"name":"main (app.py:3)","cat":"python"}],
 *   "displayTimeUnit":"ms","otherData":{"exporter":"spyglass","command":"python app.py",...}}
 *
 * Each thread's timeline becomes nested begin ("B") and end ("E") events,
 * one pair per frame: when the stack changes from one run to the next, the
 * frames that differ are closed (innermost first) and the new ones opened
 * (outermost first), while the common prefix stays open. So a frame that
 * stays on the stack through many samples is one slice, as in py-spy's
 * chrometrace output. Samples of idle threads end in an "[idle]" slice of
 * category "idle".
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
 * change nothing: the format is per process and thread already.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"
#include "formats/text.h"
#include "formats/timeline.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/strbuf.h"

#define IDLE_LEAF "[idle]"
/* Output is written out in pieces of about this size. */
#define CHUNK (1u << 20)

struct writer {
	const struct sg_profile *p;
	const struct sg_timeline *tl;
	struct sg_strbuf out;
	FILE *file;
	/* Every used frame's event tail ("name", "cat", "args" and the closing
	 * brace), rendered once: frame index i's is tails.buf[at[i] .. at[i + 1]),
	 * of which [at[i] .. args[i]) is "name" and "cat", all an "E" repeats;
	 * index tl->nused_frames is the idle leaf. */
	struct sg_strbuf tails;
	size_t *at, *args;
	/* The current thread's '"pid":P,"tid":T,"ts":', and its open frames
	 * (frame indices, root first). */
	char ids[48];
	size_t ids_len;
	uint32_t *open;
	size_t nopen, open_cap;
	uint32_t *want; /* the next run's stack, same numbering */
	size_t want_cap;
	uint64_t last_ts;
	bool any_event; /* whether an event was written: the next needs a comma */
};

static int render_tails(struct writer *w)
{
	static const char *const cats[] = {"python", "native", "kernel"};
	const struct sg_profile *p = w->p;
	struct sg_strbuf where = SG_STRBUF_INIT;
	size_t n = 0;
	int err = 0;

	w->at = malloc((w->tl->nused_frames + 2) * sizeof(*w->at));
	w->args = malloc((w->tl->nused_frames + 1) * sizeof(*w->args));
	if (!w->at || !w->args)
		return SG_ENOMEM;
	for (size_t id = 0; id < sg_profile_nframes(p) && !err; id++) {
		const struct sg_frame *f = sg_profile_frame(p, (uint32_t)id);

		if (w->tl->frame_index[id] == UINT32_MAX)
			continue;
		w->at[n++] = w->tails.len;
		sg_strbuf_reset(&where);
		err = sg_strbuf_addstr(&w->tails, "\"name\":");
		if (!err)
			err = sg_tl_json_name(&w->tails, p, f);
		if (!err)
			err = sg_strbuf_addf(&w->tails, ",\"cat\":\"%s\"",
			                     f->type < 3 ? cats[f->type] : "python");
		w->args[n - 1] = w->tails.len;
		if (!err)
			err = sg_strbuf_addstr(&w->tails, ",\"args\":{");
		/* The members come with a leading comma each; args wants none first. */
		if (!err)
			err = sg_tl_json_where(&where, p, f);
		if (!err && where.len)
			err = sg_strbuf_add(&w->tails, where.buf + 1, where.len - 1);
		if (!err)
			err = sg_strbuf_addstr(&w->tails, "}}");
	}
	w->at[n] = w->tails.len;
	if (!err)
		err = sg_strbuf_addstr(&w->tails, "\"name\":\"" IDLE_LEAF "\",\"cat\":\"idle\"");
	w->args[n] = w->tails.len;
	if (!err)
		err = sg_strbuf_addstr(&w->tails, ",\"args\":{}}");
	w->at[n + 1] = w->tails.len;
	sg_strbuf_release(&where);
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

/* One event of the current thread at ts: "B" or "E" of frame index f.
 * Everything up to the frame's tail is put together here and appended at
 * once: this runs for every frame that opens or closes. */
static int add_event(struct writer *w, char ph, uint64_t ts, uint32_t f)
{
	char head[3 + 9 + sizeof(w->ids) + SG_TL_U64_MAX + 5];
	char *at = put_open(w, head);
	size_t end = ph == 'B' ? w->at[f + 1] : w->args[f];
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
		err = sg_strbuf_add(&w->out, w->tails.buf + w->at[f], end - w->at[f]);
	if (!err && ph == 'E')
		err = sg_strbuf_addch(&w->out, '}');
	return err ? err : sg_tl_flush(&w->out, w->file, CHUNK);
}

/* Close the open frames above depth keep, innermost first. */
static int close_to(struct writer *w, size_t keep, uint64_t ts)
{
	int err = 0;

	if (ts < w->last_ts)
		ts = w->last_ts;
	while (w->nopen > keep && !err)
		err = add_event(w, 'E', ts, w->open[--w->nopen]);
	w->last_ts = ts;
	return err;
}

/* Make the open frames the n in want, keeping the common prefix. */
static int switch_to(struct writer *w, size_t n, uint64_t ts)
{
	size_t same = 0;
	int err;

	while (same < n && same < w->nopen && w->open[same] == w->want[same])
		same++;
	err = close_to(w, same, ts);
	if (!err)
		err = sg_grow(&w->open, &w->open_cap, n, sizeof(*w->open));
	for (size_t k = same; k < n && !err; k++) {
		err = add_event(w, 'B', w->last_ts, w->want[k]);
		w->open[w->nopen++] = w->want[k];
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

static int add_thread(struct writer *w, const struct sg_tl_thread *t)
{
	const struct sg_tl_span *spans = w->tl->spans + t->first;
	uint64_t prev_end = 0, period = 0;
	int err = 0;

	w->ids_len = (size_t)snprintf(w->ids, sizeof(w->ids),
	                              "\"pid\":%d,\"tid\":%d,\"ts\":", (int)t->pid, (int)t->tid);
	w->nopen = 0;
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
		period = spans[i].weight_ns / spans[i].count;
	}
	return err ? err : close_to(w, 0, prev_end);
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
		    m->mode == SG_MODE_WALL ? "wall" : "cpu", or_zero(m->rate_asked_hz),
		    or_zero(m->rate_achieved_hz), (unsigned long long)m->start_unix_ns,
		    (unsigned long long)m->duration_ns, (unsigned long long)m->samples,
		    (unsigned long long)m->dropped, w->tl->timed ? "true" : "false");
	return err;
}

static int write_chrometrace(const struct sg_profile *p, const struct sg_write_opts *opts,
                             FILE *out)
{
	struct sg_timeline tl;
	struct writer w = {.p = p, .tl = &tl, .file = out};
	int err = sg_timeline_build(&tl, p);

	(void)opts;
	if (!err)
		err = render_tails(&w);
	if (!err)
		err = sg_strbuf_addstr(&w.out, "{\"traceEvents\":[");
	if (!err)
		err = add_names(&w);
	for (size_t i = 0; i < tl.nthreads && !err; i++)
		err = add_thread(&w, &tl.threads[i]);
	if (!err)
		err = add_other_data(&w);
	if (!err)
		err = sg_tl_flush(&w.out, out, 0);
	if (!err && ferror(out))
		err = SG_EIO;
	sg_strbuf_release(&w.out);
	sg_strbuf_release(&w.tails);
	free(w.at);
	free(w.args);
	free(w.open);
	free(w.want);
	sg_timeline_release(&tl);
	return err;
}

static const char *const extensions[] = {".trace.json", NULL};

const struct sg_format sg_format_chrometrace = {
    .name = "chrometrace",
    .extensions = extensions,
    .write = write_chrometrace,
};
