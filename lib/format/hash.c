/* Hashing for partition and batch: jump consistent hash, rendezvous
 * hashing over names, a 64-bit byte hash to feed them, and Kafka's
 * murmur2 partitioner. */
#include "ls-internal.h"

LS_API uint32_t
ls_hash_jump(uint64_t key, uint32_t buckets)
{
	/* Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash
	 * Algorithm" (2014), figure 1. j stays below 2^63: (b + 1) is at
	 * most 2^32 - 1 and the quotient at most 2^31. */
	int64_t b = -1, j = 0;

	if (buckets == 0)
		buckets = 1;
	while (j < (int64_t)buckets) {
		b = j;
		key = key * 2862933555777941757ull + 1;
		j = (int64_t)((double)(b + 1) *
		    ((double)(1ll << 31) / (double)((key >> 33) + 1)));
	}
	return (uint32_t)b;
}

LS_API uint64_t
ls_hash64(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a 64 offset basis */

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;		/* FNV-1a 64 prime */
	}
	/* splitmix64 finaliser */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

LS_API int32_t
ls_hash_murmur2(const void *p, size_t n)
{
	/* org.apache.kafka.common.utils.Utils.murmur2, in uint32_t
	 * arithmetic (Java's int wraps the same way; >>> is a logical
	 * shift). */
	const unsigned char *s = p;
	const uint32_t m = 0x5bd1e995u;
	const int r = 24;
	uint32_t h = 0x9747b28cu ^ (uint32_t)n;
	size_t n4 = n / 4;

	for (size_t i = 0; i < n4; i++) {
		const unsigned char *b = s + 4 * i;
		uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
		    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	/* the last n % 4 bytes, as Java's switch falling through */
	s += 4 * n4;
	if (n % 4 >= 3)
		h ^= (uint32_t)s[2] << 16;
	if (n % 4 >= 2)
		h ^= (uint32_t)s[1] << 8;
	if (n % 4 >= 1) {
		h ^= (uint32_t)s[0];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	/* as Java's int, without an implementation-defined conversion */
	if (h <= (uint32_t)INT32_MAX)
		return (int32_t)h;
	return (int32_t)(h - 0x80000000u) - INT32_MAX - 1;
}

LS_API uint32_t
ls_partition_kafka(const void *key, size_t n, uint32_t partitions)
{
	uint32_t h = (uint32_t)ls_hash_murmur2(key, n) & 0x7fffffffu;

	return partitions ? h % partitions : 0;
}

LS_API uint64_t
ls_hash_weight(uint64_t key_hash, uint64_t name_hash)
{
	uint64_t h = key_hash ^ name_hash;

	/* splitmix64 finaliser, as in ls_hash64 */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

LS_API size_t
ls_hash_rendezvous(uint64_t key_hash, const uint64_t *names, size_t n)
{
	size_t best = SIZE_MAX;
	uint64_t top = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t w = ls_hash_weight(key_hash, names[i]);
		if (best == SIZE_MAX || w > top) {
			best = i;
			top = w;
		}
	}
	return best;
}
