/* fanout: every message to every output, in turn, or on demand. */
#include "cmd.h"

enum mode { BROADCAST, ROUNDROBIN, DEMAND };

static struct stage st;
static ls_outs *outs;
static bool *dead;
static size_t ndead;

static const char usage_text[] =
    "usage: fanout [-hq] [-i input] [--mode broadcast|roundrobin|demand]\n"
    "              [--on-bad-line fail|skip|raw] [--append | --force]\n"
    "              [--beacon-interval bytes] [--no-eos] [--skip-corrupt]\n"
    "              [--stats] [--stats-interval duration]\n"
    "              [--rate n/s|n/m [--burst n]] [--progress]\n"
    "              [--checkpoint file [--checkpoint-reset]]\n"
    "              output ... | --exec command -j count\n"
    "              [--on-exit fail|restart] [--restarts count]\n"
    "       fanout --version\n";

struct config {
	ls_outs_opts oo;
	enum mode mode;
	size_t jobs;
	unsigned restarts;
	bool restart;
	char **outputs;
	size_t n;
};

static void
abort_outputs(void)
{
	if (outs != NULL)
		ls_outs_abort(outs, NULL);
	outs = NULL;
}

static void drop(size_t, const ls_error *);

/* Before the input waits, everything read so far goes out. */
static void
flush_outputs(void *ctx)
{
	ls_error e;

	(void)ctx;
	for (size_t i = 0; outs != NULL && i < ls_outs_count(outs); i++)
		if (!dead[i] && ls_outs_flush_one(outs, i, &e) != LS_OK)
			drop(i, &e);
	if (outs != NULL)
		stage_flushed(&st);
}

/* Output i failed: it is dropped, as tee drops an output, and the rest
 * go on; with none left the stage ends. */
static void
drop(size_t i, const ls_error *e)
{
	if (dead[i])
		return;
	warnx("%s", e->msg);
	dead[i] = true;
	if (++ndead == ls_outs_count(outs)) {
		warnx("no output left");
		abort_outputs();
		exit(1);
	}
}

/* Writes m to output i; false if it failed (and is now dropped). */
static bool
put(size_t i, const ls_msg *m)
{
	ls_error e;
	int rc = ls_outs_write(outs, i, m, &e);

	if (!cmd_written(rc, m, st.src, ls_outs_name(outs, i), &e)) {
		drop(i, &e);
		return false;
	}
	return true;
}

static void
parse_mode(struct config *c, const char *arg)
{
	if (strcmp(arg, "broadcast") == 0)
		c->mode = BROADCAST;
	else if (strcmp(arg, "roundrobin") == 0)
		c->mode = ROUNDROBIN;
	else if (strcmp(arg, "demand") == 0)
		c->mode = DEMAND;
	else
		cmd_usage("--mode: '%s' is not broadcast, roundrobin or "
		    "demand", arg);
}

/* The outputs: the arguments, or -j workers of --exec. */
static void
check_outputs(struct config *c, int argc, char *argv[])
{
	if (c->oo.exec != NULL) {
		if (argc != 0)
			cmd_usage("--exec takes no outputs, but '%s' is given",
			    argv[0]);
		if (c->jobs == 0)
			cmd_usage("--exec needs -j, the number of workers");
		c->n = c->jobs;
	} else {
		if (argc == 0)
			cmd_usage("no output given (outputs, or --exec)");
		if (c->jobs != 0)
			cmd_usage("-j goes with --exec");
		if (c->restart)
			cmd_usage("--on-exit restart goes with --exec");
		c->n = (size_t)argc;
	}
	c->outputs = argv;
}

