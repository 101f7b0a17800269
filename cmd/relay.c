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

enum { OPT_LEASE = 0x240 };	/* etcd's block of option codes */
static ls_error wait_err;

static const char usage_text[] =
    "usage: relay [-fhq] [-i input]... [-o output] [--append]\n"
    "             [--beacon-interval bytes] [--force] [--from position]\n"
    "             [--no-eos] [--on-bad-line fail|skip|raw] [--skip-corrupt]\n"
    "             [--stats] [--stats-interval duration]\n"
    "             [--checkpoint file [--checkpoint-reset]]\n"
    "             [--sync none|interval|every]\n"
    "             [--group name] [--consumer name] [--claim-idle duration]\n"
    "             [--maxlen count] [--exit-at-end] [--key field:name]\n"
    "             [--partition shard] [--headers] [-X name=value]\n"
    "             [--max-body bytes] [--max-queue bytes] [--token-file file]\n"
    "             [--rate n/s|n/m [--burst n]] [--progress]\n"
    "             [--lease ttl]\n"
    "             [--idle-timeout duration] [--max-clients n]\n"
    "             [--max-line bytes] [--tls-cert file --tls-key file]\n"
    "       relay --version\n";

struct config {
	struct stage opt;	/* the options of every input */
	ls_sink_opts ko;
	const char **uris;
	size_t nin;
	const char *output;
	const char **props;
	size_t nprops;
};

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

/* What the output has taken is recorded in the checkpoint files. */
static void
checkpoint_inputs(void)
{
	for (size_t i = 0; wait_rc == LS_OK && i < ninputs; i++)
		stage_checkpoint(&inputs[i].st);
}

/* Before the input waits, everything read so far goes out. */
static void
flush_output(void *ctx)
{
	(void)ctx;
	if (sink != NULL && wait_rc == LS_OK)
		wait_rc = ls_sink_flush(sink, &wait_err);
	commit_inputs();
	if (sink != NULL)
		checkpoint_inputs();
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

static void
add_prop(struct config *c, const char *arg)
{
	if (strchr(arg, '=') == NULL)
		cmd_usage("-X: '%s' is not name=value", arg);
	if ((c->props = reallocarray(c->props, c->nprops + 2,
	    sizeof(*c->props))) == NULL)
		err(1, NULL);
	c->props[c->nprops++] = arg;
	c->props[c->nprops] = NULL;
	c->opt.so.props = c->ko.props = c->props;
}

static void
add_input(struct config *c, const char *uri)
{
	if ((c->uris = reallocarray(c->uris, c->nin + 1,
	    sizeof(*c->uris))) == NULL)
		err(1, NULL);
	c->uris[c->nin++] = uri;
}

/* The options of the sink (a broker's among them); false if ch is not
 * one. */
static bool
sink_option(struct config *c, int ch, const char *arg)
{
	ls_sink_opts *ko = &c->ko;

	switch (ch) {
	case 'E':
		ko->no_eos = true;
		break;
	case 'H':
		ko->meta_headers = true;
		break;
	case 'k':
		if (strncmp(arg, "field:", 6) != 0 || arg[6] == '\0')
			cmd_usage("--key: '%s' is not field:NAME", arg);
		ko->key_field = arg + 6;
		break;
	case OPT_LEASE:
		ko->lease_ttl_s = cmd_duration(arg, "--lease") / 1000000;
		if (ko->lease_ttl_s == 0)
			cmd_usage("--lease: '%s' is under a second", arg);
		break;
	case 'M':
		ko->maxlen = (uint64_t)cmd_number(arg, 1, LLONG_MAX,
		    "--maxlen");
		break;
	case 'p':
		if (strcmp(arg, "shard") != 0)
			cmd_usage("--partition: '%s' is not shard", arg);
		ko->partition_by_shard = true;
		break;
	case 'Y':
		if (strcmp(arg, "none") == 0)
			ko->sync = LS_SYNC_NONE;
		else if (strcmp(arg, "interval") == 0)
			ko->sync = LS_SYNC_INTERVAL;
		else if (strcmp(arg, "every") == 0)
			ko->sync = LS_SYNC_EVERY;
		else
			cmd_usage("--sync: '%s' is not none, interval or "
			    "every", arg);
		break;
	default:
		return cmd_sink_option(ch, arg, ko);
	}
	return true;
}

/* The options of the sources (a broker's among them); false if ch is
 * not one. */
static bool
source_option(struct config *c, int ch, const char *arg)
{
	ls_source_opts *so = &c->opt.so;
	ls_error e;

	switch (ch) {
	case 'P':
		so->from_given = true;
		if (strncmp(arg, "id:", 3) == 0 && arg[3] != '\0')
			so->from_id = arg + 3;
		else if (strncmp(arg, "rev:", 4) == 0) {
			/* an etcd revision: the sequence it becomes */
			so->from.from = LS_FROM_SEQ;
			so->from.value = (uint64_t)cmd_number(arg + 4, 1,
			    LLONG_MAX, "--from rev:");
		}
		else if (ls_pos_parse(arg, &so->from, &e) != LS_OK)
			cmd_usage("--from: %s", e.msg);
		break;
	case 'c':
		so->claim_idle_ms = cmd_duration(arg, "--claim-idle") / 1000;
		break;
	case 'e':
		so->exit_at_end = true;
		break;
	case 'f':
		so->follow = true;
		break;
	case 'g':
		so->group = arg;
		/* a commit waits for what went out to be taken */
		c->ko.flush_delivers = true;
		break;
	case 'u':
		so->consumer = arg;
		break;
	default:
		return ch != 'i' && stage_option(&c->opt, ch, arg);
	}
	return true;
}

static void
parse(int argc, char *argv[], struct config *c)
{
	static const struct option longopts[] = {
		{ "append", no_argument, NULL, 'A' },
		{ "beacon-interval", required_argument, NULL, 'B' },
		{ "claim-idle", required_argument, NULL, 'c' },
		{ "consumer", required_argument, NULL, 'u' },
		{ "exit-at-end", no_argument, NULL, 'e' },
		{ "follow", no_argument, NULL, 'f' },
		{ "force", no_argument, NULL, 'F' },
		{ "from", required_argument, NULL, 'P' },
		{ "group", required_argument, NULL, 'g' },
		{ "headers", no_argument, NULL, 'H' },
		{ "key", required_argument, NULL, 'k' },
		{ "lease", required_argument, NULL, OPT_LEASE },
		{ "maxlen", required_argument, NULL, 'M' },
		{ "no-eos", no_argument, NULL, 'E' },
		{ "output", required_argument, NULL, 'o' },
		{ "partition", required_argument, NULL, 'p' },
		{ "sync", required_argument, NULL, 'Y' },
		CMD_LONGOPTS,
		STAGE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "fhi:o:qX:", longopts, NULL)) !=
	    -1) {
		cmd_option(ch);
		if (sink_option(c, ch, optarg) || source_option(c, ch, optarg))
			continue;
		if (ch == 'X')
			add_prop(c, optarg);
		else if (ch == 'i')
			add_input(c, optarg);
		else if (ch == 'o')
			c->output = optarg;
		else
			cmd_usage(NULL);
	}
	if (optind < argc)
		cmd_usage("unexpected argument '%s' (inputs go with -i)",
		    argv[optind]);
	if (c->ko.append && c->ko.force)
		cmd_usage("--append and --force do not go together");
	if (c->nin == 0)
		add_input(c, "-");
	if (c->opt.so.follow && c->nin > 1)
		cmd_usage("--follow takes a single input");
	if (c->opt.cp.file != NULL && c->nin > 1)
		cmd_usage("--checkpoint takes a single input");
	/* a checkpoint waits for what went out to be taken */
	if (c->opt.cp.file != NULL)
		c->ko.flush_delivers = true;
	if (c->opt.so.consumer != NULL && c->opt.so.group == NULL)
		cmd_usage("--consumer goes with --group");
	if (c->ko.lease_ttl_s > 0 && strncmp(c->output, "etcd://", 7) != 0)
		cmd_usage("--lease goes with an etcd:// output");
}

