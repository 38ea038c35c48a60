/* SPDX-License-Identifier: MIT */
#ifndef SG_TESTS_PROFILE_FIXTURES_H
#define SG_TESTS_PROFILE_FIXTURES_H

/* Building small profiles by hand, for the profile, report and format tests.
 * Include after <cmocka.h>. */

#include <string.h>

#include "profile/profile.h"

static inline uint32_t fx_str(struct sg_profile *p, const char *s)
{
	uint32_t id = sg_profile_intern(p, s, strlen(s));

	assert_int_not_equal(id, UINT32_MAX);
	return id;
}

/* A Python frame; file NULL means unknown. */
static inline uint32_t fx_frame(struct sg_profile *p, const char *name, const char *file, int line)
{
	struct sg_frame f = {.type = SG_FRAME_PYTHON, .line = line};
	uint32_t id;

	f.name = fx_str(p, name);
	f.file = file ? fx_str(p, file) : 0;
	id = sg_profile_frame_id(p, &f);
	assert_int_not_equal(id, UINT32_MAX);
	return id;
}

/* count samples of the n frames (root first) in thread tid of pid. */
static inline void fx_add(struct sg_profile *p, const uint32_t *frames, size_t n, pid_t pid,
                          pid_t tid, const char *thread, uint32_t flags, uint64_t count)
{
	struct sg_labels labels = {.pid = pid, .tid = tid, .flags = flags};
	uint32_t stack = sg_profile_stack_id(p, frames, n);

	assert_int_not_equal(stack, UINT32_MAX);
	labels.thread_name = fx_str(p, thread);
	assert_int_equal(sg_profile_add(p, stack, &labels, count, count * 1000), 0);
}

#endif
