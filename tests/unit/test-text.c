/*
 * Unit tests of the text helpers: time stamps, UTF-8, stream keys,
 * CRC-16/CDMA2000, JSON validation and ndjson output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-util.h"

#include "libstream.h"
#include "ls-internal.h"

#define TS_MAX 253402300799999ull	/* 9999-12-31T23:59:59.999 */

/* --- helpers ------------------------------------------------------------- */


/* --- time stamps --------------------------------------------------------- */

static const struct {
	uint64_t ms;
	const char *text;
} times[] = {
	{ 0, "1970-01-01T00:00:00.000" },
	{ 1, "1970-01-01T00:00:00.001" },
	{ 999, "1970-01-01T00:00:00.999" },
	{ 1000, "1970-01-01T00:00:01.000" },
	{ 86399999, "1970-01-01T23:59:59.999" },
	{ 86400000, "1970-01-02T00:00:00.000" },
	{ 68169600000ull, "1972-02-29T00:00:00.000" },
	{ 951868799000ull, "2000-02-29T23:59:59.000" },
	{ 1640995200000ull, "2022-01-01T00:00:00.000" },
	{ 1691686154745ull, "2023-08-10T16:49:14.745" },
	{ 1709210096789ull, "2024-02-29T12:34:56.789" },
	{ 4107542400000ull, "2100-03-01T00:00:00.000" },
	{ 253402300799000ull, "9999-12-31T23:59:59.000" },
	{ TS_MAX, "9999-12-31T23:59:59.999" },
	/* past 9999: the year takes the digits it needs, never saturates */
	{ TS_MAX + 1, "10000-01-01T00:00:00.000" },
	{ 3156641884800000ull, "102000-01-01T00:00:00.000" },
	{ UINT64_MAX, "584556019-04-03T14:25:51.615" },
};

static void
test_time_format(void **state)
{
	char out[32];

	(void)state;
	/* twice over, in both orders, so a cache of the last second is
	 * exercised both hit and missed */
	for (int pass = 0; pass < 2; pass++)
		for (size_t j = 0; j < sizeof(times) / sizeof(times[0]); j++) {
			size_t i = pass ? sizeof(times) / sizeof(times[0]) - 1 - j
			    : j;
			size_t n = strlen(times[i].text);
			uint64_t back;
			memset(out, 'X', sizeof(out));
			assert_int_equal(ls_time_format(times[i].ms, out), n);
			assert_true(n <= LS_TIME_MAX);
			assert_string_equal(out, times[i].text);
			assert_int_equal(ls_time_parse(out, n, &back), LS_OK);
			assert_true(back == times[i].ms);
			/* same second, other milliseconds */
			assert_int_equal(ls_time_format(times[i].ms -
			    times[i].ms % 1000 + 500, out), n);
			assert_memory_equal(out, times[i].text, n - 3);
			assert_string_equal(out + n - 3, "500");
		}
}

/* The text of ts_ms by gmtime_r. */
static size_t
ref_time(uint64_t ts_ms, char *out)
{
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	return (size_t)snprintf(out, 64, "%04lld-%02d-%02dT%02d:%02d:%02d.%03u",
	    (long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ts_ms % 1000));
}

/*
 * The kept second of ls_time_format: times walked forwards and backwards
 * across second, minute, hour, day, month (28, 29, 30, 31 days), year
 * and 9999-to-10000 boundaries, and jumps between them, against
 * gmtime_r.
 */
static void
test_time_format_walk(void **state)
{
	static const uint64_t edges[] = { 0, 1000, 60000, 3600000,
	    86400000, 1709164800000ull /* 2024-02-29 */,
	    1709251200000ull /* 2024-03-01 */, 1677628800000ull /* 2023-03-01 */,
	    1714521600000ull /* 2024-05-01 */, 1719792000000ull /* 2024-07-01 */,
	    1704067200000ull /* 2024-01-01 */, 4102444800000ull /* 2100-01-01 */,
	    TS_MAX + 1, 18446744073700000000ull };
	char got[32], want[64];

	(void)state;
	rng_state = 0x7157;
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++)
		for (int dir = 0; dir < 3; dir++)
			for (int64_t d = -2500; d <= 2500;
			    d += 1 + (int64_t)rng_below(300)) {
				int64_t off = dir == 0 ? d : dir == 1 ? -d :
				    (int64_t)rng_below(5000000) - 2500000;
				uint64_t ts = edges[e] + (uint64_t)off;
				if (off < 0 && edges[e] < (uint64_t)-off)
					continue;
				memset(got, 'X', sizeof(got));
				size_t n = ls_time_format(ts, got);
				assert_int_equal(n, ref_time(ts, want));
				assert_string_equal(got, want);
			}
}

/* A time text, what ls_time_parse returns for it and its milliseconds. */
struct time_case {
	const char *s;
	int rc;
	uint64_t ms;
};

/* Parses each of the n cases in turn (the kept second carried from one
 * to the next) and checks the result; *ms is untouched on an error. */
static void
time_cases(const struct time_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t ms = 77;
		int rc = ls_time_parse(c[i].s, strlen(c[i].s), &ms);
		if (rc != c[i].rc)
			print_error("'%s': %d\n", c[i].s, rc);
		assert_int_equal(rc, c[i].rc);
		assert_int_equal(ms, rc == LS_OK ? c[i].ms : 77);
	}
}

