/*
 * pipeline's runner: the FIFOs made and held open at both ends (so that
 * a stage restarted finds its peers still there, and a reader sees the
 * end of its input only once its writer has ended for good), the stages
 * started through sh -c, one process a command, watched by the event
 * core, restarted as their policy says, and stopped in order: the
 * sources get SIGTERM, and the end of input reaches each layer after.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "topo.h"

struct run {
	struct topo *t;
	ls_loop *l;
	int null_fd, sig_fd;
	unsigned signals;	/* SIGINT and SIGTERM received */
	uint64_t signal_ms;	/* when the first came */
	pid_t signal_from;	/* and its sender (CMD_SIG_SENDER) */
	bool failed;
	bool settling;		/* a settle timer is set */
	uint64_t stats_us, stats_ms, start_ms, last_ms;
};

static struct run R;

static void stage_start_all(struct topo_stage *st);

/* Has a command of stage si the FIFO of c open? */
static bool
reader_has_open(const struct topo_conn *c, int si)
{
	const struct topo_stage *st = &R.t->st[si];
	char dir[64], link[PATH_MAX + 1];
	struct dirent *d;
	bool found = false;
	ssize_t n;
	DIR *dp;

	for (size_t j = 0; j < st->nseg && !found; j++) {
		if (st->seg[j].pid <= 0)
			continue;
		snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)st->seg[j].pid);
		if ((dp = opendir(dir)) == NULL)
			continue;
		while (!found && (d = readdir(dp)) != NULL) {
			n = readlinkat(dirfd(dp), d->d_name, link,
			    sizeof(link) - 1);
			found = n > 0 && (link[n] = '\0',
			    strcmp(link, c->path) == 0);
		}
		closedir(dp);
	}
	return found;
}

static void settle_due(ls_loop *l, void *ctx);

/*
 * The runner's write end of c goes once its writer has ended for good
 * and its reader has the FIFO open (or has ended): the reader then sees
 * the end of its input; closed earlier, the reader's open would wait
 * for a writer for ever. Looks again in 50 ms until then.
 */
static void
settle(struct topo_conn *c)
{
	enum topo_state rs = R.t->st[c->reader].state;
	ls_error e;

	if (!c->writer_done || c->wfd < 0)
		return;
	if (rs == TS_DONE || rs == TS_FAILED ||
	    (rs == TS_RUN && reader_has_open(c, c->reader))) {
		close(c->wfd);
		c->wfd = -1;
		return;
	}
	if (!R.settling) {
		R.settling = true;
		if (ls_loop_timer(R.l, ls_mono_ms() + 50, settle_due, NULL,
		    &e) == 0)
			errx(1, "%s", e.msg);
	}
}

static void
settle_due(ls_loop *l, void *ctx)
{
	(void)l;
	(void)ctx;
	R.settling = false;
	for (size_t i = 0; i < R.t->nc; i++)
		settle(&R.t->c[i]);
}

/* Stage si has ended for good: the runner's read ends of what it
 * reads close (its writers see it gone), and its outputs settle. */
static void
release(int si)
{
	for (size_t i = 0; i < R.t->nc; i++) {
		struct topo_conn *c = &R.t->c[i];
		if (c->reader == si && c->rfd >= 0) {
			close(c->rfd);
			c->rfd = -1;
		}
		if (c->writer == si)
			c->writer_done = true;
		if (c->writer == si || c->reader == si)
			settle(c);
	}
}

/* A stage starts again: the inputs whose writers have ended get a
 * write end again, so that its open does not wait for ever. */
static void
reopen_inputs(int si)
{
	for (size_t i = 0; i < R.t->nc; i++) {
		struct topo_conn *c = &R.t->c[i];
		if (c->reader != si || !c->writer_done || c->wfd >= 0 ||
		    c->rfd < 0)
			continue;
		if ((c->wfd = open(c->path, O_WRONLY | O_NONBLOCK |
		    O_CLOEXEC)) < 0)
			warn("%s", c->path);
		settle(c);
	}
}

static void
signal_stage(struct topo_stage *st, int sig, bool all)
{
	for (size_t j = 0; j < st->nseg && (all || j == 0); j++)
		if (st->seg[j].pid > 0)
			kill(st->seg[j].pid, sig);
}

/* The ordered stop: every source gets SIGTERM (its first command only:
 * the rest of its pipe ends with its input). */
static void
stop_sources(void)
{
	for (size_t i = 0; i < R.t->nst; i++) {
		struct topo_stage *st = &R.t->st[i];
		if (!st->source || st->stopped)
			continue;
		st->stopped = true;
		if (st->state == TS_RUN)
			signal_stage(st, SIGTERM, false);
		else if (st->state == TS_BACKOFF || st->state == TS_WAIT) {
			ls_loop_cancel(R.l, st->timer);
			st->state = TS_DONE;
			release((int)(st - R.t->st));
		}
	}
}

/* A second signal: every command of every stage gets SIGTERM, and no
 * stage starts again. */
