/*
 * Unit tests of the hashing helpers: jump consistent hash, ls_hash64,
 * Kafka's murmur2 and partitioner, and ls_json_field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test-util.h"

#include "libstream.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* --- helpers ------------------------------------------------------------- */

/* A heap copy of p[0..n) of exactly n bytes, so that ASan sees a read past
 * the end. */
static unsigned char *
dup_exact(const void *p, size_t n)
{
	unsigned char *d = malloc(n ? n : 1);

	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* --- Kafka murmur2 ------------------------------------------------------- */

static const struct {
	const char *s;
	size_t n;
	int32_t h;
} murmur[] = {
	/* Apache Kafka, clients/src/test/java/org/apache/kafka/common/
	 * utils/UtilsTest.java, testMurmur2 (read at apache/kafka
	 * f55581dc73953c3509a4702433aeeeddc2970779) */
	{ "21", 2, -973932308 },
	{ "foobar", 6, -790332482 },
	{ "a-little-bit-long-string", 24, -985981536 },
	{ "a-little-bit-longer-string", 26, -1486304829 },
	{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48, -58897971 },
	{ "abc", 3, 479470107 },
	/* computed with an independent Python implementation of Kafka's
	 * Utils.murmur2 (which reproduces the six values above): every tail
	 * length, and bytes >= 0x80 (Java's signed bytes, masked) */
	{ "", 0, 275646681 },
	{ "a", 1, -1563381124 },
	{ "ab", 2, 316155434 },
	{ "abcd", 4, -1323649548 },
	{ "\xff\x80\x7f\x00\xfe", 5, -1958495739 },
	{ "\x80\x81\x82\x83\xc0\xd0\xe0", 7, 163503472 },
};

static void
test_murmur2(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(murmur); i++) {
		unsigned char *p = dup_exact(murmur[i].s, murmur[i].n);
		assert_int_equal(ls_hash_murmur2(p, murmur[i].n), murmur[i].h);
		free(p);
	}
}

static void
test_partition_kafka(void **state)
{
	static const struct {
		const char *s;
		uint32_t parts, want;
	} cases[] = {
		/* (murmur2 & 0x7fffffff) % parts of the values above */
		{ "21", 7, 3 }, { "21", 12, 0 }, { "21", 50, 40 },
		{ "foobar", 12, 6 }, { "foobar", 50, 16 },
		{ "a-little-bit-long-string", 3, 2 },
		{ "a-little-bit-long-string", 12, 8 },
		{ "a-little-bit-longer-string", 12, 11 },
		{ "a-little-bit-longer-string", 50, 19 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 7, 3 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 50, 27 },
		{ "abc", 7, 4 }, { "abc", 12, 3 },
		{ "", 12, 9 }, { "a", 50, 24 },
		{ "foobar", 1, 0 },
		{ "foobar", 0, 0 },	/* documented: 0 partitions gives 0 */
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++)
		assert_int_equal(ls_partition_kafka(cases[i].s,
		    strlen(cases[i].s), cases[i].parts), cases[i].want);
	/* the sign bit is masked, not Math.abs'd: "21" is negative */
	assert_true(ls_hash_murmur2("21", 2) < 0);
	assert_int_equal(ls_partition_kafka("21", 2, 0x7fffffffu),
	    (uint32_t)(-973932308 & 0x7fffffff));
	rng_state = 7;
	for (int i = 0; i < 10000; i++) {
		unsigned char key[16];
		size_t n = (size_t)rng_below(sizeof(key) + 1);
		uint32_t parts = (uint32_t)rng_below(1000) + 1;
		for (size_t j = 0; j < n; j++)
			key[j] = (unsigned char)rng();
		uint32_t part = ls_partition_kafka(key, n, parts);
		assert_true(part < parts);
		assert_int_equal(part, ((uint32_t)ls_hash_murmur2(key, n) &
		    0x7fffffffu) % parts);
	}
}

/* --- jump consistent hash ------------------------------------------------ */