static void
test_time_parse(void **state)
{
	static const struct time_case cases[] = {
		{ "1970-01-01T00:00:00", LS_OK, 0 },
		{ "2022-01-01T00:00:00", LS_OK, 1640995200000ull },
		{ "2022-01-01T00:00:00.5", LS_OK, 1640995200500ull },
		{ "2022-01-01T00:00:00.123456789", LS_OK, 1640995200123ull },
		{ "2024-02-29T12:34:56.789", LS_OK, 1709210096789ull },
		{ "2000-02-29T23:59:59", LS_OK, 951868799000ull },
		{ "9999-12-31T23:59:59.999", LS_OK, TS_MAX },
		{ "2023-02-29T00:00:00", LS_ERR_INVAL, 0 },
		{ "1900-02-29T00:00:00", LS_ERR_INVAL, 0 },
		{ "2022-13-01T00:00:00", LS_ERR_INVAL, 0 },
		{ "2022-06-31T00:00:00", LS_ERR_INVAL, 0 },
		{ "2022-01-01T24:00:00", LS_ERR_INVAL, 0 },
		{ "2022-01-01 00:00:00", LS_ERR_INVAL, 0 },
		{ "2022-01-01T00:00", LS_ERR_INVAL, 0 },
		{ "2022-01-01", LS_ERR_INVAL, 0 },
		{ "", LS_ERR_INVAL, 0 },
		{ "2022-01-01T00:00:00.", LS_ERR_INVAL, 0 },
		{ "2022-01-01T00:00:00.1234567890", LS_ERR_INVAL, 0 },
		{ "2022-01-01T00:00:00,5", LS_ERR_INVAL, 0 },
		{ "2022-01-01T00:00:00Z", LS_ERR_INVAL, 0 },
		{ "+022-01-01T00:00:00", LS_ERR_INVAL, 0 },
		{ "1969-12-31T23:59:59", LS_ERR_INVAL, 0 },
		{ "10000-01-01T00:00:00", LS_OK, TS_MAX + 1 },
		{ "584556019-04-03T14:25:51.615", LS_OK, UINT64_MAX },
		{ "584556019-04-03T14:25:51.616", LS_ERR_INVAL, 0 },
		{ "584556020-01-01T00:00:00", LS_ERR_INVAL, 0 },
		{ "999999999-12-31T23:59:59", LS_ERR_INVAL, 0 },
		{ "1000000000-01-01T00:00:00", LS_ERR_INVAL, 0 },
		{ "09999-12-31T23:59:59", LS_ERR_INVAL, 0 },
		{ "999-12-31T23:59:59", LS_ERR_INVAL, 0 },
	};
	/* the second kept from the line before: its fraction still read
	 * whole, and across second, day, month and year boundaries */
	static const struct time_case seq[] = {
		{ "2024-02-28T23:59:59.998", LS_OK, 1709164799998ull },
		{ "2024-02-28T23:59:59.999", LS_OK, 1709164799999ull },
		{ "2024-02-28T23:59:59.99x", LS_ERR_INVAL, 0 },
		{ "2024-02-28T23:59:59x999", LS_ERR_INVAL, 0 },
		{ "2024-02-28T23:59:59.9", LS_OK, 1709164799900ull },
		{ "2024-02-29T00:00:00.000", LS_OK, 1709164800000ull },
		{ "2023-02-29T00:00:00.000", LS_ERR_INVAL, 0 },
		{ "2024-02-29T00:00:00.001", LS_OK, 1709164800001ull },
		{ "2024-12-31T23:59:59.999", LS_OK, 1735689599999ull },
		{ "2025-01-01T00:00:00.000", LS_OK, 1735689600000ull },
		{ "2025-01-01T00:00:00.0/0", LS_ERR_INVAL, 0 },
		{ "2025-01-01T00:00:00.:00", LS_ERR_INVAL, 0 },
	};
	uint64_t ms;

	(void)state;
	time_cases(cases, sizeof(cases) / sizeof(cases[0]));
	time_cases(seq, sizeof(seq) / sizeof(seq[0]));
	/* only n bytes are looked at */
	assert_int_equal(ls_time_parse("2022-01-01T00:00:00.5xyz", 21, &ms),
	    LS_OK);
	assert_int_equal(ms, 1640995200500ull);
}

static void
test_time_round_trip(void **state)
{
	char out[24];
	uint64_t ms, back;

	(void)state;
	rng_state = 0x7153;
	for (int i = 0; i < 200000; i++) {
		switch (i % 4) {
		case 0: ms = rng_below(TS_MAX + 1); break;
		case 1: ms = TS_MAX - rng_below(1000000000); break;
		case 2: ms = rng_below(100000000000ull); break;
		default: ms = 1600000000000ull + rng_below(400000000000ull);
		}
		if (i < 2)
			ms = i ? TS_MAX : 0;
		assert_int_equal(ls_time_format(ms, out), 23);
		assert_int_equal(strlen(out), 23);
		back = ~ms;
		if (ls_time_parse(out, 23, &back) != LS_OK || back != ms)
			print_error("%llu -> %s -> %llu\n",
			    (unsigned long long)ms, out,
			    (unsigned long long)back);
		assert_int_equal(back, ms);
		/* the same without milliseconds */
		assert_int_equal(ls_time_parse(out, 19, &back), LS_OK);
		assert_int_equal(back, ms - ms % 1000);
	}
}

/* --- UTF-8 ------------------------------------------------------------ */

