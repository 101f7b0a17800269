/* The per-(key, shard) table that beacons summarise: highest sequence,
 * highest timestamp and running checksum of each stream. */
#include <errno.h>
#include <stdlib.h>

#include "ls-internal.h"
#include "streams-internal.h"

static uint32_t
hash(const char *key, size_t klen, uint64_t shard)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < klen; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	h = (h ^ (uint32_t)shard) * 16777619u;
	h = (h ^ (uint32_t)(shard >> 32)) * 16777619u;
	return h;
}

void
ls__streams_clear(struct ls__streams *t)
{
	t->n = 0;
	t->last = SIZE_MAX;
	t->sorted = false;
	if (t->ht != NULL)
		memset(t->ht, 0xff, t->hcap * sizeof(*t->ht));
}

void
ls__streams_free(struct ls__streams *t)
{
	free(t->v);
	free(t->ht);
	free(t->order);
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
		struct ls__stream *s = &t->v[i];
		size_t j = s->hash & (hcap - 1);
		while (ht[j] != UINT32_MAX)
			j = (j + 1) & (hcap - 1);
		ht[j] = (uint32_t)i;
	}
	free(t->ht);
	t->ht = ht;
	t->hcap = hcap;
	return 0;
}

/* Is s the stream (key, shard) of hash h? The hash first: the keys
 * of most misses differ there, and short keys are compared byte by
 * byte rather than by a call (callgrind of relay -o .ss: two memcmp
 * calls a lookup were a third of its 200 instructions). */
static bool
same(const struct ls__stream *s, uint32_t h, const char *key, size_t klen,
    uint64_t shard)
{
	if (s->hash != h || s->shard != shard || s->klen != klen)
		return false;
	if (klen > 16)
		return memcmp(s->key, key, klen) == 0;
	for (size_t i = 0; i < klen; i++)
		if (s->key[i] != key[i])
			return false;
	return true;
}

int
ls__streams_find(struct ls__streams *t, const char *key, size_t klen,
    uint64_t shard, bool insert, size_t *idx)
{
	uint32_t h = hash(key, klen, shard);
	struct ls__stream *s;
	size_t j;

	if (t->last < t->n && same(&t->v[t->last], h, key, klen, shard)) {
		*idx = t->last;
		return 1;
	}
	if (t->hcap == 0 && rehash(t, 64) != 0)
		return -1;
	j = h & (t->hcap - 1);
	while (t->ht[j] != UINT32_MAX) {
		if (same(&t->v[t->ht[j]], h, key, klen, shard)) {
			*idx = t->last = t->ht[j];
			return 1;
		}
		j = (j + 1) & (t->hcap - 1);
	}
	if (!insert)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct ls__stream *v;
		uint32_t *order;
		if (cap > UINT32_MAX / 4 ||
		    (v = reallocarray(t->v, cap, sizeof(*v))) == NULL)
			return -1;
		t->v = v;
		if ((order = reallocarray(t->order, cap, sizeof(*order))) ==
		    NULL)
			return -1;
		t->order = order;
		t->cap = cap;
	}
	s = &t->v[t->n];
	memcpy(s->key, key, klen);
	s->key[klen] = '\0';
	s->klen = klen;
	s->shard = shard;
	s->hash = h;
	s->seq = 0;
	s->ts = 0;
	s->crc = LS_CRC_INIT;
	s->fresh = true;
	s->unknown = false;
	s->spent = false;
	t->ht[j] = (uint32_t)t->n;
	*idx = t->last = t->n++;
	t->sorted = false;
	if (t->n * 2 > t->hcap && rehash(t, t->hcap * 2) != 0)
		return -1;
	return 1;
}

void
ls__streams_update(struct ls__streams *t, size_t idx, uint64_t seq,
    uint64_t ts, uint16_t msg_crc)
{
	struct ls__stream *s = &t->v[idx];
	unsigned char be[2];

	if (s->fresh || seq > s->seq)
		s->seq = seq;
	if (s->fresh || ts > s->ts)
		s->ts = ts;
	s->fresh = false;
	ls__put16(be, msg_crc);
	s->crc = ls_crc16(s->crc, be, 2);
}

static struct ls__streams *sort_table;

static int
cmp_stream(const void *a, const void *b)
{
	const struct ls__stream *x = &sort_table->v[*(const uint32_t *)a];
	const struct ls__stream *y = &sort_table->v[*(const uint32_t *)b];
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return 0;
}

const uint32_t *
ls__streams_sorted(struct ls__streams *t)
{
	if (!t->sorted) {
		for (size_t i = 0; i < t->n; i++)
			t->order[i] = (uint32_t)i;
		/* qsort has no context argument in C11; beacons are rare and
		 * a table is only ever sorted by its single owner thread */
		sort_table = t;
		qsort(t->order, t->n, sizeof(*t->order), cmp_stream);
		sort_table = NULL;
		t->sorted = true;
	}
	return t->order;
}
