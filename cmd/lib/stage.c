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

/* The options of the HTTP collector. */
static bool
stage_http_option(struct stage *st, int ch, const char *arg)
{
	switch (ch) {
	case STAGE_OPT_MAX_BODY:
		st->so.max_body = (size_t)cmd_number(arg, 1, 1LL << 40,
		    "--max-body");
		return true;
	case STAGE_OPT_MAX_QUEUE:
		st->so.max_queue = (size_t)cmd_number(arg, 1, 1LL << 40,
		    "--max-queue");
		return true;
	case STAGE_OPT_TOKEN_FILE:
		st->so.token_file = arg;
		return true;
	}
	return false;
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
	case STAGE_OPT_CHECKPOINT:
		st->cp.file = arg;
		return true;
	case STAGE_OPT_CHECKPOINT_RESET:
		st->cp.reset = true;
		return true;
	}
	return stage_http_option(st, ch, arg);
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
	return stage_listen_option(st, ch, arg) ||
	    stage_pace_option(st, ch, arg);
}

void
stage_start(const struct stage *st)
{
	if (st->burst != 0 && st->rate_n == 0)
		cmd_usage("--burst goes with --rate");
	cmd_stats_start(st->program, st->stats ? st->stats_us : 0);
}

/* The checkpoint's input is a file: not stdin, not a broker. */
static void
checkpoint_check(const struct stage *st)
{
	const char *u = st->uri, *p = strstr(u, "://");

	if (!st->checkpoints)
		cmd_usage("--checkpoint: %s keeps no checkpoints",
		    st->program);
	if (strcmp(u, "-") == 0 || (p != NULL && strncmp(u, "file://", 7)))
		cmd_usage("--checkpoint: '%s' is not a file (brokers keep "
		    "their place with --group)", u);
}

/* Opens st's input where its checkpoint says: a checkpoint that does not
 * fit is an error, or with --checkpoint-reset a start from the start. */
static void
stage_resume(struct stage *st)
{
	ls_error e;

	checkpoint_check(st);
	if (!checkpoint_load(&st->cp, st->uri)) {
		st->src = ls_source_open(st->uri, &st->so, &e);
	} else if (st->cp.stale != NULL) {
		e.code = LS_ERR_STALE;
		snprintf(e.msg, sizeof(e.msg), "%s: %s", st->uri, st->cp.stale);
	} else {
		ls_source_opts so = st->so;
		so.resume = &st->cp.pos;
		so.from.from = LS_FROM_START;
		st->src = ls_source_open(st->uri, &so, &e);
	}
	if (st->src != NULL) {
		/* an input without a position, or a checkpoint that cannot
		 * be written, is refused before anything is read */
		stage_checkpoint(st);
		return;
	}
	if (e.code != LS_ERR_STALE)
		errx(1, "%s", e.msg);
	if (!st->cp.reset)
		errx(1, "%s (checkpoint %s; --checkpoint-reset starts over)",
		    e.msg, st->cp.file);
	warnx("%s (checkpoint %s); starting over", e.msg, st->cp.file);
	st->cp.have = false;
	if ((st->src = ls_source_open(st->uri, &st->so, &e)) == NULL)
		errx(1, "%s", e.msg);
	stage_checkpoint(st);
}

void
stage_open_input(struct stage *st)
{
	ls_error e;

	st->so.stop = &cmd_stop;
	if (st->cp.reset && st->cp.file == NULL)
		cmd_usage("--checkpoint-reset goes with --checkpoint");
	if (st->cp.file != NULL) {
		stage_resume(st);
		return;
	}
	if ((st->src = ls_source_open(st->uri, &st->so, &e)) == NULL)
		errx(1, "%s", e.msg);
	if (st->progress)
		progress_open(st->uri);
	cmd_stats_listen(st->src);
}

void
stage_checkpoint_at(struct stage *st, ls_src_pos *pos)
{
	ls_error e;
	int rc;

	if (st->cp.file == NULL || st->src == NULL)
		return;
	/* not moved (a follower's pauses): nothing to look at */
	if (st->cp.have && pos->offset == st->cp.pos.offset &&
	    pos->dev == st->cp.pos.dev && pos->ino == st->cp.pos.ino)
		return;
	rc = ls_source_seal(st->src, pos, &e);
	if (rc == LS_ERR_RANGE) {
		/* truncated under the reader: a follower will see it and go
		 * on; the last checkpoint stays */
		if (!st->so.follow && !st->cp.shorter)
			warnx("%s; checkpoint %s not updated", e.msg,
			    st->cp.file);
		st->cp.shorter = true;
		return;
	}
	if (rc == LS_ERR_STALE)	/* of a file a follower has left */
		return;
	if (rc != LS_OK)
		errx(1, "%s (checkpoint %s)", e.msg, st->cp.file);
	checkpoint_save(&st->cp, st->uri, pos);
}

bool
stage_mark(const struct stage *st, ls_src_pos *pos)
{
	ls_error e;

	if (st->cp.file == NULL || st->src == NULL)
		return false;
	if (ls_source_mark(st->src, pos, &e) != LS_OK)
		errx(1, "%s (checkpoint %s)", e.msg, st->cp.file);
	return true;
}

void
stage_checkpoint(struct stage *st)
{
	ls_src_pos pos;

	if (stage_mark(st, &pos))
		stage_checkpoint_at(st, &pos);
}

void
stage_commit(struct stage *st)
{
	ls_error e;

	if (st->src != NULL && ls_source_commit(st->src, &e) != LS_OK)
		warnx("%s: %s", ls_source_name(st->src), e.msg);
}

void
stage_flushed(struct stage *st)
{
	stage_commit(st);
	stage_checkpoint(st);
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
			if (st->progress)
				progress_count(1);
			if (!ls_msg_is_eos(m)) {
				if (st->rate_n != 0)
					stage_pace(st);
				return LS_OK;
			}
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
	if (st->progress)
		progress_end();
	cmd_stats_unlisten(st->src);
	ls_source_close(st->src);
	st->src = NULL;
}

int
stage_end(const struct stage *st)
{
	int status = 0;

	if (st->stats && !cmd_stats.to_fd)
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