static void
test_jump_known(void **state)
{
	static const struct {
		uint64_t key;
		uint32_t buckets, want;
	} cases[] = {
		/* computed with an independent Python implementation of the
		 * paper's code (LCG 2862933555777941757, double arithmetic);
		 * (1,10), (1,100), (2,100), (0xdeadbeef,1000),
		 * (10863919174838991,11) and (2016238256797177309,11) also
		 * agree with test tables of other published implementations */
		{ 0, 1, 0 },
		{ 0, 10, 0 },
		{ 1, 1, 0 },
		{ 1, 10, 6 },
		{ 1, 100, 55 },
		{ 2, 100, 62 },
		{ 9, 2, 0 },
		{ 42, 100, 43 },
		{ 256, 128, 16 },
		{ 0xdeadbeefull, 7, 5 },
		{ 0xdeadbeefull, 1000, 285 },
		{ 10863919174838991ull, 11, 6 },
		{ 2016238256797177309ull, 11, 3 },
		{ 12345678901234567890ull, 1000, 294 },
		{ 1, 0x80000000u, 262355607 },
		{ UINT64_MAX, UINT32_MAX, 2680453518u },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++)
		assert_int_equal(ls_hash_jump(cases[i].key, cases[i].buckets),
		    cases[i].want);
	/* documented: 0 buckets is taken as 1 */
	assert_int_equal(ls_hash_jump(12345, 0), 0);
}

static void
test_jump_properties(void **state)
{
	size_t moved = 0, keys = 100000;
	uint32_t count[11] = { 0 };

	(void)state;
	rng_state = 42;
	/* in range, and monotone: n -> n + 1 buckets stays or moves to n */
	for (int i = 0; i < 200; i++) {
		uint64_t key = rng();
		uint32_t prev = ls_hash_jump(key, 1);
		assert_int_equal(prev, 0);
		for (uint32_t n = 1; n < 300; n++) {
			uint32_t b = ls_hash_jump(key, n + 1);
			assert_true(b < n + 1);
			assert_true(b == prev || b == n);
			prev = b;
		}
		uint32_t big = (uint32_t)rng() | 1u;
		assert_true(ls_hash_jump(key, big) < big);
	}
	/* about 1/11 of the keys move from 10 to 11 buckets, all to 10, and
	 * the 11 buckets are about even */
	for (size_t i = 0; i < keys; i++) {
		uint64_t key = rng();
		uint32_t a = ls_hash_jump(key, 10), b = ls_hash_jump(key, 11);
		if (a != b) {
			assert_int_equal(b, 10);
			moved++;
		}
		count[b]++;
	}
	assert_true(moved >= keys * 7 / 100 && moved <= keys * 11 / 100);
	for (int i = 0; i < 11; i++)
		assert_true(count[i] > keys / 11 * 9 / 10 &&
		    count[i] < keys / 11 * 11 / 10);
}

/* --- ls_hash64 ----------------------------------------------------------- */

static void
test_hash64(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		uint64_t h;
	} cases[] = {
		/* FNV-1a 64 then the splitmix64 finaliser; the values this
		 * implementation gives, checked against an independent Python
		 * implementation of the same definition. They must never
		 * change: partitions depend on them. */
		{ "", 0, 0xf52a15e9a9b5e89bull },
		{ "a", 1, 0x02c0bdbf481420f8ull },
		{ "b", 1, 0x3e35b21bfb9b6405ull },
		{ "abc", 3, 0x0dd490490804b508ull },
		{ "foobar", 6, 0x404da9e3b74078c2ull },
		{ "partition-key-1", 15, 0xc34caba17c019861ull },
		{ "\xff\x00", 2, 0x061c3e3f101d43ddull },
	};
	uint64_t *all;
	size_t k = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		unsigned char *p = dup_exact(cases[i].s, cases[i].n);
		assert_int_equal(ls_hash64(p, cases[i].n), cases[i].h);
		free(p);
	}
	/* every string of 0, 1 and 2 bytes hashes differently */
	all = malloc((1 + 256 + 65536) * sizeof(*all));
	assert_non_null(all);
	all[k++] = ls_hash64("", 0);
	for (unsigned a = 0; a < 256; a++) {
		unsigned char s[2] = { (unsigned char)a, 0 };
		all[k++] = ls_hash64(s, 1);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			all[k++] = ls_hash64(s, 2);
		}
	}
	qsort(all, k, sizeof(*all), cmp_u64);
	for (size_t i = 1; i < k; i++)
		assert_true(all[i - 1] != all[i]);
	free(all);
}

/* --- rendezvous hashing -------------------------------------------------- */

#define RV_KEYS 10000

/* The target, by name, of each of the RV_KEYS keys "key-<i>" among the
 * names[0..n). */
