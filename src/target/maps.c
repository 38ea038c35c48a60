/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/maps.h"
#include "target/proc.h"
#include "util/err.h"

static int parse_line(const char *line, struct sg_map *m)
{
	int path_at = -1;
	unsigned long long start, end, offset;
	char perms[8];

	if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &path_at) <
	        4 ||
	    path_at < 0)
		return SG_ECORRUPT;
	m->start = start;
	m->end = end;
	m->offset = offset;
	memcpy(m->perms, perms, sizeof(m->perms) - 1);
	m->perms[sizeof(m->perms) - 1] = '\0';
	m->path = strdup(line + path_at);
	if (!m->path)
		return SG_ENOMEM;
	m->path[strcspn(m->path, "\n")] = '\0';
	return 0;
}

static int read_maps(pid_t pid, struct sg_maps *out)
{
	char fname[64], *line = NULL;
	size_t cap = 0, alloc = 0;
	FILE *f;
	int err = 0;

	out->maps = NULL;
	out->n = 0;
	snprintf(fname, sizeof(fname), "/proc/%d/maps", (int)pid);
	f = fopen(fname, "re");
	if (!f)
		return errno == EACCES || errno == EPERM ? SG_EPERM : SG_ENOPROC;
	while (getline(&line, &cap, f) > 0) {
		if (out->n == alloc) {
			size_t grown = alloc ? alloc * 2 : 64;
			struct sg_map *maps = realloc(out->maps, grown * sizeof(*maps));

			if (!maps) {
				err = SG_ENOMEM;
				goto out_close;
			}
			out->maps = maps;
			alloc = grown;
		}
		err = parse_line(line, &out->maps[out->n]);
		if (err == SG_ECORRUPT) {
			err = 0;
			continue;
		}
		if (err)
			goto out_close;
		out->n++;
	}
	/* An empty map means the process is a zombie or exited while we read. */
	if (out->n == 0)
		err = SG_ENOPROC;
out_close:
	free(line);
	fclose(f);
	return err;
}

int sg_maps_read(pid_t pid, struct sg_maps *out)
{
	int err = read_maps(pid, out);
	pid_t live;

	/* A zombie leader shows no maps while its other threads run on in
	 * the same address space: read them through one of those. */
	if (err == SG_ENOPROC && sg_proc_live_task(pid, &live) == 0 && live != pid)
		err = read_maps(live, out);
	return err;
}

void sg_maps_release(struct sg_maps *maps)
{
	for (size_t i = 0; i < maps->n; i++)
		free(maps->maps[i].path);
	free(maps->maps);
	maps->maps = NULL;
	maps->n = 0;
}

const struct sg_map *sg_maps_find_file_offset(const struct sg_maps *maps, const char *path,
                                              uint64_t off)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct sg_map *m = &maps->maps[i];

		if (off >= m->offset && off - m->offset < m->end - m->start &&
		    strcmp(m->path, path) == 0)
			return m;
	}
	return NULL;
}

char *sg_maps_local_path(pid_t pid, const char *path, char *buf, size_t len)
{
	char root[32], link[2];
	pid_t live;

	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	/* A zombie leader does not show it; a live thread of its does. */
	if (readlink(root, link, sizeof(link)) < 0 && errno != EACCES &&
	    sg_proc_live_task(pid, &live) == 0 && live != pid)
		snprintf(root, sizeof(root), "/proc/%d/root", (int)live);
	/* Once the target has exited (a zombie, whose samples are still
	 * being read), its root is not shown: the path as we see it is
	 * right unless it lived in another mount namespace. */
	if (readlink(root, link, sizeof(link)) < 0 && errno != EACCES) {
		snprintf(buf, len, "%s", path);
		return buf;
	}
	snprintf(buf, len, "%s%s", root, path);
	return buf;
}
