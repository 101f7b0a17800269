/*
 * The listening sources: tcp://HOST:PORT and unix:///PATH take many
 * clients at once, each a stream of lines read with the line framing of
 * files (ls__line_meta), in order per client, served in turn; udp://
 * takes datagrams of one or more lines. One epoll descriptor of the
 * source's own holds the listening socket, the clients and a timerfd for
 * the nearest idle deadline; a stage's wait hook is handed that
 * descriptor. Memory is bounded per client by max_line.
 */
#define _GNU_SOURCE	/* accept4, SO_PEERCRED, SO_RXQ_OVFL */
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include "ls-internal.h"
#include "net-internal.h"
#include "streams-internal.h"

#define CLIENT_BUF 16384	/* a client's first buffer */
#define DGRAM_MAX 65536		/* the longest datagram taken whole */
#define EVENTS 64
#define BURST 64		/* lines of one client in a row, at most */
#define DRAINS 1000		/* looks at clients' bytes after a stop */

struct client {
	int fd;
	char addr[64];		/* for messages: "127.0.0.1:53012", "pid N" */
	unsigned char *buf;
	size_t cap, start, end, scan;
	uint64_t lineno;
	uint64_t last_ms;	/* ls_mono_ms of its last bytes */
	uint64_t line_ms;	/* of the first bytes of its unfinished line */
	bool eof;		/* gone: close once its lines are taken */
	bool dgram;		/* udp: the buffer holds one datagram */
	void *tls;		/* its TLS session, or NULL */
	bool shaken;		/* TLS: the handshake is done */
};

/* ls_listen_stats, which another thread may read at any time. */
struct counters {
	_Atomic uint64_t clients, accepted, refused, idle_closed, partial,
	    too_long, truncated, overruns;
};

/* Counts one in c (only the source's thread writes). */
static void
inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + 1, memory_order_relaxed);
}

struct nsrc {
	const char *name;
	ls_source_opts o;
	struct ls__net addr;
	int lfd, epfd, tfd;
	bool own_path;		/* unlink the unix socket at close */
	struct client **c;	/* the clients, at most max_clients */
	size_t nc, rr;		/* how many; whose turn */
	unsigned burst;		/* lines served in this turn */
	struct client udp;	/* udp: the datagram being read */
	unsigned max_clients;
	size_t max_line;
	uint64_t idle_ms, armed_ms;
	bool failed;
	unsigned drains;	/* stopped: looks taken at what clients
				   sent before, at most DRAINS */
	bool taken;		/* the last look found bytes */
	int spare;		/* /dev/null, closed to refuse at EMFILE */
	struct ls__tls *tls;	/* --tls-cert and --tls-key, or NULL */
	char where[sizeof(((struct client *)0)->addr)];	/* the last
				   line's client's address */
	uint64_t where_line, raw;
	struct ls__streams seqs;
	struct counters st;	/* read by other threads (--stats) */
	ls_error note;		/* a notice to return first */
	bool have_note;
};

static bool
stopped(const struct nsrc *s)
{
	return s->o.stop != NULL && *s->o.stop;
}

/* Keeps a notice for the next call (one at a time: no more events are
 * taken while one waits). */
static void __attribute__((format(printf, 2, 3)))
note(struct nsrc *s, const char *fmt, ...)
{
	char msg[LS_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->have_note)
		return;		/* the first is said; counters tell the rest */
	ls__failn(&s->note, LS_NOTICE, 0, s->name, "%s", msg);
	s->have_note = true;
}

