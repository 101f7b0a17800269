/* The .ss reader: messages across beacons, positioning by bisection over
 * beacons, verification of beacons against messages, and resync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ls-internal.h"
#include "ss-internal.h"
#include "streams-internal.h"

#define BEACON_MAX (LS__BEACON_FIXED + LS_SS_ITEM_MAX * LS__ITEM_MAX)

struct vmsg {			/* a message of the last few intervals */
	size_t idx;
	uint64_t seq, ts;
	uint16_t crc;
	uint16_t before;	/* its stream's running checksum before it */
};

static int beacon_parse(const unsigned char *p, size_t avail, uint64_t off,
    uint32_t iv, ls_ss_beacon *b, size_t *size, ls_error *err);

struct ls_ss_reader {
	int fd;
	ls_read_fn rfn;
	void *rctx;
	unsigned flags;
	ls_ss_header h;
	uint32_t iv;
	bool seekable;
	unsigned char *buf;	/* buf[start..end) holds the file from pos */
	size_t cap, start, end;
	uint64_t pos;
	uint64_t bound;		/* the first boundary after pos when 1 to iv
				 * bytes on, else stale (see room_left) */
	uint64_t msg_off;
	unsigned char *scratch;	/* a spliced message, joined */
	size_t scap;
	struct spl {		/* a beacon inside it: */
		size_t rel;	/* its offset from start */
		size_t done;	/* the message's bytes before it */
	} *spl;
	size_t nspl, capspl;
	ls_ss_beacon *beacon;
	unsigned char *survey;	/* BEACON_MAX bytes for pread */
	ls_ss_beacon_fn fn;
	void *ctx;
	ls_msg pending;
	bool have_pending;
	/* verification */
	struct ls__streams vs;
	struct vmsg *win;
	size_t nwin, capwin;
	size_t *wstart;		/* where each interval's messages begin */
	size_t nws, capws;
	bool unsynced;
	bool anew;		/* at byte 0 of a new file: its header next */
};

LS_API const ls_ss_header *
ls_ss_reader_header(const ls_ss_reader *r)
{
	return &r->h;
}

LS_API uint64_t
ls_ss_reader_offset(const ls_ss_reader *r)
{
	return r->pos;
}

LS_API uint64_t
ls_ss_reader_msg_offset(const ls_ss_reader *r)
{
	return r->msg_off;
}

LS_API void
ls_ss_reader_on_beacon(ls_ss_reader *r, ls_ss_beacon_fn fn, void *ctx)
{
	r->fn = fn;
	r->ctx = ctx;
}

/* The bytes from pos to the next beacon boundary, iv at one: a division
 * only when pos has left the interval of the last, which a 64-bit
 * division a message made dear. bound must be 0 whenever iv changes. */
static inline uint64_t
room_left(ls_ss_reader *r)
{
	uint64_t room = r->bound - r->pos;

	if (room - 1 >= r->iv) {
		r->bound = r->pos - r->pos % r->iv + r->iv;
		room = r->bound - r->pos;
	}
	return room;
}

/* Makes buf[start..end) hold at least need bytes. Returns 1, 0 if the
 * data ends first, or LS_ERR_*. */
static int
fill(ls_ss_reader *r, size_t need, ls_error *err)
{
	while (r->end - r->start < need) {
		if (r->end == r->cap) {
			if (r->start > 0) {
				memmove(r->buf, r->buf + r->start,
				    r->end - r->start);
				r->end -= r->start;
				r->start = 0;
			} else if (ls__grow(&r->buf, &r->cap, r->cap + 1) != 0)
				return ls__fail(err, LS_ERR_NOMEM, r->pos,
				    "out of memory for a %zu-byte message",
				    need);
		}
		ssize_t n = r->rfn ? r->rfn(r->rctx, r->buf + r->end,
		    r->cap - r->end) : read(r->fd, r->buf + r->end,
		    r->cap - r->end);
		if (n < 0) {
			if (errno == EINTR && r->rfn == NULL)
				continue;
			return ls__fail(err, LS_ERR_IO, r->pos + r->end -
			    r->start, "read: %s", strerror(errno));
		}
		if (n == 0)
			return 0;
		r->end += (size_t)n;
	}
	return 1;
}

/* Parses the beacon at buf[start + rel] (file offset off), reading more
 * as needed. Returns LS_OK (*size set), LS_PARTIAL, or an error. */
static int
beacon_at(ls_ss_reader *r, size_t rel, uint64_t off, size_t *size,
    ls_error *err)
{
	int rc;

	for (;;) {
		size_t have = r->end - r->start;
		rc = beacon_parse(r->buf + r->start + rel, have - rel, off,
		    r->iv, NULL, size, err);
		if (rc != LS_PARTIAL)
			return rc;
		if ((rc = fill(r, have + 1, err)) != 1)
			return rc == 0 ? LS_PARTIAL : rc;
	}
}

/* Parses a header from 128 bytes. */
static int
header_decode(const unsigned char *p, ls_ss_header *h, bool strict,
    ls_error *err)
{
	size_t n;

	if (p[0] != 0x53 || p[1] != 0x73)
		return ls__fail(err, LS_ERR_CORRUPT, 0,
		    "not a .ss file (no 'Ss' mark)");
	if (p[2] != 0x01)
		return ls__fail(err, LS_ERR_CORRUPT, 2,
		    "unsupported .ss version %u", p[2]);
	n = p[3];
	if (n > LS_SS_NAME_MAX)
		return ls__fail(err, LS_ERR_CORRUPT, 3,
		    "file name length %zu does not fit the header", n);
	memcpy(h->file_name, p + 4, n);
	h->file_name[n] = '\0';
	h->created_at = ls__get64(p + 4 + n);
	h->interval = ls__get32(p + 12 + n);
	if (h->interval < LS_SS_MIN_INTERVAL)
		return ls__fail(err, LS_ERR_CORRUPT, 12 + n,
		    "beacon interval %u is below %u", h->interval,
		    LS_SS_MIN_INTERVAL);
	if (strict) {
		for (size_t i = 16 + n; i < LS_SS_HEADER_SIZE - 1; i++)
			if (p[i] != 0)
				return ls__fail(err, LS_ERR_CORRUPT, i,
				    "header padding is not zero");
		if (p[LS_SS_HEADER_SIZE - 1] != 0x0D)
			return ls__fail(err, LS_ERR_CORRUPT,
			    LS_SS_HEADER_SIZE - 1, "header does not end in 0x0D");
	}
	return LS_OK;
}

LS_API ls_ss_reader *
ls_ss_reader_open(int fd, unsigned flags, ls_error *err)
{
	return ls_ss_reader_open_fn(fd, NULL, NULL, flags, err);
}

