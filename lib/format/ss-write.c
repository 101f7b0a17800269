/* The .ss writer: header, messages spliced around beacons, append. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls-internal.h"
#include "ss-internal.h"
#include "streams-internal.h"

struct ls_ss_writer {
	int fd;
	ls_write_fn wfn;
	void *wctx;
	ls_ss_header h;
	unsigned cap_items;
	uint64_t offset;	/* file offset after everything buffered */
	uint64_t bound;		/* the next beacon's offset, or 0: unknown */
	unsigned char *buf;
	size_t len, cap;
	uint64_t beacon_count;	/* items written in beacons, for rotation */
	size_t msg_total;	/* size of the message being written */
	size_t msg_done;	/* how much of it is written */
	struct ls__streams streams;
	uint64_t dropped, dropped_at;	/* an append's incomplete tail */
};

LS_API unsigned
ls_ss_beacon_capacity(uint32_t interval)
{
	uint32_t n;

	if (interval < LS__BEACON_FIXED)
		return 0;
	n = (interval - LS__BEACON_FIXED) / LS__ITEM_MAX;
	if (n > 255)
		n = 255;
	return n / 2;
}

LS_API int
ls_ss_header_init(ls_ss_header *h, const char *path, uint32_t interval,
    ls_error *err)
{
	const char *base = strrchr(path, '/');
	size_t n;

	if (interval < LS_SS_MIN_INTERVAL)
		return ls__fail(err, LS_ERR_INVAL, 0,
		    "beacon interval %u is below %u", interval,
		    LS_SS_MIN_INTERVAL);
	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > LS_SS_NAME_MAX)
		n = LS_SS_NAME_MAX;
	memcpy(h->file_name, base, n);
	h->file_name[n] = '\0';
	h->created_at = ls_now_ms();
	h->interval = interval;
	return LS_OK;
}

void
ls__ss_header_encode(const ls_ss_header *h, unsigned char *p)
{
	size_t n = strlen(h->file_name);

	memset(p, 0, LS_SS_HEADER_SIZE);
	p[0] = 0x53;
	p[1] = 0x73;
	p[2] = 0x01;
	p[3] = (unsigned char)n;
	memcpy(p + 4, h->file_name, n);
	ls__put64(p + 4 + n, h->created_at);
	ls__put32(p + 12 + n, h->interval);
	p[LS_SS_HEADER_SIZE - 1] = 0x0D;
}

static int
wflush(ls_ss_writer *w, ls_error *err)
{
	if (w->len == 0)
		return LS_OK;
	if ((w->wfn ? w->wfn(w->wctx, w->buf, w->len) :
	    ls_write_all(w->fd, w->buf, w->len)) < 0)
		return ls__fail(err, LS_ERR_IO, w->offset - w->len,
		    "write: %s", strerror(errno));
	w->len = 0;
	return LS_OK;
}

/* Buffers p[0..n) which does not cross a beacon boundary. */
static int
wraw(ls_ss_writer *w, const void *p, size_t n, ls_error *err)
{
	const unsigned char *s = p;

	while (n > 0) {
		size_t k = w->cap - w->len;
		if (k == 0) {
			if (wflush(w, err) != LS_OK)
				return LS_ERR_IO;
			k = w->cap;
		}
		if (k > n)
			k = n;
		memcpy(w->buf + w->len, s, k);
		w->len += k;
		s += k;
		n -= k;
	}
	return LS_OK;
}

static int
write_beacon(ls_ss_writer *w, uint32_t remaining, ls_error *err)
{
	unsigned char item[LS__ITEM_MAX], head[6];
	struct ls__streams *t = &w->streams;
	size_t count = t->n < w->cap_items ? t->n : w->cap_items;
	size_t first = t->n ? (size_t)(w->beacon_count % t->n) : 0;
	const uint32_t *order = count ? ls__streams_sorted(t) : NULL;
	uint64_t size = LS__BEACON_FIXED;

	head[0] = 0x0D;
	ls__put32(head + 1, remaining);
	head[5] = (unsigned char)count;
	if (wraw(w, head, sizeof(head), err) != LS_OK)
		return LS_ERR_IO;
	for (size_t i = 0; i < count; i++) {
		const struct ls__stream *s = &t->v[order[(first + i) % t->n]];
		size_t k = 0;
		item[k++] = (unsigned char)s->klen;
		memcpy(item + k, ls__streams_key(t, s), s->klen);
		k += s->klen;
		ls__put64(item + k, s->shard);
		ls__put64(item + k + 8, s->seq);
		ls__put64(item + k + 16, s->ts);
		ls__put16(item + k + 24, s->crc);
		k += 26;
		if (wraw(w, item, k, err) != LS_OK)
			return LS_ERR_IO;
		size += k;
	}
	if (wraw(w, "\r", 1, err) != LS_OK)
		return LS_ERR_IO;
	w->offset += size;
	w->beacon_count += count;
	return LS_OK;
}

