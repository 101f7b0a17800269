/*
 * The connecting sinks: tcp://HOST:PORT and unix:///PATH write the line
 * framing to a server, reconnecting with exponential backoff when it
 * goes away; udp://HOST:PORT sends a datagram a message.
 *
 * A stream sink keeps every byte it sent that the peer has not
 * acknowledged (SIOCOUTQ: what the kernel still holds), from the start
 * of its line: after a reconnect it sends them again, so that nothing
 * the peer did not receive is lost. A line the peer had received in part
 * comes again whole (the part is not a line). A peer that resets the
 * connection (ECONNRESET rather than EPIPE: it went away with bytes its
 * kernel had acknowledged but it had not read) gets again the last
 * RETAIN bytes it acknowledged too: lines may come twice, rather than
 * not at all. A Unix socket's SIOCOUTQ counts buffer space, not bytes,
 * and says only whether the peer has read everything: over unix:// all
 * that was sent since is sent again. Bytes not sent yet wait in a buffer
 * of at most PEND_MAX bytes (one line may be longer); beyond it, a write
 * waits for the peer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ls-internal.h"
#include "net-internal.h"

#define PEND_MAX (1024u * 1024u)	/* bytes not sent yet, at most */
#define DGRAM_MAX 65507			/* the payload of a UDP datagram */
#define BACKOFF_MIN 100
#define BACKOFF_MAX 5000
#define ACK_WAIT_MS 10000	/* close: the longest wait for the peer */
#define RETAIN (1024u * 1024u)	/* acknowledged bytes kept for a reset */

struct nsink {
	const char *name;
	struct ls__net addr;
	ls_sink_opts o;
	int fd;			/* -1: not connected */
	ls_out out;
	/* buf[base, ack): acknowledged, kept in case the peer resets
	 * (RETAIN bytes at most, whole lines); buf[ack, sent): sent, not
	 * known to be acknowledged, from the
	 * start of a line; buf[sent, len): not sent yet */
	unsigned char *buf;
	size_t cap, base, ack, sent, len;
	unsigned attempt;	/* connections failed in a row */
	uint64_t next_try;	/* ls_mono_ms of the next attempt */
	bool big;		/* udp: the message does not fit */
	char why[LS_ERRMSG_MAX];	/* the last failure */
};

static bool
stopped(const struct nsink *k)
{
	return k->o.stop != NULL && *k->o.stop;
}

static void
nap(unsigned ms)
{
	(void)poll(NULL, 0, (int)ms);
}

/* One attempt to connect. */
static bool
try_connect(struct nsink *k)
{
	struct timeval tv = { 1, 0 };	/* a blocked send looks at stop */
	int fd = ls__net_socket(&k->addr, false);

	if (fd >= 0 && k->addr.kind != 'd')
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&k->addr.sa,
	    k->addr.salen) == 0) {
		k->fd = fd;
		k->attempt = 0;
		return true;
	}
	snprintf(k->why, sizeof(k->why), "cannot connect: %s",
	    strerror(errno));
	if (fd >= 0)
		close(fd);
	k->next_try = ls_mono_ms() + ls_backoff_ms(k->attempt++, BACKOFF_MIN,
	    BACKOFF_MAX);
	return false;
}

/* Connects, trying again after each pause, until it is done or a stop
 * (after which one more attempt is made). */
static bool
reconnect(struct nsink *k)
{
	bool last = false;

	while (k->fd < 0) {
		uint64_t now = ls_mono_ms();
		if (now < k->next_try && !last) {
			last = stopped(k);
			nap(k->next_try - now < 100 ? (unsigned)(k->next_try -
			    now) : 100);
			continue;
		}
		if (try_connect(k))
			return true;
		if (last || stopped(k))
			return false;
	}
	return true;
}

/* Moves ack past what the peer acknowledged, to the start of the line
 * it is in, and forgets what is more than RETAIN bytes behind it. */
static void
trim(struct nsink *k)
{
	int q = 0;
	size_t acked;
	unsigned char *nl;

	if (k->fd < 0 || ioctl(k->fd, SIOCOUTQ, &q) != 0 || q < 0)
		return;
	acked = (size_t)q >= k->sent - k->ack ? 0 : k->sent - k->ack -
	    (size_t)q;
	if (acked > 0 && (nl = memrchr(k->buf + k->ack, '\n', acked)) != NULL)
		k->ack = (size_t)(nl - k->buf) + 1;
	if (k->ack - k->base > RETAIN &&
	    (nl = memchr(k->buf + k->ack - RETAIN, '\n', RETAIN)) != NULL)
		k->base = (size_t)(nl - k->buf) + 1;
}

