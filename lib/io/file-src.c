/*
 * The source backend of files and stdio: lines, or a .ss file as its
 * first bytes say, either through zlib; following a growing file as
 * tail -F does (truncated, replaced, crashed and appended to).
 */
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
#include "io-internal.h"
#include "streams-internal.h"

struct fsrc {
	bool ss;
	const char *name;	/* the source's */
	int fd;
	bool own_fd;
	bool regular;
	gzFile gz;
	ls_source_opts o;
	struct ls__keyset keys;
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
	/* the wait hook may be called (inside ls_source_next), and gave up */
	bool may_wait, again;
	/* following: the file is looked at before the next read (after a
	 * pause at its end: LS_PARTIAL if inside a message, at byte cut) */
	int look;
	uint64_t cut;
	/* positions: the file offset of buf[0] (lines), and the byte after
	 * the last message given, with the lines before it */
	uint64_t base, given, given_line;
	uint64_t dev, ino;	/* the file read */
	bool unended;		/* the last line had no newline: a position
				   stays before it, as its writer may not
				   have finished it */
};

/* Lets the wait hook decide whether to block on fd (-1: a pause of
 * poll_ms). Returns true if it gave up. */
static bool
give_up(struct fsrc *s, int fd)
{
	if (s->o.wait == NULL || !s->may_wait)
		return false;
	if (s->o.wait(s->o.wait_ctx, fd) == 0)
		return false;
	s->again = true;
	return true;
}

static bool
stopped(const struct fsrc *s)
{
	return s->o.stop != NULL && *s->o.stop;
}

static ssize_t
src_read(void *ctx, void *buf, size_t n)
{
	struct fsrc *s = ctx;
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
nap(struct fsrc *s)
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
following(const struct fsrc *s)
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
switch_fd(struct fsrc *s, int fd)
{
	struct stat st;

	if (s->own_fd)
		close(s->fd);
	s->fd = fd;
	s->own_fd = true;
	memset(&st, 0, sizeof(st));
	s->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	s->dev = (uint64_t)st.st_dev;
	s->ino = (uint64_t)st.st_ino;
}

/*
 * A line follower's look at its file after a pause: shorter than what
 * was read, it was truncated and is read again from its start; replaced,
 * the new file is read. An unfinished line read before either is left
 * out. Returns LS_OK, LS_NOTICE or an error.
 */
static int
lines_look(struct fsrc *s, ls_error *err)
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
	s->base = s->given = s->given_line = 0;
	if (k == 0)
		return ls__fail(err, LS_NOTICE, 0, "%s: %s", s->name, what);
	return ls__fail(err, LS_NOTICE, 0, "%s: %s (the %zu bytes of an "
	    "unfinished line before it are left out)", s->name, what, k);
}

/* Finds the next line. Returns LS_OK, LS_END, or an error. */
static int
next_line(struct fsrc *s, const char **line, size_t *len, ls_error *err)
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
			s->base += s->start;
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
		s->unended = true;
		return LS_OK;
	}
}

/* Gives m the next sequence number of its stream st unless the line
 * had one; a stream whose numbers are spent (2^64 - 1 was given) has no
 * next, which is an error rather than a wrap to 0. */
static inline int
number(uint64_t lineno, struct ls__stream *st, ls_msg *m, unsigned have,
    ls_error *err)
{
	if (have & LS_HAVE_SEQ) {
		st->seq = m->seq + 1;
		st->spent = m->seq == UINT64_MAX;
		return LS_OK;
	}
	if (st->spent)
		return ls__fail(err, LS_ERR_INVAL, lineno, "line %llu: "
		    "stream %s shard %llu has no sequence number after "
		    "18446744073709551615 to give", (unsigned long long)lineno,
		    m->key, (unsigned long long)m->shard);
	m->seq = st->seq++;
	st->spent = st->seq == 0;
	return LS_OK;
}

/* ls__line_meta, inline in lines_next (callgrind of partition -n 4:
 * 25 instructions a line went to its call). */
