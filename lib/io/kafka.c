/* Kafka through librdkafka: kafka://HOST:PORT[,HOST:PORT]/TOPIC */
#include "ls-internal.h"
#include "io-internal.h"

#ifndef LS_HAVE_RDKAFKA
int
ls__kafka_source(const struct ls__uri *u, const ls_source_opts *o,
    struct ls__src *b, ls_error *err)
{
	const char *uri = u->text;
	(void)o;
	(void)b;
	return ls__failn(err, LS_ERR_INVAL, 0, uri, "this libstream was built "
	    "without librdkafka: install librdkafka-dev and rebuild");
}

int
ls__kafka_sink(const struct ls__uri *u, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err)
{
	const char *uri = u->text;
	(void)o;
	(void)b;
	return ls__failn(err, LS_ERR_INVAL, 0, uri, "this libstream was built "
	    "without librdkafka: install librdkafka-dev and rebuild");
}
#else
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "dl-rdkafka.h"

LS__DL_DEFINE(ls__rdkafka, LS_SONAME_RDKAFKA, LS_PKG_RDKAFKA, LS__RDKAFKA_FNS)

#define POLL_MS 100		/* a consumer's wait, between looks at stop */
#define META_MS 10000		/* metadata and offset look-ups */

/* Header names the sink adds and the source prefers to Kafka's own key,
 * partition and offset: seq and shard in one header, "SEQ/SHARD", as a
 * header costs librdkafka an allocation a record (H_SEQ alone where the
 * partition is the shard; H_SHARD only from older writers). */
#define H_KEY "stream_key"
#define H_SEQ_SHARD "seq/shard"
#define H_SEQ "seq"
#define H_SHARD "shard"
#define H_META_MAX 48		/* "SEQ/SHARD": two u64 and the slash */

/* The parts of kafka://HOSTS/TOPIC, owned. */
struct kuri {
	char *hosts;
	char *topic;
};

static void
kuri_free(struct kuri *u)
{
	free(u->hosts);
	free(u->topic);
}

#define KFORM "the form is kafka://HOST:PORT[,HOST:PORT...]/TOPIC"

/* A byte of a topic name, as Kafka allows. */
static bool
topic_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int
topic_check(const char *name, const char *t, ls_error *err)
{
	size_t n = strlen(t), bad = strspn(t, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	if (n == 0)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "no topic: "
		    KFORM);
	if (bad < n)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "topic: byte %zu "
		    "(0x%02x) is not one of [A-Za-z0-9._-]%s", bad + 1,
		    (unsigned char)t[bad], t[bad] == '%' ? " (Kafka URIs "
		    "have no %XX escapes)" : "");
	if (n > 249)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "topic: %zu "
		    "bytes, more than Kafka's 249", n);
	if (strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "topic '%s' is "
		    "not allowed by Kafka", t);
	return LS_OK;
}

/* The reason broker b[0..n) is not HOST:PORT or [V6HOST]:PORT, or
 * NULL; h gets its parts. */
static const char *
broker_bad(const char *b, size_t n, struct ls__host *h)
{
	const char *why = ls__host_parse(b, n, h);

	if (why != NULL)
		return strcmp(why, "unclosed '[' in the host") == 0 ||
		    (h->v6 && strcmp(why, "bad host") == 0) ?
		    "bad [IPv6 address]" : why;
	if (h->port_text == NULL)
		return "no port: " KFORM;
	for (const char *q = h->host; *q != '\0'; q++)
		if (h->v6 ? !isxdigit((unsigned char)*q) && *q != ':' &&
		    *q != '.' : !topic_char((unsigned char)*q))
			return "bad host";
	return NULL;
}

/* Checks one broker of the list, b[0..n). */
static int
broker_check(const char *name, const char *b, size_t n, ls_error *err)
{
	char bb[LS__NAME_BUF], pb[LS__NAME_BUF];
	struct ls__host h;
	const char *why;

	if (n == 0)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "an empty "
		    "broker in the list: " KFORM);
	if ((why = broker_bad(b, n, &h)) == NULL)
		return LS_OK;
	if (strcmp(why, "bad port") != 0)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "broker '%s': %s",
		    ls__namen(b, n, bb), why);
	return ls__failn(err, LS_ERR_INVAL, 0, name, "broker '%s': bad port "
	    "'%s' (1 to 65535)", ls__namen(b, n, bb), ls__namen(h.port_text,
	    h.port_len, pb));
}

/*
 * Checks the parts of kafka://HOST:PORT[,HOST:PORT...]/TOPIC, all of
 * them, so that a mistake is an error at once rather than a client
 * that retries for ever; name is the URI for messages.
 */
static int
kuri_parse(const struct ls__uri *lu, const char *name, struct kuri *u,
    ls_error *err)
{
	const char *p = lu->hosts, *end = p + lu->hosts_len;
	int rc;

	memset(u, 0, sizeof(*u));
	if (lu->upath == NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "no topic: "
		    KFORM);
	if (lu->userinfo != NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "credentials in "
		    "a kafka:// URI are not supported: use -X "
		    "sasl.username=... -X sasl.password=...");
	if (lu->hosts_len == 0)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "no broker: "
		    KFORM);
	for (const char *b = p; b <= end; ) {
		const char *c = memchr(b, ',', (size_t)(end - b));
		const char *e = c != NULL ? c : end;
		if ((rc = broker_check(name, b, (size_t)(e - b), err)) != LS_OK)
			return rc;
		b = e + 1;
	}
	if ((rc = topic_check(name, lu->upath + 1, err)) != LS_OK)
		return rc;
	if ((u->hosts = strndup(p, lu->hosts_len)) == NULL ||
	    (u->topic = strdup(lu->upath + 1)) == NULL) {
		kuri_free(u);
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	}
	return LS_OK;
}

