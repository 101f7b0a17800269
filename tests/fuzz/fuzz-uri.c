/* libFuzzer harness: ls_source_open and ls_sink_open on arbitrary URIs.
 * Built, as by `make fuzz`, without the broker backends, so a redis://,
 * kafka:// or etcd:// URI reaches only the URI dispatch and the backend's
 * refusal: nothing connects. Any other URI names a path inside a temporary
 * directory holding a .ss file and a file of lines (a URI with ".." is
 * dropped; dir has no subdirectory, so a sink creates files only there),
 * and a sink, once opened, is aborted and its file removed. Replayed
 * against the library of `make tests` (LS_FUZZ_REPLAY), which has the
 * backends, broker URIs are passed over. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static const char *const fixtures[] = { "lines", "a.ss" };

static void
put_file(const char *name, const void *p, size_t n)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
	    write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void clean_dir(void);

static void
remove_dir(void)
{
	char path[128];

	clean_dir();
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, fixtures[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void
setup_dir(void)
{
	static const char lines[] = "[2024-01-01T00:00:00 | k | 1] x\nplain\n";
	unsigned char ss[128] = { 'S', 's', 1, 0 };

	snprintf(dir, sizeof(dir), "/tmp/fuzz-uri-XXXXXX");
	if (mkdtemp(dir) == NULL || atexit(remove_dir) != 0)
		abort();
	put_file(fixtures[0], lines, sizeof(lines) - 1);
	ss[4 + 8 + 2] = 4;		/* interval 1024 */
	ss[127] = 0x0D;
	put_file(fixtures[1], ss, sizeof(ss));
}

/* Removes from dir whatever a sink created there. */
static void
clean_dir(void)
{
	char path[4200];
	struct dirent *d;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0 ||
		    strcmp(d->d_name, fixtures[0]) == 0 ||
		    strcmp(d->d_name, fixtures[1]) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		unlink(path);
	}
	closedir(dp);
}

/* The URI to try: a broker URI as given, anything else under dir. */
static char *
make_uri(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size), *uri = NULL;

	if (s == NULL || strlen(s) != size || strstr(s, "..") != NULL) {
		free(s);
		return NULL;
	}
	if (strncmp(s, "redis://", 8) == 0 || strncmp(s, "kafka://", 8) == 0 ||
	    strncmp(s, "rediss://", 9) == 0 || strncmp(s, "etcd://", 7) == 0) {
#ifdef LS_FUZZ_REPLAY
		/* the library of `make tests` has the backends: they connect */
		free(s);
		return NULL;
#else
		return s;
#endif
	}
	if (asprintf(&uri, "%s%s/%s", size % 2 ? "file://" : "", dir, s) < 0)
		uri = NULL;
	free(s);
	return uri;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const props[] = { "client.id=fuzz", NULL };
	ls_source_opts so = { .props = props };
	ls_sink_opts ko = { .props = props };
	ls_source *s;
	ls_sink *k;
	ls_error e;
	char *uri;

	if (dir[0] == '\0')
		setup_dir();
	if ((uri = make_uri(data, size)) == NULL)
		return 0;
	if ((s = ls_source_open(uri, &so, &e)) != NULL) {
		(void)ls_source_name(s);
		ls_source_close(s);
	}
	if ((k = ls_sink_open(uri, &ko, &e)) != NULL) {
		(void)ls_sink_name(k);
		ls_sink_abort(k, &e);
	}
	clean_dir();
	free(uri);
	return 0;
}
