/* CRC-16/CDMA2000: poly 0xC867, init 0xFFFF, no reflection, no xorout.
 *
 * Short pieces go through tables, slicing by eight: t[k][b] is the CRC
 * contribution of byte b followed by k zero bytes. Longer ones, where
 * the CPU has carry-less multiplication (x86-64 PCLMULQDQ, with AVX's
 * three-operand forms), are folded 16 bytes a step: with M the message
 * as a polynomial (the register's start xored into its first two
 * bytes), the CRC is M * x^16 mod P, and a 128-bit A = H * x^64 + L
 * stays congruent to the bytes folded so far when the next block B is
 * taken in as H * (x^192 mod P) + L * (x^128 mod P) + B. The last A is
 * reduced by one fold and a Barrett step. Profiled with callgrind,
 * ss-decode of 100-byte payloads spent 29% of its instructions here,
 * 352 a message, with the tables alone; 150 with folding, of which 32
 * went to pthread_once and the call around it, and 35 to the last
 * reduction; now 97.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "ls-internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CRC_CLMUL 1
#define CLMUL_MIN 48	/* shorter pieces: tables alone */
/* the constants of the folds, each pair loaded as one 128-bit lane */
static struct {
	uint64_t fold[2];	/* x^128 mod P, x^192 mod P */
	uint64_t last[2];	/* x^80 mod P; x^80 div P, but its x^64 */
	uint64_t poly[2];	/* P, but its x^16 */
} kc __attribute__((aligned(16)));
static int have_clmul;
#endif

/* ls__crc16_word's table (ls-internal.h): the register, from n << 4k,
 * after 16 zero bits have been shifted through it. */
const uint16_t ls__crc16_nibble[4][16] = {
	{ 0x0000, 0xC867, 0x58A9, 0x90CE, 0xB152, 0x7935, 0xE9FB, 0x219C,
	  0xAAC3, 0x62A4, 0xF26A, 0x3A0D, 0x1B91, 0xD3F6, 0x4338, 0x8B5F },
	{ 0x0000, 0x9DE1, 0xF3A5, 0x6E44, 0x2F2D, 0xB2CC, 0xDC88, 0x4169,
	  0x5E5A, 0xC3BB, 0xADFF, 0x301E, 0x7177, 0xEC96, 0x82D2, 0x1F33 },
	{ 0x0000, 0xBCB4, 0xB10F, 0x0DBB, 0xAA79, 0x16CD, 0x1B76, 0xA7C2,
	  0x9C95, 0x2021, 0x2D9A, 0x912E, 0x36EC, 0x8A58, 0x87E3, 0x3B57 },
	{ 0x0000, 0xF14D, 0x2AFD, 0xDBB0, 0x55FA, 0xA4B7, 0x7F07, 0x8E4A,
	  0xABF4, 0x5AB9, 0x8109, 0x7044, 0xFE0E, 0x0F43, 0xD4F3, 0x25BE },
};

static uint16_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static atomic_bool crc_ready;	/* crc_init has run: no call needed */

#ifdef CRC_CLMUL
/* x^n mod P, P = x^16 + 0xC867 */
static uint64_t
xpow_mod(unsigned n)
{
	uint32_t r = 1;

	while (n-- > 0) {
		r <<= 1;
		if (r & 0x10000)
			r ^= 0x1C867;
	}
	return r;
}

/* floor(x^80 / P) but its top term x^64 */
static uint64_t
xdiv80(void)
{
	unsigned __int128 r = (unsigned __int128)1 << 80;
	uint64_t q = 0;

	for (int d = 64; d >= 0; d--)
		if ((uint64_t)(r >> (d + 16)) & 1) {
			r ^= (unsigned __int128)0x1C867 << d;
			if (d < 64)
				q |= (uint64_t)1 << d;
		}
	return q;
}
#endif

static void
crc_init(void)
{
	for (unsigned b = 0; b < 256; b++) {
		uint16_t c = (uint16_t)(b << 8);
		for (int i = 0; i < 8; i++)
			c = (uint16_t)((c & 0x8000) ? (c << 1) ^ 0xC867 : c << 1);
		crc_tab[0][b] = c;
	}
	for (int k = 1; k < 8; k++)
		for (unsigned b = 0; b < 256; b++) {
			uint16_t c = crc_tab[k - 1][b];
			crc_tab[k][b] = (uint16_t)((c << 8) ^ crc_tab[0][c >> 8]);
		}
#ifdef CRC_CLMUL
	kc.fold[0] = xpow_mod(128);
	kc.fold[1] = xpow_mod(192);
	kc.last[0] = xpow_mod(80);
	kc.last[1] = xdiv80();
	kc.poly[0] = 0xC867;
	__builtin_cpu_init();
	have_clmul = __builtin_cpu_supports("pclmul") &&
	    __builtin_cpu_supports("avx");
#endif
	atomic_store_explicit(&crc_ready, true, memory_order_release);
}

