/* The message model, errors, time stamps and UTF-8. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ls-internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The first bytes of s[0..n) that end on a UTF-8 character boundary,
 * at most max of them. */
static size_t
utf8_head(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* Where the last bytes of s[0..n) that start on a UTF-8 character
 * boundary begin, at most max of them. */
static size_t
utf8_tail(const char *s, size_t n, size_t max)
{
	size_t at = n > max ? n - max : 0;

	while (at < n && ((unsigned char)s[at] & 0xC0) == 0x80)
		at++;
	return at;
}

/* Copies s[0..n) to dst (cap bytes) with its NUL: whole if it fits, else
 * its first head bytes, "..." and as much of its end as fits. */
static void
cut_middle(char *dst, size_t cap, const char *s, size_t n, size_t head)
{
	size_t h, t;

	if (n < cap) {
		memcpy(dst, s, n);
		dst[n] = '\0';
		return;
	}
	h = utf8_head(s, n, head);
	t = utf8_tail(s, n, cap - 1 - h - 3);
	memcpy(dst, s, h);
	memcpy(dst + h, "...", 3);
	memcpy(dst + h + 3, s + t, n - t);
	dst[h + 3 + n - t] = '\0';
}

const char *
ls__namen(const char *name, size_t n, char buf[LS__NAME_BUF])
{
	cut_middle(buf, LS__NAME_BUF, name, n, LS__NAME_BUF * 2 / 3);
	return buf;
}

const char *
ls__name(const char *name, char buf[LS__NAME_BUF])
{
	return ls__namen(name, strlen(name), buf);
}

/*
 * Fills err with "NAME: " (unless name is NULL; NAME cut by ls__name)
 * and the formatted message. One longer than err->msg holds keeps its
 * start and its end, the reason, and loses its middle.
 */
static void
vfail(ls_error *err, const char *name, const char *fmt, va_list ap)
{
	char nb[LS__NAME_BUF], *p;
	size_t pre = 0, n;
	va_list aq;
	int k;

	if (name != NULL)
		pre = strlen(ls__name(name, nb)) + 2;
	va_copy(aq, ap);
	k = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	n = pre + (k > 0 ? (size_t)k : 0);
	if ((p = malloc(n + 1)) == NULL) {
		/* cut at the end, then */
		snprintf(err->msg, sizeof(err->msg), "%s%s", name ? nb : "",
		    name ? ": " : "");
		vsnprintf(err->msg + strlen(err->msg), sizeof(err->msg) -
		    strlen(err->msg), fmt, ap);
		return;
	}
	if (name != NULL)
		snprintf(p, pre + 1, "%s: ", nb);
	if (k > 0)
		vsnprintf(p + pre, (size_t)k + 1, fmt, ap);
	p[n] = '\0';
	cut_middle(err->msg, sizeof(err->msg), p, n, LS__NAME_BUF);
	free(p);
}

int
ls__fail(ls_error *err, int code, uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		err->offset = offset;
		va_start(ap, fmt);
		vfail(err, NULL, fmt, ap);
		va_end(ap);
	}
	return code;
}

int
ls__failn(ls_error *err, int code, uint64_t offset, const char *name,
    const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		err->offset = offset;
		va_start(ap, fmt);
		vfail(err, name, fmt, ap);
		va_end(ap);
	}
	return code;
}

