/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "sampler/sampler.h"
#include "store/push.h"
#include "store/store.h"
#include "target/proc.h"
#include "util/err.h"

/*
 * 19 Hz by default, as Parca: a 10 s window of a busy thread is ~190
 * samples (a function at 10% then reads 10 +- 4% over a window, +- 1% over
 * ten minutes), the cost is ~0.1% of a core per process, and a prime rate
 * keeps clear of work that repeats every 10 or 100 ms (the deadlines are
 * jittered as well).
 */
#define DEFAULT_RATE_HZ  19
#define DEFAULT_WINDOW_S 10
/* How soon a target's exit or exec is seen: a look costs a read, and at
 * 10 ms (record's) the looks alone cost 0.6% of a core per process. */
#define CHECK_EVERY_S 0.25
/* How often processes are looked for (--match, --all-python) and the
 * store's retention applied. */
#define DISCOVER_EVERY_S 1
#define RETAIN_EVERY_S   60
/* Processes followed at once; more are left alone, with one line. */
/* Push: a request's time limit, the longest wait between tries of a
 * window the server does not take, the tries before it is given up, and
 * how long the stop may spend sending what is queued. */
#define PUSH_TIMEOUT_MS  10000
#define PUSH_BACKOFF_MAX 30000
#define PUSH_ATTEMPTS    240
#define PUSH_FLUSH_MS    5000
#define MAX_TARGETS      1024
#define MAX_LABELS       32
#define MAX_ENV          16
#define MAX_PIDS         256
#define LABEL_MAX        256

struct agent_opts {
	pid_t pids[MAX_PIDS];
	size_t npids;
	const char *match;
	bool all_python;
	const char *store;
	const char *service;
	double rate_hz, window_s;
	uint64_t retain_ns, max_bytes;
	struct sg_store_label labels[MAX_LABELS];
	size_t nlabels;
	const char *env[MAX_ENV];
	size_t nenv;
	size_t max_depth;
	struct sg_push_opts push; /* push.url NULL: no push */
};

/* One process followed, by its own thread running the sampler. */
struct target {
	struct agent *agent;
	pid_t pid;
	uint64_t start;       /* with pid, names the process */
	char exe[256];        /* what it ran when taken on */
	char labels_exe[256]; /* what it ran when its labels were read */
	pthread_t thread;
	bool explicit_pid; /* given with --pid: its failures are said */
	volatile int finished;
	struct sg_store_label labels[MAX_LABELS + MAX_ENV + 8];
	size_t nlabels;
	char values[8][LABEL_MAX]; /* pid, command, service, container, python */
	char env_values[MAX_ENV][LABEL_MAX];
	struct sg_profile *cpu; /* the window's on-CPU samples, reused */
	uint64_t windows;
};

/* A process looked at and not taken (not Python, or not matching), so
 * that it is looked at again only once it execs. */
struct seen {
	pid_t pid;
	uint64_t start;
	char exe[256];
};

struct agent {
	struct agent_opts o;
	regex_t match;
	char host[LABEL_MAX];
	struct sg_store *store;
	pthread_mutex_t lock;  /* the store, and the error line below */
	char last_error[2048]; /* the samplers' and the store's */
	char push_error[2048]; /* the pusher's */
	struct target *targets[MAX_TARGETS];
	size_t ntargets;
	struct seen *seen;
	size_t nseen, seen_cap;
	bool told_full;
	struct sg_push *pusher;
	pthread_t push_thread;
	bool pushing;
};

static volatile sig_atomic_t agent_stop;

static void on_signal(int sig)
{
	(void)sig;
	agent_stop = SG_STOP_NOW;
}

enum {
	OPT_MATCH = 256,
	OPT_ALL_PYTHON,
	OPT_STORE,
	OPT_WINDOW,
	OPT_SERVICE,
	OPT_LABEL,
	OPT_LABEL_FROM_ENV,
	OPT_RETAIN,
	OPT_MAX_SIZE,
	OPT_MAX_DEPTH,
	OPT_PUSH,
	OPT_PUSH_AUTH,
	OPT_PUSH_TENANT,
};

