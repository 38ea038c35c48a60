/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "python/pyversion.h"
#include "util/err.h"

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Parse a decimal number of at most 3 digits at buf[*i]. */
static bool parse_num(const uint8_t *buf, size_t len, size_t *i, unsigned *out)
{
	size_t start = *i;
	unsigned n = 0;

	while (*i < len && is_digit(buf[*i]) && *i - start < 3)
		n = n * 10 + (unsigned)(buf[(*i)++] - '0');
	*out = n;
	return *i > start && (*i >= len || !is_digit(buf[*i]));
}

/* The release suffix allowed before the NUL: a, b, rc + digits, and '+'. */
static bool parse_suffix(const uint8_t *buf, size_t len, size_t *i)
{
	unsigned serial;

	if (*i < len && (buf[*i] == 'a' || buf[*i] == 'b'))
		(*i)++;
	else if (*i + 1 < len && buf[*i] == 'r' && buf[*i + 1] == 'c')
		*i += 2;
	else
		goto plus;
	if (!parse_num(buf, len, i, &serial))
		return false;
plus:
	if (*i < len && buf[*i] == '+')
		(*i)++;
	return *i < len && buf[*i] == '\0';
}

static bool match_at(const uint8_t *buf, size_t len, size_t at, struct sg_pyversion *v)
{
	size_t i = at;

	if (at > 0 && (is_digit(buf[at - 1]) || buf[at - 1] == '.'))
		return false;
	if (!parse_num(buf, len, &i, &v->major) || i >= len || buf[i++] != '.')
		return false;
	if (!parse_num(buf, len, &i, &v->minor) || i >= len || buf[i++] != '.')
		return false;
	if (!parse_num(buf, len, &i, &v->micro))
		return false;
	return (v->major == 2 || v->major == 3) && parse_suffix(buf, len, &i);
}

int sg_pyversion_scan(const uint8_t *buf, size_t len, unsigned want_major, unsigned want_minor,
                      struct sg_pyversion *v)
{
	for (size_t at = 0; at < len; at++) {
		struct sg_pyversion cand;

		if (buf[at] != '2' && buf[at] != '3')
			continue;
		if (!match_at(buf, len, at, &cand))
			continue;
		if (want_major && (cand.major != want_major || cand.minor != want_minor))
			continue;
		*v = cand;
		return 0;
	}
	return SG_ENOTPY;
}

static int from_soname(const struct sg_elf *elf, struct sg_pyversion *v)
{
	char soname[128];

	if (sg_elf_soname(elf, soname, sizeof(soname)))
		return SG_ENOTPY;
	if (sscanf(soname, "libpython%u.%u", &v->major, &v->minor) != 2)
		return SG_ENOTPY;
	v->micro = 0;
	return 0;
}

int sg_pyversion_detect(const struct sg_elf *elf, struct sg_pyversion *v)
{
	uint64_t addr, size, hex = 0;
	const uint8_t *rodata;
	size_t rodata_len = 0;
	struct sg_pyversion scanned;

	if (sg_elf_symbol(elf, "Py_Version", &addr, &size) == 0 && size >= 4 && size <= 8 &&
	    sg_elf_read_vaddr(elf, addr, &hex, size) == 0) {
		/* PY_VERSION_HEX: 0xMMmmppLS, little-endian like the target. */
		v->major = (unsigned)(hex >> 24) & 0xff;
		v->minor = (unsigned)(hex >> 16) & 0xff;
		v->micro = (unsigned)(hex >> 8) & 0xff;
		return 0;
	}
	if (sg_elf_section(elf, ".rodata", &rodata, &rodata_len))
		rodata_len = 0;
	if (from_soname(elf, v) == 0) {
		if (rodata_len &&
		    sg_pyversion_scan(rodata, rodata_len, v->major, v->minor, &scanned) == 0)
			v->micro = scanned.micro;
		return 0;
	}
	if (rodata_len && sg_pyversion_scan(rodata, rodata_len, 0, 0, v) == 0)
		return 0;
	return SG_ENOTPY;
}
