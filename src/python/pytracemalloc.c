/* SPDX-License-Identifier: MIT */
/*
 * The traces are read in two passes: the hash tables first, summing bytes
 * and blocks per traceback address (tracemalloc interns tracebacks, so a
 * hot line's thousands of traces share one), then each distinct traceback
 * once, its frames interned as one group key, so that equal keys add up.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/pystr.h"
#include "python/pytracemalloc.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/strbuf.h"
#include "util/u64map.h"

/* Tables hold twice as many buckets as entries at most, and tracemalloc
 * starts them at 16: more than this is not a table. */
#define MAX_BUCKETS (1ull << 28)
/* A table keeps between 0.1 and 0.5 entries a bucket (HASHTABLE_LOW and
 * HIGH of hashtable.c), and at least 16 buckets: one with far more buckets
 * than entries is not a table. */
#define BUCKETS_PER_ENTRY 64
#define MIN_BUCKETS       64
/* Buckets are read this many at a time. */
#define BUCKET_BATCH 512
/* Chains stay short (tracemalloc grows a table past 0.5 entries a bucket):
 * one this long has been torn into a cycle. */
#define MAX_CHAIN 4096
/* Trace tables beyond the default domain's (3.9+): numpy and a few others
 * trace into one of their own. */
#define MAX_DOMAINS 256
/* A trace's size beyond this is not one (a torn entry). */
#define MAX_SIZE (1ull << 40)
/* What the memory copy keeps at most (sg_mem_snapshot_begin). */
#define COPY_MAX (1024ull * 1024 * 1024)

/* Bytes and blocks of the traces that share one traceback. */
struct tb_total {
	uint64_t addr, size, count;
};

struct ctx {
	struct sg_pyproc *pp;
	enum sg_pytm_group group;
	uint64_t max_traces;
	struct sg_pytm *out;
	struct sg_u64map tb_index; /* traceback address -> index in tbs + 1 */
	struct tb_total *tbs;
	size_t ntbs, tbs_cap;
	struct sg_u64map file_ids; /* filename object -> file id + 1 */
	struct sg_pytm_frame frames[SG_PYTM_MAX_FRAMES];
	uint8_t raw[SG_PYTM_MAX_FRAMES * 16];
	char name[4 * SG_PYSTR_MAX_CHARS + 1];
};

static int add_trace(struct ctx *c, uint64_t size, uint64_t tb)
{
	uint64_t at;
	int err;

	if (!tb || size > MAX_SIZE) {
		c->out->skipped++;
		return 0;
	}
	if (!sg_u64map_get(&c->tb_index, tb, &at)) {
		err = sg_grow(&c->tbs, &c->tbs_cap, c->ntbs + 1, sizeof(*c->tbs));
		if (err)
			return err;
		c->tbs[c->ntbs] = (struct tb_total){tb, 0, 0};
		err = sg_u64map_put(&c->tb_index, tb, ++c->ntbs);
		if (err)
			return err;
		at = c->ntbs;
	}
	c->tbs[at - 1].size += size;
	c->tbs[at - 1].count++;
	c->out->traces++;
	c->out->bytes += size;
	return 0;
}

static int walk_table(struct ctx *c, uint64_t table, bool domains);

/* The hash of a pointer key (_Py_hashtable_hash_ptr: _Py_HashPointer's
 * rotation by 4, in every version). */
static uint64_t pointer_hash(uint64_t p)
{
	return (p >> 4) | (p << 60);
}

/* One entry of bucket `bucket` of a table: a trace, or (domains) a domain's
 * trace table. An entry is in the bucket its hash names, and a trace's hash
 * is its pointer's: memory that was an entry and has been freed and reused
 * since the bucket was read is SG_ECORRUPT. */
