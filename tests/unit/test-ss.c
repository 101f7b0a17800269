/*
 * Unit tests of the .ss writer and reader: round trips over many beacon
 * intervals, beacons against an independent model of the format, pipes,
 * truncated and growing files, appending, positioning, corruption and
 * resynchronisation.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-util.h"

#include "libstream.h"
#include "ls-internal.h"
#include "streams-internal.h"

/* --- helpers ------------------------------------------------------------- */

static char note[128];		/* printed with a failure in read_check */

static uint16_t
ref_crc16(uint16_t crc, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0xC867 :
			    crc << 1);
	}
	return crc;
}

static uint64_t
file_size(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_size;
}

/* Makes fd hold exactly p[0..n), positioned at 0. */
static void
refill(int fd, const unsigned char *p, size_t n)
{
	assert_int_equal(ftruncate(fd, 0), 0);
	if (n > 0)
		assert_int_equal(pwrite(fd, p, n, 0), (ssize_t)n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
}

/* --- test messages ------------------------------------------------------- */

struct tmsg {
	char key[LS_KEY_MAX + 7];
	size_t klen;
	uint64_t shard, seq, ts;
	unsigned char *payload;
	size_t len;
	uint64_t off;		/* where the writer put it */
	uint64_t end;		/* where it ends (from a reader) */
};

struct tset {
	struct tmsg *v;
	size_t n, cap;
	uint32_t iv;
	uint64_t size;		/* of the file written */
};

static struct tmsg *
tset_push(struct tset *s, const ls_msg *m)
{
	struct tmsg *t;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		assert_non_null(s->v);
	}
	t = &s->v[s->n++];
	memset(t, 0, sizeof(*t));
	memcpy(t->key, m->key, m->key_len);
	t->klen = m->key_len;
	t->shard = m->shard;
	t->seq = m->seq;
	t->ts = m->ts_ms;
	t->len = m->len;
	t->payload = malloc(m->len + 1);
	assert_non_null(t->payload);
	if (m->len)
		memcpy(t->payload, m->payload, m->len);
	return t;
}

static void
tset_free(struct tset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].payload);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void
to_msg(const struct tmsg *t, ls_msg *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->key, t->key, t->klen);
	m->key[t->klen] = '\0';
	m->key_len = t->klen;
	m->shard = t->shard;
	m->seq = t->seq;
	m->ts_ms = t->ts;
	m->payload = t->payload;
	m->len = t->len;
}

static void
assert_msg(const ls_msg *m, const struct tmsg *t)
{
	assert_int_equal(m->key_len, t->klen);
	assert_memory_equal(m->key, t->key, t->klen);
	assert_int_equal(m->key[m->key_len], '\0');
	assert_int_equal(m->shard, t->shard);
	assert_int_equal(m->seq, t->seq);
	assert_int_equal(m->ts_ms, t->ts);
	assert_int_equal(m->len, t->len);
	if (t->len)
		assert_memory_equal(m->payload, t->payload, t->len);
}

static const char key_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

struct gstream {
	char key[LS_KEY_MAX + 1];
	size_t klen;
	uint64_t shard, seq;
};

/*
 * Appends n random messages of nstreams streams to s: payloads of 0 to
 * maxpay bytes (both ends often), sequences rising by 0 to 2 per stream,
 * time stamps rising with some jitter; ends with an End-of-Stream marker
 * if eos.
 */
static void
gen(struct tset *s, size_t n, size_t nstreams, size_t maxpay, bool eos,
    uint64_t seed)
{
	struct gstream *st = calloc(nstreams, sizeof(*st));
	unsigned char *pay = malloc(maxpay + 1);
	uint64_t t = 1600000000000ull + rng_below(1000000);
	ls_msg m;

	assert_non_null(st);
	assert_non_null(pay);
	rng_state = seed;
	for (size_t j = 0; j < nstreams; j++) {
		struct gstream *g = &st[j];
		if (j % 7 == 3)
			g->klen = (j / 7) % 2 ? LS_KEY_MAX :
			    200 + rng_below(LS_KEY_MAX - 200);
		else
			g->klen = 1 + rng_below(16);
		for (size_t k = 0; k < g->klen; k++)
			g->key[k] = key_chars[rng_below(sizeof(key_chars) - 1)];
		/* a few streams share a key and differ by shard */
		if (j % 5 == 4) {
			memcpy(g->key, st[j - 1].key, st[j - 1].klen);
			g->klen = st[j - 1].klen;
		}
		g->shard = j % 4 == 1 ? rng() : j % 5;
		g->seq = rng_below(1000);
	}
	for (size_t i = 0; i < n; i++) {
		/* every stream early on, then at random */
		struct gstream *g = &st[i < nstreams ? i : rng_below(nstreams)];
		size_t len;
		switch (rng_below(8)) {
		case 0: len = 0; break;
		case 1: len = maxpay; break;
		case 2: len = rng_below(16); break;
		default: len = rng_below(maxpay + 1);
		}
		for (size_t k = 0; k < len; k++)
			pay[k] = (unsigned char)rng();
		g->seq += rng_below(3);
		t += rng_below(100);
		memset(&m, 0, sizeof(m));
		assert_int_equal(ls_msg_set_key(&m, g->key, g->klen, NULL),
		    LS_OK);
		m.shard = g->shard;
		m.seq = g->seq;
		m.ts_ms = t - rng_below(30);
		m.payload = pay;
		m.len = len;
		tset_push(s, &m);
	}
	if (eos) {
		ls_msg_eos(&m, t + 1);
		tset_push(s, &m);
	}
	free(pay);
	free(st);
}

/* Writes the messages of s to fd (empty) with a new writer; records
 * where each starts and the file's size. */
static void
write_set(int fd, uint32_t iv, struct tset *s)
{
	ls_ss_header h;
	ls_ss_writer *w;
	ls_error err;
	ls_msg m;

	s->iv = iv;
	note[0] = '\0';
	assert_int_equal(ls_ss_header_init(&h, "/some/dir/test.ss", iv, &err),
	    LS_OK);
	w = ls_ss_writer_new(fd, &h, &err);
	assert_non_null(w);
	assert_int_equal(ls_ss_writer_header(w)->interval, iv);
	for (size_t i = 0; i < s->n; i++) {
		s->v[i].off = ls_ss_writer_offset(w);
		to_msg(&s->v[i], &m);
		assert_int_equal(ls_ss_write(w, &m, &err), LS_OK);
	}
	s->size = ls_ss_writer_offset(w);
	assert_int_equal(ls_ss_flush(w, &err), LS_OK);
	ls_ss_writer_free(w);
	assert_int_equal(file_size(fd), s->size);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
}

/* Beacons seen by a reader. */
struct bitem {
	char key[LS_KEY_MAX + 7];
	size_t klen;
	uint64_t shard, seq, ts;
	uint16_t crc;
};

struct brec {
	uint64_t index, offset;
	uint32_t remaining;
	unsigned count;
	size_t size;		/* bytes on disk */
	size_t first;		/* its items in the item pool */
};

struct blog {
	struct brec *v;
	size_t n, cap;
	struct bitem *items;
	size_t nitems, capitems;
};

static void
on_beacon(void *ctx, const ls_ss_beacon *b)
{
	struct blog *l = ctx;
	struct brec *r;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	r = &l->v[l->n++];
	r->index = b->index;
	r->offset = b->offset;
	r->remaining = b->remaining;
	r->count = b->count;
	r->first = l->nitems;
	r->size = 7;
	for (unsigned i = 0; i < b->count; i++) {
		struct bitem *it;
		if (l->nitems == l->capitems) {
			l->capitems = l->capitems ? 2 * l->capitems : 64;
			l->items = realloc(l->items, l->capitems *
			    sizeof(*l->items));
			assert_non_null(l->items);
		}
		it = &l->items[l->nitems++];
		memcpy(it->key, b->items[i].key, sizeof(it->key));
		it->klen = b->items[i].key_len;
		it->shard = b->items[i].shard;
		it->seq = b->items[i].seq;
		it->ts = b->items[i].ts_ms;
		it->crc = b->items[i].crc;
		r->size += 27 + it->klen;
	}
}

static void
blog_free(struct blog *l)
{
	free(l->v);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* Size on disk of the beacons strictly between offsets a and b. */
static uint64_t
beacons_between(const struct blog *l, uint64_t a, uint64_t b)
{
	uint64_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].offset > a && l->v[i].offset < b)
			n += l->v[i].size;
	return n;
}

/*
 * Reads fd from the start and checks that it holds exactly s->v[0..n)
 * and then ends (LS_END). Sets every message's end. Beacons go to log
 * (may be NULL).
 */
static void
read_check(int fd, unsigned flags, struct tset *s, size_t n,
    struct blog *log)
{
	ls_ss_reader *r;
	ls_error err;
	ls_msg m;
	int rc;

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	r = ls_ss_reader_open(fd, flags, &err);
	if (r == NULL)
		print_error("open: %s\n", err.msg);
	assert_non_null(r);
	assert_int_equal(ls_ss_reader_header(r)->interval, s->iv);
	assert_string_equal(ls_ss_reader_header(r)->file_name, "test.ss");
	if (log)
		ls_ss_reader_on_beacon(r, on_beacon, log);
	for (size_t i = 0; i < n; i++) {
		rc = ls_ss_next(r, &m, &err);
		if (rc != LS_OK)
			print_error("%smessage %zu of %zu (interval %u): %s: %s\n",
			    note, i, n, s->iv, ls_strstatus(rc), err.msg);
		assert_int_equal(rc, LS_OK);
		assert_msg(&m, &s->v[i]);
		assert_int_equal(ls_msg_is_eos(&m),
		    s->v[i].klen == strlen(LS_EOS_KEY) &&
		    memcmp(s->v[i].key, LS_EOS_KEY, s->v[i].klen) == 0);
		assert_int_equal(ls_ss_reader_msg_offset(r), s->v[i].off);
		s->v[i].end = ls_ss_reader_offset(r);
		assert_true(s->v[i].end > s->v[i].off);
	}
	rc = ls_ss_next(r, &m, &err);
	if (rc != LS_END)
		print_error("after %zu messages: %s: %s\n", n, ls_strstatus(rc),
		    err.msg);
	assert_int_equal(rc, LS_END);
	/* LS_END again, at the same place */
	assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
	ls_ss_reader_free(r);
}