LS_API ls_ss_reader *
ls_ss_reader_open_fn(int fd, ls_read_fn fn, void *ctx, unsigned flags,
    ls_error *err)
{
	ls_ss_reader *r;
	struct stat st;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->buf = malloc(LS_IOBUF)) == NULL ||
	    (r->beacon = malloc(sizeof(*r->beacon))) == NULL) {
		if (r != NULL)
			free(r->buf);
		free(r);
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	r->fd = fd;
	r->rfn = fn;
	r->rctx = ctx;
	r->flags = flags;
	r->cap = LS_IOBUF;
	r->vs.last = SIZE_MAX;
	r->seekable = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	rc = fill(r, LS_SS_HEADER_SIZE, err);
	if (rc == 0)
		rc = ls__fail(err, LS_ERR_CORRUPT, r->end,
		    "file too short for a .ss header (%zu bytes)", r->end);
	if (rc == 1)
		rc = header_decode(r->buf, &r->h, flags & LS_SS_VERIFY, err);
	if (rc != LS_OK) {
		ls_ss_reader_free(r);
		return NULL;
	}
	r->iv = r->h.interval;
	r->start = LS_SS_HEADER_SIZE;
	r->pos = LS_SS_HEADER_SIZE;
	r->msg_off = r->pos;
	return r;
}

LS_API void
ls_ss_reader_free(ls_ss_reader *r)
{
	if (r == NULL)
		return;
	ls__streams_free(&r->vs);
	free(r->win);
	free(r->wstart);
	free(r->spl);
	free(r->survey);
	free(r->scratch);
	free(r->beacon);
	free(r->buf);
	free(r);
}

/* Checks the length byte of a stream key. */
static int
klen_check(unsigned klen, uint64_t off, ls_error *err)
{
	if (klen == 0 || klen > LS_KEY_MAX)
		return ls__fail(err, LS_ERR_CORRUPT, off,
		    "impossible stream key length %u", klen);
	return LS_OK;
}

/* Checks the bytes of the key short string at p, its length checked. */
static int
key_bytes_check(const unsigned char *p, uint64_t off, ls_error *err)
{
	if (!ls_key_valid((const char *)p + 1, p[0]))
		return ls__fail(err, LS_ERR_CORRUPT, off,
		    "stream key holds bytes outside [A-Za-z0-9._-]");
	return LS_OK;
}

/* Checks the key short string at p, whose bytes are all present. */
static int
key_check(const unsigned char *p, uint64_t off, ls_error *err)
{
	if (klen_check(p[0], off, err) != LS_OK)
		return LS_ERR_CORRUPT;
	return key_bytes_check(p, off, err);
}

/*
 * Parses a beacon from p[0..avail) found at file offset off. Returns
 * LS_OK (*size set), LS_PARTIAL if avail is short, or LS_ERR_CORRUPT. b
 * may be NULL to only measure.
 */
static int
beacon_parse(const unsigned char *p, size_t avail, uint64_t off,
    uint32_t iv, ls_ss_beacon *b, size_t *size, ls_error *err)
{
	size_t k = 6;
	unsigned count;

	if (avail < 6)
		return LS_PARTIAL;
	if (p[0] != 0x0D)
		return ls__fail(err, LS_ERR_CORRUPT, off,
		    "no beacon at boundary (byte 0x%02x, expected 0x0d)", p[0]);
	count = p[5];
	if (b != NULL) {
		b->index = off / iv;
		b->offset = off;
		b->remaining = ls__get32(p + 1);
		b->count = count;
	}
	for (unsigned i = 0; i < count; i++) {
		if (avail < k + 1)
			return LS_PARTIAL;
		size_t il = LS__ITEM(p[k]);
		if (avail < k + il)
			return LS_PARTIAL;
		if (key_check(p + k, off + k, err) != LS_OK)
			return LS_ERR_CORRUPT;
		if (b != NULL) {
			ls_ss_item *it = &b->items[i];
			it->key_len = p[k];
			memcpy(it->key, p + k + 1, it->key_len);
			it->key[it->key_len] = '\0';
			k += 1 + it->key_len;
			it->shard = ls__get64(p + k);
			it->seq = ls__get64(p + k + 8);
			it->ts_ms = ls__get64(p + k + 16);
			it->crc = ls__get16(p + k + 24);
			k += 26;
		} else
			k += il;
	}
	if (avail < k + 1)
		return LS_PARTIAL;
	if (p[k] != 0x0D)
		return ls__fail(err, LS_ERR_CORRUPT, off + k,
		    "beacon does not end in 0x0D");
	if (k + 1 > iv)
		return ls__fail(err, LS_ERR_CORRUPT, off,
		    "beacon longer than the interval");
	*size = k + 1;
	return LS_OK;
}

static int
win_push(ls_ss_reader *r, size_t idx, const ls_msg *m, uint16_t crc,
    uint16_t before)
{
	if (r->nwin == r->capwin) {
		size_t cap = r->capwin ? r->capwin * 2 : 256;
		struct vmsg *v = reallocarray(r->win, cap, sizeof(*v));
		if (v == NULL)
			return -1;
		r->win = v;
		r->capwin = cap;
	}
	r->win[r->nwin++] = (struct vmsg){ idx, m->seq, m->ts_ms, crc, before };
	return 0;
}

/* Marks where the messages after a beacon begin in the window, and
 * forgets what is older than every stream's last naming can need: with
 * rotation a stream is named at least once every ceil(streams / items)
 * beacons, so an append's restart is found within that many. */
static int
win_mark(ls_ss_reader *r)
{
	unsigned cap = ls_ss_beacon_capacity(r->iv);
	size_t keep = (cap ? (r->vs.n + cap - 1) / cap : 1) + 1;

	if (r->nws == r->capws) {
		size_t n = r->capws ? r->capws * 2 : 16;
		size_t *v = reallocarray(r->wstart, n, sizeof(*v));
		if (v == NULL)
			return -1;
		r->wstart = v;
		r->capws = n;
	}
	r->wstart[r->nws++] = r->nwin;
	while (r->nws > keep) {
		size_t cut = r->wstart[1];
		memmove(r->win, r->win + cut, (r->nwin - cut) * sizeof(*r->win));
		r->nwin -= cut;
		for (size_t i = 1; i < r->nws; i++)
			r->wstart[i - 1] = r->wstart[i] - cut;
		r->nws--;
	}
	return 0;
}

static void
win_reset(ls_ss_reader *r)
{
	r->nwin = 0;
	r->nws = 0;
	if (r->capws > 0)
		r->wstart[r->nws++] = 0;
}