__attribute__((always_inline)) static inline int
line_meta(struct ls__streams *seqs, ls_msg *m, unsigned have,
    uint64_t lineno, ls_error *err)
{
	size_t idx;

	if (!(have & LS_HAVE_KEY)) {
		memcpy(m->key, LS_DEFAULT_KEY, sizeof(LS_DEFAULT_KEY));
		m->key_len = sizeof(LS_DEFAULT_KEY) - 1;
	}
	if (!(have & LS_HAVE_SHARD))
		m->shard = 0;
	if (!(have & LS_HAVE_TS))
		m->ts_ms = ls_now_ms();
	if (ls__streams_find(seqs, m->key, m->key_len, m->shard, true,
	    &idx) < 0)
		return ls__fail(err, LS_ERR_NOMEM, lineno, "out of memory");
	return number(lineno, &seqs->v[idx], m, have, err);
}

int
ls__line_meta(struct ls__streams *seqs, ls_msg *m, unsigned have,
    uint64_t lineno, ls_error *err)
{
	return line_meta(seqs, m, have, lineno, err);
}

static int
lines_next(struct fsrc *s, ls_msg *m, ls_error *err)
{
	const char *line = NULL;
	size_t len = 0;
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
		if ((rc = line_meta(&s->seqs, m, have, s->lineno,
		    err)) != LS_OK)
			return rc;
		/* lines without a key are for every consumer, as in
		 * SeaStreamer's stdio; End-of-Stream ends every filter */
		if (!(have & LS_HAVE_KEY) || ls__keys_pass(&s->keys, m) ||
		    ls_msg_is_eos(m)) {
			if (!s->unended) {
				s->given = s->base + s->start;
				s->given_line = s->lineno;
			}
			return LS_OK;
		}
	}
}

/*
 * A .ss follower's look at its file after a pause at its end (end is
 * LS_END, or LS_PARTIAL inside a message at byte cut): replaced, the new
 * file is read from its header; else the reader looks for a truncation.
 * Returns LS_OK, LS_NOTICE, or an error (LS_ERR_RANGE ends the source).
 */
static int
ss_look(struct fsrc *s, int end, uint64_t cut, ls_error *err)
{
	char why[LS_ERRMSG_MAX];
	int fd, rc;

	rc = s->own_fd ? ls_follow_replaced(s->fd, s->name, &fd, err) : LS_OK;
	if (rc == LS_NOTICE) {
		switch_fd(s, fd);
		s->given = 0;
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
		s->given = 0;
		s->start = s->end;	/* the reader went back to byte 0 */
		return ls__fail(err, rc, 0, "%s: %s", s->name, why);
	}
	return ls__fail(err, rc, err->offset, "byte %llu: %s",
	    (unsigned long long)err->offset, why);
}

static int
ss_next(struct fsrc *s, ls_msg *m, ls_error *err)
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
			/* an append may replace the End-of-Stream */
			if (!ls_msg_is_eos(m))
				s->given = ls_ss_reader_offset(s->r);
			if (ls_msg_is_eos(m) || ls__keys_pass(&s->keys, m))
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
				s->given = 0;
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

/* Reads the first bytes to tell a .ss file from lines; leaves them in
 * the line buffer. */
static int
sniff(struct fsrc *s, ls_error *err)
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
	struct fsrc *s = ctx;

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

/* --- the backend's functions ---------------------------------------- */

static int
fs_next(void *ctx, ls_msg *m, ls_error *err)
{
	struct fsrc *s = ctx;
	int rc;

	s->may_wait = true;
	s->again = false;
	rc = s->ss ? ss_next(s, m, err) : lines_next(s, m, err);
	s->may_wait = false;
	return rc;
}

static uint64_t
fs_where(void *ctx)
{
	struct fsrc *s = ctx;

	return s->ss ? ls_ss_reader_msg_offset(s->r) : s->lineno;
}

