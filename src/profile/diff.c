/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "profile/diff.h"
#include "profile/report.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/u64map.h"

struct sg_diff {
	struct sg_intern keys; /* display strings of both sides */
	uint64_t total[2];
	double alpha;
	size_t tests;
	struct sg_diff_row *rows;
	size_t nrows;
	struct sg_diff_node *nodes;
	size_t nnodes, nodes_cap;
	uint32_t *node_key; /* node -> id in keys, until the strings are final */
	size_t node_key_cap;
};

void sg_diff_compare(uint64_t k_base, uint64_t n_base, uint64_t k_new, uint64_t n_new,
                     const double deff[2], struct sg_diff_change *c)
{
	double p1, p2, pooled, d;

	*c = (struct sg_diff_change){.k = {k_base, k_new},
	                             .n = {n_base, n_new},
	                             .effect = {fmax(1, deff[0]), fmax(1, deff[1])},
	                             .p = 1,
	                             .p_holm = 1};
	for (int s = 0; s < 2; s++) {
		c->pct[s] = c->n[s] && c->k[s] <= c->n[s] ? (double)c->k[s] / (double)c->n[s] : 0;
		sg_report_interval_of(c->k[s], c->pct[s], (double)c->n[s] / c->effect[s], &c->lo[s],
		                      &c->hi[s]);
	}
	p1 = c->pct[0];
	p2 = c->pct[1];
	d = p2 - p1;
	/* Newcombe's hybrid score interval from the two Wilson intervals. */
	c->change = 100 * d;
	c->clo =
	    100 * (d - sqrt((p2 - c->lo[1]) * (p2 - c->lo[1]) + (c->hi[0] - p1) * (c->hi[0] - p1)));
	c->chi =
	    100 * (d + sqrt((c->hi[1] - p2) * (c->hi[1] - p2) + (p1 - c->lo[0]) * (p1 - c->lo[0])));
	for (int s = 0; s < 2; s++) {
		c->pct[s] *= 100;
		c->lo[s] *= 100;
		c->hi[s] *= 100;
	}
	if (!n_base || !n_new)
		return;
	pooled = (double)(k_base + k_new) / ((double)n_base + (double)n_new);
	if (pooled <= 0 || pooled >= 1)
		return;
	c->z = d / sqrt(pooled * (1 - pooled) *
	                (c->effect[0] / (double)n_base + c->effect[1] / (double)n_new));
	c->p = erfc(fabs(c->z) / sqrt(2));
	c->p_holm = c->p;
	c->tested = true;
}

static int by_p(const void *a, const void *b)
{
	const struct sg_diff_change *x = *(struct sg_diff_change *const *)a;
	const struct sg_diff_change *y = *(struct sg_diff_change *const *)b;

	return (x->p > y->p) - (x->p < y->p);
}

int sg_diff_holm(struct sg_diff_change *const *c, size_t n, double alpha)
{
	struct sg_diff_change **order = malloc((n ? n : 1) * sizeof(*order));
	size_t m = 0;
	double running = 0;

	if (!order)
		return SG_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c[i]->p_holm = 1;
		if (c[i]->tested)
			order[m++] = c[i];
	}
	qsort(order, m, sizeof(*order), by_p);
	for (size_t j = 0; j < m; j++) {
		double adj = (double)(m - j) * order[j]->p;

		/* Step-down: an adjusted p-value is never below an earlier one. */
		running = fmax(running, fmin(1, adj));
		order[j]->p_holm = running;
	}
	for (size_t i = 0; i < n; i++)
		c[i]->significant = c[i]->p_holm < alpha;
	free(order);
	return (int)(m > INT32_MAX ? INT32_MAX : m);
}

/* The id in d->keys of key k of q. */
static int key_id(struct sg_diff *d, const struct sg_query *q, uint32_t k, uint32_t *id)
{
	const char *s = k == SG_QUERY_NONE ? "" : sg_query_key(q, k);

	return sg_intern_put(&d->keys, s, strlen(s), id);
}

/* Per key id: its row, by side. */
struct flat {
	struct sg_query_row *rows[2];
	size_t n[2];
	uint32_t *row_of[2]; /* key id -> row index + 1, 0: none */
};