static const struct option options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"match", required_argument, NULL, OPT_MATCH},
    {"all-python", no_argument, NULL, OPT_ALL_PYTHON},
    {"store", required_argument, NULL, OPT_STORE},
    {"rate", required_argument, NULL, 'r'},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"service", required_argument, NULL, OPT_SERVICE},
    {"label", required_argument, NULL, OPT_LABEL},
    {"label-from-env", required_argument, NULL, OPT_LABEL_FROM_ENV},
    {"retain", required_argument, NULL, OPT_RETAIN},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
    {"push", required_argument, NULL, OPT_PUSH},
    {"push-auth", required_argument, NULL, OPT_PUSH_AUTH},
    {"push-tenant", required_argument, NULL, OPT_PUSH_TENANT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char help[] =
    "usage: spyglass agent --store PATH (--pid PID... | --match REGEX | --all-python)\n"
    "                      [OPTIONS]\n"
    "\n"
    "Profile processes continuously into a store, a window at a time, in cpu and\n"
    "wall mode, until SIGTERM or Ctrl-C. Query it with spyglass query.\n"
    "\n"
    "  -p, --pid PID         a process to profile (repeatable)\n"
    "      --match REGEX     every process whose command line matches (extended\n"
    "                        regular expression), also ones started later\n"
    "      --all-python      every CPython process it may read, also ones started\n"
    "                        later and ones in containers\n"
    "      --store PATH      the store (an SQLite database, made if missing)\n"
    "  -r, --rate HZ         samples per second per thread (default 19)\n"
    "      --window SECS     length of a window (default 10)\n"
    "      --service NAME    the service label (default: from the command line)\n"
    "      --label K=V       a label on every window (repeatable)\n"
    "      --label-from-env VAR  label VAR=value from each target's environment\n"
    "                        (repeatable)\n"
    "      --retain AGE      remove windows older than AGE: 90m, 36h, 7d (default:\n"
    "                        keep)\n"
    "      --max-size SIZE   remove the oldest windows past SIZE: 500M, 2G (default:\n"
    "                        no limit)\n"
    "      --max-depth N     frames kept per sample (default 4096)\n"
    "      --push URL        also send every window to a Pyroscope server (Connect\n"
    "                        push API); windows wait in the store while it is down\n"
    "      --push-auth USER:PASSWORD  basic auth for --push (default: from\n"
    "                        $SPYGLASS_PUSH_AUTH, which ps does not show)\n"
    "      --push-tenant ID  the X-Scope-OrgID header for --push\n"
    "  -h, --help            this help\n";

/* "90m", "36h", "7d", "2w" or seconds, into ns. */
static int parse_age(const char *s, uint64_t *ns)
{
	char *end;
	double v, unit = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v <= 0)
		return -1;
	if (*end && end[1])
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 604800;
		break;
	default:
		return -1;
	}
	if (v * unit > 1e11)
		return -1;
	*ns = (uint64_t)(v * unit * 1e9);
	return 0;
}

/* "500M", "2G", "64K" or bytes. */
static int parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	double v, unit = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v <= 0)
		return -1;
	if (*end && (end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB")))
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		unit = 1024.0;
		break;
	case 'M':
		unit = 1024.0 * 1024;
		break;
	case 'G':
		unit = 1024.0 * 1024 * 1024;
		break;
	case 'T':
		unit = 1024.0 * 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (v * unit < 65536 || v * unit > 1e18)
		return -1;
	*bytes = (uint64_t)(v * unit);
	return 0;
}

static bool good_label_key(const char *k, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '_' && k[i] != '.' && k[i] != '-')
			return false;
	return true;
}

