/* Line framing: "[timestamp | key | seq | shard] payload". */
#include "ls-internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* How many of the 8 bytes of w (the first lowest) lead as digits; their
 * values in *v if 1 to 7 do. Each byte of t is a digit's value when
 * below 10; t + 6 flags 10 to 15, and a carry out of a byte of 0xfa
 * or more can only flag bytes after that one, which is not a digit. */
__attribute__((always_inline)) static inline unsigned
swar_digits(uint64_t w, uint64_t *v)
{
	uint64_t t = w ^ 0x3030303030303030u,
	    nd = (t | (t + 0x0606060606060606u)) & 0xf0f0f0f0f0f0f0f0u;
	unsigned n = nd ? (unsigned)__builtin_ctzll(nd) / 8 : 8;

	if (n - 1 < 7) {	/* the digits moved up, zeros before them */
		t <<= 64 - 8 * n;
		t = (t * 2561) >> 8;
		t = ((t & 0x00ff00ff00ff00ffu) * 6553601) >> 16;
		*v = ((t & 0x0000ffff0000ffffu) * 42949672960001u) >> 32;
	}
	return n;
}

/* The digits at *p, before e, as ls_u64_parse reads them; *p moves
 * past them. Up to 7 are read as one word when 8 bytes are there; up
 * to 19 are summed in a loop (they cannot overflow); none or a 20th
 * goes to ls_u64_parse for its check. With one1, a single digit is
 * looked for first (a shard, mostly). callgrind of partition -n 4: 61
 * instructions for a sequence of 5 digits in the loop alone. */
