/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dwarf.h>
#include <sys/stat.h>
#include <elfutils/libdw.h>

#include "native/sym.h"
#include "target/maps.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/intern.h"
#include "util/u64map.h"

/* Inlined frames kept per address, innermost first; deeper nests lose
 * their outermost inlines (the function itself is always kept). */
#define MAX_INLINE 32

/* libstdc++'s demangler (C++ ABI); declared here to stay in C. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

struct cframe {
	uint32_t name, file; /* ids in strings */
	int32_t line;
};

struct ksym {
	uint64_t addr;
	uint32_t name;
};

/* How often a perf map may be looked at for having grown. */
#define JIT_CHECK_NS (50 * 1000 * 1000ull)
/* Perf maps held open at once; past this they are opened at each read. */
#define JIT_OPEN_MAX 64

struct jsym {
	uint64_t start, end;
	uint32_t name; /* id in strings */
	uint32_t seq;  /* later lines win over earlier ones at the same start */
};

/* One process's /tmp/perf-PID.map, as read so far. */
struct jitmap {
	pid_t pid;
	long long read_to; /* bytes parsed (whole lines) */
	uint64_t checked_ns;
	FILE *file;        /* kept open: the process may exit before its last samples are named */
	struct jsym *syms; /* sorted by start, then seq */
	size_t n, cap;
};

struct sg_syms {
	struct jitmap *jits;
	size_t njits, jits_cap, open_jits;
	struct sg_intern strings;
	struct sg_u64map cache; /* key -> first frame << 8 | count */
	struct cframe *frames;
	size_t nframes, frames_cap;
	struct ksym *ksyms; /* sorted by addr */
	size_t nksyms;
	bool kernel_loaded;
	uint32_t kernel_file;
};

int sg_syms_new(struct sg_syms **out)
{
	struct sg_syms *s = calloc(1, sizeof(*s));

	*out = s;
	if (!s)
		return SG_ENOMEM;
	sg_intern_init(&s->strings);
	sg_u64map_init(&s->cache);
	return 0;
}

void sg_syms_free(struct sg_syms *s)
{
	if (!s)
		return;
	sg_intern_release(&s->strings);
	sg_u64map_release(&s->cache);
	free(s->frames);
	free(s->ksyms);
	for (size_t i = 0; i < s->njits; i++) {
		free(s->jits[i].syms);
		if (s->jits[i].file)
			fclose(s->jits[i].file);
	}
	free(s->jits);
	free(s);
}

/* Rust's legacy mangling demangles (as C++) to a path whose last part is
 * h + 16 hex digits, with $..$ escapes and ".." for "::" in its parts. */
static bool rust_hash_suffix(const char *s, size_t len)
{
	if (len < 19 || memcmp(s + len - 19, "::h", 3) != 0)
		return false;
	for (size_t i = len - 16; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void rust_unescape(const char *in, size_t len, char *out, size_t outlen)
{
	static const struct {
		const char *esc, *ch;
	} table[] = {{"$SP$", "@"},  {"$BP$", "*"},  {"$RF$", "&"},  {"$LT$", "<"},
	             {"$GT$", ">"},  {"$LP$", "("},  {"$RP$", ")"},  {"$C$", ","},
	             {"$u20$", " "}, {"$u27$", "'"}, {"$u5b$", "["}, {"$u5d$", "]"},
	             {"$u7b$", "{"}, {"$u7d$", "}"}, {"$u7e$", "~"}};
	size_t o = 0;

	for (size_t i = 0; i < len && o + 4 < outlen;) {
		const char *add = NULL;
		size_t skip = 1;

		if (in[i] == '.' && i + 1 < len && in[i + 1] == '.') {
			add = "::";
			skip = 2;
		} else if (in[i] == '$') {
			for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
				size_t el = strlen(table[k].esc);

				if (len - i >= el && memcmp(in + i, table[k].esc, el) == 0) {
					add = table[k].ch;
					skip = el;
					break;
				}
			}
		}
		if (add) {
			for (; *add && o + 1 < outlen; add++)
				out[o++] = *add;
		} else {
			out[o++] = in[i];
		}
		i += skip;
	}
	out[o] = '\0';
}

const char *sg_syms_demangle(const char *name, char *buf, size_t len)
{
	int status = -1;
	char *d = strncmp(name, "_Z", 2) == 0 ? __cxa_demangle(name, NULL, NULL, &status) : NULL;
	size_t dl;

	if (!d || status != 0) {
		free(d);
		snprintf(buf, len, "%s", name);
		return buf;
	}
	dl = strlen(d);
	if (rust_hash_suffix(d, dl))
		rust_unescape(d, dl - 19, buf, len);
	else
		snprintf(buf, len, "%s", d);
	free(d);
	return buf;
}

static int intern(struct sg_syms *s, const char *str, uint32_t *id)
{
	return sg_intern_put(&s->strings, str, strlen(str), id);
}

static int add_frame(struct sg_syms *s, const char *name, const char *file, int line)
{
	struct cframe f = {.line = line};
	char buf[1024];

	if (intern(s, sg_syms_demangle(name, buf, sizeof(buf)), &f.name) ||
	    intern(s, file ? file : "", &f.file) ||
	    sg_grow(&s->frames, &s->frames_cap, s->nframes + 1, sizeof(*s->frames)))
		return SG_ENOMEM;
	s->frames[s->nframes++] = f;
	return 0;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *name;

	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
	return name;
}

/* The file an inlined call was made from (DW_AT_call_file indexes the
 * CU's file table). */
static const char *call_file(Dwarf_Die *cu, Dwarf_Die *inl)
{
	Dwarf_Attribute a;
	Dwarf_Files *files;
	Dwarf_Word idx;
	size_t n;

	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &a), &idx) ||
	    dwarf_getsrcfiles(cu, &files, &n) || idx >= n)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