/* librdkafka logs from its own threads; the library does not print,
 * unless asked to with -X debug=... */
static void
log_quiet(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

/* The value of the last -X name=value, or NULL. */
static const char *
props_get(const char *const *props, const char *name)
{
	size_t n = strlen(name);
	const char *v = NULL;

	for (; props != NULL && *props != NULL; props++)
		if (strncmp(*props, name, n) == 0 && (*props)[n] == '=')
			v = *props + n + 1;
	return v;
}

/*
 * librdkafka's first client initializes Cyrus SASL (sasl_client_init),
 * which loads every plugin of its directory: on Debian nine, and with
 * libsasldb Berkeley DB, 0.5 MiB of library pages in a relay writing to
 * Kafka (peak 8.0 MiB; 8.6 with --headers), though librdkafka uses Cyrus
 * only for SASL's GSSAPI (its PLAIN, SCRAM and OAUTHBEARER are its own).
 * Unless -X security.protocol names SASL, the plugin path (libsasl2,
 * loaded with librdkafka) is set to none before that: Cyrus loads no
 * plugin. The first client of a process decides.
 */
static void
sasl_plugins_decide(const char *const *props)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static bool decided;
	const char *proto = props_get(props, "security.protocol");
	int (*set_path)(int, char *);

	pthread_mutex_lock(&lock);
	if (!decided && (proto == NULL || strncasecmp(proto, "sasl", 4) != 0)) {
		set_path = (int (*)(int, char *))ls__dl_loaded_fn(
		    "libsasl2.so.2", "sasl_set_path");
		if (set_path != NULL)	/* SASL_PATH_TYPE_PLUGIN */
			(void)set_path(0, "");
	}
	decided = true;
	pthread_mutex_unlock(&lock);
}

/* Properties of libstream's own, taken out of -X before librdkafka's:
 * the close timeout (see close_wait). */
#define P_CLOSE "libstream.close.timeout.ms"
#define CLOSE_MS 10000u		/* its default */
#define CLOSE_MS_MAX 86400000u	/* and largest value, a day */

/* Parses the value v of P_CLOSE into *ms. */
static int
close_ms_parse(const char *uri, const char *v, uint32_t *ms, ls_error *err)
{
	uint64_t x;

	if (ls_u64_parse(v, strlen(v), &x) != LS_OK || x > CLOSE_MS_MAX)
		return ls__failn(err, LS_ERR_INVAL, 0, uri, "-X %s=%s: not a "
		    "number of milliseconds from 0 to %u", P_CLOSE, v,
		    CLOSE_MS_MAX);
	*ms = (uint32_t)x;
	return LS_OK;
}

static int
conf_set(rd_kafka_conf_t *conf, const char *uri, const char *name,
    const char *value, ls_error *err)
{
	char errstr[200];

	if (strncmp(name, "libstream.", 10) == 0 && strcmp(name, P_CLOSE) != 0)
		return ls__failn(err, LS_ERR_INVAL, 0, uri, "-X %s=%s: no such "
		    "property (libstream's own is %s)", name, value, P_CLOSE);
	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK)
		return ls__failn(err, LS_ERR_INVAL, 0, uri, "-X %s=%s: %s",
		    name, value, errstr);
	return LS_OK;
}

/*
 * A configuration: bootstrap.servers from the URI, then defaults (name,
 * value pairs, NULL-terminated), then the -X properties, which win; the
 * close timeout of -X libstream.close.timeout.ms into *close_ms.
 */
static rd_kafka_conf_t *
conf_make(const char *uri, const struct kuri *u, const char *const *defs,
    const char *const *props, uint32_t *close_ms, ls_error *err)
{
	rd_kafka_conf_t *conf;
	char name[256];

	if (ls__rdkafka_load(uri, err) != LS_OK)
		return NULL;
	sasl_plugins_decide(props);
	if ((conf = rd_kafka_conf_new()) == NULL) {
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	if (conf_set(conf, uri, "bootstrap.servers", u->hosts, err) != LS_OK)
		goto fail;
	for (; defs != NULL && *defs != NULL; defs += 2)
		if (conf_set(conf, uri, defs[0], defs[1], err) != LS_OK)
			goto fail;
	for (; props != NULL && *props != NULL; props++) {
		const char *eq = strchr(*props, '=');
		size_t n = eq ? (size_t)(eq - *props) : strlen(*props);
		if (eq == NULL || n == 0 || n >= sizeof(name)) {
			ls__failn(err, LS_ERR_INVAL, 0, uri, "-X %s: not "
			    "name=value", *props);
			goto fail;
		}
		memcpy(name, *props, n);
		name[n] = '\0';
		if (strcmp(name, P_CLOSE) == 0) {
			if (close_ms_parse(uri, eq + 1, close_ms, err) != LS_OK)
				goto fail;
		} else if (conf_set(conf, uri, name, eq + 1, err) != LS_OK)
			goto fail;
	}
	if (props_get(props, "debug") == NULL)
		rd_kafka_conf_set_log_cb(conf, log_quiet);
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* Parses a header value written by a sink: decimal, no sign, no excess. */
static bool
header_u64(const rd_kafka_headers_t *h, const char *name, uint64_t *v)
{
	const void *val;
	size_t n;

	return h != NULL && rd_kafka_header_get_last(h, name, &val, &n) ==
	    RD_KAFKA_RESP_ERR_NO_ERROR && val != NULL &&
	    ls_u64_parse(val, n, v) == LS_OK;
}

/* Parses the seq/shard header, "SEQ/SHARD" in decimal; false, with
 * *seq and *shard untouched, if there is none or it is not so. */
static bool
header_meta(const rd_kafka_headers_t *h, uint64_t *seq, uint64_t *shard)
{
	const void *val;
	const char *s, *slash;
	size_t n, k;
	uint64_t a, b;

	if (h == NULL || rd_kafka_header_get_last(h, H_SEQ_SHARD, &val, &n) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR || val == NULL)
		return false;
	s = val;
	if ((slash = memchr(s, '/', n)) == NULL)
		return false;
	k = (size_t)(slash - s);
	if (ls_u64_parse(s, k, &a) != LS_OK ||
	    ls_u64_parse(s + k + 1, n - k - 1, &b) != LS_OK)
		return false;
	*seq = a;
	*shard = b;
	return true;
}

/* --- sink: a producer ---------------------------------------------------- */

struct ksink {
	char *uri;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	const ls_sink_opts *o;
	unsigned char *keybuf;	/* an unescaped --key field */
	size_t keycap;
	size_t key_field_len;	/* strlen of o->key_field, taken once */
	uint32_t close_ms;	/* see close_wait */
	uint64_t written;	/* messages produced */
	uint64_t delivered;	/* delivery reports of success */
	/* delivery reports: the first failure, and how many failed */
	uint64_t failed;
	rd_kafka_resp_err_t fail_err;
	int32_t fail_part;
	char last_error[200];	/* the last error the client reported */
};

static void
sink_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct ksink *k = opaque;

	(void)rk;
	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		k->delivered++;
		return;
	}
	/* purged by close_wait, which counts them */
	if (msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		return;
	if (k->failed++ == 0) {
		k->fail_err = msg->err;
		k->fail_part = msg->partition;
	}
}

static void
client_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	struct ksink *k = opaque;

	(void)rk;
	(void)e;
	snprintf(k->last_error, sizeof(k->last_error), "%s", reason);
}

