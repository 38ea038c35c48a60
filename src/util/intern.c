/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/intern.h"

void sg_intern_init(struct sg_intern *t)
{
	*t = (struct sg_intern)SG_INTERN_INIT;
}

void sg_intern_release(struct sg_intern *t)
{
	free(t->bytes);
	free(t->entries);
	free(t->slots);
	sg_intern_init(t);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find_slot(const struct sg_intern *t, const void *data, size_t len, uint64_t hash)
{
	size_t mask = t->nslots - 1, i = (size_t)hash & mask;

	for (; t->slots[i]; i = (i + 1) & mask) {
		const struct sg_intern_entry *e = &t->entries[t->slots[i] - 1];

		if (e->hash == hash && e->len == len &&
		    (!len || !memcmp(t->bytes + e->at, data, len)))
			break;
	}
	return i;
}

static int grow_slots(struct sg_intern *t)
{
	size_t nslots = t->nslots ? t->nslots * 2 : 64;
	uint32_t *slots;

	if (nslots < t->nslots)
		return SG_ENOMEM;
	slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return SG_ENOMEM;
	/* Entries already know their hashes: no key is hashed again. */
	for (size_t id = 0; id < t->n; id++) {
		size_t i = (size_t)t->entries[id].hash & (nslots - 1);

		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = (uint32_t)id + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

void sg_intern_set_budget(struct sg_intern *t, size_t bytes)
{
	t->budget = bytes;
}

/* Whether a new key of len bytes copied at at would pass the budget. */
static bool over_budget(const struct sg_intern *t, size_t at, size_t len)
{
	size_t nslots = (t->n + 1) * 2 > t->nslots ? (t->nslots ? t->nslots * 2 : 64) : t->nslots;

	if (len >= t->budget || at >= t->budget)
		return true;
	return at + len + 1 + (t->n + 1) * sizeof(*t->entries) + nslots * sizeof(*t->slots) >
	       t->budget;
}

int sg_intern_put(struct sg_intern *t, const void *data, size_t len, uint32_t *id)
{
	uint64_t hash = sg_hash_bytes(data, len, 0);
	size_t at = (t->bytes_len + 7) & ~(size_t)7, slot;

	if (t->nslots) {
		slot = find_slot(t, data, len, hash);
		if (t->slots[slot]) {
			*id = t->slots[slot] - 1;
			return 0;
		}
	}
	if (t->budget && over_budget(t, at, len))
		return SG_EFULL;
	if (t->n >= UINT32_MAX - 1 || len > (size_t)-1 - 1 - at ||
	    sg_grow(&t->bytes, &t->bytes_cap, at + len + 1, 1) ||
	    sg_grow(&t->entries, &t->entries_cap, t->n + 1, sizeof(*t->entries)))
		return SG_ENOMEM;
	/* Keep the load under 1/2: keys are compared by hash first, probes are cheap. */
	if ((t->n + 1) * 2 > t->nslots && grow_slots(t))
		return SG_ENOMEM;
	slot = find_slot(t, data, len, hash);
	if (len)
		memcpy(t->bytes + at, data, len);
	t->bytes[at + len] = '\0';
	t->bytes_len = at + len + 1;
	t->entries[t->n] = (struct sg_intern_entry){.at = at, .len = len, .hash = hash};
	t->slots[slot] = (uint32_t)t->n + 1;
	*id = (uint32_t)t->n++;
	return 0;
}

const void *sg_intern_get(const struct sg_intern *t, uint32_t id, size_t *len)
{
	const struct sg_intern_entry *e = &t->entries[id];

	if (len)
		*len = e->len;
	return t->bytes + e->at;
}

size_t sg_intern_count(const struct sg_intern *t)
{
	return t->n;
}