static void
rv_assign(const char *const *names, size_t n, const char **out)
{
	uint64_t h[16];
	char key[32];

	assert_true(n <= NELEM(h));
	for (size_t i = 0; i < n; i++)
		h[i] = ls_hash64(names[i], strlen(names[i]));
	for (size_t k = 0; k < RV_KEYS; k++) {
		int len = snprintf(key, sizeof(key), "key-%zu", k);
		size_t t = ls_hash_rendezvous(ls_hash64(key, (size_t)len), h,
		    n);
		assert_true(t < n);
		out[k] = names[t];
	}
}

/* Keys whose target differs between a and b; each move must be to or
 * from the name that changed (changed), none between two that stayed. */
static size_t
rv_moves(const char **a, const char **b, const char *changed)
{
	size_t moved = 0;

	for (size_t k = 0; k < RV_KEYS; k++) {
		if (strcmp(a[k], b[k]) == 0)
			continue;
		moved++;
		assert_true(strcmp(a[k], changed) == 0 ||
		    strcmp(b[k], changed) == 0);
	}
	return moved;
}

static void
test_rendezvous_known(void **state)
{
	static const char *const names[] = { "alpha", "beta", "gamma" };
	/* from an independent Python implementation: splitmix64 finaliser
	 * of key ^ name, the ls_hash64 of each, the highest weight */
	static const struct {
		const char *key;
		size_t want;
	} cases[] = {
		{ "user-1", 0 }, { "user-2", 1 }, { "user-3", 1 }, { "", 1 },
		{ "k", 0 },
	};
	uint64_t h[3];

	(void)state;
	assert_int_equal(ls_hash_weight(0x0123456789abcdefull,
	    0xfedcba9876543210ull), 0xb4d055fcf2cbbd7bull);
	for (size_t i = 0; i < 3; i++)
		h[i] = ls_hash64(names[i], strlen(names[i]));
	for (size_t i = 0; i < NELEM(cases); i++)
		assert_int_equal(ls_hash_rendezvous(ls_hash64(cases[i].key,
		    strlen(cases[i].key)), h, 3), cases[i].want);
	assert_int_equal(ls_hash_rendezvous(1, h, 0), SIZE_MAX);
	assert_int_equal(ls_hash_rendezvous(1, h, 1), 0);
}

/* Adding or removing one of N targets moves about 1/N of 10,000 keys
 * (within 20% of it), all to or from that target; the order of the
 * names does not matter; the keys spread evenly. */
static void
test_rendezvous_moves(void **state)
{
	static const char *const five[] = { "n0", "n1", "n2", "n3", "n4" };
	static const char *const six[] = { "n0", "n1", "n2", "n3", "n4",
	    "node-new" };
	static const char *const four[] = { "n0", "n1", "n3", "n4" };
	static const char *const shuffled[] = { "n3", "n0", "n4", "n2",
	    "n1" };
	const char **a = calloc(RV_KEYS, sizeof(*a));
	const char **b = calloc(RV_KEYS, sizeof(*b));
	size_t moved;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	rv_assign(five, 5, a);
	for (size_t i = 0; i < 5; i++) {
		size_t c = 0;
		for (size_t k = 0; k < RV_KEYS; k++)
			c += a[k] == five[i];
		assert_true(c > RV_KEYS / 5 * 8 / 10 &&
		    c < RV_KEYS / 5 * 12 / 10);
	}
	rv_assign(six, 6, b);		/* one joins: ideal 1/6 */
	moved = rv_moves(a, b, "node-new");
	assert_true(moved > RV_KEYS / 6 * 8 / 10 &&
	    moved < RV_KEYS / 6 * 12 / 10);
	rv_assign(four, 4, b);		/* n2 leaves: ideal 1/5 */
	moved = rv_moves(a, b, "n2");
	assert_true(moved > RV_KEYS / 5 * 8 / 10 &&
	    moved < RV_KEYS / 5 * 12 / 10);
	rv_assign(shuffled, 5, b);	/* order: nothing moves */
	assert_int_equal(rv_moves(a, b, ""), 0);
	free(a);
	free(b);
}

/* --- ls_json_field ------------------------------------------------------- */

