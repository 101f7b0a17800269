/* etcd through its v3 JSON gateway: etcd://HOST[:PORT]/PREFIX
 *
 * The URI's path, its leading slash included, is a key prefix. A source
 * lists every key under it at one revision R (pages of ELIMIT keys, each
 * read at R and taken a kv at a time as it comes, never held whole),
 * then watches the prefix from R + 1, so that each change
 * after the list comes once, in order. --from end watches from the
 * revision now + 1 without a list, --from rev:N (seq:N) from N. A sink
 * puts each message under PREFIX/STREAM/SEQ (SEQ in 20 digits, so that
 * keys sort), or PREFIX/STREAM, in transactions of up to ETXN puts, with
 * a lease if asked, kept alive by a thread of its own. relay(1) describes
 * the mapping of keys and values to messages. */
#include "ls-internal.h"
#include "io-internal.h"

#ifndef LS_HAVE_CURL
static int
no_curl(const struct ls__uri *u, ls_error *err)
{
	return ls__failn(err, LS_ERR_INVAL, 0, u->text, "this libstream was "
	    "built without libcurl: install libcurl4-gnutls-dev and rebuild");
}

int
ls__etcd_source(const struct ls__uri *u, const ls_source_opts *o,
    struct ls__src *b, ls_error *err)
{
	(void)o;
	(void)b;
	return no_curl(u, err);
}

int
ls__etcd_sink(const struct ls__uri *u, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err)
{
	(void)o;
	(void)b;
	return no_curl(u, err);
}
#else
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "etcd-internal.h"

#define ELIMIT 1024			/* keys a page of the list (etcd 3.4
					   reads the index to the end of the
					   range for each page: fewer, longer
					   pages list faster) */
#define EREAD (64u * 1024u)		/* a page is read this much at a time */
#define ETXN 128			/* puts a transaction (etcd's
					   --max-txn-ops is 128) */
#define ETXN_BYTES (1024u * 1024u)	/* or this many bytes of request */
#define EPOLL_MS 200			/* a wait, between looks at the stop
					   flag */

/* The stream key of an etcd key: its first segment after the prefix
 * (slashes after the prefix skipped), if that is a valid key; else the
 * default key. */
static void
stream_key(const struct ls__etcd *c, const struct ls__ebuf *key, ls_msg *m)
{
	const char *p = (const char *)key->p, *end = p + key->len, *seg;

	p += key->len >= c->prefix_len ? c->prefix_len : key->len;
	while (p < end && *p == '/')
		p++;
	seg = memchr(p, '/', (size_t)(end - p));
	if (seg == NULL)
		seg = end;
	if (ls_key_valid(p, (size_t)(seg - p))) {
		memcpy(m->key, p, (size_t)(seg - p));
		m->key_len = (size_t)(seg - p);
	} else {
		memcpy(m->key, LS_DEFAULT_KEY, sizeof(LS_DEFAULT_KEY) - 1);
		m->key_len = sizeof(LS_DEFAULT_KEY) - 1;
	}
	m->key[m->key_len] = '\0';
}

/* --- the source ----------------------------------------------------- */

enum ephase { EP_LIST, EP_WATCH };

struct esrc {
	struct ls__etcd c;
	const ls_source_opts *o;
	enum ephase ph;
	uint64_t rev;		/* the list's revision (0: not read yet) */
	uint64_t start;		/* the watch's first revision */
	bool more;		/* the list has more pages */
	bool listed;		/* a page has been read */
	const unsigned char *arr;	/* events (or kvs) being returned */
	size_t arr_len, pos;
	struct ls__ebuf key, val;	/* the last key and value, decoded */
	CURLM *multi;		/* the page being read, or the watch */
	CURL *wh;
	bool done;		/* wh's transfer has ended */
	int64_t idle_ms;	/* when a page last sent nothing (0: it
				   sent something) */
	struct ls__ebuf wbuf;	/* what wh has sent */
	size_t line;		/* the watch: wbuf[0..line) is the response
				   being returned, its '\n' included */
	size_t kvs, used;	/* a page: wbuf[kvs..used) are kvs returned
				   (kvs just past "kvs":[, 0 until seen) */
	uint64_t where;		/* the revision last returned */
};

