/*
 * Unit tests of the line framing: ls_line_parse on the examples of the
 * format, malformed meta blocks and their columns, edge cases, and
 * ls_line_write / ls_line_write_meta round trips through a temp file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-util.h"

#include "libstream.h"
#include "ls-internal.h"

#define TS_2022 1640995200000ull	/* 2022-01-01T00:00:00 */
#define ALL_HAVE (LS_HAVE_TS | LS_HAVE_KEY | LS_HAVE_SEQ | LS_HAVE_SHARD)

/* --- helpers ------------------------------------------------------------- */

/* A message whose every field holds a sentinel value, to see which
 * fields a parse touched. */
static void
msg_sentinel(ls_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->shard = 0xA5A5A5A5A5A5A5A5ull;
	m->seq = 0x5A5A5A5A5A5A5A5Aull;
	m->ts_ms = 0x1234567890ull;
	memcpy(m->key, "sentinel", 9);
	m->key_len = 8;
}


/* --- the examples of the format ------------------------------------------ */

struct parse_case {
	const char *line;
	unsigned have;
	uint64_t ts_ms;
	const char *key;
	uint64_t seq;
	uint64_t shard;
	const char *payload;
};

static const struct parse_case examples[] = {
	{ "a plain, raw message", 0, 0, NULL, 0, 0,
	    "a plain, raw message" },
	{ "[2022-01-01T00:00:00] { \"payload\": \"anything\" }",
	    LS_HAVE_TS, TS_2022, NULL, 0, 0,
	    "{ \"payload\": \"anything\" }" },
	{ "[2022-01-01T00:00:00.123 | my_topic] \"a string payload\"",
	    LS_HAVE_TS | LS_HAVE_KEY, TS_2022 + 123, "my_topic", 0, 0,
	    "\"a string payload\"" },
	{ "[2022-01-01T00:00:00 | my-topic-2 | 123] [\"array\", \"of\", "
	    "\"values\"]", LS_HAVE_TS | LS_HAVE_KEY | LS_HAVE_SEQ, TS_2022,
	    "my-topic-2", 123, 0, "[\"array\", \"of\", \"values\"]" },
	{ "[2022-01-01T00:00:00 | my-topic-2 | 123 | 4] { \"payload\": "
	    "\"anything\" }", ALL_HAVE, TS_2022, "my-topic-2", 123, 4,
	    "{ \"payload\": \"anything\" }" },
	{ "[my_topic] a string payload", LS_HAVE_KEY, 0, "my_topic", 0, 0,
	    "a string payload" },
	{ "[my_topic | 123] { \"payload\": \"anything\" }",
	    LS_HAVE_KEY | LS_HAVE_SEQ, 0, "my_topic", 123, 0,
	    "{ \"payload\": \"anything\" }" },
	{ "[my_topic | 123 | 4] { \"payload\": \"anything\" }",
	    LS_HAVE_KEY | LS_HAVE_SEQ | LS_HAVE_SHARD, 0, "my_topic", 123, 4,
	    "{ \"payload\": \"anything\" }" },
	/* edge cases */
	{ "", 0, 0, NULL, 0, 0, "" },
	{ " [a] x", 0, 0, NULL, 0, 0, " [a] x" },
	{ "a]", 0, 0, NULL, 0, 0, "a]" },
	{ "[a]", LS_HAVE_KEY, 0, "a", 0, 0, "" },
	{ "[a] ", LS_HAVE_KEY, 0, "a", 0, 0, "" },
	{ "[a]x", LS_HAVE_KEY, 0, "a", 0, 0, "x" },
	{ "[a]  x", LS_HAVE_KEY, 0, "a", 0, 0, " x" },
	{ "[a] x ", LS_HAVE_KEY, 0, "a", 0, 0, "x " },
	{ "[a] [b] c", LS_HAVE_KEY, 0, "a", 0, 0, "[b] c" },
	{ "[a] x | y ] z", LS_HAVE_KEY, 0, "a", 0, 0, "x | y ] z" },
	{ "[a]\tx", LS_HAVE_KEY, 0, "a", 0, 0, "\tx" },
	{ "[\ta\t|\t7\t]", LS_HAVE_KEY | LS_HAVE_SEQ, 0, "a", 7, 0, "" },
	{ "[a|1|2] p", LS_HAVE_KEY | LS_HAVE_SEQ | LS_HAVE_SHARD, 0, "a", 1,
	    2, "p" },
	{ "[2022-01-01]", LS_HAVE_KEY, 0, "2022-01-01", 0, 0, "" },
	{ "[2022-01-01 | 5] x", LS_HAVE_KEY | LS_HAVE_SEQ, 0, "2022-01-01",
	    5, 0, "x" },
	{ "[2022-01-01T00:00:00]", LS_HAVE_TS, TS_2022, NULL, 0, 0, "" },
	{ "[1970-01-01T00:00:00 | k] x", LS_HAVE_TS | LS_HAVE_KEY, 0, "k",
	    0, 0, "x" },
	{ "[2024-02-29T12:34:56.789 | k] x", LS_HAVE_TS | LS_HAVE_KEY,
	    1709210096789ull, "k", 0, 0, "x" },
	{ "[2000-02-29T23:59:59 | k]", LS_HAVE_TS | LS_HAVE_KEY,
	    951868799000ull, "k", 0, 0, "" },
	{ "[9999-12-31T23:59:59.999 | k]", LS_HAVE_TS | LS_HAVE_KEY,
	    253402300799999ull, "k", 0, 0, "" },
	{ "[k | 0 | 0]", LS_HAVE_KEY | LS_HAVE_SEQ | LS_HAVE_SHARD, 0, "k",
	    0, 0, "" },
	{ "[k | 18446744073709551615 | 18446744073709551615]",
	    LS_HAVE_KEY | LS_HAVE_SEQ | LS_HAVE_SHARD, 0, "k", UINT64_MAX,
	    UINT64_MAX, "" },
	{ "[k | 00042]", LS_HAVE_KEY | LS_HAVE_SEQ, 0, "k", 42, 0, "" },
	{ "[SEA_STREAMER_INTERNAL | 0 | 0] EOS",
	    LS_HAVE_KEY | LS_HAVE_SEQ | LS_HAVE_SHARD, 0,
	    "SEA_STREAMER_INTERNAL", 0, 0, "EOS" },
	{ "[k] caf\xc3\xa9 \xf0\x9f\x98\x80", LS_HAVE_KEY, 0, "k", 0, 0,
	    "caf\xc3\xa9 \xf0\x9f\x98\x80" },
};

