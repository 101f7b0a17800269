/*
 * The HTTP collector: http://HOST[:PORT]/PATH (https://, or http:// with
 * a certificate, serves TLS), through libmicrohttpd (MHD).
 *
 * A client POSTs a body of lines (text/plain: our line framing or plain
 * lines) or of JSON values, one a line (application/x-ndjson or
 * application/json: each a payload with default meta). A request is
 * checked whole when its body is in: a bad line rejects all of it (400,
 * "line N: why"), so that a request is taken entirely or not at all.
 * Taken, it waits in a queue for ls_source_next, its connection
 * suspended; once every message of it has been committed (the stage's
 * output flushed them) the connection is resumed and answered 200
 * {"accepted":N}. The bodies held (being received, waiting or being
 * returned) count against max_queue: a request that does not fit is
 * answered 503 with Retry-After, so memory stays bounded while the
 * output is slow.
 *
 * MHD runs in its own thread (MHD_USE_INTERNAL_POLLING_THREAD), not
 * driven from next(): a stage blocks in its output (a FIFO nobody reads
 * yet, a full pipe) outside next(), and an MHD driven from next() would
 * then answer nobody; its own thread keeps answering 503, 401, 404 and
 * health checks meanwhile. The two threads share only the queue, the
 * byte count and the stop flag, under one mutex; an eventfd wakes
 * next(). That thread starts with every signal blocked, so that SIGTERM
 * interrupts the stage's own waits.
 */
#include "ls-internal.h"
#include "io-internal.h"

#ifndef LS_HAVE_MHD
int
ls__http_source(const struct ls__uri *u, const ls_source_opts *o,
    const char *name, struct ls__src *b, ls_error *err)
{
	(void)o;
	(void)b;
	return ls__failn(err, LS_ERR_INVAL, 0, name ? name : u->text, "this "
	    "libstream was built without libmicrohttpd: install "
	    "libmicrohttpd-dev and rebuild");
}
#else
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dl-mhd.h"

LS__DL_DEFINE(ls__mhd, LS_SONAME_MHD, LS_PKG_MHD, LS__MHD_FNS)

#include "streams-internal.h"

#define HMAX_BODY ((size_t)64 << 20)	/* default --max-body */
#define HMAX_QUEUE ((size_t)256 << 20)	/* default --max-queue */
#define HMAX_LINE ((size_t)1 << 20)	/* default --max-line */
#define HCLIENTS 1024u			/* default --max-clients */
#define HIDLE_MS 60000u			/* default --idle-timeout */
#define HTAKEN 256u		/* requests returned before a commit is due */
#define HPOLL_MS 1000		/* a wait looks at the stop flag this often */
#define HDRAIN_MS 5000		/* answers finish this long after a stop */
#define HFILE_MAX ((size_t)1 << 20)	/* a token or PEM file, at most */
#define HEALTH "/healthz"

struct hsrc;

/* One POST, from its headers to its answer. */
struct hreq {
	struct hsrc *s;
	struct MHD_Connection *conn;
	struct hreq *next;	/* in the ready queue, then the taken list */
	bool ndjson;
	unsigned status;	/* the answer once decided, else 0 */
	unsigned char *body;
	size_t len, cap;	/* cap counts in s->held */
	size_t nmsg;		/* messages in the body */
	char client[64];	/* "ADDR:PORT" */
	char text[LS_ERRMSG_MAX + 32];	/* the answer's body */
	/* the main thread's walk through the body */
	size_t pos, returned;
	uint64_t lineno;
};

