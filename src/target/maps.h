/* SPDX-License-Identifier: MIT */
#ifndef SG_TARGET_MAPS_H
#define SG_TARGET_MAPS_H

/*
 * The target's memory map, from /proc/PID/maps: which file is mapped where,
 * so that symbol values from ELF files can be turned into live addresses.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sg_map {
	uint64_t start, end; /* [start, end) in the target */
	uint64_t offset;     /* file offset mapped at start */
	char perms[5];       /* "r-xp" */
	char *path;          /* owned; "" for anonymous mappings */
};

struct sg_maps {
	struct sg_map *maps; /* sorted by start, as the kernel lists them */
	size_t n;
};

/* Read /proc/PID/maps. 0, SG_ENOPROC, SG_EPERM or SG_ENOMEM. Release with
 * sg_maps_release, also after a failure. */
int sg_maps_read(pid_t pid, struct sg_maps *out);
void sg_maps_release(struct sg_maps *maps);

/* The mapping of path that covers file offset off, or NULL. */
const struct sg_map *sg_maps_find_file_offset(const struct sg_maps *maps, const char *path,
                                              uint64_t off);

/* A path under which this process can open a file the target maps: through
 * /proc/PID/root, so files in another mount namespace (containers) resolve;
 * the path itself once the target has exited. Writes into buf; returns
 * buf. */
char *sg_maps_local_path(pid_t pid, const char *path, char *buf, size_t len);

#endif
