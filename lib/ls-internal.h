/* Internal declarations shared by the files of libstream. */
#ifndef LS_INTERNAL_H
#define LS_INTERNAL_H

#include <stdarg.h>
#include <string.h>

#include "libstream.h"

#define LS_IOBUF (256u * 1024u)	/* default buffer size for files */

/*
 * Fills err (if not NULL) with code, offset and a formatted message;
 * returns code. A message longer than LS_ERRMSG_MAX - 1 bytes loses its
 * middle ("..."), never its end, where the reason is.
 */
int ls__fail(ls_error *err, int code, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Names in messages (paths, URIs, stream names) take at most
 * LS__NAME_BUF - 1 bytes, so that the reason after them fits: a longer
 * one keeps its start and its end around "...".
 */
#define LS__NAME_BUF 97

/* name, or its cut form, in buf (LS__NAME_BUF bytes); returns buf.
 * ls__namen takes name[0..n), which need not end in a NUL. */
const char *ls__name(const char *name, char buf[LS__NAME_BUF]);
const char *ls__namen(const char *name, size_t n, char buf[LS__NAME_BUF]);

/* ls__fail of "NAME: " and the formatted message, NAME cut by ls__name
 * (no prefix if name is NULL). */
int ls__failn(ls_error *err, int code, uint64_t offset, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Grows *buf (capacity *cap) to hold at least need bytes, doubling;
 * returns 0 or -1 (nothing changed) on overflow or ENOMEM. */
int ls__grow(unsigned char **buf, size_t *cap, size_t need);

/*
 * A copy of uri for messages, the credentials of its authority
 * (scheme://[USER]:PASSWORD@ or scheme://PASSWORD@) shown as "USER:***@",
 * so that a password stays out of logs; NULL if out of memory.
 */
char *ls__uri_redact(const char *uri);

/*
 * Writes p[0..n) to dst as a JSON string literal, quotes included, and
 * returns its length (at most 6 * n + 2). Text that is not UTF-8 is
 * taken as Latin-1: each byte a character.
 */
size_t ls__json_quote(unsigned char *dst, const unsigned char *p, size_t n);

/* The index after the JSON value at p[i], checked as ls_json_valid
 * checks, or 0 if it is not valid or does not end within p[0..n) (a
 * reader of a value still arriving cannot tell the two apart). */
size_t ls__json_value_end(const unsigned char *p, size_t i, size_t n);

/* Makes room for n more bytes in o; returns a pointer to them or NULL
 * (err set) if a flush failed. n must not exceed o->cap. */
unsigned char *ls__out_reserve(ls_out *o, size_t n, ls_error *err);

/* Appends "[ts | key | seq | shard]" to o (n <= 300 bytes). */
int ls__meta_write(ls_out *o, const ls_msg *m, ls_error *err);

/* ls_line_parse's general reader of a line that starts with '[' (any
 * spacing, fields left out), which its fast path for the form this
 * library writes falls back on; apart for the tests that compare them. */
int ls__line_parse_meta(const char *line, size_t len, ls_msg *m,
    unsigned *have, ls_error *err);

/* The length (2 to 4) of the valid UTF-8 sequence that starts with the
 * byte p[i] >= 0x80 of p[0..n), or 0 if it is not one (overlong,
 * surrogate, above U+10FFFF, cut short or a stray continuation byte). */
size_t ls__utf8_seq(const unsigned char *p, size_t i, size_t n);

/* 1 for each byte of a stream key ([A-Za-z0-9._-]), 0 for the rest. */
extern const unsigned char ls__key_ok[256];

/*
 * The per-thread caches of the time text (ls_time_format's and
 * ls_time_parse's) are initial-exec: a fixed offset from the thread
 * pointer, where the default model of -fPIC code asks __tls_get_addr,
 * which made the callers save registers around it (ten instructions a
 * call in callgrind, when the static link turns the call into a move).
 * They take some 64 bytes of static TLS in libstream.so.
 */
#define LS__TLS_FAST __attribute__((tls_model("initial-exec")))

/* The seconds of the last four-digit-year time ls_time_parse read in
 * this thread, and its text "YYYY-MM-DDTHH:MM:SS" (msg.c). */
struct ls__tkept {
	uint64_t sec;
	char text[19];
};
extern _Thread_local LS__TLS_FAST struct ls__tkept ls__tkept;

/* The milliseconds of ".mmm" at s; false if it is not that. */
static inline bool
ls__millis3(const char *s, unsigned *ms)
{
	unsigned a = (unsigned)(unsigned char)s[1] - '0',
	    b = (unsigned)(unsigned char)s[2] - '0',
	    c = (unsigned)(unsigned char)s[3] - '0';

	*ms = a * 100 + b * 10 + c;
	return s[0] == '.' && a <= 9 && b <= 9 && c <= 9;
}

/*
 * ls_time_parse of "YYYY-MM-DDTHH:MM:SS.mmm" at s (23 bytes) in the
 * kept second, inline in the line reader: true and *ts_ms set, else
 * false (then ls_time_parse reads it). callgrind of partition -n 4:
 * 39 instructions a line as a call, with a register saved around it.
 */
static inline bool
ls__time_kept(const char *s, uint64_t *ts_ms)
{
	unsigned ms;

	if (memcmp(s, ls__tkept.text, 19) != 0 || !ls__millis3(s + 19, &ms))
		return false;
	*ts_ms = ls__tkept.sec * 1000u + ms;
	return true;
}

extern const uint16_t ls__crc16_nibble[4][16];

/*
 * ls_crc16(crc, v as 2 bytes big-endian), inline, for a stream's running
 * checksum of its messages' checksums: crc ^ v with 16 zero bits
 * shifted through, which is linear in it, so the sum of its nibbles'
 * (callgrind of relay -o .ss: the call of ls_crc16 for 2 bytes took 60
 * instructions).
 */
static inline uint16_t
ls__crc16_word(uint16_t crc, uint16_t v)
{
	unsigned c = crc ^ v;

	return (uint16_t)(ls__crc16_nibble[0][c & 0xF] ^
	    ls__crc16_nibble[1][c >> 4 & 0xF] ^
	    ls__crc16_nibble[2][c >> 8 & 0xF] ^ ls__crc16_nibble[3][c >> 12]);
}

/* Writes v in decimal at p; returns the number of digits. */
size_t ls__u64_format(uint64_t v, char *p);

/* Big-endian helpers. */
static inline uint64_t
ls__get64(const unsigned char *p)
{
	return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) |
	    ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
	    ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
	    ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

static inline uint32_t
ls__get32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint16_t
ls__get16(const unsigned char *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* The stores spelt out, not looped: gcc -O2 merges them into one
 * byte swap and one store (callgrind of relay -o .ss: the loop cost 25M
 * instructions on 200k message headers). */
static inline void
ls__put64(unsigned char *p, uint64_t v)
{
	p[0] = (unsigned char)(v >> 56);
	p[1] = (unsigned char)(v >> 48);
	p[2] = (unsigned char)(v >> 40);
	p[3] = (unsigned char)(v >> 32);
	p[4] = (unsigned char)(v >> 24);
	p[5] = (unsigned char)(v >> 16);
	p[6] = (unsigned char)(v >> 8);
	p[7] = (unsigned char)v;
}

static inline void
ls__put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline void
ls__put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* Size on disk of a message header: key short string, shard, seq, ts. */
#define LS__MHDR(klen) ((size_t)1 + (size_t)(klen) + 24u)
/* Size on disk of a whole message (in size_t: a u32 payload size plus
 * the rest must not wrap). */
#define LS__MSIZE(klen, plen) (LS__MHDR(klen) + 4u + (size_t)(plen) + 3u)
/* Largest beacon item, and beacon overhead. */
#define LS__ITEM_MAX 282u
#define LS__ITEM(klen) (LS__MHDR(klen) + 2u)
#define LS__BEACON_FIXED 7u

#endif