static const struct {
	const char *json;
	const char *name;
	int rc;
	const char *val;	/* expected value when found */
} fields[] = {
	{ "{\"a\":1,\"b\":\"x\"}", "a", LS_OK, "1" },
	{ "{\"a\":1,\"b\":\"x\"}", "b", LS_OK, "x" },
	{ "{\"a\":1,\"b\":\"x\"}", "c", LS_END, NULL },
	{ "{\"a\":1,\"b\":\"x\"}", "", LS_END, NULL },
	{ "{\"\":5}", "", LS_OK, "5" },
	{ "{\"k\":\"\"}", "k", LS_OK, "" },
	{ "{\"k\":-1.5e+3}", "k", LS_OK, "-1.5e+3" },
	{ "{\"k\":true}", "k", LS_OK, "true" },
	{ "{\"k\":false}", "k", LS_OK, "false" },
	{ "{\"k\":null}", "k", LS_OK, "null" },
	{ "{\"k\":{\"b\":[1,{\"c\":2}]}}", "k", LS_OK,
	    "{\"b\":[1,{\"c\":2}]}" },
	{ "{\"k\":[1, 2 ,3]}", "k", LS_OK, "[1, 2 ,3]" },
	{ "{\"k\":{}}", "k", LS_OK, "{}" },
	{ "{\"k\":[]}", "k", LS_OK, "[]" },
	/* nested members of the same name are not matched */
	{ "{\"a\":{\"b\":2},\"b\":3}", "b", LS_OK, "3" },
	{ "{\"a\":{\"b\":2}}", "b", LS_END, NULL },
	{ "{\"a\":[{\"b\":2}],\"c\":{\"d\":{\"b\":1}}}", "b", LS_END, NULL },
	{ "{\"a\":\"\\\"b\\\":1\"}", "b", LS_END, NULL },
	/* a string value is returned still escaped */
	{ "{\"s\":\"he said \\\"hi\\\"\",\"t\":1}", "s", LS_OK,
	    "he said \\\"hi\\\"" },
	{ "{\"s\":\"a\\\\\",\"t\":2}", "s", LS_OK, "a\\\\" },
	{ "{\"s\":\"a\\\\\",\"t\":2}", "t", LS_OK, "2" },
	{ "{\"x\":\"}\\\"{,]\",\"k\":true}", "k", LS_OK, "true" },
	{ "{\"x\":[\"]\",\"}\"],\"k\":[\"[\"]}", "k", LS_OK, "[\"[\"]" },
	{ "{\"s\":\"\\u00e9\\n\"}", "s", LS_OK, "\\u00e9\\n" },
	/* white space */
	{ " \t\r\n{ \"k\" :\n 7 , \"z\" : null } \n", "k", LS_OK, "7" },
	{ " \t\r\n{ \"k\" :\n 7 , \"z\" : null } \n", "z", LS_OK, "null" },
	{ "{\"k\":1 }", "k", LS_OK, "1" },
	{ "{\"k\" : \"v\" }", "k", LS_OK, "v" },
	/* duplicates: the first wins */
	{ "{\"k\":1,\"k\":2}", "k", LS_OK, "1" },
	/* keys compared after unescaping, and exactly */
	{ "{\"\\u006b\":7}", "k", LS_OK, "7" },
	{ "{\"\\u006B\\u006b\":8}", "kk", LS_OK, "8" },
	{ "{\"a\\\"b\":1}", "a\"b", LS_OK, "1" },
	{ "{\"a\\\\b\":1}", "a\\b", LS_OK, "1" },
	{ "{\"a\\/b\\tc\":1}", "a/b\tc", LS_OK, "1" },
	{ "{\"\\u00e9t\\u00E9\":2}", "\xc3\xa9t\xc3\xa9", LS_OK, "2" },
	{ "{\"\xc3\xa9t\xc3\xa9\":2}", "\xc3\xa9t\xc3\xa9", LS_OK, "2" },
	{ "{\"\\u20ac\":3}", "\xe2\x82\xac", LS_OK, "3" },
	{ "{\"\\ud83d\\ude00\":4}", "\xf0\x9f\x98\x80", LS_OK, "4" },
	{ "{\"\\ud83d\":4}", "\xed\xa0\xbd", LS_END, NULL },
	{ "{\"k\\u0000\":1}", "k", LS_END, NULL },
	{ "{\"a\\\"b\":1}", "a\\\"b", LS_END, NULL },
	{ "{\"kk\":1}", "k", LS_END, NULL },
	{ "{\"k\":1}", "kk", LS_END, NULL },
	{ "{\"K\":1}", "k", LS_END, NULL },
	/* names compared by length first: an escape makes a key longer */
	{ "{\"k\\u0041\":1}", "kA", LS_OK, "1" },
	{ "{\"k\\\\\":2}", "k\\", LS_OK, "2" },
	{ "{\"\\n\":1,\"ab\":2}", "ab", LS_OK, "2" },
	{ "{\"a\\\\\":1}", "a\\\\", LS_END, NULL },
	/* long strings (sixteen bytes a look), bytes above 0x7F in them */
	{ "{\"s\":\"0123456789abcdef0123456789abcdef\xe2\x82\xac\","
	    "\"k\":1}", "k", LS_OK, "1" },
	{ "{\"s\":\"0123456789abcdef0123456789abcdef\xc3\x28\","
	    "\"k\":1}", "k", LS_END, NULL },
	{ "{\"s\":\"0123456789abcdef0123456789abcd\x80\",\"k\":1}", "k",
	    LS_END, NULL },
	{ "{\"s\":\"0123456789abcdef\\u00e9\\\"0123456789abcdef\","
	    "\"k\":\"0123456789abcdef0123456789\"}", "k", LS_OK,
	    "0123456789abcdef0123456789" },
	{ "{\"s\":\"0123456789abcdef0123\x01\",\"k\":1}", "k", LS_END,
	    NULL },
	{ "{\"user_id_long_name_0123456789\":1,\"user_id\":2}", "user_id",
	    LS_OK, "2" },
	{ "{\"a\":{\"user_id\":1},\"user_id\":2,\"user_id\":3}", "user_id",
	    LS_OK, "2" },
	/* strings that end in the last sixteen bytes, quotes and escapes
	 * before them in the same sixteen */
	{ "{\"a\":\"\\\"\",\"k\":\"v\\\"w\"}", "k", LS_OK, "v\\\"w" },
	{ "{\"a\":\"\\\"\",\"k\":\"\\u00e9\"}", "k", LS_OK, "\\u00e9" },
	{ "{\"a\":\"\\\"\",\"k\":\"\x01\"}", "k", LS_END, NULL },
	{ "{\"k\":\"0123456789abcde\"}", "k", LS_OK, "0123456789abcde" },
	{ "{\"k\":\"0123456789abcdef\"}", "k", LS_OK, "0123456789abcdef" },
	{ "{\"k\":\"0123456789abcdef\xe2\x82\xac\"}", "k", LS_OK,
	    "0123456789abcdef\xe2\x82\xac" },
	{ "{\"user_id\":\"u000\",\"n\":0,\"pad\":\"0123456789ABCDEFGHIJ"
	    "KLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01234\"}", "pad",
	    LS_OK, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
	    "wxyz01234" },
	/* names compared a word at a time: one byte off at either end */
	{ "{\"abce\":1,\"abcd\":2}", "abcd", LS_OK, "2" },
	{ "{\"xbcd\":1,\"abcd\":2}", "abcd", LS_OK, "2" },
	{ "{\"abcdefx\":1,\"abcdefg\":2}", "abcdefg", LS_OK, "2" },
	{ "{\"abcdefgi\":1,\"abcdefgh\":2}", "abcdefgh", LS_OK, "2" },
	{ "{\"abcdefghiX\":1,\"abcdefghij\":2}", "abcdefghij", LS_OK, "2" },
	{ "{\"xbcdefgh\":1,\"abcdefgh\":2}", "abcdefgh", LS_OK, "2" },
	{ "{\"abcdefghijklmnoq\":1,\"abcdefghijklmnop\":2}",
	    "abcdefghijklmnop", LS_OK, "2" },
	{ "{\"abcdefghijklmnopQ\":1,\"abcdefghijklmnopq\":2}",
	    "abcdefghijklmnopq", LS_OK, "2" },
	{ "{\"abcdefg\\u0068\":3}", "abcdefgh", LS_OK, "3" },
	{ "{\"a\\\\cd\":3}", "a\\\\cd", LS_END, NULL },
	/* numbers, long ones read sixteen digits a look */
	{ "{\"k\":12345678901234567890123,\"z\":1}", "k", LS_OK,
	    "12345678901234567890123" },
	{ "{\"k\":0.00000000000000000001e-99}", "k", LS_OK,
	    "0.00000000000000000001e-99" },
	{ "{\"k\":-0,\"z\":1}", "k", LS_OK, "-0" },
	{ "{\"k\":1.}", "k", LS_END, NULL },
	{ "{\"k\":1e}", "k", LS_END, NULL },
	{ "{\"k\":-}", "k", LS_END, NULL },
	{ "{\"k\":.5}", "k", LS_END, NULL },
	{ "{\"k\":1234567890123456x}", "k", LS_END, NULL },
	/* not an object */
	{ "[1,2]", "a", LS_END, NULL },
	{ "[{\"a\":1}]", "a", LS_END, NULL },
	{ "\"a\"", "a", LS_END, NULL },
	{ "1", "a", LS_END, NULL },
	{ "null", "a", LS_END, NULL },
	{ "{}", "a", LS_END, NULL },
	{ " { } ", "a", LS_END, NULL },
	/* empty */
	{ "", "a", LS_END, NULL },
	{ "   ", "a", LS_END, NULL },
	/* not valid JSON, even where the member comes first */
	{ "{\"a\":1,}", "a", LS_END, NULL },
	{ "{\"a\":1", "a", LS_END, NULL },
	{ "{\"a\":", "a", LS_END, NULL },
	{ "{\"a\"", "a", LS_END, NULL },
	{ "{\"a", "a", LS_END, NULL },
	{ "{", "a", LS_END, NULL },
	{ "{\"a\" 1}", "a", LS_END, NULL },
	{ "{a:1}", "a", LS_END, NULL },
	{ "{'a':1}", "a", LS_END, NULL },
	{ "{\"a\":1}}", "a", LS_END, NULL },
	{ "{\"a\":1} x", "a", LS_END, NULL },
	{ "{\"a\":1}{\"a\":2}", "a", LS_END, NULL },
	{ "{\"a\":01}", "a", LS_END, NULL },
	{ "{\"a\":tru}", "a", LS_END, NULL },
	{ "{\"a\":\"x}", "a", LS_END, NULL },
	{ "{\"a\":\"\\x\"}", "a", LS_END, NULL },
	{ "{\"a\":\"\\u12\"}", "a", LS_END, NULL },
	{ "{\"a\":1,\"b\":[}", "a", LS_END, NULL },
	{ "{\"a\":\"\xff\"}", "a", LS_END, NULL },
	{ "{\"a\":\"\t\"}", "a", LS_END, NULL },
};

