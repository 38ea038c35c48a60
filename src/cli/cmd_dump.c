/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/text.h"
#include "sampler/snapshot.h"
#include "target/hold.h"
#include "target/proc.h"
#include "util/err.h"
#include "util/strbuf.h"

struct dump_opts {
	pid_t pid;
	bool json;
	struct sg_snapshot_opts snap;
};

enum { OPT_JSON = 256, OPT_SUBPROCESSES, OPT_LOCALS, OPT_NATIVE, OPT_VERSION };

static const struct option options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"json", no_argument, NULL, OPT_JSON},
    {"subprocesses", no_argument, NULL, OPT_SUBPROCESSES},
    {"locals", no_argument, NULL, OPT_LOCALS},
    {"native", no_argument, NULL, OPT_NATIVE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass dump [OPTIONS] --pid PID\n"
    "\n"
    "Print every thread's Python stack now, as a traceback (innermost call last),\n"
    "with the thread's name, tid, whether it holds the GIL, its kernel state and\n"
    "the system call it waits in. The process is read, never stopped.\n"
    "\n"
    "  -p, --pid PID         the process to look at\n"
    "      --json            one JSON document instead of text, for tools\n"
    "      --subprocesses    also every descendant process that runs CPython\n"
    "      --locals          each frame's arguments and locals, with short values\n"
    "                        read from memory (nothing is called in the process)\n"
    "      --native          each thread's native frames too (C extensions, the\n"
    "                        interpreter, libc) merged with its Python ones: each\n"
    "                        thread in turn is held still (ptrace) while its\n"
    "                        registers and stack are copied, typically for\n"
    "                        under 100 us, shown as \"held\"; never the process\n"
    "  -h, --help            this help\n"
    "      --version         print the version\n";

static int parse_args(int argc, char **argv, struct dump_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
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
		case OPT_SUBPROCESSES:
			o->snap.subprocesses = true;
			break;
		case OPT_LOCALS:
			o->snap.locals = true;
			break;
		case OPT_NATIVE:
			o->snap.native = true;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		case OPT_VERSION:
			puts("spyglass " SG_VERSION);
			return -1;
		case '?':
		default:
			return sg_cli_bad_option("dump", argv);
		}
	}
	if (optind < argc) {
		sg_cli_error("unexpected argument '%s' (dump takes --pid PID)", argv[optind]);
		return SG_EXIT_USAGE;
	}
	if (!o->pid) {
		sg_cli_error("nothing to dump: give --pid PID");
		return SG_EXIT_USAGE;
	}
	return 0;
}

static const char *state_word(char state)
{
	switch (state) {
	case 'R':
		return "running";
	case 'S':
		return "sleeping";
	case 'D':
		return "in uninterruptible wait";
	case 'T':
		return "stopped";
	case 't':
		return "stopped by a tracer";
	case 'Z':
		return "zombie";
	case 'X':
		return "dead";
	case 'I':
		return "idle";
	case 'P':
		return "parked";
	}
	return "in an unknown state";
}

/* What the thread waits in, in words; "" when nothing is known or it runs. */
static void wait_words(const struct sg_snapthread *th, char *buf, size_t len)
{
	const char *name = sg_syscall_name(th->syscall);

	buf[0] = '\0';
	if (th->syscall == LONG_MIN || th->syscall == SG_SYSCALL_RUNNING)
		return;
	if (th->syscall == -1)
		snprintf(buf, len, "not in a system call");
	else if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "syscall %ld", th->syscall);
}

/* Text from the target's memory, with control characters shown as '?' so
 * that a name cannot move the terminal's cursor. */