static void
client_free(struct client *c)
{
	ls__tls_end(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

/* Drops client i (its unfinished line counted as partial). */
static void
client_drop(struct nsrc *s, size_t i)
{
	struct client *c = s->c[i];

	if (c->end > c->start)
		inc(&s->st.partial);
	client_free(c);
	s->c[i] = s->c[--s->nc];
	atomic_store_explicit(&s->st.clients, s->nc, memory_order_relaxed);
	if (s->rr >= s->nc)
		s->rr = 0;
}

/* The text of unix client fd: its process, as the kernel tells. */
static void
unix_peer(int fd, char *buf, size_t n, uint64_t k)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
		snprintf(buf, n, "pid %ld #%llu", (long)cr.pid,
		    (unsigned long long)k);
	else
		snprintf(buf, n, "#%llu", (unsigned long long)k);
}

/* Out of descriptors: the connection waiting is taken with the spare
 * one and closed, rather than left to wake the loop again and again. */
static int
refuse_one(struct nsrc *s)
{
	int e = errno, fd;

	if (s->spare >= 0) {
		close(s->spare);
		if ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			close(fd);
			inc(&s->st.accepted);
			inc(&s->st.refused);
		}
		s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	note(s, "a client refused: %s", strerror(e));
	return LS_OK;
}

/* Takes one waiting connection: a client, or refused beyond
 * max_clients. */
static int
accept_one(struct nsrc *s, ls_error *err)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct epoll_event ev = { .events = EPOLLIN };
	struct client *c;
	char addr[64];
	int fd;

	fd = accept4(s->lfd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK |
	    SOCK_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		return refuse_one(s);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR || errno ==
		    ECONNABORTED ? LS_OK : ls__failn(err, LS_ERR_IO, 0,
		    s->name, "accept: %s", strerror(errno));
	inc(&s->st.accepted);
	if (s->addr.kind == 'u')
		unix_peer(fd, addr, sizeof(addr), s->st.accepted);
	else
		ls__net_addr_text((struct sockaddr *)&sa, len, addr,
		    sizeof(addr));
	if (s->nc >= s->max_clients) {
		close(fd);
		inc(&s->st.refused);
		note(s, "client %s refused: %zu clients already "
		    "(--max-clients)", addr, s->nc);
		return LS_OK;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	}
	c->fd = fd;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	if (s->tls != NULL && (c->tls = ls__tls_session(s->tls, fd)) ==
	    NULL) {
		client_free(c);
		note(s, "client %s refused: no TLS session", addr);
		return LS_OK;
	}
	c->last_ms = ls_mono_ms();
	ev.data.ptr = c;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		client_free(c);
		return ls__failn(err, LS_ERR_IO, 0, s->name, "epoll: %s",
		    strerror(errno));
	}
	s->c[s->nc++] = c;
	atomic_store_explicit(&s->st.clients, s->nc, memory_order_relaxed);
	s->taken = true;
	return LS_OK;
}

/* Makes room in c's buffer: its line to the front, and the buffer grown
 * up to max_line + 1 bytes. Returns false if full (a line too long). */
static bool
client_room(struct nsrc *s, struct client *c)
{
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->scan -= c->start;
		c->start = 0;
	}
	if (c->end < c->cap)
		return true;
	if (c->cap >= s->max_line + 1)
		return false;
	size_t want = c->cap * 2 > s->max_line + 1 ? s->max_line + 1 :
	    c->cap * 2;
	unsigned char *nb = realloc(c->buf, want);
	if (nb == NULL)
		return false;
	c->buf = nb;
	c->cap = want;
	return true;
}

/* Reads what client c sent; a client that went away (or whose line
 * outgrew max_line) is marked to be closed. */