/* Buffers message bytes p[0..n), putting a beacon at every boundary. */
static int
wmsg(ls_ss_writer *w, const void *p, size_t n, ls_error *err)
{
	const unsigned char *s = p;

	while (n > 0) {
		uint64_t room = w->h.interval - w->offset % w->h.interval;
		size_t k = n < room ? n : (size_t)room;
		if (wraw(w, s, k, err) != LS_OK)
			return LS_ERR_IO;
		w->offset += k;
		w->msg_done += k;
		s += k;
		n -= k;
		if (w->offset % w->h.interval == 0 &&
		    write_beacon(w, (uint32_t)(w->msg_total - w->msg_done),
		    err) != LS_OK)
			return LS_ERR_IO;
	}
	return LS_OK;
}

static ls_ss_writer *
writer_alloc(int fd, const ls_ss_header *h, ls_error *err)
{
	ls_ss_writer *w;

	if (h->interval < LS_SS_MIN_INTERVAL) {
		ls__fail(err, LS_ERR_INVAL, 0, "beacon interval %u is below %u",
		    h->interval, LS_SS_MIN_INTERVAL);
		return NULL;
	}
	if (strlen(h->file_name) > LS_SS_NAME_MAX) {
		ls__fail(err, LS_ERR_INVAL, 0, "file name longer than %d bytes",
		    LS_SS_NAME_MAX);
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->buf = malloc(LS_IOBUF)) == NULL) {
		free(w);
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	w->fd = fd;
	w->h = *h;
	w->cap = LS_IOBUF;
	w->cap_items = ls_ss_beacon_capacity(h->interval);
	w->streams.last = SIZE_MAX;
	return w;
}

/* Puts the empty beacon due when the write position is on a boundary. */
static int
boundary_beacon(ls_ss_writer *w, ls_error *err)
{
	if (w->offset % w->h.interval != 0)
		return LS_OK;
	w->msg_total = w->msg_done = 0;
	return write_beacon(w, 0, err);
}

static ls_ss_writer *
writer_start(int fd, ls_write_fn fn, void *ctx, const ls_ss_header *h,
    ls_error *err)
{
	ls_ss_writer *w = writer_alloc(fd, h, err);

	if (w == NULL)
		return NULL;
	w->wfn = fn;
	w->wctx = ctx;
	ls__ss_header_encode(h, w->buf);
	w->len = LS_SS_HEADER_SIZE;
	w->offset = LS_SS_HEADER_SIZE;
	if (boundary_beacon(w, err) != LS_OK || wflush(w, err) != LS_OK) {
		ls_ss_writer_free(w);
		return NULL;
	}
	return w;
}

LS_API ls_ss_writer *
ls_ss_writer_new(int fd, const ls_ss_header *h, ls_error *err)
{
	return writer_start(fd, NULL, NULL, h, err);
}

LS_API ls_ss_writer *
ls_ss_writer_new_fn(ls_write_fn fn, void *ctx, const ls_ss_header *h,
    ls_error *err)
{
	return writer_start(-1, fn, ctx, h, err);
}

LS_API ls_ss_writer *
ls_ss_writer_append(int fd, const ls_ss_header *h, ls_error *err)
{
	ls_ss_header fh;
	uint64_t end, whole;
	struct stat st;
	ls_ss_writer *w;

	if (fstat(fd, &st) != 0) {
		ls__fail(err, LS_ERR_IO, 0, "fstat: %s", strerror(errno));
		return NULL;
	}
	if (st.st_size == 0)
		return ls_ss_writer_new(fd, h, err);
	if (ls__ss_find_end(fd, &fh, &end, &whole, err) != LS_OK)
		return NULL;
	if (ftruncate(fd, (off_t)end) != 0 ||
	    lseek(fd, (off_t)end, SEEK_SET) < 0) {
		ls__fail(err, LS_ERR_IO, end, "truncate: %s", strerror(errno));
		return NULL;
	}
	if ((w = writer_alloc(fd, &fh, err)) == NULL)
		return NULL;
	w->offset = end;
	if ((uint64_t)st.st_size > whole) {
		w->dropped = (uint64_t)st.st_size - whole;
		w->dropped_at = whole;
	}
	if (boundary_beacon(w, err) != LS_OK || wflush(w, err) != LS_OK) {
		ls_ss_writer_free(w);
		return NULL;
	}
	return w;
}