static int visit(struct ctx *c, uint64_t entry, uint64_t bucket, uint64_t mask, uint64_t key_size,
                 bool domains, uint64_t *next)
{
	const struct sg_pylayout *l = &c->pp->layout;
	uint32_t key = l->tracemalloc.entry_key;
	uint8_t buf[64], trace[16];
	uint64_t value, len, size, tb, hash = 0;
	int err;

	len = l->tracemalloc.table_kind == SG_TM_TABLE36 ? key + key_size + sizeof(trace)
	                                                 : l->tracemalloc.entry_value + 8;
	/* An entry added since its chunk was copied, but linked from a chunk
	 * copied later, is torn in the copy: read it again as it is now. */
	for (int fresh = 0; fresh < 2; fresh++) {
		err = fresh ? sg_mem_read_fresh(&c->pp->mem, entry, buf, len)
		            : sg_mem_read(&c->pp->mem, entry, buf, len);
		if (err == SG_EGONE || err == SG_EPERM)
			return err;
		if (err)
			continue;
		hash = sg_layout_u64(buf, l->tracemalloc.entry_hash);
		if ((hash & mask) != bucket ||
		    (!domains && key_size == 8 && hash != pointer_hash(sg_layout_u64(buf, key))))
			err = SG_ECORRUPT;
		else
			break;
	}
	if (err)
		return err;
	*next = sg_layout_u64(buf, l->tracemalloc.entry_next);
	if (l->tracemalloc.table_kind == SG_TM_TABLE36) {
		memcpy(trace, buf + key + key_size, sizeof(trace));
	} else {
		value = sg_layout_u64(buf, l->tracemalloc.entry_value);
		if (domains) {
			if (c->out->domains >= MAX_DOMAINS)
				return 0;
			return walk_table(c, value, false);
		}
		err = sg_mem_read(&c->pp->mem, value, trace, sizeof(trace));
		if (err)
			return err;
	}
	size = sg_layout_u64(trace, l->tracemalloc.trace_size);
	tb = sg_layout_u64(trace, l->tracemalloc.trace_traceback);
	return add_trace(c, size, tb);
}

/* Every entry of the hash table at table. A table that cannot be read is
 * an error; an entry that cannot, or a chain that does not end, is skipped
 * and counted, and the walk goes on; buckets that cannot end it. */
static int walk_table(struct ctx *c, uint64_t table, bool domains)
{
	const struct sg_pylayout *l = &c->pp->layout;
	uint64_t heads[BUCKET_BATCH], nentries, nbuckets, buckets, key_size = 8;
	uint8_t hdr[64];
	int err;

	err = sg_mem_read(&c->pp->mem, table, hdr, sizeof(hdr));
	if (err)
		return err;
	nentries = sg_layout_u64(hdr, l->tracemalloc.ht_nentries);
	nbuckets = sg_layout_u64(hdr, l->tracemalloc.ht_nbuckets);
	buckets = sg_layout_u64(hdr, l->tracemalloc.ht_buckets);
	if (l->tracemalloc.table_kind == SG_TM_TABLE36)
		key_size = sg_layout_u64(hdr, l->tracemalloc.ht_key_size);
	/* Keys are a pointer, or (3.6-3.8 with domains) a pointer and a
	 * domain, packed or not. */
	if (!nbuckets || nbuckets > MAX_BUCKETS || (nbuckets & (nbuckets - 1)) ||
	    nbuckets > BUCKETS_PER_ENTRY * nentries + MIN_BUCKETS || !buckets || key_size < 8 ||
	    key_size > 16)
		return SG_ECORRUPT;
	if (!domains)
		c->out->domains++;
	for (uint64_t i = 0; i < nbuckets; i += BUCKET_BATCH) {
		size_t n = nbuckets - i < BUCKET_BATCH ? (size_t)(nbuckets - i) : BUCKET_BATCH;

		/* Buckets for more traces than may be counted are not read. */
		if (i > BUCKETS_PER_ENTRY * c->max_traces + MIN_BUCKETS) {
			c->out->truncated = true;
			return 0;
		}
		err = sg_mem_read(&c->pp->mem, buckets + 8 * i, heads, 8 * n);
		if (err == SG_EGONE || err == SG_EPERM)
			return err;
		/* The array was freed as the table grew: what was read stands. */
		if (err) {
			c->out->skipped++;
			return 0;
		}
		for (size_t b = 0; b < n; b++) {
			uint64_t e = heads[b], next = 0;
			unsigned steps = 0;

			for (; e && steps < MAX_CHAIN; steps++, e = next) {
				if (c->out->traces >= c->max_traces) {
					c->out->truncated = true;
					return 0;
				}
				err = visit(c, e, i + b, nbuckets - 1, key_size, domains, &next);
				if (err == SG_EGONE || err == SG_EPERM || err == SG_ENOMEM)
					return err;
				if (err) {
					c->out->skipped++;
					break;
				}
			}
			if (e && steps == MAX_CHAIN)
				c->out->skipped++;
		}
	}
	return 0;
}

static int file_id(struct ctx *c, uint64_t addr, uint32_t *id)
{
	uint64_t known;
	int err;

	if (sg_u64map_get(&c->file_ids, addr, &known)) {
		*id = (uint32_t)(known - 1);
		return 0;
	}
	err = sg_pystr_read(&c->pp->mem, &c->pp->layout, c->pp->str_type, addr, c->name,
	                    sizeof(c->name));
	if (err)
		return err;
	err = sg_intern_put(&c->out->files, c->name, strlen(c->name), id);
	return err ? err : sg_u64map_put(&c->file_ids, addr, (uint64_t)*id + 1);
}

