/* The --stats counters, printed by a thread of their own on an interval
 * and on SIGUSR1. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>

#include "cmd.h"

struct cmd_stats cmd_stats;

/* Puts ,"changes":N,"targets":N before the closing brace of the line
 * line[0..n). Returns the new length. */
static int
members_stats(char *line, size_t n, size_t cap)
{
	int k = snprintf(line + n - 2, cap - (n - 2), ",\"changes\":%llu,"
	    "\"targets\":%llu}\n",
	    (unsigned long long)atomic_load(&cmd_stats.changes),
	    (unsigned long long)atomic_load(&cmd_stats.targets));

	if (k < 0 || (size_t)k >= cap - (n - 2)) {
		memcpy(line + n - 2, "}\n", 2);	/* cannot happen */
		return (int)n;
	}
	return (int)(n - 2) + k;
}

/* The listening inputs, read by the thread that prints: their
 * counters (of the first 8 open at once), and those of the ones closed
 * (in done). */
static pthread_mutex_t listen_mu = PTHREAD_MUTEX_INITIALIZER;
static const ls_source *listening[8];
static ls_listen_stats done;
static bool listen_any;

static void
listen_add(ls_listen_stats *to, const ls_listen_stats *a)
{
	to->clients += a->clients;
	to->accepted += a->accepted;
	to->refused += a->refused;
	to->idle_closed += a->idle_closed;
	to->partial += a->partial;
	to->too_long += a->too_long;
	to->truncated += a->truncated;
	to->overruns += a->overruns;
}

void
cmd_stats_listen(const ls_source *src)
{
	ls_listen_stats st;

	if (!ls_source_listen_stats(src, &st))
		return;
	pthread_mutex_lock(&listen_mu);
	listen_any = true;
	for (size_t i = 0; i < sizeof(listening) / sizeof(*listening); i++)
		if (listening[i] == NULL) {
			listening[i] = src;
			break;
		}
	pthread_mutex_unlock(&listen_mu);
}

void
cmd_stats_unlisten(const ls_source *src)
{
	ls_listen_stats st;

	pthread_mutex_lock(&listen_mu);
	for (size_t i = 0; i < sizeof(listening) / sizeof(*listening); i++)
		if (listening[i] == src) {
			ls_source_listen_stats(src, &st);
			st.clients = 0;	/* closed with it */
			listen_add(&done, &st);
			listening[i] = NULL;
		}
	pthread_mutex_unlock(&listen_mu);
}

/* Puts the counters of the listening inputs before the closing brace
 * of the line line[0..n). Returns the new length. */
static int
listen_stats(char *line, size_t n, size_t cap)
{
	ls_listen_stats sum = done, st;
	int k;

	for (size_t i = 0; i < sizeof(listening) / sizeof(*listening); i++)
		if (listening[i] != NULL &&
		    ls_source_listen_stats(listening[i], &st))
			listen_add(&sum, &st);
	k = snprintf(line + n - 2, cap - (n - 2), ",\"clients\":%llu,"
	    "\"accepted\":%llu,\"refused\":%llu,\"idle_closed\":%llu,"
	    "\"partial\":%llu,\"too_long\":%llu,\"truncated\":%llu,"
	    "\"overruns\":%llu}\n", (unsigned long long)sum.clients,
	    (unsigned long long)sum.accepted, (unsigned long long)sum.refused,
	    (unsigned long long)sum.idle_closed,
	    (unsigned long long)sum.partial, (unsigned long long)sum.too_long,
	    (unsigned long long)sum.truncated,
	    (unsigned long long)sum.overruns);
	if (k < 0 || (size_t)k >= cap - (n - 2)) {
		memcpy(line + n - 2, "}\n", 2);	/* cannot happen */
		return (int)n;
	}
	return (int)(n - 2) + k;
}

void
cmd_stats_print(void)
{
	struct cmd_stats *s = &cmd_stats;
	uint64_t el = ls_now_ms() - s->start_ms;
	uint64_t out = atomic_load_explicit(&s->out, memory_order_relaxed);
	char line[768];
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
	if (n > 2 && s->members && (size_t)n < sizeof(line))
		n = members_stats(line, (size_t)n, sizeof(line));
	pthread_mutex_lock(&listen_mu);
	if (n > 2 && listen_any && (size_t)n < sizeof(line))
		n = listen_stats(line, (size_t)n, sizeof(line));
	pthread_mutex_unlock(&listen_mu);
	if (n > 0)
		(void)ls_write_all(cmd_stats.fd, line, (size_t)n);
}

static void *
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

/*
 * pipeline(1) starts its stages with LS_STATS_FD, a descriptor (a pipe
 * it reads) for the --stats lines, and LS_STATS_INTERVAL, their
 * interval in milliseconds: they then print there, --stats given or
 * not, and at exit, whether they end well or not. Returns the interval
 * the stage is to use.
 */
static uint64_t
stats_env(uint64_t interval_us)
{
	const char *fd = getenv("LS_STATS_FD"), *ms;
	char *end;
	long n;

	cmd_stats.fd = STDERR_FILENO;
	if (fd == NULL || *fd == '\0')
		return interval_us;
	n = strtol(fd, &end, 10);
	if (*end != '\0' || n < 3 || n > INT_MAX ||
	    fcntl((int)n, F_SETFD, FD_CLOEXEC) != 0)
		return interval_us;
	cmd_stats.fd = (int)n;
	cmd_stats.to_fd = true;
	/* the last line at exit, a failed one's too (err() exits) */
	if (atexit(cmd_stats_print) != 0)
		err(1, "atexit");
	unsetenv("LS_STATS_FD");
	if ((ms = getenv("LS_STATS_INTERVAL")) != NULL)
		interval_us = strtoull(ms, NULL, 10) * 1000;
	unsetenv("LS_STATS_INTERVAL");
	return interval_us;
}

void
cmd_stats_start(const char *program, uint64_t interval_us)
{
	sigset_t all, old, set;
	pthread_t t;

	interval_us = stats_env(interval_us);
	cmd_stats.program = program;
	cmd_stats.start_ms = ls_now_ms();
	cmd_stats.interval_us = interval_us;
	/* the thread starts with every signal blocked, so that those the
	 * program handles (SIGINT, SIGTERM, SIGHUP) reach the main thread
	 * and interrupt its reads; every thread blocks SIGUSR1 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t, NULL, cmd_stats_thread, NULL) != 0)
		err(1, "pthread_create");
	pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}
