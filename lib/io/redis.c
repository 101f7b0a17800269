/* Redis Streams through hiredis: redis://[[USER]:PASSWORD@]HOST[:PORT]/STREAM
 *
 * A sink turns each message into one XADD of two fields, payload and
 * key/seq/shard/ts ("KEY/SEQ/SHARD/TS"): Redis's work grows with the
 * fields of an entry (callgrind of redis-server, 100,000 XADDs: 10,100
 * instructions an entry with one field, 11,600 with these two, 13,100
 * with the three of the version before, payload, key and seq/shard/ts,
 * and 16,100 with the five of earlier ones).
 * The commands are formatted here into a batch buffer and pipelined: a
 * batch goes out when it holds RBATCH commands or RBATCH_BYTES, and
 * replies are read only while more than RINFLIGHT commands wait for
 * theirs, so that the server always has the next batches (with one
 * batch of 1,024 in flight it sat idle a tenth of the time). A flush
 * sends what is left and reads every reply.
 *
 * A source reads with XREAD (or XREADGROUP in a consumer group), RCOUNT
 * entries a call, and returns them from the reply; a following source
 * blocks RBLOCK_MS at a time, looking at the stop flag in between. In a
 * group, the IDs returned are kept until commit, which XACKs them.
 * relay(1) describes the mapping of fields to meta. */
#include "ls-internal.h"
#include "io-internal.h"

#ifndef LS_HAVE_HIREDIS
int
ls__redis_source(const struct ls__uri *u, const ls_source_opts *o,
    struct ls__src *b, ls_error *err)
{
	const char *uri = u->text;
	(void)o;
	(void)b;
	return ls__failn(err, LS_ERR_INVAL, 0, uri, "this libstream was built "
	    "without hiredis: install libhiredis-dev and rebuild");
}

int
ls__redis_sink(const struct ls__uri *u, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err)
{
	const char *uri = u->text;
	(void)o;
	(void)b;
	return ls__failn(err, LS_ERR_INVAL, 0, uri, "this libstream was built "
	    "without hiredis: install libhiredis-dev and rebuild");
}
#else
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include "dl-hiredis.h"

LS__DL_DEFINE(ls__hiredis, LS_SONAME_HIREDIS, LS_PKG_HIREDIS, LS__HIREDIS_FNS)

#define RPORT 6379
#define RBATCH 256			/* XADDs a write, at most */
#define RBATCH_BYTES (256u * 1024u)	/* or this many bytes of commands */
#define RINFLIGHT 1024			/* XADDs sent whose replies may wait */
#define RCOUNT 1024			/* entries an XREAD asks for */
#define RBLOCK_MS "200"			/* a follower's XREAD BLOCK */
#define RACKS 1024			/* IDs an XACK carries */
#define RCONNECT_S 10			/* connect timeout */
#define RID_MAX 48			/* "ms-seq" and its NUL */

/* --- connections ----------------------------------------------------- */

struct conn {
	redisContext *c;
	char *name;		/* the URI without its password, for messages */
	char *stream;		/* the stream's key in Redis */
	size_t stream_len;
	bool named;		/* messages start with name (else the caller's
				   name for the source comes first) */
};

static void
conn_close(struct conn *cn)
{
	if (cn->c != NULL)
		redisFree(cn->c);
	free(cn->name);
	free(cn->stream);
	memset(cn, 0, sizeof(*cn));
}

/* The error of a failed hiredis call on cn: LS_ERR_IO with cn's name. */
static int
conn_fail(struct conn *cn, ls_error *err, const char *what)
{
	return ls__fail(err, LS_ERR_IO, 0, "%s%s%s: %s", cn->named ? cn->name :
	    "", cn->named ? ": " : "", what, cn->c->errstr[0] != '\0' ?
	    cn->c->errstr : "connection lost");
}

/* A reply that is an error, or NULL (the connection failed): fails with
 * a message naming cn and what, and frees r. */
static int
reply_fail(struct conn *cn, redisReply *r, ls_error *err, const char *what)
{
	int rc;

	if (r == NULL)
		return conn_fail(cn, err, what);
	if (r->type == REDIS_REPLY_ERROR)
		rc = ls__fail(err, LS_ERR_IO, 0, "%s%s%s: %.*s", cn->named ?
		    cn->name : "", cn->named ? ": " : "", what, (int)r->len,
		    r->str);
	else
		rc = ls__fail(err, LS_ERR_IO, 0, "%s%s%s: unexpected reply "
		    "(type %d)", cn->named ? cn->name : "", cn->named ? ": " :
		    "", what, r->type);
	freeReplyObject(r);
	return rc;
}

/* Runs a command given as NULL-terminated strings; returns its reply or
 * NULL with err set (an error reply is a failure). */
static redisReply *
conn_cmd(struct conn *cn, const char *what, ls_error *err, ...)
{
	const char *argv[24];
	size_t lens[24];
	int argc = 0;
	va_list ap;
	redisReply *r;

	va_start(ap, err);
	while (argc < 24 && (argv[argc] = va_arg(ap, const char *)) != NULL) {
		lens[argc] = strlen(argv[argc]);
		argc++;
	}
	va_end(ap);
	r = redisCommandArgv(cn->c, argc, argv, lens);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		reply_fail(cn, r, err, what);
		return NULL;
	}
	return r;
}