static void
client_read(struct nsrc *s, struct client *c)
{
	ssize_t n;

	if (c->buf == NULL) {
		c->cap = s->max_line + 1 < CLIENT_BUF ? s->max_line + 1 :
		    CLIENT_BUF;
		if ((c->buf = malloc(c->cap)) == NULL) {
			c->cap = 0;
			return;		/* tried again at the next event */
		}
	}
	if (!client_room(s, c))
		return;			/* too long: client_next says so */
	if (c->tls != NULL) {
		const char *why;
		n = ls__tls_read(c->tls, &c->shaken, c->buf + c->end,
		    c->cap - c->end, &why);
		if (n < 0 && why != NULL)
			note(s, "client %s: TLS: %.*s; closed", c->addr,
			    (int)strcspn(why, "."), why);
	} else
		n = read(c->fd, c->buf + c->end, c->cap - c->end);
	if (n > 0) {
		if (c->end == c->start)
			c->line_ms = ls_mono_ms();
		c->end += (size_t)n;
		c->last_ms = ls_mono_ms();
		s->taken = true;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	c->eof = true;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

/* The kernel's count of datagrams dropped is n (it only grows). */
static void
overruns(struct nsrc *s, uint64_t n)
{
	if (n > atomic_load_explicit(&s->st.overruns, memory_order_relaxed))
		atomic_store_explicit(&s->st.overruns, n, memory_order_relaxed);
}

/* Reads the next datagram into s->udp. */
static int
udp_read(struct nsrc *s, ls_error *err)
{
	struct client *c = &s->udp;
	struct sockaddr_storage sa;
	char cbuf[CMSG_SPACE(sizeof(uint32_t))];
	struct iovec iov = { c->buf, c->cap };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa),
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	    .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(s->lfd, &mh, MSG_TRUNC);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? LS_OK :
		    ls__failn(err, LS_ERR_IO, 0, s->name, "recvmsg: %s",
		    strerror(errno));
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL;
	    cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SO_RXQ_OVFL) {
			uint32_t drops;
			memcpy(&drops, CMSG_DATA(cm), sizeof(drops));
			overruns(s, drops);
		}
	ls__net_addr_text((struct sockaddr *)&sa, mh.msg_namelen, c->addr,
	    sizeof(c->addr));
	c->lineno = 0;
	c->start = c->scan = 0;
	if ((size_t)n > c->cap) {
		inc(&s->st.truncated);
		c->end = 0;
		note(s, "datagram from %s of %zd bytes is longer than %zu: "
		    "left out", c->addr, n, c->cap);
		return LS_OK;
	}
	c->end = (size_t)n;
	s->taken = true;
	return LS_OK;
}

/* Parses line[0..len) of client c into m. */
static int
client_line(struct nsrc *s, struct client *c, const char *line, size_t len,
    ls_msg *m, ls_error *err)
{
	unsigned have;
	int rc;

	c->lineno++;
	/* a copy, formatted only when asked (a printf a line cost a fifth
	   of relay's time) */
	memcpy(s->where, c->addr, sizeof(s->where));
	s->where_line = c->lineno;
	rc = ls_line_parse(line, len, m, &have, err);
	if (rc != LS_OK) {
		if (s->o.bad != LS_BAD_RAW) {
			char why[LS_ERRMSG_MAX];
			snprintf(why, sizeof(why), "%s", err ? err->msg :
			    "bad meta block");
			s->failed = s->o.bad == LS_BAD_FAIL;
			return ls__fail(err, LS_ERR_INVAL, c->lineno,
			    "client %s line %llu: %s", c->addr,
			    (unsigned long long)c->lineno, why);
		}
		m->payload = (const unsigned char *)line;
		m->len = len;
		have = 0;
		s->raw++;
	}
	if ((rc = ls__line_meta(&s->seqs, m, have, c->lineno, err)) != LS_OK)
		return rc;
	if (!ls_msg_is_eos(m))
		return LS_OK;
	/* a client's End-of-Stream ends that client, not the input */
	if (!c->dgram && !c->eof) {
		c->eof = true;
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	}
	if (!c->dgram)
		c->start = c->scan = c->end;
	return LS_AGAIN;
}

/* Client c has nothing left unread: its buffer goes back to the heap
 * (read again into a new one), so that an idle client costs its struct,
 * not a buffer (its line handed out before is no longer borrowed). */
static void
client_shrink(struct client *c)
{
	if (c->buf == NULL || c->end != c->start)
		return;
	free(c->buf);
	c->buf = NULL;
	c->cap = c->start = c->end = c->scan = 0;
}

/*
 * The next line of client c into m: LS_OK; LS_AGAIN if it has none yet
 * (or sent End-of-Stream)
 * (*gone set if it is to be closed: gone, or a line too long, which is
 * then LS_ERR_INVAL; a partial line left is reported as LS_NOTICE).
 */