static bool
stopped(const struct esrc *s)
{
	return s->o->stop != NULL && *s->o->stop;
}

static int
nomem(ls_error *err)
{
	return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
}

/* OPEN"key":KEY,"range_end":END: the body of a request on the prefix
 * from key, its object left open. */
static int
body_range(struct ls__etcd *c, const char *open, const unsigned char *key,
    size_t n)
{
	c->body.len = 0;
	return ls__ebuf_str(&c->body, open) != 0 ||
	    ls__ebuf_str(&c->body, "\"key\":\"") != 0 ||
	    ls__ebuf_b64(&c->body, key, n) != 0 ||
	    ls__ebuf_str(&c->body, "\",\"range_end\":\"") != 0 ||
	    ls__ebuf_b64(&c->body, c->end, c->end_len) != 0 ||
	    ls__ebuf_str(&c->body, "\"") != 0 ? -1 : 0;
}

/* c->body = the range request of the next page: from the prefix (the
 * first) or from s->key (the last key read and a NUL). */
static int
list_body(struct esrc *s)
{
	struct ls__etcd *c = &s->c;

	return body_range(c, "{", s->listed ? s->key.p : c->prefix, s->listed ?
	    s->key.len : c->prefix_len) != 0 ||
	    ls__ebuf_str(&c->body, ",\"limit\":\"") != 0 ||
	    ls__ebuf_u64(&c->body, ELIMIT) != 0 ||
	    ls__ebuf_str(&c->body, "\"") != 0 ||
	    (s->rev > 0 && (ls__ebuf_str(&c->body, ",\"revision\":\"") != 0 ||
	    ls__ebuf_u64(&c->body, s->rev) != 0 ||
	    ls__ebuf_str(&c->body, "\"") != 0)) ||
	    ls__ebuf_str(&c->body, "}") != 0 ? -1 : 0;
}

/* Starts posting c->body to path on s->multi, what comes into s->wbuf. */
static int
xfer_start(struct esrc *s, const char *path, ls_error *err)
{
	struct ls__etcd *c = &s->c;

	s->wbuf.len = s->line = s->kvs = s->used = 0;
	s->wbuf.over = s->wbuf.paused = s->done = false;
	s->wbuf.stop_at = 0;
	s->idle_ms = 0;
	if ((s->multi == NULL && (s->multi = curl_multi_init()) == NULL) ||
	    (s->wh = ls__etcd_handle(c, path, &s->wbuf)) == NULL)
		return nomem(err);
	curl_easy_setopt(s->wh, CURLOPT_POSTFIELDSIZE, (long)c->body.len);
	curl_easy_setopt(s->wh, CURLOPT_COPYPOSTFIELDS, (char *)c->body.p);
	curl_multi_add_handle(s->multi, s->wh);
	return LS_OK;
}

/* curl's result of s->wh's ended transfer. */
static CURLcode
xfer_result(struct esrc *s)
{
	CURLMsg *msg;
	int left;
	CURLcode rc = CURLE_OK;

	while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	return rc;
}

static void
xfer_drop(struct esrc *s)
{
	if (s->wh != NULL) {
		curl_multi_remove_handle(s->multi, s->wh);
		curl_easy_cleanup(s->wh);
		s->wh = NULL;
	}
}

/* Starts reading the next page of the list: the first at the revision
 * now, R, the others at R from after the last key read. */
static int
list_start(struct esrc *s, ls_error *err)
{
	if (s->listed) {	/* after the last key: it and a NUL */
		if (ls__grow(&s->key.p, &s->key.cap, s->key.len + 1) != 0)
			return nomem(err);
		s->key.p[s->key.len++] = '\0';
	}
	if (list_body(s) != 0)
		return nomem(err);
	return xfer_start(s, "/v3/kv/range", err);
}