/* Counts message m for verification. */
static int
verify_msg(ls_ss_reader *r, const ls_msg *m, uint16_t crc, ls_error *err)
{
	size_t idx, n = r->vs.n;
	struct ls__stream *s;

	if (ls__streams_find(&r->vs, m->key, m->key_len, m->shard, true,
	    &idx) < 0)
		return ls__fail(err, LS_ERR_NOMEM, r->msg_off, "out of memory");
	s = &r->vs.v[idx];
	if (r->vs.n > n && r->unsynced)
		s->unknown = true;
	if (win_push(r, idx, m, crc, s->crc) != 0)
		return ls__fail(err, LS_ERR_NOMEM, r->msg_off, "out of memory");
	ls__streams_update(&r->vs, idx, m->seq, m->ts_ms, crc);
	return LS_OK;
}

/* Would the items of b hold if the writer had restarted its table just
 * before window message i (an append)? */
static bool
restart_fits(ls_ss_reader *r, const ls_ss_beacon *b, size_t i)
{
	for (unsigned k = 0; k < b->count; k++) {
		const ls_ss_item *it = &b->items[k];
		size_t idx;
		bool any = false;
		uint64_t seq = 0, ts = 0;
		uint16_t crc = LS_CRC_INIT;

		if (ls__streams_find(&r->vs, it->key, it->key_len, it->shard,
		    false, &idx) != 1)
			return false;
		if (r->vs.v[idx].unknown)
			continue;
		for (size_t j = i; j < r->nwin; j++) {
			const struct vmsg *v = &r->win[j];
			unsigned char be[2];
			if (v->idx != idx)
				continue;
			if (!any || v->seq > seq)
				seq = v->seq;
			if (!any || v->ts > ts)
				ts = v->ts;
			any = true;
			ls__put16(be, v->crc);
			crc = ls_crc16(crc, be, 2);
		}
		if (!any || seq != it->seq || ts != it->ts_ms || crc != it->crc)
			return false;
	}
	return true;
}

/*
 * Finds where in the window an append restarted the checksums, given
 * that item it of b does not fit. The running checksum is linear: with
 * m checksums fed after a point where the state was S, restarting there
 * gives F ^ T^m(S ^ 0xFFFF), F the state now and T two zero bytes fed.
 * So one backward pass over the stream's messages tests every restart
 * point for it; the few that fit are tried against all of b's items.
 * Returns the window index, or SIZE_MAX.
 */
static size_t
find_restart(ls_ss_reader *r, const ls_ss_beacon *b, const ls_ss_item *it)
{
	static const unsigned char zero[2];
	uint16_t basis[16], f;
	uint64_t seq = 0, ts = 0;
	bool any = false;
	size_t idx;

	if (ls__streams_find(&r->vs, it->key, it->key_len, it->shard, false,
	    &idx) != 1)
		return SIZE_MAX;
	f = r->vs.v[idx].crc;
	for (int k = 0; k < 16; k++)
		basis[k] = (uint16_t)(1u << k);
	for (size_t p = r->nwin; p-- > 0;) {
		const struct vmsg *v = &r->win[p];
		if (v->idx != idx)
			continue;
		uint16_t x = (uint16_t)(v->before ^ LS_CRC_INIT), rc = f;
		for (int k = 0; k < 16; k++) {
			basis[k] = ls_crc16(basis[k], zero, 2);
			if (x & (1u << k))
				rc ^= basis[k];
		}
		if (!any || v->seq > seq)
			seq = v->seq;
		if (!any || v->ts > ts)
			ts = v->ts;
		any = true;
		if (rc != it->crc || seq != it->seq || ts != it->ts_ms)
			continue;
		/* the restart lies after the stream's previous message */
		size_t q = p;
		while (q > 0 && r->win[q - 1].idx != idx)
			q--;
		for (size_t i = p + 1; i-- > q;)
			if (restart_fits(r, b, i))
				return i;
	}
	return SIZE_MAX;
}

/* Takes the marks of a stream whose state was lost as they stand. */
static bool
item_adopt(ls_ss_reader *r, const ls_ss_item *it)
{
	size_t idx;
	struct ls__stream *s;
	int found = ls__streams_find(&r->vs, it->key, it->key_len, it->shard,
	    r->unsynced, &idx);

	if (found != 1)
		return false;
	s = &r->vs.v[idx];
	if (!s->unknown && !(r->unsynced && s->fresh))
		return false;
	s->seq = it->seq;
	s->ts = it->ts_ms;
	s->crc = it->crc;
	s->fresh = s->unknown = false;
	return true;
}

static bool
item_fits(ls_ss_reader *r, const ls_ss_item *it)
{
	size_t idx;
	const struct ls__stream *s;

	if (item_adopt(r, it))
		return true;
	if (ls__streams_find(&r->vs, it->key, it->key_len, it->shard, false,
	    &idx) != 1)
		return false;
	s = &r->vs.v[idx];
	return !s->fresh && s->seq == it->seq && s->ts == it->ts_ms &&
	    s->crc == it->crc;
}

/* Rebuilds the table from window message i on, as after an append. */
static int
restart_at(ls_ss_reader *r, size_t i)
{
	struct ls__streams t = { .last = SIZE_MAX };

	for (size_t j = i; j < r->nwin; j++) {
		struct vmsg *v = &r->win[j];
		const struct ls__stream *s = &r->vs.v[v->idx];
		size_t idx;
		if (ls__streams_find(&t, ls__streams_key(&r->vs, s), s->klen,
		    s->shard, true, &idx) < 0) {
			ls__streams_free(&t);
			return -1;
		}
		v->idx = idx;
		v->before = t.v[idx].crc;
		ls__streams_update(&t, idx, v->seq, v->ts, v->crc);
	}
	ls__streams_free(&r->vs);
	r->vs = t;
	memmove(r->win, r->win + i, (r->nwin - i) * sizeof(*r->win));
	r->nwin -= i;
	r->nws = 1;
	r->wstart[0] = 0;
	r->unsynced = false;
	return 0;
}

