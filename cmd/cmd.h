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
#include <fcntl.h>
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
/* Writes the diagnostic p[0..n) and a newline with one write(2), each
 * control byte of it (bad input echoed: an escape sequence, a newline)
 * as \xNN, so that it stays one line and cannot drive a terminal. */
static inline void
cmd_put_escaped(const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char out[4 * 2048 + 1];
	size_t k = 0;

	for (size_t i = 0; i < n && k < sizeof(out) - 5; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c != 0x7f) {
			out[k++] = (char)c;
			continue;
		}
		out[k++] = '\\';
		out[k++] = 'x';
		out[k++] = hex[c >> 4];
		out[k++] = hex[c & 15];
	}
	out[k++] = '\n';
	(void)ls_write_all(STDERR_FILENO, out, k);
}

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
	cmd_put_escaped(buf, n);
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
 * interrupted and sees the flag, ignores SIGPIPE, and then unblocks
 * SIGINT and SIGTERM, which a parent may have left blocked (a stop it
 * sent would wait there for ever). */
static inline void
cmd_signals(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * Opens /dev/null on whichever of descriptors 0 to 2 is closed, so that
 * no file the program opens becomes its standard error (where
 * diagnostics would be written into it) or output. Call first in main.
 */
static inline void
cmd_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			_exit(1);	/* nowhere to say it */
}

/* The start of every stage's main: descriptors 0 to 2 open, and the
 * stop handler in place before anything is opened or parsed, so that a
 * SIGTERM in the first instant is a stop, not a death. */
static inline void
cmd_init(void)
{
	cmd_std_fds();
	cmd_signals();
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

/* Is k the line output on standard output, which a closed pipe may end
 * as SIGPIPE would? */
static inline bool
cmd_to_stdout(const ls_sink *k)
{
	return !ls_sink_is_ss(k) && strcmp(ls_sink_name(k), "stdout") == 0;
}

/* An output failed with e: the program ends, quietly if it was standard
 * output that a reader closed (to_stdout, from cmd_to_stdout before the
 * sink was closed), else with e's reason and status 1. */
static inline _Noreturn void
cmd_output_failed(bool to_stdout, const ls_error *e)
{
	if (to_stdout && e->code == LS_ERR_IO && errno == EPIPE)
		cmd_die_of_sigpipe();
	errx(1, "%s", e->msg);
}

/* Closes k, writing eos as ls_sink_close does. Returns 0, or 1 after a
 * warning with the reason; a reader that closed standard output ends
 * the program quietly, as SIGPIPE would. */
static inline int
cmd_sink_close(ls_sink *k, const ls_msg *eos)
{
	bool to_stdout = cmd_to_stdout(k);
	ls_error e;

	if (ls_sink_close(k, eos, &e) == LS_OK)
		return 0;
	if (to_stdout && e.code == LS_ERR_IO && errno == EPIPE)
		cmd_die_of_sigpipe();
	warnx("%s", e.msg);
	return 1;
}

/* Reports the incomplete tail (a last line or message its writer was
 * stopped inside) that an append dropped from output name. */
static inline void
cmd_dropped(const char *name, uint64_t n, uint64_t at)
{
	if (n > 0)
		warnx("%s: byte %llu: dropped an incomplete tail of %llu "
		    "byte%s before appending", name, (unsigned long long)at,
		    (unsigned long long)n, n == 1 ? "" : "s");
}

/* Opens output uri, or exits naming why, with the stop flag in its
 * options; reports what an append dropped. */
static inline ls_sink *
cmd_sink_open(const char *uri, const ls_sink_opts *opts)
{
	ls_sink_opts ko = *opts;
	ls_error e;
	ls_sink *k;
	uint64_t n, at;

	ko.stop = &cmd_stop;	/* a stop bounds a broker's waits */
	if ((k = ls_sink_open(uri, &ko, &e)) == NULL)
		errx(1, "%s", e.msg);
	n = ls_sink_dropped(k, &at);
	cmd_dropped(ls_sink_name(k), n, at);
	return k;
}

/* Reports what appends dropped from every output of a stage. */
static inline void
cmd_outs_opened(const ls_outs *os)
{
	uint64_t n, at;

	for (size_t i = 0; i < ls_outs_count(os); i++) {
		n = ls_outs_dropped(os, i, &at);
		cmd_dropped(ls_outs_name(os, i), n, at);
	}
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
