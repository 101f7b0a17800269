/*
 * Broker backends (Redis Streams, Kafka) behind sources and sinks. Each
 * backend fills a table of functions; endpoint.c calls them. A backend
 * that was not built (no hiredis or librdkafka at build time) fails to
 * open with a message naming the package to install.
 */
#ifndef BROKER_INTERNAL_H
#define BROKER_INTERNAL_H

#include "libstream.h"

struct ls__bsrc {
	void *ctx;
	/* The next message, borrowed until the next call: LS_OK, LS_END
	 * (at the end, as asked, or once *o->stop is set), or an error.
	 * Before a call to the broker that may wait it calls o->on_wait. */
	int (*next)(void *ctx, ls_msg *m, ls_error *err);
	/* Acknowledges (commits) every message next returned so far. */
	int (*commit)(void *ctx, ls_error *err);
	/* Where the last message came from (an offset or an entry ID's
	 * milliseconds), and the same for messages, "entry MS-SEQ" or
	 * "partition P offset O", into buf (n bytes). */
	uint64_t (*where)(void *ctx);
	void (*where_text)(void *ctx, char *buf, size_t n);
	void (*close)(void *ctx);
};

struct ls__bsink {
	void *ctx;
	int (*write)(void *ctx, const ls_msg *m, ls_error *err);
	/* Returns once the broker has taken everything written. */
	int (*flush)(void *ctx, ls_error *err);
	/* Flushes (unless abort) and frees ctx. */
	int (*close)(void *ctx, bool abort, ls_error *err);
};

/* uri is the whole "redis://..." or "kafka://..." text. */
int ls__redis_source(const char *uri, const ls_source_opts *o,
    struct ls__bsrc *b, ls_error *err);
int ls__redis_sink(const char *uri, const ls_sink_opts *o,
    struct ls__bsink *b, ls_error *err);
int ls__kafka_source(const char *uri, const ls_source_opts *o,
    struct ls__bsrc *b, ls_error *err);
int ls__kafka_sink(const char *uri, const ls_sink_opts *o,
    struct ls__bsink *b, ls_error *err);

#endif
