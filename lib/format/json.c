/* ndjson output: JSON validation with minification, and strings. */
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ls-internal.h"

#define JSON_DEPTH 512

static inline size_t
skip_ws(const unsigned char *p, size_t i, size_t n)
{
	if (i >= n || p[i] > ' ')	/* minified JSON: none */
		return i;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
	    p[i] == '\r'))
		i++;
	return i;
}

/* Moves *i past white space; true if the byte there is c. */
static inline bool
next_is(const unsigned char *p, size_t *i, size_t n, unsigned char c)
{
	if (*i < n && p[*i] == c)
		return true;
	*i = skip_ws(p, *i, n);
	return *i < n && p[*i] == c;
}

static int
hexval(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	return -1;
}

/*
 * The bytes of the 8 at p that are a quote, a backslash or a control
 * character (what a string scan stops at, what escaping changes), as
 * the high bit of each: the classic "has a zero byte" tests, exact for
 * whether any byte matches; a borrow may mark bytes above the lowest
 * marked one too, so only that one is sure (read little-endian).
 */
static inline uint64_t
special8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t v, q, b;

	memcpy(&v, p, sizeof(v));
	q = v ^ (ones * '"');
	b = v ^ (ones * '\\');
	return (((q - ones) & ~q) | ((b - ones) & ~b) |
	    ((v - ones * 0x20) & ~v)) & high;
}

#ifdef __SSE2__
/* As special8, 16 bytes: bit k of the result marks p[k]. */
static inline unsigned
special16(const unsigned char *p)
{
	const __m128i x = _mm_loadu_si128((const __m128i *)p);
	const __m128i ctl = _mm_set1_epi8(0x1f);
	__m128i m = _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl);

	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* As special8, bytes above 0x7F marked too: a string scan checks each
 * UTF-8 sequence from its first byte. */
static inline uint64_t
special8_utf8(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return special8(p) | (v & 0x8080808080808080ULL);
}

#ifdef __SSE2__
/* 0xFF for each of the 16 bytes of v that is a backslash, a control
 * character or above 0x7F: with the quotes, what stop16 marks. */
static inline __m128i
escapes16(__m128i v)
{
	/* signed: below 0x20 takes the bytes above 0x7F too */
	return _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
	    _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
}

/* As special16, bytes above 0x7F marked too (see special8_utf8). */
static inline unsigned
stop16(const unsigned char *p)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)p);

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(escapes16(v),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
}
#endif

/* How many bytes of the 8 at p come before the first that special8
 * marks (m, not 0); 0 where the byte order does not tell. */
static inline size_t
plain_run(uint64_t m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(m) / 8;
#else
	(void)m;
	return 0;
#endif
}

/* The index of the first byte from p[i] that a string scan must look
 * at (a quote, a backslash, a control character or a byte above 0x7F),
 * or n: sixteen bytes a compare where SSE2 is, then eight a word. */
static inline size_t
plain_skip(const unsigned char *p, size_t i, size_t n)
{
#ifdef __SSE2__
	unsigned bits;

	for (; i + 16 <= n; i += 16)
		if ((bits = stop16(p + i)) != 0)
			return i + (size_t)__builtin_ctz(bits);
	/* the rest: the 16 bytes that end at n, those before i shifted out */
	if (i < n && n >= 16) {
		bits = stop16(p + n - 16) >> (16 - (n - i));
		return bits != 0 ? i + (size_t)__builtin_ctz(bits) : n;
	}
#endif
	for (; i + 8 <= n; i += 8) {
		uint64_t m = special8_utf8(p + i);
		if (m != 0)
			return i + plain_run(m);
	}
	return i;
}

/* Scans a string starting at the quote p[i]; returns the index after the
 * closing quote or 0 if invalid, UTF-8 included: the scan is the
 * validation (outside strings, JSON has no byte above 0x7F). */
static size_t
scan_string(const unsigned char *p, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		i = plain_skip(p, i, n);
		if (i >= n)
			return 0;
		unsigned c = p[i];
		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c >= 0x80) {
			size_t k = ls__utf8_seq(p, i, n);
			if (k == 0)
				return 0;
			i += k - 1;
			continue;
		}
		if (c == '\\') {
			if (++i >= n)
				return 0;
			switch (p[i]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				break;
			case 'u':
				if (i + 4 >= n)
					return 0;
				for (int k = 1; k <= 4; k++)
					if (hexval(p[i + k]) < 0)
						return 0;
				i += 4;
				break;
			default:
				return 0;
			}
		}
	}
	return 0;
}