static int parse_args(int argc, char **argv, struct agent_opts *o)
{
	double v;
	char *eq;
	int c;

	memset(o, 0, sizeof(*o));
	o->rate_hz = DEFAULT_RATE_HZ;
	o->window_s = DEFAULT_WINDOW_S;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:r:h", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (o->npids == MAX_PIDS) {
				sg_cli_error("--pid: at most %d (use --match for more)", MAX_PIDS);
				return SG_EXIT_USAGE;
			}
			if (sg_cli_parse_pid(optarg, &o->pids[o->npids]))
				return SG_EXIT_USAGE;
			o->npids++;
			break;
		case OPT_MATCH:
			o->match = optarg;
			break;
		case OPT_ALL_PYTHON:
			o->all_python = true;
			break;
		case OPT_STORE:
			o->store = optarg;
			break;
		case 'r':
			if (sg_cli_parse_double(optarg, 0.1, 1000, &v)) {
				sg_cli_error(
				    "-r: expected a rate in Hz between 0.1 and 1000, got '%s'",
				    optarg);
				return SG_EXIT_USAGE;
			}
			o->rate_hz = v;
			break;
		case OPT_WINDOW:
			if (sg_cli_parse_double(optarg, 0.1, 86400, &v)) {
				sg_cli_error(
				    "--window: expected seconds between 0.1 and 86400, got '%s'",
				    optarg);
				return SG_EXIT_USAGE;
			}
			o->window_s = v;
			break;
		case OPT_SERVICE:
			o->service = optarg;
			break;
		case OPT_LABEL:
			eq = strchr(optarg, '=');
			if (!eq || !good_label_key(optarg, (size_t)(eq - optarg)) ||
			    o->nlabels == MAX_LABELS) {
				sg_cli_error(
				    "--label: expected KEY=VALUE, KEY of letters, digits, '_', "
				    "'.' and '-' (at most %d), got '%s'",
				    MAX_LABELS, optarg);
				return SG_EXIT_USAGE;
			}
			*eq = '\0';
			o->labels[o->nlabels++] = (struct sg_store_label){optarg, eq + 1};
			break;
		case OPT_LABEL_FROM_ENV:
			if (!good_label_key(optarg, strlen(optarg)) || o->nenv == MAX_ENV) {
				sg_cli_error(
				    "--label-from-env: expected a variable's name (at most %d), "
				    "got '%s'",
				    MAX_ENV, optarg);
				return SG_EXIT_USAGE;
			}
			o->env[o->nenv++] = optarg;
			break;
		case OPT_RETAIN:
			if (parse_age(optarg, &o->retain_ns)) {
				sg_cli_error(
				    "--retain: expected an age such as 90m, 36h or 7d, got '%s'",
				    optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_MAX_SIZE:
			if (parse_size(optarg, &o->max_bytes)) {
				sg_cli_error(
				    "--max-size: expected a size of at least 64K, such as 500M "
				    "or 2G, got '%s'",
				    optarg);
				return SG_EXIT_USAGE;
			}
			break;
		case OPT_MAX_DEPTH:
			if (sg_cli_parse_double(optarg, 2, 1048576, &v) || v != floor(v)) {
				sg_cli_error(
				    "--max-depth: expected a whole number of frames between 2 "
				    "and 1048576, got '%s'",
				    optarg);
				return SG_EXIT_USAGE;
			}
			o->max_depth = (size_t)v;
			break;
		case OPT_PUSH:
			o->push.url = optarg;
			break;
		case OPT_PUSH_AUTH:
			if (!strchr(optarg, ':')) {
				sg_cli_error("--push-auth: expected USER:PASSWORD");
				return SG_EXIT_USAGE;
			}
			o->push.basic_auth = optarg;
			break;
		case OPT_PUSH_TENANT:
			o->push.tenant = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			return sg_cli_bad_option("agent", argv);
		}
	}
	if (optind < argc) {
		sg_cli_error("unexpected argument '%s' (see spyglass agent --help)", argv[optind]);
		return SG_EXIT_USAGE;
	}
	if (!o->store) {
		sg_cli_error("where should windows go? give --store PATH");
		return SG_EXIT_USAGE;
	}
	if (!o->push.url && (o->push.basic_auth || o->push.tenant)) {
		sg_cli_error("--push-auth and --push-tenant go with --push URL");
		return SG_EXIT_USAGE;
	}
	if (o->push.url && !o->push.basic_auth)
		o->push.basic_auth = getenv("SPYGLASS_PUSH_AUTH");
	o->push.timeout_ms = PUSH_TIMEOUT_MS;
	if (!o->npids && !o->match && !o->all_python) {
		sg_cli_error("nothing to profile: give --pid PID, --match REGEX or --all-python");
		return SG_EXIT_USAGE;
	}
	return 0;
}

/* One line on stderr, not repeated while the same thing keeps failing
 * (a full disk fails every window). Holds the lock. */
static void say_once(char *last, size_t len, const char *line)
{
	if (strcmp(last, line) == 0)
		return;
	snprintf(last, len, "%s", line);
	sg_cli_error("%s", line);
}

static void agent_say(struct agent *a, const char *line)
{
	say_once(a->last_error, sizeof(a->last_error), line);
}