static int read_mem(struct ctx *c, bool fresh, uint64_t addr, void *buf, size_t len)
{
	return fresh ? sg_mem_read_fresh(&c->pp->mem, addr, buf, len)
	             : sg_mem_read(&c->pp->mem, addr, buf, len);
}

/* The group key of the traceback at tb: its frames (the first alone, by
 * line), interned in out->groups, read from the copy or (fresh) the target.
 * SG_ECORRUPT when it does not read as a traceback. */
static int group_of(struct ctx *c, uint64_t tb, bool fresh, uint32_t *gid)
{
	const struct sg_pylayout *l = &c->pp->layout;
	uint32_t fs = l->tracemalloc.frame_size, nframe;
	uint8_t hdr[16];
	size_t keep;
	int err;

	if (l->tracemalloc.tb_frames > sizeof(hdr) || fs > 16)
		return SG_ECORRUPT;
	err = read_mem(c, fresh, tb, hdr, l->tracemalloc.tb_frames);
	if (err)
		return err;
	if (l->tracemalloc.tb_nframe_size == 2) {
		uint16_t v;

		memcpy(&v, hdr + l->tracemalloc.tb_nframe, 2);
		nframe = v;
	} else {
		int32_t v = sg_layout_i32(hdr, l->tracemalloc.tb_nframe);

		if (v < 0)
			return SG_ECORRUPT;
		nframe = (uint32_t)v;
	}
	/* tracemalloc stores up to max_nframe frames, and at least one (its
	 * empty traceback is "<unknown>", line 0). */
	if (nframe > (c->out->max_nframe ? c->out->max_nframe : 1) || nframe > 65535)
		return SG_ECORRUPT;
	keep = c->group == SG_PYTM_LINENO ? (nframe > 0) : nframe;
	if (keep > SG_PYTM_MAX_FRAMES)
		keep = SG_PYTM_MAX_FRAMES;
	if (keep) {
		err = read_mem(c, fresh, tb + l->tracemalloc.tb_frames, c->raw, keep * fs);
		if (err)
			return err;
	}
	for (size_t i = 0; i < keep; i++) {
		uint32_t line;

		memcpy(&line, c->raw + i * fs + l->tracemalloc.frame_lineno, 4);
		err = file_id(c, sg_layout_u64(c->raw, (uint32_t)(i * fs)), &c->frames[i].file);
		if (err)
			return err == SG_ENOMEM ? err : SG_ECORRUPT;
		c->frames[i].line = line;
	}
	if (!keep) {
		err = sg_intern_put(&c->out->files, "<unknown>", 9, &c->frames[0].file);
		if (err)
			return err;
		c->frames[0].line = 0;
		keep = 1;
	}
	return sg_intern_put(&c->out->groups, c->frames, keep * sizeof(c->frames[0]), gid);
}

static int frames_cmp(const struct sg_pytm *t, const struct sg_pytm_stat *x,
                      const struct sg_pytm_stat *y)
{
	for (size_t i = 0; i < x->nframes && i < y->nframes; i++) {
		int d =
		    strcmp(sg_pytm_file(t, x->frames[i].file), sg_pytm_file(t, y->frames[i].file));

		if (d)
			return d;
		if (x->frames[i].line != y->frames[i].line)
			return x->frames[i].line < y->frames[i].line ? -1 : 1;
	}
	return (x->nframes > y->nframes) - (x->nframes < y->nframes);
}

/* qsort has no context argument: the table the stats being sorted name
 * their files in. Set only around that qsort (not thread-safe). */
static const struct sg_pytm *sorting;

static int by_size(const void *a, const void *b)
{
	const struct sg_pytm_stat *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return frames_cmp(sorting, x, y);
}