/* Checks the beacons in log against the messages of s, which fill the
 * whole file: a model of the format independent of the library. */
static void
check_beacons(const struct tset *s, const struct blog *l)
{
	struct mstream {
		const char *key;
		size_t klen;
		uint64_t shard, seq, ts;
		uint16_t crc;
	} *t = calloc(s->n + 1, sizeof(*t));
	size_t *order = calloc(s->n + 1, sizeof(*order));
	size_t nt = 0, next = 0;
	uint64_t cum = 0;
	unsigned cap = ls_ss_beacon_capacity(s->iv);

	assert_non_null(t);
	assert_non_null(order);
	/* one beacon at every multiple of the interval inside the file */
	assert_int_equal(l->n, (s->size - 1) / s->iv);
	for (size_t b = 0; b < l->n; b++) {
		const struct brec *br = &l->v[b];
		assert_int_equal(br->index, b + 1);
		assert_int_equal(br->offset, (b + 1) * s->iv);
		assert_true(br->size <= s->iv);
		/* streams counted: messages that start before the beacon */
		while (next < s->n && s->v[next].off < br->offset) {
			const struct tmsg *m = &s->v[next++];
			size_t k;
			unsigned char be[2];
			for (k = 0; k < nt; k++)
				if (t[k].klen == m->klen && t[k].shard == m->shard
				    && memcmp(t[k].key, m->key, m->klen) == 0)
					break;
			if (k == nt) {
				t[nt].key = m->key;
				t[nt].klen = m->klen;
				t[nt].shard = m->shard;
				t[nt].seq = m->seq;
				t[nt].ts = m->ts;
				t[nt].crc = 0xFFFF;
				nt++;
			}
			if (m->seq > t[k].seq)
				t[k].seq = m->seq;
			if (m->ts > t[k].ts)
				t[k].ts = m->ts;
			uint16_t c = ref_crc16(0xFFFF, m->payload, m->len);
			be[0] = (unsigned char)(c >> 8);
			be[1] = (unsigned char)c;
			t[k].crc = ref_crc16(t[k].crc, be, 2);
		}
		/* the interrupted message's remaining bytes */
		uint32_t rem = 0;
		if (next > 0 && s->v[next - 1].end > br->offset) {
			const struct tmsg *m = &s->v[next - 1];
			uint64_t before = br->offset - m->off -
			    beacons_between(l, m->off, br->offset);
			rem = (uint32_t)(32 + m->klen + m->len - before);
			assert_true(rem > 0);
		}
		assert_int_equal(br->remaining, rem);
		/* items: streams sorted by key bytes then shard, from where
		 * the previous beacon stopped */
		for (size_t i = 0; i < nt; i++)
			order[i] = i;
		for (size_t i = 1; i < nt; i++)	/* insertion sort */
			for (size_t j = i; j > 0; j--) {
				const struct mstream *x = &t[order[j - 1]];
				const struct mstream *y = &t[order[j]];
				size_t mn = x->klen < y->klen ? x->klen : y->klen;
				int c = memcmp(x->key, y->key, mn);
				if (c < 0 || (c == 0 && (x->klen < y->klen ||
				    (x->klen == y->klen && x->shard <= y->shard))))
					break;
				size_t tmp = order[j];
				order[j] = order[j - 1];
				order[j - 1] = tmp;
			}
		size_t want = nt < cap ? nt : cap;
		assert_int_equal(br->count, want);
		for (size_t i = 0; i < want; i++) {
			const struct mstream *x = &t[order[(cum + i) % nt]];
			const struct bitem *it = &l->items[br->first + i];
			assert_int_equal(it->klen, x->klen);
			assert_memory_equal(it->key, x->key, x->klen);
			assert_int_equal(it->shard, x->shard);
			assert_int_equal(it->seq, x->seq);
			assert_int_equal(it->ts, x->ts);
			assert_int_equal(it->crc, x->crc);
		}
		cum += want;
	}
	free(order);
	free(t);
}

/* Checks each message's extent: its bytes on disk and the beacons in it
 * add up. */
static void
check_extents(const struct tset *s, const struct blog *l)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct tmsg *m = &s->v[i];
		assert_int_equal(m->end - m->off - beacons_between(l, m->off,
		    m->end), 32 + m->klen + m->len);
		if (i + 1 < s->n) {
			/* the next starts right after, or after one beacon */
			uint64_t gap = s->v[i + 1].off - m->end;
			if (m->end % s->iv == 0) {
				size_t b = m->end / s->iv - 1;
				assert_true(b < l->n);
				assert_int_equal(gap, l->v[b].size);
				assert_int_equal(l->v[b].remaining, 0);
			} else
				assert_int_equal(gap, 0);
		}
	}
}

/*
 * gen() and write_set() with n messages and an End-of-Stream marker that
 * neither crosses nor ends at a beacon boundary (for appending, see
 * test_append_eos_at_boundary): tries seeds from seed on.
 */
static void
gen_eos_inside(int fd, uint32_t iv, struct tset *s, size_t n,
    size_t streams, size_t maxpay, uint64_t seed)
{
	for (;; seed++) {
		gen(s, n, streams, maxpay, true, seed);
		refill(fd, NULL, 0);
		write_set(fd, iv, s);
		read_check(fd, 0, s, s->n, NULL);
		const struct tmsg *eos = &s->v[s->n - 1];
		if (eos->off / iv == (eos->end - 1) / iv && eos->end % iv != 0)
			break;
		tset_free(s);
	}
}

/* --- beacon capacity, headers, keys -------------------------------------- */

static unsigned
ref_capacity(uint32_t i)
{
	uint64_t n = (i - 7) / 282;

	return (unsigned)((n < 255 ? n : 255) / 2);
}

static void
test_capacity(void **state)
{
	static const struct {
		uint32_t iv;
		unsigned cap;
	} cases[] = {
		{ 128, 0 }, { 129, 0 }, { 256, 0 }, { 570, 0 }, { 571, 1 },
		{ 1000, 1 }, { 1024, 1 }, { 1134, 1 }, { 1135, 2 },
		{ 4096, 7 }, { 65536, 116 }, { 71917, 127 },
		{ 1024 * 1024, 127 }, { UINT32_MAX, 127 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ls_ss_beacon_capacity(cases[i].iv),
		    cases[i].cap);
		assert_int_equal(ref_capacity(cases[i].iv), cases[i].cap);
	}
	for (uint32_t iv = 0; iv < LS_SS_MIN_INTERVAL; iv++)
		assert_int_equal(ls_ss_beacon_capacity(iv), 0);
	rng_state = 0xCA9;
	for (int t = 0; t < 100000; t++) {
		uint32_t iv = t < 80000 ? 128 + (uint32_t)t :
		    (uint32_t)(128 + rng_below(UINT32_MAX - 127));
		assert_int_equal(ls_ss_beacon_capacity(iv), ref_capacity(iv));
	}
}

