/*
 * libstream: the message model and the two framings of the libstream
 * toolkit: text lines "[timestamp | key | seq | shard] payload" and the
 * beaconed binary .ss file of the SeaStreamer project (version 1).
 *
 * Conventions for every function below:
 * - Names start with ls_ (types, functions) or LS_ (macros, constants).
 * - The library never prints and never exits. Functions that can fail take
 *   an ls_error * (may be NULL) that receives a code, a byte offset or a
 *   column, and a one-line message; they return an ls_status.
 * - Nothing allocates per message. Objects that need memory allocate it
 *   when created and grow only for a message larger than any before.
 */
#ifndef LIBSTREAM_H
#define LIBSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LS_BUILDING) && defined(__GNUC__)
#define LS_API __attribute__((visibility("default")))
#else
#define LS_API
#endif

#define LS_VERSION "0.1.0"

#define LS_KEY_MAX 249			/* longest stream key, in bytes */
#define LS_DEFAULT_KEY "broadcast"	/* key of stdio lines without one */
#define LS_EOS_KEY "SEA_STREAMER_INTERNAL"
#define LS_EOS_PAYLOAD "EOS"

#define LS_SS_HEADER_SIZE 128
#define LS_SS_MIN_INTERVAL 128
#define LS_SS_DEFAULT_INTERVAL (1024u * 1024u)
#define LS_SS_NAME_MAX 111		/* longest file name the header holds */
#define LS_SS_ITEM_MAX 255		/* most items one beacon can carry */

#define LS_ERRMSG_MAX 256

/* Return values. Negative values are errors; LS_OK and the two "end"
 * values are not. */
enum ls_status {
	LS_OK = 0,
	LS_END = 1,		/* no more data, at a message boundary */
	LS_PARTIAL = 2,		/* data stops inside a message or beacon */
	LS_AGAIN = 3,		/* nothing yet: a wait gave up (call again) */
	LS_NOTICE = 4,		/* a follower went on after what err->msg
				   says (a file truncated or replaced): tell
				   it, and call again */
	LS_ERR_IO = -1,		/* a system call failed; errno is kept */
	LS_ERR_INVAL = -2,	/* bad argument or malformed input */
	LS_ERR_CORRUPT = -3,	/* a .ss file is damaged at err->offset */
	LS_ERR_NOMEM = -4,
	LS_ERR_NOTLINE = -5,	/* payload cannot be a line (newline, not UTF-8) */
	LS_ERR_RANGE = -6,	/* a position past the end of the file */
	LS_ERR_SEEK = -7,	/* positioning needs a seekable file */
	LS_ERR_STALE = -8	/* a resume position no longer matches its
				   file (replaced, truncated, rewritten) */
};

typedef struct ls_error {
	int code;		/* an ls_status */
	uint64_t offset;	/* .ss: byte offset; line: 1-based column */
	char msg[LS_ERRMSG_MAX];
} ls_error;

/*
 * A message. The key is held inline; the payload is borrowed: a message
 * returned by a reader points into the reader's buffer and stays valid
 * until the next call on that reader.
 */
typedef struct ls_msg {
	uint64_t shard;
	uint64_t seq;
	uint64_t ts_ms;		/* UTC, milliseconds since the Unix epoch */
	size_t key_len;
	char key[LS_KEY_MAX + 7];	/* NUL-terminated copy of the key */
	const unsigned char *payload;
	size_t len;
} ls_msg;

/* Returns a static string naming status code. */
LS_API const char *ls_strstatus(int code);

/* --- message model --------------------------------------------------- */

/* True if key[0..len) is a valid stream key: 1..249 bytes of
 * [A-Za-z0-9._-]. */
LS_API bool ls_key_valid(const char *key, size_t len);

/* Sets m's key to key[0..len). Returns LS_ERR_INVAL (and leaves m alone)
 * if the key is not valid. */
LS_API int ls_msg_set_key(ls_msg *m, const char *key, size_t len,
    ls_error *err);

/* Fills m as the End-of-Stream marker stamped ts_ms. */
LS_API void ls_msg_eos(ls_msg *m, uint64_t ts_ms);

/* True if m is the End-of-Stream marker (reserved key, payload "EOS"). */
LS_API bool ls_msg_is_eos(const ls_msg *m);

/* The current time in milliseconds since the epoch (CLOCK_REALTIME). */
LS_API uint64_t ls_now_ms(void);

/* --- text helpers ------------------------------------------------------ */

/* True if p[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
LS_API bool ls_utf8_valid(const unsigned char *p, size_t n);

/* The longest text of a timestamp: a year of nine digits. */
#define LS_TIME_MAX 28

/*
 * Formats ts_ms as "YYYY-MM-DDTHH:MM:SS.mmm" (UTC) into out, which must
 * hold LS_TIME_MAX + 1 bytes; NUL-terminates and returns the length: 23,
 * or, for a year past 9999 (from 10000-01-01T00:00:00.000 on), as many
 * more as the year has digits past four, up to LS_TIME_MAX. Distinct
 * timestamps always give distinct texts, which ls_time_parse reads back.
 */
LS_API size_t ls_time_format(uint64_t ts_ms, char *out);

/* Parses "YYYY-MM-DDTHH:MM:SS" with an optional fraction of 1 to 9
 * digits, UTC, no zone; a year past 9999 has five to nine digits, the
 * first not 0, as ls_time_format writes it. Fractions below a
 * millisecond are truncated. Returns LS_OK, or LS_ERR_INVAL (also for a
 * time before 1970 or past the largest ts_ms, 2^64 - 1). */
LS_API int ls_time_parse(const char *s, size_t n, uint64_t *ts_ms);

/*
 * Parses the decimal number s[0..n) into *v: one to twenty digits and
 * nothing else (no sign, no space), at most 18446744073709551615
 * (2^64 - 1). Returns LS_OK, or LS_ERR_INVAL (*v unchanged). The one
 * parser of sequence numbers, shards, offsets and IDs in libstream.
 */