#ifdef __SSE2__
/* A bit for each of the 16 bytes at p that is not a digit. */
static inline unsigned
nondigits16(const unsigned char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	/* signed: below '0' takes the bytes above 0x7F too */
	__m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8('0')),
	    _mm_cmpgt_epi8(v, _mm_set1_epi8('9')));

	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* The index of the first byte from p[i] that is not a digit, or n. */
static inline size_t
digits_end(const unsigned char *p, size_t i, size_t n)
{
#ifdef __SSE2__
	if (i + 16 <= n) {
		unsigned bits = nondigits16(p + i);
		if (bits != 0)
			return i + (size_t)__builtin_ctz(bits);
		i += 16;
	}
#endif
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	return i;
}

static size_t
scan_number(const unsigned char *p, size_t i, size_t n)
{
	if (i < n && p[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (p[i] == '0')
		i++;
	else if (p[i] >= '1' && p[i] <= '9')
		i = digits_end(p, i + 1, n);
	else
		return 0;
	if (i < n && p[i] == '.') {
		size_t s = ++i;
		if ((i = digits_end(p, i, n)) == s)
			return 0;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t s = i;
		if ((i = digits_end(p, i, n)) == s)
			return 0;
	}
	return i;
}

/* The index after a string whose bytes up to p[i] are the quote or
 * plain, or 0 if invalid: plain bytes skipped in one go, the rest (an
 * escape, a byte above 0x7F) through scan_string. */
static size_t
string_rest(const unsigned char *p, size_t i, size_t n)
{
	size_t j = plain_skip(p, i + 1, n);

	if (j < n && p[j] == '"')
		return j + 1;
	return scan_string(p, j - 1, n);
}

/* The index after the string at the quote p[i], or 0 if invalid: one
 * step for a short string of plain bytes. */
static inline __attribute__((always_inline)) size_t
string_end(const unsigned char *p, size_t i, size_t n)
{
#ifdef __SSE2__
	if (i + 17 <= n) {
		unsigned bits = stop16(p + i + 1);
		size_t j = i + 1 + (size_t)__builtin_ctz(bits | 0x10000);
		if (bits == 0)
			return string_rest(p, i + 16, n);
		return p[j] == '"' ? j + 1 : scan_string(p, j - 1, n);
	}
#endif
	return string_rest(p, i, n);
}

/* As string_end, for a key: *plain tells that it ended in the first
 * step, so that its bytes need no unescaping (no backslash, no byte
 * above 0x7F, and as valid JSON no NUL). */
static inline __attribute__((always_inline)) size_t
key_end(const unsigned char *p, size_t i, size_t n, bool *plain)
{
#ifdef __SSE2__
	if (i + 17 <= n) {
		unsigned bits = stop16(p + i + 1);
		size_t j = i + 1 + (size_t)__builtin_ctz(bits | 0x10000);
		if (bits != 0 && p[j] == '"') {
			*plain = true;
			return j + 1;
		}
	}
#endif
	*plain = false;
	return string_end(p, i, n);
}

/* Scans an object member's key and colon at p[*i], copying them to out
 * (if not NULL) at *o. */
static inline __attribute__((always_inline)) bool
member_key(const unsigned char *p, size_t *i, size_t n, unsigned char *out,
    size_t *o)
{
	size_t e;

	if (*i >= n || p[*i] != '"' || (e = string_end(p, *i, n)) == 0)
		return false;
	if (out)
		memcpy(out + *o, p + *i, e - *i);
	*o += e - *i;
	*i = e;
	if (!next_is(p, i, n, ':'))
		return false;
	if (out)
		out[*o] = ':';
	(*o)++;
	(*i)++;
	return true;
}

/* The index after the scalar (string, number, true, false or null) at
 * p[i], or 0 if there is none there. */
static inline __attribute__((always_inline)) size_t
scalar_end(const unsigned char *p, size_t i, size_t n)
{
	switch (p[i]) {
	case '"':
		return string_end(p, i, n);
	case 't':
		return n - i >= 4 && memcmp(p + i, "true", 4) == 0 ? i + 4 : 0;
	case 'f':
		return n - i >= 5 && memcmp(p + i, "false", 5) == 0 ? i + 5 : 0;
	case 'n':
		return n - i >= 4 && memcmp(p + i, "null", 4) == 0 ? i + 4 : 0;
	}
	return scan_number(p, i, n);
}

/*
 * Validates the JSON value at p[i] (white space before it allowed),
 * nested at most limit deep. If out is not NULL, the value is copied
 * there at *o without insignificant white space; *o counts the bytes
 * either way. Returns the index after the value, 0 if invalid.
 */
static inline __attribute__((always_inline)) size_t
json_value(const unsigned char *p, size_t i, size_t n, size_t limit,
    unsigned char *out, size_t *o)
{
	unsigned char stack[JSON_DEPTH];
	size_t depth = 0, e;
	enum { VALUE, AFTER } st = VALUE;

#define EMIT(src, len) do { \
	if (out) memcpy(out + *o, (src), (len)); \
	*o += (len); \
} while (0)

	for (;;) {
		if (st == AFTER && depth == 0)
			return i;
		i = skip_ws(p, i, n);
		if (st == VALUE) {
			if (i >= n)
				return 0;
			unsigned c = p[i];
			if (c == '{' || c == '[') {
				if (depth == limit)
					return 0;
				stack[depth++] = (unsigned char)c;
				EMIT(p + i, 1);
				i = skip_ws(p, i + 1, n);
				if (i < n && p[i] == (c == '{' ? '}' : ']')) {
					depth--;
					EMIT(p + i, 1);
					i++;
					st = AFTER;
					continue;
				}
				if (c == '{' && !member_key(p, &i, n, out, o))
					return 0;
				continue;
			}
			if ((e = scalar_end(p, i, n)) == 0)
				return 0;
			EMIT(p + i, e - i);
			i = e;
			st = AFTER;
			continue;
		}
		/* AFTER a value */
		if (i >= n)
			return 0;
		unsigned top = stack[depth - 1];
		if (p[i] == ',') {
			EMIT(p + i, 1);
			i = skip_ws(p, i + 1, n);
			if (top == '{' && !member_key(p, &i, n, out, o))
				return 0;
			st = VALUE;
		} else if (p[i] == (top == '{' ? '}' : ']')) {
			EMIT(p + i, 1);
			i++;
			depth--;
		} else
			return 0;
	}
#undef EMIT
}

/*
 * Validates p[0..n) as one JSON value. If out is not NULL, the value is
 * copied there without insignificant white space; out must hold n bytes.
 * Returns the length written (or n when out is NULL) plus one, 0 if
 * invalid.
 */
static inline __attribute__((always_inline)) size_t
json_scan(const unsigned char *p, size_t n, unsigned char *out)
{
	size_t o = 0, e = json_value(p, 0, n, JSON_DEPTH, out, &o);

	return e != 0 && skip_ws(p, e, n) == n ? o + 1 : 0;
}

LS_API bool
ls_json_valid(const unsigned char *p, size_t n)
{
	return json_scan(p, n, NULL) != 0;
}

static const char hexdig[] = "0123456789abcdef";

/* Escapes the byte c into d; returns the bytes written. */
static inline size_t
escape_byte(unsigned char *d, unsigned c)
{
	if (c >= 0x20 && c != '"' && c != '\\') {
		*d = (unsigned char)c;
		return 1;
	}
	d[0] = '\\';
	switch (c) {
	case '"': d[1] = '"'; return 2;
	case '\\': d[1] = '\\'; return 2;
	case '\n': d[1] = 'n'; return 2;
	case '\r': d[1] = 'r'; return 2;
	case '\t': d[1] = 't'; return 2;
	case '\b': d[1] = 'b'; return 2;
	case '\f': d[1] = 'f'; return 2;
	}
	memcpy(d + 1, "u00", 3);
	d[4] = (unsigned char)hexdig[c >> 4];
	d[5] = (unsigned char)hexdig[c & 15];
	return 6;
}

/* Escapes p[0..n) into dst, which holds 6 * n bytes; returns length.
 * Eight bytes are read at a time: the plain ones before the first that
 * needs escaping are copied whole. */
static size_t
escape(unsigned char *dst, const unsigned char *p, size_t n)
{
	unsigned char *d = dst;
	size_t i = 0;

#ifdef __SSE2__
	while (i + 16 <= n) {
		unsigned m = special16(p + i);
		_mm_storeu_si128((__m128i *)d,
		    _mm_loadu_si128((const __m128i *)(p + i)));
		if (m == 0) {
			d += 16;
			i += 16;
			continue;
		}
		d += (unsigned)__builtin_ctz(m);
		i += (unsigned)__builtin_ctz(m);
		d += escape_byte(d, p[i++]);
	}
#endif
	while (i + 8 <= n) {
		uint64_t m = special8(p + i);
		size_t k;
		memcpy(d, p + i, 8);
		if (m == 0) {
			d += 8;
			i += 8;
			continue;
		}
		k = plain_run(m);
		d += k;
		d += escape_byte(d, p[i + k]);
		i += k + 1;
	}
	for (; i < n; i++)
		d += escape_byte(d, p[i]);
	return (size_t)(d - dst);
}

size_t
ls__json_quote(unsigned char *dst, const unsigned char *p, size_t n)
{
	unsigned char *d = dst;

	*d++ = '"';
	if (ls_utf8_valid(p, n))
		d += escape(d, p, n);
	else
		for (size_t i = 0; i < n; i++) {
			if (p[i] < 0x80) {
				d += escape(d, p + i, 1);
				continue;
			}
			/* a Latin-1 character */
			memcpy(d, "\\u00", 4);
			d[4] = (unsigned char)hexdig[p[i] >> 4];
			d[5] = (unsigned char)hexdig[p[i] & 15];
			d += 6;
		}
	*d++ = '"';
	return (size_t)(d - dst);
}

LS_API int
ls_json_write_string(ls_out *o, const unsigned char *p, size_t n,
    ls_error *err)
{
	/* in pieces small enough for the buffer */
	const size_t piece = (o->cap - 2) / 6;
	unsigned char *d;
	int rc;

	if ((rc = ls_out_write(o, "\"", 1, err)) != LS_OK)
		return rc;
	while (n > 0) {
		size_t k = n < piece ? n : piece;
		if ((d = ls__out_reserve(o, 6 * k, err)) == NULL)
			return err ? err->code : LS_ERR_IO;
		o->len += escape(d, p, k);
		p += k;
		n -= k;
	}
	return ls_out_write(o, "\"", 1, err);
}

static int
write_bytes(ls_out *o, const unsigned char *p, size_t n, ls_error *err)
{
	int rc;

	if ((rc = ls_out_write(o, "[", 1, err)) != LS_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char *d = ls__out_reserve(o, 4, err);
		unsigned c = p[i];
		if (d == NULL)
			return err ? err->code : LS_ERR_IO;
		if (i > 0)
			*d++ = ',', o->len++;
		if (c >= 100)
			*d++ = (unsigned char)('0' + c / 100), o->len++;
		if (c >= 10)
			*d++ = (unsigned char)('0' + c / 10 % 10), o->len++;
		*d = (unsigned char)('0' + c % 10);
		o->len++;
	}
	return ls_out_write(o, "]", 1, err);
}

static int
write_payload(ls_out *o, const unsigned char *p, size_t n, ls_error *err)
{
	if (!ls_utf8_valid(p, n))
		return write_bytes(o, p, n, err);
	if (n > 0 && n <= o->cap) {
		unsigned char *d = ls__out_reserve(o, n, err);
		size_t len;
		if (d == NULL)
			return err ? err->code : LS_ERR_IO;
		if ((len = json_scan(p, n, d)) != 0) {
			o->len += len - 1;
			return LS_OK;
		}
	} else if (n > 0) {
		/* larger than the buffer: minify into a scratch copy */
		unsigned char *tmp = malloc(n);
		size_t len;
		int rc;
		if (tmp == NULL)
			return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		if ((len = json_scan(p, n, tmp)) != 0) {
			rc = ls_out_write(o, tmp, len - 1, err);
			free(tmp);
			return rc;
		}
		free(tmp);
	}
	return ls_json_write_string(o, p, n, err);
}

LS_API int
ls_json_write(ls_out *o, const ls_msg *m, unsigned flags, ls_error *err)
{
	unsigned char *d = ls__out_reserve(o, 160 + m->key_len, err);
	char *s;
	int rc;

	if (d == NULL)
		return err ? err->code : LS_ERR_IO;
	s = (char *)d;
#define LIT(str) (memcpy(s, str, sizeof(str) - 1), s += sizeof(str) - 1)
	LIT("{\"header\":{\"stream_key\":\"");
	memcpy(s, m->key, m->key_len);
	s += m->key_len;
	LIT("\",\"shard_id\":");
	s += ls__u64_format(m->shard, s);
	LIT(",\"sequence\":");
	s += ls__u64_format(m->seq, s);
	LIT(",\"timestamp\":\"");
	s += ls_time_format(m->ts_ms, s);
	if (flags & LS_JSON_NO_PAYLOAD) {
		LIT("\"}}\n");
		o->len += (size_t)((unsigned char *)s - d);
		return LS_OK;
	}
	LIT("\"},\"payload\":");
#undef LIT
	o->len += (size_t)((unsigned char *)s - d);
	if ((rc = write_payload(o, m->payload, m->len, err)) != LS_OK)
		return rc;
	return ls_out_write(o, "}\n", 2, err);
}

/* --- payload fields ---------------------------------------------------- */

/* Appends code point c to out as UTF-8; returns the length (0 for a
 * surrogate, which no UTF-8 name can hold). */
static size_t
utf8_put(unsigned char *out, unsigned long c)
{
	if (c < 0x80) {
		out[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (unsigned char)(0xc0 | c >> 6);
		out[1] = (unsigned char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c >= 0xd800 && c <= 0xdfff)
		return 0;
	if (c < 0x10000) {
		out[0] = (unsigned char)(0xe0 | c >> 12);
		out[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | c >> 18);
	out[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (c & 0x3f));
	return 4;
}

static unsigned long
hex4(const unsigned char *p)
{
	unsigned long v = 0;

	for (int k = 0; k < 4; k++)
		v = v << 4 | (unsigned long)hexval(p[k]);
	return v;
}

/* Decodes the character at k[*i] of a valid string body k[0..n) into
 * u (up to 4 bytes), moving *i past it; returns its length, 0 for a
 * lone surrogate or a cut escape. */
static size_t
unescape_one(const unsigned char *k, size_t n, size_t *i, unsigned char *u)
{
	unsigned long c;

	if (k[*i] != '\\') {
		u[0] = k[(*i)++];
		return 1;
	}
	if (*i + 1 >= n)
		return 0;
	switch (k[*i + 1]) {
	case 'b': u[0] = '\b'; break;
	case 'f': u[0] = '\f'; break;
	case 'n': u[0] = '\n'; break;
	case 'r': u[0] = '\r'; break;
	case 't': u[0] = '\t'; break;
	case 'u': break;
	default: u[0] = k[*i + 1]; break;	/* " \ / */
	}
	if (k[*i + 1] != 'u') {
		*i += 2;
		return 1;
	}
	if (n - *i < 6)
		return 0;
	c = hex4(k + *i + 2);
	*i += 6;
	if (c >= 0xd800 && c <= 0xdbff && n - *i >= 6 && k[*i] == '\\' &&
	    k[*i + 1] == 'u') {
		unsigned long lo = hex4(k + *i + 2);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			*i += 6;
		}
	}
	return utf8_put(u, c);
}

/* True if the string body k[0..n) (valid JSON, between the quotes)
 * unescapes to the name s[0..len). */
static bool
key_equals(const unsigned char *k, size_t n, const unsigned char *s,
    size_t len)
{
	unsigned char u[4];
	size_t i = 0, ulen;

	if (memchr(k, '\\', n) == NULL)	/* nothing to unescape */
		return n == len && memcmp(k, s, n) == 0;
	while (i < n) {
		if ((ulen = unescape_one(k, n, &i, u)) == 0 || ulen > len ||
		    memcmp(s, u, ulen) != 0)
			return false;
		s += ulen;
		len -= ulen;
	}
	return len == 0;
}

LS_API size_t
ls_json_unescape(const unsigned char *p, size_t n, unsigned char *out)
{
	size_t i = 0, len = 0, ulen;
	unsigned char u[4];

	while (i < n) {
		if ((ulen = unescape_one(p, n, &i, u)) == 0)
			return SIZE_MAX;
		memcpy(out + len, u, ulen);
		len += ulen;
	}
	return len;
}

/* Returns the index after the value at p[i] (of a document already
 * validated), or 0. */
static size_t
skip_value(const unsigned char *p, size_t i, size_t n)
{
	size_t depth = 0;

	if (i >= n)
		return 0;
	if (p[i] != '{' && p[i] != '[' && p[i] != '"') {
		while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' &&
		    p[i] != ' ' && p[i] != '\t' && p[i] != '\n' &&
		    p[i] != '\r')
			i++;
		return i;
	}
	while (i < n) {
		switch (p[i]) {
		case '"':
			if ((i = scan_string(p, i, n)) == 0)
				return 0;
			if (depth == 0)
				return i;
			continue;
		case '{': case '[':
			depth++;
			break;
		case '}': case ']':
			if (depth == 0)
				return 0;
			if (--depth == 0)
				return i + 1;
			break;
		}
		i++;
	}
	return 0;
}

/* A member's name: its bytes and their count. */
struct field_name {
	const unsigned char *s;
	size_t len;
};

/* True if the n bytes at a and b are the same, for a short n: two
 * loads a side (overlapping where n is not a power of two) rather than
 * a call (a field's key is compared with the name in every lookup). */
static inline __attribute__((always_inline)) bool
same_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
	uint64_t x, y, z, w;
	uint32_t x4, y4, z4, w4;

	if (n >= 8 && n <= 16) {
		memcpy(&x, a, 8), memcpy(&y, b, 8);
		memcpy(&z, a + n - 8, 8), memcpy(&w, b + n - 8, 8);
		return ((x ^ y) | (z ^ w)) == 0;
	}
	if (n >= 4 && n < 8) {
		memcpy(&x4, a, 4), memcpy(&y4, b, 4);
		memcpy(&z4, a + n - 4, 4), memcpy(&w4, b + n - 4, 4);
		return ((x4 ^ y4) | (z4 ^ w4)) == 0;
	}
	return memcmp(a, b, n) == 0;
}

/* True if the key body k[0..n) (a valid JSON string's) unescapes to the
 * name: byte for byte if plain (see key_end), else by key_equals. */
static inline __attribute__((always_inline)) bool
field_named(const unsigned char *k, size_t n, const struct field_name *name,
    bool plain)
{
	if (!plain)
		return key_equals(k, n, name->s, name->len);
	return n == name->len && same_bytes(k, name->s, n);
}

/* The index after the object or array at p[i], nested at most limit
 * deep, or 0 if invalid. */
static size_t
nested_end(const unsigned char *p, size_t i, size_t n, size_t limit)
{
	size_t o = 0;

	return json_value(p, i, n, limit, NULL, &o);
}

size_t
ls__json_value_end(const unsigned char *p, size_t i, size_t n)
{
	return nested_end(p, i, n, JSON_DEPTH);
}

#ifdef __SSE2__
/*
 * The quotes in the first QUOTE_MAX bytes of a payload, as bits: bit k
 * of q0 or q1 for p[k] or p[64 + k]. Where none of those bytes is a
 * backslash, a control character (white space other than the space
 * included) or above 0x7F, every string that starts and ends among them
 * is the bytes between one quote and the next, valid as they are: a scan
 * steps from quote to quote with bit operations, where string_end waits
 * for a load and a compare of each string's bytes before it can go on
 * (perf of ls_json_field on partition's 100-byte objects: that wait was
 * most of its time; the quotes first took 37 ns an object down to 27).
 */
#define QUOTE_MAX 128
struct quotes {
	uint64_t q0, q1;
};

/* The quotes of the 16 bytes at p as bits; their escapes16 into *bad. */
static inline __attribute__((always_inline)) uint64_t
quote_bits(const unsigned char *p, __m128i *bad)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)p);

	*bad = _mm_or_si128(*bad, escapes16(v));
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v,
	    _mm_set1_epi8('"')));
}