static int
client_next(struct nsrc *s, struct client *c, ls_msg *m, bool *gone,
    ls_error *err)
{
	unsigned char *nl = c->end > c->scan ? memchr(c->buf + c->scan, '\n',
	    c->end - c->scan) : NULL;
	const char *line = (const char *)c->buf + c->start;

	*gone = false;
	if (nl != NULL || (c->dgram && c->end > c->start)) {
		size_t stop = nl ? (size_t)(nl - c->buf) : c->end;
		c->start = c->scan = nl ? stop + 1 : stop;
		c->line_ms = c->last_ms;	/* the rest came last, at most */
		return client_line(s, c, line, stop - (size_t)(line -
		    (const char *)c->buf), m, err);
	}
	c->scan = c->end;
	if (c->dgram)
		return LS_AGAIN;
	if (c->end - c->start > s->max_line ||
	    (c->cap >= s->max_line + 1 && c->end == c->cap && c->start == 0)) {
		*gone = true;
		inc(&s->st.too_long);
		c->start = c->end;	/* not a partial line too */
		s->failed = s->o.bad == LS_BAD_FAIL;
		return ls__fail(err, LS_ERR_INVAL, c->lineno + 1, "client %s "
		    "line %llu: longer than %zu bytes (--max-line); client "
		    "closed", c->addr, (unsigned long long)c->lineno + 1,
		    s->max_line);
	}
	if (!c->eof) {
		client_shrink(c);
		return LS_AGAIN;
	}
	*gone = true;
	if (c->end == c->start)
		return LS_AGAIN;
	return ls__fail(err, LS_NOTICE, c->lineno + 1, "%s: client %s line "
	    "%llu: disconnected mid-line; its %zu bytes are left out", s->name,
	    c->addr, (unsigned long long)c->lineno + 1, c->end - c->start);
}

/* The next line of any client, each in turn: LS_AGAIN if none has one. */
static int
serve(struct nsrc *s, ls_msg *m, ls_error *err)
{
	bool gone;
	int rc;

	if (s->addr.kind == 'd') {
		while ((rc = client_next(s, &s->udp, m, &gone, err)) ==
		    LS_AGAIN && s->udp.end > s->udp.start)
			;	/* an End-of-Stream line passed over */
		return rc;
	}
	for (size_t k = 0; k < s->nc; k++) {
		size_t i = (s->rr + k) % s->nc;
		rc = client_next(s, s->c[i], m, &gone, err);
		if (gone) {
			if (rc == LS_NOTICE)
				inc(&s->st.partial);
			s->c[i]->start = s->c[i]->end;
			client_drop(s, i);
			if (rc == LS_AGAIN) {
				k--;	/* the last one took its place */
				continue;
			}
			return rc;
		}
		if (rc != LS_AGAIN) {
			/* up to BURST lines a turn: fair, and no look at every
			 * other client for each line */
			s->burst = i == s->rr ? s->burst + 1 : 1;
			s->rr = i;
			if (s->burst >= BURST) {
				s->rr = (i + 1) % s->nc;
				s->burst = 0;
			}
			return rc;
		}
	}
	return LS_AGAIN;
}

/* When client c is closed: idle_ms after its last bytes, or after the
 * first bytes of a line it has not finished (a slow-loris trickling a
 * line does not hold its place). *trickle says which. */
static uint64_t
due(const struct nsrc *s, const struct client *c, bool *trickle)
{
	*trickle = c->end > c->start && c->line_ms < c->last_ms;
	return (*trickle ? c->line_ms : c->last_ms) + s->idle_ms;
}

/* Closes the clients due (see due()); arms the timer for the next
 * deadline. Returns LS_NOTICE for one closed (err says which). */
