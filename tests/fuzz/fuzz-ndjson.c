/* libFuzzer harness: a message with an arbitrary payload written as
 * ndjson (ls_json_write). The line must be one valid JSON object whose
 * "payload" gives the payload back: the JSON itself (valid, no longer),
 * the text as a string, or the bytes as an array of numbers. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct buf {
	unsigned char *p;
	size_t n;
};

static ssize_t
to_buf(void *ctx, const void *p, size_t n)
{
	struct buf *b = ctx;
	unsigned char *q = realloc(b->p, b->n + n);

	if (q == NULL)
		return -1;
	memcpy(q + b->n, p, n);
	b->p = q;
	b->n += n;
	return (ssize_t)n;
}

/* The array of byte values v[0..n) must list data[0..size). */
static void
check_bytes(const unsigned char *v, size_t n, const uint8_t *data,
    size_t size)
{
	const unsigned char *e;
	size_t en, pos = 0, i = 0;

	while (ls_json_array_next(v, n, &pos, &e, &en) == LS_OK) {
		unsigned x = 0;
		if (i >= size || en == 0 || en > 3)
			abort();
		for (size_t k = 0; k < en; k++)
			x = x * 10 + (unsigned)(e[k] - '0');
		if (x != data[i++])
			abort();
	}
	if (i != size)
		abort();
}

/* v[0..n): the "payload" member as ls_json_field gives it (a string's
 * body, between its quotes). */
static void
check_payload(const unsigned char *v, size_t n, const uint8_t *data,
    size_t size)
{
	bool str = v[-1] == '"';

	if (ls_json_valid(data, size)) {
		if (!ls_json_valid(v - str, n + 2 * str) || n + 2 * str > size)
			abort();
	} else if (ls_utf8_valid(data, size)) {
		unsigned char *out = malloc(n + 1);
		size_t len;
		if (out == NULL)
			return;
		len = ls_json_unescape(v, n, out);
		if (!str || len != size || memcmp(out, data, size) != 0)
			abort();
		free(out);
	} else {
		if (n == 0 || v[0] != '[' || !ls_json_valid(v, n))
			abort();
		check_bytes(v, n, data, size);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = { NULL, 0 };
	const unsigned char *v;
	size_t n;
	ls_error e;
	ls_out o;
	ls_msg m;

	memset(&m, 0, sizeof(m));
	if (ls_msg_set_key(&m, "fuzz", 4, NULL) != LS_OK)
		abort();
	m.seq = size;
	m.ts_ms = size > 0 ? (uint64_t)data[0] << 40 : 0;
	m.payload = data;
	m.len = size;
	if (ls_out_init_fn(&o, to_buf, &b, 0, &e) != LS_OK)
		return 0;
	if (ls_json_write(&o, &m, 0, &e) == LS_OK &&
	    ls_out_flush(&o, &e) == LS_OK) {
		if (b.n < 2 || b.p[b.n - 1] != '\n' ||
		    memchr(b.p, '\n', b.n - 1) != NULL ||
		    !ls_json_valid(b.p, b.n - 1) ||
		    ls_json_field(b.p, b.n - 1, "header", &v, &n) != LS_OK ||
		    ls_json_field(b.p, b.n - 1, "payload", &v, &n) != LS_OK)
			abort();
		check_payload(v, n, data, size);
	}
	ls_out_free(&o);
	free(b.p);
	return 0;
}
