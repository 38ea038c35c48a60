/* SPDX-License-Identifier: MIT */
#ifndef SG_STORE_PUSH_H
#define SG_STORE_PUSH_H

/*
 * Sending a store's windows to a Pyroscope server (or Grafana Alloy's
 * pyroscope.receive_http) over its Connect API: one POST of a
 * push.v1.PushRequest (proto/push.proto) to URL/push.v1.PusherService/Push
 * per window, its pprof as the raw profile, its labels as the series'
 * labels, with __name__ (process_cpu or wall) and service_name, and an ID
 * made of the host, the window's row and start, the same at every try.
 * Optional basic auth and tenant header (X-Scope-OrgID); HTTPS through
 * libcurl. Blocking: call it from a thread of its own. Not thread-safe.
 */

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct sg_push_opts {
	const char *url;        /* http:// or https://, the server's base */
	const char *basic_auth; /* "user:password", or NULL */
	const char *tenant;     /* X-Scope-OrgID, or NULL */
	long timeout_ms;        /* a whole request, connect included */
};

struct sg_push;

/* Check url (one line in why: SG_EUSAGE) and make a sender; libcurl's
 * global init must have been done (curl_global_init). */
int sg_push_new(const struct sg_push_opts *opts, struct sg_push **out, char *why, size_t len);
/* Accepts NULL. */
void sg_push_free(struct sg_push *p);

/* Send one window. 0 when the server took it; SG_EIO when it may take it
 * later (no connection, a timeout, 408, 429, 5xx); SG_EPERM when it
 * refused our credentials (401, 403: it takes the window once they are
 * fixed); SG_EFORMAT when it never will (another 4xx: a bad request). why
 * says which. */
int sg_push_send(struct sg_push *p, const struct sg_store_pushed *w, char *why, size_t len);

/* From now on every request, the one in flight included, ends by
 * mono_ms (CLOCK_MONOTONIC, in ms; about a second late at most for one in
 * flight), and sg_push_send returns SG_EGONE when that cut it or the time
 * has passed: for the stop, which may send what is queued for so long and
 * no longer. The one call that may come from another thread while a send
 * runs. */
void sg_push_deadline(struct sg_push *p, uint64_t mono_ms);

#endif