/* "libfoo.so+0x1234": the mapped file and the address's offset in it. */
static int add_unnamed(struct sg_syms *s, const struct sg_unwind_map *m, uint64_t pc)
{
	char name[512];
	const char *base;

	if (!m) {
		snprintf(name, sizeof(name), "[unknown]+0x%llx", (unsigned long long)pc);
		return add_frame(s, name, "", 0);
	}
	base = strrchr(m->path, '/');
	base = base && base[1] ? base + 1 : m->path;
	/* Anonymous code with no perf map entry: JIT code, as perf names it. */
	if (!base[0] || strcmp(m->path, "//anon") == 0)
		base = "[anon]";
	snprintf(name, sizeof(name), "%s+0x%llx", base,
	         (unsigned long long)(pc - m->start + m->pgoff));
	return add_frame(s, name, m->path, 0);
}

/* The frames for pc in mod, innermost first, appended to s->frames. */
static int resolve_module(struct sg_syms *s, Dwfl_Module *mod, const struct sg_unwind_map *m,
                          uint64_t pc)
{
	const char *modpath = NULL, *file = NULL, *sym, *outer = NULL;
	Dwarf_Die *scopes = NULL, *cu;
	Dwarf_Addr bias;
	GElf_Off off;
	GElf_Sym elfsym;
	int line = 0, n, err = 0, kept = 0;
	Dwfl_Line *ln;

	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &modpath, NULL);
	sym = dwfl_module_addrinfo(mod, pc, &off, &elfsym, NULL, NULL, NULL);
	ln = dwfl_module_getsrc(mod, pc);
	if (ln)
		file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
	cu = dwfl_module_addrdie(mod, pc, &bias);
	n = cu ? dwarf_getscopes(cu, pc - bias, &scopes) : 0;
	for (int i = 0; i < n && !err; i++) {
		Dwarf_Attribute a;
		Dwarf_Word v;
		int tag = dwarf_tag(&scopes[i]);

		if (tag == DW_TAG_subprogram) {
			outer = die_name(&scopes[i]);
			break;
		}
		if (tag != DW_TAG_inlined_subroutine || !die_name(&scopes[i]))
			continue;
		if (kept++ < MAX_INLINE)
			err = add_frame(s, die_name(&scopes[i]), file ? file : modpath, line);
		/* The call site is where the caller is. */
		file = call_file(cu, &scopes[i]);
		line = dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &v) == 0
		           ? (int)v
		           : 0;
	}
	free(scopes);
	if (err)
		return err;
	if (!sym)
		sym = outer;
	if (!sym)
		return add_unnamed(s, m, pc);
	return add_frame(s, sym, file ? file : (m ? m->path : modpath), file ? line : 0);
}

