/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pylocals.h"
#include "python/pystr.h"
#include "util/err.h"

/* Py_TPFLAGS_HEAPTYPE: a class made at run time, whose name proves nothing. */
#define TPFLAGS_HEAPTYPE (1ul << 9)
/* co_flags bits, the same since 2.7. */
#define CO_VARARGS     0x4
#define CO_VARKEYWORDS 0x8
/* co_localspluskinds bits (3.11+): a free variable belongs to the
 * enclosing function; a hidden one to an inlined comprehension (3.12+). */
#define FAST_HIDDEN 0x10
#define FAST_CELL   0x40
#define FAST_FREE   0x80
/* More locals than this means a torn read. */
#define MAX_LOCALS 4096
/* int digits (30 bits each) read at most: ~580 decimal digits. */
#define MAX_DIGITS 64
#define TYPE_NAME  64
#define MAX_COPY   1024
/* Characters of a str or bytes shown before "...". */
#define SHOWN_CHARS 40

static int read_i64(struct sg_pyproc *pp, uint64_t addr, int64_t *out)
{
	return sg_mem_read(&pp->mem, addr, out, sizeof(*out));
}

/* A C string in the target (a type's tp_name), read a page at a time so
 * that one ending near the end of a mapping still reads. */
static int read_cstr(struct sg_pyproc *pp, uint64_t addr, char *buf, size_t len)
{
	size_t got = 0;

	while (got + 1 < len) {
		size_t page_left = 4096 - ((addr + got) & 4095), want = len - 1 - got;

		if (want > page_left)
			want = page_left;
		if (sg_mem_read(&pp->mem, addr + got, buf + got, want))
			return SG_EREAD;
		got += want;
		if (memchr(buf + got - want, '\0', want))
			return 0;
	}
	buf[len - 1] = '\0';
	return 0;
}

/* Python's repr of a float: the fewest significant digits that read back
 * the same, positional from 1e-4 up to 1e16 (with ".0" when whole),
 * scientific beyond. */
