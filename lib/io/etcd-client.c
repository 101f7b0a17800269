/*
 * The etcd v3 JSON gateway through libcurl (etcd-internal.h): the URI,
 * requests and their responses, base64, leases.
 */
#include "ls-internal.h"
#include "io-internal.h"

#ifdef LS_HAVE_CURL
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "etcd-internal.h"

LS__DL_DEFINE(ls__curl, LS_SONAME_CURL, LS_PKG_CURL, LS__CURL_FNS)

#define ECONNECT_S 10L		/* connect timeout */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
ls__ebuf_str(struct ls__ebuf *b, const char *s)
{
	size_t n = strlen(s);

	if (ls__grow(&b->p, &b->cap, b->len + n + 1) != 0)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

int
ls__ebuf_b64(struct ls__ebuf *b, const unsigned char *p, size_t n)
{
	unsigned char *d;

	if (n > SIZE_MAX / 2 || ls__grow(&b->p, &b->cap, b->len +
	    (n + 2) / 3 * 4 + 1) != 0)
		return -1;
	d = b->p + b->len;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*d++ = (unsigned char)b64[v >> 18];
		*d++ = (unsigned char)b64[(v >> 12) & 63];
		*d++ = i + 1 < n ? (unsigned char)b64[(v >> 6) & 63] : '=';
		*d++ = i + 2 < n ? (unsigned char)b64[v & 63] : '=';
	}
	b->len = (size_t)(d - b->p);
	return 0;
}

int
ls__ebuf_u64(struct ls__ebuf *b, uint64_t v)
{
	char d[24];

	d[ls__u64_format(v, d)] = '\0';
	return ls__ebuf_str(b, d);
}

