/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "python/pystr.h"
#include "util/err.h"
#include "util/strbuf.h"

/* PyASCIIObject.state bit field, the same from 3.3 to 3.13:
 * interned:2, kind:3, compact:1, ascii:1. */
#define STATE_KIND(s)    (((s) >> 2) & 7u)
#define STATE_COMPACT(s) (((s) >> 5) & 1u)
#define STATE_ASCII(s)   (((s) >> 6) & 1u)

/* No name or file name is anywhere near this: a larger size is garbage. */
#define MAX_BYTES (1 << 30)

uint64_t sg_pystr_sizeof(const struct sg_pylayout *layout, uint64_t length, uint32_t state)
{
	unsigned kind = STATE_KIND(state);

	if (!STATE_COMPACT(state) || (kind != 1 && kind != 2 && kind != 4) || length > MAX_BYTES)
		return 0;
	if (STATE_ASCII(state))
		return layout->unicode.ascii_data + length + 1;
	return layout->unicode.compact_data + (length + 1) * kind;
}

size_t sg_pystr_utf8(const void *chars, size_t count, unsigned width, char *buf, size_t len)
{
	const uint8_t *p = chars;
	size_t out = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < count; i++) {
		uint32_t c;
		uint8_t enc[4];
		size_t n;

		if (width == 1) {
			c = p[i];
		} else if (width == 2) {
			uint16_t u;

			memcpy(&u, p + 2 * i, 2);
			c = u;
		} else {
			memcpy(&c, p + 4 * i, 4);
		}
		if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			c = 0xfffd;
		if (c < 0x80) {
			enc[0] = (uint8_t)c;
			n = 1;
		} else if (c < 0x800) {
			enc[0] = (uint8_t)(0xc0 | (c >> 6));
			enc[1] = (uint8_t)(0x80 | (c & 0x3f));
			n = 2;
		} else if (c < 0x10000) {
			enc[0] = (uint8_t)(0xe0 | (c >> 12));
			enc[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			enc[2] = (uint8_t)(0x80 | (c & 0x3f));
			n = 3;
		} else {
			enc[0] = (uint8_t)(0xf0 | (c >> 18));
			enc[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
			enc[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			enc[3] = (uint8_t)(0x80 | (c & 0x3f));
			n = 4;
		}
		if (out + n >= len)
			break;
		memcpy(buf + out, enc, n);
		out += n;
	}
	buf[out] = '\0';
	return out;
}

/* Copy the NUL-terminated bytes as UTF-8 into buf (len > 0), at most
 * SG_PYSTR_MAX_CHARS characters and whole ones: a byte that starts no
 * well-formed sequence becomes U+FFFD, as every writer would show it. */
static void utf8_clean(const uint8_t *bytes, char *buf, size_t len)
{
	size_t out = 0;

	for (size_t chars = 0; *bytes && chars < SG_PYSTR_MAX_CHARS; chars++) {
		size_t n = sg_utf8_len(bytes);
		const void *from = n ? (const void *)bytes : "\xef\xbf\xbd";
		size_t width = n ? n : 3;

		if (out + width >= len)
			break;
		memcpy(buf + out, from, width);
		out += width;
		bytes += n ? n : 1;
	}
	buf[out] = '\0';
}

/*
 * 2.7's PyStringObject: ob_size, ob_shash, ob_sstate (an int right before
 * ob_sval), then ob_size bytes and a NUL. A pointer that tore lands on
 * something else: its interning state must be one of the three, and the
 * NUL must be where ob_size says. Long strings are cut as on 3.x.
 */
static int read_bytes_object(struct sg_mem *mem, const struct sg_pylayout *l, uint64_t addr,
                             char *buf, size_t len)
{
	uint8_t bytes[SG_PYSTR_MAX_CHARS * 4 + 1];
	int64_t size;
	int32_t sstate;
	uint8_t nul;
	size_t n;
	int err = sg_mem_read(mem, addr + l->bytes.size, &size, sizeof(size));

	if (!err)
		err = sg_mem_read(mem, addr + l->bytes.sval - 4, &sstate, sizeof(sstate));
	if (err)
		return err;
	if (size < 0 || size > MAX_BYTES || sstate < 0 || sstate > 2)
		return SG_ECORRUPT;
	err = sg_mem_read(mem, addr + l->bytes.sval + (uint64_t)size, &nul, 1);
	if (err)
		return err;
	if (nul)
		return SG_ECORRUPT;
	n = (size_t)size < sizeof(bytes) - 1 ? (size_t)size : sizeof(bytes) - 1;
	err = sg_mem_read(mem, addr + l->bytes.sval, bytes, n);
	if (err)
		return err;
	bytes[n] = '\0';
	utf8_clean(bytes, buf, len);
	return 0;
}

int sg_pystr_read(struct sg_mem *mem, const struct sg_pylayout *layout, uint64_t type_addr,
                  uint64_t addr, char *buf, size_t len)
{
	uint8_t head[128];
	uint8_t chars[SG_PYSTR_MAX_CHARS * 4];
	uint64_t type;
	uint32_t state;
	int64_t length;
	unsigned width;
	uint64_t data;
	size_t count;
	int err;

	if (len == 0)
		return SG_ECORRUPT;
	err = sg_mem_read(mem, addr, head, SG_OB_TYPE + sizeof(type));
	if (err)
		return err;
	memcpy(&type, head + SG_OB_TYPE, sizeof(type));
	if (type_addr && type != type_addr)
		return SG_ECORRUPT;
	if (layout->str_kind == SG_STR_BYTES)
		return read_bytes_object(mem, layout, addr, buf, len);

	if (layout->unicode.compact_data > sizeof(head))
		return SG_ECORRUPT;
	err = sg_mem_read(mem, addr, head, layout->unicode.compact_data);
	if (err)
		return err;
	memcpy(&length, head + layout->unicode.length, sizeof(length));
	memcpy(&state, head + layout->unicode.state, sizeof(state));
	/* Code names are compact: their characters follow the header. */
	if (!STATE_COMPACT(state) || length < 0)
		return SG_ECORRUPT;
	width = STATE_KIND(state);
	if (width != 1 && width != 2 && width != 4)
		return SG_ECORRUPT;
	data =
	    addr + (STATE_ASCII(state) ? layout->unicode.ascii_data : layout->unicode.compact_data);
	count = (size_t)length < SG_PYSTR_MAX_CHARS ? (size_t)length : SG_PYSTR_MAX_CHARS;
	err = sg_mem_read(mem, data, chars, count * width);
	if (err)
		return err;
	sg_pystr_utf8(chars, count, width, buf, len);
	return 0;
}