/* The groups of the tracebacks read, summed and sorted, into out->stats. */
static int make_stats(struct ctx *c)
{
	struct sg_pytm *out = c->out;
	uint32_t *gids = calloc(c->ntbs ? c->ntbs : 1, sizeof(*gids));
	size_t ngroups;
	int err = gids ? 0 : SG_ENOMEM;

	for (size_t i = 0; i < c->ntbs && !err; i++) {
		err = group_of(c, c->tbs[i].addr, false, &gids[i]);
		/* A traceback made since its chunk was copied: as it is now. */
		if (err == SG_ECORRUPT || err == SG_EREAD)
			err = group_of(c, c->tbs[i].addr, true, &gids[i]);
		if (err == SG_EGONE || err == SG_EPERM || err == SG_ENOMEM)
			break;
		if (err) {
			/* Not a traceback any more: its traces are skipped. */
			out->skipped += c->tbs[i].count;
			out->traces -= c->tbs[i].count;
			out->bytes -= c->tbs[i].size;
			c->tbs[i].count = 0;
			err = 0;
		}
	}
	ngroups = sg_intern_count(&out->groups);
	if (!err) {
		out->stats = calloc(ngroups ? ngroups : 1, sizeof(*out->stats));
		err = out->stats ? 0 : SG_ENOMEM;
	}
	for (size_t g = 0; g < ngroups && !err; g++) {
		size_t len;

		out->stats[g].frames = sg_intern_get(&out->groups, (uint32_t)g, &len);
		out->stats[g].nframes = len / sizeof(struct sg_pytm_frame);
	}
	for (size_t i = 0; i < c->ntbs && !err; i++) {
		if (!c->tbs[i].count)
			continue;
		out->stats[gids[i]].size += c->tbs[i].size;
		out->stats[gids[i]].count += c->tbs[i].count;
	}
	if (!err) {
		out->nstats = ngroups;
		sorting = out;
		qsort(out->stats, out->nstats, sizeof(*out->stats), by_size);
		sorting = NULL;
		/* Groups whose every traceback was skipped sort last, with 0. */
		while (out->nstats && !out->stats[out->nstats - 1].count)
			out->nstats--;
	}
	free(gids);
	return err;
}

/* Where the state is: the config's address and the trace tables'
 * pointers' addresses (domains: 0 when none). */
static void locate(const struct sg_pyproc *pp, uint64_t *config, uint64_t *traces,
                   uint64_t *domains)
{
	const struct sg_pylayout *l = &pp->layout;
	uint64_t state = pp->runtime + l->tracemalloc.runtime;

	if (l->tracemalloc.where == SG_TM_RUNTIME) {
		*config = pp->runtime ? state + l->tracemalloc.state_config : 0;
		*traces = pp->runtime ? state + l->tracemalloc.state_traces : 0;
		*domains = pp->runtime ? state + l->tracemalloc.state_domains : 0;
		return;
	}
	*config = pp->tm_config;
	*traces = pp->tm_traces;
	*domains = pp->tm_domains;
}

int sg_pytm_read(struct sg_pyproc *pp, enum sg_pytm_group group, uint64_t max_traces,
                 struct sg_pytm *out)
{
	const struct sg_pylayout *l = &pp->layout;
	uint64_t config, traces_at, domains_at, traces = 0, domains = 0, reads0 = pp->mem.reads;
	uint8_t cfg[16];
	struct ctx *c;
	int err;

	memset(out, 0, sizeof(*out));
	sg_intern_init(&out->files);
	sg_intern_init(&out->groups);
	if (l->tracemalloc.where == SG_TM_NONE) {
		out->status = SG_PYTM_UNSUPPORTED;
		return 0;
	}
	locate(pp, &config, &traces_at, &domains_at);
	if (!config) {
		out->status = SG_PYTM_NOSYMBOLS;
		return 0;
	}
	if (l->tracemalloc.config_tracing + 4 > sizeof(cfg) ||
	    l->tracemalloc.config_nframe + 4 > sizeof(cfg))
		return SG_ECORRUPT;
	err = sg_mem_read(&pp->mem, config, cfg, sizeof(cfg));
	if (err)
		return err;
	if (!sg_layout_i32(cfg, l->tracemalloc.config_tracing)) {
		out->status = SG_PYTM_OFF;
		return 0;
	}
	if (!traces_at) {
		out->status = SG_PYTM_NOSYMBOLS;
		return 0;
	}
	out->max_nframe = (unsigned)(sg_layout_i32(cfg, l->tracemalloc.config_nframe) & 0xffff);
	err = sg_mem_read_ptr(&pp->mem, traces_at, &traces);
	if (!err && domains_at)
		err = sg_mem_read_ptr(&pp->mem, domains_at, &domains);
	if (err)
		return err;
	if (!traces)
		return SG_ECORRUPT;
	c = calloc(1, sizeof(*c));
	if (!c)
		return SG_ENOMEM;
	c->pp = pp;
	c->group = group;
	c->max_traces = max_traces ? max_traces : SG_PYTM_MAX_TRACES;
	c->out = out;
	sg_u64map_init(&c->tb_index);
	sg_u64map_init(&c->file_ids);
	err = sg_mem_snapshot_begin(&pp->mem, COPY_MAX);
	if (!err)
		err = walk_table(c, traces, false);
	/* The other domains' tables: what cannot be read of them is skipped,
	 * the default domain's traces stand. */
	if (!err && domains && l->tracemalloc.table_kind == SG_TM_TABLE39) {
		err = walk_table(c, domains, true);
		if (err && err != SG_EGONE && err != SG_EPERM && err != SG_ENOMEM) {
			out->skipped++;
			err = 0;
		}
	}
	if (!err)
		err = make_stats(c);
	sg_mem_snapshot_end(&pp->mem);
	out->reads = pp->mem.reads - reads0;
	sg_u64map_release(&c->tb_index);
	sg_u64map_release(&c->file_ids);
	free(c->tbs);
	free(c);
	return err;
}

