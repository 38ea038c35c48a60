/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "python/pythreads.h"
#include "target/proc.h"
#include "util/err.h"

struct sg_pythreads {
	struct sg_pyproc *proc;
};

struct sg_pythreads *sg_pythreads_new(struct sg_pyproc *proc)
{
	struct sg_pythreads *names = calloc(1, sizeof(*names));

	if (names)
		names->proc = proc;
	return names;
}

void sg_pythreads_free(struct sg_pythreads *names)
{
	free(names);
}

int sg_pythreads_name(struct sg_pythreads *names, const struct sg_pythread *th, char *buf,
		      size_t len)
{
	/* NEEDSWORK: read threading._active; until then the kernel's name. */
	if (!th->tid)
		return SG_ENOPROC;
	return sg_proc_task_comm(names->proc->pid, th->tid, buf, len);
}
