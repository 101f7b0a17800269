/*
 * The one interface behind sources and sinks. endpoint.c parses a URI
 * once (struct ls__uri) and hands it to the backend its scheme names:
 * files and stdio (lines or .ss, either through zlib: file-src.c and
 * file-sink.c), Redis Streams (redis.c) or Kafka (kafka.c). Each fills a
 * table of functions over a context of its own, and endpoint.c calls
 * only those. A broker backend that was not built fails to open with a
 * message naming the package to install.
 */
#ifndef IO_INTERNAL_H
#define IO_INTERNAL_H

#include "libstream.h"

struct ls__key {
	size_t len;
	char key[LS_KEY_MAX + 7];
};

/* The stream keys a URI keeps (stdio:///k1,k2 or file://PATH/KEY). */
struct ls__keyset {
	size_t n;
	struct ls__key *v;
};

/* Does m pass ks (an empty set passes everything)? The empty set, the
 * usual case, is answered inline (callgrind of partition -n 4: the call
 * took 15 instructions a message). */
bool ls__keys_in(const struct ls__keyset *ks, const ls_msg *m);

static inline bool
ls__keys_pass(const struct ls__keyset *ks, const ls_msg *m)
{
	return ks->n == 0 || ls__keys_in(ks, m);
}

/* A URI, parsed once. */
struct ls__uri {
	const char *text;	/* as given */
	bool stdio;		/* "-", stdio:// */
	int broker;		/* 'r' redis://, 'k' kafka://, 'e' etcd://,
				   'h' http:// or https://, or 0 */
	int net;		/* 't' tcp://, 'u' unix://, 'd' udp://, or 0 */
	bool gz;		/* a file whose name ends in .gz */
	char *path;		/* a file's path (owned) */
	struct ls__keyset keys;	/* owned; a backend may take them */
	/* SCHEME://[USERINFO@]HOSTS[/PATH] (ls__uri_split): spans of text,
	 * NULL where absent; upath starts at its '/' */
	const char *userinfo, *hosts, *upath;
	size_t userinfo_len, hosts_len;
};

/* Fills u's userinfo, hosts and upath from u->text. */
void ls__uri_split(struct ls__uri *u);

/* One host of a URI: HOST or [V6HOST], either with :PORT. */
struct ls__host {
	char host[256];
	bool v6;
	unsigned port;		/* 0: none given */
	const char *port_text;	/* its text, or NULL */
	size_t port_len;
};

/* Parses p[0..n) into h; returns NULL, or why it is not a host:
 * "unclosed '[' in the host", "empty host", "bad host", "bad port",
 * "host longer than 255 bytes". */
const char *ls__host_parse(const char *p, size_t n, struct ls__host *h);

/* Decodes the %XX escapes of p[0..n) into a new string (its length in
 * *len, which a %00 makes longer than strlen); NULL: out of memory. */
char *ls__pct_decode(const char *p, size_t n, size_t *len);

/* A source's backend. */
struct ls__src {
	void *ctx;
	bool lines;		/* bad lines are its LS_ERR_INVAL */
	/* The next message, borrowed until the next call: LS_OK, LS_END
	 * (at the end, as asked, or once *o->stop is set), or an error.
	 * Before a call that may wait it calls o->on_wait. */
	int (*next)(void *ctx, ls_msg *m, ls_error *err);
	/* Acknowledges (commits) every message next returned so far;
	 * NULL where nothing is acknowledged. */
	int (*commit)(void *ctx, ls_error *err);
	/* Where the last message came from (a line number, a byte offset,
	 * an entry ID's milliseconds, an offset), and the same as text:
	 * "line N", "byte N", "entry MS-SEQ", "partition P offset O". */
	uint64_t (*where)(void *ctx);
	void (*where_text)(void *ctx, char *buf, size_t n);
	/* Where it is, to be reopened there (ls_source_mark), and the
	 * rest of such a position (ls_source_seal); NULL: it cannot be. */
	int (*mark)(void *ctx, ls_src_pos *pos, ls_error *err);
	int (*seal)(void *ctx, ls_src_pos *pos, ls_error *err);
	/* Lines taken raw (LS_BAD_RAW); NULL: none. */
	uint64_t (*raw)(void *ctx);
	/* A listening source's counters; NULL: it does not listen. */
	void (*listen_stats)(void *ctx, ls_listen_stats *st);
	void (*close)(void *ctx);
};

/* A sink's backend. */
struct ls__snk {
	void *ctx;
	bool ss;		/* it writes a .ss file */
	int fd;			/* the descriptor written, or -1 */
	uint64_t dropped, dropped_at;	/* an append's incomplete tail */
	int (*write)(void *ctx, const ls_msg *m, ls_error *err);
	/* Returns once everything written is out (a broker: taken). */
	int (*flush)(void *ctx, ls_error *err);
	/* Writes eos as ls_sink_close says (a broker carries none), then
	 * flushes, unless abort, and frees ctx. */
	int (*close)(void *ctx, const ls_msg *eos, bool abort, ls_error *err);
};

/* Fills pos's size, window and hash from the file on fd, which must be
 * pos's (dev, ino): else LS_ERR_STALE; LS_ERR_RANGE if it is shorter
 * than pos->offset (resume.c). */
int ls__pos_seal(int fd, ls_src_pos *pos, ls_error *err);

/* Does the file on fd still match pos? LS_OK, or LS_ERR_STALE with why,
 * after name (resume.c). */
int ls__pos_check(int fd, const char *name, const ls_src_pos *pos,
    ls_error *err);

/* Each backend's open: name is what messages call it (owned by the
 * caller, alive as long as the backend); o stays the caller's too. */
int ls__file_source(struct ls__uri *u, const ls_source_opts *o,
    const char *name, struct ls__src *b, ls_error *err);
int ls__file_sink(struct ls__uri *u, const ls_sink_opts *o,
    const char *name, struct ls__snk *b, ls_error *err);
int ls__redis_source(const struct ls__uri *u, const ls_source_opts *o,
    struct ls__src *b, ls_error *err);
int ls__redis_sink(const struct ls__uri *u, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err);
int ls__kafka_source(const struct ls__uri *u, const ls_source_opts *o,
    struct ls__src *b, ls_error *err);
int ls__kafka_sink(const struct ls__uri *u, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err);
int ls__http_source(const struct ls__uri *u, const ls_source_opts *o,
    const char *name, struct ls__src *b, ls_error *err);
int ls__etcd_source(const struct ls__uri *u, const ls_source_opts *o,
    struct ls__src *b, ls_error *err);
int ls__etcd_sink(const struct ls__uri *u, const ls_sink_opts *o,
    struct ls__snk *b, ls_error *err);

/* Network sources (net-src.c: listening) and sinks (net-sink.c:
 * connecting) of tcp://, unix:// and udp://. */
int ls__net_source(const struct ls__uri *u, const ls_source_opts *o,
    const char *name, struct ls__src *b, ls_error *err);
int ls__net_sink(const struct ls__uri *u, const ls_sink_opts *o,
    const char *name, struct ls__snk *b, ls_error *err);

struct ls__streams;
/* A line source's meta of m, parsed with the LS_HAVE_* bits have: the
 * time now, key "broadcast", shard 0 and the next sequence number of
 * its stream in seqs where the line had none (file-src.c). Returns
 * LS_OK, or an error naming line lineno. */
int ls__line_meta(struct ls__streams *seqs, ls_msg *m, unsigned have,
    uint64_t lineno, ls_error *err);

#endif