/* The quotes of p[0..w), w <= 64, as the bits of a word, 16 bytes a
 * compare (the last the 16 that end at w, the quotes of those before
 * shifted out: where w is below 16 these start before p, and must be
 * the caller's); their escapes16 into *bad. */
static inline __attribute__((always_inline)) uint64_t
quote_word(const unsigned char *p, size_t w, __m128i *bad)
{
	uint64_t q = 0;
	size_t b;

	for (b = 0; b < w / 16; b++)
		q |= quote_bits(p + 16 * b, bad) << 16 * b;
	if (w % 16 != 0)	/* bytes before w - 16 looked at twice */
		q |= quote_bits(p + w - 16, bad) >> (16 - w % 16) << 16 * b;
	return q;
}

/* Fills qs for p[0..w), 16 <= w <= QUOTE_MAX; false if a byte there
 * rules the stepping out. Each word's bits are put together as they
 * come, the first 64 bytes of a longer payload in four fixed compares
 * (an array of the eight blocks' bits, stored and then gathered, took
 * 40 instructions more of a lookup in make bench's 98-byte objects). */
static inline __attribute__((always_inline)) bool
quotes_find(struct quotes *qs, const unsigned char *p, size_t w)
{
	__m128i bad = _mm_setzero_si128();

	if (w >= 64) {
		qs->q0 = quote_bits(p, &bad) | quote_bits(p + 16, &bad) << 16 |
		    quote_bits(p + 32, &bad) << 32 |
		    quote_bits(p + 48, &bad) << 48;
		qs->q1 = quote_word(p + 64, w - 64, &bad);
	} else {
		qs->q0 = quote_word(p, w, &bad);
		qs->q1 = 0;
	}
	return _mm_movemask_epi8(bad) == 0;
}