static void
check_parse(const struct parse_case *c)
{
	ls_msg m, ref;
	ls_error err;
	unsigned have = 0xdead;
	size_t len = strlen(c->line);
	int rc;

	msg_sentinel(&m);
	msg_sentinel(&ref);
	memset(&err, 0, sizeof(err));
	rc = ls_line_parse(c->line, len, &m, &have, &err);
	if (rc != LS_OK)
		print_error("line '%s': %s (%s)\n", c->line, ls_strstatus(rc),
		    err.msg);
	assert_int_equal(rc, LS_OK);
	assert_int_equal(have, c->have);
	if (c->have & LS_HAVE_TS)
		assert_int_equal(m.ts_ms, c->ts_ms);
	else
		assert_int_equal(m.ts_ms, ref.ts_ms);
	if (c->have & LS_HAVE_KEY) {
		assert_int_equal(m.key_len, strlen(c->key));
		assert_string_equal(m.key, c->key);
	} else {
		assert_int_equal(m.key_len, ref.key_len);
		assert_string_equal(m.key, ref.key);
	}
	if (c->have & LS_HAVE_SEQ)
		assert_int_equal(m.seq, c->seq);
	else
		assert_int_equal(m.seq, ref.seq);
	if (c->have & LS_HAVE_SHARD)
		assert_int_equal(m.shard, c->shard);
	else
		assert_int_equal(m.shard, ref.shard);
	/* the payload points into the line and has the exact bytes */
	assert_int_equal(m.len, strlen(c->payload));
	assert_true(m.payload >= (const unsigned char *)c->line);
	assert_true(m.payload + m.len == (const unsigned char *)c->line + len);
	assert_memory_equal(m.payload, c->payload, m.len);
}

static void
test_parse_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
		check_parse(&examples[i]);
}

/* The payload is not NUL-terminated: parsing looks at len bytes only. */
static void
test_parse_not_nul_terminated(void **state)
{
	const char text[] = "[k | 5] payload]]]";
	ls_msg m;
	unsigned have;
	char *line;

	(void)state;
	/* only "[k | 5] pay" of it, in an exact-size heap block */
	line = malloc(11);
	assert_non_null(line);
	memcpy(line, text, 11);
	msg_sentinel(&m);
	assert_int_equal(ls_line_parse(line, 11, &m, &have, NULL), LS_OK);
	assert_int_equal(have, LS_HAVE_KEY | LS_HAVE_SEQ);
	assert_int_equal(m.seq, 5);
	assert_int_equal(m.len, 3);
	assert_memory_equal(m.payload, "pay", 3);
	/* a ']' only beyond len does not close the block */
	memcpy(line, "[k | 5 pay]", 11);
	assert_int_equal(ls_line_parse(line, 10, &m, &have, NULL),
	    LS_ERR_INVAL);
	free(line);
}

/* --- fractional seconds -------------------------------------------------- */

