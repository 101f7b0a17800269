/* Sources and sinks named by URI: line framing on stdio or files, .ss
 * files, either of them through zlib. */
#define _GNU_SOURCE	/* memrchr */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ls-internal.h"
#include "broker-internal.h"
#include "streams-internal.h"

struct key {
	size_t len;
	char key[LS_KEY_MAX + 7];
};

struct keyset {
	size_t n;
	struct key *v;
};

struct uri {
	bool stdio;
	int broker;		/* 'r' redis://, 'k' kafka://, or 0 */
	bool gz;
	char *path;		/* owned */
	struct keyset keys;	/* owned */
};

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n >= k && strcmp(s + n - k, suf) == 0;
}

static int
keys_parse(struct keyset *ks, const char *list, ls_error *err)
{
	const char *p = list;

	ks->n = 0;
	ks->v = NULL;
	while (*p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		struct key *v;
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

static bool
keys_pass(const struct keyset *ks, const ls_msg *m)
{
	if (ks->n == 0)
		return true;
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
uri_free(struct uri *u)
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

static int
uri_parse(const char *uri, bool output, struct uri *u, ls_error *err)
{
	const char *p;

	memset(u, 0, sizeof(*u));
	if (strcmp(uri, "-") == 0 || strcmp(uri, "stdio://") == 0 ||
	    strcmp(uri, "stdio:") == 0) {
		u->stdio = true;
		return LS_OK;
	}
	if (strncmp(uri, "stdio://", 8) == 0) {
		u->stdio = true;
		p = uri + 8;
		if (*p == '/')
			p++;
		return keys_parse(&u->keys, p, err);
	}
	if (strncmp(uri, "redis://", 8) == 0) {
		u->broker = 'r';
		return LS_OK;
	}
	if (strncmp(uri, "kafka://", 8) == 0) {
		u->broker = 'k';
		return LS_OK;
	}
	if (strncmp(uri, "rediss://", 9) == 0) {
		char *name = ls__uri_redact(uri);
		int rc = ls__failn(err, LS_ERR_INVAL, 0, name ? name :
		    "rediss://", "TLS (rediss://) is not supported");
		free(name);
		return rc;
	}
	p = strncmp(uri, "file://", 7) == 0 ? uri + 7 : uri;
	if (*p == '\0')
		return ls__fail(err, LS_ERR_INVAL, 0, "empty path in '%s'", uri);
	if ((u->path = strdup(p)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	if (p != uri) {
		/* SeaStreamer's file://PATH/KEY, when unambiguous */
		char *slash = strrchr(u->path, '/');
		if (slash != NULL && slash != u->path && !is_regular(u->path) &&
		    ls_key_valid(slash + 1, strlen(slash + 1))) {
			*slash = '\0';
			bool split = is_regular(u->path) || (output &&
			    (has_suffix(u->path, ".ss") ||
			    has_suffix(u->path, ".ss.gz")));
			if (split) {
				int rc = keys_parse(&u->keys, slash + 1, err);
				if (rc != LS_OK)
					return rc;
			} else
				*slash = '/';
		}
	}
	u->gz = has_suffix(u->path, ".gz");
	return LS_OK;
}

/* --- sources ------------------------------------------------------------ */

struct ls_source {
	bool ss;
	char *name;
	int fd;
	bool own_fd;
	bool regular;
	gzFile gz;
	ls_source_opts o;
	struct keyset keys;
	/* lines */
	unsigned char *buf;
	size_t cap, start, end, scan;
	uint64_t lineno;
	uint64_t raw;
	bool failed;
	struct ls__streams seqs;
	/* .ss */
	ls_ss_reader *r;
	bool ended;
	/* a broker */
	struct ls__bsrc *b;
	/* the wait hook may be called (inside ls_source_next), and gave up */
	bool may_wait, again;
	/* following: the file is looked at before the next read (after a
	 * pause at its end: LS_PARTIAL if inside a message, at byte cut) */
	int look;
	uint64_t cut;
};

/* Lets the wait hook decide whether to block on fd (-1: a pause of
 * poll_ms). Returns true if it gave up. */
static bool
give_up(ls_source *s, int fd)
{
	if (s->o.wait == NULL || !s->may_wait)
		return false;
	if (s->o.wait(s->o.wait_ctx, fd) == 0)
		return false;
	s->again = true;
	return true;
}

static bool
stopped(const ls_source *s)
{
	return s->o.stop != NULL && *s->o.stop;
}

static ssize_t
src_read(void *ctx, void *buf, size_t n)
{
	ls_source *s = ctx;
	ssize_t r;

	for (;;) {
		if (s->o.stop != NULL && *s->o.stop)
			return 0;
		if (s->o.on_wait != NULL)
			s->o.on_wait(s->o.wait_ctx);
		if (s->gz != NULL) {
			int k = gzread(s->gz, buf, n > INT_MAX ? INT_MAX :
			    (unsigned)n);
			if (k < 0) {
				int zerr;
				gzerror(s->gz, &zerr);
				if (zerr != Z_ERRNO)
					errno = EIO;
				/* zlib keeps the error and may have dropped
				 * what it read before: no retry, only a stop
				 * ends quietly */
				if (errno == EINTR && stopped(s))
					return 0;
			}
			return k;
		}
		if (!s->regular && give_up(s, s->fd))
			return 0;
		if (s->o.stop != NULL && *s->o.stop)
			return 0;
		r = read(s->fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

/* A follower's pause. Returns true if the wait hook gave up. */
static bool
nap(ls_source *s)
{
	unsigned ms = s->o.poll_ms ? s->o.poll_ms : 50;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (s->o.on_wait != NULL)
		s->o.on_wait(s->o.wait_ctx);
	if (s->o.wait != NULL && s->may_wait)
		return give_up(s, -1);
	nanosleep(&ts, NULL);
	return false;
}

static bool
following(const ls_source *s)
{
	return s->o.follow && s->regular && !stopped(s);
}

LS_API int
ls_follow_replaced(int fd, const char *path, int *newfd, ls_error *err)
{
	struct stat now, was;
	off_t at;
	int nfd;

	*newfd = -1;
	/* moved away and none created yet: the old one is followed still */
	if (stat(path, &now) != 0 || !S_ISREG(now.st_mode) ||
	    fstat(fd, &was) != 0)
		return LS_OK;
	if (now.st_ino == was.st_ino && now.st_dev == was.st_dev)
		return LS_OK;
	/* what its writer added before the new one appeared, first */
	if ((at = lseek(fd, 0, SEEK_CUR)) < 0 || at < was.st_size)
		return LS_OK;
	if ((nfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? LS_OK : ls__fail(err, LS_ERR_IO, 0,
		    "%s: %s", path, strerror(errno));
	*newfd = nfd;
	return ls__fail(err, LS_NOTICE, 0,
	    "file replaced; following the new file");
}

/* Takes fd, the file that replaced the one followed, in its place. */
static void
switch_fd(ls_source *s, int fd)
{
	struct stat st;

	if (s->own_fd)
		close(s->fd);
	s->fd = fd;
	s->own_fd = true;
	s->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * A line follower's look at its file after a pause: shorter than what
 * was read, it was truncated and is read again from its start; replaced,
 * the new file is read. An unfinished line read before either is left
 * out. Returns LS_OK, LS_NOTICE or an error.
 */
static int
lines_look(ls_source *s, ls_error *err)
{
	struct stat st;
	off_t at = lseek(s->fd, 0, SEEK_CUR);
	const char *what = "file truncated; following from its start";
	size_t k = s->end - s->start;
	int fd, rc;

	if (at < 0 || fstat(s->fd, &st) != 0)
		return ls__fail(err, LS_ERR_IO, s->lineno, "%s: %s", s->name,
		    strerror(errno));
	if (st.st_size < at) {
		if (lseek(s->fd, 0, SEEK_SET) < 0)
			return ls__fail(err, LS_ERR_IO, s->lineno, "%s: seek: "
			    "%s", s->name, strerror(errno));
	} else {
		/* standard input has no path to look at */
		rc = s->own_fd ? ls_follow_replaced(s->fd, s->name, &fd, err) :
		    LS_OK;
		if (rc != LS_NOTICE)
			return rc;
		switch_fd(s, fd);
		what = "file replaced; following the new file";
	}
	s->start = s->end = s->scan = 0;
	s->lineno = 0;
	if (k == 0)
		return ls__fail(err, LS_NOTICE, 0, "%s: %s", s->name, what);
	return ls__fail(err, LS_NOTICE, 0, "%s: %s (the %zu bytes of an "
	    "unfinished line before it are left out)", s->name, what, k);
}

/* Finds the next line. Returns LS_OK, LS_END, or an error. */
static int
next_line(ls_source *s, const char **line, size_t *len, ls_error *err)
{
	for (;;) {
		unsigned char *nl = s->end > s->scan ?
		    memchr(s->buf + s->scan, '\n', s->end - s->scan) : NULL;
		if (nl != NULL) {
			*line = (const char *)s->buf + s->start;
			*len = (size_t)(nl - s->buf) - s->start;
			s->start = s->scan = (size_t)(nl - s->buf) + 1;
			return LS_OK;
		}
		s->scan = s->end;
		if (s->start > 0) {
			memmove(s->buf, s->buf + s->start, s->end - s->start);
			s->end -= s->start;
			s->scan = s->end;
			s->start = 0;
		}
		if (s->end == s->cap &&
		    ls__grow(&s->buf, &s->cap, s->cap + 1) != 0)
			return ls__fail(err, LS_ERR_NOMEM, s->lineno + 1,
			    "out of memory for line %llu",
			    (unsigned long long)s->lineno + 1);
		if (s->look) {
			int rc = lines_look(s, err);
			s->look = 0;
			if (rc != LS_OK)
				return rc;
		}
		ssize_t n = src_read(s, s->buf + s->end, s->cap - s->end);
		if (s->again)
			return LS_AGAIN;
		if (n < 0)
			return ls__failn(err, LS_ERR_IO, s->lineno + 1, s->name,
			    "read: %s", strerror(errno));
		if (n > 0) {
			s->end += (size_t)n;
			continue;
		}
		if (following(s)) {
			s->look = LS_END;
			if (nap(s))
				return LS_AGAIN;
			continue;
		}
		if (s->end == s->start)
			return LS_END;
		if (stopped(s)) {
			/* the rest of it was not read: leave it out */
			size_t k = s->end - s->start;
			s->start = s->scan = s->end;
			return ls__failn(err, LS_PARTIAL, s->lineno + 1,
			    s->name, "line %llu: cut short by a stop; its %zu "
			    "bytes read so far are left out",
			    (unsigned long long)s->lineno + 1, k);
		}
		/* a last line without a newline */
		*line = (const char *)s->buf + s->start;
		*len = s->end - s->start;
		s->start = s->scan = s->end;
		return LS_OK;
	}
}

/* Gives m the next sequence number of its stream st unless the line
 * had one; a stream whose numbers are spent (2^64 - 1 was given) has no
 * next, which is an error rather than a wrap to 0. */
static int
number(ls_source *s, struct ls__stream *st, ls_msg *m, unsigned have,
    ls_error *err)
{
	if (have & LS_HAVE_SEQ) {
		st->seq = m->seq + 1;
		st->spent = m->seq == UINT64_MAX;
		return LS_OK;
	}
	if (st->spent)
		return ls__fail(err, LS_ERR_INVAL, s->lineno, "line %llu: "
		    "stream %s shard %llu has no sequence number after "
		    "18446744073709551615 to give", (unsigned long long)s->lineno,
		    m->key, (unsigned long long)m->shard);
	m->seq = st->seq++;
	st->spent = st->seq == 0;
	return LS_OK;
}

static int
lines_next(ls_source *s, ls_msg *m, ls_error *err)
{
	const char *line = NULL;
	size_t len = 0, idx;
	unsigned have;
	int rc;

	if (s->failed)
		return LS_END;
	for (;;) {
		if ((rc = next_line(s, &line, &len, err)) != LS_OK)
			return rc;
		s->lineno++;
		rc = ls_line_parse(line, len, m, &have, err);
		if (rc != LS_OK) {
			if (s->o.bad != LS_BAD_RAW) {
				char why[LS_ERRMSG_MAX];
				snprintf(why, sizeof(why), "%s", err ? err->msg :
				    "bad meta block");
				s->failed = s->o.bad == LS_BAD_FAIL;
				return ls__fail(err, LS_ERR_INVAL, s->lineno,
				    "line %llu: %s",
				    (unsigned long long)s->lineno, why);
			}
			m->payload = (const unsigned char *)line;
			m->len = len;
			have = 0;
			s->raw++;
		}
		if (!(have & LS_HAVE_KEY)) {
			memcpy(m->key, LS_DEFAULT_KEY, sizeof(LS_DEFAULT_KEY));
			m->key_len = sizeof(LS_DEFAULT_KEY) - 1;
		}
		if (!(have & LS_HAVE_SHARD))
			m->shard = 0;
		if (!(have & LS_HAVE_TS))
			m->ts_ms = ls_now_ms();
		if (ls__streams_find(&s->seqs, m->key, m->key_len, m->shard,
		    true, &idx) < 0)
			return ls__fail(err, LS_ERR_NOMEM, s->lineno,
			    "out of memory");
		if ((rc = number(s, &s->seqs.v[idx], m, have, err)) != LS_OK)
			return rc;
		/* lines without a key are for every consumer, as in
		 * SeaStreamer's stdio; End-of-Stream ends every filter */
		if (!(have & LS_HAVE_KEY) || keys_pass(&s->keys, m) ||
		    ls_msg_is_eos(m))
			return LS_OK;
	}
}

/*
 * A .ss follower's look at its file after a pause at its end (end is
 * LS_END, or LS_PARTIAL inside a message at byte cut): replaced, the new
 * file is read from its header; else the reader looks for a truncation.
 * Returns LS_OK, LS_NOTICE, or an error (LS_ERR_RANGE ends the source).
 */
static int
ss_look(ls_source *s, int end, uint64_t cut, ls_error *err)
{
	char why[LS_ERRMSG_MAX];
	int fd, rc;

	rc = s->own_fd ? ls_follow_replaced(s->fd, s->name, &fd, err) : LS_OK;
	if (rc == LS_NOTICE) {
		switch_fd(s, fd);
		s->start = s->end;	/* no sniffed bytes to hand back */
		if ((rc = ls_ss_reader_restart(s->r, fd, err)) != LS_OK)
			return rc;
		if (end != LS_PARTIAL)
			return ls__fail(err, LS_NOTICE, 0, "%s: file replaced; "
			    "following the new file", s->name);
		return ls__fail(err, LS_NOTICE, cut, "%s: file replaced; "
		    "following the new file (the old one was cut short at "
		    "byte %llu)", s->name, (unsigned long long)cut);
	}
	if (rc == LS_OK)
		rc = ls_ss_reader_refresh(s->r, err);
	if (rc == LS_ERR_RANGE)
		s->ended = true;
	if (rc == LS_OK || err == NULL)
		return rc;
	snprintf(why, sizeof(why), "%s", err->msg);
	if (rc == LS_NOTICE) {
		s->start = s->end;	/* the reader went back to byte 0 */
		return ls__fail(err, rc, 0, "%s: %s", s->name, why);
	}
	return ls__fail(err, rc, err->offset, "byte %llu: %s",
	    (unsigned long long)err->offset, why);
}

static int
ss_next(ls_source *s, ls_msg *m, ls_error *err)
{
	uint64_t from, to;
	int rc;

	if (s->ended)
		return LS_END;
	for (;;) {
		if (s->look) {
			rc = ss_look(s, s->look, s->cut, err);
			s->look = 0;
			if (rc != LS_OK)
				return rc;
		}
		rc = ls_ss_next(s->r, m, err);
		if (s->again && (rc == LS_END || rc == LS_PARTIAL))
			return LS_AGAIN;
		if (rc == LS_OK) {
			if (ls_msg_is_eos(m) || keys_pass(&s->keys, m))
				return LS_OK;
			continue;
		}
		if (rc == LS_END || rc == LS_PARTIAL) {
			if (following(s)) {
				s->look = rc;
				s->cut = rc == LS_PARTIAL && err ? err->offset : 0;
				if (nap(s))
					return LS_AGAIN;
				continue;
			}
			s->ended = true;
			if (rc == LS_PARTIAL && !stopped(s))
				return ls__failn(err, LS_PARTIAL, err ?
				    err->offset : 0, s->name, "truncated at "
				    "byte %llu", (unsigned long long)(err ?
				    err->offset : 0));
			return LS_END;
		}
		if (rc == LS_ERR_CORRUPT && following(s)) {
			/* damage read from a file rewritten meanwhile? */
			ls_error e2;
			if (ls_ss_reader_refresh(s->r, &e2) == LS_NOTICE) {
				s->start = s->end;
				return ls__fail(err, LS_NOTICE, 0, "%s: %s",
				    s->name, e2.msg);
			}
		}
		if (rc == LS_ERR_CORRUPT && !s->o.skip_corrupt && err) {
			char why[LS_ERRMSG_MAX];
			snprintf(why, sizeof(why), "%s", err->msg);
			return ls__fail(err, rc, err->offset, "byte %llu: %s",
			    (unsigned long long)err->offset, why);
		}
		if (rc != LS_ERR_CORRUPT || !s->o.skip_corrupt)
			return rc;
		char why[LS_ERRMSG_MAX];
		uint64_t at = err ? err->offset : 0;
		snprintf(why, sizeof(why), "%s", err ? err->msg : "damage");
		rc = ls_ss_resync(s->r, &from, &to, err);
		if (rc == LS_END || rc == LS_ERR_SEEK) {
			s->ended = true;
			return ls__fail(err, LS_ERR_CORRUPT, at,
			    "byte %llu: %s; nothing readable after it",
			    (unsigned long long)at, why);
		}
		if (rc != LS_OK)
			return rc;
		return ls__fail(err, LS_ERR_CORRUPT, at, "byte %llu: %s; "
		    "skipped bytes %llu to %llu", (unsigned long long)at, why,
		    (unsigned long long)from, (unsigned long long)to);
	}
}

LS_API int
ls_source_next(ls_source *s, ls_msg *m, ls_error *err)
{
	int rc;

	s->may_wait = true;
	s->again = false;
	if (s->b != NULL)
		rc = s->b->next(s->b->ctx, m, err);
	else
		rc = s->ss ? ss_next(s, m, err) : lines_next(s, m, err);
	s->may_wait = false;
	return rc;
}

LS_API int
ls_source_commit(ls_source *s, ls_error *err)
{
	if (s->b == NULL || s->b->commit == NULL)
		return LS_OK;
	return s->b->commit(s->b->ctx, err);
}

LS_API const char *
ls_source_name(const ls_source *s)
{
	return s->name;
}

LS_API uint64_t
ls_source_where(const ls_source *s)
{
	if (s->b != NULL)
		return s->b->where ? s->b->where(s->b->ctx) : 0;
	return s->ss ? ls_ss_reader_msg_offset(s->r) : s->lineno;
}

LS_API const char *
ls_source_where_text(const ls_source *s, char *buf, size_t n)
{
	if (s->b != NULL && s->b->where_text != NULL)
		s->b->where_text(s->b->ctx, buf, n);
	else
		snprintf(buf, n, "%s %llu", s->ss ? "byte" : s->b ? "at" :
		    "line", (unsigned long long)ls_source_where(s));
	return buf;
}

LS_API bool
ls_source_is_lines(const ls_source *s)
{
	return !s->ss && s->b == NULL;
}

LS_API uint64_t
ls_source_raw_count(const ls_source *s)
{
	return s->raw;
}

LS_API void
ls_source_close(ls_source *s)
{
	if (s == NULL)
		return;
	if (s->b != NULL && s->b->close != NULL)
		s->b->close(s->b->ctx);
	free(s->b);
	ls_ss_reader_free(s->r);
	if (s->gz != NULL)
		gzclose(s->gz);
	else if (s->own_fd)
		close(s->fd);
	ls__streams_free(&s->seqs);
	free(s->keys.v);
	free(s->buf);
	free(s->name);
	free(s);
}

/* Reads the first bytes to tell a .ss file from lines; leaves them in
 * the line buffer. */
static int
sniff(ls_source *s, ls_error *err)
{
	while (s->end < 3) {
		ssize_t n = src_read(s, s->buf + s->end, s->cap - s->end);
		if (s->again)
			return LS_AGAIN;
		if (n < 0)
			return ls__failn(err, LS_ERR_IO, 0, s->name, "read: %s",
			    strerror(errno));
		if (n == 0) {
			/* a file its writer has not begun yet */
			if (!following(s))
				break;
			nap(s);
			continue;
		}
		s->end += (size_t)n;
	}
	s->ss = s->end >= 3 && memcmp(s->buf, "Ss\001", 3) == 0;
	return LS_OK;
}

static ssize_t
ss_replay_read(void *ctx, void *buf, size_t n)
{
	ls_source *s = ctx;

	/* first hand back what sniff() read */
	if (s->start < s->end) {
		size_t k = s->end - s->start;
		if (k > n)
			k = n;
		memcpy(buf, s->buf + s->start, k);
		s->start += k;
		return (ssize_t)k;
	}
	return src_read(s, buf, n);
}

LS_API ls_source *
ls_source_open(const char *uri, const ls_source_opts *o, ls_error *err)
{
	static const ls_source_opts none;
	ls_source *s;
	struct uri u;
	struct stat st;
	int rc;

	if ((rc = uri_parse(uri, false, &u, err)) != LS_OK) {
		uri_free(&u);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->buf = malloc(LS_IOBUF)) == NULL) {
		free(s);
		uri_free(&u);
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	s->cap = LS_IOBUF;
	s->o = o ? *o : none;
	s->keys = u.keys;
	u.keys.v = NULL;
	s->seqs.last = SIZE_MAX;
	s->fd = -1;
	if (u.broker) {
		if ((s->b = calloc(1, sizeof(*s->b))) == NULL ||
		    (s->name = ls__uri_redact(uri)) == NULL) {
			ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
			goto fail;
		}
		rc = u.broker == 'r' ? ls__redis_source(uri, &s->o, s->b, err) :
		    ls__kafka_source(uri, &s->o, s->b, err);
		if (rc != LS_OK) {
			s->b->close = NULL;
			goto fail;
		}
		uri_free(&u);
		return s;
	}
	if (u.stdio) {
		s->fd = STDIN_FILENO;
		s->name = strdup("stdin");
	} else {
		s->name = strdup(u.path);
		if ((s->fd = open(u.path, O_RDONLY | O_CLOEXEC)) < 0 &&
		    errno == EINTR && stopped(s) && s->name != NULL) {
			/* stopped while a FIFO waited for its writer: an
			 * input that ends before it began */
			s->failed = true;
			uri_free(&u);
			return s;
		}
		if (s->fd < 0) {
			ls__failn(err, LS_ERR_IO, 0, u.path, "%s",
			    strerror(errno));
			goto fail;
		}
		s->own_fd = true;
		if (u.gz && (s->gz = gzdopen(s->fd, "rb")) == NULL) {
			ls__failn(err, LS_ERR_NOMEM, 0, u.path, "zlib: out of "
			    "memory");
			goto fail;
		}
	}
	if (s->name == NULL) {
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		goto fail;
	}
	s->regular = !u.gz && fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode);
	if (u.gz && (s->o.follow || s->o.from.from != LS_FROM_START)) {
		ls__failn(err, LS_ERR_INVAL, 0, s->name, "--follow and "
		    "positions other than start need the uncompressed file");
		goto fail;
	}
	if (!u.stdio && sniff(s, err) != LS_OK)
		goto fail;
	if (!s->ss) {
		if (s->o.from.from != LS_FROM_START) {
			ls__failn(err, LS_ERR_INVAL, 0, s->name, "positions "
			    "other than start are for .ss files");
			goto fail;
		}
		uri_free(&u);
		return s;
	}
	s->r = ls_ss_reader_open_fn(u.gz ? -1 : s->fd, ss_replay_read, s,
	    s->o.verify ? LS_SS_VERIFY : 0, err);
	if (s->r == NULL) {
		if (err != NULL) {
			char why[LS_ERRMSG_MAX];
			snprintf(why, sizeof(why), "%s", err->msg);
			ls__failn(err, err->code, err->offset, s->name, "byte "
			    "%llu: %s", (unsigned long long)err->offset, why);
		}
		goto fail;
	}
	if (s->o.from.from != LS_FROM_START) {
		ls_ss_pos pos = s->o.from;
		if (pos.key == NULL && s->keys.n == 1) {
			pos.key = s->keys.v[0].key;
			pos.key_len = s->keys.v[0].len;
			pos.shard = LS_ANY_SHARD;
		}
		/* the sniffed bytes are behind us once we seek */
		s->start = s->end;
		rc = ls_ss_seek(s->r, &pos, err);
		if (rc != LS_OK && rc != LS_END) {
			char why[LS_ERRMSG_MAX];
			snprintf(why, sizeof(why), "%s", err ? err->msg : "");
			ls__failn(err, rc, err ? err->offset : 0, s->name, "%s",
			    why);
			goto fail;
		}
	}
	uri_free(&u);
	return s;
fail:
	uri_free(&u);
	ls_source_close(s);
	return NULL;
}

/* --- sinks -------------------------------------------------------------- */

struct ls_sink {
	bool ss;
	char *name;
	int fd;
	bool own_fd;
	bool regular;
	gzFile gz;
	ls_sink_opts o;
	struct keyset keys;
	ls_out out;
	bool out_ready;
	ls_ss_writer *w;
	uint64_t synced_ms;
	struct ls__bsink *b;	/* a broker */
	bool aborting;
	uint64_t dropped, dropped_at;	/* an append's incomplete tail */
};

static ssize_t
gz_write(void *ctx, const void *buf, size_t n)
{
	ls_sink *k = ctx;
	const char *p = buf;
	size_t done = 0;

	while (done < n) {
		size_t c = n - done > (1u << 30) ? (1u << 30) : n - done;
		int w = gzwrite(k->gz, p + done, (unsigned)c);
		if (w <= 0) {
			int zerr;
			gzerror(k->gz, &zerr);
			if (zerr != Z_ERRNO)
				errno = EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)n;
}

/* Why a zlib call on an output failed: the system's reason if it was a
 * write, close or fsync (Z_ERRNO keeps errno). */
static const char *
zwhy(int zrc)
{
	return zrc == Z_ERRNO ? strerror(errno) : zrc == Z_MEM_ERROR ?
	    "out of memory" : "failed";
}

/*
 * Makes what was written durable: a .gz file's compressed data first
 * goes out of zlib with Z_SYNC_FLUSH, after which the file decompresses
 * up to here.
 */
static int
sink_sync(ls_sink *k, ls_error *err)
{
	int zrc;

	if (!k->regular)
		return LS_OK;
	if (k->gz != NULL && (zrc = gzflush(k->gz, Z_SYNC_FLUSH)) != Z_OK)
		return ls__failn(err, LS_ERR_IO, 0, k->name, "zlib: flush: %s",
		    zwhy(zrc));
	if (fsync(k->fd) != 0)
		return ls__failn(err, LS_ERR_IO, 0, k->name, "fsync: %s",
		    strerror(errno));
	k->synced_ms = ls_now_ms();
	return LS_OK;
}

static int
sink_drain(ls_sink *k, ls_error *err)
{
	int rc = k->b != NULL ? k->b->flush(k->b->ctx, err) : k->ss ?
	    ls_ss_flush(k->w, err) : ls_out_flush(&k->out, err);

	/* a broker's errors name it already, as they do from write */
	if (rc != LS_OK && err != NULL && k->b == NULL) {
		char why[LS_ERRMSG_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		ls__failn(err, rc, err->offset, k->name, "%s", why);
	}
	return rc;
}

LS_API int
ls_sink_write(ls_sink *k, const ls_msg *m, ls_error *err)
{
	int rc;

	if (!keys_pass(&k->keys, m) && !ls_msg_is_eos(m))
		return LS_END;
	if (k->b != NULL)
		return k->b->write(k->b->ctx, m, err);
	rc = k->ss ? ls_ss_write(k->w, m, err) : ls_line_write(&k->out, m, err);
	if (rc != LS_OK)
		return rc;
	if (k->o.sync == LS_SYNC_EVERY) {
		if ((rc = sink_drain(k, err)) != LS_OK)
			return rc;
		return sink_sync(k, err);
	}
	return LS_OK;
}

LS_API int
ls_sink_flush(ls_sink *k, ls_error *err)
{
	int rc = sink_drain(k, err);

	if (rc == LS_OK && k->o.sync == LS_SYNC_INTERVAL &&
	    ls_now_ms() - k->synced_ms >= 1000)
		rc = sink_sync(k, err);
	return rc;
}

LS_API bool
ls_sink_is_ss(const ls_sink *k)
{
	return k->ss;
}

LS_API int
ls_sink_fd(const ls_sink *k)
{
	return k->gz != NULL || k->b != NULL ? -1 : k->fd;
}

LS_API const char *
ls_sink_name(const ls_sink *k)
{
	return k->name;
}

LS_API uint64_t
ls_sink_dropped(const ls_sink *k, uint64_t *at)
{
	*at = k->dropped_at;
	return k->dropped;
}

/* An append to a file of lines starts after its last newline: an
 * incomplete last line (a writer killed inside it) is cut off, so that
 * the next line is not glued onto it. */
static int
lines_tail(ls_sink *k, ls_error *err)
{
	unsigned char buf[4096];
	struct stat st;
	off_t end, at;

	if (fstat(k->fd, &st) != 0)
		return ls__failn(err, LS_ERR_IO, 0, k->name, "fstat: %s",
		    strerror(errno));
	for (end = st.st_size; end > 0; end = at) {
		size_t n = end < (off_t)sizeof(buf) ? (size_t)end : sizeof(buf);
		ssize_t got;
		at = end - (off_t)n;
		if ((got = pread(k->fd, buf, n, at)) != (ssize_t)n)
			return ls__failn(err, LS_ERR_IO, (uint64_t)at,
			    k->name, "read: %s", got < 0 ? strerror(errno) :
			    "file changed under the append");
		unsigned char *nl = memrchr(buf, '\n', n);
		if (nl != NULL) {
			end = at + (nl - buf) + 1;
			break;
		}
	}
	if (end == st.st_size)
		return LS_OK;
	if (ftruncate(k->fd, end) != 0)
		return ls__failn(err, LS_ERR_IO, (uint64_t)end,
		    k->name, "truncate: %s", strerror(errno));
	k->dropped = (uint64_t)(st.st_size - end);
	k->dropped_at = (uint64_t)end;
	return LS_OK;
}

static void
sink_free(ls_sink *k)
{
	ls_ss_writer_free(k->w);
	if (k->out_ready)
		ls_out_free(&k->out);
	free(k->keys.v);
	free(k->name);
	free(k->b);
	free(k);
}

LS_API int
ls_sink_close(ls_sink *k, const ls_msg *eos, ls_error *err)
{
	ls_error e2;
	ls_msg mark;
	int rc = LS_OK;

	if (err == NULL)
		err = &e2;
	if (k->b != NULL) {
		/* brokers carry no End-of-Stream: a stream has no end */
		rc = k->b->close(k->b->ctx, k->aborting, err);
		sink_free(k);
		return rc;
	}
	if (k->ss && !k->o.no_eos) {
		if (eos == NULL) {
			ls_msg_eos(&mark, ls_now_ms());
			eos = &mark;
		}
		rc = ls_ss_write(k->w, eos, err);
	} else if (!k->ss && eos != NULL && !k->o.no_eos)
		rc = ls_line_write(&k->out, eos, err);
	int rc2 = sink_drain(k, rc == LS_OK ? err : NULL);
	if (rc == LS_OK)
		rc = rc2;
	if (k->gz != NULL) {
		int zrc = gzclose(k->gz);
		if (zrc != Z_OK && rc == LS_OK)
			rc = ls__failn(err, LS_ERR_IO, 0, k->name, "zlib: "
			    "close: %s", zwhy(zrc));
		k->gz = NULL;	/* the trailer is out: only fsync is left */
	}
	if (rc == LS_OK && k->o.sync != LS_SYNC_NONE)
		rc = sink_sync(k, err);
	if (k->own_fd && close(k->fd) != 0 && rc == LS_OK)
		rc = ls__failn(err, LS_ERR_IO, 0, k->name, "close: %s",
		    strerror(errno));
	sink_free(k);
	return rc;
}

LS_API int
ls_sink_abort(ls_sink *k, ls_error *err)
{
	k->o.no_eos = true;
	k->aborting = true;
	return ls_sink_close(k, NULL, err);
}

LS_API ls_sink *
ls_sink_open(const char *uri, const ls_sink_opts *o, ls_error *err)
{
	static const ls_sink_opts none;
	ls_sink *k;
	struct uri u;
	struct stat st;
	int flags = O_CLOEXEC;

	if (uri_parse(uri, true, &u, err) != LS_OK) {
		uri_free(&u);
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		uri_free(&u);
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	k->o = o ? *o : none;
	if (k->o.interval == 0)
		k->o.interval = LS_SS_DEFAULT_INTERVAL;
	k->keys = u.keys;
	u.keys.v = NULL;
	k->fd = -1;
	k->synced_ms = ls_now_ms();
	if (u.broker) {
		int rc;
		if ((k->b = calloc(1, sizeof(*k->b))) == NULL ||
		    (k->name = ls__uri_redact(uri)) == NULL) {
			ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
			goto fail;
		}
		rc = u.broker == 'r' ? ls__redis_sink(uri, &k->o, k->b, err) :
		    ls__kafka_sink(uri, &k->o, k->b, err);
		if (rc != LS_OK)
			goto fail;
		uri_free(&u);
		return k;
	}
	if (u.stdio) {
		k->fd = STDOUT_FILENO;
		k->name = strdup("stdout");
	} else {
		bool exists = stat(u.path, &st) == 0;
		k->name = strdup(u.path);
		k->ss = has_suffix(u.path, ".ss") || has_suffix(u.path, ".ss.gz");
		if (u.gz && k->o.append) {
			ls__failn(err, LS_ERR_INVAL, 0, u.path, "cannot append "
			    "to a compressed file");
			goto fail;
		}
		if (exists && !S_ISREG(st.st_mode))
			flags |= O_WRONLY;	/* a FIFO or a device */
		else if (k->o.append)
			flags |= O_CREAT | (k->ss ? O_RDWR : O_RDWR | O_APPEND);
		else if (k->o.force)
			flags |= O_WRONLY | O_CREAT | O_TRUNC;
		else
			flags |= O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
		if ((k->fd = open(u.path, flags, 0666)) < 0) {
			if (errno == EEXIST)
				ls__failn(err, LS_ERR_IO, 0, u.path, "file "
				    "exists (--append to continue it, --force "
				    "to replace it)");
			else if (errno == EINTR)
				ls__failn(err, LS_ERR_IO, 0, u.path, "interrupted "
				    "while waiting for a reader");
			else
				ls__failn(err, LS_ERR_IO, 0, u.path, "%s",
				    strerror(errno));
			goto fail;
		}
		k->own_fd = true;
		k->regular = fstat(k->fd, &st) == 0 && S_ISREG(st.st_mode);
		/* zlib closes its own descriptor; k->fd stays for fsync */
		if (u.gz) {
			int zfd = fcntl(k->fd, F_DUPFD_CLOEXEC, 0);
			if (zfd < 0) {
				ls__failn(err, LS_ERR_IO, 0, u.path, "%s",
				    strerror(errno));
				goto fail;
			}
			if ((k->gz = gzdopen(zfd, "wb")) == NULL) {
				close(zfd);
				ls__failn(err, LS_ERR_NOMEM, 0, u.path, "zlib: "
				    "out of memory");
				goto fail;
			}
		}
	}
	if (k->name == NULL) {
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		goto fail;
	}
	if (!k->ss) {
		if (k->o.append && k->regular && lines_tail(k, err) != LS_OK)
			goto fail;
		if ((k->gz ? ls_out_init_fn(&k->out, gz_write, k, LS_IOBUF, err) :
		    ls_out_init(&k->out, k->fd, LS_IOBUF, err)) != LS_OK)
			goto fail;
		k->out_ready = true;
		uri_free(&u);
		return k;
	}
	ls_ss_header h;
	char base[LS_SS_NAME_MAX + 4];
	snprintf(base, sizeof(base), "%s", u.path);
	if (u.gz && has_suffix(base, ".gz"))
		base[strlen(base) - 3] = '\0';
	if (ls_ss_header_init(&h, base, k->o.interval, err) != LS_OK)
		goto fail;
	if (k->gz != NULL)
		k->w = ls_ss_writer_new_fn(gz_write, k, &h, err);
	else if (k->o.append && k->regular)
		k->w = ls_ss_writer_append(k->fd, &h, err);
	else
		k->w = ls_ss_writer_new(k->fd, &h, err);
	if (k->w != NULL && k->o.append && k->regular)
		k->dropped = ls_ss_writer_dropped(k->w, &k->dropped_at);
	if (k->w == NULL) {
		if (err != NULL) {
			char why[LS_ERRMSG_MAX];
			snprintf(why, sizeof(why), "%s", err->msg);
			ls__failn(err, err->code, err->offset, u.path, "%s",
			    why);
		}
		goto fail;
	}
	uri_free(&u);
	return k;
fail:
	uri_free(&u);
	if (k->gz != NULL)
		gzclose(k->gz);
	if (k->own_fd)
		close(k->fd);
	k->gz = NULL;
	k->own_fd = false;
	sink_free(k);
	return NULL;
}
