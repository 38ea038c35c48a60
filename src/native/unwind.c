/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gelf.h>
#include <linux/perf_event.h>

#include "native/unwind.h"
#include "target/maps.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/u64map.h"

/* Functions looked at to tell whether a binary keeps frame pointers. */
#define FP_SAMPLE 256

/* x86-64: DWARF register numbers of the values a sample carries, in the
 * order sg_perf_regs_mask() lists them (AX BX CX DX SI DI BP SP IP R8-R15). */
#define NREGS 17
static const int dwarf_of_perf[NREGS] = {0, 3, 2, 1, 4, 5, 6, 7, 16, 8, 9, 10, 11, 12, 13, 14, 15};
#define PERF_SP 7
#define PERF_IP 8

struct map {
	struct sg_unwind_map m;
	bool reported;
};

struct sg_unwind {
	pid_t pid;
	struct map *maps; /* sorted by start, disjoint */
	size_t n, cap;
	Dwfl *dwfl;
	bool dirty, full; /* maps to report; all of them again (some went away) */
	bool attached;    /* dwfl_attach_state done: dwarf unwinding possible */
	int attach_fd;    /* the ELF the unwinder takes its architecture from */
	Elf *attach_elf;
	struct sg_u64map fp;    /* Dwfl_Module * -> 1 keeps frame pointers, 2 not */
	struct sg_u64map fn_fp; /* function start -> 1 + prologue_end() */
	/* The sample being unwound. */
	const struct sg_perf_record *cur;
	struct sg_unwind_frame *out;
	size_t nout, max;
	bool cut; /* the walk asked for memory above the copy */
};

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static int alloc(pid_t pid, struct sg_unwind **out)
{
	struct sg_unwind *uw = calloc(1, sizeof(*uw));

	*out = uw;
	if (!uw)
		return SG_ENOMEM;
	uw->pid = pid;
	uw->attach_fd = -1;
	sg_u64map_init(&uw->fp);
	sg_u64map_init(&uw->fn_fp);
	return 0;
}

/* Insert keeping order; whatever [start, end) overlapped is dropped. */
static int put_map(struct sg_unwind *uw, uint64_t start, uint64_t end, uint64_t pgoff,
                   const char *path)
{
	size_t at = 0, drop;
	char *copy;

	if (end <= start)
		return 0;
	while (at < uw->n && uw->maps[at].m.end <= start)
		at++;
	drop = at;
	while (drop < uw->n && uw->maps[drop].m.start < end)
		drop++;
	if (drop > at) {
		for (size_t i = at; i < drop; i++)
			free(uw->maps[i].m.path);
		memmove(&uw->maps[at], &uw->maps[drop], (uw->n - drop) * sizeof(*uw->maps));
		uw->n -= drop - at;
		uw->full = true;
	}
	copy = strdup(path);
	if (!copy || sg_grow(&uw->maps, &uw->cap, uw->n + 1, sizeof(*uw->maps))) {
		free(copy);
		return SG_ENOMEM;
	}
	memmove(&uw->maps[at + 1], &uw->maps[at], (uw->n - at) * sizeof(*uw->maps));
	uw->maps[at] = (struct map){{start, end, pgoff, copy}, false};
	uw->n++;
	uw->dirty = true;
	return 0;
}

int sg_unwind_new(pid_t pid, bool read_maps, struct sg_unwind **out)
{
	struct sg_maps maps = {0};
	int err = alloc(pid, out);

	if (err || !read_maps)
		return err;
	/* A process that cannot be read starts empty: MMAP2 records still
	 * name what it loads from now on. */
	if (sg_maps_read(pid, &maps) == 0)
		for (size_t i = 0; i < maps.n && !err; i++)
			if (maps.maps[i].perms[2] == 'x')
				err = put_map(*out, maps.maps[i].start, maps.maps[i].end,
				              maps.maps[i].offset, maps.maps[i].path);
	sg_maps_release(&maps);
	return err;
}

