/* The stop flag, the signals that set it, and the standard descriptors. */
#include <fcntl.h>

#include "cmd.h"

volatile int cmd_stop;
volatile sig_atomic_t cmd_hup;
static struct timespec stop_at;	/* when cmd_stop was set */

/* The first stop sets cmd_stop; a second one, unless it came with the
 * first (see CMD_STOP_REPEAT_MS), ends the process. clock_gettime is
 * async-signal-safe. */
static void
cmd_on_stop(int sig)
{
	struct timespec now;

	(void)sig;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!cmd_stop) {
		stop_at = now;
		cmd_stop = 1;
	} else if ((now.tv_sec - stop_at.tv_sec) * 1000 +
	    (now.tv_nsec - stop_at.tv_nsec) / 1000000 >= CMD_STOP_REPEAT_MS)
		_exit(1);
}

void
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