LS_API int ls_u64_parse(const char *s, size_t n, uint64_t *v);

/* --- buffered output --------------------------------------------------- */

/*
 * A buffered writer. ls_out_init allocates cap bytes (at least 64 KiB is
 * used whatever is asked). Writes go to fd through write(2), retried on
 * EINTR and short counts. The caller owns fd. A full buffer goes out up
 * to its last newline, the rest staying buffered, so that a process
 * killed between flushes leaves whole lines (a line longer than the
 * buffer goes out in pieces); ls_out_flush writes everything.
 */
typedef struct ls_out {
	int fd;
	ssize_t (*fn)(void *ctx, const void *buf, size_t n);	/* or NULL */
	void *ctx;
	unsigned char *buf;
	size_t len;
	size_t cap;
	uint64_t total;		/* bytes written out (to fd or fn) so far */
} ls_out;

LS_API int ls_out_init(ls_out *o, int fd, size_t cap, ls_error *err);
/* Writes everything buffered. */
LS_API int ls_out_flush(ls_out *o, ls_error *err);
/* Appends p[0..n), flushing as needed. */
LS_API int ls_out_write(ls_out *o, const void *p, size_t n, ls_error *err);
/* Frees the buffer without flushing. */
LS_API void ls_out_free(ls_out *o);

/* Writes p[0..n) to fd completely, retrying on EINTR and short writes.
 * Returns n, or -1 with errno set. */
LS_API ssize_t ls_write_all(int fd, const void *p, size_t n);

/* --- line framing ------------------------------------------------------ */

/* Which meta fields a parsed line carried. */
#define LS_HAVE_TS	0x1u
#define LS_HAVE_KEY	0x2u
#define LS_HAVE_SEQ	0x4u
#define LS_HAVE_SHARD	0x8u

/*
 * Parses one line (without its '\n') of the form
 * "[timestamp | key | seq | shard] payload", every field optional from the
 * left. Sets in m the fields present, sets *have to the LS_HAVE_* bits of
 * those, and points m->payload into line. Fields not present are left as
 * they were: the caller fills them (time now, LS_DEFAULT_KEY, the next
 * sequence, shard 0). A line that does not start with '[' is all payload.
 * A bad meta block returns LS_ERR_INVAL with err->offset the 1-based
 * column of the fault and err->msg the reason; m is then unspecified.
 */
LS_API int ls_line_parse(const char *line, size_t len, ls_msg *m,
    unsigned *have, ls_error *err);

/*
 * Appends m as one line with full meta and '\n' to o. A payload holding
 * '\n' or bytes that are not UTF-8 cannot be a line: LS_ERR_NOTLINE is
 * returned and nothing is written.
 */
LS_API int ls_line_write(ls_out *o, const ls_msg *m, ls_error *err);

/* Like ls_line_write but stops after the meta block (no payload). */
LS_API int ls_line_write_meta(ls_out *o, const ls_msg *m, ls_error *err);

/* --- ndjson ------------------------------------------------------------- */

#define LS_JSON_NO_PAYLOAD 0x1u	/* omit the "payload" member */

/*
 * Appends m to o as one JSON object and '\n':
 * {"header":{"stream_key":..,"shard_id":..,"sequence":..,"timestamp":".."},
 *  "payload":..}. A payload that is valid JSON is embedded (whitespace
 * outside strings removed), other UTF-8 is a JSON string, anything else an
 * array of byte values.
 */
LS_API int ls_json_write(ls_out *o, const ls_msg *m, unsigned flags,
    ls_error *err);

/* Appends p[0..n) as a JSON string literal (with quotes); p must be
 * UTF-8. */
LS_API int ls_json_write_string(ls_out *o, const unsigned char *p, size_t n,
    ls_error *err);

/* True if p[0..n) is one JSON value (RFC 8259), nested at most 512 deep. */
LS_API bool ls_json_valid(const unsigned char *p, size_t n);

/* --- CRC-16/CDMA2000 ---------------------------------------------------- */

#define LS_CRC_INIT 0xFFFFu

/* Continues a CRC-16/CDMA2000 from crc over p[0..n). Start with
 * LS_CRC_INIT; no final xor is applied. */
LS_API uint16_t ls_crc16(uint16_t crc, const void *p, size_t n);

/* --- .ss files ---------------------------------------------------------- */

typedef struct ls_ss_header {
	char file_name[LS_SS_NAME_MAX + 1];	/* NUL-terminated */
	uint64_t created_at;	/* ms since the epoch */
	uint32_t interval;	/* beacon interval in bytes, >= 128 */
} ls_ss_header;

typedef struct ls_ss_item {
	char key[LS_KEY_MAX + 7];
	size_t key_len;
	uint64_t shard;
	uint64_t seq;		/* highest sequence written for the stream */
	uint64_t ts_ms;		/* highest timestamp written for the stream */
	uint16_t crc;		/* running checksum of the stream */
} ls_ss_item;

typedef struct ls_ss_beacon {
	uint64_t index;		/* the beacon's offset / interval */
	uint64_t offset;
	uint32_t remaining;	/* bytes of the interrupted message after it */
	unsigned count;
	ls_ss_item items[LS_SS_ITEM_MAX];
} ls_ss_beacon;

/* How many items fit a beacon: floor(min(255, (interval - 7) / 282) / 2). */
LS_API unsigned ls_ss_beacon_capacity(uint32_t interval);

/* Fills h for a new file: name (its last path component, cut to
 * LS_SS_NAME_MAX bytes), created now, and interval. */
LS_API int ls_ss_header_init(ls_ss_header *h, const char *path,
    uint32_t interval, ls_error *err);

typedef struct ls_ss_writer ls_ss_writer;

/*
 * Starts a new .ss file on fd (positioned at 0, empty) with header h and
 * returns the writer, or NULL with err set. The writer owns a buffer of
 * at least 64 KiB; the caller still owns fd.
 */
LS_API ls_ss_writer *ls_ss_writer_new(int fd, const ls_ss_header *h,
    ls_error *err);