/* The error for failed deliveries, naming the sink. */
static int
sink_failure(struct ksink *k, ls_error *err)
{
	char part[40] = "";

	if (k->fail_part >= 0)
		snprintf(part, sizeof(part), " partition %ld",
		    (long)k->fail_part);
	/* the reason whole; the last client error, a detail, cut short */
	return ls__failn(err, LS_ERR_IO, 0, k->uri, "delivery failed for %llu "
	    "message%s (topic %s%s): %s%s%.80s",
	    (unsigned long long)k->failed, k->failed == 1 ? "" : "s",
	    rd_kafka_topic_name(k->rkt), part, rd_kafka_err2str(k->fail_err),
	    k->last_error[0] ? "; last error: " : "", k->last_error);
}

static bool
sink_stopped(const struct ksink *k)
{
	return k->o->stop != NULL && *k->o->stop;
}

/* Gives up on the messages not yet delivered: purges them and fails,
 * saying how many, after what (a stop, or a close without reports) and
 * why. */
static int
sink_purge(struct ksink *k, bool stop, ls_error *err)
{
	uint64_t n;

	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE |
	    RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(k->rk, 0);
	n = k->written - k->delivered;
	return ls__failn(err, LS_ERR_IO, 0, k->uri, "%llu message%s not "
	    "delivered: %s %lu ms (-X " P_CLOSE "), purged%s%s%s%.100s",
	    (unsigned long long)n, n == 1 ? "" : "s", stop ?
	    "stopped, waited" : "none delivered for",
	    (unsigned long)k->close_ms, k->failed > 0 ? "; failed: " : "",
	    k->failed > 0 ? rd_kafka_err2str(k->fail_err) : "",
	    k->last_error[0] ? "; last error: " : "", k->last_error);
}

/*
 * Waits for the delivery report of every message written. The wait is
 * bounded by the close timeout k->close_ms: at close, a wait during
 * which no report comes for that long ends; once *stop is set, any
 * wait ends that long after. What is left is then purged, an error.
 */
static int
sink_wait(struct ksink *k, bool closing, ls_error *err)
{
	uint64_t now = ls_now_ms(), since = now, stop_at = 0, seen;

	seen = k->delivered;
	while (rd_kafka_flush(k->rk, 100) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
		now = ls_now_ms();
		if (k->delivered != seen) {
			seen = k->delivered;
			since = now;
		}
		if (stop_at == 0 && sink_stopped(k))
			stop_at = now;
		if (stop_at != 0 && now - stop_at >= k->close_ms)
			return sink_purge(k, true, err);
		if (closing && stop_at == 0 && now - since >= k->close_ms)
			return sink_purge(k, false, err);
	}
	if (k->failed > 0)
		return sink_failure(k, err);
	return LS_OK;
}

/* The record key of m: its stream key, or the --key-field member of its
 * payload (a string unescaped into k->keybuf; none if it has no such
 * member). LS_OK, or LS_ERR_NOMEM. */
static int
ksink_key(struct ksink *k, const ls_msg *m, const void **key, size_t *klen,
    ls_error *err)
{
	const unsigned char *v;
	size_t n;

	*key = m->key;
	*klen = m->key_len;
	if (k->o->key_field == NULL)
		return LS_OK;
	*key = NULL;
	*klen = 0;
	if (ls_json_field_n(m->payload, m->len, k->o->key_field,
	    k->key_field_len, &v, &n) != LS_OK)
		return LS_OK;
	*key = v;
	*klen = n;
	/* a string: the text between its quotes, unescaped */
	if (v > m->payload && v[-1] == '"') {
		if (n > k->keycap && ls__grow(&k->keybuf, &k->keycap, n) != 0)
			return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		size_t u = ls_json_unescape(v, n, k->keybuf);
		if (u != SIZE_MAX) {
			*key = k->keybuf;
			*klen = u;
		}
	}
	return LS_OK;
}

/* A header of the record vu[*nvu]. */
static void
ksink_header(rd_kafka_vu_t *vu, size_t *nvu, const char *name,
    const void *val, size_t len)
{
	vu[*nvu].vtype = RD_KAFKA_VTYPE_HEADER;
	vu[*nvu].u.header.name = name;
	vu[*nvu].u.header.val = val;
	vu[(*nvu)++].u.header.size = (ssize_t)len;
}

