/* partition: route each message by a key to one of N outputs. */
#include <poll.h>

#include "members.h"

enum by { BY_STREAM, BY_FIELD, BY_SHARD };

static struct stage st;
static ls_outs *outs;
static ls_sink *missing;
static struct members *ms;	/* --members */
static struct members_file mfile;
static struct members_etcd metcd;	/* --members etcd:// */
static uint64_t check_ms = 200, next_check;	/* --members-interval */
static bool check_given;
static int wait_rc = LS_OK;
static ls_error wait_err;

static const char usage_text[] =
    "usage: partition -n count [-hq] [-i input] [--hash jump|kafka]\n"
    "                 [--keep-shard] [--key stream|field:name|shard]\n"
    "                 [--missing output] [--on-bad-line fail|skip|raw]\n"
    "                 [--append | --force] [--beacon-interval bytes]\n"
    "                 [--no-eos] [--restarts count] [--skip-corrupt]\n"
    "                 [--stats] [--stats-interval duration]\n"
    "                 [--rate n/s|n/m [--burst n]] [--progress]\n"
    "                 [--checkpoint file [--checkpoint-reset]]\n"
    "                 template | --exec command\n"
    "       partition --members file | etcd://host:port/prefix\n"
    "                 [--members-interval duration]\n"
    "                 [options as above, with --key stream|field:name]\n"
    "       partition --version\n";

struct config {
	ls_outs_opts oo;
	enum by by;
	const char *field, *missing_uri, *members;
	size_t field_len;
	char **uris;
	bool kafka, keep_shard;
	uint32_t n;
};

static void
abort_outputs(void)
{
	if (outs != NULL)
		ls_outs_abort(outs, NULL);
	if (missing != NULL)
		ls_sink_abort(missing, NULL);
	if (ms != NULL)
		members_abort(ms);
	ms = NULL;
	outs = NULL;
	missing = NULL;
}

static void
flush_outputs(void *ctx)
{
	(void)ctx;
	if (wait_rc == LS_OK && outs != NULL)
		wait_rc = ls_outs_flush(outs, &wait_err);
	if (wait_rc == LS_OK && ms != NULL)
		wait_rc = members_flush(ms, &wait_err);
	if (wait_rc == LS_OK && missing != NULL)
		wait_rc = ls_sink_flush(missing, &wait_err);
	if (wait_rc == LS_OK)
		stage_flushed(&st);
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
				cmd_usage("template: '%%%c' is not %%d or %%%%",
				    tpl[1] ? tpl[1] : ' ');
			tpl++;
		}
	return found;
}

static void
parse_key(struct config *c, const char *arg)
{
	if (strcmp(arg, "stream") == 0)
		c->by = BY_STREAM;
	else if (strcmp(arg, "shard") == 0)
		c->by = BY_SHARD;
	else if (strncmp(arg, "field:", 6) == 0 && arg[6] != '\0') {
		c->by = BY_FIELD;
		c->field = arg + 6;
		c->field_len = strlen(c->field);
	} else
		cmd_usage("--key: '%s' is not stream, shard or field:NAME",
		    arg);
}

/* --members takes the place of -n, the template and --exec. */
static void
check_members(const struct config *c, int argc, char *argv[])
{
	if (c->n != 0)
		cmd_usage("--members and -n do not go together");
	if (c->oo.exec != NULL)
		cmd_usage("--members and --exec do not go together");
	if (argc != 0)
		cmd_usage("--members takes no template, but '%s' is given",
		    argv[0]);
	if (c->by == BY_SHARD)
		cmd_usage("--members goes with --key stream or field:NAME");
	if (c->kafka)
		cmd_usage("--members hashes by name: no --hash");
	if (c->missing_uri != NULL && c->by != BY_FIELD)
		cmd_usage("--missing goes with --key field:NAME");
	if (c->oo.sink.append && c->oo.sink.force)
		cmd_usage("--append and --force do not go together");
}

