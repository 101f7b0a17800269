/* Runs a libFuzzer harness (LLVMFuzzerTestOneInput) once on each file
 * named, without libFuzzer: `make tests` links every tests/fuzz/fuzz-*.c
 * with this file (build/replay/fuzz-*), so that the kept inputs replay
 * under both builds without clang. A harness that finds a property
 * broken aborts; exits 1 if a file cannot be read. */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char *argv[])
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char *buf = NULL;
		size_t n = 0, cap = 0, got;

		if (f == NULL)
			err(1, "%s", argv[i]);
		do {
			if (n == cap) {
				unsigned char *b = realloc(buf, cap = cap * 2 + 4096);
				if (b == NULL)
					err(1, NULL);
				buf = b;
			}
			got = fread(buf + n, 1, cap - n, f);
			n += got;
		} while (got > 0);
		if (ferror(f))
			err(1, "%s", argv[i]);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
	}
	return 0;
}