static void push_say(struct agent *a, const char *line)
{
	say_once(a->push_error, sizeof(a->push_error), line);
}

static int read_file(const char *path, char *buf, size_t len, size_t *got)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	*got = 0;
	if (fd < 0)
		return -1;
	while (*got + 1 < len && (n = read(fd, buf + *got, len - 1 - *got)) > 0)
		*got += (size_t)n;
	close(fd);
	buf[*got] = '\0';
	return 0;
}

/* The container a process runs in: the first 64-hex-digit name in its
 * cgroup path (docker-ID.scope, /docker/ID, cri-containerd-ID.scope),
 * shortened to 12 as docker ps shows it; "" when none. */
static void container_id(pid_t pid, char *out, size_t len)
{
	char path[64], buf[4096];
	size_t n, run = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_file(path, buf, sizeof(buf), &n))
		return;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && isxdigit((unsigned char)buf[i]) && !isupper((unsigned char)buf[i])) {
			run++;
			continue;
		}
		if (run == 64) {
			snprintf(out, len, "%.12s", buf + i - 64);
			return;
		}
		run = 0;
	}
}

/* VAR's value in pid's environment (as it was at exec); "" when unset. */
static void env_value(pid_t pid, const char *var, char *out, size_t len)
{
	char path[64];
	static __thread char buf[65536];
	size_t n, vl = strlen(var);

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if (read_file(path, buf, sizeof(buf), &n))
		return;
	for (size_t at = 0; at < n; at += strlen(buf + at) + 1)
		if (!strncmp(buf + at, var, vl) && buf[at + vl] == '=') {
			snprintf(out, len, "%s", buf + at + vl + 1);
			return;
		}
}

/* The service a command line names: the script python runs (its file name
 * without .py), the module of -m, else the program's name. */
static void derive_service(pid_t pid, char *out, size_t len)
{
	char argv[4096], *args[64];
	ssize_t n = sg_proc_argv(pid, argv, sizeof(argv));
	size_t nargs = 0;
	const char *pick = NULL, *base;

	out[0] = '\0';
	for (ssize_t at = 0; n > 0 && at < n && nargs < 64; at += (ssize_t)strlen(argv + at) + 1)
		args[nargs++] = argv + at;
	for (size_t i = 1; i < nargs && !pick; i++) {
		if (!strcmp(args[i], "-m") && i + 1 < nargs)
			pick = args[i + 1];
		else if (!strcmp(args[i], "-c"))
			break;
		else if (args[i][0] != '-')
			pick = args[i];
	}
	if (!pick)
		pick = nargs ? args[0] : "unknown";
	base = strrchr(pick, '/');
	base = base ? base + 1 : pick;
	snprintf(out, len, "%s", base);
	n = (ssize_t)strlen(out);
	if (n > 3 && !strcmp(out + n - 3, ".py"))
		out[n - 3] = '\0';
}

/* The labels every window of t carries but the Python version, which is
 * known once the sampler has found the interpreter. */
static void target_labels(struct target *t)
{
	const struct agent_opts *o = &t->agent->o;
	char cmd[LABEL_MAX];

	t->nlabels = 0;
	t->labels[t->nlabels++] = (struct sg_store_label){"host", t->agent->host};
	snprintf(t->values[0], LABEL_MAX, "%d", (int)t->pid);
	t->labels[t->nlabels++] = (struct sg_store_label){"pid", t->values[0]};
	if (sg_proc_cmdline(t->pid, cmd, sizeof(cmd)))
		cmd[0] = '\0';
	snprintf(t->values[1], LABEL_MAX, "%s", cmd);
	t->labels[t->nlabels++] = (struct sg_store_label){"command", t->values[1]};
	if (o->service)
		snprintf(t->values[2], LABEL_MAX, "%s", o->service);
	else
		derive_service(t->pid, t->values[2], LABEL_MAX);
	t->labels[t->nlabels++] = (struct sg_store_label){"service", t->values[2]};
	container_id(t->pid, t->values[3], LABEL_MAX);
	if (t->values[3][0])
		t->labels[t->nlabels++] = (struct sg_store_label){"container", t->values[3]};
	for (size_t i = 0; i < o->nenv; i++) {
		env_value(t->pid, o->env[i], t->env_values[i], LABEL_MAX);
		if (t->env_values[i][0])
			t->labels[t->nlabels++] =
			    (struct sg_store_label){o->env[i], t->env_values[i]};
	}
	/* --label last: it may override a derived one. */
	for (size_t i = 0; i < o->nlabels; i++) {
		size_t k;

		for (k = 0; k < t->nlabels; k++)
			if (!strcmp(t->labels[k].key, o->labels[i].key))
				break;
		t->labels[k] = o->labels[i];
		t->nlabels += k == t->nlabels;
	}
}

