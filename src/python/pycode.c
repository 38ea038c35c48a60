/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "python/linetable.h"
#include "python/pycode.h"
#include "python/pystr.h"
#include "util/err.h"
#include "util/u64map.h"

struct sg_pycodes {
	struct sg_pyproc *proc;
	struct sg_u64map by_addr; /* code address -> struct sg_pycode * */
	uint32_t serial;          /* of the last code read */
};

struct sg_pycodes *sg_pycodes_new(struct sg_pyproc *proc)
{
	struct sg_pycodes *codes = calloc(1, sizeof(*codes));

	if (!codes)
		return NULL;
	codes->proc = proc;
	sg_u64map_init(&codes->by_addr);
	return codes;
}

static void code_free(struct sg_pycode *code)
{
	if (!code)
		return;
	free(code->name);
	free(code->filename);
	free(code->linetable);
	free(code);
}

void sg_pycodes_free(struct sg_pycodes *codes)
{
	if (!codes)
		return;
	for (size_t i = 0; i < codes->by_addr.cap; i++)
		if (codes->by_addr.keys[i])
			code_free((struct sg_pycode *)(uintptr_t)codes->by_addr.values[i]);
	sg_u64map_release(&codes->by_addr);
	free(codes);
}

static int read_string(struct sg_pycodes *codes, uint64_t addr, char **out)
{
	char buf[SG_PYSTR_MAX_CHARS * 4 + 1];
	struct sg_pyproc *pp = codes->proc;
	int err = sg_pystr_read(&pp->mem, &pp->layout, pp->str_type, addr, buf, sizeof(buf));

	if (err)
		return err;
	*out = strdup(buf);
	return *out ? 0 : SG_ENOMEM;
}

/* Whether the string at addr still reads as text. */
static int check_string(struct sg_pycodes *codes, uint64_t addr, const char *text)
{
	char buf[SG_PYSTR_MAX_CHARS * 4 + 1];
	struct sg_pyproc *pp = codes->proc;
	int err = sg_pystr_read(&pp->mem, &pp->layout, pp->str_type, addr, buf, sizeof(buf));

	return err ? err : strcmp(buf, text) == 0 ? 0 : SG_ECORRUPT;
}

static int read_linetable(struct sg_pycodes *codes, struct sg_pycode *code)
{
	struct sg_pyproc *pp = codes->proc;
	const struct sg_pylayout *l = &pp->layout;
	uint64_t table;
	int64_t size;
	int err;

	err = sg_mem_read_ptr(&pp->mem, code->id.addr + l->code.linetable, &table);
	if (err)
		return err;
	err = sg_mem_read(&pp->mem, table + l->bytes.size, &size, sizeof(size));
	if (err)
		return err;
	if (size < 0)
		return SG_ECORRUPT;
	/* A cut table would give wrong lines past the cut: give none. */
	code->lines_unknown = (uint64_t)size > SG_PYCODE_MAX_LINETABLE;
	code->linetable_len = code->lines_unknown ? 0 : (size_t)size;
	code->linetable = malloc(code->linetable_len ? code->linetable_len : 1);
	if (!code->linetable)
		return SG_ENOMEM;
	return sg_mem_read(&pp->mem, table + l->bytes.sval, code->linetable, code->linetable_len);
}

/*
 * Whether the code object is still the one id names. The walk saw it in a
 * frame; its name, file and line table are read a moment later, and the
 * code (with its strings) may have been freed in between and the memory
 * reused: once that gave file names read from another string. Read after
 * them, an unchanged code object still held them all along, unless one
 * just like it took its place (same address, and new strings at the old
 * ones' addresses, as allocators reuse the last freed block of a size):
 * the strings are read again after it too, and must not have changed.
 * A code object freed but not yet reused still holds its fields, but not
 * a live reference count.
 */
static int check_still(struct sg_pycodes *codes, const struct sg_pycode_id *id)
{
	struct sg_pyproc *pp = codes->proc;
	const struct sg_pylayout *l = &pp->layout;
	uint8_t buf[1024];
	uint64_t name, filename;
	int32_t firstlineno;
	int err;

	if (l->code.size > sizeof(buf))
		return SG_ECORRUPT;
	err = sg_mem_read(&pp->mem, id->addr, buf, l->code.size);
	if (err)
		return err;
	memcpy(&name, buf + (l->code.qualname ? l->code.qualname : l->code.name), sizeof(name));
	memcpy(&filename, buf + l->code.filename, sizeof(filename));
	memcpy(&firstlineno, buf + l->code.firstlineno, sizeof(firstlineno));
	return sg_layout_live_object(buf, pp->code_type) && name == id->name &&
	               filename == id->filename && firstlineno == id->firstlineno
	           ? 0
	           : SG_ECORRUPT;
}

/* CPython's internal shims, which it runs between the program's frames:
 * 3.12's "<interpreter trampoline>" (on entry from C), 3.13's "__init__"
 * (_Py_InitCleanup, after a class's Python __init__). Each names its file
 * after itself, which compiled code never does. */
static bool is_shim(const struct sg_pycode *code)
{
	return strcmp(code->name, code->filename) == 0 &&
	       (strcmp(code->name, "<interpreter trampoline>") == 0 ||
	        strcmp(code->name, "__init__") == 0);
}

static int read_code(struct sg_pycodes *codes, const struct sg_pycode_id *id,
                     struct sg_pycode **out)
{
	struct sg_pycode *code = calloc(1, sizeof(*code));
	int err;

	if (!code)
		return SG_ENOMEM;
	code->id = *id;
	code->serial = ++codes->serial;
	err = read_string(codes, id->name, &code->name);
	if (!err)
		err = read_string(codes, id->filename, &code->filename);
	if (!err)
		err = read_linetable(codes, code);
	if (!err)
		err = check_still(codes, id);
	if (!err)
		err = check_string(codes, id->name, code->name);
	if (!err)
		err = check_string(codes, id->filename, code->filename);
	if (!err)
		code->shim = is_shim(code);
	if (err) {
		code_free(code);
		return err;
	}
	*out = code;
	return 0;
}

int sg_pycodes_get(struct sg_pycodes *codes, const struct sg_pycode_id *id,
                   const struct sg_pycode **out)
{
	struct sg_pycode *code = NULL, *fresh;
	uint64_t value;
	int err;

	if (sg_u64map_get(&codes->by_addr, id->addr, &value)) {
		code = (struct sg_pycode *)(uintptr_t)value;
		if (code->id.name == id->name && code->id.filename == id->filename &&
		    code->id.firstlineno == id->firstlineno) {
			*out = code;
			return 0;
		}
	}
	err = read_code(codes, id, &fresh);
	if (err)
		return err;
	err = sg_u64map_put(&codes->by_addr, id->addr, (uint64_t)(uintptr_t)fresh);
	if (err) {
		code_free(fresh);
		return err;
	}
	/* The address was reused by another code object. */
	code_free(code);
	*out = fresh;
	return 0;
}

int sg_pycode_line(const struct sg_pycodes *codes, const struct sg_pycode *code, int64_t offset)
{
	int line;

	if (code->lines_unknown)
		return 0;
	if (offset < 0 || offset > UINT32_MAX)
		return code->id.firstlineno;
	line = sg_linetable_line(codes->proc->layout.linetable_kind, code->linetable,
	                         code->linetable_len, code->id.firstlineno, (uint32_t)offset);
	return line < 0 ? code->id.firstlineno : line;
}