__attribute__((always_inline)) static inline bool
digits_at(const char **p, const char *e, uint64_t *v, bool one1)
{
	const char *s = *p, *q = s;
	uint64_t x = 0;
	unsigned d;

	if (one1 && e - s >= 2 && (d = (unsigned)(unsigned char)s[0] - '0') <= 9 &&
	    (unsigned)(unsigned char)s[1] - '0' > 9) {
		*v = d;
		*p = s + 1;
		return true;
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (e - s >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		d = swar_digits(w, v);
		if (d - 1 < 7) {
			*p = s + d;
			return true;
		}
	}
#endif
	while (q < e && (d = (unsigned)(unsigned char)*q - '0') <= 9) {
		x = x * 10 + d;
		q++;
	}
	*p = q;
	if (q - s > 19 || q == s)
		return ls_u64_parse(s, (size_t)(q - s), v) == LS_OK;
	*v = x;
	return true;
}

/* Copies the key k[0..n) of a line that goes on to e to m->key: a
 * short one as a move of 8 or 16 bytes (" | S | H]" follows it), not
 * a call. */
static void
key_copy(ls_msg *m, const char *k, size_t n, const char *e)
{
	if (n <= 8)
		memcpy(m->key, k, 8);
	else if (n <= 16 && e - k >= 16)
		memcpy(m->key, k, 16);
	else
		memcpy(m->key, k, n);
	m->key[n] = '\0';
	m->key_len = n;
}

/*
 * The form this library writes, "[YYYY-MM-DDTHH:MM:SS.mmm | KEY | SEQ |
 * SHARD] ", read in one pass; false for any other line, which the
 * general parser then reads (to the same fields where this one reads
 * them). The key is checked as it is scanned. callgrind of partition
 * -n 4: five memchr calls, trimming and a field loop took 500
 * instructions a line before; 370 with a scan to the space after the
 * key, then its check.
 */
static bool
parse_written(const char *line, size_t len, ls_msg *m)
{
	const char *e = line + len, *k = line + 27, *p = k;
	uint64_t ts, seq, shard;
	size_t kn;

	if (len < 36 || memcmp(line + 24, " | ", 3) != 0 ||
	    (!ls__time_kept(line + 1, &ts) &&
	    ls_time_parse(line + 1, 23, &ts) != LS_OK))
		return false;
	while (p < e && ls__key_ok[(unsigned char)*p])
		p++;
	if (p == k || p - k > LS_KEY_MAX || e - p < 3 ||
	    memcmp(p, " | ", 3) != 0)
		return false;
	kn = (size_t)(p - k);
	p += 3;
	if (!digits_at(&p, e, &seq, false) || e - p < 3 || memcmp(p, " | ", 3) != 0)
		return false;
	p += 3;
	if (!digits_at(&p, e, &shard, true) || p == e || *p != ']')
		return false;
	if (++p < e && *p == ' ')
		p++;
	key_copy(m, k, kn, e);
	m->ts_ms = ts;
	m->seq = seq;
	m->shard = shard;
	m->payload = (const unsigned char *)p;
	m->len = (size_t)(e - p);
	return true;
}

LS_API int
ls_line_parse(const char *line, size_t len, ls_msg *m, unsigned *have,
    ls_error *err)
{
	*have = 0;
	if (len == 0 || line[0] != '[') {
		m->payload = (const unsigned char *)line;
		m->len = len;
		return LS_OK;
	}
	if (parse_written(line, len, m)) {
		*have = LS_HAVE_TS | LS_HAVE_KEY | LS_HAVE_SEQ | LS_HAVE_SHARD;
		return LS_OK;
	}
	return ls__line_parse_meta(line, len, m, have, err);
}

int
ls__line_parse_meta(const char *line, size_t len, ls_msg *m, unsigned *have,
    ls_error *err)
{
	const char *end, *p;
	unsigned got = 0;
	int field = 0;

	*have = 0;
	if ((end = memchr(line, ']', len)) == NULL)
		return ls__fail(err, LS_ERR_INVAL, 1,
		    "column 1: meta block has no closing ']'");
	p = line + 1;
	for (;;) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		const char *fe = bar ? bar : end, *fs = p;
		size_t col;

		while (fs < fe && is_space(*fs))
			fs++;
		while (fe > fs && is_space(fe[-1]))
			fe--;
		col = (size_t)(fs - line) + 1;
		if (fs == fe)
			return ls__fail(err, LS_ERR_INVAL, col,
			    "column %zu: empty meta field", col);
		size_t n = (size_t)(fe - fs);
		if (field == 0 && ls_time_parse(fs, n, &m->ts_ms) == LS_OK) {
			got |= LS_HAVE_TS;
		} else if (!(got & LS_HAVE_KEY)) {
			if (!ls_key_valid(fs, n))
				return ls__fail(err, LS_ERR_INVAL, col,
				    "column %zu: invalid %s '%.*s'", col,
				    field == 0 ? "timestamp or stream key" :
				    "stream key", (int)(n > 64 ? 64 : n), fs);
			memcpy(m->key, fs, n);
			m->key[n] = '\0';
			m->key_len = n;
			got |= LS_HAVE_KEY;
		} else if (!(got & LS_HAVE_SEQ)) {
			if (ls_u64_parse(fs, n, &m->seq) != LS_OK)
				return ls__fail(err, LS_ERR_INVAL, col,
				    "column %zu: invalid sequence '%.*s'", col,
				    (int)(n > 64 ? 64 : n), fs);
			got |= LS_HAVE_SEQ;
		} else if (!(got & LS_HAVE_SHARD)) {
			if (ls_u64_parse(fs, n, &m->shard) != LS_OK)
				return ls__fail(err, LS_ERR_INVAL, col,
				    "column %zu: invalid shard '%.*s'", col,
				    (int)(n > 64 ? 64 : n), fs);
			got |= LS_HAVE_SHARD;
		} else
			return ls__fail(err, LS_ERR_INVAL, col,
			    "column %zu: too many meta fields", col);
		field++;
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	p = end + 1;
	if (p < line + len && *p == ' ')
		p++;
	m->payload = (const unsigned char *)p;
	m->len = len - (size_t)(p - line);
	*have = got;
	return LS_OK;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The 8 decimal digits of v < 10^8 as bytes 0 to 9, the first lowest:
 * 4-digit halves in 32-bit lanes, split into 2-digit 16-bit lanes,
 * then into bytes (each division a multiply and a shift, exact in
 * these ranges). */
__attribute__((always_inline)) static inline uint64_t
swar_8digits(uint64_t v)
{
	uint64_t x = v / 10000 | (v % 10000) << 32, hi, t;

	hi = ((x * 10486) >> 20) & 0x0000007f0000007fu;	/* x / 100 */
	x = (x - 100 * hi) << 16 | hi;
	t = ((x * 103) >> 10) & 0x000f000f000f000fu;	/* x / 10 */
	return (x - 10 * t) << 8 | t;
}
#endif

/* v's digits at p, which has 8 bytes of room past them: one below 10
 * (a shard, mostly) without a call, up to 8 as one word. callgrind of
 * partition -n 4: 53 instructions for a 5-digit sequence in
 * ls__u64_format's loop. */
__attribute__((always_inline)) static inline char *
put_u64(char *p, uint64_t v)
{
	if (v < 10) {
		*p = (char)('0' + v);
		return p + 1;
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (v < 100000000) {
		uint64_t d = swar_8digits(v);
		unsigned z = (unsigned)__builtin_ctzll(d) / 8;	/* lead zeros */
		d = (d >> 8 * z) + 0x3030303030303030u;
		memcpy(p, &d, 8);
		return p + 8 - z;
	}
#endif
	return p + ls__u64_format(v, p);
}

/*
 * Writes "[TS | KEY | SEQ | SHARD]" at s, which has 80 + key_len bytes
 * of room, and returns its length. Written front to back, each piece
 * may write past its end what the next one writes over: a key of up to
 * 16 bytes goes as one 16-byte move (m->key holds LS_KEY_MAX + 7), a
 * number of up to 8 digits as 8 bytes, each " | " as four bytes
 * (at most 74 + key_len bytes written in all). callgrind of ss-decode: 57 instructions a
 * message here before, with calls to memcpy and for a shard of 0; and
 * 12 more for its own call from ls_line_write, where it is now inline.
 */
__attribute__((always_inline)) static inline size_t
meta_text(char *s, const ls_msg *m)
{
	char *p = s + 1;

	s[0] = '[';
	p += ls_time_format(m->ts_ms, p);
	memcpy(p, " | ", 4);
	p += 3;
	if (m->key_len <= 16)
		memcpy(p, m->key, 16);
	else
		memcpy(p, m->key, m->key_len);
	p += m->key_len;
	memcpy(p, " | ", 4);
	p = put_u64(p + 3, m->seq);
	memcpy(p, " | ", 4);
	p = put_u64(p + 3, m->shard);
	*p++ = ']';
	return (size_t)(p - s);
}

int
ls__meta_write(ls_out *o, const ls_msg *m, ls_error *err)
{
	unsigned char *p = ls__out_reserve(o, 80 + m->key_len, err);

	if (p == NULL)
		return err ? err->code : LS_ERR_IO;
	o->len += meta_text((char *)p, m);
	return LS_OK;
}

LS_API int
ls_line_write_meta(ls_out *o, const ls_msg *m, ls_error *err)
{
	int rc = ls__meta_write(o, m, err);

	if (rc != LS_OK)
		return rc;
	return ls_out_write(o, "\n", 1, err);
}

#ifdef __SSE2__
/* Copies the 16 bytes at p + i to d + i and ors them, and 0xff for
 * each newline, into a. */
__attribute__((always_inline)) static inline __m128i
copy16(unsigned char *d, const unsigned char *p, size_t i, __m128i a)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(p + i));

	_mm_storeu_si128((__m128i *)(d + i), x);
	return _mm_or_si128(a, _mm_or_si128(x,
	    _mm_cmpeq_epi8(x, _mm_set1_epi8('\n'))));
}
#endif

/* Copies p[0..n) to d and tells whether it is ASCII with no newline, a
 * line payload as it is: one pass for the copy and both checks, 32
 * bytes a step with SSE2, then the last 32 overlapping (below 32, the
 * first 16 and the last 16); false
 * sends the caller to the exact checks. callgrind of partition -n 4:
 * 16 bytes a step and a test for the tail at each took 120
 * instructions for 100 bytes. */
static bool
copy_plain(unsigned char *d, const unsigned char *p, size_t n)
{
#ifdef __SSE2__
	if (n >= 16) {
		__m128i a = _mm_setzero_si128();
		if (n >= 32) {
			for (size_t i = 0; i + 32 < n; i += 32)
				a = copy16(d, p, i + 16, copy16(d, p, i, a));
			a = copy16(d, p, n - 32, a);
		} else
			a = copy16(d, p, 0, a);
		a = copy16(d, p, n - 16, a);
		return _mm_movemask_epi8(a) == 0;
	}
#endif
	unsigned char acc = 0;
	for (size_t i = 0; i < n; i++) {
		d[i] = p[i];
		acc |= p[i] | (p[i] == '\n' ? 0x80 : 0);
	}
	return acc < 0x80;
}

/* The exact checks of a line payload. */
static int
payload_check(const ls_msg *m, ls_error *err)
{
	if (m->len > 0 && memchr(m->payload, '\n', m->len) != NULL)
		return ls__fail(err, LS_ERR_NOTLINE, 0,
		    "payload holds a newline");
	if (!ls_utf8_valid(m->payload, m->len))
		return ls__fail(err, LS_ERR_NOTLINE, 0,
		    "payload is not UTF-8 text");
	return LS_OK;
}

/*
 * With room for the whole line in the buffer, it is written there in
 * one go, the payload copied and checked in the same pass, and kept
 * (o->len moved) once it is known good; else checked, then written
 * piece by piece.
 */
LS_API int
ls_line_write(ls_out *o, const ls_msg *m, ls_error *err)
{
	int rc;

	if (m->len < o->cap && o->cap - o->len >= 82 + m->key_len + m->len) {
		unsigned char *s = o->buf + o->len;
		size_t k = meta_text((char *)s, m);
		s[k] = ' ';
		if (!copy_plain(s + k + 1, m->payload, m->len) &&
		    (rc = payload_check(m, err)) != LS_OK)
			return rc;
		s[k + 1 + m->len] = '\n';
		o->len += k + m->len + 2;
		return LS_OK;
	}
	if ((rc = payload_check(m, err)) != LS_OK ||
	    (rc = ls__meta_write(o, m, err)) != LS_OK ||
	    (rc = ls_out_write(o, " ", 1, err)) != LS_OK ||
	    (rc = ls_out_write(o, m->payload, m->len, err)) != LS_OK)
		return rc;
	return ls_out_write(o, "\n", 1, err);
}