static int
sweep(struct nsrc *s, ls_error *err)
{
	uint64_t now = ls_mono_ms(), next = UINT64_MAX, at;
	struct itimerspec its = { 0 };
	bool trickle;

	for (size_t i = 0; i < s->nc; i++) {
		struct client *c = s->c[i];
		if ((at = due(s, c, &trickle)) > now) {
			next = at < next ? at : next;
			continue;
		}
		inc(&s->st.idle_closed);
		if (trickle)
			ls__fail(err, LS_NOTICE, c->lineno + 1, "%s: client %s "
			    "line %llu: unfinished after %llu ms "
			    "(--idle-timeout): closed, the line left out",
			    s->name, c->addr, (unsigned long long)c->lineno + 1,
			    (unsigned long long)s->idle_ms);
		else
			ls__fail(err, LS_NOTICE, c->lineno, "%s: client %s: "
			    "silent for %llu ms (--idle-timeout): closed%s",
			    s->name, c->addr, (unsigned long long)s->idle_ms,
			    c->end > c->start ? " with an unfinished line left "
			    "out" : "");
		client_drop(s, i);
		return LS_NOTICE;
	}
	if (next == s->armed_ms)
		return LS_OK;
	s->armed_ms = next;
	if (next != UINT64_MAX) {
		uint64_t d = next - now;
		its.it_value.tv_sec = (time_t)(d / 1000);
		its.it_value.tv_nsec = (long)(d % 1000) * 1000000L + 1;
	}
	timerfd_settime(s->tfd, 0, &its, NULL);
	return LS_OK;
}

/* Takes the events ready (waiting up to ms). */
static int
take_events(struct nsrc *s, int ms, ls_error *err)
{
	struct epoll_event ev[EVENTS];
	int n = epoll_wait(s->epfd, ev, EVENTS, ms);
	bool listener = false;

	s->taken = false;
	if (n < 0)
		return errno == EINTR ? LS_OK : ls__failn(err, LS_ERR_IO, 0,
		    s->name, "epoll_wait: %s", strerror(errno));
	/* clients first: one that left makes room for a new one */
	for (int i = 0; i < n; i++) {
		if (ev[i].data.ptr == &s->lfd)
			listener = true;
		else if (ev[i].data.ptr == &s->tfd) {
			uint64_t x;
			if (read(s->tfd, &x, sizeof(x)) < 0)
				x = 0;	/* not yet due: nothing to do */
			s->armed_ms = 0;
		} else
			client_read(s, ev[i].data.ptr);
	}
	if (!listener)
		return LS_OK;
	return s->addr.kind == 'd' ? udp_read(s, err) : accept_one(s, err);
}

/* Reads what TLS sessions decrypted but were not asked for (their
 * sockets may not wake epoll for it). Returns true if any gave bytes. */
static bool
tls_pending(struct nsrc *s)
{
	bool any = false;

	for (size_t i = 0; s->tls != NULL && i < s->nc; i++) {
		struct client *c = s->c[i];
		if (c->tls != NULL && !c->eof && ls__tls_pending(c->tls) > 0) {
			size_t end = c->end;
			client_read(s, c);
			any |= c->end != end;
		}
	}
	return any;
}

/* udp: the datagrams the kernel dropped so far (the count a datagram
 * carries is as of its arrival: those dropped after the last one are
 * seen here, before a wait). */
static void
udp_drops(struct nsrc *s)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	if (getsockopt(s->lfd, SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof(uint32_t))
		overruns(s, mi[SK_MEMINFO_DROPS]);
}

/* Waits for clients' bytes: through the wait hook if the stage has one
 * (LS_AGAIN if it gave up), else in epoll_wait, a second at a time to
 * look at the stop flag. */
static int
wait_events(struct nsrc *s, ls_error *err)
{
	if (s->o.on_wait != NULL)
		s->o.on_wait(s->o.wait_ctx);
	if (stopped(s))
		return LS_OK;
	if (s->o.wait == NULL)
		return take_events(s, 1000, err);
	if (s->o.wait(s->o.wait_ctx, s->epfd) != 0)
		return LS_AGAIN;
	return take_events(s, 0, err);
}

