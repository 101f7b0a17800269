/* Buffered output and write-all. */
#define _GNU_SOURCE	/* memrchr */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "ls-internal.h"

LS_API ssize_t
ls_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, b + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

LS_API int
ls_out_init(ls_out *o, int fd, size_t cap, ls_error *err)
{
	if (cap < 64u * 1024u)
		cap = 64u * 1024u;
	o->fd = fd;
	o->fn = NULL;
	o->ctx = NULL;
	o->len = 0;
	o->total = 0;
	o->cap = cap;
	if ((o->buf = malloc(cap)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	return LS_OK;
}

/* Writes buf[0..n) out and moves what follows it to the front. */
static int
out_put(ls_out *o, size_t n, ls_error *err)
{
	if (n == 0)
		return LS_OK;
	if ((o->fn ? o->fn(o->ctx, o->buf, n) :
	    ls_write_all(o->fd, o->buf, n)) < 0)
		return ls__fail(err, LS_ERR_IO, o->total, "write: %s",
		    strerror(errno));
	o->total += n;
	o->len -= n;
	memmove(o->buf, o->buf + n, o->len);
	return LS_OK;
}

LS_API int
ls_out_flush(ls_out *o, ls_error *err)
{
	return out_put(o, o->len, err);
}

/* Makes room for n bytes: whole lines go out first, and everything only
 * if the room is still short. */
static int
out_room(ls_out *o, size_t n, ls_error *err)
{
	unsigned char *nl;
	int rc;

	if (o->cap - o->len >= n)
		return LS_OK;
	if ((nl = memrchr(o->buf, '\n', o->len)) != NULL &&
	    (rc = out_put(o, (size_t)(nl - o->buf) + 1, err)) != LS_OK)
		return rc;
	if (o->cap - o->len >= n)
		return LS_OK;
	return ls_out_flush(o, err);
}

unsigned char *
ls__out_reserve(ls_out *o, size_t n, ls_error *err)
{
	if (o->cap - o->len < n && out_room(o, n, err) != LS_OK)
		return NULL;
	return o->buf + o->len;
}

LS_API int
ls_out_write(ls_out *o, const void *p, size_t n, ls_error *err)
{
	int rc;

	if (o->cap - o->len < n &&
	    (rc = out_room(o, n < o->cap ? n : o->cap, err)) != LS_OK)
		return rc;
	if (n >= o->cap) {	/* o->len is 0: too large to buffer */
		if ((o->fn ? o->fn(o->ctx, p, n) : ls_write_all(o->fd, p, n)) <
		    0)
			return ls__fail(err, LS_ERR_IO, o->total, "write: %s",
			    strerror(errno));
		o->total += n;
		return LS_OK;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return LS_OK;
}

LS_API void
ls_out_free(ls_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->cap = 0;
}

LS_API int
ls_out_init_fn(ls_out *o, ls_write_fn fn, void *ctx, size_t cap,
    ls_error *err)
{
	int rc = ls_out_init(o, -1, cap, err);

	o->fn = fn;
	o->ctx = ctx;
	return rc;
}