/*
 * Decodes the part what of the URI, p[0..n), into *out. A name (a
 * stream, a user, a password) goes to Redis as a C string: a %00 in it
 * is refused, rather than cutting it short there.
 */
static int
name_decode(struct conn *cn, const char *what, const char *p, size_t n,
    char **out, ls_error *err)
{
	size_t len;

	if ((*out = ls__pct_decode(p, n, &len)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if ((n = strlen(*out)) == len)
		return LS_OK;
	explicit_bzero(*out, len);
	free(*out);
	*out = NULL;
	return ls__failn(err, LS_ERR_INVAL, 0, cn->name, "%s: %%00 (a NUL "
	    "byte) at byte %zu is not allowed", what, n + 1);
}

/* [USER]:PASSWORD or PASSWORD, p[0..at), into *user and *pass. */
static int
creds_parse(struct conn *cn, const char *p, const char *at, char **user,
    char **pass, ls_error *err)
{
	const char *c = memchr(p, ':', (size_t)(at - p));
	int rc;

	if (c == NULL)
		return name_decode(cn, "password", p, (size_t)(at - p), pass,
		    err);
	if (c > p && (rc = name_decode(cn, "user", p, (size_t)(c - p), user,
	    err)) != LS_OK)
		return rc;
	return name_decode(cn, "password", c + 1, (size_t)(at - c - 1), pass,
	    err);
}

/* HOST, [V6HOST], either with :PORT, hp[0..n), into h (port RPORT if
 * none is given). */
static int
host_parse(struct conn *cn, const char *hp, size_t n, struct ls__host *h,
    ls_error *err)
{
	char pb[LS__NAME_BUF];
	const char *why = ls__host_parse(hp, n, h);

	if (why == NULL) {
		if (h->port == 0)
			h->port = RPORT;
		return LS_OK;
	}
	if (strcmp(why, "bad port") != 0)
		return ls__failn(err, LS_ERR_INVAL, 0, cn->name, "%s",
		    strcmp(why, "empty host") == 0 ? "bad host" : why);
	if (h->port_len == 0)
		return ls__failn(err, LS_ERR_INVAL, 0, cn->name, "bad port");
	return ls__failn(err, LS_ERR_INVAL, 0, cn->name, "bad port '%s'",
	    ls__namen(h->port_text, h->port_len, pb));
}

/* Connects to host and port, authenticates with user and pass (if not
 * NULL), and checks that the key is a stream or nothing. */
static int
conn_connect(struct conn *cn, const char *host, long port, const char *user,
    const char *pass, ls_error *err)
{
	struct timeval tv = { RCONNECT_S, 0 };
	char nb[LS__NAME_BUF];
	redisReply *r;
	int rc = LS_OK;

	if ((cn->c = redisConnectWithTimeout(host, (int)port, tv)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if (cn->c->err)
		return ls__failn(err, LS_ERR_IO, 0, cn->name, "cannot connect "
		    "to %s port %ld: %s", host, port, cn->c->errstr);
	/* the connect timeout is not one for replies: a follower blocks */
	tv.tv_sec = 0;
	redisSetTimeout(cn->c, tv);
	redisEnableKeepAlive(cn->c);
	if (pass != NULL) {
		r = user != NULL ?
		    conn_cmd(cn, "AUTH", err, "AUTH", user, pass, NULL) :
		    conn_cmd(cn, "AUTH", err, "AUTH", pass, NULL);
		if (r == NULL)
			return LS_ERR_IO;
		freeReplyObject(r);
	}
	/* a first command, so that a refusal (NOAUTH) or a key that is not
	 * a stream shows here, not in the middle of a stream */
	if ((r = conn_cmd(cn, "TYPE", err, "TYPE", cn->stream, NULL)) == NULL)
		return LS_ERR_IO;
	if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "stream") != 0 &&
	    strcmp(r->str, "none") != 0)
		rc = ls__failn(err, LS_ERR_INVAL, 0, cn->name, "key '%s' holds "
		    "a %s, not a stream", ls__name(cn->stream, nb), r->str);
	freeReplyObject(r);
	return rc;
}

/*
 * Takes host, port, credentials and stream from u, connects and
 * authenticates: with the URI's password, else $REDISCLI_AUTH.
 */
static int
conn_open(struct conn *cn, const struct ls__uri *u, ls_error *err)
{
	struct ls__host h;
	const char *env;
	char *user = NULL, *pass = NULL;
	int rc;

	memset(cn, 0, sizeof(*cn));
	cn->named = true;
	if ((cn->name = ls__uri_redact(u->text)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if (u->upath == NULL || u->upath[1] == '\0') {
		rc = ls__failn(err, LS_ERR_INVAL, 0, cn->name, "no stream: the "
		    "form is redis://[:PASSWORD@]HOST[:PORT]/STREAM");
		goto out;
	}
	if ((u->userinfo != NULL && (rc = creds_parse(cn, u->userinfo,
	    u->userinfo + u->userinfo_len, &user, &pass, err)) != LS_OK) ||
	    (rc = host_parse(cn, u->hosts, u->hosts_len, &h, err)) != LS_OK ||
	    (rc = name_decode(cn, "stream name", u->upath + 1,
	    strlen(u->upath + 1), &cn->stream, err)) != LS_OK)
		goto out;
	cn->stream_len = strlen(cn->stream);
	env = getenv("REDISCLI_AUTH");
	if (pass == NULL && env != NULL && *env != '\0' &&
	    (pass = strdup(env)) == NULL)
		rc = ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	else if ((rc = ls__hiredis_load(cn->name, err)) == LS_OK)
		rc = conn_connect(cn, h.host, (long)h.port, user, pass, err);
out:
	if (pass != NULL) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	free(user);
	if (rc != LS_OK)
		conn_close(cn);
	return rc;
}

/* --- numbers and IDs ------------------------------------------------- */

/* Parses an entry ID "MS-SEQ". */
static bool
parse_id(const char *p, size_t n, uint64_t *ms, uint64_t *seq)
{
	const char *dash = memchr(p, '-', n);

	if (dash == NULL)
		return false;
	return ls_u64_parse(p, (size_t)(dash - p), ms) == LS_OK &&
	    ls_u64_parse(dash + 1, n - (size_t)(dash - p) - 1, seq) == LS_OK;
}

static size_t
format_id(char *out, uint64_t ms, uint64_t seq)
{
	size_t n = ls__u64_format(ms, out);

	out[n++] = '-';
	n += ls__u64_format(seq, out + n);
	out[n] = '\0';
	return n;
}

/* --- the sink -------------------------------------------------------- */

struct rsink {
	struct conn cn;
	char maxlen[24];	/* "" for none */
	unsigned char *buf;	/* the batch being formatted */
	size_t len, cap;
	size_t n;		/* commands in buf */
	size_t inflight;	/* commands sent whose replies are unread */
};

/* Appends one RESP bulk string. Room has been made. */
static unsigned char *
put_bulk(unsigned char *p, const void *s, size_t n)
{
	*p++ = '$';
	p += ls__u64_format(n, (char *)p);
	*p++ = '\r';
	*p++ = '\n';
	memcpy(p, s, n);
	p += n;
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

/* The value of the key/seq/shard/ts field: "KEY/SEQ/SHARD/TS", the key
 * (which has no '/') and three decimal numbers. */
static unsigned char *
put_meta(unsigned char *p, const ls_msg *m)
{
	char d[LS_KEY_MAX + 3 * 24];
	size_t n = m->key_len;

	memcpy(d, m->key, n);
	d[n++] = '/';
	n += ls__u64_format(m->seq, d + n);
	d[n++] = '/';
	n += ls__u64_format(m->shard, d + n);
	d[n++] = '/';
	n += ls__u64_format(m->ts_ms, d + n);
	return put_bulk(p, d, n);
}

/* Reads n replies of XADDs; the first error is returned once all are
 * read, so that the connection stays in step. */
static int
sink_replies(struct rsink *k, size_t n, ls_error *err)
{
	int rc = LS_OK;

	for (size_t i = 0; i < n; i++) {
		redisReply *r = NULL;
		if (redisGetReply(k->cn.c, (void **)&r) != REDIS_OK) {
			if (rc == LS_OK)
				rc = conn_fail(&k->cn, err, "XADD");
			k->inflight = 0;
			return rc;
		}
		if (r->type == REDIS_REPLY_ERROR && rc == LS_OK)
			rc = ls__failn(err, LS_ERR_IO, 0, k->cn.name, "XADD: "
			    "%.*s", (int)r->len, r->str);
		freeReplyObject(r);
	}
	k->inflight -= n;
	return rc;
}

/* Sends the batch; then reads replies until no more than RINFLIGHT are
 * unread, or all of them if drain. */
static int
sink_send(struct rsink *k, bool drain, ls_error *err)
{
	int done = 0;

	if (k->n > 0) {
		if (redisAppendFormattedCommand(k->cn.c, (const char *)k->buf,
		    k->len) != REDIS_OK)
			return conn_fail(&k->cn, err, "XADD");
		k->inflight += k->n;
		k->n = k->len = 0;
		while (!done)
			if (redisBufferWrite(k->cn.c, &done) != REDIS_OK)
				return conn_fail(&k->cn, err, "XADD");
	}
	if (drain)
		return sink_replies(k, k->inflight, err);
	return sink_replies(k, k->inflight > RINFLIGHT ? k->inflight -
	    RINFLIGHT : 0, err);
}

static int
rsink_write(void *ctx, const ls_msg *m, ls_error *err)
{
	struct rsink *k = ctx;
	size_t need;
	unsigned char *p;

	/* a stream has no end: End-of-Stream is not carried */
	if (ls_msg_is_eos(m))
		return LS_OK;
	/* *N, XADD, key, [MAXLEN ~ N], *, 2 fields and values; each
	 * bulk's header at most 24 bytes */
	need = 32 + 12 * 24 + k->cn.stream_len + 2 * m->key_len + m->len +
	    4 * 24;
	if (need > SIZE_MAX / 2 - k->len ||
	    ls__grow(&k->buf, &k->cap, k->len + need) != 0)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	p = k->buf + k->len;
	if (k->maxlen[0] != '\0') {
		memcpy(p, "*10\r\n$4\r\nXADD\r\n", 15);
		p = put_bulk(p + 15, k->cn.stream, k->cn.stream_len);
		memcpy(p, "$6\r\nMAXLEN\r\n$1\r\n~\r\n", 19);
		p = put_bulk(p + 19, k->maxlen, strlen(k->maxlen));
	} else {
		memcpy(p, "*7\r\n$4\r\nXADD\r\n", 14);
		p = put_bulk(p + 14, k->cn.stream, k->cn.stream_len);
	}
	memcpy(p, "$1\r\n*\r\n$7\r\npayload\r\n", 20);
	p = put_bulk(p + 20, m->payload, m->len);
	memcpy(p, "$16\r\nkey/seq/shard/ts\r\n", 23);
	p = put_meta(p + 23, m);
	k->len = (size_t)(p - k->buf);
	k->n++;
	if (k->n >= RBATCH || k->len >= RBATCH_BYTES)
		return sink_send(k, false, err);
	return LS_OK;
}

static int
rsink_flush(void *ctx, ls_error *err)
{
	return sink_send(ctx, true, err);
}

static int
rsink_close(void *ctx, const ls_msg *eos, bool abort, ls_error *err)
{
	(void)eos;	/* a stream has no end: brokers carry none */
	struct rsink *k = ctx;
	int rc = abort ? LS_OK : sink_send(k, true, err);

	conn_close(&k->cn);
	free(k->buf);
	free(k);
	return rc;
}

int
ls__redis_sink(const struct ls__uri *u, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err)
{
	struct rsink *k = calloc(1, sizeof(*k));
	int rc;

	if (k == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if ((rc = conn_open(&k->cn, u, err)) != LS_OK) {
		free(k);
		return rc;
	}
	if (o != NULL && o->maxlen > 0)
		k->maxlen[ls__u64_format(o->maxlen, k->maxlen)] = '\0';
	b->ctx = k;
	b->write = rsink_write;
	b->flush = rsink_flush;
	b->close = rsink_close;
	return LS_OK;
}

/* --- the source ------------------------------------------------------ */

enum phase {
	PH_READ,	/* XREAD after last */
	PH_PENDING,	/* XREADGROUP: our own pending entries after last */
	PH_CLAIM,	/* XAUTOCLAIM from cursor */
	PH_NEW		/* XREADGROUP > */
};

struct rid {
	uint64_t ms, seq;
};

struct rsrc {
	struct conn cn;
	const ls_source_opts *o;
	char defkey[LS_KEY_MAX + 7];
	size_t defkey_len;
	char *group, *consumer;
	char claim_idle[24];
	bool follow;
	bool ended;
	enum phase ph;
	char last[RID_MAX];	/* PH_READ, PH_PENDING: read after this ID */
	char cursor[RID_MAX];	/* PH_CLAIM */
	uint64_t claimed_ms;	/* when a claim pass last ended */
	redisReply *reply;
	redisReply **ents;	/* entries of reply */
	size_t nents, at;
	struct rid where;	/* the entry last returned */
	struct rid *acks;	/* moved past, not acknowledged */
	size_t nacks, capacks;
	struct rid held;	/* the entry last returned, still the caller's */
	bool holding;
	unsigned char *jbuf;	/* a payload made of several fields */
	size_t jcap;
};

static bool
stopped(const struct rsrc *s)
{
	return s->o->stop != NULL && *s->o->stop;
}

static int
ack_add(struct rsrc *s, uint64_t ms, uint64_t seq, ls_error *err)
{
	if (s->nacks == s->capacks) {
		size_t n = s->capacks ? s->capacks * 2 : RCOUNT;
		struct rid *v;
		if (n > SIZE_MAX / 2 / sizeof(*v) ||
		    (v = reallocarray(s->acks, n, sizeof(*v))) == NULL)
			return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		s->acks = v;
		s->capacks = n;
	}
	s->acks[s->nacks].ms = ms;
	s->acks[s->nacks].seq = seq;
	s->nacks++;
	return LS_OK;
}

/* XACKs every ID returned since the last commit, RACKS to a command,
 * pipelined. */
static int
rsrc_commit(void *ctx, ls_error *err)
{
	struct rsrc *s = ctx;
	static const char cmd[] = "XACK";
	const char *argv[3 + RACKS];
	size_t lens[3 + RACKS];
	char (*ids)[RID_MAX];
	size_t sent = 0, ncmd = 0;
	int rc = LS_OK;

	if (s->group == NULL || s->nacks == 0)
		return LS_OK;
	if ((ids = calloc(RACKS, sizeof(*ids))) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	argv[0] = cmd;
	lens[0] = 4;
	argv[1] = s->cn.stream;
	lens[1] = s->cn.stream_len;
	argv[2] = s->group;
	lens[2] = strlen(s->group);
	while (sent < s->nacks) {
		size_t k = s->nacks - sent < RACKS ? s->nacks - sent : RACKS;
		for (size_t i = 0; i < k; i++) {
			argv[3 + i] = ids[i];
			lens[3 + i] = format_id(ids[i], s->acks[sent + i].ms,
			    s->acks[sent + i].seq);
		}
		/* argv is formatted (copied) at once */
		if (redisAppendCommandArgv(s->cn.c, (int)(3 + k), argv,
		    lens) != REDIS_OK) {
			rc = conn_fail(&s->cn, err, "XACK");
			break;
		}
		ncmd++;
		sent += k;
	}
	for (size_t i = 0; i < ncmd; i++) {
		redisReply *r = NULL;
		if (redisGetReply(s->cn.c, (void **)&r) != REDIS_OK) {
			rc = conn_fail(&s->cn, err, "XACK");
			break;
		}
		if (r->type == REDIS_REPLY_ERROR && rc == LS_OK)
			rc = ls__fail(err, LS_ERR_IO, 0, "XACK: %.*s",
			    (int)r->len, r->str);
		freeReplyObject(r);
	}
	free(ids);
	if (rc == LS_OK)
		s->nacks = 0;
	return rc;
}

static uint64_t
rsrc_where(void *ctx)
{
	return ((struct rsrc *)ctx)->where.ms;
}

static void
rsrc_where_text(void *ctx, char *buf, size_t n)
{
	struct rsrc *s = ctx;

	snprintf(buf, n, "entry %llu-%llu", (unsigned long long)s->where.ms,
	    (unsigned long long)s->where.seq);
}

/* Keeps the entries of one stream's reply to XREAD(GROUP): [[key,
 * [entry...]]], or nil. */
static int
take_entries(struct rsrc *s, redisReply *r, ls_error *err)
{
	s->nents = s->at = 0;
	if (r->type == REDIS_REPLY_NIL)
		return LS_OK;
	if (r->type != REDIS_REPLY_ARRAY)
		return ls__fail(err, LS_ERR_IO, 0, "unexpected reply (type %d)",
		    r->type);
	if (r->elements == 0)
		return LS_OK;
	redisReply *st = r->element[0];
	if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
	    st->element[1]->type != REDIS_REPLY_ARRAY)
		return ls__fail(err, LS_ERR_IO, 0, "unexpected reply");
	s->ents = st->element[1]->element;
	s->nents = st->element[1]->elements;
	return LS_OK;
}

/* The ID of the last entry of the reply into s->last. */
static void
keep_last(struct rsrc *s)
{
	redisReply *e = s->ents[s->nents - 1];

	if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 &&
	    e->element[0]->type == REDIS_REPLY_STRING &&
	    e->element[0]->len < RID_MAX) {
		memcpy(s->last, e->element[0]->str, e->element[0]->len);
		s->last[e->element[0]->len] = '\0';
	}
}

/* The command the phase calls for, in argv/lens (16 at most); returns
 * how many words. block: wait on the server for new entries. */
static int
fetch_argv(const struct rsrc *s, bool block, const char *count,
    const char *argv[16], size_t lens[16])
{
	int argc = 0;

#define ARG(x) (argv[argc] = (x), lens[argc] = strlen(argv[argc]), argc++)
	switch (s->ph) {
	case PH_READ:
		ARG("XREAD");
		ARG("COUNT");
		ARG(count);
		if (block) {
			ARG("BLOCK");
			ARG(RBLOCK_MS);
		}
		ARG("STREAMS");
		ARG(s->cn.stream);
		ARG(s->last);
		break;
	case PH_PENDING:
	case PH_NEW:
		ARG("XREADGROUP");
		ARG("GROUP");
		ARG(s->group);
		ARG(s->consumer);
		ARG("COUNT");
		ARG(count);
		if (block && s->ph == PH_NEW) {
			ARG("BLOCK");
			ARG(RBLOCK_MS);
		}
		ARG("STREAMS");
		ARG(s->cn.stream);
		ARG(s->ph == PH_NEW ? ">" : s->last);
		break;
	case PH_CLAIM:
		ARG("XAUTOCLAIM");
		ARG(s->cn.stream);
		ARG(s->group);
		ARG(s->consumer);
		ARG(s->claim_idle);
		ARG(s->cursor);
		ARG("COUNT");
		ARG(count);
		break;
	}
#undef ARG
	return argc;
}

/* Takes an XAUTOCLAIM reply, [cursor, [entry...], [deleted ID...]]: its
 * entries, and the cursor; back to new entries once it is 0-0. */
static int
claim_reply(struct rsrc *s, redisReply *r, ls_error *err)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= RID_MAX ||
	    r->element[1]->type != REDIS_REPLY_ARRAY)
		return ls__fail(err, LS_ERR_IO, 0, "XAUTOCLAIM: "
		    "unexpected reply");
	memcpy(s->cursor, r->element[0]->str, r->element[0]->len);
	s->cursor[r->element[0]->len] = '\0';
	s->ents = r->element[1]->element;
	s->nents = r->element[1]->elements;
	if (strcmp(s->cursor, "0-0") == 0) {
		s->ph = PH_NEW;
		s->claimed_ms = ls_now_ms();
	}
	return LS_OK;
}

/* Issues the next command the phase calls for; leaves its entries in
 * s->ents (maybe none). Sets s->ended when there is nothing more to
 * read. Returns LS_AGAIN if the wait hook gave up. */
static int
fetch(struct rsrc *s, ls_error *err)
{
	const ls_source_opts *o = s->o;
	const char *argv[16];
	size_t lens[16];
	int argc, rc;
	redisReply *r;
	char count[24];

	if (s->reply != NULL) {
		freeReplyObject(s->reply);
		s->reply = NULL;
	}
	s->nents = s->at = 0;
	count[ls__u64_format(RCOUNT, count)] = '\0';
	if (s->ph == PH_NEW && s->claim_idle[0] != '\0' &&
	    ls_now_ms() - s->claimed_ms >= o->claim_idle_ms) {
		s->ph = PH_CLAIM;
		memcpy(s->cursor, "0-0", 4);
	}
	/* the caller flushes its output and commits here */
	if (o->on_wait != NULL)
		o->on_wait(o->wait_ctx);
	if (stopped(s))
		return LS_OK;
	argc = fetch_argv(s, s->follow && o->wait == NULL, count, argv, lens);
	r = redisCommandArgv(s->cn.c, argc, argv, lens);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		return reply_fail(&s->cn, r, err, argv[0]);
	s->reply = r;
	if (s->ph == PH_CLAIM)
		return claim_reply(s, r, err);
	if ((rc = take_entries(s, r, err)) != LS_OK) {
		char why[LS_ERRMSG_MAX];
		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		return ls__failn(err, rc, 0, argv[0], "%s", why);
	}
	if (s->nents > 0) {
		if (s->ph != PH_NEW)
			keep_last(s);
		return LS_OK;
	}
	/* nothing */
	if (s->ph == PH_PENDING) {
		s->ph = s->claim_idle[0] != '\0' ? PH_CLAIM : PH_NEW;
		memcpy(s->cursor, "0-0", 4);
		return LS_OK;
	}
	if (!s->follow)
		s->ended = true;
	else if (o->wait != NULL && o->wait(o->wait_ctx, -1) != 0)
		return LS_AGAIN;
	return LS_OK;
}

/* Appends p[0..n) to the JSON buffer at *at as a string literal; bytes
 * of text that is not UTF-8 are taken as Latin-1 characters. */
static int
json_string(struct rsrc *s, size_t *at, const unsigned char *p, size_t n)
{
	if (n > (SIZE_MAX - 64 - *at) / 6 ||
	    ls__grow(&s->jbuf, &s->jcap, *at + 6 * n + 64) != 0)
		return -1;
	*at += ls__json_quote(s->jbuf + *at, p, n);
	return 0;
}

/* The fields of an entry taken as meta; F_ALL is key/seq/shard/ts (what
 * relay writes), F_META seq/shard/ts and the three after F_KEY what
 * earlier versions wrote. */
enum { F_PAYLOAD, F_KEY, F_SHARD, F_SEQ, F_TS, F_META, F_ALL, F_N };

/* Parses "SEQ/SHARD/TS" (decimal numbers) into num[F_SEQ], num[F_SHARD]
 * and num[F_TS]; false if it is not that. */
static bool
meta_parse(const char *s, size_t n, uint64_t num[F_N])
{
	static const int order[3] = { F_SEQ, F_SHARD, F_TS };
	uint64_t v[3];
	size_t at = 0;

	for (int i = 0; i < 3; i++) {
		const char *end = i < 2 ? memchr(s + at, '/', n - at) : s + n;
		if (end == NULL || ls_u64_parse(s + at, (size_t)(end - s) - at,
		    &v[i]) != LS_OK)
			return false;
		at = (size_t)(end - s) + 1;
	}
	for (int i = 0; i < 3; i++)
		num[order[i]] = v[i];
	return true;
}

/* Parses "KEY/SEQ/SHARD/TS": the numbers as meta_parse does, the key's
 * length in num[F_KEY]. */
static bool
all_parse(const char *s, size_t n, uint64_t num[F_N])
{
	const char *slash = memchr(s, '/', n);
	size_t k = slash != NULL ? (size_t)(slash - s) : 0;

	if (slash == NULL || !ls_key_valid(s, k) ||
	    !meta_parse(slash + 1, n - k - 1, num))
		return false;
	num[F_KEY] = k;
	return true;
}

/* True if val, the value of field k, is well-formed meta (numbers in
 * num). */
static bool
field_meta(int k, const redisReply *val, uint64_t num[F_N])
{
	if (k == F_PAYLOAD)
		return true;
	if (k == F_KEY)
		return ls_key_valid(val->str, val->len);
	if (k == F_META)
		return meta_parse(val->str, val->len, num);
	if (k == F_ALL)
		return all_parse(val->str, val->len, num);
	return ls_u64_parse(val->str, val->len, &num[k]) == LS_OK;
}

/* Sorts the fields f of an entry: the meta fields that are well-formed
 * (their values in v; the numbers in num, those of key/seq/shard/ts over
 * seq/shard/ts over the single ones, and with key/seq/shard/ts its key's
 * length in num[F_KEY]), the rest payload (how many in *nother, the
 * index of the last in *other). */
static void
entry_fields(const redisReply *f, redisReply *v[F_N], uint64_t num[F_N],
    size_t *nother, size_t *other)
{
	static const char *names[F_N] = { "payload", "key", "shard", "seq",
		"ts", "seq/shard/ts", "key/seq/shard/ts" };
	uint64_t single[F_N], meta[F_N];

	for (size_t i = 0; i < f->elements; i += 2) {
		redisReply *name = f->element[i], *val = f->element[i + 1];
		int k;
		for (k = 0; k < F_N; k++)
			if (name->len == strlen(names[k]) &&
			    memcmp(name->str, names[k], name->len) == 0)
				break;
		if (k < F_N && v[k] == NULL && field_meta(k, val, k == F_ALL ?
		    num : k == F_META ? meta : single)) {
			v[k] = val;
			continue;
		}
		(*nother)++;
		*other = i;
	}
	for (int k = F_SHARD; k <= F_TS && v[F_ALL] == NULL; k++)
		if (v[F_META] != NULL || v[k] != NULL)
			num[k] = v[F_META] != NULL ? meta[k] : single[k];
}

/* The payload fields of f (those not in v) as {"field":"value",...} in
 * the entry's order, in s->jbuf; its length in *len. 0, or -1: out of
 * memory. */
static int
entry_object(struct rsrc *s, const redisReply *f, redisReply *const v[F_N],
    size_t *len)
{
	size_t at = 0;
	bool first = true;

	if (ls__grow(&s->jbuf, &s->jcap, 2) != 0)
		return -1;
	s->jbuf[at++] = '{';
	for (size_t i = 0; i < f->elements; i += 2) {
		redisReply *name = f->element[i], *val = f->element[i + 1];
		int k;
		for (k = 0; k < F_N; k++)
			if (v[k] == val)
				break;
		if (k < F_N)
			continue;
		if (!first)
			s->jbuf[at++] = ',';
		first = false;
		if (json_string(s, &at, (unsigned char *)name->str,
		    name->len) != 0)
			return -1;
		s->jbuf[at++] = ':';
		if (json_string(s, &at, (unsigned char *)val->str,
		    val->len) != 0)
			return -1;
	}
	s->jbuf[at++] = '}';
	*len = at;
	return 0;
}

/* Fills m from entry e, [id, [field, value, ...]]. Returns LS_OK, LS_END
 * for a deleted entry (a nil list of fields: a pending entry trimmed
 * away), or an error. */
static int
entry_msg(struct rsrc *s, redisReply *e, ls_msg *m, uint64_t *ms,
    uint64_t *seq, ls_error *err)
{
	redisReply *f, *v[F_N] = { NULL };
	size_t nother = 0, other = 0;
	uint64_t num[F_N];
	bool meta;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    !parse_id(e->element[0]->str, e->element[0]->len, ms, seq))
		return ls__fail(err, LS_ERR_IO, 0, "unexpected entry in a "
		    "reply");
	f = e->element[1];
	if (f->type == REDIS_REPLY_NIL)
		return LS_END;
	if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 != 0)
		return ls__fail(err, LS_ERR_IO, 0, "entry %s: unexpected "
		    "fields", e->element[0]->str);
	entry_fields(f, v, num, &nother, &other);
	if (v[F_PAYLOAD] != NULL) {
		m->payload = (const unsigned char *)v[F_PAYLOAD]->str;
		m->len = v[F_PAYLOAD]->len;
	} else if (nother == 1) {
		m->payload = (const unsigned char *)f->element[other + 1]->str;
		m->len = f->element[other + 1]->len;
	} else if (nother == 0) {
		m->payload = (const unsigned char *)"";
		m->len = 0;
	} else {
		if (entry_object(s, f, v, &m->len) != 0)
			return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		m->payload = s->jbuf;
	}
	if (v[F_ALL] != NULL) {
		memcpy(m->key, v[F_ALL]->str, num[F_KEY]);
		m->key[num[F_KEY]] = '\0';
		m->key_len = num[F_KEY];
	} else if (v[F_KEY] != NULL) {
		memcpy(m->key, v[F_KEY]->str, v[F_KEY]->len);
		m->key[v[F_KEY]->len] = '\0';
		m->key_len = v[F_KEY]->len;
	} else {
		memcpy(m->key, s->defkey, s->defkey_len + 1);
		m->key_len = s->defkey_len;
	}
	meta = v[F_META] != NULL || v[F_ALL] != NULL;
	m->shard = meta || v[F_SHARD] != NULL ? num[F_SHARD] : 0;
	m->ts_ms = meta || v[F_TS] != NULL ? num[F_TS] : *ms;
	if (meta || v[F_SEQ] != NULL)
		m->seq = num[F_SEQ];
	else if (*ms <= (UINT64_MAX - *seq) / 1000000)
		m->seq = *ms * 1000000 + *seq;
	else
		m->seq = *seq;
	return LS_OK;
}

static int
rsrc_next(void *ctx, ls_msg *m, ls_error *err)
{
	struct rsrc *s = ctx;
	uint64_t ms = 0, seq = 0;
	int rc;

	/* the caller is done with the entry it had: acknowledged next */
	if (s->holding) {
		s->holding = false;
		if ((rc = ack_add(s, s->held.ms, s->held.seq, err)) != LS_OK)
			return rc;
	}
	for (;;) {
		if (stopped(s))
			return LS_END;
		if (s->at < s->nents) {
			rc = entry_msg(s, s->ents[s->at++], m, &ms, &seq, err);
			if (rc == LS_END) {
				/* gone from the stream: acknowledge it */
				if (s->group != NULL &&
				    (rc = ack_add(s, ms, seq, err)) != LS_OK)
					return rc;
				continue;
			}
			if (rc != LS_OK)
				return rc;
			if (s->group != NULL) {
				s->held.ms = ms;
				s->held.seq = seq;
				s->holding = true;
			}
			s->where.ms = ms;
			s->where.seq = seq;
			return LS_OK;
		}
		if (s->ended)
			return LS_END;
		if ((rc = fetch(s, err)) != LS_OK)
			return rc;
	}
}

static void
rsrc_close(void *ctx)
{
	struct rsrc *s = ctx;

	if (s->reply != NULL)
		freeReplyObject(s->reply);
	conn_close(&s->cn);
	free(s->group);
	free(s->consumer);
	free(s->acks);
	free(s->jbuf);
	free(s);
}

/* The start position as an ID: read after it. */
static int
start_id(struct rsrc *s, char *id, ls_error *err)
{
	const ls_source_opts *o = s->o;

	if (o->from_id != NULL) {
		if (strlen(o->from_id) >= RID_MAX)
			return ls__failn(err, LS_ERR_INVAL, 0, s->cn.name,
			    "--from id:%s: not an entry ID", o->from_id);
		strcpy(id, o->from_id);
		return LS_OK;
	}
	if (!o->from_given || o->from.from == LS_FROM_END) {
		strcpy(id, "$");
		return LS_OK;
	}
	switch (o->from.from) {
	case LS_FROM_START:
		strcpy(id, "0-0");
		return LS_OK;
	case LS_FROM_TIME:
		/* after every entry of that millisecond */
		format_id(id, o->from.value, UINT64_MAX);
		return LS_OK;
	default:
		return ls__failn(err, LS_ERR_INVAL, 0, s->cn.name, "a Redis "
		    "stream starts at start, end, time:T or id:ID");
	}
}

/* Reading without a group from id: "$" becomes the last ID now, once
 * ("$" again after a timeout would skip what came in between). */
static int
plain_start(struct rsrc *s, char id[RID_MAX], ls_error *err)
{
	redisReply *r, *e;

	s->ph = PH_READ;
	if (strcmp(id, "$") == 0) {
		r = conn_cmd(&s->cn, "XREVRANGE", err, "XREVRANGE",
		    s->cn.stream, "+", "-", "COUNT", "1", NULL);
		if (r == NULL)
			return LS_ERR_IO;
		strcpy(id, "0-0");
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
		    (e = r->element[0])->type == REDIS_REPLY_ARRAY &&
		    e->elements == 2 && e->element[0]->len < RID_MAX) {
			memcpy(id, e->element[0]->str, e->element[0]->len);
			id[e->element[0]->len] = '\0';
		}
		freeReplyObject(r);
	}
	memcpy(s->last, id, RID_MAX);
	return LS_OK;
}

