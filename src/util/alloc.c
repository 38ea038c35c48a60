/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/err.h"

int sg_grow(void *arrayp, size_t *cap, size_t need, size_t elem)
{
	size_t cap2 = *cap ? *cap : 16;
	void *array, *fresh;

	if (need <= *cap)
		return 0;
	if (elem == 0 || need > SIZE_MAX / elem)
		return SG_ENOMEM;
	while (cap2 < need)
		cap2 = cap2 > SIZE_MAX / 2 ? need : cap2 * 2;
	if (cap2 > SIZE_MAX / elem)
		cap2 = need;
	/* memcpy, not a cast to void **: the caller's pointer has its own type. */
	memcpy(&array, arrayp, sizeof(array));
	fresh = realloc(array, cap2 * elem);
	if (!fresh)
		return SG_ENOMEM;
	memcpy(arrayp, &fresh, sizeof(fresh));
	*cap = cap2;
	return 0;
}
