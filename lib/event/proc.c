/*
 * Child processes: started without a shell unless one is asked for, with
 * the signals a new program expects; their exit status as text; and the
 * pause before a restart. The event core (event.c) reaps them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ls-internal.h"

extern char **environ;

/* Our environment with vars (NAME=VALUE) set over it; NULL if out of
 * memory. The strings stay ours; free the array alone. */
static char **
environment(char *const *vars)
{
	size_t n = 0, nv = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	while (vars != NULL && vars[nv] != NULL)
		nv++;
	if ((env = calloc(n + nv + 1, sizeof(*env))) == NULL)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		bool set = false;
		for (size_t v = 0; v < nv && !set; v++) {
			size_t len = strcspn(vars[v], "=") + 1;
			set = strncmp(environ[j], vars[v], len) == 0;
		}
		if (!set)
			env[k++] = environ[j];
	}
	for (size_t v = 0; v < nv; v++)
		env[k++] = vars[v];
	env[k] = NULL;
	return env;
}

/* A new program starts with no signal blocked, and SIGPIPE, SIGINT,
 * SIGTERM and SIGUSR1 as the system sets them, whatever we did. */
static void
signals_as_new(posix_spawnattr_t *sa)
{
	sigset_t none, def;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGUSR1);
	posix_spawnattr_setsigmask(sa, &none);
	posix_spawnattr_setsigdefault(sa, &def);
	posix_spawnattr_setflags(sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
}

LS_API int
ls_spawn(const char *const *argv, bool shell, int in, int out,
    char *const *vars, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	char **env;
	int rc;

	if ((env = environment(vars)) == NULL)
		return ENOMEM;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
	posix_spawnattr_init(&sa);
	signals_as_new(&sa);
	if (shell) {
		char *sh[] = { "sh", "-c", (char *)argv[0], NULL };
		rc = posix_spawn(pid, "/bin/sh", &fa, &sa, sh, env);
	} else
		rc = posix_spawnp(pid, argv[0], &fa, &sa, (char *const *)argv,
		    env);
	posix_spawnattr_destroy(&sa);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	return rc;
}

LS_API int
ls_spawn_sh(const char *cmd, int in, int out, char *const *vars, pid_t *pid)
{
	const char *argv[] = { cmd, NULL };

	return ls_spawn(argv, true, in, out, vars, pid);
}

LS_API size_t
ls_status_text(int status, char *buf, size_t n)
{
	int k;

	if (WIFEXITED(status))
		k = snprintf(buf, n, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		k = snprintf(buf, n, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		k = snprintf(buf, n, "ended with wait status 0x%x", status);
	return k < 0 ? 0 : (size_t)k < n ? (size_t)k : n ? n - 1 : 0;
}

LS_API uint64_t
ls_backoff_ms(unsigned attempt, uint64_t min_ms, uint64_t max_ms)
{
	uint64_t ms = min_ms;

	for (unsigned k = 0; k < attempt && ms < max_ms; k++)
		ms = ms > UINT64_MAX / 2 ? UINT64_MAX : ms * 2;
	return ms < max_ms ? ms : max_ms;
}