static void
test_utf8(void **state)
{
	static const struct {
		const char *p;
		size_t n;
		bool ok;
	} cases[] = {
		{ "", 0, true },
		{ "plain ASCII text", 16, true },
		{ "\x00\x01\x7f", 3, true },
		{ "0123456789abcdef0123456789abcdef", 32, true },
		{ "\xc2\x80", 2, true },		/* U+0080 */
		{ "\xdf\xbf", 2, true },		/* U+07FF */
		{ "caf\xc3\xa9", 5, true },
		{ "\xe0\xa0\x80", 3, true },		/* U+0800 */
		{ "\xe2\x82\xac", 3, true },		/* euro */
		{ "\xed\x9f\xbf", 3, true },		/* U+D7FF */
		{ "\xee\x80\x80", 3, true },		/* U+E000 */
		{ "\xef\xbf\xbf", 3, true },		/* U+FFFF */
		{ "\xf0\x90\x80\x80", 4, true },	/* U+10000 */
		{ "\xf0\x9f\x98\x80", 4, true },	/* emoji */
		{ "\xf4\x8f\xbf\xbf", 4, true },	/* U+10FFFF */
		{ "abcdefgh\xf0\x9f\x98\x80ijklmnop", 20, true },
		/* overlong forms */
		{ "\xc0\x80", 2, false },
		{ "\xc1\xbf", 2, false },
		{ "\xe0\x80\x80", 3, false },
		{ "\xe0\x9f\xbf", 3, false },
		{ "\xf0\x80\x80\x80", 4, false },
		{ "\xf0\x8f\xbf\xbf", 4, false },
		/* surrogates */
		{ "\xed\xa0\x80", 3, false },
		{ "\xed\xbf\xbf", 3, false },
		/* beyond U+10FFFF */
		{ "\xf4\x90\x80\x80", 4, false },
		{ "\xf5\x80\x80\x80", 4, false },
		{ "\xf7\xbf\xbf\xbf", 4, false },
		/* truncated sequences at the end */
		{ "\xc3", 1, false },
		{ "abc\xc3", 4, false },
		{ "\xe2\x82", 2, false },
		{ "abcdefgh\xe2", 9, false },
		{ "\xf0\x9f\x98", 3, false },
		{ "\xf0\x9f", 2, false },
		{ "\xf0", 1, false },
		/* truncated in the middle */
		{ "\xc3x", 2, false },
		{ "\xe2\x82x", 3, false },
		{ "\xf0\x9f\x98x", 4, false },
		{ "\xe2x\xac", 3, false },
		/* lone continuation bytes, bytes that never occur */
		{ "\x80", 1, false },
		{ "abc\xbf", 4, false },
		{ "\xc3\xa9\xa9", 3, false },
		{ "\xff", 1, false },
		{ "\xfe", 1, false },
		{ "abcdefghijklmno\xff", 16, false },
		{ "\xff" "abcdefghijklmnop", 17, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = ls_utf8_valid((const unsigned char *)cases[i].p,
		    cases[i].n);
		if (ok != cases[i].ok)
			print_error("case %zu: got %d\n", i, ok);
		assert_int_equal(ok, cases[i].ok);
	}
}

/* Every code point encodes to valid UTF-8; every one-byte change of a
 * lead byte position into something else is judged consistently with a
 * reference decoder. */
static bool
ref_utf8(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i], k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			k = 1, cp = c & 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			k = 2, cp = c & 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			k = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (n - i <= k)
			return false;
		for (unsigned j = 1; j <= k; j++) {
			if ((p[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

static void
test_utf8_random(void **state)
{
	unsigned char buf[16];

	(void)state;
	rng_state = 0x0778;
	/* all two- and three-byte sequences, after a varying prefix */
	for (unsigned a = 0x80; a < 0x100; a++)
		for (unsigned b = 0; b < 0x100; b++) {
			buf[0] = (unsigned char)a;
			buf[1] = (unsigned char)b;
			assert_int_equal(ls_utf8_valid(buf, 2), ref_utf8(buf, 2));
			buf[2] = (unsigned char)(0x80 + (a ^ b) % 0x40);
			assert_int_equal(ls_utf8_valid(buf, 3), ref_utf8(buf, 3));
		}
	for (int t = 0; t < 200000; t++) {
		size_t n = 1 + rng_below(sizeof(buf));
		for (size_t i = 0; i < n; i++) {
			uint64_t r = rng();
			buf[i] = (unsigned char)(r % 3 == 0 ? 'a' : r % 3 == 1 ?
			    0x80 + (r >> 8) % 0x40 : (r >> 8) & 0xFF);
		}
		assert_int_equal(ls_utf8_valid(buf, n), ref_utf8(buf, n));
	}
}

/* --- stream keys --------------------------------------------------------- */

static void
test_key_valid(void **state)
{
	static const struct {
		const char *k;
		bool ok;
	} cases[] = {
		{ "a", true }, { "Z", true }, { "0", true }, { "_", true },
		{ ".", true }, { "-", true }, { "my_topic", true },
		{ "my-topic-2", true }, { "a.b.c", true },
		{ "SEA_STREAMER_INTERNAL", true }, { "2022-01-01", true },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		    "._-", true },
		{ "", false }, { "a/b", false }, { "a b", false },
		{ " a", false }, { "a:b", false }, { "a|b", false },
		{ "[a]", false }, { "a\tb", false }, { "a\n", false },
		{ "caf\xc3\xa9", false }, { "a*", false }, { "a+b", false },
		{ "a,b", false }, { "\x7f", false }, { "~", false },
		{ "@", false }, { "`", false }, { "{", false },
	};
	char buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ls_key_valid(cases[i].k, strlen(cases[i].k)) != cases[i].ok)
			print_error("key '%s'\n", cases[i].k);
		assert_int_equal(ls_key_valid(cases[i].k, strlen(cases[i].k)),
		    cases[i].ok);
	}
	/* length limits */
	memset(buf, 'k', sizeof(buf));
	assert_true(ls_key_valid(buf, 1));
	assert_true(ls_key_valid(buf, LS_KEY_MAX));
	assert_false(ls_key_valid(buf, LS_KEY_MAX + 1));
	assert_false(ls_key_valid(buf, 255));
	assert_false(ls_key_valid(buf, 0));
	/* a NUL inside the length counts as a byte */
	assert_false(ls_key_valid("a\0b", 3));
	/* only len bytes are looked at */
	assert_true(ls_key_valid("ab/c", 2));
	/* every byte value alone */
	for (unsigned c = 0; c < 256; c++) {
		char k = (char)c;
		bool want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		assert_int_equal(ls_key_valid(&k, 1), want);
	}
}

/* --- CRC-16/CDMA2000 --------------------------------------------------- */

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

static void
test_crc16(void **state)
{
	static const struct {
		const char *s;
		uint16_t crc;
	} cases[] = {
		{ "123456789", 0x4C06 },
		{ "hello, world", 0x8028 },
		{ "EOS", 0xED7C },
		{ "", 0xFFFF },
	};
	enum { N = 4096 };
	unsigned char *buf = malloc(N);

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].s);
		assert_int_equal(ls_crc16(LS_CRC_INIT, cases[i].s, n),
		    cases[i].crc);
		assert_int_equal(ref_crc16(LS_CRC_INIT,
		    (const unsigned char *)cases[i].s, n), cases[i].crc);
	}
	assert_int_equal(LS_CRC_INIT, 0xFFFF);
	assert_int_equal(ls_crc16(0x1234, NULL, 0), 0x1234);

	rng_state = 0xC2C;
	for (int t = 0; t < 300; t++) {
		size_t n = t < 40 ? (size_t)t : rng_below(N + 1);
		uint16_t want, crc, init = t % 3 ? LS_CRC_INIT :
		    (uint16_t)rng();
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)rng();
		want = ref_crc16(init, buf, n);
		assert_int_equal(ls_crc16(init, buf, n), want);
		/* unaligned starts */
		if (n > 3)
			assert_int_equal(ls_crc16(init, buf + 3, n - 3),
			    ref_crc16(init, buf + 3, n - 3));
		/* fed in random pieces */
		for (int split = 0; split < 4; split++) {
			size_t i = 0;
			crc = init;
			while (i < n) {
				size_t k = rng_below(split == 0 ? 3 : split == 1 ?
				    17 : n - i + 1);
				if (k > n - i)
					k = n - i;
				crc = ls_crc16(crc, buf + i, k);
				i += k;
			}
			assert_int_equal(crc, want);
		}
	}
	/* every length 0..300 (every head before the 16-byte blocks, the
	 * tables' and the folding's lengths), random start values and
	 * every alignment mod 16 */
	for (size_t n = 0; n <= 300; n++)
		for (int t = 0; t < 4; t++) {
			size_t off = rng_below(16);
			uint16_t init = t == 0 ? LS_CRC_INIT : (uint16_t)rng();
			for (size_t i = 0; i < n + off; i++)
				buf[i] = (unsigned char)rng();
			assert_int_equal(ls_crc16(init, buf + off, n),
			    ref_crc16(init, buf + off, n));
		}
	free(buf);
}

