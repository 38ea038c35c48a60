/* SPDX-License-Identifier: MIT */
#ifndef SG_FORMATS_TEXT_H
#define SG_FORMATS_TEXT_H

/*
 * Text every writer shares: how a frame is named to people, and JSON
 * strings. Kept here so that every format names a frame the same way.
 */

#include "profile/profile.h"
#include "util/strbuf.h"

#include <stdbool.h>

/* How file is shown to people: whole when full, else as
 * sg_profile_short_file shows it. */
const char *sg_text_file(const struct sg_profile *p, const char *file, bool full);

/* Append "NAME (FILE:LINE)", "NAME (FILE)" when the line is unknown, or
 * "NAME" when the file is, FILE as sg_text_file shows it. 0 or SG_ENOMEM. */
int sg_text_frame(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f,
                  bool full);

/*
 * Append the group of the thread called name: its name with the number
 * that tells it from its siblings replaced by '*'. That number is the run
 * of digits ending the name, or, for names ending in " (...)" (3.10+ names
 * threads "Thread-N (TARGET)"), ending what comes before: "Thread-12" and
 * "Thread-12 (worker)" become "Thread-*" and "Thread-* (worker)",
 * "ThreadPoolExecutor-0_3" "ThreadPoolExecutor-0_*" (so each pool is a
 * group). Other names are their own group. 0 or SG_ENOMEM.
 */
int sg_text_thread_group(struct sg_strbuf *sb, const char *name);

/* Append s as a JSON string, quotes included. Control characters are
 * escaped, and bytes that are not UTF-8 become U+FFFD, so the result is
 * valid JSON whatever the target's memory held. 0 or SG_ENOMEM. */
int sg_text_json(struct sg_strbuf *sb, const char *s);

/* Append s for XML text or a double-quoted attribute value: '&', '<', '>'
 * and '"' become entities, and bytes that are not UTF-8, control characters
 * (C0, DEL, C1) and the noncharacters U+FFFE and U+FFFF, which XML 1.0
 * forbids or discourages, become U+FFFD, so the result is well-formed
 * whatever the target's memory held. 0 or SG_ENOMEM. */
int sg_text_xml(struct sg_strbuf *sb, const char *s);

/* bytes for people, in binary units with one decimal past KiB: "512 B",
 * "1.5 KiB", "96.0 MiB", "2.3 GiB". Into buf (at least 16 bytes). */
void sg_text_bytes(char *buf, size_t len, double bytes);

#endif
