/* clock: emit timed messages on an absolute schedule. */
#include <getopt.h>

#include "cmd.h"

static const char usage_text[] =
    "usage: clock [-h] [--catch-up] [--count n] [--interval duration]\n"
    "             [--output uri] [--payload template] [--stream key]\n"
    "             [--beacon-interval bytes] [--force | --append]\n"
    "       clock --version\n";

struct config {
	const char *output, *tpl;
	uint64_t interval_us, count;
	bool catch_up;
	ls_sink_opts ko;
	ls_msg m;		/* the key of every tick */
};

/* Expands the template: %n tick number, %t milliseconds since the
 * epoch, %T the time stamp, %% a percent sign. */
static size_t
expand(const char *tpl, uint64_t tick, uint64_t ts, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = tpl; *p != '\0'; p++) {
		if (n + 32 >= cap)
			return SIZE_MAX;
		if (*p != '%' || p[1] == '\0') {
			out[n++] = *p;
			continue;
		}
		switch (*++p) {
		case 'n':
			n += (size_t)snprintf(out + n, cap - n, "%llu",
			    (unsigned long long)tick);
			break;
		case 't':
			n += (size_t)snprintf(out + n, cap - n, "%llu",
			    (unsigned long long)ts);
			break;
		case 'T':
			n += ls_time_format(ts, out + n);
			break;
		case '%':
			out[n++] = '%';
			break;
		default:
			out[n++] = '%';
			out[n++] = *p;
		}
	}
	return n;
}

static void
add_us(struct timespec *t, uint64_t us)
{
	uint64_t ns = (uint64_t)t->tv_nsec + (us % 1000000) * 1000;

	t->tv_sec += (time_t)(us / 1000000 + ns / 1000000000);
	t->tv_nsec = (long)(ns % 1000000000);
}

static bool
before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void
parse(int argc, char *argv[], struct config *c)
{
	static const struct option longopts[] = {
		{ "append", no_argument, NULL, 'A' },
		{ "beacon-interval", required_argument, NULL, 'B' },
		{ "catch-up", no_argument, NULL, 'C' },
		{ "count", required_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'F' },
		{ "interval", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "payload", required_argument, NULL, 'p' },
		{ "stream", required_argument, NULL, 's' },
		CMD_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char *key = "clock";
	ls_error e;
	int ch;

	while ((ch = getopt_long(argc, argv, "hi:n:o:p:s:", longopts, NULL)) !=
	    -1) {
		cmd_option(ch);
		if (cmd_sink_option(ch, optarg, &c->ko))
			continue;
		switch (ch) {
		case 'C':
			c->catch_up = true;
			break;
		case 'i':
			c->interval_us = cmd_duration(optarg, "--interval");
			if (c->interval_us == 0)
				cmd_usage("--interval must be above zero");
			break;
		case 'n':
			c->count = (uint64_t)cmd_number(optarg, 0, LLONG_MAX,
			    "count");
			break;
		case 'o':
			c->output = optarg;
			break;
		case 'p':
			c->tpl = optarg;
			break;
		case 's':
			key = optarg;
			break;
		default:
			cmd_usage(NULL);
		}
	}
	if (optind < argc)
		cmd_usage("unexpected argument '%s'", argv[optind]);
	if (ls_msg_set_key(&c->m, key, strlen(key), &e) != LS_OK)
		cmd_usage("--stream: %s", e.msg);
	if (c->ko.append && c->ko.force)
		cmd_usage("--append and --force do not go together");
}

/* Sleeps until the next tick is due; false if stopped meanwhile. */
static bool
wait_tick(const struct config *c, struct timespec *next)
{
	struct timespec now;

	add_us(next, c->interval_us);
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* behind schedule: skip the missed slots, no burst */
	if (!c->catch_up && before(next, &now)) {
		/* nanoseconds may borrow a second: signed */
		int64_t late_ns = (int64_t)(now.tv_sec - next->tv_sec) *
		    1000000000 + (now.tv_nsec - next->tv_nsec);
		uint64_t late = (uint64_t)late_ns / 1000;

		add_us(next, (late + c->interval_us - 1) / c->interval_us *
		    c->interval_us);
	}
	while (!cmd_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
	    next, NULL) == EINTR)
		;
	return !cmd_stop;
}

static void
run(struct config *c, ls_sink *sink)
{
	ls_msg *m = &c->m;
	ls_error e;
	char payload[4096];
	struct timespec next;
	uint64_t tick;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (tick = 0; !cmd_stop && (c->count == 0 || tick < c->count);
	    tick++) {
		if (tick > 0 && !wait_tick(c, &next))
			break;
		m->ts_ms = ls_now_ms();
		m->seq = tick;
		m->len = expand(c->tpl, tick, m->ts_ms, payload,
		    sizeof(payload));
		if (m->len == SIZE_MAX) {
			ls_sink_abort(sink, NULL);
			errx(2, "--payload: the template expands past %zu "
			    "bytes", sizeof(payload) - 32);
		}
		m->payload = (const unsigned char *)payload;
		int rc = ls_sink_write(sink, m, &e);
		if ((rc != LS_OK && rc != LS_END) ||
		    ls_sink_flush(sink, &e) != LS_OK)
			cmd_output_failed(cmd_to_stdout(sink), &e);
	}
}

int
main(int argc, char *argv[])
{
	struct config c;
	ls_sink *sink;

	cmd_init();
	signal(SIGUSR1, SIG_IGN);
	cmd_usage_text = usage_text;
	memset(&c, 0, sizeof(c));
	c.output = "-";
	c.tpl = "{\"tick\":%n}";
	c.interval_us = 1000000;
	c.ko.interval = LS_SS_DEFAULT_INTERVAL;
	parse(argc, argv, &c);
	sink = cmd_sink_open(c.output, &c.ko);
	run(&c, sink);
	return cmd_sink_close(sink, NULL);
}
