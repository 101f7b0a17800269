/*
 * Helpers shared by the commands: signal handling, numbers from the
 * command line, and the --stats counters printed by a thread of their
 * own (on an interval and on SIGUSR1).
 */
#ifndef CMD_H
#define CMD_H

#include <err.h>
#include <limits.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libstream.h"

/*
 * warn(3), warnx, err and errx, each message written with one write(2):
 * the C library's write the program name, the message and the newline
 * separately, and the --stats thread's line could land in between.
 */
static inline void
cmd_vwarn(int e, const char *fmt, va_list ap)
{
	char buf[2048];
	size_t n;
	int k;

	k = snprintf(buf, sizeof(buf), "%s: ", getprogname());
	n = k > 0 ? (size_t)k : 0;
	if (fmt != NULL && n < sizeof(buf)) {
		k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		n += k > 0 ? (size_t)k : 0;
	}
	if (e >= 0 && n < sizeof(buf)) {
		k = snprintf(buf + n, sizeof(buf) - n, "%s%s",
		    fmt != NULL ? ": " : "", strerror(e));
		n += k > 0 ? (size_t)k : 0;
	}
	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;	/* cut short, with its newline */
	buf[n++] = '\n';
	(void)ls_write_all(STDERR_FILENO, buf, n);
}

static inline void __attribute__((format(printf, 1, 2)))
cmd_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(-1, fmt, ap);
	va_end(ap);
}

static inline void __attribute__((format(printf, 1, 2)))
cmd_warn(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(e, fmt, ap);
	va_end(ap);
}

static inline _Noreturn void __attribute__((format(printf, 2, 3)))
cmd_errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(-1, fmt, ap);
	va_end(ap);
	exit(status);
}

static inline _Noreturn void __attribute__((format(printf, 2, 3)))
cmd_err(int status, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(e, fmt, ap);
	va_end(ap);
	exit(status);
}

static inline _Noreturn void __attribute__((format(printf, 3, 4)))
cmd_errc(int status, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vwarn(code, fmt, ap);
	va_end(ap);
	exit(status);
}

#define warnx cmd_warnx
#define warn cmd_warn
#define errx cmd_errx
#define err cmd_err
#define errc cmd_errc

/* Set by the first SIGINT or SIGTERM; a second one exits at once. */
static volatile int cmd_stop;

static inline void
cmd_on_stop(int sig)
{
	(void)sig;
	if (cmd_stop)
		_exit(1);
	cmd_stop = 1;
}

/* Installs the stop handler without SA_RESTART, so a blocked read is
 * interrupted and sees the flag, and ignores SIGPIPE. */
static inline void
cmd_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Ends the process as SIGPIPE would have: quietly. */
static inline void
cmd_die_of_sigpipe(void)
{
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	_exit(1);
}

static inline long long
cmd_number(const char *s, long long min, long long max, const char *what)
{
	const char *errstr;
	long long v = strtonum(s, min, max, &errstr);

	if (errstr != NULL)
		errx(2, "%s '%s' is %s (%lld to %lld)", what, s, errstr, min,
		    max);
	return v;
}

static inline uint64_t
cmd_duration(const char *s, const char *what)
{
	ls_error e;
	uint64_t us;

	if (ls_duration_parse(s, &us, &e) != LS_OK)
		errx(2, "%s: %s", what, e.msg);
	return us;
}

/* The output options every stage with an --output shares: --append
 * ('A'), --beacon-interval ('B') and --force ('F'). Returns true if ch
 * was one of them. */
static inline bool
cmd_sink_option(int ch, const char *arg, ls_sink_opts *ko)
{
	switch (ch) {
	case 'A':
		ko->append = true;
		return true;
	case 'B':
		ko->interval = (uint32_t)cmd_number(arg, LS_SS_MIN_INTERVAL,
		    UINT32_MAX, "beacon interval");
		return true;
	case 'F':
		ko->force = true;
		return true;
	}
	return false;
}

/* Counters a stage reports; written by the main thread only. */
struct cmd_stats {
	const char *program;
	_Atomic uint64_t in, out, filtered, skipped, raw, corrupt, bytes;
	_Atomic uint64_t retried, dead;	/* batch: runs retried, messages
					   dead-lettered */
	uint64_t start_ms;
	uint64_t interval_us;	/* 0: only on SIGUSR1 and at exit */
};