/* The index after the next quote after p[i] among those of qs, or 0 if
 * there is none (the string goes on past them, or never ends). */
static inline __attribute__((always_inline)) size_t
quote_after(const struct quotes *qs, size_t i)
{
	size_t k = i + 1;
	uint64_t m;

	if (k < 64) {
		if ((m = qs->q0 >> k) != 0)
			return k + (size_t)__builtin_ctzll(m) + 1;
		return qs->q1 != 0 ? 65 + (size_t)__builtin_ctzll(qs->q1) : 0;
	}
	if (k >= QUOTE_MAX || (m = qs->q1 >> (k - 64)) == 0)
		return 0;
	return k + (size_t)__builtin_ctzll(m) + 1;
}

/* The index of the lowest quote bit of qs; QUOTE_NONE if none is left. */
#define QUOTE_NONE 255
static inline __attribute__((always_inline)) size_t
quote_next(const struct quotes *qs)
{
	if (qs->q0 != 0)
		return (size_t)__builtin_ctzll(qs->q0);
	return qs->q1 != 0 ? 64 + (size_t)__builtin_ctzll(qs->q1) : QUOTE_NONE;
}

/* As quote_next, the bit taken out. */
static inline __attribute__((always_inline)) size_t
quote_pop(struct quotes *qs)
{
	size_t b = quote_next(qs);

	if (qs->q0 != 0)
		qs->q0 &= qs->q0 - 1;
	else
		qs->q1 &= qs->q1 - 1;
	return b;
}