const char *sg_pytm_file(const struct sg_pytm *t, uint32_t file)
{
	return file < sg_intern_count(&t->files) ? sg_intern_get(&t->files, file, NULL) : "?";
}

void sg_pytm_release(struct sg_pytm *t)
{
	free(t->stats);
	sg_intern_release(&t->files);
	sg_intern_release(&t->groups);
	memset(t, 0, sizeof(*t));
}

/* A group's frames as bytes that match across reads: each file name, a
 * NUL, the line. */
static int key_of(const struct sg_pytm *t, const struct sg_pytm_stat *s, struct sg_strbuf *sb)
{
	int err = 0;

	sg_strbuf_reset(sb);
	for (size_t i = 0; i < s->nframes && !err; i++) {
		err = sg_strbuf_add(sb, sg_pytm_file(t, s->frames[i].file),
		                    strlen(sg_pytm_file(t, s->frames[i].file)) + 1);
		err = err ? err : sg_strbuf_add(sb, &s->frames[i].line, sizeof(s->frames[i].line));
	}
	return err;
}

static uint64_t abs64(int64_t v)
{
	return v < 0 ? 0ull - (uint64_t)v : (uint64_t)v;
}

static int by_change(const void *a, const void *b)
{
	const struct sg_pytm_diff *x = a, *y = b;
	uint64_t xs = x->now ? x->now->size : 0, ys = y->now ? y->now->size : 0;
	uint64_t xc = x->now ? x->now->count : 0, yc = y->now ? y->now->count : 0;

	if (abs64(x->size_diff) != abs64(y->size_diff))
		return abs64(x->size_diff) > abs64(y->size_diff) ? -1 : 1;
	if (xs != ys)
		return xs > ys ? -1 : 1;
	if (abs64(x->count_diff) != abs64(y->count_diff))
		return abs64(x->count_diff) > abs64(y->count_diff) ? -1 : 1;
	if (xc != yc)
		return xc > yc ? -1 : 1;
	return 0;
}

int sg_pytm_compare(const struct sg_pytm *before, const struct sg_pytm *after,
                    struct sg_pytm_diff **out, size_t *n)
{
	struct sg_intern keys = SG_INTERN_INIT;
	struct sg_strbuf sb = SG_STRBUF_INIT;
	bool *matched = calloc(before->nstats ? before->nstats : 1, sizeof(*matched));
	uint32_t id;
	int err = matched ? 0 : SG_ENOMEM;

	*n = 0;
	*out = calloc(before->nstats + after->nstats + 1, sizeof(**out));
	if (!*out)
		err = SG_ENOMEM;
	/* The earlier read's keys take ids 0 .. nstats-1, in its order. */
	for (size_t i = 0; i < before->nstats && !err; i++) {
		err = key_of(before, &before->stats[i], &sb);
		err = err ? err : sg_intern_put(&keys, sb.buf, sb.len, &id);
	}
	for (size_t i = 0; i < after->nstats && !err; i++) {
		const struct sg_pytm_stat *now = &after->stats[i], *was = NULL;

		err = key_of(after, now, &sb);
		err = err ? err : sg_intern_put(&keys, sb.buf, sb.len, &id);
		if (err)
			break;
		if (id < before->nstats) {
			was = &before->stats[id];
			matched[id] = true;
		}
		(*out)[(*n)++] = (struct sg_pytm_diff){
		    now, was, (int64_t)now->size - (int64_t)(was ? was->size : 0),
		    (int64_t)now->count - (int64_t)(was ? was->count : 0)};
	}
	for (size_t i = 0; i < before->nstats && !err; i++)
		if (!matched[i])
			(*out)[(*n)++] = (struct sg_pytm_diff){NULL, &before->stats[i],
			                                       -(int64_t)before->stats[i].size,
			                                       -(int64_t)before->stats[i].count};
	if (!err)
		qsort(*out, *n, sizeof(**out), by_change);
	free(matched);
	sg_intern_release(&keys);
	sg_strbuf_release(&sb);
	return err;
}
