/* The per-(key, shard) table that beacons summarise: highest sequence,
 * highest timestamp and running checksum of each stream. */
#include <errno.h>
#include <stdlib.h>

#include "ls-internal.h"
#include "streams-internal.h"

static uint64_t
load64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t
load32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * The first and the last 8 bytes of key[0..klen) as two words, read
 * without going past its end (a shorter key packed into the first).
 * Of keys of one length up to 16 bytes, two differ in their words; a
 * lookup compares the words, not the bytes (callgrind of relay -o .ss,
 * 8 keys in turn, two lookups a message: a hash and a compare byte by
 * byte were 100 instructions a lookup).
 */
static void
key_words(const char *key, size_t klen, uint64_t w[2])
{
	const unsigned char *u = (const unsigned char *)key;

	if (klen >= 8) {
		w[0] = load64(key);
		w[1] = load64(key + klen - 8);
	} else if (klen >= 4) {
		w[0] = load32(key) | (uint64_t)load32(key + klen - 4) << 32;
		w[1] = 0;
	} else {
		w[0] = klen == 0 ? 0 : u[0] | (uint64_t)u[klen / 2] << 8 |
		    (uint64_t)u[klen - 1] << 16;
		w[1] = 0;
	}
}

/* Of (key, shard) with words w: the words, then the bytes between
 * them, mixed by multiplication, and the high half folded down. */
static uint32_t
hash(const uint64_t w[2], const char *key, size_t klen, uint64_t shard)
{
	const uint64_t k = 0x9E3779B97F4A7C15u;
	uint64_t h = (w[0] * k ^ w[1]) * k ^ (shard * k + klen);

	for (size_t i = 8; i + 8 < klen; i += 8)
		h = (h ^ load64(key + i)) * k;
	h = (h ^ h >> 32) * 0xD6E8FEB86659FD93u;
	return (uint32_t)(h ^ h >> 32);
}

_Static_assert(sizeof(struct ls__stream) == 64, "a stream, a cache line");
_Static_assert(LS_KEY_MAX <= UINT8_MAX, "a key's length in a byte");

void
ls__streams_clear(struct ls__streams *t)
{
	t->n = 0;
	t->keys_len = 0;
	t->last = SIZE_MAX;
	t->nsorted = 0;
	if (t->ht != NULL)
		memset(t->ht, 0xff, t->hcap * sizeof(*t->ht));
}

void
ls__streams_free(struct ls__streams *t)
{
	free(t->v);
	free(t->keys);
	free(t->ht);
	free(t->order);
	free(t->spare);
	memset(t, 0, sizeof(*t));
}

static int
rehash(struct ls__streams *t, size_t hcap)
{
	uint32_t *ht = malloc(hcap * sizeof(*ht));

	if (ht == NULL)
		return -1;
	memset(ht, 0xff, hcap * sizeof(*ht));
	for (size_t i = 0; i < t->n; i++) {
		size_t j = t->v[i].hash & (hcap - 1);
		while (ht[j] != UINT32_MAX)
			j = (j + 1) & (hcap - 1);
		ht[j] = (uint32_t)i;
	}
	free(t->ht);
	t->ht = ht;
	t->hcap = hcap;
	return 0;
}

/* Do the bytes of key between its first and last 8 (beyond 16 bytes)
 * match those of s in t? Compared here: a call to memcmp would make
 * every lookup save registers. */
static inline bool
middle_same(const struct ls__streams *t, const struct ls__stream *s,
    const char *key, size_t klen)
{
	for (size_t i = 8; i + 8 < klen; i += 8)
		if (load64(ls__streams_key(t, s) + i) != load64(key + i))
			return false;
	return true;
}

/* Is s of t the stream (key, shard) of words w? */
static bool
same(const struct ls__streams *t, const struct ls__stream *s,
    const uint64_t w[2], const char *key, size_t klen, uint64_t shard)
{
	return s->w[0] == w[0] && s->w[1] == w[1] && s->shard == shard &&
	    s->klen == klen && middle_same(t, s, key, klen);
}