/* True if p[s..e) is a number of digits alone, 0 only by itself, in
 * one 16-byte compare (e - s <= 16, and p has 16 bytes from s); false
 * says nothing (scan_number decides). */
static inline __attribute__((always_inline)) bool
digits_only(const unsigned char *p, size_t s, size_t e, size_t n)
{
	if (e - s > 16 || s + 16 > n || (p[s] == '0' && e - s > 1))
		return false;
	return (size_t)__builtin_ctz(nondigits16(p + s) | 0x10000) >= e - s;
}

/*
 * The members of a flat object, {"k":v,...} with no white space and no
 * object or array as a value, that is all of p[0..n) (n <= QUOTE_MAX),
 * with qs its quotes and no byte ruled out (quotes_find). The quotes
 * alone then tell where each string ends, and where a number or literal
 * ends too: at the comma before the next key's quote, or at the closing
 * brace. So the walk takes quote after quote from the bits and only
 * checks the bytes between them (the colon after a key, the comma after
 * a value), where members_find also steps past white space that is not
 * there and sorts each value by its first byte before it can go on
 * (partition --key field on 100-byte objects: 124 ms a million without
 * any lookup 100; this walk took a lookup from 21 to 19 ns alone, 3 ms
 * of partition's time). Sets *v and *e as members_find does for the
 * members it has walked. Returns 0 once it has walked them all, else
 * the index of the first member that is not of that shape, for
 * members_find to go on from (what came before it is valid).
 */
