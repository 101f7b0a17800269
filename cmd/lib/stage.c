/* The input side shared by partition, fanout and batch: one input URI
 * (stdin by default), its options, and reading it with bad lines and
 * damage reported as relay does. */
#include "cmd.h"

void
stage_init(struct stage *st, const char *program)
{
	cmd_init();
	memset(st, 0, sizeof(*st));
	st->program = program;
	st->uri = "-";
	st->stats_us = 1000000;
}

/* The options of listening sources. */
static bool
stage_listen_option(struct stage *st, int ch, const char *arg)
{
	switch (ch) {
	case STAGE_OPT_TLS_CERT:
		st->so.tls_cert = arg;
		return true;
	case STAGE_OPT_TLS_KEY:
		st->so.tls_key = arg;
		return true;
	case STAGE_OPT_MAX_CLIENTS:
		st->so.max_clients = (unsigned)cmd_number(arg, 1, 1000000,
		    "--max-clients");
		return true;
	case STAGE_OPT_IDLE_TIMEOUT:
		st->so.idle_ms = cmd_duration(arg, "--idle-timeout") / 1000;
		if (st->so.idle_ms == 0)
			cmd_usage("--idle-timeout: '%s' is under a millisecond",
			    arg);
		return true;
	case STAGE_OPT_MAX_LINE:
		st->so.max_line = (size_t)cmd_number(arg, 64, 1LL << 30,
		    "--max-line");
		return true;
	}
	return false;
}

bool
stage_option(struct stage *st, int ch, const char *arg)
{
	switch (ch) {
	case 'C':
		st->so.skip_corrupt = true;
		return true;
	case 'I':
		st->stats_us = cmd_duration(arg, "--stats-interval");
		return true;
	case 'L':
		if (strcmp(arg, "fail") == 0)
			st->so.bad = LS_BAD_FAIL;
		else if (strcmp(arg, "skip") == 0)
			st->so.bad = LS_BAD_SKIP;
		else if (strcmp(arg, "raw") == 0)
			st->so.bad = LS_BAD_RAW;
		else
			cmd_usage("--on-bad-line: '%s' is not fail, skip or raw",
			    arg);
		return true;
	case 'S':
		st->stats = true;
		return true;
	case 'i':
		st->uri = arg;
		return true;
	case 'q':
		st->quiet = true;
		return true;
	}
	return stage_listen_option(st, ch, arg);
}

void
stage_start(const struct stage *st)
{
	cmd_stats_start(st->program, st->stats ? st->stats_us : 0);
}

void
stage_open_input(struct stage *st)
{
	ls_error e;

	st->so.stop = &cmd_stop;
	if ((st->src = ls_source_open(st->uri, &st->so, &e)) == NULL)
		errx(1, "%s", e.msg);
	cmd_stats_listen(st->src);
}

void
stage_open(struct stage *st)
{
	stage_start(st);
	stage_open_input(st);
}

_Noreturn void
stage_fail(struct stage *st, const char *msg)
{
	warnx("%s: %s", ls_source_name(st->src), msg);
	if (st->abort != NULL)
		st->abort();
	exit(1);
}

int
stage_next(struct stage *st, ls_msg *m)
{
	ls_error e;
	int rc;

	if (st->ended)
		return LS_END;
	for (;;) {
		rc = ls_source_next(st->src, m, &e);
		if (st->after_read != NULL)
			st->after_read();
		if (rc == LS_AGAIN)
			return rc;
		if (rc == LS_OK) {
			cmd_count(&cmd_stats.in, 1);
			if (!ls_msg_is_eos(m))
				return LS_OK;
			st->eos_ts = m->ts_ms;
			rc = LS_END;
		}
		if (rc == LS_END || rc == LS_PARTIAL) {
			if (rc == LS_PARTIAL)
				warnx("%s", e.msg);
			st->ended = true;
			return LS_END;
		}
		if (rc == LS_NOTICE) {
			/* a followed file truncated or replaced */
			warnx("%s", e.msg);
			continue;
		}
		if (rc == LS_ERR_INVAL && ls_source_is_lines(st->src)) {
			cmd_count(&cmd_stats.skipped, 1);
			if (st->so.bad == LS_BAD_FAIL)
				stage_fail(st, e.msg);
			if (!st->quiet)
				warnx("%s: %s (skipped)",
				    ls_source_name(st->src), e.msg);
			continue;
		}
		if (rc == LS_ERR_CORRUPT && st->so.skip_corrupt) {
			warnx("%s: %s", ls_source_name(st->src), e.msg);
			cmd_count(&cmd_stats.corrupt, 1);
			continue;
		}
		stage_fail(st, e.msg);
	}
}

void
stage_close_input(struct stage *st)
{
	uint64_t raw = ls_source_raw_count(st->src);

	if (raw > 0 && !st->quiet)
		warnx("%s: %llu lines taken raw", ls_source_name(st->src),
		    (unsigned long long)raw);
	cmd_count(&cmd_stats.raw, raw);
	cmd_stats_unlisten(st->src);
	ls_source_close(st->src);
	st->src = NULL;
}

int
stage_end(const struct stage *st)
{
	int status = 0;

	if (st->stats)
		cmd_stats_print();
	if (atomic_load(&cmd_stats.skipped) > 0) {
		warnx("skipped: %llu",
		    (unsigned long long)atomic_load(&cmd_stats.skipped));
		if (!st->quiet)
			status = 1;
	}
	if (atomic_load(&cmd_stats.corrupt) > 0)
		status = 1;
	return status;
}

int
stage_close(struct stage *st)
{
	stage_close_input(st);
	return stage_end(st);
}

const ls_msg *
stage_eos(const struct stage *st, ls_msg *eos)
{
	if (st->eos_ts == 0)
		return NULL;
	ls_msg_eos(eos, st->eos_ts);
	return eos;
}