static void
test_header(void **state)
{
	ls_ss_header h;
	ls_error err;
	char longname[300];
	uint64_t before = ls_now_ms();
	int fd = temp_fd();

	(void)state;
	assert_int_equal(ls_ss_header_init(&h, "/a/b/c.ss", 4096, &err), LS_OK);
	assert_string_equal(h.file_name, "c.ss");
	assert_int_equal(h.interval, 4096);
	assert_true(h.created_at >= before && h.created_at <= ls_now_ms());
	assert_int_equal(ls_ss_header_init(&h, "plain", 128, &err), LS_OK);
	assert_string_equal(h.file_name, "plain");
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	longname[0] = '/';
	assert_int_equal(ls_ss_header_init(&h, longname, 1000, &err), LS_OK);
	assert_int_equal(strlen(h.file_name), LS_SS_NAME_MAX);
	memset(&err, 0, sizeof(err));
	assert_int_equal(ls_ss_header_init(&h, "x", 127, &err), LS_ERR_INVAL);
	assert_int_equal(err.code, LS_ERR_INVAL);

	/* the header on disk: 128 bytes, read back the same */
	assert_int_equal(ls_ss_header_init(&h, "dir/name.ss", 1024, &err),
	    LS_OK);
	h.created_at = 1691686154745ull;
	ls_ss_writer *w = ls_ss_writer_new(fd, &h, &err);
	assert_non_null(w);
	ls_ss_writer_free(w);
	size_t len;
	unsigned char *p = slurp(fd, &len);
	static const unsigned char want[] = {
		0x53, 0x73, 0x01, 7, 'n', 'a', 'm', 'e', '.', 's', 's',
		0x00, 0x00, 0x01, 0x89, 0xe0, 0x5a, 0x31, 0xf9,
		0x00, 0x00, 0x04, 0x00,
	};
	assert_int_equal(len, 128);
	assert_memory_equal(p, want, sizeof(want));
	for (size_t i = sizeof(want); i < 127; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(p[127], 0x0D);
	free(p);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	ls_ss_reader *r = ls_ss_reader_open(fd, LS_SS_VERIFY, &err);
	assert_non_null(r);
	assert_string_equal(ls_ss_reader_header(r)->file_name, "name.ss");
	assert_int_equal(ls_ss_reader_header(r)->created_at, h.created_at);
	assert_int_equal(ls_ss_reader_header(r)->interval, 1024);
	ls_msg m;
	assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
	ls_ss_reader_free(r);

	/* a writer refuses an interval below 128 */
	h.interval = 100;
	assert_null(ls_ss_writer_new(fd, &h, &err));
	assert_int_equal(err.code, LS_ERR_INVAL);

	/* interval 128: the header fills the first interval, an empty
	 * beacon follows at once */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	h.interval = 128;
	w = ls_ss_writer_new(fd, &h, &err);
	assert_non_null(w);
	assert_int_equal(ls_ss_writer_offset(w), 135);
	ls_ss_writer_free(w);
	p = slurp(fd, &len);
	static const unsigned char beacon0[] = { 0x0D, 0, 0, 0, 0, 0, 0x0D };
	assert_int_equal(len, 135);
	assert_memory_equal(p + 128, beacon0, 7);
	free(p);

	/* not .ss files */
	static const char *junk[] = { "", "Ss", "hello, world" };
	for (size_t i = 0; i < 3; i++) {
		refill(fd, (const unsigned char *)junk[i], strlen(junk[i]));
		assert_null(ls_ss_reader_open(fd, 0, &err));
	}
	unsigned char bad[200];
	memset(bad, 0, sizeof(bad));
	bad[0] = 'S';
	bad[1] = 's';
	bad[2] = 2;	/* version */
	refill(fd, bad, sizeof(bad));
	assert_null(ls_ss_reader_open(fd, 0, &err));
	assert_int_equal(err.code, LS_ERR_CORRUPT);
	close(fd);
}

static void
test_write_invalid_key(void **state)
{
	static const struct {
		const char *k;
		size_t n;
	} bad[] = {
		{ "", 0 }, { "a/b", 3 }, { "a b", 3 }, { "caf\xc3\xa9", 5 },
		{ "a\0b", 3 }, { "x|y", 3 },
	};
	ls_ss_header h;
	ls_ss_writer *w;
	ls_error err;
	ls_msg m;
	struct tset s = { 0 };
	int fd = temp_fd();

	(void)state;
	assert_int_equal(ls_ss_header_init(&h, "test.ss", 1024, &err), LS_OK);
	w = ls_ss_writer_new(fd, &h, &err);
	assert_non_null(w);
	s.iv = 1024;
	memset(&m, 0, sizeof(m));
	m.payload = (const unsigned char *)"payload";
	m.len = 7;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(m.key, bad[i].k, bad[i].n);
		m.key[bad[i].n] = '\0';
		m.key_len = bad[i].n;
		assert_int_equal(ls_ss_write(w, &m, &err), LS_ERR_INVAL);
		assert_int_equal(err.code, LS_ERR_INVAL);
		assert_int_equal(ls_ss_writer_offset(w), 128);
	}
	/* too long */
	memset(m.key, 'k', LS_KEY_MAX + 1);
	m.key_len = LS_KEY_MAX + 1;
	assert_int_equal(ls_ss_write(w, &m, &err), LS_ERR_INVAL);
	assert_int_equal(ls_ss_writer_offset(w), 128);
	/* the longest key is fine, and so is the file */
	m.key_len = LS_KEY_MAX;
	m.key[LS_KEY_MAX] = '\0';
	s.v = NULL;
	tset_push(&s, &m)->off = 128;
	assert_int_equal(ls_ss_write(w, &m, &err), LS_OK);
	s.size = ls_ss_writer_offset(w);
	/* and refused still once the writer knows a stream */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ls_msg b = m;
		memcpy(b.key, bad[i].k, bad[i].n);
		b.key[bad[i].n] = '\0';
		b.key_len = bad[i].n;
		assert_int_equal(ls_ss_write(w, &b, &err), LS_ERR_INVAL);
		assert_int_equal(ls_ss_writer_offset(w), s.size);
	}
	ls_ss_writer_free(w);
	assert_int_equal(file_size(fd), 128 + 32 + LS_KEY_MAX + 7);
	/* ls_ss_header_init named it test.ss */
	read_check(fd, LS_SS_VERIFY, &s, 1, NULL);
	tset_free(&s);
	close(fd);
}

/* --- round trips --------------------------------------------------------- */

static const uint32_t intervals[] = { 128, 129, 200, 256, 1000, 1024, 4096 };

static void
test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
		uint32_t iv = intervals[i];
		unsigned cap = ls_ss_beacon_capacity(iv);
		struct tset s = { 0 };
		struct blog l = { 0 };
		int fd = temp_fd();

		/* more streams than a beacon holds */
		gen(&s, 300, 2 * cap + 9, 3 * iv, true, 0xA11CE + iv);
		write_set(fd, iv, &s);
		read_check(fd, LS_SS_VERIFY, &s, s.n, &l);
		assert_true(l.n > 10);
		check_beacons(&s, &l);
		check_extents(&s, &l);
		/* without verification, the same */
		read_check(fd, 0, &s, s.n, NULL);
		blog_free(&l);
		tset_free(&s);
		close(fd);
	}
}

/* Few streams (a beacon names them all), and the default interval with
 * more streams than its 127 items. */
static void
test_round_trip_more(void **state)
{
	static const struct {
		uint32_t iv;
		size_t n, streams, maxpay;
	} cases[] = {
		{ 4096, 400, 1, 3 * 4096 },
		{ 4096, 400, 3, 600 },
		{ 571, 500, 2, 3 * 571 },
		{ 1024 * 1024, 700, 300, 12000 },
		{ 128, 2000, 2, 40 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tset s = { 0 };
		struct blog l = { 0 };
		int fd = temp_fd();

		gen(&s, cases[i].n, cases[i].streams, cases[i].maxpay, i % 2,
		    0xB0B + i);
		write_set(fd, cases[i].iv, &s);
		read_check(fd, LS_SS_VERIFY, &s, s.n, &l);
		assert_true(l.n >= 2);
		check_beacons(&s, &l);
		check_extents(&s, &l);
		blog_free(&l);
		tset_free(&s);
		close(fd);
	}
}

/* Messages placed to end exactly at a boundary, one byte before and one
 * after; a message that starts right at the end of a beacon. */
static void
test_boundaries(void **state)
{
	(void)state;
	for (uint32_t iv = 1000; iv <= 1030; iv += 3) {
		for (int delta = -40; delta <= 40; delta++) {
			struct tset s = { 0 };
			struct blog l = { 0 };
			unsigned char pay[2100];
			ls_msg m;
			int fd = temp_fd();

			memset(pay, 'p', sizeof(pay));
			memset(&m, 0, sizeof(m));
			ls_msg_set_key(&m, "k", 1, NULL);
			/* first message: header 128 + 33 + len */
			m.len = (size_t)((int)iv - 128 - 33 + delta);
			m.payload = pay;
			m.seq = 1;
			tset_push(&s, &m);
			m.len = 5;
			m.seq = 2;
			tset_push(&s, &m);
			/* then one across two boundaries */
			m.len = (size_t)(2 * iv - 40);
			m.seq = 3;
			tset_push(&s, &m);
			m.len = 0;
			m.seq = 4;
			tset_push(&s, &m);
			write_set(fd, iv, &s);
			read_check(fd, LS_SS_VERIFY, &s, s.n, &l);
			check_beacons(&s, &l);
			check_extents(&s, &l);
			blog_free(&l);
			tset_free(&s);
			close(fd);
		}
	}
}

/* --- pipes --------------------------------------------------------------- */

struct feeder {
	int fd;
	const unsigned char *p;
	size_t n;
	uint64_t seed;
};

static void *
feed(void *arg)
{
	struct feeder *f = arg;
	uint64_t x = f->seed;
	size_t done = 0;

	while (done < f->n) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t k = 1 + (size_t)((x >> 33) % 5000);
		if (k > f->n - done)
			k = f->n - done;
		if (ls_write_all(f->fd, f->p + done, k) < 0)
			break;
		done += k;
	}
	close(f->fd);
	return NULL;
}

static void
test_pipe(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
		uint32_t iv = intervals[i];
		struct tset s = { 0 };
		struct blog lf = { 0 }, lp = { 0 };
		struct feeder f;
		pthread_t th;
		ls_ss_reader *r;
		ls_error err;
		ls_msg m;
		size_t len;
		int fds[2], rc;
		int fd = temp_fd();

		gen(&s, 200, 2 * ls_ss_beacon_capacity(iv) + 3, 3 * iv, true,
		    0x919E + iv);
		write_set(fd, iv, &s);
		read_check(fd, LS_SS_VERIFY, &s, s.n, &lf);
		unsigned char *bytes = slurp(fd, &len);

		assert_int_equal(pipe(fds), 0);
		f = (struct feeder){ fds[1], bytes, len, iv };
		assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
		r = ls_ss_reader_open(fds[0], LS_SS_VERIFY, &err);
		assert_non_null(r);
		ls_ss_reader_on_beacon(r, on_beacon, &lp);
		for (size_t j = 0; j < s.n; j++) {
			rc = ls_ss_next(r, &m, &err);
			if (rc != LS_OK)
				print_error("pipe, interval %u, message %zu: %s\n",
				    iv, j, err.msg);
			assert_int_equal(rc, LS_OK);
			assert_msg(&m, &s.v[j]);
			assert_int_equal(ls_ss_reader_msg_offset(r), s.v[j].off);
			assert_int_equal(ls_ss_reader_offset(r), s.v[j].end);
		}
		assert_true(ls_msg_is_eos(&m));
		assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
		/* the same beacons as from the file */
		assert_int_equal(lp.n, lf.n);
		for (size_t j = 0; j < lf.n; j++) {
			assert_int_equal(lp.v[j].offset, lf.v[j].offset);
			assert_int_equal(lp.v[j].count, lf.v[j].count);
			assert_int_equal(lp.v[j].remaining, lf.v[j].remaining);
		}
		/* positioning needs a regular file */
		static const enum ls_ss_from froms[] = { LS_FROM_SEQ,
		    LS_FROM_TIME, LS_FROM_BEACON, LS_FROM_END, LS_FROM_START };
		for (size_t k = 0; k < 5; k++) {
			ls_ss_pos pos = { .from = froms[k], .value = 1 };
			memset(&err, 0, sizeof(err));
			assert_int_equal(ls_ss_seek(r, &pos, &err), LS_ERR_SEEK);
			assert_int_equal(err.code, LS_ERR_SEEK);
		}
		ls_ss_reader_free(r);
		pthread_join(th, NULL);
		close(fds[0]);
		free(bytes);
		blog_free(&lf);
		blog_free(&lp);
		tset_free(&s);
		close(fd);
	}
}

