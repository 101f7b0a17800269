/*
 * The event core: descriptors, timers and child processes behind one
 * poll(2), whose timeout comes from the nearest timer (as redis's
 * aeProcessEvents takes it). A child is watched through a pidfd, so no
 * signal handler is needed; the loop reaps it and hands its wait status
 * to the caller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ls-internal.h"

struct watch {
	int fd;			/* -1: a free slot */
	unsigned ev;
	ls_fd_fn fn;
	void *ctx;
	/* a child: its pid (the fd is its pidfd) */
	pid_t pid;
	ls_child_fn cfn;
};

struct timer {
	uint64_t at, id;
	ls_timer_fn fn;
	void *ctx;
};

struct ls_loop {
	struct watch *w;
	size_t nw, capw;
	struct pollfd *pfd;
	size_t cappfd;
	struct timer *t;	/* a binary heap on (at, id) */
	size_t nt, capt;
	uint64_t next_id;
};

LS_API uint64_t
ls_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

LS_API ls_loop *
ls_loop_new(ls_error *err)
{
	ls_loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	else
		l->next_id = 1;
	return l;
}

LS_API void
ls_loop_free(ls_loop *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nw; i++)
		if (l->w[i].fd >= 0 && l->w[i].cfn != NULL)
			close(l->w[i].fd);	/* a pidfd of ours */
	free(l->w);
	free(l->pfd);
	free(l->t);
	free(l);
}

/* Grows array *v of *cap elements of size sz to hold need. */
static int
reserve(void **v, size_t *cap, size_t need, size_t sz)
{
	size_t n = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -1;
		n *= 2;
	}
	if ((p = reallocarray(*v, n, sz)) == NULL)
		return -1;
	*v = p;
	*cap = n;
	return 0;
}

static struct watch *
watch_find(ls_loop *l, int fd)
{
	for (size_t i = 0; i < l->nw; i++)
		if (l->w[i].fd == fd)
			return &l->w[i];
	return NULL;
}

static struct watch *
watch_add(ls_loop *l, int fd, ls_error *err)
{
	struct watch *w = watch_find(l, fd);

	if (w == NULL && (w = watch_find(l, -1)) == NULL) {
		if (reserve((void **)&l->w, &l->capw, l->nw + 1,
		    sizeof(*l->w)) != 0) {
			ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
			return NULL;
		}
		w = &l->w[l->nw++];
	}
	*w = (struct watch){ .fd = fd };
	return w;
}

LS_API int
ls_loop_fd(ls_loop *l, int fd, unsigned ev, ls_fd_fn fn, void *ctx,
    ls_error *err)
{
	struct watch *w;

	if (fd < 0)
		return ls__fail(err, LS_ERR_INVAL, 0, "no descriptor to watch");
	if (ev == 0) {
		if ((w = watch_find(l, fd)) != NULL && w->cfn == NULL)
			w->fd = -1;
		return LS_OK;
	}
	if ((w = watch_add(l, fd, err)) == NULL)
		return LS_ERR_NOMEM;
	w->ev = ev;
	w->fn = fn;
	w->ctx = ctx;
	return LS_OK;
}

LS_API int
ls_loop_child(ls_loop *l, pid_t pid, ls_child_fn fn, void *ctx,
    ls_error *err)
{
	struct watch *w;
	int fd = pidfd_open(pid, 0);

	if (fd < 0)
		return ls__fail(err, LS_ERR_IO, 0, "pidfd_open %ld: %s",
		    (long)pid, strerror(errno));
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((w = watch_add(l, fd, err)) == NULL) {
		close(fd);
		return LS_ERR_NOMEM;
	}
	w->ev = LS_EV_READ;
	w->pid = pid;
	w->cfn = fn;
	w->ctx = ctx;
	return LS_OK;
}

/* --- timers: a binary heap ------------------------------------------- */

static bool
before(const struct timer *a, const struct timer *b)
{
	return a->at < b->at || (a->at == b->at && a->id < b->id);
}

static void
heap_swap(ls_loop *l, size_t i, size_t j)
{
	struct timer t = l->t[i];

	l->t[i] = l->t[j];
	l->t[j] = t;
}

