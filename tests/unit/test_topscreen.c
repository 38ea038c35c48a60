/* SPDX-License-Identifier: MIT */
/* top's screen as text: its lines fit the width (wide characters counting
 * two columns), the height, the keys on the last line; names cannot carry
 * control characters to the terminal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "formats/top.h"
#include "profile/live.h"
#include "util/strbuf.h"

#include "profile_fixtures.h"

/* Columns of a UTF-8 line, as the terminal shows it. */
static size_t columns(const char *s, size_t n)
{
	mbstate_t st;
	size_t cols = 0;

	memset(&st, 0, sizeof(st));
	while (n) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, s, n, &st);

		assert_true(k > 0 && k <= n);
		cols += (size_t)(wcwidth(wc) < 0 ? 1 : wcwidth(wc));
		s += k;
		n -= k;
	}
	return cols;
}

static void test_screen_fits(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t main_ = fx_frame(p, "main", "app.py", 1);
	uint32_t wide = fx_frame(p, "计算计算计算计算计算计算计算计算计算计算", "app.py", 2);
	uint32_t ctl = fx_frame(p, "evil\x1b[2Jname", "app.py", 3);
	struct sg_live_view_opts o = {.sort = SG_LIVE_SELF, .idle = true};
	struct sg_top_head h = {.opts = &o,
	                        .command = "python app.py",
	                        .python = "3.12.1",
	                        .mode = "cpu",
	                        .rate_hz = 100,
	                        .cpu = 99.5,
	                        .gil = 97,
	                        .threads = 2,
	                        .states = {1, 1},
	                        .keys = true};
	struct sg_strbuf sb = SG_STRBUF_INIT;
	struct sg_live_view v;
	struct sg_live *l;
	size_t lines = 0;

	(void)state;
	if (!setlocale(LC_ALL, "C.UTF-8"))
		skip();
	for (int i = 0; i < 30; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%02d", i);
		fx_add(p, (uint32_t[]){main_, fx_frame(p, name, "app.py", 10 + i)}, 2, 1, 1, "T", 0,
		       (uint64_t)i + 1);
	}
	fx_add(p, (uint32_t[]){main_, wide}, 2, 1, 1, "T", 0, 100);
	fx_add(p, (uint32_t[]){main_, ctl}, 2, 1, 1, "T", 0, 50);
	assert_int_equal(sg_live_new(p, &l), 0);
	assert_int_equal(sg_live_read(l), 0);
	assert_int_equal(sg_live_view(l, &o, &v), 0);
	assert_int_equal(sg_top_format(&h, &v, 60, 24, &sb), 0);
	for (char *line = sb.buf, *end; (end = strchr(line, '\n')); line = end + 1, lines++) {
		assert_true(columns(line, (size_t)(end - line)) <= 60);
		assert_null(memchr(line, '\x1b', (size_t)(end - line)));
		if (lines == SG_TOP_HEAD_LINES - 1)
			assert_non_null(strstr(line, ">%Self"));
		if (lines == SG_TOP_HEAD_LINES) /* the widest name is the hottest */
			assert_non_null(strstr(line, "计算"));
		if (lines == SG_TOP_HEAD_LINES + 1)
			assert_non_null(strstr(line, "evil?[2Jname (app.py)"));
		if (lines == 23)
			assert_memory_equal(line, "keys: ", 6);
	}
	assert_int_equal(lines, 24);
	assert_non_null(strstr(sb.buf, "CPU 99.5%, GIL 97.0%, threads 2: 1 running, 1 sleeping"));
	/* Whole (--once): every function, no keys. */
	sg_strbuf_reset(&sb);
	h.keys = false;
	assert_int_equal(sg_top_format(&h, &v, SIZE_MAX, 0, &sb), 0);
	lines = 0;
	for (const char *c = sb.buf; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, SG_TOP_HEAD_LINES + v.nfns);
	assert_null(strstr(sb.buf, "keys:"));
	sg_strbuf_release(&sb);
	sg_live_view_release(&v);
	sg_live_free(l);
	sg_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_screen_fits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
