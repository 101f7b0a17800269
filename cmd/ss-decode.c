/* ss-decode: decode a .ss file to log lines or ndjson. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "cmd.h"

enum { LOG, NDJSON };

static int format = LOG, meta, header_only;
static const char *path;
static ls_out out;
static uint64_t nbeacons;
static int need_header;		/* --meta: a file followed anew */

static const char usage_text[] =
    "usage: ss-decode [-fHhmv] [-F log|ndjson] [--follow] [--header-only]\n"
    "                 [--meta] [--progress] [--verify] [--format log|ndjson]\n"
    "                 [-i file | --input file] file\n"
    "       ss-decode --version\n";

struct config {
	bool follow, verify, progress;
};

static void
put(const char *s)
{
	ls_error e;

	if (ls_out_write(&out, s, strlen(s), &e) != LS_OK)
		errx(1, "stdout: %s", e.msg);
}

static void
put_u64(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	put(b);
}

static void
put_time(uint64_t ms)
{
	char b[LS_TIME_MAX + 1];

	ls_time_format(ms, b);
	put("\"");
	put(b);
	put("\"");
}

static void
put_string(const char *s, size_t n)
{
	ls_error e;

	if (ls_json_write_string(&out, (const unsigned char *)s, n, &e) !=
	    LS_OK)
		errx(1, "stdout: %s", e.msg);
}

static void
meta_open(void)
{
	put(format == LOG ? "# " : "/* ");
}

static void
meta_close(void)
{
	put(format == LOG ? "\n" : " */\n");
}

static void
print_header(const ls_ss_header *h)
{
	char name[sizeof(h->file_name)];
	size_t n = strlen(h->file_name);

	memcpy(name, h->file_name, n + 1);
	if (!ls_utf8_valid((const unsigned char *)name, n))
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)name[i] >= 0x80)
				name[i] = '?';
	meta_open();
	put("{\"file_name\":");
	put_string(name, n);
	put(",\"created_at\":");
	put_time(h->created_at);
	put(",\"beacon_interval\":");
	put_u64(h->interval);
	put("}");
	meta_close();
}

/* --meta: the header of a file followed anew, before what it holds. */
static void
header_again(ls_ss_reader *r)
{
	if (!need_header)
		return;
	need_header = 0;
	print_header(ls_ss_reader_header(r));
}

static void
on_beacon(void *ctx, const ls_ss_beacon *b)
{
	nbeacons++;
	if (!meta)
		return;
	header_again(ctx);
	meta_open();
	put("{\"beacon\":");
	put_u64(b->index);
	put(",\"offset\":");
	put_u64(b->offset);
	put(",\"remaining_bytes\":");
	put_u64(b->remaining);
	put(",\"items\":[");
	for (unsigned i = 0; i < b->count; i++) {
		const ls_ss_item *it = &b->items[i];
		put(i ? ",{\"header\":{\"stream_key\":" :
		    "{\"header\":{\"stream_key\":");
		put_string(it->key, it->key_len);
		put(",\"shard_id\":");
		put_u64(it->shard);
		put(",\"sequence\":");
		put_u64(it->seq);
		put(",\"timestamp\":");
		put_time(it->ts_ms);
		put("},\"running_checksum\":");
		put_u64(it->crc);
		put("}");
	}
	put("]}");
	meta_close();
}

/*
 * A follower's look at its file after a pause (as relay's): replaced,
 * the new one is read from its header; truncated, the file is read again
 * from its start; cut below what was read, it is an error.
 */
static void
look(ls_ss_reader *r, int *fd, int end, uint64_t cut)
{
	ls_error e;
	int nfd = -1, rc = LS_OK;

	if (*fd != STDIN_FILENO)
		rc = ls_follow_replaced(*fd, path, &nfd, &e);
	if (rc == LS_NOTICE) {
		close(*fd);
		*fd = nfd;
		if (ls_ss_reader_restart(r, nfd, &e) != LS_OK)
			errx(1, "%s: %s", path, e.msg);
		if (end == LS_PARTIAL)
			warnx("%s: %s (the old one was cut short at byte %llu)",
			    path, e.msg, (unsigned long long)cut);
		else
			warnx("%s: %s", path, e.msg);
		need_header = meta;
		return;
	}
	if (rc == LS_OK)
		rc = ls_ss_reader_refresh(r, &e);
	if (rc == LS_NOTICE) {
		warnx("%s: %s", path, e.msg);
		need_header = meta;
	} else if (rc != LS_OK) {
		ls_out_flush(&out, NULL);
		errx(1, "%s: byte %llu: %s", path,
		    (unsigned long long)e.offset, e.msg);
	}
}