/* Where "kvs":[ ends in p[0..n), or 0. */
static size_t
kvs_at(const unsigned char *p, size_t n)
{
	static const char t[] = "\"kvs\":[";
	const unsigned char *q = p, *end = p + n;

	while ((size_t)(end - q) >= sizeof(t) - 1 &&
	    (q = memchr(q, '"', (size_t)(end - q) - (sizeof(t) - 2))) != NULL) {
		if (memcmp(q, t, sizeof(t) - 1) == 0)
			return (size_t)(q - p) + sizeof(t) - 1;
		q++;
	}
	return 0;
}

/* The next kv of the page being read, if one has come whole (and is
 * JSON): LS_OK with *e and *en, else LS_END. The kvs leave wbuf as they
 * are read (list_compact), so a page is never held whole: what is left
 * of it at its end is {"header":..,"kvs":[],"more":..}, or from a kv
 * that is not JSON on, which list_end then finds is not JSON. (etcd's
 * gateway writes "kvs":[ just so; a response written otherwise is read
 * at its end.) */
static int
list_kv(struct esrc *s, const unsigned char **e, size_t *en)
{
	const unsigned char *p = s->wbuf.p;
	size_t n = s->wbuf.len, i, end;

	if (s->kvs == 0 && (s->kvs = s->used = kvs_at(p, n)) == 0)
		return LS_END;
	for (i = s->used; i < n && (p[i] == ',' || p[i] == ' ' ||
	    p[i] == '\n' || p[i] == '\r' || p[i] == '\t'); i++)
		;
	if (i == n || p[i] != '{' || (end = ls__json_value_end(p, i, n)) == 0)
		return LS_END;
	*e = p + i;
	*en = end - i;
	s->used = end;
	return LS_OK;
}

/* Drops the kvs returned from wbuf. */
static void
list_compact(struct esrc *s)
{
	struct ls__ebuf *b = &s->wbuf;

	if (s->used > s->kvs) {
		memmove(b->p + s->kvs, b->p + s->used, b->len - s->used);
		b->len -= s->used - s->kvs;
		s->used = s->kvs;
	}
}

/* Makes room for more of the page and lets EREAD more come; returns
 * wbuf's length before it does. */
static size_t
list_resume(struct esrc *s)
{
	struct ls__ebuf *b = &s->wbuf;
	size_t before;

	list_compact(s);
	before = b->len;
	b->stop_at = before + EREAD;
	if (b->paused) {	/* curl hands over what it held back */
		b->paused = false;
		curl_easy_pause(s->wh, CURLPAUSE_CONT);
	}
	return before;
}

/* s->rev = the revision of the range response p[0..n) (its header's). */
static int
range_rev(struct esrc *s, const unsigned char *p, size_t n, ls_error *err)
{
	const unsigned char *h;
	size_t hn;

	if (ls_json_field(p, n, "header", &h, &hn) != LS_OK ||
	    ls__etcd_u64_field(h, hn, "revision", &s->rev) != 0 || s->rev == 0)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "range: "
		    "no revision in the response");
	return LS_OK;
}

/* The page has been read: whether it ended well, the list's revision
 * (from the first page), whether more pages follow, and in s->arr what
 * is left of its kvs (none, unless etcd wrote them otherwise). */
static int
list_end(struct esrc *s, ls_error *err)
{
	struct ls__etcd *c = &s->c;
	const unsigned char *v;
	size_t vn;
	int rc;

	rc = ls__etcd_check(c, s->wh, xfer_result(s), &s->wbuf, "range", err);
	xfer_drop(s);
	if (rc != LS_OK)
		return rc;
	list_compact(s);	/* none returned is read again from s->arr */
	if (!ls_json_valid(s->wbuf.p, s->wbuf.len))
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(c), "range: "
		    "a response that is not JSON, after revision %llu",
		    (unsigned long long)s->where);
	s->listed = true;
	if (s->rev == 0 && (rc = range_rev(s, s->wbuf.p, s->wbuf.len,
	    err)) != LS_OK)
		return rc;
	s->more = ls_json_field(s->wbuf.p, s->wbuf.len, "more", &v, &vn) ==
	    LS_OK && vn == 4 && memcmp(v, "true", 4) == 0;
	s->pos = 0;
	if (ls_json_field(s->wbuf.p, s->wbuf.len, "kvs", &s->arr,
	    &s->arr_len) != LS_OK)
		s->arr_len = 0;
	return LS_OK;
}