static int emit(struct sg_syms *s, uint64_t v, sg_sym_fn fn, void *ctx, bool kernel)
{
	size_t first = (size_t)(v >> 8), count = (size_t)(v & 0xff);

	for (size_t i = first; i < first + count; i++) {
		const struct cframe *c = &s->frames[i];
		struct sg_sym_frame f = {
		    .name = sg_intern_get(&s->strings, c->name, NULL),
		    .file = sg_intern_get(&s->strings, c->file, NULL),
		    .line = c->line,
		    .kernel = kernel,
		};
		int err = fn(ctx, &f);

		if (err)
			return err;
	}
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* /proc/kallsyms' text symbols, once; all-zero addresses (hidden by
 * kptr_restrict) give none. */
static int load_kallsyms(struct sg_syms *s)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512];
	size_t cap = 0;
	int err = 0;

	s->kernel_loaded = true;
	err = intern(s, "[kernel]", &s->kernel_file);
	if (!f || err)
		return err;
	while (!err && fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[256];
		struct ksym k;

		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || !addr ||
		    (type != 't' && type != 'T' && type != 'w' && type != 'W'))
			continue;
		k.addr = addr;
		err = intern(s, name, &k.name);
		if (!err)
			err = sg_grow(&s->ksyms, &cap, s->nksyms + 1, sizeof(*s->ksyms));
		if (!err)
			s->ksyms[s->nksyms++] = k;
	}
	fclose(f);
	if (s->nksyms)
		qsort(s->ksyms, s->nksyms, sizeof(*s->ksyms), by_addr);
	return err;
}

static int resolve_kernel(struct sg_syms *s, uint64_t pc, sg_sym_fn fn, void *ctx)
{
	size_t lo = 0, hi = s->nksyms;
	struct sg_sym_frame f = {.name = "[kernel]", .file = "[kernel]", .kernel = true};
	int err = s->kernel_loaded ? 0 : load_kallsyms(s);

	if (err)
		return err;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ksyms[mid].addr <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0)
		f.name = sg_intern_get(&s->strings, s->ksyms[lo - 1].name, NULL);
	return fn(ctx, &f);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int by_start(const void *a, const void *b)
{
	const struct jsym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct jitmap *jitmap_of(struct sg_syms *s, pid_t pid)
{
	for (size_t i = 0; i < s->njits; i++)
		if (s->jits[i].pid == pid)
			return &s->jits[i];
	if (sg_grow(&s->jits, &s->jits_cap, s->njits + 1, sizeof(*s->jits)))
		return NULL;
	s->jits[s->njits] = (struct jitmap){.pid = pid};
	return &s->jits[s->njits++];
}

/* Bytes up to and with the next newline, or -1 if the line has none yet. */
static long long skip_line(FILE *f)
{
	long long n = 0;
	int c;

	while ((c = getc(f)) != EOF) {
		n++;
		if (c == '\n')
			return n;
	}
	return -1;
}

/* Parse the lines added to pid's perf map since the last read. */
static int jit_refresh(struct sg_syms *s, struct jitmap *j)
{
	char path[128], local[256], line[4096];
	uint64_t now = mono_ns();
	struct stat st;
	size_t before = j->n;
	int err = 0;
	FILE *f;

	if (j->checked_ns && now - j->checked_ns < JIT_CHECK_NS)
		return 0;
	j->checked_ns = now;
	f = j->file;
	if (!f) {
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)j->pid);
		f = fopen(sg_maps_local_path(j->pid, path, local, sizeof(local)), "re");
		if (!f)
			return 0;
		if (s->open_jits < JIT_OPEN_MAX) {
			j->file = f;
			s->open_jits++;
		}
	}
	if (fstat(fileno(f), &st) || st.st_size <= j->read_to) {
		if (!j->file)
			fclose(f);
		return 0;
	}
	clearerr(f);
	if (fseek(f, (long)j->read_to, SEEK_SET) == 0)
		while (!err && fgets(line, sizeof(line), f)) {
			size_t len = strlen(line);
			unsigned long long start, size;
			char *p = line, *end;
			struct jsym js;

			/* A line still being written is read next time; one too
			 * long to keep is passed over once it is whole. */
			if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
				long long skipped = skip_line(f);

				if (skipped < 0)
					break;
				j->read_to += (long long)len + skipped;
				continue;
			}
			if (!len || line[len - 1] != '\n')
				break;
			j->read_to += (long long)len;
			line[len - 1] = '\0';
			errno = 0;
			start = strtoull(p, &end, 16);
			if (end == p || *end != ' ')
				continue;
			p = end + 1;
			size = strtoull(p, &end, 16);
			if (end == p || *end != ' ' || errno || !size || start + size < start)
				continue;
			js = (struct jsym){start, start + size, 0, (uint32_t)j->n};
			err = intern(s, end + 1, &js.name);
			if (!err)
				err = sg_grow(&j->syms, &j->cap, j->n + 1, sizeof(*j->syms));
			if (!err)
				j->syms[j->n++] = js;
		}
	if (!j->file)
		fclose(f);
	if (j->n > before)
		qsort(j->syms, j->n, sizeof(*j->syms), by_start);
	return err;
}