int sg_unwind_fork(const struct sg_unwind *parent, pid_t pid, struct sg_unwind **out)
{
	int err = alloc(pid, out);

	for (size_t i = 0; !err && i < parent->n; i++)
		err = put_map(*out, parent->maps[i].m.start, parent->maps[i].m.end,
		              parent->maps[i].m.pgoff, parent->maps[i].m.path);
	return err;
}

void sg_unwind_free(struct sg_unwind *uw)
{
	if (!uw)
		return;
	if (uw->dwfl)
		dwfl_end(uw->dwfl);
	if (uw->attach_elf)
		elf_end(uw->attach_elf);
	if (uw->attach_fd >= 0)
		close(uw->attach_fd);
	for (size_t i = 0; i < uw->n; i++)
		free(uw->maps[i].m.path);
	free(uw->maps);
	sg_u64map_release(&uw->fp);
	sg_u64map_release(&uw->fn_fp);
	free(uw);
}

int sg_unwind_map(struct sg_unwind *uw, uint64_t start, uint64_t len, uint64_t pgoff,
                  const char *path)
{
	return put_map(uw, start, start + len, pgoff, path);
}

pid_t sg_unwind_pid(const struct sg_unwind *uw)
{
	return uw->pid;
}

const struct sg_unwind_map *sg_unwind_find(const struct sg_unwind *uw, uint64_t pc)
{
	size_t lo = 0, hi = uw->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (uw->maps[mid].m.end <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < uw->n && uw->maps[lo].m.start <= pc ? &uw->maps[lo].m : NULL;
}

bool sg_unwind_map_is_file(const struct sg_unwind_map *m)
{
	return m->path[0] == '/' && m->path[1] != '/' && strncmp(m->path, "/memfd:", 7) != 0;
}

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
	struct sg_unwind *uw = arg;

	(void)dwfl;
	if (*thread_arg)
		return 0;
	*thread_arg = uw;
	return (pid_t)uw->cur->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
	(void)dwfl;
	(void)tid;
	*thread_arg = arg;
	return true;
}

/* Only the copy of the stack is read: the target is never touched. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct sg_unwind *uw = arg;
	const struct sg_perf_record *r = uw->cur;
	uint64_t sp = r->sample.regs[PERF_SP];

	(void)dwfl;
	if (addr < sp || addr - sp > r->sample.stack_size ||
	    r->sample.stack_size - (addr - sp) < 8) {
		uw->cut |= addr >= sp;
		return false;
	}
	memcpy(result, r->sample.stack + (addr - sp), 8);
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct sg_unwind *uw = arg;
	Dwarf_Word regs[NREGS];

	for (int i = 0; i < NREGS; i++)
		regs[dwarf_of_perf[i]] = uw->cur->sample.regs[i];
	return dwfl_thread_state_registers(thread, 0, NREGS, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

/* The unwinder needs an ELF only for the architecture: one of the target's
 * own files, held open for the handle's life (modules may go away). */
static void attach(struct sg_unwind *uw, const char *local)
{
	if (uw->attached || NREGS != __builtin_popcountll(sg_perf_regs_mask()))
		return;
	uw->attach_fd = open(local, O_RDONLY | O_CLOEXEC);
	if (uw->attach_fd < 0)
		return;
	uw->attach_elf = elf_begin(uw->attach_fd, ELF_C_READ_MMAP, NULL);
	if (uw->attach_elf)
		uw->attached =
		    dwfl_attach_state(uw->dwfl, uw->attach_elf, uw->pid, &thread_callbacks, uw);
}

/* The load bias of the ELF file at local, mapped at start from file offset
 * pgoff: start less the link-time address of the segment loaded from there
 * (not start - pgoff: linkers may place a segment at an address other than
 * its file offset, as in Rust's binaries). */