/* The revision now (s->rev), for a watch from the end: a count of the
 * prefix's keys, which answers with the header alone. */
static int
list_revision(struct esrc *s, ls_error *err)
{
	struct ls__etcd *c = &s->c;
	int rc;

	if (body_range(c, "{", c->prefix, c->prefix_len) != 0 ||
	    ls__ebuf_str(&c->body, ",\"count_only\":true}") != 0)
		return nomem(err);
	if ((rc = ls__etcd_call(c, "/v3/kv/range", "range", err)) != LS_OK)
		return rc;
	return range_rev(s, c->resp.p, c->resp.len, err);
}

/* Fills m from kv, {"key":..,"mod_revision":..,"value":..} (JSON
 * already checked: by list_kv, or with the watch's response); a deletion
 * (del) carries the key as its payload, on shard 1. */
static int
kv_msg(struct esrc *s, const unsigned char *kv, size_t n, bool del,
    ls_msg *m, ls_error *err)
{
	uint64_t rev = 0;
	const char *why = NULL;

	if (ls__etcd_b64_field(kv, n, "key", &s->key) != 0 ||
	    (!del && ls__etcd_b64_field(kv, n, "value", &s->val) != 0))
		why = "a key or value that is not base64, or out of memory";
	else if (ls__etcd_u64_field(kv, n, "mod_revision", &rev) != 0 ||
	    rev == 0 || s->key.len == 0)
		why = "a key and value without a key or a revision";
	if (why != NULL)
		return ls__fail(err, LS_ERR_IO, 0, "after revision %llu: %s",
		    (unsigned long long)s->where, why);
	stream_key(&s->c, &s->key, m);
	m->seq = s->where = rev;
	m->shard = del ? 1 : 0;
	m->ts_ms = ls_now_ms();
	m->payload = del ? s->key.p : s->val.p;
	m->len = del ? s->key.len : s->val.len;
	return LS_OK;
}

/* The next kv of the page being read, or element of s->arr, as a
 * message: LS_OK, or LS_END when there is none yet. */
static int
take(struct esrc *s, ls_msg *m, ls_error *err)
{
	const unsigned char *e, *kv, *t;
	size_t en, kn, tn;
	bool del;

	if (s->ph == EP_LIST && s->wh != NULL)
		return list_kv(s, &e, &en) == LS_OK ? kv_msg(s, e, en, false,
		    m, err) : LS_END;
	if (s->arr_len == 0 || ls_json_array_next(s->arr, s->arr_len, &s->pos,
	    &e, &en) != LS_OK) {
		s->arr_len = 0;
		return LS_END;
	}
	if (s->ph == EP_LIST)
		return kv_msg(s, e, en, false, m, err);
	/* an event: {"type":"DELETE","kv":{..}}, a put without a type */
	del = ls_json_field(e, en, "type", &t, &tn) == LS_OK && tn == 6 &&
	    memcmp(t, "DELETE", 6) == 0;
	if (ls_json_field(e, en, "kv", &kv, &kn) != LS_OK)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "watch: an "
		    "event without a key");
	return kv_msg(s, kv, kn, del, m, err);
}