/* Fills vu with m's record (meta holds the header's text); returns how
 * many entries. */
static size_t
ksink_record(const struct ksink *k, const ls_msg *m, const void *key,
    size_t klen, int32_t part, rd_kafka_vu_t vu[10], char meta[H_META_MAX])
{
	size_t nvu = 0, n;

	vu[nvu].vtype = RD_KAFKA_VTYPE_RKT;
	vu[nvu++].u.rkt = k->rkt;
	vu[nvu].vtype = RD_KAFKA_VTYPE_PARTITION;
	vu[nvu++].u.i32 = part;
	vu[nvu].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
	vu[nvu++].u.i = RD_KAFKA_MSG_F_COPY;
	vu[nvu].vtype = RD_KAFKA_VTYPE_VALUE;
	vu[nvu].u.mem.ptr = (void *)m->payload;
	vu[nvu++].u.mem.size = m->len;
	vu[nvu].vtype = RD_KAFKA_VTYPE_KEY;
	vu[nvu].u.mem.ptr = (void *)key;
	vu[nvu++].u.mem.size = klen;
	vu[nvu].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
	vu[nvu++].u.i64 = (int64_t)m->ts_ms;
	/*
	 * With meta_headers, the meta the record does not carry goes in
	 * headers: the stream key unless it is the record's key, the seq
	 * and the shard (unless it is the partition) in one. librdkafka
	 * allocates each header and their list for every record, which
	 * halves the throughput, so there are none unless asked for and no
	 * more than needed when they are.
	 */
	if (!k->o->meta_headers)
		return nvu;
	if (key != m->key)
		ksink_header(vu, &nvu, H_KEY, m->key, m->key_len);
	n = ls__u64_format(m->seq, meta);
	if (k->o->partition_by_shard) {
		ksink_header(vu, &nvu, H_SEQ, meta, n);
		return nvu;
	}
	meta[n++] = '/';
	n += ls__u64_format(m->shard, meta + n);
	ksink_header(vu, &nvu, H_SEQ_SHARD, meta, n);
	return nvu;
}

/* Produces the record vu[0..nvu), waiting for deliveries while the local
 * queue is full. Returns librdkafka's code (in *e; QUEUE_FULL for a record
 * the queue cannot hold) through LS_OK, or a failure of the sink. */
static int
ksink_produce(struct ksink *k, const rd_kafka_vu_t *vu, size_t nvu,
    rd_kafka_resp_err_t *e, ls_error *err)
{
	int rc;

	for (;;) {
		rd_kafka_error_t *ee = rd_kafka_produceva(k->rk, vu, nvu);
		*e = ee != NULL ? rd_kafka_error_code(ee) :
		    RD_KAFKA_RESP_ERR_NO_ERROR;
		if (ee != NULL)
			rd_kafka_error_destroy(ee);
		if (*e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return LS_OK;
		/*
		 * The local queue is full: wait for deliveries until it is
		 * half empty (trying again as each one comes would build
		 * and drop a record, headers and all, every time). Full
		 * with nothing queued is a record bigger than the whole
		 * queue: no delivery will make room for it, and the code
		 * goes back as it is.
		 */
		int full = rd_kafka_outq_len(k->rk);
		if (full == 0)
			return LS_OK;
		do {
			/* stopped: what is queued goes out, or the close
			 * timeout gives up on it */
			if (sink_stopped(k) && (rc = sink_wait(k, false,
			    err)) != LS_OK)
				return rc;
			rd_kafka_poll(k->rk, 10);
			if (k->failed > 0)
				return sink_failure(k, err);
		} while (rd_kafka_outq_len(k->rk) > full / 2);
	}
}

static int
ksink_write(void *ctx, const ls_msg *m, ls_error *err)
{
	struct ksink *k = ctx;
	const void *key;
	size_t klen;
	int32_t part = RD_KAFKA_PARTITION_UA;
	char meta[H_META_MAX];
	rd_kafka_vu_t vu[10];
	rd_kafka_resp_err_t e;
	int rc;

	if (k->failed > 0)
		return sink_failure(k, err);
	if ((rc = ksink_key(k, m, &key, &klen, err)) != LS_OK)
		return rc;
	if (k->o->partition_by_shard) {
		if (m->shard > INT32_MAX)
			return ls__failn(err, LS_ERR_INVAL, 0, k->uri, "shard "
			    "%llu is not a partition number",
			    (unsigned long long)m->shard);
		part = (int32_t)m->shard;
	}
	size_t nvu = ksink_record(k, m, key, klen, part, vu, meta);
	if ((rc = ksink_produce(k, vu, nvu, &e, err)) != LS_OK)
		return rc;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return ls__failn(err, LS_ERR_INVAL, 0, k->uri, "a "
			    "record with a payload of %zu bytes does not fit "
			    "librdkafka's local queue (-X "
			    "queue.buffering.max.kbytes)", m->len);
		if (e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && part >= 0)
			return ls__failn(err, LS_ERR_INVAL, 0, k->uri, "topic "
			    "%s has no partition %ld (shard %llu)",
			    rd_kafka_topic_name(k->rkt), (long)part,
			    (unsigned long long)m->shard);
		return ls__failn(err, LS_ERR_IO, 0, k->uri, "produce: %s",
		    rd_kafka_err2str(e));
	}
	k->written++;
	rd_kafka_poll(k->rk, 0);	/* delivery reports */
	if (k->failed > 0)
		return sink_failure(k, err);
	return LS_OK;
}

static int
ksink_flush(void *ctx, ls_error *err)
{
	struct ksink *k = ctx;

	if (k->o->flush_delivers)
		return sink_wait(k, false, err);
	/* librdkafka sends what is queued on its own; take the reports
	 * that are in, so that a failure is known */
	rd_kafka_poll(k->rk, 0);
	return k->failed > 0 ? sink_failure(k, err) : LS_OK;
}

