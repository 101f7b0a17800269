/* Positions of file sources (ls_source_tell) and opening there again
 * (ls_source_opts.resume): for lines and .ss files, at every point of
 * a file, the messages after the position are those of one reading;
 * a file replaced, truncated or rewritten is LS_ERR_STALE; .gz is not
 * positioned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "test-util.h"
#include "libstream.h"

#define N 600

/* What one reading of a source gave: payloads, keys, sequences. */
struct ref {
	char payload[N + 1][64];
	char key[N + 1][LS_KEY_MAX + 7];
	uint64_t seq[N + 1];
	uint64_t where[N + 1];
	size_t n;
};

static char dir[] = "/tmp/ls-resume-XXXXXX";

static void
path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

/* N lines; every seventh names a stream, every eleventh is long. */
static void
write_lines(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 0; i < N; i++) {
		if (i % 7 == 3)
			fprintf(f, "[k%d] msg %d\n", i % 3, i);
		else if (i % 11 == 5)
			fprintf(f, "msg %d %0200d\n", i, 0);
		else
			fprintf(f, "msg %d\n", i);
	}
	assert_int_equal(fclose(f), 0);
}

/* The .ss file of those lines, with beacons every 128 bytes. */
static void
write_ss(const char *lines, const char *path)
{
	ls_sink_opts ko = { .interval = 128 };
	ls_source *s;
	ls_sink *k;
	ls_msg m, eos;
	ls_error e;

	assert_non_null(s = ls_source_open(lines, NULL, &e));
	assert_non_null(k = ls_sink_open(path, &ko, &e));
	while (ls_source_next(s, &m, &e) == LS_OK)
		assert_int_equal(ls_sink_write(k, &m, &e), LS_OK);
	ls_msg_eos(&eos, ls_now_ms());
	assert_int_equal(ls_sink_close(k, &eos, &e), LS_OK);
	ls_source_close(s);
}

static void
take(struct ref *r, const ls_source *s, const ls_msg *m)
{
	snprintf(r->payload[r->n], sizeof(r->payload[0]), "%.*s",
	    (int)(m->len < 60 ? m->len : 60), (const char *)m->payload);
	snprintf(r->key[r->n], sizeof(r->key[0]), "%s", m->key);
	r->seq[r->n] = m->seq;
	r->where[r->n] = ls_source_where(s);
	r->n++;
}

/* Reads all of the source into r (the End-of-Stream included). */
static void
read_all(ls_source *s, struct ref *r)
{
	ls_msg m;
	ls_error e;
	int rc;

	while ((rc = ls_source_next(s, &m, &e)) == LS_OK) {
		assert_true(r->n <= N);
		take(r, s, &m);
	}
	assert_int_equal(rc, LS_END);
}

/* For every k, reads k messages, tells, and reads the rest from a
 * source opened at the position: they are the reference's from k. */
static void
check_every_point(const char *path, bool lines)
{
	static struct ref ref, rest;
	ls_source_opts o = { 0 };
	ls_src_pos pos;
	ls_source *s;
	ls_msg m;
	ls_error e;

	ref.n = 0;
	assert_non_null(s = ls_source_open(path, NULL, &e));
	read_all(s, &ref);
	ls_source_close(s);
	for (size_t k = 0; k <= ref.n; k += 1 + (k % 5)) {
		assert_non_null(s = ls_source_open(path, NULL, &e));
		for (size_t i = 0; i < k; i++)
			assert_int_equal(ls_source_next(s, &m, &e), LS_OK);
		assert_int_equal(ls_source_tell(s, &pos, &e), LS_OK);
		ls_source_close(s);
		o.resume = &pos;
		assert_non_null(s = ls_source_open(path, &o, &e));
		rest.n = 0;
		read_all(s, &rest);
		ls_source_close(s);
		/* .ss: told before an End-of-Stream, which comes again */
		size_t from = !lines && k == ref.n ? k - 1 : k;
		assert_int_equal(rest.n, ref.n - from);
		for (size_t i = 0; i < rest.n; i++) {
			assert_string_equal(rest.payload[i],
			    ref.payload[from + i]);
			assert_string_equal(rest.key[i], ref.key[from + i]);
			if (strcmp(rest.key[i], LS_DEFAULT_KEY) == 0 || !lines)
				assert_int_equal(rest.seq[i], ref.seq[from + i]);
			if (lines)	/* line numbers go on */
				assert_int_equal(rest.where[i],
				    ref.where[from + i]);
		}
	}
}

