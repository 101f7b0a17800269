/* libFuzzer harness: line framing and JSON on arbitrary bytes; whatever
 * parses must write back and parse again to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct buf {
	char *p;
	size_t n;
};

/* Collects the output in memory: a pipe nobody reads blocks once full. */
static ssize_t
to_buf(void *ctx, const void *p, size_t n)
{
	struct buf *b = ctx;
	char *q = realloc(b->p, b->n + n);

	if (q == NULL)
		return -1;
	memcpy(q + b->n, p, n);
	b->p = q;
	b->n += n;
	return (ssize_t)n;
}

static void
check_back(const char *buf, size_t n, const ls_msg *m)
{
	ls_msg back;
	ls_error e;
	unsigned have;

	memset(&back, 0, sizeof(back));
	if (ls_line_parse(buf, n, &back, &have, &e) != LS_OK ||
	    back.key_len != m->key_len ||
	    memcmp(back.key, m->key, m->key_len) != 0 ||
	    back.seq != m->seq || back.shard != m->shard ||
	    back.len != m->len ||
	    (m->len && memcmp(back.payload, m->payload, m->len) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = { NULL, 0 };
	ls_msg m;
	ls_error e;
	ls_out o;
	unsigned have;

	memset(&m, 0, sizeof(m));
	(void)ls_json_valid(data, size);
	if (ls_line_parse((const char *)data, size, &m, &have, &e) != LS_OK)
		return 0;
	if (!(have & LS_HAVE_KEY))
		ls_msg_set_key(&m, LS_DEFAULT_KEY, 9, NULL);
	if (ls_out_init_fn(&o, to_buf, &b, 0, &e) != LS_OK)
		return 0;
	if (ls_line_write(&o, &m, &e) == LS_OK &&
	    ls_out_flush(&o, &e) == LS_OK && b.n > 0 && b.p[b.n - 1] == '\n')
		check_back(b.p, b.n - 1, &m);
	(void)ls_json_write(&o, &m, 0, &e);
	ls_out_free(&o);
	free(b.p);
	return 0;
}