/* Starts the watch from s->start. */
static int
watch_start(struct esrc *s, ls_error *err)
{
	struct ls__etcd *c = &s->c;

	if (body_range(c, "{\"create_request\":{", c->prefix,
	    c->prefix_len) != 0 ||
	    ls__ebuf_str(&c->body, ",\"start_revision\":\"") != 0 ||
	    ls__ebuf_u64(&c->body, s->start) != 0 ||
	    ls__ebuf_str(&c->body, "\"}}") != 0)
		return nomem(err);
	s->ph = EP_WATCH;
	return xfer_start(s, "/v3/watch", err);
}

/* A watch response that is not events: created, canceled (compacted),
 * or an error. */
static int
watch_other(struct esrc *s, const unsigned char *r, size_t n, ls_error *err)
{
	const unsigned char *v;
	size_t vn;
	uint64_t compact = 0;
	char why[LS_ERRMSG_MAX];

	if (ls_json_field(r, n, "canceled", &v, &vn) != LS_OK || vn != 4 ||
	    memcmp(v, "true", 4) != 0)
		return LS_OK;
	if (ls__etcd_u64_field(r, n, "compact_revision", &compact) == 0 &&
	    compact > 0)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "watch from "
		    "revision %llu: that revision has been compacted (the "
		    "oldest kept is %llu)", (unsigned long long)s->start,
		    (unsigned long long)compact);
	if (ls_json_field(r, n, "cancel_reason", &v, &vn) != LS_OK)
		vn = 0;
	snprintf(why, sizeof(why), "%.*s", (int)vn, (const char *)v);
	return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "watch canceled%s%s",
	    vn ? ": " : "", why);
}

/* Takes the next whole response of the watch, if there is one: LS_OK
 * with s->arr set (maybe empty), LS_END if none has come whole. */
static int
watch_line(struct esrc *s, ls_error *err)
{
	struct ls__ebuf *b = &s->wbuf;
	const unsigned char *nl, *r;
	size_t n, rn;
	char why[LS_ERRMSG_MAX];

	if (s->line > 0) {	/* drop the one returned */
		memmove(b->p, b->p + s->line, b->len - s->line);
		b->len -= s->line;
		s->line = 0;
	}
	if (b->len == 0 || (nl = memchr(b->p, '\n', b->len)) == NULL)
		return LS_END;
	n = (size_t)(nl - b->p);
	s->line = n + 1;
	s->arr_len = s->pos = 0;
	if (ls_json_field(b->p, n, "result", &r, &rn) != LS_OK) {
		if (ls__etcd_resp_error(b->p, n, why, sizeof(why)) == NULL)
			snprintf(why, sizeof(why), "unexpected response");
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "watch: %s", why);
	}
	if (ls_json_field(r, rn, "events", &s->arr, &s->arr_len) != LS_OK) {
		s->arr_len = 0;
		return watch_other(s, r, rn, err);
	}
	return LS_OK;
}

/* The watch's transfer ended: why. */
static int
watch_ended(struct esrc *s, ls_error *err)
{
	CURLcode rc = xfer_result(s);

	if (s->wbuf.over)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "watch: a "
		    "response larger than %u MiB", LS__ETCD_RESP_MAX >> 20);
	return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "watch ended: %s",
	    rc != CURLE_OK ? curl_easy_strerror(rc) : "the server closed it");
}

/* Whether what came into wbuf from before on is something to take: a
 * whole response of the watch; for a page, anything (list_kv looks). A
 * page that sends nothing for LS__ETCD_REQUEST_S fails. */
static int
xfer_came(struct esrc *s, size_t before, ls_error *err)
{
	int64_t now;

	if (s->ph == EP_WATCH)
		return s->wbuf.len > before && memchr(s->wbuf.p + before, '\n',
		    s->wbuf.len - before) != NULL ? LS_OK : LS_END;
	if (s->wbuf.len > before) {
		s->idle_ms = 0;
		return LS_OK;
	}
	now = ls_now_ms();
	if (s->idle_ms == 0)
		s->idle_ms = now;
	else if (now - s->idle_ms > LS__ETCD_REQUEST_S * 1000)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "range: "
		    "nothing came for %ld s", LS__ETCD_REQUEST_S);
	return LS_END;
}