static void
test_lines_every_point(void **state)
{
	char path[128];

	(void)state;
	path_in(path, sizeof(path), "a.txt");
	write_lines(path);
	check_every_point(path, true);
}

static void
test_ss_every_point(void **state)
{
	char lines[128], path[128];

	(void)state;
	path_in(lines, sizeof(lines), "b.txt");
	path_in(path, sizeof(path), "b.ss");
	write_lines(lines);
	write_ss(lines, path);
	check_every_point(path, false);
}

/* Opens path at pos; returns the status and the message in e. */
static int
reopen(const char *path, const ls_src_pos *pos, ls_error *e)
{
	ls_source_opts o = { .resume = pos };
	ls_source *s = ls_source_open(path, &o, e);

	if (s == NULL)
		return e->code;
	ls_source_close(s);
	return LS_OK;
}

static void
test_stale(void **state)
{
	char path[128], other[128], want[512];
	ls_src_pos pos;
	ls_source *s;
	ls_msg m;
	ls_error e;
	FILE *f;

	(void)state;
	path_in(path, sizeof(path), "c.txt");
	path_in(other, sizeof(other), "c2.txt");
	write_lines(path);
	assert_non_null(s = ls_source_open(path, NULL, &e));
	for (int i = 0; i < 100; i++)
		assert_int_equal(ls_source_next(s, &m, &e), LS_OK);
	assert_int_equal(ls_source_tell(s, &pos, &e), LS_OK);
	ls_source_close(s);
	assert_int_equal(pos.line, 100);
	assert_int_equal(pos.window, LS_POS_WINDOW);
	assert_int_equal(reopen(path, &pos, &e), LS_OK);
	/* appended to: still the same */
	assert_non_null(f = fopen(path, "a"));
	fputs("more\n", f);
	fclose(f);
	assert_int_equal(reopen(path, &pos, &e), LS_OK);
	/* one byte before the offset changed */
	assert_non_null(f = fopen(path, "r+"));
	fseek(f, (long)pos.offset - 3, SEEK_SET);
	fputc('X', f);
	fclose(f);
	assert_int_equal(reopen(path, &pos, &e), LS_ERR_STALE);
	snprintf(want, sizeof(want), "%s: rewritten: the 256 bytes before "
	    "byte %llu are not those of the checkpoint", path,
	    (unsigned long long)pos.offset);
	assert_string_equal(e.msg, want);
	/* truncated below the offset */
	assert_int_equal(truncate(path, 10), 0);
	assert_int_equal(reopen(path, &pos, &e), LS_ERR_STALE);
	assert_non_null(strstr(e.msg, ": truncated: 10 bytes"));
	/* replaced */
	write_lines(other);
	assert_int_equal(rename(other, path), 0);
	assert_int_equal(reopen(path, &pos, &e), LS_ERR_STALE);
	assert_non_null(strstr(e.msg, ": not the file of the checkpoint: "
	    "replaced"));
}

static void
test_gz_refused(void **state)
{
	char lines[128], path[128];
	ls_src_pos pos = { 0 };
	ls_source *s;
	ls_msg m;
	ls_error e;

	(void)state;
	path_in(lines, sizeof(lines), "d.txt");
	path_in(path, sizeof(path), "d.ss.gz");
	write_lines(lines);
	write_ss(lines, path);
	assert_non_null(s = ls_source_open(path, NULL, &e));
	assert_int_equal(ls_source_next(s, &m, &e), LS_OK);
	assert_int_equal(ls_source_tell(s, &pos, &e), LS_ERR_SEEK);
	ls_source_close(s);
	assert_int_equal(reopen(path, &pos, &e), LS_ERR_SEEK);
	assert_non_null(strstr(e.msg, "the uncompressed file"));
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_every_point),
		cmocka_unit_test(test_ss_every_point),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_gz_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
