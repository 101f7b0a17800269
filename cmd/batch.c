/* batch: group messages by count, bytes and time; emit or run a command
 * per batch; split batches back into messages. */
#define _GNU_SOURCE	/* pipe2 */
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#include "cmd.h"

#define DEAD_KEY "dead-letter"

/* A batch: its messages encoded (JSON elements, or lines for --exec). */
struct batch {
	struct group *g;
	unsigned char *buf;
	size_t len, cap, count;
	ls_msg first;		/* meta of its first message (no payload) */
	uint64_t id;
	unsigned attempt;	/* runs so far */
	uint64_t not_before;	/* ms: next run */
	int why;		/* wait status of the last failed run */
	struct batch *next;	/* in its group's queue */
	ls_src_pos start;	/* --checkpoint: the input before its first
				   message */
};

/* The messages of one key: an open batch, and closed ones waiting. */
struct group {
	unsigned char *key;
	size_t key_len;
	uint64_t hash;
	struct batch *open;
	struct batch *head, *tail;	/* closed, to run in order */
	bool running;
	uint64_t timer;		/* the open batch's deadline, or 0 */
};

struct job {
	pid_t pid;
	int in, out;
	struct batch *b;
	size_t fed;
	unsigned char *cap;
	size_t clen, ccap;
	bool out_eof, exited;
	int status;
	size_t slot;
};

static struct stage st;
static ls_sink *sink, *dead;
static const char *exec_cmd;
static const char *job_dir;	/* --job-checkpoints */
static bool cp_on;		/* --checkpoint */
static ls_src_pos cp_prev;	/* the input after the last message read */
static ls_src_pos cp_before;	/* and before it */
static size_t max_count, max_bytes, jobs_max = 1;
static uint64_t timeout_ms, backoff_min = 100, backoff_max = 10000;
static unsigned retries = 3;
static bool stop_on_error, keep_meta, by_field, by_stream;
static const char *field;
static size_t field_len;	/* taken once, not a message */

static struct group **groups;	/* open addressing, by hash */
static size_t ngroups, groups_cap;
static struct group single;	/* without --by */
static ls_loop *loop;		/* jobs, deadlines and retries */
static bool timer_closed;	/* a deadline closed a batch */
static struct job *jobs;
static size_t njobs;
static size_t queued;		/* closed batches not yet done */
static uint64_t next_id = 1;
static uint64_t n_dead;
static bool stopping;		/* --on-error stop was triggered */
static ls_out enc;		/* encodes into *enc_dst */
static unsigned char *scratch;
static size_t scratch_len, scratch_cap;
static int wait_rc = LS_OK;
static ls_error wait_err;

static const char usage_text[] =
    "usage: batch [-hq] [-b bytes] [-i input] [-n count] [-o output]\n"
    "             [-t timeout] [--by stream|field:name] [--keep-meta]\n"
    "             [--exec command [-j count] [--retries count]\n"
    "             [--backoff min..max] [--dead-letter output]\n"
    "             [--on-error continue|stop] [--job-checkpoints dir]]\n"
    "             [--on-bad-line fail|skip|raw] [--append | --force]\n"
    "             [--beacon-interval bytes] [--no-eos] [--skip-corrupt]\n"
    "             [--stats] [--stats-interval duration]\n"
    "             [--rate n/s|n/m [--burst n]] [--progress]\n"
    "             [--checkpoint file [--checkpoint-reset]]\n"
    "       batch --split [-q] [-i input] [-o output] [options]\n"
    "       batch --version\n";

