/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf/elf.h"
#include "python/debug_offsets.h"
#include "python/pyproc.h"
#include "target/maps.h"
#include "target/proc.h"
#include "util/err.h"

/* Where the target mapped file offset 0 of path. */
static int mapped_base(const struct sg_maps *maps, const char *path, uint64_t *base)
{
	const struct sg_map *m = sg_maps_find_file_offset(maps, path, 0);

	if (!m)
		return SG_ENOTPY;
	*base = m->start;
	return 0;
}

/* The live address of a symbol, or 0 when the file lacks it. */
static uint64_t live_symbol(const struct sg_elf *elf, uint64_t bias, const char *name)
{
	uint64_t value;

	if (sg_elf_symbol(elf, name, &value, NULL))
		return 0;
	return value + bias;
}

static int choose_layout(struct sg_pyproc *pp, char *why, size_t whylen)
{
	const struct sg_pylayout *row;
	uint8_t blob[SG_DEBUG_OFFSETS_SIZE];
	int err;

	row = sg_pylayout_find(pp->version.major, pp->version.minor);
	if (row) {
		pp->layout = *row;
		return 0;
	}
	if (pp->version.major == 3 && pp->version.minor >= 13 && pp->runtime) {
		err = sg_mem_read(&pp->mem, pp->runtime, blob, sizeof(blob));
		if (err)
			return err;
		err = sg_pylayout_from_debug_offsets(blob, sizeof(blob), &pp->layout);
		if (err == 0)
			return 0;
	}
	snprintf(why, whylen,
	         "Python %u.%u.%u in %s is not supported (supported: 2.7, 3.6 to 3.13)",
	         pp->version.major, pp->version.minor, pp->version.micro, pp->binary);
	return SG_EVERSION;
}

/* Try one mapped file: is it a CPython interpreter? */
static int probe_file(struct sg_pyproc *pp, const struct sg_maps *maps, const char *path, char *why,
                      size_t whylen)
{
	char local[600];
	struct sg_elf *elf;
	uint64_t base, load_vaddr, bias, probe;
	int err;

	err = sg_elf_open(sg_maps_local_path(pp->pid, path, local, sizeof(local)), &elf);
	if (err)
		return SG_ENOTPY;
	err = SG_ENOTPY;
	if (sg_elf_symbol(elf, "_PyRuntime", &probe, NULL) &&
	    sg_elf_symbol(elf, "interp_head", &probe, NULL))
		goto out_free;
	if (mapped_base(maps, path, &base) || sg_elf_load_base(elf, &load_vaddr))
		goto out_free;
	bias = base - load_vaddr;
	snprintf(pp->binary, sizeof(pp->binary), "%s", path);
	if (sg_pyversion_detect(elf, &pp->version)) {
		snprintf(why, whylen, "%s holds a CPython whose version could not be read", path);
		err = SG_EVERSION;
		goto out_free;
	}
	pp->runtime = live_symbol(elf, bias, "_PyRuntime");
	pp->interp_head_sym = live_symbol(elf, bias, "interp_head");
	pp->tstate_current = live_symbol(elf, bias, "_PyThreadState_Current");
	pp->code_type = live_symbol(elf, bias, "PyCode_Type");
	pp->gc_generation0 = live_symbol(elf, bias, "_PyGC_generation0");
	pp->eval_loop = live_symbol(elf, bias, sg_pyproc_eval_name(pp->version.major));
	pp->str_type =
	    live_symbol(elf, bias, pp->version.major == 2 ? "PyString_Type" : "PyUnicode_Type");
	err = choose_layout(pp, why, whylen);
	if (err)
		goto out_free;
	if (pp->layout.tracemalloc.where == SG_TM_SYMBOL) {
		pp->tm_config = live_symbol(elf, bias, "_Py_tracemalloc_config");
		if (!pp->tm_config)
			pp->tm_config = live_symbol(elf, bias, "tracemalloc_config");
		pp->tm_traces = live_symbol(elf, bias, "tracemalloc_traces");
		pp->tm_domains = live_symbol(elf, bias, "tracemalloc_domains");
	}
	if ((pp->layout.head_kind == SG_HEAD_RUNTIME && !pp->runtime) ||
	    (pp->layout.head_kind == SG_HEAD_SYMBOL && !pp->interp_head_sym) || !pp->code_type) {
		snprintf(why, whylen, "%s lacks the symbols needed to find Python threads", path);
		err = SG_ENOTPY;
	}
out_free:
	sg_elf_free(elf);
	return err;
}