static void
test_parse_fraction(void **state)
{
	static const struct {
		const char *frac;
		uint64_t ms;
	} cases[] = {
		{ ".5", 500 }, { ".05", 50 }, { ".005", 5 }, { ".123", 123 },
		{ ".1234", 123 }, { ".12345", 123 }, { ".123456", 123 },
		{ ".1234567", 123 }, { ".12345678", 123 },
		{ ".123456789", 123 }, { ".999999999", 999 }, { ".0", 0 },
		{ ".000000000", 0 }, { ".9", 900 }, { ".99", 990 },
		{ "", 0 },
	};
	char line[80];
	ls_msg m;
	unsigned have;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "[2022-01-01T00:00:00%s | k] x",
		    cases[i].frac);
		msg_sentinel(&m);
		assert_int_equal(ls_line_parse(line, strlen(line), &m, &have,
		    NULL), LS_OK);
		assert_int_equal(have, LS_HAVE_TS | LS_HAVE_KEY);
		assert_int_equal(m.ts_ms, TS_2022 + cases[i].ms);
	}
}

/* --- invalid meta blocks ------------------------------------------------- */

struct bad_case {
	const char *line;
	uint64_t col_lo, col_hi;	/* accepted columns (1-based) */
};

#define COL(c) (c), (c)

static void
test_parse_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "[Jan 1, 2022] { \"payload\": \"anything\" }", COL(2) },
		{ "[]", COL(2) },
		{ "[] x", COL(2) },
		{ "[a|]", COL(4) },
		{ "[a | ]", 5, 6 },
		/* the empty first field: at its start or at the bar */
		{ "[ | a]", 2, 3 },
		{ "[|a]", COL(2) },
		{ "[a || 1]", COL(5) },
		{ "[a | b]", COL(6) },
		{ "[a | -1]", COL(6) },
		{ "[a | 1x]", COL(6) },
		{ "[a | 1 2]", COL(6) },
		{ "[a | 0x10]", COL(6) },
		{ "[a | 1 | x]", COL(10) },
		{ "[a | 1 | 2 | 3]", COL(14) },
		{ "[2022-01-01T00:00:00 | a | 1 | 2 | 3]", COL(36) },
		{ "[2022-01-01T00:00:00 | 2022-01-01T00:00:00]", COL(24) },
		/* the written form's numbers, summed as they are scanned */
		{ "[2022-01-01T00:00:00.000 | a | 18446744073709551616 | 0]",
		    COL(32) },
		{ "[2022-01-01T00:00:00.000 | a | 99999999999999999999 | 0]",
		    COL(32) },
		{ "[2022-01-01T00:00:00.000 | a | 100000000000000000000 | 0]",
		    COL(32) },
		{ "[2022-01-01T00:00:00.000 | a | 1 | 18446744073709551616]",
		    COL(36) },
		{ "[2022-01-01T00:00:00.000 | a | 1x | 0]", COL(32) },
		{ "[2022-01-01T00:00:00.00x | a | 1 | 0]", COL(2) },
		{ "[unterminated", COL(1) },
		{ "[unterminated | 1 | 2", COL(1) },
		{ "[", COL(1) },
		{ "[a | 18446744073709551616]", COL(6) },
		{ "[a | 99999999999999999999]", COL(6) },
		{ "[a | 1 | 18446744073709551616]", COL(10) },
		{ "[my/topic] x", COL(2) },
		{ "[2022-01-01T00:00:00 | my/topic] x", COL(24) },
		{ "[my topic] x", COL(2) },
		{ "[caf\xc3\xa9] x", COL(2) },
		{ "[a:b]", COL(2) },
		/* bad dates are not time stamps, and not keys either */
		{ "[2023-02-29T00:00:00] x", COL(2) },
		{ "[2100-02-29T00:00:00] x", COL(2) },
		{ "[2022-13-01T00:00:00] x", COL(2) },
		{ "[2022-00-01T00:00:00] x", COL(2) },
		{ "[2022-04-31T00:00:00] x", COL(2) },
		{ "[2022-01-00T00:00:00] x", COL(2) },
		{ "[2022-01-32T00:00:00] x", COL(2) },
		{ "[2022-01-01T24:00:00] x", COL(2) },
		{ "[2022-01-01T00:60:00] x", COL(2) },
		{ "[2022-01-01T00:00:60] x", COL(2) },
		{ "[1969-12-31T23:59:59] x", COL(2) },
		{ "[2022-01-01 00:00:00] x", COL(2) },
		{ "[2022-01-01T00:00:00Z] x", COL(2) },
		{ "[2022-01-01T00:00:00+00:00] x", COL(2) },
		{ "[2022-01-01T00:00:00.] x", COL(2) },
		{ "[2022-01-01T00:00:00.1234567890] x", COL(2) },
		{ "[2022-01-01T00:00:00.12a] x", COL(2) },
		{ "[2022-1-01T00:00:00] x", COL(2) },
		{ "[ 2022-01-01T00:00:00.5x | k] x", COL(3) },
		{ "[k | 2022-01-01T00:00:00] x", COL(6) },
	};
	char key250[260];
	ls_msg m;
	ls_error err;
	unsigned have;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		memset(&err, 0, sizeof(err));
		msg_sentinel(&m);
		have = 0xdead;
		int rc = ls_line_parse(c->line, strlen(c->line), &m, &have,
		    &err);
		if (rc != LS_ERR_INVAL || err.offset < c->col_lo ||
		    err.offset > c->col_hi)
			print_error("line '%s': rc %d, column %llu (%s)\n",
			    c->line, rc, (unsigned long long)err.offset,
			    err.msg);
		assert_int_equal(rc, LS_ERR_INVAL);
		assert_int_equal(err.code, LS_ERR_INVAL);
		assert_in_range(err.offset, c->col_lo, c->col_hi);
		assert_true(err.msg[0] != '\0');
		/* no error is fine without an ls_error too */
		assert_int_equal(ls_line_parse(c->line, strlen(c->line), &m,
		    &have, NULL), LS_ERR_INVAL);
	}

	/* 19 and 20 digits in the written form */
	assert_int_equal(ls_line_parse("[2022-01-01T00:00:00.000 | a | "
	    "9999999999999999999 | 18446744073709551615] x", 76, &m, &have,
	    &err), LS_OK);
	assert_int_equal(have, LS_HAVE_TS | LS_HAVE_KEY | LS_HAVE_SEQ |
	    LS_HAVE_SHARD);
	assert_true(m.seq == 9999999999999999999ull);
	assert_true(m.shard == UINT64_MAX);
	assert_int_equal(m.len, 1);

	/* a key of 250 bytes is too long; 249 is fine */
	key250[0] = '[';
	memset(key250 + 1, 'k', 250);
	memcpy(key250 + 251, "] x", 4);
	memset(&err, 0, sizeof(err));
	assert_int_equal(ls_line_parse(key250, strlen(key250), &m, &have,
	    &err), LS_ERR_INVAL);
	assert_int_equal(err.offset, 2);
	memmove(key250 + 250, key250 + 251, 4);
	msg_sentinel(&m);
	assert_int_equal(ls_line_parse(key250, strlen(key250), &m, &have,
	    &err), LS_OK);
	assert_int_equal(have, LS_HAVE_KEY);
	assert_int_equal(m.key_len, 249);
	assert_int_equal(strlen(m.key), 249);
	assert_int_equal(m.len, 1);
}