/*
 * Continues the .ss file open read-write on fd: finds the end of its last
 * complete message, drops a trailing End-of-Stream marker and any partial
 * message after it (ftruncate), and writes from there with the file's own
 * interval; running checksums restart as SeaStreamer's do. An empty file
 * is started afresh with header h. Returns NULL with err set if the file
 * is not a .ss file.
 */
LS_API ls_ss_writer *ls_ss_writer_append(int fd, const ls_ss_header *h,
    ls_error *err);

/* The bytes of an incomplete message that ls_ss_writer_append dropped
 * from the end of the file (0 if none), and where they began (*at). */
LS_API uint64_t ls_ss_writer_dropped(const ls_ss_writer *w, uint64_t *at);

/* Buffers m (splicing it around beacons). m's key must be valid. */
LS_API int ls_ss_write(ls_ss_writer *w, const ls_msg *m, ls_error *err);

/* Writes everything buffered to the file. */
LS_API int ls_ss_flush(ls_ss_writer *w, ls_error *err);

/* The writer's header (for an appended file, the file's own). */
LS_API const ls_ss_header *ls_ss_writer_header(const ls_ss_writer *w);

/* Bytes written or buffered so far, counted from the start of the file. */
LS_API uint64_t ls_ss_writer_offset(const ls_ss_writer *w);

/* Flushes (ignoring errors) and frees the writer; never closes fd. */
LS_API void ls_ss_writer_free(ls_ss_writer *w);

typedef struct ls_ss_reader ls_ss_reader;

/* Reader options (ls_ss_reader_open flags). */
#define LS_SS_VERIFY 0x1u	/* check every beacon against the messages */

/*
 * Reads the header of the .ss file on fd (positioned at 0) and returns a
 * reader positioned at the first message, or NULL with err set. fd may be
 * a pipe for plain sequential reading; positioning needs a regular file.
 * The caller owns fd.
 */
LS_API ls_ss_reader *ls_ss_reader_open(int fd, unsigned flags,
    ls_error *err);

LS_API const ls_ss_header *ls_ss_reader_header(const ls_ss_reader *r);

/*
 * Reads the next message into m (payload borrowed until the next call).
 * Returns LS_OK; LS_END when the data ends at a message boundary;
 * LS_PARTIAL when it ends inside a message or beacon (a growing file, or
 * one cut short; err->offset is where the incomplete part starts); or
 * LS_ERR_CORRUPT with err->offset at the fault. Both LS_END and
 * LS_PARTIAL may be retried once the file has grown. The End-of-Stream
 * marker is returned as a message: test it with ls_msg_is_eos().
 */
LS_API int ls_ss_next(ls_ss_reader *r, ls_msg *m, ls_error *err);

/* Offset of the first byte not yet consumed (after the last message). */
LS_API uint64_t ls_ss_reader_offset(const ls_ss_reader *r);

/* Offset where the message last returned by ls_ss_next started. */
LS_API uint64_t ls_ss_reader_msg_offset(const ls_ss_reader *r);

/* Called with every beacon the reader passes, in file order. */
typedef void (*ls_ss_beacon_fn)(void *ctx, const ls_ss_beacon *b);
LS_API void ls_ss_reader_on_beacon(ls_ss_reader *r, ls_ss_beacon_fn fn,
    void *ctx);

/* Number of beacons (complete or not) in the file's current size. */
LS_API int ls_ss_beacon_count(ls_ss_reader *r, uint64_t *count,
    ls_error *err);

/* Where to start reading. */
enum ls_ss_from {
	LS_FROM_START,
	LS_FROM_END,		/* after the last complete message but a
				   trailing End-of-Stream */
	LS_FROM_BEACON,		/* first message boundary after beacon N */
	LS_FROM_SEQ,		/* first message with sequence >= value */
	LS_FROM_TIME,		/* first message with timestamp > value (ms) */
	LS_FROM_OFFSET		/* the message boundary at byte value (as
				   ls_ss_reader_offset told it) */
};

#define LS_ANY_SHARD UINT64_MAX	/* ls_ss_pos.shard: any shard of key */

typedef struct ls_ss_pos {
	enum ls_ss_from from;
	uint64_t value;
	const char *key;	/* LS_FROM_SEQ/TIME: only this stream (or NULL) */
	size_t key_len;
	uint64_t shard;		/* with key; LS_ANY_SHARD for all its shards */
} ls_ss_pos;

/*
 * Positions r (on a regular file) so that the next ls_ss_next returns the
 * message pos names. SEQ and TIME search the beacons by bisection, then
 * scan from the last beacon before the target. With a key they match
 * that stream only; without, any stream, which with more streams than a
 * beacon holds may have to scan from an earlier beacon. Returns LS_OK;
 * LS_END if no message matches yet (the reader is then at the end);
 * LS_ERR_RANGE for a beacon past the end; LS_ERR_SEEK on a pipe.
 */
LS_API int ls_ss_seek(ls_ss_reader *r, const ls_ss_pos *pos, ls_error *err);

/*
 * After LS_ERR_CORRUPT: skips to the first message boundary after the
 * next beacon past the fault, and returns the byte range skipped in
 * *from and *to. Returns LS_END if no beacon follows.
 */
LS_API int ls_ss_resync(ls_ss_reader *r, uint64_t *from, uint64_t *to,
    ls_error *err);

/*
 * A follower calls it before each wait at the end of the data. It forgets
 * bytes read past the last message returned, so that they are read again
 * from the file: a writer appending after a crash rewrites an incomplete
 * tail. It also looks at the file: if it is now shorter than the reader's
 * position, or its first bytes are no longer the header read (gone, or
 * another), a writer started it anew: the reader goes back to byte 0 and
 * the next ls_ss_next reads the new header (returning LS_END until it is
 * complete), and LS_NOTICE says so. Cut below the reader's position with
 * its header unchanged, the file is the same one made shorter: LS_ERR_RANGE
 * (err->offset its size), as the messages before the cut were read
 * already. Returns LS_OK, LS_NOTICE, LS_ERR_RANGE or LS_ERR_IO; LS_OK on a
 * pipe.
 */