static void
fs_where_text(void *ctx, char *buf, size_t n)
{
	struct fsrc *s = ctx;

	snprintf(buf, n, "%s %llu", s->ss ? "byte" : "line",
	    (unsigned long long)fs_where(s));
}

static int
fs_mark(void *ctx, ls_src_pos *pos, ls_error *err)
{
	struct fsrc *s = ctx;
	size_t idx;

	if (s->gz != NULL || !s->regular)
		return ls__failn(err, LS_ERR_SEEK, 0, s->name, "%s has no "
		    "position to reopen it at", s->gz ? "a compressed file" :
		    "a stream that is not a regular file");
	memset(pos, 0, sizeof(*pos));
	pos->offset = s->given;
	pos->line = s->ss ? 0 : s->given_line;
	pos->dev = s->dev;
	pos->ino = s->ino;
	if (!s->ss && ls__streams_find(&s->seqs, LS_DEFAULT_KEY,
	    sizeof(LS_DEFAULT_KEY) - 1, 0, false, &idx) == 1)
		pos->seq = s->seqs.v[idx].seq;
	return LS_OK;
}

static int
fs_seal(void *ctx, ls_src_pos *pos, ls_error *err)
{
	struct fsrc *s = ctx;
	char why[LS_ERRMSG_MAX];
	int rc;

	if (s->gz != NULL || !s->regular)
		return fs_mark(ctx, pos, err);
	rc = ls__pos_seal(s->fd, pos, err);
	if (rc != LS_OK && err != NULL) {
		snprintf(why, sizeof(why), "%s", err->msg);
		return ls__failn(err, rc, pos->offset, s->name, "%s", why);
	}
	return rc;
}

static uint64_t
fs_raw(void *ctx)
{
	return ((struct fsrc *)ctx)->raw;
}

static void
fs_close(void *ctx)
{
	struct fsrc *s = ctx;

	if (s == NULL)
		return;
	ls_ss_reader_free(s->r);
	if (s->gz != NULL)
		gzclose(s->gz);
	else if (s->own_fd)
		close(s->fd);
	ls__streams_free(&s->seqs);
	free(s->keys.v);
	free(s->buf);
	free(s);
}

/* Opens the descriptor of u for reading into s; a stop while a FIFO
 * waits for its writer is an input that ends before it began. */