/* --- writing ------------------------------------------------------------- */

static void
test_write_exact(void **state)
{
	static const char payload[] = "{ \"payload\": \"anything\" }";
	ls_out o;
	ls_msg m;
	ls_error err;
	size_t len;
	char *text;
	int fd = temp_fd();

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_msg_set_key(&m, "my_topic", 8, &err), LS_OK);
	m.ts_ms = TS_2022;
	m.seq = 123;
	m.shard = 4;
	m.payload = (const unsigned char *)payload;
	m.len = strlen(payload);
	assert_int_equal(ls_out_init(&o, fd, 0, &err), LS_OK);
	assert_int_equal(ls_line_write(&o, &m, &err), LS_OK);
	assert_int_equal(ls_line_write_meta(&o, &m, &err), LS_OK);
	m.ts_ms = 1691686154745ull;
	m.seq = UINT64_MAX;
	m.shard = 0;
	m.len = 0;
	assert_int_equal(ls_line_write(&o, &m, &err), LS_OK);
	assert_int_equal(ls_line_write_meta(&o, &m, &err), LS_OK);
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	ls_out_free(&o);
	text = slurp(fd, &len);
	assert_string_equal(text,
	    "[2022-01-01T00:00:00.000 | my_topic | 123 | 4] "
	    "{ \"payload\": \"anything\" }\n"
	    "[2022-01-01T00:00:00.000 | my_topic | 123 | 4]\n"
	    "[2023-08-10T16:49:14.745 | my_topic | 18446744073709551615 | 0] \n"
	    "[2023-08-10T16:49:14.745 | my_topic | 18446744073709551615 | 0]\n");
	free(text);
	close(fd);
}