/* --- JSON validation ----------------------------------------------------- */

static void
test_json_valid(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "0", true }, { "-0", true }, { "1", true }, { "-1", true },
		{ "1e5", true }, { "1E5", true }, { "1e+5", true },
		{ "1e-5", true }, { "1.5E-3", true }, { "-0.0", true },
		{ "123456789012345678901234567890", true },
		{ "0.5", true }, { "10", true },
		{ "true", true }, { "false", true }, { "null", true },
		{ "\"\"", true }, { "\"abc\"", true },
		{ "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", true },
		{ "\"\\u0041\\u00e9\\uD83D\\uDE00\\uFFFF\"", true },
		{ "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", true },
		{ "\"\x7f\"", true },
		{ "[]", true }, { "{}", true }, { "[ ]", true }, { "{ }", true },
		{ "[1,2,3]", true }, { "[[[]]]", true },
		{ "{\"a\":1}", true },
		{ "{\"a\":{\"b\":[1,{\"c\":null}]},\"d\":\"e\"}", true },
		{ " \t\r\n{ \"a\" : [ 1 , 2 ] }\n\r\t ", true },
		{ " 1 ", true }, { "[\"a\",true,false,null,-1.5e10,{}]", true },
		{ "{\"\":\"\"}", true }, { "{\"a\":1,\"a\":2}", true },
		/* invalid */
		{ "", false }, { " ", false }, { "\n", false },
		{ "[1,]", false }, { "[1,2,]", false }, { "{\"a\":1,}", false },
		{ "[,1]", false }, { "[1,,2]", false },
		{ "01", false }, { "-01", false }, { "00", false },
		{ ".5", false }, { "-.5", false }, { "1.", false },
		{ "1.e5", false }, { "1e", false }, { "1e+", false },
		{ "-", false }, { "+1", false }, { "0x10", false },
		{ "1 2", false }, { "[1 2]", false }, { "{} {}", false },
		{ "\"a\" \"b\"", false }, { "{\"a\" 1}", false },
		{ "{a:1}", false }, { "{'a':1}", false }, { "'a'", false },
		{ "{\"a\"}", false }, { "{\"a\":}", false }, { "{1:2}", false },
		{ "\"a\tb\"", false }, { "\"a\nb\"", false },
		{ "\"\x01\"", false }, { "\"\\x41\"", false },
		{ "\"\\u12\"", false }, { "\"\\u12G4\"", false },
		{ "\"\\\"", false }, { "\"abc", false }, { "\"\\", false },
		{ "\"\\u", false }, { "\"\\u1234", false },
		{ "tru", false }, { "True", false }, { "nul", false },
		{ "falsey", false }, { "[truex]", false }, { "NaN", false },
		{ "Infinity", false }, { "[", false }, { "]", false },
		{ "{", false }, { "[1", false }, { "[1}", false },
		{ "{\"a\":1]", false }, { "[]]", false }, { "{}}", false },
		{ "\"\xff\"", false }, { "\"\xc3\"", false },
		{ "abc", false }, { "[1]x", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = ls_json_valid((const unsigned char *)cases[i].s,
		    strlen(cases[i].s));
		if (ok != cases[i].ok)
			print_error("'%s': got %d\n", cases[i].s, ok);
		assert_int_equal(ok, cases[i].ok);
	}
	/* a NUL byte outside a string is no JSON; inside one neither */
	assert_false(ls_json_valid((const unsigned char *)"1\0", 2));
	assert_false(ls_json_valid((const unsigned char *)"\"\0\"", 3));
	/* only n bytes are looked at */
	assert_true(ls_json_valid((const unsigned char *)"[1]garbage", 3));
	assert_false(ls_json_valid((const unsigned char *)"[1]", 2));
}