LS_API int ls_ss_reader_refresh(ls_ss_reader *r, ls_error *err);

/*
 * Starts r over on fd (which the caller owns; r no longer reads the old
 * one): the file that replaced the one followed. The next ls_ss_next
 * reads fd's header from byte 0, returning LS_END until it is complete,
 * and LS_ERR_INVAL if it is not a .ss header. Returns LS_OK or an error.
 */
LS_API int ls_ss_reader_restart(ls_ss_reader *r, int fd, ls_error *err);

LS_API void ls_ss_reader_free(ls_ss_reader *r);

/* --- hashing and payload fields --------------------------------------- */

/*
 * Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory,
 * Consistent Hash Algorithm", 2014), exactly as in the paper: the bucket
 * of key among buckets, in [0, buckets). Going from n to n + 1 buckets, a
 * key either stays or moves to bucket n. buckets must be >= 1 (0 is
 * taken as 1).
 */
LS_API uint32_t ls_hash_jump(uint64_t key, uint32_t buckets);

/*
 * A 64-bit hash of p[0..n) to feed ls_hash_jump: FNV-1a 64 (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3) followed by the splitmix64
 * finaliser (>> 30, * 0xbf58476d1ce4e5b9, >> 27, * 0x94d049bb133111eb,
 * >> 31). Which partition a key goes to depends on it: it is part of the
 * on-disk contract and must never change.
 */
LS_API uint64_t ls_hash64(const void *p, size_t n);

/*
 * The weight of a target named by name_hash (ls_hash64 of its name) for
 * a key of hash key_hash, in rendezvous hashing: the splitmix64
 * finaliser of key_hash ^ name_hash. For one key, distinct name hashes
 * have distinct weights (the finaliser is a bijection). Part of the
 * on-disk contract, as ls_hash64.
 */
LS_API uint64_t ls_hash_weight(uint64_t key_hash, uint64_t name_hash);

/*
 * Rendezvous (highest random weight) hashing, Thaler & Ravishankar 1996:
 * of the n targets whose names hash to names[0..n) (ls_hash64 of each
 * name, computed once by the caller), the index of the one of highest
 * ls_hash_weight for key_hash (the first if names repeat). The choice
 * depends on the names only, not on their order: adding a target moves
 * to it the keys it now wins, about 1/(n + 1) of them, and removing one
 * moves only its own keys; no key moves between two targets that both
 * stay. Returns SIZE_MAX if n is 0. Takes n mixes and no allocation.
 */
LS_API size_t ls_hash_rendezvous(uint64_t key_hash, const uint64_t *names,
    size_t n);

/* Kafka's Utils.murmur2 of p[0..n) (seed 0x9747b28c), as Java's signed
 * int. */
LS_API int32_t ls_hash_murmur2(const void *p, size_t n);

/*
 * The partition Kafka's default partitioner picks for a record with key
 * key[0..n): (murmur2 & 0x7fffffff) % partitions, as
 * BuiltInPartitioner.partitionForKey. partitions must be >= 1 (0 gives
 * 0).
 */
LS_API uint32_t ls_partition_kafka(const void *key, size_t n,
    uint32_t partitions);

/*
 * Finds the top-level member called name (compared after unescaping the
 * key; the first one if repeated) of the JSON object p[0..n), white space
 * around it allowed. Members of nested objects are not looked at. Sets
 * *val and *len to the member's value, borrowed from p: for a string the
 * bytes between the quotes, still escaped; for any other value its JSON
 * text. Returns LS_OK, or LS_END ("not found", *val and *len untouched)
 * if the object has no such member or p is not a JSON object: not valid
 * JSON as ls_json_valid() sees it (so not UTF-8 or nested more than 512
 * deep), or some other value. Reads nothing outside p[0..n) and does not
 * allocate.
 */
LS_API int ls_json_field(const unsigned char *p, size_t n, const char *name,
    const unsigned char **val, size_t *len);

/* As ls_json_field, the name given as name[0..name_len) (its length taken
 * once by a caller that looks it up in message after message). */
LS_API int ls_json_field_n(const unsigned char *p, size_t n,
    const char *name, size_t name_len, const unsigned char **val,
    size_t *len);

/*
 * Steps through the elements of p[0..n), a JSON array already checked
 * with ls_json_valid: start with *pos = 0; each call sets *val and *len to
 * the next element's raw text (a string with its quotes) and returns
 * LS_OK, then LS_END after the last. LS_ERR_INVAL if p is not an array.
 */
LS_API int ls_json_array_next(const unsigned char *p, size_t n, size_t *pos,
    const unsigned char **val, size_t *len);

/* Unescapes the body p[0..n) of a valid JSON string (between its
 * quotes) into out, which needs n bytes; returns the length, or
 * SIZE_MAX if it holds a lone surrogate. */
LS_API size_t ls_json_unescape(const unsigned char *p, size_t n,
    unsigned char *out);

/* --- sources and sinks ------------------------------------------------ */

/* A reader of bytes; returns like read(2). */
typedef ssize_t (*ls_read_fn)(void *ctx, void *buf, size_t n);
/* A writer of bytes; must write all n or fail, returning n or -1. */
typedef ssize_t (*ls_write_fn)(void *ctx, const void *buf, size_t n);

/* As ls_ss_reader_open, but reads through fn(ctx, ...) when fn is not
 * NULL; fd (or -1) is then only used for positioning. */
LS_API ls_ss_reader *ls_ss_reader_open_fn(int fd, ls_read_fn fn, void *ctx,
    unsigned flags, ls_error *err);

/* As ls_ss_writer_new, writing through fn(ctx, ...). */
LS_API ls_ss_writer *ls_ss_writer_new_fn(ls_write_fn fn, void *ctx,
    const ls_ss_header *h, ls_error *err);

/* As ls_out_init, writing through fn(ctx, ...). */
LS_API int ls_out_init_fn(ls_out *o, ls_write_fn fn, void *ctx, size_t cap,
    ls_error *err);

