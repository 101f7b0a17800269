/*
 * pipeline --stats: every command of a stage is started with
 * LS_STATS_FD naming the write end of a pipe, where it prints its own
 * --stats lines (cmd/lib/stats.c); the runner reads them on its event
 * loop, keeps the last of each, and prints one line of the whole: a
 * stage's in is its first command's, its out its last command's (a
 * restarted command's earlier runs added), its queue the bytes
 * waiting in the FIFOs it reads (FIONREAD on the runner's own read
 * ends). On a terminal, or with LS_STATS_TABLE=1, a table redrawn in
 * place instead, the slowest stage marked.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "topo.h"

static const char *
state_name(enum topo_state s)
{
	static const char *const names[] = { "waiting", "running",
	    "restarting", "done", "failed" };
	return names[s];
}

/* The value of "key": in the JSON line s, 0 if none. */
static uint64_t
field(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p == NULL ? 0 : strtoull(p + strlen(key), NULL, 10);
}

/* A whole line of sg's counters has been read. */
static void
stats_line(struct topo_seg *sg, const char *line)
{
	if (line[0] != '{')
		return;
	sg->in = field(line, "\"in\":");
	sg->out = field(line, "\"out\":");
	sg->counted = true;
}

/* Reads what sg's pipe holds; false at its end. */
static bool
stats_drain(struct topo_seg *sg)
{
	char buf[4096], *nl;
	size_t take;
	ssize_t n;

	while ((n = read(sg->stats_fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += take) {
			nl = memchr(p, '\n', (size_t)(buf + n - p));
			take = nl ? (size_t)(nl - p) + 1 : (size_t)(buf + n - p);
			if (sg->slen + take < sizeof(sg->sbuf)) {
				memcpy(sg->sbuf + sg->slen, p, take);
				sg->slen += take;
			} else	/* too long: not ours; dropped */
				sg->slen = sizeof(sg->sbuf);
			if (nl == NULL)
				continue;
			if (sg->slen < sizeof(sg->sbuf)) {
				sg->sbuf[sg->slen - 1] = '\0';
				stats_line(sg, sg->sbuf);
			}
			sg->slen = 0;
		}
	return n != 0 && (n > 0 || errno == EAGAIN || errno == EINTR);
}

static void
on_stats(ls_loop *l, int fd, unsigned ev, void *ctx)
{
	(void)fd;
	(void)ev;
	if (!stats_drain(ctx))
		topo_stats_ended(l, ctx);
}

int
topo_stats_pipe(ls_loop *l, struct topo_seg *sg, uint64_t stats_ms,
    char *vars[3])
{
	static char fdvar[32], msvar[48];
	ls_error e;
	int p[2];

	vars[0] = NULL;
	if (stats_ms == 0)
		return -1;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
		err(1, "pipe");
	/* the command's end blocks, and is inherited (the runner starts
	 * one command at a time and closes it at once) */
	if (fcntl(p[1], F_SETFL, 0) != 0 || fcntl(p[1], F_SETFD, 0) != 0)
		err(1, "fcntl");
	sg->stats_fd = p[0];
	sg->slen = 0;
	sg->base_in += sg->in;
	sg->base_out += sg->out;
	sg->in = sg->out = 0;
	if (ls_loop_fd(l, p[0], LS_EV_READ, on_stats, sg, &e) != 0)
		errx(1, "%s", e.msg);
	snprintf(fdvar, sizeof(fdvar), "LS_STATS_FD=%d", p[1]);
	snprintf(msvar, sizeof(msvar), "LS_STATS_INTERVAL=%llu",
	    (unsigned long long)(stats_ms == UINT64_MAX ? 0 : stats_ms));
	vars[0] = fdvar;
	vars[1] = msvar;
	vars[2] = NULL;
	return p[1];
}

void
topo_stats_ended(ls_loop *l, struct topo_seg *sg)
{
	ls_error e;

	if (sg->stats_fd < 0)
		return;
	(void)stats_drain(sg);
	if (ls_loop_fd(l, sg->stats_fd, 0, NULL, NULL, &e) != 0)
		errx(1, "%s", e.msg);
	close(sg->stats_fd);
	sg->stats_fd = -1;
}

/* The counters of stage st; false if its commands print none. */
static bool
stage_counts(const struct topo_stage *st, uint64_t *in, uint64_t *out)
{
	const struct topo_seg *f = &st->seg[0], *z = &st->seg[st->nseg - 1];

	*in = f->base_in + f->in;
	*out = z->base_out + z->out;
	return f->counted && z->counted;
}

/* Bytes waiting in the FIFOs stage si reads. */
static uint64_t
queue_fill(const struct topo *t, size_t si)
{
	uint64_t sum = 0;
	int n;

	for (size_t i = 0; i < t->nc; i++)
		if (t->c[i].reader == (int)si && t->c[i].rfd >= 0 &&
		    ioctl(t->c[i].rfd, FIONREAD, &n) == 0 && n > 0)
			sum += (uint64_t)n;
	return sum;
}

struct row {
	bool counted;
	uint64_t in, out, queue;
	double rin, rout;
};

static void
rows(struct topo *t, struct row *r, uint64_t interval_ms)
{
	for (size_t i = 0; i < t->nst; i++) {
		struct topo_stage *st = &t->st[i];
		r[i].counted = stage_counts(st, &r[i].in, &r[i].out);
		r[i].queue = queue_fill(t, i);
		r[i].rin = interval_ms == 0 ? 0.0 : (double)(r[i].in -
		    st->prev_in) * 1000.0 / (double)interval_ms;
		r[i].rout = interval_ms == 0 ? 0.0 : (double)(r[i].out -
		    st->prev_out) * 1000.0 / (double)interval_ms;
		st->prev_in = r[i].in;
		st->prev_out = r[i].out;
	}
}

static void
json_stage(FILE *f, const struct topo_stage *st, const struct row *r)
{
	char how[128];

	fprintf(f, "{\"name\":\"%s\",\"where\":\"", st->name);
	for (const char *p = st->where; *p; p++)
		fprintf(f, *p == '"' || *p == '\\' ? "\\%c" :
		    (unsigned char)*p < 0x20 ? "?" : "%c", *p);
	fprintf(f, "\",\"pid\":%ld,\"state\":\"%s\",\"restarts\":%u,",
	    (long)st->seg[0].pid, state_name(st->state), st->restarts);
	if (r->counted)
		fprintf(f, "\"in\":%llu,\"out\":%llu,\"rate\":%.1f,",
		    (unsigned long long)r->in, (unsigned long long)r->out,
		    r->rout);
	else
		fprintf(f, "\"in\":null,\"out\":null,\"rate\":null,");
	fprintf(f, "\"queue\":%llu,\"status\":", (unsigned long long)r->queue);
	if (st->state == TS_DONE || st->state == TS_FAILED) {
		ls_status_text(st->status, how, sizeof(how));
		fprintf(f, "\"%s\"}", how);
	} else
		fprintf(f, "null}");
}

/* The stage downstream of best (reading what it writes) that has as
 * many bytes waiting: best is held back by it. */
static long
downstream(const struct topo *t, const struct row *r, long best)
{
	for (size_t i = 0; i < t->nc; i++)
		if (t->c[i].writer == best && t->c[i].reader >= 0 &&
		    r[t->c[i].reader].queue >= r[best].queue)
			return t->c[i].reader;
	return -1;
}

/* The slowest stage: the one with the most bytes waiting at its input
 * (of two, the one downstream: the other is held back by it); if none
 * waits, the running one with counters that put out least; -1 if
 * none. */
static long
slowest(const struct topo *t, const struct row *r)
{
	long best = -1, next;

	for (size_t i = 0; i < t->nst; i++)
		if (r[i].queue > 0 && (best < 0 || r[i].queue > r[best].queue))
			best = (long)i;
	/* no cycle: at most nst steps */
	for (size_t k = 0; best >= 0 && k < t->nst &&
	    (next = downstream(t, r, best)) >= 0; k++)
		best = next;
	for (size_t i = 0; best < 0 && i < t->nst; i++)
		if (t->st[i].state == TS_RUN && r[i].counted)
			best = (long)i;
	for (size_t i = 0; i < t->nst && best >= 0 && r[best].queue == 0; i++)
		if (t->st[i].state == TS_RUN && r[i].counted &&
		    r[i].rout < r[best].rout)
			best = (long)i;
	return best;
}

static void
table(FILE *f, const struct topo *t, const struct row *r)
{
	static size_t drawn;
	long slow = slowest(t, r);

	if (drawn > 0)
		fprintf(f, "\033[%zuA", drawn);
	fprintf(f, "\r\033[K%-20s %10s %10s %8s %10s\n", "STAGE", "IN/S",
	    "OUT/S", "RESTARTS", "QUEUE");
	for (size_t i = 0; i < t->nst; i++) {
		fprintf(f, "\r\033[K%-20.20s ", t->st[i].name);
		if (r[i].counted)
			fprintf(f, "%10.1f %10.1f", r[i].rin, r[i].rout);
		else
			fprintf(f, "%10s %10s", "-", "-");
		fprintf(f, " %8u %10llu%s\n", t->st[i].restarts,
		    (unsigned long long)r[i].queue,
		    (long)i == slow ? "  <- slowest" : "");
	}
	drawn = t->nst + 1;
}

static bool
table_wanted(void)
{
	const char *force = getenv("LS_STATS_TABLE");

	return isatty(STDERR_FILENO) || (force && strcmp(force, "1") == 0);
}

void
topo_stats_print(struct topo *t, uint64_t elapsed_ms, uint64_t interval_ms)
{
	struct row *r = calloc(t->nst, sizeof(*r));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL || r == NULL)
		err(1, NULL);
	rows(t, r, interval_ms);
	if (table_wanted())
		table(f, t, r);
	else {
		fprintf(f, "{\"program\":\"pipeline\",\"elapsed_ms\":%llu,"
		    "\"stages\":[", (unsigned long long)elapsed_ms);
		for (size_t i = 0; i < t->nst; i++) {
			fprintf(f, "%s", i ? "," : "");
			json_stage(f, &t->st[i], &r[i]);
		}
		fprintf(f, "]}\n");
	}
	fclose(f);
	(void)ls_write_all(STDERR_FILENO, buf, len);
	free(buf);
	free(r);
}