/*
 * Strings are scanned 8 bytes at a time where they are plain: a quote, a
 * backslash escape, a control character or UTF-8 at every offset of a
 * long string, and strings ending at every offset of the input, are
 * taken or refused as byte by byte.
 */
static void
test_json_string_offsets(void **state)
{
	unsigned char b[64];
	const unsigned char *val;
	size_t len;

	(void)state;
	for (size_t at = 1; at < 40; at++) {
		memset(b, 'a', sizeof(b));
		b[0] = '"';
		b[41] = '"';
		/* plain */
		assert_true(ls_json_valid(b, 42));
		/* an escape */
		b[at] = '\\';
		b[at + 1] = 'n';
		assert_true(ls_json_valid(b, 42));
		b[at + 1] = 'x';
		assert_false(ls_json_valid(b, 42));
		b[at + 1] = '"';	/* an escaped quote: unterminated */
		assert_int_equal(ls_json_valid(b, 42), at + 1 != 41);
		/* a control character, and DEL, which is allowed */
		b[at] = 0x1f;
		b[at + 1] = 'a';
		assert_false(ls_json_valid(b, 42));
		b[at] = 0x7f;
		assert_true(ls_json_valid(b, 42));
		b[at] = 0x20;
		assert_true(ls_json_valid(b, 42));
		/* two bytes of UTF-8 (e-acute) */
		b[at] = 0xc3;
		b[at + 1] = 0xa9;
		assert_true(ls_json_valid(b, 42));
		/* a quote: the string ends early, and what follows is junk */
		b[at] = '"';
		b[at + 1] = 'a';
		assert_false(ls_json_valid(b, 42));
		/* the string ends there: valid up to it */
		assert_true(ls_json_valid(b, at + 1));
		/* and a field found past a long string */
		memcpy(b, "{\"s\":\"", 6);
		memset(b + 6, 'z', at);
		memcpy(b + 6 + at, "\",\"k\":7}", 9);
		assert_int_equal(ls_json_field(b, 14 + at, "k", &val, &len),
		    LS_OK);
		assert_int_equal(len, 1);
		assert_int_equal(val[0], '7');
	}
}

/* The JSON scan validates UTF-8 itself (ls_json_valid and
 * ls_json_field make no separate pass): strings of random bytes, valid
 * and broken sequences at every place of the scan's eight-byte words,
 * are valid JSON exactly when the reference decoder accepts them (no
 * quote, backslash or control byte is drawn). */
static void
test_json_utf8_random(void **state)
{
	unsigned char buf[40], obj[64];
	const unsigned char *v;
	size_t len;

	(void)state;
	rng_state = 0x5ca1;
	for (int t = 0; t < 200000; t++) {
		size_t n = 1 + rng_below(sizeof(buf) - 2);
		buf[0] = '"';
		for (size_t i = 1; i <= n; i++) {
			uint64_t r = rng();
			unsigned c = r % 4 == 0 ? 'a' : r % 4 == 1 ?
			    0x80 + (r >> 8) % 0x40 : 0x80 + (r >> 8) % 0x80;
			buf[i] = (unsigned char)c;
		}
		buf[n + 1] = '"';
		bool want = ref_utf8(buf + 1, n);
		assert_int_equal(ls_json_valid(buf, n + 2), want);
		len = (size_t)snprintf((char *)obj, sizeof(obj), "{\"k\":");
		memcpy(obj + len, buf, n + 2);
		len += n + 2;
		obj[len++] = '}';
		assert_int_equal(ls_json_field(obj, len, "k", &v, &len) ==
		    LS_OK, want);
	}
}

/* The value d deep p[0..n) as the member "k" of an object: found up to
 * 511 deep (512 with the object), as ls_json_valid takes the whole. */
static void
field_depth(const unsigned char *p, size_t n, size_t d, bool ok)
{
	unsigned char *obj = malloc(n + 6);
	const unsigned char *val = NULL;
	size_t len = 0;

	assert_non_null(obj);
	memcpy(obj, "{\"k\":", 5);
	memcpy(obj + 5, p, n);
	obj[n + 5] = '}';
	assert_int_equal(ls_json_valid(obj, n + 6), ok && d < 512);
	assert_int_equal(ls_json_field(obj, n + 6, "k", &val, &len),
	    ok && d < 512 ? LS_OK : LS_END);
	if (ok && d < 512) {
		assert_ptr_equal(val, obj + 5);
		assert_int_equal(len, n);
	}
	free(obj);
}

/* ls__json_value_end: the end of a whole, valid value after i; 0 for
 * every cut of it short (a reader of a value still arriving) and for
 * damage; strings with escaped quotes, backslashes and brackets skipped
 * whole. */
