/* SPDX-License-Identifier: MIT */
#include <curses.h>
#include <stdint.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "formats/top.h"
#include "profile/live.h"
#include "sampler/sampler.h"
#include "target/launch.h"
#include "target/proc.h"
#include "util/err.h"
#include "util/strbuf.h"
#include "util/u64map.h"

/* How often keys are looked at: a key is answered within this. */
#define KEYS_EVERY_S 0.05
#define NS_PER_S     1e9

struct top_opts {
	struct sg_cli_target target;
	double interval_s;
	bool once;
};

static const struct top_opts defaults = {
    .target.sampler = {.rate_hz = 100, .mode = SG_MODE_CPU, .function = true},
    .interval_s = 1,
};

enum { OPT_INTERVAL = SG_CLI_OPT_OWN, OPT_ONCE, OPT_NATIVE };

static const struct option options[] = {
    SG_CLI_TARGET_OPTIONS,
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"once", no_argument, NULL, OPT_ONCE},
    {"native", no_argument, NULL, OPT_NATIVE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, SG_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass top [OPTIONS] --pid PID\n"
    "       spyglass top [OPTIONS] -- COMMAND [ARGS...]\n"
    "\n"
    "A live view of the functions a Python program spends its time in: shares of\n"
    "the last interval's samples (%Self, %Total) and counts since the start.\n"
    "\n"
    "  -p, --pid PID         attach to a running process\n"
    "  -r, --rate HZ         samples per second (default 100)\n"
    "      --interval SECS   seconds between refreshes (default 1)\n"
    "      --mode cpu|wall   cpu: threads on a CPU only (default); wall: all threads\n"
    "      --gil             only the thread holding the GIL\n"
    "      --subprocesses    also sample child processes\n"
    "      --native          C frames too (interpreter, extensions, libc), merged\n"
    "                        with the Python frames; cpu mode, by the CPU clock\n"
    "      --once            print one refresh as text and exit (also when standard\n"
    "                        output is not a terminal)\n"
    "  -h, --help            this help\n"
    "      --version         print the version\n"
    "\n"
    "Keys: 1-4 sort by %Self, %Total, Self, Total; t each thread apart; i idle\n"
    "samples shown or left out; p pause; q quit. A launched program is ended\n"
    "with spyglass (SIGTERM).\n";

static int parse_args(int argc, char **argv, struct top_opts *o)
{
	int c, shared;

	*o = defaults;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+r:p:h", options, NULL)) != -1) {
		shared = sg_cli_target_option(&o->target, c, optarg);
		if (shared == 1)
			continue;
		if (shared)
			return shared;
		switch (c) {
		case OPT_INTERVAL:
			if (sg_cli_parse_double(optarg, 0.05, 3600, &o->interval_s)) {
				sg_cli_error("--interval: expected seconds between 0.05 and 3600, "
				             "got '%s'",
				             optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_ONCE:
			o->once = true;
			break;
		case OPT_NATIVE:
			/* The native stack comes with the CPU clock's samples. */
			o->target.sampler.native = true;
			o->target.sampler.clock = SG_CLOCK_CPU;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		case SG_CLI_OPT_VERSION:
			puts("spyglass " SG_VERSION);
			return -1;
		default:
			return sg_cli_bad_option("top", argv);
		}
	}
	if (sg_cli_native_check(&o->target))
		return SG_EXIT_USAGE;
	return sg_cli_target_finish(&o->target, argc, argv);
}

struct top {
	const struct top_opts *o;
	struct sg_profile *p;
	struct sg_live *live;
	bool interactive, screen, paused, printed;
	int err; /* the first failure (out of memory): ends the run */

	struct sg_live_view_opts vopts;
	struct sg_live_view view;
	struct sg_top_head head;

	double read_s;           /* when the last reading was taken */
	double next_s;           /* when the next is due */
	uint64_t read_ticks;     /* the sampler's ticks then */
	struct sg_u64map cpu;    /* pid + 1 -> its CPU time (ns) at the last reading */
	struct sg_u64map states; /* tid + 1 -> its kernel state then */
	char (*names)[64];       /* per thread of the view: the kernel's name, when
	                            its Python name is not known yet */
	size_t names_cap;
};

/* Whether pid is one of the n in pids. */
static bool has_pid(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* The processes' CPU use since the last reading, and their threads' states
 * now. A process seen for the first time counts from the next reading. */
static void measure(struct top *t, double span_s)
{
	struct sg_u64map cpu = SG_U64MAP_INIT;
	pid_t main_pid = t->o->target.pid;
	uint64_t used = 0, ns, before;
	size_t nprocs = t->view.npids + !has_pid(t->view.pids, t->view.npids, main_pid);
	bool known = false;

	sg_u64map_release(&t->states);
	t->head.threads = 0;
	memset(t->head.states, 0, sizeof(t->head.states));
	for (size_t i = 0; i < nprocs; i++) {
		pid_t pid = i < t->view.npids ? t->view.pids[i] : main_pid, *tids;
		size_t n;
		char state;

		if (sg_proc_cpu_ns(pid, &ns) == 0) {
			if (sg_u64map_get(&t->cpu, (uint64_t)pid + 1, &before)) {
				used += ns > before ? ns - before : 0;
				known = true;
			}
			/* Out of memory: the figure is missed next time, no more. */
			sg_u64map_put(&cpu, (uint64_t)pid + 1, ns);
		}
		if (sg_proc_tasks(pid, &tids, &n))
			continue;
		for (size_t k = 0; k < n; k++) {
			if (sg_proc_task_state(pid, tids[k], &state))
				continue;
			t->head.threads++;
			t->head.states[sg_top_state_of(state)]++;
			sg_u64map_put(&t->states, (uint64_t)tids[k] + 1,
			              (uint64_t)(unsigned char)state);
		}
		free(tids);
	}
	sg_u64map_release(&t->cpu);
	t->cpu = cpu;
	t->head.cpu = known && span_s > 0 ? 100.0 * (double)used / NS_PER_S / span_s : -1;
}

/* The view again, after a reading or a key that changes it. */
static void make_view(struct top *t)
{
	int rows = t->screen ? LINES : 0;

	sg_live_view_release(&t->view);
	/* Each thread shown takes a line and at least one of its functions. */
	t->vopts.max_threads =
	    rows > SG_TOP_HEAD_LINES + 2 ? (size_t)(rows - SG_TOP_HEAD_LINES) / 2 : 1;
	t->err = sg_live_view(t->live, &t->vopts, &t->view);
}

/* The view's threads' states (as last measured) and names filled in. */
static void annotate(struct top *t)
{
	if (t->view.nthreads > t->names_cap) {
		void *names = realloc(t->names, t->view.nthreads * sizeof(*t->names));

		if (!names) {
			t->err = SG_ENOMEM;
			return;
		}
		t->names = names;
		t->names_cap = t->view.nthreads;
	}
	for (size_t i = 0; i < t->view.nthreads; i++) {
		struct sg_live_thread *th = &t->view.threads[i];
		uint64_t state;

		if (sg_u64map_get(&t->states, (uint64_t)th->tid + 1, &state))
			th->state = (char)state;
		if (strncmp(th->name, SG_SAMPLER_UNNAMED, strlen(SG_SAMPLER_UNNAMED)) != 0)
			continue;
		if (sg_proc_task_comm(th->pid, th->tid, t->names[i], sizeof(t->names[i])))
			t->names[i][0] = '\0';
		th->name = t->names[i];
	}
}

static void build_view(struct top *t)
{
	make_view(t);
	if (!t->err)
		annotate(t);
}

static void take_reading(struct top *t, double now_s, uint64_t ticks)
{
	const struct sg_meta *m = sg_profile_meta_const(t->p);
	double span = now_s - t->read_s;
	uint64_t kept = ticks - t->read_ticks;

	t->err = sg_live_read(t->live);
	if (t->err)
		return;
	make_view(t);
	if (t->err)
		return;
	/* Of the processes the view saw. */
	measure(t, span);
	annotate(t);
	t->head.command = m->command;
	t->head.python = m->python_version;
	t->head.dropped = m->dropped;
	t->head.elapsed_s = now_s;
	t->head.interval_s = span;
	/* Each process has its own GIL: the share is their mean. */
	t->head.gil = kept && t->view.npids
	                  ? 100.0 * (double)t->view.gil / (double)kept / (double)t->view.npids
	                  : -1;
	t->read_s = now_s;
	t->read_ticks = ticks;
}

static void draw(struct top *t)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	int y = 0;

	if (sg_top_format(&t->head, &t->view, (size_t)COLS, (size_t)LINES, &sb)) {
		t->err = SG_ENOMEM;
		return;
	}
	erase();
	for (char *line = sb.buf, *end; line && (end = strchr(line, '\n')); line = end + 1, y++) {
		if (y == SG_TOP_HEAD_LINES - 1)
			attron(A_REVERSE);
		mvaddnstr(y, 0, line, (int)(end - line));
		if (y == SG_TOP_HEAD_LINES - 1) {
			/* The column names' bar spans the screen. */
			for (int x = (int)(end - line); x < COLS; x++)
				mvaddch(y, x, ' ');
			attroff(A_REVERSE);
		}
	}
	refresh();
	sg_strbuf_release(&sb);
}

/* One refresh as text on standard output. */
static void print_text(struct top *t)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;

	t->head.keys = false;
	/* Whole names, for scripts. */
	if (sg_top_format(&t->head, &t->view, SIZE_MAX, 0, &sb)) {
		t->err = SG_ENOMEM;
		return;
	}
	fwrite(sb.buf, 1, sb.len, stdout);
	sg_strbuf_release(&sb);
	t->printed = true;
}

static bool start_screen(struct top *t)
{
	/* Names are UTF-8: curses must know the terminal's encoding. */
	setlocale(LC_ALL, "");
	if (!newterm(NULL, stdout, stdin))
		return false;
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	t->screen = true;
	return true;
}

/* Answer the keys pressed since the last look. */
static void keys(struct top *t)
{
	bool changed = false, redraw = false;
	int c;

	while ((c = getch()) != ERR) {
		switch (c) {
		case 'q':
		case 'Q':
			sg_cli_stop = SG_STOP_NOW;
			return;
		case '1':
		case '2':
		case '3':
		case '4':
			t->vopts.sort = (enum sg_live_sort)(c - '1');
			changed = true;
			break;
		case 't':
		case 'T':
			t->vopts.by_thread = !t->vopts.by_thread;
			changed = true;
			break;
		case 'i':
		case 'I':
			t->vopts.idle = !t->vopts.idle;
			changed = true;
			break;
		case 'p':
		case 'P':
		case ' ':
			t->paused = !t->paused;
			t->head.paused = t->paused;
			redraw = true;
			break;
		case KEY_RESIZE:
			changed = true; /* room for another number of threads */
			break;
		default:
			break;
		}
	}
	if (changed)
		build_view(t);
	if ((changed || redraw) && !t->err)
		draw(t);
}

static void on_progress(void *ctx, const struct sg_sampler_progress *pg)
{
	struct top *t = ctx;

	if (t->err)
		return;
	if (t->interactive && !t->screen) {
		if (!start_screen(t)) {
			sg_cli_error("cannot use this terminal (TERM=%s): try --once",
			             getenv("TERM") ? getenv("TERM") : "");
			t->err = SG_EUSAGE;
			sg_cli_stop = SG_STOP_NOW;
			return;
		}
		draw(t);
	}
	if (t->screen)
		keys(t);
	if (pg->elapsed_s < t->next_s || t->err)
		goto out;
	t->next_s = pg->elapsed_s + t->o->interval_s;
	/* Paused, the screen stays as it is; the interval then shown spans
	 * the pause. */
	if (t->paused)
		goto out;
	take_reading(t, pg->elapsed_s, pg->ticks);
	if (t->err)
		goto out;
	if (t->screen) {
		draw(t);
	} else {
		print_text(t);
		sg_cli_stop = SG_STOP_NOW;
	}
out:
	if (t->err)
		sg_cli_stop = SG_STOP_NOW;
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o;
	struct sg_sampler_stats stats;
	struct top t = {.o = &o, .cpu = SG_U64MAP_INIT, .states = SG_U64MAP_INIT};
	struct sg_cli_target *target = &o.target;
	char why[512];
	uint64_t ns;
	int err, status;

	status = parse_args(argc, argv, &o);
	if (status)
		return status < 0 ? SG_EXIT_OK : status;
	t.interactive = !o.once && isatty(STDOUT_FILENO);
	/* In wall mode idle threads are what was asked for: shown at first. */
	t.vopts = (struct sg_live_view_opts){.sort = SG_LIVE_SELF,
	                                     .idle = target->sampler.mode == SG_MODE_WALL,
	                                     .file_name = sg_cli_short_file};
	t.head = (struct sg_top_head){.opts = &t.vopts,
	                              .mode = sg_mode_name(target->sampler.mode),
	                              .rate_hz = target->sampler.rate_hz,
	                              .cpu = -1,
	                              .gil = -1,
	                              .command = "",
	                              .python = "",
	                              .keys = true};
	t.next_s = o.interval_s;
	/* Any of these signals ends top at once, and the terminal is given
	 * back; a launched program is then sent SIGTERM. */
	sg_cli_catch_stop_signals(false);
	if (sg_cli_target_start(target))
		return SG_EXIT_FAIL;
	t.head.pid = target->pid;
	t.p = sg_profile_new();
	if (!t.p || sg_cli_target_meta(target, t.p) || sg_live_new(t.p, &t.live)) {
		sg_cli_error("out of memory");
		sg_profile_free(t.p);
		if (target->command)
			sg_launch_stop(target->pid, 1000);
		return SG_EXIT_FAIL;
	}
	t.head.command = sg_profile_meta(t.p)->command;
	if (sg_proc_cpu_ns(target->pid, &ns) == 0)
		sg_u64map_put(&t.cpu, (uint64_t)target->pid + 1, ns);
	target->sampler.progress = on_progress;
	target->sampler.progress_ctx = &t;
	target->sampler.progress_every_s = KEYS_EVERY_S;
	err = sg_sampler_run(target->pid, &target->sampler, t.p, &stats, &sg_cli_stop, why,
	                     sizeof(why));
	if (t.screen)
		endwin();
	status = SG_EXIT_FAIL;
	if (err) {
		sg_cli_error("%s", why);
	} else if (t.err) {
		if (t.err == SG_ENOMEM)
			sg_cli_error("out of memory");
	} else {
		/* The program ended before the first refresh: what there is. */
		if (!t.interactive && !t.printed) {
			take_reading(&t, stats.wall_s, stats.ticks);
			if (!t.err)
				print_text(&t);
		}
		if (t.err)
			sg_cli_error("out of memory");
		else
			status = sg_cli_target_status(target, &stats);
		fprintf(stderr, "spyglass: %s\n", stats.end_note);
	}
	sg_live_view_release(&t.view);
	sg_live_free(t.live);
	sg_profile_free(t.p);
	sg_u64map_release(&t.cpu);
	sg_u64map_release(&t.states);
	free(t.names);
	return status;
}