static int
ns_next(void *ctx, ls_msg *m, ls_error *err)
{
	struct nsrc *s = ctx;
	int rc;

	for (;;) {
		if (s->failed)
			return LS_END;
		if (s->have_note) {
			s->have_note = false;
			if (err != NULL)
				*err = s->note;
			return LS_NOTICE;
		}
		if ((rc = serve(s, m, err)) != LS_AGAIN)
			return rc;
		if (stopped(s)) {
			/* what clients sent before the stop is taken, those
			 * waiting to be accepted too, for as long as more
			 * comes (DRAINS looks at most) */
			if (s->drains++ >= DRAINS)
				return LS_END;
			if ((rc = take_events(s, 0, err)) != LS_OK)
				return rc;
			if (!s->taken)
				return LS_END;
			continue;
		}
		if (tls_pending(s))
			continue;
		/* what came while we were busy, before anyone is judged
		 * idle: bytes in the kernel are not silence */
		if ((rc = take_events(s, 0, err)) != LS_OK)
			return rc;
		if (s->taken)
			continue;
		if (s->addr.kind == 'd')
			udp_drops(s);
		else if ((rc = sweep(s, err)) != LS_OK)
			return rc;
		if ((rc = wait_events(s, err)) != LS_OK)
			return rc;
	}
}

static uint64_t
ns_where(void *ctx)
{
	return ((struct nsrc *)ctx)->where_line;
}

static uint64_t
ns_raw(void *ctx)
{
	return ((struct nsrc *)ctx)->raw;
}

static void
ns_where_text(void *ctx, char *buf, size_t n)
{
	struct nsrc *s = ctx;

	if (s->where[0] == '\0')
		snprintf(buf, n, "%s", "");	/* no line yet */
	else
		snprintf(buf, n, "client %s line %llu", s->where,
		    (unsigned long long)s->where_line);
}

static void
ns_stats(void *ctx, ls_listen_stats *st)
{
	struct counters *c = &((struct nsrc *)ctx)->st;

	st->clients = atomic_load_explicit(&c->clients, memory_order_relaxed);
	st->accepted = atomic_load_explicit(&c->accepted,
	    memory_order_relaxed);
	st->refused = atomic_load_explicit(&c->refused, memory_order_relaxed);
	st->idle_closed = atomic_load_explicit(&c->idle_closed,
	    memory_order_relaxed);
	st->partial = atomic_load_explicit(&c->partial, memory_order_relaxed);
	st->too_long = atomic_load_explicit(&c->too_long,
	    memory_order_relaxed);
	st->truncated = atomic_load_explicit(&c->truncated,
	    memory_order_relaxed);
	st->overruns = atomic_load_explicit(&c->overruns,
	    memory_order_relaxed);
}

static void
ns_close(void *ctx)
{
	struct nsrc *s = ctx;

	while (s->nc > 0)
		client_drop(s, s->nc - 1);
	free(s->c);
	free(s->udp.buf);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->spare >= 0)
		close(s->spare);
	ls__tls_free(s->tls);
	if (s->own_path)
		unlink(s->addr.path);
	ls__streams_free(&s->seqs);
	free(s);
}

/* Clears the way for a unix socket at path: a stale socket is removed;
 * one a server answers on, or anything not a socket, is refused. */
static int
unix_clear(struct nsrc *s, ls_error *err)
{
	struct stat st;
	int fd;

	if (lstat(s->addr.path, &st) != 0)
		return errno == ENOENT ? LS_OK : ls__failn(err, LS_ERR_IO, 0,
		    s->name, "%s", strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "%s exists and "
		    "is not a socket: not replaced", s->addr.path);
	if ((fd = ls__net_socket(&s->addr, false)) < 0)
		return ls__failn(err, LS_ERR_IO, 0, s->name, "socket: %s",
		    strerror(errno));
	if (connect(fd, (struct sockaddr *)&s->addr.sa, s->addr.salen) == 0) {
		close(fd);
		return ls__failn(err, LS_ERR_INVAL, 0, s->name, "a server "
		    "listens on %s already", s->addr.path);
	}
	close(fd);
	if (unlink(s->addr.path) != 0)
		return ls__failn(err, LS_ERR_IO, 0, s->name, "unlink: %s",
		    strerror(errno));
	return LS_OK;
}

