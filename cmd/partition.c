/* partition: route each message by a key to one of N outputs. */
#include "cmd.h"

enum by { BY_STREAM, BY_FIELD, BY_SHARD };

static struct stage st;
static ls_outs *outs;
static ls_sink *missing;
static int wait_rc = LS_OK;
static ls_error wait_err;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: partition -n count [-q] [-i input] [--hash jump|kafka]\n"
	    "                 [--keep-shard] [--key stream|field:name|shard]\n"
	    "                 [--missing output] [--on-bad-line fail|skip|raw]\n"
	    "                 [--append | --force] [--beacon-interval bytes]\n"
	    "                 [--no-eos] [--restart count] [--skip-corrupt]\n"
	    "                 [--stats] [--stats-interval duration]\n"
	    "                 template | --exec command\n");
	exit(2);
}

static void
abort_outputs(void)
{
	if (outs != NULL)
		ls_outs_abort(outs, NULL);
	if (missing != NULL)
		ls_sink_abort(missing, NULL);
	outs = NULL;
	missing = NULL;
}

static void
flush_outputs(void *ctx)
{
	(void)ctx;
	if (wait_rc == LS_OK && outs != NULL)
		wait_rc = ls_outs_flush(outs, &wait_err);
	if (wait_rc == LS_OK && missing != NULL)
		wait_rc = ls_sink_flush(missing, &wait_err);
}

static void
output_failed(const ls_error *e)
{
	warnx("%s", e->msg);
	abort_outputs();
	exit(1);
}

/* The template with %d replaced by i and %% by %. */
static char *
expand(const char *tpl, size_t i)
{
	char *s, *p;
	size_t n = strlen(tpl) * 10 + 1;	/* "%d": up to 20 digits */

	if ((s = p = malloc(n)) == NULL)
		err(1, NULL);
	for (; *tpl != '\0'; tpl++) {
		if (tpl[0] == '%' && tpl[1] == 'd') {
			p += snprintf(p, 21, "%zu", i);
			tpl++;
		} else if (tpl[0] == '%' && tpl[1] == '%') {
			*p++ = '%';
			tpl++;
		} else
			*p++ = *tpl;
	}
	*p = '\0';
	return s;
}

