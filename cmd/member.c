/* member: register a worker in etcd while it runs. */
#include <getopt.h>
#include <poll.h>
#include <sys/wait.h>

#include "cmd.h"

#define LOOK_MS 200	/* between looks at the child and the lease */

static bool lost;	/* the lease could not be kept */

static const char usage_text[] =
    "usage: member [-h] [--ttl duration] etcd://host[:port]/prefix name "
    "output\n"
    "              [-- command [argument ...]]\n"
    "       member --version\n";

struct config {
	const char *uri, *name, *output;
	char **command;		/* or NULL */
	uint64_t ttl_s;
};

static void
parse(int argc, char *argv[], struct config *c)
{
	static const struct option longopts[] = {
		{ "ttl", required_argument, NULL, 't' },
		CMD_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		cmd_option(ch);
		if (ch != 't')
			cmd_usage(NULL);
		c->ttl_s = cmd_duration(optarg, "--ttl") / 1000000;
		if (c->ttl_s == 0)
			cmd_usage("--ttl: '%s' is under a second", optarg);
	}
	argc -= optind;
	argv += optind;
	if (argc < 3)
		cmd_usage("%s is missing", argc == 0 ? "the etcd:// URI" :
		    argc == 1 ? "NAME" : "OUTPUT");
	c->uri = argv[0];
	c->name = argv[1];
	c->output = argv[2];
	if (strncmp(c->uri, "etcd://", 7) != 0)
		cmd_usage("'%s' is not an etcd:// URI", c->uri);
	if (!ls_key_valid(c->name, strlen(c->name)))
		cmd_usage("NAME '%s' is not 1 to 249 of [A-Za-z0-9._-]",
		    c->name);
	if (c->output[0] == '\0')
		cmd_usage("OUTPUT is empty");
	if (argc > 3 && strcmp(argv[3], "--") == 0 && argc > 4)
		c->command = argv + 4;
	else if (argc > 3)
		cmd_usage("unexpected argument '%s' (a command follows --)",
		    argv[3]);
}

/* Registers NAME=OUTPUT under a lease the sink keeps alive. */
static ls_sink *
join(const struct config *c)
{
	ls_sink_opts ko = { .lease_ttl_s = c->ttl_s, .lease_revoke = true,
	    .etcd_plain_keys = true, .stop = &cmd_stop };
	ls_sink *k;
	ls_error e;
	ls_msg m;

	memset(&m, 0, sizeof(m));
	if ((k = ls_sink_open(c->uri, &ko, &e)) == NULL)
		errx(1, "%s", e.msg);
	ls_msg_set_key(&m, c->name, strlen(c->name), NULL);
	m.payload = (const unsigned char *)c->output;
	m.len = strlen(c->output);
	m.ts_ms = ls_now_ms();
	if (ls_sink_write(k, &m, &e) != LS_OK ||
	    ls_sink_flush(k, &e) != LS_OK) {
		ls_sink_abort(k, NULL);
		errx(1, "%s", e.msg);
	}
	return k;
}

static pid_t
start(char **command)
{
	pid_t pid = fork();

	if (pid < 0)
		err(1, "fork");
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execvp(command[0], command);
		warn("%s", command[0]);
		_exit(127);
	}
	return pid;
}

/* The exit status a child's wait status calls for. */
static int
child_status(int ws)
{
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Until a stop, the child's end or the lease's loss: the exit status. */
static int
run(ls_sink *k, pid_t pid)
{
	ls_error e;
	int ws;

	for (;;) {
		if (pid > 0 && waitpid(pid, &ws, WNOHANG) == pid)
			return child_status(ws);
		if (cmd_stop)
			break;
		if (ls_sink_flush(k, &e) != LS_OK) {
			warnx("%s", e.msg);
			lost = true;
			if (pid > 0)
				kill(pid, SIGTERM);
			return 1;
		}
		(void)poll(NULL, 0, LOOK_MS);
	}
	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return 1;
	return child_status(ws);
}

int
main(int argc, char *argv[])
{
	struct config c = { .ttl_s = 10 };
	ls_sink *k;
	ls_error e;
	int status;

	cmd_usage_text = usage_text;
	cmd_init();
	parse(argc, argv, &c);
	k = join(&c);
	status = run(k, c.command != NULL ? start(c.command) : 0);
	if (lost)	/* said already; the lease is tried still */
		ls_sink_abort(k, NULL);
	else if (ls_sink_close(k, NULL, &e) != LS_OK) {
		warnx("%s", e.msg);
		status = status ? status : 1;
	}
	return status;
}
