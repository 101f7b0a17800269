/* libFuzzer harness: `batch --split` on an arbitrary batch payload,
 * driven through the library functions cmd/batch.c's split() uses: the
 * array's elements (ls_json_array_next), a string element unescaped
 * (ls_json_unescape), a --keep-meta element's header read back
 * (ls_json_field, ls_msg_set_key, ls_time_parse). A timestamp that
 * parses must print and parse again to the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
element_meta(const unsigned char *v, size_t n)
{
	const unsigned char *h, *f, *pay;
	size_t hn, fn, payn;
	uint64_t ts, back;
	char text[32];
	ls_msg m;

	if (n == 0 || v[0] != '{' ||
	    ls_json_field(v, n, "header", &h, &hn) != LS_OK ||
	    ls_json_field(v, n, "payload", &pay, &payn) != LS_OK ||
	    hn == 0 || h[0] != '{')
		return;
	if (h < v || h + hn > v + n || pay < v || pay + payn > v + n)
		abort();
	memset(&m, 0, sizeof(m));
	if (ls_json_field(h, hn, "stream_key", &f, &fn) == LS_OK &&
	    f[-1] == '"' && ls_msg_set_key(&m, (const char *)f, fn, NULL) ==
	    LS_OK && (m.key_len != fn || !ls_key_valid(m.key, m.key_len)))
		abort();
	if (ls_json_field(h, hn, "timestamp", &f, &fn) == LS_OK &&
	    f[-1] == '"' && ls_time_parse((const char *)f, fn, &ts) == LS_OK &&
	    ts < 253402300800000ULL) {
		size_t tn = ls_time_format(ts, text);
		if (ls_time_parse(text, tn, &back) != LS_OK || back != ts)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *v;
	size_t n, pos = 0;

	if (!ls_json_valid(data, size))
		return 0;
	while (ls_json_array_next(data, size, &pos, &v, &n) == LS_OK) {
		if (n >= 2 && v[0] == '"') {
			unsigned char *out = malloc(n);
			if (out == NULL)
				return 0;
			size_t len = ls_json_unescape(v + 1, n - 2, out);
			if (len != SIZE_MAX && len > n - 2)
				abort();
			free(out);
		} else
			element_meta(v, n);
	}
	return 0;
}
