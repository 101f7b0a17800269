/*
 * The outputs of a dispatching stage: sinks (files, FIFOs, stdout) or
 * worker processes started through /bin/sh -c, whose standard outputs
 * are merged into ours a whole line at a time.
 *
 * Each worker has two pipes that outlive it: its input and its output.
 * We keep both ends of both, so that a restarted worker goes on reading
 * where the dead one stopped, and nothing queued in the pipe is lost. A
 * thread (the merger) runs an event loop (event.c) that copies the
 * workers' output to the descriptor the caller gave, reaps and restarts
 * them; the caller's thread only writes their input.
 */
#define _GNU_SOURCE	/* pipe2, F_SETPIPE_SZ, memrchr, asprintf */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ls-internal.h"

extern char **environ;

#define MERGE_BUF (64u * 1024u)
#define DEMAND_PIPE 4096	/* the pipe of a demand worker: one page */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct output {
	ls_outs *os;
	size_t idx;
	char *name;
	ls_sink *sink;		/* a sink; or, for a worker: */
	pid_t pid;		/* 0 while it is not running */
	int in_r, in_w;		/* its input */
	int out_r, out_w;	/* its output */
	ls_out out;
	bool out_ready;
	unsigned restarts;
	uint64_t restart_at;	/* ls_mono_ms; 0: none due */
	_Atomic int failed;	/* it died and will not be restarted */
	bool ended;		/* we closed its input (lock held) */
	int status;		/* its wait status, once reaped */
	unsigned char *mbuf;	/* its output not yet a whole line */
	size_t mlen, mcap;
	bool eof;
};

struct ls_outs {
	struct output *v;
	size_t n;
	ls_outs_opts o;
	char *exec;
	bool workers;
	size_t next;		/* demand: where the search starts */
	struct pollfd *pfd;	/* demand: one per output */
	pthread_t merger;
	bool merging;
	pthread_mutex_t lock;
	bool closing;		/* the workers' inputs are closed */
	ls_loop *loop;		/* the merger's */
	int merge_fd;		/* where the workers' output goes */
	int merge_errno;	/* writing it failed */
};

static int
pipe_pair(int fd[2])
{
	return pipe2(fd, O_CLOEXEC);
}

/* Starts worker i on its pipes. Called with the lock held (or before
 * the merger runs). Returns 0 or an errno value. */
static int
spawn(ls_outs *os, size_t i)
{
	struct output *w = &os->v[i];
	char var[32], *vars[] = { var, NULL };
	int rc;

	snprintf(var, sizeof(var), "STREAM_WORKER=%zu", i);
	if ((rc = ls_spawn_sh(os->exec, w->in_r, w->out_w, vars, &w->pid)) !=
	    0)
		w->pid = 0;
	return rc;
}

/* Writes the whole lines of w's output to our stdout; with last, the
 * rest too, ended by a newline. */
static void
merge_lines(ls_outs *os, struct output *w, bool last)
{
	size_t n = w->mlen;
	unsigned char *nl;

	if (!last) {
		nl = w->mlen ? memrchr(w->mbuf, '\n', w->mlen) : NULL;
		if (nl == NULL)
			return;
		n = (size_t)(nl - w->mbuf) + 1;
	} else if (n > 0 && w->mbuf[n - 1] != '\n') {
		if (n == w->mcap && ls__grow(&w->mbuf, &w->mcap, n + 1) != 0)
			n--;	/* cannot happen short of memory: cut */
		w->mbuf[n++] = '\n';
		w->mlen = n;
	}
	if (n > 0 && os->merge_errno == 0 &&
	    ls_write_all(os->merge_fd, w->mbuf, n) < 0) {
		os->merge_errno = errno;
		if (os->o.stop != NULL)
			*os->o.stop = 1;
	}
	memmove(w->mbuf, w->mbuf + n, w->mlen - n);
	w->mlen -= n;
}

