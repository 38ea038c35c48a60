/* SPDX-License-Identifier: MIT */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "store/push.h"
#include "util/err.h"
#include "util/strbuf.h"

#define PUSH_PATH "/push.v1.PusherService/Push"

struct sg_push {
	CURL *curl;
	struct curl_slist *headers;
	char *endpoint;
	char *auth;
	/* The fallback for servers older than the push API (before Pyroscope
	 * 1.0): /ingest with the pprof as a form's file, once the push
	 * endpoint answered 404. A handle of its own: its requests differ. */
	bool ingest;
	CURL *legacy;
	struct curl_slist *legacy_headers;
	char *base;
	long timeout_ms;
	/* When every request must have ended (CLOCK_MONOTONIC, ms; 0: no
	 * such time): set by sg_push_deadline, maybe from another thread. */
	_Atomic uint64_t deadline_ms;
};

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* libcurl's progress callback, called often during a request and about
 * once a second while it waits: a request in flight when the deadline is
 * set ends by it, whatever its own time limit. */
static int past_deadline(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
	struct sg_push *p = arg;
	uint64_t until = atomic_load(&p->deadline_ms);

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return until && now_ms() >= until;
}

void sg_push_deadline(struct sg_push *p, uint64_t mono_ms)
{
	atomic_store(&p->deadline_ms, mono_ms);
}

/* What both handles share: time limits, protocols, auth. */
static void common_options(CURL *c, struct sg_push *p, const struct sg_push_opts *o,
                           const char *auth)
{
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, past_deadline);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (auth) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, auth);
	}
}

int sg_push_new(const struct sg_push_opts *o, struct sg_push **out, char *why, size_t len)
{
	struct sg_push *p = calloc(1, sizeof(*p));
	size_t n = strlen(o->url);
	const char *host = strstr(o->url, "://");
	char tenant[512];

	*out = NULL;
	if ((strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) || !host ||
	    !host[3] || host[3] == '/' || strpbrk(o->url, " \t\r\n")) {
		free(p);
		snprintf(why, len,
		         "--push: expected http://HOST[:PORT][/PATH] or https://..., got '%s'",
		         o->url);
		return SG_EUSAGE;
	}
	if (!p)
		goto nomem;
	while (n && o->url[n - 1] == '/')
		n--;
	p->endpoint = malloc(n + sizeof(PUSH_PATH));
	p->base = strndup(o->url, n);
	p->curl = curl_easy_init();
	p->legacy = curl_easy_init();
	if (!p->endpoint || !p->base || !p->curl || !p->legacy)
		goto nomem;
	memcpy(p->endpoint, o->url, n);
	memcpy(p->endpoint + n, PUSH_PATH, sizeof(PUSH_PATH));
	p->headers = curl_slist_append(NULL, "Content-Type: application/proto");
	p->legacy_headers = curl_slist_append(NULL, "Expect:");
	if (o->tenant) {
		snprintf(tenant, sizeof(tenant), "X-Scope-OrgID: %s", o->tenant);
		if (p->headers)
			p->headers = curl_slist_append(p->headers, tenant);
		if (p->legacy_headers)
			p->legacy_headers = curl_slist_append(p->legacy_headers, tenant);
	}
	if (!p->legacy_headers)
		goto nomem;
	/* No "Expect: 100-continue" round trip before the body. */
	if (p->headers)
		p->headers = curl_slist_append(p->headers, "Expect:");
	if (!p->headers)
		goto nomem;
	if (o->basic_auth && !(p->auth = strdup(o->basic_auth)))
		goto nomem;
	curl_easy_setopt(p->curl, CURLOPT_URL, p->endpoint);
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->headers);
	p->timeout_ms = o->timeout_ms;
	common_options(p->curl, p, o, p->auth);
	curl_easy_setopt(p->legacy, CURLOPT_HTTPHEADER, p->legacy_headers);
	common_options(p->legacy, p, o, p->auth);
	*out = p;
	return 0;
nomem:
	sg_push_free(p);
	snprintf(why, len, "out of memory");
	return SG_ENOMEM;
}

void sg_push_free(struct sg_push *p)
{
	if (!p)
		return;
	if (p->curl)
		curl_easy_cleanup(p->curl);
	if (p->legacy)
		curl_easy_cleanup(p->legacy);
	curl_slist_free_all(p->headers);
	curl_slist_free_all(p->legacy_headers);
	free(p->base);
	free(p->endpoint);
	free(p->auth);
	free(p);
}