static bool load_bias(const char *local, uint64_t start, uint64_t pgoff, uint64_t *bias)
{
	int fd = open(local, O_RDONLY | O_CLOEXEC);
	Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
	size_t n = 0;
	bool found = false;

	if (elf && elf_getphdrnum(elf, &n) == 0)
		for (size_t i = 0; i < n && !found; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
			    ph.p_align == 0 || (ph.p_offset & ~(ph.p_align - 1)) != pgoff)
				continue;
			*bias = start - (ph.p_vaddr & ~(ph.p_align - 1));
			found = true;
		}
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return found;
}

Dwfl *sg_unwind_dwfl(struct sg_unwind *uw)
{
	char local[4096 + 64];
	uint64_t bias;

	if (!uw->dwfl) {
		uw->dwfl = dwfl_begin(&dwfl_callbacks);
		if (!uw->dwfl)
			return NULL;
		uw->full = true;
	}
	if (!uw->dirty)
		return uw->dwfl;
	if (uw->full) {
		dwfl_report_begin(uw->dwfl);
		/* Module pointers may be reused once modules go away. */
		sg_u64map_release(&uw->fp);
		sg_u64map_init(&uw->fp);
		sg_u64map_release(&uw->fn_fp);
		sg_u64map_init(&uw->fn_fp);
	} else {
		dwfl_report_begin_add(uw->dwfl);
	}
	for (size_t i = 0; i < uw->n; i++) {
		struct map *m = &uw->maps[i];

		if ((m->reported && !uw->full) || !sg_unwind_map_is_file(&m->m))
			continue;
		m->reported = true;
		sg_maps_local_path(uw->pid, m->m.path, local, sizeof(local));
		if (load_bias(local, m->m.start, m->m.pgoff, &bias) &&
		    dwfl_report_elf(uw->dwfl, m->m.path, local, -1, bias, true))
			attach(uw, local);
	}
	dwfl_report_end(uw->dwfl, NULL, NULL);
	uw->dirty = uw->full = false;
	return uw->dwfl;
}

/* len bytes of code at link-time address vaddr, from the section holding
 * them. */
static int read_code(Elf *elf, GElf_Addr vaddr, unsigned char *buf, size_t len)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || vaddr < sh.sh_addr ||
		    vaddr - sh.sh_addr >= sh.sh_size || sh.sh_size - (vaddr - sh.sh_addr) < len)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size != sh.sh_size)
			return SG_ECORRUPT;
		memcpy(buf, (const unsigned char *)d->d_buf + (vaddr - sh.sh_addr), len);
		return 0;
	}
	return SG_ECORRUPT;
}

/* Where in code (the first bytes of a function) it has set up a frame
 * pointer: push %rbp, then mov %rsp,%rbp, maybe after an endbr64, with
 * other instructions before or between them (shrink-wrapping, scheduling).
 * The offset just past the mov, or 0 when there is none. */
static size_t prologue_end(const unsigned char *code, size_t len)
{
	static const unsigned char mov[3] = {0x48, 0x89, 0xe5};
	const unsigned char *at = memmem(code, len, mov, sizeof(mov));

	if (!at || !memchr(code, 0x55, (size_t)(at - code)))
		return 0;
	return (size_t)(at - code) + sizeof(mov);
}

/* Whether a third or more of the binary's functions set up a frame pointer
 * (leaf functions without a stack frame often do not, even with
 * -fno-omit-frame-pointer; without it, next to none do). */
static bool scan_fp(Dwfl_Module *mod)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	int n = dwfl_module_getsymtab(mod), total = 0, with = 0;

	for (int i = 1; elf && i < n && total < FP_SAMPLE; i++) {
		unsigned char code[16];
		GElf_Word shndx;
		GElf_Addr addr;
		GElf_Sym sym;

		if (!dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, NULL, NULL) ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_size < sizeof(code) ||
		    shndx == SHN_UNDEF || read_code(elf, addr - bias, code, sizeof(code)))
			continue;
		total++;
		with += prologue_end(code, sizeof(code)) != 0;
	}
	return total > 0 && with * 3 >= total;
}

/* Whether the kernel's frame-pointer walk from pc is right: pc's binary
 * keeps frame pointers, and its function has set one up by pc (else the
 * walk would skip its caller). */
