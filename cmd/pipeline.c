/* pipeline: run and supervise a topology of our commands joined by
 * FIFOs. */
#include <getopt.h>
#include <libgen.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "topo.h"

static const char usage_text[] =
    "usage: pipeline [-h] [--dry-run | --graph] [--stats]\n"
    "                [--stats-interval duration] [-n copies]\n"
    "                [--max-running count] [-e stage]... [file ...]\n"
    "       pipeline --version\n";

struct config {
	bool dry_run, graph, stats;
	uint64_t stats_us;
	long copies;		/* -n, 0 if not given */
	long max_running;
	const char **lines;	/* -e */
	size_t nlines;
	char *self_dir;
};

static void
parse(int argc, char *argv[], struct config *c)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'd' },
		{ "expression", required_argument, NULL, 'e' },
		{ "graph", no_argument, NULL, 'g' },
		{ "max-running", required_argument, NULL, 'm' },
		{ "stats", no_argument, NULL, 'S' },
		{ "stats-interval", required_argument, NULL, 'I' },
		CMD_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "e:hn:", longopts, NULL)) != -1) {
		cmd_option(ch);
		switch (ch) {
		case 'd':
			c->dry_run = true;
			break;
		case 'e':
			if ((c->lines = reallocarray(c->lines, c->nlines + 1,
			    sizeof(*c->lines))) == NULL)
				err(1, NULL);
			c->lines[c->nlines++] = optarg;
			break;
		case 'g':
			c->graph = true;
			break;
		case 'I':
			c->stats_us = cmd_duration(optarg, "--stats-interval");
			break;
		case 'm':
			c->max_running = (long)cmd_number(optarg, 1, 4096,
			    "--max-running");
			break;
		case 'n':
			c->copies = (long)cmd_number(optarg, 1, 4096, "-n");
			break;
		case 'S':
			c->stats = true;
			break;
		default:
			cmd_usage(NULL);
		}
	}
	if (c->dry_run && c->graph)
		cmd_usage("--dry-run and --graph do not go together");
	if (c->nlines > 0 && c->copies > 0)
		cmd_usage("-n copies files; it does not go with -e");
}

/* The directory of our own binary, where our commands are first
 * looked for. */
static char *
self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *d;

	if (n < 0)
		err(1, "/proc/self/exe");
	buf[n] = '\0';
	if ((d = strdup(dirname(buf))) == NULL)
		err(1, NULL);
	return d;
}

/* One pipeline: from file (copy, or -1) or, with file NULL, the -e
 * lines. Returns its exit status; 2 if it is not valid. */
static int
one(const struct config *c, const char *file, int copy)
{
	struct topo t;
	char where[32];
	int status = 0;

	memset(&t, 0, sizeof(t));
	t.self_dir = c->self_dir;
	for (size_t i = 0; file == NULL && i < c->nlines && status == 0; i++) {
		snprintf(where, sizeof(where), "-e:%zu", i + 1);
		status = topo_add_line(&t, c->lines[i], where) ? 2 : 0;
	}
	if (file != NULL && topo_read_file(&t, file, copy) != 0)
		status = 2;
	if (status == 0 && topo_check(&t) != 0)
		status = 2;
	if (status == 0 && c->dry_run) {
		topo_paths(&t, "$D");
		topo_print_sh(&t, stdout);
	} else if (status == 0 && c->graph)
		topo_print_dot(&t, stdout);
	else if (status == 0)
		status = topo_run(&t, !c->stats ? 0 : c->stats_us ?
		    c->stats_us : UINT64_MAX);
	topo_free(&t);
	return status;
}

/* A pipeline to run: a file (and copy number, or -1), or the -e
 * lines (file NULL). */
struct job {
	const char *file;
	int copy;
	pid_t pid;
};

static struct job *jobs;
static size_t njobs;
static volatile sig_atomic_t signalled;

/* The runners of the pipelines get each signal we get. */
static void
forward(int sig)
{
	signalled++;
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].pid > 0)
			kill(jobs[i].pid, sig);
}

static void
job_name(const struct job *j, char *buf, size_t n)
{
	if (j->file == NULL)
		snprintf(buf, n, "-e");
	else if (j->copy >= 0)
		snprintf(buf, n, "%s (copy %d)", j->file, j->copy);
	else
		snprintf(buf, n, "%s", j->file);
}

