/* Stream table shared by the .ss writer and the verifying reader. */
#ifndef LS_STREAMS_INTERNAL_H
#define LS_STREAMS_INTERNAL_H

#include "libstream.h"

/*
 * One cache line a stream: the key's bytes are kept apart, in the table's
 * keys (its first and last 8 bytes, which a lookup compares, are in w).
 * With the key inline (LS_KEY_MAX bytes) a stream took 320 bytes: 10,000
 * keys made 3.2 MB of table, a cache miss or two a message, and 200,000
 * keys 64 MB (partition) and 128 MB (relay -o .ss, two tables).
 */
struct ls__stream {
	uint64_t shard;
	uint64_t seq;		/* highest sequence */
	uint64_t ts;		/* highest timestamp */
	uint64_t w[2];		/* the key's first and last 8 bytes */
	uint32_t after;		/* the stream found after it last time */
	uint32_t next;		/* the same, if so the time before too */
	uint32_t koff;		/* its key: keys[koff..koff + klen), a NUL */
	uint32_t hash;		/* of (key, shard): a rehash reads it */
	uint16_t crc;		/* running checksum */
	uint8_t klen;		/* at most LS_KEY_MAX */
	bool fresh;		/* no message counted yet */
	bool unknown;		/* verifier: state not known (after a skip) */
	bool spent;		/* line sources: seq is past 2^64 - 1 */
};

struct ls__streams {
	struct ls__stream *v;	/* aligned to a cache line */
	size_t n, cap;
	unsigned char *keys;	/* every stream's key and a NUL, in turn */
	size_t keys_len, keys_cap;
	uint32_t *ht;		/* open addressing, UINT32_MAX is empty */
	size_t hcap;
	uint32_t *order;	/* indices sorted by (key, shard) */
	size_t nsorted;		/* how many of them */
	uint32_t *spare;	/* room for a merge into order */
	size_t last;		/* index found last, whose next is a guess */
};

/* The key of stream s of t, NUL-terminated; it moves when a stream is
 * added. */
static inline const char *
ls__streams_key(const struct ls__streams *t, const struct ls__stream *s)
{
	return (const char *)t->keys + s->koff;
}

/* Finds (key, shard), key not in t's own keys; inserts it when asked.
 * Returns 1 found or inserted (*idx set), 0 not found, -1 out of memory. */
int ls__streams_find(struct ls__streams *t, const char *key, size_t klen,
    uint64_t shard, bool insert, size_t *idx);
/* Counts a message of stream idx. */
void ls__streams_update(struct ls__streams *t, size_t idx, uint64_t seq,
    uint64_t ts, uint16_t msg_crc);
/* The streams ordered by (key bytes, shard). */
const uint32_t *ls__streams_sorted(struct ls__streams *t);
void ls__streams_clear(struct ls__streams *t);
void ls__streams_free(struct ls__streams *t);

#endif
