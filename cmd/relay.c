/* relay: move a stream from input URIs to an output URI. */
#include <getopt.h>

#include "cmd.h"

struct input {
	struct stage st;
	ls_msg m;		/* its next message, borrowed */
	bool live;
};

static ls_sink *sink;
static struct input *inputs;
static size_t ninputs;
static int wait_rc = LS_OK;
static ls_error wait_err;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: relay [-fq] [-i input]... [-o output] [--append]\n"
	    "             [--beacon-interval bytes] [--force] [--from position]\n"
	    "             [--no-eos] [--on-bad-line fail|skip|raw] "
	    "[--skip-corrupt]\n"
	    "             [--stats] [--stats-interval duration]\n"
	    "             [--sync none|interval|every]\n"
	    "             [--group name] [--consumer name] "
	    "[--claim-idle duration]\n"
	    "             [--maxlen count] [--exit-at-end] "
	    "[--key field:name]\n"
	    "             [--partition shard] [--headers] "
	    "[-X name=value]\n");
	exit(2);
}

/* What the output has taken is acknowledged to brokers. */
static void
commit_inputs(void)
{
	ls_error e;

	for (size_t i = 0; wait_rc == LS_OK && i < ninputs; i++)
		if (inputs[i].st.src != NULL &&
		    ls_source_commit(inputs[i].st.src, &e) != LS_OK)
			warnx("%s: %s", ls_source_name(inputs[i].st.src),
			    e.msg);
}

/* Before the input waits, everything read so far goes out. */
static void
flush_output(void *ctx)
{
	(void)ctx;
	if (sink != NULL && wait_rc == LS_OK)
		wait_rc = ls_sink_flush(sink, &wait_err);
	commit_inputs();
}

static void
output_failed(const ls_error *e)
{
	cmd_output_failed(cmd_to_stdout(sink), e);
}

/* An output that failed while an input waited ends the program. */
static void
check_wait(void)
{
	if (wait_rc != LS_OK)
		output_failed(&wait_err);
}

