/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "formats/text.h"
#include "python/pyheap.h"
#include "python/pyproc.h"
#include "python/pytracemalloc.h"
#include "target/proc.h"
#include "util/err.h"
#include "util/strbuf.h"

struct heap_opts {
	pid_t pid;
	bool json;
	double diff;           /* seconds between two censuses, 0: one census */
	long top;              /* rows of text, 0: all */
	const char *referrers; /* a type whose holders to find, or NULL */
	bool traces;           /* tracemalloc's traces instead of a census */
	enum sg_pytm_group group;
	bool group_given;
};

enum { OPT_JSON = 256, OPT_DIFF, OPT_TOP, OPT_REFERRERS, OPT_TRACES, OPT_GROUP, OPT_VERSION };

static const struct option options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"json", no_argument, NULL, OPT_JSON},
    {"diff", required_argument, NULL, OPT_DIFF},
    {"top", required_argument, NULL, OPT_TOP},
    {"referrers", required_argument, NULL, OPT_REFERRERS},
    {"traces", no_argument, NULL, OPT_TRACES},
    {"group", required_argument, NULL, OPT_GROUP},
    {"limit", required_argument, NULL, OPT_TOP},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass heap [OPTIONS] --pid PID\n"
    "\n"
    "Count the live Python objects of a process by type, with their bytes, read\n"
    "from its memory: the garbage collector's lists and what they refer to. The\n"
    "process is never stopped or changed; the census says how consistent it was.\n"
    "\n"
    "  -p, --pid PID         the process to look at\n"
    "      --diff SECONDS    two censuses SECONDS apart: the types whose count and\n"
    "                        bytes grew, with growth per minute: classes defined in\n"
    "                        Python first, then built-in types, largest first\n"
    "      --referrers TYPE  what holds the objects of TYPE (as the census names it:\n"
    "                        app.sessions.Session, dict), one line per kind of\n"
    "                        holder, named from a module global, class or instance\n"
    "                        attribute, closure or a thread's frame locals\n"
    "      --traces          tracemalloc's traces instead (a target started with\n"
    "                        PYTHONTRACEMALLOC=N): live bytes and blocks by the line\n"
    "                        that allocated them; with --diff, as compare_to\n"
    "      --group KEY       with --traces: lineno (default) or traceback\n"
    "      --top N           show the N largest types, holders or lines (default 25;\n"
    "                        0: all); --limit N is the same\n"
    "      --json            one JSON document instead of text, every type\n"
    "  -h, --help            this help\n"
    "      --version         print the version\n";

/* A type is said to grow in a diff when it gained at least this many
 * objects and this share of what it had: a steady program's temporaries
 * (a list being filled, a dict being rebuilt) move by a few objects
 * between two censuses, a leak by thousands. */
#define GROWTH_MIN_OBJECTS 10
#define GROWTH_MIN_SHARE   0.01