/* Grows *buf (capacity *cap) to hold need bytes; -1 on failure. */
static int
grow(unsigned char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 256;
	unsigned char *p;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -1;
		n *= 2;
	}
	if ((p = realloc(*buf, n)) == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

static ssize_t
enc_write(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	if (grow(&scratch, &scratch_cap, scratch_len + n) != 0) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(scratch + scratch_len, p, n);
	scratch_len += n;
	return (ssize_t)n;
}

static void
fail_output(const ls_error *e)
{
	cmd_output_failed(sink != NULL && cmd_to_stdout(sink), e);
}

/* --- groups -------------------------------------------------------------- */

static struct group *
group_for(const void *key, size_t len)
{
	uint64_t h = ls_hash64(key, len);
	size_t i;

	if (2 * (ngroups + 1) > groups_cap) {
		size_t cap = groups_cap ? 2 * groups_cap : 64;
		struct group **v = calloc(cap, sizeof(*v));
		if (v == NULL)
			err(1, NULL);
		for (size_t j = 0; j < groups_cap; j++) {
			struct group *g = groups[j];
			if (g == NULL)
				continue;
			for (i = g->hash & (cap - 1); v[i] != NULL;
			    i = (i + 1) & (cap - 1))
				;
			v[i] = g;
		}
		free(groups);
		groups = v;
		groups_cap = cap;
	}
	for (i = h & (groups_cap - 1); groups[i] != NULL;
	    i = (i + 1) & (groups_cap - 1)) {
		struct group *g = groups[i];
		if (g->hash == h && g->key_len == len &&
		    memcmp(g->key, key, len) == 0)
			return g;
	}
	struct group *g = calloc(1, sizeof(*g));
	if (g == NULL || (g->key = malloc(len + 1)) == NULL)
		err(1, NULL);
	memcpy(g->key, key, len);
	g->key_len = len;
	g->hash = h;
	groups[i] = g;
	ngroups++;
	return g;
}

/* --- deadlines ----------------------------------------------------------- */

static void close_batch(struct group *);

/* The open batch of group ctx has waited its TIMEOUT. */
static void
on_deadline(ls_loop *l, void *ctx)
{
	struct group *g = ctx;

	(void)l;
	g->timer = 0;
	close_batch(g);
	timer_closed = true;
}

/* --- emitting, running and dead letters ---------------------------------- */

static void
batch_free(struct batch *b)
{
	free(b->buf);
	free(b);
}

/* Writes b as one message: a JSON array of its elements. */
static void
emit(struct batch *b)
{
	ls_error e;
	ls_msg m = b->first;
	int rc;

	b->buf[b->len++] = ']';	/* room was kept */
	m.payload = b->buf;
	m.len = b->len;
	rc = ls_sink_write(sink, &m, &e);
	if (rc == LS_OK) {
		cmd_count(&cmd_stats.out, b->count);
		cmd_count(&cmd_stats.bytes, b->len);
	} else if (rc == LS_END)
		cmd_count(&cmd_stats.filtered, b->count);
	else if (rc == LS_ERR_NOTLINE) {
		warnx("batch of %zu from stream %s seq %llu: %s; not written",
		    b->count, m.key, (unsigned long long)m.seq, e.msg);
		cmd_count(&cmd_stats.skipped, b->count);
	} else
		fail_output(&e);
	batch_free(b);
}

static struct batch **ready;	/* closed batches of --exec, in order */
static size_t nready, ready_cap;

static void
ready_remove(struct batch *b)
{
	for (size_t i = 0; i < nready; i++)
		if (ready[i] == b) {
			memmove(ready + i, ready + i + 1,
			    (nready - i - 1) * sizeof(*ready));
			nready--;
			return;
		}
}

/* Sends the messages of b (lines) to the dead-letter output, after a
 * record of why; without one, to stderr. */
static void
dead_letter(struct batch *b, const char *why)
{
	static ls_out err_out;
	static bool err_ready;
	char reason[512];
	ls_error e;
	ls_msg m;
	unsigned have;
	int rc;

	warnx("batch of %zu from stream %s seq %llu %s after %u attempt%s%s",
	    b->count, b->first.key, (unsigned long long)b->first.seq, why,
	    b->attempt, b->attempt == 1 ? "" : "s", dead ? "" :
	    "; its messages follow");
	if (dead == NULL && !err_ready) {
		if (ls_out_init(&err_out, STDERR_FILENO, 65536, &e) != LS_OK)
			fail_output(&e);
		err_ready = true;
	}
	memset(&m, 0, sizeof(m));
	ls_msg_set_key(&m, DEAD_KEY, sizeof(DEAD_KEY) - 1, NULL);
	m.ts_ms = ls_now_ms();
	m.seq = atomic_load(&cmd_stats.dead);
	int n = snprintf(reason, sizeof(reason), "{\"reason\":\"%s\","
	    "\"attempts\":%u,\"messages\":%zu,\"stream_key\":\"%s\","
	    "\"sequence\":%llu}", why, b->attempt, b->count, b->first.key,
	    (unsigned long long)b->first.seq);
	m.payload = (const unsigned char *)reason;
	m.len = (size_t)n;
	rc = dead ? ls_sink_write(dead, &m, &e) : ls_line_write(&err_out, &m,
	    &e);
	for (size_t off = 0; rc == LS_OK && off < b->len;) {
		const unsigned char *nl = memchr(b->buf + off, '\n',
		    b->len - off);
		size_t len = (size_t)(nl - (b->buf + off));
		if (ls_line_parse((const char *)b->buf + off, len, &m, &have,
		    &e) == LS_OK)
			rc = dead ? ls_sink_write(dead, &m, &e) :
			    ls_line_write(&err_out, &m, &e);
		off += len + 1;
	}
	if (rc == LS_OK)
		rc = dead ? ls_sink_flush(dead, &e) : ls_out_flush(&err_out, &e);
	if (rc != LS_OK && rc != LS_END)
		fail_output(&e);
	cmd_count(&cmd_stats.dead, b->count);
	n_dead++;
	if (stop_on_error)
		stopping = true;
}

/* The checkpoint file of b's job, in buf (PATH_MAX bytes). */
static void
job_cp(const struct batch *b, char *buf)
{
	job_checkpoint_path(buf, PATH_MAX, job_dir, &b->first, b->buf, b->len);
}

/* A batch is done (run, or dead): the next of its key may go. */
static void
batch_done(struct batch *b)
{
	char cp[PATH_MAX];

	if (job_dir != NULL) {
		job_cp(b, cp);
		job_checkpoint_remove(cp);
	}
	ready_remove(b);
	queued--;
	batch_free(b);
}

/* True if no earlier batch of b's key waits before it. */
static bool
first_of_key(size_t idx)
{
	struct group *g = ready[idx]->g;

	if (!by_stream && !by_field)
		return true;
	if (g->running)
		return false;
	for (size_t i = 0; i < idx; i++)
		if (ready[i]->g == g)
			return false;
	return true;
}

static void
set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void on_job_in(ls_loop *, int, unsigned, void *);
static void on_job_out(ls_loop *, int, unsigned, void *);
static void on_job_exit(ls_loop *, pid_t, int, void *);

static void
start_job(struct batch *b, size_t slot)
{
	struct job *j = &jobs[slot];
	int in[2], out[2], rc;
	char v1[48], v2[32], v3[sizeof(b->first.key) + 16];
	char v4[PATH_MAX + 32], cp[PATH_MAX];
	char *vars[] = { v1, v2, v3, job_dir ? v4 : NULL, NULL };

	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		err(1, "pipe");
	snprintf(v1, sizeof(v1), "STREAM_WORKER=%zu", slot);
	snprintf(v2, sizeof(v2), "STREAM_ATTEMPT=%u", b->attempt + 1);
	snprintf(v3, sizeof(v3), "STREAM_KEY=%s", b->first.key);
	if (job_dir != NULL) {
		job_cp(b, cp);
		snprintf(v4, sizeof(v4), "STREAM_CHECKPOINT=%s", cp);
	}
	rc = ls_spawn_sh(exec_cmd, in[0], out[1], vars, &j->pid);
	close(in[0]);
	close(out[1]);
	if (rc != 0)
		errc(1, rc, "/bin/sh");
	j->in = in[1];
	j->out = out[0];
	set_nonblock(j->in);
	set_nonblock(j->out);
	j->b = b;
	j->fed = 0;
	j->clen = 0;
	j->out_eof = j->exited = false;
	j->slot = slot;
	b->g->running = true;
	njobs++;
	if (ls_loop_fd(loop, j->in, LS_EV_WRITE, on_job_in, j, NULL) != LS_OK ||
	    ls_loop_fd(loop, j->out, LS_EV_READ, on_job_out, j, NULL) !=
	    LS_OK || ls_loop_child(loop, j->pid, on_job_exit, j, NULL) != LS_OK)
		err(1, "the event loop");
}

/* Starts what may run: the first ready batch of each idle key. */
static void
schedule(void)
{
	uint64_t now = ls_mono_ms();

	for (size_t i = 0; i < nready && njobs < jobs_max; i++) {
		struct batch *b = ready[i];
		bool busy = false;
		if (b->not_before > now || !first_of_key(i))
			continue;
		for (size_t k = 0; k < jobs_max; k++)
			busy |= jobs[k].b == b;
		if (busy)
			continue;
		if (stopping) {
			char why[64];
			if (b->attempt > 0)	/* failed, waiting to retry */
				ls_status_text(b->why, why, sizeof(why));
			dead_letter(b, b->attempt > 0 ? why :
			    "not run: an earlier batch failed");
			batch_done(b);
			i--;
			continue;
		}
		size_t slot = 0;
		while (jobs[slot].b != NULL)
			slot++;
		start_job(b, slot);
	}
}

static uint64_t
backoff(unsigned attempt)
{
	uint64_t d = ls_backoff_ms(attempt - 1, backoff_min, backoff_max);

	/* equal jitter: between half and the whole */
	return d / 2 + arc4random_uniform((uint32_t)(d / 2 + 1));
}

/* A retry's pause is over: schedule() starts it. */
static void
on_retry_due(ls_loop *l, void *ctx)
{
	(void)l;
	(void)ctx;
	schedule();
}

/* The job of slot has exited and its output is read: keep or retry. */
static void
finish_job(struct job *j)
{
	struct batch *b = j->b;
	char why[64];

	close(j->out);
	if (j->in >= 0) {
		ls_loop_fd(loop, j->in, 0, NULL, NULL, NULL);
		close(j->in);
	}
	j->in = j->out = -1;
	j->b = NULL;
	njobs--;
	b->g->running = false;
	b->attempt++;
	if (WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0) {
		if (j->clen > 0 && j->cap[j->clen - 1] != '\n') {
			if (grow(&j->cap, &j->ccap, j->clen + 1) != 0)
				err(1, NULL);
			j->cap[j->clen++] = '\n';
		}
		if (j->clen > 0 && ls_write_all(STDOUT_FILENO, j->cap,
		    j->clen) < 0) {
			if (errno == EPIPE)
				cmd_die_of_sigpipe();
			err(1, "stdout");
		}
		cmd_count(&cmd_stats.out, b->count);
		cmd_count(&cmd_stats.bytes, j->clen);
		batch_done(b);
		return;
	}
	ls_status_text(j->status, why, sizeof(why));
	b->why = j->status;
	if (b->attempt <= retries && !stopping) {
		if (!st.quiet)
			warnx("batch of %zu from stream %s seq %llu %s; retry "
			    "%u of %u", b->count, b->first.key,
			    (unsigned long long)b->first.seq, why, b->attempt,
			    retries);
		cmd_count(&cmd_stats.retried, 1);
		b->not_before = ls_mono_ms() + backoff(b->attempt);
		/* the loop wakes then for schedule() to start it */
		if (ls_loop_timer(loop, b->not_before, on_retry_due, NULL,
		    NULL) == 0)
			err(1, NULL);
		return;
	}
	dead_letter(b, why);
	batch_done(b);
}

/* Job ctx's input pipe has room: feed it its batch. */
static void
on_job_in(ls_loop *l, int fd, unsigned ev, void *ctx)
{
	struct job *j = ctx;

	(void)ev;
	while (j->fed < j->b->len) {
		ssize_t w = write(fd, j->b->buf + j->fed, j->b->len - j->fed);
		if (w > 0) {
			j->fed += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		break;	/* it stopped reading: its status tells */
	}
	ls_loop_fd(l, fd, 0, NULL, NULL, NULL);
	close(fd);
	j->in = -1;
}

/* Job ctx's output: kept until it ends, which with its exit ends it. */
static void
on_job_out(ls_loop *l, int fd, unsigned ev, void *ctx)
{
	struct job *j = ctx;

	(void)ev;
	for (;;) {
		if (grow(&j->cap, &j->ccap, j->clen + 65536) != 0)
			err(1, NULL);
		ssize_t r = read(fd, j->cap + j->clen, 65536);
		if (r > 0) {
			j->clen += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return;	/* EAGAIN: more later */
		break;
	}
	ls_loop_fd(l, fd, 0, NULL, NULL, NULL);
	j->out_eof = true;
	if (j->exited)
		finish_job(j);
}

/* Job ctx's process ended (the loop reaped it). */
static void
on_job_exit(ls_loop *l, pid_t pid, int status, void *ctx)
{
	struct job *j = ctx;

	(void)l;
	(void)pid;
	j->status = status;
	j->exited = true;
	if (j->out_eof)
		finish_job(j);
}

static void
on_input(ls_loop *l, int fd, unsigned ev, void *ctx)
{
	(void)l;
	(void)fd;
	(void)ev;
	*(bool *)ctx = true;
}

/*
 * Moves the jobs, deadlines and retries on, through the event loop.
 * Waits up to timeout ms (-1: until something happens) for them or for
 * input on fd (if >= 0). Returns true if fd is readable.
 */
static bool
service(int timeout, int fd)
{
	bool readable = false;

	if (fd >= 0 && ls_loop_fd(loop, fd, LS_EV_READ, on_input, &readable,
	    NULL) != LS_OK)
		err(1, "the event loop");
	if (ls_loop_once(loop, timeout, NULL) < 0)
		err(1, "poll");
	if (fd >= 0)
		ls_loop_fd(loop, fd, 0, NULL, NULL, NULL);
	return readable;
}

/* --- batching ------------------------------------------------------------ */

/* Closes g's open batch: out it goes, or into the queue to run. */
static void
close_batch(struct group *g)
{
	struct batch *b = g->open;

	if (b == NULL)
		return;
	g->open = NULL;
	if (g->timer != 0) {
		ls_loop_cancel(loop, g->timer);
		g->timer = 0;
	}
	if (exec_cmd == NULL) {
		emit(b);
		return;
	}
	if (nready == ready_cap) {
		ready_cap = ready_cap ? 2 * ready_cap : 16;
		if ((ready = reallocarray(ready, ready_cap, sizeof(*ready))) ==
		    NULL)
			err(1, NULL);
	}
	ready[nready++] = b;
	queued++;
	schedule();
}

/* True if the JSON text p[0..n) nests at most max deep. */
static bool
shallow(const unsigned char *p, size_t n, unsigned max)
{
	unsigned depth = 0;
	bool str = false;

	for (size_t i = 0; i < n; i++) {
		if (str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				str = false;
		} else if (p[i] == '"')
			str = true;
		else if ((p[i] == '[' || p[i] == '{') && ++depth > max)
			return false;
		else if (p[i] == ']' || p[i] == '}')
			depth--;
	}
	return true;
}

/* True if p[0..n) can go into the array as it is, and come back out
 * byte for byte: JSON, not a string, no outer whitespace or newline,
 * shallow enough for the batch (one or two levels more) to be JSON. */
static bool
embeddable(const unsigned char *p, size_t n)
{
	return n > 0 && strchr("{[-0123456789tfn", p[0]) != NULL &&
	    p[0] != '\0' && strchr(" \t\r\n", p[n - 1]) == NULL &&
	    memchr(p, '\n', n) == NULL && memchr(p, '\r', n) == NULL &&
	    ls_json_valid(p, n) &&
	    /* valid JSON nested past 510 takes at least 1022 bytes */
	    (n < 1022 || shallow(p, n, keep_meta ? 510 : 511));
}

/* Encodes m into scratch: a line for --exec, else an array element. */
static int
encode(const ls_msg *m, ls_error *e)
{
	int rc;

	scratch_len = 0;
	if (exec_cmd != NULL) {
		if ((rc = ls_line_write(&enc, m, e)) != LS_OK)
			return rc;
		return ls_out_flush(&enc, e);
	}
	if (!ls_utf8_valid(m->payload, m->len)) {
		e->code = LS_ERR_NOTLINE;
		snprintf(e->msg, sizeof(e->msg), "payload is not UTF-8");
		return LS_ERR_NOTLINE;
	}
	if (keep_meta) {
		char ts[32], head[LS_KEY_MAX + 160];
		ts[ls_time_format(m->ts_ms, ts)] = '\0';
		int n = snprintf(head, sizeof(head), "{\"header\":{"
		    "\"stream_key\":\"%s\",\"shard_id\":%llu,\"sequence\":%llu,"
		    "\"timestamp\":\"%s\"},\"payload\":", m->key,
		    (unsigned long long)m->shard, (unsigned long long)m->seq,
		    ts);
		if ((rc = ls_out_write(&enc, head, (size_t)n, e)) != LS_OK)
			return rc;
	}
	if (embeddable(m->payload, m->len))
		rc = ls_out_write(&enc, m->payload, m->len, e);
	else
		rc = ls_json_write_string(&enc, m->payload, m->len, e);
	if (rc == LS_OK && keep_meta)
		rc = ls_out_write(&enc, "}", 1, e);
	if (rc == LS_OK)
		rc = ls_out_flush(&enc, e);
	return rc;
}

static void
add(const ls_msg *m)
{
	struct group *g = &single;
	const unsigned char *v;
	size_t vlen, size;
	char where[LS_WHERE_MAX];
	ls_error e;
	int rc;

	if (by_stream)
		g = group_for(m->key, m->key_len);
	else if (by_field)
		g = ls_json_field_n(m->payload, m->len, field, field_len, &v,
		    &vlen) == LS_OK ? group_for(v, vlen) : group_for("", 0);
	if ((rc = encode(m, &e)) != LS_OK) {
		if (rc != LS_ERR_NOTLINE)
			fail_output(&e);
		warnx("%s: %s: stream %s seq %llu: %s; not batched",
		    ls_source_name(st.src), ls_source_where_text(st.src, where,
		    sizeof(where)), m->key, (unsigned long long)m->seq, e.msg);
		cmd_count(&cmd_stats.skipped, 1);
		return;
	}
	/* the size of what leaves: "[" elements "]", or the lines */
	if (g->open != NULL && max_bytes > 0) {
		size = g->open->len + scratch_len + (exec_cmd ? 0 : 2);
		if (size > max_bytes)
			close_batch(g);
	}
	struct batch *b = g->open;
	if (b == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			err(1, NULL);
		b->g = g;
		b->id = next_id++;
		b->start = cp_before;
		b->first = *m;
		b->first.payload = NULL;
		b->first.len = 0;
		g->open = b;
		if (exec_cmd == NULL)
			b->buf = NULL;
		/* + 1: ls_mono_ms() is rounded down, and the batch may close
		 * no sooner than TIMEOUT after its first message */
		if (timeout_ms > 0 && (g->timer = ls_loop_timer(loop,
		    ls_mono_ms() + timeout_ms + 1, on_deadline, g, NULL)) == 0)
			err(1, NULL);
	}
	if (grow(&b->buf, &b->cap, b->len + scratch_len + 2) != 0)
		err(1, NULL);
	if (exec_cmd == NULL)
		b->buf[b->len++] = b->count == 0 ? '[' : ',';
	memcpy(b->buf + b->len, scratch, scratch_len);
	b->len += scratch_len;
	if (++b->count == max_count)
		close_batch(g);
}

static void
close_all(void)
{
	close_batch(&single);
	for (size_t i = 0; i < groups_cap; i++)
		if (groups[i] != NULL)
			close_batch(groups[i]);
}

/* Waits for every queued batch to run (retries included). */
static void
drain(void)
{
	while (queued > 0) {
		/* under --on-error stop this may dead-letter the rest */
		schedule();
		if (queued == 0)
			break;
		/* a job's end, or a retry's time (a timer), moves it on */
		service(-1, -1);
	}
}

/* The input waits: let jobs, deadlines and retries go on meanwhile.
 * Gives up (so that the batches a deadline closed go out) once one
 * did. */
static int
wait_input(void *ctx, int fd)
{
	uint64_t start = ls_mono_ms();

	(void)ctx;
	for (;;) {
		schedule();
		bool readable = service(fd < 0 ? 50 : -1, fd);
		if (cmd_stop || timer_closed) {
			timer_closed = false;
			return 1;	/* the source ends at its next read */
		}
		if (readable)
			return 0;
		if (fd < 0 && ls_mono_ms() >= start + 50)
			return 0;	/* a follower's pause */
	}
}

/* Moves pos back to b's start, if b is waiting; false if b began in a
 * file a follower has left since. */
static bool
pending_min(const struct batch *b, ls_src_pos *pos)
{
	if (b == NULL)
		return true;
	if (b->start.dev != pos->dev || b->start.ino != pos->ino)
		return false;
	if (b->start.offset < pos->offset)
		*pos = b->start;
	return true;
}

/* --checkpoint: the input before the oldest message not yet out (in
 * an open batch, or one waiting to run or retry), else after the last
 * message read, once the outputs are flushed. */
static void
save_checkpoint(void)
{
	ls_src_pos pos = cp_prev;
	bool ok = pending_min(single.open, &pos);

	if (!cp_on)
		return;
	for (size_t i = 0; ok && i < groups_cap; i++)
		if (groups[i] != NULL)
			ok = pending_min(groups[i]->open, &pos);
	for (size_t i = 0; ok && i < nready; i++)
		ok = pending_min(ready[i], &pos);
	if (ok)
		stage_checkpoint_at(&st, &pos);
}

/* No message is held: no batch open, closed, running or to retry. */
static bool
holds_nothing(void)
{
	if (single.open != NULL || single.head != NULL || single.running ||
	    nready > 0)
		return false;
	for (size_t i = 0; i < groups_cap; i++)
		if (groups[i] != NULL && (groups[i]->open != NULL ||
		    groups[i]->head != NULL || groups[i]->running))
			return false;
	return true;
}

static void
flush_output(void *ctx)
{
	(void)ctx;
	if (wait_rc == LS_OK && sink != NULL)
		wait_rc = ls_sink_flush(sink, &wait_err);
	if (wait_rc == LS_OK) {
		save_checkpoint();
		if (holds_nothing())
			stage_commit(&st);
	}
}

/* --- split --------------------------------------------------------------- */

static unsigned char *unesc;
static size_t unesc_cap;

/* Sets m's payload from the array element v[0..n): a string's text, or
 * the JSON itself. */
static bool
element_payload(const unsigned char *v, size_t n, ls_msg *m)
{
	if (n >= 2 && v[0] == '"') {
		if (grow(&unesc, &unesc_cap, n) != 0)
			err(1, NULL);
		size_t len = ls_json_unescape(v + 1, n - 2, unesc);
		if (len == SIZE_MAX)
			return false;
		m->payload = unesc;
		m->len = len;
		return true;
	}
	m->payload = v;
	m->len = n;
	return true;
}

enum { PLAIN, WRAPPED, BAD };

/* Reads the number member name of header h into *v: BAD if it is there
 * but not a number of 0 to 2^64 - 1, PLAIN if it is missing. */
static int
meta_number(const unsigned char *h, size_t hn, const char *name, uint64_t *v)
{
	const unsigned char *f;
	size_t fn;

	if (ls_json_field(h, hn, name, &f, &fn) != LS_OK)
		return PLAIN;
	return f[-1] != '"' && ls_u64_parse((const char *)f, fn, v) == LS_OK ?
	    WRAPPED : BAD;
}

/*
 * Reads the meta of a --keep-meta element: WRAPPED (m's meta set, the
 * payload member in *pv), PLAIN if it is not one (no header with the
 * four meta fields), or BAD if its header has all four but one does not
 * hold (a shard or sequence past 2^64 - 1, say): damage, not a payload.
 */
static int
element_meta(const unsigned char *v, size_t n, ls_msg *m,
    const unsigned char **pv, size_t *pn)
{
	static const char *const names[] = { "stream_key", "shard_id",
	    "sequence", "timestamp" };
	const unsigned char *h, *f, *pay;
	size_t hn, fn, payn;
	int rc;

	if (n == 0 || v[0] != '{' ||
	    ls_json_field(v, n, "header", &h, &hn) != LS_OK ||
	    ls_json_field(v, n, "payload", &pay, &payn) != LS_OK ||
	    hn == 0 || h[0] != '{')
		return PLAIN;
	for (size_t i = 0; i < 4; i++)
		if (ls_json_field(h, hn, names[i], &f, &fn) != LS_OK)
			return PLAIN;
	if ((rc = meta_number(h, hn, "shard_id", &m->shard)) != WRAPPED ||
	    (rc = meta_number(h, hn, "sequence", &m->seq)) != WRAPPED)
		return BAD;
	if (ls_json_field(h, hn, "stream_key", &f, &fn) != LS_OK ||
	    f[-1] != '"' || ls_msg_set_key(m, (const char *)f, fn, NULL) !=
	    LS_OK)
		return BAD;
	if (ls_json_field(h, hn, "timestamp", &f, &fn) != LS_OK ||
	    f[-1] != '"' || ls_time_parse((const char *)f, fn, &m->ts_ms) !=
	    LS_OK)
		return BAD;
	/* a string value: back to its quotes */
	if (pay[-1] == '"') {
		pay--;
		payn += 2;
	}
	*pv = pay;
	*pn = payn;
	return WRAPPED;
}

static void
put(const ls_msg *m)
{
	ls_error e;
	int rc = ls_sink_write(sink, m, &e);

	if (!cmd_written(rc, m, st.src, NULL, &e))
		fail_output(&e);
}

static void
split(const ls_msg *m)
{
	const unsigned char *v, *pv;
	size_t n, pn, pos = 0;
	char where[LS_WHERE_MAX];
	ls_msg o;
	uint64_t i = 0;
	int rc;

	if (!ls_json_valid(m->payload, m->len) ||
	    ls_json_array_next(m->payload, m->len, &pos, &v, &n) ==
	    LS_ERR_INVAL) {
		warnx("%s: %s: stream %s seq %llu: not a batch (a JSON "
		    "array); passed on as it is", ls_source_name(st.src),
		    ls_source_where_text(st.src, where, sizeof(where)), m->key,
		    (unsigned long long)m->seq);
		cmd_count(&cmd_stats.raw, 1);
		put(m);
		return;
	}
	for (pos = 0; (rc = ls_json_array_next(m->payload, m->len, &pos, &v,
	    &n)) == LS_OK; i++) {
		const char *why = NULL;
		o = *m;
		switch (element_meta(v, n, &o, &pv, &pn)) {
		case BAD:
			why = "a header whose meta fields do not hold";
			break;
		case PLAIN:
			o = *m;
			pv = v;
			pn = n;
			if (m->seq > UINT64_MAX - i)
				why = "a sequence past 2^64 - 1";
			o.seq = m->seq + i;
			break;
		}
		if (why == NULL && !element_payload(pv, pn, &o))
			why = "a lone surrogate";
		if (why != NULL) {
			warnx("%s: stream %s seq %llu: element %llu holds %s; "
			    "not written", ls_source_name(st.src), m->key,
			    (unsigned long long)m->seq, (unsigned long long)i,
			    why);
			cmd_count(&cmd_stats.skipped, 1);
			continue;
		}
		put(&o);
	}
}

/* --- main ---------------------------------------------------------------- */

static void
parse_backoff(const char *s)
{
	const char *dots = strstr(s, "..");
	char min[64];
	uint64_t lo, hi;

	if (dots == NULL || (size_t)(dots - s) >= sizeof(min))
		cmd_usage("--backoff: '%s' is not MIN..MAX", s);
	memcpy(min, s, (size_t)(dots - s));
	min[dots - s] = '\0';
	lo = cmd_duration(min, "--backoff") / 1000;
	hi = cmd_duration(dots + 2, "--backoff") / 1000;
	if (lo == 0 || hi < lo)
		cmd_usage("--backoff: '%s': MIN must be at least 1ms and at "
		    "most MAX", s);
	backoff_min = lo;
	backoff_max = hi;
}

struct config {
	ls_sink_opts ko;
	const char *output, *dead_uri;
	bool do_split, jobs_set, exec_only;
};

/* The options of --exec; false if ch is not one. */
static bool
exec_option(struct config *c, int ch, const char *arg)
{
	switch (ch) {
	case 'D':
		c->dead_uri = arg;
		break;
	case 'O':
		if (strcmp(arg, "stop") == 0)
			stop_on_error = true;
		else if (strcmp(arg, "continue") != 0)
			cmd_usage("--on-error: '%s' is not continue or stop",
			    arg);
		break;
	case 'W':
		parse_backoff(arg);
		break;
	case 'r':
		retries = (unsigned)cmd_number(arg, 0, 1000, "--retries");
		break;
	case BATCH_OPT_JOB_CHECKPOINTS:
		job_dir = arg;
		break;
	case 'x':
		exec_cmd = arg;
		return true;
	case 'j':
		jobs_max = (size_t)cmd_number(arg, 1, 1024, "-j");
		c->jobs_set = true;
		return true;
	default:
		return false;
	}
	c->exec_only = true;
	return true;
}

/* The batching options; false if ch is not one. */
static bool
batch_option(int ch, const char *arg)
{
	switch (ch) {
	case 'K':
		keep_meta = true;
		break;
	case 'b':
		max_bytes = (size_t)cmd_number(arg, 1, LLONG_MAX, "-b");
		break;
	case 'n':
		max_count = (size_t)cmd_number(arg, 1, LLONG_MAX, "-n");
		break;
	case 't':
		timeout_ms = cmd_duration(arg, "-t") / 1000;
		if (timeout_ms == 0)
			cmd_usage("-t: '%s' is under a millisecond", arg);
		break;
	case 'y':
		if (strcmp(arg, "stream") == 0)
			by_stream = true;
		else if (strncmp(arg, "field:", 6) == 0 && arg[6] != '\0') {
			by_field = true;
			field = arg + 6;
			field_len = strlen(field);
		} else
			cmd_usage("--by: '%s' is not stream or field:NAME",
			    arg);
		break;
	default:
		return false;
	}
	return true;
}

static void
check_options(struct config *c)
{
	if (c->ko.append && c->ko.force)
		cmd_usage("--append and --force do not go together");
	if (exec_cmd == NULL && (c->exec_only || c->jobs_set))
		cmd_usage("-j, --retries, --backoff, --dead-letter, "
		    "--on-error and --job-checkpoints go with --exec");
	if (exec_cmd != NULL && strcmp(c->output, "-") != 0)
		cmd_usage("-o: with --exec, the commands' output is ours");
	if (c->do_split && (exec_cmd != NULL || max_count || max_bytes ||
	    timeout_ms || by_stream || by_field || keep_meta))
		cmd_usage("--split takes no batching options");
	if (!c->do_split && max_count == 0 && max_bytes == 0 &&
	    timeout_ms == 0)
		max_count = 100;
	if (exec_cmd != NULL && keep_meta)
		cmd_usage("--keep-meta is for batches as messages, not "
		    "--exec");
}

static void
parse(int argc, char *argv[], struct config *c)
{
	static const struct option longopts[] = {
		{ "append", no_argument, NULL, 'A' },
		{ "backoff", required_argument, NULL, 'W' },
		{ "beacon-interval", required_argument, NULL, 'B' },
		{ "by", required_argument, NULL, 'y' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'n' },
		{ "dead-letter", required_argument, NULL, 'D' },
		{ "exec", required_argument, NULL, 'x' },
		{ "force", no_argument, NULL, 'F' },
		{ "job-checkpoints", required_argument, NULL,
		    BATCH_OPT_JOB_CHECKPOINTS },
		{ "jobs", required_argument, NULL, 'j' },
		{ "keep-meta", no_argument, NULL, 'K' },
		{ "no-eos", no_argument, NULL, 'E' },
		{ "on-error", required_argument, NULL, 'O' },
		{ "output", required_argument, NULL, 'o' },
		{ "retries", required_argument, NULL, 'r' },
		{ "split", no_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 't' },
		CMD_LONGOPTS,
		STAGE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "b:hi:j:n:o:qt:", longopts,
	    NULL)) != -1) {
		cmd_option(ch);
		if (cmd_sink_option(ch, optarg, &c->ko) ||
		    stage_option(&st, ch, optarg) ||
		    exec_option(c, ch, optarg) || batch_option(ch, optarg))
			continue;
		if (ch == 'E')
			c->ko.no_eos = true;
		else if (ch == 'P')
			c->do_split = true;
		else if (ch == 'o')
			c->output = optarg;
		else
			cmd_usage(NULL);
	}
	if (optind < argc)
		cmd_usage("unexpected argument '%s'", argv[optind]);
	check_options(c);
}

static void
open_all(const struct config *c)
{
	ls_error e;

	st.so.on_wait = flush_output;
	if (exec_cmd != NULL || timeout_ms > 0)
		st.so.wait = wait_input;
	if ((loop = ls_loop_new(&e)) == NULL)
		errx(1, "%s", e.msg);
	stage_open(&st);
	cp_on = stage_mark(&st, &cp_prev);
	if (ls_out_init_fn(&enc, enc_write, NULL, 65536, &e) != LS_OK)
		errx(1, "%s", e.msg);
	if (exec_cmd == NULL)
		sink = cmd_sink_open(c->output, &c->ko);
	if (c->dead_uri != NULL)
		dead = cmd_sink_open(c->dead_uri, &c->ko);
	if (job_dir != NULL)
		job_checkpoint_dir(job_dir);
	if (exec_cmd != NULL) {
		if ((jobs = calloc(jobs_max, sizeof(*jobs))) == NULL)
			err(1, NULL);
		for (size_t k = 0; k < jobs_max; k++)
			jobs[k].in = jobs[k].out = -1;
	}
}

static void
run(bool do_split)
{
	unsigned tick = 0;
	ls_msg m;
	int rc;

	while (!stopping) {
		rc = stage_next(&st, &m);
		if (wait_rc != LS_OK)
			fail_output(&wait_err);
		if (rc == LS_AGAIN) {
			schedule();
			continue;
		}
		if (rc != LS_OK)
			break;
		cp_before = cp_prev;
		if (cp_on)
			stage_mark(&st, &cp_prev);
		if (do_split) {
			split(&m);
			continue;
		}
		add(&m);
		/* deadlines pass while the input flows too */
		if (timeout_ms > 0 && ls_loop_next(loop) <= ls_mono_ms())
			service(0, -1);
		if (exec_cmd == NULL)
			continue;
		if ((++tick & 63) == 0)
			service(0, -1);
		/* a bounded queue: the input waits while it is full */
		while (queued >= 2 * jobs_max + 2 && !stopping) {
			schedule();
			service(njobs > 0 ? -1 : 10, -1);
		}
	}
	if (!do_split)
		close_all();
	if (exec_cmd != NULL)
		drain();
}

static int
close_outputs(void)
{
	ls_msg eos;
	int status = 0;

	if (sink != NULL && cmd_sink_close(sink, stage_eos(&st, &eos)) != 0)
		status = 1;
	if (dead != NULL && cmd_sink_close(dead, NULL) != 0)
		status = 1;
	if (status == 0) {
		save_checkpoint();
		stage_commit(&st);
	}
	if (stage_close(&st) != 0)
		status = 1;
	ls_loop_free(loop);
	if (n_dead > 0) {
		warnx("dead-lettered: %llu batches, %llu messages",
		    (unsigned long long)n_dead,
		    (unsigned long long)atomic_load(&cmd_stats.dead));
		status = 1;
	}
	return status;
}

int
main(int argc, char *argv[])
{
	struct config c;

	cmd_usage_text = usage_text;
	stage_init(&st, "batch");
	st.checkpoints = true;
	memset(&c, 0, sizeof(c));
	c.ko.interval = LS_SS_DEFAULT_INTERVAL;
	c.output = "-";
	parse(argc, argv, &c);
	c.ko.flush_delivers = st.cp.file != NULL;
	open_all(&c);
	run(c.do_split);
	return close_outputs();
}