struct hsrc {
	const char *name;
	const ls_source_opts *o;
	struct MHD_Daemon *d;
	int lfd, efd;
	bool quiesced;
	char *path;		/* the POST path, decoded */
	char *token;		/* the bearer token, or NULL */
	size_t token_len;
	size_t max_body, max_queue, max_line;
	char too_big[80];	/* the 413's text */
	/* shared with MHD's thread, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* signalled as requests end */
	size_t held;		/* bytes of bodies held */
	size_t live;		/* requests begun and not ended */
	size_t waiting;		/* requests queued and not answered */
	bool stopping;
	bool asleep;		/* next() waits on efd: a request wakes it */
	struct hreq *ready, *ready_tail;
	/* the main thread's */
	struct hreq *taken, *taken_tail;	/* returned from, in order,
						   not yet answered */
	size_t ntaken;
	struct hreq *cur;	/* being returned */
	struct hreq *holding;	/* that of the message returned last */
	bool ended;
	struct ls__streams seqs;
	char where_client[64];
	uint64_t where_line;
};

/* --- bodies ---------------------------------------------------------- */

/*
 * The next line of r's body from *pos, counted in *lineno: false at its
 * end. ndjson leaves out empty lines and a line's final '\r'.
 */
static bool
body_line(const struct hreq *r, size_t *pos, uint64_t *lineno,
    const unsigned char **line, size_t *len)
{
	while (*pos < r->len) {
		const unsigned char *p = r->body + *pos;
		const unsigned char *nl = memchr(p, '\n', r->len - *pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : r->len - *pos;

		*pos += n + (nl != NULL);
		++*lineno;
		if (r->ndjson && n > 0 && p[n - 1] == '\r')
			n--;
		if (r->ndjson && n == 0)
			continue;
		*line = p;
		*len = n;
		return true;
	}
	return false;
}

/* Checks every line of r's body and counts its messages; false (and a
 * 400 naming the line) at the first bad one. */
static bool
body_check(const struct hsrc *s, struct hreq *r)
{
	const unsigned char *line;
	size_t pos = 0, len;
	uint64_t no = 0;
	unsigned have;
	ls_msg m;
	ls_error e;

	while (body_line(r, &pos, &no, &line, &len)) {
		if (len > s->max_line)
			snprintf(e.msg, sizeof(e.msg), "longer than %zu bytes "
			    "(--max-line)", s->max_line);
		else if (r->ndjson && !ls_json_valid(line, len))
			snprintf(e.msg, sizeof(e.msg), "not a JSON value");
		else if (r->ndjson || ls_line_parse((const char *)line, len,
		    &m, &have, &e) == LS_OK) {
			r->nmsg++;
			continue;
		}
		r->status = MHD_HTTP_BAD_REQUEST;
		snprintf(r->text, sizeof(r->text), "line %llu: %s\n",
		    (unsigned long long)no, e.msg);
		return false;
	}
	return true;
}

/* Gives r's body room for need bytes (at most max_body), counted in
 * s->held; false if the queue has no room or memory is out. */
static bool
body_room(struct hsrc *s, struct hreq *r, size_t need)
{
	size_t cap = r->cap;
	unsigned char *p;
	bool ok;

	if (cap >= need)
		return true;
	cap = cap > s->max_body / 2 ? s->max_body : cap * 2;
	if (cap < need)
		cap = need;
	pthread_mutex_lock(&s->mu);
	ok = !s->stopping && s->held <= s->max_queue &&
	    cap - r->cap <= s->max_queue - s->held;
	if (ok)
		s->held += cap - r->cap;
	pthread_mutex_unlock(&s->mu);
	if (!ok)
		return false;
	if ((p = realloc(r->body, cap)) == NULL) {
		pthread_mutex_lock(&s->mu);
		s->held -= cap - r->cap;
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	r->body = p;
	r->cap = cap;
	return true;
}

/* Drops r's body (its bytes no longer held). */
static void
body_drop(struct hsrc *s, struct hreq *r)
{
	pthread_mutex_lock(&s->mu);
	s->held -= r->cap;
	pthread_mutex_unlock(&s->mu);
	free(r->body);
	r->body = NULL;
	r->cap = r->len = 0;
}

/* --- answers (MHD's thread) ------------------------------------------ */

static const char busy_text[] = "the output is behind: send again later\n";
static const char stop_text[] = "stopping: send again later\n";

/* Queues the answer status with text; allow: the Allow header of a 405. */
static enum MHD_Result
reply(struct hsrc *s, struct MHD_Connection *c, unsigned status,
    const char *text, const char *allow)
{
	struct MHD_Response *rs;
	enum MHD_Result rc;
	bool json = text[0] == '{';

	rs = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_MUST_COPY);
	if (rs == NULL)
		return MHD_NO;
	MHD_add_response_header(rs, MHD_HTTP_HEADER_CONTENT_TYPE, json ?
	    "application/json" : "text/plain; charset=utf-8");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(rs, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer");
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(rs, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (allow != NULL)
		MHD_add_response_header(rs, MHD_HTTP_HEADER_ALLOW, allow);
	pthread_mutex_lock(&s->mu);
	if (s->stopping)
		MHD_add_response_header(rs, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	pthread_mutex_unlock(&s->mu);
	rc = MHD_queue_response(c, status, rs);
	MHD_destroy_response(rs);
	return rc;
}

static bool
stopping(struct hsrc *s)
{
	bool v;

	pthread_mutex_lock(&s->mu);
	v = s->stopping;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* GET or HEAD of the health path: 200 while taking requests, 503 once
 * stopping, with the requests waiting for the output and the bytes
 * held. */
static enum MHD_Result
health(struct hsrc *s, struct MHD_Connection *c, const char *method)
{
	char text[96];
	bool stop;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(s, c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "GET or HEAD here\n", "GET, HEAD");

	pthread_mutex_lock(&s->mu);
	stop = s->stopping;
	snprintf(text, sizeof(text), "{\"ok\":%s,\"waiting\":%zu,"
	    "\"held\":%zu}\n", stop ? "false" : "true", s->waiting, s->held);
	pthread_mutex_unlock(&s->mu);
	return reply(s, c, stop ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
	    text, NULL);
}

/* Compares in a time that depends on the lengths only. */
static bool
token_equal(const char *want, size_t wn, const char *got, size_t gn)
{
	unsigned d = wn != gn;

	for (size_t i = 0; i < wn; i++)
		d |= (unsigned char)want[i] ^
		    (unsigned char)(i < gn ? got[i] : 0);
	return d == 0;
}

static bool
authorized(const struct hsrc *s, struct MHD_Connection *c)
{
	const char *h;

	if (s->token == NULL)
		return true;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	for (h += 7; *h == ' '; h++)
		;
	return token_equal(s->token, s->token_len, h, strlen(h));
}

/* 0 lines, 1 ndjson, -1 neither (no Content-Type: lines). */
static int
body_kind(const char *ct)
{
	static const char *const kinds[] = { "text/plain",
	    "application/x-ndjson", "application/ndjson", "application/json" };
	size_t n;

	if (ct == NULL)
		return 0;
	n = strcspn(ct, "; \t");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i]) == n && strncasecmp(ct, kinds[i], n) == 0)
			return i > 0;
	return -1;
}

/* The client's address as ADDR:PORT into buf. */
static void
client_name(struct MHD_Connection *c, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[48], port[8];
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	socklen_t len = sa != NULL && sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if (sa == NULL || getnameinfo(sa, len, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, n, "?");
	else
		snprintf(buf, n, sa->sa_family == AF_INET6 ? "[%s]:%s" :
		    "%s:%s", host, port);
}

/* A POST's state, once its headers are in; or its answer (status, and
 * text in *why) if it is refused already. */
static unsigned
req_new(struct hsrc *s, struct MHD_Connection *c, void **ptr,
    const char **why)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	int kind = body_kind(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE));
	unsigned long long n = cl != NULL ? strtoull(cl, NULL, 10) : 0;
	struct hreq *r;

	*why = kind < 0 ? "Content-Type: text/plain, application/x-ndjson "
	    "or application/json, please\n" : s->too_big;
	if (kind < 0)
		return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
	if (n > s->max_body)
		return MHD_HTTP_CONTENT_TOO_LARGE;
	*why = busy_text;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	r->s = s;
	r->ndjson = kind == 1;
	if (n > 0 && !body_room(s, r, (size_t)n)) {
		free(r);
		*why = stopping(s) ? stop_text : busy_text;
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	client_name(c, r->client, sizeof(r->client));
	pthread_mutex_lock(&s->mu);
	s->live++;
	pthread_mutex_unlock(&s->mu);
	*ptr = r;
	return 0;
}

/* The first call for a request: its path, method and token. */
static enum MHD_Result
req_start(struct hsrc *s, struct MHD_Connection *c, const char *url,
    const char *method, void **ptr)
{
	const char *why;
	unsigned status;

	if (strcmp(url, HEALTH) == 0 && strcmp(s->path, HEALTH) != 0)
		return health(s, c, method);
	if (strcmp(url, s->path) != 0)
		return reply(s, c, MHD_HTTP_NOT_FOUND, "no such path\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		return reply(s, c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "POST here\n", "POST");
	if (!authorized(s, c))
		return reply(s, c, MHD_HTTP_UNAUTHORIZED, "a valid bearer "
		    "token is needed\n", NULL);
	if ((status = req_new(s, c, ptr, &why)) != 0)
		return reply(s, c, status, why, NULL);
	return MHD_YES;
}

/* Refuses r with status and text, dropping what it holds. */
static void
req_refuse(struct hsrc *s, struct hreq *r, unsigned status, const char *text)
{
	r->status = status;
	snprintf(r->text, sizeof(r->text), "%s", text);
	body_drop(s, r);
}

/* Takes data[0..n) of r's body; once r is refused, the rest is read
 * and dropped. */
static void
req_take(struct hsrc *s, struct hreq *r, const char *data, size_t n)
{
	if (r->status != 0)
		return;
	if (n > s->max_body - r->len)
		req_refuse(s, r, MHD_HTTP_CONTENT_TOO_LARGE, s->too_big);
	else if (!body_room(s, r, r->len + n))
		req_refuse(s, r, MHD_HTTP_SERVICE_UNAVAILABLE, stopping(s) ?
		    stop_text : busy_text);
	else {
		memcpy(r->body + r->len, data, n);
		r->len += n;
	}
}

/* Queues r for next(), its connection suspended until it is answered;
 * false if stopping. */
static bool
req_queue(struct hsrc *s, struct hreq *r, struct MHD_Connection *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	r->conn = c;
	/* before the main thread can see it, which may resume it */
	MHD_suspend_connection(c);
	s->waiting++;
	if (s->ready_tail != NULL)
		s->ready_tail->next = r;
	else
		s->ready = r;
	s->ready_tail = r;
	bool wake = s->asleep;	/* else next() pops it without a wait */
	s->asleep = false;
	pthread_mutex_unlock(&s->mu);
	/* EAGAIN: the counter is set already, which is all it says */
	while (wake && write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	return true;
}

/* The body is in: checked and queued, or answered now. Called again
 * once a queued request is resumed, with its answer. */
static enum MHD_Result
req_end(struct hsrc *s, struct hreq *r, struct MHD_Connection *c)
{
	if (r->status == 0 && body_check(s, r)) {
		if (r->nmsg > 0 && req_queue(s, r, c))
			return MHD_YES;
		if (r->nmsg > 0)
			req_refuse(s, r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    stop_text);
		else {
			r->status = MHD_HTTP_OK;
			snprintf(r->text, sizeof(r->text),
			    "{\"accepted\":0}\n");
		}
	}
	if (r->status != MHD_HTTP_OK && r->body != NULL)
		body_drop(s, r);
	return reply(s, c, r->status, r->text, NULL);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *size, void **ptr)
{
	struct hsrc *s = cls;
	struct hreq *r = *ptr;

	(void)version;
	if (r == NULL)
		return req_start(s, c, url, method, ptr);
	if (*size > 0) {
		req_take(s, r, data, *size);
		*size = 0;
		return MHD_YES;
	}
	return req_end(s, r, c);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **ptr,
    enum MHD_RequestTerminationCode toe)
{
	struct hsrc *s = cls;
	struct hreq *r = *ptr;

	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	*ptr = NULL;
	pthread_mutex_lock(&s->mu);
	s->held -= r->cap;
	s->live--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	free(r->body);
	free(r);
}

/* --- the stage's side (the main thread) ------------------------------ */

/* Answers r, which the main thread lets go of: resumed, MHD's thread
 * sends status and r->text. */
static void
answer(struct hsrc *s, struct hreq *r, unsigned status)
{
	pthread_mutex_lock(&s->mu);
	r->status = status;
	s->waiting--;
	pthread_mutex_unlock(&s->mu);
	MHD_resume_connection(r->conn);
}

/* Fills the meta that m's line did not carry (have), as for files
 * (ls__line_meta); an error names the client. */
static int
msg_meta(struct hsrc *s, ls_msg *m, unsigned have, ls_error *err)
{
	char why[LS_ERRMSG_MAX];
	int rc = ls__line_meta(&s->seqs, m, have, s->where_line, err);

	if (rc != LS_ERR_INVAL || err == NULL)
		return rc;
	snprintf(why, sizeof(why), "%s", err->msg);
	return ls__fail(err, rc, s->where_line, "client %s %s",
	    s->where_client, why);
}

/* The next message of r, whose body has one more. */
static int
req_msg(struct hsrc *s, struct hreq *r, ls_msg *m, ls_error *err)
{
	const unsigned char *line = NULL;
	size_t len = 0;
	unsigned have = 0;

	body_line(r, &r->pos, &r->lineno, &line, &len);
	r->returned++;
	s->holding = r;
	s->where_line = r->lineno;
	if (r->ndjson || ls_line_parse((const char *)line, len, m, &have,
	    err) != LS_OK) {
		/* checked already: a line that fails now is a payload */
		m->payload = line;
		m->len = len;
		have = 0;
	}
	return msg_meta(s, m, have, err);
}

/* Takes the first ready request, if any, as the one being returned; if
 * none and will_wait, the next one queued is to write efd (only then: a
 * write, and a wake-up, less for each request queued while next() is
 * busy). */
static bool
req_pop(struct hsrc *s, bool will_wait)
{
	struct hreq *r;

	pthread_mutex_lock(&s->mu);
	if ((r = s->ready) != NULL && (s->ready = r->next) == NULL)
		s->ready_tail = NULL;
	if (r == NULL && will_wait)
		s->asleep = true;
	pthread_mutex_unlock(&s->mu);
	if (r == NULL)
		return false;
	r->next = NULL;
	if (s->taken_tail != NULL)
		s->taken_tail->next = r;
	else
		s->taken = r;
	s->taken_tail = r;
	s->ntaken++;
	s->cur = r;
	memcpy(s->where_client, r->client, sizeof(s->where_client));
	return true;
}

/* Stops taking requests: those that come get 503, new connections wait
 * unaccepted until the end. */
static void
stop_taking(struct hsrc *s)
{
	s->ended = true;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	if (!s->quiesced) {
		MHD_quiesce_daemon(s->d);
		s->quiesced = true;
	}
}

/* Waits for a request to be queued; LS_AGAIN if the wait hook gave up. */
static int
await(struct hsrc *s)
{
	struct pollfd p = { .fd = s->efd, .events = POLLIN };
	uint64_t v;

	if (s->o->wait != NULL) {
		if (s->o->wait(s->o->wait_ctx, s->efd) != 0)
			return LS_AGAIN;
	} else if (poll(&p, 1, HPOLL_MS) < 0 && errno != EINTR)
		return LS_ERR_IO;
	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return LS_ERR_IO;
	return LS_OK;
}

static bool
stopped(const struct hsrc *s)
{
	return s->o->stop != NULL && *s->o->stop;
}

static void
on_wait(const struct hsrc *s)
{
	if (s->o->on_wait != NULL)
		s->o->on_wait(s->o->wait_ctx);
}

/* The next request to return messages from: LS_OK, LS_END once
 * stopped, LS_AGAIN, or an error. */
static int
take(struct hsrc *s, ls_error *err)
{
	int rc;

	if (s->ended)
		return LS_END;
	/* under a steady load the input never waits: commit now and then */
	if (s->ntaken >= HTAKEN)
		on_wait(s);
	for (;;) {
		if (stopped(s)) {
			stop_taking(s);
			return LS_END;
		}
		if (req_pop(s, false))
			return LS_OK;
		on_wait(s);
		if (req_pop(s, true))
			return LS_OK;
		if ((rc = await(s)) == LS_ERR_IO)
			return ls__failn(err, rc, 0, s->name, "wait: %s",
			    strerror(errno));
		if (rc != LS_OK)
			return rc;
	}
}

static int
hsrc_next(void *ctx, ls_msg *m, ls_error *err)
{
	struct hsrc *s = ctx;
	int rc;

	s->holding = NULL;	/* the caller is done with the last one */
	for (;;) {
		if (s->cur != NULL && s->cur->returned < s->cur->nmsg)
			return req_msg(s, s->cur, m, err);
		if ((rc = take(s, err)) != LS_OK)
			return rc;
	}
}

/* Answers 200 to each request whose messages were all returned and
 * are done with. */
static int
hsrc_commit(void *ctx, ls_error *err)
{
	struct hsrc *s = ctx;
	struct hreq *r;

	(void)err;
	while ((r = s->taken) != NULL && r->returned == r->nmsg &&
	    r != s->holding) {
		if ((s->taken = r->next) == NULL)
			s->taken_tail = NULL;
		s->ntaken--;
		if (r == s->cur)
			s->cur = NULL;
		snprintf(r->text, sizeof(r->text), "{\"accepted\":%zu}\n",
		    r->nmsg);
		answer(s, r, MHD_HTTP_OK);
	}
	return LS_OK;
}

static uint64_t
hsrc_where(void *ctx)
{
	return ((struct hsrc *)ctx)->where_line;
}

static void
hsrc_where_text(void *ctx, char *buf, size_t n)
{
	struct hsrc *s = ctx;

	snprintf(buf, n, "client %s line %llu", s->where_client,
	    (unsigned long long)s->where_line);
}

/* 503 to every request not answered yet (uncommitted ones too: the
 * client sends them again), then a while for the answers to go out. */
static void
drain(struct hsrc *s)
{
	struct hreq *r, *ready;
	struct timespec end;

	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	ready = s->ready;
	s->ready = s->ready_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while ((r = s->taken) != NULL || (r = ready) != NULL) {
		if (r == s->taken)
			s->taken = r->next;
		else
			ready = r->next;
		snprintf(r->text, sizeof(r->text), "%s", stop_text);
		answer(s, r, MHD_HTTP_SERVICE_UNAVAILABLE);
	}
	s->taken_tail = s->cur = NULL;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += HDRAIN_MS / 1000;
	pthread_mutex_lock(&s->mu);
	while (s->live > 0 && pthread_cond_timedwait(&s->cv, &s->mu,
	    &end) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->mu);
}

static void
hsrc_free(struct hsrc *s)
{
	if (s->d != NULL) {
		if (!s->quiesced)
			MHD_quiesce_daemon(s->d);
		MHD_stop_daemon(s->d);
	}
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->efd >= 0)
		close(s->efd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	ls__streams_free(&s->seqs);
	if (s->token != NULL)
		explicit_bzero(s->token, s->token_len);
	free(s->token);
	free(s->path);
	free(s);
}

static void
hsrc_close(void *ctx)
{
	struct hsrc *s = ctx;

	if (!s->quiesced) {
		MHD_quiesce_daemon(s->d);
		s->quiesced = true;
	}
	drain(s);
	hsrc_free(s);
}

/* --- opening --------------------------------------------------------- */

/* The whole of file path (at most HFILE_MAX bytes) as a string, in
 * *out; what names it in errors. */
static int
file_read(const char *path, const char *what, char **out, ls_error *err)
{
	char *buf = malloc(HFILE_MAX + 1);
	size_t n = 0;
	ssize_t k = 1;
	int fd;

	if ((*out = buf) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		while (n <= HFILE_MAX &&
		    (k = read(fd, buf + n, HFILE_MAX + 1 - n)) > 0)
			n += (size_t)k;
		close(fd);
	}
	if (fd >= 0 && k >= 0 && n <= HFILE_MAX) {
		buf[n] = '\0';
		return LS_OK;
	}
	free(buf);
	*out = NULL;
	return ls__fail(err, LS_ERR_IO, 0, "%s %s: %s", what, path,
	    n > HFILE_MAX ? "longer than 1 MiB" : strerror(errno));
}

/* The bearer token: from o->token_file, else $LS_HTTP_TOKEN, else none.
 * White space around it is not part of it. */
static int
token_load(struct hsrc *s, ls_error *err)
{
	const char *env = getenv("LS_HTTP_TOKEN");
	const char *from = s->o->token_file ? s->o->token_file :
	    "$LS_HTTP_TOKEN";
	char *t;
	size_t n, i = 0;
	int rc;

	if (s->o->token_file != NULL) {
		if ((rc = file_read(s->o->token_file, "token file", &t,
		    err)) != LS_OK)
			return rc;
	} else if (env == NULL)
		return LS_OK;
	else if ((t = strdup(env)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	n = strlen(t);
	while (n > 0 && strchr(" \t\r\n", t[n - 1]) != NULL)
		t[--n] = '\0';
	while (t[i] != '\0' && strchr(" \t\r\n", t[i]) != NULL)
		i++;
	memmove(t, t + i, n - i + 1);
	s->token = t;
	s->token_len = n - i;
	if (s->token_len == 0 || strpbrk(t, " \t\r\n") != NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "the token of "
		    "%s is %s", from, s->token_len == 0 ? "empty" :
		    "more than one word");
	return LS_OK;
}

/* The limits of o, or their defaults. */
static void
limits(struct hsrc *s, const ls_source_opts *o)
{
	s->max_body = o->max_body ? o->max_body : HMAX_BODY;
	s->max_queue = o->max_queue ? o->max_queue : HMAX_QUEUE;
	s->max_line = o->max_line ? o->max_line : HMAX_LINE;
	/* a body the queue cannot hold is too large, not a busy moment */
	if (s->max_body > s->max_queue)
		s->max_body = s->max_queue;
	snprintf(s->too_big, sizeof(s->too_big), "the body is over %zu "
	    "bytes\n", s->max_body);
}

/* Binds and listens on u's host and port. */
static int
http_listen(struct hsrc *s, const struct ls__uri *u, bool tls,
    ls_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai;
	struct ls__host h;
	const char *why = ls__host_parse(u->hosts, u->hosts_len, &h);
	char port[12];
	int one = 1, rc;

	if (why != NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "%s", why);
	snprintf(port, sizeof(port), "%u", h.port ? h.port : tls ? 443 : 80);
	if ((rc = getaddrinfo(h.host, port, &hints, &ai)) != 0)
		return ls__failn(err, LS_ERR_IO, 0, s->name, "host %s: %s",
		    h.host, gai_strerror(rc));
	s->lfd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 || bind(s->lfd, ai->ai_addr, ai->ai_addrlen) !=
	    0 || listen(s->lfd, SOMAXCONN) != 0) {
		freeaddrinfo(ai);
		return ls__failn(err, LS_ERR_IO, 0, s->name, "cannot listen on "
		    "%s port %s: %s", h.host, port, strerror(errno));
	}
	freeaddrinfo(ai);
	return LS_OK;
}

/* Starts MHD's thread with every signal blocked (it inherits that). */
static int
daemon_start(struct hsrc *s, const char *cert, const char *key,
    ls_error *err)
{
	const ls_source_opts *o = s->o;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key },
		{ MHD_OPTION_END, 0, NULL }
	};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_ALLOW_SUSPEND_RESUME | (cert ? MHD_USE_TLS : 0);
	uint64_t idle = o->idle_ms ? o->idle_ms : HIDLE_MS;
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_LISTEN_SOCKET, s->lfd,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(o->max_clients ? o->max_clients : HCLIENTS),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((idle + 999) / 1000),
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_ARRAY, cert ? tls : tls + 2, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (s->d == NULL)
		return ls__failn(err, LS_ERR_IO, 0, s->name, cert ? "cannot "
		    "start the HTTPS server (are --tls-cert and --tls-key a "
		    "PEM certificate and its key?)" : "cannot start the HTTP "
		    "server");
	return LS_OK;
}

/* Reads the certificate and key (if any) and starts the server. */
static int
http_start(struct hsrc *s, bool tls, ls_error *err)
{
	char *cert = NULL, *key = NULL;
	int rc;

	if (tls && (s->o->tls_cert == NULL || s->o->tls_key == NULL))
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "TLS needs "
		    "both --tls-cert and --tls-key");
	if (tls && !MHD_is_feature_supported(MHD_FEATURE_TLS))
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "this "
		    "libmicrohttpd was built without TLS");
	if (!tls || ((rc = file_read(s->o->tls_cert, "certificate", &cert,
	    err)) == LS_OK && (rc = file_read(s->o->tls_key, "key", &key,
	    err)) == LS_OK))
		rc = daemon_start(s, cert, key, err);
	free(cert);
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(key);
	return rc;
}

/* The POST path of u, decoded as MHD decodes a request's ("/" if none). */
static int
http_path(struct hsrc *s, const struct ls__uri *u, ls_error *err)
{
	const char *p = u->upath ? u->upath : "/";
	size_t n = strcspn(p, "?#"), len;

	if ((s->path = ls__pct_decode(p, n, &len)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if (strlen(s->path) != len)
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "%%00 in the "
		    "path");
	return LS_OK;
}

int
ls__http_source(const struct ls__uri *u, const ls_source_opts *o,
    const char *name, struct ls__src *b, ls_error *err)
{
	struct hsrc *s = calloc(1, sizeof(*s));
	bool tls = strncmp(u->text, "https:", 6) == 0 || o->tls_cert != NULL;
	pthread_condattr_t ca;
	int rc;

	if (s == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	s->name = name;
	s->o = o;
	s->lfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* drain() */
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	limits(s, o);
	if ((s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		rc = ls__failn(err, LS_ERR_IO, 0, name, "eventfd: %s",
		    strerror(errno));
	else if ((rc = http_path(s, u, err)) == LS_OK &&
	    (rc = token_load(s, err)) == LS_OK &&
	    (rc = ls__mhd_load(name, err)) == LS_OK &&
	    (rc = http_listen(s, u, tls, err)) == LS_OK)
		rc = http_start(s, tls, err);
	if (rc != LS_OK) {
		hsrc_free(s);
		return rc;
	}
	b->ctx = s;
	b->lines = true;	/* a stream whose numbers are spent */
	b->next = hsrc_next;
	b->commit = hsrc_commit;
	b->where = hsrc_where;
	b->where_text = hsrc_where_text;
	b->close = hsrc_close;
	return LS_OK;
}
#endif
