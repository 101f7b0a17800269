/* The stop flag, the signals that set it, and the standard descriptors. */
#include <fcntl.h>

#include "cmd.h"

volatile int cmd_stop;
volatile sig_atomic_t cmd_hup;
static uint64_t stop_ms;	/* when cmd_stop was set */
static pid_t stop_from;		/* and by whom (CMD_SIG_SENDER) */

bool
cmd_stop_repeats(pid_t first_from, uint64_t first_ms, pid_t from,
    uint64_t now_ms)
{
	uint64_t gap = now_ms - first_ms;

	return gap < CMD_STOP_WITH_MS || (from != 0 && from == first_from &&
	    gap < CMD_STOP_REPEAT_MS);
}

/* The first stop sets cmd_stop; a second one, unless it came with the
 * first (see CMD_STOP_REPEAT_MS), ends the process. clock_gettime is
 * async-signal-safe. */
static void
cmd_on_stop(int sig, siginfo_t *si, void *uc)
{
	struct timespec now;
	uint64_t ms;
	pid_t from = si != NULL ? CMD_SIG_SENDER(si->si_code, si->si_pid) : 0;

	(void)sig;
	(void)uc;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	if (!cmd_stop) {
		stop_ms = ms;
		stop_from = from;
		cmd_stop = 1;
	} else if (!cmd_stop_repeats(stop_from, stop_ms, from, ms))
		_exit(1);
}

void
cmd_catch_stop(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = cmd_on_stop;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void
cmd_signals(void)
{
	sigset_t set;

	cmd_catch_stop();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void
cmd_on_hup(int sig)
{
	(void)sig;
	cmd_hup = 1;
}

void
cmd_catch_hup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_on_hup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
}

void
cmd_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			_exit(1);	/* nowhere to say it */
}

void
cmd_init(void)
{
	cmd_std_fds();
	cmd_signals();
}

void
cmd_die_of_sigpipe(void)
{
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	_exit(1);
}