LS_API uint64_t
ls_ss_writer_dropped(const ls_ss_writer *w, uint64_t *at)
{
	*at = w->dropped_at;
	return w->dropped;
}

/* The header of m at d, which has room for it and the 3 bytes after
 * it; returns its length. A short key is copied as 8 bytes (m->key has
 * room for them): a fixed copy is a move, not a call. */
static inline size_t
put_header(unsigned char *d, const ls_msg *m)
{
	size_t hl = 1 + m->key_len;

	d[0] = (unsigned char)m->key_len;
	if (m->key_len <= 8)
		memcpy(d + 1, m->key, 8);
	else
		memcpy(d + 1, m->key, m->key_len);
	ls__put64(d + hl, m->shard);
	ls__put64(d + hl + 8, m->seq);
	ls__put64(d + hl + 16, m->ts_ms);
	ls__put32(d + hl + 24, (uint32_t)m->len);
	return hl + 28;
}

/* Writes m, whose checksum is crc and size total, in pieces around the
 * beacons it crosses; apart from ls_ss_write, whose common case would
 * otherwise pay for its frame. */
static int
write_pieces(ls_ss_writer *w, const ls_msg *m, uint16_t crc, size_t total,
    ls_error *err)
{
	unsigned char hdr[LS__MHDR(255) + 4], tail[3];
	size_t hl = put_header(hdr, m);
	int rc;

	ls__put16(tail, crc);
	tail[2] = 0x0D;
	w->msg_total = total;
	w->msg_done = 0;
	rc = wmsg(w, hdr, hl, err);
	if (rc == LS_OK && m->len > 0)
		rc = wmsg(w, m->payload, m->len, err);
	if (rc == LS_OK)
		rc = wmsg(w, tail, 3, err);
	w->bound = w->offset - w->offset % w->h.interval + w->h.interval;
	return rc == LS_OK ? LS_OK : err ? err->code : LS_ERR_IO;
}

LS_API int
ls_ss_write(ls_ss_writer *w, const ls_msg *m, ls_error *err)
{
	size_t idx, hl, total;
	unsigned char *d;
	uint16_t crc;
	int found;

	/* a key in the table was valid when it went in: only a new one is
	 * checked (callgrind of relay -o .ss: 21 instructions a message) */
	found = m->key_len <= LS_KEY_MAX ? ls__streams_find(&w->streams,
	    m->key, m->key_len, m->shard, false, &idx) : 0;
	if (found == 0 && !ls_key_valid(m->key, m->key_len))
		return ls__fail(err, LS_ERR_INVAL, w->offset,
		    "invalid stream key");
	/* a beacon counts the rest of a message in 32 bits */
	if (m->len > UINT32_MAX || LS__MSIZE(m->key_len, m->len) > UINT32_MAX)
		return ls__fail(err, LS_ERR_INVAL, w->offset,
		    "payload of %zu bytes exceeds the format's limit (a "
		    "message of at most 4294967295 bytes, %zu of them for "
		    "this key and the framing)", m->len,
		    LS__MSIZE(m->key_len, 0));
	if (found == 0 && ls__streams_find(&w->streams, m->key, m->key_len,
	    m->shard, true, &idx) < 0)
		return ls__fail(err, LS_ERR_NOMEM, w->offset, "out of memory");
	crc = ls_crc16(LS_CRC_INIT, m->payload, m->len);
	ls__streams_update(&w->streams, idx, m->seq, m->ts_ms, crc);

	/* the common case: the whole message fits before the next boundary,
	 * and is assembled in place (callgrind of relay -o .ss: the header
	 * built aside and copied cost two calls a message); the boundary
	 * kept, not found by a division a message */
	total = LS__MSIZE(m->key_len, m->len);
	if (w->offset + total >= w->bound || w->cap - w->len < total)
		return write_pieces(w, m, crc, total, err);
	d = w->buf + w->len;
	hl = put_header(d, m);
	if (m->len > 0)
		memcpy(d + hl, m->payload, m->len);
	ls__put16(d + hl + m->len, crc);
	d[hl + m->len + 2] = 0x0D;
	w->len += total;
	w->offset += total;
	return LS_OK;
}

LS_API int
ls_ss_flush(ls_ss_writer *w, ls_error *err)
{
	return wflush(w, err);
}

LS_API const ls_ss_header *
ls_ss_writer_header(const ls_ss_writer *w)
{
	return &w->h;
}

LS_API uint64_t
ls_ss_writer_offset(const ls_ss_writer *w)
{
	return w->offset;
}

LS_API void
ls_ss_writer_free(ls_ss_writer *w)
{
	if (w == NULL)
		return;
	wflush(w, NULL);
	ls__streams_free(&w->streams);
	free(w->buf);
	free(w);
}