static int flat_rows(struct sg_diff *d, const struct sg_query *const q[2])
{
	struct flat f = {0};
	struct sg_diff_change **family = NULL;
	double *key_effect = NULL; /* key id -> total's effect, by side */
	size_t nkeys;
	int err = 0;

	for (int s = 0; s < 2 && !err; s++)
		err = sg_query_flat(q[s], SG_SORT_NAME, &f.rows[s], &f.n[s]);
	/* Intern every key of both sides first, so that ids are dense. */
	for (int s = 0; s < 2 && !err; s++)
		for (size_t i = 0; i < f.n[s] && !err; i++) {
			uint32_t id;

			err = key_id(d, q[s], f.rows[s][i].key, &id);
			f.rows[s][i].key = id;
		}
	nkeys = sg_intern_count(&d->keys);
	for (int s = 0; s < 2 && !err; s++) {
		f.row_of[s] = calloc(nkeys ? nkeys : 1, sizeof(*f.row_of[s]));
		if (!f.row_of[s])
			err = SG_ENOMEM;
		for (size_t i = 0; !err && i < f.n[s]; i++)
			f.row_of[s][f.rows[s][i].key] = (uint32_t)i + 1;
	}
	d->rows = calloc(nkeys ? nkeys : 1, sizeof(*d->rows));
	family = malloc(2 * (nkeys ? nkeys : 1) * sizeof(*family));
	key_effect = malloc(2 * (nkeys ? nkeys : 1) * sizeof(*key_effect));
	if (!err && (!d->rows || !family || !key_effect))
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < 2 * nkeys; i++)
		key_effect[i] = 1;
	for (uint32_t k = 0; !err && k < nkeys; k++) {
		const struct sg_query_row *r[2];
		struct sg_diff_row *row;
		double self_effect[2], total_effect[2];

		for (int s = 0; s < 2; s++)
			r[s] = f.row_of[s][k] ? &f.rows[s][f.row_of[s][k] - 1] : NULL;
		if (!r[0] && !r[1])
			continue; /* "" of the root, interned for the tree */
		row = &d->rows[d->nrows++];
		row->key = sg_intern_get(&d->keys, k, NULL);
		for (int s = 0; s < 2; s++) {
			self_effect[s] = r[s] ? r[s]->self_effect : 1;
			total_effect[s] = r[s] ? r[s]->total_effect : 1;
			key_effect[2 * k + s] = total_effect[s];
		}
		sg_diff_compare(r[0] ? r[0]->self : 0, d->total[0], r[1] ? r[1]->self : 0,
		                d->total[1], self_effect, &row->self);
		sg_diff_compare(r[0] ? r[0]->total : 0, d->total[0], r[1] ? r[1]->total : 0,
		                d->total[1], total_effect, &row->total);
	}
	for (size_t i = 0; !err && i < d->nrows; i++) {
		family[2 * i] = &d->rows[i].self;
		family[2 * i + 1] = &d->rows[i].total;
	}
	if (!err) {
		int m = sg_diff_holm(family, 2 * d->nrows, d->alpha);

		err = m < 0 ? m : 0;
		d->tests = m < 0 ? 0 : (size_t)m;
	}
	/* A path of the tree is as clumped as its key's total. */
	for (size_t i = 0; !err && i < d->nnodes; i++)
		for (int s = 0; s < 2; s++)
			d->nodes[i].effect[s] = i ? key_effect[2 * d->node_key[i] + s] : 1;
	for (int s = 0; s < 2; s++) {
		free(f.rows[s]);
		free(f.row_of[s]);
	}
	free(family);
	free(key_effect);
	return err;
}

static double moved(const struct sg_diff_row *r)
{
	return fmax(fabs(r->self.change), fabs(r->total.change));
}