static int add_clean(struct sg_strbuf *sb, const char *s)
{
	int err = 0;

	for (; *s && !err; s++)
		err = sg_strbuf_addch(sb, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	return err;
}

/* A frame's locals, one a line under it: "    name = value", arguments
 * first and marked. */
static int text_locals(struct sg_strbuf *sb, const struct sg_snapframe *f)
{
	int err = 0;

	if (f->locals_err)
		return sg_strbuf_addf(sb, "    (locals could not be read: %s)\n",
		                      sg_err_str(f->locals_err));
	for (size_t i = 0; i < f->nlocals && !err; i++) {
		err = sg_strbuf_addstr(sb, "    ");
		err = err ? err : add_clean(sb, f->locals[i].name);
		err = err ? err : sg_strbuf_addstr(sb, " = ");
		err = err ? err : add_clean(sb, f->locals[i].value);
		err = err ? err
		          : sg_strbuf_addstr(sb, f->locals[i].argument ? "  (argument)\n" : "\n");
	}
	return err;
}

static int json_locals(struct sg_strbuf *sb, const struct sg_snapframe *f)
{
	int err = sg_strbuf_addstr(sb, ",\"locals\":[");

	for (size_t i = 0; i < f->nlocals && !err; i++) {
		err = sg_strbuf_addstr(sb, i ? ",{\"name\":" : "{\"name\":");
		err = err ? err : sg_text_json(sb, f->locals[i].name);
		err = err ? err : sg_strbuf_addstr(sb, ",\"value\":");
		err = err ? err : sg_text_json(sb, f->locals[i].value);
		err = err ? err
		          : sg_strbuf_addf(sb, ",\"argument\":%s}",
		                           f->locals[i].argument ? "true" : "false");
	}
	err = err ? err : sg_strbuf_addstr(sb, "],\"locals_error\":");
	if (!err && f->locals_err)
		return sg_text_json(sb, sg_err_str(f->locals_err));
	return err ? err : sg_strbuf_addstr(sb, "null");
}

/* Why a thread's native frames were not read, in words, in buf when it
 * takes a figure. */
static const char *native_words(int err, char *buf, size_t len)
{
	switch (err) {
	case SG_EPERM:
		return "not allowed to ptrace it (another tracer has it, or "
		       "kernel.yama.ptrace_scope: run as root or with CAP_SYS_PTRACE)";
	case SG_ENOTREADY:
		snprintf(buf, len, "it did not stop within %llu ms (in uninterruptible sleep?)",
		         SG_HOLD_WAIT_NS / 1000000);
		return buf;
	case SG_EGONE:
		return "it ended";
	case SG_ENOPROC:
		return "its kernel tid is not known";
	case SG_EREAD:
		return "its stack could not be copied";
	}
	return sg_err_str(err);
}

static const char *kind_word(enum sg_snapframe_kind kind)
{
	switch (kind) {
	case SG_SNAPFRAME_NATIVE:
		return "native";
	case SG_SNAPFRAME_JIT:
		return "jit";
	case SG_SNAPFRAME_UNMATCHED:
		return "unmatched";
	case SG_SNAPFRAME_PYTHON:
		break;
	}
	return "python";
}

/* A native frame: "  [native] name (file:line)", the binary for a file
 * when no source is known. */
static int text_native(struct sg_strbuf *sb, const struct sg_snapframe *f)
{
	int err;

	if (f->kind == SG_SNAPFRAME_UNMATCHED)
		return sg_strbuf_addstr(sb, "  [unmatched] (the native and Python stacks did not "
		                            "match: what ran below is not placed under a frame)\n");
	err = sg_strbuf_addf(sb, "  [%s] ", kind_word(f->kind));
	err = err ? err : add_clean(sb, f->function);
	if (!err && f->file[0]) {
		err = sg_strbuf_addstr(sb, " (");
		err = err ? err : add_clean(sb, f->file);
		err = err       ? err
		      : f->line ? sg_strbuf_addf(sb, ":%d)", f->line)
		                : sg_strbuf_addch(sb, ')');
	}
	return err ? err : sg_strbuf_addch(sb, '\n');
}

static int text_thread(struct sg_strbuf *sb, const struct sg_snapthread *th)
{
	char wait[64], words[128];
	int err;

	wait_words(th, wait, sizeof(wait));
	err = sg_strbuf_addf(sb, "Thread %d \"", (int)th->tid);
	err = err ? err : add_clean(sb, th->name);
	err = err ? err
	          : sg_strbuf_addf(sb, "\"%s: %s (%c)", th->gil ? " (holds the GIL)" : "",
	                           state_word(th->state), th->state);
	if (!err && wait[0])
		err = sg_strbuf_addf(sb, ", waiting in %s", wait);
	if (!err && th->native)
		err = sg_strbuf_addf(sb, "; held %llu us",
		                     (unsigned long long)(th->held_ns + 500) / 1000);
	err = err ? err : sg_strbuf_addch(sb, '\n');
	if (!err && th->native_err)
		err = sg_strbuf_addf(sb, "  (native frames not read: %s)\n",
		                     native_words(th->native_err, words, sizeof(words)));
	if (!err && th->err)
		return sg_strbuf_addf(sb, "  (its stack could not be read: %s)\n",
		                      th->err == SG_ECORRUPT ? "it changed under every walk"
		                                             : sg_err_str(th->err));
	if (!err && !th->nframes)
		return sg_strbuf_addstr(sb, "  (no Python frames)\n");
	err = err ? err : sg_strbuf_addstr(sb, "Traceback (most recent call last):\n");
	for (size_t i = 0; i < th->nframes && !err; i++) {
		const struct sg_snapframe *f = &th->frames[i];

		if (th->omitted && i == th->omitted_at)
			err = sg_strbuf_addf(sb, "  [%zu frames omitted]\n", th->omitted);
		if (f->kind != SG_SNAPFRAME_PYTHON) {
			err = err ? err : text_native(sb, f);
			continue;
		}
		err = err ? err : sg_strbuf_addstr(sb, "  File \"");
		err = err ? err : add_clean(sb, f->file);
		err = err ? err : sg_strbuf_addf(sb, "\", line %d, in ", f->line);
		err = err ? err : add_clean(sb, f->function);
		err = err ? err : sg_strbuf_addch(sb, '\n');
		err = err ? err : text_locals(sb, f);
	}
	return err;
}

static int text_snapshot(struct sg_strbuf *sb, const struct sg_snapshot *snap)
{
	int err = 0;

	for (size_t i = 0; i < snap->nprocs && !err; i++) {
		const struct sg_snapproc *sp = &snap->procs[i];

		err = sg_strbuf_addf(sb, "%sProcess %d: ", i ? "\n" : "", (int)sp->pid);
		err = err ? err : add_clean(sb, sp->command);
		if (!err && sp->err) {
			err = sg_strbuf_addstr(sb, "\n  (could not be read: ");
			err = err ? err : add_clean(sb, sp->why);
			err = err ? err : sg_strbuf_addstr(sb, ")\n");
			continue;
		}
		err = err ? err
		          : sg_strbuf_addf(sb, "\nPython %u.%u.%u\n", sp->version.major,
		                           sp->version.minor, sp->version.micro);
		if (!err && sp->native_note[0]) {
			err = sg_strbuf_addstr(sb, "(native: ");
			err = err ? err : add_clean(sb, sp->native_note);
			err = err ? err : sg_strbuf_addstr(sb, ")\n");
		}
		for (size_t t = 0; t < sp->nthreads && !err; t++) {
			err = sg_strbuf_addch(sb, '\n');
			err = err ? err : text_thread(sb, &sp->threads[t]);
		}
	}
	return err;
}

static int json_thread(struct sg_strbuf *sb, const struct sg_snapthread *th,
                       const struct sg_snapshot_opts *opts)
{
	char wait[64], words[128], state[2] = {th->state, '\0'};
	int err;

	wait_words(th, wait, sizeof(wait));
	err = sg_strbuf_addf(sb, "{\"tid\":%d,\"thread_id\":%llu,\"name\":", (int)th->tid,
	                     (unsigned long long)th->thread_id);
	err = err ? err : sg_text_json(sb, th->name);
	err = err ? err : sg_strbuf_addf(sb, ",\"gil\":%s,\"state\":", th->gil ? "true" : "false");
	err = err ? err : sg_text_json(sb, state);
	err = err ? err : sg_strbuf_addstr(sb, ",\"syscall\":");
	if (!err && th->syscall == SG_SYSCALL_RUNNING)
		err = sg_strbuf_addstr(sb, "\"running\"");
	else if (!err && wait[0])
		err = sg_text_json(sb, wait);
	else if (!err)
		err = sg_strbuf_addstr(sb, "null");
	err = err ? err : sg_strbuf_addstr(sb, ",\"error\":");
	if (!err && th->err)
		err = sg_text_json(sb, th->err == SG_ECORRUPT ? "changed under every walk"
		                                              : sg_err_str(th->err));
	else if (!err)
		err = sg_strbuf_addstr(sb, "null");
	if (!err && opts->native) {
		err = sg_strbuf_addf(sb,
		                     ",\"native\":{\"read\":%s,\"matched\":%s,\"held_us\":%.1f,"
		                     "\"error\":",
		                     th->native ? "true" : "false", th->matched ? "true" : "false",
		                     (double)th->held_ns / 1e3);
		err = err ? err
		      : th->native_err
		          ? sg_text_json(sb, native_words(th->native_err, words, sizeof(words)))
		          : sg_strbuf_addstr(sb, "null");
		err = err ? err : sg_strbuf_addch(sb, '}');
	}
	err = err ? err
	          : sg_strbuf_addf(sb, ",\"omitted\":%zu,\"omitted_at\":%zu,\"frames\":[",
	                           th->omitted, th->omitted_at);
	for (size_t i = 0; i < th->nframes && !err; i++) {
		const struct sg_snapframe *f = &th->frames[i];

		err = sg_strbuf_addstr(sb, i ? ",{\"function\":" : "{\"function\":");
		err = err ? err : sg_text_json(sb, f->function);
		err = err ? err : sg_strbuf_addstr(sb, ",\"file\":");
		err = err ? err : sg_text_json(sb, f->file);
		err = err ? err : sg_strbuf_addf(sb, ",\"line\":%d", f->line);
		if (opts->native) {
			err = err ? err : sg_strbuf_addstr(sb, ",\"kind\":");
			err = err ? err : sg_text_json(sb, kind_word(f->kind));
		}
		if (opts->locals && f->kind == SG_SNAPFRAME_PYTHON)
			err = err ? err : json_locals(sb, f);
		err = err ? err : sg_strbuf_addch(sb, '}');
	}
	return err ? err : sg_strbuf_addstr(sb, "]}");
}

static int json_snapshot(struct sg_strbuf *sb, const struct sg_snapshot *snap,
                         const struct sg_snapshot_opts *opts)
{
	int err = sg_strbuf_addstr(sb, "{\"processes\":[");

	for (size_t i = 0; i < snap->nprocs && !err; i++) {
		const struct sg_snapproc *sp = &snap->procs[i];

		err = sg_strbuf_addf(sb, "%s{\"pid\":%d,\"command\":", i ? "," : "", (int)sp->pid);
		err = err ? err : sg_text_json(sb, sp->command);
		if (!err && sp->err) {
			err = sg_strbuf_addstr(sb, ",\"error\":");
			err = err ? err : sg_text_json(sb, sp->why);
			err = err ? err : sg_strbuf_addstr(sb, ",\"threads\":[]}");
			continue;
		}
		err = err ? err
		          : sg_strbuf_addf(sb, ",\"python\":\"%u.%u.%u\",\"error\":null,",
		                           sp->version.major, sp->version.minor, sp->version.micro);
		if (!err && opts->native) {
			err = sg_strbuf_addstr(sb, "\"native_note\":");
			err = err                  ? err
			      : sp->native_note[0] ? sg_text_json(sb, sp->native_note)
			                           : sg_strbuf_addstr(sb, "null");
			err = err ? err : sg_strbuf_addch(sb, ',');
		}
		err = err ? err : sg_strbuf_addstr(sb, "\"threads\":[");
		for (size_t t = 0; t < sp->nthreads && !err; t++) {
			err = t ? sg_strbuf_addch(sb, ',') : 0;
			err = err ? err : json_thread(sb, &sp->threads[t], opts);
		}
		err = err ? err : sg_strbuf_addstr(sb, "]}");
	}
	return err ? err : sg_strbuf_addstr(sb, "]}\n");
}

int cmd_dump(int argc, char **argv)
{
	struct sg_strbuf sb = SG_STRBUF_INIT;
	struct sg_snapshot snap;
	struct dump_opts o;
	char why[512];
	int status = parse_args(argc, argv, &o), err;

	if (status)
		return status < 0 ? SG_EXIT_OK : status;
	err = sg_snapshot_take(o.pid, &o.snap, &snap, why, sizeof(why));
	if (err) {
		sg_cli_error("%s", why);
		sg_snapshot_release(&snap);
		return SG_EXIT_FAIL;
	}
	err = o.json ? json_snapshot(&sb, &snap, &o.snap) : text_snapshot(&sb, &snap);
	sg_snapshot_release(&snap);
	if (err) {
		sg_cli_error("out of memory");
		sg_strbuf_release(&sb);
		return SG_EXIT_FAIL;
	}
	fwrite(sb.buf, 1, sb.len, stdout);
	sg_strbuf_release(&sb);
	return SG_EXIT_OK;
}