static bool
has_number(const char *tpl)
{
	bool found = false;

	for (; *tpl != '\0'; tpl++)
		if (tpl[0] == '%') {
			if (tpl[1] == 'd')
				found = true;
			else if (tpl[1] != '%')
				errx(2, "template: '%%%c' is not %%d or %%%%",
				    tpl[1] ? tpl[1] : ' ');
			tpl++;
		}
	return found;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "append", no_argument, NULL, 'A' },
		{ "beacon-interval", required_argument, NULL, 'B' },
		{ "exec", required_argument, NULL, 'x' },
		{ "force", no_argument, NULL, 'F' },
		{ "hash", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "keep-shard", no_argument, NULL, 'K' },
		{ "key", required_argument, NULL, 'k' },
		{ "missing", required_argument, NULL, 'M' },
		{ "no-eos", no_argument, NULL, 'E' },
		{ "restart", required_argument, NULL, 'R' },
		STAGE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	ls_outs_opts oo;
	ls_error e;
	ls_msg m, eos;
	enum by by = BY_STREAM;
	const char *field = NULL, *missing_uri = NULL;
	char **uris = NULL;
	bool kafka = false, keep_shard = false;
	uint32_t n = 0;
	int ch, rc, status;

	stage_init(&st, "partition");
	memset(&oo, 0, sizeof(oo));
	oo.sink.interval = LS_SS_DEFAULT_INTERVAL;
	while ((ch = getopt_long(argc, argv, "hi:n:q", longopts, NULL)) != -1) {
		if (cmd_sink_option(ch, optarg, &oo.sink) ||
		    stage_option(&st, ch, optarg))
			continue;
		switch (ch) {
		case 'E':
			oo.sink.no_eos = true;
			break;
		case 'H':
			if (strcmp(optarg, "kafka") == 0)
				kafka = true;
			else if (strcmp(optarg, "jump") != 0)
				errx(2, "--hash: '%s' is not jump or kafka",
				    optarg);
			break;
		case 'K':
			keep_shard = true;
			break;
		case 'M':
			missing_uri = optarg;
			break;
		case 'R':
			oo.restarts = (unsigned)cmd_number(optarg, 0, 1000,
			    "--restart");
			break;
		case 'k':
			if (strcmp(optarg, "stream") == 0)
				by = BY_STREAM;
			else if (strcmp(optarg, "shard") == 0)
				by = BY_SHARD;
			else if (strncmp(optarg, "field:", 6) == 0 &&
			    optarg[6] != '\0') {
				by = BY_FIELD;
				field = optarg + 6;
			} else
				errx(2, "--key: '%s' is not stream, shard or "
				    "field:NAME", optarg);
			break;
		case 'n':
			n = (uint32_t)cmd_number(optarg, 1, 65536,
			    "partition count");
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
	if (n == 0)
		errx(2, "-n: the number of partitions is needed");
	if ((oo.exec == NULL) == (argc != 1))
		usage();
	if (oo.sink.append && oo.sink.force)
		errx(2, "--append and --force do not go together");
	if (missing_uri != NULL && by != BY_FIELD)
		errx(2, "--missing goes with --key field:NAME");
	if (oo.exec == NULL) {
		if (!has_number(argv[0]) && n > 1)
			errx(2, "template '%s' has no %%d for the partition "
			    "number", argv[0]);
		if ((uris = calloc(n, sizeof(*uris))) == NULL)
			err(1, NULL);
		for (uint32_t i = 0; i < n; i++)
			uris[i] = expand(argv[0], i);
	}

	st.abort = abort_outputs;
	st.so.on_wait = flush_outputs;
	stage_open(&st);
	oo.stop = oo.sink.stop = &cmd_stop;
	if ((outs = ls_outs_open((const char *const *)uris, n, &oo, &e)) ==
	    NULL)
		errx(1, "%s", e.msg);
	cmd_outs_opened(outs);
	if (missing_uri != NULL &&
	    (missing = ls_sink_open(missing_uri, &oo.sink, &e)) == NULL) {
		warnx("%s", e.msg);
		abort_outputs();
		exit(1);
	}

	while (!cmd_stop && (rc = stage_next(&st, &m)) == LS_OK) {
		const void *key = m.key;
		size_t len = m.key_len, part;
		const unsigned char *v;

		if (wait_rc != LS_OK)
			output_failed(&wait_err);
		if (by == BY_FIELD) {
			if (ls_json_field(m.payload, m.len, field, &v, &len) !=
			    LS_OK) {
				key = NULL;
				len = 0;
			} else
				key = v;
		}
		if (by == BY_SHARD)
			part = (size_t)(m.shard % n);
		else if (key == NULL)
			part = 0;
		else if (kafka)
			part = ls_partition_kafka(key, len, n);
		else
			part = ls_hash_jump(ls_hash64(key, len), n);
		if (!keep_shard && (key != NULL || missing == NULL))
			m.shard = part;
		if (key == NULL && missing != NULL)
			rc = ls_sink_write(missing, &m, &e);
		else
			rc = ls_outs_write(outs, part, &m, &e);
		if (!cmd_written(rc, &m, st.src, NULL, &e))
			output_failed(&e);
	}
	if (wait_rc != LS_OK)
		output_failed(&wait_err);
	status = 0;
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
	if (missing != NULL &&
	    ls_sink_close(missing, stage_eos(&st, &eos), &e) != LS_OK) {
		warnx("%s", e.msg);
		status = 1;
	}
	missing = NULL;
	if (stage_close(&st) != 0)
		status = 1;
	if (uris != NULL)
		for (uint32_t i = 0; i < n; i++)
			free(uris[i]);
	free(uris);
	return status;
}
