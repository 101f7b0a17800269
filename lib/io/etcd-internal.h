/*
 * A small client of etcd's v3 JSON gateway (etcd-client.c) for etcd.c:
 * one HTTP/1.1 connection (libcurl) for requests, keys and values in
 * base64, integers as JSON strings. The watch, a response that does not
 * end, runs on a handle of its own (etcd.c).
 */
#ifndef ETCD_INTERNAL_H
#define ETCD_INTERNAL_H

#include "dl-curl.h"

#include "io-internal.h"

#define LS__ETCD_PORT 2379
#define LS__ETCD_RESP_MAX (64u * 1024u * 1024u)	/* one response, at most */
#define LS__ETCD_REQUEST_S 30L	/* a request's whole time, and a list's
				   wait for a byte, at most */

/* A growing buffer of bytes. */
struct ls__ebuf {
	unsigned char *p;
	size_t len, cap;
	bool over;		/* a response went past LS__ETCD_RESP_MAX */
	size_t stop_at;		/* if not 0, the transfer pauses once len
				   reaches it (paused set) */
	bool paused;
};

struct ls__etcd {
	CURL *h;
	char *name;		/* the URI, for messages (owned) */
	bool anon;		/* messages leave it out (a source's, once
				   open: the caller names it) */
	char base[300];		/* http://HOST:PORT */
	unsigned char *prefix;	/* the key prefix (owned), and its end */
	size_t prefix_len;
	unsigned char *end;
	size_t end_len;
	struct ls__ebuf resp;	/* the last response */
	struct ls__ebuf body;	/* a request being written */
};

/* Parses u (etcd://HOST[:PORT]/PREFIX) into c and makes its handle. */
int ls__etcd_open(struct ls__etcd *c, const struct ls__uri *u,
    ls_error *err);
void ls__etcd_close(struct ls__etcd *c);

/* The name that starts c's messages, or NULL. */
const char *ls__etcd_name(const struct ls__etcd *c);

/* Makes an easy handle posting to c's base URL plus path, its response
 * appended to out. */
CURL *ls__etcd_handle(const struct ls__etcd *c, const char *path,
    struct ls__ebuf *out);

/* Posts c->body to path; the response, a JSON object, in c->resp.
 * An error response, or a failure, fails naming what. */
int ls__etcd_call(struct ls__etcd *c, const char *path, const char *what,
    ls_error *err);

/* What a transfer on h ended with (rc, its response in resp): LS_OK,
 * or a failure naming what (curl's error, a response too large, an
 * error response, an HTTP status other than 200). */
int ls__etcd_check(const struct ls__etcd *c, CURL *h, CURLcode rc,
    const struct ls__ebuf *resp, const char *what, ls_error *err);

/* The error of a JSON response {"error":..} or {"message":..}, if it is
 * one (its text in buf); else NULL. */
const char *ls__etcd_resp_error(const unsigned char *p, size_t n, char *buf,
    size_t len);

/* Appends to b: text s; p[0..n) in base64; v in decimal. Return -1
 * when out of memory. */
int ls__ebuf_str(struct ls__ebuf *b, const char *s);
int ls__ebuf_b64(struct ls__ebuf *b, const unsigned char *p, size_t n);
int ls__ebuf_u64(struct ls__ebuf *b, uint64_t v);
void ls__ebuf_free(struct ls__ebuf *b);

/* Decodes the base64 member name of JSON object p[0..n) into *out (grown
 * to fit); a missing member is empty. Returns -1 if it is not base64 or
 * out of memory. */
int ls__etcd_b64_field(const unsigned char *p, size_t n, const char *name,
    struct ls__ebuf *out);

/* The integer member name of p[0..n) (a string or a number); 0 if it is
 * missing. Returns -1 if it is not a number. */
int ls__etcd_u64_field(const unsigned char *p, size_t n, const char *name,
    uint64_t *v);

/* A lease of ttl seconds: grant (its ID in *id), keep alive (its TTL now
 * in *left: 0 if it has expired), revoke. */
int ls__etcd_lease_grant(struct ls__etcd *c, uint64_t ttl, uint64_t *id,
    ls_error *err);
int ls__etcd_lease_keepalive(struct ls__etcd *c, uint64_t id,
    uint64_t *left, ls_error *err);
int ls__etcd_lease_revoke(struct ls__etcd *c, uint64_t id, ls_error *err);

#endif