static void float_repr(double v, char *buf, size_t len)
{
	char sci[40], *e;
	int prec, exp;

	if (isnan(v) || isinf(v)) {
		snprintf(buf, len, isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(sci, sizeof(sci), "%.*e", prec - 1, v);
		if (strtod(sci, NULL) == v)
			break;
	}
	snprintf(sci, sizeof(sci), "%.*e", prec - 1, v);
	e = strchr(sci, 'e');
	exp = e ? atoi(e + 1) : 0;
	if (exp < -4 || exp >= 16) {
		snprintf(buf, len, "%s", sci);
		return;
	}
	snprintf(buf, len, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
	if (!strchr(buf, '.'))
		strncat(buf, ".0", len - strlen(buf) - 1);
}

/* The decimal digits of a magnitude of n 30-bit digits (least significant
 * first; d is consumed), into buf. */
static void digits_decimal(uint32_t *d, size_t n, bool negative, char *buf, size_t len)
{
	char rev[MAX_DIGITS * 10 + 2];
	size_t nrev = 0, out = 0;

	while (n && d[n - 1] == 0)
		n--;
	do {
		uint64_t rem = 0;

		/* Divide by 10^9, most significant digit first. */
		for (size_t i = n; i-- > 0;) {
			uint64_t cur = rem << 30 | d[i];

			d[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		while (n && d[n - 1] == 0)
			n--;
		for (int k = 0; k < 9 && (n || rem || k == 0); k++) {
			rev[nrev++] = (char)('0' + rem % 10);
			rem /= 10;
		}
	} while (n);
	if (negative && out + 1 < len)
		buf[out++] = '-';
	/* A number too long for a short repr keeps its leading digits. */
	if (nrev + out + 1 > len) {
		size_t keep = len - out - 20 > len ? 0 : len - out - 20;

		for (size_t i = 0; i < keep; i++)
			buf[out++] = rev[nrev - 1 - i];
		snprintf(buf + out, len - out, "...(%zu digits)", nrev);
		return;
	}
	for (size_t i = 0; i < nrev; i++)
		buf[out++] = rev[nrev - 1 - i];
	buf[out] = '\0';
}

/* An int (3.x; a long on 2.7): its digits after a signed size (<=3.11, 2.7)
 * or a tag holding count and sign (3.12+). */
static int int_repr(struct sg_pyproc *pp, uint64_t addr, bool is_bool, char *buf, size_t len)
{
	const struct sg_pylayout *l = &pp->layout;
	uint32_t digits[MAX_DIGITS];
	uint64_t n;
	int64_t size;
	bool negative;
	uint32_t at = l->obj.int_kind == SG_INT_PYINT27 ? l->locals.var_size + 8 : l->obj.int_value;

	if (read_i64(pp, addr + l->locals.var_size, &size))
		return SG_EREAD;
	if (l->obj.int_kind == SG_INT_LVTAG) {
		n = (uint64_t)size >> 3;
		negative = (size & 3) == 2;
	} else {
		negative = size < 0;
		n = negative ? (uint64_t)-size : (uint64_t)size;
	}
	if (is_bool) {
		snprintf(buf, len, n ? "True" : "False");
		return 0;
	}
	if (n > MAX_DIGITS) {
		snprintf(buf, len, "<int of %llu bits or so>", (unsigned long long)n * 30);
		return 0;
	}
	if (n && sg_mem_read(&pp->mem, addr + at, digits, n * sizeof(digits[0])))
		return SG_EREAD;
	for (size_t i = 0; i < n; i++)
		digits[i] &= (1u << 30) - 1;
	digits_decimal(digits, n, negative, buf, len);
	return 0;
}

/* Append c to a quoted repr, escaped as Python would. */
static size_t put_escaped(char *buf, size_t out, size_t len, unsigned char c, char quote)
{
	char esc[8];
	size_t n;

	if (c == '\\' || c == (unsigned char)quote)
		n = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
	else if (c == '\n')
		n = (size_t)snprintf(esc, sizeof(esc), "\\n");
	else if (c == '\t')
		n = (size_t)snprintf(esc, sizeof(esc), "\\t");
	else if (c == '\r')
		n = (size_t)snprintf(esc, sizeof(esc), "\\r");
	else if (c < 0x20 || c == 0x7f)
		n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
	else
		n = (size_t)snprintf(esc, sizeof(esc), "%c", c);
	if (out + n + 1 > len)
		return out;
	memcpy(buf + out, esc, n);
	return out + n;
}

/* 'text' or b'bytes' from UTF-8 or raw bytes; non-ASCII bytes of a bytes
 * object are shown \xNN, as Python does. */
static void quoted(const char *prefix, const unsigned char *s, size_t n, bool cut, bool raw_bytes,
                   char *buf, size_t len)
{
	size_t out = (size_t)snprintf(buf, len, "%s'", prefix);
	size_t stop = len > 8 ? len - 8 : 0; /* room for "'..." and the NUL */

	for (size_t i = 0; i < n && out < stop; i++) {
		if (raw_bytes && s[i] >= 0x80) {
			out += (size_t)snprintf(buf + out, len - out, "\\x%02x", s[i]);
			continue;
		}
		out = put_escaped(buf, out, stop, s[i], '\'');
		if (out >= stop - 1)
			cut = true;
	}
	snprintf(buf + out, len - out, cut ? "'..." : "'");
}

static void str_repr(struct sg_pyproc *pp, uint64_t addr, char *buf, size_t len)
{
	char text[4 * SG_PYSTR_MAX_CHARS + 1];
	size_t n;

	if (sg_pystr_read(&pp->mem, &pp->layout, pp->str_type, addr, text, sizeof(text))) {
		snprintf(buf, len, "<str, unreadable>");
		return;
	}
	n = strlen(text);
	quoted("", (const unsigned char *)text, n > SHOWN_CHARS * 4 ? SHOWN_CHARS * 4 : n,
	       n > SHOWN_CHARS * 4, false, buf, len);
}

/* bytes (3.x, prefix "b") or 2.7's str (prefix ""): the same layout. */
static void bytes_repr(struct sg_pyproc *pp, uint64_t addr, const char *prefix, char *buf,
                       size_t len)
{
	const struct sg_pylayout *l = &pp->layout;
	unsigned char data[SHOWN_CHARS];
	int64_t size;
	size_t n;

	if (read_i64(pp, addr + l->bytes.size, &size) || size < 0) {
		snprintf(buf, len, "<bytes, unreadable>");
		return;
	}
	n = (uint64_t)size < sizeof(data) ? (size_t)size : sizeof(data);
	if (n && sg_mem_read(&pp->mem, addr + l->bytes.sval, data, n)) {
		snprintf(buf, len, "<bytes, unreadable>");
		return;
	}
	quoted(prefix, data, n, (uint64_t)size > n, true, buf, len);
}

/* A container's length at off, as "<NAME of N>". */
static void sized_repr(struct sg_pyproc *pp, uint64_t addr, uint32_t off, const char *name,
                       char *buf, size_t len)
{
	int64_t n;

	if (read_i64(pp, addr + off, &n) || n < 0)
		snprintf(buf, len, "<%s>", name);
	else
		snprintf(buf, len, "<%s of %lld>", name, (long long)n);
}

int sg_pyrepr(struct sg_pyproc *pp, uint64_t addr, char *buf, size_t len)
{
	const struct sg_pylayout *l = &pp->layout;
	uint64_t type, name_addr, flags;
	char name[TYPE_NAME];
	double fval;
	int64_t ival;

	if (sg_mem_read_ptr(&pp->mem, addr + SG_OB_TYPE, &type) ||
	    sg_mem_read_ptr(&pp->mem, type + l->locals.type_name, &name_addr) ||
	    sg_mem_read_ptr(&pp->mem, type + l->locals.type_flags, &flags) ||
	    read_cstr(pp, name_addr, name, sizeof(name))) {
		snprintf(buf, len, "<unreadable>");
		return SG_EREAD;
	}
	/* Only a built-in type's name says what its objects hold. */
	if (flags & TPFLAGS_HEAPTYPE) {
		snprintf(buf, len, "<%s object>", name);
		return 0;
	}
	if (type == pp->str_type && l->str_kind == SG_STR_BYTES) {
		bytes_repr(pp, addr, "", buf, len);
	} else if (type == pp->str_type) {
		str_repr(pp, addr, buf, len);
	} else if (strcmp(name, "bytes") == 0) {
		bytes_repr(pp, addr, "b", buf, len);
	} else if (strcmp(name, "int") == 0 && l->obj.int_kind == SG_INT_PYINT27) {
		if (read_i64(pp, addr + l->obj.int_value, &ival))
			snprintf(buf, len, "<int, unreadable>");
		else
			snprintf(buf, len, "%lld", (long long)ival);
	} else if (strcmp(name, "bool") == 0 && l->obj.int_kind == SG_INT_PYINT27) {
		if (read_i64(pp, addr + l->obj.int_value, &ival))
			snprintf(buf, len, "<bool, unreadable>");
		else
			snprintf(buf, len, ival ? "True" : "False");
	} else if (strcmp(name, "int") == 0 || strcmp(name, "long") == 0 ||
	           strcmp(name, "bool") == 0) {
		if (int_repr(pp, addr, name[0] == 'b', buf, len))
			snprintf(buf, len, "<%s, unreadable>", name);
		else if (name[0] == 'l') /* 2.7's long: 5L */
			strncat(buf, "L", len - strlen(buf) - 1);
	} else if (strcmp(name, "float") == 0) {
		if (sg_mem_read(&pp->mem, addr + l->locals.float_value, &fval, sizeof(fval)))
			snprintf(buf, len, "<float, unreadable>");
		else
			float_repr(fval, buf, len);
	} else if (strcmp(name, "NoneType") == 0) {
		snprintf(buf, len, "None");
	} else if (strcmp(name, "list") == 0 || strcmp(name, "tuple") == 0) {
		sized_repr(pp, addr, l->locals.var_size, name, buf, len);
	} else if (strcmp(name, "dict") == 0) {
		sized_repr(pp, addr, l->locals.dict_used, name, buf, len);
	} else if (strcmp(name, "set") == 0 || strcmp(name, "frozenset") == 0) {
		sized_repr(pp, addr, l->locals.set_used, name, buf, len);
	} else {
		snprintf(buf, len, "<%s object>", name);
	}
	return 0;
}

/* Whether the object at addr is a cell (its built-in type is named so). */
static bool is_cell(struct sg_pyproc *pp, uint64_t addr)
{
	uint64_t type, name_addr;
	char name[8];

	return sg_mem_read_ptr(&pp->mem, addr + SG_OB_TYPE, &type) == 0 &&
	       sg_mem_read_ptr(&pp->mem, type + pp->layout.locals.type_name, &name_addr) == 0 &&
	       read_cstr(pp, name_addr, name, sizeof(name)) == 0 && strcmp(name, "cell") == 0;
}

/* The repr of the value in the slot at slot, first read as value. A
 * running thread may rebind the slot and free the old value while it is
 * read: the repr is kept once the slot still holds the same object after
 * it, else the new value is read, a few times at most. */
static void read_value(struct sg_pyproc *pp, uint64_t slot, uint64_t value, bool cell, char *buf,
                       size_t len)
{
	uint64_t held = value, now;

	for (int attempt = 0; attempt < 8; attempt++) {
		int err = sg_pyrepr(pp, value, buf, len);

		/* A cell stays in its slot; its content is not re-checked. */
		if (cell || sg_mem_read_ptr(&pp->mem, slot, &now) || !now)
			return;
		/* The same object again may still be a freed one reused (2.7's
		 * int free list hands the last one freed out first): an
		 * unreadable one is read again whatever the slot holds. */
		if (now == held && !err)
			return;
		held = value = now;
	}
}

/* A tuple's items (at most max) into items; *n their number. */
static int read_tuple(struct sg_pyproc *pp, uint64_t tuple, uint64_t *items, size_t max, size_t *n)
{
	int64_t size;

	if (read_i64(pp, tuple + pp->layout.locals.var_size, &size))
		return SG_EREAD;
	if (size < 0 || (uint64_t)size > max)
		return SG_ECORRUPT;
	*n = (size_t)size;
	return *n ? sg_mem_read(&pp->mem, tuple + pp->layout.locals.tuple_items, items,
	                        *n * sizeof(*items))
	          : 0;
}

/* What the code object says about its locals. */
struct code_locals {
	uint64_t *names; /* str objects */
	uint8_t *kinds;  /* 3.11+, else NULL */
	size_t n, nargs;
};

static int read_code_locals(struct sg_pyproc *pp, uint64_t code, struct code_locals *cl)
{
	const struct sg_pylayout *l = &pp->layout;
	uint8_t buf[MAX_COPY];
	uint64_t kinds;
	int64_t nkinds;
	int32_t flags;
	int err;

	if (l->code.size > sizeof(buf))
		return SG_ECORRUPT;
	err = sg_mem_read(&pp->mem, code, buf, l->code.size);
	if (err)
		return err;
	if (!sg_layout_live_object(buf, pp->code_type))
		return SG_ECORRUPT;
	flags = sg_layout_i32(buf, l->locals.code_flags);
	cl->nargs = (size_t)sg_layout_i32(buf, l->locals.code_argcount) +
	            (l->locals.code_kwonlyargcount
	                 ? (size_t)sg_layout_i32(buf, l->locals.code_kwonlyargcount)
	                 : 0) +
	            (flags & CO_VARARGS ? 1 : 0) + (flags & CO_VARKEYWORDS ? 1 : 0);
	cl->names = malloc(MAX_LOCALS * sizeof(*cl->names));
	if (!cl->names)
		return SG_ENOMEM;
	err =
	    read_tuple(pp, sg_layout_u64(buf, l->locals.code_names), cl->names, MAX_LOCALS, &cl->n);
	if (err)
		return err;
	if (l->locals.code_cellvars) {
		/* <=3.10: the cells of co_cellvars follow the locals; made kinds
		 * say which are cells, as 3.11+'s do. */
		size_t nvars = cl->n, ncells;

		err = read_tuple(pp, sg_layout_u64(buf, l->locals.code_cellvars), cl->names + nvars,
		                 MAX_LOCALS - nvars, &ncells);
		cl->n = nvars + ncells;
		cl->kinds = calloc(cl->n + 1, 1);
		if (!err && !cl->kinds)
			return SG_ENOMEM;
		if (!err)
			memset(cl->kinds + nvars, FAST_CELL, ncells);
		return err;
	}
	if (!l->locals.code_kinds)
		return 0;
	kinds = sg_layout_u64(buf, l->locals.code_kinds);
	if (read_i64(pp, kinds + l->bytes.size, &nkinds))
		return SG_EREAD;
	if (nkinds != (int64_t)cl->n)
		return SG_ECORRUPT;
	cl->kinds = malloc(cl->n + 1);
	if (!cl->kinds)
		return SG_ENOMEM;
	return cl->n ? sg_mem_read(&pp->mem, kinds + l->bytes.sval, cl->kinds, cl->n) : 0;
}

int sg_pylocals_slots(struct sg_pyproc *pp, uint64_t frame, uint64_t code, struct sg_pyslot **out,
                      size_t *n)
{
	struct code_locals cl = {0};
	uint64_t *values = NULL;
	int err;

	*out = NULL;
	*n = 0;
	err = read_code_locals(pp, code, &cl);
	if (!err && cl.n) {
		values = malloc(cl.n * sizeof(*values));
		*out = calloc(cl.n, sizeof(**out));
		err = !values || !*out ? SG_ENOMEM : 0;
	}
	if (!err && cl.n)
		err = sg_mem_read(&pp->mem, frame + pp->layout.locals.frame_localsplus, values,
		                  cl.n * sizeof(*values));
	for (size_t i = 0; i < cl.n && !err; i++) {
		struct sg_pyslot *s = &(*out)[*n];
		char name[4 * SG_PYSTR_MAX_CHARS + 1];
		uint8_t kind = cl.kinds ? cl.kinds[i] : 0;
		uint64_t value = values[i];
		bool cell = (kind & FAST_CELL) && value && is_cell(pp, value);

		if (!value || (kind & (FAST_FREE | FAST_HIDDEN)))
			continue;
		/* A cell variable's slot holds the cell once the function has
		 * started; its content is the variable's value. */
		if (cell &&
		    (sg_mem_read_ptr(&pp->mem, value + pp->layout.locals.cell_ref, &value) ||
		     !value))
			continue;
		if (sg_pystr_read(&pp->mem, &pp->layout, pp->str_type, cl.names[i], name,
		                  sizeof(name)))
			snprintf(name, sizeof(name), "?");
		/* A name longer than the field is cut (at a byte: names are ASCII
		 * but for the rare identifier that is not). */
		name[sizeof(s->name) - 1] = '\0';
		memcpy(s->name, name, strlen(name) + 1);
		s->value = value;
		s->slot = frame + pp->layout.locals.frame_localsplus + 8 * i;
		s->argument = i < cl.nargs;
		s->cell = cell;
		(*n)++;
	}
	free(cl.names);
	free(cl.kinds);
	free(values);
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return err;
}

int sg_pylocals_read(struct sg_pyproc *pp, uint64_t frame, uint64_t code, struct sg_pylocal **out,
                     size_t *n)
{
	struct sg_pyslot *slots;
	size_t nslots;
	int err = sg_pylocals_slots(pp, frame, code, &slots, &nslots);

	*out = NULL;
	*n = 0;
	if (!err && nslots && !(*out = calloc(nslots, sizeof(**out))))
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < nslots; i++) {
		struct sg_pylocal *local = &(*out)[i];

		memcpy(local->name, slots[i].name, sizeof(local->name));
		local->argument = slots[i].argument;
		read_value(pp, slots[i].slot, slots[i].value, slots[i].cell, local->value,
		           sizeof(local->value));
	}
	if (!err)
		*n = nslots;
	free(slots);
	return err;
}