/* Checks b's items against the messages read so far. */
static int
verify_beacon(ls_ss_reader *r, const ls_ss_beacon *b, ls_error *err)
{
	unsigned bad = b->count;
	int rc = LS_OK;

	if (r->capws == 0 && win_mark(r) != 0)	/* first use */
		return ls__fail(err, LS_ERR_NOMEM, b->offset, "out of memory");
	if (b->count > ls_ss_beacon_capacity(r->iv))
		rc = ls__fail(err, LS_ERR_CORRUPT, b->offset,
		    "beacon carries %u items, more than the %u that fit",
		    b->count, ls_ss_beacon_capacity(r->iv));
	for (unsigned k = 0; rc == LS_OK && k < b->count; k++)
		if (!item_fits(r, &b->items[k])) {
			bad = k;
			break;
		}
	if (rc == LS_OK && bad < b->count) {
		/* an append restarts every running checksum: find where */
		size_t i = find_restart(r, b, &b->items[bad]);
		if (i != SIZE_MAX) {
			if (restart_at(r, i) != 0)
				return ls__fail(err, LS_ERR_NOMEM, b->offset,
				    "out of memory");
		} else {
			const ls_ss_item *it = &b->items[bad];
			size_t idx;
			if (ls__streams_find(&r->vs, it->key, it->key_len,
			    it->shard, false, &idx) != 1)
				rc = ls__fail(err, LS_ERR_CORRUPT, b->offset,
				    "beacon %llu names stream %s/%llu, which "
				    "has no message before it",
				    (unsigned long long)b->index, it->key,
				    (unsigned long long)it->shard);
			else {
				const struct ls__stream *s = &r->vs.v[idx];
				rc = ls__fail(err, LS_ERR_CORRUPT, b->offset,
				    "beacon %llu, stream %s/%llu: marks seq "
				    "%llu ts %llu crc 0x%04x, messages give "
				    "seq %llu ts %llu crc 0x%04x",
				    (unsigned long long)b->index, it->key,
				    (unsigned long long)it->shard,
				    (unsigned long long)it->seq,
				    (unsigned long long)it->ts_ms, it->crc,
				    (unsigned long long)s->seq,
				    (unsigned long long)s->ts, s->crc);
			}
		}
	}
	if (win_mark(r) != 0)
		return ls__fail(err, LS_ERR_NOMEM, b->offset, "out of memory");
	return rc;
}

/* Hands the beacon at buf[start + rel] to the verifier and callback. */
static int
deliver_beacon(ls_ss_reader *r, size_t rel, uint64_t off, ls_error *err)
{
	size_t size;
	int rc;

	if (r->fn == NULL && !(r->flags & LS_SS_VERIFY))
		return LS_OK;
	rc = beacon_parse(r->buf + r->start + rel, r->end - r->start - rel,
	    off, r->iv, r->beacon, &size, err);
	if (rc != LS_OK)
		return rc;
	if (r->flags & LS_SS_VERIFY) {
		rc = verify_beacon(r, r->beacon, err);
		if (rc != LS_OK && r->fn != NULL)
			r->fn(r->ctx, r->beacon);
		if (rc != LS_OK)
			return rc;
	}
	if (r->fn != NULL)
		r->fn(r->ctx, r->beacon);
	return LS_OK;
}

/* Takes the fields after the key of the message of total bytes at p
 * into m, and its payload's checksum into *crcp; false if the message
 * does not end in 0x0D or the checksum is not the one stored. */
static inline bool
msg_body(const unsigned char *p, size_t total, ls_msg *m, uint16_t *crcp)
{
	const unsigned char *q = p + 1 + p[0];
	/* read before the call, fewer registers are kept across it */
	uint16_t stored = ls__get16(p + total - 3);

	m->shard = ls__get64(q);
	m->seq = ls__get64(q + 8);
	m->ts_ms = ls__get64(q + 16);
	m->len = ls__get32(q + 24);
	m->payload = q + 28;
	if (p[total - 1] != 0x0D)
		return false;
	*crcp = ls_crc16(LS_CRC_INIT, m->payload, m->len);
	return *crcp == stored;
}

/* Decodes a joined message of total bytes at p. */
static int
msg_decode(ls_ss_reader *r, const unsigned char *p, size_t total, ls_msg *m,
    uint16_t *crcp, ls_error *err)
{
	/* a key of up to 16 bytes as one move: a message has 32 bytes or
	 * more after its key's first byte */
	m->key_len = p[0];
	memcpy(m->key, p + 1, m->key_len <= 16 ? 16 : m->key_len);
	m->key[m->key_len] = '\0';
	if (msg_body(p, total, m, crcp))
		return LS_OK;
	if (p[total - 1] != 0x0D)
		return ls__fail(err, LS_ERR_CORRUPT, r->msg_off,
		    "message does not end in 0x0D");
	return ls__fail(err, LS_ERR_CORRUPT, r->msg_off,
	    "checksum mismatch in stream %s seq %llu (stored 0x%04x, "
	    "computed 0x%04x)", m->key, (unsigned long long)m->seq,
	    ls__get16(p + total - 3), *crcp);
}

static int
spl_push(ls_ss_reader *r, size_t rel, size_t done)
{
	if (r->nspl == r->capspl) {
		size_t cap = r->capspl ? r->capspl * 2 : 16;
		struct spl *v = reallocarray(r->spl, cap, sizeof(*v));
		if (v == NULL)
			return -1;
		r->spl = v;
		r->capspl = cap;
	}
	r->spl[r->nspl++] = (struct spl){ rel, done };
	return 0;
}

/*
 * Checks the remaining count of the beacons inside a message of total
 * bytes, from the first not yet checked (*checked) on. A beacon that
 * the message runs into must count its rest: a length field made too
 * large is damage here, where the next beacon disagrees, not a file
 * cut short at its end.
 */
static int
spl_check(ls_ss_reader *r, size_t *checked, size_t total, ls_error *err)
{
	for (; *checked < r->nspl; (*checked)++) {
		const struct spl *s = &r->spl[*checked];
		uint32_t rem = ls__get32(r->buf + r->start + s->rel + 1);
		if (rem != total - s->done)
			return ls__fail(err, LS_ERR_CORRUPT, r->pos, "the "
			    "message's size disagrees with the beacon at byte "
			    "%llu, which counts %u bytes of it to come, not %zu",
			    (unsigned long long)(r->pos + s->rel), rem,
			    total - s->done);
	}
	return LS_OK;
}

/*
 * Joins the message at buf[start] that runs across one or more beacons
 * into scratch. Returns LS_OK (*used = physical bytes, *total = message
 * bytes), LS_PARTIAL, or an error. Consumes nothing.
 */