static bool keeps_fp(struct sg_unwind *uw, uint64_t pc)
{
	Dwfl_Module *mod = uw->dwfl ? dwfl_addrmodule(uw->dwfl, pc) : NULL;
	uint64_t key = (uint64_t)(uintptr_t)mod, v;
	unsigned char code[16];
	GElf_Addr bias;
	GElf_Off off;
	GElf_Sym sym;
	Elf *elf;

	if (!mod)
		return false;
	if (!sg_u64map_get(&uw->fp, key, &v)) {
		v = scan_fp(mod) ? 1 : 2;
		/* Out of memory: scanned again next time. */
		sg_u64map_put(&uw->fp, key, v);
	}
	if (v != 1 || !dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL))
		return false;
	key = pc - off;
	if (!sg_u64map_get(&uw->fn_fp, key, &v)) {
		elf = dwfl_module_getelf(mod, &bias);
		v = elf && read_code(elf, pc - off - bias, code, sizeof(code)) == 0
		        ? prologue_end(code, sizeof(code))
		        : 0;
		/* Stored + 1: 0 means none. */
		sg_u64map_put(&uw->fn_fp, key, v + 1);
		v++;
	}
	return v > 1 && off >= v - 1;
}

static int on_frame(Dwfl_Frame *state, void *arg)
{
	struct sg_unwind *uw = arg;
	Dwarf_Addr pc;
	bool activation;

	if (uw->nout >= uw->max || !dwfl_frame_pc(state, &pc, &activation) || !pc)
		return DWARF_CB_ABORT;
	uw->out[uw->nout++] = (struct sg_unwind_frame){pc, false, activation};
	return DWARF_CB_OK;
}

/* The callchain's frames of one context, from the marker of it on. */
static size_t chain(const struct sg_perf_record *r, bool kernel, struct sg_unwind_frame *out,
                    size_t max)
{
	uint64_t want = kernel ? PERF_CONTEXT_KERNEL : PERF_CONTEXT_USER;
	bool in = false, first = true;
	size_t n = 0;

	for (uint64_t i = 0; i < r->sample.nips && n < max; i++) {
		uint64_t ip = r->sample.ips[i];

		if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
			in = ip == want;
			continue;
		}
		if (in) {
			out[n++] = (struct sg_unwind_frame){ip, kernel, first};
			first = false;
		}
	}
	return n;
}

static size_t dwarf_walk(struct sg_unwind *uw, const struct sg_perf_record *r,
                         struct sg_unwind_frame *out, size_t max)
{
	uw->cur = r;
	uw->out = out;
	uw->nout = 0;
	uw->max = max;
	/* Ends with -1 where the CFI runs out, which is where stacks end. */
	dwfl_getthread_frames(uw->dwfl, (pid_t)r->tid, on_frame, uw);
	uw->cur = NULL;
	return uw->nout;
}

bool sg_unwind_cut(const struct sg_unwind *uw)
{
	return uw->cut;
}

size_t sg_unwind_sample(struct sg_unwind *uw, enum sg_unwind_method method,
                        const struct sg_perf_record *rec, struct sg_unwind_frame *frames,
                        size_t max, bool *dwarf)
{
	size_t n = chain(rec, true, frames, max), user;
	bool can_dwarf = rec->sample.abi && rec->sample.nregs == NREGS && rec->sample.stack_size;

	*dwarf = false;
	uw->cut = false;
	sg_unwind_dwfl(uw);
	can_dwarf = can_dwarf && uw->attached;
	if (can_dwarf && method == SG_UNWIND_AUTO)
		can_dwarf = !keeps_fp(uw, rec->sample.regs[PERF_IP]);
	if (can_dwarf && method != SG_UNWIND_FP) {
		user = dwarf_walk(uw, rec, frames + n, max - n);
		/* A walk stuck at the leaf: the callchain may know better. */
		if (user > 1 || method == SG_UNWIND_DWARF) {
			*dwarf = true;
			return n + user;
		}
	}
	return n + chain(rec, false, frames + n, max - n);
}