static int
fs_open_fd(struct fsrc *s, const struct ls__uri *u, ls_error *err)
{
	if (u->stdio) {
		s->fd = STDIN_FILENO;
		return LS_OK;
	}
	if ((s->fd = open(u->path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == EINTR && stopped(s)) {
			s->failed = true;
			return LS_OK;
		}
		return ls__failn(err, LS_ERR_IO, 0, u->path, "%s",
		    strerror(errno));
	}
	s->own_fd = true;
	if (u->gz && (s->gz = gzdopen(s->fd, "rb")) == NULL)
		return ls__failn(err, LS_ERR_NOMEM, 0, u->path, "zlib: out of "
		    "memory");
	return LS_OK;
}

/* Starts the .ss reader on what sniff found, positioned as asked. */
static int
fs_open_ss(struct fsrc *s, const struct ls__uri *u, ls_error *err)
{
	char why[LS_ERRMSG_MAX];
	int rc;

	s->r = ls_ss_reader_open_fn(u->gz ? -1 : s->fd, ss_replay_read, s,
	    s->o.verify ? LS_SS_VERIFY : 0, err);
	if (s->r == NULL) {
		if (err == NULL)
			return LS_ERR_CORRUPT;
		snprintf(why, sizeof(why), "%s", err->msg);
		return ls__failn(err, err->code, err->offset, s->name, "byte "
		    "%llu: %s", (unsigned long long)err->offset, why);
	}
	ls_ss_pos pos = s->o.from;
	if (s->o.resume != NULL) {
		pos = (ls_ss_pos){ .from = LS_FROM_OFFSET,
		    .value = s->o.resume->offset };
		s->given = s->o.resume->offset;
	}
	if (pos.from == LS_FROM_START)
		return LS_OK;
	if (pos.key == NULL && s->keys.n == 1) {
		pos.key = s->keys.v[0].key;
		pos.key_len = s->keys.v[0].len;
		pos.shard = LS_ANY_SHARD;
	}
	/* the sniffed bytes are behind us once we seek */
	s->start = s->end;
	rc = ls_ss_seek(s->r, &pos, err);
	if (rc == LS_OK || rc == LS_END)
		return LS_OK;
	snprintf(why, sizeof(why), "%s", err ? err->msg : "");
	return ls__failn(err, rc, err ? err->offset : 0, s->name, "%s", why);
}

/* A resume position: the file must be a regular one, and match it. */
static int
fs_resume_check(struct fsrc *s, const struct ls__uri *u, ls_error *err)
{
	if (u->gz || !s->regular)
		return ls__failn(err, LS_ERR_SEEK, 0, s->name, "resuming at a "
		    "position needs %s", u->gz ? "the uncompressed file" :
		    "a regular file");
	return ls__pos_check(s->fd, s->name, s->o.resume, err);
}

/* Lines from a resume position: the sniffed bytes are dropped. */
static int
fs_resume_lines(struct fsrc *s, ls_error *err)
{
	const ls_src_pos *p = s->o.resume;

	if (lseek(s->fd, (off_t)p->offset, SEEK_SET) < 0)
		return ls__failn(err, LS_ERR_IO, 0, s->name, "seek: %s",
		    strerror(errno));
	s->start = s->end = s->scan = 0;
	s->base = s->given = p->offset;
	s->lineno = s->given_line = p->line;
	if (p->seq > 0) {
		size_t idx;
		if (ls__streams_find(&s->seqs, LS_DEFAULT_KEY,
		    sizeof(LS_DEFAULT_KEY) - 1, 0, true, &idx) < 0)
			return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		s->seqs.v[idx].seq = p->seq;
	}
	return LS_OK;
}

/* The file or stdio source of u, lines or .ss as its first bytes say. */
static int
fs_open(struct fsrc *s, struct ls__uri *u, ls_error *err)
{
	struct stat st;
	int rc;

	if ((rc = fs_open_fd(s, u, err)) != LS_OK || s->failed)
		return rc;
	memset(&st, 0, sizeof(st));
	s->regular = !u->gz && fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode);
	s->dev = (uint64_t)st.st_dev;
	s->ino = (uint64_t)st.st_ino;
	if (u->gz && (s->o.follow || s->o.from.from != LS_FROM_START))
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "--follow and "
		    "positions other than start need the uncompressed file");
	if (s->o.resume != NULL && (rc = fs_resume_check(s, u, err)) != LS_OK)
		return rc;
	if (!u->stdio && (rc = sniff(s, err)) != LS_OK)
		return rc;
	if (s->ss)
		return fs_open_ss(s, u, err);
	if (s->o.resume != NULL)
		return fs_resume_lines(s, err);
	if (s->o.from.from != LS_FROM_START)
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "positions "
		    "other than start are for .ss files");
	return LS_OK;
}

int
ls__file_source(struct ls__uri *u, const ls_source_opts *o,
    const char *name, struct ls__src *b, ls_error *err)
{
	struct fsrc *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->buf = malloc(LS_IOBUF)) == NULL) {
		free(s);
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	}
	s->cap = LS_IOBUF;
	s->o = *o;
	s->name = name;
	s->keys = u->keys;	/* taken */
	u->keys.v = NULL;
	u->keys.n = 0;
	s->seqs.last = SIZE_MAX;
	s->fd = -1;
	if ((rc = fs_open(s, u, err)) != LS_OK) {
		fs_close(s);
		return rc;
	}
	*b = (struct ls__src){ .ctx = s, .lines = !s->ss, .next = fs_next,
	    .where = fs_where, .where_text = fs_where_text, .mark = fs_mark,
	    .seal = fs_seal, .raw = fs_raw,
	    .close = fs_close };
	return LS_OK;
}