/* Protobuf, by hand: a varint, and a length-delimited field. */
static int pb_varint(struct sg_strbuf *b, uint64_t v)
{
	unsigned char buf[10];
	size_t n = 0;

	do {
		buf[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		buf[n++] |= v ? 0x80 : 0;
	} while (v);
	return sg_strbuf_add(b, buf, n);
}

static int pb_bytes(struct sg_strbuf *b, unsigned field, const void *data, size_t n)
{
	int err = pb_varint(b, (uint64_t)field << 3 | 2);

	if (!err)
		err = pb_varint(b, n);
	return err || !n ? err : sg_strbuf_add(b, data, n);
}

/* A label name as Prometheus and Pyroscope take them: [a-zA-Z_][a-zA-Z0-9_]*. */
static void label_name(const char *key, char *out, size_t len)
{
	size_t i = 0;

	for (; key[i] && i + 1 < len; i++) {
		char c = key[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		          (i && c >= '0' && c <= '9');

		out[i] = ok ? c : '_';
	}
	out[i] = '\0';
}

static int pb_label(struct sg_strbuf *b, const char *name, const char *value)
{
	struct sg_strbuf pair = SG_STRBUF_INIT;
	int err = pb_bytes(&pair, 1, name, strlen(name));

	if (!err)
		err = pb_bytes(&pair, 2, value, strlen(value));
	if (!err)
		err = pb_bytes(b, 1, pair.buf, pair.len);
	sg_strbuf_release(&pair);
	return err;
}

/* The PushRequest for w. */
static int encode(const struct sg_store_pushed *w, struct sg_strbuf *out)
{
	struct sg_strbuf series = SG_STRBUF_INIT, sample = SG_STRBUF_INIT;
	const char *service = "unknown", *host = "";
	char id[512], name[256];
	int err = pb_label(&series, "__name__", w->mode == SG_MODE_WALL ? "wall" : "process_cpu");

	for (size_t i = 0; i < w->nlabels; i++) {
		if (!strcmp(w->labels[i].key, "service"))
			service = w->labels[i].value;
		if (!strcmp(w->labels[i].key, "host"))
			host = w->labels[i].value;
	}
	if (!err)
		err = pb_label(&series, "service_name", service);
	for (size_t i = 0; i < w->nlabels && !err; i++) {
		label_name(w->labels[i].key, name, sizeof(name));
		if (strcmp(name, "__name__") && strcmp(name, "service_name"))
			err = pb_label(&series, name, w->labels[i].value);
	}
	/* The same at every try of this window, and no other's. */
	snprintf(id, sizeof(id), "spyglass-%s-%lld-%llu", host, (long long)w->window,
	         (unsigned long long)w->start_ns);
	if (!err)
		err = pb_bytes(&sample, 1, w->pprof, w->pprof_len);
	if (!err)
		err = pb_bytes(&sample, 2, id, strlen(id));
	if (!err)
		err = pb_bytes(&series, 2, sample.buf, sample.len);
	if (!err)
		err = pb_bytes(out, 1, series.buf, series.len);
	sg_strbuf_release(&series);
	sg_strbuf_release(&sample);
	return err;
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* The outcome of a request on c, as sg_push_send returns it. */
static int outcome(CURL *c, CURLcode rc, const char *url, long *status, char *why, size_t len)
{
	*status = 0;
	if (rc != CURLE_OK) {
		/* libcurl's own words, not its error buffer's, which has timings
		 * in it: the same failure reads the same, and is said once. */
		snprintf(why, len, "could not push to %s: %s", url, curl_easy_strerror(rc));
		return SG_EIO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300)
		return 0;
	if (*status == 401 || *status == 403) {
		snprintf(why, len,
		         "%s answered HTTP %ld: check --push-auth (or $SPYGLASS_PUSH_AUTH) and "
		         "--push-tenant",
		         url, *status);
		return SG_EPERM;
	}
	snprintf(why, len, "%s answered HTTP %ld", url, *status);
	return *status == 408 || *status == 429 || *status >= 500 ? SG_EIO : SG_EFORMAT;
}

/* One request on c, within its time limit and the deadline if one is
 * set: SG_EGONE, with why, when the deadline cut it or came first. */
static int request(struct sg_push *p, CURL *c, const char *url, long *status, char *why, size_t len)
{
	uint64_t until = atomic_load(&p->deadline_ms), now = now_ms();
	long limit = p->timeout_ms;
	CURLcode rc;

	*status = 0;
	if (until && now + 1 >= until) {
		snprintf(why, len, "could not push to %s: the stop's time to send ran out", url);
		return SG_EGONE;
	}
	if (until && until - now < (uint64_t)limit)
		limit = (long)(until - now);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, limit);
	rc = curl_easy_perform(c);
	until = atomic_load(&p->deadline_ms);
	if (rc != CURLE_OK && until && now_ms() + 1 >= until) {
		snprintf(why, len, "could not push to %s: the stop's time to send ran out", url);
		return SG_EGONE;
	}
	return outcome(c, rc, url, status, why, len);
}

/* A label as the legacy name takes it: none of { } , = in it. */
static int legacy_add(struct sg_strbuf *b, const char *s)
{
	int err = 0;

	for (; *s && !err; s++)
		err = sg_strbuf_addch(b, strchr("{},=", *s) ? '_' : *s);
	return err;
}

/* POST URL/ingest?name=SERVICE.cpu{k=v,...}&from=S&until=S&format=pprof,
 * the pprof as the form's "profile" file, as Pyroscope before 1.0 takes
 * it (and 1.x still does). */
static int send_legacy(struct sg_push *p, const struct sg_store_pushed *w, char *why, size_t len)
{
	struct sg_strbuf name = SG_STRBUF_INIT, url = SG_STRBUF_INIT;
	const char *service = "unknown";
	char *escaped = NULL;
	curl_mime *form = NULL;
	curl_mimepart *part;
	long status;
	int err = 0;

	for (size_t i = 0; i < w->nlabels; i++)
		if (!strcmp(w->labels[i].key, "service"))
			service = w->labels[i].value;
	err = legacy_add(&name, service) ||
	      sg_strbuf_addstr(&name, w->mode == SG_MODE_WALL ? ".wall{" : ".cpu{");
	for (size_t i = 0; i < w->nlabels && !err; i++) {
		char key[256];

		label_name(w->labels[i].key, key, sizeof(key));
		err = sg_strbuf_addf(&name, "%s%s=", i ? "," : "", key) ||
		      legacy_add(&name, w->labels[i].value);
	}
	err = err || sg_strbuf_addch(&name, '}');
	if (!err && !(escaped = curl_easy_escape(p->legacy, name.buf, (int)name.len)))
		err = SG_ENOMEM;
	err =
	    err || sg_strbuf_addf(&url, "%s/ingest?name=%s&from=%llu&until=%llu&format=pprof",
	                          p->base, escaped, (unsigned long long)(w->start_ns / 1000000000u),
	                          (unsigned long long)(w->end_ns / 1000000000u));
	if (!err && (!(form = curl_mime_init(p->legacy)) || !(part = curl_mime_addpart(form)) ||
	             curl_mime_name(part, "profile") || curl_mime_filename(part, "profile.pprof") ||
	             curl_mime_data(part, w->pprof, w->pprof_len)))
		err = SG_ENOMEM;
	if (err) {
		snprintf(why, len, "out of memory");
		err = SG_ENOMEM;
	} else {
		curl_easy_setopt(p->legacy, CURLOPT_URL, url.buf);
		curl_easy_setopt(p->legacy, CURLOPT_MIMEPOST, form);
		curl_easy_setopt(p->legacy, CURLOPT_WRITEFUNCTION, discard);
		err = request(p, p->legacy, p->base, &status, why, len);
		curl_easy_setopt(p->legacy, CURLOPT_MIMEPOST, NULL);
	}
	curl_mime_free(form);
	curl_free(escaped);
	sg_strbuf_release(&name);
	sg_strbuf_release(&url);
	return err;
}

int sg_push_send(struct sg_push *p, const struct sg_store_pushed *w, char *why, size_t len)
{
	struct sg_strbuf body = SG_STRBUF_INIT;
	long status = 0;
	int err;

	if (p->ingest)
		return send_legacy(p, w, why, len);
	err = encode(w, &body);
	if (err) {
		sg_strbuf_release(&body);
		snprintf(why, len, "out of memory");
		return SG_ENOMEM;
	}
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body.buf);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, discard);
	err = request(p, p->curl, p->endpoint, &status, why, len);
	sg_strbuf_release(&body);
	/* No such endpoint: a server older than the push API. */
	if (err == SG_EFORMAT && status == 404) {
		p->ingest = true;
		return send_legacy(p, w, why, len);
	}
	return err;
}