/* Reads what w's output pipe holds now (it is non-blocking). */
static void
drain(ls_outs *os, struct output *w)
{
	for (;;) {
		if (w->mcap - w->mlen < MERGE_BUF / 2 &&
		    ls__grow(&w->mbuf, &w->mcap, w->mlen + MERGE_BUF) != 0) {
			merge_lines(os, w, true);	/* a huge line: cut */
			continue;
		}
		ssize_t r = read(w->out_r, w->mbuf + w->mlen, w->mcap - w->mlen);
		if (r > 0) {
			w->mlen += (size_t)r;
			merge_lines(os, w, false);
			continue;
		}
		if (r == 0)
			w->eof = true;
		if (r < 0 && errno == EINTR)
			continue;
		return;
	}
}

static void worker_ended(ls_loop *, pid_t, int, void *);

/* Worker w can no longer take input: a writer blocked on its full pipe
 * gets EPIPE. Lock held. */
static void
give_up(struct output *w)
{
	atomic_store(&w->failed, 1);
	if (w->in_r >= 0) {
		close(w->in_r);
		w->in_r = -1;
	}
}

/* Starts worker w again, its pause over. */
static void
on_restart(ls_loop *l, void *ctx)
{
	struct output *w = ctx;
	ls_outs *os = w->os;

	pthread_mutex_lock(&os->lock);
	w->restart_at = 0;
	if (spawn(os, w->idx) != 0 || ls_loop_child(l, w->pid, worker_ended, w,
	    NULL) != LS_OK)
		give_up(w);
	pthread_mutex_unlock(&os->lock);
}

/* Worker w exited with status st (reaped): its last output goes out,
 * then it is restarted after a pause, or marked failed. */
static void
worker_ended(ls_loop *l, pid_t pid, int st, void *ctx)
{
	struct output *w = ctx;
	ls_outs *os = w->os;

	(void)pid;
	pthread_mutex_lock(&os->lock);
	w->pid = 0;
	w->status = st;
	/* whatever it wrote is in the pipe: a cut last line ends here */
	drain(os, w);
	merge_lines(os, w, true);
	bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!(w->ended && clean) && w->restarts < os->o.restarts) {
		uint64_t at = ls_mono_ms() + ls_backoff_ms(w->restarts,
		    BACKOFF_MIN_MS, BACKOFF_MAX_MS);
		w->restarts++;
		w->restart_at = at;
		if (ls_loop_timer(l, at, on_restart, w, NULL) == 0)
			give_up(w);
	} else if (!w->ended)
		give_up(w);	/* an ended one's status tells */
	pthread_mutex_unlock(&os->lock);
}

/* Worker w's output pipe is readable. */
static void
on_output(ls_loop *l, int fd, unsigned ev, void *ctx)
{
	struct output *w = ctx;

	(void)ev;
	drain(w->os, w);
	if (w->eof)
		ls_loop_fd(l, fd, 0, NULL, NULL, NULL);
}

static bool
all_done(ls_outs *os)
{
	for (size_t i = 0; i < os->n; i++)
		if (os->v[i].pid != 0 || os->v[i].restart_at != 0)
			return false;
	return true;
}

/* The merger's loop: each worker's output and exit, and the timers of
 * its restarts, until the workers' inputs are closed and all are gone. */
static void
merge_loop(ls_outs *os, ls_loop *l)
{
	bool done = false;

	pthread_mutex_lock(&os->lock);
	for (size_t i = 0; i < os->n; i++) {
		struct output *w = &os->v[i];
		if (ls_loop_fd(l, w->out_r, LS_EV_READ, on_output, w, NULL) !=
		    LS_OK || (w->pid != 0 && ls_loop_child(l, w->pid, worker_ended,
		    w, NULL) != LS_OK))
			give_up(w);
	}
	pthread_mutex_unlock(&os->lock);
	while (!done) {
		/* the closing flag is looked at every 100 ms */
		if (ls_loop_once(l, 100, NULL) < 0)
			break;
		pthread_mutex_lock(&os->lock);
		done = os->closing && all_done(os);
		pthread_mutex_unlock(&os->lock);
	}
}

static void *
merger(void *arg)
{
	ls_outs *os = arg;

	merge_loop(os, os->loop);
	/* every worker is gone: read their pipes to the end */
	for (size_t i = 0; i < os->n; i++) {
		struct output *w = &os->v[i];
		close(w->out_w);
		w->out_w = -1;
		int fl = fcntl(w->out_r, F_GETFL);
		fcntl(w->out_r, F_SETFL, fl & ~O_NONBLOCK);
		while (!w->eof)
			drain(os, w);
		merge_lines(os, w, true);
	}
	return NULL;
}