static inline __attribute__((always_inline)) size_t
flat_find(const unsigned char *p, size_t n, struct quotes qs,
    const struct field_name *name, size_t *v, size_t *e)
{
	size_t i = 1;	/* p[0] is the brace */

	for (;;) {
		size_t k = quote_pop(&qs), c = quote_pop(&qs), s, end;

		/* the key, from p[i] to the quote p[c], then the colon */
		if (k != i || c + 2 >= n || p[c + 1] != ':')
			return i;
		s = c + 2;
		if (p[s] == '"') {
			(void)quote_pop(&qs);	/* p[s]: the next one */
			end = quote_pop(&qs) + 1;
		} else {
			/* ends at the comma before the next key's quote, or
			 * at the brace: digits alone in one compare, else
			 * scanned up to n, not end, so that its digits go 16
			 * a compare (it stops at that comma) */
			size_t q = quote_next(&qs);
			end = q != QUOTE_NONE ? q - 1 : n - 1;
			if (end <= s || (!digits_only(p, s, end, n) &&
			    scalar_end(p, s, n) != end))
				return i;
		}
		if (end >= n || (p[end] != ',' &&
		    (p[end] != '}' || end + 1 != n)))
			return i;
		if (*v == 0 && field_named(p + k + 1, c - k - 1, name, true))
			*v = s, *e = end;
		if (p[end] == '}')
			return 0;
		i = end + 1;
	}
}
#else
struct quotes;
#endif