/* --- truncated and growing files ----------------------------------------- */

/* The offsets where a cut leaves whole messages: after the header, after
 * a message, after a beacon between messages. */
static bool
is_boundary(const struct tset *s, const struct blog *l, uint64_t c,
    uint64_t *last)
{
	uint64_t best = 128;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].end <= c && s->v[i].end > best)
			best = s->v[i].end;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].remaining == 0 &&
		    l->v[i].offset + l->v[i].size <= c &&
		    l->v[i].offset + l->v[i].size > best)
			best = l->v[i].offset + l->v[i].size;
	*last = best;
	return best == c;
}

/*
 * The cut points to try in a file of len bytes: all of them if all, else
 * those within 3 bytes of a message or beacon edge and a random 100.
 * Returns a malloc'd array of *n offsets.
 */
static size_t *
cut_points(const struct tset *s, const struct blog *l, size_t len, bool all,
    size_t *n)
{
	unsigned char *want = calloc(len + 1, 1);
	size_t *v, k = 0;

	assert_non_null(want);
	if (all)
		memset(want, 1, len + 1);
	for (size_t i = 0; i < s->n + l->n; i++) {
		uint64_t a = i < s->n ? s->v[i].off : l->v[i - s->n].offset;
		uint64_t b = i < s->n ? s->v[i].end : a + l->v[i - s->n].size;
		for (uint64_t d = 0; d <= 6; d++) {
			if (a + d >= 3 && a + d - 3 <= len)
				want[a + d - 3] = 1;
			if (b + d >= 3 && b + d - 3 <= len)
				want[b + d - 3] = 1;
		}
	}
	for (int i = 0; i < 100; i++)
		want[rng_below(len + 1)] = 1;
	for (size_t i = 0; i < 130 && i <= len; i++)
		want[i] = 1;
	want[len] = 1;
	v = malloc((len + 1) * sizeof(*v));
	assert_non_null(v);
	for (size_t c = 0; c <= len; c++)
		if (want[c])
			v[k++] = c;
	free(want);
	*n = k;
	return v;
}

/* Files for the truncation tests: every cut of the small ones. */
static const struct {
	uint32_t iv;
	size_t n, streams, maxpay;
	bool all;
} cut_cases[] = {
	{ 128, 12, 3, 80, true },	/* beacons carry no items */
	{ 571, 16, 3, 160, true },	/* one item each */
	{ 200, 10, 2, 250, false },
	{ 4096, 24, 10, 1200, false },	/* several items each */
	{ 1024, 30, 4, 900, false },
};

static void
test_truncated(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < sizeof(cut_cases) / sizeof(cut_cases[0]);
	    ci++) {
		struct tset s = { 0 };
		struct blog l = { 0 };
		ls_error err;
		ls_msg m;
		size_t len;
		int fd = temp_fd(), cut_fd = temp_fd();

		gen(&s, cut_cases[ci].n, cut_cases[ci].streams,
		    cut_cases[ci].maxpay, true, 0x7C + ci);
		write_set(fd, cut_cases[ci].iv, &s);
		read_check(fd, LS_SS_VERIFY, &s, s.n, &l);
		unsigned char *bytes = slurp(fd, &len);
		assert_true(len > 3 * cut_cases[ci].iv);
		size_t ncut, *cuts = cut_points(&s, &l, len, cut_cases[ci].all,
		    &ncut);

		for (size_t ic = 0; ic < ncut; ic++) {
			size_t c = cuts[ic];
			uint64_t last;
			bool whole = is_boundary(&s, &l, c, &last);
			ls_ss_reader *r;
			size_t got = 0;
			int rc;

			refill(cut_fd, bytes, c);
			r = ls_ss_reader_open(cut_fd, LS_SS_VERIFY, &err);
			if (c < 128) {
				assert_null(r);
				continue;
			}
			assert_non_null(r);
			while ((rc = ls_ss_next(r, &m, &err)) == LS_OK) {
				assert_true(got < s.n);
				assert_msg(&m, &s.v[got]);
				got++;
			}
			/* exactly the complete messages */
			assert_true(got == s.n || s.v[got].end > c);
			assert_true(got == 0 || s.v[got - 1].end <= c);
			if (rc != (whole ? LS_END : LS_PARTIAL))
				print_error("interval %u, cut at %zu: %s (%s)\n",
				    s.iv, c, ls_strstatus(rc), err.msg);
			assert_int_equal(rc, whole ? LS_END : LS_PARTIAL);
			if (rc == LS_PARTIAL) {
				assert_int_equal(err.code, LS_PARTIAL);
				assert_int_equal(err.offset, last);
			}
			/* consumed up to the last whole message or beacon */
			assert_int_equal(ls_ss_reader_offset(r), last);
			/* and again: nothing changes */
			assert_int_equal(ls_ss_next(r, &m, &err), rc);
			ls_ss_reader_free(r);
		}
		free(cuts);
		free(bytes);
		blog_free(&l);
		tset_free(&s);
		close(fd);
		close(cut_fd);
	}
}

/* A file written a piece at a time: a reader retrying after LS_END and
 * LS_PARTIAL sees every message once. */
static void
test_growing(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
		uint32_t iv = intervals[i];
		struct tset s = { 0 };
		ls_ss_reader *r = NULL;
		ls_error err;
		ls_msg m;
		size_t len, done = 0, got = 0;
		int fd = temp_fd(), gfd = temp_fd();

		gen(&s, 150, ls_ss_beacon_capacity(iv) + 2, 2 * iv, true,
		    0x6E0 + iv);
		write_set(fd, iv, &s);
		read_check(fd, 0, &s, s.n, NULL);
		unsigned char *bytes = slurp(fd, &len);
		rng_state = 0x6E0 + iv;
		while (done < len) {
			size_t k = 1 + rng_below(iv / 2);
			int rc;
			if (k > len - done)
				k = len - done;
			if (done < 128)
				k = 128 + rng_below(iv);
			if (k > len - done)
				k = len - done;
			assert_int_equal(pwrite(gfd, bytes + done, k,
			    (off_t)done), (ssize_t)k);
			done += k;
			if (r == NULL) {
				assert_int_equal(lseek(gfd, 0, SEEK_SET), 0);
				r = ls_ss_reader_open(gfd, LS_SS_VERIFY, &err);
				assert_non_null(r);
			}
			while ((rc = ls_ss_next(r, &m, &err)) == LS_OK) {
				assert_true(got < s.n);
				assert_msg(&m, &s.v[got]);
				assert_true(s.v[got].end <= done);
				got++;
			}
			if (rc != LS_END && rc != LS_PARTIAL)
				print_error("interval %u at %zu: %s\n", iv, done,
				    err.msg);
			assert_true(rc == LS_END || rc == LS_PARTIAL);
			/* everything complete so far was returned */
			assert_true(got == s.n || s.v[got].end > done);
		}
		assert_int_equal(got, s.n);
		ls_ss_reader_free(r);
		free(bytes);
		tset_free(&s);
		close(fd);
		close(gfd);
	}
}

/* A payload size field claiming 3 GB in a short file. */
static void
test_short_huge(void **state)
{
	(void)state;
	for (int flags = 0; flags <= 1; flags++)
		for (int ivc = 0; ivc < 2; ivc++) {
			uint32_t iv = ivc ? 4096 : LS_SS_DEFAULT_INTERVAL;
			struct tset s = { 0 };
			ls_ss_reader *r;
			ls_error err;
			ls_msg m;
			unsigned char tail[64 + 500];
			size_t k = 0;
			int fd = temp_fd();

			gen(&s, 5, 2, 100, false, 0x3B);
			write_set(fd, iv, &s);
			tail[k++] = 1;
			tail[k++] = 'a';
			memset(tail + k, 0, 24);	/* shard, seq, ts */
			k += 24;
			tail[k++] = 0xB2;	/* 3,000,000,000 */
			tail[k++] = 0xD0;
			tail[k++] = 0x5E;
			tail[k++] = 0x00;
			memset(tail + k, 0x0D, 500);
			k += 500;
			assert_int_equal(pwrite(fd, tail, k, (off_t)s.size),
			    (ssize_t)k);
			assert_true(s.size + k < iv);
			r = ls_ss_reader_open(fd, (unsigned)flags, &err);
			assert_non_null(r);
			for (size_t i = 0; i < s.n; i++) {
				assert_int_equal(ls_ss_next(r, &m, &err), LS_OK);
				assert_msg(&m, &s.v[i]);
			}
			memset(&err, 0, sizeof(err));
			assert_int_equal(ls_ss_next(r, &m, &err), LS_PARTIAL);
			assert_int_equal(err.offset, s.size);
			assert_int_equal(ls_ss_reader_offset(r), s.size);
			ls_ss_reader_free(r);
			tset_free(&s);
			close(fd);
		}
}

/* --- appending ----------------------------------------------------------- */

/* Three messages appended: to an old stream, a new one, and one long
 * enough to cross beacons. */
