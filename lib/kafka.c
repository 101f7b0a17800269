/* Kafka through librdkafka: kafka://HOST:PORT[,HOST:PORT]/TOPIC */
#include "ls-internal.h"
#include "broker-internal.h"

#ifndef LS_HAVE_RDKAFKA
int
ls__kafka_source(const char *uri, const ls_source_opts *o,
    struct ls__bsrc *b, ls_error *err)
{
	(void)o;
	(void)b;
	return ls__fail(err, LS_ERR_INVAL, 0, "%s: this libstream was built "
	    "without librdkafka: install librdkafka-dev and rebuild", uri);
}

int
ls__kafka_sink(const char *uri, const ls_sink_opts *o, struct ls__bsink *b,
    ls_error *err)
{
	(void)o;
	(void)b;
	return ls__fail(err, LS_ERR_INVAL, 0, "%s: this libstream was built "
	    "without librdkafka: install librdkafka-dev and rebuild", uri);
}
#else
#include <librdkafka/rdkafka.h>
/* the backend: written next */
#endif