static ssize_t
worker_write(void *ctx, const void *buf, size_t n)
{
	struct output *w = ctx;

	if (atomic_load(&w->failed)) {
		errno = EPIPE;
		return -1;
	}
	return ls_write_all(w->in_w, buf, n);
}

static int
open_worker(ls_outs *os, size_t i, ls_error *err)
{
	struct output *w = &os->v[i];
	int in[2], out[2], rc;

	if (asprintf(&w->name, "worker %zu", i) < 0) {
		w->name = NULL;
		return ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
	}
	if (pipe_pair(in) != 0)
		return ls__fail(err, LS_ERR_IO, 0, "pipe: %s", strerror(errno));
	w->in_r = in[0];
	w->in_w = in[1];
	if (pipe_pair(out) != 0)
		return ls__fail(err, LS_ERR_IO, 0, "pipe: %s", strerror(errno));
	w->out_r = out[0];
	w->out_w = out[1];
	fcntl(w->out_r, F_SETFL, O_NONBLOCK);
	if (os->o.demand)
		(void)fcntl(w->in_w, F_SETPIPE_SZ, DEMAND_PIPE);
	if (ls_out_init_fn(&w->out, worker_write, w, os->o.demand ? 4096 :
	    LS_IOBUF / 4, err) != LS_OK)
		return LS_ERR_NOMEM;
	w->out_ready = true;
	if ((rc = spawn(os, i)) != 0)
		return ls__fail(err, LS_ERR_IO, 0, "%s: /bin/sh: %s", w->name,
		    strerror(rc));
	return LS_OK;
}

static void
outs_free(ls_outs *os)
{
	for (size_t i = 0; i < os->n; i++) {
		struct output *w = &os->v[i];
		int fds[] = { w->in_r, w->in_w, w->out_r, w->out_w };
		for (size_t k = 0; k < 4; k++)
			if (fds[k] >= 0)
				close(fds[k]);
		if (w->out_ready)
			ls_out_free(&w->out);
		free(w->mbuf);
		free(w->name);
	}
	ls_loop_free(os->loop);
	free(os->v);
	free(os->pfd);
	free(os->exec);
	free(os);
}

LS_API ls_outs *
ls_outs_open(const char *const *uris, size_t n, const ls_outs_opts *o,
    ls_error *err)
{
	static const ls_outs_opts none;
	ls_outs *os;

	if (n == 0) {
		ls__fail(err, LS_ERR_INVAL, 0, "no outputs");
		return NULL;
	}
	if ((os = calloc(1, sizeof(*os))) == NULL ||
	    (os->v = calloc(n, sizeof(*os->v))) == NULL) {
		free(os);
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	os->o = o ? *o : none;
	os->n = n;
	os->workers = os->o.exec != NULL;
	/* a zeroed struct names standard input, never an output */
	os->merge_fd = os->o.merge_fd > 0 ? os->o.merge_fd : STDOUT_FILENO;
	pthread_mutex_init(&os->lock, NULL);
	if (os->o.demand && (os->pfd = calloc(n, sizeof(*os->pfd))) == NULL) {
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct output *w = &os->v[i];
		w->os = os;
		w->idx = i;
		w->in_r = w->in_w = w->out_r = w->out_w = -1;
	}
	if (os->workers && (os->exec = strdup(os->o.exec)) == NULL) {
		ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct output *w = &os->v[i];
		if (os->workers) {
			if (open_worker(os, i, err) != LS_OK)
				goto fail;
			continue;
		}
		if ((w->sink = ls_sink_open(uris[i], &os->o.sink, err)) ==
		    NULL)
			goto fail;
		if ((w->name = strdup(ls_sink_name(w->sink))) == NULL) {
			ls__fail(err, LS_ERR_NOMEM, 0, "out of memory");
			goto fail;
		}
	}
	if (os->workers && (os->loop = ls_loop_new(err)) == NULL)
		goto fail;
	if (os->workers) {
		/* no signal for the merger, from its first instruction on */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		int rc = pthread_create(&os->merger, NULL, merger, os);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			ls__fail(err, LS_ERR_NOMEM, 0, "cannot start a thread");
			goto fail;
		}
		os->merging = true;
	}
	return os;
fail:
	/* stop what started: close inputs, reap */
	os->closing = true;
	for (size_t i = 0; i < n; i++) {
		struct output *w = &os->v[i];
		if (w->sink != NULL)
			ls_sink_abort(w->sink, NULL);
		/* nobody reads its output: let it fail to write */
		int fds[] = { w->in_w, w->out_r, w->out_w };
		for (size_t k = 0; k < 3; k++)
			if (fds[k] >= 0)
				close(fds[k]);
		w->in_w = w->out_r = w->out_w = -1;
		if (w->pid != 0)
			waitpid(w->pid, NULL, 0);
	}
	outs_free(os);
	return NULL;
}

