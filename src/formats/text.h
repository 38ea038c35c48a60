/* SPDX-License-Identifier: MIT */
#ifndef SG_FORMATS_TEXT_H
#define SG_FORMATS_TEXT_H

/*
 * Text every writer shares: how a frame is named to people, and JSON
 * strings. Kept here so that every format names a frame the same way.
 */

#include "profile/profile.h"
#include "util/strbuf.h"

/* Append "NAME (FILE:LINE)", "NAME (FILE)" when the line is unknown, or
 * "NAME" when the file is. 0 or SG_ENOMEM. */
int sg_text_frame(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f);

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

#endif