/* The perf map's name for pc (borrowed), or NULL. Of the entries that
 * cover pc the one starting last wins, then the one written last. */
static const char *jit_lookup(struct sg_syms *s, const struct jitmap *j, uint64_t pc)
{
	size_t lo = 0, hi = j->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (j->syms[mid].start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Bounded: a handful of entries share a start at most. */
	for (size_t i = lo; i-- > 0 && lo - i <= 64;)
		if (pc < j->syms[i].end)
			return sg_intern_get(&s->strings, j->syms[i].name, NULL);
	return NULL;
}

static int resolve_jit(struct sg_syms *s, pid_t pid, uint64_t pc, sg_sym_fn fn, void *ctx,
                       bool *found)
{
	struct jitmap *j = jitmap_of(s, pid);
	struct sg_sym_frame f = {.file = "[jit]", .jit = true};
	const char *name;
	int err;

	*found = false;
	if (!j)
		return SG_ENOMEM;
	name = jit_lookup(s, j, pc);
	if (!name) {
		err = jit_refresh(s, j);
		if (err)
			return err;
		name = jit_lookup(s, j, pc);
	}
	if (!name)
		return 0;
	*found = true;
	f.name = name;
	return fn(ctx, &f);
}

int sg_syms_resolve(struct sg_syms *s, struct sg_unwind *uw, const struct sg_unwind_frame *f,
                    sg_sym_fn fn, void *ctx)
{
	uint64_t pc = f->exact || !f->pc ? f->pc : f->pc - 1, key, v, h;
	const struct sg_unwind_map *m;
	const unsigned char *bits;
	Dwfl_Module *mod = NULL;
	Dwarf_Addr start = 0;
	const char *name;
	GElf_Addr vaddr;
	size_t first;
	Dwfl *dwfl;
	int len, err;

	if (f->kernel)
		return resolve_kernel(s, pc, fn, ctx);
	m = sg_unwind_find(uw, pc);
	dwfl = sg_unwind_dwfl(uw);
	if (dwfl)
		mod = dwfl_addrmodule(dwfl, pc);
	if (mod) {
		name = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
		len = dwfl_module_build_id(mod, &bits, &vaddr);
		h = len > 0 ? sg_hash_bytes(bits, (size_t)len, 1)
		            : sg_hash_bytes(name, name ? strlen(name) : 0, 2);
	} else if (m && sg_unwind_map_is_file(m)) {
		start = m->start - m->pgoff;
		h = sg_hash_bytes(m->path, strlen(m->path), 2);
	} else {
		/* Anonymous code (JIT): named from its perf map, or one frame
		 * per address; never cached, as the memory is reused. */
		bool found;

		err = resolve_jit(s, sg_unwind_pid(uw), pc, fn, ctx, &found);
		if (err || found)
			return err;
		first = s->nframes;
		err = add_unnamed(s, m, pc);
		if (err)
			return err;
		/* Handed on, then forgotten. */
		err = emit(s, (uint64_t)first << 8 | 1, fn, ctx, false);
		s->nframes = first;
		return err;
	}
	key = sg_u64_mix(h ^ sg_u64_mix(pc - start + 1));
	key += !key;
	if (sg_u64map_get(&s->cache, key, &v))
		return emit(s, v, fn, ctx, false);
	first = s->nframes;
	err = mod ? resolve_module(s, mod, m, pc) : add_unnamed(s, m, pc);
	if (err)
		return err;
	v = (uint64_t)first << 8 | (s->nframes - first);
	err = sg_u64map_put(&s->cache, key, v);
	return err ? err : emit(s, v, fn, ctx, false);
}