static void
more_msgs(struct tset *s, const struct tmsg *old, uint32_t iv)
{
	static unsigned char pay[3 * 4096];
	ls_msg m;

	memset(pay, 'z', sizeof(pay));
	memset(&m, 0, sizeof(m));
	if (old)
		to_msg(old, &m);
	else
		ls_msg_set_key(&m, "old", 3, NULL);
	m.seq += 1;
	m.ts_ms += 1;
	m.payload = pay;
	m.len = 17;
	tset_push(s, &m);
	ls_msg_set_key(&m, "new.stream", 10, NULL);
	m.shard = 9;
	m.seq = 0;
	m.len = 0;
	tset_push(s, &m);
	m.seq = 1;
	m.len = iv + iv / 2;
	pay[0] = 'a';
	tset_push(s, &m);
}

static void
test_append_truncated(void **state)
{
	/* appending costs more per cut: smaller files */
	static const struct {
		uint32_t iv;
		size_t n, streams, maxpay;
		bool all;
	} cases[] = {
		{ 128, 12, 3, 80, true },	/* beacons carry no items */
		{ 571, 10, 3, 160, true },	/* one item each */
		{ 200, 10, 2, 250, false },
		{ 4096, 20, 10, 1200, false },	/* several items each */
		{ 1024, 20, 4, 900, false },
	};
	(void)state;
	for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		uint32_t iv = cases[ci].iv;
		struct tset s = { 0 };
		struct blog l = { 0 };
		ls_ss_header h;
		ls_error err;
		size_t len;
		int fd = temp_fd(), afd = temp_fd();

		gen_eos_inside(fd, iv, &s, cases[ci].n, cases[ci].streams,
		    cases[ci].maxpay, 0xA99 + ci);
		read_check(fd, LS_SS_VERIFY, &s, s.n, &l);
		unsigned char *bytes = slurp(fd, &len);
		size_t ncut, *cuts = cut_points(&s, &l, len, cases[ci].all,
		    &ncut);
		assert_int_equal(ls_ss_header_init(&h, "other.ss", 2 * iv, &err),
		    LS_OK);
		unsigned vflags = LS_SS_VERIFY;

		for (size_t ic = 0; ic < ncut; ic++) {
			size_t c = cuts[ic];
			struct tset t = { 0 };
			ls_ss_writer *w;
			ls_msg m;

			refill(afd, bytes, c);
			w = ls_ss_writer_append(afd, &h, &err);
			if (c > 0 && c < 128) {
				assert_null(w);
				continue;
			}
			if (w == NULL)
				print_error("cut at %zu: %s\n", c, err.msg);
			assert_non_null(w);
			/* the file's own header, or h for an empty file */
			assert_int_equal(ls_ss_writer_header(w)->interval,
			    c ? iv : 2 * iv);
			t.iv = c ? iv : 2 * iv;
			/* the complete messages, less a final EOS */
			for (size_t i = 0; i < s.n; i++) {
				if (s.v[i].end > c || i == s.n - 1)
					break;
				to_msg(&s.v[i], &m);
				tset_push(&t, &m)->off = s.v[i].off;
			}
			more_msgs(&t, t.n ? &t.v[0] : NULL, t.iv);
			for (size_t i = t.n - 3; i < t.n; i++) {
				t.v[i].off = ls_ss_writer_offset(w);
				to_msg(&t.v[i], &m);
				assert_int_equal(ls_ss_write(w, &m, &err), LS_OK);
			}
			t.size = ls_ss_writer_offset(w);
			ls_ss_writer_free(w);
			assert_int_equal(file_size(afd), t.size);
			if (c == 0) {
				/* a new file with h */
				assert_int_equal(lseek(afd, 0, SEEK_SET), 0);
				ls_ss_reader *r = ls_ss_reader_open(afd,
				    LS_SS_VERIFY, &err);
				assert_non_null(r);
				assert_string_equal(ls_ss_reader_header(r)->
				    file_name, "other.ss");
				ls_ss_reader_free(r);
				tset_free(&t);
				continue;
			}
			snprintf(note, sizeof(note), "cut at %zu of %zu: ", c,
			    len);
			read_check(afd, vflags, &t, t.n, NULL);
			note[0] = '\0';
			tset_free(&t);
		}
		free(cuts);
		free(bytes);
		blog_free(&l);
		tset_free(&s);
		close(fd);
		close(afd);
	}
}

/* Appending drops a final End-of-Stream marker, keeps the rest; appending
 * twice works too. */
static void
test_append_eos(void **state)
{
	(void)state;
	for (int eos = 0; eos <= 1; eos++) {
		struct tset s = { 0 };
		ls_ss_header h;
		ls_ss_writer *w;
		ls_error err;
		ls_msg m;
		int fd = temp_fd();

		gen_eos_inside(fd, 1024, &s, 50, 3, 300, 0xE05);
		if (!eos) {
			free(s.v[--s.n].payload);
			refill(fd, NULL, 0);
			write_set(fd, 1024, &s);
		}
		read_check(fd, LS_SS_VERIFY, &s, s.n, NULL);
		if (eos)
			free(s.v[--s.n].payload);
		assert_int_equal(ls_ss_header_init(&h, "test.ss", 1024, &err),
		    LS_OK);
		for (int round = 0; round < 2; round++) {
			w = ls_ss_writer_append(fd, &h, &err);
			assert_non_null(w);
			/* at the end of the last message, after a new empty
			 * beacon if that is a boundary */
			uint64_t e = s.v[s.n - 1].end;
			assert_int_equal(ls_ss_writer_offset(w),
			    e % 1024 ? e : e + 7);
			more_msgs(&s, &s.v[0], 1024);
			for (size_t i = s.n - 3; i < s.n; i++) {
				s.v[i].off = ls_ss_writer_offset(w);
				to_msg(&s.v[i], &m);
				assert_int_equal(ls_ss_write(w, &m, &err), LS_OK);
			}
			s.size = ls_ss_writer_offset(w);
			ls_ss_writer_free(w);
			read_check(fd, LS_SS_VERIFY, &s, s.n, NULL);
		}
		/* and once more with an EOS at the end, which goes again */
		w = ls_ss_writer_append(fd, &h, &err);
		assert_non_null(w);
		ls_msg_eos(&m, 1);
		assert_int_equal(ls_ss_write(w, &m, &err), LS_OK);
		ls_ss_writer_free(w);
		w = ls_ss_writer_append(fd, &h, &err);
		assert_non_null(w);
		uint64_t e = s.v[s.n - 1].end;
		assert_int_equal(ls_ss_writer_offset(w), e % 1024 ? e : e + 7);
		ls_ss_writer_free(w);
		assert_int_equal(file_size(fd), e % 1024 ? e : e + 7);
		read_check(fd, LS_SS_VERIFY, &s, s.n, NULL);
		tset_free(&s);
		close(fd);
	}
}

/* --- positioning --------------------------------------------------------- */

/* The first message from index 0 that pos names, or s->n. */
static size_t
linear_find(const struct tset *s, const ls_ss_pos *pos)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct tmsg *m = &s->v[i];
		if (pos->key != NULL && (m->klen != pos->key_len ||
		    (pos->shard != LS_ANY_SHARD && m->shard != pos->shard) ||
		    memcmp(m->key, pos->key, m->klen) != 0))
			continue;
		if (pos->from == LS_FROM_SEQ ? m->seq >= pos->value :
		    m->ts > pos->value)
			return i;
	}
	return s->n;
}

/* Seeks r to pos and checks it lands on message want (s->n: the end). */
static void
seek_check(ls_ss_reader *r, const struct tset *s, const ls_ss_pos *pos,
    size_t want)
{
	ls_error err;
	ls_msg m;
	int rc = ls_ss_seek(r, pos, &err);

	if (rc != (want < s->n ? LS_OK : LS_END) ||
	    (rc == LS_OK && ls_ss_reader_msg_offset(r) != s->v[want].off))
		print_error("seek from %d value %llu key %s: %s, at %llu, want "
		    "message %zu of %zu at %llu\n", (int)pos->from,
		    (unsigned long long)pos->value, pos->key ? pos->key : "-",
		    ls_strstatus(rc), (unsigned long long)
		    ls_ss_reader_msg_offset(r), want, s->n, (unsigned long long)
		    (want < s->n ? s->v[want].off : 0));
	assert_int_equal(rc, want < s->n ? LS_OK : LS_END);
	if (want == s->n) {
		assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
		return;
	}
	/* the message, then the one after it */
	for (size_t i = want; i < want + 2 && i < s->n; i++) {
		rc = ls_ss_next(r, &m, &err);
		if (rc != LS_OK)
			print_error("after seek, message %zu: %s\n", i, err.msg);
		assert_int_equal(rc, LS_OK);
		assert_msg(&m, &s->v[i]);
		assert_int_equal(ls_ss_reader_msg_offset(r), s->v[i].off);
	}
}

static void
seek_targets(ls_ss_reader *r, const struct tset *s, int rounds)
{
	ls_ss_pos pos;
	uint64_t maxseq = 0, maxts = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].seq > maxseq)
			maxseq = s->v[i].seq;
		if (s->v[i].ts > maxts)
			maxts = s->v[i].ts;
	}
	for (int t = 0; t < rounds; t++) {
		const struct tmsg *ref = &s->v[rng_below(s->n)];
		memset(&pos, 0, sizeof(pos));
		pos.from = t % 2 ? LS_FROM_TIME : LS_FROM_SEQ;
		/* near a message's value, or anywhere, or at the ends */
		uint64_t v = pos.from == LS_FROM_SEQ ? ref->seq : ref->ts;
		switch (rng_below(6)) {
		case 0: v = v + 1; break;
		case 1: v = v ? v - 1 : 0; break;
		case 2: v = rng_below((pos.from == LS_FROM_SEQ ? maxseq :
		    maxts) + 2); break;
		case 3: v = t % 4 < 2 ? 0 : pos.from == LS_FROM_SEQ ?
		    maxseq + 1 : maxts; break;
		default: break;
		}
		pos.value = v;
		switch (rng_below(4)) {
		case 0:
			pos.key = ref->key;
			pos.key_len = ref->klen;
			pos.shard = ref->shard;
			break;
		case 2:
			/* every shard of the key */
			pos.key = ref->key;
			pos.key_len = ref->klen;
			pos.shard = LS_ANY_SHARD;
			break;
		case 1:
			if (rng_below(4) == 0) {
				pos.key = "no-such-stream";
				pos.key_len = 14;
			} else {
				/* the key, but maybe not the shard */
				pos.key = ref->key;
				pos.key_len = ref->klen;
				pos.shard = ref->shard + rng_below(2);
			}
			break;
		default:
			break;
		}
		seek_check(r, s, &pos, linear_find(s, &pos));
	}
}