/* The index after the string at the quote p[i] as string_end finds it
 * (key_end for a key, with plain not NULL), from the quotes of qs where
 * it is not NULL and they hold the string's end. */
static inline __attribute__((always_inline)) size_t
quoted_end(const unsigned char *p, size_t i, size_t n,
    const struct quotes *qs, bool *plain)
{
#ifdef __SSE2__
	size_t e;

	if (qs != NULL && (e = quote_after(qs, i)) != 0) {
		if (plain != NULL)
			*plain = true;
		return e;
	}
#else
	(void)qs;
#endif
	if (plain != NULL)
		return key_end(p, i, n, plain);
	return string_end(p, i, n);
}

/*
 * Scans the members of an object from the first one's key at p[i] to
 * its closing brace, validating them, and looks for name among their keys:
 * the first member so named has its value at p[*v..*e) (*v is 0 until
 * then). Strings end where quoted_end finds with qs. Returns the index
 * after the brace, 0 if invalid.
 */
static inline __attribute__((always_inline)) size_t
members_find(const unsigned char *p, size_t i, size_t n,
    const struct field_name *name, size_t *v, size_t *e,
    const struct quotes *qs)
{
	for (;;) {
		size_t k = i, end;
		bool hit, plain;

		if (i >= n || p[i] != '"' ||
		    (i = quoted_end(p, i, n, qs, &plain)) == 0)
			return 0;
		hit = *v == 0 && field_named(p + k + 1, i - k - 2, name, plain);
		if (!next_is(p, &i, n, ':'))
			return 0;
		if ((i = skip_ws(p, i + 1, n)) >= n)
			return 0;
		if (p[i] == '{' || p[i] == '[')
			end = nested_end(p, i, n, JSON_DEPTH - 1);
		else if (p[i] == '"')
			end = quoted_end(p, i, n, qs, NULL);
		else
			end = scalar_end(p, i, n);
		if (end == 0)
			return 0;
		if (hit)
			*v = i, *e = end;
		i = end;
		if (!next_is(p, &i, n, ','))
			return i < n && p[i] == '}' ? i + 1 : 0;
		i = skip_ws(p, i + 1, n);
	}
}