/* The outputs: the template's, or the workers of --exec. */
static void
check_outputs(struct config *c, int argc, char *argv[])
{
	if (c->members != NULL) {
		check_members(c, argc, argv);
		return;
	}
	if (check_given)
		cmd_usage("--members-interval goes with --members");
	if (c->n == 0)
		cmd_usage("-n: the number of partitions is needed");
	if (c->oo.exec != NULL && argc != 0)
		cmd_usage("--exec takes no template, but '%s' is given",
		    argv[0]);
	if (c->oo.exec == NULL && argc == 0)
		cmd_usage("no template given (a template, or --exec)");
	if (argc > 1)
		cmd_usage("one template only, but '%s' follows it", argv[1]);
	if (c->oo.sink.append && c->oo.sink.force)
		cmd_usage("--append and --force do not go together");
	if (c->missing_uri != NULL && c->by != BY_FIELD)
		cmd_usage("--missing goes with --key field:NAME");
	if (c->oo.exec != NULL)
		return;
	if (!has_number(argv[0]) && c->n > 1)
		cmd_usage("template '%s' has no %%d for the partition number",
		    argv[0]);
	if ((c->uris = calloc(c->n, sizeof(*c->uris))) == NULL)
		err(1, NULL);
	for (uint32_t i = 0; i < c->n; i++)
		c->uris[i] = expand(argv[0], i);
}

static void
parse(int argc, char *argv[], struct config *c)
{
	static const struct option longopts[] = {
		{ "append", no_argument, NULL, 'A' },
		{ "beacon-interval", required_argument, NULL, 'B' },
		{ "exec", required_argument, NULL, 'x' },
		{ "force", no_argument, NULL, 'F' },
		{ "hash", required_argument, NULL, 'H' },
		{ "keep-shard", no_argument, NULL, 'K' },
		{ "key", required_argument, NULL, 'k' },
		{ "members", required_argument, NULL, CMD_OPT_MEMBERS },
		{ "members-interval", required_argument, NULL,
		    CMD_OPT_MEMBERS + 1 },
		{ "missing", required_argument, NULL, 'M' },
		{ "no-eos", no_argument, NULL, 'E' },
		{ "restart", required_argument, NULL, 'R' },	/* alias */
		{ "restarts", required_argument, NULL, 'R' },
		CMD_LONGOPTS,
		STAGE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "hi:n:q", longopts, NULL)) != -1) {
		cmd_option(ch);
		if (cmd_sink_option(ch, optarg, &c->oo.sink) ||
		    stage_option(&st, ch, optarg))
			continue;
		switch (ch) {
		case CMD_OPT_MEMBERS:
			c->members = optarg;
			break;
		case CMD_OPT_MEMBERS + 1:
			check_ms = cmd_duration(optarg, "--members-interval") /
			    1000;
			check_given = true;
			break;
		case 'E':
			c->oo.sink.no_eos = true;
			break;
		case 'H':
			if (strcmp(optarg, "kafka") == 0)
				c->kafka = true;
			else if (strcmp(optarg, "jump") != 0)
				cmd_usage("--hash: '%s' is not jump or kafka",
				    optarg);
			break;
		case 'K':
			c->keep_shard = true;
			break;
		case 'M':
			c->missing_uri = optarg;
			break;
		case 'R':
			c->oo.restarts = (unsigned)cmd_number(optarg, 0, 1000,
			    "--restarts");
			break;
		case 'k':
			parse_key(c, optarg);
			break;
		case 'n':
			c->n = (uint32_t)cmd_number(optarg, 1, 65536,
			    "partition count");
			break;
		case 'x':
			c->oo.exec = optarg;
			break;
		default:
			cmd_usage(NULL);
		}
	}
	check_outputs(c, argc - optind, argv + optind);
}

/* Looks at the --members file again (force: on SIGHUP), or at etcd's
 * watch, and applies what changed; a bad file keeps the membership,
 * with a warning. */
static void
check_members_file(bool force)
{
	struct member_list l = { 0 };
	char why[LS_ERRMSG_MAX + 128];
	uint64_t before = members_changes(ms);
	ls_error e;
	int rc;

	/* etcd: the changes its watch has brought */
	if (metcd.src != NULL && members_etcd_poll(&metcd, ms, &e) != LS_OK)
		output_failed(&e);
	switch (metcd.src != NULL ? 0 :
	    members_file_poll(&mfile, force, &l, why, sizeof(why))) {
	case -1:
		warnx("members: %s (membership unchanged)", why);
		break;
	case 1:
		rc = members_set(ms, &l, &e);
		if (rc == LS_ERR_INVAL)
			warnx("members: %s", e.msg);
		else if (rc != LS_OK)
			output_failed(&e);
		else if (force && members_changes(ms) == before)
			warnx("members: %s read again: no change", mfile.path);
		break;
	}
	member_list_free(&l);
	cmd_stats.changes = members_changes(ms);
	cmd_stats.targets = members_count(ms);
	next_check = ls_mono_ms() + check_ms;
}

