/* SPDX-License-Identifier: MIT */
/* The flame graph writer: the boxes of the SVG, checked on hand-made profiles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/format.h"

#include "profile_fixtures.h"

#define MAX_BOXES 64

/* One <g> of the SVG: what the script reads and what is drawn. */
struct box {
	unsigned long long x, w;
	unsigned d;
	char name[128];  /* the title's first line, still escaped */
	char label[128]; /* the text drawn in the box */
	double rx, rw;
	int y;
	unsigned r, g, b;
};

static char *write_svg(const struct sg_profile *p, const struct sg_write_opts *opts)
{
	const struct sg_format *f = sg_format_by_name("flamegraph");
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_non_null(out);
	assert_int_equal(f->write(p, opts, out), 0);
	fclose(out);
	return buf;
}

/* Copy the text at s up to stop into dst (size 128). */
static const char *copy_until(char *dst, const char *s, const char *stop)
{
	const char *end = strstr(s, stop);

	assert_non_null(end);
	assert_true(end - s < 128);
	memcpy(dst, s, (size_t)(end - s));
	dst[end - s] = '\0';
	return end + strlen(stop);
}

static size_t parse_boxes(const char *svg, struct box *boxes)
{
	size_t n = 0;

	for (const char *s = strstr(svg, "<g data-x="); s; s = strstr(s, "<g data-x=")) {
		struct box *b = &boxes[n++];
		int used = 0;

		assert_true(n <= MAX_BOXES);
		assert_int_equal(
		    sscanf(s, "<g data-x=\"%llu\" data-w=\"%llu\" data-d=\"%u\"><title>%n", &b->x,
		           &b->w, &b->d, &used),
		    3);
		s = copy_until(b->name, s + used, "\n");
		s = strstr(s, "<rect ");
		assert_int_equal(sscanf(s,
		                        "<rect x=\"%lf\" y=\"%d\" width=\"%lf\" height=\"15\" "
		                        "fill=\"rgb(%u,%u,%u)\"/><text x=\"%*f\" y=\"%*d\">%n",
		                        &b->rx, &b->y, &b->rw, &b->r, &b->g, &b->b, &used),
		                 6);
		s = copy_until(b->label, s + used, "</text></g>");
	}
	return n;
}

static const struct box *find(const struct box *boxes, size_t n, unsigned d, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (boxes[i].d == d && !strcmp(boxes[i].name, name))
			return &boxes[i];
	fail_msg("no box '%s' at depth %u", name, d);
	return NULL;
}

static void expect_box(const struct box *boxes, size_t n, unsigned d, const char *name,
                       unsigned long long x, unsigned long long w)
{
	const struct box *b = find(boxes, n, d, name);

	assert_int_equal(b->x, x);
	assert_int_equal(b->w, w);
}

/*
 * What holds for every flame graph: one root "all" as wide as every
 * sample; each other box inside a box one level down; the children of a
 * box, left to right, in alphabetical order (merged narrow frames aside),
 * after the parent's own
 * samples, adding up to at most its width (exactly, when nothing is
 * omitted); boxes drawn at their share of the 1180 units between the pads.
 */
static void check_structure(const struct box *boxes, size_t n, unsigned long long total,
                            bool complete)
{
	const struct box *root = find(boxes, n, 0, "all");

	assert_int_equal(root->x, 0);
	assert_int_equal(root->w, total);
	for (size_t i = 0; i < n; i++) {
		const struct box *parent = &boxes[i], *prev = NULL;
		unsigned long long sum = 0, self_end = parent->x + parent->w;

		assert_true(fabs(parent->rx - (10 + 1180.0 * (double)parent->x / (double)total)) <
		            0.01);
		assert_true(fabs(parent->rw - 1180.0 * (double)parent->w / (double)total) < 0.01);
		if (parent->d > 0) {
			bool inside = false;

			for (size_t j = 0; j < n; j++)
				inside |= boxes[j].d + 1 == parent->d && boxes[j].x <= parent->x &&
				          boxes[j].x + boxes[j].w >= parent->x + parent->w;
			assert_true(inside);
		}
		for (size_t k = 0; k < n; k++) {
			const struct box *c = NULL;

			/* The children by x: the leftmost right of prev. */
			for (size_t j = 0; j < n; j++)
				if (boxes[j].d == parent->d + 1 && boxes[j].x >= parent->x &&
				    boxes[j].x < parent->x + parent->w &&
				    (!prev || boxes[j].x > prev->x) && (!c || boxes[j].x < c->x))
					c = &boxes[j];
			if (!c)
				break;
			/* A merged box stands where its frames were. */
			if (!prev)
				self_end = c->x;
			else if (strcmp(prev->name, "[narrow frames]") &&
			         strcmp(c->name, "[narrow frames]"))
				assert_true(strcmp(prev->name, c->name) < 0);
			sum += c->w;
			prev = c;
		}
		assert_true(sum <= parent->w);
		if (complete)
			assert_int_equal(sum + (self_end - parent->x), parent->w);
	}
}

