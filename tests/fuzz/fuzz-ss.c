/* libFuzzer harness: the .ss reader on arbitrary bytes, verifying,
 * resynchronising after damage, and positioning. */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
drain(ls_ss_reader *r)
{
	ls_error e;
	ls_msg m;
	uint64_t from, to;
	int rc, budget = 100000;

	while (budget-- > 0) {
		rc = ls_ss_next(r, &m, &e);
		if (rc == LS_OK)
			continue;
		if (rc != LS_ERR_CORRUPT ||
		    ls_ss_resync(r, &from, &to, &e) != LS_OK)
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ls_ss_from froms[] = { LS_FROM_END, LS_FROM_SEQ,
	    LS_FROM_TIME, LS_FROM_BEACON };
	ls_ss_reader *r;
	ls_error e;
	int fd = memfd_create("fuzz", 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if ((r = ls_ss_reader_open(fd, LS_SS_VERIFY, &e)) != NULL) {
		drain(r);
		for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++) {
			ls_ss_pos pos = { .from = froms[i],
			    .value = size > 8 ? data[size - 1] : 1 };
			if (ls_ss_seek(r, &pos, &e) == LS_OK)
				drain(r);
		}
		ls_ss_reader_free(r);
	}
	close(fd);
	return 0;
}