/* The input waits: the --members file is looked at meanwhile, every
 * --members-interval and on SIGHUP (gives up so that the main loop
 * does it). */
static int
wait_input(void *ctx, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	(void)ctx;
	for (;;) {
		uint64_t now = ls_mono_ms();
		if (cmd_stop || cmd_hup || (check_ms > 0 && now >= next_check))
			return 1;
		/* a SIGHUP between this look and poll is seen within
		 * 200 ms */
		int ms_left = check_ms > 0 && next_check - now < 200 ?
		    (int)(next_check - now) : 200;
		if (fd < 0) {	/* a follower's pause */
			(void)poll(NULL, 0, ms_left < 50 ? ms_left : 50);
			return cmd_hup || cmd_stop;
		}
		int r = poll(&p, 1, ms_left);
		if (r > 0 || (r < 0 && errno != EINTR))
			return 0;	/* the read tells */
	}
}

static void
open_members(struct config *c)
{
	struct member_list l = { 0 };
	char why[LS_ERRMSG_MAX + 128];
	ls_error e;

	if ((strncmp(c->members, "etcd://", 7) == 0 ?
	    members_etcd_open(&metcd, c->members, &l, why, sizeof(why)) :
	    members_file_open(&mfile, c->members, &l, why, sizeof(why))) != 0)
		errx(1, "%s", why);
	ms = members_new(&c->oo.sink);
	if (members_set(ms, &l, &e) != LS_OK) {
		member_list_free(&l);
		warnx("%s", e.msg);
		abort_outputs();
		exit(1);
	}
	member_list_free(&l);
	cmd_stats.members = true;
	cmd_stats.targets = members_count(ms);
	next_check = ls_mono_ms() + check_ms;
}

static void
open_all(struct config *c)
{
	ls_error e;

	st.abort = abort_outputs;
	st.so.on_wait = flush_outputs;
	if (c->members != NULL) {
		st.so.wait = wait_input;
		cmd_catch_hup();
	}
	stage_open(&st);
	c->oo.stop = c->oo.sink.stop = &cmd_stop;
	if (c->members != NULL)
		open_members(c);
	else if ((outs = ls_outs_open((const char *const *)c->uris, c->n, &c->oo,
	    &e)) == NULL)
		errx(1, "%s", e.msg);
	if (outs != NULL)
		cmd_outs_opened(outs);
	if (c->missing_uri != NULL && (missing = ls_sink_open(c->missing_uri,
	    &c->oo.sink, &e)) == NULL) {
		warnx("%s", e.msg);
		abort_outputs();
		exit(1);
	}
}

/*
 * The partition of key hash h (ls_hash_jump's, or with --members the
 * target members_pick gives), remembered for recent hashes: the jump
 * hash's loop of divisions runs a number of times that varies with the
 * key, which costs branch mispredictions when many keys come in no order
 * (perf of partition --key field: with 1,000 user ids: 7% of the time),
 * and rendezvous hashing weighs every target. A hash may sit in one of
 * two slots, found by different bits of it, and goes to the second when
 * the first is taken and the second is free: with one slot a hash, 16%
 * of make bench's messages by 1,000 user ids found theirs taken by
 * another (best of 61 runs of 200,000: 34.0 ms; 32.1 with two, where
 * only a key's first message computes its partition). The hashes and
 * the partitions are kept apart, 48 KiB where slots of both and the
 * epoch took 96 KiB. Every slot is emptied when the membership changes
 * (its epoch).
 */
#define PICK_SLOTS 4096
static uint64_t pick_h[PICK_SLOTS];
static uint32_t pick_part[PICK_SLOTS];	/* the partition + 1; 0: empty */
static uint64_t pick_epoch;