static void
test_write_notline(void **state)
{
	static const struct {
		const char *p;
		size_t n;
	} bad[] = {
		{ "\n", 1 }, { "a\nb", 3 }, { "abc\n", 4 },
		{ "\xff", 1 }, { "ab\xc3", 3 }, { "\xc0\x80", 2 },
		{ "\xed\xa0\x80", 3 }, { "ok\x80ok", 5 },
		{ "\xf4\x90\x80\x80", 4 },
		{ "a long line of text before a bad byte \xfe", 39 },
	};
	ls_out o;
	ls_msg m;
	ls_error err;
	size_t len;
	char *text;
	int fd = temp_fd();

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_msg_set_key(&m, "k", 1, &err), LS_OK);
	assert_int_equal(ls_out_init(&o, fd, 0, &err), LS_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m.payload = (const unsigned char *)bad[i].p;
		m.len = bad[i].n;
		memset(&err, 0, sizeof(err));
		assert_int_equal(ls_line_write(&o, &m, &err), LS_ERR_NOTLINE);
		assert_int_equal(err.code, LS_ERR_NOTLINE);
		assert_int_equal(o.len, 0);
		assert_int_equal(o.total, 0);
	}
	/* a payload larger than the buffer with a newline at its very end */
	size_t big = 3 * o.cap;
	unsigned char *p = malloc(big);
	assert_non_null(p);
	memset(p, 'x', big);
	p[big - 1] = '\n';
	m.payload = p;
	m.len = big;
	assert_int_equal(ls_line_write(&o, &m, &err), LS_ERR_NOTLINE);
	p[big - 1] = 0xff;
	assert_int_equal(ls_line_write(&o, &m, &err), LS_ERR_NOTLINE);
	assert_int_equal(o.len, 0);
	free(p);
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	ls_out_free(&o);
	text = slurp(fd, &len);
	assert_int_equal(len, 0);
	free(text);
	close(fd);
}