static void
test_json_value_end(void **state)
{
	static const char *const good[] = {
		"{\"key\":\"L2Y=\",\"mod_revision\":\"5\"}",
		"{\"x\":\"\\\"}]\\\\\",\"y\":[\"}\",{}],\"z\":-1.5e3}",
		"[]", "[[1,[2]],{\"a\":null}]", "{ \"a\" : [ true , false ] }",
	};
	static const char *const bad[] = {
		"{\"a\":1]", "{\"a\" 1}", "{\"a\":\"\\q\"}", "[1,]",
		"{\"a\":\"b\"]}", "{\"a\":01}",
	};
	char buf[128];

	(void)state;
	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		size_t n = strlen(good[k]);
		/* after ",": the value at 1; what follows it is not looked at */
		snprintf(buf, sizeof(buf), ",%s],x", good[k]);
		assert_int_equal(ls__json_value_end((const unsigned char *)buf,
		    1, n + 4), n + 1);
		for (size_t cut = 1; cut < n + 1; cut++)
			assert_int_equal(ls__json_value_end(
			    (const unsigned char *)buf, 1, cut), 0);
	}
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		assert_int_equal(ls__json_value_end((const unsigned char *)
		    bad[k], 0, strlen(bad[k])), 0);
}

static void
test_json_depth(void **state)
{
	enum { MAX = 8 * 600 };
	unsigned char *buf = malloc(MAX);
	static const struct {
		size_t depth;
		bool obj, ok;
	} cases[] = {
		{ 1, false, true }, { 100, false, true }, { 511, false, true },
		{ 512, false, true }, { 513, false, false },
		{ 600, false, false }, { 512, true, true },
		{ 513, true, false },
	};

	(void)state;
	assert_non_null(buf);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t d = cases[c].depth, n = 0;
		for (size_t i = 0; i < d; i++) {
			/* objects: {"":{"":...}} around an innermost [] */
			if (cases[c].obj && i + 1 < d) {
				memcpy(buf + n, "{\"\":", 4);
				n += 4;
			} else
				buf[n++] = '[';
		}
		for (size_t i = d; i-- > 0;)
			buf[n++] = cases[c].obj && i + 1 < d ? '}' : ']';
		assert_true(n <= MAX);
		assert_int_equal(ls_json_valid(buf, n), cases[c].ok);
		field_depth(buf, n, d, cases[c].ok);
	}
	/* 600 unclosed brackets */
	memset(buf, '[', 600);
	assert_false(ls_json_valid(buf, 600));
	free(buf);
}

/* --- ndjson output ------------------------------------------------------- */

#define HDR_K "{\"header\":{\"stream_key\":\"k\",\"shard_id\":1,\"sequence\":2," \
    "\"timestamp\":\"2023-08-10T16:49:14.745\"}"

static void
msg_k(ls_msg *m, const void *payload, size_t len)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(ls_msg_set_key(m, "k", 1, NULL), LS_OK);
	m->shard = 1;
	m->seq = 2;
	m->ts_ms = 1691686154745ull;
	m->payload = payload;
	m->len = len;
}

/* Writes m with flags through a fresh ls_out of capacity cap on a temp
 * file and returns what was written. */
static char *
json_of(const ls_msg *m, unsigned flags, size_t cap, size_t *len)
{
	ls_out o;
	ls_error err;
	char *text;
	int fd = temp_fd();

	assert_int_equal(ls_out_init(&o, fd, cap, &err), LS_OK);
	assert_int_equal(ls_json_write(&o, m, flags, &err), LS_OK);
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	ls_out_free(&o);
	text = slurp(fd, len);
	close(fd);
	return text;
}

static void
test_json_write(void **state)
{
	static const struct {
		const char *p;
		size_t n;
		const char *json;	/* the payload member's value */
	} cases[] = {
		{ "{ \"a\" : [1, 2] }", 16, "{\"a\":[1,2]}" },
		{ " \t\r\n[ 1 ,\n 2 ] \n", 16, "[1,2]" },
		{ "{\"payload\": \"anything\"}", 23,
		    "{\"payload\":\"anything\"}" },
		{ "{ \"a b\" : \" x  y \" }", 20, "{\"a b\":\" x  y \"}" },
		{ " 42 ", 4, "42" },
		{ "-1.5e3", 6, "-1.5e3" },
		{ "true", 4, "true" },
		{ "null", 4, "null" },
		{ "\"a string\"", 10, "\"a string\"" },
		{ "\"esc \\\" \\n \\u00e9\"", 18, "\"esc \\\" \\n \\u00e9\"" },
		{ "[ ]", 3, "[]" },
		{ "{ }", 3, "{}" },
		/* not JSON: a string */
		{ "", 0, "\"\"" },
		{ "hello", 5, "\"hello\"" },
		{ "a \"quoted\" word", 15, "\"a \\\"quoted\\\" word\"" },
		{ "back\\slash", 10, "\"back\\\\slash\"" },
		{ "line\nbreak", 10, "\"line\\nbreak\"" },
		{ "\x01\x1f", 2, "\"\\u0001\\u001f\"" },
		{ "\r\t\b\f", 4, "\"\\r\\t\\b\\f\"" },
		{ "\x7f", 1, "\"\x7f\"" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", 10,
		    "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"" },
		{ "[1,]", 4, "\"[1,]\"" },
		{ "01", 2, "\"01\"" },
		{ "{a:1}", 5, "\"{a:1}\"" },
		{ "\0", 1, "\"\\u0000\"" },
		/* not UTF-8: bytes */
		{ "\xff\x00\n", 3, "[255,0,10]" },
		{ "\xc3", 1, "[195]" },
		{ "a\x80", 2, "[97,128]" },
		{ "\x09\x63\xed\xa0\x80", 5, "[9,99,237,160,128]" },
	};
	char want[512];
	ls_msg m;
	size_t len;
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *json = cases[i].json;
		msg_k(&m, cases[i].p, cases[i].n);
		snprintf(want, sizeof(want), "%s,\"payload\":%s}\n", HDR_K,
		    json);
		text = json_of(&m, 0, 0, &len);
		if (strcmp(text, want) != 0)
			print_error("case %zu:\n got  %s want %s", i, text, want);
		assert_string_equal(text, want);
		assert_int_equal(len, strlen(want));
		free(text);
		/* without the payload */
		text = json_of(&m, LS_JSON_NO_PAYLOAD, 0, &len);
		assert_string_equal(text, HDR_K "}\n");
		free(text);
	}

	/* header fields at their extremes */
	memset(&m, 0, sizeof(m));
	char key[LS_KEY_MAX];
	memset(key, 'K', sizeof(key));
	assert_int_equal(ls_msg_set_key(&m, key, sizeof(key), NULL), LS_OK);
	m.shard = UINT64_MAX;
	m.seq = UINT64_MAX;
	m.ts_ms = TS_MAX;
	m.payload = (const unsigned char *)"1";
	m.len = 1;
	text = json_of(&m, 0, 0, &len);
	snprintf(want, sizeof(want), "{\"header\":{\"stream_key\":\"%.*s\","
	    "\"shard_id\":18446744073709551615,\"sequence\":"
	    "18446744073709551615,\"timestamp\":\"9999-12-31T23:59:59.999\"},"
	    "\"payload\":1}\n", LS_KEY_MAX, key);
	assert_string_equal(text, want);
	free(text);
}

