/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "util/err.h"
#include "util/u64map.h"

void sg_u64map_init(struct sg_u64map *m)
{
	*m = (struct sg_u64map)SG_U64MAP_INIT;
}

void sg_u64map_release(struct sg_u64map *m)
{
	free(m->keys);
	free(m->values);
	sg_u64map_init(m);
}

static size_t find_slot(const uint64_t *keys, size_t cap, uint64_t key)
{
	size_t i = (size_t)sg_u64_mix(key) & (cap - 1);

	while (keys[i] && keys[i] != key)
		i = (i + 1) & (cap - 1);
	return i;
}

bool sg_u64map_get(const struct sg_u64map *m, uint64_t key, uint64_t *value)
{
	size_t i;

	if (!m->cap || !key)
		return false;
	i = find_slot(m->keys, m->cap, key);
	if (!m->keys[i])
		return false;
	if (value)
		*value = m->values[i];
	return true;
}

static int grow(struct sg_u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	uint64_t *keys, *values;

	if (cap < m->cap)
		return SG_ENOMEM;
	keys = calloc(cap, sizeof(*keys));
	values = calloc(cap, sizeof(*values));
	if (!keys || !values) {
		free(keys);
		free(values);
		return SG_ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i]) {
			size_t j = find_slot(keys, cap, m->keys[i]);

			keys[j] = m->keys[i];
			values[j] = m->values[i];
		}
	}
	free(m->keys);
	free(m->values);
	m->keys = keys;
	m->values = values;
	m->cap = cap;
	return 0;
}

int sg_u64map_put(struct sg_u64map *m, uint64_t key, uint64_t value)
{
	size_t i;

	if (!key)
		return SG_EUSAGE;
	/* Keep the load under 3/4 so probes stay short. */
	if ((m->len + 1) * 4 > m->cap * 3 && grow(m))
		return SG_ENOMEM;
	i = find_slot(m->keys, m->cap, key);
	if (!m->keys[i]) {
		m->keys[i] = key;
		m->len++;
	}
	m->values[i] = value;
	return 0;
}

bool sg_u64map_next(const struct sg_u64map *m, size_t *pos, uint64_t *key, uint64_t *value)
{
	for (; *pos < m->cap; ++*pos) {
		if (m->keys[*pos]) {
			if (key)
				*key = m->keys[*pos];
			if (value)
				*value = m->values[*pos];
			++*pos;
			return true;
		}
	}
	return false;
}