LS_API int
ls_json_field(const unsigned char *p, size_t n, const char *name,
    const unsigned char **val, size_t *len)
{
	return ls_json_field_n(p, n, name, strlen(name), val, len);
}

LS_API int
ls_json_field_n(const unsigned char *p, size_t n, const char *name,
    size_t name_len, const unsigned char **val, size_t *len)
{
	size_t i = skip_ws(p, 0, n), v = 0, e = 0;
	struct field_name f = { (const unsigned char *)name, name_len };

	/* not an object, or an empty one: no such member, valid or not */
	if (i >= n || p[i] != '{')
		return LS_END;
	if ((i = skip_ws(p, i + 1, n)) < n && p[i] == '}')
		return LS_END;
	/* one pass validates (UTF-8 too) and finds the member; as it
	 * goes, from the first bytes' quotes where they allow */
#ifdef __SSE2__
	struct quotes qs;
	if (n >= 16 && quotes_find(&qs, p, n < QUOTE_MAX ? n : QUOTE_MAX)) {
		/* a flat object's members in one walk, the rest (or all)
		 * in the other */
		if (n <= QUOTE_MAX && i == 1)
			i = flat_find(p, n, qs, &f, &v, &e);
		i = i == 0 ? n : members_find(p, skip_ws(p, i, n), n, &f,
		    &v, &e, &qs);
	} else
#endif
		i = members_find(p, i, n, &f, &v, &e, NULL);
	if (i == 0 || v == 0 || skip_ws(p, i, n) != n)
		return LS_END;
	if (p[v] == '"') {
		*val = p + v + 1;
		*len = e - v - 2;
	} else {
		*val = p + v;
		*len = e - v;
	}
	return LS_OK;
}

LS_API int
ls_json_array_next(const unsigned char *p, size_t n, size_t *pos,
    const unsigned char **val, size_t *len)
{
	size_t i = skip_ws(p, *pos, n), e;

	if (i >= n)
		return LS_END;
	if (*pos == 0) {
		if (p[i] != '[')
			return LS_ERR_INVAL;
		i = skip_ws(p, i + 1, n);
	} else if (p[i] == ',')
		i = skip_ws(p, i + 1, n);
	if (i >= n || p[i] == ']')
		return LS_END;
	if ((e = skip_value(p, i, n)) == 0)
		return LS_ERR_INVAL;
	*val = p + i;
	*len = e - i;
	*pos = e;
	return LS_OK;
}