static void
ksink_free(struct ksink *k)
{
	if (k->rkt != NULL)
		rd_kafka_topic_destroy(k->rkt);
	if (k->rk != NULL)
		rd_kafka_destroy(k->rk);
	free(k->keybuf);
	free(k->uri);
	free(k);
}

static int
ksink_close(void *ctx, const ls_msg *eos, bool abort, ls_error *err)
{
	(void)eos;	/* a stream has no end: brokers carry none */
	struct ksink *k = ctx;
	int rc;

	/* after a failure too: what was written goes out, as for files */
	(void)abort;
	rc = sink_wait(k, true, err);
	ksink_free(k);
	return rc;
}

int
ls__kafka_sink(const struct ls__uri *lu, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err)
{
	const char *uri = lu->text;
	/*
	 * One request in flight per broker: a retry never reorders the
	 * messages of a partition, and a flush is not held up by a broker
	 * that delays pipelined answers (librdkafka's mock cluster waits
	 * for TCP's delayed ACK, 40 ms, on each). Measured with
	 * scripts/bench.sh; -X max.in.flight=5 or enable.idempotence=true
	 * for more throughput over long links. The partitioner is the
	 * Java client's (murmur2 of the key), the one partition(1)
	 * --hash kafka reproduces, so local partitions line up with the
	 * topic's. Batches of at most 1000 records, not librdkafka's 10000:
	 * the records of a batch are allocated one by one and freed
	 * together when its delivery reports come, and glibc's malloc,
	 * given 10000 frees at once, spent 17% of relay --headers (four
	 * blocks a record) in _int_malloc sorting them out (perf); with
	 * 1000, relay --headers took about three quarters of the time on
	 * the mock cluster (best and median of 7), and relay without
	 * headers no more. -X batch.num.messages=N for others.
	 *
	 * The local queue holds 1500 records and 1 MiB, not librdkafka's
	 * 100000 and 1 GiB: what relay holds no longer grows with the
	 * stream. Its peak memory writing 1,000,000 records with --headers
	 * to the mock cluster was 12 to 58 MiB from run to run, 8.4 to 8.8
	 * with a queue of 2000 in the same time; without Cyrus SASL's
	 * plugins (sasl_plugins_decide) 7.8 to 8.3 with 2000 and 7.4 to 7.8
	 * with 1500, again in the same time over 3 partitions (8 runs each
	 * side by side; 8 keys into 64 partitions 1.3 to 1.7 s against 1.1
	 * to 1.8). 6.5 MiB of that is the pages of librdkafka, libcrypto
	 * and libc it touches, which any bound leaves. Batches of 250 so
	 * that the queue still fills a batch for each of a few partitions:
	 * with 1000 records queued and batches of 500 over three
	 * partitions, each batch waited for linger.ms and relay took 5
	 * times as long. linger.ms=1, not 5, for the same reason when the
	 * keys spread over more partitions than a batch a partition fits
	 * in the queue: 8 keys into 64 partitions
	 * took 1.1 to 2.2 s with 5 and 0.9 to 1.1 with 1 (kcat -P 0.9, the
	 * unbounded queue 0.6: more partitions carry more records a round
	 * trip, which the bound caps). 1 MiB is more than
	 * message.max.bytes (1000000), so a record the cluster would take
	 * fits the queue.
	 */
	static const char *const defs[] = {
		"max.in.flight", "1",
		"partitioner", "murmur2_random",
		"batch.num.messages", "250",
		"queue.buffering.max.messages", "1500",
		"queue.buffering.max.kbytes", "1024",
		"linger.ms", "1",
		NULL
	};
	struct ksink *k;
	struct kuri u;
	rd_kafka_conf_t *conf;
	char errstr[256];

	memset(&u, 0, sizeof(u));
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->uri = ls__uri_redact(uri)) == NULL) {
		free(k);
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	}
	k->o = o;
	if (o->key_field != NULL)
		k->key_field_len = strlen(o->key_field);
	k->fail_part = -1;
	k->close_ms = CLOSE_MS;
	if (o->maxlen > 0) {
		ls__failn(err, LS_ERR_INVAL, 0, k->uri, "--maxlen is for "
		    "Redis outputs");
		goto fail;
	}
	if (kuri_parse(lu, k->uri, &u, err) != LS_OK ||
	    (conf = conf_make(k->uri, &u, defs, o->props, &k->close_ms,
	    err)) == NULL)
		goto fail;
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, sink_dr);
	rd_kafka_conf_set_error_cb(conf, client_error);
	if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		rd_kafka_conf_destroy(conf);
		ls__failn(err, LS_ERR_INVAL, 0, k->uri, "%s", errstr);
		goto fail;
	}
	if ((k->rkt = rd_kafka_topic_new(k->rk, u.topic, NULL)) == NULL) {
		ls__failn(err, LS_ERR_INVAL, 0, k->uri, "%s",
		    rd_kafka_err2str(rd_kafka_last_error()));
		goto fail;
	}
	kuri_free(&u);
	b->ctx = k;
	b->write = ksink_write;
	b->flush = ksink_flush;
	b->close = ksink_close;
	return LS_OK;
fail:
	kuri_free(&u);
	ksink_free(k);
	return err ? err->code : LS_ERR_INVAL;
}

/* --- source: a consumer -------------------------------------------------- */

struct ksrc {
	char *uri;
	char *topic;
	rd_kafka_t *rk;
	const ls_source_opts *o;
	rd_kafka_message_t *cur;	/* the message last returned */
	uint64_t where;		/* offset and partition of the last message */
	int32_t where_part;
	bool group;
	bool pending;		/* stored since the last commit */
	bool ended;		/* next returned LS_END: commit synchronously */
	/* partitions assigned, and which of them are at their end, by
	 * partition number */
#define P_OURS 1u		/* assigned to us */
#define P_EOF 2u		/* at its end */
#define P_SKIP 4u		/* skipping messages stamped up to --from time */
	unsigned char *state;	/* P_* flags */
	size_t nstate;
	size_t nassigned, neof;
	/* an error met in a callback, reported by the next call */
	int cb_rc;
	char cb_msg[LS_ERRMSG_MAX];
	char last_error[200];
};