static void
test_json_field(void **state)
{
	static const unsigned char sentinel[1];

	(void)state;
	for (size_t i = 0; i < NELEM(fields); i++) {
		size_t n = strlen(fields[i].json), len = 12345;
		unsigned char *p = dup_exact(fields[i].json, n);
		const unsigned char *val = sentinel;
		int rc = ls_json_field(p, n, fields[i].name, &val, &len);

		if (rc != fields[i].rc)
			fail_msg("case %zu: %s [%s]: rc %d", i, fields[i].json,
			    fields[i].name, rc);
		if (rc == LS_OK) {
			assert_true(val >= p && val + len <= p + n);
			assert_int_equal(len, strlen(fields[i].val));
			assert_memory_equal(val, fields[i].val, len);
		} else {
			/* untouched when not found */
			assert_ptr_equal(val, sentinel);
			assert_int_equal(len, 12345);
		}
		free(p);
	}
}

static const char *const objects[] = {
	"{\"a\":1,\"b\":\"x\\\"y\",\"c\":{\"a\":[1,2,{\"b\":null}]},"
	    "\"d\":-0.5e-3,\"e\":true}",
	"  {  \"key\" : \"value with } and ] and \\\\\" , \"n\" : [ ] }  \n",
	"{\"\\u0061\":{},\"b\":[\"]\",\"}\",\"\\\"\"],\"c\":false,"
	    "\"\\ud83d\\ude00\":0}",
};
static const char *const names[] = { "a", "b", "c", "d", "e", "key", "n",
	"x", "", "\xf0\x9f\x98\x80" };