/* Binds the listening socket: a unix socket created with no access,
 * then given its mode. */
static int
ns_bind(struct nsrc *s, ls_error *err)
{
	int one = 1, rc;
	mode_t um;

	if (s->addr.kind == 'u') {
		if ((rc = unix_clear(s, err)) != LS_OK)
			return rc;
		um = umask(0777);
		rc = bind(s->lfd, (struct sockaddr *)&s->addr.sa,
		    s->addr.salen);
		umask(um);
		if (rc == 0) {
			s->own_path = true;
			if (chmod(s->addr.path, s->addr.mode) != 0)
				rc = -1;
		}
	} else {
		setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (s->addr.kind == 'd')
			setsockopt(s->lfd, SOL_SOCKET, SO_RXQ_OVFL, &one,
			    sizeof(one));
		rc = bind(s->lfd, (struct sockaddr *)&s->addr.sa,
		    s->addr.salen);
	}
	if (rc != 0 || (s->addr.kind != 'd' && listen(s->lfd, 128) != 0))
		return ls__failn(err, LS_ERR_IO, 0, s->name, "cannot listen: "
		    "%s", strerror(errno));
	return LS_OK;
}

/* The listening socket, the epoll descriptor and the idle timer. */
static int
ns_open(struct nsrc *s, ls_error *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	if ((s->lfd = ls__net_socket(&s->addr, true)) < 0 ||
	    (s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) < 0)
		return ls__failn(err, LS_ERR_IO, 0, s->name, "%s",
		    strerror(errno));
	if ((rc = ns_bind(s, err)) != LS_OK)
		return rc;
	ev.data.ptr = &s->lfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) != 0)
		return ls__failn(err, LS_ERR_IO, 0, s->name, "epoll: %s",
		    strerror(errno));
	ev.data.ptr = &s->tfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) != 0)
		return ls__failn(err, LS_ERR_IO, 0, s->name, "epoll: %s",
		    strerror(errno));
	if (s->addr.kind == 'd') {
		s->udp.dgram = true;
		s->udp.cap = DGRAM_MAX;
		if ((s->udp.buf = malloc(DGRAM_MAX)) == NULL)
			return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	} else if ((s->c = calloc(s->max_clients, sizeof(*s->c))) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	return LS_OK;
}

int
ls__net_source(const struct ls__uri *u, const ls_source_opts *o,
    const char *name, struct ls__src *b, ls_error *err)
{
	struct nsrc *s;
	int rc;

	if ((o->tls_cert != NULL || o->tls_key != NULL) && u->net != 't')
		return ls__failn(err, LS_ERR_INVAL, 0, name, "TLS (--tls-cert, "
		    "--tls-key) is for tcp:// only");
	if (o->from.from != LS_FROM_START)
		return ls__failn(err, LS_ERR_INVAL, 0, name, "positions other "
		    "than start are for .ss files");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	s->name = name;
	s->o = *o;
	s->lfd = s->epfd = s->tfd = -1;
	s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->seqs.last = SIZE_MAX;
	s->max_clients = o->max_clients ? o->max_clients : 1024;
	s->max_line = o->max_line ? o->max_line : 1024 * 1024;
	s->idle_ms = o->idle_ms ? o->idle_ms : 60000;
	s->armed_ms = UINT64_MAX;
	if ((rc = ls__net_parse(u, true, name, &s->addr, err)) != LS_OK ||
	    ((o->tls_cert != NULL || o->tls_key != NULL) &&
	    (rc = ls__tls_server(o->tls_cert, o->tls_key, name, &s->tls,
	    err)) != LS_OK) || (rc = ns_open(s, err)) != LS_OK) {
		ns_close(s);
		return rc;
	}
	*b = (struct ls__src){ .ctx = s, .lines = true, .next = ns_next,
	    .where = ns_where, .where_text = ns_where_text,
	    .raw = ns_raw, .listen_stats = ns_stats, .close = ns_close };
	return LS_OK;
}
