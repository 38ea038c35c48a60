/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_OUTFILE_H
#define SG_UTIL_OUTFILE_H

/*
 * Output files that a failed, interrupted or killed run never damages.
 *
 * - A regular file, or a path that does not exist yet, is written to a
 *   temporary file in the same folder (".NAME.XXXXXX", the old file's mode
 *   and owner, or 0666 & ~umask for a new one), synced, and renamed over
 *   NAME only once complete: readers see the old file or the whole new one,
 *   never an empty or half one, even after kill -9 (which may leave the
 *   temporary file behind, never NAME damaged). Hard links to the old file
 *   keep the old content.
 * - A symbolic link is followed to its final target, which is replaced the
 *   same way; the link itself stays. A link into /proc (/dev/stdout,
 *   /dev/fd/N) is opened as it is, appending when it is a regular file.
 * - Devices, FIFOs and "-" (standard output) are written directly.
 * - Nothing is ever unlinked but the temporary file this module created.
 *
 * Lifecycle: sg_outfile_prepare() early, which checks the path can be
 * written but creates and opens nothing (so it never blocks on a FIFO);
 * sg_outfile_open() once the data is ready; sg_outfile_close() once it is
 * written; sg_outfile_free() always, which also throws away a temporary
 * file not renamed into place. Errors are a negative enum sg_err plus one line in why,
 * "could not write PATH: REASON", naming the folder for a full disk.
 * Not thread-safe; opening a FIFO blocks SIGINT and SIGTERM while it waits.
 */

#include <stddef.h>
#include <stdio.h>

struct sg_outfile;

/* Check that path ("-": standard output) can be written and make *out.
 * Creates, opens and truncates nothing. */
int sg_outfile_prepare(const char *path, struct sg_outfile **out, char *why, size_t len);

/* Open f for writing and return the stream (owned by f: write to it, never
 * close it). A FIFO without a reader is retried for up to wait_ms; a SIGINT
 * or SIGTERM arriving meanwhile gives up at once (it is consumed). If a
 * reader is not there at once, one line saying what it waits for goes to
 * notes (when not NULL). Returns NULL after filling why. */
FILE *sg_outfile_open(struct sg_outfile *f, int wait_ms, FILE *notes, char *why, size_t len);

/* Flush and close the stream. err is the writer's result: when it is 0 and
 * every write succeeded, a regular file is synced and renamed into place;
 * otherwise the temporary file is removed, the old file (if any) is left as
 * it was, and why says what failed: the stream's own write error first, as
 * it is what made a writer fail with SG_EIO, else err. */
int sg_outfile_close(struct sg_outfile *f, int err, char *why, size_t len);

/* How to name f's destination in messages: the path as given, or
 * "standard output". Borrowed, valid until sg_outfile_free. */
const char *sg_outfile_name(const struct sg_outfile *f);

/* Close what is open and remove a temporary file not renamed into
 * place. NULL-safe. */
void sg_outfile_free(struct sg_outfile *f);

#endif