/* Appends one random code point (no '\n') as UTF-8 to p; returns bytes. */
static size_t
rand_utf8(unsigned char *p)
{
	static const char specials[] = " []|\t\r{}\"\\";
	uint32_t c;

	switch (rng_below(6)) {
	case 0:
		p[0] = (unsigned char)specials[rng_below(sizeof(specials) - 1)];
		return 1;
	case 1:
	case 2:
		do
			c = (uint32_t)rng_below(0x80);
		while (c == '\n');
		p[0] = (unsigned char)c;
		return 1;
	case 3:
		c = 0x80 + (uint32_t)rng_below(0x800 - 0x80);
		p[0] = (unsigned char)(0xC0 | (c >> 6));
		p[1] = (unsigned char)(0x80 | (c & 0x3F));
		return 2;
	case 4:
		do
			c = 0x800 + (uint32_t)rng_below(0x10000 - 0x800);
		while (c >= 0xD800 && c <= 0xDFFF);
		p[0] = (unsigned char)(0xE0 | (c >> 12));
		p[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		p[2] = (unsigned char)(0x80 | (c & 0x3F));
		return 3;
	default:
		c = 0x10000 + (uint32_t)rng_below(0x110000 - 0x10000);
		p[0] = (unsigned char)(0xF0 | (c >> 18));
		p[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
		p[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		p[3] = (unsigned char)(0x80 | (c & 0x3F));
		return 4;
	}
}

static const char key_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

struct rt_msg {
	ls_msg m;
	unsigned char *buf;
};

static uint64_t
rand_u64(void)
{
	switch (rng_below(4)) {
	case 0: return rng_below(10);
	case 1: return UINT64_MAX - rng_below(3);
	case 2: return rng_below(1000000);
	default: return rng();
	}
}

static void
test_write_round_trip(void **state)
{
	enum { N = 400 };
	const uint64_t ts_max = 253402300799999ull;	/* 9999-12-31 */
	struct rt_msg *v = calloc(N, sizeof(*v));
	ls_out o;
	ls_error err;
	size_t len;
	char *text, *line;
	int fd = temp_fd();

	(void)state;
	assert_non_null(v);
	rng_state = 0x11E5EEDull;
	assert_int_equal(ls_out_init(&o, fd, 0, &err), LS_OK);
	for (size_t i = 0; i < N; i++) {
		ls_msg *m = &v[i].m;
		size_t klen, plen, cap;
		char key[LS_KEY_MAX];

		klen = i % 50 == 7 ? LS_KEY_MAX : 1 + rng_below(i % 3 ? 12 : 80);
		for (size_t k = 0; k < klen; k++)
			key[k] = key_chars[rng_below(sizeof(key_chars) - 1)];
		assert_int_equal(ls_msg_set_key(m, key, klen, &err), LS_OK);
		m->seq = rand_u64();
		m->shard = rand_u64();
		m->ts_ms = i == 0 ? 0 : i == 1 ? ts_max : rng_below(ts_max + 1);
		/* mostly short, sometimes empty, a few larger than the
		 * ls_out buffer */
		if (i % 97 == 5)
			cap = o.cap + rng_below(3 * o.cap);
		else if (i % 10 == 3)
			cap = 0;
		else
			cap = rng_below(300);
		v[i].buf = malloc(cap + 4);
		assert_non_null(v[i].buf);
		plen = 0;
		while (plen < cap)
			plen += rand_utf8(v[i].buf + plen);
		m->payload = v[i].buf;
		m->len = plen;
		assert_true(ls_utf8_valid(m->payload, m->len));
		assert_int_equal(ls_line_write(&o, m, &err), LS_OK);
	}
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	assert_int_equal(o.total, (uint64_t)lseek(fd, 0, SEEK_END));
	ls_out_free(&o);

	text = slurp(fd, &len);
	assert_true(len > 0 && text[len - 1] == '\n');
	line = text;
	for (size_t i = 0; i < N; i++) {
		const ls_msg *want = &v[i].m;
		char *nl = memchr(line, '\n', len - (size_t)(line - text));
		ls_msg got;
		unsigned have;

		assert_non_null(nl);
		msg_sentinel(&got);
		assert_int_equal(ls_line_parse(line, (size_t)(nl - line), &got,
		    &have, &err), LS_OK);
		assert_int_equal(have, ALL_HAVE);
		assert_int_equal(got.key_len, want->key_len);
		assert_string_equal(got.key, want->key);
		assert_int_equal(got.seq, want->seq);
		assert_int_equal(got.shard, want->shard);
		assert_int_equal(got.ts_ms, want->ts_ms);
		assert_int_equal(got.len, want->len);
		assert_memory_equal(got.payload, want->payload, want->len);
		line = nl + 1;
	}
	assert_true(line == text + len);
	free(text);
	for (size_t i = 0; i < N; i++)
		free(v[i].buf);
	free(v);
	close(fd);
}

/* ls_line_write to a pipe, read by the test after the writer is done. */
static void
test_write_pipe(void **state)
{
	static const char payload[] = "hello | [world]";
	int fds[2];
	ls_out o;
	ls_msg m, got;
	ls_error err;
	char buf[512];
	ssize_t n;
	unsigned have;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_msg_set_key(&m, "pipe.key", 8, &err), LS_OK);
	m.seq = 9;
	m.shard = 3;
	m.ts_ms = TS_2022 + 7;
	m.payload = (const unsigned char *)payload;
	m.len = strlen(payload);
	assert_int_equal(ls_out_init(&o, fds[1], 100, &err), LS_OK);
	assert_int_equal(ls_line_write(&o, &m, &err), LS_OK);
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	ls_out_free(&o);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 1);
	buf[n] = '\0';
	assert_string_equal(buf,
	    "[2022-01-01T00:00:00.007 | pipe.key | 9 | 3] hello | [world]\n");
	msg_sentinel(&got);
	assert_int_equal(ls_line_parse(buf, (size_t)n - 1, &got, &have, &err),
	    LS_OK);
	assert_int_equal(have, ALL_HAVE);
	assert_int_equal(got.len, m.len);
	assert_memory_equal(got.payload, payload, m.len);
}

/* Every chunk a full buffer hands out, and whether each ended a line. */
struct chunks {
	size_t n, whole, bytes;
	size_t longest_cut;	/* largest chunk that did not end a line */
};

static ssize_t
chunk_write(void *ctx, const void *buf, size_t n)
{
	struct chunks *c = ctx;
	const unsigned char *p = buf;

	c->n++;
	c->bytes += n;
	if (n > 0 && p[n - 1] == '\n')
		c->whole++;
	else if (n > c->longest_cut)
		c->longest_cut = n;
	return (ssize_t)n;
}

/* A full buffer goes out up to its last newline, so that a writer
 * killed between flushes leaves whole lines; only a line longer than
 * the buffer is cut. */
static void
test_write_whole_lines(void **state)
{
	static unsigned char big[200000];
	ls_out o;
	ls_msg m;
	ls_error err;
	struct chunks c = { 0 };
	size_t total = 0;

	(void)state;
	rng_state = 12;
	memset(big, 'x', sizeof(big));
	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_msg_set_key(&m, "k", 1, &err), LS_OK);
	m.ts_ms = TS_2022;
	m.payload = big;
	assert_int_equal(ls_out_init_fn(&o, chunk_write, &c, 65536, &err),
	    LS_OK);
	for (int i = 0; i < 20000; i++) {
		m.seq = (uint64_t)i;
		m.len = (size_t)rng_below(300);
		assert_int_equal(ls_line_write(&o, &m, &err), LS_OK);
	}
	assert_true(c.n > 10);
	assert_int_equal(c.whole, c.n);
	/* a line longer than the buffer goes out in pieces, then whole
	 * lines again */
	m.len = sizeof(big);
	assert_int_equal(ls_line_write(&o, &m, &err), LS_OK);
	m.len = 10;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(ls_line_write(&o, &m, &err), LS_OK);
	assert_true(c.longest_cut > 0 && c.longest_cut <= sizeof(big));
	total = c.bytes + o.len;
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	assert_int_equal(c.bytes, total);
	assert_int_equal(o.total, total);
	ls_out_free(&o);
}