static int
join_spliced(ls_ss_reader *r, size_t *used, size_t *total, ls_error *err)
{
	size_t want = 1, got = 0, rel = 0, hl = 0, checked = 0;
	uint64_t phys = r->pos;
	int rc;

	r->nspl = 0;
	while (got < want) {
		if (phys % r->iv == 0) {
			size_t bs;
			if ((rc = beacon_at(r, rel, phys, &bs, err)) != LS_OK)
				return rc;
			if (spl_push(r, rel, got) != 0)
				return ls__fail(err, LS_ERR_NOMEM, phys,
				    "out of memory");
			if (got >= hl && hl > 0 &&
			    (rc = spl_check(r, &checked, want, err)) != LS_OK)
				return rc;
			rel += bs;
			phys += bs;
		}
		size_t k = want - got;
		uint64_t room = r->iv - phys % r->iv;
		if (k > room)
			k = (size_t)room;
		if ((rc = fill(r, rel + k, err)) != 1)
			return rc == 0 ? LS_PARTIAL : rc;
		if (ls__grow(&r->scratch, &r->scap, got + k) != 0)
			return ls__fail(err, LS_ERR_NOMEM, r->pos,
			    "out of memory for a %zu-byte message", got + k);
		memcpy(r->scratch + got, r->buf + r->start + rel, k);
		got += k;
		rel += k;
		phys += k;
		if (got == 1) {
			if ((rc = klen_check(r->scratch[0], r->pos, err)) !=
			    LS_OK)
				return rc;
			want = hl = LS__MHDR(r->scratch[0]) + 4;
		} else if (got == hl) {
			if ((rc = key_check(r->scratch, r->pos, err)) != LS_OK)
				return rc;
			want = LS__MSIZE(r->scratch[0],
			    ls__get32(r->scratch + got - 4));
			if ((rc = spl_check(r, &checked, want, err)) != LS_OK)
				return rc;
		}
	}
	*used = rel;
	*total = want;
	return LS_OK;
}

/*
 * The data ends inside the message at pos. A file cut short ends there;
 * one that ends with a whole End-of-Stream after the message's start
 * was closed cleanly, so the message's length is damage. (A beacon in
 * between would have disagreed with the message before this.)
 */
static int
cut_short(ls_ss_reader *r, ls_error *err)
{
	static const unsigned char eos_head[] = "\x15SEA_STREAMER_INTERNAL";
	enum { KEY = sizeof(eos_head) - 1, SIZE = KEY + 24 + 4 + 3 + 3 };
	const unsigned char *t, *p = r->buf + r->start;
	size_t have = r->end - r->start, room = r->iv - r->pos % r->iv;

	/* the bytes of a cut key that are there must be key bytes */
	if (have > room)
		have = room;
	if (have > 1 && !ls_key_valid((const char *)p + 1, p[0] < have - 1 ?
	    p[0] : have - 1))
		return ls__fail(err, LS_ERR_CORRUPT, r->pos,
		    "stream key holds bytes outside [A-Za-z0-9._-]");

	/* t, the last SIZE bytes, only once there are more than SIZE */
	if (r->end - r->start <= SIZE ||
	    memcmp(t = r->buf + r->end - SIZE, eos_head, KEY) != 0 ||
	    ls__get64(t + KEY) != 0 || ls__get64(t + KEY + 8) != 0 ||
	    ls__get32(t + KEY + 24) != 3 || memcmp(t + KEY + 28, "EOS", 3) != 0 ||
	    ls__get16(t + KEY + 31) != ls_crc16(LS_CRC_INIT, t + KEY + 28, 3) ||
	    t[SIZE - 1] != 0x0D)
		return ls__fail(err, LS_PARTIAL, r->pos,
		    "data ends inside a message");
	return ls__fail(err, LS_ERR_CORRUPT, r->pos, "the message's size runs "
	    "past the End-of-Stream that ends the file at byte %llu",
	    (unsigned long long)(r->pos + (r->end - r->start)));
}

/* Reads the header of a file followed anew (after ls_ss_reader_restart).
 * Returns LS_OK, LS_END while it is incomplete, or an error. */
static int
header_again(ls_ss_reader *r, ls_error *err)
{
	ls_ss_header h;
	char why[LS_ERRMSG_MAX];
	int rc;

	if ((rc = fill(r, LS_SS_HEADER_SIZE, err)) != 1)
		return rc == 0 ? LS_END : rc;
	if (header_decode(r->buf + r->start, &h, r->flags & LS_SS_VERIFY,
	    err) != LS_OK) {
		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		return ls__fail(err, LS_ERR_INVAL, err ? err->offset : 0,
		    "the file followed anew: %s", why);
	}
	r->h = h;
	r->iv = h.interval;
	r->bound = 0;
	r->start += LS_SS_HEADER_SIZE;
	r->pos = r->msg_off = LS_SS_HEADER_SIZE;
	r->anew = false;
	return LS_OK;
}

/* Reads the beacons at pos, while pos is on a boundary. */
static int
beacons_between(ls_ss_reader *r, ls_error *err)
{
	size_t used;
	int rc;

	while (room_left(r) == r->iv) {
		r->msg_off = r->pos;
		if (r->end == r->start && (rc = fill(r, 1, err)) != 1)
			return rc == 0 ? LS_END : rc;
		rc = beacon_at(r, 0, r->pos, &used, err);
		if (rc == LS_PARTIAL)
			return ls__fail(err, LS_PARTIAL, r->pos,
			    "data ends inside a beacon");
		if (rc != LS_OK)
			return rc;
		if (ls__get32(r->buf + r->start + 1) != 0)
			return ls__fail(err, LS_ERR_CORRUPT, r->pos + 1,
			    "beacon between messages claims %u remaining bytes",
			    ls__get32(r->buf + r->start + 1));
		if ((rc = deliver_beacon(r, 0, r->pos, err)) != LS_OK)
			return rc;
		r->start += used;
		r->pos += used;
	}
	return LS_OK;
}

/* Decodes the message at pos, not on a boundary, into m: *used bytes of
 * the file, beacons inside it noted in spl, consumed by msg_done. */
static int
msg_read(ls_ss_reader *r, ls_msg *m, size_t *used, uint16_t *crc,
    ls_error *err)
{
	const unsigned char *p;
	size_t total;
	int rc;

	r->msg_off = r->pos;
	if (r->end == r->start && (rc = fill(r, 1, err)) != 1)
		return rc == 0 ? LS_END : rc;
	p = r->buf + r->start;
	if ((rc = klen_check(p[0], r->pos, err)) != LS_OK)
		return rc;
	uint64_t room = room_left(r);
	size_t hl = LS__MHDR(p[0]) + 4;
	if (hl < room) {
		if (r->end - r->start < hl && (rc = fill(r, hl, err)) != 1)
			return rc == 0 ? cut_short(r, err) : rc;
		p = r->buf + r->start;
		if ((rc = key_bytes_check(p, r->pos, err)) != LS_OK)
			return rc;
		total = LS__MSIZE(p[0], ls__get32(p + hl - 4));
	} else
		total = SIZE_MAX;
	r->nspl = 0;
	if (total < room) {
		/* contiguous: decode in place */
		if (r->end - r->start < total && (rc = fill(r, total, err)) !=
		    1)
			return rc == 0 ? cut_short(r, err) : rc;
		*used = total;
		return msg_decode(r, r->buf + r->start, total, m, crc, err);
	}
	rc = join_spliced(r, used, &total, err);
	if (rc == LS_PARTIAL)
		return cut_short(r, err);
	if (rc != LS_OK)
		return rc;
	return msg_decode(r, r->scratch, total, m, crc, err);
}

