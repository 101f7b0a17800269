/* Unit tests of the network URI parts (lib/io/uri.c): the split of
 * SCHEME://[USERINFO@]HOSTS[/PATH], hosts with ports and %XX decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ls-internal.h"
#include "io-internal.h"

static void
split(const char *text, struct ls__uri *u)
{
	memset(u, 0, sizeof(*u));
	u->text = text;
	ls__uri_split(u);
}

static void
assert_span(const char *p, size_t n, const char *want)
{
	if (want == NULL) {
		assert_null(p);
		return;
	}
	assert_non_null(p);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

static void
test_split(void **state)
{
	struct ls__uri u;

	(void)state;
	split("redis://u:p@w@h:1/s/t", &u);
	assert_span(u.userinfo, u.userinfo_len, "u:p@w");
	assert_span(u.hosts, u.hosts_len, "h:1");
	assert_string_equal(u.upath, "/s/t");
	split("kafka://a:1,b:2", &u);
	assert_null(u.userinfo);
	assert_span(u.hosts, u.hosts_len, "a:1,b:2");
	assert_null(u.upath);
	split("tcp:///x@y", &u);	/* an '@' in the path is not userinfo */
	assert_null(u.userinfo);
	assert_span(u.hosts, u.hosts_len, "");
	assert_string_equal(u.upath, "/x@y");
}

static void
test_host(void **state)
{
	struct ls__host h;

	(void)state;
	assert_null(ls__host_parse("example.org:6380", 16, &h));
	assert_string_equal(h.host, "example.org");
	assert_int_equal(h.port, 6380);
	assert_null(ls__host_parse("[::1]:9", 7, &h));
	assert_string_equal(h.host, "::1");
	assert_true(h.v6);
	assert_int_equal(h.port, 9);
	assert_null(ls__host_parse("h", 1, &h));
	assert_int_equal(h.port, 0);
	assert_null(h.port_text);
	assert_string_equal(ls__host_parse("[::1", 4, &h),
	    "unclosed '[' in the host");
	assert_string_equal(ls__host_parse("[::1]x", 6, &h), "bad host");
	assert_string_equal(ls__host_parse(":80", 3, &h), "empty host");
	assert_string_equal(ls__host_parse("h:0", 3, &h), "bad port");
	assert_string_equal(ls__host_parse("h:65536", 7, &h), "bad port");
	assert_string_equal(ls__host_parse("h:", 2, &h), "bad port");
	assert_int_equal(h.port_len, 0);
}

static void
test_host_long(void **state)
{
	char buf[300];
	struct ls__host h;

	(void)state;
	memset(buf, 'h', 256);
	memcpy(buf + 256, ":99999", 6);
	/* the port is judged first, so its reason is the one shown */
	assert_string_equal(ls__host_parse(buf, 262, &h), "bad port");
	memcpy(buf + 256, ":999", 4);
	assert_string_equal(ls__host_parse(buf, 260, &h),
	    "host longer than 255 bytes");
	assert_null(ls__host_parse(buf + 1, 259, &h));
}

static void
test_pct(void **state)
{
	size_t n;
	char *s;

	(void)state;
	s = ls__pct_decode("a%41%2fb%4", 10, &n);
	assert_string_equal(s, "aA/b%4");
	assert_int_equal(n, 6);
	free(s);
	s = ls__pct_decode("x%00y", 5, &n);
	assert_int_equal(n, 3);		/* longer than strlen: a NUL inside */
	assert_int_equal(strlen(s), 1);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_host_long),
		cmocka_unit_test(test_pct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