static const char *proc_exe(pid_t pid, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* A window of t ends: store it as sampled (wall) and its on-CPU part
 * (cpu). Runs in t's thread; the store is shared. */
static void store_window(void *ctx, struct sg_profile *wall)
{
	struct target *t = ctx;
	struct agent *a = t->agent;
	const struct sg_meta *m = sg_profile_meta_const(wall);
	struct sg_store_label labels[sizeof(t->labels) / sizeof(t->labels[0]) + 1];
	size_t n = t->nlabels;
	const struct sg_profile *both[] = {wall, t->cpu};
	char why[1024], line[1200], exe[256];
	int err;

	/* Nothing sampled: a process not (yet) Python, or exiting. */
	if (!m->samples)
		return;
	/* Taken on while a launcher (unshare, a shim) had not exec'd Python
	 * yet, or exec'd since: its labels are the program's it runs now. */
	if (strcmp(proc_exe(t->pid, exe, sizeof(exe)), t->labels_exe) && exe[0]) {
		target_labels(t);
		memcpy(t->labels_exe, exe, sizeof(exe));
		n = t->nlabels;
		sg_profile_set_meta_str(wall, &sg_profile_meta(wall)->command, t->values[1]);
	}
	memcpy(labels, t->labels, n * sizeof(*labels));
	snprintf(t->values[4], LABEL_MAX, "%s", m->python_version);
	if (t->values[4][0])
		labels[n++] = (struct sg_store_label){"python", t->values[4]};
	err = sg_profile_clear(t->cpu);
	if (!err)
		err = sg_profile_merge_on_cpu(t->cpu, wall);
	pthread_mutex_lock(&a->lock);
	if (err)
		snprintf(why, sizeof(why), "out of memory");
	else
		err = sg_store_put(a->store, labels, n, both, 2, why, sizeof(why));
	if (err) {
		snprintf(line, sizeof(line), "%s (pid %d's window is lost; sampling goes on)", why,
		         (int)t->pid);
		agent_say(a, line);
	} else {
		a->last_error[0] = '\0';
		t->windows++;
	}
	pthread_mutex_unlock(&a->lock);
}

static void *target_main(void *arg)
{
	struct target *t = arg;
	struct agent *a = t->agent;
	struct sg_sampler_opts so = {
	    .rate_hz = a->o.rate_hz,
	    .mode = SG_MODE_WALL,
	    .window_s = a->o.window_s,
	    .check_s = CHECK_EVERY_S,
	    .window = store_window,
	    .window_ctx = t,
	    .max_depth = a->o.max_depth,
	};
	struct sg_sampler_stats stats;
	struct sg_profile *p = sg_profile_new();
	char why[512];

	t->cpu = sg_profile_new();
	if (p && t->cpu) {
		sg_profile_set_meta_str(p, &sg_profile_meta(p)->command, t->values[1]);
		if (sg_sampler_run(t->pid, &so, p, &stats, &agent_stop, why, sizeof(why)) == 0) {
			store_window(t, p);
		} else if (t->explicit_pid) {
			char line[600];

			snprintf(line, sizeof(line), "pid %d: %s", (int)t->pid, why);
			pthread_mutex_lock(&a->lock);
			agent_say(a, line);
			pthread_mutex_unlock(&a->lock);
		}
	}
	sg_profile_free(p);
	sg_profile_free(t->cpu);
	t->finished = 1;
	return NULL;
}

/* Take pid on: a thread of its own samples it until it exits or stops
 * being Python. */
static void take_on(struct agent *a, pid_t pid, uint64_t start, const char *exe)
{
	struct target *t;

	if (a->ntargets == MAX_TARGETS) {
		if (!a->told_full)
			sg_cli_error("following %d processes already: pid %d is left alone",
			             MAX_TARGETS, (int)pid);
		a->told_full = true;
		return;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->agent = a;
	t->pid = pid;
	t->start = start;
	snprintf(t->exe, sizeof(t->exe), "%s", exe);
	for (size_t i = 0; i < a->o.npids; i++)
		t->explicit_pid |= a->o.pids[i] == pid;
	target_labels(t);
	memcpy(t->labels_exe, t->exe, sizeof(t->exe));
	if (pthread_create(&t->thread, NULL, target_main, t)) {
		free(t);
		return;
	}
	a->targets[a->ntargets++] = t;
}

/* Whether pid looks like CPython from outside, cheaply: its program is
 * called python..., or it maps a libpython (embedded, or a shared build).
 * The sampler then makes sure. */
static bool looks_python(pid_t pid, const char *exe)
{
	const char *base = strrchr(exe, '/');
	char path[64], line[512];
	bool found = false;
	FILE *maps;

	base = base ? base + 1 : exe;
	if (!strncmp(base, "python", 6))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	if (!maps)
		return false;
	while (!found && fgets(line, sizeof(line), maps))
		found = strstr(line, "/libpython") != NULL;
	fclose(maps);
	return found;
}

static bool wanted(struct agent *a, pid_t pid, const char *exe)
{
	char cmd[4096];

	for (size_t i = 0; i < a->o.npids; i++)
		if (a->o.pids[i] == pid)
			return true;
	if (a->o.match && sg_proc_cmdline(pid, cmd, sizeof(cmd)) == 0 && cmd[0] &&
	    regexec(&a->match, cmd, 0, NULL, 0) == 0)
		return true;
	return a->o.all_python && looks_python(pid, exe);
}

/* Whether pid (started at start, running exe) was looked at already:
 * followed now, or found not to be wanted. */
static bool known(struct agent *a, pid_t pid, uint64_t start, const char *exe)
{
	for (size_t i = 0; i < a->ntargets; i++)
		if (a->targets[i]->pid == pid && a->targets[i]->start == start)
			return !a->targets[i]->finished || !strcmp(a->targets[i]->exe, exe);
	for (size_t i = 0; i < a->nseen; i++)
		if (a->seen[i].pid == pid && a->seen[i].start == start &&
		    !strcmp(a->seen[i].exe, exe))
			return true;
	return false;
}

static void remember(struct agent *a, pid_t pid, uint64_t start, const char *exe)
{
	struct seen *s;

	for (size_t i = 0; i < a->nseen; i++)
		if (a->seen[i].pid == pid) {
			s = &a->seen[i];
			goto fill;
		}
	if (a->nseen == a->seen_cap) {
		size_t cap = a->seen_cap ? 2 * a->seen_cap : 256;
		struct seen *more = realloc(a->seen, cap * sizeof(*more));

		if (!more)
			return;
		a->seen = more;
		a->seen_cap = cap;
	}
	s = &a->seen[a->nseen++];
fill:
	s->pid = pid;
	s->start = start;
	snprintf(s->exe, sizeof(s->exe), "%s", exe);
}

/* Join the threads whose process ended, keeping what they ran, so that
 * a process that exec's is taken on again only for a new program. */
static void reap(struct agent *a, bool all)
{
	size_t kept = 0;

	for (size_t i = 0; i < a->ntargets; i++) {
		struct target *t = a->targets[i];

		if (!all && !t->finished) {
			a->targets[kept++] = t;
			continue;
		}
		pthread_join(t->thread, NULL);
		remember(a, t->pid, t->start, t->exe);
		free(t);
	}
	a->ntargets = kept;
}

/* Look at every process once (the --pid ones alone when neither --match
 * nor --all-python is given). */
static void discover(struct agent *a)
{
	bool scan = a->o.match || a->o.all_python;
	pid_t self = getpid();
	DIR *proc = scan ? opendir("/proc") : NULL;
	struct dirent *de;
	char exe[256];

	reap(a, false);
	/* The --pid ones first, then the rest: bounded by /proc's size. */
	for (size_t i = 0; i < a->o.npids; i++) {
		pid_t pid = a->o.pids[i];
		uint64_t start;

		if (sg_proc_start_time(pid, &start))
			continue;
		proc_exe(pid, exe, sizeof(exe));
		if (!known(a, pid, start, exe)) {
			remember(a, pid, start, exe);
			take_on(a, pid, start, exe);
		}
	}
	while (proc && (de = readdir(proc))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		uint64_t start;

		if (*end || pid <= 0 || pid == self || sg_proc_start_time((pid_t)pid, &start))
			continue;
		proc_exe((pid_t)pid, exe, sizeof(exe));
		/* Kernel threads have no program. */
		if (!exe[0] || known(a, (pid_t)pid, start, exe))
			continue;
		remember(a, (pid_t)pid, start, exe);
		if (wanted(a, (pid_t)pid, exe))
			take_on(a, (pid_t)pid, start, exe);
	}
	if (proc)
		closedir(proc);
	/* Forget the processes that are gone (bounded: by what was seen). */
	for (size_t i = 0; i < a->nseen;) {
		uint64_t start;

		if (sg_proc_start_time(a->seen[i].pid, &start) || start != a->seen[i].start)
			a->seen[i] = a->seen[--a->nseen];
		else
			i++;
	}
}

/* Sleep ms, or less once the agent is asked to stop. */
static void nap(unsigned ms)
{
	struct timespec slice = {0, 100 * 1000 * 1000};

	for (unsigned t = 0; t < ms && !agent_stop; t += 100)
		nanosleep(&slice, NULL);
}

/* Send the oldest queued window once. Returns 1 when it was taken (or
 * given up), 0 when none waits, -1 when the store or the server failed:
 * *backoff_ms is then how long to wait before the next try. */
static int push_next(struct agent *a, struct sg_store *q, unsigned *backoff_ms)
{
	struct sg_store_pushed w;
	char why[2048], line[2200];
	int got = sg_store_next_push(q, &w, why, sizeof(why)), err;
	bool dequeue = true;

	if (got <= 0) {
		if (got < 0) {
			pthread_mutex_lock(&a->lock);
			push_say(a, why);
			pthread_mutex_unlock(&a->lock);
			*backoff_ms = PUSH_BACKOFF_MAX;
		}
		return got;
	}
	err = sg_push_send(a->pusher, &w, why, sizeof(why));
	line[0] = '\0';
	if (!err) {
		*backoff_ms = 0;
	} else if (err == SG_EGONE) {
		/* The stop's time to send ran out: it waits in the store for
		 * the next start, as what was not tried does; nothing to say. */
		dequeue = false;
	} else if (err == SG_EPERM) {
		/* Every window would be refused alike: they wait in the store,
		 * for this run or the next, started with the right ones. */
		dequeue = false;
		snprintf(line, sizeof(line), "%s (windows wait in the store; sampling goes on)",
		         why);
		*backoff_ms = PUSH_BACKOFF_MAX;
	} else if (err != SG_EIO || w.attempts + 1 >= PUSH_ATTEMPTS) {
		/* Said once for the same reason, not once per window. */
		snprintf(line, sizeof(line), "%s: windows it refuses are given up after %u tries",
		         why, err == SG_EIO ? PUSH_ATTEMPTS : 1);
		*backoff_ms = 0;
		err = 0;
	} else {
		dequeue = false;
		snprintf(line, sizeof(line), "%s (windows wait in the store; sampling goes on)",
		         why);
		*backoff_ms = *backoff_ms ? (2 * *backoff_ms < PUSH_BACKOFF_MAX ? 2 * *backoff_ms
		                                                                : PUSH_BACKOFF_MAX)
		                          : 1000;
	}
	if (sg_store_push_done(q, w.window, dequeue, why, sizeof(why)))
		snprintf(line, sizeof(line), "%s", why);
	pthread_mutex_lock(&a->lock);
	if (line[0])
		push_say(a, line);
	else if (!err)
		a->push_error[0] = '\0';
	pthread_mutex_unlock(&a->lock);
	sg_store_pushed_release(&w);
	return err ? -1 : 1;
}

/* The pusher: the store's queued windows, oldest first, each until the
 * server takes it, waiting longer after each failure (to 30 s), so that
 * windows reach it in order and sampling never waits for the network. Its
 * own connection to the store: the samplers' writes do not wait for it. */
static void *push_main(void *arg)
{
	struct agent *a = arg;
	struct sg_store *q = NULL;
	unsigned backoff = 0;
	char why[2048];

	if (sg_store_open(a->o.store, false, false, &q, why, sizeof(why))) {
		pthread_mutex_lock(&a->lock);
		push_say(a, why);
		pthread_mutex_unlock(&a->lock);
		return NULL;
	}
	while (!agent_stop) {
		int got = push_next(a, q, &backoff);

		if (got == 0)
			nap(500);
		else if (got < 0)
			nap(backoff);
	}
	sg_store_close(q);
	return NULL;
}

static uint64_t mono_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* At the stop, once the last windows are stored: one more pass over the
 * queue, as Pyroscope's clients flush on stop, until it is empty, the
 * server fails once, or until (the pusher's deadline: PUSH_FLUSH_MS after
 * the last windows were stored, the request the push thread had in flight
 * included) has passed. What is left waits in the store for the next
 * start. */
static void push_remaining(struct agent *a, uint64_t until)
{
	unsigned backoff = 0;

	/* Bounded by the queue's length and the deadline. */
	while (push_next(a, a->store, &backoff) > 0)
		if (mono_ms() >= until)
			break;
}

static void retain(struct agent *a)
{
	struct timespec now;
	char why[1024];

	if (!a->o.retain_ns && !a->o.max_bytes)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&a->lock);
	if (sg_store_retain(a->store, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec,
	                    a->o.retain_ns, a->o.max_bytes, NULL, why, sizeof(why)))
		agent_say(a, why);
	pthread_mutex_unlock(&a->lock);
}

int cmd_agent(int argc, char **argv)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct sigaction sa = {.sa_handler = on_signal};
	char why[1024];
	int status, rc;
	unsigned ticks = 0;

	if (!a) {
		sg_cli_error("out of memory");
		return SG_EXIT_FAIL;
	}
	status = parse_args(argc, argv, &a->o);
	if (status) {
		free(a);
		return status < 0 ? SG_EXIT_OK : status;
	}
	if (a->o.match && (rc = regcomp(&a->match, a->o.match, REG_EXTENDED | REG_NOSUB))) {
		regerror(rc, &a->match, why, sizeof(why));
		sg_cli_error("--match: '%s' is not a regular expression: %s", a->o.match, why);
		free(a);
		return SG_EXIT_USAGE;
	}
	if (a->o.push.url) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		if (sg_push_new(&a->o.push, &a->pusher, why, sizeof(why))) {
			sg_cli_error("%s", why);
			status = SG_EXIT_USAGE;
			goto out;
		}
	}
	if (sg_store_open(a->o.store, true, false, &a->store, why, sizeof(why))) {
		sg_cli_error("%s", why);
		status = SG_EXIT_FAIL;
		goto out;
	}
	sg_store_queue_pushes(a->store, a->pusher != NULL);
	if (gethostname(a->host, sizeof(a->host)))
		snprintf(a->host, sizeof(a->host), "unknown");
	pthread_mutex_init(&a->lock, NULL);
	agent_stop = 0;
	a->pushing = a->pusher && pthread_create(&a->push_thread, NULL, push_main, a) == 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < a->o.npids; i++)
		if (sg_proc_alive(a->o.pids[i]))
			sg_cli_error("pid %d: no such process (the agent goes on without it)",
			             (int)a->o.pids[i]);
	retain(a);
	/* Bounded by the signal that ends it; each turn sleeps a second. */
	while (!agent_stop) {
		discover(a);
		if (++ticks % RETAIN_EVERY_S == 0)
			retain(a);
		sleep(DISCOVER_EVERY_S);
	}
	/* Every sampler sees the stop within 10 ms and stores what its
	 * window holds so far. */
	reap(a, true);
	if (a->pushing) {
		/* A request in flight (to a server that hangs: up to
		 * PUSH_TIMEOUT_MS) ends by the deadline too, so the stop takes
		 * PUSH_FLUSH_MS at most, not twice PUSH_TIMEOUT_MS. */
		uint64_t until = mono_ms() + PUSH_FLUSH_MS;

		sg_push_deadline(a->pusher, until);
		pthread_join(a->push_thread, NULL);
		push_remaining(a, until);
	}
	pthread_mutex_destroy(&a->lock);
	status = SG_EXIT_OK;
out:
	sg_push_free(a->pusher);
	sg_store_close(a->store);
	if (a->o.match)
		regfree(&a->match);
	free(a->seen);
	free(a);
	return status;
}