const char *sg_pyproc_eval_name(unsigned major)
{
	/* On 3.x PyEval_EvalFrameEx only calls _PyEval_EvalFrameDefault. */
	return major == 2 ? "PyEval_EvalFrameEx" : "_PyEval_EvalFrameDefault";
}

int sg_pyproc_open(pid_t pid, struct sg_pyproc *pp, char *why, size_t whylen)
{
	struct sg_maps maps;
	char link[64], exe[512];
	ssize_t exe_len;
	uint64_t probe;
	int err;

	memset(pp, 0, sizeof(*pp));
	pp->pid = pid;
	sg_mem_init(&pp->mem, pid);
	snprintf(why, whylen, "process %d is not running CPython", (int)pid);
	err = sg_maps_read(pid, &maps);
	if (err)
		return err;
	/* Fail early and clearly when we may not read the target at all. */
	err = sg_mem_read(&pp->mem, maps.maps[0].start, &probe, sizeof(probe));
	if (err == SG_EPERM || err == SG_ENOSYS || err == SG_EGONE) {
		err = err == SG_EGONE ? SG_ENOPROC : err;
		goto out_release;
	}
	/* The executable first, so a python binary wins over a libpython that
	 * some extension happens to map; then every other mapped file. */
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	exe_len = readlink(link, exe, sizeof(exe) - 1);
	exe[exe_len > 0 ? exe_len : 0] = '\0';
	err = exe[0] ? probe_file(pp, &maps, exe, why, whylen) : SG_ENOTPY;
	for (size_t i = 0; err == SG_ENOTPY && i < maps.n; i++) {
		const struct sg_map *m = &maps.maps[i];

		if (m->path[0] != '/' || m->offset != 0 || strcmp(m->path, exe) == 0 ||
		    !strchr(m->perms, 'r'))
			continue;
		/* Each file once: only its offset-0 mapping is probed. */
		err = probe_file(pp, &maps, m->path, why, whylen);
	}
out_release:
	sg_maps_release(&maps);
	return err;
}

int sg_pyproc_interp_head(struct sg_pyproc *pp, uint64_t *interp)
{
	uint64_t at = pp->layout.head_kind == SG_HEAD_RUNTIME
	                  ? pp->runtime + pp->layout.runtime.interp_head
	                  : pp->interp_head_sym;
	int err = sg_mem_read_ptr(&pp->mem, at, interp);

	if (err)
		return err;
	return *interp ? 0 : SG_ENOTREADY;
}

/* A window of the interpreter state wider than this is read in parts. */
#define INTERP_WINDOW 4096

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

int sg_pyproc_interp_read(struct sg_pyproc *pp, uint64_t interp, struct sg_pyinterp *out)
{
	const struct sg_pylayout *l = &pp->layout;
	bool gil_inside = l->gil_kind == SG_GIL_INTERP;
	uint32_t lo = min_u32(l->interp.next, l->interp.tstate_head);
	uint32_t hi = max_u32(l->interp.next, l->interp.tstate_head) + 8;
	uint8_t window[INTERP_WINDOW];
	int32_t locked;
	int err;

	if (gil_inside) {
		lo = min_u32(lo, min_u32(l->interp.gil_locked, l->interp.gil_holder));
		hi = max_u32(hi, max_u32(l->interp.gil_locked + 4, l->interp.gil_holder + 8));
	}
	if (hi - lo > sizeof(window))
		return SG_ECORRUPT;
	err = sg_mem_read(&pp->mem, interp + lo, window, hi - lo);
	if (err)
		return err;
	memcpy(&out->tstate_head, window + l->interp.tstate_head - lo, 8);
	memcpy(&out->next, window + l->interp.next - lo, 8);
	out->gil_holder = 0;
	switch (l->gil_kind) {
	case SG_GIL_SYMBOL:
		return pp->tstate_current
		           ? sg_mem_read_ptr(&pp->mem, pp->tstate_current, &out->gil_holder)
		           : 0;
	case SG_GIL_RUNTIME:
		return sg_mem_read_ptr(&pp->mem, pp->runtime + l->runtime.gil_tstate_current,
		                       &out->gil_holder);
	case SG_GIL_INTERP:
		memcpy(&locked, window + l->interp.gil_locked - lo, 4);
		if (locked)
			memcpy(&out->gil_holder, window + l->interp.gil_holder - lo, 8);
		return 0;
	}
	return 0;
}