/* Checks one call on p[0..n) (an exact heap copy): a found value lies in
 * the input, and the input was a valid JSON object. */
static int
field_checked(const unsigned char *p, size_t n, const char *name)
{
	const unsigned char *val = NULL;
	size_t len = 0;
	int rc = ls_json_field(p, n, name, &val, &len);

	assert_true(rc == LS_OK || rc == LS_END);
	if (rc == LS_OK) {
		assert_non_null(val);
		assert_true(val >= p && len <= n &&
		    (size_t)(val - p) <= n - len);
		assert_true(ls_json_valid(p, n));
	}
	return rc;
}

static void
test_json_field_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(objects); i++) {
		size_t n = strlen(objects[i]);
		size_t close = (size_t)(strrchr(objects[i], '}') - objects[i]);
		int found = 0;

		for (size_t k = 0; k <= n; k++) {
			unsigned char *p = dup_exact(objects[i], k);
			for (size_t j = 0; j < NELEM(names); j++) {
				int rc = field_checked(p, k, names[j]);
				/* cut before its closing brace, an object is
				 * not valid, so nothing is found */
				if (k <= close)
					assert_int_equal(rc, LS_END);
				else if (rc == LS_OK)
					found++;
			}
			free(p);
		}
		assert_true(found > 0);
	}
}