/* Several messages into one ls_out: the output is their concatenation. */
static void
test_json_write_many(void **state)
{
	ls_out o;
	ls_msg m;
	ls_error err;
	size_t len, n = 0;
	char *text, *want;
	int fd = temp_fd();
	enum { COUNT = 5000 };

	(void)state;
	want = malloc(COUNT * 128);
	assert_non_null(want);
	assert_int_equal(ls_out_init(&o, fd, 0, &err), LS_OK);
	for (int i = 0; i < COUNT; i++) {
		char p[32];
		int pn = snprintf(p, sizeof(p), i % 2 ? "[%d, %d]" : "x%d\n",
		    i, i);
		msg_k(&m, p, (size_t)pn);
		assert_int_equal(ls_json_write(&o, &m, 0, &err), LS_OK);
		n += (size_t)sprintf(want + n, "%s,\"payload\":", HDR_K);
		n += (size_t)(i % 2 ? sprintf(want + n, "[%d,%d]}\n", i, i) :
		    sprintf(want + n, "\"x%d\\n\"}\n", i));
	}
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	ls_out_free(&o);
	text = slurp(fd, &len);
	assert_int_equal(len, n);
	assert_memory_equal(text, want, n);
	free(text);
	free(want);
	close(fd);
}

/* Payloads larger than the ls_out buffer. */
static void
test_json_write_large(void **state)
{
	enum { SIZE = 1 << 20 };
	unsigned char *p = malloc(SIZE);
	char *want = malloc(6 * (size_t)SIZE + 256);
	size_t n, w, len;
	ls_msg m;
	char *text;

	(void)state;
	assert_non_null(p);
	assert_non_null(want);
	rng_state = 0x1A56E;

	for (int kind = 0; kind < 4; kind++) {
		n = 0;
		w = (size_t)sprintf(want, "%s,\"payload\":", HDR_K);
		if (kind == 0) {
			/* JSON with white space: [ 123 ,\n "s t" , ... ] */
			n += (size_t)sprintf((char *)p, "[ ");
			want[w++] = '[';
			for (int i = 0; n < SIZE - 64; i++) {
				if (i > 0) {
					n += (size_t)sprintf((char *)p + n, " ,\n\t");
					want[w++] = ',';
				}
				if (i % 3 == 0) {
					n += (size_t)sprintf((char *)p + n,
					    "\"s %d t\"", i);
					w += (size_t)sprintf(want + w, "\"s %d t\"",
					    i);
				} else {
					n += (size_t)sprintf((char *)p + n,
					    "{ \"n\" : %d }", i);
					w += (size_t)sprintf(want + w, "{\"n\":%d}", i);
				}
			}
			n += (size_t)sprintf((char *)p + n, " ]  ");
			want[w++] = ']';
		} else if (kind == 1 || kind == 2) {
			/* text that is not JSON; kind 2 escapes a lot */
			want[w++] = '"';
			for (n = 0; n < SIZE; n++) {
				unsigned c = kind == 1 ?
				    (unsigned char)"abc \"\\\n"[rng_below(7)] :
				    (unsigned)rng_below(0x80);
				p[n] = (unsigned char)c;
				if (c == '"' || c == '\\')
					w += (size_t)sprintf(want + w, "\\%c", c);
				else if (c == '\n')
					w += (size_t)sprintf(want + w, "\\n");
				else if (c == '\r')
					w += (size_t)sprintf(want + w, "\\r");
				else if (c == '\t')
					w += (size_t)sprintf(want + w, "\\t");
				else if (c == '\b')
					w += (size_t)sprintf(want + w, "\\b");
				else if (c == '\f')
					w += (size_t)sprintf(want + w, "\\f");
				else if (c < 0x20)
					w += (size_t)sprintf(want + w, "\\u%04x", c);
				else
					want[w++] = (char)c;
			}
			want[w++] = '"';
		} else {
			/* bytes that are not UTF-8 */
			want[w++] = '[';
			for (n = 0; n < SIZE; n++) {
				p[n] = (unsigned char)(n == 0 ? 0xff : rng());
				w += (size_t)sprintf(want + w, n ? ",%u" : "%u",
				    p[n]);
			}
			want[w++] = ']';
		}
		want[w++] = '}';
		want[w++] = '\n';
		msg_k(&m, p, n);
		/* the default buffer, and one a little larger than the
		 * payload (minified in place) */
		for (int b = 0; b < 2; b++) {
			text = json_of(&m, 0, b ? n + 100 : 0, &len);
			if (len != w)
				print_error("kind %d buffer %d: %zu bytes, want "
				    "%zu\n", kind, b, len, w);
			assert_int_equal(len, w);
			assert_memory_equal(text, want, w);
			free(text);
		}
	}
	free(p);
	free(want);
}

