/* Unit tests of the addresses of network URIs (lib/io/net.c): tcp://,
 * udp:// hosts and ports, unix:// paths and modes, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "ls-internal.h"
#include "net-internal.h"

static int
parse(const char *text, bool passive, struct ls__net *n, ls_error *e)
{
	struct ls__uri u;

	memset(&u, 0, sizeof(u));
	u.text = text;
	u.net = text[0] == 't' ? 't' : text[1] == 'n' ? 'u' : 'd';
	ls__uri_split(&u);
	return ls__net_parse(&u, passive, text, n, e);
}

static void
test_inet(void **state)
{
	struct ls__net n;
	ls_error e;
	char text[64];

	(void)state;
	assert_int_equal(parse("tcp://127.0.0.1:9000", true, &n, &e), LS_OK);
	assert_int_equal(n.kind, 't');
	assert_int_equal(n.sa.ss_family, AF_INET);
	ls__net_addr_text((struct sockaddr *)&n.sa, n.salen, text,
	    sizeof(text));
	assert_string_equal(text, "127.0.0.1:9000");
	assert_int_equal(parse("udp://[::1]:53/", false, &n, &e), LS_OK);
	assert_int_equal(n.kind, 'd');
	assert_int_equal(n.sa.ss_family, AF_INET6);
	ls__net_addr_text((struct sockaddr *)&n.sa, n.salen, text,
	    sizeof(text));
	assert_string_equal(text, "[::1]:53");
}

static void
test_unix(void **state)
{
	struct ls__net n;
	ls_error e;

	(void)state;
	assert_int_equal(parse("unix:///run/a.sock", true, &n, &e), LS_OK);
	assert_string_equal(n.path, "/run/a.sock");
	assert_int_equal(n.mode, 0666);
	assert_int_equal(parse("unix:///run/a.sock?mode=0640", true, &n, &e),
	    LS_OK);
	assert_string_equal(n.path, "/run/a.sock");
	assert_int_equal(n.mode, 0640);
	assert_int_equal(parse("unix:///x?mode=600", true, &n, &e), LS_OK);
	assert_int_equal(n.mode, 0600);
}

static void
test_refused(void **state)
{
	static const struct {
		const char *uri, *why;
	} cases[] = {
		{ "tcp://127.0.0.1", "tcp://127.0.0.1: no port" },
		{ "tcp://:80", "tcp://:80: empty host" },
		{ "tcp://h:0", "tcp://h:0: bad port" },
		{ "tcp://[::1:80", "tcp://[::1:80: unclosed '[' in the host" },
		{ "udp://127.0.0.1:9/p", "udp://127.0.0.1:9/p: not "
		    "udp://HOST:PORT" },
		{ "unix://", "unix://: not unix:///PATH (an absolute path)" },
		{ "unix://a/b", "unix://a/b: not unix:///PATH (an absolute "
		    "path)" },
		{ "unix:///a?mode=0800", "unix:///a?mode=0800: '?mode=0800' is "
		    "not ?mode=OCTAL (at most 0777)" },
		{ "unix:///a?mode=", "unix:///a?mode=: '?mode=' is not "
		    "?mode=OCTAL (at most 0777)" },
		{ "unix:///a?mod=1", "unix:///a?mod=1: '?mod=1' is not "
		    "?mode=OCTAL (at most 0777)" },
	};
	struct ls__net n;
	ls_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].uri, true, &n, &e),
		    LS_ERR_INVAL);
		assert_string_equal(e.msg, cases[i].why);
	}
}

static void
test_long_path(void **state)
{
	char uri[200] = "unix:///";
	struct ls__net n;
	ls_error e;

	(void)state;
	memset(uri + 8, 'p', 120);
	assert_int_equal(parse(uri, true, &n, &e), LS_ERR_INVAL);
	assert_non_null(strstr(e.msg, ": path longer than 107 bytes"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inet),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_long_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