/* Copies the key of the message at p, of 1 to 16 bytes with 16 to
 * read, into m; false if it holds a byte outside [A-Za-z0-9._-]. One
 * 16-byte test costs less than ls_key_valid's call and loop, even for
 * a key of two bytes. */
static inline bool
key_take16(const unsigned char *p, ls_msg *m)
{
	size_t n = p[0];
#ifdef __SSE2__
	/* x in [lo, hi] when x + 128 - lo, signed, is below hi - lo -
	 * 127: a key byte is a letter (x & ~0x20 in [A, Z]), in [-, 9]
	 * but '/', or '_' */
	const __m128i v = _mm_loadu_si128((const __m128i *)(p + 1));
	__m128i l = _mm_add_epi8(_mm_and_si128(v, _mm_set1_epi8(~0x20)),
	    _mm_set1_epi8(128 - 'A'));
	__m128i d = _mm_add_epi8(v, _mm_set1_epi8(128 - '-'));
	__m128i ok;

	l = _mm_cmpgt_epi8(_mm_set1_epi8('Z' - 'A' - 127), l);
	d = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')),
	    _mm_cmpgt_epi8(_mm_set1_epi8('9' - '-' - 127), d));
	ok = _mm_or_si128(_mm_or_si128(l, d),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
	_mm_storeu_si128((__m128i *)m->key, v);
	m->key[n] = '\0';
	m->key_len = n;
	return ((unsigned)_mm_movemask_epi8(ok) | ~0u << n) == ~0u;
#else
	memcpy(m->key, p + 1, 16);
	m->key[n] = '\0';
	m->key_len = n;
	return ls_key_valid(m->key, n);
#endif
}

/*
 * The common case, without a call but the checksum's: the message at
 * pos whole in the buffer, before the next boundary, with a key of at
 * most 16 bytes, and sound; no verification. Returns LS_OK, or
 * LS_AGAIN to leave it, and every error, to next_slow.
 */
static inline int
next_fast(ls_ss_reader *r, ls_msg *m)
{
	const unsigned char *p = r->buf + r->start;
	size_t avail = r->end - r->start, klen, total;
	uint64_t room;
	uint16_t crc;

	if (r->have_pending || r->anew || (r->flags & LS_SS_VERIFY) ||
	    avail < LS__MSIZE(1, 0) || (room = room_left(r)) == r->iv)
		return LS_AGAIN;
	klen = p[0];
	if (klen - 1 >= 16 || avail < LS__MHDR(klen) + 4)
		return LS_AGAIN;
	total = LS__MSIZE(klen, ls__get32(p + LS__MHDR(klen)));
	if (total > avail || total >= room || !key_take16(p, m) ||
	    !msg_body(p, total, m, &crc))
		return LS_AGAIN;
	r->msg_off = r->pos;
	r->start += total;
	r->pos += total;
	return LS_OK;
}

/* ls_ss_next but its common case. */
__attribute__((noinline))
static int
next_slow(ls_ss_reader *r, ls_msg *m, ls_error *err)
{
	size_t used = 0;
	uint16_t crc;
	int rc;

	if (r->have_pending) {
		*m = r->pending;
		r->have_pending = false;
		return LS_OK;
	}
	if ((r->anew && (rc = header_again(r, err)) != LS_OK) ||
	    (rc = beacons_between(r, err)) != LS_OK ||
	    (rc = msg_read(r, m, &used, &crc, err)) != LS_OK)
		return rc;
	if ((r->flags & LS_SS_VERIFY) && (rc = verify_msg(r, m, crc, err)) !=
	    LS_OK)
		return rc;
	/* beacons inside the message, their counts checked by the join */
	for (size_t i = 0; i < r->nspl; i++)
		if ((rc = deliver_beacon(r, r->spl[i].rel, r->pos +
		    r->spl[i].rel, err)) != LS_OK)
			return rc;
	r->start += used;
	r->pos += used;
	return LS_OK;
}

LS_API int
ls_ss_next(ls_ss_reader *r, ls_msg *m, ls_error *err)
{
	if (next_fast(r, m) == LS_OK)
		return LS_OK;
	return next_slow(r, m, err);
}

LS_API int
ls_ss_beacon_count(ls_ss_reader *r, uint64_t *count, ls_error *err)
{
	struct stat st;

	if (fstat(r->fd, &st) != 0)
		return ls__fail(err, LS_ERR_IO, 0, "fstat: %s", strerror(errno));
	*count = (uint64_t)st.st_size / r->iv;
	return LS_OK;
}

/* Reads beacon k (k >= 1) with pread into r->beacon. Returns LS_OK
 * (*size set), LS_PARTIAL if the file ends inside it, LS_ERR_RANGE if
 * it starts past the end, or an error. */