static void
parse(int argc, char *argv[], struct config *c)
{
	static const struct option longopts[] = {
		{ "append", no_argument, NULL, 'A' },
		{ "beacon-interval", required_argument, NULL, 'B' },
		{ "exec", required_argument, NULL, 'x' },
		{ "force", no_argument, NULL, 'F' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "mode", required_argument, NULL, 'm' },
		{ "no-eos", no_argument, NULL, 'E' },
		{ "on-exit", required_argument, NULL, 'X' },
		{ "restarts", required_argument, NULL, 'R' },
		CMD_LONGOPTS,
		STAGE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "hi:j:q", longopts, NULL)) !=
	    -1) {
		cmd_option(ch);
		if (cmd_sink_option(ch, optarg, &c->oo.sink) ||
		    stage_option(&st, ch, optarg))
			continue;
		switch (ch) {
		case 'E':
			c->oo.sink.no_eos = true;
			break;
		case 'R':
			c->restarts = (unsigned)cmd_number(optarg, 0, 1000,
			    "--restarts");
			break;
		case 'X':
			if (strcmp(optarg, "restart") == 0)
				c->restart = true;
			else if (strcmp(optarg, "fail") == 0)
				c->restart = false;
			else
				cmd_usage("--on-exit: '%s' is not fail or "
				    "restart", optarg);
			break;
		case 'j':
			c->jobs = (size_t)cmd_number(optarg, 1, 1024, "-j");
			break;
		case 'm':
			parse_mode(c, optarg);
			break;
		case 'x':
			c->oo.exec = optarg;
			break;
		default:
			cmd_usage(NULL);
		}
	}
	check_outputs(c, argc - optind, argv + optind);
	if (c->oo.sink.append && c->oo.sink.force)
		cmd_usage("--append and --force do not go together");
	c->oo.restarts = c->restart ? c->restarts : 0;
	c->oo.demand = c->mode == DEMAND;
}

static void
open_all(struct config *c)
{
	ls_error e;

	if ((dead = calloc(c->n, sizeof(*dead))) == NULL)
		err(1, NULL);
	st.abort = abort_outputs;
	st.so.on_wait = flush_outputs;
	stage_open(&st);
	c->oo.stop = c->oo.sink.stop = &cmd_stop;
	if ((outs = ls_outs_open((const char *const *)c->outputs, c->n,
	    &c->oo, &e)) == NULL)
		errx(1, "%s", e.msg);
	cmd_outs_opened(outs);
}

/* m to the next live output in turn; a failed one passes its turn on. */
static void
round_robin(const ls_msg *m, size_t n)
{
	static size_t next;
	size_t i;

	do {
		while (dead[next])
			next = (next + 1) % n;
		i = next;
		next = (next + 1) % n;
	} while (!put(i, m));
}

/* m to the first output that asks for one. */
static void
on_demand(const ls_msg *m, size_t n)
{
	ls_error e;
	size_t i;
	int rc;

	for (;;) {
		/* stopped while waiting: m was read, so it still goes
		 * out, to the first live output */
		if ((rc = ls_outs_pick(outs, &i, &e)) == LS_END)
			i = 0;
		else if (rc != LS_OK) {
			warnx("%s", e.msg);
			abort_outputs();
			exit(1);
		}
		while (dead[i])	/* a sink that failed */
			i = (i + 1) % n;
		if (put(i, m))
			return;
	}
}

static void
run(const struct config *c)
{
	ls_msg m;

	while (!cmd_stop && stage_next(&st, &m) == LS_OK) {
		switch (c->mode) {
		case BROADCAST:
			for (size_t i = 0; i < c->n; i++)
				if (!dead[i])
					put(i, &m);
			break;
		case ROUNDROBIN:
			round_robin(&m, c->n);
			break;
		case DEMAND:
			on_demand(&m, c->n);
			break;
		}
	}
}

static int
close_all(void)
{
	ls_error e;
	ls_msg eos;
	int rc, status = ndead > 0;

	for (size_t i = 0; i < ls_outs_count(outs); i++)
		if (ls_outs_restarts(outs, i) > 0 && !st.quiet)
			warnx("%s was started again %u time%s so far",
			    ls_outs_name(outs, i), ls_outs_restarts(outs, i),
			    ls_outs_restarts(outs, i) == 1 ? "" : "s");
	rc = ls_outs_close(outs, stage_eos(&st, &eos), &e);
	outs = NULL;
	if (rc != LS_OK) {
		warnx("%s", e.msg);
		status = 1;
	} else
		stage_flushed(&st);
	if (stage_close(&st) != 0)
		status = 1;
	free(dead);
	return status;
}

int
main(int argc, char *argv[])
{
	struct config c;

	cmd_usage_text = usage_text;
	stage_init(&st, "fanout");
	st.checkpoints = true;
	memset(&c, 0, sizeof(c));
	c.mode = BROADCAST;
	c.restarts = 5;
	c.oo.sink.interval = LS_SS_DEFAULT_INTERVAL;
	parse(argc, argv, &c);
	c.oo.sink.flush_delivers = st.cp.file != NULL;
	open_all(&c);
	run(&c);
	return close_all();
}
