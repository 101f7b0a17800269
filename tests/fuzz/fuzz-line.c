/* libFuzzer harness: line framing and JSON on arbitrary bytes; whatever
 * parses must write back and parse again to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ls_msg m, back;
	ls_error e;
	ls_out o;
	unsigned have, have2;
	int p[2];

	memset(&m, 0, sizeof(m));
	(void)ls_json_valid(data, size);
	if (ls_line_parse((const char *)data, size, &m, &have, &e) != LS_OK)
		return 0;
	if (!(have & LS_HAVE_KEY))
		ls_msg_set_key(&m, LS_DEFAULT_KEY, 9, NULL);
	if (size > 60000 || pipe(p) != 0)
		return 0;
	if (ls_out_init(&o, p[1], 0, &e) == LS_OK) {
		if (ls_line_write(&o, &m, &e) == LS_OK &&
		    ls_out_flush(&o, &e) == LS_OK) {
			char *buf = malloc(o.total + 1);
			ssize_t n = buf ? read(p[0], buf, o.total) : -1;
			if (n > 0 && buf[n - 1] == '\n') {
				memset(&back, 0, sizeof(back));
				if (ls_line_parse(buf, (size_t)n - 1, &back,
				    &have2, &e) != LS_OK ||
				    back.key_len != m.key_len ||
				    memcmp(back.key, m.key, m.key_len) != 0 ||
				    back.seq != m.seq || back.shard != m.shard ||
				    back.len != m.len ||
				    (m.len && memcmp(back.payload, m.payload,
				    m.len) != 0))
					abort();
			}
			free(buf);
		}
		(void)ls_json_write(&o, &m, 0, &e);
		ls_out_free(&o);
	}
	close(p[0]);
	close(p[1]);
	return 0;
}
