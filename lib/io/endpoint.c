/*
 * Sources and sinks named by URI: each URI is parsed once (struct
 * ls__uri) and opens the backend its scheme names, through the one
 * interface of io-internal.h; these functions only dispatch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls-internal.h"
#include "io-internal.h"

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n >= k && strcmp(s + n - k, suf) == 0;
}

static int
keys_parse(struct ls__keyset *ks, const char *list, ls_error *err)
{
	const char *p = list;

	ks->n = 0;
	ks->v = NULL;
	while (*p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		struct ls__key *v;
		if (!ls_key_valid(p, n))
			return ls__fail(err, LS_ERR_INVAL, 0,
			    "invalid stream key '%.*s' in URI", (int)n, p);
		if ((v = reallocarray(ks->v, ks->n + 1, sizeof(*v))) == NULL)
			return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		ks->v = v;
		v[ks->n].len = n;
		memcpy(v[ks->n].key, p, n);
		v[ks->n].key[n] = '\0';
		ks->n++;
		p += n;
		if (*p == ',')
			p++;
	}
	return LS_OK;
}

bool
ls__keys_in(const struct ls__keyset *ks, const ls_msg *m)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->v[i].len == m->key_len &&
		    memcmp(ks->v[i].key, m->key, m->key_len) == 0)
			return true;
	return false;
}

static bool
is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void
uri_free(struct ls__uri *u)
{
	free(u->path);
	free(u->keys.v);
	memset(u, 0, sizeof(*u));
}

char *
ls__uri_redact(const char *uri)
{
	const char *p = strstr(uri, "://"), *at = NULL, *colon;
	size_t auth, n;
	char *name;

	if (p == NULL)
		return strdup(uri);
	p += 3;
	auth = strcspn(p, "/");
	for (const char *q = p; q < p + auth; q++)
		if (*q == '@')
			at = q;
	if (at == NULL)
		return strdup(uri);
	/* USER:PASSWORD keeps USER; without a colon it is all password */
	colon = memchr(p, ':', (size_t)(at - p));
	n = strlen(uri) + 5;
	if ((name = malloc(n)) != NULL)
		snprintf(name, n, "%.*s:***%s", (int)((colon ? colon : p) - uri),
		    uri, at);
	return name;
}

/* The schemes of brokers and sockets: the URI is split, the backend
 * parses the rest. */
static const struct scheme {
	const char *prefix;
	int broker, net;
	bool input_only;
} schemes[] = {
	{ "redis://", 'r', 0, false },
	{ "kafka://", 'k', 0, false },
	{ "http://", 'h', 0, true },
	{ "https://", 'h', 0, true },
	{ "etcd://", 'e', 0, false },
	{ "tcp://", 0, 't', false },
	{ "unix://", 0, 'u', false },
	{ "udp://", 0, 'd', false },
};

/* A file's URI, PATH or file://PATH (or SeaStreamer's file://PATH/KEY,
 * when unambiguous). */