static void
test_json_write_string(void **state)
{
	static const struct {
		const char *p;
		const char *json;
	} cases[] = {
		{ "", "\"\"" },
		{ "abc", "\"abc\"" },
		{ "{\"a\":1}", "\"{\\\"a\\\":1}\"" },
		{ "\\", "\"\\\\\"" },
		{ "\x01\x02\x1e", "\"\\u0001\\u0002\\u001e\"" },
		{ "\n\r\t", "\"\\n\\r\\t\"" },
		{ "/", "\"/\"" },
		{ "\xe2\x82\xac", "\"\xe2\x82\xac\"" },
	};
	ls_out o;
	ls_error err;
	size_t len, n = 0;
	char want[256], *text;
	int fd = temp_fd();

	(void)state;
	assert_int_equal(ls_out_init(&o, fd, 0, &err), LS_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ls_json_write_string(&o,
		    (const unsigned char *)cases[i].p, strlen(cases[i].p), &err),
		    LS_OK);
		n += (size_t)sprintf(want + n, "%s", cases[i].json);
	}
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	ls_out_free(&o);
	text = slurp(fd, &len);
	assert_int_equal(len, n);
	assert_string_equal(text, want);
	free(text);
	close(fd);
}

/* The escaping of a byte, as JSON wants it: the reference for
 * test_json_escape_words. */
static size_t
ref_escape(char *d, unsigned char c)
{
	switch (c) {
	case '"': return (size_t)sprintf(d, "\\\"");
	case '\\': return (size_t)sprintf(d, "\\\\");
	case '\n': return (size_t)sprintf(d, "\\n");
	case '\r': return (size_t)sprintf(d, "\\r");
	case '\t': return (size_t)sprintf(d, "\\t");
	case '\b': return (size_t)sprintf(d, "\\b");
	case '\f': return (size_t)sprintf(d, "\\f");
	}
	if (c < 0x20)
		return (size_t)sprintf(d, "\\u%04x", c);
	*d = (char)c;
	return 1;
}

/*
 * Strings long enough for the eight-bytes-at-a-time escaping, with the
 * bytes that need escaping at every position of a word, alone and in
 * runs: the output is the reference's byte for byte.
 */
static void
test_json_escape_words(void **state)
{
	static const unsigned char special[] = { '"', '\\', '\n', 0x01,
	    0x1f, 0x00 };
	unsigned char p[80];
	char want[80 * 6 + 3], *text;
	size_t len, n;
	ls_out o;
	ls_error err;

	(void)state;
	rng_state = 0xE5C;
	for (int t = 0; t < 2000; t++) {
		int fd = temp_fd();
		size_t np = rng_below(sizeof(p) + 1);
		n = 0;
		want[n++] = '"';
		for (size_t i = 0; i < np; i++) {
			unsigned r = (unsigned)rng_below(t % 2 ? 4 : 16);
			p[i] = r == 0 ? special[rng_below(sizeof(special))] :
			    (unsigned char)(0x20 + rng_below(0x5f));
			n += ref_escape(want + n, p[i]);
		}
		want[n++] = '"';
		want[n] = '\0';
		assert_int_equal(ls_out_init(&o, fd, 0, &err), LS_OK);
		assert_int_equal(ls_json_write_string(&o, p, np, &err), LS_OK);
		assert_int_equal(ls_out_flush(&o, &err), LS_OK);
		ls_out_free(&o);
		text = slurp(fd, &len);
		assert_int_equal(len, n);
		assert_string_equal(text, want);
		free(text);
		close(fd);
	}
}

/*
 * A name too long for an error message is cut in its middle, on UTF-8
 * character boundaries, and the reason after it is kept whole.
 */
static void
test_error_long_name(void **state)
{
	static const char tail[] = ": No such file or directory";
	char path[1024];
	size_t n = 0, len;
	ls_error e;

	(void)state;
	n += (size_t)snprintf(path, sizeof(path), "/nonexistent/");
	/* "é" is two bytes: an odd cut would split one */
	while (n < 400)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "\xc3\xa9x");
	assert_null(ls_source_open(path, NULL, &e));
	len = strlen(e.msg);
	assert_true(len < LS_ERRMSG_MAX);
	assert_true(len > sizeof(tail));
	assert_string_equal(e.msg + len - (sizeof(tail) - 1), tail);
	assert_non_null(strstr(e.msg, "..."));
	assert_true(ls_utf8_valid((const unsigned char *)e.msg, len));
	assert_memory_equal(e.msg, "/nonexistent/", 13);
	/* a short one is whole */
	assert_null(ls_source_open("/nonexistent/short", NULL, &e));
	assert_string_equal(e.msg, "/nonexistent/short: No such file or "
	    "directory");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_long_name),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_format_walk),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_utf8_random),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_crc16),
		cmocka_unit_test(test_json_valid),
		cmocka_unit_test(test_json_utf8_random),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_json_value_end),
		cmocka_unit_test(test_json_write),
		cmocka_unit_test(test_json_string_offsets),
		cmocka_unit_test(test_json_write_many),
		cmocka_unit_test(test_json_write_large),
		cmocka_unit_test(test_json_write_string),
		cmocka_unit_test(test_json_escape_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