static struct cmd_stats cmd_stats;

static inline void
cmd_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

/*
 * Counts the outcome rc of writing m, read from src, to the output named
 * to (or NULL): written, dropped by the output's key filter, or
 * (LS_ERR_NOTLINE) not written, with a warning naming the input, where
 * the message is in it, and e's reason. Returns true for these, false for
 * any other error, which the caller handles.
 */
static inline bool
cmd_written(int rc, const ls_msg *m, const ls_source *src, const char *to,
    const ls_error *e)
{
	char where[LS_WHERE_MAX];

	if (rc == LS_OK) {
		cmd_count(&cmd_stats.out, 1);
		cmd_count(&cmd_stats.bytes, m->len);
	} else if (rc == LS_END)
		cmd_count(&cmd_stats.filtered, 1);
	else if (rc == LS_ERR_NOTLINE) {
		warnx("%s: %s: stream %s seq %llu: %s; not written%s%s",
		    ls_source_name(src), ls_source_where_text(src, where,
		    sizeof(where)), m->key, (unsigned long long)m->seq, e->msg,
		    to ? " to " : "", to ? to : "");
		cmd_count(&cmd_stats.skipped, 1);
	} else
		return false;
	return true;
}

static inline void
cmd_stats_print(void)
{
	struct cmd_stats *s = &cmd_stats;
	uint64_t el = ls_now_ms() - s->start_ms;
	uint64_t out = atomic_load_explicit(&s->out, memory_order_relaxed);
	char line[512];
	int n;

	n = snprintf(line, sizeof(line), "{\"program\":\"%s\",\"elapsed_ms\":"
	    "%llu,\"in\":%llu,\"out\":%llu,\"filtered\":%llu,\"skipped\":%llu,"
	    "\"raw\":%llu,\"corrupt\":%llu,\"bytes\":%llu,\"retried\":%llu,"
	    "\"dead\":%llu,\"rate\":%.1f}\n",
	    s->program, (unsigned long long)el,
	    (unsigned long long)atomic_load(&s->in), (unsigned long long)out,
	    (unsigned long long)atomic_load(&s->filtered),
	    (unsigned long long)atomic_load(&s->skipped),
	    (unsigned long long)atomic_load(&s->raw),
	    (unsigned long long)atomic_load(&s->corrupt),
	    (unsigned long long)atomic_load(&s->bytes),
	    (unsigned long long)atomic_load(&s->retried),
	    (unsigned long long)atomic_load(&s->dead),
	    el ? (double)out * 1000.0 / (double)el : 0.0);
	if (n > 0)
		(void)ls_write_all(STDERR_FILENO, line, (size_t)n);
}

static inline void *
cmd_stats_thread(void *arg)
{
	sigset_t set;
	struct timespec ts;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (cmd_stats.interval_us > 0) {
			ts.tv_sec = (time_t)(cmd_stats.interval_us / 1000000);
			ts.tv_nsec = (long)(cmd_stats.interval_us % 1000000) *
			    1000;
			sig = sigtimedwait(&set, NULL, &ts);
		} else
			sig = sigwaitinfo(&set, NULL);
		if (sig == SIGUSR1 || (sig < 0 && errno == EAGAIN))
			cmd_stats_print();
	}
	return NULL;
}

/* Starts the counters and a thread that prints them on SIGUSR1 and,
 * if interval_us is not 0, at that interval. Call before other threads. */
static inline void
cmd_stats_start(const char *program, uint64_t interval_us)
{
	sigset_t set;
	pthread_t t;

	cmd_stats.program = program;
	cmd_stats.start_ms = ls_now_ms();
	cmd_stats.interval_us = interval_us;
	/* the thread starts with SIGINT and SIGTERM blocked, so that they
	 * interrupt the main thread's reads; every thread blocks SIGUSR1 */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, cmd_stats_thread, NULL) != 0)
		err(1, "pthread_create");
	pthread_detach(t);
	sigdelset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

#endif
