/* Helpers shared by the unit tests: a seeded PRNG, temporary files and
 * reading a file back. Include after cmocka.h. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng_state;

static inline uint64_t
rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline uint64_t
rng_below(uint64_t n)
{
	return n ? rng() % n : 0;
}

/* Creates a temporary file; its name is left in path. */
static inline int
temp_file(char path[32])
{
	int fd;

	strcpy(path, "/tmp/ls-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	return fd;
}

/* An anonymous temporary file. */
static inline int
temp_fd(void)
{
	char path[32];
	int fd = temp_file(path);

	unlink(path);
	return fd;
}

/* Reads all of fd into a NUL-terminated malloc'd buffer. */
static inline void *
slurp(int fd, size_t *len)
{
	struct stat st;
	char *buf;

	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0),
	    (ssize_t)st.st_size);
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return buf;
}

#endif