LS_API size_t
ls_outs_count(const ls_outs *os)
{
	return os->n;
}

LS_API const char *
ls_outs_name(const ls_outs *os, size_t i)
{
	return os->v[i].name;
}

LS_API uint64_t
ls_outs_dropped(const ls_outs *os, size_t i, uint64_t *at)
{
	*at = 0;
	return os->v[i].sink != NULL ? ls_sink_dropped(os->v[i].sink, at) : 0;
}

/* Names what went wrong with output i after a failed write. */
static int
out_failed(ls_outs *os, size_t i, int rc, ls_error *err)
{
	struct output *w = &os->v[i];
	char why[LS_ERRMSG_MAX];

	if (!os->workers || !atomic_load(&w->failed)) {
		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		if (os->workers)
			return ls__fail(err, rc, 0, "%s: %s", w->name, why);
		return rc;	/* the sink named itself */
	}
	pthread_mutex_lock(&os->lock);
	int st = w->status;
	pthread_mutex_unlock(&os->lock);
	ls_status_text(st, why, sizeof(why));
	return ls__fail(err, LS_ERR_IO, 0, "%s (%s) %s before its input "
	    "ended%s", w->name, os->exec, why, os->o.restarts ?
	    ", restarts used up" : "");
}

LS_API int
ls_outs_write(ls_outs *os, size_t i, const ls_msg *m, ls_error *err)
{
	struct output *w = &os->v[i];
	int rc;

	if (w->sink != NULL) {
		rc = ls_sink_write(w->sink, m, err);
		if (rc == LS_OK && os->o.demand)
			rc = ls_sink_flush(w->sink, err);
		return rc;
	}
	if (atomic_load(&w->failed))
		return out_failed(os, i, LS_ERR_IO, err);
	rc = ls_line_write(&w->out, m, err);
	if (rc == LS_OK && os->o.demand)
		rc = ls_out_flush(&w->out, err);
	if (rc != LS_OK && rc != LS_ERR_NOTLINE)
		return out_failed(os, i, rc, err);
	return rc;
}

/* Bytes queued for output i: in its pipe and in our buffer. */
static size_t
queued(ls_outs *os, size_t i)
{
	struct output *w = &os->v[i];
	int fd = w->sink != NULL ? ls_sink_fd(w->sink) : w->in_w;
	int q = 0;

	if (fd < 0 || ioctl(fd, FIONREAD, &q) != 0 || q < 0)
		q = 0;
	return (size_t)q + (w->out_ready ? w->out.len : 0);
}

LS_API int
ls_outs_pick(ls_outs *os, size_t *pick, ls_error *err)
{
	struct pollfd *p = os->pfd;
	size_t best = SIZE_MAX, best_q = SIZE_MAX;

	if (p == NULL)
		return ls__fail(err, LS_ERR_INVAL, 0, "not opened for demand");
	for (;;) {
		size_t live = 0;
		bool always = false;	/* a sink without a descriptor */
		for (size_t i = 0; i < os->n; i++) {
			struct output *w = &os->v[i];
			p[i].fd = w->sink != NULL ? ls_sink_fd(w->sink) :
			    atomic_load(&w->failed) ? -1 : w->in_w;
			p[i].events = POLLOUT;
			p[i].revents = 0;
			live += p[i].fd >= 0 || w->sink != NULL;
			always |= w->sink != NULL && p[i].fd < 0;
		}
		if (live == 0)
			return ls__fail(err, LS_ERR_IO, 0, "no output left");
		int r = poll(p, os->n, always ? 0 : -1);
		if (r < 0 && errno == EINTR && os->o.stop != NULL &&
		    *os->o.stop)
			return LS_END;
		if (r < 0)
			continue;
		/* the least busy of those that can take data now; ties in
		 * turn, from the one after the last pick */
		for (size_t k = 0; k < os->n; k++) {
			size_t i = (os->next + k) % os->n;
			if (!(p[i].revents & (POLLOUT | POLLERR)) &&
			    !(os->v[i].sink != NULL && p[i].fd < 0))
				continue;
			size_t q = queued(os, i);
			if (q < best_q) {
				best = i;
				best_q = q;
			}
		}
		if (best != SIZE_MAX)
			break;
	}
	*pick = best;
	os->next = (best + 1) % os->n;
	return LS_OK;
}