/* The consumer's name: o->consumer, or HOST-PID. NULL: out of memory. */
static char *
consumer_name(const ls_source_opts *o)
{
	char host[256], *c;
	size_t n;

	if (o->consumer != NULL)
		return strdup(o->consumer);
	if (gethostname(host, sizeof(host) - 1) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	n = strlen(host) + 24;
	if ((c = malloc(n)) != NULL)
		snprintf(c, n, "%s-%ld", host, (long)getpid());
	return c;
}

/* Reading as a member of o->group, made at id unless it exists; its
 * pending entries first. */
static int
group_start(struct rsrc *s, const char *id, ls_error *err)
{
	const ls_source_opts *o = s->o;
	redisReply *r;

	if ((s->group = strdup(o->group)) == NULL ||
	    (s->consumer = consumer_name(o)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if (o->claim_idle_ms > 0)
		s->claim_idle[ls__u64_format(o->claim_idle_ms,
		    s->claim_idle)] = '\0';
	/* the group from the position asked, unless it exists */
	r = redisCommand(s->cn.c, "XGROUP CREATE %b %s %s MKSTREAM",
	    s->cn.stream, s->cn.stream_len, s->group, id);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "BUSYGROUP", 9) == 0) {
		freeReplyObject(r);
		r = redisCommand(s->cn.c, "PING");
	}
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		return reply_fail(&s->cn, r, err, "XGROUP CREATE");
	freeReplyObject(r);
	s->ph = PH_PENDING;
	strcpy(s->last, "0-0");
	return LS_OK;
}

int
ls__redis_source(const struct ls__uri *u, const ls_source_opts *o,
    struct ls__src *b, ls_error *err)
{
	static const ls_source_opts none;
	struct rsrc *s = calloc(1, sizeof(*s));
	char id[RID_MAX];
	int rc;

	if (s == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	s->o = o != NULL ? o : &none;
	o = s->o;
	if ((rc = conn_open(&s->cn, u, err)) != LS_OK) {
		free(s);
		return rc;
	}
	if (ls_key_valid(s->cn.stream, s->cn.stream_len)) {
		memcpy(s->defkey, s->cn.stream, s->cn.stream_len + 1);
		s->defkey_len = s->cn.stream_len;
	} else {
		memcpy(s->defkey, LS_DEFAULT_KEY, sizeof(LS_DEFAULT_KEY));
		s->defkey_len = sizeof(LS_DEFAULT_KEY) - 1;
	}
	/* new entries only, by default: that is waiting for them */
	s->follow = o->follow || !o->from_given ||
	    (o->from_id == NULL && o->from.from == LS_FROM_END);
	if ((rc = start_id(s, id, err)) != LS_OK ||
	    (rc = o->group == NULL ? plain_start(s, id, err) :
	    group_start(s, id, err)) != LS_OK) {
		rsrc_close(s);
		return rc;
	}
	s->cn.named = false;
	b->ctx = s;
	b->next = rsrc_next;
	b->commit = rsrc_commit;
	b->where = rsrc_where;
	b->where_text = rsrc_where_text;
	b->close = rsrc_close;
	return LS_OK;
}
#endif