/* Reads what the page or the watch has sent; waits if nothing to take
 * has come. LS_AGAIN if the wait hook (the watch's) gave up. */
static int
xfer_more(struct esrc *s, ls_error *err)
{
	const ls_source_opts *o = s->o;
	size_t before;
	curl_socket_t fd = CURL_SOCKET_BAD;
	int running = 0, rc;

	before = s->ph == EP_LIST ? list_resume(s) : s->wbuf.len;
	if (curl_multi_perform(s->multi, &running) != CURLM_OK)
		return ls__failn(err, LS_ERR_IO, 0, ls__etcd_name(&s->c), "%s failed",
		    s->ph == EP_LIST ? "range" : "watch");
	if ((rc = xfer_came(s, before, err)) != LS_END)
		return rc;
	if (running == 0 && s->ph == EP_LIST) {
		s->done = true;
		return LS_OK;
	}
	if (running == 0)
		return watch_ended(s, err);
	if (o->on_wait != NULL)
		o->on_wait(o->wait_ctx);
	if (stopped(s))
		return LS_OK;
	/* the list is read whole before the source returns LS_AGAIN
	 * (partition --members takes it as the membership) */
	if (o->wait != NULL && s->ph == EP_WATCH) {
		curl_easy_getinfo(s->wh, CURLINFO_ACTIVESOCKET, &fd);
		return o->wait(o->wait_ctx, fd == CURL_SOCKET_BAD ? -1 :
		    (int)fd) != 0 ? LS_AGAIN : LS_OK;
	}
	curl_multi_poll(s->multi, NULL, 0, EPOLL_MS, NULL);
	return LS_OK;
}

static int
esrc_next(void *ctx, ls_msg *m, ls_error *err)
{
	struct esrc *s = ctx;
	int rc;

	for (;;) {
		if (stopped(s))
			return LS_END;
		if ((rc = take(s, m, err)) != LS_END)
			return rc;
		if (s->ph == EP_LIST && s->wh != NULL)
			rc = s->done ? list_end(s, err) : xfer_more(s, err);
		else if (s->ph == EP_LIST && (s->more || !s->listed))
			rc = list_start(s, err);
		else if (s->ph == EP_LIST && s->o->exit_at_end)
			return LS_END;
		else if (s->ph == EP_LIST) {
			s->start = s->rev + 1;
			rc = watch_start(s, err);
		} else if ((rc = watch_line(s, err)) == LS_END)
			rc = xfer_more(s, err);
		if (rc != LS_OK)
			return rc;
	}
}

static uint64_t
esrc_where(void *ctx)
{
	return ((struct esrc *)ctx)->where;
}

static void
esrc_where_text(void *ctx, char *buf, size_t n)
{
	snprintf(buf, n, "revision %llu",
	    (unsigned long long)((struct esrc *)ctx)->where);
}

static void
esrc_close(void *ctx)
{
	struct esrc *s = ctx;

	xfer_drop(s);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	ls__ebuf_free(&s->wbuf);
	ls__ebuf_free(&s->key);
	ls__ebuf_free(&s->val);
	ls__etcd_close(&s->c);
	free(s);
}

/* Where to start: a list (start, the default), or a watch from the
 * revision now + 1 (end) or from N (rev:N, seq:N). */
static int
esrc_from(struct esrc *s, ls_error *err)
{
	const ls_source_opts *o = s->o;
	int rc;

	if (o->from_id != NULL || (o->from_given && o->from.from !=
	    LS_FROM_START && o->from.from != LS_FROM_END &&
	    o->from.from != LS_FROM_SEQ))
		return ls__failn(err, LS_ERR_INVAL, 0, ls__etcd_name(&s->c), "an etcd "
		    "source starts at start, end or rev:N");
	if (!o->from_given || o->from.from == LS_FROM_START)
		return LS_OK;
	if (o->from.from == LS_FROM_SEQ) {
		if (o->from.value == 0)
			return ls__failn(err, LS_ERR_INVAL, 0, ls__etcd_name(&s->c),
			    "revisions start at 1, not 0");
		s->start = o->from.value;
	} else {
		if ((rc = list_revision(s, err)) != LS_OK)
			return rc;
		s->start = s->rev + 1;
	}
	return watch_start(s, err);
}