/* What a line source does with a line whose meta block is bad. */
enum ls_bad_line {
	LS_BAD_FAIL,		/* report it and end the input */
	LS_BAD_SKIP,		/* report it and go on with the next line */
	LS_BAD_RAW		/* take the whole line as a payload */
};

/*
 * Parses a position: "start", "end", "beacon:N", "seq:S" or "time:T" (T in
 * the line framing's timestamp syntax). Returns LS_OK or LS_ERR_INVAL.
 */
LS_API int ls_pos_parse(const char *s, ls_ss_pos *pos, ls_error *err);

/* Parses a duration "N" (seconds) or "Nus", "Nms", "Ns", "Nm", "Nh" into
 * microseconds; N is a whole number. Returns LS_OK or LS_ERR_INVAL. */
LS_API int ls_duration_parse(const char *s, uint64_t *us, ls_error *err);

/*
 * Where a file source is (ls_source_tell), to open it there again
 * (ls_source_opts.resume): the byte after the last message it gave, and
 * what tells whether the file is still the one read.
 */
typedef struct ls_src_pos {
	uint64_t offset;	/* bytes before the next message (0: the start) */
	uint64_t line;		/* lines: the lines before offset */
	uint64_t seq;		/* lines: the next sequence number of the
				   default stream (broadcast, shard 0), for
				   lines without one */
	uint64_t dev, ino;	/* the file read (a follower's may change) */
	uint64_t size;		/* its size when told */
	uint32_t window;	/* bytes just before offset hashed: up to
				   LS_POS_WINDOW */
	uint64_t hash;		/* their ls_hash64 */
} ls_src_pos;

#define LS_POS_WINDOW 256

typedef struct ls_source_opts {
	ls_ss_pos from;		/* .ss files: where to start */
	bool follow;		/* files: wait for more at the end, like tail -f */
	enum ls_bad_line bad;	/* lines: bad meta block policy */
	bool skip_corrupt;	/* .ss: skip damage, resynchronise at a beacon */
	bool verify;		/* .ss: check beacons as they pass */
	unsigned poll_ms;	/* follow: wait between looks (default 50) */
	/* reads end (as at end of input) once *stop is non-zero; a blocked
	 * read ends when a signal handler that sets it interrupts it */
	volatile int *stop;
	/* called before every read that may wait for input (and a broker's
	 * wait): a stage flushes its output there, so nothing waits in its
	 * buffers */
	void (*on_wait)(void *ctx);
	void *wait_ctx;
	/* if set, called (after on_wait) instead of blocking in a read of
	 * an fd that is not a regular file (a pipe, FIFO, terminal or
	 * socket; never for .gz files), or for a follower's pause (fd -1, up
	 * to poll_ms): returns 0 once fd is readable or the pause is over,
	 * non-zero to give up; ls_source_next then returns LS_AGAIN, and
	 * the next call goes on where it was. This lets a stage keep timers
	 * while its input is quiet. */
	int (*wait)(void *ctx, int fd);
	/* brokers (redis://, kafka://) */
	bool from_given;	/* from was asked for; else a broker's default:
				   new entries only (Redis), the start (Kafka) */
	const char *from_id;	/* Redis: start after this entry ID */
	const char *group;	/* consumer group (Redis) or group.id (Kafka) */
	const char *consumer;	/* Redis: consumer name in the group */
	uint64_t claim_idle_ms;	/* Redis: take over entries pending longer */
	bool exit_at_end;	/* Kafka: end at the end of every partition */
	const char *const *props;	/* Kafka: "name=value" librdkafka
					   properties, NULL-terminated */
	/* listening sources (tcp://, unix://, udp://, http://) */
	const char *tls_cert;	/* PEM certificate file: serve TLS */
	const char *tls_key;	/* PEM private key file of tls_cert */
	unsigned max_clients;	/* clients at once; 0: 1024 */
	uint64_t idle_ms;	/* a client silent this long, or whose
				   unfinished line began this long ago, is
				   closed; 0: 60000 */
	size_t max_line;	/* longest line a client may send;
				   0: 1 MiB */
	/* http:// */
	size_t max_body;	/* largest request body; 0: 64 MiB */
	size_t max_queue;	/* bytes of bodies held until acknowledged
				   (then 503); 0: 256 MiB */
	const char *token_file;	/* file of the bearer token clients must
				   send; NULL: $LS_HTTP_TOKEN, if set */
	/* files: open at this position (from ls_source_tell), taking
	 * precedence over from, once the file is seen to match it: the
	 * same device and inode, no shorter than offset and than size,
	 * and the same window of bytes before offset; else LS_ERR_STALE,
	 * err->msg saying why. Refused for stdin, pipes and .gz files. */
	const ls_src_pos *resume;
} ls_source_opts;

typedef struct ls_source ls_source;

/*
 * Opens an input named by uri:
 *   "-", "stdio://", "stdio:///k1,k2"  line framing on standard input
 *   PATH, "file://PATH"                a .ss file (told by its first bytes)
 *                                      or a file of lines
 *   "file://PATH/KEY"                  the same, only stream KEY, when PATH
 *                                      is a file and PATH/KEY is not
 *   "redis://[:PASS@]HOST[:PORT]/STREAM" a Redis stream (XREAD, XREADGROUP)
 *   "kafka://HOST:PORT[,...]/TOPIC"    a Kafka topic (librdkafka consumer)
 *   "http://HOST[:PORT]/PATH"          an HTTP collector: lines or ndjson
 *                                      POSTed to PATH, each request
 *                                      answered once committed
 *   "etcd://HOST[:PORT]/PREFIX"        the keys of etcd under PREFIX: a
 *                                      list, then a watch (relay(1))
 * A PATH ending in ".gz" is read through zlib (sequentially only). A
 * broker URI whose backend was not built is refused naming the package.
 * Returns NULL with err set on failure.
 */
LS_API ls_source *ls_source_open(const char *uri, const ls_source_opts *o,
    ls_error *err);