/* Slot of ht where (key, shard) is or would go; inline in lookup, where
 * a call cost 15 instructions of 120 (callgrind, 8 keys in random
 * order). */
static inline __attribute__((always_inline)) size_t
slot(const struct ls__streams *t, uint32_t h, const uint64_t w[2],
    const char *key, size_t klen, uint64_t shard)
{
	size_t j = h & (t->hcap - 1);

	while (t->ht[j] != UINT32_MAX &&
	    !same(t, &t->v[t->ht[j]], w, key, klen, shard))
		j = (j + 1) & (t->hcap - 1);
	return j;
}

/* Room for stream t->n: the streams (on cache lines) and their order
 * grown together. */
static int
grow(struct ls__streams *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	struct ls__stream *v;
	uint32_t *order;

	if (cap > UINT32_MAX / 4 ||
	    (v = aligned_alloc(64, cap * sizeof(*v))) == NULL)
		return -1;
	if (t->n > 0)
		memcpy(v, t->v, t->n * sizeof(*v));
	free(t->v);
	t->v = v;
	if ((order = reallocarray(t->order, cap, sizeof(*order))) == NULL)
		return -1;
	t->order = order;
	if ((order = reallocarray(t->spare, cap, sizeof(*order))) == NULL)
		return -1;
	t->spare = order;
	t->cap = cap;
	return 0;
}

/* Adds (key, shard), of hash h, which is not in t, as stream t->n. */
static int
add(struct ls__streams *t, uint32_t h, const uint64_t w[2], const char *key,
    size_t klen, uint64_t shard)
{
	struct ls__stream *s;

	if (t->hcap == 0 && rehash(t, 64) != 0)
		return -1;
	if (t->n == t->cap && grow(t) != 0)
		return -1;
	if (klen > LS_KEY_MAX || t->keys_len + klen + 1 > UINT32_MAX ||
	    ls__grow(&t->keys, &t->keys_cap, t->keys_len + klen + 1) != 0)
		return -1;
	s = &t->v[t->n];
	s->koff = (uint32_t)t->keys_len;
	memcpy(t->keys + t->keys_len, key, klen);
	t->keys[t->keys_len + klen] = '\0';
	t->keys_len += klen + 1;
	s->klen = (uint8_t)klen;
	s->hash = h;
	s->shard = shard;
	s->w[0] = w[0];
	s->w[1] = w[1];
	s->next = s->after = UINT32_MAX;
	s->seq = 0;
	s->ts = 0;
	s->crc = LS_CRC_INIT;
	s->fresh = true;
	s->unknown = false;
	s->spent = false;
	t->ht[slot(t, h, w, key, klen, shard)] = (uint32_t)t->n++;
	if (t->n * 2 > t->hcap && rehash(t, t->hcap * 2) != 0)
		return -1;
	return 0;
}

/* ls__streams_find through ht. */
static __attribute__((noinline)) int
lookup(struct ls__streams *t, const char *key, size_t klen, uint64_t shard,
    bool insert, size_t *idx)
{
	uint64_t w[2];
	uint32_t h;
	size_t i = t->n;

	key_words(key, klen, w);
	h = hash(w, key, klen, shard);
	if (t->hcap != 0) {
		size_t j = slot(t, h, w, key, klen, shard);
		i = t->ht[j] != UINT32_MAX ? t->ht[j] : t->n;
	}
	if (i == t->n) {
		if (!insert)
			return 0;
		if (add(t, h, w, key, klen, shard) != 0)
			return -1;
	}
	if (t->last < t->n) {
		struct ls__stream *l = &t->v[t->last];
		l->next = l->after == i ? (uint32_t)i : UINT32_MAX;
		l->after = (uint32_t)i;
	}
	*idx = t->last = i;
	return 1;
}

/* Is s of t the stream (key, shard)? For the guess of ls__streams_find,
 * which has no words of key to compare: the key read as key_words() does,
 * a word at a time (through key_words and same, the guess of relay -o .ss
 * took 29 instructions more a lookup). */