/* Waits for one of the running pipelines; returns 1 if it failed. */
static int
reap(void)
{
	char name[PATH_MAX + 32], how[128];
	int status;
	pid_t pid;

	while ((pid = wait(&status)) < 0)
		if (errno != EINTR)
			err(1, "wait");
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].pid == pid) {
			jobs[i].pid = -1;
			job_name(&jobs[i], name, sizeof(name));
			ls_status_text(status, how, sizeof(how));
			warnx("%s: %s", name, how);
		}
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* In a runner: SIGTERM when pipeline ends without stopping it (killed
 * with SIGKILL), so that it stops as on pipeline's own SIGTERM and
 * removes its FIFOs; at once if pipeline is already gone. */
static void
runner_orphan_stop(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		raise(SIGTERM);
}

/* Runs every job, at most max at once, each in a process of its own;
 * returns 1 if any failed, or a signal stopped us before all started. */
static int
run_jobs(const struct config *c, long max)
{
	struct sigaction sa = { .sa_handler = forward };
	sigset_t set, old;
	long running = 0;
	int status = 0;
	size_t i;
	pid_t parent = getpid();

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (i = 0; i < njobs; i++) {
		for (; running >= max; running--)
			status |= reap();
		if (signalled)
			break;
		sigprocmask(SIG_BLOCK, &set, &old);
		if ((jobs[i].pid = fork()) < 0)
			err(1, "fork");
		/*
		 * Each runner in a process group of its own: it gets a
		 * signal once, as forward() passes it on, not also from
		 * whoever signals our group (timeout(1) does), which it
		 * could take for a second stop.
		 */
		if (jobs[i].pid == 0) {
			setpgid(0, 0);
			runner_orphan_stop(parent);
			_exit(one(c, jobs[i].file, jobs[i].copy));
		}
		setpgid(jobs[i].pid, jobs[i].pid);
		sigprocmask(SIG_SETMASK, &old, NULL);
		running++;
	}
	for (size_t k = i; k < njobs; k++) {
		char name[PATH_MAX + 32];
		job_name(&jobs[k], name, sizeof(name));
		warnx("%s: not started: stopped by a signal", name);
	}
	for (; running > 0; running--)
		status |= reap();
	return status || i < njobs;
}

static void
add_job(const char *file, int copy)
{
	if ((jobs = reallocarray(jobs, njobs + 1, sizeof(*jobs))) == NULL)
		err(1, NULL);
	jobs[njobs++] = (struct job){ file, copy, 0 };
}

/* Every pipeline is checked before any starts. */
static int
check_all(struct config c)
{
	int status = 0;

	c.dry_run = false;
	c.graph = true;
	if (freopen("/dev/null", "w", stdout) == NULL)
		err(1, "/dev/null");
	for (size_t i = 0; i < njobs; i++)
		if (one(&c, jobs[i].file, jobs[i].copy) != 0)
			status = 2;
	return status;
}

int
main(int argc, char *argv[])
{
	struct config c;
	int status;
	pid_t pid;

	cmd_usage_text = usage_text;
	cmd_std_fds();
	memset(&c, 0, sizeof(c));
	c.stats_us = 1000000;
	parse(argc, argv, &c);
	argc -= optind;
	argv += optind;
	if (argc == 0 && c.nlines == 0)
		cmd_usage("no topology: give a file or -e");
	c.self_dir = self_dir();
	if (c.nlines > 0)
		add_job(NULL, -1);
	for (int i = 0; i < argc; i++)
		for (long k = 0; k < (c.copies ? c.copies : 1); k++)
			add_job(argv[i], c.copies ? (int)k : -1);
	for (size_t i = 0; njobs > 1 && i < njobs; i++)
		if (jobs[i].file != NULL && strcmp(jobs[i].file, "-") == 0)
			cmd_usage("'-' (standard input) is read once: it "
			    "goes alone, without -e or -n");
	if (njobs > 1 && c.dry_run)
		cmd_usage("--dry-run prints one topology, not %zu", njobs);
	if (njobs == 1 || c.graph) {
		status = 0;
		for (size_t i = 0; i < njobs; i++)
			status |= one(&c, jobs[i].file, jobs[i].copy);
	} else {
		fflush(stdout);
		if ((pid = fork()) < 0)
			err(1, "fork");
		if (pid == 0)
			_exit(check_all(c));
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			status = 2;
		else
			status = run_jobs(&c, c.max_running ? c.max_running :
			    (long)njobs);
	}
	free(jobs);
	free(c.lines);
	free(c.self_dir);
	return status;
}
