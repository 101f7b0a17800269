/* Redis Streams through hiredis: redis://[:PASSWORD@]HOST[:PORT]/STREAM */
#include "ls-internal.h"
#include "broker-internal.h"

#ifndef LS_HAVE_HIREDIS
int
ls__redis_source(const char *uri, const ls_source_opts *o,
    struct ls__bsrc *b, ls_error *err)
{
	(void)o;
	(void)b;
	return ls__fail(err, LS_ERR_INVAL, 0, "%s: this libstream was built "
	    "without hiredis: install libhiredis-dev and rebuild", uri);
}

int
ls__redis_sink(const char *uri, const ls_sink_opts *o, struct ls__bsink *b,
    ls_error *err)
{
	(void)o;
	(void)b;
	return ls__fail(err, LS_ERR_INVAL, 0, "%s: this libstream was built "
	    "without hiredis: install libhiredis-dev and rebuild", uri);
}
#else
#include <hiredis/hiredis.h>
/* the backend: written next */
#endif