static void
abort_output(void)
{
	if (sink != NULL)
		ls_sink_abort(sink, NULL);
	sink = NULL;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "append", no_argument, NULL, 'A' },
		{ "beacon-interval", required_argument, NULL, 'B' },
		{ "follow", no_argument, NULL, 'f' },
		{ "force", no_argument, NULL, 'F' },
		{ "claim-idle", required_argument, NULL, 'c' },
		{ "consumer", required_argument, NULL, 'u' },
		{ "exit-at-end", no_argument, NULL, 'e' },
		{ "from", required_argument, NULL, 'P' },
		{ "group", required_argument, NULL, 'g' },
		{ "headers", no_argument, NULL, 'H' },
		{ "key", required_argument, NULL, 'k' },
		{ "maxlen", required_argument, NULL, 'M' },
		{ "partition", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "input", required_argument, NULL, 'i' },
		{ "no-eos", no_argument, NULL, 'E' },
		{ "on-bad-line", required_argument, NULL, 'L' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "skip-corrupt", no_argument, NULL, 'C' },
		{ "stats", no_argument, NULL, 'S' },
		{ "stats-interval", required_argument, NULL, 'I' },
		{ "sync", required_argument, NULL, 'Y' },
		{ NULL, 0, NULL, 0 }
	};
	struct stage opt;
	ls_source_opts *so = &opt.so;
	ls_sink_opts ko;
	ls_error e;
	const char **uris = NULL, *output = "-";
	const char **props = NULL;
	size_t nprops = 0;
	struct input *in;
	size_t nin = 0;
	uint64_t eos_ts = 0;
	int ch, status = 0;

	stage_init(&opt, "relay");
	memset(&ko, 0, sizeof(ko));
	ko.interval = LS_SS_DEFAULT_INTERVAL;
	while ((ch = getopt_long(argc, argv, "fhi:o:qX:", longopts, NULL)) !=
	    -1) {
		if (ch != 'i' && (cmd_sink_option(ch, optarg, &ko) ||
		    stage_option(&opt, ch, optarg)))
			continue;
		switch (ch) {
		case 'E':
			ko.no_eos = true;
			break;
		case 'P':
			so->from_given = true;
			if (strncmp(optarg, "id:", 3) == 0 && optarg[3] != '\0')
				so->from_id = optarg + 3;
			else if (ls_pos_parse(optarg, &so->from, &e) != LS_OK)
				errx(2, "--from: %s", e.msg);
			break;
		case 'X':
			if (strchr(optarg, '=') == NULL)
				errx(2, "-X: '%s' is not name=value", optarg);
			if ((props = reallocarray(props, nprops + 2,
			    sizeof(*props))) == NULL)
				err(1, NULL);
			props[nprops++] = optarg;
			props[nprops] = NULL;
			so->props = ko.props = props;
			break;
		case 'c':
			so->claim_idle_ms = cmd_duration(optarg, "--claim-idle") /
			    1000;
			break;
		case 'e':
			so->exit_at_end = true;
			break;
		case 'g':
			so->group = optarg;
			/* a commit waits for what went out to be taken */
			ko.flush_delivers = true;
			break;
		case 'H':
			ko.meta_headers = true;
			break;
		case 'k':
			if (strncmp(optarg, "field:", 6) != 0 || optarg[6] == '\0')
				errx(2, "--key: '%s' is not field:NAME", optarg);
			ko.key_field = optarg + 6;
			break;
		case 'M':
			ko.maxlen = (uint64_t)cmd_number(optarg, 1, LLONG_MAX,
			    "--maxlen");
			break;
		case 'p':
			if (strcmp(optarg, "shard") != 0)
				errx(2, "--partition: '%s' is not shard", optarg);
			ko.partition_by_shard = true;
			break;
		case 'u':
			so->consumer = optarg;
			break;
		case 'Y':
			if (strcmp(optarg, "none") == 0)
				ko.sync = LS_SYNC_NONE;
			else if (strcmp(optarg, "interval") == 0)
				ko.sync = LS_SYNC_INTERVAL;
			else if (strcmp(optarg, "every") == 0)
				ko.sync = LS_SYNC_EVERY;
			else
				errx(2, "--sync: '%s' is not none, interval or "
				    "every", optarg);
			break;
		case 'f':
			so->follow = true;
			break;
		case 'i':
			if ((uris = reallocarray(uris, nin + 1,
			    sizeof(*uris))) == NULL)
				err(1, NULL);
			uris[nin++] = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();
	if (ko.append && ko.force)
		errx(2, "--append and --force do not go together");
	if (nin == 0) {
		static const char *stdin_uri = "-";
		uris = &stdin_uri;
		nin = 1;
	}
	if (so->follow && nin > 1)
		errx(2, "--follow takes a single input");
	if (so->consumer != NULL && so->group == NULL)
		errx(2, "--consumer goes with --group");

	stage_start(&opt);
	so->on_wait = flush_output;
	opt.abort = abort_output;
	opt.after_read = check_wait;
	if ((in = calloc(nin, sizeof(*in))) == NULL)
		err(1, NULL);
	inputs = in;
	ninputs = nin;
	for (size_t i = 0; i < nin; i++) {
		in[i].st = opt;
		in[i].st.uri = uris[i];
		stage_open_input(&in[i].st);
	}
	sink = cmd_sink_open(output, &ko);

	for (size_t i = 0; i < nin; i++)
		in[i].live = stage_next(&in[i].st, &in[i].m) == LS_OK;
	for (;;) {
		/* the earliest head goes first; ties keep input order */
		struct input *next = NULL;
		for (size_t i = 0; i < nin; i++)
			if (in[i].live && (next == NULL ||
			    in[i].m.ts_ms < next->m.ts_ms))
				next = &in[i];
		if (next == NULL)
			break;
		int rc = ls_sink_write(sink, &next->m, &e);
		if (rc == LS_ERR_NOTLINE)
			status = 1;
		if (!cmd_written(rc, &next->m, next->st.src,
		    ls_sink_name(sink), &e))
			output_failed(&e);
		next->live = stage_next(&next->st, &next->m) == LS_OK;
	}
	for (size_t i = 0; i < nin; i++)
		if (in[i].st.eos_ts > eos_ts)
			eos_ts = in[i].st.eos_ts;

	ls_msg eos;
	ls_msg_eos(&eos, eos_ts ? eos_ts : ls_now_ms());
	/* a line output forwards an End-of-Stream it was given */
	ls_sink *k = sink;
	sink = NULL;
	if (cmd_sink_close(k, ls_sink_is_ss(k) || eos_ts ? &eos : NULL) != 0)
		exit(1);
	commit_inputs();
	for (size_t i = 0; i < nin; i++)
		stage_close_input(&in[i].st);
	if (stage_end(&opt) != 0)
		status = 1;
	free(in);
	if (uris != NULL && nin > 0 && strcmp(uris[0], "-") != 0)
		free(uris);
	free(props);
	return status;
}
