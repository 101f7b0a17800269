/* CRC-16/CDMA2000: poly 0xC867, init 0xFFFF, no reflection, no xorout.
 * Slicing by eight: t[k][b] is the CRC contribution of byte b followed by
 * k zero bytes. */
#include <pthread.h>

#include "ls-internal.h"

static uint16_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

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
}

LS_API uint16_t
ls_crc16(uint16_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;

	pthread_once(&crc_once, crc_init);
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