/*
 * The write fast paths: ls__u64_format at every digit count edge against
 * snprintf; a payload of 1 to 40 bytes with one newline, one byte that
 * is not UTF-8, or one valid two-byte character at each position (the
 * one-pass check reads 16 bytes a step, the tail overlapping).
 */
static void
test_write_fast_paths(void **state)
{
	unsigned char buf[40];
	char got[24], want[24];
	ls_out o;
	ls_msg m;
	ls_error err;
	uint64_t p10 = 1;

	(void)state;
	for (int d = 0; d < 20; d++, p10 *= 10) {
		const uint64_t vs[] = { p10 - 1, p10, p10 + 1, 9 * p10,
		    UINT64_MAX - (uint64_t)d };
		for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
			size_t n = ls__u64_format(vs[i], got);
			assert_int_equal(n, (size_t)snprintf(want,
			    sizeof(want), "%llu", (unsigned long long)vs[i]));
			assert_memory_equal(got, want, n);
		}
	}
	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_msg_set_key(&m, "k", 1, &err), LS_OK);
	assert_int_equal(ls_out_init(&o, temp_fd(), 0, &err), LS_OK);
	m.payload = buf;
	for (size_t n = 1; n <= sizeof(buf); n++)
		for (size_t at = 0; at < n; at++) {
			m.len = n;
			memset(buf, 'a', n);
			buf[at] = '\n';
			assert_int_equal(ls_line_write(&o, &m, &err),
			    LS_ERR_NOTLINE);
			assert_string_equal(err.msg, "payload holds a newline");
			buf[at] = 0xff;
			assert_int_equal(ls_line_write(&o, &m, &err),
			    LS_ERR_NOTLINE);
			assert_string_equal(err.msg,
			    "payload is not UTF-8 text");
			assert_false(ls_utf8_valid(buf, n));
			if (at + 1 < n) {
				buf[at] = 0xc3;
				buf[at + 1] = 0xa9;
				assert_true(ls_utf8_valid(buf, n));
				assert_int_equal(ls_line_write(&o, &m, &err),
				    LS_OK);
			}
			o.len = 0;
		}
	ls_out_free(&o);
}

/* Everything written, gathered. */
struct sink {
	char *p;
	size_t n, cap;
};

static ssize_t
sink_write(void *ctx, const void *buf, size_t n)
{
	struct sink *k = ctx;

	if (k->n + n > k->cap) {
		k->cap = (k->n + n) * 2;
		assert_non_null(k->p = realloc(k->p, k->cap));
	}
	memcpy(k->p + k->n, buf, n);
	k->n += n;
	return (ssize_t)n;
}

/*
 * A whole line written in the buffer in one go (the key a 16-byte move
 * up to 16 bytes, the payload copied while checked) or in pieces when
 * the buffer is nearly full: both give what snprintf gives, for keys of
 * every length, seq and shard at digit edges, payloads of 0 to 300
 * bytes, and a refused payload leaves nothing behind.
 */
static void
test_write_one_go(void **state)
{
	static unsigned char pay[300];
	static char key[LS_KEY_MAX + 1], line[1024];
	struct sink got = { 0 }, want = { 0 };
	ls_out o;
	ls_msg m;
	ls_error err;

	(void)state;
	rng_state = 0x1160;
	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_out_init_fn(&o, sink_write, &got, 65536, &err),
	    LS_OK);
	for (int i = 0; i < 30000; i++) {
		size_t kl = 1 + (size_t)i % LS_KEY_MAX;
		uint64_t p10 = 1;
		for (size_t j = 0; j < kl; j++)
			key[j] = key_chars[rng_below(sizeof(key_chars) - 1)];
		assert_int_equal(ls_msg_set_key(&m, key, kl, &err), LS_OK);
		for (uint64_t d = rng_below(20); d > 0; d--)
			p10 *= 10;
		m.seq = p10 - rng_below(2);
		m.shard = i % 3 ? rng_below(12) : rng();
		m.ts_ms = TS_2022 + (uint64_t)i * 37;
		m.len = (size_t)rng_below(sizeof(pay) + 1);
		for (size_t j = 0; j < m.len; j++)
			pay[j] = (unsigned char)(' ' + rng_below(95));
		m.payload = pay;
		if (i % 7 == 0 && m.len > 0) {	/* refused: nothing written */
			pay[rng_below(m.len)] = i % 2 ? '\n' : 0x80;
			assert_int_equal(ls_line_write(&o, &m, &err),
			    LS_ERR_NOTLINE);
			continue;
		}
		char ts[LS_TIME_MAX];
		ls_time_format(m.ts_ms, ts);
		int n = snprintf(line, sizeof(line), "[%s | %s | %llu | %llu] ",
		    ts, m.key, (unsigned long long)m.seq,
		    (unsigned long long)m.shard);
		sink_write(&want, line, (size_t)n);
		sink_write(&want, pay, m.len);
		sink_write(&want, "\n", 1);
		assert_int_equal(ls_line_write(&o, &m, &err), LS_OK);
	}
	assert_int_equal(ls_out_flush(&o, &err), LS_OK);
	assert_int_equal(got.n, want.n);
	assert_memory_equal(got.p, want.p, want.n);
	ls_out_free(&o);
	free(got.p);
	free(want.p);
}