static void
stop_all(void)
{
	for (size_t i = 0; i < R.t->nst; i++) {
		struct topo_stage *st = &R.t->st[i];
		st->stopped = true;
		if (st->state == TS_RUN)
			signal_stage(st, SIGTERM, true);
		else if (st->state == TS_BACKOFF) {
			ls_loop_cancel(R.l, st->timer);
			st->state = TS_FAILED;
			release((int)i);
		}
	}
}

static void
restart_due(ls_loop *l, void *ctx)
{
	(void)l;
	stage_start_all(ctx);
}

/* Did st end well: status 0, or ended by the SIGTERM we sent it. */
static bool
ended_well(const struct topo_stage *st)
{
	int s = st->status;

	if (WIFEXITED(s) && WEXITSTATUS(s) == 0)
		return true;
	return st->stopped && WIFSIGNALED(s) && WTERMSIG(s) == SIGTERM;
}

/* Every command of st has ended. */
static void
stage_ended(struct topo_stage *st)
{
	char how[128];
	ls_error e;
	uint64_t ms;

	if (ended_well(st)) {
		st->state = TS_DONE;
		release((int)(st - R.t->st));
		return;
	}
	ls_status_text(st->status, how, sizeof(how));
	if (st->restarts < st->restart_max && R.signals < 2 &&
	    !(st->source && st->stopped)) {
		ms = ls_backoff_ms(st->restarts, 100, 10000);
		warnx("%s (%s): %s; restart %u of %u in %llu ms", st->name,
		    st->where, how, st->restarts + 1, st->restart_max,
		    (unsigned long long)ms);
		st->restarts++;
		st->state = TS_BACKOFF;
		if ((st->timer = ls_loop_timer(R.l, ls_mono_ms() + ms,
		    restart_due, st, &e)) == 0)
			errx(1, "%s", e.msg);
		return;
	}
	warnx("%s (%s): %s", st->name, st->where, how);
	st->state = TS_FAILED;
	R.failed = true;
	release((int)(st - R.t->st));
	stop_sources();
}

static void
on_child(ls_loop *l, pid_t pid, int status, void *ctx)
{
	struct topo_seg *sg = ctx;
	struct topo_stage *st = NULL;

	(void)l;
	(void)pid;
	for (size_t i = 0; i < R.t->nst && st == NULL; i++)
		if (sg >= R.t->st[i].seg &&
		    sg < R.t->st[i].seg + R.t->st[i].nseg)
			st = &R.t->st[i];
	sg->pid = 0;
	sg->status = status;
	if (st->source && sg == st->seg)
		topo_guard_source((size_t)(st - R.t->st), 0);
	topo_stats_ended(R.l, sg);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
	    (WIFEXITED(st->status) && WEXITSTATUS(st->status) == 0))
		st->status = status;
	if (--st->running == 0)
		stage_ended(st);
}

/* Starts command j of st, reading in and writing out; false if it
 * could not be. */
static bool
seg_start(struct topo_stage *st, size_t j, int in, int out)
{
	struct topo_seg *sg = &st->seg[j];
	char *cmd, *vars[3];
	ls_error e;
	int rc, sfd;

	/* a process group of its own (setsid(1) execs without forking):
	 * a terminal's ^C reaches pipeline alone, which stops in order */
	if (asprintf(&cmd, "exec setsid %s", sg->cmd) < 0)
		err(1, NULL);
	sfd = topo_stats_pipe(R.l, sg, R.stats_us == 0 ? 0 :
	    R.stats_us == UINT64_MAX ? UINT64_MAX : R.stats_ms, vars);
	rc = ls_spawn_sh(cmd, in, out, vars, &sg->pid);
	free(cmd);
	if (sfd >= 0)
		close(sfd);
	if (rc != 0)
		topo_stats_ended(R.l, sg);
	if (rc != 0) {
		warnx("%s (%s): %s: %s", st->name, st->where, sg->prog,
		    strerror(rc));
		sg->pid = 0;
		return false;
	}
	if (ls_loop_child(R.l, sg->pid, on_child, sg, &e) != LS_OK)
		errx(1, "%s", e.msg);
	if (st->source && j == 0)
		topo_guard_source((size_t)(st - R.t->st), sg->pid);
	st->running++;
	return true;
}

/* Starts every command of st, each piped into the next; the first
 * reads /dev/null, the last writes our standard output. */
static void
stage_start_all(struct topo_stage *st)
{
	int in = R.null_fd, p[2];
	bool ok = true;

	st->state = TS_RUN;
	st->status = 0;
	reopen_inputs((int)(st - R.t->st));
	for (size_t j = 0; j < st->nseg && ok; j++) {
		p[0] = -1;
		p[1] = STDOUT_FILENO;
		if (j + 1 < st->nseg && pipe2(p, O_CLOEXEC) != 0)
			err(1, "pipe");
		ok = seg_start(st, j, in, p[1]);
		if (in != R.null_fd)
			close(in);
		if (p[1] != STDOUT_FILENO)
			close(p[1]);
		in = p[0];
	}
	if (in != R.null_fd && in >= 0)
		close(in);
	if (!ok) {
		st->status = 127 << 8;
		if (st->running == 0)
			stage_ended(st);
		else
			signal_stage(st, SIGTERM, true);
	}
}