void
ls__ebuf_free(struct ls__ebuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int
b64_val(unsigned char c)
{
	const char *q = c != '\0' ? strchr(b64, c) : NULL;

	return q != NULL ? (int)(q - b64) : -1;
}

int
ls__etcd_b64_field(const unsigned char *p, size_t n, const char *name,
    struct ls__ebuf *out)
{
	const unsigned char *v;
	size_t len, pad = 0;

	out->len = 0;
	if (ls_json_field(p, n, name, &v, &len) != LS_OK)
		return ls__grow(&out->p, &out->cap, 1);
	if (len % 4 != 0 || ls__grow(&out->p, &out->cap, len / 4 * 3 + 1) != 0)
		return -1;
	while (pad < 2 && len > pad && v[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t w = 0;
		for (size_t j = 0; j < 4; j++) {
			int x = i + j >= len - pad ? 0 : b64_val(v[i + j]);
			if (x < 0)
				return -1;
			w = w << 6 | (uint32_t)x;
		}
		out->p[out->len++] = (unsigned char)(w >> 16);
		out->p[out->len++] = (unsigned char)(w >> 8);
		out->p[out->len++] = (unsigned char)w;
	}
	out->len -= pad;
	return 0;
}

int
ls__etcd_u64_field(const unsigned char *p, size_t n, const char *name,
    uint64_t *v)
{
	const unsigned char *s;
	size_t len;

	*v = 0;
	if (ls_json_field(p, n, name, &s, &len) != LS_OK)
		return 0;
	return ls_u64_parse((const char *)s, len, v) == LS_OK ? 0 : -1;
}

const char *
ls__etcd_resp_error(const unsigned char *p, size_t n, char *buf, size_t len)
{
	const unsigned char *v;
	size_t vn;

	if (ls_json_field(p, n, "error", &v, &vn) != LS_OK &&
	    ls_json_field(p, n, "message", &v, &vn) != LS_OK)
		return NULL;
	if (vn > 0 && v[0] == '{') {	/* a watch's {"error":{..}} */
		const unsigned char *m;
		size_t mn;
		if (ls_json_field(v, vn, "message", &m, &mn) == LS_OK) {
			v = m;
			vn = mn;
		}
	}
	snprintf(buf, len, "%.*s", (int)vn, (const char *)v);
	return buf;
}

/* --- the connection ----------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

/*
 * curl_global_init() initializes libssh2, and libssh2 OpenSSL's crypto,
 * for scp:// and sftp://, which etcd never uses: 1.6 MiB of libcrypto's
 * pages touched in every relay with an etcd:// URI (peak 10.1 to 10.5
 * MiB, 8.5 to 8.8 without). libssh2 initializes crypto only on its
 * first libssh2_init() and not when that asks LIBSSH2_INIT_NO_CRYPTO
 * (libssh2.h: 0x0001), so a first call of ours, if libcurl loaded
 * libssh2, leaves it out; curl's own call then only counts.
 */
static void
ssh_init_no_crypto(void)
{
	int (*init)(int) = (int (*)(int))ls__dl_loaded_fn("libssh2.so.1",
	    "libssh2_init");

	if (init != NULL)
		(void)init(0x0001);
}

static void
global_init(void)
{
	ssh_init_no_crypto();
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t
on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct ls__ebuf *b = ctx;

	n *= size;
	if (b->stop_at != 0 && b->len >= b->stop_at) {
		b->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (b->len + n > LS__ETCD_RESP_MAX ||
	    ls__grow(&b->p, &b->cap, b->len + n + 1) != 0) {
		b->over = true;
		return 0;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return n;
}

CURL *
ls__etcd_handle(const struct ls__etcd *c, const char *path,
    struct ls__ebuf *out)
{
	char url[sizeof(c->base) + 64];
	CURL *h;

	pthread_once(&global_once, global_init);
	if ((h = curl_easy_init()) == NULL)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, ECONNECT_S);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	return h;
}

/* The key just past every key that starts with the prefix: the prefix
 * with its last byte below 0xff plus one, or "\0" (every key). */
static int
prefix_end(struct ls__etcd *c)
{
	size_t n = c->prefix_len;

	while (n > 0 && c->prefix[n - 1] == 0xff)
		n--;
	if ((c->end = malloc(n > 0 ? n : 1)) == NULL)
		return -1;
	if (n == 0) {
		c->end[0] = '\0';
		c->end_len = 1;
		return 0;
	}
	memcpy(c->end, c->prefix, n);
	c->end[n - 1]++;
	c->end_len = n;
	return 0;
}

static int
host_fail(struct ls__etcd *c, const struct ls__host *h, const char *why,
    ls_error *err)
{
	char pb[LS__NAME_BUF];

	if (strcmp(why, "bad port") == 0 && h->port_len > 0)
		return ls__failn(err, LS_ERR_INVAL, 0, c->name, "bad port '%s'",
		    ls__namen(h->port_text, h->port_len, pb));
	return ls__failn(err, LS_ERR_INVAL, 0, c->name, "%s", strcmp(why,
	    "empty host") == 0 ? "bad host" : why);
}

int
ls__etcd_open(struct ls__etcd *c, const struct ls__uri *u, ls_error *err)
{
	struct ls__host h;
	const char *why;

	memset(c, 0, sizeof(*c));
	if ((c->name = ls__uri_redact(u->text)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if (ls__curl_load(c->name, err) != LS_OK)
		return LS_ERR_INVAL;
	if (u->userinfo != NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, c->name, "credentials "
		    "are not supported (etcd://HOST[:PORT]/PREFIX)");
	if (u->upath == NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, c->name, "no key "
		    "prefix: the form is etcd://HOST[:PORT]/PREFIX");
	if ((why = ls__host_parse(u->hosts, u->hosts_len, &h)) != NULL)
		return host_fail(c, &h, why, err);
	snprintf(c->base, sizeof(c->base), h.v6 ? "http://[%s]:%u" :
	    "http://%s:%u", h.host, h.port ? h.port : LS__ETCD_PORT);
	c->prefix = (unsigned char *)ls__pct_decode(u->upath, strlen(u->upath),
	    &c->prefix_len);
	if (c->prefix == NULL || prefix_end(c) != 0 ||
	    (c->h = ls__etcd_handle(c, "", &c->resp)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	return LS_OK;
}

const char *
ls__etcd_name(const struct ls__etcd *c)
{
	return c->anon ? NULL : c->name;
}

void
ls__etcd_close(struct ls__etcd *c)
{
	if (c->h != NULL)
		curl_easy_cleanup(c->h);
	free(c->name);
	free(c->prefix);
	free(c->end);
	ls__ebuf_free(&c->resp);
	ls__ebuf_free(&c->body);
	memset(c, 0, sizeof(*c));
}

int
ls__etcd_check(const struct ls__etcd *c, CURL *h, CURLcode rc,
    const struct ls__ebuf *resp, const char *what, ls_error *err)
{
	char why[LS_ERRMSG_MAX];
	long status = 0;

	if (resp->over)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(c), "%s: a response "
		    "larger than %u MiB", what, LS__ETCD_RESP_MAX >> 20);
	if (rc != CURLE_OK)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(c), "%s: %s", what,
		    curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (ls__etcd_resp_error(resp->p, resp->len, why, sizeof(why)) != NULL)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(c), "%s: %s", what,
		    why);
	if (status != 200)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(c), "%s: HTTP status "
		    "%ld (is this etcd's client URL?)", what, status);
	return LS_OK;
}

int
ls__etcd_call(struct ls__etcd *c, const char *path, const char *what,
    ls_error *err)
{
	char url[sizeof(c->base) + 64];

	snprintf(url, sizeof(url), "%s%s", c->base, path);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, (char *)c->body.p);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)c->body.len);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, LS__ETCD_REQUEST_S);
	c->resp.len = 0;
	c->resp.over = false;
	return ls__etcd_check(c, c->h, curl_easy_perform(c->h), &c->resp, what,
	    err);
}