static int
survey(ls_ss_reader *r, uint64_t k, size_t *size, ls_error *err)
{
	uint64_t off = k * r->iv;
	ssize_t n;
	int rc;

	if (r->survey == NULL && (r->survey = malloc(BEACON_MAX)) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, off, "out of memory");
	do
		n = pread(r->fd, r->survey, BEACON_MAX, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ls__fail(err, LS_ERR_IO, off, "read: %s",
		    strerror(errno));
	if (n == 0)
		return ls__fail(err, LS_ERR_RANGE, off,
		    "beacon %llu is past the end of the file",
		    (unsigned long long)k);
	rc = beacon_parse(r->survey, (size_t)n, off, r->iv, r->beacon, size,
	    err);
	if (rc == LS_PARTIAL)
		return ls__fail(err, LS_PARTIAL, off,
		    "the file ends inside beacon %llu", (unsigned long long)k);
	return rc;
}

/* Moves the reader to file offset off, a message or beacon boundary. */
static int
jump(ls_ss_reader *r, uint64_t off, ls_error *err)
{
	if (lseek(r->fd, (off_t)off, SEEK_SET) < 0)
		return ls__fail(err, LS_ERR_IO, off, "seek: %s",
		    strerror(errno));
	r->start = r->end = 0;
	r->pos = r->msg_off = off;
	r->have_pending = false;
	/* what was counted no longer leads here: marks are taken as they
	 * stand until each stream is named again */
	ls__streams_clear(&r->vs);
	win_reset(r);
	r->unsynced = off != LS_SS_HEADER_SIZE;
	return LS_OK;
}

/* Finds the first message boundary after beacon k (k = 0: the header),
 * following a message that runs across further beacons. */
static int
after_beacon(ls_ss_reader *r, uint64_t k, uint64_t *off, ls_error *err)
{
	size_t bs;
	int rc;

	if (k == 0) {
		*off = LS_SS_HEADER_SIZE;
		return LS_OK;
	}
	for (;;) {
		if ((rc = survey(r, k, &bs, err)) != LS_OK)
			return rc;
		uint64_t p = k * r->iv + bs + r->beacon->remaining;
		if (r->beacon->remaining == 0 || p <= (k + 1) * r->iv) {
			*off = p;
			return LS_OK;
		}
		k++;
	}
}

/* The message boundary in interval k (after beacon k), from that beacon
 * alone: LS_OK, LS_AGAIN if the message it interrupts runs on into the
 * next interval (the boundary is then after_beacon(k + 1)'s), or an
 * error. */
static int
boundary_in(ls_ss_reader *r, uint64_t k, uint64_t *off, ls_error *err)
{
	size_t bs;
	int rc;

	if (k == 0) {
		*off = LS_SS_HEADER_SIZE;
		return LS_OK;
	}
	if ((rc = survey(r, k, &bs, err)) != LS_OK)
		return rc;
	*off = k * r->iv + bs + r->beacon->remaining;
	return r->beacon->remaining == 0 || *off <= (k + 1) * r->iv ? LS_OK :
	    LS_AGAIN;
}

/* The last beacon k whose following message boundary lies inside the
 * file, and that boundary: one read a beacon, from the last back. */
static int
last_boundary(ls_ss_reader *r, uint64_t *kp, uint64_t *off, ls_error *err)
{
	struct stat st;
	uint64_t k = 0;
	int rc;

	if (fstat(r->fd, &st) != 0)
		return ls__fail(err, LS_ERR_IO, 0, "fstat: %s", strerror(errno));
	for (k = (uint64_t)st.st_size / r->iv;; k--) {
		rc = boundary_in(r, k, off, err);
		if (rc == LS_OK && *off <= (uint64_t)st.st_size)
			break;
		if (rc != LS_OK && rc != LS_AGAIN && rc != LS_PARTIAL &&
		    rc != LS_ERR_RANGE)
			return rc;
		if (k == 0)
			break;
	}
	*kp = k;
	return LS_OK;
}

enum { LEFT = -1, UNDECIDED = 0, RIGHT = 1 };

static bool
matches(const ls_ss_pos *pos, const char *key, size_t klen, uint64_t shard,
    uint64_t seq, uint64_t ts)
{
	if (pos->key != NULL && (klen != pos->key_len ||
	    (pos->shard != LS_ANY_SHARD && shard != pos->shard) ||
	    memcmp(key, pos->key, klen) != 0))
		return false;
	return pos->from == LS_FROM_SEQ ? seq >= pos->value : ts > pos->value;
}

/* Is the target before beacon k (RIGHT), after it (LEFT), or unknown? */
static int
side(ls_ss_reader *r, const ls_ss_pos *pos, uint64_t k, int *rcp,
    ls_error *err)
{
	const ls_ss_beacon *b = r->beacon;
	size_t bs;

	if ((*rcp = survey(r, k, &bs, err)) != LS_OK)
		return UNDECIDED;
	for (unsigned i = 0; i < b->count; i++) {
		const ls_ss_item *it = &b->items[i];
		bool named = pos->key == NULL || (it->key_len == pos->key_len &&
		    (pos->shard == LS_ANY_SHARD || it->shard == pos->shard) &&
		    memcmp(it->key, pos->key, it->key_len) == 0);
		if (!named)
			continue;
		if (matches(pos, it->key, it->key_len, it->shard, it->seq,
		    it->ts_ms))
			return RIGHT;
		if (pos->key != NULL && pos->shard != LS_ANY_SHARD)
			return LEFT;
	}
	/* for several streams, only a beacon naming every stream proves
	 * LEFT */
	if ((pos->key == NULL || pos->shard == LS_ANY_SHARD) && b->count > 0 &&
	    b->count < ls_ss_beacon_capacity(r->iv))
		return LEFT;
	return UNDECIDED;
}

/* Bisects the beacons for the last one the target is surely after. */
static int
bisect(ls_ss_reader *r, const ls_ss_pos *pos, uint64_t *lop, ls_error *err)
{
	uint64_t nb, lo = 0, hi;
	int rc, s;

	if ((rc = ls_ss_beacon_count(r, &nb, err)) != LS_OK)
		return rc;
	hi = nb + 1;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2, d;
		s = side(r, pos, mid, &rc, err);
		if (rc != LS_OK && rc != LS_PARTIAL && rc != LS_ERR_RANGE)
			return rc;
		if (rc != LS_OK) {
			hi = mid;	/* the file ends there */
			continue;
		}
		if (s == LEFT) {
			lo = mid;
			continue;
		}
		if (s == RIGHT) {
			hi = mid;
			continue;
		}
		/* undecided: the nearest decided beacon below, else above */
		for (d = mid - 1; d > lo; d--)
			if ((s = side(r, pos, d, &rc, err)) != UNDECIDED ||
			    rc != LS_OK)
				break;
		if (d > lo && rc == LS_OK) {
			if (s == LEFT)
				lo = d;
			else
				hi = d;
			continue;
		}
		for (d = mid + 1; d < hi; d++)
			if ((s = side(r, pos, d, &rc, err)) != UNDECIDED ||
			    rc != LS_OK)
				break;
		if (d < hi && rc == LS_OK && s == LEFT) {
			lo = d;
			continue;
		}
		break;		/* nothing between lo and hi can tell */
	}
	*lop = lo;
	return LS_OK;
}