static void
test_json_field_mutations(void **state)
{
	static const unsigned char alphabet[] = "{}[]\",:\\ u0a1e-.tn\xff\xc3";
	unsigned char buf[128];

	(void)state;
	rng_state = 1234;
	for (int round = 0; round < 20000; round++) {
		const char *src = objects[rng_below(NELEM(objects))];
		size_t n = strlen(src);
		memcpy(buf, src, n);
		for (int m = (int)rng_below(4) + 1; m > 0 && n > 0; m--) {
			size_t at = (size_t)rng_below(n);
			switch (rng_below(3)) {
			case 0:		/* replace */
				buf[at] = alphabet[rng_below(
				    sizeof(alphabet) - 1)];
				break;
			case 1:		/* delete */
				if (at + 1 < n)
					memmove(buf + at, buf + at + 1,
					    n - at - 1);
				n--;
				break;
			default:	/* cut */
				n = at;
			}
		}
		unsigned char *p = dup_exact(buf, n);
		field_checked(p, n, names[rng_below(NELEM(names))]);
		free(p);
	}
}

/*
 * ls_json_field steps from quote to quote where the first 128 bytes of
 * a payload hold no backslash, control character or byte above 0x7F,
 * and scans each string otherwise. A tab in front (white space, and a
 * control character) sends the same object the scanning way: objects of
 * random members, strings ending on both sides of the 64th and 128th
 * byte, plain and then damaged, give the same answer both ways, and one
 * that a valid object holds when found.
 */
static void
test_json_field_quotes(void **state)
{
	static const char *const keys[] = { "\"k\"", "\"user_id\"", "\"\"",
	    "\"a\\\"k\"", "\"\\u006b\"", "\"k\xc3\xa9\"", "\"kk\"" };
	static const char *const vals[] = { "1", "-0.5e3", "true", "null",
	    "{\"k\":[1,\"]\"]}", "[]", "\"\\\"\"", "\"\xe2\x82\xac\"", "01",
	    "false", "123456", "-", "1.", "2e", "tru", "nul", "\"\"", "0",
	    "1234567890123456", "12345678901234567", "00", "-01", "10",
	    "0123456789012345" };
	static const char alphabet[] = "{}[]\",:\\ \t1a\x80\x01";
	unsigned char buf[600];
	const unsigned char *v1, *v2;
	size_t l1, l2;
	int tried[2] = { 0, 0 }, flat = 0;

	(void)state;
	rng_state = 0x9007;
	for (int round = 0; round < 100000; round++) {
		size_t n = 1;
		buf[0] = '\t';
		buf[n++] = '{';
		for (int m = (int)rng_below(4); m >= 0 && n < 300; m--) {
			const char *k = keys[rng_below(4) == 0 ?
			    rng_below(NELEM(keys)) : 0];
			if (n > 2)
				buf[n++] = ',';
			if (n > 3 && rng_below(8) == 0)
				buf[n++] = ' ';
			memcpy(buf + n, k, strlen(k));
			n += strlen(k);
			buf[n++] = ':';
			if (rng_below(3) == 0) {
				const char *val = vals[rng_below(NELEM(vals))];
				memcpy(buf + n, val, strlen(val));
				n += strlen(val);
			} else {	/* a plain string, up to 140 bytes */
				size_t len = (size_t)rng_below(
				    rng_below(3) == 0 ? 141 : 12);
				buf[n++] = '"';
				for (size_t i = 0; i < len; i++)
					buf[n++] = (unsigned char)('a' + i % 26);
				buf[n++] = '"';
			}
			if (rng_below(8) == 0)
				buf[n++] = ' ';
		}
		buf[n++] = '}';
		if (rng_below(2) == 0) {	/* damage: a byte, or a cut */
			size_t at = 1 + (size_t)rng_below(n - 1);
			if (rng_below(4) == 0)
				n = at;
			else
				buf[at] = (unsigned char)alphabet[rng_below(
				    sizeof(alphabet) - 1)];
		}
		size_t len = n > 1 ? n - 1 : 0;	/* without the tab */
		unsigned char *tab = dup_exact(buf, len + 1);
		unsigned char *p = dup_exact(buf + 1, len);
		int rc1 = ls_json_field(p, len, "k", &v1, &l1);
		int rc2 = ls_json_field(tab, len + 1, "k", &v2, &l2);
		if (rc1 != rc2)
			fail_msg("round %d: %d plain, %d after a tab: %.*s",
			    round, rc1, rc2, (int)len, buf + 1);
		if (rc1 == LS_OK) {
			assert_int_equal(v1 - p, v2 - tab - 1);
			assert_int_equal(l1, l2);
			assert_true(ls_json_valid(p, len));
		}
		tried[rc1 == LS_OK]++;
		/* found in an object small enough for flat_find to try */
		flat += rc1 == LS_OK && len <= 128;
		free(tab);
		free(p);
	}
	/* both answers came up often, and found ones within 128 bytes */
	assert_true(tried[0] > 10000 && tried[1] > 10000 && flat > 10000);
}

