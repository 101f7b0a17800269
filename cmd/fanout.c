/* fanout: every message to every output, in turn, or on demand. */
#include "cmd.h"

enum mode { BROADCAST, ROUNDROBIN, DEMAND };

static struct stage st;
static ls_outs *outs;
static bool *dead;
static size_t ndead;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: fanout [-q] [-i input] [--mode broadcast|roundrobin|demand]\n"
	    "              [--on-bad-line fail|skip|raw] [--append | --force]\n"
	    "              [--beacon-interval bytes] [--no-eos] [--skip-corrupt]\n"
	    "              [--stats] [--stats-interval duration]\n"
	    "              output ... | --exec command -j count\n"
	    "              [--on-exit fail|restart] [--restarts count]\n");
	exit(2);
}

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

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "append", no_argument, NULL, 'A' },
		{ "beacon-interval", required_argument, NULL, 'B' },
		{ "exec", required_argument, NULL, 'x' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "mode", required_argument, NULL, 'm' },
		{ "no-eos", no_argument, NULL, 'E' },
		{ "on-exit", required_argument, NULL, 'X' },
		{ "restarts", required_argument, NULL, 'R' },
		STAGE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	ls_outs_opts oo;
	ls_error e;
	ls_msg m, eos;
	enum mode mode = BROADCAST;
	size_t n, next = 0, jobs = 0;
	unsigned restarts = 5;
	bool restart = false;
	int ch, rc, status;

	stage_init(&st, "fanout");
	memset(&oo, 0, sizeof(oo));
	oo.sink.interval = LS_SS_DEFAULT_INTERVAL;
	while ((ch = getopt_long(argc, argv, "hi:j:q", longopts, NULL)) !=
	    -1) {
		if (cmd_sink_option(ch, optarg, &oo.sink) ||
		    stage_option(&st, ch, optarg))
			continue;
		switch (ch) {
		case 'E':
			oo.sink.no_eos = true;
			break;
		case 'R':
			restarts = (unsigned)cmd_number(optarg, 0, 1000,
			    "--restarts");
			break;
		case 'X':
			if (strcmp(optarg, "restart") == 0)
				restart = true;
			else if (strcmp(optarg, "fail") == 0)
				restart = false;
			else
				errx(2, "--on-exit: '%s' is not fail or restart",
				    optarg);
			break;
		case 'j':
			jobs = (size_t)cmd_number(optarg, 1, 1024, "-j");
			break;
		case 'm':
			if (strcmp(optarg, "broadcast") == 0)
				mode = BROADCAST;
			else if (strcmp(optarg, "roundrobin") == 0)
				mode = ROUNDROBIN;
			else if (strcmp(optarg, "demand") == 0)
				mode = DEMAND;
			else
				errx(2, "--mode: '%s' is not broadcast, "
				    "roundrobin or demand", optarg);
			break;
		case 'x':
			oo.exec = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (oo.exec != NULL) {
		if (argc != 0 || jobs == 0)
			usage();
		n = jobs;
	} else {
		if (argc == 0 || jobs != 0 || restart)
			usage();
		n = (size_t)argc;
	}
	if (oo.sink.append && oo.sink.force)
		errx(2, "--append and --force do not go together");
	oo.restarts = restart ? restarts : 0;
	oo.demand = mode == DEMAND;
	if ((dead = calloc(n, sizeof(*dead))) == NULL)
		err(1, NULL);

	st.abort = abort_outputs;
	st.so.on_wait = flush_outputs;
	stage_open(&st);
	oo.stop = oo.sink.stop = &cmd_stop;
	if ((outs = ls_outs_open((const char *const *)argv, n, &oo, &e)) ==
	    NULL)
		errx(1, "%s", e.msg);
	cmd_outs_opened(outs);

	while (!cmd_stop && (rc = stage_next(&st, &m)) == LS_OK) {
		switch (mode) {
		case BROADCAST:
			for (size_t i = 0; i < n; i++)
				if (!dead[i])
					put(i, &m);
			break;
		case ROUNDROBIN:
			/* a failed output passes its turn on */
			do {
				while (dead[next])
					next = (next + 1) % n;
				size_t i = next;
				next = (next + 1) % n;
				if (put(i, &m))
					break;
			} while (1);
			break;
		case DEMAND:
			for (;;) {
				size_t i;
				/* stopped while waiting: m was read, so it
				 * still goes out, to the first live output */
				if ((rc = ls_outs_pick(outs, &i, &e)) == LS_END)
					i = 0;
				else if (rc != LS_OK) {
					warnx("%s", e.msg);
					abort_outputs();
					exit(1);
				}
				while (dead[i])	/* a sink that failed */
					i = (i + 1) % n;
				if (put(i, &m))
					break;
			}
			break;
		}
	}
	status = ndead > 0;
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
	}
	if (stage_close(&st) != 0)
		status = 1;
	free(dead);
	return status;
}