/*
 * Reads the next message (borrowed until the next call). Returns LS_OK;
 * LS_END at the end of input (and, following, after a signal); LS_AGAIN
 * when the wait hook gave up; following, LS_NOTICE when the file was
 * truncated or replaced (err->msg, which names the file, says so; see
 * ls_follow_replaced) and the source goes on with the new content at the
 * next call, or LS_ERR_RANGE for a .ss file cut below what was read;
 * LS_ERR_INVAL for a bad line (err->offset is its line number; with
 * LS_BAD_SKIP the source goes on at the next call); LS_ERR_CORRUPT for
 * damage in a .ss file (with skip_corrupt, err->msg names the skipped
 * range and the source goes on at the next call); other errors end it.
 * Missing meta of lines is filled in: time now, key "broadcast", the next
 * sequence of the (key, shard), shard 0. The End-of-Stream marker is
 * returned as a message.
 */
LS_API int ls_source_next(ls_source *s, ls_msg *m, ls_error *err);

/*
 * Acknowledges every message the caller is done with: a Redis consumer
 * group's XACK, a Kafka group's offset commit. A message is done with
 * once ls_source_next is called again (the one last returned is still
 * the caller's, which may hold it, as a merge does). Call it once the
 * output has taken them (flushed), so that a crash delivers them again
 * rather than losing them. A no-op for files and stdin. Returns LS_OK or
 * an error.
 */
LS_API int ls_source_commit(ls_source *s, ls_error *err);

/* The source's name for messages: the path, or "stdin". */
LS_API const char *ls_source_name(const ls_source *s);

/* Where the last message came from: line number, or byte offset in a
 * .ss file (ls_source_is_lines tells which); a Redis entry ID's
 * milliseconds, a Kafka record's offset. */
LS_API uint64_t ls_source_where(const ls_source *s);
LS_API bool ls_source_is_lines(const ls_source *s);

/* Room for any text of ls_source_where_text, its NUL included. */
#define LS_WHERE_MAX 64

/*
 * Where the last message came from, for messages: "line N", "byte N"
 * (a .ss file), "entry MS-SEQ" (a Redis entry ID), "partition P offset
 * O" (a Kafka record). Writes it to buf (n bytes, LS_WHERE_MAX is
 * enough) and returns buf.
 */
LS_API const char *ls_source_where_text(const ls_source *s, char *buf,
    size_t n);

/* Lines taken raw (LS_BAD_RAW) so far. */
LS_API uint64_t ls_source_raw_count(const ls_source *s);

/*
 * Where a file source is: pos->offset is the byte after the last message
 * ls_source_next gave (for a .ss file, before an End-of-Stream, so that
 * an append that replaces it is read), pos->line the lines before it,
 * and the file's identity, size and a hash of the bytes before offset.
 * A follower that went on in a replaced or truncated file tells the new
 * content's position. Returns LS_OK, or LS_ERR_SEEK for a source that
 * cannot be reopened at a position (stdin, a pipe, a .gz file, a
 * broker: these keep their own offsets, with consumer groups), or
 * LS_ERR_RANGE if the file is now shorter than the offset (truncated
 * under the reader; a follower notices it at its next look).
 */
LS_API int ls_source_tell(const ls_source *s, ls_src_pos *pos,
    ls_error *err);

/*
 * ls_source_tell in two halves, for a caller that keeps the position of
 * many messages (a batcher: where each open batch began) and records
 * one of them later. ls_source_mark fills pos's offset, line, seq, dev
 * and ino, with no system call; ls_source_seal fills its size, window
 * and hash from the file read now, for any earlier mark of the file.
 * Both return as ls_source_tell; ls_source_seal also LS_ERR_STALE if
 * pos is of a file the source no longer reads (a follower went on in a
 * replaced one).
 */
LS_API int ls_source_mark(const ls_source *s, ls_src_pos *pos,
    ls_error *err);
LS_API int ls_source_seal(const ls_source *s, ls_src_pos *pos,
    ls_error *err);
/* The counters of a listening source (tcp://, unix://, udp://). */
typedef struct ls_listen_stats {
	uint64_t clients;	/* connected now */
	uint64_t accepted;	/* connections accepted so far */
	uint64_t refused;	/* accepted then closed: --max-clients */
	uint64_t idle_closed;	/* closed after idle_ms of silence */
	uint64_t partial;	/* unfinished lines of clients that went away
				   (or were closed) mid-line, left out */
	uint64_t too_long;	/* lines over max_line (client closed) */
	uint64_t truncated;	/* udp: datagrams longer than the buffer */
	uint64_t overruns;	/* udp: datagrams the kernel dropped for
				   want of room (SO_RXQ_OVFL) */
} ls_listen_stats;

/* Fills *st with s's counters and returns true if s listens (tcp://,
 * unix://, udp://); else zeroes *st and returns false. Safe to call from
 * another thread (a --stats thread) while s is read, until it is
 * closed. */
LS_API bool ls_source_listen_stats(const ls_source *s, ls_listen_stats *st);

LS_API void ls_source_close(ls_source *s);

/*
 * For a follower of the file at path, read through fd: if path now names
 * another file (a rotation: the old one moved away, a new one created, as
 * tail -F sees it) and fd's file has been read to its end, opens the new
 * one into *newfd (close-on-exec; the caller owns it) and returns
 * LS_NOTICE with err->msg saying so. Returns LS_OK (and *newfd -1) if
 * path still names fd's file, names none for now, or fd's file has more to
 * read; LS_ERR_IO if the new file cannot be opened.
 */
LS_API int ls_follow_replaced(int fd, const char *path, int *newfd,
    ls_error *err);

enum ls_sync { LS_SYNC_NONE, LS_SYNC_INTERVAL, LS_SYNC_EVERY };