static void
src_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	struct ksrc *s = opaque;

	(void)rk;
	(void)e;
	snprintf(s->last_error, sizeof(s->last_error), "%s", reason);
}

/* Keeps the first error met in a callback: what, then why. */
static void
src_failed(struct ksrc *s, const char *what, const char *why)
{
	if (s->cb_rc != LS_OK)
		return;
	s->cb_rc = LS_ERR_IO;
	snprintf(s->cb_msg, sizeof(s->cb_msg), "%s%s", what, why);
}

static int
state_grow(struct ksrc *s, int32_t part)
{
	size_t need = (size_t)part + 1;

	if (part < 0)
		return -1;
	if (need > s->nstate) {
		unsigned char *v = realloc(s->state, need);
		if (v == NULL)
			return -1;
		memset(v + s->nstate, 0, need - s->nstate);
		s->state = v;
		s->nstate = need;
	}
	return 0;
}

static unsigned
state_get(const struct ksrc *s, int32_t part)
{
	return part >= 0 && (size_t)part < s->nstate ? s->state[part] : 0;
}

/* Sets the P_* flags of partition part. */
static void
state_set(struct ksrc *s, int32_t part, unsigned st)
{
	if (state_grow(s, part) != 0) {
		src_failed(s, "", "out of memory");
		return;
	}
	unsigned old = s->state[part];
	s->nassigned += (st & P_OURS) != 0;
	s->nassigned -= (old & P_OURS) != 0;
	s->neof += (st & P_EOF) != 0;
	s->neof -= (old & P_EOF) != 0;
	s->state[part] = (unsigned char)st;
}

/*
 * Sets each partition of l without a committed offset of the group to
 * the first message stamped after time:T, by the broker's time index.
 * Where the broker finds none, the partition is read from its start,
 * skipping messages stamped up to T: the answer is the same on a broker
 * that has no time index (as librdkafka's mock cluster), and where no
 * message is later than T yet, only the new ones pass.
 */
static rd_kafka_resp_err_t
from_time(struct ksrc *s, rd_kafka_topic_partition_list_t *l, bool group)
{
	rd_kafka_topic_partition_list_t *q;
	rd_kafka_resp_err_t e;

	if (group && (e = rd_kafka_committed(s->rk, l, META_MS)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return e;
	if ((q = rd_kafka_topic_partition_list_new(l->cnt)) == NULL)
		return RD_KAFKA_RESP_ERR__FAIL;
	for (int i = 0; i < l->cnt; i++)
		if (!group || l->elems[i].offset < 0)
			rd_kafka_topic_partition_list_add(q, l->elems[i].topic,
			    l->elems[i].partition)->offset =
			    (int64_t)s->o->from.value + 1;
	e = q->cnt > 0 ? rd_kafka_offsets_for_times(s->rk, q, META_MS) :
	    RD_KAFKA_RESP_ERR_NO_ERROR;
	for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < q->cnt; i++) {
		rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
		    l, q->elems[i].topic, q->elems[i].partition);
		if (q->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
			e = q->elems[i].err;
		else if (p != NULL && q->elems[i].offset >= 0)
			p->offset = q->elems[i].offset;
		else if (p != NULL) {
			p->offset = RD_KAFKA_OFFSET_BEGINNING;
			state_set(s, p->partition,
			    state_get(s, p->partition) | P_SKIP);
		}
	}
	rd_kafka_topic_partition_list_destroy(q);
	return e;
}

static void
src_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
    rd_kafka_topic_partition_list_t *l, void *opaque)
{
	struct ksrc *s = opaque;
	bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *ee = NULL;
	rd_kafka_resp_err_t ae = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < l->cnt; i++)
			state_set(s, l->elems[i].partition, P_OURS);
		if (s->o->from_given && s->o->from.from == LS_FROM_TIME &&
		    (ae = from_time(s, l, true)) != RD_KAFKA_RESP_ERR_NO_ERROR)
			src_failed(s, "--from time: ", rd_kafka_err2str(ae));
		if (coop)
			ee = rd_kafka_incremental_assign(rk, l);
		else
			ae = rd_kafka_assign(rk, l);
	} else {
		/* revoked (or lost): another member takes them over from
		 * the last commit */
		for (int i = 0; i < l->cnt; i++)
			state_set(s, l->elems[i].partition, 0);
		if (coop)
			ee = rd_kafka_incremental_unassign(rk, l);
		else
			ae = rd_kafka_assign(rk, NULL);
	}
	if (ee != NULL) {
		src_failed(s, "assign: ", rd_kafka_error_string(ee));
		rd_kafka_error_destroy(ee);
	} else if (ae != RD_KAFKA_RESP_ERR_NO_ERROR)
		src_failed(s, "assign: ", rd_kafka_err2str(ae));
}

static void
src_committed(rd_kafka_t *rk, rd_kafka_resp_err_t e,
    rd_kafka_topic_partition_list_t *l, void *opaque)
{
	struct ksrc *s = opaque;

	(void)rk;
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR && l != NULL)
		for (int i = 0; i < l->cnt; i++)
			if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
				e = l->elems[i].err;
				break;
			}
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    e != RD_KAFKA_RESP_ERR__NO_OFFSET)
		src_failed(s, "commit: ", rd_kafka_err2str(e));
}

/* Errors that end a consumer; the client retries the others. */
static bool
src_fatal(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR__FATAL:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
		return true;
	default:
		return false;
	}
}