static int parse_args(int argc, char **argv, struct heap_opts *o)
{
	double v;
	int c;

	memset(o, 0, sizeof(*o));
	o->top = 25;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:h", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (sg_cli_parse_pid(optarg, &o->pid))
				return SG_EXIT_USAGE;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_DIFF:
			if (sg_cli_parse_double(optarg, 0.1, 86400, &o->diff)) {
				sg_cli_error("--diff: expected seconds from 0.1 to 86400, got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_REFERRERS:
			o->referrers = optarg;
			break;
		case OPT_TRACES:
			o->traces = true;
			break;
		case OPT_GROUP:
			if (strcmp(optarg, "lineno") == 0) {
				o->group = SG_PYTM_LINENO;
			} else if (strcmp(optarg, "traceback") == 0) {
				o->group = SG_PYTM_TRACEBACK;
			} else {
				sg_cli_error("--group: expected lineno or traceback, got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			o->group_given = true;
			break;
		case OPT_TOP:
			if (sg_cli_parse_double(optarg, 0, 1e9, &v) || v != floor(v)) {
				sg_cli_error("--top: expected a count of types, got '%s'", optarg);
				return SG_EXIT_USAGE;
			}
			o->top = (long)v;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		case OPT_VERSION:
			puts("spyglass " SG_VERSION);
			return -1;
		case '?':
		default:
			return sg_cli_bad_option("heap", argv);
		}
	}
	if (optind < argc) {
		sg_cli_error("unexpected argument '%s' (heap takes --pid PID)", argv[optind]);
		return SG_EXIT_USAGE;
	}
	if (!o->pid) {
		sg_cli_error("no process to look at: give --pid PID");
		return SG_EXIT_USAGE;
	}
	if (o->referrers && o->diff > 0) {
		sg_cli_error("--referrers and --diff do not go together: give one");
		return SG_EXIT_USAGE;
	}
	if (o->referrers && o->traces) {
		sg_cli_error("--referrers and --traces do not go together: give one");
		return SG_EXIT_USAGE;
	}
	if (o->group_given && !o->traces) {
		sg_cli_error("--group goes with --traces");
		return SG_EXIT_USAGE;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n with thousands separators: 1,234,567. */
static const char *grouped(char *buf, size_t len, long long n)
{
	char digits[32];
	size_t nd, out = 0;
	unsigned long long u = n < 0 ? 0ull - (unsigned long long)n : (unsigned long long)n;

	nd = (size_t)snprintf(digits, sizeof(digits), "%llu", u);
	if (n < 0 && out + 1 < len)
		buf[out++] = '-';
	for (size_t i = 0; i < nd && out + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[out++] = ',';
		buf[out++] = digits[i];
	}
	buf[out] = '\0';
	return buf;
}

/* Bytes for people: 512 B, 3.4 KiB, 12.0 MiB, 1.2 GiB. */
static const char *sized(char *buf, size_t len, double bytes)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double a = fabs(bytes);
	size_t u = 0;

	while (a >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
		a /= 1024, u++;
	if (u == 0)
		snprintf(buf, len, "%s%.0f B", bytes < 0 ? "-" : "", a);
	else
		snprintf(buf, len, "%s%.1f %s", bytes < 0 ? "-" : "", a, units[u]);
	return buf;
}

/* Text from the target's memory, with control characters as '?'. */
static int add_clean(struct sg_strbuf *sb, const char *s)
{
	int err = 0;

	for (; *s && !err; s++)
		err = sg_strbuf_addch(sb, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	return err;
}

static uint64_t total_bytes(const struct sg_pyheap *h)
{
	uint64_t b = 0;

	for (size_t i = 0; i < h->ntypes; i++)
		b += h->types[i].bytes;
	return b;
}

static int text_consistency(struct sg_strbuf *sb, const struct sg_pyheap *h, double seconds)
{
	char a[32], b[32], c[32];
	int err;

	err = sg_strbuf_addf(sb,
	                     "  %s tracked by the collector (%u of its %u lists read whole), "
	                     "%s found through references, %s skipped as freed mid-census; "
	                     "%.2f s, %llu reads%s\n",
	                     grouped(a, sizeof(a), (long long)h->tracked), h->lists_whole, h->lists,
	                     grouped(b, sizeof(b), (long long)h->untracked),
	                     grouped(c, sizeof(c), (long long)h->skipped), seconds,
	                     (unsigned long long)h->reads,
	                     h->truncated ? "; stopped at the object limit" : "");
	return err;
}

static int text_census(struct sg_strbuf *sb, const struct sg_pyproc *pp, const struct sg_pyheap *h,
                       double seconds, long top)
{
	char a[32], b[32];
	int err;

	err = sg_strbuf_addf(sb, "Heap of process %d (Python %u.%u.%u): %s objects, %s\n",
	                     (int)pp->pid, pp->version.major, pp->version.minor, pp->version.micro,
	                     grouped(a, sizeof(a), (long long)(h->tracked + h->untracked)),
	                     sized(b, sizeof(b), (double)total_bytes(h)));
	err = err ? err : text_consistency(sb, h, seconds);
	err = err ? err : sg_strbuf_addf(sb, "\n%14s %14s  %s\n", "objects", "bytes", "type");
	for (size_t i = 0; i < h->ntypes && !err && (top == 0 || (long)i < top); i++) {
		err = sg_strbuf_addf(sb, "%14s %14s  ",
		                     grouped(a, sizeof(a), (long long)h->types[i].count),
		                     grouped(b, sizeof(b), (long long)h->types[i].bytes));
		err = err ? err : add_clean(sb, h->types[i].name);
		err = err ? err : sg_strbuf_addch(sb, '\n');
	}
	if (!err && top && (long)h->ntypes > top)
		err = sg_strbuf_addf(sb, "%14s %14s  (%zu more types: --top 0 shows all)\n", "", "",
		                     h->ntypes - (size_t)top);
	return err;
}

static int json_counts(struct sg_strbuf *sb, const struct sg_pyheap *h, double seconds)
{
	return sg_strbuf_addf(sb,
	                      "\"objects\":%llu,\"bytes\":%llu,\"tracked\":%llu,\"untracked\":%llu,"
	                      "\"skipped\":%llu,\"lists\":%u,\"lists_whole\":%u,"
	                      "\"truncated\":%s,\"reads\":%llu,\"seconds\":%.3f",
	                      (unsigned long long)(h->tracked + h->untracked),
	                      (unsigned long long)total_bytes(h), (unsigned long long)h->tracked,
	                      (unsigned long long)h->untracked, (unsigned long long)h->skipped,
	                      h->lists, h->lists_whole, h->truncated ? "true" : "false",
	                      (unsigned long long)h->reads, seconds);
}

static int json_census(struct sg_strbuf *sb, const struct sg_pyproc *pp, const struct sg_pyheap *h,
                       double seconds)
{
	int err = sg_strbuf_addf(sb, "{\"pid\":%d,\"python\":\"%u.%u.%u\",", (int)pp->pid,
	                         pp->version.major, pp->version.minor, pp->version.micro);

	err = err ? err : json_counts(sb, h, seconds);
	err = err ? err : sg_strbuf_addstr(sb, ",\"types\":[");
	for (size_t i = 0; i < h->ntypes && !err; i++) {
		err = sg_strbuf_addstr(sb, i ? ",{\"type\":" : "{\"type\":");
		err = err ? err : sg_text_json(sb, h->types[i].name);
		err = err ? err
		          : sg_strbuf_addf(sb, ",\"count\":%llu,\"bytes\":%llu,\"python\":%s}",
		                           (unsigned long long)h->types[i].count,
		                           (unsigned long long)h->types[i].bytes,
		                           h->types[i].python ? "true" : "false");
	}
	return err ? err : sg_strbuf_addstr(sb, "]}\n");
}

static int text_referrers(struct sg_strbuf *sb, const struct sg_pyproc *pp,
                          const struct sg_pyheap *h, const char *type, double seconds, long top)
{
	char a[32], b[32];
	int err;

	err = sg_strbuf_addf(sb, "What holds the %s objects of process %d (Python %u.%u.%u): ",
	                     grouped(a, sizeof(a), (long long)h->referred), (int)pp->pid,
	                     pp->version.major, pp->version.minor, pp->version.micro);
	err = err ? err : add_clean(sb, type);
	err = err ? err : sg_strbuf_addch(sb, '\n');
	err = err ? err : text_consistency(sb, h, seconds);
	err = err ? err : sg_strbuf_addch(sb, '\n');
	for (size_t i = 0; i < h->nholders && !err && (top == 0 || (long)i < top); i++) {
		err = sg_strbuf_addf(sb, "%14s ",
		                     grouped(a, sizeof(a), (long long)h->holders[i].count));
		err = err ? err : add_clean(sb, type);
		err = err ? err : sg_strbuf_addstr(sb, " objects held by ");
		err = err ? err : add_clean(sb, h->holders[i].what);
		if (!err && h->holders[i].holders > 1)
			err =
			    sg_strbuf_addf(sb, " (%s of them)",
			                   grouped(b, sizeof(b), (long long)h->holders[i].holders));
		err = err ? err : sg_strbuf_addch(sb, '\n');
	}
	if (!err && top && (long)h->nholders > top)
		err = sg_strbuf_addf(sb, "%14s (%zu more holders: --top 0 shows all)\n", "",
		                     h->nholders - (size_t)top);
	return err;
}

static int json_referrers(struct sg_strbuf *sb, const struct sg_pyproc *pp,
                          const struct sg_pyheap *h, const char *type, double seconds)
{
	int err = sg_strbuf_addf(sb, "{\"pid\":%d,\"python\":\"%u.%u.%u\",\"type\":", (int)pp->pid,
	                         pp->version.major, pp->version.minor, pp->version.micro);

	err = err ? err : sg_text_json(sb, type);
	err = err ? err : sg_strbuf_addf(sb, ",\"held\":%llu,", (unsigned long long)h->referred);
	err = err ? err : json_counts(sb, h, seconds);
	err = err ? err : sg_strbuf_addstr(sb, ",\"holders\":[");
	for (size_t i = 0; i < h->nholders && !err; i++) {
		err = sg_strbuf_addstr(sb, i ? ",{\"what\":" : "{\"what\":");
		err = err ? err : sg_text_json(sb, h->holders[i].what);
		err = err ? err
		          : sg_strbuf_addf(sb, ",\"count\":%llu,\"holders\":%llu}",
		                           (unsigned long long)h->holders[i].count,
		                           (unsigned long long)h->holders[i].holders);
	}
	return err ? err : sg_strbuf_addstr(sb, "]}\n");
}

/* One type's growth between two censuses. Types are matched by their type
 * object and name (a class defined again is another type). */
struct growth {
	const struct sg_pyheap_type *after;
	long long count, bytes; /* after - before */
};

static int by_growth(const void *a, const void *b)
{
	const struct growth *x = a, *y = b;

	if (x->after->python != y->after->python)
		return x->after->python ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->after->name, y->after->name);
}

static const struct sg_pyheap_type *find_type(const struct sg_pyheap *h,
                                              const struct sg_pyheap_type *t)
{
	for (size_t i = 0; i < h->ntypes; i++)
		if (h->types[i].addr == t->addr && strcmp(h->types[i].name, t->name) == 0)
			return &h->types[i];
	return NULL;
}

/* The types that grew in count and bytes into *out: classes defined in
 * Python first, as what a program's own code leaks is what to look at (the
 * str and int inside a leaked object grow with it), largest growth first
 * (malloc'd). */
static int growths(const struct sg_pyheap *before, const struct sg_pyheap *after,
                   struct growth **out, size_t *n)
{
	*n = 0;
	*out = calloc(after->ntypes ? after->ntypes : 1, sizeof(**out));
	if (!*out)
		return SG_ENOMEM;
	for (size_t i = 0; i < after->ntypes; i++) {
		const struct sg_pyheap_type *t = &after->types[i], *was = find_type(before, t);
		long long dc = (long long)t->count - (long long)(was ? was->count : 0);
		long long db = (long long)t->bytes - (long long)(was ? was->bytes : 0);

		if (dc >= GROWTH_MIN_OBJECTS && db > 0 &&
		    (double)dc >= GROWTH_MIN_SHARE * (double)(was ? was->count : 0))
			(*out)[(*n)++] = (struct growth){t, dc, db};
	}
	qsort(*out, *n, sizeof(**out), by_growth);
	return 0;
}

static int text_diff(struct sg_strbuf *sb, const struct sg_pyproc *pp,
                     const struct sg_pyheap *before, const struct sg_pyheap *after,
                     const struct growth *g, size_t n, double span, double s1, double s2, long top)
{
	char a[32], b[32], c[32], d[32];
	double per_min = 60.0 / span;
	int err;

	err =
	    sg_strbuf_addf(sb, "Growth of process %d (Python %u.%u.%u) over %.1f s: ", (int)pp->pid,
	                   pp->version.major, pp->version.minor, pp->version.micro, span);
	err = err ? err
	          : sg_strbuf_addf(
	                sb, "%s objects, %s -> %s objects, %s\n",
	                grouped(a, sizeof(a), (long long)(before->tracked + before->untracked)),
	                sized(b, sizeof(b), (double)total_bytes(before)),
	                grouped(c, sizeof(c), (long long)(after->tracked + after->untracked)),
	                sized(d, sizeof(d), (double)total_bytes(after)));
	err = err ? err : sg_strbuf_addstr(sb, "  first census:");
	err = err ? err : text_consistency(sb, before, s1);
	err = err ? err : sg_strbuf_addstr(sb, "  second census:");
	err = err ? err : text_consistency(sb, after, s2);
	if (!err && n == 0)
		return sg_strbuf_addf(sb, "\nNo type grew (by %d objects and %.0f%% or more).\n",
		                      GROWTH_MIN_OBJECTS, GROWTH_MIN_SHARE * 100);
	err = err ? err
	          : sg_strbuf_addf(sb, "\n%12s %14s %12s %12s  %s\n", "objects", "bytes",
	                           "objects/min", "bytes/min", "type");
	for (size_t i = 0; i < n && !err && (top == 0 || (long)i < top); i++) {
		err = sg_strbuf_addf(sb, "%12s %14s %12s %12s  ", grouped(a, sizeof(a), g[i].count),
		                     grouped(b, sizeof(b), g[i].bytes),
		                     grouped(c, sizeof(c), llround((double)g[i].count * per_min)),
		                     sized(d, sizeof(d), (double)g[i].bytes * per_min));
		err = err ? err : add_clean(sb, g[i].after->name);
		err = err ? err : sg_strbuf_addch(sb, '\n');
	}
	return err;
}

static int json_diff(struct sg_strbuf *sb, const struct sg_pyproc *pp,
                     const struct sg_pyheap *before, const struct sg_pyheap *after,
                     const struct growth *g, size_t n, double span, double s1, double s2)
{
	int err = sg_strbuf_addf(sb, "{\"pid\":%d,\"python\":\"%u.%u.%u\",\"seconds\":%.3f,",
	                         (int)pp->pid, pp->version.major, pp->version.minor,
	                         pp->version.micro, span);

	err = err ? err : sg_strbuf_addstr(sb, "\"before\":{");
	err = err ? err : json_counts(sb, before, s1);
	err = err ? err : sg_strbuf_addstr(sb, "},\"after\":{");
	err = err ? err : json_counts(sb, after, s2);
	err = err ? err : sg_strbuf_addstr(sb, "},\"grew\":[");
	for (size_t i = 0; i < n && !err; i++) {
		err = sg_strbuf_addstr(sb, i ? ",{\"type\":" : "{\"type\":");
		err = err ? err : sg_text_json(sb, g[i].after->name);
		err = err ? err
		          : sg_strbuf_addf(sb,
		                           ",\"count\":%lld,\"bytes\":%lld,\"count_per_min\":%.1f,"
		                           "\"bytes_per_min\":%.1f,\"count_after\":%llu,"
		                           "\"bytes_after\":%llu}",
		                           g[i].count, g[i].bytes, (double)g[i].count * 60 / span,
		                           (double)g[i].bytes * 60 / span,
		                           (unsigned long long)g[i].after->count,
		                           (unsigned long long)g[i].after->bytes);
	}
	return err ? err : sg_strbuf_addstr(sb, "]}\n");
}

/* One census, or one line saying why not. */
static int census(struct sg_pyproc *pp, struct sg_procid *id, const char *referrers,
                  struct sg_pyheap *h, double *seconds)
{
	struct sg_pyheap_opts opts = {.referrers = referrers};
	double t0 = now_s();
	int err = sg_pyheap_census(pp, &opts, h);

	*seconds = now_s() - t0;
	/* A target that exits mid-census leaves reads failing anywhere: what
	 * was read of it is not a census. One that is exiting has lost its
	 * memory before /proc says it is gone: a failed census looks again
	 * for up to 200 ms. */
	for (int i = 0; err && err != SG_EGONE && i < 20 && !sg_procid_alive(id); i++)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	if (sg_procid_alive(id) || err == SG_EGONE) {
		sg_cli_error("process %d exited during the census", (int)pp->pid);
		return SG_EXIT_FAIL;
	}
	if (err == SG_ENOTREADY) {
		sg_cli_error("the CPython %u.%u in process %d has not started its interpreter yet",
		             pp->version.major, pp->version.minor, (int)pp->pid);
		return SG_EXIT_FAIL;
	}
	if (err) {
		sg_cli_error("could not read the heap of process %d: %s", (int)pp->pid,
		             sg_err_str(err));
		return SG_EXIT_FAIL;
	}
	return 0;
}

/* --traces: tracemalloc's own traces. */

static const char *group_word(enum sg_pytm_group g)
{
	return g == SG_PYTM_LINENO ? "lineno" : "traceback";
}

static int text_trace_counts(struct sg_strbuf *sb, const struct sg_pytm *t, double seconds)
{
	char a[32], b[32];

	return sg_strbuf_addf(sb,
	                      "  %s traces in %u table%s, %s skipped as torn; up to %u frame%s a "
	                      "traceback; %.2f s, %llu reads%s\n",
	                      grouped(a, sizeof(a), (long long)t->traces), t->domains,
	                      t->domains == 1 ? "" : "s",
	                      grouped(b, sizeof(b), (long long)t->skipped), t->max_nframe,
	                      t->max_nframe == 1 ? "" : "s", seconds, (unsigned long long)t->reads,
	                      t->truncated ? "; stopped at the trace limit" : "");
}

/* A group's frames: file:line, or (by traceback) one per line, oldest
 * first as Traceback.format() shows them, indented by pad. */
static int text_frames(struct sg_strbuf *sb, const struct sg_pytm *t, const struct sg_pytm_stat *s,
                       int pad)
{
	int err = 0;

	for (size_t i = s->nframes; i-- > 0 && !err;) {
		if (i + 1 < s->nframes)
			err = sg_strbuf_addf(sb, "%*s", pad, "");
		err = err ? err : add_clean(sb, sg_pytm_file(t, s->frames[i].file));
		err = err ? err : sg_strbuf_addf(sb, ":%u\n", s->frames[i].line);
	}
	return err;
}

static int text_traces(struct sg_strbuf *sb, const struct sg_pyproc *pp, const struct sg_pytm *t,
                       enum sg_pytm_group g, double seconds, long top)
{
	char a[32], b[32], c[32];
	int err;

	err = sg_strbuf_addf(sb, "Traces of process %d (Python %u.%u.%u) by %s: %s blocks, %s\n",
	                     (int)pp->pid, pp->version.major, pp->version.minor, pp->version.micro,
	                     g == SG_PYTM_LINENO ? "line" : "traceback",
	                     grouped(a, sizeof(a), (long long)t->traces),
	                     sized(b, sizeof(b), (double)t->bytes));
	err = err ? err : text_trace_counts(sb, t, seconds);
	err = err ? err
	          : sg_strbuf_addf(sb, "\n%14s %10s %10s  %s\n", "bytes", "blocks", "average",
	                           g == SG_PYTM_LINENO ? "line"
	                                               : "traceback (most recent call last)");
	for (size_t i = 0; i < t->nstats && !err && (top == 0 || (long)i < top); i++) {
		const struct sg_pytm_stat *s = &t->stats[i];

		err = sg_strbuf_addf(sb, "%14s %10s %10s  ",
		                     grouped(a, sizeof(a), (long long)s->size),
		                     grouped(b, sizeof(b), (long long)s->count),
		                     grouped(c, sizeof(c), (long long)(s->size / s->count)));
		err = err ? err : text_frames(sb, t, s, 38);
	}
	if (!err && top && (long)t->nstats > top)
		err = sg_strbuf_addf(sb, "%14s %10s %10s  (%s more: --top 0 shows all)\n", "", "",
		                     "", grouped(a, sizeof(a), (long long)t->nstats - top));
	return err;
}

static int json_frames(struct sg_strbuf *sb, const struct sg_pytm *t, const struct sg_pytm_stat *s)
{
	int err = sg_strbuf_addstr(sb, "\"frames\":[");

	for (size_t i = 0; i < s->nframes && !err; i++) {
		err = sg_strbuf_addstr(sb, i ? ",{\"file\":" : "{\"file\":");
		err = err ? err : sg_text_json(sb, sg_pytm_file(t, s->frames[i].file));
		err = err ? err : sg_strbuf_addf(sb, ",\"line\":%u}", s->frames[i].line);
	}
	return err ? err : sg_strbuf_addch(sb, ']');
}

static int json_trace_counts(struct sg_strbuf *sb, const struct sg_pytm *t, double seconds)
{
	return sg_strbuf_addf(sb,
	                      "\"blocks\":%llu,\"bytes\":%llu,\"skipped\":%llu,\"tables\":%u,"
	                      "\"max_nframe\":%u,\"truncated\":%s,\"reads\":%llu,\"seconds\":%.3f",
	                      (unsigned long long)t->traces, (unsigned long long)t->bytes,
	                      (unsigned long long)t->skipped, t->domains, t->max_nframe,
	                      t->truncated ? "true" : "false", (unsigned long long)t->reads,
	                      seconds);
}

static int json_traces(struct sg_strbuf *sb, const struct sg_pyproc *pp, const struct sg_pytm *t,
                       enum sg_pytm_group g, double seconds)
{
	int err = sg_strbuf_addf(sb, "{\"pid\":%d,\"python\":\"%u.%u.%u\",\"group\":\"%s\",",
	                         (int)pp->pid, pp->version.major, pp->version.minor,
	                         pp->version.micro, group_word(g));

	err = err ? err : json_trace_counts(sb, t, seconds);
	err = err ? err : sg_strbuf_addstr(sb, ",\"stats\":[");
	for (size_t i = 0; i < t->nstats && !err; i++) {
		err = sg_strbuf_addstr(sb, i ? ",{" : "{");
		err = err ? err : json_frames(sb, t, &t->stats[i]);
		err = err ? err
		          : sg_strbuf_addf(sb, ",\"bytes\":%llu,\"blocks\":%llu}",
		                           (unsigned long long)t->stats[i].size,
		                           (unsigned long long)t->stats[i].count);
	}
	return err ? err : sg_strbuf_addstr(sb, "]}\n");
}

/* A signed count with its sign: +1,234, -5, 0. */
static const char *signed_grouped(char *buf, size_t len, long long n)
{
	if (n > 0 && len > 1) {
		buf[0] = '+';
		grouped(buf + 1, len - 1, n);
		return buf;
	}
	return grouped(buf, len, n);
}

static int text_traces_diff(struct sg_strbuf *sb, const struct sg_pyproc *pp,
                            const struct sg_pytm *before, const struct sg_pytm *after,
                            const struct sg_pytm_diff *d, size_t n, enum sg_pytm_group g,
                            double span, double s1, double s2, long top)
{
	char a[32], b[32], c[32], e[32];
	int err;

	err = sg_strbuf_addf(sb, "Traces of process %d (Python %u.%u.%u) by %s over %.1f s: ",
	                     (int)pp->pid, pp->version.major, pp->version.minor, pp->version.micro,
	                     g == SG_PYTM_LINENO ? "line" : "traceback", span);
	err = err ? err
	          : sg_strbuf_addf(sb, "%s blocks, %s -> %s blocks, %s\n",
	                           grouped(a, sizeof(a), (long long)before->traces),
	                           sized(b, sizeof(b), (double)before->bytes),
	                           grouped(c, sizeof(c), (long long)after->traces),
	                           sized(e, sizeof(e), (double)after->bytes));
	err = err ? err : sg_strbuf_addstr(sb, "  first read:");
	err = err ? err : text_trace_counts(sb, before, s1);
	err = err ? err : sg_strbuf_addstr(sb, "  second read:");
	err = err ? err : text_trace_counts(sb, after, s2);
	err = err ? err
	          : sg_strbuf_addf(
	                sb, "\n%14s %14s %10s %10s  %s\n", "bytes", "change", "blocks", "change",
	                g == SG_PYTM_LINENO ? "line" : "traceback (most recent call last)");
	for (size_t i = 0; i < n && !err && (top == 0 || (long)i < top); i++) {
		const struct sg_pytm_stat *s = d[i].now ? d[i].now : d[i].was;

		err = sg_strbuf_addf(
		    sb, "%14s %14s %10s %10s  ",
		    grouped(a, sizeof(a), (long long)(d[i].now ? d[i].now->size : 0)),
		    signed_grouped(b, sizeof(b), d[i].size_diff),
		    grouped(c, sizeof(c), (long long)(d[i].now ? d[i].now->count : 0)),
		    signed_grouped(e, sizeof(e), d[i].count_diff));
		err = err ? err : text_frames(sb, d[i].now ? after : before, s, 54);
	}
	if (!err && top && (long)n > top)
		err = sg_strbuf_addf(sb, "%14s %14s %10s %10s  (%s more: --top 0 shows all)\n", "",
		                     "", "", "", grouped(a, sizeof(a), (long long)n - top));
	return err;
}

static int json_traces_diff(struct sg_strbuf *sb, const struct sg_pyproc *pp,
                            const struct sg_pytm *before, const struct sg_pytm *after,
                            const struct sg_pytm_diff *d, size_t n, enum sg_pytm_group g,
                            double span, double s1, double s2)
{
	int err = sg_strbuf_addf(
	    sb, "{\"pid\":%d,\"python\":\"%u.%u.%u\",\"group\":\"%s\",\"seconds\":%.3f,",
	    (int)pp->pid, pp->version.major, pp->version.minor, pp->version.micro, group_word(g),
	    span);

	err = err ? err : sg_strbuf_addstr(sb, "\"before\":{");
	err = err ? err : json_trace_counts(sb, before, s1);
	err = err ? err : sg_strbuf_addstr(sb, "},\"after\":{");
	err = err ? err : json_trace_counts(sb, after, s2);
	err = err ? err : sg_strbuf_addstr(sb, "},\"stats\":[");
	for (size_t i = 0; i < n && !err; i++) {
		err = sg_strbuf_addstr(sb, i ? ",{" : "{");
		err = err ? err
		          : json_frames(sb, d[i].now ? after : before,
		                        d[i].now ? d[i].now : d[i].was);
		err = err ? err
		          : sg_strbuf_addf(sb,
		                           ",\"bytes\":%llu,\"bytes_diff\":%lld,\"blocks\":%llu,"
		                           "\"blocks_diff\":%lld}",
		                           (unsigned long long)(d[i].now ? d[i].now->size : 0),
		                           (long long)d[i].size_diff,
		                           (unsigned long long)(d[i].now ? d[i].now->count : 0),
		                           (long long)d[i].count_diff);
	}
	return err ? err : sg_strbuf_addstr(sb, "]}\n");
}

/* One read of the traces, or one line saying why not. */
static int read_traces(struct sg_pyproc *pp, struct sg_procid *id, enum sg_pytm_group g,
                       struct sg_pytm *t, double *seconds)
{
	double t0 = now_s();
	int err = sg_pytm_read(pp, g, 0, t);

	*seconds = now_s() - t0;
	for (int i = 0; err && err != SG_EGONE && i < 20 && !sg_procid_alive(id); i++)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	if (sg_procid_alive(id) || err == SG_EGONE) {
		sg_cli_error("process %d exited while its traces were read", (int)pp->pid);
		return SG_EXIT_FAIL;
	}
	if (err) {
		sg_cli_error("could not read the tracemalloc traces of process %d: %s",
		             (int)pp->pid, sg_err_str(err));
		return SG_EXIT_FAIL;
	}
	switch (t->status) {
	case SG_PYTM_OK:
		return 0;
	case SG_PYTM_OFF:
		sg_cli_error("tracemalloc is off in process %d: start the program with "
		             "PYTHONTRACEMALLOC=1 (or N frames) in its environment",
		             (int)pp->pid);
		break;
	case SG_PYTM_NOSYMBOLS:
		sg_cli_error("%s lacks the symbols that locate tracemalloc's traces "
		             "(tracemalloc_traces: a stripped build); --traces needs its symbol "
		             "table",
		             pp->binary);
		break;
	case SG_PYTM_UNSUPPORTED:
		sg_cli_error("Python %u.%u has no tracemalloc (it came in 3.4)", pp->version.major,
		             pp->version.minor);
		break;
	}
	return SG_EXIT_FAIL;
}

static int cmd_traces(const struct heap_opts *o, struct sg_pyproc *pp, struct sg_procid *id)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	struct sg_pytm before, after;
	struct sg_pytm_diff *d = NULL;
	double s1 = 0, s2 = 0, t0 = now_s(), span;
	size_t n = 0;
	int status, err = 0;

	memset(&after, 0, sizeof(after));
	status = read_traces(pp, id, o->group, &before, &s1);
	if (!status && o->diff > 0) {
		struct timespec ts;
		double left = o->diff - (now_s() - t0);

		if (left > 0) {
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
		span = now_s() - t0;
		status = read_traces(pp, id, o->group, &after, &s2);
		if (!status)
			err = sg_pytm_compare(&before, &after, &d, &n);
		if (!status && !err)
			err = o->json ? json_traces_diff(&sb, pp, &before, &after, d, n, o->group,
			                                 span, s1, s2)
			              : text_traces_diff(&sb, pp, &before, &after, d, n, o->group,
			                                 span, s1, s2, o->top);
	} else if (!status) {
		err = o->json ? json_traces(&sb, pp, &before, o->group, s1)
		              : text_traces(&sb, pp, &before, o->group, s1, o->top);
	}
	if (!status && err) {
		sg_cli_error("out of memory");
		status = SG_EXIT_FAIL;
	}
	if (!status)
		fwrite(sb.buf, 1, sb.len, stdout);
	free(d);
	sg_strbuf_release(&sb);
	sg_pytm_release(&before);
	sg_pytm_release(&after);
	return status;
}

int cmd_heap(int argc, char **argv)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	struct sg_pyheap before = {0}, after = {0};
	struct growth *g = NULL;
	struct sg_procid id;
	struct heap_opts o;
	struct sg_pyproc pp;
	double s1 = 0, s2 = 0, t0, span;
	size_t ng = 0;
	char why[512];
	int status = parse_args(argc, argv, &o), err;

	if (status)
		return status < 0 ? SG_EXIT_OK : status;
	err = sg_procid_open(&id, o.pid);
	if (!err)
		err = sg_pyproc_open(o.pid, &pp, why, sizeof(why));
	if (err) {
		if (!sg_proc_describe_error(o.pid, err, why, sizeof(why)) && err != SG_ENOTPY &&
		    err != SG_EVERSION)
			snprintf(why, sizeof(why), "could not look at process %d: %s", (int)o.pid,
			         sg_err_str(err));
		sg_cli_error("%s", why);
		sg_procid_close(&id);
		return SG_EXIT_FAIL;
	}
	if (o.traces) {
		status = cmd_traces(&o, &pp, &id);
		sg_procid_close(&id);
		return status;
	}
	t0 = now_s();
	status = census(&pp, &id, o.referrers, &before, &s1);
	if (!status && o.diff > 0) {
		struct timespec ts;
		double left = o.diff - (now_s() - t0);

		/* The span runs from the start of one census to the start of the
		 * next, so that a slow census does not shorten it. */
		if (left > 0) {
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
		span = now_s() - t0;
		status = census(&pp, &id, NULL, &after, &s2);
		if (!status && growths(&before, &after, &g, &ng))
			status = SG_EXIT_FAIL;
		if (!status)
			err = o.json ? json_diff(&sb, &pp, &before, &after, g, ng, span, s1, s2)
			             : text_diff(&sb, &pp, &before, &after, g, ng, span, s1, s2,
			                         o.top);
	} else if (!status && o.referrers && !before.referred) {
		sg_cli_error("process %d has no objects of type %s (name it as spyglass heap "
		             "--pid %d shows it)",
		             (int)o.pid, o.referrers, (int)o.pid);
		status = SG_EXIT_FAIL;
	} else if (!status && o.referrers) {
		err = o.json ? json_referrers(&sb, &pp, &before, o.referrers, s1)
		             : text_referrers(&sb, &pp, &before, o.referrers, s1, o.top);
	} else if (!status) {
		err = o.json ? json_census(&sb, &pp, &before, s1)
		             : text_census(&sb, &pp, &before, s1, o.top);
	}
	if (!status && err) {
		sg_cli_error("out of memory");
		status = SG_EXIT_FAIL;
	}
	if (!status)
		fwrite(sb.buf, 1, sb.len, stdout);
	free(g);
	sg_strbuf_release(&sb);
	sg_pyheap_release(&before);
	sg_pyheap_release(&after);
	sg_procid_close(&id);
	return status;
}