/* The connection failed: what the peer did not acknowledge goes again
 * on the next one; after a reset (the peer went away with bytes it had
 * not read), what it acknowledged lately too. */
static void
lost(struct nsink *k, int e)
{
	trim(k);
	close(k->fd);
	k->fd = -1;
	k->sent = e == ECONNRESET ? k->base : k->ack;
	k->ack = k->sent;
	k->base = k->sent;
	snprintf(k->why, sizeof(k->why), "connection lost: %s", strerror(e));
	k->next_try = ls_mono_ms() + ls_backoff_ms(k->attempt++, BACKOFF_MIN,
	    BACKOFF_MAX);
}

static size_t
lines_in(const unsigned char *p, size_t n)
{
	size_t c = 0;
	const unsigned char *q;

	while (n > 0 && (q = memchr(p, '\n', n)) != NULL) {
		c++;
		n -= (size_t)(q - p) + 1;
		p = q + 1;
	}
	return c;
}

static int
undelivered(struct nsink *k, ls_error *err)
{
	size_t n = lines_in(k->buf + k->ack, k->len - k->ack);

	return ls__failn(err, LS_ERR_IO, 0, k->name, "%s; %zu message%s not "
	    "delivered", k->why, n, n == 1 ? "" : "s");
}

/* Sends what is not sent yet; all of it (reconnecting as needed) if
 * block, else what the socket takes at once. */
static int
pump(struct nsink *k, bool block, ls_error *err)
{
	while (k->sent < k->len) {
		if (k->fd < 0 && !block && (ls_mono_ms() < k->next_try ||
		    !try_connect(k)))
			return LS_OK;	/* kept for a later try */
		if (k->fd < 0 && !reconnect(k))
			return undelivered(k, err);
		ssize_t n = send(k->fd, k->buf + k->sent, k->len - k->sent,
		    MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT));
		if (n > 0) {
			k->sent += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!block)
				return LS_OK;
			if (stopped(k) && errno == EAGAIN) {
				snprintf(k->why, sizeof(k->why), "stopped "
				    "while the peer took nothing");
				return undelivered(k, err);
			}
			continue;
		}
		lost(k, n < 0 ? errno : EPIPE);
	}
	trim(k);
	return LS_OK;
}

/* Makes room for n more bytes in buf. */
static int
room(struct nsink *k, size_t n, ls_error *err)
{
	if (k->base > 0 && k->base >= k->cap / 2) {
		memmove(k->buf, k->buf + k->base, k->len - k->base);
		k->ack -= k->base;
		k->sent -= k->base;
		k->len -= k->base;
		k->base = 0;
	}
	if (n > SIZE_MAX / 2 - k->len ||
	    ls__grow(&k->buf, &k->cap, k->len + n) != 0)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	return LS_OK;
}

/* The writer of k->out: takes p[0..n) and sends what it can. */
static ssize_t
take(void *ctx, const void *p, size_t n)
{
	struct nsink *k = ctx;
	ls_error e;

	if (room(k, n, &e) != LS_OK) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	if (pump(k, k->len - k->sent > PEND_MAX, &e) != LS_OK) {
		errno = EPIPE;
		return -1;
	}
	return (ssize_t)n;
}

static int
ns_write(void *ctx, const ls_msg *m, ls_error *err)
{
	struct nsink *k = ctx;
	int rc = ls_line_write(&k->out, m, err);

	if (rc == LS_ERR_IO)
		return k->why[0] ? undelivered(k, err) : rc;
	return rc;
}

static int
ns_flush(void *ctx, ls_error *err)
{
	struct nsink *k = ctx;
	int rc = ls_out_flush(&k->out, err);

	if (rc != LS_OK)
		return k->why[0] ? undelivered(k, err) : rc;
	return pump(k, true, err);
}

/* Has the peer all of it? Waits (bounded) for its acknowledgement,
 * sending again what a lost connection did not deliver. */