static int
src_report(struct ksrc *s, ls_error *err)
{
	int rc = ls__fail(err, s->cb_rc, 0, "%s", s->cb_msg);

	s->cb_rc = LS_OK;
	return rc;
}

static void
src_fill(struct ksrc *s, const rd_kafka_message_t *msg, ls_msg *m)
{
	static const unsigned char empty[1];
	rd_kafka_headers_t *h = NULL;
	const void *val;
	size_t n;
	int64_t ts;

	if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
		h = NULL;
	if (h != NULL && rd_kafka_header_get_last(h, H_KEY, &val, &n) ==
	    RD_KAFKA_RESP_ERR_NO_ERROR && val != NULL && ls_key_valid(val, n))
		;
	else if (msg->key != NULL && ls_key_valid(msg->key, msg->key_len)) {
		val = msg->key;
		n = msg->key_len;
	} else {
		val = LS_DEFAULT_KEY;
		n = strlen(LS_DEFAULT_KEY);
	}
	memcpy(m->key, val, n);
	m->key[n] = '\0';
	m->key_len = n;
	if (header_meta(h, &m->seq, &m->shard))
		;
	else {
		if (!header_u64(h, H_SEQ, &m->seq))
			m->seq = (uint64_t)msg->offset;
		if (!header_u64(h, H_SHARD, &m->shard))
			m->shard = (uint64_t)msg->partition;
	}
	ts = rd_kafka_message_timestamp(msg, NULL);
	m->ts_ms = ts >= 0 ? (uint64_t)ts : ls_now_ms();
	m->payload = msg->payload != NULL ? msg->payload : empty;
	m->len = msg->payload != NULL ? msg->len : 0;
	s->where = (uint64_t)msg->offset;
	s->where_part = msg->partition;
}

static int
ksrc_next(void *ctx, ls_msg *m, ls_error *err)
{
	struct ksrc *s = ctx;
	rd_kafka_message_t *msg;
	unsigned st;

	if (s->cur != NULL) {
		/* the caller is done with it: committed by the next commit;
		 * a partition taken away meanwhile is read again by its new
		 * owner */
		rd_kafka_resp_err_t e = s->group ? rd_kafka_offset_store(
		    s->cur->rkt, s->cur->partition, s->cur->offset) :
		    RD_KAFKA_RESP_ERR_NO_ERROR;
		rd_kafka_message_destroy(s->cur);
		s->cur = NULL;
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
		    e != RD_KAFKA_RESP_ERR__STATE)
			return ls__fail(err, LS_ERR_IO, 0, "offset store: %s",
			    rd_kafka_err2str(e));
		s->pending |= s->group;
	}
	for (;;) {
		if (s->cb_rc != LS_OK)
			return src_report(s, err);
		if ((s->o->stop != NULL && *s->o->stop) || (s->o->exit_at_end &&
		    s->nassigned > 0 && s->neof == s->nassigned)) {
			s->ended = true;
			return LS_END;
		}
		if ((msg = rd_kafka_consumer_poll(s->rk, 0)) == NULL) {
			if (s->o->on_wait != NULL)
				s->o->on_wait(s->o->wait_ctx);
			if (s->cb_rc != LS_OK)
				return src_report(s, err);
			if (s->o->stop != NULL && *s->o->stop)
				continue;
			if ((msg = rd_kafka_consumer_poll(s->rk, POLL_MS)) ==
			    NULL)
				continue;
		}
		st = state_get(s, msg->partition);
		if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (st & P_OURS)
				state_set(s, msg->partition, st | P_EOF);
			rd_kafka_message_destroy(msg);
			continue;
		}
		if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_resp_err_t e = msg->err;
			char reason[200];
			snprintf(reason, sizeof(reason), "%s",
			    rd_kafka_message_errstr(msg));
			rd_kafka_message_destroy(msg);
			if (src_fatal(e))
				return ls__fail(err, LS_ERR_IO, 0, "%s", reason);
			continue;
		}
		if (st & P_SKIP) {
			int64_t ts = rd_kafka_message_timestamp(msg, NULL);
			if (ts >= 0 && (uint64_t)ts <= s->o->from.value) {
				rd_kafka_message_destroy(msg);
				continue;
			}
			st &= ~P_SKIP;
		}
		if (st != state_get(s, msg->partition) || (st & P_EOF))
			state_set(s, msg->partition, st & ~P_EOF);
		src_fill(s, msg, m);
		s->cur = msg;
		return LS_OK;
	}
}

static int
ksrc_commit(void *ctx, ls_error *err)
{
	struct ksrc *s = ctx;
	rd_kafka_resp_err_t e;

	if (!s->group)
		return LS_OK;
	if (s->cb_rc != LS_OK)
		return src_report(s, err);
	if (!s->pending)
		return LS_OK;
	s->pending = false;
	/* synchronous at the end, so that it is done when we exit */
	e = rd_kafka_commit(s->rk, NULL, !s->ended);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    e != RD_KAFKA_RESP_ERR__NO_OFFSET)
		return ls__fail(err, LS_ERR_IO, 0, "commit: %s",
		    rd_kafka_err2str(e));
	return LS_OK;
}

static uint64_t
ksrc_where(void *ctx)
{
	return ((struct ksrc *)ctx)->where;
}

static void
ksrc_where_text(void *ctx, char *buf, size_t n)
{
	struct ksrc *s = ctx;

	snprintf(buf, n, "partition %ld offset %llu", (long)s->where_part,
	    (unsigned long long)s->where);
}

static void
ksrc_free(struct ksrc *s)
{
	if (s->cur != NULL)
		rd_kafka_message_destroy(s->cur);
	if (s->rk != NULL) {
		/* leaves the group; commits nothing (no auto commit) */
		rd_kafka_consumer_close(s->rk);
		rd_kafka_destroy(s->rk);
	}
	free(s->state);
	free(s->topic);
	free(s->uri);
	free(s);
}