static void
heap_up(ls_loop *l, size_t i)
{
	while (i > 0 && before(&l->t[i], &l->t[(i - 1) / 2])) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(ls_loop *l, size_t i)
{
	for (;;) {
		size_t m = i, c = 2 * i + 1;
		if (c < l->nt && before(&l->t[c], &l->t[m]))
			m = c;
		if (c + 1 < l->nt && before(&l->t[c + 1], &l->t[m]))
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

static void
heap_remove(ls_loop *l, size_t i)
{
	l->t[i] = l->t[--l->nt];
	if (i < l->nt) {
		heap_up(l, i);
		heap_down(l, i);
	}
}

LS_API uint64_t
ls_loop_timer(ls_loop *l, uint64_t at_ms, ls_timer_fn fn, void *ctx,
    ls_error *err)
{
	if (reserve((void **)&l->t, &l->capt, l->nt + 1, sizeof(*l->t)) !=
	    0) {
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return 0;
	}
	l->t[l->nt] = (struct timer){ at_ms, l->next_id++, fn, ctx };
	heap_up(l, l->nt++);
	return l->next_id - 1;
}

LS_API void
ls_loop_cancel(ls_loop *l, uint64_t id)
{
	for (size_t i = 0; i < l->nt; i++)
		if (l->t[i].id == id) {
			heap_remove(l, i);
			return;
		}
}

LS_API uint64_t
ls_loop_next(const ls_loop *l)
{
	return l->nt > 0 ? l->t[0].at : UINT64_MAX;
}

LS_API bool
ls_loop_idle(const ls_loop *l)
{
	if (l->nt > 0)
		return false;
	for (size_t i = 0; i < l->nw; i++)
		if (l->w[i].fd >= 0)
			return false;
	return true;
}

/* Runs the timers that are due. Returns how many. */
static int
run_timers(ls_loop *l)
{
	uint64_t now = ls_mono_ms();
	int n = 0;

	while (l->nt > 0 && l->t[0].at <= now) {
		struct timer t = l->t[0];
		heap_remove(l, 0);
		t.fn(l, t.ctx);
		n++;
	}
	return n;
}

/* The poll timeout: the nearest timer's, capped by max_ms (-1: none). */
static int
timeout_ms(const ls_loop *l, int64_t max_ms)
{
	int64_t ms = max_ms;

	if (l->nt > 0) {
		uint64_t now = ls_mono_ms(), at = l->t[0].at;
		int64_t d = at > now ? (int64_t)(at - now) : 0;
		if (ms < 0 || d < ms)
			ms = d;
	}
	return ms < 0 ? -1 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* A child's pidfd is readable: it has ended. Reaps it. */
static void
child_ended(ls_loop *l, struct watch *w)
{
	ls_child_fn fn = w->cfn;
	void *ctx = w->ctx;
	pid_t pid = w->pid;
	int st = 0;

	pid_t r = waitpid(pid, &st, WNOHANG);

	if (r == 0)
		return;		/* not yet, after all */
	if (r < 0)	/* reaped by the system (SIGCHLD ignored): unknown */
		st = 0x7f << 8 | 0x7f;
	close(w->fd);
	w->fd = -1;
	w->cfn = NULL;
	fn(l, pid, st, ctx);
}

/* Dispatches what poll found in pfd[0..n), watch i for entry i. */
static int
dispatch(ls_loop *l, size_t n)
{
	int handled = 0;

	for (size_t i = 0; i < n; i++) {
		struct pollfd *p = &l->pfd[i];
		struct watch *w = &l->w[i];
		unsigned ev = 0;
		if (p->revents == 0 || w->fd != p->fd)
			continue;	/* quiet, or changed meanwhile */
		if (p->revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			ev |= LS_EV_READ;
		if (p->revents & (POLLOUT | POLLERR | POLLNVAL))
			ev |= LS_EV_WRITE;
		ev &= w->ev;
		if (ev == 0)
			continue;
		handled++;
		if (w->cfn != NULL)
			child_ended(l, w);
		else
			w->fn(l, w->fd, ev, w->ctx);
	}
	return handled;
}

LS_API int
ls_loop_once(ls_loop *l, int64_t max_ms, ls_error *err)
{
	size_t n = l->nw;
	int r, handled;

	if (reserve((void **)&l->pfd, &l->cappfd, n, sizeof(*l->pfd)) != 0)
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct watch *w = &l->w[i];
		l->pfd[i].fd = w->fd;	/* -1 is ignored by poll */
		l->pfd[i].events = (short)((w->ev & LS_EV_READ ? POLLIN : 0) |
		    (w->ev & LS_EV_WRITE ? POLLOUT : 0));
		l->pfd[i].revents = 0;
	}
	r = poll(l->pfd, n, timeout_ms(l, max_ms));
	if (r < 0 && errno != EINTR)
		return ls__fail(err, LS_ERR_IO, 0, "poll: %s", strerror(errno));
	handled = r > 0 ? dispatch(l, n) : 0;	/* r < 0: a signal */
	handled += run_timers(l);
	/* forget the slots freed at the end of the table */
	while (l->nw > 0 && l->w[l->nw - 1].fd < 0)
		l->nw--;
	return handled;
}