static void
test_seek(void **state)
{
	static const struct {
		uint32_t iv;
		size_t n, streams, maxpay;
		bool eos;
	} cases[] = {
		{ 4096, 600, 3, 700, true },	/* beacons name every stream */
		{ 4096, 600, 20, 700, false },	/* beacons rotate */
		{ 1024, 600, 1, 600, true },
		{ 1024, 600, 5, 2000, false },
		{ 128, 400, 4, 100, true },	/* beacons carry nothing */
		{ 1000, 300, 300, 300, true },	/* each stream seen once */
	};

	(void)state;
	for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		uint32_t iv = cases[ci].iv;
		struct tset s = { 0 };
		ls_ss_reader *r;
		ls_error err;
		ls_msg m;
		ls_ss_pos pos;
		int fd = temp_fd();

		gen(&s, cases[ci].n, cases[ci].streams, cases[ci].maxpay,
		    cases[ci].eos, 0x5EE + ci);
		write_set(fd, iv, &s);
		read_check(fd, 0, &s, s.n, NULL);
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		r = ls_ss_reader_open(fd, 0, &err);
		assert_non_null(r);
		uint64_t nb = 0;
		assert_int_equal(ls_ss_beacon_count(r, &nb, &err), LS_OK);
		assert_int_equal(nb, s.size / iv);

		rng_state = 0x5EE + ci;
		seek_targets(r, &s, 250);

		/* every message's own sequence and time, with its key */
		for (size_t i = 0; i < s.n; i += 2 + rng_below(6)) {
			memset(&pos, 0, sizeof(pos));
			pos.from = i % 2 ? LS_FROM_SEQ : LS_FROM_TIME;
			pos.value = i % 2 ? s.v[i].seq : s.v[i].ts - 1;
			pos.key = s.v[i].key;
			pos.key_len = s.v[i].klen;
			pos.shard = s.v[i].shard;
			seek_check(r, &s, &pos, linear_find(&s, &pos));
		}

		/* beacons: the first message that starts after beacon k */
		for (uint64_t k = 0; k <= nb + 3; k++) {
			size_t want = 0;
			memset(&pos, 0, sizeof(pos));
			pos.from = LS_FROM_BEACON;
			pos.value = k;
			while (want < s.n && s.v[want].off < k * iv)
				want++;
			memset(&err, 0, sizeof(err));
			int rc = ls_ss_seek(r, &pos, &err);
			if (k * iv >= s.size) {
				assert_int_equal(rc, LS_ERR_RANGE);
				assert_int_equal(err.code, LS_ERR_RANGE);
				continue;
			}
			assert_int_equal(rc, LS_OK);
			rc = ls_ss_next(r, &m, &err);
			if (want == s.n) {
				assert_int_equal(rc, LS_END);
				continue;
			}
			assert_int_equal(rc, LS_OK);
			assert_msg(&m, &s.v[want]);
			assert_int_equal(ls_ss_reader_msg_offset(r), s.v[want].off);
		}

		/* the end, and back to the start */
		memset(&pos, 0, sizeof(pos));
		pos.from = LS_FROM_END;
		assert_int_equal(ls_ss_seek(r, &pos, &err), LS_OK);
		/* a trailing End-of-Stream is still ahead: appends drop it */
		if (strcmp(s.v[s.n - 1].key, LS_EOS_KEY) == 0) {
			assert_int_equal(ls_ss_next(r, &m, &err), LS_OK);
			assert_true(ls_msg_is_eos(&m));
			assert_int_equal(ls_ss_reader_msg_offset(r),
			    s.v[s.n - 1].off);
		}
		assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
		if (s.v[s.n - 1].end % iv != 0)
			assert_int_equal(ls_ss_reader_offset(r), s.v[s.n - 1].end);
		else
			assert_int_equal(ls_ss_reader_offset(r), s.size);
		pos.from = LS_FROM_START;
		assert_int_equal(ls_ss_seek(r, &pos, &err), LS_OK);
		for (size_t i = 0; i < s.n; i++) {
			assert_int_equal(ls_ss_next(r, &m, &err), LS_OK);
			assert_msg(&m, &s.v[i]);
		}
		assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
		/* an unknown position */
		pos.from = (enum ls_ss_from)99;
		assert_int_equal(ls_ss_seek(r, &pos, &err), LS_ERR_INVAL);
		ls_ss_reader_free(r);
		tset_free(&s);
		close(fd);
	}
}

/* LS_FROM_END on a file that grows afterwards: the reader sees exactly
 * the new messages. */
static void
test_seek_end_tail(void **state)
{
	struct tset s = { 0 }, more = { 0 };
	ls_ss_reader *r;
	ls_ss_writer *w;
	ls_ss_header h;
	ls_error err;
	ls_msg m;
	ls_ss_pos pos = { .from = LS_FROM_END };
	char path[32];
	int fd = temp_file(path), wfd;

	(void)state;
	gen(&s, 100, 3, 900, false, 0x7A11);
	write_set(fd, 1024, &s);
	r = ls_ss_reader_open(fd, 0, &err);
	assert_non_null(r);
	assert_int_equal(ls_ss_seek(r, &pos, &err), LS_OK);
	assert_int_equal(ls_ss_next(r, &m, &err), LS_END);

	gen(&more, 30, 2, 1500, false, 0x7A12);
	wfd = open(path, O_RDWR);
	assert_true(wfd >= 0);
	unlink(path);
	assert_int_equal(ls_ss_header_init(&h, "x", 4096, &err), LS_OK);
	w = ls_ss_writer_append(wfd, &h, &err);
	assert_non_null(w);
	size_t got = 0;
	for (size_t i = 0; i < more.n; i++) {
		int rc;
		to_msg(&more.v[i], &m);
		assert_int_equal(ls_ss_write(w, &m, &err), LS_OK);
		if (i % 7 != 6 && i + 1 < more.n)
			continue;
		/* the reader sees what is flushed so far */
		assert_int_equal(ls_ss_flush(w, &err), LS_OK);
		while ((rc = ls_ss_next(r, &m, &err)) == LS_OK) {
			assert_true(got <= i);
			assert_msg(&m, &more.v[got]);
			got++;
		}
		assert_true(rc == LS_END || rc == LS_PARTIAL);
		assert_int_equal(got, i + 1);
	}
	ls_ss_writer_free(w);
	close(wfd);
	assert_int_equal(got, more.n);
	assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
	ls_ss_reader_free(r);
	tset_free(&s);
	tset_free(&more);
	close(fd);
}

/* --- corruption ---------------------------------------------------------- */

/* The file offset of byte i of message m's encoding. */
static uint64_t
phys_off(const struct tmsg *m, const struct blog *l, uint64_t i)
{
	uint64_t p = m->off;

	for (size_t b = 0; b < l->n; b++) {
		if (l->v[b].offset <= m->off)
			continue;
		if (l->v[b].offset > p + i)
			break;
		i -= l->v[b].offset - p;
		p = l->v[b].offset + l->v[b].size;
	}
	return p + i;
}

static void
test_corrupt_resync(void **state)
{
	static const struct {
		uint32_t iv;
		unsigned flags;
	} cases[] = {
		{ 1024, 0 }, { 1024, LS_SS_VERIFY }, { 4096, LS_SS_VERIFY },
		{ 200, 0 },
	};

	(void)state;
	for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		uint32_t iv = cases[ci].iv;
		struct tset s = { 0 };
		struct blog l = { 0 };
		ls_error err;
		ls_msg m;
		size_t len;
		int fd = temp_fd(), cfd = temp_fd();

		gen(&s, 120, 4, 2 * iv, true, 0xC0 + ci);
		write_set(fd, iv, &s);
		read_check(fd, LS_SS_VERIFY, &s, s.n, &l);
		unsigned char *bytes = slurp(fd, &len);

		for (size_t bad = ci % 2; bad < s.n; bad += 2) {
			const struct tmsg *bm = &s.v[bad];
			ls_ss_reader *r;
			uint64_t from = 0, to = 0;
			size_t i;
			int rc;

			if (bm->len == 0)
				continue;
			/* one byte of the payload: first, last or any */
			uint64_t pi = bad % 3 == 0 ? 0 : bad % 3 == 1 ?
			    bm->len - 1 : rng_below(bm->len);
			uint64_t at = phys_off(bm, &l, 1 + bm->klen + 28 + pi);
			assert_true(at < len);
			bytes[at] ^= 0x40;
			refill(cfd, bytes, len);
			bytes[at] ^= 0x40;

			r = ls_ss_reader_open(cfd, cases[ci].flags, &err);
			assert_non_null(r);
			for (i = 0; i < bad; i++) {
				rc = ls_ss_next(r, &m, &err);
				if (rc != LS_OK)
					print_error("interval %u, bad %zu, message "
					    "%zu: %s\n", iv, bad, i, err.msg);
				assert_int_equal(rc, LS_OK);
				assert_msg(&m, &s.v[i]);
			}
			memset(&err, 0, sizeof(err));
			rc = ls_ss_next(r, &m, &err);
			assert_int_equal(rc, LS_ERR_CORRUPT);
			assert_int_equal(err.code, LS_ERR_CORRUPT);
			assert_int_equal(err.offset, bm->off);
			/* the first message boundary after the next beacon */
			uint64_t k = bm->off / iv + 1;
			size_t next = bad + 1;
			while (next < s.n && s.v[next].off < k * iv)
				next++;
			rc = ls_ss_resync(r, &from, &to, &err);
			if (k * iv >= len) {
				assert_int_equal(rc, LS_END);
				ls_ss_reader_free(r);
				continue;
			}
			assert_int_equal(rc, LS_OK);
			assert_int_equal(from, bm->off);
			/* the end of the message beacon k interrupts, or of
			 * beacon k */
			if (next > 0 && s.v[next - 1].end > k * iv)
				assert_int_equal(to, s.v[next - 1].end);
			else
				assert_int_equal(to, k * iv + l.v[k - 1].size);
			for (i = next; i < s.n; i++) {
				rc = ls_ss_next(r, &m, &err);
				if (rc != LS_OK)
					print_error("interval %u, bad %zu, after "
					    "resync, message %zu: %s\n", iv, bad,
					    i, err.msg);
				assert_int_equal(rc, LS_OK);
				assert_msg(&m, &s.v[i]);
			}
			assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
			ls_ss_reader_free(r);
		}
		free(bytes);
		blog_free(&l);
		tset_free(&s);
		close(fd);
		close(cfd);
	}
}