LS_API int
ls_outs_flush_one(ls_outs *os, size_t i, ls_error *err)
{
	struct output *w = &os->v[i];
	int rc;

	if (w->sink != NULL)
		return ls_sink_flush(w->sink, err);
	if ((rc = ls_out_flush(&w->out, err)) != LS_OK)
		rc = out_failed(os, i, rc, err);
	return rc;
}

LS_API int
ls_outs_flush(ls_outs *os, ls_error *err)
{
	int rc = LS_OK;

	for (size_t i = 0; i < os->n && rc == LS_OK; i++)
		rc = ls_outs_flush_one(os, i, err);
	return rc;
}

LS_API unsigned
ls_outs_restarts(ls_outs *os, size_t i)
{
	unsigned n;

	if (!os->workers)
		return 0;
	pthread_mutex_lock(&os->lock);
	n = os->v[i].restarts;
	pthread_mutex_unlock(&os->lock);
	return n;
}

LS_API bool
ls_outs_failed(const ls_outs *os, size_t i)
{
	return os->workers && atomic_load(&os->v[i].failed);
}

/* Ends every output; abort: sinks without End-of-Stream. */
static int
outs_end(ls_outs *os, const ls_msg *eos, bool abort, ls_error *err)
{
	int rc = LS_OK;
	ls_error e2;

	if (err == NULL)
		err = &e2;
	for (size_t i = 0; i < os->n; i++) {
		struct output *w = &os->v[i];
		int r;
		if (w->sink != NULL) {
			r = abort ? ls_sink_abort(w->sink, NULL) :
			    ls_sink_close(w->sink, eos, rc == LS_OK ? err :
			    NULL);
			w->sink = NULL;
		} else if ((r = ls_out_flush(&w->out, rc == LS_OK ? err :
		    NULL)) != LS_OK && rc == LS_OK)
			r = out_failed(os, i, r, err);
		if (rc == LS_OK)
			rc = r;
		if (os->workers) {
			pthread_mutex_lock(&os->lock);
			w->ended = true;
			close(w->in_w);
			w->in_w = -1;
			pthread_mutex_unlock(&os->lock);
		}
	}
	if (os->merging) {
		pthread_mutex_lock(&os->lock);
		os->closing = true;
		pthread_mutex_unlock(&os->lock);
		pthread_join(os->merger, NULL);
		for (size_t i = 0; i < os->n && rc == LS_OK; i++) {
			struct output *w = &os->v[i];
			char why[64];
			if (atomic_load(&w->failed))
				rc = out_failed(os, i, LS_ERR_IO, err);
			else if (w->status != 0) {
				ls_status_text(w->status, why, sizeof(why));
				rc = ls__fail(err, LS_ERR_IO, 0, "%s (%s) %s",
				    w->name, os->exec, why);
			}
		}
		if (rc == LS_OK && os->merge_errno != 0) {
			errno = os->merge_errno;
			rc = ls__fail(err, LS_ERR_IO, 0, "%s: %s",
			    os->merge_fd == STDOUT_FILENO ? "stdout" :
			    "the workers' output", strerror(os->merge_errno));
		}
	}
	pthread_mutex_destroy(&os->lock);
	outs_free(os);
	return rc;
}

LS_API int
ls_outs_close(ls_outs *os, const ls_msg *eos, ls_error *err)
{
	return outs_end(os, eos, false, err);
}

LS_API int
ls_outs_abort(ls_outs *os, ls_error *err)
{
	return outs_end(os, NULL, true, err);
}