/* Following: was damage read from a file rewritten meanwhile? Then it is
 * read again from its start. */
static int
rewritten(ls_ss_reader *r)
{
	ls_error e;

	if (ls_ss_reader_refresh(r, &e) != LS_NOTICE)
		return 0;
	warnx("%s: %s", path, e.msg);
	need_header = meta;
	return 1;
}

static void
pause_briefly(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void
parse(int argc, char *argv[], struct config *c)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'i' },	/* alias */
		{ "follow", no_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'F' },
		{ "header-only", no_argument, NULL, 'H' },
		{ "input", required_argument, NULL, 'i' },
		{ "meta", no_argument, NULL, 'm' },
		{ "progress", no_argument, NULL, STAGE_OPT_PROGRESS },
		{ "verify", no_argument, NULL, 'v' },
		CMD_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "F:Hfhi:mv", longopts, NULL)) !=
	    -1) {
		cmd_option(ch);
		if (ch == 'F' && strcmp(optarg, "log") == 0)
			format = LOG;
		else if (ch == 'F' && strcmp(optarg, "ndjson") == 0)
			format = NDJSON;
		else if (ch == 'F')
			cmd_usage("unknown format '%s' (log or ndjson)", optarg);
		else if (ch == 'H')
			header_only = 1;
		else if (ch == 'f')
			c->follow = true;
		else if (ch == 'i')
			path = optarg;
		else if (ch == 'm')
			meta = 1;
		else if (ch == 'v')
			c->verify = true;
		else if (ch == STAGE_OPT_PROGRESS)
			c->progress = true;
		else
			cmd_usage(NULL);
	}
	argc -= optind;
	argv += optind;
	if (path == NULL && argc == 1)
		path = argv[0];
	else if (path == NULL && argc == 0)
		cmd_usage("no file given");
	else if (argc != 0)
		cmd_usage("one file only, but '%s' %s", argv[argc - 1],
		    path != NULL ? "follows -i" : "is a second one");
	if (c->verify && c->follow)
		cmd_usage("--verify and --follow do not go together");
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static ssize_t
gz_read(void *ctx, void *buf, size_t n)
{
	int k = gzread(ctx, buf, n > INT_MAX ? INT_MAX : (unsigned)n);
	int zerr;

	if (k < 0) {
		gzerror(ctx, &zerr);
		errno = zerr == Z_ERRNO ? errno : EIO;
		return -1;
	}
	return k;
}

/* Opens the file (a .gz one through zlib) and its reader. */
static ls_ss_reader *
open_file(const struct config *c, int *fd, gzFile *gz)
{
	unsigned flags = c->verify ? LS_SS_VERIFY : 0;
	ls_ss_reader *r;
	ls_error e;

	if (strcmp(path, "-") == 0) {
		*fd = STDIN_FILENO;
		path = "stdin";
	} else if ((*fd = open(path, O_RDONLY)) < 0)
		err(1, "%s", path);
	if (has_suffix(path, ".gz")) {
		if (c->follow)
			errx(1, "%s: --follow and positions other than start "
			    "need the uncompressed file", path);
		if ((*gz = gzdopen(*fd, "rb")) == NULL)
			errx(1, "%s: zlib: out of memory", path);
	}
	if (ls_out_init(&out, STDOUT_FILENO, 256 * 1024, &e) != LS_OK)
		errx(1, "%s", e.msg);
	r = *gz != NULL ? ls_ss_reader_open_fn(-1, gz_read, *gz, flags, &e) :
	    ls_ss_reader_open(*fd, flags, &e);
	if (r == NULL) {
		warnx("%s: byte %llu: %s", path, (unsigned long long)e.offset,
		    e.msg);
		if (c->verify)
			printf("%s: 1 faults, 0 messages, 0 beacons, 0 bytes\n",
			    path);
		exit(1);
	}
	return r;
}

typedef int write_fn(ls_out *, const ls_msg *, ls_error *);

static int
json_whole(ls_out *o, const ls_msg *m, ls_error *e)
{
	return ls_json_write(o, m, 0, e);
}

static int
json_head(ls_out *o, const ls_msg *m, ls_error *e)
{
	return ls_json_write(o, m, LS_JSON_NO_PAYLOAD, e);
}

/* The writer of the format, chosen once rather than a message. */
static write_fn *
writer(void)
{
	if (format == NDJSON)
		return header_only ? json_head : json_whole;
	return header_only ? ls_line_write_meta : ls_line_write;
}