static void
open_all(struct config *c)
{
	stage_start(&c->opt);
	c->opt.so.on_wait = flush_output;
	c->opt.abort = abort_output;
	c->opt.after_read = check_wait;
	if ((inputs = calloc(c->nin, sizeof(*inputs))) == NULL)
		err(1, NULL);
	ninputs = c->nin;
	for (size_t i = 0; i < ninputs; i++) {
		inputs[i].st = c->opt;
		inputs[i].st.uri = c->uris[i];
		stage_open_input(&inputs[i].st);
	}
	sink = cmd_sink_open(c->output, &c->ko);
}

/* The live input with the earliest head, the first of a tie; NULL if
 * none is live. */
static struct input *
earliest(void)
{
	struct input *next = NULL;

	for (size_t i = 0; i < ninputs; i++)
		if (inputs[i].live && (next == NULL ||
		    inputs[i].m.ts_ms < next->m.ts_ms))
			next = &inputs[i];
	return next;
}

/* Merges the inputs by time stamp into the output; the status of the
 * messages that could not be written (1), else 0. */
static int
merge(void)
{
	struct input *in = inputs, *next;
	const char *to = ls_sink_name(sink);
	ls_error e;
	int rc, status = 0;

	for (size_t i = 0; i < ninputs; i++)
		in[i].live = stage_next(&in[i].st, &in[i].m) == LS_OK;
	for (;;) {
		next = ninputs > 1 ? earliest() : in->live ? in : NULL;
		if (next == NULL)
			return status;
		rc = ls_sink_write(sink, &next->m, &e);
		if (rc == LS_ERR_NOTLINE)
			status = 1;
		if (!cmd_written(rc, &next->m, next->st.src, to, &e))
			output_failed(&e);
		next->live = stage_next(&next->st, &next->m) == LS_OK;
	}
}

/* Closes the output (with the latest End-of-Stream of the inputs),
 * commits and closes the inputs; returns the exit status. */
static int
close_all(struct config *c)
{
	uint64_t eos_ts = 0;
	ls_msg eos;
	ls_sink *k = sink;
	int status = 0;

	for (size_t i = 0; i < ninputs; i++)
		if (inputs[i].st.eos_ts > eos_ts)
			eos_ts = inputs[i].st.eos_ts;
	ls_msg_eos(&eos, eos_ts ? eos_ts : ls_now_ms());
	sink = NULL;
	/* a line output forwards an End-of-Stream it was given */
	if (cmd_sink_close(k, ls_sink_is_ss(k) || eos_ts ? &eos : NULL) != 0)
		exit(1);
	commit_inputs();
	checkpoint_inputs();
	for (size_t i = 0; i < ninputs; i++)
		stage_close_input(&inputs[i].st);
	if (stage_end(&c->opt) != 0)
		status = 1;
	free(inputs);
	free(c->uris);
	free(c->props);
	return status;
}

int
main(int argc, char *argv[])
{
	struct config c;
	int status;

	cmd_usage_text = usage_text;
	memset(&c, 0, sizeof(c));
	stage_init(&c.opt, "relay");
	c.opt.checkpoints = true;
	c.ko.interval = LS_SS_DEFAULT_INTERVAL;
	c.output = "-";
	parse(argc, argv, &c);
	open_all(&c);
	status = merge();
	if (close_all(&c) != 0)
		status = 1;
	return status;
}