static struct sg_profile *small_profile(void)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t main_ = fx_frame(p, "main", "app.py", 1);
	uint32_t zeta = fx_frame(p, "zeta", "app.py", 5);
	uint32_t alpha = fx_frame(p, "alpha", "app.py", 9);
	uint32_t leaf3 = fx_frame(p, "leaf", "lib.py", 3);
	uint32_t leaf4 = fx_frame(p, "leaf", "lib.py", 4);
	uint32_t wait = fx_frame(p, "wait", "threading.py", 0);
	uint32_t odd = fx_frame(p, "odd<&>\"name\x01\xff", NULL, 0);

	assert_int_equal(sg_profile_set_process(p, 100, "python app.py"), 0);
	fx_add(p, (uint32_t[]){main_, zeta, leaf4}, 3, 100, 7, "MainThread", 0, 3);
	fx_add(p, (uint32_t[]){main_, alpha, leaf3}, 3, 100, 7, "MainThread", 0, 2);
	/* Renders like the row above: the GIL flag is not drawn. */
	fx_add(p, (uint32_t[]){main_, alpha, leaf3}, 3, 100, 7, "MainThread", SG_SAMPLE_GIL, 1);
	fx_add(p, (uint32_t[]){main_, alpha}, 2, 100, 7, "MainThread", 0, 1);
	fx_add(p, (uint32_t[]){main_, wait}, 2, 100, 8, "worker", SG_SAMPLE_IDLE, 4);
	fx_add(p, &odd, 1, 100, 0, "", 0, 1);
	fx_add(p, &odd, 1, 100, 9, "none", 0, 0); /* no samples: not drawn */
	return p;
}

#define ODD "odd&lt;&amp;&gt;&quot;name\xef\xbf\xbd\xef\xbf\xbd"

static void test_boxes(void **state)
{
	struct sg_profile *p = small_profile();
	struct sg_write_opts opts = {0};
	struct box boxes[MAX_BOXES];
	char *svg;
	size_t n;

	(void)state;
	svg = write_svg(p, &opts);
	n = parse_boxes(svg, boxes);
	assert_int_equal(n, 9);
	check_structure(boxes, n, 12, true);
	assert_non_null(strstr(svg, "data-total=\"12\""));
	expect_box(boxes, n, 1, "main (app.py:1)", 0, 11);
	expect_box(boxes, n, 1, ODD, 11, 1);
	expect_box(boxes, n, 2, "alpha (app.py:9)", 0, 4);
	expect_box(boxes, n, 2, "wait (threading.py)", 4, 4);
	expect_box(boxes, n, 2, "zeta (app.py:5)", 8, 3);
	expect_box(boxes, n, 3, "leaf (lib.py:3)", 1, 3);
	expect_box(boxes, n, 3, "[idle]", 4, 4);
	expect_box(boxes, n, 3, "leaf (lib.py:4)", 8, 3);
	/* Roots at the bottom: deeper is higher up. */
	assert_true(find(boxes, n, 3, "[idle]")->y < find(boxes, n, 2, "wait (threading.py)")->y);
	assert_true(find(boxes, n, 1, ODD)->y < find(boxes, n, 0, "all")->y);
	free(svg);
	sg_profile_free(p);
}

static bool blue(const struct box *b)
{
	return b->b > b->r + 80 && b->b > b->g + 40;
}

static bool warm(const struct box *b)
{
	return b->r >= 205 && b->b <= 55;
}

static bool grey(const struct box *b)
{
	unsigned hi = b->r > b->g ? (b->r > b->b ? b->r : b->b) : (b->g > b->b ? b->g : b->b);
	unsigned lo = b->r < b->g ? (b->r < b->b ? b->r : b->b) : (b->g < b->b ? b->g : b->b);

	return hi - lo <= 25;
}