/* A number at a digit count edge: 10^d or 10^d - 1, d of 0 to 19 (the
 * fast path reads up to 7 digits as a word, more in a loop). */
static uint64_t
digit_edge(void)
{
	uint64_t p10 = 1;

	for (uint64_t d = rng_below(20); d > 0; d--)
		p10 *= 10;
	return p10 - rng_below(2);
}

/*
 * ls_line_parse reads the form the library writes in one pass and any
 * other line with the general reader: on lines of that form and on
 * mutations of them (a byte changed, cut, or put in), both give the
 * same result, fields and error alike.
 */
static void
test_parse_fast_path(void **state)
{
	static const char alphabet[] = "0123456789 |[].-:T_kx";
	char line[160];
	ls_msg a, b;
	ls_error ea, eb;
	unsigned ha, hb;
	int ra, rb;

	(void)state;
	rng_state = 0xFA57;
	for (int t = 0; t < 20000; t++) {
		size_t n = (size_t)snprintf(line, sizeof(line),
		    "[2024-0%u-1%uT0%u:1%u:%u%u.%u%u%u | k%u | %llu | %llu] p%u",
		    (unsigned)rng_below(9) + 1, (unsigned)rng_below(10),
		    (unsigned)rng_below(10), (unsigned)rng_below(10),
		    (unsigned)rng_below(6), (unsigned)rng_below(10),
		    (unsigned)rng_below(10), (unsigned)rng_below(10),
		    (unsigned)rng_below(10), (unsigned)rng_below(100),
		    (unsigned long long)(t % 7 == 0 ? UINT64_MAX -
		    rng_below(3) : t % 3 == 0 ? digit_edge() :
		    rng_below(100000)),
		    (unsigned long long)(t % 5 == 0 ? digit_edge() :
		    rng_below(1000)),
		    (unsigned)rng_below(10));
		switch (t % 4) {
		case 1:	/* a byte changed */
			line[rng_below(n)] = alphabet[rng_below(
			    sizeof(alphabet) - 1)];
			break;
		case 2:	/* cut short */
			n = rng_below(n + 1);
			break;
		case 3:	/* a byte put in */
			if (n + 1 < sizeof(line)) {
				size_t at = rng_below(n + 1);
				memmove(line + at + 1, line + at, n - at);
				line[at] = alphabet[rng_below(
				    sizeof(alphabet) - 1)];
				n++;
			}
			break;
		}
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		ra = ls_line_parse(line, n, &a, &ha, &ea);
		if (n > 0 && line[0] == '[')
			rb = ls__line_parse_meta(line, n, &b, &hb, &eb);
		else
			rb = ls_line_parse(line, n, &b, &hb, &eb);
		assert_int_equal(ra, rb);
		if (ra != LS_OK) {
			assert_string_equal(ea.msg, eb.msg);
			continue;
		}
		assert_int_equal(ha, hb);
		if (ha & LS_HAVE_TS)
			assert_true(a.ts_ms == b.ts_ms);
		if (ha & LS_HAVE_KEY)
			assert_string_equal(a.key, b.key);
		if (ha & LS_HAVE_SEQ)
			assert_true(a.seq == b.seq);
		if (ha & LS_HAVE_SHARD)
			assert_true(a.shard == b.shard);
		assert_int_equal(a.len, b.len);
		assert_ptr_equal(a.payload, b.payload);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_examples),
		cmocka_unit_test(test_parse_fast_path),
		cmocka_unit_test(test_parse_not_nul_terminated),
		cmocka_unit_test(test_parse_fraction),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_write_exact),
		cmocka_unit_test(test_write_notline),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_write_pipe),
		cmocka_unit_test(test_write_whole_lines),
		cmocka_unit_test(test_write_fast_paths),
		cmocka_unit_test(test_write_one_go),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