/*
 * A plain key is compared with the name a word at a time (two loads a
 * side, overlapping, for 4 to 16 bytes), with memcmp beyond: names of
 * every length up to 40, in flat objects and in ones with a space,
 * against keys one byte shorter or longer and keys that differ from the
 * name in any one byte, the decoy before the name.
 */
static void
test_json_field_names(void **state)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCD";
	char name[48], decoy[48], obj[160];
	const unsigned char *v;
	size_t len;

	(void)state;
	for (size_t n = 1; n < sizeof(abc); n++) {
		memcpy(name, abc, n);
		name[n] = '\0';
		/* j < n: byte j changed; n: one byte longer; n + 1: shorter */
		for (size_t j = 0; j <= n + 1; j++) {
			memcpy(decoy, name, n + 1);
			if (j < n)
				decoy[j] = '_';
			else if (j == n)
				decoy[n] = 'x', decoy[n + 1] = '\0';
			else
				decoy[n - 1] = '\0';
			for (int space = 0; space < 2; space++) {
				int k = snprintf(obj, sizeof(obj),
				    "{\"%s\":1,%s\"%s\":\"value\"}", decoy,
				    space ? " " : "", name);
				unsigned char *p = dup_exact(
				    (const unsigned char *)obj, (size_t)k);
				assert_int_equal(ls_json_field(p, (size_t)k,
				    name, &v, &len), LS_OK);
				assert_int_equal(len, 5);
				assert_memory_equal(v, "value", 5);
				assert_int_equal(ls_json_field(p, (size_t)k,
				    decoy, &v, &len), LS_OK);
				assert_int_equal(len, 1);
				assert_int_equal(v[0], '1');
				free(p);
			}
		}
	}
}

/* ls_json_field_n takes the name's length, not its NUL: a prefix of a
 * longer string names the shorter key, in a flat object and in one with
 * white space; a length past a key's end or short of it matches nothing. */
static void
test_json_field_n(void **state)
{
	static const char *const objs[] = {
	    "{\"user_idx\":1,\"user_id\":\"u7\",\"n\":3}",
	    "{ \"user_idx\" : 1 , \"user_id\" : \"u7\" , \"n\" : 3 }",
	    "{\"user_idx\":1,\"user\\u005fid\":\"u7\",\"n\":3}" };
	const unsigned char *v;
	size_t len;

	(void)state;
	for (size_t i = 0; i < NELEM(objs); i++) {
		size_t n = strlen(objs[i]);
		unsigned char *p = dup_exact(objs[i], n);
		assert_int_equal(ls_json_field_n(p, n, "user_id_and_more", 7,
		    &v, &len), LS_OK);
		assert_int_equal(len, 2);
		assert_memory_equal(v, "u7", 2);
		assert_int_equal(ls_json_field_n(p, n, "user_idx and more", 8,
		    &v, &len), LS_OK);
		assert_int_equal(len, 1);
		assert_int_equal(v[0], '1');
		assert_int_equal(ls_json_field_n(p, n, "user_i", 6, &v, &len),
		    LS_END);
		assert_int_equal(ls_json_field_n(p, n, "user_idxy", 9, &v,
		    &len), LS_END);
		free(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur2),
		cmocka_unit_test(test_partition_kafka),
		cmocka_unit_test(test_jump_known),
		cmocka_unit_test(test_jump_properties),
		cmocka_unit_test(test_hash64),
		cmocka_unit_test(test_rendezvous_known),
		cmocka_unit_test(test_rendezvous_moves),
		cmocka_unit_test(test_json_field),
		cmocka_unit_test(test_json_field_prefixes),
		cmocka_unit_test(test_json_field_mutations),
		cmocka_unit_test(test_json_field_quotes),
		cmocka_unit_test(test_json_field_names),
		cmocka_unit_test(test_json_field_n),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