static int by_move(const void *a, const void *b)
{
	const struct sg_diff_row *x = a, *y = b;
	double mx = moved(x), my = moved(y);

	if (mx != my)
		return mx < my ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* Merge the call trees of both sides: a node per path of key strings. */
static int merge_trees(struct sg_diff *d, const struct sg_query *const q[2])
{
	struct sg_u64map child = SG_U64MAP_INIT; /* (parent + 1) << 32 | key -> node */
	int err = 0;

	if (sg_grow(&d->nodes, &d->nodes_cap, 1, sizeof(*d->nodes)) ||
	    sg_grow(&d->node_key, &d->node_key_cap, 1, sizeof(*d->node_key)))
		return SG_ENOMEM;
	d->nodes[0] = (struct sg_diff_node){.parent = SG_QUERY_NONE};
	err = key_id(d, q[0], SG_QUERY_NONE, &d->node_key[0]);
	d->nnodes = 1;
	for (int s = 0; s < 2 && !err; s++) {
		struct sg_query_node *tn = NULL;
		uint32_t *merged = NULL;
		size_t n = 0;

		err = sg_query_tree(q[s], false, false, &tn, &n);
		merged = err ? NULL : malloc((n ? n : 1) * sizeof(*merged));
		if (!err && !merged)
			err = SG_ENOMEM;
		/* A tree's parents come before their children. */
		for (size_t i = 0; !err && i < n; i++) {
			uint32_t at = 0, id;
			uint64_t k, v;

			if (i) {
				err = key_id(d, q[s], tn[i].key, &id);
				k = ((uint64_t)merged[tn[i].parent] + 1) << 32 | id;
				if (!err && sg_u64map_get(&child, k, &v)) {
					at = (uint32_t)v;
				} else if (!err) {
					at = (uint32_t)d->nnodes;
					if (d->nnodes >= UINT32_MAX - 1 ||
					    sg_grow(&d->nodes, &d->nodes_cap, d->nnodes + 1,
					            sizeof(*d->nodes)) ||
					    sg_grow(&d->node_key, &d->node_key_cap, d->nnodes + 1,
					            sizeof(*d->node_key)) ||
					    sg_u64map_put(&child, k, at)) {
						err = SG_ENOMEM;
						break;
					}
					d->nodes[at] = (struct sg_diff_node){
					    .parent = merged[tn[i].parent],
					    .depth = d->nodes[merged[tn[i].parent]].depth + 1};
					d->node_key[at] = id;
					d->nnodes++;
				}
			}
			merged[i] = at;
			d->nodes[at].self[s] += tn[i].self;
			d->nodes[at].total[s] += tn[i].total;
		}
		free(tn);
		free(merged);
	}
	sg_u64map_release(&child);
	return err;
}

int sg_diff_new(const struct sg_query *base, const struct sg_query *new, double alpha, bool tree,
                struct sg_diff **out)
{
	const struct sg_query *const q[2] = {base, new};
	struct sg_diff *d;
	int err;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return SG_ENOMEM;
	sg_intern_init(&d->keys);
	d->alpha = alpha;
	d->total[0] = sg_query_total(base);
	d->total[1] = sg_query_total(new);
	err = tree ? merge_trees(d, q) : 0;
	err = err ? err : flat_rows(d, q);
	if (!err) {
		/* The key strings are final: no more puts move them. */
		for (size_t i = 0; i < d->nnodes; i++)
			d->nodes[i].key = sg_intern_get(&d->keys, d->node_key[i], NULL);
		if (d->nrows)
			qsort(d->rows, d->nrows, sizeof(*d->rows), by_move);
	}
	if (err) {
		sg_diff_free(d);
		return err;
	}
	*out = d;
	return 0;
}

void sg_diff_free(struct sg_diff *d)
{
	if (!d)
		return;
	sg_intern_release(&d->keys);
	free(d->rows);
	free(d->nodes);
	free(d->node_key);
	free(d);
}

uint64_t sg_diff_total(const struct sg_diff *d, enum sg_diff_side side)
{
	return d->total[side];
}

double sg_diff_alpha(const struct sg_diff *d)
{
	return d->alpha;
}

size_t sg_diff_tests(const struct sg_diff *d)
{
	return d->tests;
}

size_t sg_diff_nrows(const struct sg_diff *d)
{
	return d->nrows;
}

const struct sg_diff_row *sg_diff_row(const struct sg_diff *d, size_t i)
{
	return &d->rows[i];
}

size_t sg_diff_nnodes(const struct sg_diff *d)
{
	return d->nnodes;
}

const struct sg_diff_node *sg_diff_node(const struct sg_diff *d, uint32_t i)
{
	return &d->nodes[i];
}