static int
settle(struct nsink *k, ls_error *err)
{
	uint64_t end = ls_mono_ms() + ACK_WAIT_MS;
	int rc, e;
	socklen_t len = sizeof(e);

	for (;;) {
		if ((rc = pump(k, true, err)) != LS_OK)
			return rc;
		/* a reset met since (even with everything acknowledged: the
		 * peer may have died without reading it) */
		if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 &&
		    e != 0) {
			lost(k, e);
			continue;
		}
		if (k->ack == k->len)
			return LS_OK;
		if (ls_mono_ms() >= end) {
			snprintf(k->why, sizeof(k->why), "the peer did not "
			    "acknowledge within %d s", ACK_WAIT_MS / 1000);
			return undelivered(k, err);
		}
		nap(10);
	}
}

static void
ns_free(struct nsink *k)
{
	if (k->fd >= 0)
		close(k->fd);
	ls_out_free(&k->out);
	free(k->buf);
	free(k);
}

static int
ns_close(void *ctx, const ls_msg *eos, bool abort, ls_error *err)
{
	struct nsink *k = ctx;
	int rc = LS_OK;

	if (eos != NULL && !k->o.no_eos)
		rc = ls_line_write(&k->out, eos, err);
	if (rc == LS_OK)
		rc = ls_out_flush(&k->out, err);
	if (rc != LS_OK && k->why[0])
		rc = undelivered(k, err);
	if (rc == LS_OK && !abort)
		rc = settle(k, err);
	ns_free(k);
	return rc;
}

/* --- udp ------------------------------------------------------------ */

static ssize_t
too_big(void *ctx, const void *p, size_t n)
{
	(void)p;
	(void)n;
	((struct nsink *)ctx)->big = true;
	return (ssize_t)n;
}

/* Sends the datagram in k->out. A refusal (ICMP: nobody listens) that
 * send reports is of an earlier datagram, and this one was not sent for
 * it: it is sent once more. */
static ssize_t
udp_send(struct nsink *k)
{
	ssize_t n = send(k->fd, k->out.buf, k->out.len, MSG_NOSIGNAL);

	if (n < 0 && errno == ECONNREFUSED)
		n = send(k->fd, k->out.buf, k->out.len, MSG_NOSIGNAL);
	return n < 0 && errno == ECONNREFUSED ? 0 : n;
}

static int
udp_write(void *ctx, const ls_msg *m, ls_error *err)
{
	struct nsink *k = ctx;
	int rc;

	k->big = false;
	k->out.len = 0;
	if ((rc = ls_line_write(&k->out, m, err)) != LS_OK)
		return rc;
	if (k->big || k->out.len > DGRAM_MAX) {
		k->out.len = 0;
		return ls__fail(err, LS_ERR_NOTLINE, 0, "longer than a "
		    "datagram holds (%u bytes)", DGRAM_MAX);
	}
	if (udp_send(k) < 0)
		return ls__failn(err, LS_ERR_IO, 0, k->name, "send: %s",
		    strerror(errno));
	k->out.len = 0;
	return LS_OK;
}

static int
udp_flush(void *ctx, ls_error *err)
{
	(void)ctx;
	(void)err;
	return LS_OK;
}

static int
udp_close(void *ctx, const ls_msg *eos, bool abort, ls_error *err)
{
	struct nsink *k = ctx;
	int rc = LS_OK;

	if (eos != NULL && !k->o.no_eos && !abort)
		rc = udp_write(k, eos, err);
	ns_free(k);
	return rc;
}

int
ls__net_sink(const struct ls__uri *u, const ls_sink_opts *o,
    const char *name, struct ls__snk *b, ls_error *err)
{
	struct nsink *k;
	int rc;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	k->name = name;
	k->o = *o;
	k->fd = -1;
	if ((rc = ls__net_parse(u, false, name, &k->addr, err)) != LS_OK ||
	    (rc = ls_out_init_fn(&k->out, u->net == 'd' ? too_big : take, k,
	    DGRAM_MAX + 1, err)) != LS_OK) {
		ns_free(k);
		return rc;
	}
	if (!try_connect(k)) {
		rc = ls__failn(err, LS_ERR_IO, 0, name, "%s", k->why);
		ns_free(k);
		return rc;
	}
	k->why[0] = '\0';
	if (u->net == 'd')
		*b = (struct ls__snk){ .ctx = k, .fd = -1, .write = udp_write,
		    .flush = udp_flush, .close = udp_close };
	else
		*b = (struct ls__snk){ .ctx = k, .fd = -1, .write = ns_write,
		    .flush = ns_flush, .close = ns_close };
	return LS_OK;
}