int
ls__grow(unsigned char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	unsigned char *p;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2) {
			errno = ENOMEM;
			return -1;
		}
		n *= 2;
	}
	if ((p = realloc(*buf, n)) == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

LS_API const char *
ls_strstatus(int code)
{
	switch (code) {
	case LS_OK: return "ok";
	case LS_END: return "end of data";
	case LS_PARTIAL: return "data ends inside a message";
	case LS_AGAIN: return "nothing yet";
	case LS_ERR_IO: return "I/O error";
	case LS_ERR_INVAL: return "invalid input";
	case LS_ERR_CORRUPT: return "corrupt file";
	case LS_ERR_NOMEM: return "out of memory";
	case LS_ERR_NOTLINE: return "payload cannot be a line";
	case LS_ERR_RANGE: return "position out of range";
	case LS_ERR_SEEK: return "file is not seekable";
	case LS_ERR_STALE: return "position no longer matches the file";
	}
	return "unknown status";
}

const unsigned char ls__key_ok[256] = {
	['-'] = 1, ['.'] = 1, ['_'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
	['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

LS_API bool
ls_key_valid(const char *key, size_t len)
{
	if (len == 0 || len > LS_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!ls__key_ok[(unsigned char)key[i]])
			return false;
	return true;
}

LS_API int
ls_msg_set_key(ls_msg *m, const char *key, size_t len, ls_error *err)
{
	if (!ls_key_valid(key, len))
		return ls__fail(err, LS_ERR_INVAL, 0,
		    "invalid stream key (1 to %d bytes of [A-Za-z0-9._-])",
		    LS_KEY_MAX);
	memcpy(m->key, key, len);
	m->key[len] = '\0';
	m->key_len = len;
	return LS_OK;
}

LS_API void
ls_msg_eos(ls_msg *m, uint64_t ts_ms)
{
	m->key_len = sizeof(LS_EOS_KEY) - 1;
	memcpy(m->key, LS_EOS_KEY, sizeof(LS_EOS_KEY));
	m->shard = 0;
	m->seq = 0;
	m->ts_ms = ts_ms;
	m->payload = (const unsigned char *)LS_EOS_PAYLOAD;
	m->len = sizeof(LS_EOS_PAYLOAD) - 1;
}

LS_API bool
ls_msg_is_eos(const ls_msg *m)
{
	return m->key_len == sizeof(LS_EOS_KEY) - 1 &&
	    memcmp(m->key, LS_EOS_KEY, m->key_len) == 0 &&
	    m->len == sizeof(LS_EOS_PAYLOAD) - 1 &&
	    memcmp(m->payload, LS_EOS_PAYLOAD, m->len) == 0;
}

LS_API uint64_t
ls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's
 * algorithms). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324"
    "25262728293031323334353637383940414243444546474849"
    "50515253545556575859606162636465666768697071727374"
    "75767778798081828384858687888990919293949596979899";

static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* The text up to the seconds of the second last formatted by this
 * thread, and that second's first millisecond (1970-01-01T00:00:00 to
 * start with: a real second, so no value means "none"). */
static _Thread_local LS__TLS_FAST struct {
	uint64_t base;
	size_t len;
	char text[LS_TIME_MAX];
} tsec = { 0, 19, "1970-01-01T00:00:00" };

/* Fills tsec for the second of ts_ms, then formats it (a tail call
 * from ls_time_format, so that the path of a time in the same second
 * stays a leaf without saved registers). */
__attribute__((noinline)) static size_t
time_second(uint64_t ts_ms, char *out)
{
	uint64_t sec = ts_ms / 1000;
	int64_t y;
	unsigned mo, d, sod = (unsigned)(sec % 86400);
	char *c = tsec.text;

	civil_from_days((int64_t)(sec / 86400), &y, &mo, &d);
	if (y > 9999)	/* as many digits as it takes */
		c += ls__u64_format((uint64_t)y, c);
	else {
		put2(c, (unsigned)y / 100);
		put2(c + 2, (unsigned)y % 100);
		c += 4;
	}
	c[0] = '-';
	put2(c + 1, mo);
	c[3] = '-';
	put2(c + 4, d);
	c[6] = 'T';
	put2(c + 7, sod / 3600);
	c[9] = ':';
	put2(c + 10, sod / 60 % 60);
	c[12] = ':';
	put2(c + 13, sod % 60);
	tsec.len = (size_t)(c + 15 - tsec.text);
	tsec.base = sec * 1000;
	return ls_time_format(ts_ms, out);
}

/* ".mmm" and a NUL at p. */
static void
put_millis(char *p, unsigned ms)
{
	p[0] = '.';
	p[1] = (char)('0' + ms / 100);
	memcpy(p + 2, digit_pairs + 2 * (ms % 100), 2);
	p[4] = '\0';
}

/* ls_time_format's kept text of a year past 9999, its length other
 * than 19. */
__attribute__((noinline)) static size_t
time_long(unsigned ms, char *out)
{
	memcpy(out, tsec.text, tsec.len);
	put_millis(out + tsec.len, ms);
	return tsec.len + 4;
}

/*
 * A time in the second of the last one (most of a stream's) writes only
 * its milliseconds after the kept text: callgrind of ss-decode, 58
 * instructions a message here with the second found by division and
 * registers saved for the other paths, which now are tail calls.
 */
LS_API size_t
ls_time_format(uint64_t ts_ms, char *out)
{
	uint64_t ms = ts_ms - tsec.base;	/* wraps when going back */

	if (ms >= 1000)
		return time_second(ts_ms, out);
	if (tsec.len != 19)
		return time_long((unsigned)ms, out);
	memcpy(out, tsec.text, 19);
	put_millis(out + 19, (unsigned)ms);
	return 23;
}

static int
digits(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

/* The seconds of "YYYY-MM-DDTHH:MM:SS" at s (the year of yl digits,
 * the rest 15 bytes after it), into *sec. */
static int
time_seconds(const char *s, size_t yl, uint64_t *sec)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	unsigned y, mo, d, h, mi, se;

	if (yl == 4 ? digits(s, 4, &y) != 0 : yl > 9 || s[0] == '0' ||
	    digits(s, yl, &y) != 0)
		return LS_ERR_INVAL;
	s += yl - 4;	/* the rest as after a year of four digits */
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return LS_ERR_INVAL;
	if (digits(s + 5, 2, &mo) ||
	    digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
	    digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return LS_ERR_INVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || se > 59)
		return LS_ERR_INVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return LS_ERR_INVAL;
	int64_t days = days_from_civil(y, mo, d);
	if (days < 0 || (uint64_t)days > UINT64_MAX / 1000 / 86400)
		return LS_ERR_INVAL;
	*sec = (uint64_t)days * 86400u + h * 3600u + mi * 60u + se;
	return LS_OK;
}

/* The milliseconds of an optional ".F" (1 to 9 digits) at s[0..n). */
static int
time_fraction(const char *s, size_t n, unsigned *ms)
{
	*ms = 0;
	if (n == 0)
		return LS_OK;
	if (n == 4 && s[0] == '.')	/* the millis this library writes */
		return ls__millis3(s, ms) ? LS_OK : LS_ERR_INVAL;
	if (s[0] != '.' || n < 2 || n > 10)
		return LS_ERR_INVAL;
	for (size_t i = 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return LS_ERR_INVAL;
		if (i <= 3)
			*ms = *ms * 10 + (unsigned)(s[i] - '0');
	}
	for (size_t i = n; i <= 3; i++)
		*ms *= 10;
	return LS_OK;
}

/* 1970-01-01T00:00:00 to start with: a real second, so no text means
 * "none". */
_Thread_local LS__TLS_FAST struct ls__tkept ls__tkept = {
	0, "1970-01-01T00:00:00"
};

/* ls_time_parse of any time other than one with milliseconds in the
 * kept second. */
__attribute__((noinline)) static int
time_parse_slow(const char *s, size_t n, uint64_t *ts_ms)
{
	uint64_t sec;
	unsigned ms;
	size_t yl = 4;

	/* a year past 9999 has more digits; most have four */
	if (n > 4 && s[4] != '-')
		while (yl < n && yl < 10 && s[yl] >= '0' && s[yl] <= '9')
			yl++;
	if (n < yl + 15)
		return LS_ERR_INVAL;
	if (yl == 4 && memcmp(s, ls__tkept.text, 19) == 0)
		sec = ls__tkept.sec;
	else if (time_seconds(s, yl, &sec) != LS_OK)
		return LS_ERR_INVAL;
	else if (yl == 4) {
		memcpy(ls__tkept.text, s, 19);
		ls__tkept.sec = sec;
	}
	if (time_fraction(s + yl + 15, n - yl - 15, &ms) != LS_OK ||
	    sec > (UINT64_MAX - ms) / 1000)
		return LS_ERR_INVAL;
	*ts_ms = sec * 1000u + ms;
	return LS_OK;
}

/* A time with milliseconds in the kept second (most of a stream's) is
 * read inline (ls__time_kept), the rest by a tail call. callgrind of
 * partition -n 4: 87 instructions a line here before, with the year's
 * length looked at first. */
LS_API int
ls_time_parse(const char *s, size_t n, uint64_t *ts_ms)
{
	if (n == 23 && ls__time_kept(s, ts_ms))
		return LS_OK;
	return time_parse_slow(s, n, ts_ms);
}

size_t
ls__u64_format(uint64_t v, char *p)
{
	static const uint64_t pow10[20] = { 1, 10, 100, 1000, 10000,
	    100000, 1000000, 10000000, 100000000, 1000000000, 10000000000ULL,
	    100000000000ULL, 1000000000000ULL, 10000000000000ULL,
	    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	    100000000000000000ULL, 1000000000000000000ULL,
	    10000000000000000000ULL };
	size_t n;
	char *s;

	if (v < 10) {
		*p = (char)('0' + v);
		return 1;
	}
	/* the digits counted first (bits * log10(2), one compare to fix
	 * it), then written in place from the end */
	n = (size_t)(64 - __builtin_clzll(v)) * 1233 >> 12;
	n += v >= pow10[n];
	for (s = p + n; v >= 100; v /= 100) {
		s -= 2;
		memcpy(s, digit_pairs + 2 * (v % 100), 2);
	}
	if (v >= 10)
		memcpy(s - 2, digit_pairs + 2 * v, 2);
	else
		s[-1] = (char)('0' + v);
	return n;
}

/* Is p[0..n) all ASCII? Words ored together, no branch a word; with
 * SSE2, 16 bytes a word. */
static bool
ascii_only(const unsigned char *p, size_t n)
{
	uint64_t acc = 0, w;
	size_t i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			acc |= p[i];
		return (acc & 0x80) == 0;
	}
#ifdef __SSE2__
	if (n >= 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(p + n - 16));
		for (i = 0; i + 16 <= n; i += 16)
			a = _mm_or_si128(a,
			    _mm_loadu_si128((const __m128i *)(p + i)));
		return _mm_movemask_epi8(a) == 0;
	}
#endif
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	memcpy(&w, p + n - 8, 8);	/* the tail, overlapping */
	return ((acc | w) & 0x8080808080808080ull) == 0;
}

size_t
ls__utf8_seq(const unsigned char *p, size_t i, size_t n)
{
	unsigned c = p[i], lo = 0x80, hi = 0xBF;
	size_t k;

	if (c >= 0xC2 && c <= 0xDF)
		k = 1;
	else if (c >= 0xE0 && c <= 0xEF) {
		k = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		k = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (i + k >= n || p[i + 1] < lo || p[i + 1] > hi)
		return 0;
	for (size_t j = 2; j <= k; j++)
		if ((p[i + j] & 0xC0) != 0x80)
			return 0;
	return k + 1;
}

LS_API bool
ls_utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (ascii_only(p, n))
		return true;

	while (i < n) {
		/* ASCII fast path, eight bytes at a time */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = ls__utf8_seq(p, i, n);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}