typedef struct ls_sink_opts {
	bool append;		/* continue an existing file */
	bool force;		/* replace an existing file */
	bool no_eos;		/* no End-of-Stream at close, nor forwarded */
	uint32_t interval;	/* .ss: beacon interval of a new file */
	enum ls_sync sync;	/* files: when to fsync */
	/* brokers */
	uint64_t maxlen;	/* Redis: XADD MAXLEN ~ maxlen (0: none) */
	const char *key_field;	/* Kafka: the key from this JSON payload
				   field (else the stream key) */
	bool partition_by_shard;	/* Kafka: the partition is the shard */
	bool meta_headers;	/* Kafka: headers stream_key, seq, shard
				   (else only what a record carries) */
	bool flush_delivers;	/* Kafka: ls_sink_flush waits for every
				   delivery report (else only collects
				   those in); close always waits */
	const char *const *props;	/* Kafka: as in ls_source_opts, and
					   libstream.close.timeout.ms */
	/* Kafka: once *stop is non-zero, a wait for delivery reports
	 * (flush, close) ends within the close timeout, purging what is
	 * left, an error; else only close's wait is bounded, by the close
	 * timeout without a report */
	volatile int *stop;
	/* etcd */
	uint64_t lease_ttl_s;	/* every put holds one lease of this TTL
				   (seconds), kept alive while the sink is
				   open, then left to expire (0: none) */
	bool lease_revoke;	/* closing revokes it: its keys go at once */
	bool etcd_plain_keys;	/* put under PREFIX/STREAM (each put of a
				   stream replaces the last), not
				   PREFIX/STREAM/SEQ */
} ls_sink_opts;

typedef struct ls_sink ls_sink;

/*
 * Opens an output named by uri: "-", "stdio://", "stdio:///k1,k2" (only
 * those keys), PATH or "file://PATH" (a .ss file if the name ends in
 * ".ss" or ".ss.gz", else lines), "file://PATH/KEY" as for sources,
 * "redis://..." (pipelined XADD) and "kafka://..." (a producer whose
 * delivery reports flush and close wait for) as for sources,
 * "etcd://HOST[:PORT]/PREFIX" (a put of each message, in transactions,
 * under PREFIX/STREAM/SEQ). An
 * existing file is an error unless append or force is set. Appending to
 * a ".gz" file is refused.
 */
LS_API ls_sink *ls_sink_open(const char *uri, const ls_sink_opts *o,
    ls_error *err);

/*
 * Writes m. Returns LS_OK; LS_END if the sink's key filter dropped it;
 * LS_ERR_NOTLINE if a line sink cannot carry its payload (nothing was
 * written, the sink goes on); other errors.
 */
LS_API int ls_sink_write(ls_sink *k, const ls_msg *m, ls_error *err);

/* Writes out what is buffered (and fsyncs under LS_SYNC_INTERVAL). */
LS_API int ls_sink_flush(ls_sink *k, ls_error *err);

/* True if the sink writes a .ss file; false for lines. */
LS_API bool ls_sink_is_ss(const ls_sink *k);

LS_API const char *ls_sink_name(const ls_sink *k);

/*
 * Ends the sink: a .ss file gets the End-of-Stream marker eos (or one
 * stamped now if eos is NULL) unless no_eos was set; a line sink writes
 * eos as a line only if eos is not NULL. Then flushes, fsyncs files
 * under any sync policy but LS_SYNC_NONE, closes, and frees k. Returns
 * the first error met.
 */
LS_API int ls_sink_close(ls_sink *k, const ls_msg *eos, ls_error *err);

/* Ends the sink after a failure: writes out what it was given, but no
 * End-of-Stream marker, so that the output does not look cleanly closed
 * (and an append continues it); closes and frees k. */
LS_API int ls_sink_abort(ls_sink *k, ls_error *err);

/* The file descriptor a sink writes, or -1 (a compressed file). */
LS_API int ls_sink_fd(const ls_sink *k);

/*
 * The bytes an append (ls_sink_opts.append) dropped from the end of the
 * file before continuing it, and where they began (*at): an incomplete
 * last line of a file of lines, or an incomplete message of a .ss file
 * (its trailing End-of-Stream is not counted). 0 if nothing was dropped.
 */
LS_API uint64_t ls_sink_dropped(const ls_sink *k, uint64_t *at);

/* --- the event core: descriptors, timers, child processes ------------- */

/*
 * One poll(2) over the descriptors watched, whose timeout is the nearest
 * timer's; children are watched through pidfds and reaped by the loop.
 * Callbacks may add and remove watches and timers. Not thread-safe: one
 * thread runs a loop.
 */
typedef struct ls_loop ls_loop;

enum { LS_EV_READ = 1, LS_EV_WRITE = 2 };

/* fd is ready for ev (LS_EV_READ also on hangup or error). */
typedef void (*ls_fd_fn)(ls_loop *l, int fd, unsigned ev, void *ctx);
/* A timer is due; it is gone once called. */
typedef void (*ls_timer_fn)(ls_loop *l, void *ctx);
/* Child pid ended with wait status; it has been reaped. */
typedef void (*ls_child_fn)(ls_loop *l, pid_t pid, int status, void *ctx);

/* A monotonic clock in milliseconds, for timers. */
LS_API uint64_t ls_mono_ms(void);

/* A new loop, watching nothing; NULL with err set if out of memory. */
LS_API ls_loop *ls_loop_new(ls_error *err);
/* Frees l; the descriptors watched stay the caller's. */
LS_API void ls_loop_free(ls_loop *l);

/* Watches fd for ev (LS_EV_READ, LS_EV_WRITE or both), replacing an
 * earlier watch of fd; ev 0 stops watching it. */
LS_API int ls_loop_fd(ls_loop *l, int fd, unsigned ev, ls_fd_fn fn,
    void *ctx, ls_error *err);

/* Calls fn once ls_mono_ms() reaches at_ms. Returns the timer's id (not
 * 0), or 0 with err set if out of memory. */
LS_API uint64_t ls_loop_timer(ls_loop *l, uint64_t at_ms, ls_timer_fn fn,
    void *ctx, ls_error *err);
/* Cancels timer id if it has not run. */
LS_API void ls_loop_cancel(ls_loop *l, uint64_t id);