static void test_roots_and_colours(void **state)
{
	struct sg_profile *p = small_profile();
	struct sg_write_opts opts = {.threads = true, .processes = true};
	struct box boxes[MAX_BOXES];
	const struct box *leaf3, *leaf4;
	char *svg;
	size_t n;

	(void)state;
	svg = write_svg(p, &opts);
	n = parse_boxes(svg, boxes);
	check_structure(boxes, n, 12, true);
	/* The odd frame has a pid but no tid: a process root, no thread root. */
	expect_box(boxes, n, 1, "process 100: python app.py", 0, 12);
	expect_box(boxes, n, 2, ODD, 0, 1);
	expect_box(boxes, n, 2, "thread 7: MainThread", 1, 7);
	expect_box(boxes, n, 2, "thread 8: worker", 8, 4);
	expect_box(boxes, n, 5, "[idle]", 8, 4);
	assert_true(grey(find(boxes, n, 0, "all")));
	assert_true(grey(find(boxes, n, 1, "process 100: python app.py")));
	assert_true(grey(find(boxes, n, 2, "thread 8: worker")));
	assert_true(blue(find(boxes, n, 5, "[idle]")));
	for (size_t i = 0; i < n; i++)
		if (boxes[i].d > 2 && strcmp(boxes[i].name, "[idle]"))
			assert_true(warm(&boxes[i]));
	assert_true(warm(find(boxes, n, 2, ODD)));
	/* The shade follows the function's name, not its line. */
	leaf3 = find(boxes, n, 5, "leaf (lib.py:3)");
	leaf4 = find(boxes, n, 5, "leaf (lib.py:4)");
	assert_true(leaf3->r == leaf4->r && leaf3->g == leaf4->g && leaf3->b == leaf4->b);
	free(svg);
	sg_profile_free(p);
}

static void test_native_and_kernel_colours(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_frame f = {.type = SG_FRAME_NATIVE, .name = fx_str(p, "PyEval_EvalFrame")};
	struct sg_write_opts opts = {0};
	struct box boxes[MAX_BOXES];
	uint32_t frames[2];
	char *svg;
	size_t n;

	(void)state;
	frames[0] = sg_profile_frame_id(p, &f);
	f.type = SG_FRAME_KERNEL;
	f.name = fx_str(p, "do_syscall_64");
	frames[1] = sg_profile_frame_id(p, &f);
	fx_add(p, frames, 2, 1, 1, "", 0, 1);
	svg = write_svg(p, &opts);
	n = parse_boxes(svg, boxes);
	assert_int_equal(n, 3);
	/* Native green, kernel purple. */
	assert_true(find(boxes, n, 1, "PyEval_EvalFrame")->g >= 160);
	assert_true(find(boxes, n, 1, "PyEval_EvalFrame")->b <= 110);
	assert_true(find(boxes, n, 2, "do_syscall_64")->b >= 190);
	assert_true(find(boxes, n, 2, "do_syscall_64")->g <= 140);
	free(svg);
	sg_profile_free(p);
}

static void test_reverse_and_icicle(void **state)
{
	struct sg_profile *p = small_profile();
	struct sg_write_opts opts = {.reverse = true, .icicle = true};
	struct box boxes[MAX_BOXES];
	char *svg;
	size_t n;

	(void)state;
	svg = write_svg(p, &opts);
	n = parse_boxes(svg, boxes);
	check_structure(boxes, n, 12, true);
	/* Leaves at the base (the idle leaf first), their callers above. */
	expect_box(boxes, n, 1, "[idle]", 0, 4);
	expect_box(boxes, n, 2, "wait (threading.py)", 0, 4);
	expect_box(boxes, n, 3, "main (app.py:1)", 0, 4);
	expect_box(boxes, n, 1, "alpha (app.py:9)", 4, 1);
	expect_box(boxes, n, 1, "leaf (lib.py:3)", 5, 3);
	expect_box(boxes, n, 2, "alpha (app.py:9)", 5, 3);
	expect_box(boxes, n, 1, "leaf (lib.py:4)", 8, 3);
	expect_box(boxes, n, 1, ODD, 11, 1);
	assert_non_null(strstr(svg, "reversed: leaf functions at the base"));
	/* Top-down: the root on top, each level 16 units below. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(boxes[i].y, find(boxes, n, 0, "all")->y + 16 * (int)boxes[i].d);
	free(svg);

	/* Reversed stacks keep the process and thread roots at the base. */
	opts.threads = true;
	svg = write_svg(p, &opts);
	n = parse_boxes(svg, boxes);
	expect_box(boxes, n, 1, "thread 8: worker", 8, 4);
	expect_box(boxes, n, 2, "[idle]", 8, 4);
	free(svg);
	sg_profile_free(p);
}

static void test_escaping_and_labels(void **state)
{
	struct sg_profile *p = small_profile();
	struct sg_write_opts opts = {0};
	struct box boxes[MAX_BOXES];
	char *svg;
	size_t n;

	(void)state;
	svg = write_svg(p, &opts);
	/* Valid UTF-8 text with no control characters but newlines: the
	 * target's bytes 0x01 and 0xff were replaced. */
	for (const unsigned char *c = (const unsigned char *)svg; *c; c++)
		assert_true(*c >= 0x20 ? *c != 0xff : *c == '\n' || *c == '\t');
	n = parse_boxes(svg, boxes);
	/* 1/12 of 1180 units fits 12 characters: 10 and "..". */
	assert_string_equal(find(boxes, n, 1, ODD)->label, "odd&lt;&amp;&gt;&quot;nam..");
	assert_string_equal(find(boxes, n, 1, "main (app.py:1)")->label, "main (app.py:1)");
	assert_string_equal(find(boxes, n, 0, "all")->label, "all");
	free(svg);
	sg_profile_free(p);
}