static size_t
pick(const struct config *c, uint64_t h)
{
	size_t i = (size_t)(h ^ h >> 29) & (PICK_SLOTS - 1);
	size_t k = (size_t)(h >> 40) & (PICK_SLOTS - 1);
	uint64_t epoch = ms != NULL ? members_epoch(ms) : 0;
	uint32_t part;

	if (epoch != pick_epoch) {
		memset(pick_part, 0, sizeof(pick_part));
		pick_epoch = epoch;
	}
	if (pick_h[i] == h && pick_part[i] != 0)
		return pick_part[i] - 1;
	if (pick_h[k] == h && pick_part[k] != 0)
		return pick_part[k] - 1;
	part = (uint32_t)(ms != NULL ? members_pick(ms, h) :
	    ls_hash_jump(h, c->n));
	if (pick_part[i] != 0 && pick_part[k] == 0)
		i = k;
	pick_h[i] = h;
	pick_part[i] = part + 1;
	return part;
}

/* Routes m to its partition (or to the --missing output). */
static void
route(const struct config *c, ls_msg *m)
{
	const void *key = m->key;
	size_t len = m->key_len, part;
	const unsigned char *v;
	ls_error e;
	int rc;

	if (c->by == BY_FIELD) {
		if (ls_json_field_n(m->payload, m->len, c->field,
		    c->field_len, &v, &len) != LS_OK) {
			key = NULL;
			len = 0;
		} else
			key = v;
	}
	if (ms != NULL)		/* by name; the shard is kept */
		part = pick(c, ls_hash64(key ? key : "", len));
	else if (c->by == BY_SHARD)
		part = (size_t)(m->shard % c->n);
	else if (key == NULL)
		part = 0;
	else if (c->kafka)
		part = ls_partition_kafka(key, len, c->n);
	else
		part = pick(c, ls_hash64(key, len));
	if (!c->keep_shard && ms == NULL && (key != NULL || missing == NULL))
		m->shard = part;
	if (key == NULL && missing != NULL)
		rc = ls_sink_write(missing, m, &e);
	else if (ms != NULL)
		rc = members_write(ms, part, m, &e);
	else
		rc = ls_outs_write(outs, part, m, &e);
	if (!cmd_written(rc, m, st.src, NULL, &e))
		output_failed(&e);
}

static int
close_all(struct config *c)
{
	ls_error e;
	ls_msg eos;
	int rc, status = 0;

	for (size_t i = 0; outs != NULL && i < ls_outs_count(outs); i++)
		if (ls_outs_restarts(outs, i) > 0 && !st.quiet)
			warnx("%s was started again %u time%s so far",
			    ls_outs_name(outs, i), ls_outs_restarts(outs, i),
			    ls_outs_restarts(outs, i) == 1 ? "" : "s");
	if (outs != NULL)
		rc = ls_outs_close(outs, stage_eos(&st, &eos), &e);
	else
		rc = members_close(ms, stage_eos(&st, &eos), &e);
	outs = NULL;
	ms = NULL;
	if (metcd.src != NULL)
		members_etcd_close(&metcd);
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
	if (status == 0)
		stage_flushed(&st);
	if (stage_close(&st) != 0)
		status = 1;
	if (c->uris != NULL)
		for (uint32_t i = 0; i < c->n; i++)
			free(c->uris[i]);
	free(c->uris);
	return status;
}

/* Reads and routes until the input ends; with --members, looks at its
 * file every --members-interval (the clock read every 256 messages, or
 * when the input waits) and on SIGHUP. */
static void
run(const struct config *c)
{
	unsigned tick = 0;
	ls_msg m;
	int rc;

	while (!cmd_stop) {
		rc = stage_next(&st, &m);
		if (wait_rc != LS_OK)
			output_failed(&wait_err);
		if (rc == LS_OK)
			route(c, &m);
		else if (rc != LS_AGAIN)
			break;
		if (ms == NULL)
			continue;
		if (cmd_hup) {
			cmd_hup = 0;
			check_members_file(true);
		} else if ((rc == LS_AGAIN || (++tick & 255) == 0) &&
		    check_ms > 0 && ls_mono_ms() >= next_check)
			check_members_file(false);
	}
}

int
main(int argc, char *argv[])
{
	struct config c;

	cmd_usage_text = usage_text;
	stage_init(&st, "partition");
	st.checkpoints = true;
	memset(&c, 0, sizeof(c));
	c.by = BY_STREAM;
	c.oo.sink.interval = LS_SS_DEFAULT_INTERVAL;
	parse(argc, argv, &c);
	c.oo.sink.flush_delivers = st.cp.file != NULL;
	open_all(&c);
	run(&c);
	if (wait_rc != LS_OK)
		output_failed(&wait_err);
	return close_all(&c);
}