static int
file_uri(const char *uri, bool output, struct ls__uri *u, ls_error *err)
{
	const char *p = strncmp(uri, "file://", 7) == 0 ? uri + 7 : uri;

	if (*p == '\0')
		return ls__fail(err, LS_ERR_INVAL, 0, "empty path in '%s'", uri);
	if ((u->path = strdup(p)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if (p == uri)
		return LS_OK;
	char *slash = strrchr(u->path, '/');
	if (slash == NULL || slash == u->path || is_regular(u->path) ||
	    !ls_key_valid(slash + 1, strlen(slash + 1)))
		return LS_OK;
	*slash = '\0';
	if (is_regular(u->path) || (output && (has_suffix(u->path, ".ss") ||
	    has_suffix(u->path, ".ss.gz"))))
		return keys_parse(&u->keys, slash + 1, err);
	*slash = '/';
	return LS_OK;
}

static int
uri_parse(const char *uri, bool output, struct ls__uri *u, ls_error *err)
{
	memset(u, 0, sizeof(*u));
	u->text = uri;
	if (strcmp(uri, "-") == 0 || strcmp(uri, "stdio://") == 0 ||
	    strcmp(uri, "stdio:") == 0) {
		u->stdio = true;
		return LS_OK;
	}
	if (strncmp(uri, "stdio://", 8) == 0) {
		u->stdio = true;
		return keys_parse(&u->keys, uri + 8 + (uri[8] == '/'), err);
	}
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		const struct scheme *sc = &schemes[i];
		if (strncmp(uri, sc->prefix, strlen(sc->prefix)) != 0)
			continue;
		if (output && sc->input_only)
			return ls__failn(err, LS_ERR_INVAL, 0, uri, "an HTTP "
			    "collector is an input only");
		u->broker = sc->broker;
		u->net = sc->net;
		ls__uri_split(u);
		return LS_OK;
	}
	if (strncmp(uri, "rediss://", 9) == 0) {
		char *name = ls__uri_redact(uri);
		int rc = ls__failn(err, LS_ERR_INVAL, 0, name ? name :
		    "rediss://", "TLS (rediss://) is not supported");
		free(name);
		return rc;
	}
	int rc = file_uri(uri, output, u, err);
	if (rc == LS_OK)
		u->gz = has_suffix(u->path, ".gz");
	return rc;
}

/* --- sources ------------------------------------------------------------ */


/* --- sources ------------------------------------------------------------ */

struct ls_source {
	char *name;
	ls_source_opts o;	/* the backend may keep a pointer to it */
	struct ls__src be;
};

LS_API int
ls_source_next(ls_source *s, ls_msg *m, ls_error *err)
{
	return s->be.next(s->be.ctx, m, err);
}

LS_API int
ls_source_commit(ls_source *s, ls_error *err)
{
	return s->be.commit != NULL ? s->be.commit(s->be.ctx, err) : LS_OK;
}

LS_API const char *
ls_source_name(const ls_source *s)
{
	return s->name;
}

LS_API uint64_t
ls_source_where(const ls_source *s)
{
	return s->be.where != NULL ? s->be.where(s->be.ctx) : 0;
}

LS_API const char *
ls_source_where_text(const ls_source *s, char *buf, size_t n)
{
	if (s->be.where_text != NULL)
		s->be.where_text(s->be.ctx, buf, n);
	else
		snprintf(buf, n, "at %llu",
		    (unsigned long long)ls_source_where(s));
	return buf;
}

LS_API bool
ls_source_is_lines(const ls_source *s)
{
	return s->be.lines;
}

LS_API int
ls_source_mark(const ls_source *s, ls_src_pos *pos, ls_error *err)
{
	if (s->be.mark == NULL)
		return ls__failn(err, LS_ERR_SEEK, 0, s->name, "a broker's "
		    "source has no position to reopen it at (its consumer "
		    "group keeps one)");
	return s->be.mark(s->be.ctx, pos, err);
}

LS_API int
ls_source_seal(const ls_source *s, ls_src_pos *pos, ls_error *err)
{
	if (s->be.seal == NULL)
		return ls_source_mark(s, pos, err);
	return s->be.seal(s->be.ctx, pos, err);
}

LS_API int
ls_source_tell(const ls_source *s, ls_src_pos *pos, ls_error *err)
{
	int rc = ls_source_mark(s, pos, err);

	return rc == LS_OK ? ls_source_seal(s, pos, err) : rc;
}

LS_API uint64_t
ls_source_raw_count(const ls_source *s)
{
	return s->be.raw != NULL ? s->be.raw(s->be.ctx) : 0;
}

LS_API bool
ls_source_listen_stats(const ls_source *s, ls_listen_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (s->be.listen_stats == NULL)
		return false;
	s->be.listen_stats(s->be.ctx, st);
	return true;
}

LS_API void
ls_source_close(ls_source *s)
{
	if (s == NULL)
		return;
	if (s->be.close != NULL)
		s->be.close(s->be.ctx);
	free(s->name);
	free(s);
}

/* What messages call the endpoint of u: a broker's URI without its
 * password, a path, or stdin/stdout. */
static char *
endpoint_name(const struct ls__uri *u, const char *std)
{
	return u->broker || u->net ? ls__uri_redact(u->text) : strdup(u->stdio ? std :
	    u->path);
}

LS_API ls_source *
ls_source_open(const char *uri, const ls_source_opts *o, ls_error *err)
{
	static const ls_source_opts none;
	struct ls__uri u;
	ls_source *s;
	int rc;

	if (uri_parse(uri, false, &u, err) != LS_OK) {
		uri_free(&u);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->name = endpoint_name(&u, "stdin")) == NULL) {
		free(s);
		uri_free(&u);
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	s->o = o ? *o : none;
	rc = u.broker == 'r' ? ls__redis_source(&u, &s->o, &s->be, err) :
	    u.broker == 'k' ? ls__kafka_source(&u, &s->o, &s->be, err) :
	    u.broker == 'h' ? ls__http_source(&u, &s->o, s->name, &s->be, err) :
	    u.broker == 'e' ? ls__etcd_source(&u, &s->o, &s->be, err) :
	    u.net ? ls__net_source(&u, &s->o, s->name, &s->be, err) :
	    ls__file_source(&u, &s->o, s->name, &s->be, err);
	uri_free(&u);
	if (rc != LS_OK) {
		free(s->name);
		free(s);
		return NULL;
	}
	return s;
}

/* --- sinks -------------------------------------------------------------- */

struct ls_sink {
	char *name;
	ls_sink_opts o;		/* the backend may keep a pointer to it */
	struct ls__keyset keys;
	struct ls__snk be;
};

LS_API int
ls_sink_write(ls_sink *k, const ls_msg *m, ls_error *err)
{
	if (!ls__keys_pass(&k->keys, m) && !ls_msg_is_eos(m))
		return LS_END;
	return k->be.write(k->be.ctx, m, err);
}

LS_API int
ls_sink_flush(ls_sink *k, ls_error *err)
{
	return k->be.flush(k->be.ctx, err);
}

LS_API bool
ls_sink_is_ss(const ls_sink *k)
{
	return k->be.ss;
}

LS_API int
ls_sink_fd(const ls_sink *k)
{
	return k->be.fd;
}

LS_API const char *
ls_sink_name(const ls_sink *k)
{
	return k->name;
}

LS_API uint64_t
ls_sink_dropped(const ls_sink *k, uint64_t *at)
{
	*at = k->be.dropped_at;
	return k->be.dropped;
}

static int
sink_end(ls_sink *k, const ls_msg *eos, bool abort, ls_error *err)
{
	int rc = k->be.close(k->be.ctx, eos, abort, err);

	free(k->keys.v);
	free(k->name);
	free(k);
	return rc;
}

LS_API int
ls_sink_close(ls_sink *k, const ls_msg *eos, ls_error *err)
{
	return sink_end(k, eos, false, err);
}

LS_API int
ls_sink_abort(ls_sink *k, ls_error *err)
{
	return sink_end(k, NULL, true, err);
}

LS_API ls_sink *
ls_sink_open(const char *uri, const ls_sink_opts *o, ls_error *err)
{
	static const ls_sink_opts none;
	struct ls__uri u;
	ls_sink *k;
	int rc;

	if (uri_parse(uri, true, &u, err) != LS_OK) {
		uri_free(&u);
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->name = endpoint_name(&u, "stdout")) == NULL) {
		free(k);
		uri_free(&u);
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	k->o = o ? *o : none;
	k->be.fd = -1;		/* a broker writes no descriptor of ours */
	k->keys = u.keys;	/* the filter every sink applies */
	u.keys.v = NULL;
	u.keys.n = 0;
	rc = u.broker == 'r' ? ls__redis_sink(&u, &k->o, &k->be, err) :
	    u.broker == 'k' ? ls__kafka_sink(&u, &k->o, &k->be, err) :
	    u.broker == 'e' ? ls__etcd_sink(&u, &k->o, &k->be, err) :
	    u.net ? ls__net_sink(&u, &k->o, k->name, &k->be, err) :
	    ls__file_sink(&u, &k->o, k->name, &k->be, err);
	uri_free(&u);
	if (rc != LS_OK) {
		free(k->keys.v);
		free(k->name);
		free(k);
		return NULL;
	}
	return k;
}
