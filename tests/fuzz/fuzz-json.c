/* libFuzzer harness: JSON field lookup (ls_json_field), array stepping
 * and unescaping on arbitrary bytes. The first bytes up to a NUL name the
 * member; every value found lies inside the input and is valid JSON (a
 * string's body, unescaped, no longer than it was). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_value(const uint8_t *p, size_t n, const unsigned char *v, size_t len)
{
	if (v < p || v + len > p + n)
		abort();
	if (v > p && v[-1] == '"') {
		unsigned char *out = malloc(len + 1);
		if (out == NULL || v + len >= p + n || v[len] != '"')
			abort();
		size_t u = ls_json_unescape(v, len, out);
		if (u != SIZE_MAX && u > len)
			abort();
		free(out);
	} else if (!ls_json_valid(v, len))
		abort();
}

static void
walk_array(const uint8_t *p, size_t n)
{
	const unsigned char *v;
	size_t len, pos = 0, count = 0;

	while (ls_json_array_next(p, n, &pos, &v, &len) == LS_OK) {
		if (v < p || v + len > p + n || pos > n || !ls_json_valid(v, len))
			abort();
		if (++count > n)
			abort();	/* no progress */
	}
}

/* A tab in front sends ls_json_field the way that scans each string
 * (see lib/format/json.c, struct quotes): the same answer. */
static void
same_after_tab(const uint8_t *p, size_t n, const char *name)
{
	unsigned char *t = malloc(n + 1);
	const unsigned char *v1 = NULL, *v2 = NULL;
	size_t l1 = 0, l2 = 0;

	if (t == NULL)
		abort();
	t[0] = '\t';
	memcpy(t + 1, p, n);
	int rc1 = ls_json_field(p, n, name, &v1, &l1);
	int rc2 = ls_json_field(t, n + 1, name, &v2, &l2);
	if (rc1 != rc2 || (rc1 == LS_OK &&
	    (v1 - p != v2 - t - 1 || l1 != l2)))
		abort();
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "header", "payload",
	    "stream_key", "shard_id", "sequence", "timestamp", "" };
	const uint8_t *nul = memchr(data, '\0', size < 64 ? size : 64);
	const unsigned char *v;
	char name[65];
	size_t len, off = 0;
	bool valid;

	if (nul != NULL) {
		off = (size_t)(nul - data) + 1;
		memcpy(name, data, off);
	}
	const uint8_t *p = data + off;
	size_t n = size - off;
	valid = ls_json_valid(p, n);
	if (nul != NULL && ls_json_field(p, n, name, &v, &len) == LS_OK) {
		if (!valid)
			abort();
		check_value(p, n, v, len);
	}
	if (nul != NULL)
		same_after_tab(p, n, name);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ls_json_field(p, n, names[i], &v, &len) == LS_OK) {
			if (!valid)
				abort();
			check_value(p, n, v, len);
		}
	if (valid)
		walk_array(p, n);
	return 0;
}
