/*
 * The runner's guard: a process forked once the FIFOs are made, which
 * outlives the runner. The runner tells it, over a socket, of each
 * source's first command as it starts and ends, and that it is done at
 * its end. If the socket closes before that (the runner killed with
 * SIGKILL, or ended by an error), the guard does what the runner's
 * ordered stop does: SIGTERM to each source still running, whose end
 * then reaches every stage after it through the FIFOs, and it removes
 * the FIFOs and their directory. Without it, a runner killed with
 * SIGKILL left its stages running for ever (a clock never ends) and its
 * FIFO directory behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "topo.h"

/* A note to the guard: source stage `stage`'s first command started as
 * pid, or ended (pid 0); or the runner is done (stage -1). */
struct note {
	int32_t stage;
	int32_t pid;
};

static int guard_fd = -1;

/* The guard: keeps each source's running pid from the notes; once the
 * runner is gone without being done, stops them and removes the FIFOs. */
static _Noreturn void
guard(const struct topo *t, int fd, pid_t *pids)
{
	struct note n;
	ssize_t r;

	while ((r = recv(fd, &n, sizeof(n), 0)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(n))
			break;
		if (n.stage < 0)
			_exit(0);
		if (pids != NULL && (size_t)n.stage < t->nst)
			pids[n.stage] = n.pid;
	}
	for (size_t i = 0; pids != NULL && i < t->nst; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (size_t i = 0; i < t->nc; i++)
		if (t->c[i].path != NULL)
			unlink(t->c[i].path);
	if (t->dir != NULL)
		rmdir(t->dir);
	_exit(0);
}

void
topo_guard_start(const struct topo *t)
{
	pid_t *pids = calloc(t->nst, sizeof(*pids)), pid;
	int sv[2], null;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		err(1, "socketpair");
	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		/* nothing of the runner's kept open: the FIFOs' ends
		 * would keep their readers from their end of input, and
		 * standard output a reader of pipeline's */
		if ((null = open("/dev/null", O_RDWR)) < 0 ||
		    dup2(null, STDIN_FILENO) < 0 ||
		    dup2(null, STDOUT_FILENO) < 0 ||
		    dup2(sv[1], 3) < 0 || close_range(4, ~0U, 0) != 0)
			_exit(1);
		/* a terminal's ^C or timeout(1)'s SIGTERM to the group
		 * is the runner's to act on */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		prctl(PR_SET_NAME, "pipeline-guard");
		guard(t, 3, pids);
	}
	free(pids);
	close(sv[1]);
	guard_fd = sv[0];
}

/* Sends n; a guard gone (killed) is left gone. */
static void
note(int32_t stage, pid_t pid)
{
	struct note n = { stage, (int32_t)pid };

	if (guard_fd < 0)
		return;
	while (send(guard_fd, &n, sizeof(n), MSG_NOSIGNAL) < 0)
		if (errno != EINTR) {
			close(guard_fd);
			guard_fd = -1;
			return;
		}
}

void
topo_guard_source(size_t stage, pid_t pid)
{
	note((int32_t)stage, pid);
}

void
topo_guard_done(void)
{
	note(-1, 0);
	if (guard_fd >= 0)
		close(guard_fd);
	guard_fd = -1;
}