int
ls__etcd_source(const struct ls__uri *u, const ls_source_opts *o,
    struct ls__src *b, ls_error *err)
{
	static const ls_source_opts none;
	struct esrc *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return nomem(err);
	s->o = o != NULL ? o : &none;
	if ((rc = ls__etcd_open(&s->c, u, err)) != LS_OK ||
	    (rc = esrc_from(s, err)) != LS_OK) {
		esrc_close(s);
		return rc;
	}
	s->c.anon = true;
	b->ctx = s;
	b->next = esrc_next;
	b->where = esrc_where;
	b->where_text = esrc_where_text;
	b->close = esrc_close;
	return LS_OK;
}

/* --- the sink ------------------------------------------------------- */

struct esink {
	struct ls__etcd c;
	bool plain, revoke;
	size_t n;		/* puts in c.body */
	struct ls__ebuf key;
	uint64_t lease, ttl;
	/* the keepalive thread, on a connection of its own */
	struct ls__etcd kc;
	pthread_t th;
	bool th_on, quit;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ka_rc;
	ls_error ka_err;
};

/* The keepalive's failure, if it has failed. */
static int
lease_check(struct esink *k, ls_error *err)
{
	int rc;

	if (!k->th_on)
		return LS_OK;
	pthread_mutex_lock(&k->mu);
	rc = k->ka_rc;
	if (rc != LS_OK && err != NULL)
		*err = k->ka_err;
	pthread_mutex_unlock(&k->mu);
	return rc;
}

/* Renews the lease every third of its TTL until told to quit. */
static void *
keepalive(void *arg)
{
	struct esink *k = arg;
	struct timespec at;
	uint64_t left;
	ls_error e = { 0 };
	int rc = LS_OK;

	pthread_mutex_lock(&k->mu);
	while (!k->quit && rc == LS_OK) {
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += (time_t)(k->ttl / 3 > 0 ? k->ttl / 3 : 1);
		while (!k->quit && pthread_cond_timedwait(&k->cv, &k->mu,
		    &at) != ETIMEDOUT)
			;
		if (k->quit)
			break;
		pthread_mutex_unlock(&k->mu);
		rc = ls__etcd_lease_keepalive(&k->kc, k->lease, &left, &e);
		if (rc == LS_OK && left == 0)
			rc = ls__failn(&e, LS_ERR_IO, 0, k->c.name, "lease %llx "
			    "has expired", (unsigned long long)k->lease);
		pthread_mutex_lock(&k->mu);
		k->ka_rc = rc;
		k->ka_err = e;
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static int
lease_start(struct esink *k, const struct ls__uri *u, ls_error *err)
{
	int rc;

	if ((rc = ls__etcd_lease_grant(&k->c, k->ttl, &k->lease, err)) !=
	    LS_OK || (rc = ls__etcd_open(&k->kc, u, err)) != LS_OK)
		return rc;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if ((errno = pthread_create(&k->th, NULL, keepalive, k)) != 0) {
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->cv);
		return ls__failn(err, LS_ERR_IO, 0, k->c.name, "keepalive "
		    "thread: %s", strerror(errno));
	}
	k->th_on = true;
	return LS_OK;
}

static void
lease_stop(struct esink *k)
{
	if (!k->th_on)
		return;
	pthread_mutex_lock(&k->mu);
	k->quit = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->th, NULL);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	k->th_on = false;
}

/* Sends the transaction of puts written so far. */
static int
esink_send(struct esink *k, ls_error *err)
{
	int rc;

	if ((rc = lease_check(k, err)) != LS_OK || k->n == 0)
		return rc;
	if (ls__ebuf_str(&k->c.body, "]}") != 0)
		return nomem(err);
	k->n = 0;
	return ls__etcd_call(&k->c, "/v3/kv/txn", "put", err);
}