static void
ksrc_close(void *ctx)
{
	ksrc_free(ctx);
}

/* Without a group: every partition of the topic, from the position. */
static int
assign_all(struct ksrc *s, ls_error *err)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t e;
	int64_t start = RD_KAFKA_OFFSET_BEGINNING;
	int rc = LS_OK;

	if ((rkt = rd_kafka_topic_new(s->rk, s->topic, NULL)) == NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, s->uri, "%s",
		    rd_kafka_err2str(rd_kafka_last_error()));
	e = rd_kafka_metadata(s->rk, 0, rkt, &md, META_MS);
	rd_kafka_topic_destroy(rkt);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR && (md->topic_cnt != 1 ||
	    md->topics[0].partition_cnt == 0))
		e = md->topic_cnt == 1 && md->topics[0].err !=
		    RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].err :
		    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = ls__failn(err, LS_ERR_IO, 0, s->uri, "topic %s: %s%s%s",
		    s->topic, rd_kafka_err2str(e), s->last_error[0] ? "; last "
		    "error: " : "", s->last_error);
		goto done;
	}
	if (s->o->from_given && s->o->from.from == LS_FROM_END)
		start = RD_KAFKA_OFFSET_END;
	if ((l = rd_kafka_topic_partition_list_new(
	    md->topics[0].partition_cnt)) == NULL) {
		rc = ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		goto done;
	}
	for (int i = 0; i < md->topics[0].partition_cnt; i++) {
		int32_t p = md->topics[0].partitions[i].id;
		rd_kafka_topic_partition_list_add(l, s->topic, p)->offset =
		    start;
		state_set(s, p, P_OURS);
	}
	if (s->o->from_given && s->o->from.from == LS_FROM_TIME &&
	    (e = from_time(s, l, false)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = ls__failn(err, LS_ERR_IO, 0, s->uri, "--from time: %s",
		    rd_kafka_err2str(e));
		goto done;
	}
	if ((e = rd_kafka_assign(s->rk, l)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		rc = ls__failn(err, LS_ERR_IO, 0, s->uri, "assign: %s",
		    rd_kafka_err2str(e));
	if (rc == LS_OK && s->cb_rc != LS_OK)
		rc = src_report(s, err);
done:
	if (l != NULL)
		rd_kafka_topic_partition_list_destroy(l);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	return rc;
}

/* The source options that are not for Kafka inputs. */
static int
src_opts_check(const char *name, const ls_source_opts *o, ls_error *err)
{
	if (o->from_given && o->from.from != LS_FROM_START &&
	    o->from.from != LS_FROM_END && o->from.from != LS_FROM_TIME)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "--from: Kafka "
		    "inputs start at start, end or time:T");
	if (o->from_id != NULL || o->consumer != NULL || o->claim_idle_ms > 0)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "--from id:, "
		    "--consumer and --claim-idle are for Redis inputs");
	if (o->from_given && o->from.key != NULL)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "--from: a "
		    "position in one stream is for .ss files");
	return LS_OK;
}

/* With a group: subscribes to the topic. */
static int
subscribe(struct ksrc *s, ls_error *err)
{
	rd_kafka_topic_partition_list_t *l =
	    rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t e;

	if (l == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	rd_kafka_topic_partition_list_add(l, s->topic, RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(s->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return ls__failn(err, LS_ERR_IO, 0, s->uri, "subscribe: %s",
		    rd_kafka_err2str(e));
	return LS_OK;
}

int
ls__kafka_source(const struct ls__uri *lu, const ls_source_opts *o,
    struct ls__src *b, ls_error *err)
{
	const char *uri = lu->text;
	const char *defs[] = {
		"enable.auto.commit", "false",
		"enable.auto.offset.store", "false",
		"enable.partition.eof", o->exit_at_end ? "true" : "false",
		/* a group's partitions without a committed offset */
		"auto.offset.reset", o->from_given &&
		    o->from.from == LS_FROM_END ? "latest" : "earliest",
		/* assign() needs one; without --group nothing joins a
		 * group or commits to it */
		"group.id", o->group ? o->group : "libstream",
		NULL
	};
	struct ksrc *s;
	struct kuri u;
	rd_kafka_conf_t *conf;
	char errstr[256];
	uint32_t close_ms;	/* a sink's: not used */

	memset(&u, 0, sizeof(u));
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->uri = ls__uri_redact(uri)) == NULL) {
		free(s);
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	}
	s->o = o;
	s->group = o->group != NULL;
	if (src_opts_check(s->uri, o, err) != LS_OK ||
	    kuri_parse(lu, s->uri, &u, err) != LS_OK ||
	    (conf = conf_make(s->uri, &u, defs, o->props, &close_ms,
	    err)) == NULL)
		goto fail;
	s->topic = u.topic;
	u.topic = NULL;
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_error_cb(conf, src_error);
	rd_kafka_conf_set_offset_commit_cb(conf, src_committed);
	if (s->group)
		rd_kafka_conf_set_rebalance_cb(conf, src_rebalance);
	if ((s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		rd_kafka_conf_destroy(conf);
		ls__failn(err, LS_ERR_INVAL, 0, s->uri, "%s", errstr);
		goto fail;
	}
	rd_kafka_poll_set_consumer(s->rk);
	if ((s->group ? subscribe(s, err) : assign_all(s, err)) != LS_OK)
		goto fail;
	kuri_free(&u);
	b->ctx = s;
	b->next = ksrc_next;
	b->commit = ksrc_commit;
	b->where = ksrc_where;
	b->where_text = ksrc_where_text;
	b->close = ksrc_close;
	return LS_OK;
fail:
	kuri_free(&u);
	ksrc_free(s);
	return err ? err->code : LS_ERR_INVAL;
}
#endif