static bool
same_key(const struct ls__streams *t, const struct ls__stream *s,
    const char *key, size_t klen, uint64_t shard)
{
	const unsigned char *u = (const unsigned char *)key;

	if (s->klen != klen || s->shard != shard)
		return false;
	if (klen < 4)	/* bytes 0, klen / 2 and klen - 1 are all of them */
		return s->w[0] == (klen == 0 ? 0 : (u[0] |
		    (uint64_t)u[klen / 2] << 8 | (uint64_t)u[klen - 1] << 16));
	if (klen < 8)
		return s->w[0] == (load32(key) |
		    (uint64_t)load32(key + klen - 4) << 32);
	return load64(key) == s->w[0] && load64(key + klen - 8) == s->w[1] &&
	    middle_same(t, s, key, klen);
}

/*
 * First the stream that followed the one found last, the last two times
 * (next): a guess right for one key and for keys in turn, which then cost
 * no hash (callgrind of relay -o .ss, 8 keys in turn: a lookup through ht
 * took 100 instructions); keys in random order are seldom guessed. The
 * rest is a tail call, so that the guess saves no registers.
 */
int
ls__streams_find(struct ls__streams *t, const char *key, size_t klen,
    uint64_t shard, bool insert, size_t *idx)
{
	size_t p;

	if (t->last >= t->n)
		return lookup(t, key, klen, shard, insert, idx);
	p = t->v[t->last].next;
	if (p < t->n && same_key(t, &t->v[p], key, klen, shard)) {
		*idx = t->last = p;
		return 1;
	}
	return lookup(t, key, klen, shard, insert, idx);
}

void
ls__streams_update(struct ls__streams *t, size_t idx, uint64_t seq,
    uint64_t ts, uint16_t msg_crc)
{
	struct ls__stream *s = &t->v[idx];

	if (s->fresh || seq > s->seq)
		s->seq = seq;
	if (s->fresh || ts > s->ts)
		s->ts = ts;
	s->fresh = false;
	s->crc = ls__crc16_word(s->crc, msg_crc);
}

/* The table qsort is sorting in this thread (C11's qsort takes no
 * context): one a thread, as writers in two threads sort their own
 * tables at the same time. */
static _Thread_local struct ls__streams *sort_table;

/* Of streams x and y, -1 if x goes first by (key bytes, shard). */
static int
cmp_streams(const struct ls__streams *t, const struct ls__stream *x,
    const struct ls__stream *y)
{
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(ls__streams_key(t, x), ls__streams_key(t, y), n);

	if (c != 0)
		return c;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return 0;
}

static int
cmp_stream(const void *a, const void *b)
{
	return cmp_streams(sort_table, &sort_table->v[*(const uint32_t *)a],
	    &sort_table->v[*(const uint32_t *)b]);
}

/* Merges order[0..k) and order[k..n), each sorted, through spare. */
static void
merge(struct ls__streams *t, size_t k)
{
	uint32_t *a = t->order, *o = t->spare;
	size_t i = 0, j = k, m = 0;

	while (i < k && j < t->n)
		o[m++] = cmp_streams(t, &t->v[a[j]], &t->v[a[i]]) < 0 ?
		    a[j++] : a[i++];
	while (i < k)
		o[m++] = a[i++];
	while (j < t->n)
		o[m++] = a[j++];
	t->spare = a;
	t->order = o;
}

/*
 * Only the streams added since the last call are sorted, then merged in:
 * with many streams still coming, beacons a few items long sorted them
 * all each time (relay -o .ss --beacon-interval 1000 of 10,000 keys in
 * random order: 2.6 s for 100k messages).
 */
const uint32_t *
ls__streams_sorted(struct ls__streams *t)
{
	size_t k = t->nsorted;

	if (k < t->n) {
		for (size_t i = k; i < t->n; i++)
			t->order[i] = (uint32_t)i;
		sort_table = t;
		qsort(t->order + k, t->n - k, sizeof(*t->order), cmp_stream);
		sort_table = NULL;
		if (k > 0)
			merge(t, k);
		t->nsorted = t->n;
	}
	return t->order;
}