/* Writes m with write; counts what cannot be a line. */
static void
print_msg(ls_ss_reader *r, write_fn *write, const ls_msg *m,
    uint64_t *skipped)
{
	ls_error e;
	int rc = write(&out, m, &e);

	if (rc == LS_ERR_NOTLINE) {
		warnx("%s: byte %llu: stream %s seq %llu: %s; skipped "
		    "(--format ndjson keeps it)", path,
		    (unsigned long long)ls_ss_reader_msg_offset(r), m->key,
		    (unsigned long long)m->seq, e.msg);
		(*skipped)++;
	} else if (rc != LS_OK)
		errx(1, "stdout: %s", e.msg);
}

struct counts {
	uint64_t nmsg, faults, skipped;
};

/* --verify: a fault is counted and passed over; false at the end. */
static bool
resync(ls_ss_reader *r, ls_error *e, struct counts *n)
{
	uint64_t from, to;
	int rc;

	warnx("%s: byte %llu: %s", path, (unsigned long long)e->offset,
	    e->msg);
	n->faults++;
	rc = ls_ss_resync(r, &from, &to, e);
	if (rc == LS_OK) {
		warnx("%s: skipped bytes %llu to %llu", path,
		    (unsigned long long)from, (unsigned long long)to);
		return true;
	}
	if (rc == LS_END)
		return false;
	ls_out_flush(&out, NULL);
	errx(1, "%s: byte %llu: %s", path, (unsigned long long)e->offset,
	    e->msg);
}

static void
run(const struct config *c, ls_ss_reader *r, int *fd, struct counts *n)
{
	write_fn *write = writer();
	ls_error e;
	ls_msg m;
	int rc;

	for (;;) {
		rc = ls_ss_next(r, &m, &e);
		if (rc == LS_OK) {
			n->nmsg++;
			if (c->progress)
				progress_count(1);
			header_again(r);
			if (!c->verify)
				print_msg(r, write, &m, &n->skipped);
			if (ls_msg_is_eos(&m))
				return;
			continue;
		}
		if (rc == LS_END || rc == LS_PARTIAL) {
			if (c->follow && !cmd_stop) {
				uint64_t cut = e.offset;
				if (ls_out_flush(&out, &e) != LS_OK)
					errx(1, "stdout: %s", e.msg);
				pause_briefly();
				look(r, fd, rc, cut);
				continue;
			}
			if (rc == LS_PARTIAL && !c->follow)
				warnx("%s: truncated at byte %llu", path,
				    (unsigned long long)e.offset);
			return;
		}
		if (rc == LS_ERR_CORRUPT && c->verify) {
			if (resync(r, &e, n))
				continue;
			return;
		}
		if (rc == LS_ERR_CORRUPT && c->follow && rewritten(r))
			continue;
		ls_out_flush(&out, NULL);
		errx(1, "%s: byte %llu: %s", path,
		    (unsigned long long)e.offset, e.msg);
	}
}

static void
print_verdict(ls_ss_reader *r, const struct counts *n)
{
	char line[256], what[32] = "ok";

	if (n->faults)
		snprintf(what, sizeof(what), "%llu faults",
		    (unsigned long long)n->faults);
	snprintf(line, sizeof(line), "%s: %s, %llu messages, %llu beacons, "
	    "%llu bytes\n", path, what, (unsigned long long)n->nmsg,
	    (unsigned long long)nbeacons,
	    (unsigned long long)ls_ss_reader_offset(r));
	put(line);
}

int
main(int argc, char *argv[])
{
	struct config c = { false, false, false };
	struct counts n = { 0, 0, 0 };
	ls_ss_reader *r;
	gzFile gz = NULL;
	ls_error e;
	int fd;

	cmd_std_fds();
	cmd_usage_text = usage_text;
	parse(argc, argv, &c);
	r = open_file(&c, &fd, &gz);
	if (c.follow)
		cmd_catch_stop();
	ls_ss_reader_on_beacon(r, on_beacon, r);
	if (meta && !c.verify)
		print_header(ls_ss_reader_header(r));
	if (c.progress)
		progress_open(path);
	run(&c, r, &fd, &n);
	progress_end();
	if (c.verify)
		print_verdict(r, &n);
	if (ls_out_flush(&out, &e) != LS_OK)
		errx(1, "stdout: %s", e.msg);
	ls_out_free(&out);
	ls_ss_reader_free(r);
	if (gz != NULL)
		gzclose(gz);
	else if (fd != STDIN_FILENO)
		close(fd);
	if (close(STDOUT_FILENO) != 0 && errno != EBADF)
		err(1, "stdout");
	return n.faults || n.skipped ? 1 : 0;
}