/* --- leases ------------------------------------------------------------- */

/* c->body = {"NAME":V} */
static int
body_num(struct ls__etcd *c, const char *name, uint64_t v, ls_error *err)
{
	c->body.len = 0;
	if (ls__ebuf_str(&c->body, "{\"") != 0 ||
	    ls__ebuf_str(&c->body, name) != 0 ||
	    ls__ebuf_str(&c->body, "\":\"") != 0 ||
	    ls__ebuf_u64(&c->body, v) != 0 ||
	    ls__ebuf_str(&c->body, "\"}") != 0)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	return LS_OK;
}

int
ls__etcd_lease_grant(struct ls__etcd *c, uint64_t ttl, uint64_t *id,
    ls_error *err)
{
	int rc;

	if ((rc = body_num(c, "TTL", ttl, err)) != LS_OK ||
	    (rc = ls__etcd_call(c, "/v3/lease/grant", "lease grant",
	    err)) != LS_OK)
		return rc;
	if (ls__etcd_u64_field(c->resp.p, c->resp.len, "ID", id) != 0 ||
	    *id == 0)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(c), "lease grant: "
		    "no lease ID in the response");
	return LS_OK;
}

int
ls__etcd_lease_keepalive(struct ls__etcd *c, uint64_t id, uint64_t *left,
    ls_error *err)
{
	const unsigned char *r;
	size_t n;
	int rc;

	if ((rc = body_num(c, "ID", id, err)) != LS_OK ||
	    (rc = ls__etcd_call(c, "/v3/lease/keepalive", "lease keepalive",
	    err)) != LS_OK)
		return rc;
	/* {"result":{"header":..,"ID":..,"TTL":..}} */
	if (ls_json_field(c->resp.p, c->resp.len, "result", &r, &n) != LS_OK ||
	    ls__etcd_u64_field(r, n, "TTL", left) != 0)
		*left = 0;
	return LS_OK;
}

int
ls__etcd_lease_revoke(struct ls__etcd *c, uint64_t id, ls_error *err)
{
	int rc;

	if ((rc = body_num(c, "ID", id, err)) != LS_OK)
		return rc;
	return ls__etcd_call(c, "/v3/lease/revoke", "lease revoke", err);
}
#endif