/* The key of m: PREFIX/STREAM/SEQ or PREFIX/STREAM. */
static int
esink_key(struct esink *k, const ls_msg *m)
{
	struct ls__ebuf *b = &k->key;
	char seq[24];

	b->len = 0;
	if (ls__grow(&b->p, &b->cap, k->c.prefix_len + m->key_len + 32) != 0)
		return -1;
	memcpy(b->p, k->c.prefix, k->c.prefix_len);
	b->len = k->c.prefix_len;
	if (b->len == 0 || b->p[b->len - 1] != '/')
		b->p[b->len++] = '/';
	memcpy(b->p + b->len, m->key, m->key_len);
	b->len += m->key_len;
	if (!k->plain) {
		snprintf(seq, sizeof(seq), "/%020llu",
		    (unsigned long long)m->seq);
		memcpy(b->p + b->len, seq, 21);
		b->len += 21;
	}
	return 0;
}

static int
esink_write(void *ctx, const ls_msg *m, ls_error *err)
{
	struct esink *k = ctx;
	struct ls__ebuf *b = &k->c.body;

	/* End-of-Stream is not carried */
	if (ls_msg_is_eos(m))
		return LS_OK;
	if (k->n == 0)
		b->len = 0;
	if (esink_key(k, m) != 0 ||
	    ls__ebuf_str(b, k->n == 0 ? "{\"success\":[" : ",") != 0 ||
	    ls__ebuf_str(b, "{\"request_put\":{\"key\":\"") != 0 ||
	    ls__ebuf_b64(b, k->key.p, k->key.len) != 0 ||
	    ls__ebuf_str(b, "\",\"value\":\"") != 0 ||
	    ls__ebuf_b64(b, m->payload, m->len) != 0 ||
	    ls__ebuf_str(b, k->lease ? "\",\"lease\":\"" : "") != 0 ||
	    (k->lease && ls__ebuf_u64(b, k->lease) != 0) ||
	    ls__ebuf_str(b, "\"}}") != 0)
		return nomem(err);
	k->n++;
	if (k->n >= ETXN || b->len >= ETXN_BYTES)
		return esink_send(k, err);
	return LS_OK;
}

static int
esink_flush(void *ctx, ls_error *err)
{
	return esink_send(ctx, err);
}

static int
esink_close(void *ctx, const ls_msg *eos, bool abort, ls_error *err)
{
	struct esink *k = ctx;
	int rc = abort ? LS_OK : esink_send(k, err);

	(void)eos;	/* not carried */
	lease_stop(k);
	if (k->lease != 0 && k->revoke) {
		int r = ls__etcd_lease_revoke(&k->c, k->lease, rc == LS_OK ?
		    err : NULL);
		if (rc == LS_OK && !abort)
			rc = r;
	}
	ls__etcd_close(&k->kc);
	ls__etcd_close(&k->c);
	ls__ebuf_free(&k->key);
	free(k);
	return rc;
}

int
ls__etcd_sink(const struct ls__uri *u, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err)
{
	struct esink *k = calloc(1, sizeof(*k));
	int rc;

	if (k == NULL)
		return nomem(err);
	if (o != NULL) {
		k->plain = o->etcd_plain_keys;
		k->revoke = o->lease_revoke;
		k->ttl = o->lease_ttl_s;
	}
	if ((rc = ls__etcd_open(&k->c, u, err)) != LS_OK ||
	    (k->ttl > 0 && (rc = lease_start(k, u, err)) != LS_OK)) {
		ls__etcd_close(&k->kc);
		ls__etcd_close(&k->c);
		free(k);
		return rc;
	}
	b->ctx = k;
	b->write = esink_write;
	b->flush = esink_flush;
	b->close = esink_close;
	return LS_OK;
}
#endif