static void
on_signal(ls_loop *l, int fd, unsigned ev, void *ctx)
{
	struct signalfd_siginfo si;

	(void)l;
	(void)ev;
	(void)ctx;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		uint64_t now = ls_mono_ms();
		pid_t from = CMD_SIG_SENDER((int32_t)si.ssi_code,
		    si.ssi_pid);
		if (R.signals == 1 && cmd_stop_repeats(R.signal_from,
		    R.signal_ms, from, now))
			continue;	/* the first, twice */
		if (++R.signals == 1) {
			R.signal_ms = now;
			R.signal_from = from;
			stop_sources();
		} else
			stop_all();
	}
}

/* The --stats line, with the rates over the time since the last. */
static void
print_stats(void)
{
	uint64_t now = ls_mono_ms();

	topo_stats_print(R.t, now - R.start_ms, now - R.last_ms);
	R.last_ms = now;
}

static void
stats_due(ls_loop *l, void *ctx)
{
	ls_error e;

	(void)ctx;
	print_stats();
	if (ls_loop_timer(l, ls_mono_ms() + R.stats_ms, stats_due,
	    NULL, &e) == 0)
		errx(1, "%s", e.msg);
}

/* Makes the FIFOs in a new directory and opens the runner's ends. */
static void
make_fifos(struct topo *t)
{
	const char *tmp = getenv("TMPDIR");

	if (asprintf(&t->dir, "%s/pipeline.XXXXXX", tmp && *tmp ? tmp :
	    "/tmp") < 0)
		err(1, NULL);
	if (mkdtemp(t->dir) == NULL)
		err(1, "mkdtemp %s", t->dir);
	topo_paths(t, t->dir);
	for (size_t i = 0; i < t->nc; i++) {
		struct topo_conn *c = &t->c[i];
		if (mkfifo(c->path, 0600) != 0)
			err(1, "mkfifo %s", c->path);
		/* the read end first: opening the write end then waits
		 * for nothing */
		if ((c->rfd = open(c->path, O_RDONLY | O_NONBLOCK |
		    O_CLOEXEC)) < 0 || (c->wfd = open(c->path, O_WRONLY |
		    O_NONBLOCK | O_CLOEXEC)) < 0)
			err(1, "%s", c->path);
	}
}

/* Removes the FIFOs and their directory. */
static void
remove_fifos(struct topo *t)
{
	for (size_t i = 0; i < t->nc; i++) {
		if (t->c[i].rfd >= 0)
			close(t->c[i].rfd);
		if (t->c[i].wfd >= 0)
			close(t->c[i].wfd);
		t->c[i].rfd = t->c[i].wfd = -1;
		if (t->c[i].path != NULL && unlink(t->c[i].path) != 0)
			warn("%s", t->c[i].path);
	}
	if (t->dir != NULL && rmdir(t->dir) != 0)
		warn("%s", t->dir);
}

static bool
all_ended(const struct topo *t)
{
	for (size_t i = 0; i < t->nst; i++)
		if (t->st[i].state != TS_DONE && t->st[i].state != TS_FAILED)
			return false;
	return true;
}

/* The signal descriptor: SIGINT and SIGTERM, blocked (the commands
 * start with them unblocked). */
static int
signal_fd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		err(1, "signalfd");
	return fd;
}

int
topo_run(struct topo *t, uint64_t stats_us)
{
	ls_error e;

	memset(&R, 0, sizeof(R));
	R.t = t;
	R.stats_us = stats_us;
	R.stats_ms = stats_us / 1000 > 0 ? stats_us / 1000 : 1;
	R.start_ms = R.last_ms = ls_mono_ms();
	for (size_t i = 0; i < t->nst; i++)
		for (size_t j = 0; j < t->st[i].nseg; j++)
			t->st[i].seg[j].stats_fd = -1;
	R.sig_fd = signal_fd();
	if ((R.l = ls_loop_new(&e)) == NULL)
		errx(1, "%s", e.msg);
	if ((R.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		err(1, "/dev/null");
	if (ls_loop_fd(R.l, R.sig_fd, LS_EV_READ, on_signal, NULL, &e) != 0)
		errx(1, "%s", e.msg);
	make_fifos(t);
	topo_guard_start(t);
	for (size_t i = 0; i < t->nst; i++)
		stage_start_all(&t->st[i]);
	if (stats_us > 0 && stats_us != UINT64_MAX &&
	    ls_loop_timer(R.l, ls_mono_ms() + R.stats_ms,
	    stats_due, NULL, &e) == 0)
		errx(1, "%s", e.msg);
	while (!all_ended(t))
		if (ls_loop_once(R.l, -1, &e) < 0)
			errx(1, "%s", e.msg);
	if (stats_us > 0)
		print_stats();
	remove_fifos(t);
	topo_guard_done();
	ls_loop_free(R.l);
	close(R.null_fd);
	close(R.sig_fd);
	return R.failed || R.signals > 1 ? 1 : 0;
}