/* Append dir and '\n' to sb when the target sees a folder there. */
static int add_root_if_dir(const struct sg_pyproc *pp, struct sg_strbuf *sb, const char *dir)
{
	char seen[PATH_MAX];
	struct stat st;

	/* Through the target's root: it may live in another mount namespace. */
	if ((size_t)snprintf(seen, sizeof(seen), "/proc/%d/root%s", (int)pp->pid, dir) >=
	        sizeof(seen) ||
	    stat(seen, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	return sg_strbuf_addf(sb, "%s\n", dir);
}

/* The first argument python takes for its script: argv[i] past its options,
 * or NULL when sys.path[0] is the working directory (-c, -m, "-", none). */
static const char *script_arg(char **argv, int argc)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return i + 1 < argc && strcmp(argv[i + 1], "-") ? argv[i + 1] : NULL;
		if (a[0] != '-' || !a[1])
			return a[0] == '-' ? NULL : a;
		if (a[1] == '-') {
			/* The one long option with a value. */
			i += strcmp(a, "--check-hash-based-pycs") == 0;
			continue;
		}
		/* Clustered short options; -c and -m end them, -W and -X take the
		 * rest or the next argument. */
		for (const char *c = a + 1; *c; c++) {
			if (*c == 'c' || *c == 'm')
				return NULL;
			if (*c == 'W' || *c == 'X' || *c == 'Q') {
				i += !c[1];
				break;
			}
		}
	}
	return NULL;
}

/* sys.path[0] of a python command line into dir: "" when not one. */
static void program_folder(pid_t pid, char *dir, size_t len)
{
	char args[8192], cwd[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
	char *argv[256];
	const char *base, *script;
	char *slash;
	ssize_t n = sg_proc_argv(pid, args, sizeof(args));
	int argc = 0;

	dir[0] = '\0';
	for (ssize_t at = 0; n > 0 && at < n && argc < 256; at += (ssize_t)strlen(args + at) + 1)
		argv[argc++] = args + at;
	if (!argc || sg_proc_cwd(pid, cwd, sizeof(cwd)))
		return;
	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	/* Other programs (an embedding one, uwsgi) have their own arguments. */
	if (strncmp(base, "python", 6) != 0)
		return;
	script = script_arg(argv, argc);
	if (!script) {
		if ((size_t)snprintf(dir, len, "%s", cwd) >= len)
			dir[0] = '\0';
		return;
	}
	if ((size_t)snprintf(joined, sizeof(joined), "%s%s%s", script[0] == '/' ? "" : cwd,
	                     script[0] == '/' ? "" : "/", script) >= sizeof(joined))
		return;
	/* Python resolves a symbolic link to the script; where we can too (the
	 * same file system view), so do we. */
	if ((size_t)snprintf(dir, len, "%s", realpath(joined, real) ? real : joined) >= len) {
		dir[0] = '\0';
		return;
	}
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = '\0'; /* "/app.py" is in "/" */
}

int sg_pyproc_path_roots(const struct sg_pyproc *pp, struct sg_strbuf *sb)
{
	char dir[PATH_MAX], lib[PATH_MAX], *slash;
	int err = 0;

	snprintf(dir, sizeof(dir), "%s", pp->binary);
	/* The binary's folder and two parents: PREFIX/bin/python3.X and
	 * PREFIX/lib/libpython3.X.so both find PREFIX/lib/python3.X. */
	for (int up = 0; up < 3 && !err && (slash = strrchr(dir, '/')) && slash != dir; up++) {
		*slash = '\0';
		for (int l64 = 0; l64 < 2 && !err; l64++) {
			if ((size_t)snprintf(lib, sizeof(lib), "%s/%s/python%u.%u", dir,
			                     l64 ? "lib64" : "lib", pp->version.major,
			                     pp->version.minor) < sizeof(lib))
				err = add_root_if_dir(pp, sb, lib);
		}
	}
	program_folder(pp->pid, dir, sizeof(dir));
	if (!err && dir[0] == '/')
		err = sg_strbuf_addf(sb, "%s\n", dir);
	return err;
}