static void test_title(void **state)
{
	struct sg_profile *p = small_profile();
	struct sg_meta *m = sg_profile_meta(p);
	struct sg_write_opts opts = {0};
	char *svg;

	(void)state;
	/* Read from collapsed: no metadata but the samples. */
	svg = write_svg(p, &opts);
	assert_non_null(strstr(svg, ">Flame graph</text>"));
	assert_non_null(strstr(svg, "<text id=\"subtitle\" x=\"600\" y=\"44\">12 samples</text>"));
	free(svg);

	assert_int_equal(sg_profile_set_meta_str(p, &m->command, "python3 <app>.py"), 0);
	assert_int_equal(sg_profile_set_meta_str(p, &m->python_version, "3.12.1"), 0);
	m->mode = SG_MODE_WALL;
	m->rate_asked_hz = 100;
	m->rate_achieved_hz = 99.54;
	m->samples = 14;
	m->dropped = 2;
	m->duration_ns = 1500000000;
	svg = write_svg(p, &opts);
	assert_non_null(strstr(svg, "<title>python3 &lt;app&gt;.py</title>python3 &lt;app&gt;.py"
	                            "</text>"));
	assert_non_null(strstr(svg, ">wall mode, Python 3.12.1, 100 Hz asked, 99.5 Hz achieved, "
	                            "14 samples (2 dropped), 1.50 s</text>"));
	free(svg);
	sg_profile_free(p);
}

/* Frames under 1/1000 of the samples are not drawn one by one: narrow
 * siblings side by side become one box, drawn when it is wide enough. */
static void test_narrow_frames_merged(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t big = fx_frame(p, "big", NULL, 0);
	uint32_t tiny[2] = {fx_frame(p, "tiny", NULL, 0), fx_frame(p, "tinier", NULL, 0)};
	struct sg_write_opts opts = {0};
	struct box boxes[MAX_BOXES];
	char *svg;
	size_t n;

	(void)state;
	fx_add(p, tiny, 2, 1, 1, "", 0, 1);
	fx_add(p, &big, 1, 1, 1, "", 0, 999);
	svg = write_svg(p, &opts);
	n = parse_boxes(svg, boxes);
	assert_int_equal(n, 4); /* 1 in 1000 is drawn */
	free(svg);

	fx_add(p, &big, 1, 1, 1, "", 0, 1);
	svg = write_svg(p, &opts);
	n = parse_boxes(svg, boxes);
	assert_int_equal(n, 2); /* 1 in 1001 is not */
	check_structure(boxes, n, 1001, false);
	expect_box(boxes, n, 1, "big", 0, 1000);
	assert_non_null(strstr(svg, "Frames under 1/1000 of all samples are merged"));
	free(svg);

	/* Another narrow sibling next to "tiny": together they are 2 in 1002. */
	fx_add(p, &tiny[1], 1, 1, 1, "", 0, 1);
	svg = write_svg(p, &opts);
	n = parse_boxes(svg, boxes);
	assert_int_equal(n, 3);
	check_structure(boxes, n, 1002, false);
	expect_box(boxes, n, 1, "big", 0, 1000);
	expect_box(boxes, n, 1, "[narrow frames]", 1000, 2);
	free(svg);
	sg_profile_free(p);
}

static void test_empty_and_table(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_write_opts opts = {0};
	const struct sg_format *f = sg_format_by_name("flamegraph");
	char *svg;

	(void)state;
	svg = write_svg(p, &opts);
	assert_null(strstr(svg, "<g data-x="));
	assert_non_null(strstr(svg, ">0 samples</text>"));
	assert_non_null(strstr(svg, "</script>\n</svg>\n"));
	free(svg);
	sg_profile_free(p);
	assert_ptr_equal(sg_format_by_path("out/x.svg"), f);
	assert_null(f->read);
	assert_non_null(strstr(sg_format_names(), "flamegraph"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_boxes),
	    cmocka_unit_test(test_roots_and_colours),
	    cmocka_unit_test(test_native_and_kernel_colours),
	    cmocka_unit_test(test_reverse_and_icicle),
	    cmocka_unit_test(test_escaping_and_labels),
	    cmocka_unit_test(test_title),
	    cmocka_unit_test(test_narrow_frames_merged),
	    cmocka_unit_test(test_empty_and_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
