/*
 * The sink backend of files and stdio: lines, or a .ss file for a name
 * ending in .ss (or .ss.gz), either through zlib; new, replaced or
 * continued (an incomplete tail dropped); fsync as the policy says.
 */
#define _GNU_SOURCE	/* memrchr */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ls-internal.h"
#include "io-internal.h"

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n >= k && strcmp(s + n - k, suf) == 0;
}

struct fsnk {
	bool ss;
	const char *name;	/* the sink's */
	int fd;
	bool own_fd;
	bool regular;
	gzFile gz;
	ls_sink_opts o;
	ls_out out;
	bool out_ready;
	ls_ss_writer *w;
	uint64_t synced_ms;
	uint64_t dropped, dropped_at;	/* an append's incomplete tail */
};

static ssize_t
gz_write(void *ctx, const void *buf, size_t n)
{
	struct fsnk *k = ctx;
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
sink_sync(struct fsnk *k, ls_error *err)
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
sink_drain(struct fsnk *k, ls_error *err)
{
	int rc = k->ss ? ls_ss_flush(k->w, err) : ls_out_flush(&k->out, err);

	if (rc != LS_OK && err != NULL) {
		char why[LS_ERRMSG_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		ls__failn(err, rc, err->offset, k->name, "%s", why);
	}
	return rc;
}

static int
fk_write(void *ctx, const ls_msg *m, ls_error *err)
{
	struct fsnk *k = ctx;
	int rc;

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

static int
fk_flush(void *ctx, ls_error *err)
{
	struct fsnk *k = ctx;
	int rc = sink_drain(k, err);

	if (rc == LS_OK && k->o.sync == LS_SYNC_INTERVAL &&
	    ls_now_ms() - k->synced_ms >= 1000)
		rc = sink_sync(k, err);
	return rc;
}

/* An append to a file of lines starts after its last newline: an
 * incomplete last line (a writer killed inside it) is cut off, so that
 * the next line is not glued onto it. */
static int
lines_tail(struct fsnk *k, ls_error *err)
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
sink_free(struct fsnk *k)
{
	ls_ss_writer_free(k->w);
	if (k->out_ready)
		ls_out_free(&k->out);
	free(k);
}

/* Ends the file: its End-of-Stream (not after a failure: abort), what
 * is buffered, zlib's trailer, fsync as the policy says, close. */
static int
fk_close(void *ctx, const ls_msg *eos, bool abort, ls_error *err)
{
	struct fsnk *k = ctx;
	ls_error e2;
	ls_msg mark;
	int rc = LS_OK;

	if (err == NULL)
		err = &e2;
	if (abort)
		k->o.no_eos = true;
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

/* The flags to open path with: a FIFO or device as it is, a file to
 * continue, to replace, or new (never through a link). */
static int
open_flags(const struct fsnk *k, const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return O_CLOEXEC | O_WRONLY;
	if (k->o.append)
		return O_CLOEXEC | O_CREAT | O_RDWR | (k->ss ? 0 : O_APPEND);
	if (k->o.force)
		return O_CLOEXEC | O_WRONLY | O_CREAT | O_TRUNC;
	return O_CLOEXEC | O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
}

/* Opens the file of u (or takes stdout) and, for .gz, zlib on a
 * descriptor of its own (k->fd stays for fsync). */
static int
fk_open_fd(struct fsnk *k, const struct ls__uri *u, ls_error *err)
{
	struct stat st;
	int zfd;

	if (u->stdio) {
		k->fd = STDOUT_FILENO;
		return LS_OK;
	}
	if (u->gz && k->o.append)
		return ls__failn(err, LS_ERR_INVAL, 0, u->path, "cannot append "
		    "to a compressed file");
	if ((k->fd = open(u->path, open_flags(k, u->path), 0666)) < 0) {
		if (errno == EEXIST)
			return ls__failn(err, LS_ERR_IO, 0, u->path, "file "
			    "exists (--append to continue it, --force to "
			    "replace it)");
		if (errno == EINTR)
			return ls__failn(err, LS_ERR_IO, 0, u->path,
			    "interrupted while waiting for a reader");
		return ls__failn(err, LS_ERR_IO, 0, u->path, "%s",
		    strerror(errno));
	}
	k->own_fd = true;
	k->regular = fstat(k->fd, &st) == 0 && S_ISREG(st.st_mode);
	if (!u->gz)
		return LS_OK;
	if ((zfd = fcntl(k->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return ls__failn(err, LS_ERR_IO, 0, u->path, "%s",
		    strerror(errno));
	if ((k->gz = gzdopen(zfd, "wb")) == NULL) {
		close(zfd);
		return ls__failn(err, LS_ERR_NOMEM, 0, u->path, "zlib: out of "
		    "memory");
	}
	return LS_OK;
}

/* The .ss writer: new (header named after the file, .gz left out), or
 * continuing the file. */
static int
fk_open_ss(struct fsnk *k, const struct ls__uri *u, ls_error *err)
{
	ls_ss_header h;
	char base[LS_SS_NAME_MAX + 4], why[LS_ERRMSG_MAX];

	snprintf(base, sizeof(base), "%s", u->path);
	if (u->gz && has_suffix(base, ".gz"))
		base[strlen(base) - 3] = '\0';
	if (ls_ss_header_init(&h, base, k->o.interval, err) != LS_OK)
		return LS_ERR_INVAL;
	if (k->gz != NULL)
		k->w = ls_ss_writer_new_fn(gz_write, k, &h, err);
	else if (k->o.append && k->regular)
		k->w = ls_ss_writer_append(k->fd, &h, err);
	else
		k->w = ls_ss_writer_new(k->fd, &h, err);
	if (k->w == NULL) {
		if (err == NULL)
			return LS_ERR_IO;
		snprintf(why, sizeof(why), "%s", err->msg);
		return ls__failn(err, err->code, err->offset, u->path, "%s",
		    why);
	}
	if (k->o.append && k->regular)
		k->dropped = ls_ss_writer_dropped(k->w, &k->dropped_at);
	return LS_OK;
}

static int
fk_open(struct fsnk *k, const struct ls__uri *u, ls_error *err)
{
	int rc;

	if ((rc = fk_open_fd(k, u, err)) != LS_OK)
		return rc;
	if (k->ss)
		return fk_open_ss(k, u, err);
	if (k->o.append && k->regular && (rc = lines_tail(k, err)) != LS_OK)
		return rc;
	if ((rc = k->gz ? ls_out_init_fn(&k->out, gz_write, k, LS_IOBUF,
	    err) : ls_out_init(&k->out, k->fd, LS_IOBUF, err)) != LS_OK)
		return rc;
	k->out_ready = true;
	return LS_OK;
}

int
ls__file_sink(struct ls__uri *u, const ls_sink_opts *o, const char *name,
    struct ls__snk *b, ls_error *err)
{
	struct fsnk *k;
	int rc;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	k->o = *o;
	if (k->o.interval == 0)
		k->o.interval = LS_SS_DEFAULT_INTERVAL;
	k->name = name;
	k->fd = -1;
	k->synced_ms = ls_now_ms();
	k->ss = !u->stdio && (has_suffix(u->path, ".ss") ||
	    has_suffix(u->path, ".ss.gz"));
	if ((rc = fk_open(k, u, err)) != LS_OK) {
		if (k->gz != NULL)
			gzclose(k->gz);
		if (k->own_fd)
			close(k->fd);
		sink_free(k);
		return rc;
	}
	*b = (struct ls__snk){ .ctx = k, .ss = k->ss, .fd = k->gz != NULL ?
	    -1 : k->fd, .dropped = k->dropped, .dropped_at = k->dropped_at,
	    .write = fk_write, .flush = fk_flush, .close = fk_close };
	return LS_OK;
}