/* Regression tests of bugs found in the library, one each. */

/* Appends s->v[from..n) to the .ss file on fd; records offsets. */
static void
append_set(int fd, struct tset *s, size_t from)
{
	ls_ss_header h;
	ls_ss_writer *w;
	ls_error err;
	ls_msg m;

	assert_int_equal(ls_ss_header_init(&h, "test.ss", s->iv, &err), LS_OK);
	w = ls_ss_writer_append(fd, &h, &err);
	assert_non_null(w);
	for (size_t i = from; i < s->n; i++) {
		s->v[i].off = ls_ss_writer_offset(w);
		to_msg(&s->v[i], &m);
		assert_int_equal(ls_ss_write(w, &m, &err), LS_OK);
	}
	s->size = ls_ss_writer_offset(w);
	ls_ss_writer_free(w);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
}

static void
push_simple(struct tset *s, const char *key, uint64_t seq, uint64_t ts,
    size_t len)
{
	static unsigned char pay[4096];
	ls_msg m;

	memset(pay, 'p', sizeof(pay));
	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_msg_set_key(&m, key, strlen(key), NULL), LS_OK);
	m.seq = seq;
	m.ts_ms = ts;
	m.payload = pay;
	m.len = len;
	tset_push(s, &m);
}

/*
 * ss-read.c verify_beacon: after an append, the running checksums
 * restart; the reader only recognises the restart in the window of
 * messages since the previous beacon. When the first beacon after the
 * append point names only a new stream, a later beacon naming a
 * restarted stream is reported as LS_ERR_CORRUPT ("beacon 2, stream
 * wkc/0: marks ... crc 0x53c0, messages give ... crc 0x013e").
 */
static void
test_bug_verify_after_append(void **state)
{
	struct tset s = { 0 };
	int fd = temp_fd();

	(void)state;
	push_simple(&s, "wkc", 1, 1, 10);
	write_set(fd, 571, &s);
	push_simple(&s, "wkc", 2, 2, 10);
	push_simple(&s, "new", 1, 3, 1000);
	append_set(fd, &s, 1);
	read_check(fd, 0, &s, s.n, NULL);
	read_check(fd, LS_SS_VERIFY, &s, s.n, NULL);
	tset_free(&s);
	close(fd);
}

/*
 * ss-read.c ls__ss_find_end: an End-of-Stream marker that runs across a
 * beacon (or ends right at one) is not seen, because the search starts
 * after the last beacon's message boundary; ls_ss_writer_append keeps it
 * and writes after it, so readers stop at it.
 */
static void
test_bug_append_eos_across_beacon(void **state)
{
	struct tset s = { 0 }, t = { 0 };
	ls_msg m;
	int fd = temp_fd();

	(void)state;
	push_simple(&s, "k", 1, 1, 1024 - 128 - 33 - 20);	/* to 1004 */
	ls_msg_eos(&m, 5);
	tset_push(&s, &m);				/* 1004..1067 */
	write_set(fd, 1024, &s);
	read_check(fd, 0, &s, s.n, NULL);
	t.iv = 1024;
	push_simple(&t, "k", 1, 1, 1024 - 128 - 33 - 20);
	t.v[0].off = 128;
	push_simple(&t, "k", 2, 6, 5);
	append_set(fd, &t, 1);
	assert_int_equal(t.v[1].off, s.v[1].off);
	read_check(fd, 0, &t, t.n, NULL);
	tset_free(&s);
	tset_free(&t);
	close(fd);
}

/*
 * ss-read.c ls_ss_seek/jump: on a reader opened with LS_SS_VERIFY,
 * positioning keeps the verifier's stream table of the messages read
 * before (or none), so the next beacon is reported as LS_ERR_CORRUPT
 * ("beacon 4, stream a/0: marks seq 29 ... crc 0xdf54, messages give
 * ... crc 0xe013") in an intact file.
 */
static void
test_bug_seek_verify_reader(void **state)
{
	struct tset s = { 0 };
	ls_ss_reader *r;
	ls_ss_pos pos = { .from = LS_FROM_BEACON, .value = 3 };
	ls_error err;
	ls_msg m;
	size_t i;
	int rc, fd = temp_fd();

	(void)state;
	for (uint64_t k = 0; k < 100; k++)
		push_simple(&s, "a", k, 100 + k, 100);
	write_set(fd, 1024, &s);
	read_check(fd, LS_SS_VERIFY, &s, s.n, NULL);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	r = ls_ss_reader_open(fd, LS_SS_VERIFY, &err);
	assert_non_null(r);
	assert_int_equal(ls_ss_seek(r, &pos, &err), LS_OK);
	for (i = 0; s.v[i].off < 3 * 1024; i++)
		;
	for (; i < s.n; i++) {
		rc = ls_ss_next(r, &m, &err);
		if (rc != LS_OK)
			print_error("message %zu: %s\n", i, err.msg);
		assert_int_equal(rc, LS_OK);
		assert_msg(&m, &s.v[i]);
	}
	assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
	ls_ss_reader_free(r);
	tset_free(&s);
	close(fd);
}

/*
 * ss-read.c ls_ss_next/join_spliced: LS__MSIZE(klen, plen) is computed
 * in 32-bit unsigned arithmetic, so a payload size field within 32 + klen
 * of 4 GiB wraps to a tiny total; msg_decode then runs ls_crc16 over
 * ~4 GiB from a 256 KiB buffer (heap-buffer-overflow, SIGSEGV). The file
 * below is 192 bytes: header, then key "a", size 0xFFFFFFF3.
 */
static void
test_bug_size_wrap(void **state)
{
	struct tset s = { 0 };
	unsigned char b[64] = { 1, 'a' };
	ls_ss_reader *r;
	ls_error err;
	ls_msg m;
	int fd = temp_fd();

	(void)state;
	write_set(fd, LS_SS_DEFAULT_INTERVAL, &s);
	b[26] = 0xFF;
	b[27] = 0xFF;
	b[28] = 0xFF;
	b[29] = 0xF3;
	b[19] = 0x0D;	/* where the wrapped total of 20 bytes ends */
	assert_int_equal(pwrite(fd, b, sizeof(b), 128), (ssize_t)sizeof(b));
	r = ls_ss_reader_open(fd, 0, &err);
	assert_non_null(r);
	assert_int_equal(ls_ss_next(r, &m, &err), LS_PARTIAL);
	ls_ss_reader_free(r);
	close(fd);
}

/*
 * ss-read.c caches the beacon boundary after its position, valid while
 * the position stays within one interval. A reader restarted on a file
 * of another interval must not keep it: a.ss (interval 128) read to byte
 * 271 left it at 384, 256 bytes after b.ss's first message (interval
 * 256): the place of a beacon, had it been right.
 */
static void
test_restart_interval(void **state)
{
	struct tset a = { 0 }, b = { 0 };
	int fa = temp_fd(), fb = temp_fd();
	ls_ss_reader *r;
	ls_error err;
	ls_msg m;

	(void)state;
	push_simple(&a, "a", 1, 1, 10);
	push_simple(&a, "a", 2, 2, 10);
	push_simple(&a, "a", 3, 3, 10);
	write_set(fa, 128, &a);
	for (uint64_t i = 0; i < 10; i++)
		push_simple(&b, "b", i, i, 10);
	write_set(fb, 256, &b);
	r = ls_ss_reader_open(fa, 0, &err);
	assert_non_null(r);
	for (size_t i = 0; i < a.n; i++) {
		assert_int_equal(ls_ss_next(r, &m, &err), LS_OK);
		assert_msg(&m, &a.v[i]);
	}
	assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
	assert_int_equal(ls_ss_reader_offset(r), 271);
	assert_int_equal(ls_ss_reader_restart(r, fb, &err), LS_OK);
	for (size_t i = 0; i < b.n; i++) {
		assert_int_equal(ls_ss_next(r, &m, &err), LS_OK);
		assert_msg(&m, &b.v[i]);
	}
	assert_int_equal(ls_ss_next(r, &m, &err), LS_END);
	ls_ss_reader_free(r);
	tset_free(&a);
	tset_free(&b);
	close(fa);
	close(fb);
}

/* A message of more than 2^32 - 1 bytes cannot be written: a beacon
 * could not count what remains of it. The payload is refused before a
 * byte of it is read. */
