/* Unit tests of client libraries loaded on demand (lib/io/dl.c): a
 * table filled from a library that is there (zlib), a soname that is not
 * (the error names it and its package, again on a second try), and a
 * library without one of the functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "ls-internal.h"
#include "dl-internal.h"

#define Z_FNS(X) X(zlibVersion) X(crc32)

LS__DL_DECLARE(ls__z, Z_FNS)
LS__DL_DEFINE(ls__z, "libz.so.1", "zlib1g", Z_FNS)

static void
test_loaded(void **state)
{
	ls_error err = { 0 };

	(void)state;
	assert_int_equal(ls__z_load("z://", &err), LS_OK);
	assert_string_equal(ls__z.zlibVersion(), zlibVersion());
	assert_int_equal(ls__z.crc32(0, (const Bytef *)"abc", 3),
	    crc32(0, (const Bytef *)"abc", 3));
	assert_int_equal(ls__z_load("z://", &err), LS_OK);	/* once */
}

static void
test_missing(void **state)
{
	static const char *const names[] = { "zlibVersion" };
	void *fns[1] = { NULL };
	struct ls__dl l = { "libls-no-such.so.7", "libls-no-such7", names, 1,
	    fns, PTHREAD_MUTEX_INITIALIZER, 0, "" };
	ls_error err = { 0 };

	(void)state;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ls__dl_load(&l, "redis://h/s", &err),
		    LS_ERR_INVAL);
		assert_non_null(strstr(err.msg, "redis://h/s: cannot load "
		    "libls-no-such.so.7"));
		assert_non_null(strstr(err.msg, "(install the Debian package "
		    "libls-no-such7)"));
		assert_null(fns[0]);
	}
}

static void
test_no_function(void **state)
{
	static const char *const names[] = { "zlibVersion", "ls_no_such" };
	void *fns[2] = { NULL, NULL };
	struct ls__dl l = { "libz.so.1", "", names, 2, fns,
	    PTHREAD_MUTEX_INITIALIZER, 0, "" };
	ls_error err = { 0 };

	(void)state;
	assert_int_equal(ls__dl_load(&l, "x://", &err), LS_ERR_INVAL);
	assert_string_equal(err.msg, "x://: cannot load libz.so.1: no function "
	    "ls_no_such (older than the version built against)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loaded),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_no_function),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