/* Watches child pid (of ours, not yet reaped): when it ends, the loop
 * reaps it and calls fn with its wait status. With SIGCHLD ignored the
 * system reaps it first, and the status is not known (not a clean
 * exit). */
LS_API int ls_loop_child(ls_loop *l, pid_t pid, ls_child_fn fn, void *ctx,
    ls_error *err);

/*
 * Waits once, for at most max_ms (-1: as long as the nearest timer, or
 * for ever if there is none), and calls back for what is ready and for
 * the timers due (a descriptor in error is reported ready for what it
 * is watched for). Returns how many callbacks ran, timers included (0
 * when nothing was ready and no timer due), or an error.
 */
LS_API int ls_loop_once(ls_loop *l, int64_t max_ms, ls_error *err);

/* True if l watches nothing and has no timer. */
LS_API bool ls_loop_idle(const ls_loop *l);

/* When the nearest timer is due (ls_mono_ms), or UINT64_MAX if none:
 * a caller busy elsewhere runs the loop (max_ms 0) once it has come. */
LS_API uint64_t ls_loop_next(const ls_loop *l);

/*
 * Starts argv[0] with arguments argv (NULL-terminated), found on PATH,
 * or with shell, /bin/sh -c argv[0]; in and out become its standard
 * input and output; the environment plus vars ("NAME=value",
 * NULL-terminated, replacing those names); default dispositions for
 * SIGPIPE, SIGINT, SIGTERM and SIGUSR1, and no signal blocked. Returns
 * 0 with *pid set, or an errno value.
 */
LS_API int ls_spawn(const char *const *argv, bool shell, int in, int out,
    char *const *vars, pid_t *pid);

/* ls_spawn of the shell command cmd. */
LS_API int ls_spawn_sh(const char *cmd, int in, int out, char *const *vars,
    pid_t *pid);

/* Writes what wait status says ("exited with status 3", "killed by
 * signal 9 (Killed)") into buf of n bytes; returns its length. */
LS_API size_t ls_status_text(int status, char *buf, size_t n);

/* The pause before restart number attempt + 1: min_ms doubled attempt
 * times, at most max_ms. */
LS_API uint64_t ls_backoff_ms(unsigned attempt, uint64_t min_ms,
    uint64_t max_ms);

/* --- stage outputs: sinks and worker processes ----------------------- */

typedef struct ls_outs_opts {
	ls_sink_opts sink;	/* for outputs named by URIs */
	/* if set, the outputs are workers: processes running /bin/sh -c
	 * exec, with STREAM_WORKER=<i> (from 0) in their environment, the
	 * messages as lines on their standard input; their standard
	 * outputs are merged into merge_fd a whole line at a time */
	const char *exec;
	bool demand;		/* one-page input pipes, for ls_outs_pick */
	unsigned restarts;	/* times each worker is started again, on
				   the same pipe, after 0.1 s, 0.2 s, ... up to
				   5 s, when it exits before its input ended
				   or with a status other than 0 */
	volatile int *stop;	/* set when writing the workers' output
				   fails; a signal that sets it ends
				   ls_outs_pick */
	int merge_fd;		/* where the workers' output is merged:
				   the caller's descriptor (0, as in a
				   zeroed struct: standard output) */
} ls_outs_opts;

typedef struct ls_outs ls_outs;

/*
 * Opens n outputs: the sinks uris[0..n-1], or, with o->exec, n workers
 * (uris is then not used). Returns NULL with err set on failure, having
 * stopped whatever it started.
 */
LS_API ls_outs *ls_outs_open(const char *const *uris, size_t n,
    const ls_outs_opts *o, ls_error *err);

LS_API size_t ls_outs_count(const ls_outs *os);

/* The name of output i: its sink's name, or "worker I". */
LS_API const char *ls_outs_name(const ls_outs *os, size_t i);
/* As ls_sink_dropped, for output i (0 for a worker). */
LS_API uint64_t ls_outs_dropped(const ls_outs *os, size_t i, uint64_t *at);

/*
 * Writes m to output i (buffered; a demand output is written at once).
 * Returns as ls_sink_write: LS_OK, LS_END if a sink's key filter dropped
 * it, LS_ERR_NOTLINE if it cannot be a line (nothing written), or an
 * error naming the output, e.g. a worker that died and was not restarted.
 */
LS_API int ls_outs_write(ls_outs *os, size_t i, const ls_msg *m,
    ls_error *err);

/*
 * Waits until at least one output can take data without blocking, and
 * picks the least busy of those (fewest bytes queued in its pipe and our
 * buffer; ties in turn). Returns LS_OK with *i set, LS_END if *o->stop
 * was set while waiting, or an error when no output is left.
 */
LS_API int ls_outs_pick(ls_outs *os, size_t *i, ls_error *err);

/* Times worker i has been started again so far (0 for a sink). */
LS_API unsigned ls_outs_restarts(ls_outs *os, size_t i);

/* True if output i is a worker that died and will not be restarted. */
LS_API bool ls_outs_failed(const ls_outs *os, size_t i);

/* Writes out what is buffered for every output, stopping at the first
 * that fails; ls_outs_flush_one for output i only. */
LS_API int ls_outs_flush(ls_outs *os, ls_error *err);
LS_API int ls_outs_flush_one(ls_outs *os, size_t i, ls_error *err);

/*
 * Ends every output: sinks as ls_sink_close(k, eos); workers get the end
 * of their input, and are waited for (and restarted as o->restarts
 * allows) while their output is merged. Returns the first error: a
 * failed write, or a worker that did not exit with status 0. Frees os.
 */
LS_API int ls_outs_close(ls_outs *os, const ls_msg *eos, ls_error *err);

/* As ls_outs_close after a failure: sinks end as by ls_sink_abort, with
 * no End-of-Stream, so that they do not look cleanly closed. */
LS_API int ls_outs_abort(ls_outs *os, ls_error *err);

#ifdef __cplusplus
}
#endif
#endif