LS_API int
ls_ss_seek(ls_ss_reader *r, const ls_ss_pos *pos, ls_error *err)
{
	uint64_t k = 0, off = 0;
	ls_msg m;
	int rc;

	if (pos->from == LS_FROM_START && !r->seekable) {
		if (r->pos == LS_SS_HEADER_SIZE)
			return LS_OK;
	}
	if (!r->seekable)
		return ls__fail(err, LS_ERR_SEEK, r->pos,
		    "positioning needs a regular file");
	switch (pos->from) {
	case LS_FROM_START:
		return jump(r, LS_SS_HEADER_SIZE, err);
	case LS_FROM_BEACON:
		if (pos->value == 0)
			return jump(r, LS_SS_HEADER_SIZE, err);
		rc = after_beacon(r, pos->value, &off, err);
		if (rc == LS_PARTIAL)
			rc = ls__fail(err, LS_ERR_RANGE, pos->value * r->iv,
			    "beacon %llu is not complete yet",
			    (unsigned long long)pos->value);
		if (rc != LS_OK)
			return rc;
		return jump(r, off, err);
	case LS_FROM_END:
		/* where an append would continue: before a trailing EOS */
		if ((rc = last_boundary(r, &k, &off, err)) != LS_OK)
			return rc;
		/* start one boundary earlier, so that a message (an EOS)
		 * running across or ending on beacon k is read too */
		uint64_t scan = off;
		while (k > 0 && scan >= off)
			if ((rc = boundary_in(r, --k, &scan, err)) == LS_AGAIN)
				scan = off;
			else if (rc != LS_OK)
				scan = LS_SS_HEADER_SIZE;
		if (scan < off)
			off = scan;
		if ((rc = jump(r, off, err)) != LS_OK)
			return rc;
		while ((rc = ls_ss_next(r, &m, err)) == LS_OK)
			if (!ls_msg_is_eos(&m))
				off = r->pos;
		if (rc != LS_END && rc != LS_PARTIAL)
			return rc;
		return jump(r, off, err);
	case LS_FROM_OFFSET:
		return jump(r, pos->value < LS_SS_HEADER_SIZE ?
		    LS_SS_HEADER_SIZE : pos->value, err);
	case LS_FROM_SEQ:
	case LS_FROM_TIME:
		break;
	default:
		return ls__fail(err, LS_ERR_INVAL, 0, "unknown position");
	}
	if ((rc = bisect(r, pos, &k, err)) != LS_OK)
		return rc;
	while ((rc = after_beacon(r, k, &off, err)) != LS_OK && k > 0) {
		if (rc != LS_PARTIAL && rc != LS_ERR_RANGE)
			return rc;
		k--;
	}
	if (rc != LS_OK || (rc = jump(r, off, err)) != LS_OK)
		return rc;
	while ((rc = ls_ss_next(r, &m, err)) == LS_OK) {
		if (matches(pos, m.key, m.key_len, m.shard, m.seq, m.ts_ms)) {
			r->pending = m;
			r->have_pending = true;
			return LS_OK;
		}
	}
	return rc == LS_PARTIAL ? LS_END : rc;
}

LS_API int
ls_ss_resync(ls_ss_reader *r, uint64_t *from, uint64_t *to, ls_error *err)
{
	uint64_t k = r->pos / r->iv + 1, off, nb;
	int rc;

	if (!r->seekable)
		return ls__fail(err, LS_ERR_SEEK, r->pos,
		    "skipping damage needs a regular file");
	if ((rc = ls_ss_beacon_count(r, &nb, err)) != LS_OK)
		return rc;
	*from = r->pos;
	for (; k <= nb; k++) {
		rc = after_beacon(r, k, &off, err);
		if (rc == LS_OK) {
			*to = off;
			return jump(r, off, err);
		}
		if (rc != LS_ERR_CORRUPT)
			break;
	}
	*to = r->pos;
	return LS_END;
}

int
ls__ss_find_end(int fd, ls_ss_header *h, uint64_t *end, uint64_t *whole,
    ls_error *err)
{
	static const ls_ss_pos at_end = { .from = LS_FROM_END };
	ls_ss_reader *r;
	ls_msg m;
	int rc;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return ls__fail(err, LS_ERR_IO, 0, "seek: %s", strerror(errno));
	if ((r = ls_ss_reader_open(fd, 0, err)) == NULL)
		return err ? err->code : LS_ERR_CORRUPT;
	*h = r->h;
	if ((rc = ls_ss_seek(r, &at_end, err)) == LS_OK) {
		*end = r->pos;
		/* past a trailing End-of-Stream, to where the data stops */
		while ((rc = ls_ss_next(r, &m, err)) == LS_OK)
			;
		*whole = r->pos;
		rc = rc == LS_END || rc == LS_PARTIAL ? LS_OK : rc;
	}
	ls_ss_reader_free(r);
	return rc;
}

/* Goes back to byte 0 of the file on fd, whose header is read anew. */
static int
restart(ls_ss_reader *r, int fd, ls_error *err)
{
	struct stat st;
	int rc;

	r->fd = fd;
	r->seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (r->seekable && (rc = jump(r, 0, err)) != LS_OK)
		return rc;
	r->start = r->end = 0;
	r->pos = r->msg_off = 0;
	r->have_pending = false;
	r->unsynced = false;
	r->anew = true;
	return LS_OK;
}

/* Has the header at byte 0 changed (or gone) since it was read? */
static int
header_changed(ls_ss_reader *r, uint64_t size, bool *changed, ls_error *err)
{
	unsigned char p[LS_SS_HEADER_SIZE];
	ls_ss_header h;
	ssize_t n;

	*changed = true;
	if (size < LS_SS_HEADER_SIZE)
		return LS_OK;
	do
		n = pread(r->fd, p, sizeof(p), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ls__fail(err, LS_ERR_IO, 0, "read: %s", strerror(errno));
	if (n == (ssize_t)sizeof(p) && header_decode(p, &h, false, NULL) ==
	    LS_OK && h.created_at == r->h.created_at &&
	    h.interval == r->h.interval &&
	    strcmp(h.file_name, r->h.file_name) == 0)
		*changed = false;
	return LS_OK;
}

/*
 * A follower's look at the file: truncated below the reader's position,
 * or with another header at byte 0, it is a new file, read from its start
 * (LS_NOTICE); cut below the position with its header unchanged, the
 * messages before the cut were read already (LS_ERR_RANGE).
 */
static int
look(ls_ss_reader *r, ls_error *err)
{
	struct stat st;
	uint64_t size, at = r->pos;
	bool changed;
	int rc;

	if (fstat(r->fd, &st) != 0)
		return ls__fail(err, LS_ERR_IO, r->pos, "fstat: %s",
		    strerror(errno));
	size = (uint64_t)st.st_size;
	if ((rc = header_changed(r, size, &changed, err)) != LS_OK)
		return rc;
	if (!changed && size >= at)
		return LS_OK;
	if (!changed)
		return ls__fail(err, LS_ERR_RANGE, size, "file truncated to "
		    "%llu bytes, below byte %llu already read, its header "
		    "unchanged: not read again", (unsigned long long)size,
		    (unsigned long long)at);
	if ((rc = restart(r, r->fd, err)) != LS_OK)
		return rc;
	return ls__fail(err, LS_NOTICE, 0, "file truncated; following from "
	    "its start");
}

LS_API int
ls_ss_reader_refresh(ls_ss_reader *r, ls_error *err)
{
	int rc;

	if (!r->seekable || r->have_pending)
		return LS_OK;
	if (!r->anew && (rc = look(r, err)) != LS_OK)
		return rc;
	if (r->end == r->start)
		return LS_OK;
	if (r->anew)
		return restart(r, r->fd, err);
	return jump(r, r->pos, err);
}

LS_API int
ls_ss_reader_restart(ls_ss_reader *r, int fd, ls_error *err)
{
	return restart(r, fd, err);
}