__attribute__((noinline))	/* a tail call from ls_crc16 */
static uint16_t
crc_tables(uint16_t crc, const unsigned char *p, size_t n)
{
	while (n >= 8) {
		crc = (uint16_t)(crc_tab[7][p[0] ^ (crc >> 8)] ^
		    crc_tab[6][p[1] ^ (crc & 0xff)] ^ crc_tab[5][p[2]] ^
		    crc_tab[4][p[3]] ^ crc_tab[3][p[4]] ^ crc_tab[2][p[5]] ^
		    crc_tab[1][p[6]] ^ crc_tab[0][p[7]]);
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (uint16_t)((crc << 8) ^ crc_tab[0][(crc >> 8) ^ *p++]);
	return crc;
}

#ifdef CRC_CLMUL
/*
 * A * x^16 mod P for the 128 bits A = H * x^64 + L, what the tables
 * give for A's 16 bytes from 0: A * x^16 is congruent to S = H * (x^80
 * mod P) + L * x^16, of degree under 80; Barrett reduction with mu =
 * x^80 div P = x^64 + m: with s = S div x^16, S div P = (s * mu) div
 * x^64 = s + (s * m) div x^64 =: q, and S mod P = S + q * P, of which
 * only the low 16 bits are wanted, those of q * (P + x^16).
 */
__attribute__((target("avx,pclmul")))
static inline uint16_t
crc_finish(__m128i a)
{
	const __m128i k = _mm_load_si128((const __m128i *)kc.last);
	__m128i s, t, q;

	s = _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x01),
	    _mm_slli_si128(_mm_move_epi64(a), 2));
	t = _mm_srli_si128(s, 2);
	q = _mm_xor_si128(_mm_srli_si128(_mm_clmulepi64_si128(t, k, 0x10), 8),
	    t);
	q = _mm_clmulepi64_si128(q, _mm_load_si128((const __m128i *)kc.poly),
	    0x00);
	return (uint16_t)_mm_cvtsi128_si32(_mm_xor_si128(q, s));
}

/* pshufb indexes that reverse 16 bytes, and for a first block of h
 * bytes (2 <= h < 16) from head_shuf + 16 - h, that take the 16 loaded
 * bytes' first h, reversed, to the low lanes and zero the rest (0x80),
 * as if 16 - h zero bytes came before them. */
static const signed char head_shuf[32] __attribute__((aligned(16))) = {
    15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -128, -128,
    -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
    -128, -128, -128 };

/* A folded 128 bits on, and the block at p taken in. */
__attribute__((target("avx,pclmul")))
static inline __m128i
fold(__m128i a, const unsigned char *p, __m128i k, __m128i rev)
{
	__m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p),
	    rev);

	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x11),
	    _mm_clmulepi64_si128(a, k, 0x00)), b);
}

/*
 * The CRC of p[0..n), n >= 48, from crc. Zero bytes put before the
 * message leave its polynomial as it is, so its first n % 16 bytes
 * (when 2 or more) are a first block led by zeros; the register's start
 * goes into the message's own first two bytes either way. Two blocks a
 * turn: the loop's own steps cost as much as a block's.
 */
__attribute__((target("avx,pclmul")))
static uint16_t
crc_fold(uint16_t crc, const unsigned char *p, size_t n)
{
	const __m128i k = _mm_load_si128((const __m128i *)kc.fold);
	const __m128i rev = _mm_load_si128((const __m128i *)head_shuf);
	size_t h = ((n - 1) & 15) + 1;
	__m128i a;

	if (h == 1) {		/* one byte: too few for the start */
		crc = (uint16_t)((crc << 8) ^ crc_tab[0][(crc >> 8) ^ *p++]);
		n--;
		h = 16;
	}
	a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p),
	    _mm_cvtsi32_si128((uint16_t)(crc >> 8 | crc << 8)));
	a = _mm_shuffle_epi8(a, _mm_loadu_si128((const __m128i *)
	    (head_shuf + 16 - h)));
	p += h;
	n -= h;
	if (n & 16) {
		a = fold(a, p, k, rev);
		p += 16;
	}
	for (const unsigned char *e = p + (n & ~(size_t)31); p < e; p += 32)
		a = fold(fold(a, p, k, rev), p + 16, k, rev);
	return crc_finish(a);
}
#endif

/* Kept out of ls_crc16, which then needs no registers saved. */
__attribute__((noinline, cold))
static void
crc_setup(void)
{
	pthread_once(&crc_once, crc_init);
}

LS_API uint16_t
ls_crc16(uint16_t crc, const void *data, size_t n)
{
	if (!atomic_load_explicit(&crc_ready, memory_order_acquire))
		crc_setup();
#ifdef CRC_CLMUL
	if (n >= CLMUL_MIN && have_clmul)
		return crc_fold(crc, data, n);
#endif
	return crc_tables(crc, data, n);
}