static void
test_bug_message_limit(void **state)
{
	static const unsigned char byte = 'x';
	ls_ss_header h;
	ls_ss_writer *w;
	ls_error err;
	ls_msg m;
	int fd = temp_fd();

	(void)state;
	assert_int_equal(ls_ss_header_init(&h, "limit.ss", 1024, &err), LS_OK);
	w = ls_ss_writer_new(fd, &h, &err);
	assert_non_null(w);
	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_msg_set_key(&m, "a", 1, &err), LS_OK);
	m.payload = &byte;
	/* 32 + k + p bytes: p = 2^32 - 1 - 32 is one too many for k = 1 */
	m.len = (size_t)UINT32_MAX - 32;
	assert_int_equal(ls_ss_write(w, &m, &err), LS_ERR_INVAL);
	assert_non_null(strstr(err.msg, "exceeds the format's limit"));
	m.len = UINT32_MAX;
	assert_int_equal(ls_ss_write(w, &m, &err), LS_ERR_INVAL);
	/* nothing of them was written: the file reads back empty */
	m.len = 1;
	assert_int_equal(ls_ss_write(w, &m, &err), LS_OK);
	assert_int_equal(ls_ss_flush(w, &err), LS_OK);
	assert_int_equal(lseek(fd, 0, SEEK_END), 128 + 32 + 1 + 1);
	ls_ss_writer_free(w);
	close(fd);
}


/*
 * The reader's fast path checks a key of up to 16 bytes with one SSE2
 * compare of its own: each byte value at the first, a middle and the
 * last place of keys of 1, 2, 9 and 16 bytes gives the message exactly
 * when ls_key_valid takes the key (the key is outside the checksum, so
 * the changed byte is all that differs).
 */
static void
test_key_bytes(void **state)
{
	static const char *const keys[] = { "a", "k0", "abc.DEF-9",
	    "0123456789_abcde" };
	int fd = temp_fd();

	(void)state;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		struct tset s = { 0 };
		size_t n = strlen(keys[k]), at[3] = { 0, n / 2, n - 1 };
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		push_simple(&s, keys[k], 1, 1700000000000ull, 40);
		write_set(fd, LS_SS_DEFAULT_INTERVAL, &s);
		for (size_t j = 0; j < 3; j++)
			for (unsigned b = 0; b < 256; b++) {
				char key[17];
				unsigned char c = (unsigned char)b;
				off_t off = (off_t)(s.v[0].off + 1 + at[j]);
				ls_ss_reader *r;
				ls_error err;
				ls_msg m;
				int rc;
				memcpy(key, keys[k], n + 1);
				key[at[j]] = (char)c;
				assert_int_equal(pwrite(fd, &c, 1, off), 1);
				assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
				r = ls_ss_reader_open(fd, 0, &err);
				assert_non_null(r);
				rc = ls_ss_next(r, &m, &err);
				if (ls_key_valid(key, n)) {
					assert_int_equal(rc, LS_OK);
					assert_int_equal(m.key_len, n);
					assert_memory_equal(m.key, key, n);
				} else if (rc == LS_OK)
					assert_false(m.key_len == n &&
					    memcmp(m.key, key, n) == 0);
				ls_ss_reader_free(r);
				c = (unsigned char)keys[k][at[j]];
				assert_int_equal(pwrite(fd, &c, 1, off), 1);
			}
		tset_free(&s);
	}
	close(fd);
}

/* --- a stream's running checksum ----------------------------------------- */

/* ls__crc16_word, the running checksum a beacon stores for each stream,
 * is ls_crc16 of the word's two bytes, big-endian: every word, from
 * several registers. */
static void
test_crc16_word(void **state)
{
	static const uint16_t regs[] = { LS_CRC_INIT, 0x0000, 0x0001, 0x8000,
		0xC867, 0x1234, 0xBEEF };
	unsigned char be[2];

	(void)state;
	for (size_t r = 0; r < sizeof(regs) / sizeof(regs[0]); r++)
		for (unsigned v = 0; v <= 0xFFFF; v++) {
			ls__put16(be, (uint16_t)v);
			if (ls__crc16_word(regs[r], (uint16_t)v) !=
			    ls_crc16(regs[r], be, 2))
				fail_msg("register 0x%04x, word 0x%04x",
				    regs[r], v);
		}
}

/* --- stream tables sorted in two threads at once ------------------------ */

struct sorter {
	char prefix;
	size_t nkeys, rounds;
	int bad;	/* rounds whose order was not sorted */
};

/* Fills a table of its own with nkeys keys in a scrambled order, over
 * and over, and checks the sorted order each time. */
static void *
sort_rounds(void *arg)
{
	struct sorter *so = arg;
	struct ls__streams t;
	char key[16];
	size_t idx;

	memset(&t, 0, sizeof(t));
	for (size_t r = 0; r < so->rounds; r++) {
		ls__streams_clear(&t);
		for (size_t i = 0; i < so->nkeys; i++) {
			size_t k = (i * 7919 + r) % so->nkeys;
			int n = snprintf(key, sizeof(key), "%c%06zu",
			    so->prefix, k);
			if (ls__streams_find(&t, key, (size_t)n, 0, true,
			    &idx) != 1)
				abort();
		}
		const uint32_t *o = ls__streams_sorted(&t);
		for (size_t i = 1; i < t.n; i++)
			if (strcmp(ls__streams_key(&t, &t.v[o[i - 1]]),
			    ls__streams_key(&t, &t.v[o[i]])) >= 0) {
				so->bad++;
				break;
			}
	}
	ls__streams_free(&t);
	return NULL;
}

/* Two writers in two threads sort their own tables for their beacons:
 * the sort's comparison must see its own table, not the other's (a
 * process-wide pointer to the table being sorted mixed them up). */
static void
test_streams_sort_threads(void **state)
{
	struct sorter a = { 'a', 3000, 60, 0 }, b = { 'b', 200, 900, 0 };
	pthread_t ta, tb;

	(void)state;
	assert_int_equal(pthread_create(&ta, NULL, sort_rounds, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, sort_rounds, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.bad, 0);
	assert_int_equal(b.bad, 0);
}

/* Key i of test_streams_many: i % (LS_KEY_MAX + 1) bytes, or as many as
 * i's digits, those in the middle of '.' filler (so that long keys differ
 * only between their first and last 8 bytes); its shard i % 3. */
static size_t
many_key(size_t i, char *key)
{
	char d[24];
	size_t nd = (size_t)snprintf(d, sizeof(d), "%zu", i);
	size_t n = i % (LS_KEY_MAX + 1);

	if (n < nd)
		n = nd;
	memset(key, '.', n);
	memcpy(key + (n - nd) / 2, d, nd);
	key[n] = '\0';
	return n;
}

/* A table of 60,000 streams of every key length: each found again at the
 * index it was added as, in turn and out of order, with its key's bytes
 * (kept apart from the streams) intact after every growth; a key one
 * byte off, or another shard, not found; sorted by bytes then shard;
 * emptied and filled again; the streams on cache lines. */
static void
test_streams_many(void **state)
{
	enum { N = 60000 };
	struct ls__streams t;
	char key[LS_KEY_MAX + 1];
	size_t idx, n;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.last = SIZE_MAX;
	for (int round = 0; round < 2; round++) {
		ls__streams_clear(&t);
		for (size_t i = 0; i < N; i++) {
			n = many_key(i, key);
			assert_int_equal(ls__streams_find(&t, key, n, i % 3,
			    true, &idx), 1);
			assert_int_equal(idx, i);
		}
		assert_int_equal(t.n, N);
		assert_int_equal((uintptr_t)t.v % 64, 0);
		for (size_t k = 0; k < 2 * N; k++) {
			/* in turn, then scattered */
			size_t i = k < N ? k : (k * 7919) % N;
			n = many_key(i, key);
			assert_int_equal(ls__streams_find(&t, key, n, i % 3,
			    false, &idx), 1);
			assert_int_equal(idx, i);
			assert_int_equal(t.v[i].klen, n);
			assert_memory_equal(ls__streams_key(&t, &t.v[i]), key,
			    n + 1);
			assert_int_equal(ls__streams_find(&t, key, n,
			    i % 3 + 1, false, &idx), 0);
			if (n == 0)
				continue;
			key[n / 2] ^= 0x20;
			assert_int_equal(ls__streams_find(&t, key, n, i % 3,
			    false, &idx), 0);
			key[n / 2] ^= 0x20;
		}
		const uint32_t *o = ls__streams_sorted(&t);
		for (size_t i = 1; i < t.n; i++) {
			const struct ls__stream *x = &t.v[o[i - 1]];
			const struct ls__stream *y = &t.v[o[i]];
			size_t m = x->klen < y->klen ? x->klen : y->klen;
			int c = memcmp(ls__streams_key(&t, x),
			    ls__streams_key(&t, y), m);
			assert_true(c < 0 || (c == 0 && (x->klen < y->klen ||
			    (x->klen == y->klen && x->shard < y->shard))));
		}
	}
	ls__streams_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_write_invalid_key),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_more),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_growing),
		cmocka_unit_test(test_short_huge),
		cmocka_unit_test(test_append_truncated),
		cmocka_unit_test(test_append_eos),
		cmocka_unit_test(test_seek),
		cmocka_unit_test(test_seek_end_tail),
		cmocka_unit_test(test_corrupt_resync),
		cmocka_unit_test(test_bug_verify_after_append),
		cmocka_unit_test(test_bug_append_eos_across_beacon),
		cmocka_unit_test(test_bug_seek_verify_reader),
		cmocka_unit_test(test_bug_size_wrap),
		cmocka_unit_test(test_bug_message_limit),
		cmocka_unit_test(test_restart_interval),
		cmocka_unit_test(test_key_bytes),
		cmocka_unit_test(test_crc16_word),
		cmocka_unit_test(test_streams_sort_threads),
		cmocka_unit_test(test_streams_many),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
